"""``api-to-etw analyze BINARY``: every ETW write reachable from each entry point, as a table."""

from __future__ import annotations

import argparse
import logging
import os
import time

from ..collector import keep_to_exit
from ..engine import ENGINES
from ..errors import ExitCode, UsageError
from .common import (
    PROG,
    TABLE_EXTENSIONS,
    Progress,
    add_symbol_options,
    add_verbosity,
    names_file,
    output_format,
    summary,
    symbol_path,
    transfer_limits,
)

log = logging.getLogger("api_to_etw")


def register(sub: argparse._SubParsersAction) -> None:
    an = sub.add_parser("analyze", help="find ETW writes reachable from each API and write a table",
                        description="Find every ETW write reachable from each syscall and exported API.")
    an.add_argument("binary", nargs="?", help="x64 PE image, e.g. ntoskrnl.exe (omit with --facts)")
    an.add_argument("--pdb", help="PDB to use (default: the CodeView name or <binary>.pdb beside the binary)")
    an.add_argument("--no-pdb", action="store_true", help="ignore any PDB and use exports only")
    an.add_argument("--force-pdb", action="store_true", help="use --pdb even if its GUID/age do not match")
    add_symbol_options(an)
    an.add_argument("-o", "--output", help="output file, '-' for stdout (default: output/<binary>.<format>)")
    an.add_argument("--format", choices=("tsv", "csv", "jsonl"), help="output format (default: from -o, else tsv)")
    an.add_argument("--max-depth", type=int, default=5, metavar="N",
                    help="longest call path searched from the APIs and entry points, in functions, API and "
                         "containing function included (default 5); an event site nothing reaches within it is "
                         "reported with its nearest entry point beyond it")
    an.add_argument("--roots", metavar="FILE", help="file of API names to start from (default: Nt* and exports)")
    an.add_argument("--ignore", metavar="FILE", help="file of function names never to walk through")
    an.add_argument("--all-sites", action="store_true",
                    help="also list every ETW write site from its own function, reached by an API or not")
    an.add_argument("--manifests", metavar="PATH", action="append", default=[],
                    help="instrumentation manifests (XML/TSV), the kernel MOF table, or a provider's resource DLL, "
                         "file or folder; repeatable")
    an.add_argument("--unreferenced", action="store_true",
                    help="also list the events the binary's own manifest (WEVT_TEMPLATE) defines but no code writes,"
                         " with Entry 'unreferenced'")
    an.add_argument("--engine", default="native", choices=ENGINES,
                    help="analysis backend: native (default, runs anywhere), ghidra (pyghidra + GHIDRA_INSTALL_DIR) "
                         "or ghidra-decompiler (Ghidra's decompiler through flatline, Python >= 3.13)")
    an.add_argument("--graph", metavar="FILE",
                    help="also write the call graph the walk searched (caller -> callee, from the write sites up "
                         "to the entry points) as GraphML, for networkx, Gephi or yEd")
    an.add_argument("--save-facts", metavar="FILE", help="also save the engine's facts as JSON for replay")
    an.add_argument("--facts", metavar="FILE", help="replay saved facts instead of reading a binary")
    add_verbosity(an)
    group = an.add_argument_group("Ghidra engine (--engine ghidra; needs GHIDRA_INSTALL_DIR and pyghidra)")
    group.add_argument("--ghidra-project", metavar="DIR",
                       help="reuse this analysed Ghidra project (its folder or .gpr file) instead of importing "
                            "BINARY into a temporary one")
    group.add_argument("--ghidra-program", metavar="NAME",
                       help="the program in --ghidra-project: NAME or /folder/NAME (default: BINARY's file name)")
    an.add_argument("--decompiler-python", metavar="PATH",
                    help="Python >= 3.13 with flatline that runs --engine ghidra-decompiler's worker "
                         "(default: this interpreter if it has flatline, else $API_TO_ETW_DECOMPILER_PYTHON, "
                         "python3.13 on PATH, pyenv)")
    an.set_defaults(run=run)


