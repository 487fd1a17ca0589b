"""A typed row (``analysis.records.Row``) as the columns of a table or the object of a JSON line.

The one place that knows the output's conventions: the published column order, ``-`` for the id,
version and task a TraceLogging event has none of, keywords and RVAs in ``0x`` hex, ``yes``/``no``,
the call path as ``[A->B]``, names from a manifest winning over the binary's own.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Optional

from ..analysis.records import ENTRY_UNREFERENCED, KIND_TRACELOGGING, EventNames, Row

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


def _number(value: Optional[int], dash: bool = False) -> str:
    if value is None:
        return "-" if dash else ""
    return str(value)


def _hex(value: Optional[int]) -> str:
    return "" if value is None else f"0x{value:x}"


def call_path_text(path: list[str]) -> str:
    return "[" + "->".join(path) + "]"


def row_columns(row: Row) -> dict[str, str]:
    """Column name -> cell text, with the published formatting conventions applied."""
    e = row.event
    n = row.names or EventNames()
    tlg = e.kind == KIND_TRACELOGGING
    return {
        "Function": row.function,
        "ProviderGuid": e.provider_guid,
        "ProviderSymbol": e.provider_symbol,
        "ReghandleSymbol": e.reghandle_symbol,
        "WriteFunction": e.write_function,
        "EventDescriptorSymbol": e.descriptor_symbol,
        "Id": _number(e.id, tlg),
        "Version": _number(e.version, tlg),
        "Channel": _number(e.channel),
        "Level": _number(e.level),
        "Opcode": _number(e.opcode),
        "Task": _number(e.task, tlg),
        "Keyword": _hex(e.keyword),
        "ContainingFunction": row.containing_function,
        "CallDepth": str(row.call_depth),
        "ExportedCallDepth": str(row.exported_call_depth),
        "CallPath": call_path_text(row.call_path),
        "Kind": e.kind,
        "ProviderName": e.provider_name or n.provider_name,
        "EventName": n.event_name or (e.descriptor_symbol if tlg else "") or e.message,
        "TaskName": n.task_name or e.wpp_level,
        "OpcodeName": n.opcode_name,
        "KeywordNames": " ".join(n.keyword_names),
        "Fields": " ".join(n.fields or e.fields),
        "WriteRva": _hex(row.write_rva) if row.entry != ENTRY_UNREFERENCED else "",
        "GroupMask": _hex(e.group_mask),
        "HookId": _hex(e.hook_id),
        "Resolved": "yes" if e.resolved else "no",
        "EventSite": row.event_site,
        "Entry": row.entry,
        "Ioctl": row.ioctl,
        "Message": n.message,
    }


def row_record(row: Row) -> dict[str, object]:
    """The typed form for JSON lines: numbers stay numbers, the path stays a list."""
    e = asdict(row.event)
    e.pop("event_key")
    e.pop("provider_key")
    e.pop("tracelogging_provider")
    n = asdict(row.names or EventNames())
    e["provider_name"] = e["provider_name"] or n.pop("provider_name")
    n.pop("provider_name", None)
    e["fields"] = list(n.pop("fields") or e["fields"])
    e["message"] = n.pop("message") or e["message"]
    return {
        "function": row.function,
        **e,
        "containing_function": row.containing_function,
        "call_depth": row.call_depth,
        "exported_call_depth": row.exported_call_depth,
        "call_path": list(row.call_path),
        "write_rva": row.write_rva,
        "event_site": row.event_site,
        "entry": row.entry,
        "ioctl": row.ioctl,
        **{k: list(v) if isinstance(v, tuple) else v for k, v in n.items()},
    }
