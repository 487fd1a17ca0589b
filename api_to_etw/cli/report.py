"""``api-to-etw report INPUT -o report.html``: one self-contained HTML page to read results in a browser."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING

from ..errors import CorruptMetadataError, InputNotFoundError
from .common import add_verbosity, summary

if TYPE_CHECKING:
    from ..diff import DiffRow
    from ..render.report_model import ReportData
    from ..store.db import BinaryRow

_SQLITE_MAGIC = b"SQLite format 3\x00"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write one self-contained HTML report (search, filters, call-path graphs) of a result table",
        description="Read an analyze output (TSV, CSV or JSON lines) and write one HTML file that opens from "
                    "disk with no network: APIs, providers and events with links between them, search and "
                    "filters, and each event's call paths drawn by Graphviz.")
    p.add_argument("input", metavar="INPUT", help="an analyze output (TSV, CSV, JSON lines) or a store made by scan")
    p.add_argument("-o", "--output", help="the HTML file (default: output/<INPUT name>.html)")
    p.add_argument("--title", help="the page's title (default: the input's file name)")
    p.add_argument("--no-graphs", action="store_true", help="leave the call-path drawings out")
    add_verbosity(p)
    p.set_defaults(run=run)


def _is_store(path: str) -> bool:
    """Whether ``path`` starts like an SQLite file. Opened as every input is (``open_regular``): a plain
    ``open`` of a FIFO blocked until a writer came, so ``report FIFO`` hung; now it is exit 3."""
    from ..inputs import open_regular

    try:
        with open_regular(path, kind="table", max_size=sys.maxsize) as handle:  # a store may be any size
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
    name = os.path.basename(args.input)
    store = _is_store(args.input)
    rows, binaries = _from_store(args.input) if store else (read_rows(args.input)[1], [])
    if not rows:
        raise CorruptMetadataError(f"{name}: no rows to report")
    data = build(rows, args.title or name, name)
    if store:
        _add_builds(data, args.input, binaries)
    drawn = False if args.no_graphs else draw_events(data)
    html = render_report(data)
    output = args.output or os.path.join("output", os.path.splitext(name)[0] + ".html")
    write_output(html, output)
    summary(args, f"{len(data.rows)} rows, {len(data.events)} events, {len(data.providers)} providers"
                  f"{f', {len(data.graphs)} graphs' if drawn else ''} -> {output} "
                  f"({len(html.encode('utf-8')) / 1e6:.2f} MB) in {time.perf_counter() - started:.1f}s")
    return 0


def _from_store(path: str) -> tuple[list[DiffRow], list[BinaryRow]]:
    """Every stored row (with its binary's name and FileVersion) and every binary of a scan store."""
    from ..diff import normalise
    from ..store.db import Store
    from ..store.query import Filters, select_rows

    with Store.open(path, readonly=True) as store:
        _columns, rows = select_rows(store, Filters())
        return [normalise(dict(row), n) for n, row in enumerate(rows, 1)], store.binaries()


def _hex(value: object) -> str:
    return f"0x{value:X}" if isinstance(value, int) else ""


def _add_builds(data: ReportData, path: str, binaries: list[BinaryRow]) -> None:
    """The store's binaries, and for each binary stored in several builds the rows each build changed."""
    from ..diff import event_label
    from ..store.db import OK, Store
    from ..store.history import history

    for b in sorted(binaries, key=lambda b: (str(b["name"]).lower(), str(b["file_version"] or ""))):
        data.binaries.append({
            "Binary": b["name"], "FileVersion": b["file_version"] or "", "Machine": b["machine"] or "",
            "TimeDateStamp": _hex(b["time_date_stamp"]), "SizeOfImage": _hex(b["size_of_image"]),
            "SHA-256": str(b["sha256"] or "")[:16], "PDB": "yes" if b["pdb_used"] else "no", "Status": b["status"],
            "Error": b["error"] or "", "Rows": b["row_count"], "Seconds": b["seconds"]})
    counts: dict[str, int] = {}
    for b in binaries:
        if b["status"] == OK:
            counts[str(b["name"]).lower()] = counts.get(str(b["name"]).lower(), 0) + 1
    names = sorted({str(b["name"]) for b in binaries if counts.get(str(b["name"]).lower(), 0) > 1}, key=str.lower)
    with Store.open(path, readonly=True) as store:
        for name in names:
            for step in history(store, name):
                if step.result is None or step.previous is None:
                    continue
                for d in step.result.differences:
                    what = "; ".join(f"{column}: {old} -> {new}" for column, old, new in d.changes)
                    data.add_change(step.build.label, step.previous.label, d.kind, d.row, event_label(d.row), what)
