"""A typed row (``analysis.records.Row``) as the columns of a table or the object of a JSON line.

The one place that knows the output's conventions: the published column order, ``-`` for the id,
version and task a TraceLogging event has none of, keywords and RVAs in ``0x`` hex, ``yes``/``no``,
the call path as ``[A->B]``, names from a manifest winning over the binary's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from types import ModuleType
from typing import Optional

from ..analysis.records import ENTRY_UNREFERENCED, KIND_TRACELOGGING, EventInfo, EventNames, Row

#: The published output's columns, in order; our own columns follow them.
PUBLISHED_COLUMNS = [
    "Function", "ProviderGuid", "ProviderSymbol", "ReghandleSymbol", "WriteFunction", "EventDescriptorSymbol",
    "Id", "Version", "Channel", "Level", "Opcode", "Task", "Keyword", "ContainingFunction", "CallDepth",
    "ExportedCallDepth", "CallPath",
]
EXTRA_COLUMNS = [
    "Kind", "ProviderName", "EventName", "TaskName", "OpcodeName", "KeywordNames", "Fields", "WriteRva", "GroupMask",
    "HookId", "Resolved", "EventSite", "Entry", "Ioctl", "Message",
]
COLUMNS = PUBLISHED_COLUMNS + EXTRA_COLUMNS


def _hex(value: Optional[int]) -> str:
    return "" if value is None else f"0x{value:x}"


def call_path_text(path: list[str]) -> str:
    return "[" + "->".join(path) + "]"


def row_columns(row: Row) -> dict[str, str]:
    """Column name -> cell text, with the published formatting conventions applied."""
    return dict(zip(COLUMNS, row_cells(row)))


def row_cells(row: Row) -> tuple[str, ...]:
    """The row's cells in ``COLUMNS`` order (what a table writer takes; ``row_columns`` names them)."""
    return _cells(row, _event_cells(row.event, row.names or _NO_NAMES))


def rows_cells(rows: Iterable[Row]) -> Iterator[tuple[str, ...]]:
    """``row_cells`` of each row, the cells of each (event, names) pair made once: the rows of one event
    (every API that reaches it) share them, so a row costs its own few cells and one tuple."""
    made: dict[tuple[int, int], EventCells] = {}
    for row in rows:
        names = row.names or _NO_NAMES
        key = (id(row.event), id(names))  # both live as long as the rows do
        parts = made.get(key)
        if parts is None:
            parts = made[key] = _event_cells(row.event, names)
        yield _cells(row, parts)


def rows_tsv_lines(rows: Iterable[Row], texts: Optional[list[str]] = None) -> Iterator[str]:
    """Each row as ``"\t".join(row_cells(row)) + "\n"`` (what the TSV writer writes for cells it need not
    escape): the event's runs of cells joined once per (event, names) pair, and each row one f-string of
    its own few cells around them, in ``_cells``' order (tests/render compare the two). A call of ``_cells``,
    its 13-cell tuple and the join were two thirds of a row's cost (the 1x scale kernel's 22K rows).

    ``texts`` receives every cell that is text rather than a number (each row's own cells, each event's
    joined once), so the caller can tell with a search whether any holds a tab,
    a newline or what else the writer escapes: counting the separators in the whole text instead took two
    passes a character (79M instructions at 1x, a fifth of the render)."""
    made: dict[object, tuple[str, str, str, str]] = {}
    unreferenced = ENTRY_UNREFERENCED
    small = _DECIMAL
    held = [] if texts is None else texts
    add, extend = held.append, held.extend
    for row in rows:
        names = row.names
        key: object = id(row.event) if names is None else (id(row.event), id(names))  # both live as long as the rows
        parts = made.get(key)
        if parts is None:
            head, middle, tail, message = _event_cells(row.event, names or _NO_NAMES)
            parts = made[key] = ("\t".join(head), "\t".join(middle), "\t".join(tail), message)
            add("".join(head) + "".join(middle) + "".join(tail) + message)
        head_text, middle_text, tail_text, message_text = parts
        function, container, site, entry, ioctl = row.function, row.containing_function, row.event_site, row.entry, row.ioctl
        path = "->".join(row.call_path)
        extend((function, container, path, site, entry, ioctl))
        depth = len(row.call_path)
        exported = row.exported_call_depth
        rva = row.write_rva
        yield (f"{function}\t{head_text}\t{container}\t{small[depth] if depth < 256 else depth}"
               f"\t{small[exported] if 0 <= exported < 256 else exported}\t[{path}]\t{middle_text}"
               f"\t{'' if rva is None or entry == unreferenced else hex(rva) if rva >= 0 else f'0x{rva:x}'}"
               f"\t{tail_text}\t{site}\t{entry}\t{ioctl}\t{message_text}\n")


