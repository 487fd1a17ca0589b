"""Command line: ``api-to-etw analyze BINARY``.

Results go to a file (or stdout with ``-o -``); progress, warnings and the summary go to stderr, so
stdout stays clean for pipes. Every expected failure is one line on stderr and a named exit code.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Optional

from . import __version__
from .engine import ENGINES
from .errors import ApiToEtwError, ExitCode, InputNotFoundError, UsageError

log = logging.getLogger("api_to_etw")
PROG = "api-to-etw"


def _names_file(path: str) -> set[str]:
    """Function names, one per line; blank lines and ``#`` comments are skipped."""
    try:
        with open(path, encoding="utf-8") as handle:
            return {line.split("#", 1)[0].strip() for line in handle if line.split("#", 1)[0].strip()}
    except OSError as exc:
        raise InputNotFoundError(f"{path}: cannot read ({exc.strerror})") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Map Windows APIs and syscalls to the ETW events they can emit, from the binary and its PDB.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    an = sub.add_parser("analyze", help="find ETW writes reachable from each API and write a table",
                        description="Find every ETW write reachable from each syscall and exported API.")
    an.add_argument("binary", nargs="?", help="x64 PE image, e.g. ntoskrnl.exe (omit with --facts)")
    an.add_argument("--pdb", help="PDB to use (default: the CodeView name or <binary>.pdb beside the binary)")
    an.add_argument("--no-pdb", action="store_true", help="ignore any PDB and use exports only")
    an.add_argument("--force-pdb", action="store_true", help="use --pdb even if its GUID/age do not match")
    _symbol_options(an)
    an.add_argument("-o", "--output", help="output file, '-' for stdout (default: output/<binary>.<format>)")
    an.add_argument("--format", choices=("tsv", "csv", "jsonl"), help="output format (default: from -o, else tsv)")
    an.add_argument("--max-depth", type=int, default=5, metavar="N",
                    help="longest call path reported, in functions, API and containing function included (default 5)")
    an.add_argument("--roots", metavar="FILE", help="file of API names to start from (default: Nt* and exports)")
    an.add_argument("--ignore", metavar="FILE", help="file of function names never to walk through")
    an.add_argument("--all-sites", action="store_true",
                    help="also list every ETW write site from its own function, reached by an API or not")
    an.add_argument("--manifests", metavar="PATH", action="append", default=[],
                    help="instrumentation manifests (XML/TSV) and the kernel MOF table, file or folder; repeatable")
    an.add_argument("--engine", default="native", choices=ENGINES,
                    help="analysis backend: native (default, runs anywhere) or ghidra (pyghidra + GHIDRA_INSTALL_DIR)")
    an.add_argument("--save-facts", metavar="FILE", help="also save the engine's facts as JSON for replay")
    an.add_argument("--facts", metavar="FILE", help="replay saved facts instead of reading a binary")
    _verbosity(an)
    from .engine.ghidra import add_ghidra_arguments

    add_ghidra_arguments(an)

    sy = sub.add_parser("symbols", help="locate or download the PDB matching a binary and print its path",
                        description="Find the PDB matching BINARY (beside it, in symbol stores, on symbol servers).")
    sy.add_argument("binary")
    sy.add_argument("--pdb", help="a PDB to check against the binary")
    _symbol_options(sy)
    _verbosity(sy)

    fb = sub.add_parser("fetch-binary", help="download a binary from a symbol server by its index",
                        description="Fetch NAME indexed by its TimeDateStamp and SizeOfImage (hex), e.g. "
                                    "ntoskrnl.exe 5F8A1B2C 1047000.")
    fb.add_argument("name")
    fb.add_argument("timestamp", help="TimeDateStamp, hex")
    fb.add_argument("size_of_image", help="SizeOfImage, hex")
    _symbol_options(fb)
    _verbosity(fb)

    from .diff import add_diff_parser
    from .engine.ghidra.parity import add_parity_parser
    from .tlgcmd import add_tracelogging_parser

    add_diff_parser(sub)
    add_parity_parser(sub)
    add_tracelogging_parser(sub)
    return parser


