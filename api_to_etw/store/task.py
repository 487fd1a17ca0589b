"""One binary of a scan, analysed in a worker: fetch it if asked, analyse it as ``analyze`` does, return rows.

Workers never touch the store: ``run_task`` returns a ``BinaryRecord`` (picklable, so a process pool or
a Dask cluster carries it back) and the coordinator writes it. Every expected failure becomes a
record with the error's one-line message and exit-code name; a bug in one binary's analysis is
recorded the same way, so a corpus scan never stops on one file. Symbol downloads take one of a few
slots (lock files beside the symbol cache), so the workers of one machine never hammer the server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from ..errors import ApiToEtwError, ExitCode
from .db import FAILED, BinaryRecord, fetch_key

if TYPE_CHECKING:  # pragma: no cover
    from ..engine.base import Engine


@dataclass(frozen=True)
class ScanOptions:
    """What every binary of one scan is analysed with (the ``analyze`` options that apply)."""

    symbol_path: str = ""
    offline: bool = False
    use_pdb: bool = True
    max_depth: int = 5
    all_sites: bool = False
    manifests: tuple[str, ...] = ()
    #: Downloads at a time from the symbol path, per machine (0: unbounded).
    download_slots: int = 2
    engine: str = "native"

    def identity(self) -> str:
        """The options that change the rows, as stored with each binary: a scan with others redoes it."""
        import json

        return json.dumps({"engine": self.engine, "use_pdb": self.use_pdb, "max_depth": self.max_depth,
                           "all_sites": self.all_sites, "manifests": list(self.manifests)}, sort_keys=True)


@dataclass(frozen=True)
class ScanTask:
    """A local binary (``path``) or one to fetch by its index (``fetch``: name, TimeDateStamp, SizeOfImage)."""

    path: Optional[str] = None
    fetch: Optional[tuple[str, int, int]] = None
    sha256: Optional[str] = None
    options: ScanOptions = field(default_factory=ScanOptions)

    @property
    def label(self) -> str:
        if self.fetch is not None:
            return fetch_key(*self.fetch)
        return os.path.basename(self.path or "?")


class _Collect(logging.Handler):
    """Keeps the warnings a worker's analysis logs, to hand them to the coordinator."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def download_slot(symbol_path: str, slots: int) -> Iterator[None]:
    """Hold one of ``slots`` lock files in the symbol cache while downloading (POSIX; elsewhere unbounded)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no flock, downloads are not bounded
        yield
        return
    if slots <= 0:
        yield
        return
    from ..binary.symsrv import default_cache_dir, parse_symbol_path

    caches = [e.cache for e in parse_symbol_path(symbol_path) if e.cache]
    folder = os.path.join(caches[0] if caches else default_cache_dir(), ".api-to-etw-slots")
    os.makedirs(folder, exist_ok=True)
    handles = [open(os.path.join(folder, f"download-{i}.lock"), "a+b") for i in range(slots)]  # noqa: SIM115
    try:
        held = None
        while held is None:
            for handle in handles:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue
                held = handle
                break
            else:
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
    finally:
        for handle in handles:
            handle.close()


def _needs_server(symbol_path: str) -> bool:
    from ..binary.symsrv import HTTP, parse_symbol_path

    return any(e.kind == HTTP for e in parse_symbol_path(symbol_path))


def _open(path: str, options: ScanOptions) -> Engine:
    """The engine for ``path``: the local symbols first, the symbol server only when they are missing
    (and then inside a download slot)."""
    from ..engine import EngineSource, open_engine

    online = options.use_pdb and not options.offline and _needs_server(options.symbol_path)
    source = EngineSource(binary=path, use_pdb=options.use_pdb, symbol_path=options.symbol_path,
                          offline=options.offline or online)
    engine = open_engine(options.engine, source)
    if online and getattr(engine, "pdb", "") is None:
        engine.close()
        with download_slot(options.symbol_path, options.download_slots):
            source.offline = False
            engine = open_engine(options.engine, source)
    return engine


def _describe(record: BinaryRecord, path: str) -> None:
    """Header fields, straight from the bytes: known even when the analysis fails."""
    from ..binary.identity import HEAD_BYTES, pe_header, sha256_file

    record.sha256 = record.sha256 or sha256_file(path)
    with open(path, "rb") as handle:
        header = pe_header(handle.read(HEAD_BYTES))
    if header is not None:
        record.machine = header.machine
        record.time_date_stamp = header.time_date_stamp
        record.size_of_image = header.size_of_image


def run_task(task: ScanTask) -> BinaryRecord:
    """Analyse one binary of a scan; never raises for a bad binary (the record says what went wrong)."""
    started = time.perf_counter()
    collect = _Collect()
    root = logging.getLogger("api_to_etw")
    root.addHandler(collect)
    name = task.fetch[0] if task.fetch else os.path.basename(task.path or "")
    record = BinaryRecord(name=name, path=task.path or "", sha256=task.sha256, options=task.options.identity(),
                          fetched_as=fetch_key(*task.fetch) if task.fetch else None)
    try:
        _analyse(task, record)
    except ApiToEtwError as exc:
        _failed(record, str(exc), exc.exit_code)
    except MemoryError:
        _failed(record, "out of memory", ExitCode.ERROR)
    except Exception as exc:  # a bug on this binary: recorded, the scan goes on
        _failed(record, f"internal error: {type(exc).__name__}: {exc}", ExitCode.ERROR)
    finally:
        root.removeHandler(collect)
    record.seconds = round(time.perf_counter() - started, 3)
    record.warnings = collect.messages
    record.peak_rss_kb = _peak_rss_kb()
    record.worker = f"{platform.node()}:{os.getpid()}"
    return record


def _analyse(task: ScanTask, record: BinaryRecord) -> None:
    from ..analysis.pipeline import AnalysisOptions, analyze
    from ..render.rows import row_columns

    options = task.options
    path = task.path
    if task.fetch is not None:
        from ..binary.symsrv import fetch_binary

        with download_slot(options.symbol_path, options.download_slots):
            path = fetch_binary(*task.fetch, options.symbol_path, offline=options.offline)
        record.path = path
    assert path is not None
    _describe(record, path)
    analysis = AnalysisOptions(max_depth=options.max_depth, all_sites=options.all_sites)
    if options.manifests:
        from ..etw.manifest import ManifestIndex

        analysis.names = ManifestIndex().load(list(options.manifests))
    engine = _open(path, options)
    try:
        image = getattr(engine, "image", None)
        if image is not None:
            from ..binary.version import file_version

            record.file_version = file_version(image)
            codeview = image.codeview
            if codeview is not None:
                record.pdb_guid, record.pdb_age = str(codeview.guid), codeview.age
        record.pdb_used = getattr(engine, "pdb", None) is not None
        result = analyze(engine, analysis)
    finally:
        engine.close()
    record.rows = [row_columns(row) for row in result.rows]
    record.row_count = len(record.rows)


def _failed(record: BinaryRecord, message: str, code: ExitCode) -> None:
    record.status = FAILED
    record.error = message
    record.exit_code = ExitCode(code).name
    record.rows = []
    record.row_count = 0


def _peak_rss_kb() -> int:
    """This worker process's peak resident memory so far (0 where the platform has no getrusage)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak // 1024 if sys.platform == "darwin" else peak)  # bytes on macOS, KiB on Linux
