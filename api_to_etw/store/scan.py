"""A corpus scan: collect the binaries, skip those already stored, analyse the rest in parallel, store them.

The coordinator (this module) is the only writer of the store. Work goes to an executor that maps
``task.run_task`` over the tasks and yields records as they complete: a local process pool
(``--jobs``) or a Dask distributed cluster (``--scheduler``); the tasks, the worker function and the
storing are the same for both. Each record is committed as it arrives, so an interrupted scan keeps
every finished binary and the next run resumes with the others.
"""

from __future__ import annotations

import concurrent.futures
import glob
import logging
import multiprocessing
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol

from ..errors import ExitCode, InputNotFoundError, MissingDependencyError, UsageError
from .db import FAILED, BinaryRecord, Store, fetch_key
from .task import ScanOptions, ScanTask, run_task

log = logging.getLogger("api_to_etw.store")

_GLOB_CHARS = set("*?[")
#: Attempts per binary when its worker process dies (crash, OOM kill) before the binary is recorded.
WORKER_ATTEMPTS = 2
#: What every worker's ``run_task`` imports, loaded by the fork server before it forks them.
WORKER_PRELOAD = ("api_to_etw.store.task", "api_to_etw.analysis.pipeline", "api_to_etw.engine.native.engine",
                  "api_to_etw.binary.loader", "api_to_etw.binary.version", "api_to_etw.render.rows", "pefile")


# ---------------------------------------------------------------------------------------------- inputs
def parse_fetch_list(path: str) -> list[tuple[str, int, int]]:
    """(name, TimeDateStamp, SizeOfImage) per line of a TSV; hex numbers, ``#`` comments, an optional header."""
    from ..binary.symsrv import parse_hex

    out: list[tuple[str, int, int]] = []
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputNotFoundError(f"{path}: cannot read the fetch list ({exc})") from None
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        cells = [c.strip() for c in text.split("\t")]
        if len(cells) < 3:
            raise UsageError(f"{path}: line {number}: expected NAME<TAB>TimeDateStamp<TAB>SizeOfImage")
        if not out and cells[1].lower() in ("timedatestamp", "timestamp"):
            continue  # header line
        out.append((cells[0], parse_hex(cells[1], f"line {number} TimeDateStamp"),
                    parse_hex(cells[2], f"line {number} SizeOfImage")))
    return out


def _walk(folder: str) -> Iterator[str]:
    from ..binary.identity import is_pe_file

    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.isfile(path) and is_pe_file(path):
                yield path


