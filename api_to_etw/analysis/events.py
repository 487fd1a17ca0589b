"""Turn concrete argument values at an ETW call into events: provider, descriptor, TLG or legacy metadata."""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass
from typing import Optional

from ..errors import CorruptMetadataError
from ..etw import ntwmi, tracelogging
from ..etw.apis import ApiRole, EtwApi, write_function_label
from ..etw.descriptor import DESCRIPTOR_SIZE, EventDescriptor, format_guid
from ..model import Addr, Const, Facts, Load, Offset, StackAddr, Value
from .records import KIND_LEGACY, KIND_MANIFEST, KIND_TRACELOGGING, KIND_WPP, LEGACY_PROVIDER, EventInfo

log = logging.getLogger(__name__)

#: How far past a data symbol an address may be and still be named ``Symbol+0xNN`` (fields of globals).
MAX_SYMBOL_OFFSET = 0x400


@dataclass(frozen=True)
class Provider:
    guid: str
    guid_symbol: str
    guid_rva: int


def handle_key(value: Value) -> Optional[tuple]:
    """Where a REGHANDLE lives, from the value a write receives (a load) or EtwRegister's out-pointer."""
    if isinstance(value, Load):
        value = value.addr
    if isinstance(value, Addr):
        return ("global", value.rva)
    if isinstance(value, StackAddr) and value.frame >= 0:
        return ("stack", value.frame, value.offset)
    return None


