#!/usr/bin/env python3
"""WPP fixture: two small images whose PDBs carry WPP trace-message metadata, with their ground truth.

The script keeps an explicit model of two WPP-instrumented images, writes their C sources the way the WPP
preprocessor (tracewpp) writes ``.tmh`` headers, builds them with clang and lld-link, and writes ``truth.json``
from the model alone:

* ``wppuser.dll``: a user-mode DLL importing ``TraceMessage`` from advapi32.dll (through an import library
  generated here from ``advapi32.def`` with llvm-dlltool). ``widget.c`` and ``queue.c`` use the WPP template's
  out-of-line ``WPP_SF_*`` wrappers (``__declspec(noinline) __inline``: COMDATs, one copy per signature in the
  image), which call ``TraceMessage``; ``init.c`` uses force-inlined wrappers, so ``DllMain`` calls
  ``TraceMessage`` itself.
* ``wppkernel.exe``: a kernel-style image (native subsystem, ``DriverEntry``) that exports ``WmiTraceMessage``
  as ntoskrnl does. ``dispatch.c`` and ``power.c`` use the kernel template: ``WPP_SF_*`` wrappers calling
  through the ``pfnWppTraceMessage`` function pointer with the logger read from ``WPP_GLOBAL_Control``;
  ``drvinit.c`` force-inlines that indirect call into ``DriverEntry`` (the pointer is set by a separate
  ``WppLoadTracingSupport``, as the WPP kernel runtime does, so the compiler cannot turn it into a direct call);
  ``legacy.c`` uses an older template (the ``#typev  name`` annotation layout) whose wrappers call the exported
  ``WmiTraceMessage`` directly.

Every trace call is written as tracewpp's macros expand it: ``WPP_ANNOTATE_<name>`` (an
``__annotation(L"TMF:", ...)`` that clang turns into an S_ANNOTATION symbol at that point of the code), then the
enable check, then the ``WPP_SF_*`` call with (logger, message number, ``WPP_LOCAL_TraceGuids+0``, args...).
Control GUIDs are described by ``__annotation(L"TMC:", guid, name, flag names...)`` in a force-inlined
``WPP_CONTROL_ANNOTATION()`` called from the entry point.

Usage (from the repository root; needs clang, lld-link and llvm-dlltool):

  python -m samples.wpp.build            write the sources and truth.json, build both images
  python -m samples.wpp.build --sources  write the sources and truth.json only
  python -m samples.wpp.build --check    check the committed sources and truth.json equal the model's, rebuild
                                         in a temporary directory and compare the images and PDBs byte for byte

Reproducibility: each C file is compiled through samples/toolchain.py's path-free ``-cc1`` line; lld-link runs
with ``/Brepro /pdbaltpath:NAME.pdb /pdbsourcepath:.``. Objects and import libraries are deleted after linking.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from samples import driver, toolchain
from samples.guid import guid_initializer

HERE = os.path.dirname(os.path.abspath(__file__))
TRUTH_FORMAT = 1
COMPILE_FLAGS = (f"--target={toolchain.TARGET}", "-O2", *toolchain.DEBUG_FLAGS)
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


def build_model() -> list[Image]:
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
    images = [user, kernel]
    for image in images:  # number the messages and place them on their lines
        for unit in image.units:
            c_source(image, unit)
    return images


def message_guid(image: Image, unit: Unit) -> str:
    return guid_for(f"{image.name}/{unit.file}/messages")


def signature(msg: Message) -> str:
    return "".join(ARG_TYPES[t][0] for _expr, t in msg.args)


# ---------------------------------------------------------------------------------------------------------------
# C emission.
# ---------------------------------------------------------------------------------------------------------------


def c_wide(text: str) -> str:
    return 'L"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

def tmf_strings(image: Image, unit: Unit, msg: Message) -> list[str]:
    """The strings of the message's TMF annotation, as tracewpp's templates build them."""
    guid = message_guid(image, unit)
    name = f"{canonical(unit.file)}{msg.line}"
    legacy = unit.template == "km-legacy"
    if msg.public:
        src, name, argnames = "Unknown_cxx00", "Unknown_cxx00", ["Arg"] * len(msg.args)
    else:
        src, argnames = unit.file, [expr for expr, _t in msg.args]
    goo = f"LEVEL={msg.level}" + (f" FLAGS={msg.flags}" if msg.flags else "")
    if legacy:  # the 2005 template: "#typev  Name No ..." with the arguments' numbers after "--"
        typev = f'#typev  {name} {msg.number} "{msg.text}" //   {goo}'
    else:
        typev = f'#typev {name} {msg.number} "{msg.text}" //   {goo}'
    if msg.emit_func:
        typev += f" FUNC={msg.function}"
    strings = ["TMF:", f"{guid} {image.project} // SRC={src} MJ= MN=", typev, "{"]
    for i, ((_expr, moftype), argname) in enumerate(zip(msg.args, argnames)):
        strings.append(f"{argname}, {moftype} -- {10 + i}")
    strings.append("}")
    if msg.public:
        strings.append("PUBLIC_TMF:")
    return strings


def tmc_strings(control: Control) -> list[str]:
    strings = ["TMC:", control.guid, control.name, *control.flags]
    if control.public:
        strings.append("PUBLIC_TMF:")
    return strings


def common_header(image: Image) -> str:
    km = image.kind == "kernel"
    out = [
        f"/* {image.name}.h: types and the WPP control model of {image.name} (written by build.py). */",
        "#pragma once",
        "typedef unsigned char UCHAR;",
        "typedef unsigned short USHORT;",
        "typedef unsigned short WCHAR;",
        "typedef long LONG;",
        "typedef unsigned long ULONG;",
        "typedef long long LONG64;",
        "typedef unsigned long long ULONG64;",
        "typedef unsigned long long SIZE_T;",
        "typedef unsigned long long TRACEHANDLE;",
        "typedef long NTSTATUS;",
        "typedef struct _GUID { ULONG Data1; USHORT Data2; USHORT Data3; UCHAR Data4[8]; } GUID;",
        "typedef const GUID *LPCGUID;",
        "typedef GUID *LPGUID;",
        "#define STATUS_SUCCESS ((NTSTATUS)0)",
        "#define STATUS_INVALID_PARAMETER ((NTSTATUS)0xC000000DL)",
        "#define STATUS_INVALID_HANDLE ((NTSTATUS)0xC0000008L)",
        "",
        "/* WPP_CONTROL_GUIDS, as the driver or DLL defines it. */",
        "#define WPP_CONTROL_GUIDS \\",
    ]
    for control in image.controls:
        u = uuid.UUID(control.guid)
        parts = f"{u.hex[:8]},{u.hex[8:12]},{u.hex[12:16]},{u.hex[16:20]},{u.hex[20:]}"
        out.append(f"    WPP_DEFINE_CONTROL_GUID({control.name}, ({parts}), \\")
        for flag in control.flags:
            out.append(f"        WPP_DEFINE_BIT({flag}) \\")
        out.append("    ) \\")
    out.append("")
    out += [
        "/* template control.tpl: control block names, bits and the control block array. */",
        "#define WPP_DEFINE_CONTROL_GUID(Name, Guid, Bits) WPP_CTL_ ## Name,",
        "enum WPP_CTL_NAMES { WPP_CONTROL_GUIDS WPP_LAST_CTL };",
        "#undef WPP_DEFINE_CONTROL_GUID",
        "#define WPP_DEFINE_CONTROL_GUID(Name, Guid, Bits) \\",
        "    WPP_BLOCK_START_ ## Name = WPP_CTL_ ## Name * 0x10000, Bits WPP_BLOCK_END_ ## Name,",
        "#define WPP_DEFINE_BIT(Name) WPP_BIT_ ## Name,",
        "enum WPP_DEFINE_BIT_NAMES { WPP_CONTROL_GUIDS };",
        "#undef WPP_DEFINE_BIT",
        "#undef WPP_DEFINE_CONTROL_GUID",
        "#define WPP_MASK(CTL) (1u << (((CTL) - 1) & 31))",
        "#define WPP_FLAG_NO(CTL) ((0xFFFF & ((CTL) - 1)) / 32)",
        "#define WPP_CTRL_NO(CTL) ((CTL) >> 16)",
        "",
    ]
    if km:
        out += [
            "typedef struct _WPP_TRACE_CONTROL_BLOCK {",
            "    void *Callback;                          /* 0x00 */",
            "    LPCGUID ControlGuid;                     /* 0x08 */",
            "    struct _WPP_TRACE_CONTROL_BLOCK *Next;   /* 0x10 */",
            "    TRACEHANDLE Logger;                      /* 0x18 */",
            "    void *RegistryPath;                      /* 0x20 */",
            "    UCHAR FlagsLen;                          /* 0x28 */",
            "    UCHAR Level;                             /* 0x29 */",
            "    USHORT Reserved;                         /* 0x2a */",
            "    ULONG Flags[1];                          /* 0x2c */",
            "} WPP_TRACE_CONTROL_BLOCK;",
            "typedef union { WPP_TRACE_CONTROL_BLOCK Control; UCHAR ReserveSpace[0x50]; } WPP_CB_TYPE;",
            "extern WPP_CB_TYPE WPP_MAIN_CB[WPP_LAST_CTL];",
            "extern WPP_CB_TYPE *WPP_GLOBAL_Control;",
            "#define WPP_CB WPP_GLOBAL_Control",
            "#define WPP_CONTROL(CTL) (WPP_CB[WPP_CTRL_NO(CTL)].Control)",
            "#define WPP_CHECK_INIT (WPP_CB != (WPP_CB_TYPE *)&WPP_CB) &&",
            "",
            "/* ntoskrnl's WMI trace-message API and the function pointer the kernel template calls through. */",
            "__declspec(dllexport) NTSTATUS WmiTraceMessage(TRACEHANDLE LoggerHandle, ULONG MessageFlags,",
            "                                              LPCGUID MessageGuid, USHORT MessageNumber, ...);",
            "typedef NTSTATUS (*PFN_WPPTRACEMESSAGE)(TRACEHANDLE LoggerHandle, ULONG MessageFlags, LPCGUID MessageGuid,",
            "                                        USHORT MessageNumber, ...);",
            "extern PFN_WPPTRACEMESSAGE pfnWppTraceMessage;",
            "void WppLoadTracingSupport(void);",
        ]
    else:
        out += [
            "typedef struct _WPP_TRACE_CONTROL_BLOCK {",
            "    struct _WPP_TRACE_CONTROL_BLOCK *Next;   /* 0x00 */",
            "    TRACEHANDLE UmRegistrationHandle;        /* 0x08 */",
            "    TRACEHANDLE Logger;                      /* 0x10 */",
            "    UCHAR FlagsLen;                          /* 0x18 */",
            "    UCHAR Level;                             /* 0x19 */",
            "    USHORT Options;                          /* 0x1a */",
            "    ULONG Flags[1];                          /* 0x1c */",
            "    LPCGUID ControlGuid;                     /* 0x20 */",
            "} WPP_TRACE_CONTROL_BLOCK;",
            "typedef union { WPP_TRACE_CONTROL_BLOCK Control; UCHAR ReserveSpace[0x28]; } WPP_CB_TYPE;",
            "extern WPP_CB_TYPE WPP_MAIN_CB[WPP_LAST_CTL];",
            "extern WPP_CB_TYPE *WPP_GLOBAL_Control;",
            "#define WPP_CB WPP_GLOBAL_Control",
            "#define WPP_CONTROL(CTL) (WPP_CB[WPP_CTRL_NO(CTL)].Control)",
            "#define WPP_CHECK_INIT (WPP_CB != (WPP_CB_TYPE *)&WPP_CB) &&",
            "",
            "/* advapi32!TraceMessage (imported). */",
            "__declspec(dllimport) ULONG __cdecl TraceMessage(TRACEHANDLE LoggerHandle, ULONG MessageFlags,",
            "                                                 LPCGUID MessageGuid, USHORT MessageNumber, ...);",
            "ULONG WppStrLenA(const char *String);",
        ]
    out += [
        "",
        "/* WPP_LEVEL_LOGGER/ENABLED (DoTraceMessage: LEVEL is a flag name) and WPP_LEVEL_FLAGS_* (DoTraceEvents). */",
        "#define WPP_LEVEL_LOGGER(FLAG) (WPP_CONTROL(WPP_BIT_ ## FLAG).Logger),",
        "#define WPP_LEVEL_ENABLED(FLAG) \\",
        "    (WPP_CONTROL(WPP_BIT_ ## FLAG).Flags[WPP_FLAG_NO(WPP_BIT_ ## FLAG)] & WPP_MASK(WPP_BIT_ ## FLAG))",
        "#define WPP_LEVEL_FLAGS_LOGGER(LVL, FLAGS) (WPP_CONTROL(WPP_BIT_ ## FLAGS).Logger),",
        "#define WPP_LEVEL_FLAGS_ENABLED(LVL, FLAGS) \\",
        "    (WPP_CONTROL(WPP_BIT_ ## FLAGS).Level >= (LVL) && WPP_LEVEL_ENABLED(FLAGS))",
        "#define TRACE_LEVEL_CRITICAL 1",
        "#define TRACE_LEVEL_ERROR 2",
        "#define TRACE_LEVEL_WARNING 3",
        "#define TRACE_LEVEL_INFORMATION 4",
        "#define TRACE_LEVEL_VERBOSE 5",
        "",
        "#define WPP_INIT_TRACING() (WPP_CONTROL_ANNOTATION(), WppInitControlBlocks())",
        "void WppInitControlBlocks(void);",
        "",
        "/* The image's own functions. */",
    ]
    for unit in image.units:
        for fn in unit.functions:
            if fn.name in (image.entry,):
                continue
            decl = "__declspec(dllexport) " if fn.exported else ""
            out.append(f"{decl}{fn.ret} {fn.name}({fn.params});")
    out.append("")
    return "\n".join(out)


def log_pairs(args: list[tuple[str, str]], names: list[str]) -> str:
    parts = []
    for (_expr, moftype), name in zip(args, names):
        how = ARG_TYPES[moftype][2]
        if how == "astr":
            parts.append(f'({name}) ? (const void *)({name}) : (const void *)"NULL", '
                         f"(SIZE_T)(({name}) ? WppStrLenA({name}) + 1 : 5)")
        elif how == "guid":
            parts.append(f"(const void *)({name}), (SIZE_T)sizeof(GUID)")
        else:
            parts.append(f"(const void *)&({name}), (SIZE_T)sizeof({name})")
    return "".join(p + ", " for p in parts)


def tmh(image: Image, unit: Unit) -> str:
    """The unit's .tmh: what tracewpp would generate for it from the right template."""
    km = unit.template.startswith("km")
    this_file = canonical(unit.file)
    guid = message_guid(image, unit)
    out = [
        f"/* {unit.file[:-2]}.tmh: WPP trace-message header for {unit.file} (template {unit.template};"
        " written by build.py). */",
        "#pragma once",
        f"#define WPP_THIS_FILE {this_file}",
        "#define WPP_GLUE5(a, b, c, d, e) a ## b ## c ## d ## e",
        "#define WPP_XGLUE5(a, b, c, d, e) WPP_GLUE5(a, b, c, d, e)",
        "#define WPP_(Id) WPP_XGLUE5(WPP_, Id, _, WPP_THIS_FILE, __LINE__)",
        "",
    ]
    if unit.template in ("um-inline", "km-inline"):
        out.append("#define WPP_INLINE static __forceinline")
    else:
        out.append("#define WPP_INLINE __declspec(noinline) __inline")
    if unit.template == "km-legacy":
        out.append("#define WPP_TRACE WmiTraceMessage")
    elif km:
        out.append("#define WPP_TRACE pfnWppTraceMessage")
    else:
        out.append("#define WPP_TRACE TraceMessage")
    out += [
        f"#define WPP_TRACE_OPTIONS 0x{WPP_TRACE_OPTIONS:x}",
        "",
        f"#define WPP_LOCAL_TraceGuids {trace_guids_symbol(image.name, unit.file)}",
        f"static const GUID WPP_LOCAL_TraceGuids[] = {{{guid_initializer(guid)}}};",
        "",
    ]
    if image.entry in [fn.name for fn in unit.functions]:
        out.append("/* WPP_CONTROL_ANNOTATION: one TMC annotation per control GUID. */")
        out.append("static __forceinline void WPP_CONTROL_ANNOTATION(void)")
        out.append("{")
        for control in image.controls:
            strings = ", ".join(c_wide(s) for s in tmc_strings(control))
            out.append(f"    __annotation({strings});")
        out.append("}")
        out.append("")
    sigs: dict[str, list[tuple[str, str]]] = {}
    for msg in unit.messages:
        sigs.setdefault(signature(msg), msg.args)
    for sig, args in sorted(sigs.items()):
        names = [f"_a{10 + i}" for i in range(len(args))]
        params = "".join(f", {ARG_TYPES[t][1]} {n}" for (_e, t), n in zip(args, names))
        out += [
            f"#ifndef WPP_SF_{sig}_def",
            f"#define WPP_SF_{sig}_def",
            f"WPP_INLINE void WPP_SF_{sig}(TRACEHANDLE Logger, unsigned short id, LPCGUID TraceGuid{params})",
            f"{{ WPP_TRACE(Logger, WPP_TRACE_OPTIONS, (LPGUID)TraceGuid, id, {log_pairs(args, names)}(void *)0); }}",
            "#endif",
            "",
        ]
    for msg in unit.messages:
        name = f"{this_file}{msg.line}"
        strings = ", ".join(c_wide(s) for s in tmf_strings(image, unit, msg))
        out.append(f"#define WPP_ANNOTATE_{name} __annotation({strings})")
        params = [f"_a{10 + i}" for i in range(len(msg.args))]
        if msg.macro == "DoTraceEvents":
            fixed = "LEVEL, FLAGS, MSG"
            enabled, logger = "WPP_LEVEL_FLAGS_ENABLED(LEVEL, FLAGS)", "WPP_LEVEL_FLAGS_LOGGER(LEVEL, FLAGS)"
        else:
            fixed = "LEVEL, MSG"
            enabled, logger = "WPP_LEVEL_ENABLED(LEVEL)", "WPP_LEVEL_LOGGER(LEVEL)"
        macro_args = fixed + "".join(f", {p}" for p in params)
        call_args = "".join(f", {p}" for p in params)
        out += [
            f"#define WPP_CALL_{name}({macro_args}) \\",
            f"    WPP_ANNOTATE_{name}, \\",
            f"    ((WPP_CHECK_INIT {enabled}) \\",
            f"        ? WPP_SF_{signature(msg)}({logger} {msg.number}, WPP_LOCAL_TraceGuids + 0{call_args}), 1 \\",
            "        : 0)",
        ]
    out += [
        "",
        "#undef DoTraceEvents",
        "#define DoTraceEvents WPP_(CALL)",
        "#undef DoTraceMessage",
        "#define DoTraceMessage WPP_(CALL)",
        "",
    ]
    return "\n".join(out)


