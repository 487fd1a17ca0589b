"""``scan`` over a corpus: the committed fixtures, real binaries, a corrupt copy and a text file.

The uninterrupted local-pool scan is the reference: a scan killed with SIGKILL midway and resumed, and
a scan on a real Dask cluster (scheduler and two workers on 127.0.0.1), must give the same store.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, SAMPLES, run_cli

from api_to_etw.store.db import Store

#: Real binaries of real-binaries.tsv in the corpus (a row with a PDB brings it along).
REAL = ("vcamp140.dll", "OpenConsole.exe", "_etwtrace.cp311-win_amd64.pyd", "dokan2.sys")
FIXTURES = ("synthkernel/O2/synthkernel.exe", "synthkernel/O2/synthkernel.pdb", "tlg/tlg.dll",
            "usermode/telemetry.dll", "usermode/telemetry.pdb", "wpp/wppkernel.exe", "wpp/wppkernel.pdb",
            "wpp/wppuser.dll", "wpp/wppuser.pdb")
BINARIES = [f for f in FIXTURES if not f.endswith(".pdb")]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, real_binary) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    for rel in FIXTURES:
        target = root / "fixtures" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(os.path.join(SAMPLES, rel), target)
    (root / "real").mkdir()
    for name in REAL:
        try:
            path = Path(real_binary(name))
        except pytest.skip.Exception:
            continue  # not fetchable here: a smaller corpus, still compared like with like
        shutil.copyfile(path, root / "real" / name)
        if path.with_suffix(".pdb").is_file():
            shutil.copyfile(path.with_suffix(".pdb"), root / "real" / (path.stem + ".pdb"))
    (root / "broken").mkdir()
    exe = (root / "fixtures" / FIXTURES[0]).read_bytes()
    (root / "broken" / "corrupt.exe").write_bytes(exe[:3000])  # headers intact, .text cut off
    (root / "broken" / "notes.txt").write_text("not a binary\n")
    return root


def corpus_binaries(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.rglob("*") if p.suffix in (".exe", ".dll", ".sys", ".pyd"))


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory) -> Path:
    """The corpus scanned in one go with the local pool (two workers)."""
    db = tmp_path_factory.mktemp("reference") / "corpus.db"
    result = run_cli("scan", corpus, "--db", db, "-j", "2", "--offline")
    assert result.code == 0, result.stderr
    return db


def snapshot(db: Path) -> list:
    with Store.open(str(db), readonly=True) as store:
        return list(store.snapshot())


def binaries(db: Path) -> dict[str, dict]:
    with Store.open(str(db), readonly=True) as store:
        return {str(b["name"]): b for b in store.binaries()}


def tsv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))


# ------------------------------------------------------------------------------------------- the scan itself
def test_every_binary_is_stored_and_the_corrupt_one_is_recorded(corpus, reference):
    stored = binaries(reference)
    expected = {p.name for p in corpus_binaries(corpus)}
    assert set(stored) == expected  # notes.txt is no PE: not picked from the folder
    bad = stored["corrupt.exe"]
    assert bad["status"] == "failed" and bad["exit_code"] == "CORRUPT_FILE"
    assert "truncated" in bad["error"] and bad["machine"] == "AMD64" and bad["row_count"] == 0
    for name, b in stored.items():
        if name != "corrupt.exe":
            assert b["status"] == "ok", (name, b["error"])
            assert b["row_count"] > 0 or name in REAL, name  # a real DLL may have no row reached from an API
            assert b["sha256"] and b["tool_version"] and b["time_date_stamp"] is not None


def test_rows_are_what_analyze_writes(corpus, reference):
    """Each binary's stored rows are exactly the analyze command's TSV rows for it, in order."""
    with Store.open(str(reference), readonly=True) as store:
        for path in corpus_binaries(corpus):
            if path.name == "corrupt.exe":
                continue
            (binary,) = store.binaries("WHERE name = ?", (path.name,))
            result = run_cli("analyze", path, "-o", "-", "-q", "--offline")
            assert result.code == 0, result.stderr
            assert store.rows_of(int(binary["id"])) == tsv_rows(result.stdout), path.name


def test_binary_fields(corpus, reference):
    from api_to_etw.binary.pe import load_pe

    stored = binaries(reference)
    for rel in BINARIES:
        image = load_pe(str(corpus / "fixtures" / rel))
        b = stored[os.path.basename(rel)]
        assert (b["time_date_stamp"], b["size_of_image"]) == (image.timestamp, image.size_of_image)
        cv = image.codeview
        assert (b["pdb_guid"], b["pdb_age"]) == ((str(cv.guid), cv.age) if cv else (None, None))
        assert b["pdb_used"] == (corpus / "fixtures" / rel).with_suffix(".pdb").exists()


def test_rerun_skips_and_force_redoes(corpus, reference, tmp_path):
    db = tmp_path / "copy.db"
    with sqlite3.connect(reference) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    again = run_cli("scan", corpus / "fixtures", "--db", db, "-j", "1", "--offline")
    assert again.code == 0
    assert f"0 binaries analysed (0 failed), {len(BINARIES)} already in the store" in again.stderr
    forced = run_cli("scan", corpus / "fixtures" / "tlg", "--db", db, "-j", "1", "--force", "--offline")
    assert forced.code == 0 and "1 binaries analysed (0 failed), 0 already" in forced.stderr
    assert snapshot(db) == snapshot(reference)


def test_export_writes_one_tsv_per_binary(corpus, reference, tmp_path):
    out = tmp_path / "tsv"
    result = run_cli("scan", corpus / "fixtures", "--db", reference, "--export", out, "--offline")
    assert result.code == 0, result.stderr
    files = sorted(out.iterdir())
    assert len(files) == len(BINARIES)
    tlg = next(f for f in files if f.name.startswith("tlg.dll."))
    expected = run_cli("analyze", corpus / "fixtures" / "tlg" / "tlg.dll", "-o", "-", "-q")
    assert tsv_rows(tlg.read_text()) == tsv_rows(expected.stdout)


# ------------------------------------------------------------------------------------------- kill -9 and resume
def test_killed_scan_resumes_to_the_same_store(corpus, reference, tmp_path):
    db = tmp_path / "killed.db"
    total = len(corpus_binaries(corpus))
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen([sys.executable, "-m", "api_to_etw", "scan", str(corpus), "--db", str(db), "-j", "1",
                             "--offline", "-q"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stored = 0
    running = False
    deadline = time.monotonic() + 300
    # The count is read holding the store's write lock, and the scan is killed before the lock is let go: the
    # scan cannot commit a record between the count and the kill, however fast its analyses are (a plain
    # read and a kill after it lost that race whenever four small binaries were stored within one poll).
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
            if not os.path.exists(db):
                continue
            try:
                con = sqlite3.connect(db, timeout=60, isolation_level=None)
            except sqlite3.Error:
                continue
            try:
                con.execute("BEGIN IMMEDIATE")
                stored = con.execute("SELECT count(*) FROM binaries").fetchone()[0]
                if stored >= 2:
                    running = proc.poll() is None
                    os.killpg(proc.pid, signal.SIGKILL)  # the coordinator and its pool, as kill -9 of a job
                    proc.wait()
                    break
            except sqlite3.Error:
                continue  # being created
            finally:
                con.close()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert running and 2 <= stored < total, f"scan was not caught midway ({stored} of {total} stored)"
    resumed = run_cli("scan", corpus, "--db", db, "-j", "2", "--offline")
    assert resumed.code == 0, resumed.stderr
    assert f"{total - stored} binaries analysed" in resumed.stderr
    assert f"{stored} already in the store" in resumed.stderr
    assert snapshot(db) == snapshot(reference)


# ------------------------------------------------------------------------------------------- a Dask cluster
@pytest.fixture
def dask_cluster(tmp_path):
    pytest.importorskip("distributed", reason="dask distributed not installed (pip install 'api-to-etw[cluster]')")
    address_file = tmp_path / "scheduler.json"
    env = dict(os.environ, PYTHONPATH=REPO)
    common = ["--no-dashboard"]
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--scheduler-file", str(address_file)] + common,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert address_file.exists(), "the Dask scheduler did not start"
        for _ in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(address_file),
                 "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1", "--memory-limit", "0"] + common,
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        import json

        from distributed import Client

        address = json.loads(address_file.read_text())["address"]
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_dask_cluster_gives_the_local_pool_store(corpus, reference, dask_cluster, tmp_path):
    db = tmp_path / "cluster.db"
    result = run_cli("scan", corpus, "--db", db, "--scheduler", dask_cluster, "--offline", "-v")
    assert result.code == 0, result.stderr
    assert "2 workers" in result.stderr
    workers = {line.rsplit("(", 1)[-1].rstrip(")") for line in result.stderr.splitlines() if " rows in " in line}
    assert len(workers) == 2, f"both cluster workers took binaries: {workers}"
    assert snapshot(db) == snapshot(reference)


def test_unreachable_scheduler_is_a_usage_error():
    pytest.importorskip("distributed", reason="dask distributed not installed")
    from api_to_etw.errors import UsageError
    from api_to_etw.store.scan import DaskCluster

    with pytest.raises(UsageError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        DaskCluster("tcp://127.0.0.1:9", timeout=2)
