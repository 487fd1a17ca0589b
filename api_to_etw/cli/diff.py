"""``api-to-etw diff OLD NEW``: rows added, removed and changed between two result tables."""

from __future__ import annotations

import argparse

from .common import add_output_options, add_verbosity, output_format, summary


def _kinds(value: str) -> list[str]:
    from ..diff import KINDS

    kinds = [k.strip().lower() for k in value.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise argparse.ArgumentTypeError(f"expected a comma list of {', '.join(KINDS)}, got {value!r}")
    return kinds


def register(sub: argparse._SubParsersAction) -> None:
    from ..diff import DIFF_FORMATS

    p = sub.add_parser(
        "diff", help="compare two result tables (TSV, CSV or JSON lines, ours or the published CSV)",
        description="Compare two api-to-etw result tables, in any of the formats, matching rows on "
                    "(Function, provider, event, ContainingFunction).")
    p.add_argument("old", metavar="OLD", help="the earlier table")
    p.add_argument("new", metavar="NEW", help="the later table")
    add_output_options(p, DIFF_FORMATS, "text", what="report file")
    p.add_argument("--fail-on", type=_kinds, action="append", default=[], metavar="KINDS",
                   help="exit 12 when a difference of these kinds exists: comma list of added, removed, "
                        "changed (repeatable; default: exit 0 whatever differs)")
    p.add_argument("--ignore-unnamed", action="store_true",
                   help="leave rows with an unnamed provider or event (???, PERF_0x...) out of added/removed")
    add_verbosity(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..diff import diff_files, exit_code
    from ..render.diff import render_diff
    from ..render.tables import write_output

    fmt = output_format(args.format, args.output, {"tsv": "tsv", "jsonl": "jsonl", "json": "jsonl"}, "text")
    fail_on = {kind for group in (args.fail_on or []) for kind in group}
    result = diff_files(args.old, args.new, ignore_unnamed=args.ignore_unnamed)
    write_output(render_diff(result, fmt), args.output)
    if not (fmt == "text" and args.output == "-"):
        summary(args, result.summary())
    return exit_code(result, fail_on)