def trace_statement(msg: Message) -> str:
    user_fmt = _user_format(msg.text.replace("%0", "", 1), msg.args)
    head = f"{msg.level}, {msg.flags}" if msg.macro == "DoTraceEvents" else msg.level
    args = "".join(f", {expr}" for expr, _t in msg.args)
    literal = '"' + user_fmt.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{msg.macro}({head}, {literal}{args});"


def _user_format(text: str, args: list[tuple[str, str]]) -> str:
    """The format the programmer wrote (``%s``, ``%!STATUS!``...), from tracewpp's ``%10!s!`` form."""
    custom = {"ItemNTSTATUS": "%!STATUS!", "ItemGuid": "%!GUID!"}
    out, i = [], 0
    while i < len(text):
        if text[i] == "%" and text[i + 1 : i + 3].isdigit():
            bang = text.index("!", i)
            end = text.index("!", bang + 1)
            moftype = args[int(text[i + 1 : bang]) - 10][1]
            out.append(custom.get(moftype, "%" + text[bang + 1 : end]))
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def c_source(image: Image, unit: Unit) -> str:
    """The unit's C file; assigns each message its number and line as a side effect."""
    lines = [f"/* {unit.file}: {image.name} (written by build.py; the trace statements are expanded by "
             f"{unit.file[:-2]}.tmh). */",
             f'#include "{image.name}.h"']
    if unit.messages or any(fn.name == image.entry for fn in unit.functions):
        lines.append(f'#include "{unit.file[:-2]}.tmh"')
    lines.append("")
    if unit.file == "wmi.c":
        lines += wmi_body()
    lines += unit_globals(image, unit)
    queue = list(unit.messages)
    number = 10
    for msg in unit.messages:
        msg.number = number
        number += 1
    for fn in unit.functions:
        decl = "__declspec(dllexport) " if fn.exported else ""
        if fn.name == image.entry and image.kind == "kernel":
            decl = ""
        lines.append(f"{decl}__declspec(noinline) {fn.ret} {fn.name}({fn.params})")
        lines.append("{")
        for stmt in fn.body_before:
            indent = "    " + " " * (len(stmt) - len(stmt.lstrip()))
            if stmt.strip() == "TRACE":
                msg = queue.pop(0)
                if msg.function != fn.name:
                    raise RuntimeError(f"message for {msg.function} placed in {fn.name}")
                msg.line = len(lines) + 1
                lines.append(indent + trace_statement(msg))
            else:
                lines.append(indent + stmt.strip())
        lines.append("}")
        lines.append("")
    if queue:
        raise RuntimeError(f"{unit.file}: {len(queue)} messages not placed")
    return "\n".join(lines)


