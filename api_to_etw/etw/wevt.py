"""Decode the ``WEVT_TEMPLATE`` resource: the instrumentation manifest mc.exe compiles into a binary.

A manifest provider built with mc.exe carries its whole manifest in the image, so its events can be
named without the provider being registered anywhere. Layout, from libyal's libfwevt notes
("Windows Event manifest binary format") and checked against real mc.exe output (all little-endian;
every offset is relative to the start of the ``CRIM`` blob):

* ``CRIM`` header: signature, UINT32 size, UINT16 major/minor version, UINT32 provider count, then per
  provider a GUID and the offset of its ``WEVT`` block.
* ``WEVT``: signature, UINT32 size, UINT32 message id (0xFFFFFFFF: none), UINT32 element count, then
  per element a descriptor (UINT32 element type, UINT32 element offset). libfwevt's notes read the
  first type as a header field and the pairs as (offset, unknown); both readings give the same
  offsets, and in mc.exe output the types are consistent per signature (LEVL 0, TASK 1, OPCO 2,
  KEYW 3, EVNT 4, CHAN 5, TTBL 7, PRVA 13; MAPS 6 is inferred from the gap). Elements are told
  apart by their signature; ``PRVA`` (CRIM 5.x) holds the provider attributes, its name among them.
* Each table element: signature, UINT32 size, UINT32 count, then fixed-size entries whose names are
  ``{UINT32 size (counts itself), UTF-16 string, NUL}`` records found by offset. Channel entry:
  UINT32 index, name offset, UINT32 value, message id. Level: value, message id, name offset.
  Opcode: UINT32 ``opcode << 16 | task`` (task-scoped opcodes carry their task), message id, name
  offset. Task: value, message id, GUID, name offset. Keyword: UINT64 mask, message id, name offset.
* ``MAPS``: count, (count - 1) offsets of maps after the first (which follows the array); each
  ``VMAP``/``BMAP``: signature, size, name offset, entry count, entries of (UINT32 value, message id).
* ``TTBL``: count, then ``TEMP`` blocks: signature, size, item count, name count, items offset,
  UINT32 (unknown), GUID, a BinXML fragment, then 20-byte items: UINT32, UINT8 in-type, UINT8 out-type,
  10 undocumented bytes (kept as ``extra``), name offset.
* ``EVNT``: count, UINT32, then 48-byte events: the EVENT_DESCRIPTOR (id, version, channel, level,
  opcode, task, keyword), message id, template/opcode/level/task offsets (0: none), UINT32 keyword
  count, offset of that many keyword-entry offsets, UINT32 flags.

Error policy, as for the ETW0 decoder: the decoder never raises on bad data. Every read is bounded by
the blob, counts are capped by the bytes that could hold them, each offset is followed once (loops
are detected), and whatever cannot be decoded becomes a line in :attr:`WevtManifest.warnings` while
everything decoded before and beside it is kept.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from typing import Optional

from .tracelogging import format_guid

NO_MESSAGE = 0xFFFFFFFF
CRIM = b"CRIM"
WEVT = b"WEVT"
#: Largest count believed for any table (real manifests hold a few thousand events at most).
MAX_ENTRIES = 65536

#: Element type of each signature in a WEVT descriptor (as mc.exe writes them; MAPS inferred).
ELEMENT_TYPES = {"LEVL": 0, "TASK": 1, "OPCO": 2, "KEYW": 3, "EVNT": 4, "CHAN": 5, "MAPS": 6, "TTBL": 7, "PRVA": 13}

#: TDH in-types as manifests spell them (``win:`` prefix), by value.
IN_TYPES: dict[int, str] = {
    0: "win:Null", 1: "win:UnicodeString", 2: "win:AnsiString", 3: "win:Int8", 4: "win:UInt8", 5: "win:Int16",
    6: "win:UInt16", 7: "win:Int32", 8: "win:UInt32", 9: "win:Int64", 10: "win:UInt64", 11: "win:Float",
    12: "win:Double", 13: "win:Boolean", 14: "win:Binary", 15: "win:GUID", 16: "win:Pointer", 17: "win:FILETIME",
    18: "win:SYSTEMTIME", 19: "win:SID", 20: "win:HexInt32", 21: "win:HexInt64", 22: "win:CountedUnicodeString",
    23: "win:CountedAnsiString", 24: "win:Struct", 25: "win:CountedBinary",
}
#: TDH out-types as manifests spell them (``xs:``/``win:``), by value.
OUT_TYPES: dict[int, str] = {
    0: "", 1: "xs:string", 2: "xs:dateTime", 3: "xs:byte", 4: "xs:unsignedByte", 5: "xs:short",
    6: "xs:unsignedShort", 7: "xs:int", 8: "xs:unsignedInt", 9: "xs:long", 10: "xs:unsignedLong", 11: "xs:float",
    12: "xs:double", 13: "xs:boolean", 14: "xs:GUID", 15: "xs:hexBinary", 16: "win:HexInt8", 17: "win:HexInt16",
    18: "win:HexInt32", 19: "win:HexInt64", 20: "win:PID", 21: "win:TID", 22: "win:Port", 23: "win:IPv4",
    24: "win:IPv6", 25: "win:SocketAddress", 26: "win:CIMDateTime", 27: "win:ETWTIME", 28: "win:Xml",
    29: "win:ErrorCode", 30: "win:Win32Error", 31: "win:NTSTATUS", 32: "win:HResult",
    33: "win:DateTimeCultureInsensitive", 34: "win:Json", 35: "win:Utf8", 36: "win:Pkcs7WithTypeInfo",
    37: "win:CodePointer", 38: "win:DateTimeUtc",
}


def type_name(table: dict[int, str], value: int) -> str:
    """A type's manifest spelling, or ``type_<n>`` for values no table names."""
    return table.get(value, f"type_{value}")


