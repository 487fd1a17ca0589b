"""Build the data-flow idiom fixture: one user-mode DLL per optimisation level whose ETW writes use the
idioms optimising compilers and mc.exe-style headers produce, with the truth computed from this file's model.

``python -m samples.idioms.build [--check]``: writes ``idioms.c`` from ``MODEL`` (below), ``truth.json`` from
the same model, then builds ``O1/``, ``O2/``, ``Os/`` ``idioms.dll`` + ``idioms.pdb`` with clang
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
  TraceEventInstance with an EVENT_INSTANCE_HEADER (no GUID in it: the class comes from the instance info).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from samples import driver, toolchain

HERE = Path(__file__).resolve().parent
LEVELS = ("O1", "O2", "Os")
DEFS = ("advapi32.def", "kernel32.def", "ntdll.def")
OUTPUTS = ("idioms.dll", "idioms.pdb")


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


def _guid_c(text: str) -> str:
    g = uuid.UUID(text)
    d4 = ", ".join(f"0x{b:02x}" for b in g.bytes[8:])
    return f"{{0x{g.time_low:08x}, 0x{g.time_mid:04x}, 0x{g.time_hi_version:04x}, {{{d4}}}}}"


def _desc_c(e: Event) -> str:
    return (f"const EVENT_DESCRIPTOR {e.symbol} = {{{e.id}, {e.version}, 0x{e.channel:x}, {e.level}, {e.opcode}, "
            f"{e.task}, 0x{e.keyword:x}ULL}};")


def source() -> str:
    """The C file, written from the model (the analyzer never reads it)."""
    by = {e.symbol: e for e in MODEL}
    guids = "\n".join(f"const GUID {sym} = {_guid_c(g)};" for sym, g in PROVIDERS.values())
    guids += "\n" + "\n".join(f"const GUID {sym} = {_guid_c(g)};" for sym, g in CLASSES.items())
    descs = "\n".join(_desc_c(e) for e in MODEL if e.in_struct is None)
    templ = next(e for e in MODEL if e.in_struct is not None)
    table = ", ".join(f"&{e.symbol}" for e in MODEL if e.export == "TableMasked")
    cases = "\n".join(f"    case {i}: d = &{e.symbol}; break;" for i, e in
                      enumerate(e for e in MODEL if e.idiom == "table_switch") if i < 3)
    last_switch = [e for e in MODEL if e.idiom == "table_switch"][-1].symbol
    classic = []
    for export, cls, etype, level, via_ptr, zeroing in CLASSIC:
        guid_line = (f"    h.GuidPtr = (UINT64)&{cls};\n    h.Flags = WNODE_FLAG_TRACED_GUID | WNODE_FLAG_USE_GUID_PTR;"
                     if via_ptr else f"    h.Guid = {cls};\n    h.Flags = WNODE_FLAG_TRACED_GUID;")
        version = "\n    h.Version = 0;" if zeroing == "MemZero" else ""
        classic.append(f"""__declspec(dllexport) UINT32 {export}(UINT32 value)
{{
    EVENT_TRACE_HEADER h;
    {ZEROING[zeroing]};
    h.Size = (UINT16)sizeof h;
    h.Type = {etype};
    h.Level = {level};{version}
{guid_line}
    h.ClientContext = value;
    return TraceEvent(ClassicLogger, &h);
}}""")
    for export, cls, etype, level in CLASSIC_INSTANCE:
        classic.append(f"""__declspec(dllexport) UINT32 {export}(UINT32 value)
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
}}""")
    return f"""/* Generated by samples/idioms/build.py from its model; see the docstring there for what each part exercises.
   Written from the documented prototypes (evntprov.h, evntrace.h) and the documented layout of mc.exe's
   generated headers (MCGEN_TRACE_CONTEXT, McGenEventRegister, McGenEventWrite, McTemplate* functions). */
