"""``api-to-etw report INPUT -o report.html``: one self-contained HTML page to read results in a browser."""

from __future__ import annotations

import argparse
import os
import time

from ..errors import CorruptMetadataError, InputNotFoundError, UsageError
from .common import add_verbosity, summary

_SQLITE_MAGIC = b"SQLite format 3\x00"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write one self-contained HTML report (search, filters, call-path graphs) of a result table",
        description="Read an analyze output (TSV, CSV or JSON lines) and write one HTML file that opens from "
                    "disk with no network: APIs, providers and events with links between them, search and "
                    "filters, and each event's call paths drawn by Graphviz.")
    p.add_argument("input", metavar="INPUT", help="an analyze output (TSV, CSV, JSON lines)")
    p.add_argument("-o", "--output", help="the HTML file (default: output/<INPUT name>.html)")
    p.add_argument("--title", help="the page's title (default: the input's file name)")
    p.add_argument("--no-graphs", action="store_true", help="leave the call-path drawings out")
    add_verbosity(p)
    p.set_defaults(run=run)


def _is_store(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError:
        return False


def run(args: argparse.Namespace) -> int:
    from ..diff import read_rows
    from ..render.graphs import draw_events
    from ..render.html import render_report
    from ..render.report_model import build
    from ..render.tables import write_output

    started = time.perf_counter()
    if os.path.isdir(args.input):
        raise InputNotFoundError(f"{args.input}: is a folder, not a result table")
    if _is_store(args.input):
        raise UsageError(f"{args.input}: a scan store (SQLite); this build reads only analyze tables "
                         "(TSV, CSV, JSON lines): export one with scan --export")
    name = os.path.basename(args.input)
    _fmt, rows = read_rows(args.input)
    if not rows:
        raise CorruptMetadataError(f"{name}: no rows to report")
    data = build(rows, args.title or name, name)
    drawn = False if args.no_graphs else draw_events(data)
    html = render_report(data)
    output = args.output or os.path.join("output", os.path.splitext(name)[0] + ".html")
    write_output(html, output)
    summary(args, f"{len(data.rows)} rows, {len(data.events)} events, {len(data.providers)} providers"
                  f"{f', {len(data.graphs)} graphs' if drawn else ''} -> {output} "
                  f"({len(html.encode('utf-8')) / 1e6:.2f} MB) in {time.perf_counter() - started:.1f}s")
    return 0
