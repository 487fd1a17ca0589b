"""The C sources of an mc.exe-style image, written from its model.

* ``<name>events.h``: the provider header the way mc.exe lays one out (written from the documented structure of
  mc's generated headers, not copied): an ``MCGEN_TRACE_CONTEXT`` whose first field is the REGHANDLE, const
  ``EVENT_DESCRIPTOR`` globals, enable bits set by ``McGenControlCallbackV2``,
  ``McGenEventRegister``/``McGenEventUnregister``, ``McGenEventWrite`` (the REGHANDLE read from the context) and
  ``McTemplate*`` functions that pack ``EVENT_DATA_DESCRIPTOR`` arrays, named with the kernel
  (``_EtwRegister``/``_EtwWriteTransfer``) or user-mode (``_EventRegister``/``_EventWriteTransfer``) suffix;
  ``EventWrite<Event>()`` macros check the enable bit and call the template (events without data call
  McGenEventWrite themselves);
* ``<name>.c`` from the functions' bodies (``wdmlite.h``/``winlite.h``/``wdflite.h`` from samples/templates hold
  the documented x64 layouts the code touches);
* the ``.def`` files of its imports.
"""

from __future__ import annotations

import re

from samples import ctemplate
from samples.guid import guid_initializer
from samples.mcgen.model import Image

_ARG_C = {"q": "const unsigned int", "x": "const unsigned long long"}


def template_name(image: Image, args: str) -> str:
    return f"McTemplate{'K' if image.mode == 'km' else 'U'}0{args}"


