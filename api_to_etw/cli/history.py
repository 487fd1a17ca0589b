"""``api-to-etw history --db FILE NAME``: per build of a binary, the rows added, removed and changed."""

from __future__ import annotations

import argparse
import json

from ..errors import ExitCode
from .common import add_output_options, add_verbosity, output_format, summary
from .query import add_row_filters


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="rows added and removed across the stored builds of one binary",
                       description="List, for each stored build of NAME in FileVersion order, the rows added, "
                                   "removed and changed against the build before (as 'diff' compares tables).")
    p.add_argument("name", metavar="NAME", help="the binary's file name, e.g. ntoskrnl.exe")
    p.add_argument("--db", required=True, metavar="FILE", help="the store written by scan")
    add_row_filters(p, "api", "event")
    add_output_options(p, ("text", "jsonl"), "text", what="report file")
    add_verbosity(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..render.diff import render_jsonl, render_text
    from ..render.tables import write_output
    from ..store.db import Store
    from ..store.history import history
    from ..store.query import Filters

    fmt = output_format(args.format, args.output, {"jsonl": "jsonl", "json": "jsonl"}, "text")
    with Store.open(args.db, readonly=True) as store:
        steps = history(store, args.name, Filters(api=args.api, event=args.event))
    parts = []
    for step in steps:
        if step.result is None:
            if fmt == "text":
                parts.append(f"=== {step.build.label}: first build, {len(step.build.table.rows)} rows\n")
            continue
        if fmt == "text":
            parts.append(f"=== {step.build.label}\n" + render_text(step.result))
        else:
            for line in render_jsonl(step.result).splitlines():
                obj = {"binary": step.build.binary["name"], "version": step.build.binary["file_version"],
                       "sha256": step.build.binary["sha256"], "previous_version": step.previous.binary["file_version"]
                       if step.previous else None, **json.loads(line)}
                parts.append(json.dumps(obj) + "\n")
    write_output("".join(parts), args.output)
    changes = sum(len(s.result.differences) for s in steps if s.result is not None)
    summary(args, f"{len(steps)} builds of {args.name}, {changes} differences")
    return ExitCode.OK
