"""Turn concrete argument values at an ETW call into events: provider, descriptor, TLG or legacy metadata."""

from __future__ import annotations

import bisect
import logging
from typing import Optional

from ..errors import CorruptMetadataError
from ..etw import ntwmi, tracelogging
from ..etw.apis import ApiRole, EtwApi, write_function_label
from ..etw.descriptor import DESCRIPTOR_SIZE, EventDescriptor, format_guid
from ..fieldclass import Frozen, set_field
from ..model import Addr, Const, Facts, Load, Offset, Param, StackAddr, Unknown, Value, add_offset, map_inner
from .records import KIND_CLASSIC, KIND_LEGACY, KIND_MANIFEST, KIND_TRACELOGGING, KIND_WPP, LEGACY_PROVIDER, EventInfo

log = logging.getLogger(__name__)
#: The write roles ``EventResolver.events`` tells apart, read as module globals: an attribute of an Enum class
#: is looked up through its metaclass (about 50 ns each, five per event resolved).
_LEGACY, _TLG_WRITE, _WPP, _CLASSIC_WRITE, _WRITE_STRING = (ApiRole.LEGACY, ApiRole.TLG_WRITE, ApiRole.WPP,
                                                            ApiRole.CLASSIC_WRITE, ApiRole.WRITE_STRING)

#: How far past a data symbol an address may be and still be named ``Symbol+0xNN`` (fields of globals).
MAX_SYMBOL_OFFSET = 0x400
#: sizeof(EVENT_TRACE_HEADER); Flags at +44, Guid/GuidPtr at +24, Class.Type/Level/Version at +4/+5/+6.
TRACE_HEADER_SIZE = 48
WNODE_FLAG_USE_GUID_PTR = 0x00080000


class Provider(Frozen):
    guid: str
    guid_symbol: str
    guid_rva: int
    _fields = ("guid", "guid_symbol", "guid_rva")

    def __init__(self, guid: str, guid_symbol: str, guid_rva: int) -> None:
        set_field(self, "__dict__", {"guid": guid, "guid_symbol": guid_symbol, "guid_rva": guid_rva})


def _provider_guid(provider: Provider) -> str:
    """Sort key: providers behind one REGHANDLE in GUID order, so rows are stable."""
    return provider.guid


def handle_key(value: Value) -> Optional[tuple]:
    """Where a REGHANDLE lives, from the value a write receives (a load) or EtwRegister's out-pointer."""
    if isinstance(value, Load):
        value = value.addr
    return location_key(value)


def location_key(location: Value) -> Optional[tuple]:
    """The key of a REGHANDLE's address: a global, a local, or the target of a pointer held in a global."""
    if isinstance(location, Addr):
        return ("global", location.rva)
    if isinstance(location, StackAddr) and location.frame >= 0:
        return ("stack", location.frame, location.offset)
    if isinstance(location, Load) and location.size == 8 and isinstance(location.addr, Addr):
        return ("deref", location.addr.rva)
    return None


def fold_pointers(value: Value, pointers: dict[int, int]) -> Value:
    """Replace loads of a global pointer assigned once (``g = &Object``) by the object's address."""
    if not pointers:
        return value
    if isinstance(value, Load) and value.size == 8 and isinstance(value.addr, Addr) and value.addr.rva in pointers:
        return Addr(pointers[value.addr.rva])
    return map_inner(value, lambda inner: fold_pointers(inner, pointers), add_offset)


def pointer_globals(value: Value) -> set[int]:
    """Globals an expression loads and then uses as an address (``[[g]+8]``, ``[g]+8``: g)."""
    def pointer_load(v: Value) -> Optional[int]:
        if isinstance(v, Load) and v.size == 8 and isinstance(v.addr, Addr):
            return v.addr.rva
        return None

    found: set[int] = set()
    while isinstance(value, (Load, Offset)):
        inner = value.addr if isinstance(value, Load) else value.base
        g = pointer_load(inner)
        if g is not None:
            found.add(g)
        value = inner
    return found