def _symbol_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbol-path", metavar="PATH",
                        help="';'-separated symbol path, e.g. 'srv*~/.cache/sym*https://msdl.microsoft.com/download/symbols'"
                             " (default: _NT_SYMBOL_PATH)")
    parser.add_argument("--offline", action="store_true", help="never download symbols or binaries")


def _verbosity(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    group.add_argument("-v", "--verbose", action="count", default=0, help="more detail on stderr (-vv: debug)")


def _setup_logging(quiet: bool, verbose: int) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
    root = logging.getLogger("api_to_etw")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class _Progress:
    """A rich progress bar on stderr, only when stderr is a terminal and not quiet."""

    def __init__(self, enabled: bool):
        self._bar = None
        self._tasks: dict[str, int] = {}
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description:<8}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                                 TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self._bar.start()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self._bar is None:
            return
        task = self._tasks.get(phase)
        if task is None:
            task = self._tasks[phase] = self._bar.add_task(phase, total=total)
        self._bar.update(task, completed=done, total=total)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def cmd_analyze(args: argparse.Namespace) -> int:
    from .analysis.pipeline import AnalysisOptions, analyze
    from .binary.loader import open_binary
    from .engine.base import Engine
    from .engine.frozen import FrozenEngine, save_facts
    from .engine.native.engine import NativeEngine
    from .render.tables import render, write_output

    if args.max_depth < 1:
        raise UsageError("--max-depth must be at least 1")
    fmt = args.format
    if fmt is None:
        ext = os.path.splitext(args.output or "")[1].lower().lstrip(".")
        fmt = ext if ext in ("tsv", "csv", "jsonl") else "tsv"
    project = getattr(args, "ghidra_project", None)
    if args.facts and (args.binary or project):
        raise UsageError("--facts replays saved facts: give no BINARY or --ghidra-project with it")
    if not (args.facts or args.binary or project):
        raise UsageError("give a BINARY, --facts FILE or (with --engine ghidra) --ghidra-project DIR")
    if (project or getattr(args, "ghidra_program", None)) and args.engine != "ghidra":
        raise UsageError("--ghidra-project and --ghidra-program need --engine ghidra")
    started = time.perf_counter()
    engine: Engine
    loaded = None
    if args.facts:
        engine = FrozenEngine(args.facts)
        label = os.path.basename(args.facts)
        label = label[: -len(".facts.json")] if label.endswith(".facts.json") else os.path.splitext(label)[0]
    elif args.binary:
        download = _Progress(enabled=not args.quiet and sys.stderr.isatty())
        try:
            loaded = open_binary(args.binary, args.pdb, use_pdb=not args.no_pdb, force_pdb=args.force_pdb,
                                 symbol_path=_symbol_path(args), offline=args.offline,
                                 progress=lambda done, total: download("download", done, total or 0))
        finally:
            download.stop()
        if loaded.pdb is None:
            log.warning("%s: %s", os.path.basename(args.binary), loaded.pdb_note)
        else:
            log.info("%s", loaded.pdb_note)
        engine = NativeEngine(loaded.image, loaded.pdb, record_memory=bool(args.save_facts))
        label = os.path.basename(args.binary)
    if args.engine == "ghidra" and not args.facts:
        from .engine.ghidra import engine_from_args

        engine = engine_from_args(args, loaded, record_memory=bool(args.save_facts))
        label = engine.label
    output = args.output or os.path.join("output", f"{label}.{fmt}")
    options = AnalysisOptions(
        max_depth=args.max_depth,
        roots=_names_file(args.roots) if args.roots else None,
        ignore=_names_file(args.ignore) if args.ignore else set(),
        all_sites=args.all_sites,
    )
    index = None
    if args.manifests:
        from .etw.manifest import ManifestIndex

        index = ManifestIndex().load(args.manifests)
        log.info("%s", index.summary())
    if args.save_facts and isinstance(engine, FrozenEngine):
        raise UsageError("--save-facts needs a BINARY (or a Ghidra program), not --facts")
    progress = _Progress(enabled=not args.quiet and sys.stderr.isatty())
    try:
        try:
            result = analyze(engine, options, progress)
        finally:
            progress.stop()
        if index is not None:
            from .analysis.naming import name_rows

            named = name_rows(result.rows, index)
            log.info("%d of %d rows named from manifests", named, len(result.rows))
        write_output(render(result.rows, fmt), output)
        if args.save_facts:
            save_facts(result.facts, engine.name, args.save_facts)
            log.info("facts saved to %s", args.save_facts)
    finally:
        engine.close()
    elapsed = time.perf_counter() - started
    stats = result.stats
    apis = len({r.function for r in result.rows})
    if not args.quiet:
        where = "stdout" if output == "-" else output
        print(f"{PROG}: {len(result.rows)} rows ({apis} APIs, {stats.write_sites} write sites, "
              f"{stats.unresolved_rows} unresolved) -> {where} in {elapsed:.1f}s", file=sys.stderr)
    log.info("%d functions, %d call sites, %d roots, %d wrappers", stats.functions, stats.call_sites, stats.roots,
             stats.wrappers)
    return ExitCode.OK


