"""C sources of the WPP fixture, written the way tracewpp writes them (``.tmh`` headers, WPP_SF_ wrappers)."""

from __future__ import annotations

import os
import uuid

from samples import ctemplate
from samples.guid import guid_initializer
from samples.wpp.model import (
    ARG_TYPES,
    WPP_TRACE_OPTIONS,
    Control,
    Image,
    Message,
    Unit,
    canonical,
    message_guid,
    signature,
    trace_guids_symbol,
)

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
    """``<image>.h``: samples/templates/wpp_header.h.in with the image's control GUIDs, the control block of its
    mode (wpp_control_km.h / wpp_control_um.h) and the prototypes of its functions."""
    guids = []
    for control in image.controls:
        u = uuid.UUID(control.guid)
        parts = f"{u.hex[:8]},{u.hex[8:12]},{u.hex[12:16]},{u.hex[16:20]},{u.hex[20:]}"
        guids.append(f"    WPP_DEFINE_CONTROL_GUID({control.name}, ({parts}), \\")
        guids += [f"        WPP_DEFINE_BIT({flag}) \\" for flag in control.flags]
        guids.append("    ) \\")
    functions = []
    for unit in image.units:
        for fn in unit.functions:
            if fn.name != image.entry:
                decl = "__declspec(dllexport) " if fn.exported else ""
                functions.append(f"{decl}{fn.ret} {fn.name}({fn.params});")
    block = "wpp_control_km.h" if image.kind == "kernel" else "wpp_control_um.h"
    return ctemplate.fill(
        ctemplate.SHARED / "wpp_header.h.in", name=image.name, control_guids="\n".join(guids),
        control_block=ctemplate.shared(block).rstrip("\n"),
        functions="\n".join(functions))


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
    """The unit's .tmh: what tracewpp would generate for it from the right template
    (samples/templates/wpp_unit.tmh.in with the unit's control annotation, WPP_SF_ functions and call macros)."""
    this_file = canonical(unit.file)
    if unit.template in ("um-inline", "km-inline"):
        inline = "static __forceinline"
    else:
        inline = "__declspec(noinline) __inline"
    if unit.template == "km-legacy":
        trace = "WmiTraceMessage"
    elif unit.template.startswith("km"):
        trace = "pfnWppTraceMessage"
    else:
        trace = "TraceMessage"
    out: list[str] = []
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
        arg_names = [f"_a{10 + i}" for i in range(len(msg.args))]
        if msg.macro == "DoTraceEvents":
            fixed = "LEVEL, FLAGS, MSG"
            enabled, logger = "WPP_LEVEL_FLAGS_ENABLED(LEVEL, FLAGS)", "WPP_LEVEL_FLAGS_LOGGER(LEVEL, FLAGS)"
        else:
            fixed = "LEVEL, MSG"
            enabled, logger = "WPP_LEVEL_ENABLED(LEVEL)", "WPP_LEVEL_LOGGER(LEVEL)"
        macro_args = fixed + "".join(f", {p}" for p in arg_names)
        call_args = "".join(f", {p}" for p in arg_names)
        out += [
            f"#define WPP_CALL_{name}({macro_args}) \\",
            f"    WPP_ANNOTATE_{name}, \\",
            f"    ((WPP_CHECK_INIT {enabled}) \\",
            f"        ? WPP_SF_{signature(msg)}({logger} {msg.number}, WPP_LOCAL_TraceGuids + 0{call_args}), 1 \\",
            "        : 0)",
        ]
    return ctemplate.fill(
        ctemplate.SHARED / "wpp_unit.tmh.in", stem=unit.file[:-2], file=unit.file, template=unit.template,
        this_file=this_file, inline=inline, trace=trace, options=f"0x{WPP_TRACE_OPTIONS:x}",
        guids_symbol=trace_guids_symbol(image.name, unit.file), guid=guid_initializer(message_guid(image, unit)),
        body="\n".join(out))


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