def unit_globals(image: Image, unit: Unit) -> list[str]:
    out = []
    if unit.file == "init.c" or unit.file == "drvinit.c":
        out += [
            "WPP_CB_TYPE WPP_MAIN_CB[WPP_LAST_CTL];",
            "WPP_CB_TYPE *WPP_GLOBAL_Control = (WPP_CB_TYPE *)&WPP_GLOBAL_Control;",
        ]
        if image.kind == "kernel":
            out += [
                "PFN_WPPTRACEMESSAGE pfnWppTraceMessage;",
                "",
                "/* WppLoadTracingSupport: the WPP kernel runtime finds WmiTraceMessage (MmGetSystemRoutineAddress). */",
                "__declspec(noinline) void WppLoadTracingSupport(void)",
                "{",
                "    pfnWppTraceMessage = WmiTraceMessage;",
                "}",
            ]
        out += [
            "",
            "void WppInitControlBlocks(void)",
            "{",
            "    for (ULONG i = 0; i < WPP_LAST_CTL; i++) {",
            "        WPP_MAIN_CB[i].Control.Next = i + 1 < WPP_LAST_CTL ? &WPP_MAIN_CB[i + 1].Control : 0;",
            "        WPP_MAIN_CB[i].Control.FlagsLen = 1;",
            "    }",
            "    WPP_GLOBAL_Control = WPP_MAIN_CB;",
            "}",
            "",
        ]
    elif unit.file == "widget.c":
        out += ["void *WdpTable[8];", ""]
    elif unit.file == "queue.c":
        out += ["void *QpItems[16];", "LONG QpCount;", ""]
    elif unit.file == "dispatch.c":
        out += ["ULONG KwpLastIoctl;", ""]
    elif unit.file == "power.c":
        out += ["LONG KwpPowerState;", ""]
    elif unit.file == "legacy.c":
        out += ["ULONG64 KwpLegacyTotal;", ""]
    return out


