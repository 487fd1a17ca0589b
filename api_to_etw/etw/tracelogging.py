"""Decode TraceLogging provider and event metadata embedded in PE images.

TraceLogging (``TraceLoggingProvider.h``) emits no manifest: everything a consumer needs to name an
event is stored as byte blobs in the module's read-only data, between a ``_TraceLoggingMetadata_t``
header and a one-byte end marker.  A static analyser that sees a write call therefore only has a
pointer into that data; this module turns such pointers (and whole metadata regions) into typed records.

Layout, as declared by the Windows SDK's TraceLoggingProvider.h (10.0.10240 onwards) and matching
public type dumps of ``_tlgProviderMetadata_t``/``_tlgProvider_t`` from Windows 10/11 kernel symbols:

* Region header, 8-byte aligned, in section ``.rdata$zETW0``: UINT32 Signature ("ETW0"),
  UINT16 Size (= 16), UINT8 Version (= 0), UINT8 Flags (bit 0 = 64-bit pointers),
  UINT64 Magic (= 0xBB8A052B88040E86).  Event blobs follow in ``.rdata$zETW1``, provider blobs in
  ``.rdata$zETW2`` and a single ``_TlgBlobEnd`` byte in ``.rdata$zETW9``; the linker sorts these into
  one run.  Blobs are byte-packed; zero bytes (``_TlgBlobNone``) may pad between them.
* Provider blob (``_TlgBlobProvider3``): UINT8 type, GUID, UINT16 RemainingSize (counts itself),
  NUL-terminated UTF-8 name, then traits ``{UINT16 size (counts itself), UINT8 type, data}``; trait
  type 1 is the provider group GUID.  ``_TlgProvider_t.ProviderMetadataPtr`` points at RemainingSize.
* Event blob (``_TlgBlobEvent3``/``_TlgBlobEvent4``): UINT8 type, UINT8 Channel, UINT8 Level,
  UINT8 Opcode, UINT64 Keyword, UINT16 RemainingSize (counts itself), tag bytes, NUL-terminated name,
  then fields.  The write helpers receive a pointer to Channel (one byte past the type).
* Field: NUL-terminated name, UINT8 InType (low 5 bits type; 0x20 constant count, 0x40 variable count,
  0x60 custom serializer, 0x80 OutType follows), [UINT8 OutType (0x80: tag bytes follow)], [tags],
  [UINT16 ValueCount if constant count], [UINT16 TypeInfoSize + TypeInfo if custom].  For
  ``_TlgInSTRUCT`` the OutType byte carries the number of member fields instead of a format.
* Tags: bytes with the high bit meaning "another byte follows"; the first four bytes give 7 bits each
  of a 28-bit value, most significant first (0x12 alone means 0x02400000).

The legacy blob types ``_TlgBlobProvider`` (2) and ``_TlgBlobEvent2`` (5) are not described by any
public SDK header.  They are decoded the way the public parsers EtwInspector and TLGMapper read them:
the legacy provider has no GUID (RemainingSize follows the type byte) and the legacy event stores
Level, Opcode, UINT16 Task, UINT64 Keyword before RemainingSize (its channel is reported as 11).

Error policy: the single-blob decoders (:func:`decode_event`, :func:`decode_provider`,
:func:`decode_provider_object`) raise :class:`CorruptMetadataError` for anything they cannot decode
completely.  :func:`decode_region` raises only when the header itself is invalid; a corrupt or unknown
blob ends the walk with a message in :attr:`TlgRegion.warnings`, keeping whatever was decoded before it.
Every read is bounded by the blob's RemainingSize and by the bytes actually available, and every
loop consumes at least one byte per iteration, so hostile input cannot hang or over-read.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable, Iterator
from typing import Callable, Optional, Union

from api_to_etw.errors import CorruptMetadataError
from api_to_etw.fieldclass import Frozen, Mutable, set_field

ReadFn = Callable[[int, int], bytes]
"""``read(rva, size)``: up to ``size`` image bytes at ``rva`` (fewer at the end of mapped data)."""

TLG_SIGNATURE = b"ETW0"
TLG_MAGIC = 0xBB8A052B88040E86
TLG_HEADER_SIZE = 16
TLG_VERSION = 0
TLG_FLAG_PTR64 = 0x01

# _TlgBlob_t
BLOB_NONE = 0
BLOB_END = 1
BLOB_PROVIDER = 2
BLOB_EVENT3 = 3
BLOB_PROVIDER3 = 4
BLOB_EVENT2 = 5
BLOB_EVENT4 = 6

BLOB_TYPE_NAMES: dict[int, str] = {
    BLOB_NONE: "_TlgBlobNone",
    BLOB_END: "_TlgBlobEnd",
    BLOB_PROVIDER: "_TlgBlobProvider",
    BLOB_EVENT3: "_TlgBlobEvent3",
    BLOB_PROVIDER3: "_TlgBlobProvider3",
    BLOB_EVENT2: "_TlgBlobEvent2",
    BLOB_EVENT4: "_TlgBlobEvent4",
}

EVENT_BLOB_TYPES = frozenset({BLOB_EVENT3, BLOB_EVENT4, BLOB_EVENT2})
PROVIDER_BLOB_TYPES = frozenset({BLOB_PROVIDER3, BLOB_PROVIDER})

# Bytes between the blob type and RemainingSize (_TLG_EVENT_METADATA_PREAMBLE and friends).
EVENT_PREAMBLE = 11  # Channel, Level, Opcode, Keyword
EVENT2_PREAMBLE = 12  # Level, Opcode, Task, Keyword (legacy)
PROVIDER_PREAMBLE = 16  # GUID

WINEVENT_CHANNEL_TRACELOGGING = 11

# TlgIn_t flag bits
IN_TYPE_MASK = 0x1F
IN_CCOUNT = 0x20
IN_VCOUNT = 0x40
IN_CUSTOM = 0x60
IN_COUNT_MASK = 0x60
IN_CHAIN = 0x80

# TlgOut_t flag bits
OUT_TYPE_MASK = 0x7F
OUT_CHAIN = 0x80

IN_STRUCT = 24  # _TlgInSTRUCT
PROVIDER_TRAIT_GROUP = 1  # _TlgOptionGroup == EtwProviderTraitTypeGroup

TLG_IN_NAMES: dict[int, str] = {
    0: "TlgInNULL",
    1: "TlgInUNICODESTRING",
    2: "TlgInANSISTRING",
    3: "TlgInINT8",
    4: "TlgInUINT8",
    5: "TlgInINT16",
    6: "TlgInUINT16",
    7: "TlgInINT32",
    8: "TlgInUINT32",
    9: "TlgInINT64",
    10: "TlgInUINT64",
    11: "TlgInFLOAT",
    12: "TlgInDOUBLE",
    13: "TlgInBOOL32",
    14: "TlgInBINARY",
    15: "TlgInGUID",
    16: "_TlgInPOINTER_unsupported",
    17: "TlgInFILETIME",
    18: "TlgInSYSTEMTIME",
    19: "TlgInSID",
    20: "TlgInHEXINT32",
    21: "TlgInHEXINT64",
    22: "TlgInCOUNTEDSTRING",
    23: "TlgInCOUNTEDANSISTRING",
    24: "_TlgInSTRUCT",
    25: "TlgInCOUNTEDBINARY",
}

TLG_OUT_NAMES: dict[int, str] = {
    0: "TlgOutNULL",
    1: "TlgOutNOPRINT",
    2: "TlgOutSTRING",
    3: "TlgOutBOOLEAN",
    4: "TlgOutHEX",
    5: "TlgOutPID",
    6: "TlgOutTID",
    7: "TlgOutPORT",
    8: "TlgOutIPV4",
    9: "TlgOutIPV6",
    10: "TlgOutSOCKETADDRESS",
    11: "TlgOutXML",
    12: "TlgOutJSON",
    13: "TlgOutWIN32ERROR",
    14: "TlgOutNTSTATUS",
    15: "TlgOutHRESULT",
    16: "TlgOutFILETIME",
    17: "TlgOutSIGNED",
    18: "TlgOutUNSIGNED",
    35: "TlgOutUTF8",
    36: "TlgOutPKCS7_WITH_TYPE_INFO",
    37: "TlgOutCODE_POINTER",
    38: "TlgOutDATETIME_UTC",
}

_HEADER = struct.Struct("<4sHBBQ")
_EVENT_HEAD = struct.Struct("<BBBQH")  # Channel, Level, Opcode, Keyword, RemainingSize
_EVENT2_HEAD = struct.Struct("<BBHQH")  # Level, Opcode, Task, Keyword, RemainingSize


class TlgField(Frozen):
    """One field of an event.

    ``in_type`` is the TlgIn type with the flag bits removed (they are kept in ``in_flags``);
    ``out_type`` is the TlgOut format without its chain bit, or None when absent and always None for
    structs, whose OutType byte holds ``struct_fields`` (the number of following member fields).
    """

    name: str
    in_type: int
    out_type: int | None
    tags: int
    count: int | None
    is_array: bool
    struct_fields: int | None
    in_flags: int
    type_info: bytes | None
    _fields = ("name", "in_type", "out_type", "tags", "count", "is_array", "struct_fields", "in_flags", "type_info")

    def __init__(self, name: str, in_type: int, out_type: int | None, tags: int, count: int | None, is_array: bool,
                 struct_fields: int | None, in_flags: int = 0, type_info: bytes | None = None) -> None:
        set_field(self, "__dict__", {"name": name, "in_type": in_type, "out_type": out_type, "tags": tags,
                                     "count": count, "is_array": is_array, "struct_fields": struct_fields,
                                     "in_flags": in_flags, "type_info": type_info})

    @property
    def in_type_name(self) -> str:
        return TLG_IN_NAMES.get(self.in_type, f"TlgIn({self.in_type})")

    @property
    def out_type_name(self) -> str | None:
        if self.out_type is None:
            return None
        return TLG_OUT_NAMES.get(self.out_type, f"TlgOut({self.out_type})")

    @property
    def is_struct(self) -> bool:
        return self.in_type == IN_STRUCT

    @property
    def is_custom(self) -> bool:
        """Custom-serialized field (e.g. Bond/protobuf); ``type_info`` holds the serializer schema."""
        return self.in_flags & IN_COUNT_MASK == IN_CUSTOM

    @property
    def is_variable_array(self) -> bool:
        return self.in_flags & IN_COUNT_MASK == IN_VCOUNT


class TlgProvider(Frozen):
    """A provider blob.  ``offset_or_rva`` is where RemainingSize lives (what ProviderMetadataPtr holds).

    ``guid`` is lower case without braces; it is empty for the legacy ``_TlgBlobProvider`` form, which
    stores no GUID.
    """

    offset_or_rva: int
    guid: str
    name: str
    group_guid: str | None
    blob_type: int
    _fields = ("offset_or_rva", "guid", "name", "group_guid", "blob_type")

    def __init__(self, offset_or_rva: int, guid: str, name: str, group_guid: str | None, blob_type: int) -> None:
        set_field(self, "__dict__", {"offset_or_rva": offset_or_rva, "guid": guid, "name": name,
                                     "group_guid": group_guid, "blob_type": blob_type})


class TlgEvent(Mutable):
    """An event blob.  ``rva`` is the Channel byte, i.e. the pointer a TraceLogging write call passes."""

    rva: int
    channel: int
    level: int
    opcode: int
    keyword: int
    tags: int
    name: str
    fields: list[TlgField]
    blob_type: int
    _fields = ("rva", "channel", "level", "opcode", "keyword", "tags", "name", "fields", "blob_type")

    def __init__(self, rva: int, channel: int, level: int, opcode: int, keyword: int, tags: int, name: str,
                 fields: list[TlgField], blob_type: int) -> None:
        self.rva = rva
        self.channel = channel
        self.level = level
        self.opcode = opcode
        self.keyword = keyword
        self.tags = tags
        self.name = name
        self.fields = fields
        self.blob_type = blob_type


class TlgRegion:
    """One ``ETW0`` metadata region: header RVA, bytes walked (header to end marker), decoded blobs. (A plain
    class: never compared, it needs none of a dataclass's generated methods, compiled at import.)"""

    __slots__ = ("rva", "size", "providers", "events", "warnings", "flags")

    def __init__(self, rva: int, size: int, flags: int = 0) -> None:
        self.rva = rva
        self.size = size
        self.providers: list[TlgProvider] = []
        self.events: list[TlgEvent] = []
        self.warnings: list[str] = []
        self.flags = flags

    @property
    def pointer_size(self) -> int:
        """Pointer width recorded by the compiler (``_TlgFlagsPtr64``), for reading ``_TlgProvider_t``."""
        return 8 if self.flags & TLG_FLAG_PTR64 else 4


class _Cursor:
    """Bounded reader over one blob's bytes; any overrun is corrupt metadata, never an IndexError."""

    def __init__(self, buf: bytes, pos: int, end: int, what: str) -> None:
        self.buf = buf
        self.pos = pos
        self.end = min(end, len(buf))
        self.what = what

    def _need(self, n: int) -> None:
        if self.pos + n > self.end:
            raise CorruptMetadataError(f"{self.what}: needs {n} byte(s) at +{self.pos:#x}, blob ends at +{self.end:#x}")

    def u8(self) -> int:
        self._need(1)
        value = self.buf[self.pos]
        self.pos += 1
        return value

    def u16(self) -> int:
        self._need(2)
        value = int.from_bytes(self.buf[self.pos : self.pos + 2], "little")
        self.pos += 2
        return value

    def take(self, n: int) -> bytes:
        self._need(n)
        value = self.buf[self.pos : self.pos + n]
        self.pos += n
        return value

    def cstr(self, label: str) -> str:
        nul = self.buf.find(b"\x00", self.pos, self.end)
        if nul < 0:
            raise CorruptMetadataError(f"{self.what}: {label} at +{self.pos:#x} has no NUL terminator inside the blob")
        raw = self.buf[self.pos : nul]
        self.pos = nul + 1
        return raw.decode("utf-8", errors="replace")

    def tags(self) -> int:
        """Read a tag run; only the first four bytes carry bits (7 each, most significant first)."""
        value = 0
        index = 0
        while True:
            byte = self.u8()
            if index < 4:
                value |= (byte & 0x7F) << (21 - 7 * index)
            index += 1
            if not byte & 0x80:
                return value


def format_guid(raw: bytes) -> str:
    """Render a little-endian Windows GUID as lower case ``xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx``."""
    return str(uuid.UUID(bytes_le=bytes(raw)))


def _read_exact(read: ReadFn, rva: int, size: int, what: str) -> bytes:
    if rva < 0:
        raise CorruptMetadataError(f"{what}: negative RVA {rva:#x}")
    data = read(rva, size)
    if data is None or len(data) < size:
        got = 0 if data is None else len(data)
        raise CorruptMetadataError(f"{what}: needs {size} byte(s) at RVA {rva:#x}, only {got} available")
    return bytes(data[:size])


def _decode_field(cur: _Cursor) -> TlgField:
    name = cur.cstr("field name")
    raw_in = cur.u8()
    in_type = raw_in & IN_TYPE_MASK
    in_flags = raw_in & IN_COUNT_MASK
    out_type: int | None = None
    struct_fields: int | None = None
    tags = 0
    if raw_in & IN_CHAIN:
        raw_out = cur.u8()
        if raw_out & OUT_CHAIN:
            tags = cur.tags()
        if in_type == IN_STRUCT:
            struct_fields = raw_out & OUT_TYPE_MASK
        else:
            out_type = raw_out & OUT_TYPE_MASK
    elif in_type == IN_STRUCT:
        raise CorruptMetadataError(f"{cur.what}: struct field {name!r} has no member count (OutType missing)")
    count: int | None = None
    type_info: bytes | None = None
    if in_flags == IN_CCOUNT:
        count = cur.u16()
    elif in_flags == IN_CUSTOM:
        type_info = cur.take(cur.u16())
    return TlgField(
        name=name,
        in_type=in_type,
        out_type=out_type,
        tags=tags,
        count=count,
        is_array=in_flags in (IN_CCOUNT, IN_VCOUNT),
        struct_fields=struct_fields,
        in_flags=in_flags,
        type_info=type_info,
    )


def _decode_event_blob(read: ReadFn, rva: int, blob_type: int) -> tuple[TlgEvent, int]:
    """Decode the event whose Channel byte (or legacy Level byte) is at ``rva``; return it and blob length."""
    what = f"event at RVA {rva:#x}"
    if blob_type in (BLOB_EVENT3, BLOB_EVENT4):
        channel, level, opcode, keyword, remaining = _EVENT_HEAD.unpack(_read_exact(read, rva, _EVENT_HEAD.size, what))
        preamble = EVENT_PREAMBLE
    elif blob_type == BLOB_EVENT2:
        level, opcode, _task, keyword, remaining = _EVENT2_HEAD.unpack(_read_exact(read, rva, _EVENT2_HEAD.size, what))
        channel = WINEVENT_CHANNEL_TRACELOGGING
        preamble = EVENT2_PREAMBLE
    else:
        raise CorruptMetadataError(f"{what}: blob type {blob_type} is not an event blob")
    # RemainingSize counts itself, at least one tag byte and the name's NUL.
    if remaining < 4:
        raise CorruptMetadataError(f"{what}: RemainingSize {remaining} is too small for tags and a name")
    body = _read_exact(read, rva + preamble, remaining, what)
    cur = _Cursor(body, 2, remaining, what)
    tags = cur.tags()
    name = cur.cstr("event name")
    fields: list[TlgField] = []
    while cur.pos < cur.end:
        fields.append(_decode_field(cur))
    event = TlgEvent(
        rva=rva,
        channel=channel,
        level=level,
        opcode=opcode,
        keyword=keyword,
        tags=tags,
        name=name,
        fields=fields,
        blob_type=blob_type,
    )
    return event, 1 + preamble + remaining


def _decode_provider_blob(read: ReadFn, metadata_rva: int, blob_type: int) -> tuple[TlgProvider, int]:
    """Decode the provider whose RemainingSize is at ``metadata_rva``; return it and blob length."""
    what = f"provider at RVA {metadata_rva:#x}"
    if blob_type == BLOB_PROVIDER3:
        guid = format_guid(_read_exact(read, metadata_rva - PROVIDER_PREAMBLE, 16, what))
        preamble = PROVIDER_PREAMBLE
    elif blob_type == BLOB_PROVIDER:
        guid = ""
        preamble = 0
    else:
        raise CorruptMetadataError(f"{what}: blob type {blob_type} is not a provider blob")
    remaining = int.from_bytes(_read_exact(read, metadata_rva, 2, what), "little")
    if remaining < 3:  # itself plus at least the name's NUL
        raise CorruptMetadataError(f"{what}: RemainingSize {remaining} is too small for a name")
    body = _read_exact(read, metadata_rva, remaining, what)
    cur = _Cursor(body, 2, remaining, what)
    name = cur.cstr("provider name")
    group_guid: str | None = None
    while cur.pos < cur.end:
        trait_start = cur.pos
        trait_size = cur.u16()
        if trait_size < 3:
            raise CorruptMetadataError(f"{what}: provider trait at +{trait_start:#x} has size {trait_size} (< 3)")
        trait_type = cur.u8()
        data = cur.take(trait_size - 3)
        if trait_type == PROVIDER_TRAIT_GROUP and len(data) >= 16:
            group_guid = format_guid(data[:16])
    provider = TlgProvider(offset_or_rva=metadata_rva, guid=guid, name=name, group_guid=group_guid, blob_type=blob_type)
    return provider, 1 + preamble + remaining


def decode_event(read: ReadFn, rva: int) -> TlgEvent:
    """Decode the event a write call references; ``rva`` is the Channel byte, the blob type sits before it.

    Raises CorruptMetadataError when the byte before ``rva`` is not an event blob type or the blob is
    truncated or inconsistent.
    """
    blob_type = _read_exact(read, rva - 1, 1, f"event at RVA {rva:#x}")[0]
    return _decode_event_blob(read, rva, blob_type)[0]


def decode_provider(read: ReadFn, metadata_rva: int) -> TlgProvider:
    """Decode the provider whose RemainingSize field is at ``metadata_rva`` (the GUID is the 16 bytes before).

    A ``_TlgBlobProvider3`` type byte 17 bytes back is required; failing that, a legacy
    ``_TlgBlobProvider`` type byte directly before ``metadata_rva`` is accepted.
    """
    if metadata_rva >= 1 + PROVIDER_PREAMBLE:
        head = read(metadata_rva - 1 - PROVIDER_PREAMBLE, 1)
        if head and head[0] == BLOB_PROVIDER3:
            return _decode_provider_blob(read, metadata_rva, BLOB_PROVIDER3)[0]
    head = _read_exact(read, metadata_rva - 1, 1, f"provider at RVA {metadata_rva:#x}")
    if head[0] == BLOB_PROVIDER:
        return _decode_provider_blob(read, metadata_rva, BLOB_PROVIDER)[0]
    raise CorruptMetadataError(f"provider at RVA {metadata_rva:#x}: no provider blob type before RemainingSize")


def decode_provider_object(read: ReadFn, rva: int, image_base: int, pointer_size: int = 8) -> TlgProvider:
    """Decode the provider behind a ``_TlgProvider_t`` global (the object a provider handle points to).

    The object is ``{UINT32 LevelPlus1; UINT16 const* ProviderMetadataPtr; ...}`` with natural
    alignment, so the pointer is at offset ``pointer_size``; it is an absolute VA, hence ``image_base``.
    """
    if pointer_size not in (4, 8):
        raise ValueError(f"pointer_size must be 4 or 8, not {pointer_size}")
    raw = _read_exact(read, rva + pointer_size, pointer_size, f"_TlgProvider_t at RVA {rva:#x}")
    va = int.from_bytes(raw, "little")
    if va < image_base:
        raise CorruptMetadataError(
            f"_TlgProvider_t at RVA {rva:#x}: ProviderMetadataPtr {va:#x} is below the image base {image_base:#x}"
        )
    return decode_provider(read, va - image_base)


def _header_valid(data: Union[bytes, memoryview], offset: int) -> bool:
    if offset < 0 or offset + TLG_HEADER_SIZE > len(data):
        return False
    signature, _size, _version, _flags, magic = _HEADER.unpack_from(data, offset)
    return signature == TLG_SIGNATURE and magic == TLG_MAGIC


#: Bytes copied at a time when a view of a mapped section is searched (a memoryview has no ``find``).
FIND_WINDOW = 1 << 20


def find_all(data: Union[bytes, memoryview], needle: bytes) -> Iterator[int]:
    """Every offset of ``needle`` in ``data``, overlapping ones included, in order. A view is searched a
    window at a time, so a section mapped in place is never copied whole."""
    if not needle:
        return
    if isinstance(data, bytes):
        pos = data.find(needle)
        while pos >= 0:
            yield pos
            pos = data.find(needle, pos + 1)
        return
    for start in range(0, len(data), FIND_WINDOW):
        # len(needle) - 1 bytes of overlap: a match that starts in this window ends inside the chunk
        chunk = bytes(data[start : start + FIND_WINDOW + len(needle) - 1])
        pos = chunk.find(needle)
        while 0 <= pos < FIND_WINDOW:
            yield start + pos
            pos = chunk.find(needle, pos + 1)
        del chunk  # before the next window is copied: one window alive at a time


def find_regions(data: Union[bytes, memoryview], signatures: Optional[Iterable[int]] = None) -> list[int]:
    """Offsets in ``data`` of every ETW0 header whose signature and 64-bit magic both match (``signatures``:
    the offsets of the signature when the caller has searched for them already)."""
    found = find_all(data, TLG_SIGNATURE) if signatures is None else signatures
    return [pos for pos in found if _header_valid(data, pos)]


def _buffer_reader(data: Union[bytes, memoryview], base_rva: int) -> ReadFn:
    def read(rva: int, size: int) -> bytes:
        start = rva - base_rva
        if start < 0 or size <= 0:
            return b""
        chunk = data[start : start + size]
        return chunk if isinstance(chunk, bytes) else bytes(chunk)  # one blob's bytes, never the section

    return read


def decode_region(data: Union[bytes, memoryview], offset: int, base_rva: int = 0) -> TlgRegion:
    """Walk every blob after the ETW0 header at ``data[offset]`` up to the end marker or the buffer's end.

    ``base_rva`` is the RVA of ``data[0]`` (pass a section's bytes and its VirtualAddress), so the
    records carry image RVAs that match the pointers code passes.  Raises CorruptMetadataError if no
    valid header is at ``offset``; a bad blob stops the walk with a warning instead.
    """
    if offset < 0 or offset + TLG_HEADER_SIZE > len(data):
        raise CorruptMetadataError(f"ETW0 header at offset {offset:#x}: truncated (buffer is {len(data)} bytes)")
    signature, size, version, flags, magic = _HEADER.unpack_from(data, offset)
    if signature != TLG_SIGNATURE or magic != TLG_MAGIC:
        raise CorruptMetadataError(f"offset {offset:#x}: no ETW0 header (signature {signature!r}, magic {magic:#x})")
    region = TlgRegion(rva=base_rva + offset, size=TLG_HEADER_SIZE, flags=flags)
    warnings = region.warnings
    if version != TLG_VERSION:
        warnings.append(f"header version {version} is not {TLG_VERSION}; decoding as version {TLG_VERSION}")
    pos = offset + TLG_HEADER_SIZE
    if size != TLG_HEADER_SIZE:
        if size > TLG_HEADER_SIZE and offset + size <= len(data):
            warnings.append(f"header Size field is {size}, expected {TLG_HEADER_SIZE}; blobs assumed to follow it")
            pos = offset + size
        else:
            warnings.append(f"header Size field is {size}, expected {TLG_HEADER_SIZE}; region not walked")
            return region

    read = _buffer_reader(data, base_rva)
    ended = False
    stopped = False
    while pos < len(data):
        blob_type = data[pos]
        if blob_type == BLOB_NONE:
            pos += 1
            continue
        if blob_type == BLOB_END:
            pos += 1
            ended = True
            break
        blob_rva = base_rva + pos
        try:
            if blob_type in EVENT_BLOB_TYPES:
                event, length = _decode_event_blob(read, blob_rva + 1, blob_type)
                region.events.append(event)
            elif blob_type == BLOB_PROVIDER3:
                provider, length = _decode_provider_blob(read, blob_rva + 1 + PROVIDER_PREAMBLE, blob_type)
                region.providers.append(provider)
            elif blob_type == BLOB_PROVIDER:
                provider, length = _decode_provider_blob(read, blob_rva + 1, blob_type)
                region.providers.append(provider)
            else:
                warnings.append(f"unknown blob type {blob_type} at RVA {blob_rva:#x}; walk stopped")
                stopped = True
                break
        except CorruptMetadataError as exc:
            name = BLOB_TYPE_NAMES.get(blob_type, str(blob_type))
            warnings.append(f"corrupt {name} blob at RVA {blob_rva:#x}: {exc}; walk stopped")
            stopped = True
            break
        pos += length  # always >= 1 + 2: the walk advances on every blob
    if not ended and not stopped:
        warnings.append(f"no end blob before the end of the buffer (offset {len(data):#x})")
    region.size = pos - offset
    return region


__all__ = [
    "BLOB_END",
    "BLOB_EVENT2",
    "BLOB_EVENT3",
    "BLOB_EVENT4",
    "BLOB_NONE",
    "BLOB_PROVIDER",
    "BLOB_PROVIDER3",
    "BLOB_TYPE_NAMES",
    "TLG_IN_NAMES",
    "TLG_MAGIC",
    "TLG_OUT_NAMES",
    "TLG_SIGNATURE",
    "CorruptMetadataError",
    "ReadFn",
    "TlgEvent",
    "TlgField",
    "TlgProvider",
    "TlgRegion",
    "decode_event",
    "decode_provider",
    "decode_provider_object",
    "decode_region",
    "find_all",
    "find_regions",
    "format_guid",
]
