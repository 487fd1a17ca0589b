"""Build the data-flow idiom fixture: one user-mode DLL per optimisation level whose ETW writes use the
idioms optimising compilers and mc.exe-style headers produce, with the truth computed from this file's model.

``python -m samples.idioms.build [--check]``: writes ``idioms.c`` (``idioms.c.in`` filled from ``MODEL``, below),
``truth.json`` from the same model, then builds ``O1/``, ``O2/``, ``Os/`` ``idioms.dll`` + ``idioms.pdb`` with clang
(``--target=x86_64-pc-windows-msvc -gcodeview``, through the ``-cc1`` line without machine paths, as
samples/toolchain.py has it) and lld-link (``/debug /Brepro /pdbaltpath:``, ``/opt:icf`` so identical
template bodies are folded into one). Import libraries come from ``advapi32.def`` and ``kernel32.def``
(llvm-dlltool). ``--check`` rebuilds in a temporary folder and compares every byte.

Idioms (one exported function each, the row's ``Function``):

* ``table_mask``: ``EventWrite(h, Table[kind & 3], ...)``: a table of descriptor pointers, index bounded by a mask;
* ``table_switch``: a ``switch`` picking one of four descriptors (clang lowers it to a lookup table);
* ``table_guard``: ``if (kind < 3) EventWrite(h, Tables.Guarded[kind], ...)``, the guarded table directly followed by
  another table of descriptor pointers (the bound comes from the compare, not from the run of pointers);
* ``imul``: a write whose UserDataCount is a product (two- and three-operand ``imul`` must not clobber RDX);
* ``copy_patch``: a ``rep movsb`` copy of a descriptor, patched; and an mc.exe-style ``McGenEventWrite`` that copies the EVENT_DESCRIPTOR to the stack and patches
  its Channel, called through generic, context-constant and one-event templates behind EnableBits guards;
  the provider's handle is the first field of its MCGEN_TRACE_CONTEXT (RegistrationHandle);
* ``context_field``: the REGHANDLE lives in memory the code allocates; a pointer to it is kept in a field of
  the provider's state object (the CallbackContext), and writes read ``[[self+0x28]]`` through a parameter;
* ``getprocaddress``: ``EventWrite`` called through a global filled by ``GetProcAddress(m, "EventWrite")``;
* ``global_pointer``: the provider's state reached through a global pointer assigned once (``g = &State``);
* ``classic``: RegisterTraceGuidsW with a control GUID and three class GUIDs, TraceEvent with the class GUID
  copied into the EVENT_TRACE_HEADER or referenced through GuidPtr (WNODE_FLAG_USE_GUID_PTR);
* ``cfg_check``: ``EventWrite`` from GetProcAddress checked by ``call [__guard_check_icall_fptr]`` with the target
  in RCX and called through RAX after it (the check changes no argument register);
* ``struct_copy``: a WRITE_CONTEXT template whose field 0x18 is the EVENT_DESCRIPTOR, copied by value to the
  stack (moves that do not start at the field) and its field written: the descriptor is the template's field;
* ``runtime_field``: EventRegister and EventWriteTransfer looked up with GetProcAddress into the fields of a heap
  object, each encoded by a ``p ^ secret`` function and decoded by it before the call; the code is built with
  Control Flow Guard, so the calls go through ``__guard_dispatch_icall_fptr`` with the target in RAX (as
  MSVC's /guard:cf builds do; the fixture defines the dispatch pointer itself, pointing at ``jmp rax``);
* ``fill``: classic headers zeroed by ``memset`` and ``RtlZeroMemory`` (called through import thunks) and
  ``RtlFillMemory`` (through the IAT), then partly filled: the Version nobody writes is the fill's 0;
* ``classic_instance``: CreateTraceInstanceId from the third class's TRACE_GUID_REGISTRATION.RegHandle, then
  TraceEventInstance with an EVENT_INSTANCE_HEADER (no GUID in it: the class comes from the instance info);
* ``classic_by_reference``: one trace helper that copies the class GUID its caller passes by reference into the
  header (``h.Guid = *Class``) and takes Type and Level as arguments, called by two exports (one class the
  registration does not list), and one that keeps the caller's pointer as GuidPtr;
* ``rep_fill``: a size-optimised function built without SSE whose 112-byte event (header and MOF fields) clang
  zeroes with an inline ``rep stosd``: the Version nobody writes is that fill's 0;
* ``zero_test``: a descriptor copied to the stack whose Level is patched with ``lea ecx, [rax + n]`` on the path where
  ``test rax, rax; jne`` says RAX is zero (MSVC reuses the register it knows is zero; written in assembly);
* ``shared_exit``: one EventWrite at the start of a function, jumped back to from ten paths that each choose a
  descriptor (MSVC's shared error exit placed before the code that reaches it; written in assembly).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from samples import ctemplate, driver, toolchain
from samples.guid import guid_initializer

HERE = Path(__file__).resolve().parent
LEVELS = ("O1", "O2", "Os")
DEFS = ("advapi32.def", "kernel32.def", "ntdll.def")
OUTPUTS = ("idioms.dll", "idioms.pdb")
#: The C of every idiom, with ``${name}`` where the model fills in (samples/ctemplate.py).
TEMPLATE = HERE / "idioms.c.in"


@dataclass(frozen=True)
class Event:
    """One event of the model: where it is written from and what the analysis must report."""

    symbol: str
    export: str
    idiom: str
    provider: str  # key into PROVIDERS
    id: int = 0
    version: int = 0
    channel: int = 0
    level: int = 4
    opcode: int = 0
    task: int = 0
    keyword: int = 0
    #: The Channel McGenEventWrite patches into its stack copy (None: reported as declared).
    patched_channel: int | None = None
    #: The Level the rep-movs copy is patched with (None: as declared).
    patched_level: int | None = None
    #: The descriptor is the field at this offset of a WRITE_CONTEXT template (symbol ``symbol``), not a
    #: global of its own; the code copies the whole context by value and writes its field.
    in_struct: int | None = None


PROVIDERS = {
    "table": ("TableProviderGuid", "3f1d2c4b-8a7e-4c61-9b52-0d1e2f3a4b5c"),
    "mc": ("McProviderGuid", "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d"),
    "ctx": ("StateProviderGuid", "c2b3a4d5-e6f7-4809-a1b2-c3d4e5f60718"),
    "classic": ("ClassicControlGuid", "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"),
    "ptr": ("PointerProviderGuid", "5e4d3c2b-1a09-4f8e-9d7c-6b5a49382716"),
    "rt": ("RuntimeProviderGuid", "6f5e4d3c-2b1a-4098-8f7e-6d5c4b3a2918"),
}
CLASSES = {"ClassicClassA": "1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f0", "ClassicClassB": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901",
           "ClassicClassC": "3c4d5e6f-7081-4293-a4b5-c6d7e8f90a12"}
#: A class GUID the code writes but the registration does not list: its events go to the one classic provider.
UNREGISTERED_CLASSES = {"ClassicClassD": "4d5e6f70-8192-43a4-b5c6-d7e8f90a1b23"}
MC_CHANNEL = 0x10

MODEL = [
    Event("TABLE_EVT_0", "TableMasked", "table_mask", "table", id=10, task=1, keyword=0x1),
    Event("TABLE_EVT_1", "TableMasked", "table_mask", "table", id=11, task=1, keyword=0x2),
    Event("TABLE_EVT_2", "TableMasked", "table_mask", "table", id=12, task=1, keyword=0x4),
    Event("TABLE_EVT_3", "TableMasked", "table_mask", "table", id=13, task=1, keyword=0x8),
    Event("SWITCH_EVT_0", "TableSwitch", "table_switch", "table", id=20, level=2, task=2),
    Event("SWITCH_EVT_1", "TableSwitch", "table_switch", "table", id=21, level=3, task=2),
    Event("SWITCH_EVT_2", "TableSwitch", "table_switch", "table", id=22, level=4, task=2),
    Event("SWITCH_EVT_3", "TableSwitch", "table_switch", "table", id=23, level=5, task=2),
    Event("GUARD_EVT_0", "TableGuard", "table_guard", "table", id=25, level=1, task=3),
    Event("GUARD_EVT_1", "TableGuard", "table_guard", "table", id=26, level=2, task=3),
    Event("GUARD_EVT_2", "TableGuard", "table_guard", "table", id=27, level=3, task=3),
    Event("NEXT_EVT_0", "NextTable", "table_mask", "table", id=28, level=4, task=4),
    Event("NEXT_EVT_1", "NextTable", "table_mask", "table", id=29, level=5, task=4),
    Event("IMUL_EVT", "ImulCount", "imul", "table", id=30, opcode=1, keyword=0x10),
    Event("IMUL2_EVT", "ImulProduct", "imul", "table", id=31, opcode=2, keyword=0x10),
    Event("DYN_EVT", "DynWrite", "getprocaddress", "table", id=40, level=3, keyword=0x20),
    Event("CHECK_EVT", "CheckedWrite", "cfg_check", "table", id=41, level=2, opcode=4, keyword=0x20),
    Event("StructTemplate", "StructCopy", "struct_copy", "table", id=42, level=3, opcode=5, keyword=0x20,
          in_struct=0x18),
    Event("MC_EVT_START", "McStart", "copy_patch", "mc", id=50, opcode=1, task=5, keyword=0x8000000000000000,
          patched_channel=MC_CHANNEL),
    Event("MC_EVT_STOP", "McStop", "copy_patch", "mc", id=51, opcode=2, task=5, keyword=0x8000000000000000,
          patched_channel=MC_CHANNEL),
    Event("MC_EVT_ONE", "McOne", "copy_patch", "mc", id=52, version=1, task=6, keyword=0x8000000000000000,
          patched_channel=MC_CHANNEL),
    Event("MC_EVT_CTX", "McCtx", "copy_patch", "mc", id=53, task=7, keyword=0x4000000000000000,
          patched_channel=MC_CHANNEL),
    Event("STATE_EVT_A", "StateEventA", "context_field", "ctx", id=60, level=4, keyword=0x1),
    Event("STATE_EVT_B", "StateEventB", "context_field", "ctx", id=61, level=2, keyword=0x2),
    Event("REP_EVT", "RepCopy", "copy_patch", "table", id=80, level=5, opcode=3, keyword=0x40, patched_level=2),
    Event("PTR_EVT", "PointerWrite", "global_pointer", "ptr", id=70, level=3, opcode=10, keyword=0x100),
    Event("RT_EVT", "RuntimeStart", "runtime_field", "rt", id=90, level=4, opcode=1, keyword=0x200),
    Event("ZERO_EVT", "ZeroTest", "zero_test", "table", id=43, level=5, opcode=6, keyword=0x20, patched_level=2),
    *(Event(f"STEP_EVT_{k}", "SharedExitWrite", "shared_exit", "table", id=100 + k, level=2, task=9) for k in range(10)),
]
#: Classic events: (export, class symbol, Class.Type, Class.Level, via GuidPtr, what zeroes the header). Headers
#: zeroed by memset (an import thunk), RtlZeroMemory (a thunk) or RtlFillMemory (``call [__imp_...]``) leave
#: Version unwritten: its 0 comes from the fill.
CLASSIC = [("ClassicStart", "ClassicClassA", 1, 4, False, "MemZero"), ("ClassicStop", "ClassicClassB", 2, 3, True, "MemZero"),
           ("ClassicMemset", "ClassicClassA", 5, 2, False, "memset"),
           ("ClassicZeroed", "ClassicClassB", 6, 5, False, "RtlZeroMemory"),
           ("ClassicFilled", "ClassicClassA", 7, 1, True, "RtlFillMemory")]
#: How each zeroing call is written in C.
ZEROING = {"MemZero": "MemZero(&h, sizeof h)", "memset": "memset(&h, 0, sizeof h)",
           "RtlZeroMemory": "RtlZeroMemory(&h, sizeof h)", "RtlFillMemory": "RtlFillMemory(&h, sizeof h, 0)"}
#: Classic instance events: (export, class symbol (its registration entry's RegHandle), Class.Type, Class.Level).
CLASSIC_INSTANCE = [("ClassicInstance", "ClassicClassC", 3, 2)]
#: Classic events whose class GUID a trace helper receives by reference (``ClassicTraceClass(&Class, level,
#: type)``, one body for every export; ``ClassicTraceClassPtr`` keeps the pointer as GuidPtr): (export, class
#: symbol, Class.Type, Class.Level, via GuidPtr).
CLASSIC_BY_REFERENCE = [("ClassicByRefStart", "ClassicClassC", 1, 4, False), ("ClassicByRefStop", "ClassicClassD", 2, 3, False),
                        ("ClassicByPointer", "ClassicClassB", 4, 5, True)]
#: The classic event whose header an inline ``rep stosd`` zeroes: (export, class symbol, Class.Type, Class.Level).
CLASSIC_REP_FILL = ("ClassicRepStos", "ClassicClassA", 8, 2)


def _fields(e: Event) -> str:
    """The EVENT_DESCRIPTOR initializer of an event."""
    return f"{{{e.id}, {e.version}, 0x{e.channel:x}, {e.level}, {e.opcode}, {e.task}, 0x{e.keyword:x}ULL}}"


def _classic_writer(export: str, cls: str, etype: int, level: int, via_ptr: bool, zeroing: str) -> str:
    """A TraceEvent export: the header zeroed by ``zeroing``, its class GUID copied in or referenced by GuidPtr."""
    guid_line = (f"    h.GuidPtr = (UINT64)&{cls};\n    h.Flags = WNODE_FLAG_TRACED_GUID | WNODE_FLAG_USE_GUID_PTR;"
                 if via_ptr else f"    h.Guid = {cls};\n    h.Flags = WNODE_FLAG_TRACED_GUID;")
    version = "\n    h.Version = 0;" if zeroing == "MemZero" else ""
    return f"""__declspec(dllexport) UINT32 {export}(UINT32 value)
{{
    EVENT_TRACE_HEADER h;
    {ZEROING[zeroing]};
    h.Size = (UINT16)sizeof h;
    h.Type = {etype};
    h.Level = {level};{version}
{guid_line}
    h.ClientContext = value;
    return TraceEvent(ClassicLogger, &h);
}}"""


def _instance_writer(export: str, cls: str, etype: int, level: int) -> str:
    """A TraceEventInstance export whose instance comes from the class's registration entry."""
    return f"""__declspec(dllexport) UINT32 {export}(UINT32 value)
{{
    EVENT_INSTANCE_INFO info;
    EVENT_INSTANCE_HEADER h;
    UINT32 status = CreateTraceInstanceId(ClassicRegs[{list(CLASSES).index(cls)}].RegHandle, &info);
    MemZero(&h, sizeof h);
    h.Size = (UINT16)sizeof h;
    h.Type = {etype};
    h.Level = {level};
    h.Version = 0;
    h.Flags = WNODE_FLAG_TRACED_GUID;
    h.EventId = value;
    return status | TraceEventInstance(ClassicLogger, &h, &info, 0);
}}"""


