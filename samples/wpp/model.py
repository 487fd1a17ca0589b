"""The WPP fixture's model: two images, their control GUIDs, trace messages and functions."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Optional

TRUTH_FORMAT = 1
NAMESPACE = uuid.UUID("5d0c8f2e-7a51-4f59-9a57-3f1c2b6e0a11")  # fixed: every GUID here derives from it
WPP_TRACE_OPTIONS = 0x2B  # TRACE_MESSAGE_SEQUENCE | TRACE_MESSAGE_GUID | TRACE_MESSAGE_SYSTEMINFO | TIMESTAMP

TRACE_LEVELS = {"TRACE_LEVEL_CRITICAL": 1, "TRACE_LEVEL_ERROR": 2, "TRACE_LEVEL_WARNING": 3,
                "TRACE_LEVEL_INFORMATION": 4, "TRACE_LEVEL_VERBOSE": 5}

# WPP argument types: TMF type name -> (signature letter of the WPP_SF_ name, C parameter type, how it is logged).
ARG_TYPES = {
    "ItemString": ("s", "const char *", "astr"),
    "ItemWString": ("S", "const WCHAR *", "wstr"),
    "ItemLong": ("d", "LONG", "val"),
    "ItemULong": ("D", "ULONG", "val"),
    "ItemULongX": ("X", "ULONG", "val"),
    "ItemLongLong": ("i", "LONG64", "val"),
    "ItemULongLongX": ("I", "ULONG64", "val"),
    "ItemPtr": ("p", "const void *", "val"),
    "ItemNTSTATUS": ("L", "NTSTATUS", "val"),
    "ItemGuid": ("g", "LPCGUID", "guid"),
}




# ---------------------------------------------------------------------------------------------------------------
# The model.
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Control:
    name: str
    guid: str
    flags: list[str]
    public: bool = False  # WPP_PUBLIC_TMC: the TMC annotation ends with "PUBLIC_TMF:"


@dataclass
class Message:
    """One trace statement, e.g. ``DoTraceEvents(TRACE_LEVEL_ERROR, TRACE_ERROR, "...", a, b);``."""

    function: str
    macro: str                       # DoTraceEvents(LEVEL, FLAGS, MSG, ...) or DoTraceMessage(LEVEL, MSG, ...)
    level: str                       # DoTraceEvents: a TRACE_LEVEL_*; DoTraceMessage: a flag name (WPP's LEVEL)
    flags: Optional[str]             # DoTraceEvents only
    text: str                        # the format as tracewpp writes it into the TMF (%0 prefix, %10!s! args)
    args: list[tuple[str, str]]      # (C expression, TMF type)
    emit_func: bool = True           # WPP_EMIT_FUNC_NAME: " FUNC=<function>" ends the #typev string
    public: bool = False             # WPP_PUBLIC_: file, name and argument names are hidden
    tail: bool = False               # the statement ends a void function and the wrapper takes 4 arguments:
                                     # clang -O2 emits the wrapper call as a tail jump (checked by the tests)
    # Filled in by the generator:
    number: int = 0
    line: int = 0


@dataclass
class Function:
    name: str
    params: str                      # C parameter list
    body_before: list[str]           # C statements; "TRACE" lines are replaced by the next message in order
    calls: list[str] = field(default_factory=list)
    exported: bool = False
    ret: str = "void"


@dataclass
class Unit:
    """A C file and its generated .tmh header."""

    file: str
    template: str                    # "um", "um-inline", "km", "km-inline", "km-legacy"
    functions: list[Function]
    messages: list[Message]
    preamble: list[str] = field(default_factory=list)


@dataclass
class Image:
    name: str
    kind: str                        # "dll" or "kernel"
    project: str                     # tracewpp's CurrentDir: the provider name in the TMF
    controls: list[Control]
    units: list[Unit]
    entry: str
    extra_exports: list[str] = field(default_factory=list)

    @property
    def ext(self) -> str:
        return "dll" if self.kind == "dll" else "exe"


def guid_for(label: str) -> str:
    return str(uuid.uuid5(NAMESPACE, label))


def canonical(file: str) -> str:
    """tracewpp's WPP_THIS_FILE: the file name with every non-identifier character replaced by '_'."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in file)


def trace_guids_symbol(image: str, file: str) -> str:
    digest = hashlib.md5(f"{image}/{file}".encode()).hexdigest()
    return f"WPP_{digest}_Traceguids"


