"""Tests for the TraceLogging metadata decoder.

Blobs are produced by a small test-side encoder that follows the layout of TraceLoggingProvider.h, so
every decoder branch is exercised without a Windows binary; one test also builds a real PE with clang
and lld-link when they are installed.
"""

from __future__ import annotations

import random
import signal
import struct
import subprocess
import uuid

import pytest
from conftest import needs_tools

from api_to_etw.errors import CorruptMetadataError
from api_to_etw.etw.tracelogging import (
    BLOB_EVENT2,
    BLOB_EVENT3,
    BLOB_EVENT4,
    BLOB_PROVIDER,
    BLOB_PROVIDER3,
    TLG_MAGIC,
    TlgRegion,
    decode_event,
    decode_provider,
    decode_provider_object,
    decode_region,
    find_regions,
)

PROVIDER_GUID = "09a69a38-2680-4bfa-ad01-792ad63a4ff2"
GROUP_GUID = "4f50731a-89cf-4782-b3e0-dce8c90476ba"

# TlgIn / TlgOut values used below (from TraceLoggingProvider.h).
IN_ANSISTRING = 2
IN_UINT8 = 4
IN_INT32 = 7
IN_UINT32 = 8
IN_BINARY = 14
IN_HEXINT64 = 21
IN_STRUCT = 24
OUT_HEX = 4
OUT_NTSTATUS = 14


# --------------------------------------------------------------------------- test-side encoder


def enc_tags(tags: int, width: int | None = None) -> bytes:
    """Encode a 28-bit tag like the SDK: 7 bits per byte, most significant first, 0x80 = more bytes."""
    if width is None:
        width = 1 if tags & 0x0FE00000 == tags else 2 if tags & 0x0FFFC000 == tags else 4
    chunks = [(tags >> (21 - 7 * i)) & 0x7F for i in range(width)]
    return bytes([c | 0x80 for c in chunks[:-1]] + [chunks[-1]])


def enc_field(
    name: str,
    in_type: int,
    *,
    out: int | None = None,
    tags: int | None = None,
    const_count: int | None = None,
    variable: bool = False,
    struct_fields: int | None = None,
    custom: bytes | None = None,
) -> bytes:
    raw_in = in_type
    if const_count is not None:
        raw_in |= 0x20
    if variable:
        raw_in |= 0x40
    if custom is not None:
        raw_in |= 0x60
    out_byte = struct_fields if struct_fields is not None else out
    if tags is not None and out_byte is None:
        out_byte = 0
    body = name.encode() + b"\x00"
    if out_byte is not None:
        body += bytes([raw_in | 0x80, out_byte | (0x80 if tags is not None else 0)])
        if tags is not None:
            body += enc_tags(tags, 4)
    else:
        body += bytes([raw_in])
    if const_count is not None:
        body += struct.pack("<H", const_count)
    if custom is not None:
        body += struct.pack("<H", len(custom)) + custom
    return body


def enc_event(
    name: str,
    fields: bytes = b"",
    *,
    channel: int = 11,
    level: int = 5,
    opcode: int = 0,
    keyword: int = 0,
    tag_bytes: bytes = b"\x00",
    blob_type: int = BLOB_EVENT3,
    remaining: int | None = None,
) -> bytes:
    rest = tag_bytes + name.encode() + b"\x00" + fields
    size = 2 + len(rest) if remaining is None else remaining
    if blob_type == BLOB_EVENT2:
        head = struct.pack("<BBBHQH", blob_type, level, opcode, 0, keyword, size)
    else:
        head = struct.pack("<BBBBQH", blob_type, channel, level, opcode, keyword, size)
    return head + rest


def enc_trait(trait_type: int, data: bytes, size: int | None = None) -> bytes:
    return struct.pack("<HB", 3 + len(data) if size is None else size, trait_type) + data