def wmi_body() -> list[str]:
    """WmiTraceMessage as ntoskrnl exports it; the body consumes every (pointer, size) pair through a sink."""
    return [
        "volatile ULONG64 WmipTraceSink;",
        "",
        "/* MessageNumber is a USHORT: va_start after a promoted parameter is fine in the x64 calling convention. */",
        '#pragma clang diagnostic ignored "-Wvarargs"',
        "",
        "__declspec(dllexport) __declspec(noinline) NTSTATUS WmiTraceMessage(TRACEHANDLE LoggerHandle, "
        "ULONG MessageFlags,",
        "                                                                  LPCGUID MessageGuid, "
        "USHORT MessageNumber, ...)",
        "{",
        "    __builtin_va_list ap;",
        "    __builtin_va_start(ap, MessageNumber);",
        "    WmipTraceSink = LoggerHandle ^ MessageFlags ^ MessageGuid->Data1 ^ MessageNumber;",
        "    for (const void *data = __builtin_va_arg(ap, const void *); data; data = __builtin_va_arg(ap, "
        "const void *)) {",
        "        WmipTraceSink += (ULONG64)data + __builtin_va_arg(ap, SIZE_T);",
        "    }",
        "    __builtin_va_end(ap);",
        "    return 0;",
        "}",
        "",
    ]


