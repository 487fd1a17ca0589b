"""Filters over the stored rows, as one SQL WHERE clause shared by ``query`` and ``history``.

Each filter may be given several times (any of them matches); different filters must all match.
Names match exactly, case-insensitively, or as a glob when they hold ``*``, ``?`` or ``[``; ``--grep``
is a Python regular expression searched in every column of the row.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as default

from ..errors import UsageError
from .db import Store, quote

_GLOB = re.compile(r"[*?\[]")


@dataclass
class Filters:
    api: list[str] = default(default_factory=list)
    provider: list[str] = default(default_factory=list)
    event: list[str] = default(default_factory=list)
    binary: list[str] = default(default_factory=list)
    kind: list[str] = default(default_factory=list)
    fields: list[str] = default(default_factory=list)
    grep: list[str] = default(default_factory=list)
    #: COLUMN=VALUE on any stored output column (columns other helpers add, e.g. Ioctl, flow in).
    match: list[str] = default(default_factory=list)


def _match(columns: Sequence[str], values: Sequence[str], params: list[object]) -> str:
    """``(col = v OR col GLOB v ...)`` over every column and value, case-insensitive."""
    terms = []
    for value in values:
        wanted = value.lower()
        op = "GLOB" if _GLOB.search(wanted) else "="
        for column in columns:
            terms.append(f"lower({column}) {op} ?")
            params.append(wanted)
    return "(" + " OR ".join(terms) + ")"


def _guid_text(value: str) -> str:
    return value.strip().strip("{}")


def where_clause(store: Store, filters: Filters) -> tuple[str, list[object]]:
    """The WHERE clause (without the keyword; ``1`` for no filter) over ``rows r JOIN binaries b``."""
    params: list[object] = []
    parts = []
    col = {c: "r." + quote(c) for c in store.columns}

    def have(*names: str) -> list[str]:
        return [col[n] for n in names if n in col]

    if filters.api:
        parts.append(_match(have("Function"), filters.api, params))
    if filters.provider:
        parts.append(_match(have("ProviderGuid", "ProviderSymbol", "ProviderName"),
                            [_guid_text(p) for p in filters.provider], params))
    if filters.event:
        parts.append(_match(have("EventDescriptorSymbol", "EventName", "Id", "HookId"), filters.event, params))
    if filters.binary:
        parts.append(_match(["b.name", "b.sha256"], filters.binary, params))
    if filters.kind:
        parts.append(_match(have("Kind"), filters.kind, params))
    for name in filters.fields:  # Fields is a space-separated list of field names
        parts.append("(' ' || lower(" + col.get("Fields", "''") + ") || ' ') LIKE ?")
        params.append(f"% {name.lower()} %")
    by_column: dict[str, list[str]] = {}
    for item in filters.match:
        name, sep, value = item.partition("=")
        column = next((c for c in col if c.lower() == name.strip().lower()), None)
        if not sep or column is None:
            raise UsageError(f"--match {item!r}: expected COLUMN=VALUE with one of the stored columns "
                             f"({', '.join(col)})")
        by_column.setdefault(column, []).append(value)
    for column, values in by_column.items():
        parts.append(_match([col[column]], values, params))
    for pattern in filters.grep:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UsageError(f"--grep {pattern!r}: not a regular expression ({exc})") from None
        parts.append("regexp(?, " + " || char(9) || ".join(col.values()) + ")")
        params.append(pattern)
    return (" AND ".join(parts) or "1"), params


def install_regexp(db: sqlite3.Connection) -> None:
    """``regexp(pattern, text)`` for ``--grep`` (patterns compiled once per query)."""
    cache: dict[str, re.Pattern[str]] = {}

    def regexp(pattern: str, text: object) -> bool:
        compiled = cache.get(pattern)
        if compiled is None:
            compiled = cache[pattern] = re.compile(pattern)
        return text is not None and compiled.search(str(text)) is not None

    db.create_function("regexp", 2, regexp, deterministic=True)


#: Binary columns printed before the row columns by ``query``.
BINARY_COLUMNS = ("Binary", "FileVersion")


def select_rows(store: Store, filters: Filters) -> tuple[list[str], list[dict[str, str]]]:
    """The matching rows with their binary's name and FileVersion, in binary then analysis order."""
    install_regexp(store.db)
    where, params = where_clause(store, filters)
    columns = list(BINARY_COLUMNS) + store.columns
    sql = (f"SELECT b.name, coalesce(b.file_version, ''), {', '.join('r.' + quote(c) for c in store.columns)} "
           f"FROM rows r JOIN binaries b ON b.id = r.binary_id WHERE {where} "
           "ORDER BY b.name COLLATE NOCASE, b.file_version, b.sha256, r.row_id")
    return columns, [dict(zip(columns, row)) for row in store.db.execute(sql, params)]


def _no_files(action: int, _arg1: object, _arg2: object, _database: object, _trigger: object) -> int:
    """The authorizer of ``--sql``: every statement but one that opens another database file (ATTACH, which
    ``VACUUM INTO`` asks for too) or detaches one."""
    return sqlite3.SQLITE_DENY if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH) else sqlite3.SQLITE_OK


def run_sql(store: Store, sql: str) -> tuple[list[str], list[tuple]]:
    """Any read-only SQL (the store is opened read-only for it).

    A read-only connection still lets ``ATTACH 'FILE'`` create FILE and ``VACUUM INTO 'FILE'`` write a copy of
    the store there: both are refused, so a query never writes a file."""
    install_regexp(store.db)
    store.db.set_authorizer(_no_files)
    try:
        cursor = store.db.execute(sql)
        rows = cursor.fetchall()
    except sqlite3.Error as exc:
        raise UsageError(f"--sql: {exc}") from None
    return [d[0] for d in cursor.description or ()], rows