def source() -> str:
    """idioms.c: ``idioms.c.in`` filled from the model (the analyzer never reads it).

    The template holds the code of each idiom; the model gives the GUIDs, the descriptors, the tables and cases
    built from its events, the values the code patches in and the classic writers. Every symbol of the model
    must be used and every export defined, so an event the template does not write is an error here."""
    switch = [e for e in MODEL if e.idiom == "table_switch"]
    templ = next(e for e in MODEL if e.in_struct is not None)
    rep = next(e for e in MODEL if e.symbol == "REP_EVT")
    zero = next(e for e in MODEL if e.idiom == "zero_test")
    steps = [e for e in MODEL if e.idiom == "shared_exit"]
    step_cases = "\n".join(f'                     "cmpl ${k}, %ecx\\n\\t"\n'
                           f'                     "jne {100 + k}f\\n\\t"\n'
                           f'                     "leaq {e.symbol}(%rip), %rdx\\n\\t"\n'
                           f'                     "jmp 1b\\n\\t"\n'
                           f'                     "{100 + k}:\\n\\t"' for k, e in enumerate(steps) if k)
    guids = [f"const GUID {sym} = {guid_initializer(g)};"
             for sym, g in (*PROVIDERS.values(), *CLASSES.items(), *UNREGISTERED_CLASSES.items())]
    writers = [_classic_writer(*c) for c in CLASSIC] + [_instance_writer(*c) for c in CLASSIC_INSTANCE]
    by_reference = [f"__declspec(dllexport) UINT32 {export}(void) {{ return ClassicTraceClass{'Ptr' if via_ptr else ''}"
                    f"(&{cls}, {level}, {etype}); }}" for export, cls, etype, level, via_ptr in CLASSIC_BY_REFERENCE]
    fill_export, fill_class, fill_type, fill_level = CLASSIC_REP_FILL
    text = ctemplate.fill(
        TEMPLATE, guids="\n".join(guids),
        descriptors="\n".join(f"const EVENT_DESCRIPTOR {e.symbol} = {_fields(e)};" for e in MODEL if e.in_struct is None),
        table=", ".join(f"&{e.symbol}" for e in MODEL if e.export == "TableMasked"),
        switch_cases="\n".join(f"    case {i}: d = &{e.symbol}; break;" for i, e in enumerate(switch[:-1])),
        switch_default=switch[-1].symbol, rep_level=str(rep.patched_level), mc_channel=f"0x{MC_CHANNEL:x}",
        struct_offset=str(templ.in_struct), struct_descriptor=_fields(templ), class_count=str(len(CLASSES)),
        class_regs=", ".join(f"{{&{c}, 0}}" for c in CLASSES), classic_writers="\n".join(writers),
        by_reference_writers="\n".join(by_reference), rep_fill_export=fill_export, rep_fill_class=fill_class,
        rep_fill_type=str(fill_type), rep_fill_level=str(fill_level), zero_level=str(zero.patched_level),
        step_first=steps[0].symbol, step_cases=step_cases)
    symbols = [e.symbol for e in MODEL] + [sym for sym, _g in PROVIDERS.values()] + list(CLASSES) + \
        list(UNREGISTERED_CLASSES)
    unused = sorted({n for n in symbols if len(re.findall(rf"\b{n}\b", text)) < 2})  # defined, never used
    exports = {e.export for e in MODEL} | {c[0] for c in (*CLASSIC, *CLASSIC_INSTANCE, *CLASSIC_BY_REFERENCE)} | \
        {fill_export}
    undefined = sorted(n for n in exports if not re.search(r"__declspec\(dllexport\)[^;{]*\b" + n + r"\(", text))
    if unused or undefined:
        raise ValueError(f"{TEMPLATE.name}: the model's {', '.join(unused + undefined)} not written by the code")
    return text