def advapi32_def() -> str:
    return "\n".join([
        "; advapi32.def: the advapi32.dll exports wppuser.dll links against (written by build.py).",
        "LIBRARY advapi32.dll",
        "EXPORTS",
        "    TraceMessage",
        "    TraceMessageVa",
        "",
    ])


def write_sources(out_dir: str, images: list[Image]) -> list[str]:
    """Write every source file of the model into out_dir; returns their names."""
    files: dict[str, str] = {}
    for image in images:
        files[f"{image.name}.h"] = common_header(image)
        for unit in image.units:
            text = c_source(image, unit)  # numbers and lines first: the .tmh needs them
            files[unit.file] = text
            if unit.messages or any(fn.name == image.entry for fn in unit.functions):
                files[unit.file[:-2] + ".tmh"] = tmh(image, unit)
    files["advapi32.def"] = advapi32_def()
    for name, text in files.items():
        with open(os.path.join(out_dir, name), "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")
    return sorted(files)


# ---------------------------------------------------------------------------------------------------------------
# Ground truth.
# ---------------------------------------------------------------------------------------------------------------


TRUTH_NOTES = {
    "controls": "one per TMC annotation: control GUID, name, flag names (bit 0 first), the procedure and module "
                "holding the annotation, its exact strings",
    "messages": "one per trace statement (TMF annotation) in source order; function/module: the procedure and "
                "module holding the annotation and the trace call; name/file/line/tmf_function: as the TMF "
                "writes them (file and name are Unknown_cxx00, line null, when public); format/args: the TMF's "
                "format and (expression, type) list; level/flags: the LEVEL=/FLAGS= values (DoTraceMessage "
                "gives LEVEL=<flag>); control_guid: the TMC defining that flag",
    "call sites": "callee: what the procedure calls (call_instruction call or jmp) after the annotation, with "
                  "callee_args the 0-based argument positions of the logger, message number, message GUID "
                  "pointer (and MessageFlags = trace_options); guid_symbol: the WPP_<md5>_Traceguids array the "
                  "GUID pointer points at; wrapper: the WPP_SF_ function, null when the writer is called "
                  "directly; writer: the trace API finally called, writer_call import (call [IAT]), indirect "
                  "(call [pfnWppTraceMessage]) or direct (call rel32 to the image's own export)",
    "rows": "(exported API, message, procedure) with a shortest path over edges (the direct calls of the "
            "model's functions; WPP_SF_ wrappers and trace APIs left out); depth counts the API and the procedure",
}


