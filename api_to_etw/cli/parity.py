"""``api-to-etw parity A B``: two engines' facts compared per call site and per row."""

from __future__ import annotations

import argparse
import os

from ..errors import ExitCode, UsageError
from .common import add_verbosity, summary


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "parity", help="compare two facts files (e.g. native vs Ghidra) per call site and per row",
        description="Compare two facts files (analyze --save-facts, or the Ghidra script): call-site "
                    "arguments slot by slot, then the rows the analysis makes of each.")
    p.add_argument("a", metavar="A", help="facts file, e.g. from --engine native --save-facts")
    p.add_argument("b", metavar="B", help="facts file, e.g. from --engine ghidra --save-facts")
    p.add_argument("--max-depth", type=int, default=5, metavar="N",
                   help="--max-depth of the row comparison (at most the depth the facts were saved with; default 5)")
    p.add_argument("--etw-only", action="store_true",
                   help="compare only calls to ETW APIs, and only the arguments the analysis reads")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--sites-only", action="store_true", help="compare call sites only")
    what.add_argument("--rows-only", action="store_true", help="compare rows only")
    p.add_argument("--limit", type=int, default=0, metavar="N",
                   help="list at most N differences per section (default 0: all)")
    p.add_argument("-o", "--output", default="-", help="report file, '-' for stdout (default)")
    add_verbosity(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Exit 12 (``DIFF_FOUND``) when the compared facts differ, else 0."""
    from ..engine.ghidra.parity import render_report, run_parity
    from ..render.tables import write_output

    if args.max_depth < 1:
        raise UsageError("--max-depth must be at least 1")
    if args.limit < 0:
        raise UsageError("--limit must be 0 or more")
    report = run_parity(args.a, args.b, sites=not args.rows_only, rows=not args.sites_only,
                        etw_only=args.etw_only, max_depth=args.max_depth)
    write_output(render_report(report, args.limit), args.output)
    if args.output != "-":
        verdict = "differ" if report.differs() else "agree"
        summary(args, f"{os.path.basename(args.a)} and {os.path.basename(args.b)} {verdict} -> {args.output}")
    return int(ExitCode.DIFF_FOUND if report.differs() else ExitCode.OK)