@dataclass(frozen=True)
class Named:
    """A level, opcode, task, keyword or channel: its value, name and message id."""

    value: int
    name: str
    message_id: int = NO_MESSAGE
    #: Opcodes: the task that scopes them (0: provider-wide). Channels: their index word.
    scope: int = 0
    #: Tasks: the event GUID (all zero when none).
    guid: str = ""


@dataclass(frozen=True)
class ValueMap:
    """A ``VMAP`` (value map) or ``BMAP`` (bitmap): names for a field's values, by message id."""

    kind: str
    name: str
    entries: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class TemplateField:
    name: str
    in_type: int
    out_type: int
    #: The 4 bytes before the in-type and the 10 undocumented bytes after the out-type, as found.
    head: int = 0
    extra: bytes = bytes(10)

    @property
    def in_type_name(self) -> str:
        return type_name(IN_TYPES, self.in_type)

    @property
    def out_type_name(self) -> str:
        return type_name(OUT_TYPES, self.out_type)


@dataclass(frozen=True)
class Template:
    guid: str
    fields: tuple[TemplateField, ...]
    #: The template's BinXML fragment (the XML shape of the event data), undecoded.
    binxml: bytes = b""
    flags: int = 1
    #: Offset of the ``TEMP`` block in the blob: what events point at (layout, not content).
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class WevtEvent:
    id: int
    version: int
    channel: int
    level: int
    opcode: int
    task: int
    keyword: int
    message_id: int = NO_MESSAGE
    #: Index into :attr:`WevtProvider.templates`, or None.
    template: Optional[int] = None
    #: Masks of the keyword entries the event lists (its keyword mask may hold more bits).
    keywords: tuple[int, ...] = ()
    flags: int = 0


@dataclass(frozen=True)
class WevtProvider:
    guid: str
    name: str = ""
    message_id: int = NO_MESSAGE
    #: (type, text) attributes of the ``PRVA`` element (type 0x10000001 is the provider name).
    attributes: tuple[tuple[int, str], ...] = ()
    channels: tuple[Named, ...] = ()
    levels: tuple[Named, ...] = ()
    opcodes: tuple[Named, ...] = ()
    tasks: tuple[Named, ...] = ()
    keywords: tuple[Named, ...] = ()
    maps: tuple[ValueMap, ...] = ()
    templates: tuple[Template, ...] = ()
    events: tuple[WevtEvent, ...] = ()
    #: Element signatures in their descriptor order (kept so a writer can reproduce the layout).
    order: tuple[str, ...] = ()



@dataclass
class WevtManifest:
    version: tuple[int, int] = (3, 1)
    providers: list[WevtProvider] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


PRVA_NAME = 0x10000001


class _Bad(Exception):
    """Internal: a read outside the blob or a failed check; becomes a warning at the element level."""