def _classic_row(export: str, cls: str, etype: int, level: int, idiom: str) -> dict:
    """A classic event: the control GUID is the provider, the class GUID and Class.Type/Level its event."""
    return {"Function": export, "Kind": "classic", "Idiom": idiom, "ProviderGuid": PROVIDERS["classic"][1],
            "ProviderSymbol": PROVIDERS["classic"][0], "EventDescriptorSymbol": cls,
            "ClassGuid": {**CLASSES, **UNREGISTERED_CLASSES}[cls], "Id": None, "Version": 0, "Channel": None,
            "Level": level, "Opcode": etype, "Task": None, "Keyword": None}


def truth() -> dict:
    """The events each export must report, from the model alone."""
    events = []
    for e in MODEL:
        events.append({
            "Function": e.export, "Kind": "manifest", "Idiom": e.idiom, "ProviderGuid": PROVIDERS[e.provider][1],
            "ProviderSymbol": PROVIDERS[e.provider][0],
            "EventDescriptorSymbol": e.symbol if e.in_struct is None else f"{e.symbol}+0x{e.in_struct:x}", "Id": e.id,
            "Version": e.version, "Channel": e.channel if e.patched_channel is None else e.patched_channel,
            "Level": e.level if e.patched_level is None else e.patched_level, "Opcode": e.opcode, "Task": e.task, "Keyword": e.keyword,
        })
    events += [_classic_row(export, cls, etype, level, "classic" if zeroing == "MemZero" else "fill")
               for export, cls, etype, level, _via, zeroing in CLASSIC]
    events += [_classic_row(export, cls, etype, level, "classic_instance")
               for export, cls, etype, level in CLASSIC_INSTANCE]
    events += [_classic_row(export, cls, etype, level, "classic_by_reference")
               for export, cls, etype, level, _via in CLASSIC_BY_REFERENCE]
    events.append(_classic_row(*CLASSIC_REP_FILL, "rep_fill"))
    return {"format": 1, "sample": "idioms", "levels": list(LEVELS), "events": events}