def enc_provider(
    name: str,
    guid: str = PROVIDER_GUID,
    *,
    group: str | None = None,
    traits: bytes = b"",
    blob_type: int = BLOB_PROVIDER3,
    remaining: int | None = None,
) -> bytes:
    rest = name.encode() + b"\x00"
    if group is not None:
        rest += enc_trait(1, uuid.UUID(group).bytes_le)
    rest += traits
    size = 2 + len(rest) if remaining is None else remaining
    head = bytes([blob_type])
    if blob_type == BLOB_PROVIDER3:
        head += uuid.UUID(guid).bytes_le
    return head + struct.pack("<H", size) + rest


def enc_header(*, size: int = 16, version: int = 0, flags: int = 1, magic: int = TLG_MAGIC) -> bytes:
    return struct.pack("<4sHBBQ", b"ETW0", size, version, flags, magic)


def region_bytes(*blobs: bytes, end: bool = True, header: bytes | None = None) -> bytes:
    return (enc_header() if header is None else header) + b"".join(blobs) + (b"\x01" if end else b"")


def reader(data: bytes, base: int = 0):
    """A ``read(rva, size)`` over a buffer mapped at RVA ``base``, short at the end like a section."""

    def read(rva: int, size: int) -> bytes:
        if rva < base:
            return b""
        return data[rva - base : rva - base + size]

    return read


# --------------------------------------------------------------------------- hang guard


