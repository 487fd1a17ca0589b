"""Every named export of a real binary, read from its IMAGE_EXPORT_DIRECTORY (binary/pe.py's own reader).

Truth is pefile's export parse with its safety cap on the number of exports raised: by default pefile stops
after 8,192 exports ("assuming corrupt"), which dropped 1,544 of node.exe's 9,736 exports (and the APIs they
root) before the loader read the directory itself.
"""

from __future__ import annotations

import struct

import pefile
import pytest

from api_to_etw.binary.pe import load_pe

#: Binaries with many exports: node.exe (Node's and V8's C/C++ API), concrt140 and vcamp140 (C++ runtimes).
BINARIES = ("node.exe", "concrt140.dll", "vcamp140.dll")


@pytest.mark.parametrize("name", BINARIES)
def test_every_named_export(real_binary, name):
    image = load_pe(str(real_binary(name)))
    pe = pefile.PE(data=image.data, fast_load=True, max_symbol_exports=1 << 20)
    pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"]])
    truth: dict[int, list[str]] = {}
    for sym in pe.DIRECTORY_ENTRY_EXPORT.symbols:
        if sym.name and not sym.forwarder:
            truth.setdefault(sym.address, []).append(sym.name.decode("ascii"))
    assert image.exports == truth
    directory = pe.OPTIONAL_HEADER.DATA_DIRECTORY[0]
    name_count = struct.unpack("<I", image.read(directory.VirtualAddress + 24, 4))[0]  # NumberOfNames
    assert sum(map(len, image.exports.values())) == name_count  # none of these has a forwarder