typedef unsigned char UINT8;
typedef unsigned short UINT16;
typedef unsigned int UINT32;
typedef unsigned long long UINT64;
typedef UINT64 REGHANDLE;
typedef struct {{ UINT32 Data1; UINT16 Data2, Data3; UINT8 Data4[8]; }} GUID;
typedef struct {{ UINT16 Id; UINT8 Version, Channel, Level, Opcode; UINT16 Task; UINT64 Keyword; }} EVENT_DESCRIPTOR;
typedef struct {{ UINT64 Ptr; UINT32 Size; UINT32 Reserved; }} EVENT_DATA_DESCRIPTOR;
typedef void (*ENABLECALLBACK)(const GUID *, UINT32, UINT8, UINT64, UINT64, void *, void *);
typedef struct {{ const GUID *Guid; void *RegHandle; }} TRACE_GUID_REGISTRATION;
typedef struct {{
    UINT16 Size; UINT16 FieldTypeFlags; UINT8 Type; UINT8 Level; UINT16 Version; UINT32 ThreadId; UINT32 ProcessId;
    UINT64 TimeStamp; union {{ GUID Guid; UINT64 GuidPtr; }}; UINT32 ClientContext; UINT32 Flags;
}} EVENT_TRACE_HEADER;
typedef struct {{
    UINT16 Size; UINT16 FieldTypeFlags; UINT8 Type; UINT8 Level; UINT16 Version; UINT32 ThreadId; UINT32 ProcessId;
    UINT64 TimeStamp; UINT64 RegHandle; UINT32 InstanceId; UINT32 ParentInstanceId; UINT32 EventId; UINT32 Flags;
    UINT64 ParentRegHandle;
}} EVENT_INSTANCE_HEADER;
typedef struct {{ void *RegHandle; UINT32 InstanceId; }} EVENT_INSTANCE_INFO;
#define WNODE_FLAG_TRACED_GUID 0x00020000
#define WNODE_FLAG_USE_GUID_PTR 0x00080000
#define NOINLINE __declspec(noinline)

__declspec(dllimport) UINT32 __stdcall EventRegister(const GUID *Provider, ENABLECALLBACK Cb, void *Ctx, REGHANDLE *H);
__declspec(dllimport) UINT32 __stdcall EventWrite(REGHANDLE H, const EVENT_DESCRIPTOR *D, UINT32 N, EVENT_DATA_DESCRIPTOR *Data);
__declspec(dllimport) UINT32 __stdcall EventWriteTransfer(REGHANDLE H, const EVENT_DESCRIPTOR *D, const GUID *Act,
                                                          const GUID *Rel, UINT32 N, EVENT_DATA_DESCRIPTOR *Data);
__declspec(dllimport) UINT32 __stdcall RegisterTraceGuidsW(void *Cb, void *Ctx, const GUID *Control, UINT32 Count,
                                                           TRACE_GUID_REGISTRATION *Regs, const UINT16 *MofImagePath,
                                                           const UINT16 *MofResourceName, UINT64 *Handle);
__declspec(dllimport) UINT32 __stdcall TraceEvent(UINT64 Session, EVENT_TRACE_HEADER *Header);
__declspec(dllimport) UINT32 __stdcall CreateTraceInstanceId(void *RegHandle, EVENT_INSTANCE_INFO *Info);
__declspec(dllimport) UINT32 __stdcall TraceEventInstance(UINT64 Session, EVENT_INSTANCE_HEADER *Header,
                                                          EVENT_INSTANCE_INFO *Info, EVENT_INSTANCE_INFO *Parent);
__declspec(dllimport) void *__stdcall GetModuleHandleA(const char *Name);
__declspec(dllimport) void *__stdcall GetProcAddress(void *Module, const char *Name);
__declspec(dllimport) void *__stdcall GetProcessHeap(void);
__declspec(dllimport) void *__stdcall HeapAlloc(void *Heap, UINT32 Flags, UINT64 Bytes);
__declspec(dllimport) void __stdcall RtlFillMemory(void *Destination, UINT64 Length, UINT8 Fill);
void __stdcall RtlZeroMemory(void *Destination, UINT64 Length);
void *memset(void *Destination, int Value, UINT64 Size);

{guids}
{descs}

static NOINLINE void MemZero(void *p, UINT64 n) {{ volatile UINT8 *b = (volatile UINT8 *)p; while (n--) *b++ = 0; }}

/* ---- a provider on a global REGHANDLE: lookup tables, imul, GetProcAddress ---- */
REGHANDLE TableHandle;
const EVENT_DESCRIPTOR *const TableDescs[4] = {{{table}}};
typedef UINT32 (__stdcall *PFN_EVENTWRITE)(REGHANDLE, const EVENT_DESCRIPTOR *, UINT32, EVENT_DATA_DESCRIPTOR *);
PFN_EVENTWRITE pEventWrite;

