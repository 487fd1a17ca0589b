"""The data behind the HTML report: result rows folded into providers, events and API rows, compactly.

The page gets this once, as JSON, and builds every view (APIs, providers, events, rows) from it with
its own script. To keep a whole kernel small enough to mail, every string is stored once in a string
table and referred to by its index; an event's attributes are stored once, not on each of its rows.
Rows come from ``diff.read_rows`` (any table format), so the report reads exactly what ``diff`` reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from ..analysis.records import LEGACY_PROVIDER
from ..diff import DiffRow

#: An event name that says nothing: ``task_05`` (a manifest without event names), a hex placeholder.
_OPAQUE = re.compile(r"^(?:task_\d*|(?:[A-Za-z_]*_)?0x[0-9a-fA-F]+|\?+)$")

#: Event attributes, in the order of each ``events`` entry of the page's data (indexes into ``s``
#: except where noted: descriptor numbers are numbers, or text as written). ``G`` is the graph index
#: (-1: none), ``O`` 1 where the name is opaque, ``Label`` what the page calls the event.
EVENT_FIELDS = ("P", "Label", "Kind", "EventDescriptorSymbol", "Id", "Version", "Channel", "Level", "Opcode", "Task",
                "Keyword", "EventName", "TaskName", "OpcodeName", "KeywordNames", "Fields", "Message",
                "WriteFunction", "ReghandleSymbol", "GroupMask", "HookId", "Resolved", "O", "G")
#: Provider attributes, in the order of each ``providers`` entry.
PROVIDER_FIELDS = ("ProviderGuid", "ProviderSymbol", "ProviderName", "Label")
#: API row attributes, in the order of each ``rows`` entry; ``E`` is the event index, ``CallPath`` a
#: list of string indexes, ``ExportedCallDepth`` a number.
ROW_FIELDS = ("Function", "E", "ContainingFunction", "EventSite", "Entry", "Ioctl", "T", "ExportedCallDepth",
              "WriteRva", "CallPath", "B")
#: A build-to-build difference (from a store), in the order of each ``h`` entry: the build and the one
#: before it, added/removed/changed, the API, containing function, the event (index, -1 if not in
#: ``e``) and what changed.
CHANGE_FIELDS = ("Build", "Previous", "Change", "Function", "ContainingFunction", "E", "Event", "Changes")

_NUMBERS = ("Id", "Version", "Channel", "Level", "Opcode", "Task")
#: Columns some tables lack (older outputs, other branches' columns); the page hides what is absent.
OPTIONAL_COLUMNS = ("EventSite", "Entry", "Ioctl", "Message", "Fields")


class Strings:
    """An interning string table: each distinct string once, referred to by index."""

    def __init__(self) -> None:
        self.items: list[str] = [""]
        self._index: dict[str, int] = {"": 0}

    def __call__(self, value: object) -> int:
        text = cell(value)
        found = self._index.get(text)
        if found is None:
            found = self._index[text] = len(self.items)
            self.items.append(text)
        return found


def cell(value: object) -> str:
    """A column value as the table shows it: lists space-joined, booleans yes/no, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return " ".join(cell(v) for v in value)
    return str(value)


