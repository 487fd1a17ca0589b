"""``api-to-etw scan PATH... --db FILE``: analyse a corpus of binaries in parallel into a store."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Optional

from ..errors import ExitCode, UsageError
from .common import PROG, add_symbol_options, add_verbosity, summary, symbol_path

#: Failures listed one per line after the summary, at most (the store has them all).
SHOWN_FAILURES = 20
#: Most worker processes and concurrent downloads asked for: past these a typo (``-j 10000000000``) was an
#: internal error from the pool, or one lock file per slot in the symbol cache.
MAX_JOBS = 1024
MAX_DOWNLOADS = 256


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan", help="analyse many binaries (files, folders, globs, fetch lists) in parallel into a store",
        description="Analyse every binary given (files; folders recursively, PE files recognised by content; "
                    "globs; TSV files of NAME, TimeDateStamp, SizeOfImage to fetch from the symbol path) and "
                    "store their rows in an SQLite store. Binaries already stored by this version are skipped, "
                    "so an interrupted scan resumes.")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--db", required=True, metavar="FILE", help="the store (created if missing)")
    p.add_argument("-j", "--jobs", type=int, metavar="N",
                   help=f"worker processes (default: the number of cores, {os.cpu_count() or 1})")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask distributed cluster, e.g. tcp://10.0.0.5:8786 (pip install "
                        "'api-to-etw[cluster]'; workers need the binaries and the symbol cache at the same paths)")
    p.add_argument("--force", action="store_true", help="analyse again binaries already in the store")
    p.add_argument("--retry-failed", action="store_true",
                   help="analyse again the binaries whose analysis failed (e.g. symbols were unreachable)")
    p.add_argument("--export", metavar="DIR", help="also write one TSV per binary of this scan into DIR")
    p.add_argument("--no-pdb", action="store_true", help="ignore PDBs and use exports only")
    p.add_argument("--max-depth", type=int, default=5, metavar="N", help="longest call path reported (default 5)")
    p.add_argument("--all-sites", action="store_true", help="also list every write site from its own function")
    p.add_argument("--manifests", metavar="PATH", action="append", default=[],
                   help="manifests and MOF tables naming the events (as for analyze); repeatable")
    p.add_argument("--downloads", type=int, default=2, metavar="N",
                   help="symbol downloads at a time on one machine, all workers together (default 2)")
    add_symbol_options(p)
    add_verbosity(p)
    p.set_defaults(run=run)


class ScanProgress:
    """Binaries done, rows, failures and rate on stderr (a rich bar on a terminal, nothing otherwise)."""

    def __init__(self, enabled: bool):
        self._bar: Any = None
        self._task: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("scan"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rows]} rows, {task.fields[failed]} failed, "
                                            "{task.fields[rate]}/min"),
                                 TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self._bar.start()

    def __call__(self, done: int, total: int, rows: int, failed: int) -> None:
        if self._bar is None:
            return
        if self._task is None:
            self._task = self._bar.add_task("scan", total=total, rows=0, failed=0, rate="-")
        elapsed = self._bar.tasks[0].elapsed or 0.0
        rate = f"{done / elapsed * 60:.1f}" if elapsed > 0 and done else "-"
        self._bar.update(self._task, completed=done, total=total, rows=rows, failed=failed, rate=rate)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def run(args: argparse.Namespace) -> int:
    from ..store.db import Store
    from ..store.scan import collect, export, make_executor, scan
    from ..store.task import ScanOptions

    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.jobs is not None and args.jobs > MAX_JOBS:
        raise UsageError(f"--jobs must be at most {MAX_JOBS}")
    if not 0 <= args.downloads <= MAX_DOWNLOADS:
        raise UsageError(f"--downloads must be from 0 (no bound) to {MAX_DOWNLOADS}")
    if args.jobs is not None and args.scheduler:
        raise UsageError("--jobs and --scheduler exclude each other (the cluster has its own workers)")
    if args.max_depth < 1:
        raise UsageError("--max-depth must be at least 1")
    options = ScanOptions(symbol_path=symbol_path(args), offline=args.offline, use_pdb=not args.no_pdb,
                          max_depth=args.max_depth, all_sites=args.all_sites,
                          manifests=tuple(os.path.abspath(m) for m in args.manifests),
                          download_slots=args.downloads)
    tasks = collect(args.paths, options)
    executor = make_executor(args.jobs, args.scheduler)
    progress: Optional[ScanProgress] = None
    try:
        with Store.open(args.db) as store:
            progress = ScanProgress(enabled=not args.quiet and sys.stderr.isatty())
            try:
                report = scan(store, tasks, executor, force=args.force, progress=progress,
                              retry_failed=args.retry_failed)
            finally:
                progress.stop()
            exported = export(store, tasks, args.export) if args.export else 0
    finally:
        executor.close()
    summary(args, report.summary() + (f"; {exported} TSV files in {args.export}" if args.export else ""))
    if not args.quiet:
        for record in report.failed[:SHOWN_FAILURES]:
            print(f"{PROG}:   failed {record.path or record.name}: {record.exit_code}: {record.error}",
                  file=sys.stderr)
        if len(report.failed) > SHOWN_FAILURES:
            print(f"{PROG}:   ... and {len(report.failed) - SHOWN_FAILURES} more (query the store's binaries "
                  "table: --sql \"SELECT name, exit_code, error FROM binaries WHERE status = 'failed'\")",
                  file=sys.stderr)
    return ExitCode.OK