__declspec(dllexport) UINT32 TableMasked(UINT32 kind) {{ return EventWrite(TableHandle, TableDescs[kind & 3], 0, 0); }}

/* Two tables side by side: only the compare bounds the first. */
const struct {{ const EVENT_DESCRIPTOR *Guarded[3]; const EVENT_DESCRIPTOR *Next[2]; }} Tables = {{
    {{&{by['GUARD_EVT_0'].symbol}, &{by['GUARD_EVT_1'].symbol}, &{by['GUARD_EVT_2'].symbol}}},
    {{&{by['NEXT_EVT_0'].symbol}, &{by['NEXT_EVT_1'].symbol}}}}};

__declspec(dllexport) UINT32 TableGuard(UINT32 kind)
{{
    if (kind >= 3)
        return 0;
    return EventWrite(TableHandle, Tables.Guarded[kind], 0, 0);
}}

__declspec(dllexport) UINT32 NextTable(UINT32 kind) {{ return EventWrite(TableHandle, Tables.Next[kind & 1], 0, 0); }}

__declspec(dllexport) UINT32 TableSwitch(UINT32 kind)
{{
    const EVENT_DESCRIPTOR *d;
    switch (kind) {{
{cases}
    default: d = &{last_switch}; break;
    }}
    return EventWrite(TableHandle, d, 0, 0);
}}

/* The descriptor arrives in RDX and stays there while the count is multiplied: two- and three-operand imul. */
NOINLINE UINT32 ImulScaled(UINT32 n, const EVENT_DESCRIPTOR *d, EVENT_DATA_DESCRIPTOR *data)
{{
    return EventWrite(TableHandle, d, n * 0x1234567u, data);
}}

NOINLINE UINT32 ImulTimes(UINT32 a, const EVENT_DESCRIPTOR *d, UINT32 b, EVENT_DATA_DESCRIPTOR *data)
{{
    return EventWrite(TableHandle, d, a * b, data);
}}

__declspec(dllexport) UINT32 ImulCount(UINT32 n, EVENT_DATA_DESCRIPTOR *data)
{{
    return ImulScaled(n, &{by['IMUL_EVT'].symbol}, data);
}}

__declspec(dllexport) UINT32 ImulProduct(UINT32 a, UINT32 b, EVENT_DATA_DESCRIPTOR *data)
{{
    return ImulTimes(a, &{by['IMUL2_EVT'].symbol}, b, data);
}}

/* A by-value copy made with ``rep movsb`` (as MSVC emits for struct copies), then patched. */
NOINLINE UINT32 RepCopyWrite(const EVENT_DESCRIPTOR *Descriptor)
{{
    EVENT_DESCRIPTOR d;
    void *dst = &d;
    const void *src = Descriptor;
    UINT64 n = sizeof d;
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
    d.Level = {by['REP_EVT'].patched_level};
    return EventWrite(TableHandle, &d, 0, 0);
}}

__declspec(dllexport) UINT32 RepCopy(void) {{ return RepCopyWrite(&{by['REP_EVT'].symbol}); }}

/* ---- the CFG check form: the target checked in RCX, then called through the register (as MSVC's /guard:cf
   emits where it keeps the target in RAX; written out here because clang uses the dispatch form on x64) ---- */
__attribute__((naked)) static void GuardCheckNop(void) {{ __asm__ volatile("ret"); }}
void *__guard_check_icall_fptr = (void *)GuardCheckNop;

__declspec(dllexport) __attribute__((naked)) UINT32 CheckedWrite(void)
{{
    __asm__ volatile("subq $0x28, %rsp\\n\\t"
                     "movq pEventWrite(%rip), %rax\\n\\t"
                     "movq %rax, %rcx\\n\\t"
                     "callq *__guard_check_icall_fptr(%rip)\\n\\t"
                     "movq TableHandle(%rip), %rcx\\n\\t"
                     "leaq {by['CHECK_EVT'].symbol}(%rip), %rdx\\n\\t"
                     "xorl %r8d, %r8d\\n\\t"
                     "xorl %r9d, %r9d\\n\\t"
                     "callq *%rax\\n\\t"
                     "addq $0x28, %rsp\\n\\t"
                     "retq");
}}

