"""The failures the audit of 2026-12-03 found from outside (docs/errors.md): each one reproduced here with real
files and a real child process, under the bounds a hostile user's run would have (a timeout, an address-space
limit, another process changing the input).
"""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import struct
import subprocess
import sys
import time

import pytest
from conftest import REPO, SAMPLES, synth_exe, synth_pdb

from api_to_etw.errors import ExitCode

SECONDS = 60


def api_to_etw(*args: str, limit_bytes: int = 0, cwd: str = REPO) -> subprocess.CompletedProcess:
    """``api-to-etw ARGS`` in a child process (killed after SECONDS), optionally under ``ulimit -v``."""

    def limit() -> None:
        if limit_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    return subprocess.run([sys.executable, "-m", "api_to_etw", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=SECONDS, preexec_fn=limit, env={**os.environ, "PYTHONPATH": REPO})


def one_line_error(proc: subprocess.CompletedProcess, code: ExitCode) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("api-to-etw: error: "), proc.stderr
    assert proc.stdout == ""
    return lines[0]


def one_section_exe(tmp_path) -> str:
    """The synthetic kernel with NumberOfSections = 1: its code then asks the emulator for 33 runs."""
    data = bytearray(open(synth_exe(), "rb").read())
    (e_lfanew,) = struct.unpack_from("<I", data, 0x3C)
    struct.pack_into("<H", data, e_lfanew + 6, 1)
    path = tmp_path / "synthkernel.exe"
    path.write_bytes(bytes(data))
    shutil.copy(synth_pdb(), tmp_path / "synthkernel.pdb")
    return str(path)


def test_emulator_runs_fit_an_address_space_limit(tmp_path):
    """Each emulator run kept its engine (1 GiB of reserved address space) to the end of the process: under a
    3 GiB ``ulimit -v`` the third run ended it with QEMU's "Could not allocate dynamic translator buffer" and
    exit 1 (two real DLLs of the corpus did the same)."""
    pytest.importorskip("unicorn")
    proc = api_to_etw("analyze", one_section_exe(tmp_path), "-q", "--offline", "-o", str(tmp_path / "out.tsv"),
                      limit_bytes=2 << 30)
    assert proc.returncode == ExitCode.OK, proc.stderr
    assert proc.stderr == ""
    assert (tmp_path / "out.tsv").read_text().startswith("Function\t")


def _mapped_or_opened(pid: int, path: str) -> bool:
    """Whether process ``pid`` has ``path`` open or mapped yet (what it does right after loading it)."""
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as maps:
            if path in maps.read():
                return True
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == path for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to see when the file is loaded")
def test_binary_truncated_during_the_run(tmp_path):
    """Another process truncates the binary while it is analysed: the mapped file faulted with SIGBUS ("Bus
    error", exit 135, no message). The analysis now reads a copy of the file as it was when opened."""
    exe = os.path.realpath(shutil.copy(synth_exe(), tmp_path / "synthkernel.exe"))
    shutil.copy(synth_pdb(), tmp_path / "synthkernel.pdb")
    out = tmp_path / "out.tsv"
    proc = subprocess.Popen([sys.executable, "-m", "api_to_etw", "analyze", exe, "-q", "--offline", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": REPO})
    deadline = time.monotonic() + SECONDS
    while proc.poll() is None and not _mapped_or_opened(proc.pid, exe) and time.monotonic() < deadline:
        time.sleep(0.0005)
    os.truncate(exe, 0x400)  # the headers stay: everything past them is gone
    stdout, stderr = proc.communicate(timeout=SECONDS)
    assert proc.returncode >= 0, f"killed by signal {-proc.returncode}: {stderr}"
    assert proc.returncode in (ExitCode.OK, ExitCode.CORRUPT_FILE), stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    if proc.returncode == ExitCode.OK:
        reference = api_to_etw("analyze", synth_exe(), "-q", "--offline", "-o", "-")
        assert out.read_text() == reference.stdout


@pytest.mark.parametrize("command", [["query", "--api", "x"], ["history", "x"]])
def test_store_that_is_a_fifo_is_refused_without_blocking(tmp_path, command):
    """SQLite's read-only open of a FIFO blocked until a writer came: ``query`` and ``history`` hung."""
    fifo = tmp_path / "store.sqlite"
    os.mkfifo(fifo)
    proc = api_to_etw(*command, "--db", str(fifo))
    assert "FIFO" in one_line_error(proc, ExitCode.FILE_NOT_FOUND)


@pytest.mark.parametrize("special", ["/dev/null", "DIR"])
def test_store_that_is_not_a_regular_file(tmp_path, special):
    """A device or a folder as the store was "disk I/O error"; now the same words as for any input or output."""
    path = str(tmp_path) if special == "DIR" else special
    one_line_error(api_to_etw("query", "--db", path), ExitCode.FILE_NOT_FOUND)
    proc = api_to_etw("scan", os.path.join(SAMPLES, "tlg", "tlg.dll"), "--db", path, "--offline", "-j", "1")
    assert "not a regular file" in one_line_error(proc, ExitCode.OUTPUT_ERROR)


def _store(tmp_path) -> str:
    db = str(tmp_path / "store.sqlite")
    proc = api_to_etw("scan", os.path.join(SAMPLES, "tlg", "tlg.dll"), "--db", db, "--offline", "-j", "1", "-q")
    assert proc.returncode == ExitCode.OK, proc.stderr
    return db


@pytest.mark.parametrize("sql", ["ATTACH '{target}' AS other", "VACUUM INTO '{target}'"])
def test_read_only_sql_writes_no_file(tmp_path, sql):
    """``query --sql`` runs on a read-only connection, yet ATTACH created its file and VACUUM INTO wrote a whole
    copy of the store wherever it was told."""
    db = _store(tmp_path)
    target = tmp_path / "written.db"
    proc = api_to_etw("query", "--db", db, "--sql", sql.format(target=target))
    assert "--sql" in one_line_error(proc, ExitCode.USAGE)
    assert not target.exists()
    assert sqlite3.connect(db).execute("SELECT count(*) FROM rows").fetchone()[0] > 0  # the store is intact


def test_read_only_sql_still_reads(tmp_path):
    proc = api_to_etw("query", "--db", _store(tmp_path), "--sql", "SELECT count(*) AS n FROM rows", "--format", "tsv")
    assert proc.returncode == ExitCode.OK, proc.stderr
    assert proc.stdout.splitlines()[0] == "n"


@pytest.mark.parametrize("option,value", [("-j", "10000000000000000000000"), ("-j", "100000"),
                                          ("--downloads", "100000000000"), ("--downloads", "-1")])
def test_scan_counts_out_of_range(tmp_path, option, value):
    """``-j 10**22`` was an internal error (OverflowError from the pool); ``--downloads 10**11`` would open one
    lock file per slot in the symbol cache."""
    proc = api_to_etw("scan", os.path.join(SAMPLES, "tlg", "tlg.dll"), "--db", str(tmp_path / "s.sqlite"),
                      "--offline", option, value)
    assert option.lstrip("-")[:4] in one_line_error(proc, ExitCode.USAGE)
    assert not (tmp_path / "s.sqlite").exists()


STDOUT_COMMANDS = [
    ["analyze", synth_exe(), "--offline", "-q", "-o", "-"],
    ["tracelogging", os.path.join(SAMPLES, "tlg", "tlg.dll"), "-o", "-"],
    ["manifest", os.path.join(SAMPLES, "wevt", "gadget.dll"), "-o", "-"],
    ["symbols", synth_exe(), "--offline"],
]


@pytest.mark.parametrize("command", STDOUT_COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("stdout", ["full", "closed"])
def test_stdout_full_or_closed(command, stdout):
    """``> /dev/full`` was an internal error (OSError: no space left on device) and ``>&-`` one too
    (AttributeError on a missing sys.stdout): both are now exit 11 with one line."""
    if stdout == "full" and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    target = open("/dev/full", "wb") if stdout == "full" else None  # noqa: SIM115 - closed below
    try:
        proc = subprocess.run([sys.executable, "-m", "api_to_etw", *command], cwd=REPO, timeout=SECONDS, text=True,
                              stdout=target if target else subprocess.DEVNULL, stderr=subprocess.PIPE,
                              preexec_fn=None if target else (lambda: os.close(1)),
                              env={**os.environ, "PYTHONPATH": REPO})
    finally:
        if target:
            target.close()
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == ExitCode.OUTPUT_ERROR, proc.stderr
    assert lines == [lines[0]] and lines[0].startswith("api-to-etw: error: cannot write stdout"), proc.stderr


@pytest.mark.parametrize("command", [["--help"], ["--version"], ["analyze", "--help"]], ids=" ".join)
def test_help_into_a_full_stdout(command):
    """argparse drops a failed write of its help and version texts: ``--help > /dev/full`` printed nothing and
    exited 0. It is the output error, as for every command's stdout."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "wb") as target:
        proc = subprocess.run([sys.executable, "-m", "api_to_etw", *command], cwd=REPO, timeout=SECONDS, text=True,
                              stdout=target, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": REPO})
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == ExitCode.OUTPUT_ERROR, proc.stderr
    assert lines == ["api-to-etw: error: cannot write stdout (No space left on device)"], proc.stderr


def test_help_to_a_reader_gone_ends_quietly():
    """A reader that went away before ``--help`` is written (``| head -c0``) ends the run as for every command's
    stdout: exit 0 and nothing on stderr (not the output error a full stdout is)."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run([sys.executable, "-m", "api_to_etw", "--help"], cwd=REPO, timeout=SECONDS, text=True,
                              stdout=write, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": REPO})
    finally:
        os.close(write)
    assert proc.returncode == ExitCode.OK, proc.stderr
    assert proc.stderr == ""


def test_report_of_a_fifo_is_refused_without_blocking(tmp_path):
    """``report`` sniffed its input for SQLite's header with a plain ``open``, which blocks on a FIFO: it hung."""
    fifo = tmp_path / "rows.tsv"
    os.mkfifo(fifo)
    proc = api_to_etw("report", str(fifo), "-o", str(tmp_path / "r.html"))
    assert "FIFO" in one_line_error(proc, ExitCode.FILE_NOT_FOUND)
    assert not (tmp_path / "r.html").exists()