class EventResolver:
    """Decodes what a write site emits, given one concrete value per relevant argument."""

    def __init__(self, facts: Facts, registrations: dict[tuple, set[Provider]],
                 tracelogging_guid_rvas: Optional[set[int]] = None, wpp=None):
        self.facts = facts
        self.wpp = wpp
        self.tracelogging_guid_rvas = tracelogging_guid_rvas or set()
        self.memory = facts.memory
        self.registrations = registrations
        self._data_symbols = sorted(facts.symbols.items())
        self._data_addrs = [rva for rva, _ in self._data_symbols]
        self._tlg_events: dict[int, Optional[tracelogging.TlgEvent]] = {}
        self._tlg_providers: dict[int, Optional[tracelogging.TlgProvider]] = {}
        #: WPP control GUIDs found in the code (analysis/wppsites.py), for messages no PDB describes.
        self.wpp_controls: list[str] = []

    # ------------------------------------------------------------------ symbols
    def symbol_at(self, rva: int, exact: bool = False) -> str:
        name = self.facts.symbols.get(rva)
        if name is not None or exact:
            return name or ""
        i = bisect.bisect_right(self._data_addrs, rva) - 1
        if i >= 0:
            base, base_name = self._data_symbols[i]
            if rva - base <= MAX_SYMBOL_OFFSET and base not in self.facts.functions:
                return f"{base_name}+0x{rva - base:x}"
        return ""

    def reghandle_symbol(self, key: Optional[tuple]) -> str:
        if key and key[0] == "global":
            return self.symbol_at(key[1])
        return ""

    def static_address(self, value: Value) -> Optional[Addr]:
        """An address computed from constants and initialised pointers (``ProviderMetadataPtr - 16``)."""
        if isinstance(value, Addr):
            return value
        if isinstance(value, Offset):
            base = self.static_address(value.base)
            return Addr(base.rva + value.delta) if base is not None else None
        if isinstance(value, Load) and value.size == 8:
            inner = self.static_address(value.addr)
            if inner is None:
                return None
            raw = self.memory.read(inner.rva, 8)
            if len(raw) == 8:
                pointer = int.from_bytes(raw, "little") - self.facts.image_base
                if 0 <= pointer < 1 << 32 and self.memory.read(pointer, 1):
                    return Addr(pointer)
        return None

    def provider_from_guid(self, value: Value) -> Optional[Provider]:
        value = self.static_address(value)
        if value is None:
            return None
        raw = self.memory.read(value.rva, 16)
        if len(raw) < 16:
            return None
        return Provider(format_guid(raw), self.symbol_at(value.rva, exact=True), value.rva)

    # ------------------------------------------------------------------ events
    def events(self, api: EtwApi, name: str, values: dict[str, Value]) -> list[EventInfo]:
        label = write_function_label(name)
        if api.role == ApiRole.LEGACY:
            return [self._legacy(label, values)]
        if api.role == ApiRole.TLG_WRITE:
            return [self._tracelogging(label, values)]
        if api.role == ApiRole.WPP:
            return [self._wpp(label, values)]
        return self._manifest(api, label, values)

    def _wpp(self, label: str, values: dict[str, Value]) -> EventInfo:
        """A WPP message: (message GUID, number) joined to the PDB's TMF annotation; the TMC gives the control."""
        guid_value = values.get("message_guid")
        number = values.get("message_number")
        guid = None
        guid_value = self.static_address(guid_value) if guid_value is not None else None
        if guid_value is not None:
            raw = self.memory.read(guid_value.rva, 16)
            guid = format_guid(raw) if len(raw) == 16 else None
        num = number.value & 0xFFFF if isinstance(number, Const) else None
        message = self.wpp.lookup(guid, num) if self.wpp is not None and guid and num is not None else None
        keys = dict(provider_key=("wpp", guid), event_key=("wpp", guid, num))
        if message is None and guid and num is not None and len(self.wpp_controls) == 1:
            # No TMF (no PDB): the event is (message GUID, number) under the driver's one control GUID.
            level, flags = values.get("level"), values.get("keyword")
            where = " ".join(f"{k}={v.value & 0xFFFFFFFF}" for k, v in (("LEVEL", level), ("FLAGS", flags))
                             if isinstance(v, Const))
            return EventInfo(KIND_WPP, label, provider_guid=self.wpp_controls[0], descriptor_symbol=guid, id=num,
                             wpp_level=where, **keys)
        if message is None:
            return EventInfo(KIND_WPP, label, provider_guid=guid or "", id=num, resolved=False, **keys)
        control = self.wpp.control(message.control_guid) if message.control_guid else None
        return EventInfo(
            KIND_WPP, label,
            provider_guid=message.control_guid or guid or "",
            provider_symbol=control.name if control is not None else message.provider_name,
            provider_name=message.provider_name,
            descriptor_symbol=message.name,
            id=num,
            fields=tuple(name for name, _type in message.args),
            message=message.format,
            wpp_level=message.level or message.flags or "",
            **keys,
        )

    def _legacy(self, label: str, values: dict[str, Value]) -> EventInfo:
        mask = values.get("group_mask")
        hook = values.get("hook_id")
        if not isinstance(mask, Const) or not isinstance(hook, Const):
            return EventInfo(KIND_LEGACY, label, provider_guid=LEGACY_PROVIDER, resolved=False,
                             provider_key=("legacy",), event_key=("legacy", repr(mask), repr(hook)))
        m = mask.value & 0xFFFFFFFF
        h = hook.value & 0xFFFF
        return EventInfo(
            KIND_LEGACY, label,
            provider_guid=LEGACY_PROVIDER,
            provider_symbol=ntwmi.group_mask_name(m),
            reghandle_symbol=ntwmi.hook_group_name(h),
            descriptor_symbol=ntwmi.hook_name(h),
            group_mask=m, hook_id=h,
            provider_key=("legacy",), event_key=("legacy", m, h),
        )

    def _tracelogging(self, label: str, values: dict[str, Value]) -> EventInfo:
        prov_value = values.get("provider")
        event_value = values.get("event")
        provider = self._tlg_provider(prov_value.rva) if isinstance(prov_value, Addr) else None
        event = self._tlg_event(event_value.rva) if isinstance(event_value, Addr) else None
        info = dict(
            provider_key=("tlg", provider.guid if provider else repr(prov_value)),
            event_key=("tlg", event_value.rva if isinstance(event_value, Addr) else repr(event_value)),
        )
        if provider is not None:
            info.update(provider_guid=provider.guid, provider_symbol=provider.name, provider_name=provider.name)
        if event is not None:
            info.update(descriptor_symbol=event.name, channel=event.channel, level=event.level,
                        opcode=event.opcode, keyword=event.keyword, fields=tuple(f.name for f in event.fields))
        return EventInfo(KIND_TRACELOGGING, label, resolved=provider is not None and event is not None, **info)

    def tracelogging_event(self, label: str, event: tracelogging.TlgEvent,
                           providers: tuple[tracelogging.TlgProvider, ...]) -> list[EventInfo]:
        """Events for a TraceLogging write found from its metadata (one per provider the code references)."""
        out = []
        for provider in providers or (None,):
            info = dict(
                descriptor_symbol=event.name, channel=event.channel, level=event.level, opcode=event.opcode,
                keyword=event.keyword, fields=tuple(f.name for f in event.fields),
                provider_key=("tlg", provider.guid if provider else None), event_key=("tlg", event.rva),
            )
            if provider is not None:
                info.update(provider_guid=provider.guid, provider_symbol=provider.name, provider_name=provider.name)
            out.append(EventInfo(KIND_TRACELOGGING, label, resolved=provider is not None, **info))
        return out

    def tlg_provider_at(self, value: Value) -> Optional[tracelogging.TlgProvider]:
        """The provider behind a value that should be a ``_tlgProvider_t`` address, if it is one."""
        return self._tlg_provider(value.rva) if isinstance(value, Addr) else None

    def _tlg_provider(self, rva: int) -> Optional[tracelogging.TlgProvider]:
        if rva not in self._tlg_providers:
            try:
                self._tlg_providers[rva] = tracelogging.decode_provider_object(
                    self.memory.read, rva, self.facts.image_base)
            except CorruptMetadataError as exc:
                log.warning("TraceLogging provider at %#x: %s", rva, exc)
                self._tlg_providers[rva] = None
        return self._tlg_providers[rva]

    def _tlg_event(self, rva: int) -> Optional[tracelogging.TlgEvent]:
        if rva not in self._tlg_events:
            try:
                self._tlg_events[rva] = tracelogging.decode_event(self.memory.read, rva)
            except CorruptMetadataError as exc:
                log.warning("TraceLogging event at %#x: %s", rva, exc)
                self._tlg_events[rva] = None
        return self._tlg_events[rva]

    def _manifest(self, api: EtwApi, label: str, values: dict[str, Value]) -> list[EventInfo]:
        # Provider: through the REGHANDLE and the registrations, or a GUID passed directly.
        providers: list[Optional[Provider]]
        hkey = None
        if "guid" in values:
            providers = [self.provider_from_guid(values["guid"])]
        else:
            hkey = handle_key(values.get("handle"))
            found = self.registrations.get(hkey) if hkey else None
            providers = sorted(found, key=lambda p: p.guid) if found else [None]
        reghandle = self.reghandle_symbol(hkey)

        fields: dict[str, Optional[int]] = {}
        symbol = ""
        event_ok = True
        if api.role == ApiRole.WRITE_STRING:
            level, keyword = values.get("level"), values.get("keyword")
            fields["level"] = level.value & 0xFF if isinstance(level, Const) else None
            fields["keyword"] = keyword.value if isinstance(keyword, Const) else None
            event_ok = None not in fields.values()
            event_key: tuple = ("string", fields["level"], fields["keyword"])
        else:
            desc_value = values.get("descriptor")
            descriptor = None
            if isinstance(desc_value, Addr):
                raw = self.memory.read(desc_value.rva, DESCRIPTOR_SIZE)
                if len(raw) == DESCRIPTOR_SIZE:
                    descriptor = EventDescriptor.from_bytes(raw)
                    symbol = self.symbol_at(desc_value.rva)
                event_key = ("descriptor", desc_value.rva)
            elif isinstance(desc_value, StackAddr) and desc_value.content is not None:
                descriptor = EventDescriptor.from_partial(desc_value.content)
                event_key = ("stack", descriptor)
            else:
                event_key = ("unknown", repr(desc_value))
            if descriptor is not None:
                fields = dict(id=descriptor.id, version=descriptor.version, channel=descriptor.channel,
                              level=descriptor.level, opcode=descriptor.opcode, task=descriptor.task,
                              keyword=descriptor.keyword)
                event_ok = descriptor.complete
            else:
                event_ok = False

        out = []
        for provider in providers:
            out.append(EventInfo(
                KIND_MANIFEST, label,
                provider_guid=provider.guid if provider else "",
                provider_symbol=provider.guid_symbol if provider else "",
                reghandle_symbol=reghandle,
                descriptor_symbol=symbol,
                resolved=provider is not None and event_ok,
                tracelogging_provider=provider is not None and provider.guid_rva in self.tracelogging_guid_rvas,
                provider_key=("guid", provider.guid) if provider else ("handle", hkey),
                event_key=event_key,
                **fields,
            ))
        return out