/* ---- a descriptor inside a larger struct, the struct copied by value (the descriptor at a nonzero offset) ---- */
typedef struct {{ UINT64 Cookie; UINT64 Flags; UINT64 Spare; EVENT_DESCRIPTOR Desc; }} WRITE_CONTEXT;
_Static_assert(__builtin_offsetof(WRITE_CONTEXT, Desc) == {templ.in_struct}, "Desc offset");
const WRITE_CONTEXT {templ.symbol} = {{0, 0, 0, {{{templ.id}, {templ.version}, 0x{templ.channel:x}, {templ.level}, {templ.opcode}, {templ.task}, 0x{templ.keyword:x}ULL}}}};

NOINLINE UINT32 StructCopyWrite(const WRITE_CONTEXT *t, UINT64 cookie)
{{
    WRITE_CONTEXT c = *t;
    c.Cookie = cookie;
    return EventWrite(TableHandle, &c.Desc, (UINT32)c.Flags, 0);
}}

__declspec(dllexport) UINT32 StructCopy(UINT64 cookie) {{ return StructCopyWrite(&{templ.symbol}, cookie); }}

__declspec(dllexport) UINT32 DynWrite(void)
{{
    if (!pEventWrite)
        return 1;
    return pEventWrite(TableHandle, &{by['DYN_EVT'].symbol}, 0, 0);
}}

/* ---- mc.exe-style provider: context with the handle first, register wrapper, copying write, templates ---- */
typedef struct {{
    REGHANDLE RegistrationHandle; UINT64 Logger; UINT64 MatchAnyKeyword; UINT64 MatchAllKeyword; UINT32 Flags;
    UINT32 IsEnabled; UINT8 Level; UINT8 Reserve; UINT16 EnableBitsCount; UINT32 *EnableBitMask;
    const UINT64 *EnableKeyWords; const UINT8 *EnableLevel;
}} MCGEN_TRACE_CONTEXT;
UINT32 McEnableBits[1];
const UINT64 McKeywords[2] = {{0x8000000000000000ULL, 0x4000000000000000ULL}};
const UINT8 McLevels[2] = {{4, 4}};
MCGEN_TRACE_CONTEXT McContext = {{0, 0, 0, 0, 0, 0, 0, 0, 2, McEnableBits, McKeywords, McLevels}};

static void McControlCallback(const GUID *g, UINT32 code, UINT8 level, UINT64 any, UINT64 all, void *f, void *ctx)
{{
    MCGEN_TRACE_CONTEXT *c = (MCGEN_TRACE_CONTEXT *)ctx;
    c->Level = level;
    c->MatchAnyKeyword = any;
    c->MatchAllKeyword = all;
    c->IsEnabled = code;
    c->EnableBitMask[0] = (any & c->EnableKeyWords[0]) ? 1u : 0u;
    c->EnableBitMask[0] |= (any & c->EnableKeyWords[1]) ? 2u : 0u;
    c->Flags = (UINT32)(g != 0) + (f != 0);
}}

NOINLINE UINT32 McGenEventRegister(const GUID *id, ENABLECALLBACK cb, void *ctx, REGHANDLE *h)
{{
    if (*h != 0)
        return 0;
    return EventRegister(id, cb, ctx, h);
}}

NOINLINE UINT32 McGenEventWrite(MCGEN_TRACE_CONTEXT *Context, const EVENT_DESCRIPTOR *Descriptor, UINT32 Count,
                                EVENT_DATA_DESCRIPTOR *Data)
{{
    EVENT_DESCRIPTOR d = *Descriptor;
    d.Channel = 0x{MC_CHANNEL:x};
    Data[0].Ptr = Context->Logger;
    Data[0].Size = 0;
    Data[0].Reserved = 2;
    return EventWriteTransfer(Context->RegistrationHandle, &d, 0, 0, Count, Data);
}}

/* Generic template (one body for every event with one UINT32 field). */
NOINLINE UINT32 McTemplateU0q(MCGEN_TRACE_CONTEXT *Context, const EVENT_DESCRIPTOR *Descriptor, UINT32 Value)
{{
    EVENT_DATA_DESCRIPTOR data[2];
    data[1].Ptr = (UINT64)&Value;
    data[1].Size = 4;
    data[1].Reserved = 0;
    return McGenEventWrite(Context, Descriptor, 2, data);
}}

/* A second template with the same body: the linker folds it into McTemplateU0q (/opt:icf). */
NOINLINE UINT32 McTemplateU0d(MCGEN_TRACE_CONTEXT *Context, const EVENT_DESCRIPTOR *Descriptor, UINT32 Value)
{{
    EVENT_DATA_DESCRIPTOR data[2];
    data[1].Ptr = (UINT64)&Value;
    data[1].Size = 4;
    data[1].Reserved = 0;
    return McGenEventWrite(Context, Descriptor, 2, data);
}}