def truth(images: list[Image]) -> dict:
    out: dict = {"format": TRUTH_FORMAT, "sample": "wpp", "notes": TRUTH_NOTES, "trace_options": WPP_TRACE_OPTIONS,
                 "images": []}
    for image in images:
        functions = [fn for unit in image.units for fn in unit.functions]
        exported = sorted([fn.name for fn in functions if fn.exported] + image.extra_exports)
        img: dict = {
            "name": image.name,
            "file": f"{image.name}.{image.ext}",
            "pdb": f"{image.name}.pdb",
            "kind": image.kind,
            "provider_name": image.project,
            "exports": exported,
            "controls": [
                {"guid": c.guid, "name": c.name, "flags": list(c.flags), "public": c.public,
                 "function": image.entry, "module": _module_of(image, image.entry),
                 "annotation": tmc_strings(c)}
                for c in image.controls
            ],
            "edges": sorted({(fn.name, callee) for fn in functions for callee in fn.calls}),
            "messages": [],
        }
        img["edges"] = [list(e) for e in img["edges"]]
        for unit in image.units:
            for msg in unit.messages:
                img["messages"].append(_message_truth(image, unit, msg))
        img["rows"] = _rows(image, img["messages"])
        out["images"].append(img)
    return out


def _module_of(image: Image, function: str) -> str:
    for unit in image.units:
        if any(fn.name == function for fn in unit.functions):
            return unit.file[:-2] + ".obj"
    raise KeyError(function)


def _control_of(image: Image, msg: Message) -> Control:
    flag = msg.flags or msg.level
    for control in image.controls:
        if flag in control.flags:
            return control
    raise KeyError(flag)


def _message_truth(image: Image, unit: Unit, msg: Message) -> dict:
    inline = unit.template in ("um-inline", "km-inline")
    if unit.template == "km-legacy":
        writer, writer_call = "WmiTraceMessage", "direct"
    elif unit.template.startswith("km"):
        writer, writer_call = "pfnWppTraceMessage", "indirect"
    else:
        writer, writer_call = "TraceMessage", "import"
    sig = signature(msg)
    control = _control_of(image, msg)
    level = TRACE_LEVELS.get(msg.level)
    return {
        "module": unit.file[:-2] + ".obj",
        "function": msg.function,               # the containing function (the PDB's procedure)
        "message_guid": message_guid(image, unit),
        "number": msg.number,
        "guid_symbol": trace_guids_symbol(image.name, unit.file),
        "name": "Unknown_cxx00" if msg.public else f"{canonical(unit.file)}{msg.line}",
        "file": "Unknown_cxx00" if msg.public else unit.file,
        "line": None if msg.public else msg.line,
        "tmf_function": msg.function if msg.emit_func else None,
        "provider_name": image.project,
        "control_guid": control.guid,
        "control_name": control.name,
        "macro": msg.macro,
        "level": msg.level,
        "level_value": level,
        "flags": msg.flags,
        "format": msg.text,
        "args": [["Arg" if msg.public else expr, moftype] for expr, moftype in msg.args],
        "public": msg.public,
        "annotation": tmf_strings(image, unit, msg),
        # How the trace is emitted in the machine code:
        "callee": writer if inline else f"WPP_SF_{sig}",   # what the containing function calls
        "call_instruction": "jmp" if msg.tail else "call",
        "callee_args": ({"logger": 0, "flags": 1, "guid": 2, "number": 3} if inline
                        else {"logger": 0, "number": 1, "guid": 2}),
        "writer": writer,                        # the trace API finally called
        "writer_call": writer_call,              # import (call [__imp_]), indirect (call [pfn]), direct (call rel32)
        "wrapper": None if inline else f"WPP_SF_{sig}",
    }


def _rows(image: Image, messages: list[dict]) -> list[dict]:
    """(API, message, containing function) with the shortest call path; APIs are the exports and the entry."""
    functions = {fn.name: fn for unit in image.units for fn in unit.functions}
    roots = sorted(name for name, fn in functions.items() if fn.exported)
    rows = []
    for root in roots:
        paths = {root: [root]}
        frontier = [root]
        while frontier:
            nxt = []
            for name in frontier:
                for callee in functions[name].calls if name in functions else []:
                    if callee not in paths:
                        paths[callee] = paths[name] + [callee]
                        nxt.append(callee)
            frontier = nxt
        for msg in messages:
            path = paths.get(msg["function"])
            if path is not None:
                rows.append({"api": root, "message_guid": msg["message_guid"], "number": msg["number"],
                             "function": msg["function"], "depth": len(path), "path": path})
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Carrying the objects' S_ANNOTATION records into the PDB.
#
# clang compiles __annotation(...) into an S_ANNOTATION symbol (offset, segment, string count, NUL-terminated
# strings) nested in the procedure's symbols, its offset relocated (SECREL) against the code section. lld 14 does
# not copy the record into the PDB ("ignoring unknown symbol record with kind 0x1019" with /verbose): it leaves a
# zero-filled S_SKIP record of the same size in its place, so that every other record keeps its offset. MSVC's
# linker keeps the record. After linking, each placeholder is overwritten with the object's annotation: the
# placeholder's enclosing procedure in the PDB names the procedure, the annotations of that procedure are taken
# in the object's order, and the address is the procedure's address in the PDB + the annotation's offset from
# the procedure's first byte in the object (the linker never splits a section's code). Sizes do not change, so
# the blocks of the module stream are rewritten in place. If the linker kept the annotations, nothing is done.
# ---------------------------------------------------------------------------------------------------------------

S_ANNOTATION = 0x1019
S_SKIP = 0x0007
S_GPROC32, S_LPROC32, S_GPROC32_ID, S_LPROC32_ID = 0x1110, 0x110F, 0x1147, 0x1146
PROC_KINDS = (S_GPROC32, S_LPROC32, S_GPROC32_ID, S_LPROC32_ID)
MSF_MAGIC = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0"


