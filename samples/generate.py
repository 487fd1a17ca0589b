#!/usr/bin/env python3
"""Test-binary generator for api-to-etw: synthetic kernels with known ground truth.

The generator keeps an explicit model of a small kernel (functions, call sites with argument bindings, ETW write
sites whose handle/descriptor arguments are concrete entities or the function's own parameters), emits C sources
from that model, builds them into real PE32+ images with CodeView PDBs (clang + lld-link), and computes the
ground truth (which API reaches which event, at which depth, through which call path) from the model alone.

Subcommands:
  kernel  write the sources and truth.json of the reviewable synthetic kernel
  build   compile each sample at -O1, -O2 and -Os (``--check`` rebuilds in a temp dir and compares bytes)
  scale   write and build (at -O2) a large kernel for benchmarks
  verify  disassemble built images and check every modelled call edge and pattern is in the machine code

Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import filecmp
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, Iterator, List, Optional, Sequence, Tuple

MAX_DEPTH = 5
TRUTH_FORMAT = 1
OPT_LEVELS = ("O1", "O2", "Os")
HERE = Path(__file__).resolve().parent
DEFAULT_KERNEL_DIR = HERE / "synthkernel"
DEFAULT_SEED = 4

# ---------------------------------------------------------------------------------------------------------------
# Legacy (Windows Kernel Trace) constants, as defined in ntwmi.h / evntrace.h (System Informer phnt copies).
# ---------------------------------------------------------------------------------------------------------------

EVENT_TRACE_GROUPS = {
    0x0200: "MEMORY",
    0x0300: "PROCESS",
    0x0500: "THREAD",
    0x0700: "JOB",
    0x0900: "REGISTRY",
    0x1100: "OBJECT",
}

# name (without PERF_) -> value.  Index 0 masks alias EVENT_TRACE_FLAG_xxx.
PERF_MASKS = {
    "PROCESS": 0x00000001,  # EVENT_TRACE_FLAG_PROCESS
    "THREAD": 0x00000002,  # EVENT_TRACE_FLAG_THREAD
    "JOB": 0x00080000,  # EVENT_TRACE_FLAG_JOB
    "MEMORY": 0x20000001,
    "PRIORITY": 0x20002000,
    "VIRTUAL_ALLOC": 0x20008000,
    "SESSION": 0x20400000,  # PERF_PFSECTION is an alias of PERF_SESSION
    "MEMINFO_WS": 0x20800000,
    "REG_HIVE": 0x41000000,
    "OB_HANDLE": 0x80000040,
}

# hook macro -> value (EVENT_TRACE_GROUP_xxx | type)
HOOKS = {
    "WMI_LOG_TYPE_PROCESS_CREATE": 0x0300 | 0x01,  # EVENT_TRACE_TYPE_START
    "WMI_LOG_TYPE_PROCESS_TERMINATE": 0x0300 | 0x0B,  # EVENT_TRACE_TYPE_TERMINATE
    "WMI_LOG_TYPE_THREAD_CREATE": 0x0500 | 0x01,
    "PERFINFO_LOG_TYPE_THREAD_SET_PRIORITY": 0x0500 | 0x30,
    "PERFINFO_LOG_TYPE_THREAD_SET_PAGE_PRIORITY": 0x0500 | 0x33,
    "PERFINFO_LOG_TYPE_THREAD_SET_IO_PRIORITY": 0x0500 | 0x34,
    "WMI_LOG_TYPE_JOB_CREATE": 0x0700 | 0x20,
    "WMI_LOG_TYPE_JOB_TERMINATE": 0x0700 | 0x21,
    "PERFINFO_LOG_TYPE_PFMAPPED_SECTION_CREATE": 0x0200 | 0x49,
    "PERFINFO_LOG_TYPE_VIRTUAL_ALLOC": 0x0200 | 0x62,
    "PERFINFO_LOG_TYPE_VIRTUAL_FREE": 0x0200 | 0x63,
    "PERFINFO_LOG_TYPE_MEMINFOEX_WS": 0x0200 | 0x7D,
    "PERFINFO_LOG_TYPE_REG_HIVE_DIRTY": 0x0900 | 0x28,
    "PERFINFO_LOG_TYPE_CREATE_HANDLE": 0x1100 | 0x20,
    "PERFINFO_LOG_TYPE_CLOSE_HANDLE": 0x1100 | 0x21,
}

# ---------------------------------------------------------------------------------------------------------------
# TraceLogging constants (TraceLoggingProvider.h, Windows SDK 10.0.19041).
# ---------------------------------------------------------------------------------------------------------------

TLG_BLOB_END = 1
TLG_BLOB_PROVIDER3 = 4
TLG_BLOB_EVENT4 = 6
TLG_OPTION_GROUP = 1
TLG_SIGNATURE = 0x30575445  # "ETW0"
TLG_MAGIC = 0xBB8A052B88040E86
TLG_IN = {
    "UNICODESTRING": 1, "ANSISTRING": 2, "INT8": 3, "UINT8": 4, "INT16": 5, "UINT16": 6, "INT32": 7, "UINT32": 8,
    "INT64": 9, "UINT64": 10, "FLOAT": 11, "DOUBLE": 12, "BOOL32": 13, "BINARY": 14, "GUID": 15, "FILETIME": 17,
    "SYSTEMTIME": 18, "SID": 19, "HEXINT32": 20, "HEXINT64": 21, "COUNTEDSTRING": 22, "COUNTEDANSISTRING": 23,
    "STRUCT": 24, "COUNTEDBINARY": 25,
}
TLG_CCOUNT = 0x20
TLG_VCOUNT = 0x40
TLG_CHAIN = 0x80
TLG_OUT = {"NULL": 0, "STRING": 2, "BOOLEAN": 3, "HEX": 4, "PID": 5, "TID": 6, "WIN32ERROR": 13, "NTSTATUS": 14,
           "HRESULT": 15, "FILETIME": 16}
TLG_SECTIONS = {"header": ".rdata$zETW0", "events": ".rdata$zETW1", "providers": ".rdata$zETW2",
                "end": ".rdata$zETW9"}

# ---------------------------------------------------------------------------------------------------------------
# The ETW API implemented by etwapi.c.  These are never roots and never containing functions.
# ---------------------------------------------------------------------------------------------------------------

MANIFEST_WRITERS = ("EtwWrite", "EtwWriteEx", "EtwWriteTransfer", "EtwWriteStartScenario", "EtwWriteEndScenario")
TLG_WRITERS = ("_tlgWriteTransfer_EtwWriteTransfer", "_tlgWriteEx_EtwWriteEx", "_tlgWriteAgg")
LEGACY_WRITER = "EtwTraceKernelEvent"
STRING_WRITER = "EtwWriteString"
ALL_WRITERS = MANIFEST_WRITERS + (STRING_WRITER, LEGACY_WRITER) + TLG_WRITERS
ETW_API_EXPORTED = ("EtwRegister", "EtwUnregister", "EtwEventEnabled", "EtwProviderEnabled", "EtwSetInformation",
                    "EtwWrite", "EtwWriteEx", "EtwWriteTransfer", "EtwWriteString", "EtwWriteStartScenario",
                    "EtwWriteEndScenario")
ETW_API_INTERNAL = ("EtwTraceKernelEvent", "TraceLoggingRegisterEx_EtwRegister_EtwSetInformation",
                    "_tlgEnableCallback", "_tlgWriteTransfer_EtwWriteTransfer", "_tlgWriteEx_EtwWriteEx",
                    "_tlgWriteAgg")
ETW_API = frozenset(ETW_API_EXPORTED + ETW_API_INTERNAL)


class ModelError(Exception):
    """The model is inconsistent (e.g. a write depends on a parameter no caller binds)."""


# ---------------------------------------------------------------------------------------------------------------
# Entities: the concrete things a handle/descriptor expression can evaluate to.
# ---------------------------------------------------------------------------------------------------------------


def guid_bytes(value: str) -> bytes:
    parts = value.split("-")
    d1, d2, d3 = int(parts[0], 16), int(parts[1], 16), int(parts[2], 16)
    d4 = bytes.fromhex(parts[3] + parts[4])
    return d1.to_bytes(4, "little") + d2.to_bytes(2, "little") + d3.to_bytes(2, "little") + d4


def guid_c(value: str) -> str:
    parts = value.split("-")
    d4 = bytes.fromhex(parts[3] + parts[4])
    return "{0x%s, 0x%s, 0x%s, {%s}}" % (parts[0], parts[1], parts[2], ", ".join("0x%02x" % b for b in d4))


@dataclass(frozen=True)
class Guid:
    sym: str
    value: str  # lowercase, no braces
    provider: str  # provider name, for comments only


@dataclass(frozen=True)
class Handle:
    key: str
    c: str  # C lvalue: global, global struct field, or local variable
    symbol: str  # truth ReghandleSymbol: "Sym", "Global+0xNN" or "" for a local
    guid: Guid


@dataclass(frozen=True)
class Desc:
    sym: str  # "" for a descriptor built on the stack
    id: int
    version: int
    channel: int
    level: int
    opcode: int
    task: int
    keyword: int
    key: str = ""  # distinguishes stack descriptors

    def c_init(self) -> str:
        return "{%d, %d, 0x%02x, %d, %d, %d, 0x%016xULL}" % (
            self.id, self.version, self.channel, self.level, self.opcode, self.task, self.keyword)


@dataclass(frozen=True)
class StructGlobal:
    sym: str
    ctype: str
    fields: Tuple[Tuple[str, Handle], ...]

    def handle(self, fieldname: str) -> Handle:
        for name, h in self.fields:
            if name == fieldname:
                return h
        raise ModelError(f"{self.sym} has no field {fieldname}")


@dataclass(frozen=True)
class Mask:
    value: int
    name: str  # truth ProviderSymbol (PERF_ name without prefix, or "A|B" for combined bits)
    macro: str  # C expression


@dataclass(frozen=True)
class Hook:
    value: int
    macro: str  # PERFINFO_LOG_TYPE_xxx / WMI_LOG_TYPE_xxx

    @property
    def name(self) -> str:
        for prefix in ("PERFINFO_LOG_TYPE_", "WMI_LOG_TYPE_"):
            if self.macro.startswith(prefix):
                return self.macro[len(prefix):]
        return self.macro

    @property
    def group(self) -> str:
        return EVENT_TRACE_GROUPS[self.value & 0xFF00]


@dataclass(frozen=True)
class TlgField:
    name: str
    in_type: int  # TlgIn value including Ccount/Vcount flags, without the chain bit
    out_type: int = 0
    tags: int = 0
    count: Optional[int] = None  # for fixed-count (Ccount) arrays


@dataclass(frozen=True)
class TlgProvider:
    sym: str  # the _tlgProvider_t storage
    handle_var: str  # const pointer variable to the storage (TRACELOGGING_DEFINE_PROVIDER style)
    name: str
    guid: str
    group: str = ""

    @property
    def meta_sym(self) -> str:
        return self.sym + "_Meta"


@dataclass(frozen=True)
class TlgEvent:
    sym: str
    provider: TlgProvider
    name: str
    level: int
    keyword: int
    opcode: int = 0
    channel: int = 11
    tags: int = 0
    fields: Tuple[TlgField, ...] = ()


def tlg_tag_bytes(tag: int) -> List[int]:
    """Encode a 28-bit tag as TraceLoggingProvider.h does (7 bits per byte, high bits first, 0x80 = more)."""
    if tag & ~0x0FFFFFFF:
        raise ModelError(f"tag {tag:#x} exceeds 28 bits")
    if tag & 0x0FE00000 == tag:
        return [(tag >> 21) & 0x7F]
    if tag & 0x0FFFC000 == tag:
        return [0x80 | ((tag >> 21) & 0x7F), (tag >> 14) & 0x7F]
    return [0x80 | ((tag >> 21) & 0x7F), 0x80 | ((tag >> 14) & 0x7F), 0x80 | ((tag >> 7) & 0x7F), tag & 0x7F]


def tlg_provider_blob(p: TlgProvider) -> bytes:
    name = p.name.encode() + b"\0"
    traits = b""
    if p.group:
        traits = (3 + 16).to_bytes(2, "little") + bytes([TLG_OPTION_GROUP]) + guid_bytes(p.group)
    remaining = 2 + len(name) + len(traits)
    return bytes([TLG_BLOB_PROVIDER3]) + guid_bytes(p.guid) + remaining.to_bytes(2, "little") + name + traits


def tlg_field_bytes(f: TlgField) -> bytes:
    out = bytearray(f.name.encode() + b"\0")
    if f.out_type or f.tags:
        out.append(f.in_type | TLG_CHAIN)
        out.append(f.out_type | (TLG_CHAIN if f.tags else 0))
        if f.tags:
            out.extend(tlg_tag_bytes(f.tags))
    else:
        out.append(f.in_type)
    if f.in_type & (TLG_CCOUNT | TLG_VCOUNT) == TLG_CCOUNT:
        if f.count is None:
            raise ModelError(f"fixed-count field {f.name} needs a count")
        out.extend(f.count.to_bytes(2, "little"))
    return bytes(out)


def tlg_event_rest(e: TlgEvent) -> bytes:
    """Bytes after RemainingSize: tags, name, fields."""
    rest = bytearray(tlg_tag_bytes(e.tags))
    rest.extend(e.name.encode() + b"\0")
    for f in e.fields:
        rest.extend(tlg_field_bytes(f))
    return bytes(rest)


# ---------------------------------------------------------------------------------------------------------------
# Expressions.  c() renders C (possibly declaring temporaries in the statement's block); ev() evaluates the set of
# concrete entities the expression can denote under a parameter environment.
# ---------------------------------------------------------------------------------------------------------------

Env = Dict[str, Optional[FrozenSet[object]]]


class Ctx:
    """Per-statement rendering context: collects the temporaries an expression needs."""

    def __init__(self, func: "Func"):
        self.func = func
        self.decls: List[str] = []

    def tmp(self, prefix: str) -> str:
        self.func.tmp_counter += 1
        return f"{prefix}{self.func.tmp_counter}"


class Expr:
    def c(self, ctx: Ctx) -> str:
        raise NotImplementedError

    def ev(self, env: Env, func: "Func") -> FrozenSet[object]:
        raise NotImplementedError


@dataclass(frozen=True)
class E(Expr):
    """A concrete entity; for a TraceLogging provider, via_var loads the provider pointer from its handle var."""

    entity: object
    via_var: bool = False

    def c(self, ctx: Ctx) -> str:
        ent = self.entity
        if isinstance(ent, Handle):
            return ent.c
        if isinstance(ent, Desc):
            return "&" + ent.sym
        if isinstance(ent, TlgProvider):
            return ent.handle_var if self.via_var else "&" + ent.sym
        if isinstance(ent, TlgEvent):
            return f"&{ent.sym}.Channel"
        if isinstance(ent, StructGlobal):
            return "&" + ent.sym
        if isinstance(ent, (Mask, Hook)):
            return ent.macro
        if isinstance(ent, int):
            return hex(ent)
        raise ModelError(f"cannot render {ent!r}")

    def ev(self, env: Env, func: "Func") -> FrozenSet[object]:
        return frozenset([self.entity])


@dataclass(frozen=True)
class P(Expr):
    """A parameter of the current function."""

    name: str

    def c(self, ctx: Ctx) -> str:
        return self.name

    def ev(self, env: Env, func: "Func") -> FrozenSet[object]:
        if self.name not in func.param_names():
            raise ModelError(f"{func.name}: no parameter {self.name}")
        val = env.get(self.name)
        if val is None:
            raise ModelError(f"{func.name}: parameter {self.name} is not bound on this path")
        return val


@dataclass(frozen=True)
class PF(Expr):
    """A handle field read through a pointer parameter (``State->MemoryRegHandle``)."""

    name: str
    fieldname: str

    def c(self, ctx: Ctx) -> str:
        return f"{self.name}->{self.fieldname}"

    def ev(self, env: Env, func: "Func") -> FrozenSet[object]:
        out = set()
        for s in P(self.name).ev(env, func):
            if not isinstance(s, StructGlobal):
                raise ModelError(f"{func.name}: {self.name} is not a struct pointer")
            out.add(s.handle(self.fieldname))
        return frozenset(out)


@dataclass(frozen=True)
class Sel(Expr):
    """``cond ? a : b``: compiles to a cmov or a branch; denotes both values."""

    cond: str
    a: Expr
    b: Expr

    def c(self, ctx: Ctx) -> str:
        return f"(({self.cond}) ? {self.a.c(ctx)} : {self.b.c(ctx)})"

    def ev(self, env: Env, func: "Func") -> FrozenSet[object]:
        return self.a.ev(env, func) | self.b.ev(env, func)


@dataclass(frozen=True)
class Vol(Expr):
    """Copy through a volatile local: the value goes through a stack slot."""

    inner: Expr
    ctype: str

    def c(self, ctx: Ctx) -> str:
        name = ctx.tmp("Local")
        ctx.decls.append(f"{self.ctype} volatile {name} = {self.inner.c(ctx)};")
        return name

    def ev(self, env: Env, func: "Func") -> FrozenSet[object]:
        return self.inner.ev(env, func)


@dataclass(frozen=True)
class StackDesc(Expr):
    """An EVENT_DESCRIPTOR built on the stack field by field (no symbol)."""

    desc: Desc

    def c(self, ctx: Ctx) -> str:
        name = ctx.tmp("Descriptor")
        d = self.desc
        ctx.decls.append(f"EVENT_DESCRIPTOR {name};")
        ctx.decls.append(f"{name}.Id = {d.id};")
        ctx.decls.append(f"{name}.Version = {d.version};")
        ctx.decls.append(f"{name}.Channel = 0x{d.channel:02x};")
        ctx.decls.append(f"{name}.Level = {d.level};")
        ctx.decls.append(f"{name}.Opcode = {d.opcode};")
        ctx.decls.append(f"{name}.Task = {d.task};")
        ctx.decls.append(f"{name}.Keyword = 0x{d.keyword:016x}ULL;")
        return "&" + name

    def ev(self, env: Env, func: "Func") -> FrozenSet[object]:
        return frozenset([self.desc])


@dataclass(frozen=True)
class Var(Expr):
    """A local variable assigned by Assign statements in the function (flow-insensitive union)."""

    name: str

    def c(self, ctx: Ctx) -> str:
        return self.name

    def ev(self, env: Env, func: "Func") -> FrozenSet[object]:
        out: set = set()
        found = False
        for st in func.walk():
            if isinstance(st, Assign) and st.var == self.name:
                out |= st.expr.ev(env, func)
                found = True
        if not found:
            raise ModelError(f"{func.name}: local {self.name} is never assigned")
        return frozenset(out)


# ---------------------------------------------------------------------------------------------------------------
# Statements.
# ---------------------------------------------------------------------------------------------------------------


class Stmt:
    def children(self) -> Iterable["Stmt"]:
        return ()

    def lines(self, func: "Func") -> List[str]:
        raise NotImplementedError


def block(decls: List[str], body: List[str]) -> List[str]:
    if not decls:
        return body
    return ["{"] + ["    " + d for d in decls] + ["    " + b for b in body] + ["}"]


def indent(lines: List[str]) -> List[str]:
    return ["    " + ln for ln in lines]


def user_data(func: "Func", name: str, count: int, first: int = 0) -> List[str]:
    """Declarations of an EVENT_DATA_DESCRIPTOR array whose entries from `first` on carry a value."""
    func.tmp_counter += 1
    value = f"EventValue{func.tmp_counter}"
    out = [f"ULONG {value} = (ULONG)KiSyntheticCounter + {func.tmp_counter};",
           f"EVENT_DATA_DESCRIPTOR {name}[{count}];"]
    for i in range(first, count):
        out += [f"{name}[{i}].Ptr = (ULONGLONG)(ULONG_PTR)&{value};",
                f"{name}[{i}].Size = sizeof({value});",
                f"{name}[{i}].Reserved = 0;"]
    return out


@dataclass
class Call(Stmt):
    callee: str
    args: List[Expr]
    tail: bool = False

    def lines(self, func: "Func") -> List[str]:
        ctx = Ctx(func)
        args = ", ".join(a.c(ctx) for a in self.args)
        if self.tail:
            return block(ctx.decls, [f"return {self.callee}({args});"])
        return block(ctx.decls, [f"Status |= {self.callee}({args});"])


@dataclass
class Write(Stmt):
    """A manifest write: EtwWrite, EtwWriteEx, EtwWriteTransfer, EtwWriteStartScenario, EtwWriteEndScenario."""

    writer: str
    handle: Expr
    desc: Expr
    tail_passthrough: bool = False  # ``return writer(<the function's own parameters>)``

    def lines(self, func: "Func") -> List[str]:
        if self.writer not in MANIFEST_WRITERS:
            raise ModelError(f"{self.writer} is not a manifest writer")
        ctx = Ctx(func)
        h = self.handle.c(ctx)
        d = self.desc.c(ctx)
        if self.tail_passthrough:
            names = [n for _, n in func.params]
            return block(ctx.decls, [f"return {self.writer}({h}, {d}, {', '.join(names[2:])});"])
        data = user_data(func, "EventData", 1)
        if self.writer == "EtwWrite":
            call = f"EtwWrite({h}, {d}, NULL, 1, EventData)"
        elif self.writer == "EtwWriteEx":
            call = f"EtwWriteEx({h}, {d}, 0, 0, NULL, NULL, 1, EventData)"
        elif self.writer == "EtwWriteTransfer":
            call = f"EtwWriteTransfer({h}, {d}, NULL, NULL, 1, EventData)"
        else:
            call = f"{self.writer}({h}, {d}, &EtwpScenarioActivityId, 1, EventData)"
        return ["{"] + indent(ctx.decls + data + [f"Status |= {call};"]) + ["}"]


@dataclass
class WriteString(Stmt):
    handle: Expr
    level: int
    keyword: int
    text: str

    def lines(self, func: "Func") -> List[str]:
        ctx = Ctx(func)
        h = self.handle.c(ctx)
        call = f'Status |= EtwWriteString({h}, {self.level}, 0x{self.keyword:016x}ULL, NULL, L"{self.text}");'
        return block(ctx.decls, [call])


@dataclass
class Legacy(Stmt):
    """EtwTraceKernelEvent(Data, Count, GroupMask, HookId, Flags)."""

    mask: Expr
    hook: Expr
    tail_passthrough: bool = False

    def lines(self, func: "Func") -> List[str]:
        ctx = Ctx(func)
        m = self.mask.c(ctx)
        k = self.hook.c(ctx)
        if self.tail_passthrough:
            names = [n for _, n in func.params]
            args = [names[0], names[1], m, k, names[4]]
            return block(ctx.decls, [f"return EtwTraceKernelEvent({', '.join(args)});"])
        data = user_data(func, "TraceData", 1)
        return ["{"] + indent(ctx.decls + data + [f"Status |= EtwTraceKernelEvent(TraceData, 1, {m}, {k}, "
                                                  f"ETW_TRACE_KERNEL_EVENT_FLAGS);"]) + ["}"]


@dataclass
class Tlg(Stmt):
    """A TraceLogging write through one of the _tlgWrite* helpers, guarded like TraceLoggingWrite does."""

    writer: str
    provider: Expr
    event: Expr

    def lines(self, func: "Func") -> List[str]:
        if self.writer not in TLG_WRITERS:
            raise ModelError(f"{self.writer} is not a TraceLogging writer")
        ctx = Ctx(func)
        prov_var = ctx.tmp("TlgProvider")
        ctx.decls.append(f"const _tlgProvider_t* {prov_var} = {self.provider.c(ctx)};")
        ev = self.event.c(ctx)
        data = user_data(func, "TlgData", 3, first=2)
        if self.writer == "_tlgWriteTransfer_EtwWriteTransfer":
            call = f"_tlgWriteTransfer_EtwWriteTransfer({prov_var}, {ev}, NULL, NULL, 3, TlgData)"
        elif self.writer == "_tlgWriteEx_EtwWriteEx":
            call = f"_tlgWriteEx_EtwWriteEx({prov_var}, {ev}, 0, 0, NULL, NULL, 3, TlgData)"
        else:
            call = f"_tlgWriteAgg({prov_var}, {ev}, NULL, 3, TlgData)"
        inner = ["if (" + prov_var + "->LevelPlus1 > 2) {"] + indent(data + [f"Status |= {call};"]) + ["}"]
        return ["{"] + indent(ctx.decls + inner) + ["}"]


@dataclass
class If(Stmt):
    cond: str
    then: List[Stmt]
    els: List[Stmt] = field(default_factory=list)

    def children(self) -> Iterable[Stmt]:
        return list(self.then) + list(self.els)

    def lines(self, func: "Func") -> List[str]:
        out = [f"if ({self.cond}) {{"] + indent(render(self.then, func)) + ["}"]
        if self.els:
            out[-1] = "} else {"
            out += indent(render(self.els, func)) + ["}"]
        return out


@dataclass
class Switch(Stmt):
    on: str
    cases: List[Tuple[int, List[Stmt]]]
    default: List[Stmt] = field(default_factory=list)

    def children(self) -> Iterable[Stmt]:
        out: List[Stmt] = []
        for _, body in self.cases:
            out += body
        return out + list(self.default)

    def lines(self, func: "Func") -> List[str]:
        out = [f"switch ({self.on}) {{"]
        for value, body in self.cases:
            out += [f"case {value}:"] + indent(render(body, func) + ["break;"])
        out += ["default:"] + indent(render(self.default, func) + ["break;"]) + ["}"]
        return out


@dataclass
class IfEnabled(Stmt):
    """``if (EtwEventEnabled(h, d)) { ... }``: an enable check, not a write."""

    handle: Expr
    desc: Expr
    body: List[Stmt]

    def children(self) -> Iterable[Stmt]:
        return self.body

    def lines(self, func: "Func") -> List[str]:
        ctx = Ctx(func)
        cond = f"EtwEventEnabled({self.handle.c(ctx)}, {self.desc.c(ctx)})"
        return block(ctx.decls, [f"if ({cond}) {{"] + indent(render(self.body, func)) + ["}"])


@dataclass
class IfProviderEnabled(Stmt):
    """``if (EtwProviderEnabled(h, level, keyword)) { ... }``: an enable check, not a write."""

    handle: Expr
    level: int
    keyword: int
    body: List[Stmt]

    def children(self) -> Iterable[Stmt]:
        return self.body

    def lines(self, func: "Func") -> List[str]:
        ctx = Ctx(func)
        cond = f"EtwProviderEnabled({self.handle.c(ctx)}, {self.level}, 0x{self.keyword:016x}ULL)"
        return block(ctx.decls, [f"if ({cond}) {{"] + indent(render(self.body, func)) + ["}"])


@dataclass
class Assign(Stmt):
    var: str
    expr: Expr

    def lines(self, func: "Func") -> List[str]:
        ctx = Ctx(func)
        return block(ctx.decls, [f"{self.var} = {self.expr.c(ctx)};"])


@dataclass
class Raw(Stmt):
    code: str

    def lines(self, func: "Func") -> List[str]:
        return self.code.split("\n")


@dataclass
class LocalProvider(Stmt):
    """EtwRegister into a local REGHANDLE, writes through it, EtwUnregister, all in one function."""

    handle: Handle
    body: List[Stmt]

    def children(self) -> Iterable[Stmt]:
        return self.body

    def lines(self, func: "Func") -> List[str]:
        h = self.handle
        out = [f"REGHANDLE {h.c} = 0;",
               f"Status = EtwRegister(&{h.guid.sym}, NULL, NULL, &{h.c});",
               "if (Status >= 0) {"]
        out += indent(render(self.body, func))
        out += [f"    EtwUnregister({h.c});", "}"]
        return ["{"] + indent(out) + ["}"]


def render(stmts: Sequence[Stmt], func: "Func") -> List[str]:
    out: List[str] = []
    for st in stmts:
        out += st.lines(func)
    return out


def walk_stmts(stmts: Iterable[Stmt]) -> Iterator[Stmt]:
    for st in stmts:
        yield st
        yield from walk_stmts(st.children())


WRITE_STMTS = (Write, WriteString, Legacy, Tlg)


@dataclass
class Func:
    name: str
    params: List[Tuple[str, str]]
    body: List[Stmt]
    file: str
    exported: bool = False
    ret: str = "NTSTATUS"
    locals: List[Tuple[str, str]] = field(default_factory=list)
    doc: str = ""
    tmp_counter: int = 0

    def param_names(self) -> List[str]:
        return [n for _, n in self.params]

    def walk(self) -> Iterator[Stmt]:
        return walk_stmts(self.body)

    def calls(self) -> List[Call]:
        return [st for st in self.walk() if isinstance(st, Call)]

    def writes(self) -> List[Stmt]:
        return [st for st in self.walk() if isinstance(st, WRITE_STMTS)]

    @property
    def is_root(self) -> bool:
        return self.name not in ETW_API and (self.name.startswith("Nt") or self.exported)

    def prototype(self) -> str:
        params = ", ".join(f"{t} {n}" for t, n in self.params) or "VOID"
        export = "EXPORT " if self.exported else ""
        return f"NOINLINE {export}{self.ret} {self.name}({params})"

    def source(self) -> str:
        self.tmp_counter = 0
        body = render(self.body, self)
        lines = []
        if self.doc:
            lines.append("/* " + self.doc + " */")
        lines.append(self.prototype())
        lines.append("{")
        uses_status = any("Status" in ln for ln in body)
        if self.ret == "NTSTATUS" and uses_status:
            lines.append("    NTSTATUS Status = STATUS_SUCCESS;")
        for ctype, name in self.locals:
            lines.append(f"    {ctype} {name};")
        lines += indent(body)
        tail = bool(self.body) and (getattr(self.body[-1], "tail", False)
                                    or getattr(self.body[-1], "tail_passthrough", False))
        if self.ret == "NTSTATUS" and not tail:
            lines.append("    return Status;" if uses_status else "    return STATUS_SUCCESS;")
        lines.append("}")
        return "\n".join(lines) + "\n"