def _check(args: argparse.Namespace) -> None:
    if args.max_depth < 1:
        raise UsageError("--max-depth must be at least 1")
    project = args.ghidra_project
    if args.facts and (args.binary or project):
        raise UsageError("--facts replays saved facts: give no BINARY or --ghidra-project with it")
    if not (args.facts or args.binary or project):
        raise UsageError("give a BINARY, --facts FILE or (with --engine ghidra) --ghidra-project DIR")
    if args.decompiler_python and args.engine != "ghidra-decompiler":
        raise UsageError("--decompiler-python needs --engine ghidra-decompiler")
    if (project or args.ghidra_program) and args.engine != "ghidra":
        raise UsageError("--ghidra-project and --ghidra-program need --engine ghidra")
    if args.graph == "-" and args.output == "-":
        raise UsageError("--graph - and -o - would share stdout: give one of them a file")
    if args.save_facts and args.facts:
        raise UsageError("--save-facts needs a BINARY (or a Ghidra program), not --facts")


def run(args: argparse.Namespace) -> int:
    from ..analysis.pipeline import AnalysisOptions, analyze
    from ..engine import EngineSource, open_engine
    from ..engine.base import Engine
    from ..render.tables import refuse_non_regular, render, write_output

    _check(args)
    fmt = output_format(args.format, args.output, TABLE_EXTENSIONS, "tsv")
    started = time.perf_counter()
    options = AnalysisOptions(
        max_depth=args.max_depth,
        roots=names_file(args.roots) if args.roots else None,
        ignore=names_file(args.ignore) if args.ignore else set(),
        all_sites=args.all_sites,
        unreferenced=args.unreferenced,
    )
    if args.manifests:
        from .manifest import load_manifests

        options.names = load_manifests(args.manifests)
        log.info("%s", options.names.summary())
    engine: Engine
    recorder = None
    if args.facts:
        from ..engine.frozen import FrozenEngine

        engine = FrozenEngine(args.facts)
        label = os.path.basename(args.facts)
        label = label[: -len(".facts.json")] if label.endswith(".facts.json") else os.path.splitext(label)[0]
    else:
        with Progress.for_args(args) as download:
            source = EngineSource(binary=args.binary, pdb=args.pdb, use_pdb=not args.no_pdb, force_pdb=args.force_pdb,
                                  symbol_path=symbol_path(args), offline=args.offline, symbol_limits=transfer_limits(args),
                                  progress=download.download,
                                  options={"project": args.ghidra_project, "program": args.ghidra_program,
                                           "decompiler_python": args.decompiler_python})
            engine = open_engine(args.engine, source)
        label = getattr(engine, "label", None) or os.path.basename(args.binary)
        if args.save_facts:
            from ..engine.recorder import RecordingEngine

            engine = recorder = RecordingEngine(engine)
    output = args.output or os.path.join("output", f"{label}.{fmt}")
    try:
        for target in (output, args.save_facts, args.graph):
            if target and target != "-":
                refuse_non_regular(target)  # before the analysis, not after minutes of it
        with Progress.for_args(args) as progress:
            result = analyze(engine, options, progress)
        write_output(render(result.rows, fmt), output)
        if args.graph:
            from ..render.callgraph import callgraph_graphml

            write_output(callgraph_graphml(result), args.graph)
            log.info("call graph of the %d functions the walk reached written to %s", len(result.walked_callers),
                     args.graph)
        if recorder is not None:
            with Progress.for_args(args) as progress:
                recorder.complete(progress)
            recorder.save(args.save_facts)
            log.info("facts saved to %s", args.save_facts)
    finally:
        engine.close()
    stats = result.stats
    apis = len({r.function for r in result.rows})
    where = "stdout" if output == "-" else output
    summary(args, f"{len(result.rows)} rows ({apis} APIs and entry points, {stats.write_sites} write sites, "
                  f"{stats.unresolved_rows} unresolved, {stats.unreached_rows} unreached) -> {where} in "
                  f"{time.perf_counter() - started:.1f}s")
    log.info("%d functions, %d call sites, %d roots, %d wrappers", stats.functions, stats.call_sites, stats.roots,
             stats.wrappers)
    keep_to_exit(result, engine)  # the rows, the facts and the engine's tables: freed by the process's end, if it says so
    return ExitCode.OK


__all__ = ["PROG", "register", "run"]