#: An event's own cells (with its names): ProviderGuid..Keyword, Kind..Fields, GroupMask..Resolved, Message.
EventCells = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]
#: The decimal text of the numbers below 256 (call depths, versions, channels, levels, opcodes): a tuple read
#: costs a third of what ``str`` of an int does.
_DECIMAL = tuple(map(str, range(256)))


def _event_cells(e: EventInfo, n: EventNames) -> EventCells:
    """The event's cells, ``_hex`` and the numbers' rule (empty, or ``-`` for what a TraceLogging event has
    none of) written out for its nine numbers: made once per distinct event (8.7K at 1x), where the calls
    were a third of the cost. Small numbers are read from ``_DECIMAL`` and hexadecimal made by ``hex`` (the
    same text as ``f"0x{v:x}"`` for ``v >= 0``, without the format specification's parse)."""
    dash = "-" if e.kind == KIND_TRACELOGGING else ""
    small = _DECIMAL
    ident, version, channel, level, opcode, task = e.id, e.version, e.channel, e.level, e.opcode, e.task
    keyword, group_mask, hook_id = e.keyword, e.group_mask, e.hook_id
    return (
        (e.provider_guid, e.provider_symbol, e.reghandle_symbol, e.write_function, e.descriptor_symbol,
         dash if ident is None else small[ident] if 0 <= ident < 256 else str(ident),
         dash if version is None else small[version] if 0 <= version < 256 else str(version),
         "" if channel is None else small[channel] if 0 <= channel < 256 else str(channel),
         "" if level is None else small[level] if 0 <= level < 256 else str(level),
         "" if opcode is None else small[opcode] if 0 <= opcode < 256 else str(opcode),
         dash if task is None else small[task] if 0 <= task < 256 else str(task),
         "" if keyword is None else hex(keyword) if keyword >= 0 else f"0x{keyword:x}"),
        (e.kind, e.provider_name or n.provider_name,
         n.event_name or (e.descriptor_symbol if dash else "") or e.message,
         n.task_name or e.wpp_level, n.opcode_name, " ".join(n.keyword_names), " ".join(n.fields or e.fields)),
        ("" if group_mask is None else hex(group_mask) if group_mask >= 0 else f"0x{group_mask:x}",
         "" if hook_id is None else hex(hook_id) if hook_id >= 0 else f"0x{hook_id:x}",
         "yes" if e.resolved else "no"),
        n.message,
    )


def _cells(row: Row, parts: EventCells) -> tuple[str, ...]:
    head, middle, tail, message = parts
    return (row.function, *head, row.containing_function, str(len(row.call_path)), str(row.exported_call_depth),
            call_path_text(row.call_path), *middle,
            _hex(row.write_rva) if row.entry != ENTRY_UNREFERENCED else "", *tail,
            row.event_site, row.entry, row.ioctl, message)


_NO_NAMES = EventNames()
#: EventInfo's fields a JSON line carries (the walk's identities and the TraceLogging flag stay inside).
_EVENT_FIELDS = [name for name in EventInfo._fields if name not in ("event_key", "provider_key",
                                                                    "tracelogging_provider")]
#: Those fields' values, read from the event's attribute dictionary in one C call (a getattr per field of
#: each of the 1x kernel's 8,714 distinct events was a third of the JSON lines' time).
_EVENT_VALUES = itemgetter(*_EVENT_FIELDS)
_NAME_FIELDS = list(EventNames._fields)
#: The names ``_event_record`` folds into the event's own fields.
_NAMES_IN_EVENT = ("provider_name", "fields", "message")


def row_record(row: Row) -> dict[str, object]:
    """The typed form for JSON lines: numbers stay numbers, the path stays a list."""
    names = row.names or _NO_NAMES
    return {"function": row.function, **_event_record(row.event, names), **_path_record(row), **_names_record(names)}