def declare_images() -> list[Image]:
    """The two images as declared; their messages get numbers and lines when their C is written."""
    user = Image(
        name="wppuser", kind="dll", project="wppuser", entry="DllMain",
        controls=[
            Control("WidgetTraceGuid", guid_for("wppuser/WidgetTraceGuid"),
                    ["TRACE_INIT", "TRACE_WIDGET", "TRACE_QUEUE", "TRACE_ERROR"]),
            Control("WidgetPerfGuid", guid_for("wppuser/WidgetPerfGuid"), ["PERF_ENTRY", "PERF_EXIT"]),
        ],
        units=[
            Unit("init.c", "um-inline", [
                Function("DllMain", "void *Instance, ULONG Reason, void *Reserved", [
                    "(void)Instance; (void)Reserved;",
                    "if (Reason == 1) {",
                    "    WPP_INIT_TRACING();",
                    "}",
                    "TRACE",
                    "return 1;",
                ], calls=["WppInitControlBlocks"], ret="int"),
            ], [
                Message("DllMain", "DoTraceMessage", "TRACE_INIT", None,
                        "%0wppuser loaded, reason %10!u!", [("Reason", "ItemULong")]),
            ]),
            Unit("widget.c", "um", [
                Function("WdpValidateName", "const char *Name, ULONG Length", [
                    "if (Length == 0 || Length > 64) {",
                    "    TRACE",
                    "    return STATUS_INVALID_PARAMETER;",
                    "}",
                    "return Name ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;",
                ], ret="NTSTATUS"),
                Function("WdpOpenInternal", "const char *Name, void *Handle, ULONG Flags", [
                    "WdpTable[Flags & 7] = Handle;",
                    "TRACE",
                ]),
                Function("WidgetOpen", "const char *Name, ULONG Flags, void **Handle", [
                    "TRACE",
                    "NTSTATUS Status = WdpValidateName(Name, WppStrLenA(Name));",
                    "if (Status < 0) {",
                    "    return Status;",
                    "}",
                    "*Handle = &WdpTable[Flags & 7];",
                    "WdpOpenInternal(Name, *Handle, Flags);",
                    "return STATUS_SUCCESS;",
                ], calls=["WdpValidateName", "WppStrLenA", "WdpOpenInternal"], exported=True, ret="NTSTATUS"),
                Function("WidgetClose", "void *Handle", [
                    "NTSTATUS Status = Handle ? STATUS_SUCCESS : STATUS_INVALID_HANDLE;",
                    "TRACE",
                    "return Status;",
                ], exported=True, ret="NTSTATUS"),
            ], [
                Message("WdpValidateName", "DoTraceEvents", "TRACE_LEVEL_ERROR", "TRACE_ERROR",
                        '%0invalid widget name "%10!s!" (length %11!u!)',
                        [("Name", "ItemString"), ("Length", "ItemULong")]),
                Message("WdpOpenInternal", "DoTraceEvents", "TRACE_LEVEL_INFORMATION", "TRACE_WIDGET",
                        "%0opened widget %10!s! handle %11!p! flags %12!08X!",
                        [("Name", "ItemString"), ("Handle", "ItemPtr"), ("Flags", "ItemULongX")]),
                Message("WidgetOpen", "DoTraceEvents", "TRACE_LEVEL_VERBOSE", "PERF_ENTRY",
                        "%0--> WidgetOpen flags %10!u!", [("Flags", "ItemULong")], emit_func=False),
                Message("WidgetClose", "DoTraceEvents", "TRACE_LEVEL_INFORMATION", "TRACE_WIDGET",
                        "%0closing widget %10!p! status %11!d!", [("Handle", "ItemPtr"), ("Status", "ItemLong")]),
            ]),
            Unit("queue.c", "um", [
                Function("QpInsert", "void *Item, LONG Priority", [
                    "TRACE",
                    "if (QpCount >= 16) {",
                    "    TRACE",
                    "    return;",
                    "}",
                    "QpItems[QpCount++] = Item;",
                ]),
                Function("QpDrain", "LPCGUID Owner", [
                    "LONG64 Drained = QpCount;",
                    "QpCount = 0;",
                    "TRACE",
                    "TRACE",
                ]),
                Function("WidgetQueueWork", "void *Item, LONG Priority", [
                    "QpInsert(Item, Priority + 1);",
                ], calls=["QpInsert"], exported=True),
                Function("WidgetFlush", "LPCGUID Owner", [
                    "QpDrain(Owner);",
                ], calls=["QpDrain"], exported=True),
            ], [
                Message("QpInsert", "DoTraceEvents", "TRACE_LEVEL_VERBOSE", "PERF_ENTRY",
                        "%0--> QpInsert item %10!p! priority %11!d!", [("Item", "ItemPtr"), ("Priority", "ItemLong")]),
                Message("QpInsert", "DoTraceEvents", "TRACE_LEVEL_WARNING", "TRACE_QUEUE",
                        "%0queue full (%11!d! items), dropping %10!p!", [("Item", "ItemPtr"), ("QpCount", "ItemLong")]),
                Message("QpDrain", "DoTraceEvents", "TRACE_LEVEL_INFORMATION", "TRACE_QUEUE",
                        "%0drained %10!I64d! items for %11!s!", [("Drained", "ItemLongLong"), ("Owner", "ItemGuid")]),
                Message("QpDrain", "DoTraceEvents", "TRACE_LEVEL_VERBOSE", "PERF_EXIT",
                        "%0<-- QpDrain %10!I64d!", [("Drained", "ItemLongLong")], emit_func=False, public=True,
                        tail=True),
            ]),
            Unit("wpprt.c", "none", [
                Function("WppStrLenA", "const char *String", [
                    "ULONG Length = 0;",
                    "while (String && String[Length]) {",
                    "    Length++;",
                    "}",
                    "return Length;",
                ], ret="ULONG"),
            ], []),
        ],
    )
    kernel = Image(
        name="wppkernel", kind="kernel", project="wppkernel", entry="DriverEntry",
        extra_exports=["WmiTraceMessage"],
        controls=[
            Control("KwTraceGuid", guid_for("wppkernel/KwTraceGuid"), ["KW_INIT", "KW_IOCTL", "KW_POWER", "KW_LEGACY"],
                    public=True),
        ],
        units=[
            Unit("wmi.c", "none", [], []),
            Unit("drvinit.c", "km-inline", [
                Function("DriverEntry", "void *DriverObject, void *RegistryPath", [
                    "(void)DriverObject;",
                    "WppLoadTracingSupport();",
                    "WPP_INIT_TRACING();",
                    "TRACE",
                    "return STATUS_SUCCESS;",
                ], calls=["WppLoadTracingSupport", "WppInitControlBlocks"], ret="NTSTATUS"),
            ], [
                Message("DriverEntry", "DoTraceEvents", "TRACE_LEVEL_INFORMATION", "KW_INIT",
                        "%0wppkernel DriverEntry, registry path %10!p!", [("RegistryPath", "ItemPtr")]),
            ]),
            Unit("dispatch.c", "km", [
                Function("KwpHandleIoctl", "ULONG Code, LONG InLength, LONG OutLength", [
                    "TRACE",
                    "KwpLastIoctl = Code;",
                    "TRACE",
                    "return InLength < OutLength ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;",
                ], ret="NTSTATUS"),
                Function("KwDispatchDeviceControl", "ULONG Code, LONG InLength, LONG OutLength", [
                    "if ((Code & 0xFFFF0000u) != 0x00220000u) {",
                    "    NTSTATUS Status = STATUS_INVALID_PARAMETER;",
                    "    TRACE",
                    "    return Status;",
                    "}",
                    "return KwpHandleIoctl(Code, InLength, OutLength);",
                ], calls=["KwpHandleIoctl"], exported=True, ret="NTSTATUS"),
            ], [
                Message("KwpHandleIoctl", "DoTraceEvents", "TRACE_LEVEL_VERBOSE", "KW_IOCTL",
                        "%0IOCTL %10!x!", [("Code", "ItemULongX")]),
                Message("KwpHandleIoctl", "DoTraceEvents", "TRACE_LEVEL_VERBOSE", "KW_IOCTL",
                        "%0buffer sizes in %10!d! out %11!d!", [("InLength", "ItemLong"), ("OutLength", "ItemLong")]),
                Message("KwDispatchDeviceControl", "DoTraceEvents", "TRACE_LEVEL_ERROR", "KW_IOCTL",
                        "%0unknown IOCTL %10!x! -> %11!s!", [("Code", "ItemULongX"), ("Status", "ItemNTSTATUS")]),
            ]),
            Unit("power.c", "km", [
                Function("KwpTransition", "LONG From, LONG To", [
                    "KwpPowerState = To;",
                    "TRACE",
                ]),
                Function("KwSetPowerState", "LONG State", [
                    "if (State == KwpPowerState) {",
                    "    return STATUS_SUCCESS;",
                    "}",
                    "KwpTransition(KwpPowerState, State);",
                    "return STATUS_SUCCESS;",
                ], calls=["KwpTransition"], exported=True, ret="NTSTATUS"),
            ], [
                Message("KwpTransition", "DoTraceEvents", "TRACE_LEVEL_INFORMATION", "KW_POWER",
                        "%0power state %10!d! -> %11!d!", [("From", "ItemLong"), ("To", "ItemLong")]),
            ]),
            Unit("legacy.c", "km-legacy", [
                Function("KwpLegacyRead", "ULONG64 Bytes, const void *Address", [
                    "KwpLegacyTotal += Bytes;",
                    "TRACE",
                ]),
                Function("KwLegacyQuery", "ULONG64 Bytes, const void *Address", [
                    "KwpLegacyRead(Bytes, Address);",
                    "return STATUS_SUCCESS;",
                ], calls=["KwpLegacyRead"], exported=True, ret="NTSTATUS"),
            ], [
                Message("KwpLegacyRead", "DoTraceMessage", "KW_LEGACY", None,
                        "%0legacy read %10!I64x! bytes at %11!p!", [("Bytes", "ItemULongLongX"), ("Address", "ItemPtr")],
                        emit_func=False),
            ]),
        ],
    )
    return [user, kernel]


def message_guid(image: Image, unit: Unit) -> str:
    return guid_for(f"{image.name}/{unit.file}/messages")


def signature(msg: Message) -> str:
    return "".join(ARG_TYPES[t][0] for _expr, t in msg.args)


