"""Bad input ends in one line on stderr and a named exit code: never a traceback, never a hang."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys

import pytest
from conftest import REPO, SAMPLES, run_cli, synth_exe, synth_pdb

from api_to_etw.errors import ExitCode


def assert_one_line_error(result, code: ExitCode) -> None:
    assert result.code == code, (result.code, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("api-to-etw: error: ")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def copy_exe(tmp_path, level="O2", with_pdb=True):
    exe = tmp_path / "synthkernel.exe"
    shutil.copy(synth_exe(level), exe)
    if with_pdb:
        shutil.copy(synth_pdb(level), tmp_path / "synthkernel.pdb")
    return exe


def test_missing_file(tmp_path):
    assert_one_line_error(run_cli("analyze", tmp_path / "nope.exe", "-o", "-"), ExitCode.FILE_NOT_FOUND)


def test_directory_instead_of_file(tmp_path):
    assert_one_line_error(run_cli("analyze", tmp_path, "-o", "-"), ExitCode.FILE_NOT_FOUND)


@pytest.mark.parametrize("content", [b"", b"hello world\n" * 10, b"MZ" + b"\0" * 100, b"\x7fELF" + b"\0" * 200])
def test_not_a_pe(tmp_path, content):
    path = tmp_path / "junk.exe"
    path.write_bytes(content)
    assert_one_line_error(run_cli("analyze", path, "-o", "-"), ExitCode.NOT_A_PE)


@pytest.mark.parametrize("keep", [0x40, 0x200, 0x400])
def test_truncated_headers(tmp_path, keep):
    data = open(synth_exe(), "rb").read()
    path = tmp_path / "cut.exe"
    path.write_bytes(data[:keep])
    result = run_cli("analyze", path, "-o", "-", "--no-pdb")
    assert result.code in (ExitCode.NOT_A_PE, ExitCode.CORRUPT_FILE), result.stderr
    assert_one_line_error(result, ExitCode(result.code))


def test_truncated_code(tmp_path):
    data = open(synth_exe(), "rb").read()
    path = tmp_path / "cut.exe"
    path.write_bytes(data[: len(data) // 3])
    result = run_cli("analyze", path, "-o", "-", "--no-pdb")
    assert_one_line_error(result, ExitCode.CORRUPT_FILE)
    assert "truncated" in result.stderr


@pytest.mark.parametrize("name,arch", [("tiny_x86.dll", "x86"), ("tiny_arm64.dll", "ARM64")])
def test_wrong_architecture(name, arch):
    result = run_cli("analyze", os.path.join(SAMPLES, "badinput", name), "-o", "-")
    assert_one_line_error(result, ExitCode.UNSUPPORTED_ARCH)
    assert arch in result.stderr


def test_pdb_mismatch_is_an_error(tmp_path):
    exe = copy_exe(tmp_path, "O1", with_pdb=False)
    result = run_cli("analyze", exe, "--pdb", synth_pdb("O2"), "-o", "-")
    assert_one_line_error(result, ExitCode.PDB_MISMATCH)
    assert "--force-pdb" in result.stderr


def test_pdb_mismatch_forced(tmp_path):
    exe = copy_exe(tmp_path, "O1", with_pdb=False)
    result = run_cli("analyze", exe, "--pdb", synth_pdb("O2"), "--force-pdb", "-o", "-")
    assert result.code == ExitCode.OK
    assert "does not match" in result.stderr


def test_mismatched_pdb_beside_the_binary(tmp_path):
    exe = copy_exe(tmp_path, "O1", with_pdb=False)
    shutil.copy(synth_pdb("Os"), tmp_path / "synthkernel.pdb")
    assert_one_line_error(run_cli("analyze", exe, "-o", "-"), ExitCode.PDB_MISMATCH)


@pytest.mark.parametrize("content", [b"", b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0" + b"\xff" * 64, os.urandom(8192)])
def test_corrupt_pdb(tmp_path, content):
    exe = copy_exe(tmp_path, with_pdb=False)
    pdb = tmp_path / "bad.pdb"
    pdb.write_bytes(content)
    assert_one_line_error(run_cli("analyze", exe, "--pdb", pdb, "-o", "-"), ExitCode.CORRUPT_PDB)


def test_truncated_pdb(tmp_path):
    exe = copy_exe(tmp_path, with_pdb=False)
    data = open(synth_pdb(), "rb").read()
    for keep in (0x20, 0x1000, len(data) // 2):
        pdb = tmp_path / f"cut{keep}.pdb"
        pdb.write_bytes(data[:keep])
        assert_one_line_error(run_cli("analyze", exe, "--pdb", pdb, "-o", "-"), ExitCode.CORRUPT_PDB)


def test_pdb_with_lying_stream_size(tmp_path):
    """The MSF directory claims a stream far larger than its pages: refused, not read past the end."""
    exe = copy_exe(tmp_path, with_pdb=False)
    data = bytearray(open(synth_pdb(), "rb").read())
    block_size, _fpm, _blocks, dir_size, _unknown, dir_map = struct.unpack_from("<IIIIII", data, 32)
    dir_block = struct.unpack_from("<I", data, dir_map * block_size)[0]
    dir_offset = dir_block * block_size
    # Directory: stream count, then sizes. Stream 3 (DBI) gets an absurd size.
    struct.pack_into("<I", data, dir_offset + 4 + 4 * 3, 0x7FFFFFF0)
    pdb = tmp_path / "lying.pdb"
    pdb.write_bytes(bytes(data))
    assert_one_line_error(run_cli("analyze", exe, "--pdb", pdb, "-o", "-"), ExitCode.CORRUPT_PDB)


def test_missing_pdb_warns_and_uses_exports(tmp_path):
    exe = copy_exe(tmp_path, with_pdb=False)
    result = run_cli("analyze", exe, "-o", "-")
    assert result.code == ExitCode.OK
    assert "no PDB found" in result.stderr
    assert result.stdout.startswith("Function\tProviderGuid\t")


def test_unwritable_output(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("analyze", synth_exe(), "-o", blocker / "out.tsv")
    assert_one_line_error(result, ExitCode.OUTPUT_ERROR)


def test_bad_max_depth():
    assert_one_line_error(run_cli("analyze", synth_exe(), "--max-depth", "0", "-o", "-"), ExitCode.USAGE)


def test_process_level_error_has_no_traceback(tmp_path):
    """The installed entry point, as a separate process: exit code and a single stderr line."""
    path = tmp_path / "junk.exe"
    path.write_bytes(b"not a binary")
    proc = subprocess.run([sys.executable, "-m", "api_to_etw", "analyze", str(path)], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert proc.returncode == ExitCode.NOT_A_PE
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
