"""Leaf code in the gaps between RUNTIME_FUNCTIONs (engine/native/gaps.py), checked against the PDB.

Each fixture's PDB lists every procedure the compiler emitted (S_GPROC32 and, for static functions,
S_LPROC32 in the module streams), read here with llvm-pdbutil, not with our reader; gap discovery never
reads the PDB. Every entry it finds from the code alone must start a procedure the PDB lists (no data
or mid-function bytes taken for code), and on the synthetic kernels, whose tail-calling leaf wrappers
have no unwind data, and on telemetry.dll, whose static leaf TlgEnable has none, it must find some.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from conftest import LEVELS, SAMPLES

from api_to_etw.binary.pe import load_pe
from api_to_etw.engine.native.gaps import gap_entries

FIXTURES = [os.path.join(SAMPLES, "synthkernel", level, "synthkernel.exe") for level in LEVELS] + [
    os.path.join(SAMPLES, "usermode", "telemetry.dll")]
PDBUTIL = shutil.which("llvm-pdbutil") or shutil.which("llvm-pdbutil-14")
_PROC = re.compile(r"S_[GL]PROC32 .*\n\s+parent = \d+, end = \d+, addr = (\d{4}):(\d+)")


def _procedures(pdb: str, section_rvas: list[int]) -> set[int]:
    text = subprocess.run([PDBUTIL, "dump", "-symbols", pdb], capture_output=True, text=True, check=True).stdout
    return {section_rvas[int(sec) - 1] + int(off) for sec, off in _PROC.findall(text)}


@pytest.mark.skipif(PDBUTIL is None, reason="llvm-pdbutil not installed")
@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: os.path.relpath(p, SAMPLES))
def test_gap_entries_are_procedures_the_pdb_lists(path: str) -> None:
    image = load_pe(path)
    procedures = _procedures(os.path.splitext(path)[0] + ".pdb", [s.rva for s in image.sections])
    assert procedures
    ranges = [(rf.begin, rf.end, rf.parent if rf.parent is not None else rf.begin) for rf in image.runtime_functions]
    found = gap_entries(image, ranges)
    assert found, "each fixture has leaf code without unwind data"
    assert found <= procedures, sorted(hex(rva) for rva in found - procedures)


@pytest.mark.parametrize("level", ["O2", "Os"])
def test_frameless_registered_callback_is_found_in_a_gap(level: str) -> None:
    """samples/mckmdf's EvtDeviceD0Exit is only a tail jump (no RUNTIME_FUNCTION, not 16-byte aligned at -Os):
    code alone names nothing there but the pointer the driver registers, and gap discovery starts it."""
    from api_to_etw.binary.pdb import load_pdb

    path = os.path.join(SAMPLES, "mckmdf", level, "mckmdf.sys")
    image = load_pe(path)
    names = {name: rva for rva, name in load_pdb(os.path.splitext(path)[0] + ".pdb").functions.items()}
    ranges = [(rf.begin, rf.end, rf.parent if rf.parent is not None else rf.begin) for rf in image.runtime_functions]
    assert names["KmdfD0Exit"] not in {start for start, _end, _owner in ranges}
    assert names["KmdfD0Exit"] in gap_entries(image, ranges)


def _skip_by_decoding(code: bytes, pos: int, stop: int) -> int:
    """The padding skip as iced-x86 sees it, one instruction at a time: one-byte int3/nop/zero, any NOP."""
    from iced_x86 import Decoder, Mnemonic

    while pos < stop:
        if code[pos] in b"\xcc\x90\x00":
            pos += 1
            continue
        instr = Decoder(64, code[pos : pos + 15], ip=pos).decode()
        if instr.is_invalid or instr.mnemonic not in (Mnemonic.NOP, Mnemonic.INT3):
            return pos
        pos += instr.len
    return pos


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: os.path.relpath(p, SAMPLES))
def test_padding_is_skipped_where_decoding_would_stop(path: str) -> None:
    """The padding skip (multi-byte nops matched as bytes, not decoded) ends where decoding each instruction of
    the padding ends, from every position of the code where padding or a multi-byte nop may start."""
    from api_to_etw.engine.native.gaps import _skip_padding

    image = load_pe(path)
    nops = 0
    for section in image.executable_sections():
        code = image.file_bytes(section.rva, section.end - section.rva)
        for pos in range(len(code)):
            if code[pos] in b"\x0f\x66\xcc\x90\x00":
                stop = min(pos + 48, len(code))
                expected = _skip_by_decoding(code, pos, stop)
                assert _skip_padding(code, pos, stop, section.rva) == expected, hex(section.rva + pos)
                nops += code[pos] == 0x0F and code[pos + 1 : pos + 2] == b"\x1f"
    if os.sep + "Os" + os.sep not in path:
        assert nops, "clang pads between functions with multi-byte nops where it aligns them"


def test_a_gap_is_padding_by_its_bytes_not_by_its_length() -> None:
    """Gaps that are nothing but padding are remembered by their bytes: a later gap of the same length that
    holds an aligned leaf function (``xor eax, eax; ret``) is still searched, and the function found."""
    from api_to_etw.binary.pe import IMAGE_SCN_CNT_CODE, IMAGE_SCN_MEM_EXECUTE, PEImage, Section

    leaf = b"\x31\xc0\xc3"
    padding = b"\x66\x0f\x1f\x44\x00\x00" + b"\xcc" * 10  # 16 bytes, as clang and MSVC pad
    body = b"\x48\x83\xec\x28\x48\x83\xc4\x28\xc3" + b"\xcc" * 7  # a 16-byte function with unwind data
    gaps = [padding, padding, leaf + b"\xcc" * 13, padding]
    code = body + b"".join(gap + body for gap in gaps)
    base, raw = 0x1000, 0x200
    section = Section(".text", base, len(code), raw, len(code), IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE)
    image = PEImage("test.exe", bytes(raw) + code, 0x140000000, base + len(code), [section])
    ranges = [(base + 32 * i, base + 32 * i + len(body), base + 32 * i) for i in range(len(gaps) + 1)]
    assert gap_entries(image, ranges) == {base + 32 * 2 + len(body)}