def rows_json(rows: Iterable[Row]) -> Iterator[str]:
    """``row_record`` of each row as a JSON line (``json.dumps`` with its default separators), the text of
    each (event, names) pair's fields made once and shared by the rows of that event, and that of each
    names' own fields once (without ``--manifests`` every row has the same, empty, names)."""
    import json  # here: a tsv run does not load it (tests/test_lazy_imports.py)

    quoted = _Quoted(json.encoder.encode_basestring_ascii)  # a string as json.dumps writes it (ASCII, escaped)
    quote = quoted.__getitem__
    small = _DECIMAL
    fields = _fields_text(json)
    made: dict[tuple[int, int], str] = {}
    named: dict[int, str] = {}
    for row in rows:
        names = row.names or _NO_NAMES
        key = (id(row.event), id(names))  # both live as long as the rows do
        head = made.get(key)
        if head is None:
            head = made[key] = fields(_event_record(row.event, names))
        tail = named.get(key[1])
        if tail is None:
            tail = named[key[1]] = fields(_names_record(names))
        path = row.call_path
        depth = len(path)
        exported = row.exported_call_depth
        yield (f'{{"function": {quoted[row.function]}, {head}, "containing_function": '
               f'{quoted[row.containing_function]}, "call_depth": {small[depth] if depth < 256 else depth}, '
               f'"exported_call_depth": {small[exported] if 0 <= exported < 256 else exported}, "call_path": '
               f'[{", ".join(map(quote, path))}], "write_rva": {row.write_rva}, "event_site": '
               f'{quoted[row.event_site]}, "entry": {quoted[row.entry]}, "ioctl": {quoted[row.ioctl]}, {tail}}}\n')


class _Quoted(dict):
    """Text -> its JSON string, each distinct text encoded once: the rows repeat the same few thousand
    function names, entries and event sites (a dictionary read costs less than the encoder's call)."""

    __slots__ = ("_encode",)

    def __init__(self, encode: Callable[[str], str]) -> None:
        super().__init__()
        self._encode = encode

    def __missing__(self, text: str) -> str:
        quoted = self[text] = self._encode(text)
        return quoted


def _fields_text(json: ModuleType) -> Callable[[dict[str, object]], str]:
    """What ``json.dumps`` writes for a dict, without its braces. The standard library's C encoder is made
    once and called for each dict: ``json.dumps`` makes a new one per call, about half of its cost for the
    one or two dozen fields of an event (8,714 distinct events on the 1x scale kernel)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return lambda record: json.dumps(record)[1:-1]
    defaults = json.JSONEncoder()  # json.dumps's settings: ASCII, ", " and ": ", no sorting, NaN allowed
    encode = make({}, defaults.default, json.encoder.encode_basestring_ascii, None, defaults.key_separator,
                  defaults.item_separator, defaults.sort_keys, defaults.skipkeys, defaults.allow_nan)
    return lambda record: "".join(encode(record, 0))[1:-1]


def _event_record(event: EventInfo, names: EventNames) -> dict[str, object]:
    """The event's fields of a row's record, named from ``names`` where the binary has no name."""
    e: dict[str, object] = dict(zip(_EVENT_FIELDS, _EVENT_VALUES(vars(event))))
    e["provider_name"] = e["provider_name"] or names.provider_name
    e["fields"] = list(names.fields or event.fields)
    e["message"] = names.message or e["message"]
    return e


def _names_record(names: EventNames) -> dict[str, object]:
    """The names' own fields of a row's record (placed after the path's): what ``_event_record`` has not
    taken, tuples as lists."""
    return {name: list(value) if isinstance(value, tuple) else value
            for name in _NAME_FIELDS if name not in _NAMES_IN_EVENT for value in (getattr(names, name),)}


def _path_record(row: Row) -> dict[str, object]:
    """The row's own fields of its record (``rows_json`` writes the same, in this order)."""
    return {
        "containing_function": row.containing_function,
        "call_depth": row.call_depth,
        "exported_call_depth": row.exported_call_depth,
        "call_path": list(row.call_path),
        "write_rva": row.write_rva,
        "event_site": row.event_site,
        "entry": row.entry,
        "ioctl": row.ioctl,
    }
