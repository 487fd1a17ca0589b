"""``api-to-etw diff OLD NEW``: compare two result tables, whatever format each was written in.

Either side may be the published CSV of the original Ghidra script, or our TSV, CSV or JSON lines. Each
file is read once into the analysis's own typed rows (``analysis.records.Row``), viewed by published
column name normalised (lower-case GUIDs without braces, keywords as ``0x`` hex, numbers as ints,
``-``/empty as empty, the call path as a list); rows are matched on a key; ``render/diff.py`` renders the
differences as text, TSV or JSON lines.

The key of a row is ``(Function, provider, event, ContainingFunction)``:

* provider -- the ProviderGuid; where the GUID is empty or the legacy pseudo-GUID ``Windows Kernel
  Trace`` (shared by every legacy row), the pair (ProviderSymbol, ReghandleSymbol) instead;
* event -- the EventDescriptorSymbol, or where it is empty the fields (Id, Version, Task, Opcode, Level,
  Keyword).

A key that occurs more than once in one file keeps its row with the smallest CallDepth. Rows whose
provider or event has no name (``???``, ``PERF_0x...``, no descriptor and no fields) are "unnamed":
they are compared like the others but counted apart, and ``--ignore-unnamed`` drops them from the
added and removed lists.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Optional

from .analysis.records import LEGACY_PROVIDER, EventInfo, Row
from .errors import CorruptMetadataError, ExitCode, InputNotFoundError
from .inputs import read_regular
from .render.rows import PUBLISHED_COLUMNS

log = logging.getLogger("api_to_etw.diff")

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"
KINDS = (ADDED, REMOVED, CHANGED)
DIFF_FORMATS = ("text", "tsv", "jsonl")

#: Columns a table must have for its rows to be keyed at all.
KEY_COLUMNS = ("Function", "ProviderGuid", "EventDescriptorSymbol", "ContainingFunction")
#: Columns holding small integers (``-`` and empty mean "none").
INT_COLUMNS = ("Id", "Version", "Channel", "Level", "Opcode", "Task", "CallDepth", "ExportedCallDepth")
#: Descriptor fields that stand in for the event when it has no symbol, in key order.
EVENT_KEY_FIELDS = ("Id", "Version", "Task", "Opcode", "Level", "Keyword")
#: Fields compared between the OLD and NEW rows of one key, in report order.
COMPARED = ("ProviderGuid", "ProviderSymbol", "ReghandleSymbol", "WriteFunction",
            "Id", "Version", "Channel", "Level", "Opcode", "Task", "Keyword", "CallDepth")
_DESCRIPTOR_FIELDS = ("Id", "Version", "Channel", "Level", "Opcode", "Task", "Keyword")

#: snake_case keys of ``Row.as_record()`` (and the spellings seen in headers) -> published column names.
_ALIASES = {name.lower(): name for name in PUBLISHED_COLUMNS}
_ALIASES.update({"descriptorsymbol": "EventDescriptorSymbol", "eventdescriptor": "EventDescriptorSymbol"})

#: A name the original script or our tool writes when it has none: ``PERF_0x...``, ``GROUP_0x...``,
#: ``PERFINFO_LOG_TYPE_0x...`` or a bare hex number.
_PLACEHOLDER = re.compile(r"^(?:[A-Za-z_]*_)?0x[0-9a-fA-F]+$")

Value = object  # str, Optional[int] or tuple[str, ...] (CallPath)


# ---------------------------------------------------------------------------------------------- reading
@dataclass
class DiffRow:
    """One row read back from a table, as the analysis's own typed record (``analysis.records.Row``).

    ``row`` is what the line says, in the record type the analysis produces; ``values`` is that row
    by published column, normalised (lower-case GUIDs without braces, keywords as ``0x`` hex, numbers
    as ints, the call path as a tuple), derived from ``row`` once. A cell the typed row cannot hold as
    written (a non-numeric Id, a CallDepth other than the path's length, an empty ExportedCallDepth)
    is kept as written in ``written`` and wins in ``values``, so nothing read is lost or changed.
    """

    row: Row
    line: int = 0
    #: The other columns (Kind, EventName, Fields, EventSite, Entry, ...), by CamelCase name, values as read.
    extra: dict[str, object] = field(default_factory=dict)
    #: Published column -> the normalised cell, where ``row`` cannot hold it as written.
    written: dict[str, Value] = field(default_factory=dict)
    values: dict[str, Value] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.values = {c: self.written[c] if c in self.written else _column(self.row, c) for c in PUBLISHED_COLUMNS}

    def __getitem__(self, column: str) -> Value:
        return self.values[column]

    @property
    def provider_key(self) -> tuple:
        guid = self.values["ProviderGuid"]
        if guid and guid != LEGACY_PROVIDER:
            return ("guid", guid)
        return ("symbol", self.values["ProviderSymbol"], self.values["ReghandleSymbol"])

    @property
    def event_key(self) -> tuple:
        symbol = self.values["EventDescriptorSymbol"]
        if symbol and self.values["Id"] in (None, ""):
            # TraceLogging events have a name but no id; a start/stop pair shares the name, not the opcode.
            return ("symbol", symbol, self.values["Opcode"])
        if symbol:
            return ("symbol", symbol)
        return ("fields",) + tuple(self.values[c] for c in EVENT_KEY_FIELDS)

    def key(self) -> tuple:
        return (self.values["Function"], self.provider_key, self.event_key, self.values["ContainingFunction"])

    @property
    def unnamed(self) -> bool:
        """True where the provider or the event was not recovered by name."""
        v = self.values
        guid, symbol, event = v["ProviderGuid"], v["ProviderSymbol"], v["EventDescriptorSymbol"]
        provider_unknown = guid == "???" or (guid in ("", LEGACY_PROVIDER) and _placeholder(str(symbol)))
        event_unknown = (_placeholder(str(event)) if event
                         else all(v[c] in (None, "") for c in _DESCRIPTOR_FIELDS))
        return provider_unknown or event_unknown


def _placeholder(name: str) -> bool:
    return not name or "???" in name or bool(_PLACEHOLDER.match(name))


@dataclass
class Table:
    """The rows of one file, one per key, and what reading it found."""

    path: str
    fmt: str
    rows: dict[tuple, DiffRow]
    total: int
    duplicates: int = 0
    conflicts: list[tuple] = field(default_factory=list)

    @property
    def name(self) -> str:
        return os.path.basename(self.path) or self.path


@functools.lru_cache(maxsize=4096)  # called for every cell of a table: a handful of distinct headers
def _column_name(raw: str) -> Optional[str]:
    return _ALIASES.get(re.sub(r"[\s_\-]", "", str(raw)).lower())


@functools.lru_cache(maxsize=4096)
def _extra_name(raw: str) -> str:
    """A column outside the published ones by its TSV name: ``event_site`` (JSON lines) -> ``EventSite``."""
    text = str(raw).strip()
    if "_" in text or text.islower():
        return "".join(part[:1].upper() + part[1:] for part in text.split("_") if part)
    return text


def _text(value: object) -> str:
    if value is None:
        return ""
    text = str(value).strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':  # a quoted field read without CSV quoting (TSV)
        text = text[1:-1].strip()
    return "" if text == "-" else text


def _int(value: object) -> object:
    """An int where the value is a number, None where it is empty or ``-``, else the text as written."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    text = _text(value)
    if not text:
        return None
    for base in (0, 10):
        try:
            return int(text, base)
        except ValueError:
            continue
    return text  # not a number: compared as written


def _keyword(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"0x{value:x}"
    text = _text(value)
    if not text:
        return ""
    try:
        return f"0x{int(text, 0):x}"
    except ValueError:
        return text.lower()


def _guid(value: object) -> str:
    text = _text(value)
    if text.lower() == LEGACY_PROVIDER.lower():
        return LEGACY_PROVIDER
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    return text.lower() if re.fullmatch(r"[0-9A-Fa-f\-]+", text) else text


def _call_path(value: object) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        parts = [_text(p) for p in value]
    else:
        text = _text(value)
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        parts = [p.strip() for p in text.split("->")]
    return tuple(p for p in parts if p)


def _column(row: Row, column: str) -> Value:
    """A published column of a typed row, normalised as ``normalise`` does a cell read from a table."""
    e = row.event
    if column == "Keyword":
        return "" if e.keyword is None else f"0x{e.keyword:x}"
    if column == "CallPath":
        return tuple(row.call_path)
    if column == "CallDepth":
        return row.call_depth
    if column == "ExportedCallDepth":
        return row.exported_call_depth
    if column in _ROW_FIELDS:
        return getattr(row, _ROW_FIELDS[column])
    return getattr(e, _EVENT_FIELDS[column])


#: Published columns held by ``Row`` and by its ``EventInfo`` (the rest are derived above).
_ROW_FIELDS = {"Function": "function", "ContainingFunction": "containing_function"}
_EVENT_FIELDS = {"ProviderGuid": "provider_guid", "ProviderSymbol": "provider_symbol",
                 "ReghandleSymbol": "reghandle_symbol", "WriteFunction": "write_function",
                 "EventDescriptorSymbol": "descriptor_symbol", "Id": "id", "Version": "version",
                 "Channel": "channel", "Level": "level", "Opcode": "opcode", "Task": "task"}


def _small(value: Value) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _typed(values: dict[str, Value], extra: dict[str, object]) -> Row:
    """The typed record of normalised cells (``_column`` gives them back, except where ``written`` must)."""
    keyword = values["Keyword"]
    try:
        keyword_value = int(str(keyword), 16) if str(keyword).startswith("0x") else None
    except ValueError:
        keyword_value = None
    write_rva = _int(extra.get("WriteRva"))
    event = EventInfo(
        kind=_text(extra.get("Kind")), write_function=str(values["WriteFunction"]),
        provider_guid=str(values["ProviderGuid"]), provider_symbol=str(values["ProviderSymbol"]),
        provider_name=_text(extra.get("ProviderName")), reghandle_symbol=str(values["ReghandleSymbol"]),
        descriptor_symbol=str(values["EventDescriptorSymbol"]), id=_small(values["Id"]),
        version=_small(values["Version"]), channel=_small(values["Channel"]), level=_small(values["Level"]),
        opcode=_small(values["Opcode"]), task=_small(values["Task"]), keyword=keyword_value,
        resolved=_text(extra.get("Resolved")).lower() != "no")
    path = values["CallPath"]
    return Row(event, str(values["Function"]), str(values["ContainingFunction"]),
               list(path) if isinstance(path, tuple) else [], _small(values["ExportedCallDepth"]) or 0,
               _small(write_rva) or 0, event_site=_text(extra.get("EventSite")), entry=_text(extra.get("Entry")),
               ioctl=_text(extra.get("Ioctl")))


def normalise(raw: dict[str, object], line: int = 0) -> DiffRow:
    """A row from any reader (column name -> raw value) in the normalised form; unknown columns dropped."""
    named: dict[str, object] = {}
    extra: dict[str, object] = {}
    for key, value in raw.items():
        if key is None:
            continue
        column = _column_name(key)
        if column is None:
            extra.setdefault(_extra_name(key), value)
        elif column not in named:
            named[column] = value
    values: dict[str, Value] = {}
    for column in PUBLISHED_COLUMNS:
        value = named.get(column)
        if column == "ProviderGuid":
            values[column] = _guid(value)
        elif column == "Keyword":
            values[column] = _keyword(value)
        elif column in INT_COLUMNS:
            values[column] = _int(value)
        elif column == "CallPath":
            values[column] = _call_path(value)
        else:
            values[column] = _text(value)
    path = values["CallPath"]
    if values["CallDepth"] is None and isinstance(path, tuple) and path:
        values["CallDepth"] = len(path)
    row = _typed(values, extra)
    written = {c: v for c, v in values.items() if _differs(_column(row, c), v)}
    return DiffRow(row, line, extra, written)


def _differs(derived: Value, read: Value) -> bool:
    return derived != read or type(derived) is not type(read)


def _decode(path: str, data: bytes) -> str:
    name = os.path.basename(path) or path
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"  # e.g. re-saved by Windows PowerShell
    else:
        if b"\0" in data:
            raise CorruptMetadataError(f"{name}: not a text table (binary data)")
        encoding = "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise CorruptMetadataError(f"{name}: not a text table (not UTF-8 text)") from None


def detect_format(text: str) -> str:
    """``jsonl`` if the first non-blank character is ``{``, ``tsv`` if the header has tabs, else ``csv``."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return "jsonl"
    header = stripped.split("\n", 1)[0]
    return "tsv" if "\t" in header else "csv"


def _check_columns(name: str, columns: Iterable[object]) -> None:
    present = {_column_name(str(c)) for c in columns if c is not None}
    missing = [c for c in KEY_COLUMNS if c not in present]
    if missing:
        raise CorruptMetadataError(f"{name}: not an api-to-etw table: no {', '.join(missing)} column"
                                   + ("s" if len(missing) > 1 else ""))


def _read_delimited(name: str, text: str, fmt: str) -> list[DiffRow]:
    if fmt == "tsv":
        reader = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
    else:
        reader = csv.reader(io.StringIO(text))
    rows: list[DiffRow] = []
    header: Optional[list[str]] = None
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header = [cell.strip() for cell in record]
                _check_columns(name, header)
                continue
            extra = record[len(header):]
            if len(record) < len(header) or any(cell.strip() for cell in extra):  # trailing empty cells are fine
                raise CorruptMetadataError(f"{name}: line {reader.line_num}: {len(record)} fields, "
                                           f"the header has {len(header)}")
            rows.append(normalise(dict(zip(header, record)), reader.line_num))
    except csv.Error as exc:
        raise CorruptMetadataError(f"{name}: line {reader.line_num}: {exc}") from None
    if header is None:
        raise CorruptMetadataError(f"{name}: empty table, no header line")
    return rows


def _read_jsonl(name: str, text: str) -> list[DiffRow]:
    rows: list[DiffRow] = []
    checked = False
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except RecursionError:
            raise CorruptMetadataError(f"{name}: line {number}: JSON nested too deeply") from None
        except ValueError as exc:
            raise CorruptMetadataError(f"{name}: line {number}: not JSON ({getattr(exc, 'msg', exc)})") from None
        if not isinstance(obj, dict):
            raise CorruptMetadataError(f"{name}: line {number}: not a JSON object")
        if not checked:
            _check_columns(name, obj.keys())
            checked = True
        rows.append(normalise(obj, number))
    return rows


def _depth_order(row: DiffRow) -> tuple:
    depth = row["CallDepth"]
    # Ties are broken on the row's content, so the choice does not depend on the order of the file.
    return (depth if isinstance(depth, int) else sys.maxsize,
            tuple(str(row[c]) for c in PUBLISHED_COLUMNS))


def read_rows(path: str) -> tuple[str, list[DiffRow]]:
    """Every row of a result table in any format, normalised, in file order, and the format's name."""
    name = os.path.basename(path) or path
    data = read_regular(path, kind="table", error=CorruptMetadataError)
    text = _decode(path, data)
    if not text.strip():
        raise CorruptMetadataError(f"{name}: empty file, no header line")
    fmt = detect_format(text)
    rows = _read_jsonl(name, text) if fmt == "jsonl" else _read_delimited(name, text, fmt)
    _check_functions(name, rows)
    return fmt, rows


def _check_functions(name: str, rows: list[DiffRow]) -> None:
    for row in rows:
        if not row["Function"]:
            raise CorruptMetadataError(f"{name}: line {row.line}: empty Function")


def read_table(path: str) -> Table:
    """Read a result table in any format into one normalised row per key."""
    fmt, rows = read_rows(path)
    return build_table(path, fmt, rows)


def build_table(path: str, fmt: str, rows: list[DiffRow]) -> Table:
    """Normalised rows into a table of one row per key (the smallest CallDepth of a repeated key)."""
    name = os.path.basename(path) or path
    _check_functions(name, rows)
    by_key: dict[tuple, list[DiffRow]] = {}
    for row in rows:
        by_key.setdefault(row.key(), []).append(row)
    table = Table(path, fmt, {}, len(rows))
    for key, group in by_key.items():
        kept = min(group, key=_depth_order)
        table.rows[key] = kept
        if len(group) > 1:
            table.duplicates += len(group) - 1
            if any(column != "CallDepth" for other in group for column in _changed_columns(kept, other)):
                table.conflicts.append(key)
    log.info("%s: %s, %d rows, %d keys", name, fmt, table.total, len(table.rows))
    return table


def _changed_columns(old: DiffRow, new: DiffRow) -> list[str]:
    return [c for c in COMPARED if old[c] != new[c]]


# -------------------------------------------------------------------------------------------- comparing
@dataclass
class Difference:
    kind: str
    key: tuple
    old: Optional[DiffRow]
    new: Optional[DiffRow]
    #: For ``changed``: (column, old value, new value) for each compared column that differs.
    changes: list[tuple[str, Value, Value]] = field(default_factory=list)

    @property
    def row(self) -> DiffRow:
        """The row to show: NEW where there is one."""
        row = self.new if self.new is not None else self.old
        assert row is not None, "a difference always has an old or a new row"
        return row

    @property
    def unnamed(self) -> bool:
        return self.row.unnamed


@dataclass
class DiffResult:
    old: Table
    new: Table
    differences: list[Difference]
    unchanged: int
    ignore_unnamed: bool = False
    #: Unnamed rows left out of added/removed by ``ignore_unnamed``: kind -> count.
    ignored: dict[str, int] = field(default_factory=lambda: {ADDED: 0, REMOVED: 0})

    def count(self, kind: str, unnamed: Optional[bool] = None) -> int:
        return sum(1 for d in self.differences if d.kind == kind and (unnamed is None or d.unnamed == unnamed))

    def kinds(self) -> set[str]:
        return {d.kind for d in self.differences}

    def summary(self) -> str:
        counts = ", ".join(f"{self.count(k)} {k}" for k in KINDS)
        text = (f"{self.old.name} ({self.old.total} rows) -> {self.new.name} ({self.new.total} rows): "
                f"{counts}, {self.unchanged} unchanged")
        unnamed = [f"{self.count(k, True)} {k}" for k in (ADDED, REMOVED) if self.count(k, True)]
        if unnamed:
            text += f" (unnamed: {', '.join(unnamed)})"
        ignored = sum(self.ignored.values())
        if ignored:
            text += (f"; ignored {ignored} unnamed ({self.ignored[ADDED]} added, {self.ignored[REMOVED]} removed)")
        return text


def _sort_key(diff: Difference) -> tuple:
    return (diff.key[0], diff.key[3], provider_label(diff.row), event_label(diff.row),
            KINDS.index(diff.kind), repr(diff.key))


def compare(old: Table, new: Table, ignore_unnamed: bool = False) -> DiffResult:
    """Match the rows of OLD and NEW on their keys."""
    result = DiffResult(old, new, [], 0, ignore_unnamed)
    for key, row in old.rows.items():
        other = new.rows.get(key)
        if other is None:
            if ignore_unnamed and row.unnamed:
                result.ignored[REMOVED] += 1
            else:
                result.differences.append(Difference(REMOVED, key, row, None))
            continue
        changes = [(c, row[c], other[c]) for c in _changed_columns(row, other)]
        if changes:
            result.differences.append(Difference(CHANGED, key, row, other, changes))
        else:
            result.unchanged += 1
    for key, row in new.rows.items():
        if key in old.rows:
            continue
        if ignore_unnamed and row.unnamed:
            result.ignored[ADDED] += 1
        else:
            result.differences.append(Difference(ADDED, key, None, row))
    result.differences.sort(key=_sort_key)
    return result


def diff_files(old_path: str, new_path: str, ignore_unnamed: bool = False) -> DiffResult:
    """Read and compare two tables; a missing file is reported before either is parsed."""
    for path in (old_path, new_path):
        if not os.path.exists(path):
            raise InputNotFoundError(f"{path}: no such file")
    old, new = read_table(old_path), read_table(new_path)
    _warn_conflicts(old, new)
    return compare(old, new, ignore_unnamed)


def _warn_conflicts(*tables: Table) -> None:
    """One warning for keys whose duplicate rows differ beyond CallDepth: events the key cannot tell apart."""
    found = [t for t in tables if t.conflicts]
    if not found:
        return
    first = found[0].rows[found[0].conflicts[0]]
    counts = " and ".join(f"{len(t.conflicts)} in {t.name}" for t in found)
    log.warning("keys with several rows that differ beyond CallDepth (%s); kept the smallest CallDepth, "
                "e.g. %s / %s in %s", counts, first["Function"], event_label(first), first["ContainingFunction"])


def exit_code(result: DiffResult, fail_on: Iterable[str] = ()) -> int:
    """``ExitCode.DIFF_FOUND`` when a difference of a kind in ``fail_on`` exists, else ``ExitCode.OK``."""
    return int(ExitCode.DIFF_FOUND if result.kinds() & set(fail_on) else ExitCode.OK)


# -------------------------------------------------------------------------------------------- labels
def provider_label(row: DiffRow) -> str:
    guid, symbol, handle = row["ProviderGuid"], row["ProviderSymbol"], row["ReghandleSymbol"]
    if guid and guid != LEGACY_PROVIDER:
        return f"{symbol} {{{guid}}}" if symbol and symbol != guid else str(guid)
    name = "/".join(str(s) for s in (symbol, handle) if s) or "?"
    return f"{LEGACY_PROVIDER}: {name}" if guid == LEGACY_PROVIDER else name


def event_label(row: DiffRow) -> str:
    if row["EventDescriptorSymbol"]:
        return str(row["EventDescriptorSymbol"])
    fields = [f"{c}={row[c]}" for c in EVENT_KEY_FIELDS if row[c] not in (None, "")]
    return " ".join(fields) if fields else "(no event fields)"