def _copied_from(buffer: StackAddr, offset: int, size: int) -> Optional[int]:
    """The image address the ``size`` bytes at ``offset`` of a stack buffer were copied from (a field
    ``Load(Addr, size)``: the bytes a caller's pointer argument points at), else None."""
    for pos, length, value in buffer.fields or ():
        if pos == offset and length == size and isinstance(value, Load) and isinstance(value.addr, Addr):
            return value.addr.rva
    return None


def _unnamed(value: Value) -> bool:
    """An object pointer the analysis cannot name: a parameter, an unknown value, or a load from one."""
    if isinstance(value, (Param, Unknown)):
        return True
    if isinstance(value, Load):
        return _unnamed(value.addr)
    if isinstance(value, Offset):
        return _unnamed(value.base)
    return False


def field_key(value: Value) -> Optional[tuple]:
    """``("field", d, depth)`` for a REGHANDLE read from field ``d`` of an object nobody can name.

    ``[obj+d]`` is depth 0 (the handle is the field), ``[[obj+d]]`` depth 1 (the field points at it).
    Matched against the registrations whose CallbackContext object holds the handle at that field.
    """
    if not isinstance(value, Load):
        return None
    location: Value = value.addr
    depth = 0
    if isinstance(location, Load) and location.size == 8:
        location, depth = location.addr, 1
    delta = 0
    if isinstance(location, Offset):
        delta = location.delta
        location = location.base
    if not _unnamed(location) or delta < 0:
        return None
    return ("field", delta, depth)


def context_field_key(context: Optional[Value], location: Value) -> Optional[tuple]:
    """The field key a registration provides: its handle (or a pointer to it) inside the context object."""
    if not isinstance(context, Addr):
        return None
    if isinstance(location, Addr):
        delta, depth = location.rva - context.rva, 0
    elif isinstance(location, Load) and isinstance(location.addr, Addr):
        delta, depth = location.addr.rva - context.rva, 1
    else:
        return None
    if not 0 <= delta <= MAX_SYMBOL_OFFSET:
        return None
    return ("field", delta, depth)