LINK = ("/nologo", "/dll", "/noentry", "/nodefaultlib", "/machine:x64", "/debug", "/Brepro", "/pdbaltpath:idioms.pdb",
        "/pdbsourcepath:.", "/opt:ref", "/opt:icf", "/out:idioms.dll", "/pdb:idioms.pdb", "idioms.obj", "advapi32.lib",
        "kernel32.lib", "ntdll.lib")


def write_sources(out: Path) -> None:
    """idioms.c and truth.json, from the model."""
    (out / "idioms.c").write_text(source(), encoding="utf-8", newline="\n")
    (out / "truth.json").write_text(json.dumps(truth(), indent=1) + "\n", encoding="utf-8", newline="\n")


def build(out: Path) -> None:
    write_sources(out)
    work = Path(tempfile.mkdtemp(prefix="idioms-"))  # one folder for every level: the same relative names
    try:
        shutil.copy(out / "idioms.c", work)
        for name in DEFS:
            shutil.copy(HERE / name, work)
            toolchain.import_library(name, name.replace(".def", ".lib"), work)
        for level in LEVELS:
            flags = [f"--target={toolchain.TARGET}", f"-{level}", *toolchain.DEBUG_FLAGS, "-fno-builtin",
                     "-ffunction-sections", "-Xclang", "-cfguard"]
            toolchain.compile_c("idioms.c", "idioms.obj", work, flags, coverage_first=True)
            toolchain.link(LINK, work)
            (out / level).mkdir(exist_ok=True)
            for name in OUTPUTS:
                shutil.copy(work / name, out / level / name)
            toolchain.remove(work, ("idioms.obj", "idioms.dll", "idioms.pdb", "idioms.lib", "idioms.exp"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


FIXTURES = (driver.Fixture("idioms", HERE, ("idioms.c", "truth.json", *(f"{lv}/{n}" for lv in LEVELS for n in OUTPUTS)),
                           build, tools=(*toolchain.BUILD_TOOLS, "llvm-dlltool"), sources=write_sources),)

if __name__ == "__main__":
    raise SystemExit(driver.main(FIXTURES, __doc__.splitlines()[0]))