@dataclass
class ObjAnnotation:
    proc: str
    delta: int           # offset from the procedure's first byte
    strings: list[str]


def _u16(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 2], "little")


def _u32(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 4], "little")


def _records(data: bytes, start: int, end: int):
    """(offset, kind, record bytes including the length prefix) of each CodeView symbol record."""
    pos = start
    while pos + 4 <= end:
        length = _u16(data, pos)
        if length < 2 or pos + 2 + length > end:
            raise RuntimeError(f"malformed CodeView record at {pos:#x}")
        yield pos, _u16(data, pos + 2), data[pos : pos + 2 + length]
        pos += 2 + length


def obj_annotations(path: str) -> list[ObjAnnotation]:
    """The S_ANNOTATION records of a COFF object, located relative to their enclosing procedure."""
    with open(path, "rb") as handle:
        obj = handle.read()
    nsections, symtab, nsyms, opt = _u16(obj, 2), _u32(obj, 8), _u32(obj, 12), _u16(obj, 16)
    strtab = symtab + 18 * nsyms
    symbols: dict[int, tuple[str, int, int]] = {}  # index -> (name, value, section number)
    i = 0
    while i < nsyms:
        raw = obj[symtab + 18 * i : symtab + 18 * i + 18]
        if raw[:4] == b"\0\0\0\0":
            off = strtab + _u32(raw, 4)
            name = obj[off : obj.index(b"\0", off)].decode()
        else:
            name = raw[:8].rstrip(b"\0").decode()
        symbols[i] = (name, _u32(raw, 8), int.from_bytes(raw[12:14], "little", signed=True))
        i += 1 + raw[17]
    found: list[ObjAnnotation] = []
    for s in range(nsections):
        hdr = 20 + opt + 40 * s
        if obj[hdr : hdr + 8].rstrip(b"\0") != b".debug$S":
            continue
        size, raw_ptr, reloc_ptr, nrelocs = _u32(obj, hdr + 16), _u32(obj, hdr + 20), _u32(obj, hdr + 24), \
            _u16(obj, hdr + 32)
        data = obj[raw_ptr : raw_ptr + size]
        relocs = {}
        for r in range(nrelocs):
            rel = reloc_ptr + 10 * r
            relocs[_u32(obj, rel)] = _u32(obj, rel + 4)  # field offset -> symbol index

        def target(field: int, data: bytes = data, relocs: dict = relocs) -> tuple[int, int]:
            name, value, section = symbols[relocs[field]]
            return section, value + _u32(data, field)

        if _u32(data, 0) != 4:
            continue
        pos = 4
        while pos + 8 <= len(data):
            kind, length = _u32(data, pos), _u32(data, pos + 4)
            body = pos + 8
            if kind == 0xF1:  # symbols
                proc: Optional[tuple[str, int, int]] = None
                for off, rkind, rec in _records(data, body, body + length):
                    if rkind in PROC_KINDS:
                        section, start = target(off + 4 + 28)
                        proc = (rec[4 + 35 : rec.index(b"\0", 4 + 35)].decode(), section, start)
                    elif rkind == S_ANNOTATION:
                        if proc is None:
                            raise RuntimeError(f"{path}: S_ANNOTATION outside a procedure")
                        section, where = target(off + 4)
                        if section != proc[1]:
                            raise RuntimeError(f"{path}: annotation and {proc[0]} in different sections")
                        count = _u16(rec, 4 + 6)
                        strings = rec[4 + 8 :].split(b"\0")[:count]
                        found.append(ObjAnnotation(proc[0], where - proc[2], [t.decode() for t in strings]))
            pos = body + ((length + 3) & ~3)
    return found


def msf_streams(raw: bytes) -> tuple[int, list[Optional[list[int]]], list[int]]:
    """(block size, block list of each stream or None for a nil stream, stream sizes) of an MSF 7.0 file."""
    if raw[:32] != MSF_MAGIC:
        raise RuntimeError("not an MSF 7.0 file")
    bs, dir_bytes, map_addr = _u32(raw, 32), _u32(raw, 44), _u32(raw, 52)
    ndir = (dir_bytes + bs - 1) // bs
    dir_blocks = [_u32(raw, map_addr * bs + 4 * k) for k in range(ndir)]
    directory = b"".join(raw[b * bs : (b + 1) * bs] for b in dir_blocks)[:dir_bytes]
    count = _u32(directory, 0)
    sizes = [_u32(directory, 4 + 4 * k) for k in range(count)]
    pos = 4 + 4 * count
    blocks: list[Optional[list[int]]] = []
    for size in sizes:
        if size == 0xFFFFFFFF:
            blocks.append(None)
            continue
        nblocks = (size + bs - 1) // bs
        blocks.append([_u32(directory, pos + 4 * k) for k in range(nblocks)])
        pos += 4 * nblocks
    return bs, blocks, sizes


def _annotation_record(size: int, offset: int, segment: int, strings: list[str]) -> bytes:
    body = S_ANNOTATION.to_bytes(2, "little") + offset.to_bytes(4, "little") + segment.to_bytes(2, "little")
    body += len(strings).to_bytes(2, "little") + b"".join(s.encode() + b"\0" for s in strings)
    if len(body) + 2 > size:
        raise RuntimeError(f"annotation needs {len(body) + 2} bytes, its placeholder has {size}")
    return (size - 2).to_bytes(2, "little") + body.ljust(size - 2, b"\0")


