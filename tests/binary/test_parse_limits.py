"""Hostile PE and PDB headers (issue 13): each mutation of a real fixture ends in a named exit code, within
seconds and bounded memory. The mutations are made here, from the committed synthetic kernel.

Each case is run in a child process so its peak memory (wait4) and wall time are its own.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import threading
import time

import pytest
from conftest import REPO, synth_exe, synth_pdb

from api_to_etw.errors import ExitCode

#: Generous bounds for a 2-core shared machine: the old failures took minutes or gigabytes.
SECONDS = 60
PEAK_MIB = 600


def run_child(*args: str) -> tuple[int, str, float, float]:
    """``api-to-etw ARGS`` in a fresh process: exit code, stderr, seconds, peak RSS in MiB (killed after SECONDS)."""
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "api_to_etw", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=REPO, env={**os.environ, "PYTHONPATH": REPO})
    timer = threading.Timer(SECONDS, proc.kill)
    timer.start()
    try:
        err = proc.stderr.read() if proc.stderr else b""
        _pid, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
        if proc.stderr:
            proc.stderr.close()
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - start
    assert seconds < SECONDS, f"{args} did not finish in {SECONDS} s"
    return code, err.decode("utf-8", "replace"), seconds, usage.ru_maxrss / 1024.0


def assert_named(code: int, stderr: str, *allowed: ExitCode) -> None:
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert code in allowed, (code, stderr)


class PeLayout:
    """Offsets of the header fields the mutations touch (PE32+)."""

    def __init__(self, data: bytes):
        (self.e_lfanew,) = struct.unpack_from("<I", data, 0x3C)
        self.optional = self.e_lfanew + 24
        (opt_size,) = struct.unpack_from("<H", data, self.e_lfanew + 20)
        (count,) = struct.unpack_from("<H", data, self.e_lfanew + 6)
        self.rva_count = self.optional + 108
        self.directories = self.optional + 112
        table = self.optional + opt_size
        self.sections = {}
        for i in range(count):
            at = table + 40 * i
            name = data[at:at + 8].rstrip(b"\0").decode()
            vsize, rva, raw_size, raw_ptr = struct.unpack_from("<IIII", data, at + 8)
            self.sections[name] = (at, vsize, rva, raw_size, raw_ptr)


def mutated_exe(tmp_path, mutate) -> str:
    data = bytearray(open(synth_exe(), "rb").read())
    mutate(data, PeLayout(bytes(data)))
    path = tmp_path / "mutated.exe"
    path.write_bytes(bytes(data))
    shutil.copy(synth_pdb(), tmp_path / "synthkernel.pdb")
    return str(path)


def test_fewer_than_four_data_directories(tmp_path):
    """NumberOfRvaAndSizes < 4: no exception directory entry at all (was an IndexError)."""
    def mutate(data, pe):
        struct.pack_into("<I", data, pe.rva_count, 2)

    exe = mutated_exe(tmp_path, mutate)
    code, err, _seconds, _peak = run_child("analyze", exe, "--no-pdb", "-o", os.devnull, "-q")
    assert_named(code, err, ExitCode.OK)


def test_exception_directory_cut_short(tmp_path):
    """The exception directory runs 5 bytes past its section's end (was a struct.error)."""
    def mutate(data, pe):
        _at, vsize, rva, raw_size, _ptr = pe.sections[".pdata"]
        end = rva + max(vsize, raw_size)
        struct.pack_into("<II", data, pe.directories + 8 * 3, end - 19, 24)

    exe = mutated_exe(tmp_path, mutate)
    code, err, _seconds, _peak = run_child("analyze", exe, "-o", os.devnull, "-q")
    assert_named(code, err, ExitCode.OK)


@pytest.mark.parametrize("section", [".data", ".text"])
def test_two_gigabyte_virtual_size(tmp_path, section):
    """A section's VirtualSize of 2 GB: its zero fill is never materialised (was 4.2 GB RSS)."""
    def mutate(data, pe):
        at = pe.sections[section][0]
        struct.pack_into("<I", data, at + 8, 0x80000000)

    exe = mutated_exe(tmp_path, mutate)
    code, err, seconds, peak = run_child("analyze", exe, "-o", os.devnull, "-q")
    assert_named(code, err, ExitCode.OK, ExitCode.CORRUPT_FILE)
    assert peak < PEAK_MIB, f"peak RSS {peak:.0f} MiB"


def _msf_header(data: bytes) -> tuple[int, int, int]:
    page_size, _fpm, _pages, dir_size, _reserved, map_page = struct.unpack_from("<IIIIII", data, 32)
    return page_size, dir_size, map_page


@pytest.mark.parametrize("case", ["huge_directory", "directory_past_file", "page_past_file", "bad_page_size"])
def test_hostile_msf_directory(tmp_path, case):
    """MSF headers and directories that lie: a CorruptPdbError in seconds (a 256 MB directory took minutes)."""
    data = bytearray(open(synth_pdb(), "rb").read())
    page_size, dir_size, map_page = _msf_header(bytes(data))
    if case == "huge_directory":
        struct.pack_into("<I", data, 44, 0x10000000)
    elif case == "directory_past_file":
        struct.pack_into("<I", data, 44, len(data) + page_size)
    elif case == "page_past_file":
        (dir_page,) = struct.unpack_from("<I", data, map_page * page_size)
        directory = dir_page * page_size
        (count,) = struct.unpack_from("<I", data, directory)
        # The first page of the first non-empty stream now points a million pages past the file's end.
        struct.pack_into("<I", data, directory + 4 + 4 * count, 1 << 20)
    else:
        struct.pack_into("<I", data, 32, 0x1001)
    pdb = tmp_path / "hostile.pdb"
    pdb.write_bytes(bytes(data))
    exe = tmp_path / "synthkernel.exe"
    shutil.copy(synth_exe(), exe)
    code, err, seconds, peak = run_child("analyze", str(exe), "--pdb", str(pdb), "-o", os.devnull, "-q")
    assert_named(code, err, ExitCode.CORRUPT_PDB)
    assert "corrupt PDB" in err or "not a PDB" in err, err
    assert peak < PEAK_MIB, f"peak RSS {peak:.0f} MiB"


def test_checked_directory_reads_the_same_streams():
    """The checked MSF reader gives pdbparse's own view of every stream of an intact PDB, byte for byte."""
    import pdbparse

    from api_to_etw.binary.pdb import read_msf

    path = synth_pdb()
    ours = read_msf(path, lambda pdb: [(s.size, s.data) for s in pdb.streams])
    theirs = pdbparse.parse(path, fast_load=True)
    try:
        assert ours == [(s.size, s.data[:s.size]) for s in theirs.streams]
    finally:
        theirs.fp.close()
