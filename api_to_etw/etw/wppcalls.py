"""The WPP trace functions: where each takes the message GUID pointer and the message number.

Every analysis asks this of every function name (is it a trace call?); the metadata of the messages
themselves (:mod:`.wpp`: TMF/TMC annotations, their index) is needed only by a binary that has trace calls,
so it lives apart and is imported only then.
"""

from __future__ import annotations

from typing import Optional

from ..fieldclass import Frozen, set_field


class TraceFunction(Frozen):
    """Where a trace function takes the message GUID pointer and the message number (0-based arguments)."""

    name: str
    guid: int
    number: int
    note: str
    _fields = ("name", "guid", "number", "note")

    def __init__(self, name: str, guid: int, number: int, note: str = "") -> None:
        set_field(self, "__dict__", {"name": name, "guid": guid, "number": number, "note": note})


#: Trace functions and WPP wrappers, by name (``WPP_SF_``-style names are matched by prefix, see
#: :func:`trace_function`). ``TraceMessage(LoggerHandle, MessageFlags, MessageGuid, MessageNumber, ...)`` has the
#: same first four parameters as the kernel's ``WmiTraceMessage``/``EtwTraceMessage`` and the
#: ``PFN_WPPTRACEMESSAGE`` pointer (``pfnWppTraceMessage``) kernel drivers call through.
TRACE_FUNCTIONS: dict[str, TraceFunction] = {
    f.name: f
    for f in (
        TraceFunction("TraceMessage", 2, 3, "advapi32; varargs (pointer, size) pairs ended by NULL"),
        TraceFunction("TraceMessageVa", 2, 3, "advapi32; va_list"),
        TraceFunction("EtwTraceMessage", 2, 3, "ntoskrnl"),
        TraceFunction("EtwTraceMessageVa", 2, 3, "ntoskrnl"),
        TraceFunction("WmiTraceMessage", 2, 3, "ntoskrnl"),
        TraceFunction("WmiTraceMessageVa", 2, 3, "ntoskrnl"),
        TraceFunction("pfnWppTraceMessage", 2, 3, "kernel WPP: a global function pointer"),
        TraceFunction("WppAutoLogTrace", 3, 4, "WPP recorder (AutoLogContext, Level, Flags, Guid, Number, ...)"),
        TraceFunction("WPP_SF_", 2, 1, "generated wrapper (Logger, id, TraceGuid, args...)"),
        TraceFunction("WPP_RECORDER_SF_", 4, 3, "(AutoLogContext, level, flags, id, traceGuid, args...)"),
        TraceFunction("WPP_RECORDER_AND_TRACE_SF_", 7, 6,
                      "(Logger, wppEnabled, recorderEnabled, AutoLogContext, level, flags, id, traceGuid, args...)"),
    )
}


#: The generated wrappers' name prefixes, longest first (each is also a key of TRACE_FUNCTIONS).
TRACE_PREFIXES = ("WPP_RECORDER_AND_TRACE_SF_", "WPP_RECORDER_SF_", "WPP_SF_")


def trace_function(name: str) -> Optional[TraceFunction]:
    """The trace function a symbol or import name denotes (``dll!name`` and ``__imp_`` accepted)."""
    if "!" in name:
        name = name.split("!", 1)[1]
    if name.startswith("__imp_"):
        name = name[len("__imp_") :]
    if name in TRACE_FUNCTIONS:
        return TRACE_FUNCTIONS[name]
    for prefix in TRACE_PREFIXES:
        if name.startswith(prefix):
            return TRACE_FUNCTIONS[prefix]
    return None


__all__ = ["TRACE_FUNCTIONS", "TRACE_PREFIXES", "TraceFunction", "trace_function"]
