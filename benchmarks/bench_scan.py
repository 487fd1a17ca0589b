"""Scan throughput and memory: binaries per minute and peak RSS per worker for ``--jobs 1`` and ``--jobs 2``
on the same corpus, as a ratio measured in one run, and the store's size per million rows.

The corpus is the committed fixtures plus the real binaries of real-binaries.tsv that the test cache
holds (tests/real/catalog.py fetches them; missing ones are left out and listed). Each job count
scans the whole corpus into a fresh store; the per-worker peak is each worker process's own
``ru_maxrss`` as it reports it with every binary. The store size is measured on a store holding the
scanned rows many times over (each copy as its own binary, like builds of one corpus): its growth past
the empty store, per row, scaled to a million rows.

    python benchmarks/bench_scan.py [--jobs 1,2] [--json FILE]

On a shared machine the ratio is what matters; absolute rates move with the other load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WORK = os.path.join(HERE, "scratch", "scan")
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests", "real"))

FIXTURES = ("synthkernel/O1/synthkernel.exe", "synthkernel/O2/synthkernel.exe", "synthkernel/Os/synthkernel.exe",
            "tlg/tlg.dll", "usermode/telemetry.dll", "wpp/wppkernel.exe", "wpp/wppuser.dll")
REAL = ("vcamp140.dll", "concrt140.dll", "OpenConsole.exe", "_etwtrace.cp311-win_amd64.pyd", "dokan2.sys",
        "ViGEmBus.sys", "WinPixEventRuntime.dll", "msodbcdiag18.dll", "attach_amd64.dll",
        "Microsoft.WindowsAppRuntime.Bootstrap.dll")


def build_corpus(folder: str) -> tuple[int, list[str]]:
    """Copy the fixtures (with their PDBs) and the cached real binaries into ``folder``."""
    from catalog import real_binary
    from fetch import FetchError

    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    count, missing = 0, []
    for rel in FIXTURES:
        target = os.path.join(folder, rel.replace("/", "_"))
        shutil.copyfile(os.path.join(REPO, "samples", rel), target)
        pdb = os.path.join(REPO, "samples", rel[:-4] + ".pdb")
        if os.path.exists(pdb):
            shutil.copyfile(pdb, target[:-4] + ".pdb")
        count += 1
    for name in REAL:
        try:
            path = str(real_binary(name))
        except FetchError as exc:
            missing.append(f"{name} ({exc})")
            continue
        shutil.copyfile(path, os.path.join(folder, name))
        pdb = os.path.splitext(path)[0] + ".pdb"
        if os.path.exists(pdb):
            shutil.copyfile(pdb, os.path.join(folder, os.path.basename(pdb)))
        count += 1
    return count, missing


def measure(corpus: str, jobs: int) -> dict[str, object]:
    from api_to_etw.store.db import Store
    from api_to_etw.store.scan import LocalPool, collect, scan
    from api_to_etw.store.task import ScanOptions

    db = os.path.join(WORK, f"jobs{jobs}.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    tasks = collect([corpus], ScanOptions(offline=True))
    with Store.open(db) as store:
        started = time.perf_counter()
        report = scan(store, tasks, LocalPool(jobs))
        seconds = time.perf_counter() - started
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = store.counts()["rows"]
    peaks: dict[str, int] = {}
    for record in report.records:
        peaks[record.worker] = max(peaks.get(record.worker, 0), record.peak_rss_kb)
    return {
        "jobs": jobs,
        "binaries": len(report.records),
        "failed": len(report.failed),
        "rows": rows,
        "seconds": round(seconds, 2),
        "binaries_per_minute": round(len(report.records) / seconds * 60, 1),
        "worker_peak_rss_mib": sorted(round(kb / 1024, 1) for kb in peaks.values()),
        "store_bytes": os.path.getsize(db),
        "db": db,
    }


def store_size(db: str, copies: int) -> dict[str, object]:
    """Bytes per row of a store holding the measured rows ``copies`` times over (each copy stored as its own
    binary, as builds of one corpus are), past the empty store's fixed size; scaled to a million rows."""
    from api_to_etw.store.db import BinaryRecord, Store

    path = os.path.join(WORK, "size.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    with Store.open(db, readonly=True) as source, Store.open(path) as store:
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        empty = os.path.getsize(path)
        binaries = [(b, source.rows_of(int(b["id"]))) for b in source.binaries()]  # type: ignore[call-overload]
        for copy in range(copies):
            for binary, stored in binaries:
                store.add(BinaryRecord(name=str(binary["name"]), path=str(binary["path"]),
                                       sha256=f"{binary['sha256']}-{copy}", rows=stored, row_count=len(stored),
                                       file_version=f"10.0.{copy}.0"))
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        total = store.counts()["rows"]
    size = os.path.getsize(path)
    per_row = (size - empty) / max(total, 1)
    return {"rows": total, "bytes": size, "empty_store_bytes": empty, "bytes_per_row": round(per_row, 1),
            "mib_per_million_rows": round(per_row * 1e6 / 2**20, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", default="1,2", help="job counts to compare (default 1,2)")
    ap.add_argument("--copies", type=int, default=40, help="copies of the measured rows for the size (default 40)")
    ap.add_argument("--json", help="also write the results as JSON")
    args = ap.parse_args()
    corpus = os.path.join(WORK, "corpus")
    os.makedirs(WORK, exist_ok=True)
    count, missing = build_corpus(corpus)
    print(f"corpus: {count} binaries" + (f"; not available: {', '.join(missing)}" if missing else ""))
    results = [measure(corpus, int(j)) for j in args.jobs.split(",")]
    for r in results:
        print(f"--jobs {r['jobs']}: {r['binaries']} binaries ({r['failed']} failed), {r['rows']} rows in "
              f"{r['seconds']}s = {r['binaries_per_minute']} binaries/min; peak RSS per worker "
              f"{r['worker_peak_rss_mib']} MiB; store {r['store_bytes']} bytes")
    size = store_size(str(results[0]["db"]), args.copies)
    print(f"store size: {size['rows']} rows (the measured rows x{args.copies}) in {size['bytes']} bytes, "
          f"{size['bytes_per_row']} bytes per row past the empty store's {size['empty_store_bytes']} = "
          f"{size['mib_per_million_rows']} MiB per million rows")
    if len(results) >= 2:
        ratio = float(results[-1]["binaries_per_minute"]) / float(results[0]["binaries_per_minute"])  # type: ignore[arg-type]
        memory = max(results[-1]["worker_peak_rss_mib"]) / max(results[0]["worker_peak_rss_mib"])  # type: ignore[call-overload]
        print(f"throughput --jobs {results[-1]['jobs']} / --jobs {results[0]['jobs']}: {ratio:.2f}x, "
              f"peak RSS per worker {memory:.2f}x (os.cpu_count() = {os.cpu_count()}, "
              f"load average {os.getloadavg()[0]:.1f})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"corpus": count, "missing": missing, "results": results, "store_size": size}, handle,
                      indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
