"""The ETW APIs api-to-etw recognises, and which argument carries what.

Kernel names (Etw*), their user-mode twins (advapi32 Event*, ntdll EtwEvent*), the legacy kernel
logger, the classic (MOF) provider API (RegisterTraceGuids, TraceEvent) and the TraceLogging helpers that the TraceLogging macros compile into. Argument positions
follow the documented prototypes, e.g. ``EtwWrite(REGHANDLE, PCEVENT_DESCRIPTOR, LPCGUID, ULONG,
PEVENT_DATA_DESCRIPTOR)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Optional

from ..fieldclass import Frozen, set_field
from .wppcalls import TRACE_FUNCTIONS, TRACE_PREFIXES, trace_function


class ApiRole(str, Enum):
    REGISTER = "register"          # provider GUID + REGHANDLE out-pointer
    WRITE = "write"                # manifest write: REGHANDLE + EVENT_DESCRIPTOR
    WRITE_STRING = "write_string"  # REGHANDLE + level + keyword, no descriptor
    ENABLED = "enabled"            # enable checks: not writes
    LEGACY = "legacy"              # EtwTraceKernelEvent: group mask + hook id
    TLG_REGISTER = "tlg_register"  # TraceLogging provider registration
    TLG_WRITE = "tlg_write"        # TraceLogging write: provider object + event metadata
    WPP = "wpp"                    # WPP trace message: message GUID + message number
    CLASSIC_REGISTER = "classic_register"  # RegisterTraceGuids: control GUID + class GUID registrations
    CLASSIC_WRITE = "classic_write"        # TraceEvent: EVENT_TRACE_HEADER (class GUID, type, level)
    CLASSIC_INSTANCE = "classic_instance"  # CreateTraceInstanceId: a class's RegHandle -> EVENT_INSTANCE_INFO


class EtwApi(Frozen):
    """An ETW API and the arguments that carry each role (equal, hashed and printed as the frozen dataclass it was:
    fieldclass.py)."""

    name: str
    role: ApiRole
    handle: Optional[int]  # REGHANDLE (by value)
    descriptor: Optional[int]  # PCEVENT_DESCRIPTOR
    guid: Optional[int]  # LPCGUID provider id (register)
    handle_out: Optional[int]  # PREGHANDLE (register)
    level: Optional[int]  # UCHAR level (write string)
    keyword: Optional[int]  # ULONGLONG keyword (write string)
    group_mask: Optional[int]  # legacy PERFINFO group mask
    hook_id: Optional[int]  # legacy hook id
    provider: Optional[int]  # TraceLogging provider object
    event: Optional[int]  # TraceLogging event metadata
    message_guid: Optional[int]  # WPP message GUID pointer
    message_number: Optional[int]  # WPP message number
    context: Optional[int]  # PVOID CallbackContext (register): the provider's state object
    header: Optional[int]  # PEVENT_TRACE_HEADER / PEVENT_INSTANCE_HEADER (classic write)
    class_count: Optional[int]  # ULONG GuidCount (RegisterTraceGuids)
    class_regs: Optional[int]  # PTRACE_GUID_REGISTRATION array (RegisterTraceGuids)
    instance: Optional[int]  # PEVENT_INSTANCE_INFO (CreateTraceInstanceId out, TraceEventInstance in)
    _fields = ("name", "role", "handle", "descriptor", "guid", "handle_out", "level", "keyword", "group_mask", "hook_id",
               "provider", "event", "message_guid", "message_number", "context", "header", "class_count", "class_regs",
               "instance")

    def __init__(self, name: str, role: ApiRole, handle: Optional[int] = None, descriptor: Optional[int] = None,
                 guid: Optional[int] = None, handle_out: Optional[int] = None, level: Optional[int] = None,
                 keyword: Optional[int] = None, group_mask: Optional[int] = None, hook_id: Optional[int] = None,
                 provider: Optional[int] = None, event: Optional[int] = None, message_guid: Optional[int] = None,
                 message_number: Optional[int] = None, context: Optional[int] = None, header: Optional[int] = None,
                 class_count: Optional[int] = None, class_regs: Optional[int] = None,
                 instance: Optional[int] = None) -> None:
        set_field(self, "__dict__", {"name": name, "role": role, "handle": handle, "descriptor": descriptor,
                                     "guid": guid, "handle_out": handle_out, "level": level, "keyword": keyword,
                                     "group_mask": group_mask, "hook_id": hook_id, "provider": provider,
                                     "event": event, "message_guid": message_guid, "message_number": message_number,
                                     "context": context, "header": header, "class_count": class_count,
                                     "class_regs": class_regs, "instance": instance})

    @property
    def roles(self) -> tuple[tuple[str, int], ...]:
        """The event and registration roles the analysis reads at a call, with their argument indices (in the
        roles' order)."""
        return tuple((role, index) for role in EVENT_ROLES + REGISTER_ROLES if (index := getattr(self, role)) is not None)

    @property
    def argument_slots(self) -> tuple[int, ...]:
        """The argument indices the analysis reads at a call (those of its ``roles``), each once, in order."""
        return tuple(sorted({index for _role, index in self.roles}))

    @property
    def arguments_needed(self) -> int:
        """How many leading arguments a call must pass for its event to be known (highest role slot + 1)."""
        slots = self.argument_slots
        return max(slots) + 1 if slots else 0


#: Argument roles that identify an event (what the walk must make concrete).
EVENT_ROLES = ("handle", "descriptor", "guid", "level", "keyword", "group_mask", "hook_id", "provider", "event",
               "message_guid", "message_number", "header", "instance")
#: Registration arguments followed up the callers (besides the event roles).
REGISTER_ROLES = ("handle_out", "context", "class_count", "class_regs")


def _family(stem: str, **kwargs) -> list[EtwApi]:
    """Kernel ``Etw<stem>``, advapi32 ``Event<stem>`` and ntdll ``EtwEvent<stem>`` share a prototype."""
    role = kwargs.pop("role")
    return [EtwApi(prefix + stem, role, **kwargs) for prefix in ("Etw", "Event", "EtwEvent")]


_APIS: list[EtwApi] = [
    *_family("Register", role=ApiRole.REGISTER, guid=0, context=2, handle_out=3),
    *_family("Write", role=ApiRole.WRITE, handle=0, descriptor=1),
    *_family("WriteEx", role=ApiRole.WRITE, handle=0, descriptor=1),
    *_family("WriteTransfer", role=ApiRole.WRITE, handle=0, descriptor=1),
    *_family("WriteNoRegistration", role=ApiRole.WRITE, guid=0, descriptor=1),
    *_family("WriteStartScenario", role=ApiRole.WRITE, handle=0, descriptor=1),
    *_family("WriteEndScenario", role=ApiRole.WRITE, handle=0, descriptor=1),
    *_family("WriteString", role=ApiRole.WRITE_STRING, handle=0, level=1, keyword=2),
    *_family("Enabled", role=ApiRole.ENABLED, handle=0, descriptor=1),
    *_family("ProviderEnabled", role=ApiRole.ENABLED, handle=0),
    EtwApi("EtwEventWriteFull", ApiRole.WRITE, handle=0, descriptor=1),
    EtwApi("EtwTraceKernelEvent", ApiRole.LEGACY, group_mask=2, hook_id=3),
    # Classic (MOF) providers: RegisterTraceGuids(RequestAddress, RequestContext, ControlGuid, GuidCount,
    # TraceGuidReg, MofImagePath, MofResourceName, RegistrationHandle); TraceEvent(SessionHandle, EventTrace);
    # CreateTraceInstanceId(RegHandle, InstInfo); TraceEventInstance(SessionHandle, EventTrace, InstInfo, Parent).
    *(EtwApi(name, ApiRole.CLASSIC_REGISTER, guid=2, context=1, class_count=3, class_regs=4, handle_out=7)
      for name in ("RegisterTraceGuidsW", "RegisterTraceGuidsA", "RegisterTraceGuids")),
    EtwApi("TraceEvent", ApiRole.CLASSIC_WRITE, header=1),
    EtwApi("TraceEventInstance", ApiRole.CLASSIC_WRITE, header=1, instance=2),
    EtwApi("CreateTraceInstanceId", ApiRole.CLASSIC_INSTANCE, handle=0, instance=1),
    EtwApi("TraceLoggingRegisterEx_EtwRegister_EtwSetInformation", ApiRole.TLG_REGISTER, provider=0),
    EtwApi("TraceLoggingRegisterEx_EventRegister_EventSetInformation", ApiRole.TLG_REGISTER, provider=0),
    EtwApi("TraceLoggingRegister", ApiRole.TLG_REGISTER, provider=0),
    EtwApi("TraceLoggingRegisterEx", ApiRole.TLG_REGISTER, provider=0),
]
_BY_NAME = {api.name: api for api in _APIS}

#: Prefix of the TraceLogging write helpers (``_tlgWriteTransfer_EtwWriteTransfer``, ``_tlgWriteEx``, ...).
TLG_WRITE_PREFIX = "_tlgWrite"


def lookup(name: str) -> Optional[EtwApi]:
    """The ETW API a symbol or import name denotes, if any (``dll!name`` and ``__imp_`` are accepted)."""
    if "!" in name:
        name = name.split("!", 1)[1]
    if name.startswith("__imp_"):
        name = name[len("__imp_") :]
    api = _BY_NAME.get(name)
    if api is not None:
        return api
    if name.startswith(TLG_WRITE_PREFIX):
        return EtwApi(name, ApiRole.TLG_WRITE, provider=0, event=1)
    trace = trace_function(name)
    if trace is not None:
        return EtwApi(name, ApiRole.WPP, message_guid=trace.guid, message_number=trace.number)
    return None


#: What :func:`lookup` accepts of a name with neither ``dll!`` nor ``__imp_`` before it: exactly a name of the
#: table or of a trace function, or a name starting with a TraceLogging helper's or a generated wrapper's
#: prefix. A name with ``!`` or ``__imp_`` (an import) is asked of ``lookup`` itself.
_PLAIN_NAMES = frozenset(_BY_NAME) | frozenset(TRACE_FUNCTIONS)
_PREFIXES = (TLG_WRITE_PREFIX, *TRACE_PREFIXES, "__imp_")


def lookup_all(functions: Iterable[tuple[int, str]]) -> dict[int, EtwApi]:
    """RVA -> the ETW API each (RVA, name) denotes, for those that denote one: :func:`lookup` asked only of the
    names that can be one. A set test and a prefix test in C per name: the three-letter search this replaced
    passed a fifth of the 1x kernel's 40,000 names (every ``Etw*``, ``Reg*``, ``Tra*``), each then looked up
    (27 -> 12 ms)."""
    plain, prefixes = _PLAIN_NAMES, _PREFIXES
    out: dict[int, EtwApi] = {}
    for rva, name in functions:
        if name in plain or name.startswith(prefixes) or "!" in name:
            api = lookup(name)
            if api is not None:
                out[rva] = api
    return out


def write_function_label(name: str) -> str:
    """The WriteFunction column: TraceLogging helpers lose the ``_Etw...`` back-end suffix."""
    if name.startswith(TLG_WRITE_PREFIX):
        for suffix in ("_EtwWriteTransfer", "_EventWriteTransfer", "_EtwWriteEx", "_EventWriteEx", "_EtwWrite"):
            if name.endswith(suffix) and len(name) > len(suffix) + len(TLG_WRITE_PREFIX) - 1:
                return name[: -len(suffix)]
    return name