class EventResolver:
    """Decodes what a write site emits, given one concrete value per relevant argument."""

    def __init__(self, facts: Facts, registrations: dict[tuple, set[Provider]],
                 tracelogging_guid_rvas: Optional[set[int]] = None, wpp=None,
                 classes: Optional[dict[str, set[Provider]]] = None):
        self.facts = facts
        #: Classic providers: class GUID (and control GUID) -> the control GUIDs that registered it.
        self.classes = classes or {}
        #: Class GUID -> where the registration's TRACE_GUID_REGISTRATION array points (to name inline copies).
        self.class_rvas: dict[str, int] = {}
        #: Where an EVENT_INSTANCE_INFO lives (``location_key``) -> the class GUID CreateTraceInstanceId gave it.
        self.instances: dict[tuple, str] = {}
        #: Global pointers assigned once (g -> the object it points to), folded into REGHANDLE expressions.
        self.pointers: dict[int, int] = {}
        self.wpp = wpp
        self.tracelogging_guid_rvas = tracelogging_guid_rvas or set()
        self.memory = facts.memory
        self.registrations = registrations
        #: Every symbol's address in order, for the nearest symbol below an address (``_symbol_addresses``).
        self._data_addrs: Optional[list[int]] = None
        #: Addresses ``symbol_at`` probed for the nearest symbol below one with none of its own, before any sort.
        self._probes = 0
        self._tlg_events: dict[int, Optional[tracelogging.TlgEvent]] = {}
        self._tlg_providers: dict[int, Optional[tracelogging.TlgProvider]] = {}
        #: WPP control GUIDs found in the code (analysis/wppsites.py), for messages no PDB describes.
        self.wpp_controls: list[str] = []
        self._guid_rvas: Optional[dict[str, int]] = None
        #: REGHANDLE value -> the provider columns of its events and its symbol (``_handle_providers``).
        self._by_handle: dict[Optional[Value], tuple[list[ProviderPart], str]] = {}
        #: Write API label -> a REGHANDLE value object's id -> the object (kept, so that its id stays its own) and its
        #: events' instance dicts but for the descriptor's fields (``_provider_states``).
        self._by_label: dict[str, dict[int, tuple[Optional[Value], list[tuple[dict[str, object], bool]]]]] = {}
        #: Write API name -> its WriteFunction label (``write_function_label``).
        self._write_labels: dict[str, str] = {}
        #: EVENT_DESCRIPTOR address -> an event's fields from it and whether every one is known (``_descriptor_at``).
        self._descriptors: dict[int, tuple[dict[str, object], bool]] = {}

    # ------------------------------------------------------------------ symbols
    def symbol_at(self, rva: int, exact: bool = False) -> str:
        symbols = self.facts.symbols
        name = symbols.get(rva)
        if name is not None or exact:
            return name or ""
        addrs = self._data_addrs
        if addrs is None and self._probes < len(symbols):
            # The nearest symbol below, probed address by address until the probes have cost about what
            # sorting every symbol's address costs once (a binary's symbols are many, 40,962 at 1x, and the
            # addresses with no symbol of their own few: 2 at 1x): the largest address within the offset.
            self._probes += MAX_SYMBOL_OFFSET
            for base in range(rva - 1, rva - MAX_SYMBOL_OFFSET - 1, -1):
                if base in symbols:
                    return "" if base in self.facts.functions else f"{symbols[base]}+0x{rva - base:x}"
            return ""
        addrs = self._symbol_addresses()
        i = bisect.bisect_right(addrs, rva) - 1
        if i >= 0:
            base = addrs[i]
            if rva - base <= MAX_SYMBOL_OFFSET and base not in self.facts.functions:
                return f"{symbols[base]}+0x{rva - base:x}"
        return ""

    def _symbol_addresses(self) -> list[int]:
        """The symbols' addresses in order, sorted when first needed: the analysis makes two resolvers (the
        registrations' and the writes'), and a binary's symbols are many (82,076 at 1x) for a few lookups."""
        if self._data_addrs is None:
            self._data_addrs = sorted(self.facts.symbols)
        return self._data_addrs

    def reghandle_symbol(self, key: Optional[tuple]) -> str:
        if key and key[0] == "global":
            return self.symbol_at(key[1])
        if key and key[0] == "deref":
            name = self.symbol_at(key[1])
            return f"*{name}" if name else ""
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
        if isinstance(value, StackAddr):
            # A GUID copied to the stack first (``movups xmm0, [meta-16]; movaps [rsp+20h], xmm0``).
            content = value.content or ()
            if value.origin is None and len(content) >= 16 and None not in content[:16]:
                return Provider(format_guid(bytes(b for b in content[:16] if b is not None)), "", -1)
            if value.origin is None or any(b is not None for b in content[:16]):
                return None
            value = value.origin
        address = self.static_address(value)
        if address is None:
            return None
        raw = self.memory.read(address.rva, 16)
        if len(raw) < 16:
            return None
        return Provider(format_guid(raw), self.symbol_at(address.rva, exact=True), address.rva)

    # ------------------------------------------------------------------ events
    def events(self, api: EtwApi, name: str, values: dict[str, Value]) -> list[EventInfo]:
        label = self._write_labels.get(name)
        if label is None:  # once per write API (8,717 resolutions of a few APIs at 1x)
            label = self._write_labels[name] = write_function_label(name)
        role = api.role
        if role == _LEGACY:
            return [self._legacy(label, values)]
        if role == _TLG_WRITE:
            return [self._tracelogging(label, values)]
        if role == _WPP:
            return [self._wpp(label, values)]
        if role == _CLASSIC_WRITE:
            return self._classic(label, values)
        return self._manifest(api, label, values)

    # ------------------------------------------------------------------ classic (MOF) providers
    def guid_at(self, rva: int) -> Optional[str]:
        raw = self.memory.read(rva, 16)
        return format_guid(raw) if len(raw) == 16 else None

    def classic_class_guids(self, regs: Value, count: Value) -> list[Addr]:
        """Class GUID addresses of a TRACE_GUID_REGISTRATION array ({LPCGUID Guid; HANDLE RegHandle})."""
        n = count.value & 0xFFFFFFFF if isinstance(count, Const) else 1
        n = min(n, 64)
        out = []
        if isinstance(regs, StackAddr):
            refs = dict(regs.refs or ())
            out = [Addr(refs[16 * i]) for i in range(n) if 16 * i in refs]
        elif isinstance(regs, Addr):
            for i in range(n):
                raw = self.memory.read(regs.rva + 16 * i, 8)
                pointer = int.from_bytes(raw, "little") - self.facts.image_base if len(raw) == 8 else -1
                if 0 <= pointer < 1 << 32 and len(self.memory.read(pointer, 16)) == 16:
                    out.append(Addr(pointer))
        return out

    def classic_handle_slots(self, regs: Value, count: Value) -> list[tuple[tuple, str]]:
        """(location key of TRACE_GUID_REGISTRATION[i].RegHandle, class GUID of entry i): the handle
        RegisterTraceGuids writes there is what CreateTraceInstanceId later receives for that class."""
        n = min(count.value & 0xFFFFFFFF if isinstance(count, Const) else 1, 64)
        guids = self.classic_class_guids(regs, Const(n))
        out: list[tuple[tuple, str]] = []
        for i, class_addr in enumerate(guids):
            guid = self.guid_at(class_addr.rva)
            if guid is None:
                continue
            if isinstance(regs, Addr):
                out.append((("global", regs.rva + 16 * i + 8), guid))
            elif isinstance(regs, StackAddr) and regs.frame >= 0:
                out.append((("stack", regs.frame, regs.offset + 16 * i + 8), guid))
        return out

    def _classic(self, label: str, values: dict[str, Value]) -> list[EventInfo]:
        """TraceEvent: the EVENT_TRACE_HEADER gives Class.Type/Level/Version and the class GUID (inline,
        or through GuidPtr when WNODE_FLAG_USE_GUID_PTR is set); the class GUID names the control GUID
        that registered it with RegisterTraceGuids."""
        header = values.get("header")
        content: tuple = ()
        refs: dict[int, int] = {}
        if isinstance(header, StackAddr):
            content = header.content or ()
            refs = dict(header.refs or ())
        elif isinstance(header, Addr):
            content = tuple(self.memory.read(header.rva, TRACE_HEADER_SIZE))

        def field(offset: int, size: int) -> Optional[int]:
            chunk = content[offset : offset + size]
            if len(chunk) < size or any(b is None for b in chunk):
                return None
            return int.from_bytes(bytes(chunk), "little")

        event_type, level, version, flags = field(4, 1), field(5, 1), field(6, 2), field(44, 4)
        class_rva: Optional[int] = None
        class_guid = None
        if "instance" in values:
            # TraceEventInstance: the EVENT_INSTANCE_HEADER has no GUID; the class is the one whose RegHandle
            # CreateTraceInstanceId turned into this EVENT_INSTANCE_INFO.
            key = location_key(values["instance"])
            class_guid = self.instances.get(key) if key is not None else None
        elif flags is not None and flags & WNODE_FLAG_USE_GUID_PTR:
            class_rva = refs.get(24)
            if class_rva is None and isinstance(header, Addr):
                pointer = field(24, 8)
                class_rva = pointer - self.facts.image_base if pointer else None
            class_guid = self.guid_at(class_rva) if class_rva is not None else None
        else:
            raw = field(24, 16)
            if raw is not None:
                class_guid = format_guid(raw.to_bytes(16, "little"))
            elif isinstance(header, StackAddr):
                # Copied from a GUID the caller passes by reference (``h.Guid = *ClassGuid`` in a trace helper):
                # the field's load address, once the walk has substituted the caller's argument.
                class_rva = _copied_from(header, 24, 16)
                class_guid = self.guid_at(class_rva) if class_rva is not None else None
        providers: list[Optional[Provider]] = []
        controls = {p for registered in self.classes.values() for p in registered}
        if class_guid is None and "instance" not in values and len(controls) == 1:
            class_guid = self._only_class(next(iter(controls)))
        if class_guid:
            providers.extend(sorted(self.classes.get(class_guid, ()), key=lambda p: p.guid))
        if not providers and len(controls) == 1:
            # A class the registration does not list, or one the caller still has to give (an exported trace
            # helper's GUID parameter), goes to the session of the binary's one classic provider: its handle
            # comes from that provider's control callback. Without the class the event stays unresolved.
            providers.extend(controls)
        if class_rva is None and class_guid:
            class_rva = self.class_rvas.get(class_guid)  # copied inline: named after the registered class GUID
        if class_rva is None and class_guid:
            class_rva = self._guid_symbols().get(class_guid)  # copied inline from a named GUID constant
        symbol = (self.symbol_at(class_rva, exact=True) if class_rva is not None else "") or (class_guid or "")
        out = []
        for provider in providers or [None]:
            out.append(EventInfo(
                KIND_CLASSIC, label,
                provider_guid=provider.guid if provider else "",
                provider_symbol=provider.guid_symbol if provider else "",
                descriptor_symbol=symbol,
                version=version, level=level, opcode=event_type,
                resolved=provider is not None and class_guid is not None and event_type is not None,
                provider_key=("guid", provider.guid) if provider else ("classic", class_guid),
                event_key=("classic", class_guid, event_type, level, version),
            ))
        return out

    def _only_class(self, control: Provider) -> Optional[str]:
        """The class GUID of a header whose Guid (or GuidPtr) the analysis cannot name (a field of an object
        the writer is given), when the binary's one classic provider registers exactly one class: the
        event's class is then that one, as the provider that receives it already is. None otherwise."""
        registered = [guid for guid, providers in self.classes.items() if guid != control.guid and control in providers]
        return registered[0] if len(registered) == 1 else None

    def _guid_symbols(self) -> dict[str, int]:
        """GUID -> the read-only data symbol holding it (exported or PDB GUID constants), built on first use."""
        if self._guid_rvas is None:
            self._guid_rvas = {}
            for rva in self._symbol_addresses():
                if rva in self.facts.functions or self.memory.is_writable(rva):
                    continue
                guid = self.guid_at(rva)
                if guid:
                    self._guid_rvas.setdefault(guid, rva)
        return self._guid_rvas

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
        provider_key, event_key = ("wpp", guid), ("wpp", guid, num)
        if message is None and guid and num is not None and len(self.wpp_controls) == 1:
            # No TMF (no PDB): the event is (message GUID, number) under the driver's one control GUID.
            level, flags = values.get("level"), values.get("keyword")
            where = " ".join(f"{k}={v.value & 0xFFFFFFFF}" for k, v in (("LEVEL", level), ("FLAGS", flags))
                             if isinstance(v, Const))
            return EventInfo(KIND_WPP, label, provider_guid=self.wpp_controls[0], descriptor_symbol=guid, id=num,
                             wpp_level=where, provider_key=provider_key, event_key=event_key)
        if message is None:
            return EventInfo(KIND_WPP, label, provider_guid=guid or "", id=num, resolved=False,
                             provider_key=provider_key, event_key=event_key)
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
            provider_key=provider_key,
            event_key=event_key,
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
        return EventInfo(
            KIND_TRACELOGGING, label,
            provider_guid=provider.guid if provider else "",
            provider_symbol=provider.name if provider else "",
            provider_name=provider.name if provider else "",
            descriptor_symbol=event.name if event else "",
            channel=event.channel if event else None,
            level=event.level if event else None,
            opcode=event.opcode if event else None,
            keyword=event.keyword if event else None,
            resolved=provider is not None and event is not None,
            fields=tuple(f.name for f in event.fields) if event else (),
            provider_key=("tlg", provider.guid if provider else repr(prov_value)),
            event_key=("tlg", event_value.rva if isinstance(event_value, Addr) else repr(event_value)),
        )

    def tracelogging_event(self, label: str, event: tracelogging.TlgEvent,
                           providers: tuple[tracelogging.TlgProvider, ...]) -> list[EventInfo]:
        """Events for a TraceLogging write found from its metadata (one per provider the code references)."""
        out = []
        for provider in providers or (None,):
            out.append(EventInfo(
                KIND_TRACELOGGING, label,
                provider_guid=provider.guid if provider else "",
                provider_symbol=provider.name if provider else "",
                provider_name=provider.name if provider else "",
                descriptor_symbol=event.name, channel=event.channel, level=event.level, opcode=event.opcode,
                keyword=event.keyword, resolved=provider is not None, fields=tuple(f.name for f in event.fields),
                provider_key=("tlg", provider.guid if provider else None), event_key=("tlg", event.rva),
            ))
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

    def _handle_providers(self, handle: Optional[Value]) -> tuple[list[Optional[Provider]], Optional[tuple], str]:
        """The providers registered behind a REGHANDLE value, its key and its symbol (once per value: the
        registrations and pointers are complete before the first event is resolved)."""
        if handle is not None:
            handle = fold_pointers(handle, self.pointers)
        hkey = handle_key(handle) if handle is not None else None
        found = self.registrations.get(hkey) if hkey else None
        if not found and handle is not None:
            fkey = field_key(handle)
            candidates = self.registrations.get(fkey) if fkey else None
            if candidates and len(candidates) == 1:  # one provider keeps its handle there: that one
                found = candidates
        providers: list[Optional[Provider]] = [*sorted(found, key=_provider_guid)] if found else [None]
        return providers, hkey, self.reghandle_symbol(hkey)

    def _manifest(self, api: EtwApi, label: str, values: dict[str, Value]) -> list[EventInfo]:
        # Provider: through the REGHANDLE and the registrations, or a GUID passed directly.
        if "guid" in values:
            parts = _provider_parts([self.provider_from_guid(values["guid"])], None, self.tracelogging_guid_rvas)
            bases = _provider_states(label, parts, "")
        else:
            handle = values.get("handle")
            by_object = self._by_label.get(label)
            if by_object is None:
                by_object = self._by_label[label] = {}
            # By the value object first: the flow shares one object per REGHANDLE value (24 objects for
            # 8,277 events at 1x), and hashing a value runs its classes' ``__hash__`` in Python (two calls
            # for a global's load); the entry holds the object, so its id is not reused while it is kept.
            found = by_object.get(id(handle))
            if found is None:  # a new object: its providers by value (made once per value), its dicts made here
                known = self._by_handle.get(handle)
                if known is None:
                    providers, hkey, reghandle = self._handle_providers(handle)
                    known = self._by_handle[handle] = (
                        _provider_parts(providers, hkey, self.tracelogging_guid_rvas), reghandle)
                found = by_object[id(handle)] = (handle, _provider_states(label, *known))
            bases = found[1]

        # The event's fields: the descriptor's, or only level and keyword for EventWriteString.
        if api.role == _WRITE_STRING:
            level, keyword = values.get("level"), values.get("keyword")
            fields = EventDescriptor(None, None, None, level.value & 0xFF if isinstance(level, Const) else None, None, None,
                                     keyword.value if isinstance(keyword, Const) else None)
            event_ok = fields.level is not None and fields.keyword is not None
            event = _event_state(fields, "", ("string", fields.level, fields.keyword))
        else:
            desc_value = values.get("descriptor")
            if isinstance(desc_value, Addr):
                read = self._descriptors.get(desc_value.rva)
                if read is None:
                    descriptor, symbol, complete, key = self._descriptor_at(desc_value.rva)
                    read = self._descriptors[desc_value.rva] = (_event_state(descriptor, symbol, key), complete)
                event, event_ok = read
            else:
                fields = _NO_FIELDS
                symbol = ""
                descriptor = None
                if isinstance(desc_value, StackAddr) and desc_value.origin is not None and \
                        self.static_address(desc_value.origin) is not None:
                    # A copy of a descriptor in the image, then patched: the original's symbol, the patched fields.
                    origin = self.static_address(desc_value.origin)
                    assert origin is not None
                    raw = self.memory.read(origin.rva, DESCRIPTOR_SIZE)
                    patched = tuple(p if p is not None else b for p, b in zip(
                        (desc_value.content or ()) + (None,) * DESCRIPTOR_SIZE, raw))
                    descriptor = EventDescriptor.from_partial(patched)
                    symbol = self.symbol_at(origin.rva)
                    event_key: tuple = ("copy", origin.rva, descriptor)
                elif isinstance(desc_value, StackAddr) and desc_value.content is not None:
                    descriptor = EventDescriptor.from_partial(desc_value.content)
                    event_key = ("stack", descriptor)
                else:
                    event_key = ("unknown", repr(desc_value))
                if descriptor is not None:
                    fields = descriptor
                    event_ok = descriptor.complete
                else:
                    event_ok = False
                event = _event_state(fields, symbol, event_key)

        out = []
        for base, registered in bases:
            state = base.copy()
            state.update(event)
            if not (registered and event_ok):
                state["resolved"] = False
            made = _new_object(EventInfo)
            _set_attr(made, "__dict__", state)
            out.append(made)
        return out

    def _descriptor_at(self, rva: int) -> tuple[EventDescriptor, str, bool, tuple]:
        """The EVENT_DESCRIPTOR at an image address: its fields, symbol, whether every field is known, and
        the event's key (all unknown, unnamed and incomplete when the address is outside the image).
        Read once per address: the same descriptor is written through several APIs and REGHANDLEs."""
        raw = self.memory.read(rva, DESCRIPTOR_SIZE)
        if len(raw) != DESCRIPTOR_SIZE:
            return _NO_FIELDS, "", False, ("descriptor", rva)
        descriptor = EventDescriptor.from_bytes(raw)
        return descriptor, self.symbol_at(rva), descriptor.complete, ("descriptor", rva)


