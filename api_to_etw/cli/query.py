"""``api-to-etw query --db FILE``: rows of the whole corpus by API, provider, event, binary, kind, field."""

from __future__ import annotations

import argparse
import json

from ..errors import ExitCode
from .common import TABLE_EXTENSIONS, add_output_options, add_verbosity, output_format, summary


def add_row_filters(p: argparse.ArgumentParser, *names: str) -> None:
    """The row filters; each may be repeated (any value matches), different filters all must match."""
    helps = {
        "api": "the API (Function), e.g. NtCreateUserProcess or 'Nt*Process*'",
        "provider": "provider GUID, symbol or name",
        "event": "event descriptor symbol, event name, Id or HookId",
        "binary": "binary name or sha256 (glob)",
        "kind": "manifest, legacy, tracelogging, wpp, ...",
        "field": "a field name the event carries (Fields column)",
        "grep": "regular expression searched in every column",
        "match": "COLUMN=VALUE on any stored column, e.g. Ioctl=0x222003 or WriteFunction=EtwWrite*",
    }
    for name in names:
        p.add_argument(f"--{name}", action="append", default=[], metavar={"grep": "REGEX", "match": "COLUMN=VALUE"}.get(name, "TEXT"),
                       help=helps[name] + " (repeatable)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("query", help="print stored rows matching filters, or run read-only SQL on a store",
                       description="Print the rows of a store that match every filter given (names are "
                                   "case-insensitive, globs allowed), or run any read-only SQL with --sql.")
    p.add_argument("--db", required=True, metavar="FILE", help="the store written by scan")
    add_row_filters(p, "api", "provider", "event", "binary", "kind", "field", "grep", "match")
    p.add_argument("--sql", metavar="QUERY", help="run this SQL on a read-only connection instead of the filters")
    add_output_options(p, ("tsv", "csv", "jsonl"), "tsv")
    add_verbosity(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..render.tables import render_table, write_output
    from ..store.db import Store
    from ..store.query import Filters, run_sql, select_rows

    fmt = output_format(args.format, args.output, TABLE_EXTENSIONS, "tsv")
    with Store.open(args.db, readonly=True) as store:
        if args.sql:
            columns, tuples = run_sql(store, args.sql)
            rows = [dict(zip(columns, ["" if v is None else v for v in t])) for t in tuples]
        else:
            filters = Filters(api=args.api, provider=args.provider, event=args.event, binary=args.binary,
                              kind=args.kind, fields=args.field, grep=args.grep, match=args.match)
            columns, rows = select_rows(store, filters)
    if fmt == "jsonl":
        text = "".join(json.dumps(row) + "\n" for row in rows)
    else:
        text = render_table(rows, columns, fmt)
    write_output(text, args.output)
    binaries = len({(r.get("Binary"), r.get("FileVersion")) for r in rows}) if not args.sql else None
    summary(args, f"{len(rows)} rows" + (f" from {binaries} binaries" if binaries is not None else ""))
    return ExitCode.OK