def events_header(image: Image) -> str:
    """The provider header, laid out as mc.exe's generated headers are (structure documented; code ours)."""
    km = image.mode == "km"
    sym = image.symbol
    register = "McGenEventRegister_EtwRegister" if km else "McGenEventRegister_EventRegister"
    unregister = "McGenEventUnregister_EtwUnregister" if km else "McGenEventUnregister_EventUnregister"
    write = "McGenEventWrite_EtwWriteTransfer" if km else "McGenEventWrite_EventWriteTransfer"
    reg_api, unreg_api, write_api = ("EtwRegister", "EtwUnregister", "EtwWriteTransfer") if km else (
        "EventRegister", "EventUnregister", "EventWriteTransfer")
    n = len(image.events)
    words = (n + 31) // 32
    lines = [
        f"/* {image.name}events.h: provider {image.provider}, in the layout of an mc.exe -{image.mode} header. */",
        "#pragma once",
        "",
        "typedef struct _EVENT_DESCRIPTOR {",
        "    USHORT Id; UCHAR Version; UCHAR Channel; UCHAR Level; UCHAR Opcode; USHORT Task; ULONGLONG Keyword;",
        "} EVENT_DESCRIPTOR;",
        "typedef const EVENT_DESCRIPTOR *PCEVENT_DESCRIPTOR;",
        "typedef struct _EVENT_DATA_DESCRIPTOR { ULONGLONG Ptr; ULONG Size; ULONG Reserved; } EVENT_DATA_DESCRIPTOR;",
        "typedef EVENT_DATA_DESCRIPTOR *PEVENT_DATA_DESCRIPTOR;",
        "typedef struct _EVENT_FILTER_DESCRIPTOR *PEVENT_FILTER_DESCRIPTOR;",
        "typedef VOID (*PENABLECALLBACK)(LPCGUID SourceId, ULONG ControlCode, UCHAR Level, ULONGLONG MatchAny,",
        "                                ULONGLONG MatchAll, PEVENT_FILTER_DESCRIPTOR FilterData, PVOID Context);",
        f"DECLSPEC_IMPORT ULONG {reg_api}(LPCGUID ProviderId, PENABLECALLBACK Callback, PVOID Context,"
        " PREGHANDLE RegHandle);",
        f"DECLSPEC_IMPORT ULONG {unreg_api}(REGHANDLE RegHandle);",
        f"DECLSPEC_IMPORT ULONG {write_api}(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR Descriptor, LPCGUID ActivityId,",
        "                                  LPCGUID RelatedActivityId, ULONG Count, PEVENT_DATA_DESCRIPTOR Data);",
        "",
        "/* Per-provider state: the REGHANDLE first, then what the enable callback last received. */",
        "typedef struct _MCGEN_TRACE_CONTEXT {",
        "    TRACEHANDLE RegistrationHandle;",
        "    TRACEHANDLE Logger;",
        "    ULONGLONG MatchAnyKeyword;",
        "    ULONGLONG MatchAllKeyword;",
        "    ULONG Flags;",
        "    ULONG IsEnabled;",
        "    UCHAR Level;",
        "    UCHAR Reserve;",
        "    USHORT EnableBitsCount;",
        "    PULONG EnableBitMask;",
        "    const ULONGLONG *EnableKeyWords;",
        "    const UCHAR *EnableLevel;",
        "} MCGEN_TRACE_CONTEXT, *PMCGEN_TRACE_CONTEXT;",
        "typedef const MCGEN_TRACE_CONTEXT *PCMCGEN_TRACE_CONTEXT;",
        "",
        f"__declspec(selectany) const GUID {sym} = {guid_initializer(image.guid)};",
        f"__declspec(selectany) ULONG {sym}_EnableBits[{words}];",
        f"__declspec(selectany) const ULONGLONG {sym}_Keywords[{n}] = {{"
        + ", ".join(f"0x{e.keyword:x}" for e in image.events) + "};",
        f"__declspec(selectany) const UCHAR {sym}_Levels[{n}] = {{"
        + ", ".join(str(e.level) for e in image.events) + "};",
        f"__declspec(selectany) MCGEN_TRACE_CONTEXT {sym}_Context = {{0, 0, 0, 0, 0, 0, 0, 0, {n},"
        f" {sym}_EnableBits, {sym}_Keywords, {sym}_Levels}};",
        f"#define {sym}Handle ({sym}_Context.RegistrationHandle)",
        "",
    ]
    for e in image.events:
        lines.append(f"__declspec(selectany) const EVENT_DESCRIPTOR {e.symbol} = {{0x{e.id:x}, 0x{e.version:x},"
                     f" 0x{e.channel:x}, 0x{e.level:x}, 0x{e.opcode:x}, 0x{e.task:x}, 0x{e.keyword:x}}};")
    lines += [
        "",
        "/* The enable callback: records the session's level and keywords and sets one enable bit per event. */",
        "DECLSPEC_NOINLINE __inline VOID McGenControlCallbackV2(LPCGUID SourceId, ULONG ControlCode, UCHAR Level,",
        "        ULONGLONG MatchAny, ULONGLONG MatchAll, PEVENT_FILTER_DESCRIPTOR FilterData, PVOID CallbackContext)",
        "{",
        "    PMCGEN_TRACE_CONTEXT Ctx = (PMCGEN_TRACE_CONTEXT)CallbackContext;",
        "    ULONG Ix;",
        "    (void)SourceId; (void)FilterData;",
        "    if (Ctx == NULL) return;",
        "    Ctx->Level = Level; Ctx->MatchAnyKeyword = MatchAny; Ctx->MatchAllKeyword = MatchAll;",
        "    Ctx->IsEnabled = ControlCode == 1;",
        "    for (Ix = 0; Ix < Ctx->EnableBitsCount; Ix++) {",
        "        int on = Ctx->IsEnabled && (Ctx->Level == 0 || Ctx->EnableLevel[Ix] <= Ctx->Level) &&",
        "                 (Ctx->EnableKeyWords[Ix] == 0 || ((Ctx->EnableKeyWords[Ix] & Ctx->MatchAnyKeyword) &&",
        "                  (Ctx->EnableKeyWords[Ix] & Ctx->MatchAllKeyword) == Ctx->MatchAllKeyword));",
        "        if (on) Ctx->EnableBitMask[Ix >> 5] |= 1u << (Ix % 32);",
        "        else Ctx->EnableBitMask[Ix >> 5] &= ~(1u << (Ix % 32));",
        "    }",
        "}",
        "",
        f"DECLSPEC_NOINLINE __inline ULONG {register}(LPCGUID ProviderId, PENABLECALLBACK EnableCallback,",
        "        PVOID CallbackContext, PREGHANDLE RegHandle)",
        "{",
        "    if (*RegHandle) return 0;",
        f"    return {reg_api}(ProviderId, EnableCallback, CallbackContext, RegHandle);",
        "}",
        "",
        f"DECLSPEC_NOINLINE __inline ULONG {unregister}(PREGHANDLE RegHandle)",
        "{",
        "    ULONG Error;",
        "    if (!*RegHandle) return 0;",
        f"    Error = {unreg_api}(*RegHandle);",
        "    *RegHandle = 0;",
        "    return Error;",
        "}",
        "",
        "/* Every write goes through here: the REGHANDLE is read from the context, the descriptor passed on. */",
        f"DECLSPEC_NOINLINE __inline ULONG {write}(PCMCGEN_TRACE_CONTEXT Context, PCEVENT_DESCRIPTOR Descriptor,",
        "        LPCGUID ActivityId, ULONG EventDataCount, PEVENT_DATA_DESCRIPTOR EventData)",
        "{",
        f"    return {write_api}(Context->RegistrationHandle, Descriptor, ActivityId, NULL, EventDataCount, EventData);",
        "}",
        "",
    ]
    for args in sorted({e.args for e in image.events if e.args}):
        params = ", ".join(f"{_ARG_C[a]} _Arg{i}" for i, a in enumerate(args))
        lines += [f"DECLSPEC_NOINLINE __inline ULONG {template_name(image, args)}(PCMCGEN_TRACE_CONTEXT Context,"
                  f" PCEVENT_DESCRIPTOR Descriptor, {params})",
                  "{",
                  f"    EVENT_DATA_DESCRIPTOR EventData[{len(args)}];"]
        for i, a in enumerate(args):
            lines.append(f"    EventData[{i}].Ptr = (ULONGLONG)(ULONG_PTR)&_Arg{i}; EventData[{i}].Size ="
                         f" sizeof({_ARG_C[a]}); EventData[{i}].Reserved = 0;")
        lines += [f"    return {write}(Context, Descriptor, NULL, {len(args)}, EventData);", "}", ""]
    for bit, e in enumerate(image.events):
        enabled = f"(({sym}_EnableBits[{bit >> 5}] & 0x{1 << (bit % 32):08x}u) != 0)"
        lines.append(f"#define EventEnabled{e.symbol}() {enabled}")
        if e.args:
            names = ", ".join(f"a{i}" for i in range(len(e.args)))
            lines.append(f"#define EventWrite{e.symbol}({names}) (EventEnabled{e.symbol}() ?"
                         f" {template_name(image, e.args)}(&{sym}_Context, &{e.symbol}, {names}) : 0)")
        else:
            lines.append(f"#define EventWrite{e.symbol}() (EventEnabled{e.symbol}() ?"
                         f" {write}(&{sym}_Context, &{e.symbol}, NULL, 0, NULL) : 0)")
    return "\n".join(lines) + "\n"