def collect(paths: Sequence[str], options: ScanOptions) -> list[ScanTask]:
    """The tasks for PATH arguments: files, folders (PE files by content, recursively), globs, fetch lists."""
    from ..binary.identity import is_pe_file

    tasks: list[ScanTask] = []
    seen: set[str] = set()

    def add_file(path: str) -> None:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            tasks.append(ScanTask(path=path, options=options))

    for arg in paths:
        if os.path.isdir(arg):
            for path in _walk(arg):
                add_file(path)
        elif os.path.isfile(arg):
            if not is_pe_file(arg) and arg.lower().endswith((".tsv", ".txt")):
                for name, stamp, size in parse_fetch_list(arg):
                    key = fetch_key(name, stamp, size)
                    if key not in seen:
                        seen.add(key)
                        tasks.append(ScanTask(fetch=(name, stamp, size), options=options))
            else:
                add_file(arg)  # a file named explicitly is analysed (and recorded) even if it is no PE
        elif _GLOB_CHARS & set(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                raise InputNotFoundError(f"{arg}: no file matches")
            for path in matches:
                if os.path.isdir(path):
                    for found in _walk(path):
                        add_file(found)
                elif is_pe_file(path):
                    add_file(path)
        else:
            raise InputNotFoundError(f"{arg}: no such file or folder")
    return tasks


# ---------------------------------------------------------------------------------------------- executors
class Executor(Protocol):
    """Runs ``run_task`` over tasks, yielding (task, record) as each completes."""

    workers: int

    def run(self, tasks: Sequence[ScanTask]) -> Iterator[tuple[ScanTask, BinaryRecord]]: ...

    def close(self) -> None: ...


class LocalPool:
    """A local process pool; a worker that dies is replaced and its binaries retried, then recorded."""

    def __init__(self, jobs: int):
        self.workers = max(1, jobs)
        methods = multiprocessing.get_all_start_methods()
        # forkserver: workers start small and clean (no copy of the coordinator, no inherited threads).
        self._context = multiprocessing.get_context("forkserver" if "forkserver" in methods else None)
        if "forkserver" in methods:
            # The analysis modules are imported once, by the fork server, before it forks the workers: each
            # worker would spend about 0.3 s importing them before its first binary.
            self._context.set_forkserver_preload(list(WORKER_PRELOAD))

    def run(self, tasks: Sequence[ScanTask]) -> Iterator[tuple[ScanTask, BinaryRecord]]:
        attempts: dict[int, int] = {}
        pending = list(enumerate(tasks))
        while pending:
            pool = concurrent.futures.ProcessPoolExecutor(max_workers=self.workers, mp_context=self._context)
            broken: list[tuple[int, ScanTask]] = []
            try:
                futures = {pool.submit(run_task, task): (index, task) for index, task in pending}
                for future in concurrent.futures.as_completed(futures):
                    index, task = futures[future]
                    try:
                        yield task, future.result()
                    except BrokenProcessPool:
                        attempts[index] = attempts.get(index, 0) + 1
                        if attempts[index] >= WORKER_ATTEMPTS:
                            yield task, _died(task)
                        else:
                            broken.append((index, task))
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
            pending = broken

    def close(self) -> None:
        """Nothing to release: each ``run`` shuts its pool down."""


class DaskCluster:
    """Tasks on a Dask distributed cluster (``pip install 'api-to-etw[cluster]'``)."""

    def __init__(self, address: str, timeout: float = 30.0):
        try:
            from distributed import Client
        except ImportError:
            raise MissingDependencyError("--scheduler needs Dask distributed: pip install 'api-to-etw[cluster]'") from None
        try:
            self._client = Client(address, timeout=timeout, set_as_default=False)
        except OSError as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {address} ({exc})") from None
        self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))

    def run(self, tasks: Sequence[ScanTask]) -> Iterator[tuple[ScanTask, BinaryRecord]]:
        from distributed import as_completed

        if not tasks:
            return
        with self._client.as_current():
            futures = self._client.map(run_task, list(tasks), pure=False)
            by_key = {f.key: task for f, task in zip(futures, tasks)}
            for future in as_completed(futures):
                task = by_key[future.key]
                try:
                    record = future.result()
                except Exception as exc:  # the worker was lost, or the task could not be run there
                    record = _died(task, f"{type(exc).__name__}: {exc}")
                yield task, record

    def close(self) -> None:
        self._client.close()


def _died(task: ScanTask, why: str = "the worker process died") -> BinaryRecord:
    name = task.fetch[0] if task.fetch else os.path.basename(task.path or "")
    return BinaryRecord(name=name, path=task.path or "", sha256=task.sha256, status=FAILED,
                        options=task.options.identity(),
                        error=f"{why} while analysing it", exit_code=ExitCode.ERROR.name,
                        fetched_as=fetch_key(*task.fetch) if task.fetch else None)


def make_executor(jobs: Optional[int], scheduler: Optional[str]) -> Executor:
    if scheduler:
        return DaskCluster(scheduler)
    return LocalPool(jobs or os.cpu_count() or 1)