def _symbol_path(args: argparse.Namespace) -> str:
    from .binary.symbols import resolve_symbol_path

    return resolve_symbol_path(args.symbol_path)


def cmd_symbols(args: argparse.Namespace) -> int:
    from .binary.pe import load_pe
    from .binary.symbols import locate_pdb, require_pdb

    image = load_pe(args.binary)
    bar = _Progress(enabled=not args.quiet and sys.stderr.isatty())
    try:
        result = locate_pdb(image.codeview, image.path, args.pdb, _symbol_path(args), offline=args.offline,
                            progress=lambda done, total: bar("download", done, total or 0),
                            pe_sections=[(s.name, s.rva, s.virtual_size) for s in image.sections])
    finally:
        bar.stop()
    for place in result.tried:
        log.info("tried %s", place)
    print(require_pdb(result))
    return ExitCode.OK


def cmd_fetch_binary(args: argparse.Namespace) -> int:
    from .binary.symbols import fetch_binary, parse_hex

    bar = _Progress(enabled=not args.quiet and sys.stderr.isatty())
    try:
        path = fetch_binary(args.name, parse_hex(args.timestamp, "TIMESTAMP"), parse_hex(args.size_of_image, "SIZEOFIMAGE"),
                            _symbol_path(args), offline=args.offline,
                            progress=lambda done, total: bar("download", done, total or 0))
    finally:
        bar.stop()
    print(path)
    return ExitCode.OK


def cmd_tracelogging(args: argparse.Namespace) -> int:
    from .tlgcmd import cmd_tracelogging as run_tracelogging

    return run_tracelogging(args)


def cmd_parity(args: argparse.Namespace) -> int:
    from .engine.ghidra.parity import cmd_parity as run_parity

    return run_parity(args)


def cmd_diff(args: argparse.Namespace) -> int:
    from .diff import cmd_diff as run_diff

    return run_diff(args)


COMMANDS = {"analyze": cmd_analyze, "diff": cmd_diff, "symbols": cmd_symbols, "fetch-binary": cmd_fetch_binary,
            "parity": cmd_parity, "tracelogging": cmd_tracelogging}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help/--version exit 0
        return int(exc.code or 0)
    if not args.command:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    _setup_logging(args.quiet, args.verbose)
    try:
        return int(COMMANDS[args.command](args))
    except ApiToEtwError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return int(ExitCode.OK)
    except MemoryError:
        print(f"{PROG}: error: out of memory", file=sys.stderr)
        return int(ExitCode.ERROR)
    except Exception as exc:  # a bug: one line, the traceback only when asked for
        if args.verbose >= 2:
            raise
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc} (run with -vv for the traceback)",
              file=sys.stderr)
        return int(ExitCode.ERROR)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
