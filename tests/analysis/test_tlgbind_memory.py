"""The TraceLogging binder reads data sections in place (issue 15): no copy of a section on the heap.

node.exe's 55 MB .rdata was copied whole (and sliced again for the vtable scan), which set the peak of a
100 MB binary. The guard is a count of allocated bytes, not a time: samples/tlg/tlg.dll with its last
section (.reloc, read-only data the binder scans for ETW0 headers, provider handles and vtables) grown
in the file by 8 MB; the binder's traced peak must stay far below that section's size.
"""

from __future__ import annotations

import os
import tracemalloc

from conftest import SAMPLES

from api_to_etw.analysis.tlgbind import bind
from api_to_etw.binary.pe import load_pe
from api_to_etw.engine.native.engine import NativeEngine
from api_to_etw.etw import tracelogging as tlg

TLG_DLL = os.path.join(SAMPLES, "tlg", "tlg.dll")
GROWTH = 8 << 20


def _grown_last_section(path: str, growth: int) -> bytes:
    """The DLL with ``growth`` bytes appended to its last section (raw and virtual size, SizeOfImage)."""
    data = bytearray(open(path, "rb").read())
    lfanew = int.from_bytes(data[0x3C:0x40], "little")
    count = int.from_bytes(data[lfanew + 6 : lfanew + 8], "little")
    optional = lfanew + 24
    table = optional + int.from_bytes(data[lfanew + 20 : lfanew + 22], "little")
    last = table + 40 * (count - 1)
    raw_offset = int.from_bytes(data[last + 20 : last + 24], "little")
    raw_size = int.from_bytes(data[last + 16 : last + 20], "little")
    assert raw_offset + raw_size == len(data), "the last section ends the file"
    virtual = int.from_bytes(data[last + 8 : last + 12], "little")
    data[last + 8 : last + 12] = (max(virtual, raw_size) + growth).to_bytes(4, "little")
    data[last + 16 : last + 20] = (raw_size + growth).to_bytes(4, "little")
    image_size = int.from_bytes(data[optional + 56 : optional + 60], "little")
    data[optional + 56 : optional + 60] = (image_size + growth).to_bytes(4, "little")
    # An ETW0 signature without a header behind it every 4 KB: the region search finds and rejects each one.
    filler = b"ETW0" + bytes(range(256)) * 16
    data += (filler * (growth // len(filler) + 1))[:growth]
    return bytes(data)


def test_bind_keeps_no_copy_of_section_bytes(tmp_path):
    path = tmp_path / "grown.dll"
    path.write_bytes(_grown_last_section(TLG_DLL, GROWTH))
    image = load_pe(str(path))
    section = max(image.sections, key=lambda s: s.raw_size)
    assert section.raw_size >= GROWTH and not section.executable
    engine = NativeEngine(image)
    facts = engine.load()
    plain_engine = NativeEngine(load_pe(TLG_DLL))
    plain = bind(plain_engine.load(), plain_engine)
    tracemalloc.start()
    try:
        binding = bind(facts, engine)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [e.name for e in binding.events] == [e.name for e in plain.events] and len(binding.events) == 10
    assert binding.event_provider.keys() == plain.event_provider.keys()
    # One search window at a time, never the section: a copy would cost at least GROWTH bytes.
    assert peak < tlg.FIND_WINDOW + GROWTH // 8, peak


def test_find_all_over_a_view_matches_bytes_find():
    data = bytes(range(256)) * 9000 + b"ETW0ETW0" + bytes(3) + b"ETW0"
    needle = b"ETW0"
    expected = []
    pos = data.find(needle)
    while pos >= 0:
        expected.append(pos)
        pos = data.find(needle, pos + 1)
    assert list(tlg.find_all(memoryview(data), needle)) == expected == list(tlg.find_all(data, needle))
    overlapping = b"\xaa" * (tlg.FIND_WINDOW + 5)
    assert list(tlg.find_all(memoryview(overlapping), b"\xaa\xaa")) == list(range(tlg.FIND_WINDOW + 4))
