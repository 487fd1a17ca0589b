"""Typed records the analysis produces and the renderers print (``render.rows`` turns them into columns)."""

from __future__ import annotations

from operator import itemgetter
from typing import Optional

from ..fieldclass import Frozen, Mutable, set_field

KIND_MANIFEST = "manifest"
KIND_LEGACY = "legacy"
KIND_TRACELOGGING = "tracelogging"
KIND_WPP = "wpp"
#: Classic (MOF) providers: RegisterTraceGuids + TraceEvent; provider = control GUID, event = class GUID + type.
KIND_CLASSIC = "classic"
LEGACY_PROVIDER = "Windows Kernel Trace"


class EventInfo(Frozen):
    """One event a write site can emit, with its provider: everything but the call path. (A frozen dataclass
    once, as equal and hashed: ``fields``, ``tracelogging_provider``, ``message`` and ``wpp_level`` are printed
    by ``repr`` but left out of equality and the hash, as their ``compare=False`` fields were.)"""

    kind: str
    write_function: str
    provider_guid: str
    provider_symbol: str
    provider_name: str
    reghandle_symbol: str
    descriptor_symbol: str
    id: Optional[int]
    version: Optional[int]
    channel: Optional[int]
    level: Optional[int]
    opcode: Optional[int]
    task: Optional[int]
    keyword: Optional[int]
    group_mask: Optional[int]
    hook_id: Optional[int]
    #: False where the provider or the event could not be recovered (fields are then partial).
    resolved: bool
    #: Field names carried by the binary itself (TraceLogging event metadata).
    fields: tuple[str, ...]
    #: A manifest-style write whose provider GUID lives in TraceLogging metadata (inlined TraceLogging).
    tracelogging_provider: bool
    #: WPP: the message's format string and its LEVEL=/FLAGS= from the trace statement.
    message: str
    wpp_level: str
    #: Identity of the event within the binary (descriptor/event address, or the field values).
    event_key: tuple
    provider_key: tuple
    _fields = ("kind", "write_function", "provider_guid", "provider_symbol", "provider_name", "reghandle_symbol",
               "descriptor_symbol", "id", "version", "channel", "level", "opcode", "task", "keyword", "group_mask",
               "hook_id", "resolved", "fields", "tracelogging_provider", "message", "wpp_level", "event_key",
               "provider_key")

    def __init__(self, kind: str, write_function: str, provider_guid: str = "", provider_symbol: str = "",
                 provider_name: str = "", reghandle_symbol: str = "", descriptor_symbol: str = "",
                 id: Optional[int] = None, version: Optional[int] = None, channel: Optional[int] = None,
                 level: Optional[int] = None, opcode: Optional[int] = None, task: Optional[int] = None,
                 keyword: Optional[int] = None, group_mask: Optional[int] = None, hook_id: Optional[int] = None,
                 resolved: bool = True, fields: tuple[str, ...] = (), tracelogging_provider: bool = False,
                 message: str = "", wpp_level: str = "", event_key: tuple = (), provider_key: tuple = ()) -> None:
        set_field(self, "__dict__", {
            "kind": kind, "write_function": write_function, "provider_guid": provider_guid,
            "provider_symbol": provider_symbol, "provider_name": provider_name, "reghandle_symbol": reghandle_symbol,
            "descriptor_symbol": descriptor_symbol, "id": id, "version": version, "channel": channel, "level": level,
            "opcode": opcode, "task": task, "keyword": keyword, "group_mask": group_mask, "hook_id": hook_id,
            "resolved": resolved, "fields": fields, "tracelogging_provider": tracelogging_provider,
            "message": message, "wpp_level": wpp_level, "event_key": event_key, "provider_key": provider_key})

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return _compared(self.__dict__) == _compared(other.__dict__)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(_compared(self.__dict__))


#: The values of the fields ``EventInfo`` equality and hash compare, in order, read from its attribute
#: dictionary in one C call (the four it prints but does not compare left out).
_compared = itemgetter(*(name for name in EventInfo._fields
                         if name not in ("fields", "tracelogging_provider", "message", "wpp_level")))


class EventNames(Frozen):
    """Names from manifests or the MOF table (``--manifests``); empty where unknown."""

    provider_name: str
    event_name: str
    task_name: str
    opcode_name: str
    keyword_names: tuple[str, ...]
    fields: tuple[str, ...]
    #: The event's message string (``$(string.X)`` resolved), from the manifest or the binary's resource.
    message: str
    _fields = ("provider_name", "event_name", "task_name", "opcode_name", "keyword_names", "fields", "message")

    def __init__(self, provider_name: str = "", event_name: str = "", task_name: str = "", opcode_name: str = "",
                 keyword_names: tuple[str, ...] = (), fields: tuple[str, ...] = (), message: str = "") -> None:
        set_field(self, "__dict__", {"provider_name": provider_name, "event_name": event_name,
                                     "task_name": task_name, "opcode_name": opcode_name,
                                     "keyword_names": keyword_names, "fields": fields, "message": message})


#: ``Row.entry`` of an event the binary's manifest defines but no code writes (``--unreferenced``).
ENTRY_UNREFERENCED = "unreferenced"


class Row(Mutable):
    """One (API, provider, event, containing function) with its shortest call path."""

    event: EventInfo
    function: str
    containing_function: str
    call_path: list[str]
    exported_call_depth: int
    write_rva: int
    names: Optional[EventNames]
    #: The function whose code supplies the event's values (where they become concrete on the walk up).
    event_site: str
    #: How ``function`` is entered from outside: syscall, export, entry, IRP_MJ_*, callback:API, table:T[i],
    #: ``unreached`` when nothing reaches the event site (several kinds are comma-separated),
    #: ``unreferenced`` for a manifest event the binary's own manifest defines but no write site emits.
    entry: str
    #: IOCTL codes whose case of an IRP_MJ_DEVICE_CONTROL dispatcher leads to the write, ``default``.
    ioctl: str
    _fields = ("event", "function", "containing_function", "call_path", "exported_call_depth", "write_rva", "names",
               "event_site", "entry", "ioctl")

    def __init__(self, event: EventInfo, function: str, containing_function: str, call_path: list[str],
                 exported_call_depth: int, write_rva: int, names: Optional[EventNames] = None, event_site: str = "",
                 entry: str = "", ioctl: str = "") -> None:
        self.event = event
        self.function = function
        self.containing_function = containing_function
        self.call_path = call_path
        self.exported_call_depth = exported_call_depth
        self.write_rva = write_rva
        self.names = names
        self.event_site = event_site
        self.entry = entry
        self.ioctl = ioctl

    @property
    def call_depth(self) -> int:
        return len(self.call_path)

    def key(self) -> tuple:
        return Row.key_of(self.function, self.event, self.containing_function)

    @staticmethod
    def key_of(function: str, event: EventInfo, containing_function: str) -> tuple:
        """The key of the row these would make (what the walk keeps one row per, before building it)."""
        return (function, event.provider_key, event.event_key, containing_function)
