"""The console entry point ends the process without the interpreter's teardown (issue 15, fixed cost).

``cli.entry`` runs ``main``, then the atexit handlers, flushes stdout and stderr and calls ``os._exit``:
freeing every object one by one cost a small binary's run a fifth of its CPU. These tests hold it to
what a normal exit guarantees: the whole output reaches a pipe, the exit code is ``main``'s, atexit
handlers run, a reader that goes away is no error, and a live thread is joined (normal exit then).
"""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO, synth_exe

from api_to_etw.errors import ExitCode


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, cwd=REPO, timeout=300, **kwargs)


def test_stdout_reaches_the_pipe_whole(tmp_path):
    out = tmp_path / "out.tsv"
    to_file = _run("-m", "api_to_etw", "analyze", synth_exe(), "-o", str(out), "-q")
    to_pipe = _run("-m", "api_to_etw", "analyze", synth_exe(), "-o", "-", "-q")
    assert to_file.returncode == to_pipe.returncode == 0
    text = out.read_bytes()
    assert text.count(b"\n") > 10  # a real table, larger than nothing
    assert to_pipe.stdout == text


def test_exit_code_and_atexit_handlers(tmp_path):
    """An atexit handler registered before ``entry`` runs, and the error exit code is main's."""
    junk = tmp_path / "junk.exe"
    junk.write_bytes(b"not a binary")
    marker = tmp_path / "atexit-ran"
    code = ("import atexit, pathlib, sys\n"
            f"atexit.register(lambda: pathlib.Path({str(marker)!r}).write_text('yes'))\n"
            f"sys.argv = ['api-to-etw', 'analyze', {str(junk)!r}]\n"
            "from api_to_etw.cli import entry\n"
            "entry()\n")
    proc = _run("-c", code, text=True)
    assert proc.returncode == ExitCode.NOT_A_PE
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert marker.read_text() == "yes"


def test_a_reader_gone_is_no_error():
    """A reader that has closed the pipe before the table is written (``| head -c 0``): exit 0 and nothing
    on stderr (no "Exception ignored" from a flush at exit). The jsonl table is larger than a pipe holds."""
    proc = subprocess.Popen([sys.executable, "-m", "api_to_etw", "analyze", synth_exe(), "--all-sites", "--format",
                             "jsonl", "-o", "-", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == 0
    assert err == b""


def test_a_live_thread_is_joined(tmp_path):
    """A non-daemon thread still running when main returns is waited for, as the normal exit does."""
    marker = tmp_path / "thread-done"
    code = ("import pathlib, sys, threading, time\n"
            "def late():\n"
            "    time.sleep(0.5)\n"
            f"    pathlib.Path({str(marker)!r}).write_text('done')\n"
            "threading.Thread(target=late).start()\n"
            "sys.argv = ['api-to-etw', '--version']\n"
            "from api_to_etw.cli import entry\n"
            "entry()\n")
    proc = _run("-c", code, text=True)
    assert proc.returncode == 0
    assert marker.read_text() == "done"


def _collector_state_at_exit(tmp_path, *argv: str) -> str:
    code = ("import atexit, gc, sys\n"
            "atexit.register(lambda: print('collector', gc.isenabled(), file=sys.stderr))\n"
            f"sys.argv = ['api-to-etw', *{list(argv)!r}]\n"
            "from api_to_etw.cli import entry\n"
            "entry()\n")
    proc = _run("-c", code, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr.strip().splitlines()[-1]


def test_analyze_runs_without_the_cyclic_collector(tmp_path):
    """analyze: off for the whole process (it ends right after); other commands keep it."""
    out = tmp_path / "out.tsv"
    assert _collector_state_at_exit(tmp_path, "analyze", synth_exe(), "-o", str(out), "-q") == "collector False"
    assert out.read_text(encoding="utf-8").count("\n") > 10
    assert _collector_state_at_exit(tmp_path, "--version") == "collector True"


def test_analyze_keeps_its_state_to_the_end(tmp_path):
    """analyze through the entry point leaves the analysis's working state, its result and its engine to the
    process's end instead of freeing them one by one (``collector.keep_to_exit``); --version keeps nothing."""
    code = ("import atexit, sys\n"
            "from api_to_etw import collector\n"
            "atexit.register(lambda: print('kept', [type(o).__name__ for held in collector._kept or () for o in held],"
            " file=sys.stderr))\n"
            "sys.argv = ['api-to-etw', *sys.argv[1:]]\n"
            "from api_to_etw.cli import entry\n"
            "entry()\n")
    out = tmp_path / "out.tsv"
    proc = _run("-c", code, "analyze", synth_exe(), "-o", str(out), "-q", text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "kept ['Analysis', 'AnalysisResult', 'NativeEngine']"
    assert out.read_text(encoding="utf-8").count("\n") > 10
    proc = _run("-c", code, "--version", text=True)
    assert proc.stderr.strip().splitlines()[-1] == "kept []"