def restore_annotations(pdb_path: str, per_module: dict[str, list[ObjAnnotation]]) -> int:
    """Overwrite lld's S_SKIP placeholders with the objects' annotations; returns how many were restored."""
    with open(pdb_path, "rb") as handle:
        raw = bytearray(handle.read())
    bs, blocks, sizes = msf_streams(bytes(raw))

    def read(index: int) -> bytes:
        return b"".join(bytes(raw[b * bs : (b + 1) * bs]) for b in blocks[index])[: sizes[index]]

    dbi = read(3)
    pos, end, restored = 64, 64 + _u32(dbi, 24), 0
    while pos + 64 <= end:
        name_end = dbi.index(b"\0", pos + 64)
        module = os.path.basename(dbi[pos + 64 : name_end].decode().replace("\\", "/"))
        obj_end = dbi.index(b"\0", name_end + 1)
        stream, sym_size = _u16(dbi, pos + 34), _u32(dbi, pos + 36)
        pos = (obj_end + 1 + 3) & ~3
        wanted = per_module.get(module)
        if not wanted or stream == 0xFFFF:
            continue
        queues: dict[str, list[ObjAnnotation]] = {}
        for ann in wanted:
            queues.setdefault(ann.proc, []).append(ann)
        data = bytearray(read(stream))
        proc: Optional[tuple[str, int, int, int]] = None  # name, end offset, code offset, segment
        for off, kind, rec in list(_records(bytes(data), 4, sym_size)):
            if kind == S_ANNOTATION:
                return 0
            if kind in PROC_KINDS:
                name = rec[4 + 35 : rec.index(b"\0", 4 + 35)].decode()
                proc = (name, _u32(rec, 4 + 4), _u32(rec, 4 + 28), _u16(rec, 4 + 32))
            elif kind == S_SKIP and not any(rec[4:]) and proc is not None and off < proc[1]:
                queue = queues.get(proc[0])
                if not queue:
                    raise RuntimeError(f"{module}: a placeholder in {proc[0]} without an annotation")
                ann = queue.pop(0)
                data[off : off + len(rec)] = _annotation_record(len(rec), proc[2] + ann.delta, proc[3], ann.strings)
                restored += 1
        left = [a.proc for q in queues.values() for a in q]
        if left:
            raise RuntimeError(f"{module}: no placeholder for the annotations in {', '.join(left)}")
        for k, block in enumerate(blocks[stream]):
            chunk = bytes(data[k * bs : (k + 1) * bs])
            raw[block * bs : block * bs + len(chunk)] = chunk
    with open(pdb_path, "wb") as handle:
        handle.write(bytes(raw))
    return restored


# ---------------------------------------------------------------------------------------------------------------
# Building.
# ---------------------------------------------------------------------------------------------------------------


def link_flags(image: Image) -> list[str]:
    flags = ["/nologo", "/machine:x64", "/debug", "/Brepro", f"/pdbaltpath:{image.name}.pdb", "/pdbsourcepath:.",
             "/nodefaultlib", "/opt:ref", "/opt:noicf", f"/entry:{image.entry}",
             f"/out:{image.name}.{image.ext}", f"/pdb:{image.name}.pdb"]
    if image.kind == "dll":
        flags += ["/dll", "/subsystem:windows"]
    else:
        flags += ["/subsystem:native", "/driver"]
    return flags


def build(out_dir: str, images: list[Image]) -> list[str]:
    """Compile and link every image in out_dir (which holds the sources); returns the built files."""
    built = []
    toolchain.import_library("advapi32.def", "advapi32.lib", out_dir)
    try:
        for image in images:
            objs = []
            for unit in image.units:
                obj = unit.file[:-2] + ".obj"
                toolchain.compile_c(unit.file, obj, out_dir, COMPILE_FLAGS)
                objs.append(obj)
            libs = ["advapi32.lib"] if image.kind == "dll" else []
            toolchain.link([*link_flags(image), *objs, *libs], out_dir)
            annotations = {obj: obj_annotations(os.path.join(out_dir, obj)) for obj in objs}
            restore_annotations(os.path.join(out_dir, f"{image.name}.pdb"), annotations)
            for obj in objs:
                os.unlink(os.path.join(out_dir, obj))
            for leftover in (f"{image.name}.lib", f"{image.name}.exp"):
                path = os.path.join(out_dir, leftover)
                if os.path.exists(path):
                    os.unlink(path)
            built += [f"{image.name}.{image.ext}", f"{image.name}.pdb"]
    finally:
        lib = os.path.join(out_dir, "advapi32.lib")
        if os.path.exists(lib):
            os.unlink(lib)
    return built


def write_truth(out_dir: str, images: list[Image]) -> None:
    with open(os.path.join(out_dir, "truth.json"), "w", encoding="utf-8", newline="\n") as handle:
        json.dump(truth(images), handle, indent=1)
        handle.write("\n")


def _write(out: Path) -> None:
    images = build_model()
    write_sources(str(out), images)
    write_truth(str(out), images)


def _build(out: Path) -> None:
    _write(out)
    build(str(out), build_model())


def _outputs() -> tuple[str, ...]:
    images = build_model()
    with tempfile.TemporaryDirectory(prefix="wpp-names-") as tmp:
        names = write_sources(tmp, images)
    return (*names, "truth.json", *(f"{i.name}.{ext}" for i in images for ext in (i.ext, "pdb")))


FIXTURES = (driver.Fixture("wpp", Path(HERE), _outputs(), _build, tools=(*toolchain.BUILD_TOOLS, "llvm-dlltool"),
                           sources=_write),)

if __name__ == "__main__":
    raise SystemExit(driver.main(FIXTURES, __doc__.splitlines()[0]))