#: A manifest event's fields before the write's own are set: the defaults, in declaration order.
_MANIFEST_DEFAULTS = vars(EventInfo(KIND_MANIFEST, ""))
_new_object = object.__new__
_set_attr = object.__setattr__
#: What a manifest event takes from its provider, and what from its descriptor (``_manifest``).
_PROVIDER_FIELDS = ("provider_guid", "provider_symbol", "tracelogging_provider", "provider_key")
_EVENT_FIELDS = ("descriptor_symbol", "event_key", "id", "version", "channel", "level", "opcode", "task", "keyword")


def _provider_states(label: str, parts: list[ProviderPart], reghandle: str) -> list[tuple[dict[str, object], bool]]:
    """Per provider of a REGHANDLE, a manifest event's instance dict but for its descriptor's fields, and
    whether the provider is known: made once per (write API label, REGHANDLE value). ``_manifest`` copies
    it for each event (a copy of a dict is one block; setting the 23 fields one by one through the frozen
    dataclass's ``__init__``, or a dict update per event, was about half the cost of resolving one)."""
    states = []
    for guid, guid_symbol, registered, tracelogging_provider, provider_key in parts:
        state = dict(_MANIFEST_DEFAULTS)  # the declaration order, which assignments to its keys keep
        state["write_function"] = label
        state["reghandle_symbol"] = reghandle
        state.update(zip(_PROVIDER_FIELDS, (guid, guid_symbol, tracelogging_provider, provider_key)))
        states.append((state, registered))
    return states