/* Context-constant template: the context is fixed, the descriptor is a parameter. */
NOINLINE UINT32 McTemplateCtx(const EVENT_DESCRIPTOR *Descriptor, UINT32 Value)
{{
    return McTemplateU0q(&McContext, Descriptor, Value + 1);
}}

/* One-event template: context and descriptor fixed, a tail jump into the generic template. */
NOINLINE UINT32 McTemplateOne(UINT32 Value)
{{
    return McTemplateU0q(&McContext, &{by['MC_EVT_ONE'].symbol}, Value);
}}

__declspec(dllexport) UINT32 McStart(UINT32 v)
{{
    return (McEnableBits[0] & 1) ? McTemplateU0q(&McContext, &{by['MC_EVT_START'].symbol}, v) : 0;
}}

__declspec(dllexport) UINT32 McStop(UINT32 v)
{{
    return (McEnableBits[0] & 1) ? McTemplateU0d(&McContext, &{by['MC_EVT_STOP'].symbol}, v) : 0;
}}

__declspec(dllexport) UINT32 McOne(UINT32 v) {{ return (McEnableBits[0] & 1) ? McTemplateOne(v) : 0; }}

__declspec(dllexport) UINT32 McCtx(UINT32 v)
{{
    return (McEnableBits[0] & 2) ? McTemplateCtx(&{by['MC_EVT_CTX'].symbol}, v) : 0;
}}

/* ---- a provider whose REGHANDLE is allocated; its state object (the CallbackContext) points at it ---- */
typedef struct {{ UINT64 Enabled; UINT64 Level; UINT64 Any; UINT64 All; UINT64 Count; REGHANDLE *Handle; }} TRACE_STATE;
TRACE_STATE TraceState;

static void StateCallback(const GUID *g, UINT32 code, UINT8 level, UINT64 any, UINT64 all, void *f, void *ctx)
{{
    TRACE_STATE *s = (TRACE_STATE *)ctx;
    s->Enabled = code + (g != 0) + (f != 0);
    s->Level = level;
    s->Any = any;
    s->All = all;
}}

NOINLINE UINT32 StateRegister(REGHANDLE *handle)
{{
    TraceState.Handle = handle;
    return EventRegister(&{PROVIDERS['ctx'][0]}, StateCallback, &TraceState, handle);
}}

__declspec(dllexport) UINT32 StateEventA(TRACE_STATE *self, UINT32 v)
{{
    EVENT_DATA_DESCRIPTOR data[1];
    data[0].Ptr = (UINT64)&v;
    data[0].Size = 4;
    data[0].Reserved = 0;
    return self->Enabled ? EventWrite(*self->Handle, &{by['STATE_EVT_A'].symbol}, 1, data) : 0;
}}

__declspec(dllexport) UINT32 StateEventB(TRACE_STATE *self) {{ return EventWrite(*self->Handle, &{by['STATE_EVT_B'].symbol}, 0, 0); }}

/* ---- a provider whose state is reached through a global pointer assigned once ---- */
typedef struct {{ UINT64 Flags; REGHANDLE Handle; }} PROVIDER_STATE;
PROVIDER_STATE PointerState;
PROVIDER_STATE *PointerStatePtr;

__declspec(dllexport) UINT32 PointerWrite(void)
{{
    PROVIDER_STATE *s = PointerStatePtr;
    return s ? EventWrite(s->Handle, &{by['PTR_EVT'].symbol}, 0, 0) : 0;
}}

/* ---- APIs resolved at run time into an object, encoded, called through the CFG dispatch pointer ---- */
__attribute__((naked)) static void GuardDispatchNop(void) {{ __asm__ volatile("jmp *%rax"); }}
void *__guard_dispatch_icall_fptr = (void *)GuardDispatchNop;
UINT64 PointerSecret;
typedef UINT32 (__stdcall *PFN_EVENTREGISTER)(const GUID *, ENABLECALLBACK, void *, REGHANDLE *);
typedef UINT32 (__stdcall *PFN_EVENTWRITETRANSFER)(REGHANDLE, const EVENT_DESCRIPTOR *, const GUID *, const GUID *,
                                                   UINT32, EVENT_DATA_DESCRIPTOR *);