@pytest.fixture(autouse=True)
def no_hang():
    """Fail (instead of hanging the suite) if any decode takes more than a few seconds."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def on_alarm(signum, frame):
        raise TimeoutError("decoder did not finish: possible endless loop")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 20.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- providers


def test_provider_without_group():
    data = region_bytes(enc_provider("Microsoft.Windows.Kernel.Test"))
    region = decode_region(data, 0, base_rva=0x1000)
    assert region.warnings == []
    (prov,) = region.providers
    assert prov.name == "Microsoft.Windows.Kernel.Test"
    assert prov.guid == PROVIDER_GUID
    assert prov.group_guid is None
    assert prov.blob_type == BLOB_PROVIDER3
    # ProviderMetadataPtr points 1 + 16 bytes into the blob, at RemainingSize.
    assert prov.offset_or_rva == 0x1000 + 16 + 17
    assert region.rva == 0x1000
    assert region.size == len(data)


def test_provider_with_group_and_unknown_trait():
    blob = enc_provider("Grouped", group=GROUP_GUID, traits=enc_trait(7, b"xyz"))
    region = decode_region(region_bytes(blob), 0)
    assert region.warnings == []
    (prov,) = region.providers
    assert prov.group_guid == GROUP_GUID
    assert prov.name == "Grouped"


def test_decode_provider_from_metadata_pointer():
    blob = enc_provider("P", group=GROUP_GUID)
    data = b"\xcc" * 5 + blob
    prov = decode_provider(reader(data, 0x400), 0x400 + 5 + 17)
    assert (prov.guid, prov.name, prov.group_guid) == (PROVIDER_GUID, "P", GROUP_GUID)


def test_decode_provider_rejects_pointer_not_at_remaining_size():
    data = b"\x00" * 3 + enc_provider("P")
    with pytest.raises(CorruptMetadataError):
        decode_provider(reader(data), 3 + 5)


def test_legacy_provider_has_no_guid():
    blob = enc_provider("Legacy", blob_type=BLOB_PROVIDER, group=GROUP_GUID)
    region = decode_region(region_bytes(blob), 0)
    assert region.warnings == []
    (prov,) = region.providers
    assert (prov.guid, prov.name, prov.group_guid, prov.blob_type) == ("", "Legacy", GROUP_GUID, BLOB_PROVIDER)
    assert prov.offset_or_rva == 16 + 1
    assert decode_provider(reader(region_bytes(blob)), 17).name == "Legacy"


@pytest.mark.parametrize("pointer_size", [8, 4])
def test_decode_provider_object(pointer_size):
    image_base = 0x140000000 if pointer_size == 8 else 0x400000
    blob = enc_provider("Obj", group=GROUP_GUID)
    meta_rva = 0x2000 + 17
    obj = struct.pack("<I", 0) + b"\x00" * (pointer_size - 4)
    obj += (image_base + meta_rva).to_bytes(pointer_size, "little") + b"\x00" * 40
    image = bytearray(0x3000)
    image[0x2000 : 0x2000 + len(blob)] = blob
    image[0x2800 : 0x2800 + len(obj)] = obj
    prov = decode_provider_object(reader(bytes(image)), 0x2800, image_base, pointer_size=pointer_size)
    assert (prov.name, prov.guid, prov.offset_or_rva) == ("Obj", PROVIDER_GUID, meta_rva)


def test_decode_provider_object_bad_pointer():
    image = bytearray(0x100)
    image[8:16] = (0x1000).to_bytes(8, "little")  # below the image base
    with pytest.raises(CorruptMetadataError):
        decode_provider_object(reader(bytes(image)), 0, 0x140000000)
    image[8:16] = (0x140000000 + 0x5000).to_bytes(8, "little")  # outside the image
    with pytest.raises(CorruptMetadataError):
        decode_provider_object(reader(bytes(image)), 0, 0x140000000)


# --------------------------------------------------------------------------- events


def test_event_with_single_byte_tag_and_scalars():
    fields = enc_field("Pid", IN_UINT32) + enc_field("Status", IN_UINT32, out=OUT_NTSTATUS)
    blob = enc_event(
        "ProcessStart",
        fields,
        channel=11,
        level=4,
        opcode=1,
        keyword=0x0000400000000010,
        tag_bytes=enc_tags(0x0FE00000),
    )
    region = decode_region(region_bytes(blob), 0, base_rva=0x5000)
    assert region.warnings == []
    (ev,) = region.events
    assert ev.rva == 0x5000 + 16 + 1  # the Channel byte, as passed to the write helper
    assert (ev.channel, ev.level, ev.opcode, ev.keyword) == (11, 4, 1, 0x0000400000000010)
    assert ev.tags == 0x0FE00000
    assert ev.name == "ProcessStart"
    assert ev.blob_type == BLOB_EVENT3
    pid, status = ev.fields
    assert (pid.name, pid.in_type, pid.in_type_name, pid.out_type, pid.out_type_name) == (
        "Pid",
        IN_UINT32,
        "TlgInUINT32",
        None,
        None,
    )
    assert (status.out_type, status.out_type_name) == (OUT_NTSTATUS, "TlgOutNTSTATUS")
    assert not pid.is_array and pid.count is None and pid.struct_fields is None


@pytest.mark.parametrize(
    ("tag_bytes", "expected"),
    [
        (b"\x12", 0x02400000),  # the SDK's own example
        (b"\x80\x00", 0),  # what C (non-C++) code always emits with no tags
        (enc_tags(0x01234000, 2), 0x01234000),
        (enc_tags(0x0ABCDEF, 4), 0x0ABCDEF),
        (enc_tags(0x0FFFFFFF, 4)[:3] + b"\xff\x81\x00", 0x0FFFFFFF),  # bytes past the 4th are ignored
    ],
)
def test_event_tags(tag_bytes, expected):
    blob = enc_event("T", enc_field("x", IN_INT32), tag_bytes=tag_bytes)
    (ev,) = decode_region(region_bytes(blob), 0).events
    assert ev.tags == expected
    assert ev.name == "T"
    assert [f.name for f in ev.fields] == ["x"]


def test_field_kinds():
    fields = (
        enc_field("Tagged", IN_UINT32, tags=0x0123456)
        + enc_field("TaggedHex", IN_UINT8, out=OUT_HEX, tags=0x0000001)
        + enc_field("Fixed", IN_INT32, const_count=4)
        + enc_field("Names", IN_ANSISTRING, variable=True)
        + enc_field("Info", IN_STRUCT, struct_fields=2)
        + enc_field("Handle", IN_HEXINT64)
        + enc_field("Flags", IN_UINT8, out=OUT_HEX)
        + enc_field("Items", IN_STRUCT, struct_fields=1, variable=True, tags=0x0000100)
        + enc_field("Blob", IN_BINARY, custom=b"schema\x00")
    )
    (ev,) = decode_region(region_bytes(enc_event("Kinds", fields)), 0).events
    by_name = {f.name: f for f in ev.fields}
    assert list(by_name) == ["Tagged", "TaggedHex", "Fixed", "Names", "Info", "Handle", "Flags", "Items", "Blob"]

    tagged = by_name["Tagged"]
    assert (tagged.tags, tagged.out_type, tagged.out_type_name) == (0x0123456, 0, "TlgOutNULL")
    assert (by_name["TaggedHex"].tags, by_name["TaggedHex"].out_type) == (1, OUT_HEX)

    fixed = by_name["Fixed"]
    assert (fixed.is_array, fixed.count, fixed.is_variable_array) == (True, 4, False)

    names = by_name["Names"]
    assert (names.is_array, names.count, names.is_variable_array) == (True, None, True)
    assert names.in_type_name == "TlgInANSISTRING"

    info = by_name["Info"]
    assert (info.is_struct, info.struct_fields, info.out_type, info.in_type_name) == (True, 2, None, "_TlgInSTRUCT")

    assert by_name["Handle"].in_type_name == "TlgInHEXINT64"
    assert by_name["Flags"].out_type_name == "TlgOutHEX"

    items = by_name["Items"]
    assert (items.struct_fields, items.is_array, items.tags) == (1, True, 0x100)

    blob = by_name["Blob"]
    assert (blob.is_custom, blob.is_array, blob.type_info) == (True, False, b"schema\x00")


def test_unknown_type_values_get_readable_names():
    (ev,) = decode_region(region_bytes(enc_event("U", enc_field("x", 30, out=99))), 0).events
    (f,) = ev.fields
    assert (f.in_type_name, f.out_type_name) == ("TlgIn(30)", "TlgOut(99)")


def test_event4_and_legacy_event2():
    e4 = enc_event("Four", enc_field("a", IN_INT32), blob_type=BLOB_EVENT4, level=2)
    e2 = enc_event("Two", enc_field("b", IN_UINT8), blob_type=BLOB_EVENT2, level=3, opcode=9, keyword=0x42)
    region = decode_region(region_bytes(e4, e2), 0)
    assert region.warnings == []
    four, two = region.events
    assert (four.blob_type, four.name, four.level, four.channel) == (BLOB_EVENT4, "Four", 2, 11)
    assert (two.blob_type, two.name, two.level, two.opcode, two.keyword, two.channel) == (
        BLOB_EVENT2,
        "Two",
        3,
        9,
        0x42,
        11,
    )
    assert two.rva == 16 + len(e4) + 1
    assert [f.name for f in two.fields] == ["b"]


def test_decode_event_from_write_pointer():
    blob = enc_event("ByPointer", enc_field("v", IN_INT32, const_count=2), level=1)
    data = b"\xaa" * 7 + blob + b"\xbb" * 3
    ev = decode_event(reader(data, 0x9000), 0x9000 + 7 + 1)
    assert (ev.name, ev.level, ev.rva) == ("ByPointer", 1, 0x9000 + 8)
    assert ev.fields[0].count == 2


def test_decode_event_rejects_non_event_type_byte():
    data = b"\x09" + enc_event("X")[1:]
    with pytest.raises(CorruptMetadataError):
        decode_event(reader(data), 1)


def test_decode_event_truncated_by_section_end():
    blob = enc_event("Truncated", enc_field("field", IN_INT32))
    with pytest.raises(CorruptMetadataError):
        decode_event(reader(blob[:-3]), 1)


def test_mixed_region_with_padding():
    blobs = (
        b"\x00" * 5,
        enc_event("E1"),
        b"\x00",
        enc_event("E2", enc_field("f", IN_INT32)),
        b"\x00" * 3,
        enc_provider("P1"),
        enc_provider("P2", "00000000-0000-0000-0000-000000000001", group=GROUP_GUID),
    )
    data = region_bytes(*blobs) + b"trailing junk"
    region = decode_region(data, 0)
    assert region.warnings == []
    assert [e.name for e in region.events] == ["E1", "E2"]
    assert [p.name for p in region.providers] == ["P1", "P2"]
    assert region.size == len(data) - len(b"trailing junk")
    assert region.pointer_size == 8


# --------------------------------------------------------------------------- find_regions


def test_find_regions_skips_junk_and_fake_signatures():
    region = region_bytes(enc_event("E"), enc_provider("P"))
    fake = b"ETW0" + b"\x10\x00\x00\x01" + b"\x00" * 8  # right signature, wrong magic
    data = b"MZ" + bytes(range(256)) + fake + b"ETW" + region + b"\x00" * 9 + region + b"ETW0\x10"
    offsets = find_regions(data)
    first = 2 + 256 + len(fake) + 3
    assert offsets == [first, first + len(region) + 9]
    for off in offsets:
        decoded = decode_region(data, off)
        assert [e.name for e in decoded.events] == ["E"]
        assert decoded.warnings == []


def test_find_regions_empty():
    assert find_regions(b"") == []
    assert find_regions(b"ETW0") == []


# --------------------------------------------------------------------------- corrupt input


def _walk_warns(data: bytes) -> TlgRegion:
    region = decode_region(data, 0)
    assert region.warnings, "expected a warning"
    return region


def test_event_remaining_size_larger_than_buffer():
    blob = enc_event("Big", enc_field("x", IN_INT32), remaining=0x4000)
    region = _walk_warns(region_bytes(blob))
    assert region.events == []
    assert "corrupt" in region.warnings[0]
    with pytest.raises(CorruptMetadataError):
        decode_event(reader(blob), 1)


@pytest.mark.parametrize("remaining", [0, 1, 2, 3])
def test_event_remaining_size_too_small(remaining):
    blob = enc_event("Z", remaining=remaining)
    _walk_warns(region_bytes(blob))
    with pytest.raises(CorruptMetadataError):
        decode_event(reader(blob), 1)


@pytest.mark.parametrize("remaining", [0, 1, 2])
def test_provider_remaining_size_too_small(remaining):
    blob = enc_provider("Z", remaining=remaining)
    _walk_warns(region_bytes(blob))
    with pytest.raises(CorruptMetadataError):
        decode_provider(reader(blob), 17)


def test_provider_remaining_size_larger_than_buffer():
    blob = enc_provider("Z", remaining=0xFFFF)
    region = _walk_warns(region_bytes(blob))
    assert region.providers == []


def test_event_name_without_nul():
    rest = b"\x00" + b"NoTerminator"
    blob = struct.pack("<BBBBQH", BLOB_EVENT3, 11, 5, 0, 0, 2 + len(rest)) + rest
    _walk_warns(region_bytes(blob))
    with pytest.raises(CorruptMetadataError, match="NUL"):
        decode_event(reader(blob), 1)


def test_field_name_without_nul():
    rest = b"\x00" + b"Ev\x00" + b"field"
    blob = struct.pack("<BBBBQH", BLOB_EVENT3, 11, 5, 0, 0, 2 + len(rest)) + rest
    with pytest.raises(CorruptMetadataError, match="NUL"):
        decode_event(reader(blob), 1)


def test_provider_name_without_nul():
    blob = bytes([BLOB_PROVIDER3]) + uuid.UUID(PROVIDER_GUID).bytes_le + struct.pack("<H", 6) + b"abcd"
    with pytest.raises(CorruptMetadataError, match="NUL"):
        decode_provider(reader(blob + b"\x00" * 10), 17)


@pytest.mark.parametrize(
    "fields",
    [
        b"f\x00" + bytes([IN_INT32 | 0x20]) + b"\x04",  # constant count cut short
        b"f\x00" + bytes([IN_INT32 | 0x80]),  # OutType missing
        b"f\x00" + bytes([IN_INT32 | 0x80, 0x80]) + b"\x81\x82",  # tag run never ends inside the blob
        b"f\x00" + bytes([IN_BINARY | 0x60]) + struct.pack("<H", 50) + b"abc",  # custom type info overruns
        b"s\x00" + bytes([IN_STRUCT]),  # struct without member count
    ],
)
def test_field_overruns_blob(fields):
    blob = enc_event("E", fields)
    region = _walk_warns(region_bytes(blob, enc_event("Next")))
    assert region.events == []
    with pytest.raises(CorruptMetadataError):
        decode_event(reader(blob), 1)


def test_provider_trait_sizes():
    zero = enc_provider("P", traits=enc_trait(1, b"", size=0))
    with pytest.raises(CorruptMetadataError):
        decode_provider(reader(zero), 17)
    long = enc_provider("P", traits=enc_trait(1, b"\x00" * 4, size=40))
    with pytest.raises(CorruptMetadataError):
        decode_provider(reader(long), 17)
    _walk_warns(region_bytes(zero))


def test_unknown_blob_type_stops_walk():
    data = region_bytes(enc_event("Before"), b"\x2a" + b"\x00" * 20, enc_event("After"))
    region = _walk_warns(data)
    assert [e.name for e in region.events] == ["Before"]
    assert "unknown blob type 42" in region.warnings[0]


def test_missing_end_blob_warns():
    region = _walk_warns(region_bytes(enc_event("E"), end=False))
    assert [e.name for e in region.events] == ["E"]
    assert "end blob" in region.warnings[0]


def test_truncated_or_invalid_header_raises():
    header = enc_header()
    with pytest.raises(CorruptMetadataError):
        decode_region(header[:12], 0)
    with pytest.raises(CorruptMetadataError):
        decode_region(b"junk" + header, 0)
    with pytest.raises(CorruptMetadataError):
        decode_region(enc_header(magic=1) + b"\x01", 0)
    with pytest.raises(CorruptMetadataError):
        decode_region(header, -1)
    assert find_regions(header[:15]) == []


@pytest.mark.parametrize("size", [0, 8, 15, 0xFFFF])
def test_header_size_field_lies(size):
    data = region_bytes(enc_event("E"), header=enc_header(size=size))
    region = _walk_warns(data)
    assert region.events == []
    assert "Size field" in region.warnings[0]


def test_header_size_field_larger_but_plausible():
    data = region_bytes(b"\x00" * 8 + enc_event("E"), header=enc_header(size=24))
    region = _walk_warns(data)
    assert [e.name for e in region.events] == ["E"]


def test_header_unknown_version_warns_but_decodes():
    data = region_bytes(enc_event("E"), header=enc_header(version=3, flags=0))
    region = _walk_warns(data)
    assert [e.name for e in region.events] == ["E"]
    assert region.pointer_size == 4


def test_random_corruption_never_hangs_or_crashes():
    """Mutated and truncated regions must decode or fail with CorruptMetadataError, nothing else."""
    good = region_bytes(
        enc_provider("Provider", group=GROUP_GUID),
        enc_event(
            "Event",
            enc_field("a", IN_INT32, const_count=3)
            + enc_field("b", IN_STRUCT, struct_fields=1, tags=5)
            + enc_field("c", IN_BINARY, custom=b"xy"),
            tag_bytes=enc_tags(0x0ABCDEF, 4),
        ),
        enc_event("Second", enc_field("d", IN_UINT8, out=OUT_HEX), blob_type=BLOB_EVENT2),
        enc_provider("Old", blob_type=BLOB_PROVIDER),
    )
    rng = random.Random(0x7E70)
    for _ in range(3000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(16, len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            del data[rng.randrange(16, len(data)) :]
        region = decode_region(bytes(data), 0)
        assert 16 <= region.size <= len(data)
        read = reader(bytes(data))
        for rva in range(1, len(data), 7):
            for decode in (decode_event, decode_provider):
                try:
                    decode(read, rva)
                except CorruptMetadataError:
                    pass


# --------------------------------------------------------------------------- real PE built by clang + lld-link

C_SOURCE = r"""
#pragma section(".rdata$zETW0", read)
#pragma section(".rdata$zETW1", read)
#pragma section(".rdata$zETW2", read)
#pragma section(".rdata$zETW9", read)

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define EVT_TAG_C(t) (0x80 | (((t) & 0xfe00000) >> 21) | (((t) & 0x1fc000) >> 6))
#define FIELD_TAG(t) (0x808080u | (((t) & 0x7fu) << 24) | (((t) & 0x3f80u) << 9) | \
                      (((t) & 0x1fc000u) >> 6) | (((t) & 0xfe00000u) >> 21))