def _event_state(fields: EventDescriptor, symbol: str, event_key: tuple) -> dict[str, object]:
    """What a manifest event takes from its descriptor (made once per descriptor address in the image)."""
    return dict(zip(_EVENT_FIELDS, (symbol, event_key, fields.id, fields.version, fields.channel, fields.level,
                                    fields.opcode, fields.task, fields.keyword)))


#: The fields of a manifest write with no EVENT_DESCRIPTOR to read: every one unknown.
_NO_FIELDS = EventDescriptor(None, None, None, None, None, None, None)
#: What an event takes from its provider: GUID, symbol, whether one is known, whether its GUID lives in
#: TraceLogging metadata, and the provider key.
ProviderPart = tuple[str, str, bool, bool, tuple]


def _provider_parts(providers: list[Optional[Provider]], hkey: Optional[tuple],
                    tracelogging_guid_rvas: set[int]) -> list[ProviderPart]:
    """The provider columns of a manifest write's events, one entry per provider (an unknown one: empty, keyed
    by the REGHANDLE's location), made once per REGHANDLE value rather than once per event."""
    return [(p.guid, p.guid_symbol, True, p.guid_rva in tracelogging_guid_rvas, ("guid", p.guid)) if p is not None
            else ("", "", False, False, ("handle", hkey)) for p in providers]