def _hex(value: object) -> str:
    """JSON lines carry RVAs and masks as numbers; tables as ``0x`` text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"0x{value:x}"
    return cell(value)


#: ``Entry`` values that name a driver routine other than a dispatch routine.
_DRIVER_ROUTINES = ("adddevice", "driverunload")


def entry_type(entry: str, ioctl: str) -> str:
    """The filter's entry types of an ``Entry`` value (a comma list), space-separated.

    ``callback:PsSet...`` -> callback, ``table:g_Ops[1]`` -> table, ``IRP_MJ_*`` -> irp (ioctl where the
    row has IOCTL codes), AddDevice/DriverUnload -> driver; syscall, export, entry, unreached as written.
    """
    types: list[str] = []
    for item in entry.split(","):
        head = item.split(":", 1)[0].strip().lower()
        if not head:
            continue
        if head.startswith("irp_mj_"):
            head = "ioctl" if ioctl and "control" in head else "irp"
        elif head in _DRIVER_ROUTINES:
            head = "driver"
        if head not in types:
            types.append(head)
    if ioctl and "ioctl" not in types:
        types.append("ioctl")
    return " ".join(types)


def opaque_name(event_name: str, symbol: str) -> bool:
    """True where no name tells what the event is: a ``task_N`` name, a placeholder, or no name at all."""
    if event_name:
        return bool(_OPAQUE.match(event_name))
    return not symbol or bool(_OPAQUE.match(symbol))


@dataclass
class EventPaths:
    """The call paths that reach one event, for its graph: each path API first, its writer and site."""

    paths: set[tuple[str, ...]] = field(default_factory=set)
    writers: set[str] = field(default_factory=set)
    sites: set[str] = field(default_factory=set)
    #: API -> how it is reached from outside (``Entry``, with the ``Ioctl`` codes), for its node's label.
    entries: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class ReportData:
    """Everything the page shows; ``as_json()`` is what is embedded."""

    title: str
    source: str
    strings: Strings
    providers: list[list[int]]
    events: list[list[Any]]
    rows: list[list[Any]]
    columns: list[str]
    event_paths: list[EventPaths]
    graphs: list[str] = field(default_factory=list)
    binaries: list[dict[str, object]] = field(default_factory=list)
    changes: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Event identity (see ``event_key``) -> index in ``events``.
    event_index: dict[tuple, int] = field(default_factory=dict)

    def add_change(self, build: str, previous: str, change: str, row: DiffRow, event: str, changes: str) -> None:
        """One difference between two builds of a binary, linked to its event where the report has it."""
        s = self.strings
        self.changes.append([s(build), s(previous), s(change), s(row["Function"]), s(row["ContainingFunction"]),
                             self.event_index.get(event_key(row), -1), s(event), s(changes)])

    def attach_graphs(self, graph_of_event: Sequence[int], svgs: list[str]) -> None:
        """Set each event's graph index (-1 for none) and the SVG texts they index."""
        g = EVENT_FIELDS.index("G")
        for event, graph in zip(self.events, graph_of_event):
            event[g] = graph
        self.graphs = svgs

    def as_json(self) -> dict[str, object]:
        return {
            "title": self.title, "source": self.source, "columns": self.columns, "notes": self.notes,
            "ef": list(EVENT_FIELDS), "pf": list(PROVIDER_FIELDS), "rf": list(ROW_FIELDS),
            "s": self.strings.items, "p": self.providers, "e": self.events, "r": self.rows,
            "g": self.graphs, "b": self.binaries, "hf": list(CHANGE_FIELDS), "h": self.changes,
        }


def event_key(row: DiffRow) -> tuple:
    """An event's identity in the report: ``diff``'s provider and event keys, and the row kind."""
    return (row.provider_key, row.event_key, cell(row.extra.get("Kind")))