class _Blob:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def need(self, offset: int, size: int, what: str) -> None:
        if offset < 0 or size < 0 or offset + size > len(self.data):
            raise _Bad(f"{what} at offset {offset:#x} (+{size}) runs past the end of the resource ({len(self.data):#x})")

    def unpack(self, fmt: str, offset: int, what: str) -> tuple:
        s = struct.Struct("<" + fmt)
        self.need(offset, s.size, what)
        return s.unpack_from(self.data, offset)

    def u32(self, offset: int, what: str) -> int:
        value: int = self.unpack("I", offset, what)[0]
        return value

    def sized_string(self, offset: int, what: str) -> str:
        """``{UINT32 size counting itself, UTF-16 text, NUL}``."""
        size = self.u32(offset, what)
        if size < 4 or size > 0x10000:
            raise _Bad(f"{what} at {offset:#x} has an impossible size {size}")
        self.need(offset, size, what)
        return _utf16z(self.data[offset + 4 : offset + size])

    def plain_string(self, offset: int, end: int, what: str) -> str:
        """UTF-16 up to a NUL, bounded by ``end`` (PRVA attributes have no size prefix)."""
        self.need(offset, 2, what)
        end = min(end, len(self.data), offset + 0x10000)
        return _utf16z(self.data[offset:end])


def _utf16z(raw: bytes) -> str:
    raw = raw[: len(raw) - len(raw) % 2]
    for i in range(0, len(raw), 2):
        if raw[i] == 0 and raw[i + 1] == 0:
            raw = raw[:i]
            break
    return raw.decode("utf-16-le", "replace")


def _count(blob: _Blob, start: int, end: int, count: int, entry: int, what: str, warnings: list[str]) -> int:
    """A table's count, capped by the bytes between ``start`` and ``end`` (a lying count is a warning)."""
    room = max(0, min(end, len(blob.data)) - start) // entry
    if count > min(room, MAX_ENTRIES):
        warnings.append(f"{what}: count {count} does not fit in its {room * entry} bytes; reading {min(room, MAX_ENTRIES)}")
        return min(room, MAX_ENTRIES)
    return count


