"""Unit tests of binary/pe.py against pefile's full parse (independent truth) on every committed fixture,
a chained-unwind DLL assembled and linked at test time, and the bounds of ``read`` and truncated files
(the hostile headers of issue 13 are in test_parse_limits.py and test_hostile_input.py)."""

from __future__ import annotations

import os

import pefile
import pytest
from conftest import SAMPLES, code_fixtures, pefile_exports, pefile_imports
from unwind_fixture import build_chained

from api_to_etw.binary.pe import ZERO_FILL_LIMIT, load_pe, parse_pe
from api_to_etw.errors import ApiToEtwError

FIXTURES = code_fixtures()
IDS = [os.path.relpath(p, SAMPLES) for p in FIXTURES]


@pytest.fixture(scope="module", params=FIXTURES, ids=IDS)
def pair(request):
    return load_pe(request.param), pefile.PE(request.param)


def test_fixtures_found():
    assert len(FIXTURES) >= 10


def test_header_fields(pair):
    image, pe = pair
    assert image.image_base == pe.OPTIONAL_HEADER.ImageBase
    assert image.size_of_image == pe.OPTIONAL_HEADER.SizeOfImage
    assert image.entry_point == pe.OPTIONAL_HEADER.AddressOfEntryPoint
    assert image.timestamp == pe.FILE_HEADER.TimeDateStamp


def test_sections(pair):
    image, pe = pair
    expected = [(s.Name.rstrip(b"\0").decode(), s.VirtualAddress, s.Misc_VirtualSize, s.PointerToRawData,
                 s.SizeOfRawData, s.Characteristics) for s in pe.sections]
    assert [(s.name, s.rva, s.virtual_size, s.raw_offset, s.raw_size, s.characteristics)
            for s in image.sections] == expected
    assert [s.name for s in image.executable_sections()] == [
        s.Name.rstrip(b"\0").decode() for s in pe.sections if s.Characteristics & 0x20000020]


def test_read_matches_the_mapped_image(pair):
    image, pe = pair
    mapped = pe.get_memory_mapped_image()
    for section in pe.sections:
        start, size = section.VirtualAddress, max(section.Misc_VirtualSize, section.SizeOfRawData)
        assert image.read(start, size) == mapped[start:start + size]
        assert image.is_writable(start) == bool(section.Characteristics & 0x80000000)


def test_exports(pair):
    image, pe = pair
    assert image.exports == pefile_exports(pe)


def test_imports(pair):
    image, pe = pair
    assert image.imports == pefile_imports(pe)


def test_runtime_functions(pair):
    image, pe = pair
    expected = [(e.struct.BeginAddress, e.struct.EndAddress, e.struct.UnwindData)
                for e in getattr(pe, "DIRECTORY_ENTRY_EXCEPTION", [])]
    assert [(r.begin, r.end, r.unwind) for r in image.runtime_functions] == expected
    assert all(r.parent is None for r in image.runtime_functions)  # no fixture has chained unwind info


def test_codeview(pair):
    image, pe = pair
    records = [d.entry for d in getattr(pe, "DIRECTORY_ENTRY_DEBUG", []) if d.struct.Type == 2]
    if not records:  # built without /debug: no RSDS record
        assert image.codeview is None
        return
    cv = records[0]
    guid = (f"{cv.Signature_Data1:08X}{cv.Signature_Data2:04X}{cv.Signature_Data3:04X}"
            + bytes([cv.Signature_Data4, cv.Signature_Data5]).hex().upper() + cv.Signature_Data6.hex().upper())
    assert image.codeview is not None
    assert image.codeview.guid.hex.upper() == guid
    assert image.codeview.age == cv.Age
    assert image.codeview.pdb_name == cv.PdbFileName.rstrip(b"\0").decode()
    assert image.codeview.signature == guid + format(cv.Age, "X")


# ------------------------------------------------------------------------------------- chained unwind

@pytest.fixture(scope="module")
def chained(tmp_path_factory):
    return build_chained(str(tmp_path_factory.mktemp("chained")))


def test_chained_entry_names_its_parent(chained):
    image, pe = load_pe(chained), pefile.PE(chained)
    truth = {}
    for entry in pe.DIRECTORY_ENTRY_EXCEPTION:
        parent = entry.unwindinfo.get_chained_function_entry()
        truth[entry.struct.BeginAddress] = parent.struct.BeginAddress if parent is not None else None
    (f_rva,) = [rva for rva, names in image.exports.items() if names == ["f"]]
    assert sorted(v for v in truth.values() if v is not None) == [f_rva]
    assert {r.begin: r.parent for r in image.runtime_functions} == truth


# ------------------------------------------------------------------------------------- bounds


def _small_fixture() -> bytes:
    with open(os.path.join(SAMPLES, "usermode", "telemetry.dll"), "rb") as handle:
        return handle.read()


def test_read_is_short_at_section_end_and_empty_outside():
    image = parse_pe(_small_fixture())
    last = image.sections[-1]
    assert image.read(last.end - 4, 64) == image.read(last.end - 4, 4) and len(image.read(last.end - 4, 64)) == 4
    assert image.read(image.size_of_image + 0x10000, 16) == b""
    assert image.read(last.rva, 0) == b"" and image.read(last.rva, -5) == b""
    assert image.file_offset(last.rva + last.raw_size, 1) is None


def test_zero_fill_is_bounded_per_read():
    data = bytearray(_small_fixture())
    last = pefile.PE(data=bytes(data)).sections[-1]
    header = last.get_file_offset()
    data[header + 8:header + 12] = (1 << 31).to_bytes(4, "little")  # VirtualSize: a 2 GiB .bss
    image = parse_pe(bytes(data), "bss.dll")
    section = image.sections[-1]
    assert section.end == section.rva + (1 << 31)
    data_read = image.read(section.rva + section.raw_size, 1 << 30)
    assert len(data_read) == ZERO_FILL_LIMIT and not any(data_read)


@pytest.mark.parametrize("cut", [0, 0x3F, 0x80, 0x200, 0x400, 0x600])
def test_truncated_file_is_a_named_error_or_a_shorter_image(cut):
    data = _small_fixture()[:cut]
    try:
        image = parse_pe(data, "cut.dll")
    except ApiToEtwError as exc:
        assert str(exc).startswith("cut.dll: ")
        return
    # What parses must never claim bytes the file does not have.
    for section in image.sections:
        assert section.raw_offset + section.raw_size <= len(data) or section.raw_size == 0


def test_lying_raw_size_of_a_data_section_is_clipped(tmp_path):
    data = bytearray(_small_fixture())
    pe = pefile.PE(data=bytes(data))
    last = pe.sections[-1]
    assert not last.Characteristics & 0x20000020, "the last section of the fixture holds data"
    header = last.get_file_offset()
    data[header + 16:header + 20] = (0x7FFFFFF0).to_bytes(4, "little")  # SizeOfRawData
    image = parse_pe(bytes(data), "lying.dll")
    section = image.sections[-1]
    assert section.raw_offset + section.raw_size == len(data)