def build(rows: Iterable[DiffRow], title: str, source: str) -> ReportData:
    """Fold table rows into providers, events and API rows; identity as in ``diff`` (provider, event keys)."""
    s = Strings()
    providers: dict[tuple, int] = {}
    provider_list: list[list[int]] = []
    events: dict[tuple, int] = {}
    event_list: list[list[Any]] = []
    paths: list[EventPaths] = []
    out_rows: list[list[Any]] = []
    seen_columns: set[str] = set()
    for row in rows:
        v, x = row.values, row.extra
        seen_columns.update(k for k, value in x.items() if cell(value))
        pkey = row.provider_key
        p = providers.get(pkey)
        if p is None:
            p = providers[pkey] = len(provider_list)
            provider_list.append([s(v["ProviderGuid"]), s(v["ProviderSymbol"]), s(x.get("ProviderName")), 0])
        elif not provider_list[p][2] and cell(x.get("ProviderName")):
            provider_list[p][2] = s(x.get("ProviderName"))
        ekey = event_key(row)
        e = events.get(ekey)
        if e is None:
            e = events[ekey] = len(event_list)
            event_list.append(_event(row, p, s))
            paths.append(EventPaths())
        else:
            _fill(event_list[e], row, s)
        call_path = v["CallPath"]
        path = (tuple(str(f) for f in call_path) if isinstance(call_path, tuple) else ()) or (str(v["Function"]),)
        writer = cell(v["WriteFunction"])
        paths[e].paths.add(path + ((writer,) if writer else ()))
        paths[e].writers.add(writer)
        site = cell(x.get("EventSite"))
        if site:
            paths[e].sites.add(site)
        exported = v["ExportedCallDepth"]
        entry, ioctl = cell(x.get("Entry")), cell(x.get("Ioctl"))
        if entry:
            paths[e].entries.setdefault(path[0], set()).add(f"{entry} {ioctl}".strip())
        out_rows.append([s(v["Function"]), e, s(v["ContainingFunction"]), s(site), s(entry),
                         s(ioctl), s(entry_type(entry, ioctl)), exported if isinstance(exported, int) else None,
                         s(_hex(x.get("WriteRva"))), [s(f) for f in path],
                         s(" ".join(cell(x.get(c)) for c in ("Binary", "FileVersion") if cell(x.get(c))))])
    for provider in provider_list:
        provider[3] = s(provider_label(*(s.items[i] for i in provider[:3])))
    columns = [c for c in OPTIONAL_COLUMNS if c in seen_columns]
    return ReportData(title, source, s, provider_list, event_list, out_rows, columns, paths, event_index=events)


def _event(row: DiffRow, provider: int, s: Strings) -> list[Any]:
    v, x = row.values, row.extra
    out: list[Any] = []
    for name in EVENT_FIELDS:
        if name == "P":
            out.append(provider)
        elif name in ("O", "G", "Label"):
            out.append(0)
        elif name in _NUMBERS:
            value = v[name]
            out.append(value if isinstance(value, int) else (None if value in (None, "") else cell(value)))
        elif name in ("GroupMask", "HookId"):
            out.append(s(_hex(x.get(name))))
        elif name in v:
            out.append(s(v[name]))
        else:
            out.append(s(x.get(name)))
    _set_opaque(out, s)
    return out


_FILLED = [i for i, name in enumerate(EVENT_FIELDS) if name in ("EventName", "TaskName", "OpcodeName", "KeywordNames",
                                                                  "Fields", "Message")]


def _fill(event: list[Any], row: DiffRow, s: Strings) -> None:
    """A later row of the same event may carry names the first lacked (another manifest join)."""
    fresh: Optional[list[Any]] = None
    for i in _FILLED:
        if event[i] == 0:
            fresh = fresh or _event(row, int(event[0]), s)
            event[i] = fresh[i]
    if fresh is not None:
        _set_opaque(event, s)


def _set_opaque(event: list[Any], s: Strings) -> None:
    """The event's opaque flag and label, from its names: EventName, else the descriptor symbol, else the id."""
    name = s.items[event[EVENT_FIELDS.index("EventName")]]
    symbol = s.items[event[EVENT_FIELDS.index("EventDescriptorSymbol")]]
    event[EVENT_FIELDS.index("O")] = int(opaque_name(name, symbol))
    number = event[EVENT_FIELDS.index("Id")]
    event[EVENT_FIELDS.index("Label")] = s(name or symbol or (f"event id {number}" if number is not None
                                                             else "(unnamed event)"))


def provider_label(guid: str, symbol: str, name: str) -> str:
    """How a provider is called on the page: its name, else its symbol, else its GUID."""
    if guid == LEGACY_PROVIDER and symbol:
        return f"{LEGACY_PROVIDER}: {symbol}"
    return name or symbol or guid or "(unknown provider)"