#pragma pack(push, 1)
struct tlg_header { u32 signature; u16 size; u8 version; u8 flags; u64 magic; };
struct tlg_guid { u32 d1; u16 d2; u16 d3; u8 d4[8]; };

__declspec(allocate(".rdata$zETW0")) __declspec(align(8))
const struct tlg_header tlg_metadata = { 0x30575445u, 16, 0, 1, 0xBB8A052B88040E86ull };

__declspec(allocate(".rdata$zETW2")) __declspec(align(1)) const struct {
    u8 type; struct tlg_guid id; u16 remaining; char name[sizeof("Test.Provider")];
    u16 trait_size; u8 trait_type; struct tlg_guid group;
} tlg_provider_meta = {
    4, { 0x09a69a38, 0x2680, 0x4bfa, { 0xad, 0x01, 0x79, 0x2a, 0xd6, 0x3a, 0x4f, 0xf2 } },
    sizeof(tlg_provider_meta) - 1 - 16, "Test.Provider",
    3 + 16, 1, { 0x4f50731a, 0x89cf, 0x4782, { 0xb3, 0xe0, 0xdc, 0xe8, 0xc9, 0x04, 0x76, 0xba } }
};

__declspec(allocate(".rdata$zETW1")) __declspec(align(1)) const struct {
    u8 type; u8 channel; u8 level; u8 opcode; u64 keyword; u16 remaining; u16 tags;
    char name[sizeof("SyscallObserved")];
    char n0[sizeof("Pid")]; u8 in0;
    char n1[sizeof("Status")]; u8 in1; u8 out1;
    char n2[sizeof("Values")]; u8 in2; u16 count2;
    char n3[sizeof("Names")]; u8 in3;
    char n4[sizeof("Info")]; u8 in4; u8 out4; u32 tags4;
    char n5[sizeof("Handle")]; u8 in5;
    char n6[sizeof("Flags")]; u8 in6; u8 out6;
} tlg_event1 = {
    3, 11, 4, 0, 0x0000400000000000ull, sizeof(tlg_event1) - 11 - 1, EVT_TAG_C(0x01234000),
    "SyscallObserved",
    "Pid", 8,
    "Status", 8 | 0x80, 14,
    "Values", 7 | 0x20, 4,
    "Names", 2 | 0x40,
    "Info", 24 | 0x80, 2 | 0x80, FIELD_TAG(0x0000123u),
    "Handle", 21,
    "Flags", 4 | 0x80, 4
};