# ---------------------------------------------------------------------------------------------- the scan
@dataclass
class ScanReport:
    """What one scan did; records keep their measurements but not their rows."""

    total: int = 0
    skipped: int = 0
    records: list[BinaryRecord] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 1

    @property
    def failed(self) -> list[BinaryRecord]:
        return [r for r in self.records if r.status == FAILED]

    @property
    def rows(self) -> int:
        return sum(r.row_count for r in self.records)

    def summary(self) -> str:
        done = len(self.records)
        rate = done / self.seconds * 60 if self.seconds > 0 else 0.0
        return (f"{done} binaries analysed ({len(self.failed)} failed), {self.skipped} already in the store, "
                f"{self.rows} rows, {self.seconds:.1f}s ({rate:.1f} binaries/min, {self.workers} workers)")


Progress = Callable[[int, int, int, int], None]  # done, total, rows, failures


def pending_tasks(store: Store, tasks: Iterable[ScanTask], force: bool,
                  retry_failed: bool = False) -> tuple[list[ScanTask], int]:
    """Tasks whose bytes (sha256) or fetch index the store has not seen with this tool version
    (or saw fail, with ``retry_failed``)."""
    from ..binary.identity import sha256_file

    tasks = list(tasks)
    options = tasks[0].options.identity() if tasks else ""  # one scan, one set of options
    hashes = store.done_hashes(options, failed=not retry_failed)
    fetched = store.done_fetches(options, failed=not retry_failed)
    todo, skipped = [], 0
    for task in tasks:
        if task.path is not None:
            try:
                digest = sha256_file(task.path)
            except OSError:
                digest = None  # recorded by the worker, which gets the same error
            task = ScanTask(path=task.path, sha256=digest, options=task.options)
            if digest in hashes and not force:
                skipped += 1
                continue
            if digest:
                hashes.add(digest)  # the same bytes twice in one scan: analysed once
        elif task.fetch is not None and fetch_key(*task.fetch) in fetched and not force:
            skipped += 1
            continue
        todo.append(task)
    return todo, skipped


def scan(store: Store, tasks: Sequence[ScanTask], executor: Executor, force: bool = False,
         progress: Optional[Progress] = None, retry_failed: bool = False) -> ScanReport:
    started = time.perf_counter()
    todo, skipped = pending_tasks(store, tasks, force, retry_failed)
    report = ScanReport(total=len(tasks), skipped=skipped, workers=executor.workers)
    rows = failures = 0
    if progress:
        progress(0, len(todo), 0, 0)
    for _task, record in executor.run(todo):
        store.add(record)
        rows += record.row_count
        failures += record.status == FAILED
        _log_record(record)
        record.rows = []  # stored; keep only the measurements
        report.records.append(record)
        if progress:
            progress(len(report.records), len(todo), rows, failures)
    report.seconds = time.perf_counter() - started
    return report


def _log_record(record: BinaryRecord) -> None:
    if record.status == FAILED:
        log.info("%s: failed (%s): %s", record.name, record.exit_code, record.error)
    else:
        log.info("%s: %d rows in %.1fs (%s)", record.name, record.row_count, record.seconds, record.worker)
    for warning in record.warnings:
        log.debug("%s: %s", record.name, warning)


def export(store: Store, tasks: Sequence[ScanTask], folder: str) -> int:
    """One TSV per binary of this scan that the store holds rows for; returns how many were written."""
    from ..render.tables import render_table, write_output
    from .db import OK

    written = 0
    for task in tasks:
        if task.path is not None:
            from ..binary.identity import sha256_file

            try:
                found = store.binaries("WHERE sha256 = ? AND status = ?", (sha256_file(task.path), OK))
            except OSError:
                continue
        elif task.fetch is not None:
            found = store.binaries("WHERE fetched_as = ? AND status = ?", (fetch_key(*task.fetch), OK))
        else:
            continue
        for binary in found:
            name = f"{binary['name']}.{str(binary['sha256'])[:12]}.tsv"
            rows = store.rows_of(int(binary["id"]))
            write_output(render_table(rows, store.columns, "tsv"), os.path.join(folder, name))
            written += 1
    return written


__all__ = ["DaskCluster", "LocalPool", "ScanReport", "collect", "export", "make_executor", "parse_fetch_list",
           "pending_tasks", "scan"]
