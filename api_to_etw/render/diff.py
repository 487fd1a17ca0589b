"""``api-to-etw diff`` results as text, TSV or JSON lines (``diff.py`` reads and compares the tables)."""

from __future__ import annotations

import json
import re

from ..diff import ADDED, CHANGED, REMOVED, DiffResult, DiffRow, Value, event_label, provider_label
from .rows import PUBLISHED_COLUMNS, call_path_text
from .tables import render_table


def _snake(column: str) -> str:
    if column == "EventDescriptorSymbol":
        return "descriptor_symbol"  # the EventInfo field name, as in row_record
    return re.sub(r"(?<!^)(?=[A-Z])", "_", column).lower()


def diff_record(row: DiffRow) -> dict[str, object]:
    """The row in the snake_case form of ``render.rows.row_record`` (published columns only)."""
    out: dict[str, object] = {}
    for column in PUBLISHED_COLUMNS:
        value = row.values[column]
        if column == "Keyword" and isinstance(value, str):
            value = int(value, 16) if value.startswith("0x") else (value or None)
        elif column == "CallPath" and isinstance(value, tuple):
            value = list(value)
        out[_snake(column)] = value
    return out


def _show(value: Value) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, tuple):
        return call_path_text(list(value))
    return str(value)


def render_text(result: DiffResult) -> str:
    out = [f"--- {result.old.path}", f"+++ {result.new.path}"]
    marks = {ADDED: "+", REMOVED: "-", CHANGED: "~"}
    function = None
    for diff in result.differences:
        row = diff.row
        if diff.key[0] != function:
            function = diff.key[0]
            out.append("")
            out.append(str(function))
        flag = "  [unnamed]" if diff.unnamed else ""
        head = (f"  {marks[diff.kind]} {diff.kind:<8} {provider_label(row)} / {event_label(row)}"
                f"  in {row['ContainingFunction']}")
        if diff.kind == CHANGED:
            out.append(head + flag)
            for column, old, new in diff.changes:
                line = f"      {column}: {_show(old)} -> {_show(new)}"
                if column == "CallDepth" and diff.old and diff.new and diff.old["CallPath"] != diff.new["CallPath"]:
                    line += f"  {_show(diff.old['CallPath'])} -> {_show(diff.new['CallPath'])}"
                out.append(line)
        else:
            out.append(f"{head}  via {_show(row['WriteFunction'])}, depth {_show(row['CallDepth'])}{flag}")
    out.append("")
    out.append(result.summary())
    return "\n".join(out) + "\n"


TSV_COLUMNS = ["Change", "Unnamed", "ChangedFields"] + PUBLISHED_COLUMNS


def render_tsv(result: DiffResult) -> str:
    """One line per difference: NEW's values (OLD's for removed rows); changed cells read ``old -> new``."""
    lines = []
    for diff in result.differences:
        row = diff.row
        cells: dict[str, object] = {c: _cell(row[c]) for c in PUBLISHED_COLUMNS}
        for column, old, new in diff.changes:
            cells[column] = f"{_show(old)} -> {_show(new)}"
        cells.update(Change=diff.kind, Unnamed="yes" if diff.unnamed else "no",
                     ChangedFields=",".join(c for c, _, _ in diff.changes))
        lines.append(cells)
    return render_table(lines, TSV_COLUMNS, "tsv")


def _cell(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return _show(value)
    return str(value)


def render_jsonl(result: DiffResult) -> str:
    """One object per difference: change, unnamed, changes {column: {old, new}}, and the old/new rows."""
    lines = []
    for diff in result.differences:
        obj: dict[str, object] = {
            "change": diff.kind,
            "unnamed": diff.unnamed,
            "function": diff.key[0],
            "containing_function": diff.key[3],
            "provider": provider_label(diff.row),
            "event": event_label(diff.row),
            "changes": {_snake(c): {"old": _json_value(c, o), "new": _json_value(c, n)} for c, o, n in diff.changes},
            "old": diff_record(diff.old) if diff.old is not None else None,
            "new": diff_record(diff.new) if diff.new is not None else None,
        }
        lines.append(json.dumps(obj))
    return "".join(line + "\n" for line in lines)


def _json_value(column: str, value: Value) -> object:
    if column == "Keyword" and isinstance(value, str) and value.startswith("0x"):
        return int(value, 16)
    return None if value == "" else value


def render_diff(result: DiffResult, fmt: str = "text") -> str:
    if fmt == "text":
        return render_text(result)
    if fmt == "tsv":
        return render_tsv(result)
    if fmt == "jsonl":
        return render_jsonl(result)
    raise ValueError(f"unknown diff format {fmt}")
