"""Typed records the analysis produces and the renderers print."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

#: The published output's columns, in order; our own columns follow them.
PUBLISHED_COLUMNS = [
    "Function", "ProviderGuid", "ProviderSymbol", "ReghandleSymbol", "WriteFunction", "EventDescriptorSymbol",
    "Id", "Version", "Channel", "Level", "Opcode", "Task", "Keyword", "ContainingFunction", "CallDepth",
    "ExportedCallDepth", "CallPath",
]
EXTRA_COLUMNS = [
    "Kind", "ProviderName", "EventName", "TaskName", "OpcodeName", "KeywordNames", "Fields", "WriteRva", "GroupMask",
    "HookId", "Resolved", "EventSite", "Entry", "Ioctl",
]
COLUMNS = PUBLISHED_COLUMNS + EXTRA_COLUMNS

KIND_MANIFEST = "manifest"
KIND_LEGACY = "legacy"
KIND_TRACELOGGING = "tracelogging"
KIND_WPP = "wpp"
#: Classic (MOF) providers: RegisterTraceGuids + TraceEvent; provider = control GUID, event = class GUID + type.
KIND_CLASSIC = "classic"
LEGACY_PROVIDER = "Windows Kernel Trace"


@dataclass(frozen=True)
class EventInfo:
    """One event a write site can emit, with its provider: everything but the call path."""

    kind: str
    write_function: str
    provider_guid: str = ""
    provider_symbol: str = ""
    provider_name: str = ""
    reghandle_symbol: str = ""
    descriptor_symbol: str = ""
    id: Optional[int] = None
    version: Optional[int] = None
    channel: Optional[int] = None
    level: Optional[int] = None
    opcode: Optional[int] = None
    task: Optional[int] = None
    keyword: Optional[int] = None
    group_mask: Optional[int] = None
    hook_id: Optional[int] = None
    #: False where the provider or the event could not be recovered (fields are then partial).
    resolved: bool = True
    #: Field names carried by the binary itself (TraceLogging event metadata).
    fields: tuple[str, ...] = field(default=(), compare=False)
    #: A manifest-style write whose provider GUID lives in TraceLogging metadata (inlined TraceLogging).
    tracelogging_provider: bool = field(default=False, compare=False)
    #: WPP: the message's format string and its LEVEL=/FLAGS= from the trace statement.
    message: str = field(default="", compare=False)
    wpp_level: str = field(default="", compare=False)
    #: Identity of the event within the binary (descriptor/event address, or the field values).
    event_key: tuple = field(default=(), compare=True)
    provider_key: tuple = field(default=(), compare=True)


@dataclass(frozen=True)
class EventNames:
    """Names from manifests or the MOF table (``--manifests``); empty where unknown."""

    provider_name: str = ""
    event_name: str = ""
    task_name: str = ""
    opcode_name: str = ""
    keyword_names: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()


@dataclass
class Row:
    """One (API, provider, event, containing function) with its shortest call path."""

    event: EventInfo
    function: str
    containing_function: str
    call_path: list[str]
    exported_call_depth: int
    write_rva: int
    names: Optional[EventNames] = None
    #: The function whose code supplies the event's values (where they become concrete on the walk up).
    event_site: str = ""
    #: How ``function`` is entered from outside: syscall, export, entry, IRP_MJ_*, callback:API, table:T[i],
    #: ``unreached`` when nothing reaches the event site (several kinds are comma-separated).
    entry: str = ""
    #: IOCTL codes whose case of an IRP_MJ_DEVICE_CONTROL dispatcher leads to the write, ``default``.
    ioctl: str = ""

    @property
    def call_depth(self) -> int:
        return len(self.call_path)

    def key(self) -> tuple:
        return (self.function, self.event.provider_key, self.event.event_key, self.containing_function)

    def as_dict(self) -> dict[str, object]:
        """Column name -> value, with the published formatting conventions applied."""
        e = self.event
        n = self.names or EventNames()
        tlg = e.kind == KIND_TRACELOGGING

        def num(value: Optional[int], dash: bool = False) -> str:
            if value is None:
                return "-" if dash else ""
            return str(value)

        return {
            "Function": self.function,
            "ProviderGuid": e.provider_guid,
            "ProviderSymbol": e.provider_symbol,
            "ReghandleSymbol": e.reghandle_symbol,
            "WriteFunction": e.write_function,
            "EventDescriptorSymbol": e.descriptor_symbol,
            "Id": num(e.id, tlg),
            "Version": num(e.version, tlg),
            "Channel": num(e.channel),
            "Level": num(e.level),
            "Opcode": num(e.opcode),
            "Task": num(e.task, tlg),
            "Keyword": "" if e.keyword is None else f"0x{e.keyword:x}",
            "ContainingFunction": self.containing_function,
            "CallDepth": str(self.call_depth),
            "ExportedCallDepth": str(self.exported_call_depth),
            "CallPath": "[" + "->".join(self.call_path) + "]",
            "Kind": e.kind,
            "ProviderName": e.provider_name or n.provider_name,
            "EventName": n.event_name or (e.descriptor_symbol if tlg else "") or e.message,
            "TaskName": n.task_name or e.wpp_level,
            "OpcodeName": n.opcode_name,
            "KeywordNames": " ".join(n.keyword_names),
            "Fields": " ".join(n.fields or e.fields),
            "WriteRva": f"0x{self.write_rva:x}",
            "GroupMask": "" if e.group_mask is None else f"0x{e.group_mask:x}",
            "HookId": "" if e.hook_id is None else f"0x{e.hook_id:x}",
            "Resolved": "yes" if e.resolved else "no",
            "EventSite": self.event_site,
            "Entry": self.entry,
            "Ioctl": self.ioctl,
        }

    def as_record(self) -> dict[str, object]:
        """Typed form for JSON lines: numbers stay numbers, the path stays a list."""
        e = asdict(self.event)
        e.pop("event_key")
        e.pop("provider_key")
        e.pop("tracelogging_provider")
        n = asdict(self.names or EventNames())
        e["provider_name"] = e["provider_name"] or n.pop("provider_name")
        n.pop("provider_name", None)
        e["fields"] = list(n.pop("fields") or e["fields"])
        return {
            "function": self.function,
            **e,
            "containing_function": self.containing_function,
            "call_depth": self.call_depth,
            "exported_call_depth": self.exported_call_depth,
            "call_path": list(self.call_path),
            "write_rva": self.write_rva,
            "event_site": self.event_site,
            "entry": self.entry,
            "ioctl": self.ioctl,
            **{k: list(v) if isinstance(v, tuple) else v for k, v in n.items()},
        }
