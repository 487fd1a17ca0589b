"""FileVersion from VS_VERSIONINFO: real binaries checked against pefile's own parser, hostile input bounded."""

from __future__ import annotations

import struct

import pytest
from conftest import synth_exe

from api_to_etw.binary.pe import load_pe, parse_pe
from api_to_etw.binary.version import file_version, parse_fixed_version, version_key

REAL_WITH_VERSION = ("vcamp140.dll", "OpenConsole.exe", "dokan2.sys")


@pytest.mark.parametrize("name", REAL_WITH_VERSION)
def test_real_binary_version_is_the_one_pefile_reads(real_binary, name):
    import pefile

    path = str(real_binary(name))
    pe = pefile.PE(path, fast_load=True)
    pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]])
    fixed = pe.VS_FIXEDFILEINFO[0]
    ms, ls = fixed.FileVersionMS, fixed.FileVersionLS
    assert file_version(load_pe(path)) == f"{ms >> 16}.{ms & 0xFFFF}.{ls >> 16}.{ls & 0xFFFF}"


def test_no_version_resource():
    assert file_version(load_pe(synth_exe())) is None


def _block(ms: int, ls: int, signature: int = 0xFEEF04BD) -> bytes:
    key = "VS_VERSION_INFO".encode("utf-16-le") + b"\0\0"
    head = struct.pack("<HHH", 0, 52, 0) + key
    head += b"\0" * (-len(head) % 4)
    return head + struct.pack("<IIII", signature, 0x10000, ms, ls) + b"\0" * 36


def test_fixed_file_info():
    assert parse_fixed_version(_block(0x000A0000, 0x4A610001)) == "10.0.19041.1"
    assert parse_fixed_version(_block(0x000A0000, 1, signature=0)) is None
    assert parse_fixed_version(_block(0x000A0000, 1)[:60]) is None  # cut inside VS_FIXEDFILEINFO
    assert parse_fixed_version(b"\xff" * 200) is None


def test_hostile_resource_directory_is_no_version():
    """A resource directory that points at itself forever, or past the image: no version, no loop."""
    data = bytearray(open(synth_exe(), "rb").read())
    (e_lfanew,) = struct.unpack_from("<I", data, 0x3C)
    dirs = e_lfanew + 24 + 112
    image = parse_pe(bytes(data), "x.exe")
    rdata = next(s for s in image.sections if s.name == ".rdata")
    # an IMAGE_RESOURCE_DIRECTORY with one id entry (RT_VERSION) whose subdirectory is itself
    loop = struct.pack("<IIHHHH", 0, 0, 0, 0, 0, 1) + struct.pack("<II", 16, 0x80000000)
    data[rdata.raw_offset:rdata.raw_offset + len(loop)] = loop
    struct.pack_into("<II", data, dirs + 16, rdata.rva, len(loop))
    assert file_version(parse_pe(bytes(data), "x.exe")) is None
    struct.pack_into("<II", data, dirs + 16, 0x7FFFFFF0, 0x1000)
    assert file_version(parse_pe(bytes(data), "x.exe")) is None


def test_version_order():
    assert sorted(["10.0.10.0", "10.0.9.0", "6.3.9600.1"], key=version_key) == ["6.3.9600.1", "10.0.9.0", "10.0.10.0"]
    assert version_key(None) == () and version_key("1.x") == (1, 0)
