"""The local pool: a worker process killed mid-binary is replaced and its binaries retried once, then
recorded as failed; a scan with other analysis options redoes binaries instead of skipping them."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from conftest import SAMPLES, run_cli, synth_exe

from api_to_etw.store.db import Store
from api_to_etw.store.scan import LocalPool, collect, scan
from api_to_etw.store.task import ScanOptions

BINARIES = [synth_exe("O1"), synth_exe("O2"), os.path.join(SAMPLES, "tlg", "tlg.dll")]


def _kill_workers(times: int, stop: threading.Event) -> list[int]:
    """Kill the pool's worker processes (grandchildren through the forkserver) ``times`` times."""
    import psutil

    killed: list[int] = []

    def run() -> None:
        me = psutil.Process()
        while len(killed) < times and not stop.is_set():
            for child in me.children(recursive=True):
                if child.pid in killed or child.ppid() == me.pid:  # the forkserver itself is our child
                    continue
                time.sleep(0.3)  # let it take a binary
                try:
                    os.kill(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                killed.append(child.pid)
                break
            time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return killed


@pytest.mark.parametrize("kills, failed", [(1, 0), (2, 1)])
def test_killed_worker_is_replaced(tmp_path, real_binary, kills, failed):
    pytest.importorskip("psutil", reason="psutil finds the pool's worker processes")
    # A binary whose analysis takes seconds, so the kill 0.3 s after a worker starts lands mid-analysis
    # whatever the machine's load: a fixture kernel can finish first on an idle machine, and OpenConsole.exe
    # (0.3 s in a warm worker since the analysis got faster) let the replacement worker finish before its kill.
    slow = str(real_binary("node.exe"))
    tasks = collect([slow], ScanOptions())
    stop = threading.Event()
    with Store.open(str(tmp_path / "s.db")) as store:
        killed = _kill_workers(kills, stop)
        try:
            report = scan(store, tasks, LocalPool(1))
        finally:
            stop.set()
        assert len(killed) == kills
        assert len(report.records) == 1 and len(report.failed) == failed
        (stored,) = store.binaries()
    if failed:
        assert stored["status"] == "failed" and stored["exit_code"] == "ERROR"
        assert "the worker process died" in stored["error"]
    else:
        expected = run_cli("analyze", slow, "-o", "-", "-q").stdout.count("\n") - 1
        assert stored["status"] == "ok" and stored["row_count"] == expected


def test_other_options_redo_the_binaries(tmp_path):
    db = tmp_path / "s.db"
    tlg = BINARIES[2]
    assert "1 binaries analysed" in run_cli("scan", tlg, "--db", db, "-j", "1").stderr
    assert "1 already in the store" in run_cli("scan", tlg, "--db", db, "-j", "1").stderr
    redo = run_cli("scan", tlg, "--db", db, "-j", "1", "--max-depth", "2")
    assert "1 binaries analysed (0 failed), 0 already" in redo.stderr
    with Store.open(str(db), readonly=True) as store:
        (binary,) = store.binaries()
        assert '"max_depth": 2' in str(binary["options"])
        assert all(int(r["CallDepth"]) <= 2 for r in store.rows_of(int(binary["id"])))


def test_progress_display_counts():
    from api_to_etw.cli.scan import ScanProgress

    progress = ScanProgress(enabled=True)
    try:
        progress(0, 3, 0, 0)
        progress(2, 3, 40, 1)
        (task,) = progress._bar.tasks
        assert (task.completed, task.total, task.fields["rows"], task.fields["failed"]) == (2, 3, 40, 1)
        assert task.fields["rate"] != "-"
    finally:
        progress.stop()
    ScanProgress(enabled=False)(1, 1, 1, 0)  # no terminal: nothing to draw, nothing to fail


def test_bad_jobs(tmp_path):
    result = run_cli("scan", BINARIES[2], "--db", tmp_path / "s.db", "-j", "0")
    assert result.code == 2 and "--jobs must be at least 1" in result.stderr
