"""The TraceLogging binder on hostile images (issue 13): no exception, and work bounded by the file.

Minimal inputs, made in the test from samples/tlg/tlg.dll (image base 0x180000000, above 4 GB):
* the ETW0 header's Flags say 4-byte pointers: no VA of this image fits in 4 bytes, so no provider object
  can exist; the events are still listed, untied, and nothing overflows;
* two data sections claim a VirtualSize of 2 GB: the binder reads only the bytes the file backs.
"""

from __future__ import annotations

import os

from conftest import SAMPLES, run_cli

from api_to_etw.analysis.tlgbind import bind
from api_to_etw.binary.pe import PEImage, load_pe
from api_to_etw.engine.native.engine import NativeEngine

TLG_DLL = os.path.join(SAMPLES, "tlg", "tlg.dll")
_FLAGS = 7  # offset of Flags in the ETW0 header
_SECTION_TABLE_VSIZE = 8  # offset of VirtualSize in a section header


def _patched(tmp_path, name: str, patch) -> str:
    data = bytearray(open(TLG_DLL, "rb").read())
    patch(data)
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return str(path)


def _four_byte_pointers(data: bytearray) -> None:
    header = data.index(b"ETW0")
    assert data[header + _FLAGS] == 1
    data[header + _FLAGS] = 0


def _section_header(data: bytearray, name: bytes) -> int:
    lfanew = int.from_bytes(data[0x3C:0x40], "little")
    count = int.from_bytes(data[lfanew + 6 : lfanew + 8], "little")
    table = lfanew + 24 + int.from_bytes(data[lfanew + 20 : lfanew + 22], "little")
    for i in range(count):
        if data[table + 40 * i : table + 40 * i + 8].rstrip(b"\0") == name:
            return table + 40 * i
    raise AssertionError(name)


def _lying_virtual_sizes(data: bytearray) -> None:
    for name in (b".rdata", b".data"):
        pos = _section_header(data, name) + _SECTION_TABLE_VSIZE
        data[pos : pos + 4] = (0x7FFFF000).to_bytes(4, "little")


def test_four_byte_pointers_above_4gb(tmp_path):
    path = _patched(tmp_path, "ptr4.dll", _four_byte_pointers)
    image = load_pe(path)
    assert image.image_base >= 1 << 32
    engine = NativeEngine(image)
    binding = bind(engine.load(), engine)
    assert len(binding.providers) == 3 and len(binding.events) == 10
    assert binding.provider_objects == {} and binding.event_provider == {}
    for command in (("tracelogging", path), ("analyze", path, "--no-pdb", "--all-sites", "-o", "-")):
        result = run_cli(*command)
        assert result.code == 0, result.stderr
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_lying_virtual_size_reads_only_file_bytes(tmp_path, monkeypatch):
    path = _patched(tmp_path, "vsize.dll", _lying_virtual_sizes)
    size = os.path.getsize(path)
    image = load_pe(path)
    assert max(s.virtual_size for s in image.sections) == 0x7FFFF000
    engine = NativeEngine(image)
    facts = engine.load()
    largest = [0]
    for method in ("read", "file_bytes", "file_view"):
        original = getattr(PEImage, method)

        def counted(self, rva, n, _original=original):
            data = _original(self, rva, n)
            largest[0] = max(largest[0], len(data))
            return data

        monkeypatch.setattr(PEImage, method, counted)
    binding = bind(facts, engine)
    assert len(binding.events) == 10
    assert 0 < largest[0] <= size