def c_source(image: Image) -> str:
    # The first line names the generator as it was first called (samples/mcgen.py): it is part of the source
    # the PDBs checksum, so the committed images keep it.
    lines = [f"/* {image.file}: generated by samples/mcgen.py from its model. */",
             f'#include "{"wdmlite.h" if image.mode == "km" else "winlite.h"}"']
    lines += ['#include "wdflite.h"'] if image.framework == "kmdf" else []
    lines += [f'#include "{image.name}events.h"', ""]
    lines += image.globals_ + [""]
    for func in image.functions:
        sig = func.signature.format(name=func.name)
        lines.append(sig if func.exported or func.entries == ["entry"] else "DECLSPEC_NOINLINE " + sig)
        lines.append("{")
        lines += ["    " + stmt for stmt in func.body]
        lines += ["}", ""]
    return "\n".join(lines)


def def_files(image: Image) -> dict[str, str]:
    return {dll.split(".")[0] + ".def": f"LIBRARY {dll}\nEXPORTS\n" + "".join(f"{n}\n" for n in names)
            for dll, names in image.imports.items()}


def sources(image: Image) -> dict[str, str]:
    out = {f"{image.name}events.h": events_header(image), f"{image.name}.c": c_source(image)}
    lite = ["wdmlite.h" if image.mode == "km" else "winlite.h"] + (["wdflite.h"] if image.framework == "kmdf" else [])
    out.update({name: ctemplate.shared(name) for name in lite})
    out.update(def_files(image))
    return out


def check_model(image: Image) -> None:
    """The model's calls and writes are what the bodies say (so the truth describes the code)."""
    names = {f.name for f in image.functions}
    symbols = {e.symbol for e in image.events}
    for func in image.functions:
        text = "\n".join(func.body)
        writes = set(re.findall(r"\bEventWrite(\w+)\(", text)) | set(re.findall(r"/\* writes (\w+) \*/", text))
        calls = {n for n in names if re.search(rf"\b{n}\(", text) and n != func.name}
        assert writes == set(func.writes) and writes <= symbols, (func.name, writes)
        assert calls == set(func.calls), (func.name, calls)