typedef struct {{ void *Register; void *WriteTransfer; }} RUNTIME_API;
RUNTIME_API *RuntimeApi;
REGHANDLE RuntimeHandle;

NOINLINE void *PointerCodec(void *p) {{ return (void *)((UINT64)p ^ PointerSecret); }}

NOINLINE void RuntimeApiInit(RUNTIME_API *api, void *module)
{{
    api->Register = PointerCodec(GetProcAddress(module, "EventRegister"));
    api->WriteTransfer = PointerCodec(GetProcAddress(module, "EventWriteTransfer"));
}}

NOINLINE UINT32 RuntimeRegister(RUNTIME_API *api)
{{
    return ((PFN_EVENTREGISTER)PointerCodec(api->Register))(&{PROVIDERS['rt'][0]}, 0, 0, &RuntimeHandle);
}}

NOINLINE UINT32 RuntimeWrite(RUNTIME_API *api, const EVENT_DESCRIPTOR *d)
{{
    return ((PFN_EVENTWRITETRANSFER)PointerCodec(api->WriteTransfer))(RuntimeHandle, d, 0, 0, 0, 0);
}}

__declspec(dllexport) UINT32 RuntimeStart(void) {{ return RuntimeApi ? RuntimeWrite(RuntimeApi, &{by['RT_EVT'].symbol}) : 0; }}

/* ---- a classic (MOF) provider ---- */
UINT64 ClassicRegHandle;
UINT64 ClassicLogger;
TRACE_GUID_REGISTRATION ClassicRegs[{len(CLASSES)}] = {{{", ".join(f"{{&{c}, 0}}" for c in CLASSES)}}};

static UINT32 __stdcall ClassicControl(UINT32 code, void *ctx, UINT32 *size, void *buffer)
{{
    ClassicLogger = code == 4 ? (UINT64)buffer : 0;
    return (UINT32)(ctx != 0) + (size != 0);
}}

{chr(10).join(classic)}

/* ---- registration ---- */
__declspec(dllexport) UINT32 IdiomsInitialize(void)
{{
    UINT32 status = EventRegister(&{PROVIDERS['table'][0]}, 0, 0, &TableHandle);
    status |= McGenEventRegister(&{PROVIDERS['mc'][0]}, McControlCallback, &McContext, &McContext.RegistrationHandle);
    status |= StateRegister((REGHANDLE *)HeapAlloc(GetProcessHeap(), 8, sizeof(REGHANDLE)));
    status |= RegisterTraceGuidsW((void *)ClassicControl, 0, &{PROVIDERS['classic'][0]}, {len(CLASSES)}, ClassicRegs, 0, 0,
                                  &ClassicRegHandle);
    PointerStatePtr = &PointerState;
    status |= EventRegister(&{PROVIDERS['ptr'][0]}, 0, 0, &PointerState.Handle);
    pEventWrite = (PFN_EVENTWRITE)GetProcAddress(GetModuleHandleA("advapi32.dll"), "EventWrite");
    RuntimeApi = (RUNTIME_API *)HeapAlloc(GetProcessHeap(), 8, sizeof(RUNTIME_API));
    RuntimeApiInit(RuntimeApi, GetModuleHandleA("advapi32.dll"));
    status |= RuntimeRegister(RuntimeApi);
    return status;
}}
"""


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
    for export, cls, etype, level, _via, zeroing in CLASSIC:
        events.append({
            "Function": export, "Kind": "classic", "Idiom": "classic" if zeroing == "MemZero" else "fill", "ProviderGuid": PROVIDERS["classic"][1],
            "ProviderSymbol": PROVIDERS["classic"][0], "EventDescriptorSymbol": cls, "ClassGuid": CLASSES[cls],
            "Id": None, "Version": 0, "Channel": None, "Level": level, "Opcode": etype, "Task": None, "Keyword": None,
        })
    for export, cls, etype, level in CLASSIC_INSTANCE:
        events.append({
            "Function": export, "Kind": "classic", "Idiom": "classic_instance", "ProviderGuid": PROVIDERS["classic"][1],
            "ProviderSymbol": PROVIDERS["classic"][0], "EventDescriptorSymbol": cls, "ClassGuid": CLASSES[cls],
            "Id": None, "Version": 0, "Channel": None, "Level": level, "Opcode": etype, "Task": None, "Keyword": None,
        })
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