class _Decoder:
    def __init__(self, data: bytes) -> None:
        self.blob = _Blob(data)
        self.warnings: list[str] = []

    def table_head(self, offset: int, sig: str) -> tuple[int, int]:
        """(end, count) of a table element; a size smaller than its header means "empty"."""
        _sig, size, count = self.blob.unpack("4sII", offset, sig)
        if size == 0 or size < 12:
            return offset + 12, 0 if size == 0 else count
        if offset + size > len(self.blob.data):
            self.warnings.append(f"{sig} at {offset:#x}: size {size} runs past the end of the resource; truncated")
        return offset + size, count

    def name(self, offset: int, what: str) -> str:
        if offset == 0:
            return ""
        try:
            return self.blob.sized_string(offset, what)
        except _Bad as exc:
            self.warnings.append(str(exc))
            return ""

    # ----------------------------------------------------------------------------------- tables
    def channels(self, offset: int) -> list[Named]:
        end, count = self.table_head(offset, "CHAN")
        out = []
        for i in range(_count(self.blob, offset + 12, end, count, 16, "CHAN", self.warnings)):
            index, name_at, value, message = self.blob.unpack("IIII", offset + 12 + 16 * i, "channel")
            out.append(Named(value, self.name(name_at, "channel name"), message, scope=index))
        return out

    def simple(self, offset: int, sig: str) -> list[Named]:
        """LEVL and OPCO entries: UINT32 value, message id, name offset."""
        end, count = self.table_head(offset, sig)
        out = []
        for i in range(_count(self.blob, offset + 12, end, count, 12, sig, self.warnings)):
            value, message, name_at = self.blob.unpack("III", offset + 12 + 12 * i, sig)
            name = self.name(name_at, f"{sig} name")
            if sig == "OPCO":
                out.append(Named(value >> 16, name, message, scope=value & 0xFFFF))
            else:
                out.append(Named(value, name, message))
        return out

    def tasks(self, offset: int) -> list[Named]:
        end, count = self.table_head(offset, "TASK")
        out = []
        for i in range(_count(self.blob, offset + 12, end, count, 28, "TASK", self.warnings)):
            at = offset + 12 + 28 * i
            value, message = self.blob.unpack("II", at, "task")
            guid = format_guid(self.blob.unpack("16s", at + 8, "task GUID")[0])
            (name_at,) = self.blob.unpack("I", at + 24, "task")
            out.append(Named(value, self.name(name_at, "task name"), message, guid=guid))
        return out

    def keywords(self, offset: int) -> list[Named]:
        end, count = self.table_head(offset, "KEYW")
        out = []
        for i in range(_count(self.blob, offset + 12, end, count, 16, "KEYW", self.warnings)):
            mask, message, name_at = self.blob.unpack("QII", offset + 12 + 16 * i, "keyword")
            out.append(Named(mask, self.name(name_at, "keyword name"), message))
        return out

    def attributes(self, offset: int) -> list[tuple[int, str]]:
        end, count = self.table_head(offset, "PRVA")
        out = []
        for i in range(_count(self.blob, offset + 12, end, count, 8, "PRVA", self.warnings)):
            kind, text_at = self.blob.unpack("II", offset + 12 + 8 * i, "provider attribute")
            try:
                out.append((kind, self.blob.plain_string(text_at, end, "provider attribute")))
            except _Bad as exc:
                self.warnings.append(str(exc))
        return out

    def maps(self, offset: int) -> list[ValueMap]:
        end, count = self.table_head(offset, "MAPS")
        if count == 0:
            return []
        count = _count(self.blob, offset + 16, end, count, 4, "MAPS", self.warnings) or 1
        first = offset + 12 + 4 * (count - 1)
        out: list[ValueMap] = []
        starts = [first] + [self.blob.u32(offset + 12 + 4 * i, "map offset") for i in range(count - 1)]
        seen: set[int] = set()
        for at in starts:
            if at in seen:
                self.warnings.append(f"MAPS: map offset {at:#x} listed twice (loop); skipped")
                continue
            seen.add(at)
            try:
                sig, size, name_at, entries = self.blob.unpack("4sIII", at, "map")
                if sig not in (b"VMAP", b"BMAP"):
                    raise _Bad(f"map at {at:#x} has signature {sig!r}, not VMAP/BMAP")
                n = _count(self.blob, at + 16, at + max(size, 16), entries, 8, sig.decode(), self.warnings)
                pairs = tuple(self.blob.unpack("II", at + 16 + 8 * k, "map entry") for k in range(n))
                out.append(ValueMap(sig.decode(), self.name(name_at, "map name"), pairs))
            except _Bad as exc:
                self.warnings.append(str(exc))
        return out

    def templates(self, offset: int) -> list[Template]:
        end, count = self.table_head(offset, "TTBL")
        out: list[Template] = []
        at = offset + 12
        for _ in range(min(count, MAX_ENTRIES)):
            if at + 40 > end:
                self.warnings.append(f"TTBL at {offset:#x}: {count} templates announced, {len(out)} fit")
                break
            try:
                sig, size, n_items, n_names, items_at, flags = self.blob.unpack("4sIIIII", at, "template")
                if sig != b"TEMP" or size < 40:
                    raise _Bad(f"template at {at:#x}: bad signature {sig!r} or size {size}")
                guid = format_guid(self.blob.unpack("16s", at + 24, "template GUID")[0])
                binxml_end = items_at if n_items and at < items_at <= at + size else at + size
                self.blob.need(at, size, "template")
                binxml = self.blob.data[at + 40 : binxml_end]
                fields = []
                if n_items:
                    n = _count(self.blob, items_at, at + size, n_items, 20, "TEMP items", self.warnings)
                    for k in range(n):
                        head, in_t, out_t, extra, name_at = self.blob.unpack("IBB10sI", items_at + 20 * k, "item")
                        fields.append(TemplateField(self.name(name_at, "field name"), in_t, out_t, head, extra))
                out.append(Template(guid, tuple(fields), binxml, flags, at))
            except _Bad as exc:
                self.warnings.append(str(exc))
                break
            at += size
        return out

    def events(self, offset: int, templates: dict[int, int], keyword_masks: dict[int, int]) -> list[WevtEvent]:
        end, count = self.table_head(offset, "EVNT")
        out = []
        for i in range(_count(self.blob, offset + 16, end, count, 48, "EVNT", self.warnings)):
            at = offset + 16 + 48 * i
            (eid, version, channel, level, opcode, task, keyword, message, template_at, _op, _lv, _tk, n_kw, kw_at,
             flags) = self.blob.unpack("HBBBBHQIIIIIIII", at, "event")
            template = None
            if template_at:
                template = templates.get(template_at)
                if template is None:
                    self.warnings.append(f"event {eid} v{version}: template offset {template_at:#x} is no template")
            masks: list[int] = []
            if n_kw:
                try:
                    n = _count(self.blob, kw_at, len(self.blob.data), n_kw, 4, f"event {eid} keywords", self.warnings)
                    for k in range(n):
                        ref = self.blob.u32(kw_at + 4 * k, "event keyword")
                        if ref in keyword_masks:
                            masks.append(keyword_masks[ref])
                        else:
                            self.warnings.append(f"event {eid} v{version}: keyword offset {ref:#x} is no keyword")
                except _Bad as exc:
                    self.warnings.append(str(exc))
            out.append(WevtEvent(eid, version, channel, level, opcode, task, keyword, message, template,
                                 tuple(masks), flags))
        return out

    # ----------------------------------------------------------------------------------- provider
    def provider(self, guid: str, offset: int) -> WevtProvider:
        sig, _size, message, n_elements = self.blob.unpack("4sIII", offset, "WEVT header")
        if sig != WEVT:
            raise _Bad(f"provider {guid}: no WEVT signature at {offset:#x}")
        n = _count(self.blob, offset + 16, len(self.blob.data), n_elements, 8, f"provider {guid} elements",
                   self.warnings)
        elements: list[tuple[str, int]] = []
        seen: set[int] = set()
        for i in range(n):
            at = self.blob.u32(offset + 20 + 8 * i, "element descriptor")  # (type, offset) pairs from +16
            if at in seen:
                self.warnings.append(f"provider {guid}: element offset {at:#x} listed twice (loop); skipped")
                continue
            seen.add(at)
            try:
                self.blob.need(at, 4, "element")
            except _Bad as exc:
                self.warnings.append(f"provider {guid}: {exc}")
                continue
            elements.append((self.blob.data[at : at + 4].decode("latin-1"), at))
        # Each element fills its field of the record (a later element of the same type wins).
        provider = WevtProvider(guid=guid, message_id=message, order=tuple(s for s, _ in elements))
        raw_keywords: list[tuple[int, Named]] = []
        for sig_text, at in elements:
            if sig_text == "EVNT":
                continue
            try:
                if sig_text == "CHAN":
                    provider = replace(provider, channels=tuple(self.channels(at)))
                elif sig_text == "LEVL":
                    provider = replace(provider, levels=tuple(self.simple(at, sig_text)))
                elif sig_text == "OPCO":
                    provider = replace(provider, opcodes=tuple(self.simple(at, sig_text)))
                elif sig_text == "TASK":
                    provider = replace(provider, tasks=tuple(self.tasks(at)))
                elif sig_text == "KEYW":
                    kws = self.keywords(at)
                    raw_keywords = [(at + 12 + 16 * i, k) for i, k in enumerate(kws)]
                    provider = replace(provider, keywords=tuple(kws))
                elif sig_text == "MAPS":
                    provider = replace(provider, maps=tuple(self.maps(at)))
                elif sig_text == "TTBL":
                    provider = replace(provider, templates=tuple(self.templates(at)))
                elif sig_text == "PRVA":
                    provider = replace(provider, attributes=tuple(self.attributes(at)))
                else:
                    self.warnings.append(f"provider {guid}: unknown element {sig_text!r} at {at:#x}; skipped")
            except _Bad as exc:
                self.warnings.append(f"provider {guid}: {sig_text}: {exc}")
        template_index = {t.offset: i for i, t in enumerate(provider.templates)}
        keyword_masks = {at: k.value for at, k in raw_keywords}
        for sig_text, at in elements:
            if sig_text == "EVNT":
                try:
                    provider = replace(provider, events=tuple(self.events(at, template_index, keyword_masks)))
                except _Bad as exc:
                    self.warnings.append(f"provider {guid}: EVNT: {exc}")
        name = next((text for kind, text in provider.attributes if kind == PRVA_NAME), "")
        return replace(provider, name=name)