__declspec(allocate(".rdata$zETW1")) __declspec(align(1)) const struct {
    u8 type; u8 channel; u8 level; u8 opcode; u64 keyword; u16 remaining; u8 tags;
    char name[sizeof("Heartbeat")];
} tlg_event2 = { 6, 11, 5, 0, 0, sizeof(tlg_event2) - 11 - 1, 0, "Heartbeat" };

__declspec(allocate(".rdata$zETW9")) const u8 tlg_metadata_end = 1;
#pragma pack(pop)

struct tlg_provider_t {
    u32 level_plus1;
    const u16 *metadata;
    u64 keyword_any;
    u64 keyword_all;
    u64 reg_handle;
    void *enable_callback;
    void *callback_context;
};

struct tlg_provider_t tlg_provider = { 0, &tlg_provider_meta.remaining, 0, 0, 0, 0, 0 };

__declspec(dllexport) const void *tlg_refs(int which)
{
    if (which == 1) return &tlg_event1.channel;
    if (which == 2) return &tlg_event2.channel;
    if (which == 3) return &tlg_metadata_end;
    return &tlg_provider;
}
"""


def _pe_sections(image: bytes) -> tuple[int, list[tuple[bytes, int, int, int, int]]]:
    """Image base and (name, rva, virtual size, file offset, raw size) for each section of a PE32+ file."""
    pe = struct.unpack_from("<I", image, 0x3C)[0]
    assert image[pe : pe + 4] == b"PE\x00\x00"
    count = struct.unpack_from("<H", image, pe + 6)[0]
    opt_size = struct.unpack_from("<H", image, pe + 20)[0]
    opt = pe + 24
    assert struct.unpack_from("<H", image, opt)[0] == 0x20B
    image_base = struct.unpack_from("<Q", image, opt + 24)[0]
    sections = []
    for i in range(count):
        sh = opt + opt_size + 40 * i
        name = image[sh : sh + 8].rstrip(b"\x00")
        vsize, rva, raw_size, raw_ptr = struct.unpack_from("<IIII", image, sh + 8)
        sections.append((name, rva, vsize, raw_ptr, raw_size))
    return image_base, sections


@needs_tools("clang", "lld-link")
def test_real_dll_built_with_clang(tmp_path):
    src = tmp_path / "tlg.c"
    obj = tmp_path / "tlg.obj"
    dll = tmp_path / "tlg.dll"
    src.write_text(C_SOURCE)
    subprocess.run(
        ["clang", "--target=x86_64-pc-windows-msvc", "-O2", "-c", str(src), "-o", str(obj)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    subprocess.run(
        ["lld-link", "/dll", "/noentry", "/nodefaultlib", f"/out:{dll}", str(obj)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    image = dll.read_bytes()
    image_base, sections = _pe_sections(image)

    (offset,) = find_regions(image)
    name, sec_rva, _vsize, raw_ptr, raw_size = next(s for s in sections if s[3] <= offset < s[3] + s[4])
    assert name == b".rdata"
    section_bytes = image[raw_ptr : raw_ptr + raw_size]
    region = decode_region(section_bytes, offset - raw_ptr, base_rva=sec_rva)
    assert region.warnings == []
    assert region.pointer_size == 8

    (prov,) = region.providers
    assert (prov.name, prov.guid, prov.group_guid) == ("Test.Provider", PROVIDER_GUID, GROUP_GUID)

    ev1, ev2 = region.events
    assert (ev1.name, ev1.channel, ev1.level, ev1.keyword, ev1.tags) == (
        "SyscallObserved",
        11,
        4,
        0x0000400000000000,
        0x01234000,
    )
    assert [(f.name, f.in_type_name, f.out_type_name) for f in ev1.fields] == [
        ("Pid", "TlgInUINT32", None),
        ("Status", "TlgInUINT32", "TlgOutNTSTATUS"),
        ("Values", "TlgInINT32", None),
        ("Names", "TlgInANSISTRING", None),
        ("Info", "_TlgInSTRUCT", None),
        ("Handle", "TlgInHEXINT64", None),
        ("Flags", "TlgInUINT8", "TlgOutHEX"),
    ]
    fields = {f.name: f for f in ev1.fields}
    assert fields["Values"].count == 4 and fields["Values"].is_array
    assert fields["Names"].is_variable_array
    assert (fields["Info"].struct_fields, fields["Info"].tags) == (2, 0x123)
    assert (ev2.name, ev2.blob_type, ev2.tags, ev2.fields) == ("Heartbeat", BLOB_EVENT4, 0, [])

    def read(rva: int, size: int) -> bytes:
        for _name, s_rva, vsize, s_raw, s_size in sections:
            if s_rva <= rva < s_rva + max(vsize, s_size):
                start = s_raw + (rva - s_rva)
                return image[start : start + min(size, s_rva + s_size - rva)]
        return b""

    assert decode_event(read, ev1.rva) == ev1
    assert decode_provider(read, prov.offset_or_rva) == prov

    # The provider object lives in .data and holds the absolute VA of the provider's RemainingSize.
    name, data_rva, _vsize, data_raw, data_size = next(s for s in sections if s[0] == b".data")
    needle = struct.pack("<Q", image_base + prov.offset_or_rva)
    hit = image.find(needle, data_raw, data_raw + data_size)
    assert hit >= 0
    object_rva = data_rva + (hit - data_raw) - 8
    assert decode_provider_object(read, object_rva, image_base) == prov