def decode_wevt(data: bytes) -> WevtManifest:
    """Every provider of a ``WEVT_TEMPLATE`` blob; problems are warnings, never exceptions."""
    manifest = WevtManifest()
    dec = _Decoder(data)
    try:
        sig, size, major, minor, count = dec.blob.unpack("4sIHHI", 0, "CRIM header")
    except _Bad as exc:
        manifest.warnings.append(str(exc))
        return manifest
    if sig != CRIM:
        manifest.warnings.append(f"not a WEVT_TEMPLATE resource (signature {sig!r}, expected b'CRIM')")
        return manifest
    manifest.version = (major, minor)
    if size > len(data):
        dec.warnings.append(f"CRIM size {size} is larger than the resource ({len(data)} bytes); truncated")
    count = _count(dec.blob, 16, len(data), count, 20, "CRIM providers", dec.warnings)
    seen: set[int] = set()
    for i in range(count):
        raw, offset = dec.blob.unpack("16sI", 16 + 20 * i, "provider descriptor")
        guid = format_guid(raw)
        if offset in seen:
            dec.warnings.append(f"provider {guid}: WEVT offset {offset:#x} already used (loop); skipped")
            continue
        seen.add(offset)
        try:
            manifest.providers.append(dec.provider(guid, offset))
        except _Bad as exc:
            dec.warnings.append(f"provider {guid}: {exc}")
    manifest.warnings.extend(dec.warnings)
    return manifest


__all__ = ["IN_TYPES", "NO_MESSAGE", "OUT_TYPES", "Named", "Template", "TemplateField", "ValueMap", "WevtEvent",
           "WevtManifest", "WevtProvider", "decode_wevt", "type_name"]
