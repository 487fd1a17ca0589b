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
  replica write and build a replica of the kernel the original script's published output describes
          (samples/replica.py; reads the published CSV at generation time, never copies it)

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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

MAX_DEPTH = 5
TRUTH_FORMAT = 1
OPT_LEVELS = ("O1", "O2", "Os")
HERE = Path(__file__).resolve().parent
DEFAULT_KERNEL_DIR = HERE / "synthkernel"
DEFAULT_SEED = 4
KERNEL_BEYOND_DEPTH = 8

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
                    "_tlgEnableCallback", "_tlgWriteCommon", "_tlgWriteTransfer_EtwWriteTransfer",
                    "_tlgWriteEx_EtwWriteEx", "_tlgWriteAgg")
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
    data4 = ", ".join(f"0x{b:02x}" for b in d4)
    return f"{{0x{parts[0]}, 0x{parts[1]}, 0x{parts[2]}, {{{data4}}}}}"


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
        return (f"{{{self.id}, {self.version}, 0x{self.channel:02x}, {self.level}, {self.opcode}, {self.task}, "
                f"0x{self.keyword:016x}ULL}}")


@dataclass(frozen=True)
class StructGlobal:
    sym: str
    ctype: str
    fields: tuple[tuple[str, Handle], ...]

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
    count: int | None = None  # for fixed-count (Ccount) arrays


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
    fields: tuple[TlgField, ...] = ()


def tlg_tag_bytes(tag: int) -> list[int]:
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

Env = dict[str, Optional[frozenset[object]]]


class Ctx:
    """Per-statement rendering context: collects the temporaries an expression needs."""

    def __init__(self, func: Func):
        self.func = func
        self.decls: list[str] = []

    def tmp(self, prefix: str) -> str:
        self.func.tmp_counter += 1
        return f"{prefix}{self.func.tmp_counter}"


class Expr:
    def c(self, ctx: Ctx) -> str:
        raise NotImplementedError

    def ev(self, env: Env, func: Func) -> frozenset[object]:
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
        if isinstance(ent, str):  # plain C text (a value no write depends on)
            return ent
        raise ModelError(f"cannot render {ent!r}")

    def ev(self, env: Env, func: Func) -> frozenset[object]:
        return frozenset([self.entity])


@dataclass(frozen=True)
class P(Expr):
    """A parameter of the current function."""

    name: str

    def c(self, ctx: Ctx) -> str:
        return self.name

    def ev(self, env: Env, func: Func) -> frozenset[object]:
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

    def ev(self, env: Env, func: Func) -> frozenset[object]:
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

    def ev(self, env: Env, func: Func) -> frozenset[object]:
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

    def ev(self, env: Env, func: Func) -> frozenset[object]:
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

    def ev(self, env: Env, func: Func) -> frozenset[object]:
        return frozenset([self.desc])


@dataclass(frozen=True)
class Var(Expr):
    """A local variable assigned by Assign statements in the function (flow-insensitive union)."""

    name: str

    def c(self, ctx: Ctx) -> str:
        return self.name

    def ev(self, env: Env, func: Func) -> frozenset[object]:
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
    def children(self) -> Iterable[Stmt]:
        return ()

    def lines(self, func: Func) -> list[str]:
        raise NotImplementedError


def block(decls: list[str], body: list[str]) -> list[str]:
    if not decls:
        return body
    return ["{"] + ["    " + d for d in decls] + ["    " + b for b in body] + ["}"]


def indent(lines: list[str]) -> list[str]:
    return ["    " + ln for ln in lines]


def user_data(func: Func, name: str, count: int, first: int = 0) -> list[str]:
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
    args: list[Expr]
    tail: bool = False

    def lines(self, func: Func) -> list[str]:
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

    def lines(self, func: Func) -> list[str]:
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

    def lines(self, func: Func) -> list[str]:
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

    def lines(self, func: Func) -> list[str]:
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

    def lines(self, func: Func) -> list[str]:
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
    then: list[Stmt]
    els: list[Stmt] = field(default_factory=list)

    def children(self) -> Iterable[Stmt]:
        return list(self.then) + list(self.els)

    def lines(self, func: Func) -> list[str]:
        out = [f"if ({self.cond}) {{"] + indent(render(self.then, func)) + ["}"]
        if self.els:
            out[-1] = "} else {"
            out += indent(render(self.els, func)) + ["}"]
        return out


@dataclass
class Switch(Stmt):
    on: str
    cases: list[tuple[int, list[Stmt]]]
    default: list[Stmt] = field(default_factory=list)

    def children(self) -> Iterable[Stmt]:
        out: list[Stmt] = []
        for _, body in self.cases:
            out += body
        return out + list(self.default)

    def lines(self, func: Func) -> list[str]:
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
    body: list[Stmt]

    def children(self) -> Iterable[Stmt]:
        return self.body

    def lines(self, func: Func) -> list[str]:
        ctx = Ctx(func)
        cond = f"EtwEventEnabled({self.handle.c(ctx)}, {self.desc.c(ctx)})"
        return block(ctx.decls, [f"if ({cond}) {{"] + indent(render(self.body, func)) + ["}"])


@dataclass
class IfProviderEnabled(Stmt):
    """``if (EtwProviderEnabled(h, level, keyword)) { ... }``: an enable check, not a write."""

    handle: Expr
    level: int
    keyword: int
    body: list[Stmt]

    def children(self) -> Iterable[Stmt]:
        return self.body

    def lines(self, func: Func) -> list[str]:
        ctx = Ctx(func)
        cond = f"EtwProviderEnabled({self.handle.c(ctx)}, {self.level}, 0x{self.keyword:016x}ULL)"
        return block(ctx.decls, [f"if ({cond}) {{"] + indent(render(self.body, func)) + ["}"])


@dataclass
class Assign(Stmt):
    var: str
    expr: Expr

    def lines(self, func: Func) -> list[str]:
        ctx = Ctx(func)
        return block(ctx.decls, [f"{self.var} = {self.expr.c(ctx)};"])


@dataclass
class Raw(Stmt):
    code: str

    def lines(self, func: Func) -> list[str]:
        return self.code.split("\n")


@dataclass
class LocalProvider(Stmt):
    """EtwRegister into a local REGHANDLE, writes through it, EtwUnregister, all in one function."""

    handle: Handle
    body: list[Stmt]

    def children(self) -> Iterable[Stmt]:
        return self.body

    def lines(self, func: Func) -> list[str]:
        h = self.handle
        out = [f"REGHANDLE {h.c} = 0;",
               f"Status = EtwRegister(&{h.guid.sym}, NULL, NULL, &{h.c});",
               "if (Status >= 0) {"]
        out += indent(render(self.body, func))
        out += [f"    EtwUnregister({h.c});", "}"]
        return ["{"] + indent(out) + ["}"]


def render(stmts: Sequence[Stmt], func: Func) -> list[str]:
    out: list[str] = []
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
    params: list[tuple[str, str]]
    body: list[Stmt]
    file: str
    exported: bool = False
    ret: str = "NTSTATUS"
    locals: list[tuple[str, str]] = field(default_factory=list)
    doc: str = ""
    tmp_counter: int = 0

    def param_names(self) -> list[str]:
        return [n for _, n in self.params]

    def walk(self) -> Iterator[Stmt]:
        return walk_stmts(self.body)

    def calls(self) -> list[Call]:
        return [st for st in self.walk() if isinstance(st, Call)]

    def writes(self) -> list[Stmt]:
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
        uses_status = any(re.search(r"\bStatus\b", ln) for ln in body)
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


# ---------------------------------------------------------------------------------------------------------------
# A model: entities + functions, enough to emit the C sources and compute the truth.
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Model:
    name: str
    guids: list[Guid]
    handles: list[Handle]  # global REGHANDLE variables (struct-field handles live in `structs`)
    structs: list[StructGlobal]
    descs: list[Desc]  # descriptors with a public symbol
    tlg_providers: list[TlgProvider]
    tlg_events: list[TlgEvent]
    masks: list[Mask]
    hooks: list[Hook]
    funcs: list[Func]
    files: list[str]  # C files holding model functions, in emission order
    registrations: list[tuple[Guid, Handle, str]]  # (guid, handle, enable callback or "NULL")
    file_docs: dict[str, str] = field(default_factory=dict)
    single_header: bool = True  # one kernel.h with every prototype (False: per-file prototypes, for scale)

    def func(self, name: str) -> Func:
        index = self.__dict__.get("_index")
        if index is None or len(index) != len(self.funcs):
            index = self.__dict__["_index"] = {f.name: f for f in self.funcs}
        return index[name]


def mk_desc(sym: str, id_: int, version: int, channel: int, level: int, opcode: int, task: int, keyword: int,
            key: str = "") -> Desc:
    return Desc(sym, id_, version, channel, level, opcode, task, keyword, key)


def mask(*names: str) -> Mask:
    value = 0
    for n in names:
        value |= PERF_MASKS[n]
    index = {PERF_MASKS[n] >> 29 for n in names}
    if len(index) != 1:
        raise ModelError("a group mask combines flags of one PERFINFO_GROUPMASK index only")
    return Mask(value, "|".join(names), " | ".join("PERF_" + n for n in names))


def hook(macro: str) -> Hook:
    return Hook(HOOKS[macro], macro)


# Parameter type shorthands.
T_H = "REGHANDLE"
T_D = "PCEVENT_DESCRIPTOR"
T_P = "PVOID"
T_U = "ULONG"
T_TP = "const _tlgProvider_t*"
T_TE = "const void*"


def build_synthkernel() -> Model:
    """The reviewable synthetic kernel: ~120 functions exercising every pattern the analyzer must handle."""
    g_ps = Guid("KernelProcessProviderGuid", "22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716", "Microsoft-Windows-Kernel-Process")
    g_audit = Guid("KernelAuditApiCallsGuid", "e02a841c-75a3-4fa7-afc8-ae09cf9b7f23",
                   "Microsoft-Windows-Kernel-Audit-API-Calls")
    g_ti = Guid("ThreatIntProviderGuid", "f4e1897c-bb5d-5668-f1d8-040f4d8dd344",
                "Microsoft-Windows-Threat-Intelligence")
    g_mit = Guid("SecurityMitigationsProviderGuid", "fae10392-f0af-4ac0-b8ff-9f4d920c3cdf",
                 "Microsoft-Windows-Security-Mitigations")
    g_mem = Guid("KernelMemoryProviderGuid", "d1d93ef7-e1f2-4f45-9943-03d245fe6c00", "Microsoft-Windows-Kernel-Memory")
    g_gen = Guid("KernelGeneralProviderGuid", "a68ca8b7-004f-d7b6-a698-07e2de0f1f5d",
                 "Microsoft-Windows-Kernel-General")
    g_ld = Guid("LiveDumpProviderGuid", "bef2aa8e-81cd-11e2-a7bb-5eac6188709b", "Microsoft-Windows-Kernel-LiveDump")
    g_pow = Guid("KernelPowerProviderGuid", "331c3b3a-2005-44c2-ac5e-77220c37d6b4", "Microsoft-Windows-Kernel-Power")
    guids = [g_ps, g_audit, g_ti, g_mit, g_mem, g_gen, g_ld, g_pow]

    h_ps = Handle("ps", "EtwpPsProvRegHandle", "EtwpPsProvRegHandle", g_ps)
    h_audit = Handle("audit", "EtwApiCallsProvRegHandle", "EtwApiCallsProvRegHandle", g_audit)
    h_ti = Handle("ti", "EtwThreatIntProvRegHandle", "EtwThreatIntProvRegHandle", g_ti)
    h_mit = Handle("mit", "EtwSecurityMitigationsRegHandle", "EtwSecurityMitigationsRegHandle", g_mit)
    h_pow = Handle("pow", "PopDiagHandle", "PopDiagHandle", g_pow)
    h_mem = Handle("mem", "EtwpState.MemoryRegHandle", "EtwpState+0x8", g_mem)
    h_gen = Handle("gen", "EtwpState.GeneralRegHandle", "EtwpState+0x10", g_gen)
    h_ld = Handle("livedump", "LiveDumpRegHandle", "", g_ld)  # a local in IopLiveDumpWriteEvents
    state = StructGlobal("EtwpState", "ETWP_STATE", (("MemoryRegHandle", h_mem), ("GeneralRegHandle", h_gen)))
    registrations = [(g_ps, h_ps, "NULL"), (g_audit, h_audit, "NULL"), (g_ti, h_ti, "EtwpTiEnableCallback"),
                     (g_mit, h_mit, "NULL"), (g_mem, h_mem, "NULL"), (g_gen, h_gen, "NULL"), (g_pow, h_pow, "NULL")]

    d = {}

    def desc(sym, *vals):
        d[sym] = mk_desc(sym, *vals)
        return d[sym]

    k_ps = 0x8000000000000000
    desc("KERNEL_PROCESS_EVENT_PROCESS_START", 1, 3, 0x10, 4, 1, 1, k_ps | 0x10)
    desc("KERNEL_PROCESS_EVENT_PROCESS_STOP", 2, 2, 0x10, 4, 2, 2, k_ps | 0x10)
    desc("KERNEL_PROCESS_EVENT_THREAD_START", 3, 1, 0x10, 4, 1, 3, k_ps | 0x20)
    desc("KERNEL_PROCESS_EVENT_IMAGE_LOAD", 5, 0, 0x10, 4, 0, 5, k_ps | 0x40)
    desc("KERNEL_PROCESS_EVENT_IMAGE_UNLOAD", 6, 0, 0x10, 4, 0, 6, k_ps | 0x40)
    for i, api in enumerate(["PSSETLOADIMAGENOTIFYROUTINE", "TERMINATEPROCESS", "CREATESYMBOLICLINKOBJECT",
                             "SETCONTEXTTHREAD", "OPENPROCESS", "OPENTHREAD",
                             "IOREGISTERLASTCHANCESHUTDOWNNOTIFICATION", "IOREGISTERSHUTDOWNNOTIFICATION"], start=1):
        desc("KERNEL_AUDIT_API_" + api, i, 0, 0, 4, 0, 0, 0)
    k_ti = 0x8000000000000000
    desc("THREATINT_ALLOCVM_REMOTE", 1, 1, 0x10, 4, 0, 1, k_ti | 0x4)
    desc("THREATINT_ALLOCVM_LOCAL", 6, 1, 0x10, 4, 0, 1, k_ti | 0x1)
    desc("THREATINT_PROTECTVM_REMOTE", 2, 1, 0x10, 4, 0, 2, k_ti | 0x40)
    # Same field values as THREATINT_PROTECTVM_REMOTE under another name: rows must keep the symbol apart.
    desc("THREATINT_PROTECTVM_REMOTE_KERNEL_CALLER", 2, 1, 0x10, 4, 0, 2, k_ti | 0x40)
    desc("THREATINT_PROTECTVM_LOCAL", 7, 1, 0x10, 4, 0, 2, k_ti | 0x10)
    desc("THREATINT_MAPVIEW_REMOTE", 3, 1, 0x10, 4, 0, 3, k_ti | 0x400)
    desc("THREATINT_QUEUEUSERAPC_REMOTE", 4, 1, 0x10, 4, 0, 4, k_ti | 0x1000)
    desc("THREATINT_SETTHREADCONTEXT_REMOTE", 5, 1, 0x10, 4, 0, 5, k_ti | 0x4000)
    desc("THREATINT_READVM_REMOTE", 14, 0, 0x10, 4, 0, 14, k_ti | 0x20000)
    desc("THREATINT_WRITEVM_REMOTE", 16, 0, 0x10, 4, 0, 16, k_ti | 0x80000)
    desc("THREATINT_SUSPEND_THREAD", 21, 0, 0x10, 4, 0, 21, k_ti | 0x100000)
    desc("THREATINT_RESUME_THREAD", 22, 0, 0x10, 4, 0, 22, k_ti | 0x200000)
    desc("MITIGATION_AUDIT_PROHIBIT_DYNAMIC_CODE", 1, 0, 0x10, 0, 0, 1, 0x8000000000000000)
    desc("MITIGATION_ENFORCE_PROHIBIT_DYNAMIC_CODE", 2, 0, 0x10, 0, 0, 1, 0x8000000000000000)
    desc("MITIGATION_AUDIT_PROHIBIT_FSCTL_SYSTEM_CALLS", 35, 0, 0x10, 0, 0, 18, 0x8000000000000000)
    desc("MITIGATION_AUDIT_PROHIBIT_WIN32K_SYSTEM_CALLS", 10, 0, 0x10, 0, 0, 5, 0x8000000000000000)
    desc("KERNEL_MEM_EVENT_MDL_ALLOCATION", 10, 0, 0x10, 4, 0, 7, 0x8000000000000200)
    desc("KERNEL_MEM_EVENT_MEMINFO_WS", 2, 0, 0x10, 4, 0, 2, 0x8000000000000040)
    desc("KERNEL_MEM_EVENT_PAGEFILE_ADDED", 12, 0, 0x10, 4, 0, 9, 0x8000000000000100)
    desc("KernelSystemTimeChange", 1, 4, 0x08, 4, 0, 5, 0x8000000000000010)
    desc("AccessCheckLog", 14, 0, 0x00, 2, 0, 0, 0x20)
    desc("ObjectDirectoryLookup", 30, 0, 0x10, 5, 0, 12, 0x8000000000000080)
    desc("LIVEDUMP_EVENT_CAPTURE_API_START", 1, 0, 0x10, 4, 10, 1, 0x8000000000000000)
    desc("LIVEDUMP_EVENT_CAPTURE_API_END", 2, 5, 0x11, 4, 11, 1, 0x4000000000000000)
    desc("POP_ETW_EVENT_GRACEFULSHUTDOWN_START", 47, 0, 0x10, 4, 1, 48, 0x4000000000000009)
    desc("POP_ETW_EVENT_GRACEFULSHUTDOWN_STOP", 48, 0, 0x10, 4, 2, 48, 0x4000000000000009)
    desc("POP_ETW_EVENT_KERNEL_QUERY_ALLOWED", 61, 0, 0x10, 4, 0, 67, 0x4000000000002404)
    desc("POP_ETW_EVENT_STRS", 63, 2, 0x10, 4, 0, 69, 0x4000000000004004)
    desc("POP_ETW_EVENT_SESSION_DISPLAY_ON", 150, 0, 0x10, 4, 0, 186, 0x4000400000000404)
    # Descriptors built on the stack: no symbol, every field still in the row.
    sd_thread_name = mk_desc("", 13, 0, 0x10, 4, 0, 13, k_ps | 0x20, key="ThreadSetName")
    sd_cpu_prio = mk_desc("", 9, 1, 0x10, 4, 0, 9, k_ps | 0x80, key="CpuPriorityChange")
    sd_tz_bias = mk_desc("", 22, 0, 0x08, 4, 0, 8, 0x8000000000000010, key="KernelTimeZoneBiasChange")

    m_process, m_thread, m_job = mask("PROCESS"), mask("THREAD"), mask("JOB")
    m_prio, m_va, m_ws = mask("PRIORITY"), mask("VIRTUAL_ALLOC"), mask("MEMINFO_WS")
    m_section, m_hive, m_obh = mask("MEMORY", "SESSION"), mask("REG_HIVE"), mask("OB_HANDLE")
    masks = [m_process, m_thread, m_job, m_prio, m_va, m_ws, m_section, m_hive, m_obh]
    hk = {name: hook(name) for name in HOOKS}

    t_sec = TlgProvider("_TlgKernelSecurityProv", "TlgKernelSecurityProvider", "Microsoft.Windows.Kernel.Security",
                        "09a69a38-2680-4bfa-ad01-792ad63a4ff2")
    t_asm = TlgProvider("_TlgAttackSurfaceMonitorProv", "TlgAttackSurfaceMonitorProvider", "AttackSurfaceMonitor",
                        "c4e507b1-7224-4737-bde0-ced9284e7073")
    t_kp = TlgProvider("_TlgKernelProcessProv", "TlgKernelProcessProvider", "KernelProcess",
                       "2839ff94-8f12-4e1b-82e3-af7af77a450f", group="4f50731a-89cf-4782-b3e0-dce8c90476ba")
    tin = TLG_IN
    ev_token = TlgEvent("_tlgEvent_TokenIntegrityChange", t_sec, "TokenIntegrityChange", 5, 0x400000000000, fields=(
        TlgField("ProcessId", tin["UINT32"], TLG_OUT["PID"]),
        TlgField("OldIntegrityLevel", tin["HEXINT32"]),
        TlgField("NewIntegrityLevel", tin["HEXINT32"])))
    ev_blocked = TlgEvent("_tlgEvent_DriverBlocked", t_sec, "DriverBlocked", 4, 0x200000000000, tags=0x0A04000,
                          fields=(TlgField("DriverName", tin["UNICODESTRING"]),
                                  TlgField("ImageHash", tin["UINT8"] | TLG_CCOUNT, TLG_OUT["HEX"], count=32),
                                  TlgField("BlockReason", tin["UINT32"], tags=0x0000005)))
    ev_prot = TlgEvent("_tlgEvent_ProtectionChange", t_sec, "ProtectionChange", 4, 0x400000000000, opcode=1,
                       tags=0x0FE00000, fields=(
                           TlgField("ProcessId", tin["UINT32"], TLG_OUT["PID"]),
                           TlgField("Protection", tin["UINT8"]),
                           TlgField("SignatureLevels", tin["STRUCT"], 2),
                           TlgField("SignatureLevel", tin["UINT8"]),
                           TlgField("SectionSignatureLevel", tin["UINT8"])))
    ev_ioctl = TlgEvent("_tlgEvent_AstIoctlCalled", t_asm, "Ast.IoctlCalled", 5, 0x200000000000, fields=(
        TlgField("IoctlCode", tin["HEXINT32"]),
        TlgField("DeviceName", tin["UNICODESTRING"]),
        TlgField("InputBufferLength", tin["UINT32"])))
    ev_fsctl = TlgEvent("_tlgEvent_AstFsctlCalled", t_asm, "Ast.FsctlCalled", 5, 0x200000000000, fields=(
        TlgField("FsctlCode", tin["HEXINT32"]),
        TlgField("VolumeName", tin["UNICODESTRING"])))
    ev_usage = TlgEvent("_tlgEvent_AstSyscallUsage", t_asm, "Ast.SyscallUsageAggregate", 5, 0x400000000000,
                        fields=(TlgField("InformationClasses", tin["UINT32"] | TLG_VCOUNT),
                                TlgField("Count", tin["UINT64"])))
    ev_started = TlgEvent("_tlgEvent_ProcessStarted", t_kp, "ProcessStarted", 5, 0x3, fields=(
        TlgField("ProcessId", tin["UINT32"], TLG_OUT["PID"]),
        TlgField("ParentProcessId", tin["UINT32"], TLG_OUT["PID"]),
        TlgField("Image", tin["STRUCT"], 2),
        TlgField("ImageName", tin["UNICODESTRING"]),
        TlgField("ImageSize", tin["UINT64"]),
        TlgField("Flags", tin["HEXINT32"], tags=0x2000000)))
    ev_denied = TlgEvent("_tlgEvent_DeniedTokenCreation", t_kp, "DeniedTokenCreation", 5, 0x200000000001,
                         tags=0x0123457, fields=(
                             TlgField("Status", tin["UINT32"], TLG_OUT["NTSTATUS"], tags=0x1),
                             TlgField("ProcessId", tin["UINT32"])))
    tlg_events = [ev_token, ev_blocked, ev_prot, ev_ioctl, ev_fsctl, ev_usage, ev_started, ev_denied]

    funcs: list[Func] = []

    def F(name, params, body, file, exported=False, doc="", locals_=None, ret="NTSTATUS"):
        funcs.append(Func(name, list(params), list(body), file, exported, ret, list(locals_ or []), doc))

    def filler(name, file, params=((T_P, "Object"),), exported=False, calls=(), doc=""):
        """A function doing ordinary work and reaching no write by itself."""
        arg = params[0][1] if params else "0"
        body: list[Stmt] = [Raw(f"KiSyntheticCounter += (LONG)(ULONG_PTR){arg} + {len(funcs) + 3};")]
        for c in calls:
            body.append(Call(c, [P(arg)] if params else []))
        F(name, params, body, file, exported, doc or "ordinary work, no ETW write of its own")

    def ent(x, via_var=False):
        return E(x, via_var)

    # ---------------------------------------------------------------- init.c
    F("EtwpTiEnableCallback", [("LPCGUID", "SourceId"), (T_U, "ControlCode"), ("UCHAR", "Level"),
                               ("ULONGLONG", "MatchAnyKeyword"), ("ULONGLONG", "MatchAllKeyword"),
                               ("PEVENT_FILTER_DESCRIPTOR", "FilterData"), ("PVOID", "CallbackContext")],
      [Raw("EtwpState.EnableMask = MatchAnyKeyword & ~MatchAllKeyword;\n"
           "EtwpState.Flags = ControlCode | ((ULONG)Level << 8) | (ULONG)(ULONG_PTR)SourceId;\n"
           "KiSyntheticCounter += (LONG)(ULONG_PTR)FilterData + (LONG)(ULONG_PTR)CallbackContext;")],
      "init.c", doc="enable callback passed to EtwRegister (referenced, never called directly)", ret="VOID")
    # EtwpInitialize and DriverEntry are written by emit_init() from `registrations`.

    # ---------------------------------------------------------------- etwp.c: shared logging helpers
    F("EtwpLogAuditApiEvent", [(T_D, "Descriptor"), (T_U, "TargetId"), ("NTSTATUS", "ReturnCode")],
      [Raw("EtwpState.SequenceNumber += TargetId ^ (ULONG)ReturnCode;"),
       Write("EtwWrite", ent(h_audit), P("Descriptor"))], "etwp.c",
      doc="1-level wrapper: the descriptor arrives in rcx; the handle is a global")
    F("EtwpWriteEventPassthrough", [(T_H, "RegHandle"), (T_D, "Descriptor"), ("LPCGUID", "ActivityId"),
                                    (T_U, "UserDataCount"), ("PEVENT_DATA_DESCRIPTOR", "UserData")],
      [Raw("if (RegHandle == 0) {\n    return STATUS_INVALID_HANDLE;\n}"),
       Write("EtwWrite", P("RegHandle"), P("Descriptor"), tail_passthrough=True)], "etwp.c",
      doc="tail call: jmp EtwWrite with the caller's own arguments (handle and descriptor are parameters)")
    F("EtwpWriteProcessEvent", [(T_P, "Process"), (T_U, "Flags"), (T_U, "Spare1"), (T_U, "Spare2"),
                                (T_H, "RegHandle"), (T_D, "Descriptor")],
      [Raw("EtwpState.SequenceNumber += Flags + Spare1 * 3 + Spare2 + (ULONG)(ULONG_PTR)Process;"),
       Write("EtwWriteTransfer", P("RegHandle"), P("Descriptor"))], "etwp.c",
      doc="handle and descriptor are the 5th and 6th parameters: they arrive in stack slots")
    F("EtwpLogImageEvent", [(T_H, "RegHandle"), (T_D, "Descriptor"), (T_P, "ImageBase")],
      [Call("EtwpWriteProcessEvent", [P("ImageBase"), E(0x10), E(0), E(1), P("RegHandle"), P("Descriptor")])],
      "etwp.c", doc="2-level wrapper: passes its register parameters on as stack parameters")
    F("EtwTraceProcess", [(T_P, "Process"), (T_U, "Flags")],
      [Call("EtwpWriteProcessEvent", [P("Process"), P("Flags"), E(1), E(0), ent(h_ps),
                                      ent(d["KERNEL_PROCESS_EVENT_PROCESS_START"])]),
       Legacy(ent(m_process), ent(hk["WMI_LOG_TYPE_PROCESS_CREATE"])),
       Tlg("_tlgWriteTransfer_EtwWriteTransfer", ent(t_kp, via_var=True), ent(ev_started))], "etwp.c",
      doc="manifest (through a wrapper), legacy and TraceLogging (provider loaded from its handle variable)")
    F("EtwTraceProcessTerminate", [(T_P, "Process"), ("NTSTATUS", "ExitStatus")],
      [Legacy(ent(m_process), ent(hk["WMI_LOG_TYPE_PROCESS_TERMINATE"])),
       Raw("KiSyntheticCounter += (LONG)ExitStatus + (LONG)(ULONG_PTR)Process;"),
       Call("EtwpWriteEventPassthrough", [ent(h_ps), ent(d["KERNEL_PROCESS_EVENT_PROCESS_STOP"]), E(0), E(0),
                                          E(0)])], "etwp.c")
    F("EtwTraceThread", [(T_P, "Thread"), (T_U, "Flags")],
      [If("Flags & 0x4", [Raw("KiSyntheticCounter += 7;")]),
       Write("EtwWrite", ent(h_ps), ent(d["KERNEL_PROCESS_EVENT_THREAD_START"])),
       Legacy(ent(m_thread), ent(hk["WMI_LOG_TYPE_THREAD_CREATE"])),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Thread;")], "etwp.c")
    F("EtwTraceJob", [("USHORT", "HookId"), (T_P, "Job")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Job;"), Legacy(ent(m_job), P("HookId"))], "etwp.c",
      doc="legacy event whose HookId is a parameter: resolved per call path")
    F("EtwpTraceKernelEventPassthrough", [("PEVENT_DATA_DESCRIPTOR", "EventData"), (T_U, "DataCount"),
                                          (T_U, "GroupMask"), ("USHORT", "HookId"), (T_U, "Flags")],
      [Raw("if (DataCount == 0) {\n    return STATUS_INVALID_PARAMETER;\n}"),
       Legacy(P("GroupMask"), P("HookId"), tail_passthrough=True)], "etwp.c",
      doc="tail call: jmp EtwTraceKernelEvent; group mask and hook id are parameters")
    F("EtwTracePriority", [("USHORT", "HookId"), (T_P, "Thread"), (T_U, "Priority")],
      [Raw("EVENT_DATA_DESCRIPTOR PriorityData[1];\n"
           "PriorityData[0].Ptr = (ULONGLONG)(ULONG_PTR)&Priority;\n"
           "PriorityData[0].Size = sizeof(Priority);\n"
           "PriorityData[0].Reserved = (ULONG)(ULONG_PTR)Thread & 0;"),
       Call("EtwpTraceKernelEventPassthrough", [E("PriorityData"), E(1), ent(m_prio), P("HookId"),
                                                E("ETW_TRACE_KERNEL_EVENT_FLAGS")])], "etwp.c",
      doc="passes its HookId parameter on (2 levels of hook-id wrappers)")
    F("EtwpTraceVirtualMemory", [("USHORT", "HookId"), (T_P, "BaseAddress"), ("SIZE_T", "RegionSize")],
      [Raw("KiSyntheticCounter += (LONG)RegionSize + (LONG)(ULONG_PTR)BaseAddress;"),
       Legacy(ent(m_va), P("HookId"))], "etwp.c")
    F("EtwTiLogAllocExecVm", [(T_D, "Descriptor"), (T_P, "BaseAddress"), ("SIZE_T", "RegionSize")],
      [IfEnabled(ent(h_ti), P("Descriptor"), [
          Raw("KiSyntheticCounter += (LONG)RegionSize + (LONG)(ULONG_PTR)BaseAddress;"),
          Write("EtwWrite", ent(h_ti), P("Descriptor"))])], "etwp.c",
      doc="EtwEventEnabled check (not a write) before the write")
    F("EtwTiLogProtectExecVm", [(T_D, "Descriptor"), (T_U, "NewProtect")],
      [IfEnabled(ent(h_ti), P("Descriptor"), [
          Raw("KiSyntheticCounter += (LONG)NewProtect;"),
          Write("EtwWriteEx", ent(h_ti), P("Descriptor"))])], "etwp.c")
    F("EtwTiLogReadWriteVm", [(T_D, "Descriptor"), (T_P, "BaseAddress"), ("SIZE_T", "BufferSize")],
      [Raw("KiSyntheticCounter += (LONG)BufferSize - (LONG)(ULONG_PTR)BaseAddress;"),
       Write("EtwWrite", Vol(ent(h_ti), T_H), P("Descriptor"))], "etwp.c",
      doc="the handle goes through a volatile stack slot")
    F("EtwTiLogMapExecView", [(T_P, "Process"), (T_U, "Protect")],
      [If("Protect & 0xF0", [Write("EtwWrite", ent(h_ti), ent(d["THREATINT_MAPVIEW_REMOTE"]))]),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Process;")], "etwp.c")
    F("EtwTiLogSetContextThread", [(T_P, "Thread"), (T_U, "Mode")],
      [Raw("KiSyntheticCounter += (LONG)Mode;"),
       Write("EtwWrite", ent(h_ti), ent(d["THREATINT_SETTHREADCONTEXT_REMOTE"])),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Thread;")], "etwp.c")
    F("EtwTiLogQueueApcThread", [(T_P, "Thread"), (T_U, "Flags")],
      [Raw("KiSyntheticCounter ^= (LONG)Flags;"),
       Write("EtwWrite", ent(h_ti), ent(d["THREATINT_QUEUEUSERAPC_REMOTE"])),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Thread;")], "etwp.c")
    F("EtwTiLogSuspendResumeThread", [(T_D, "Descriptor"), (T_P, "Thread")],
      [Raw("KiSyntheticCounter -= (LONG)(ULONG_PTR)Thread;"),
       Write("EtwWrite", ent(h_ti), P("Descriptor"))], "etwp.c")
    F("EtwpTimLogMitigationForProcess", [(T_D, "Descriptor"), (T_P, "Process"), (T_U, "Flags")],
      [IfProviderEnabled(ent(h_mit), 0, 0x8000000000000000, [
          Raw("KiSyntheticCounter += (LONG)Flags + (LONG)(ULONG_PTR)Process;"),
          Write("EtwWrite", ent(h_mit), P("Descriptor"))])], "etwp.c",
      doc="EtwProviderEnabled check (not a write) before the write")
    F("EtwpTlgLogSecurityEvent", [(T_TP, "Provider"), (T_TE, "EventMetadata"), (T_U, "Value")],
      [Raw("KiSyntheticCounter += (LONG)Value;"),
       Tlg("_tlgWriteTransfer_EtwWriteTransfer", P("Provider"), P("EventMetadata"))], "etwp.c",
      doc="TraceLogging provider and event metadata are parameters: resolved per call path")
    F("MiLogWorkingSetInfo", [("PETWP_STATE", "State"), (T_P, "Process")],
      [Raw("State->SequenceNumber += (ULONG)(ULONG_PTR)Process;"),
       Write("EtwWrite", PF("State", "MemoryRegHandle"), ent(d["KERNEL_MEM_EVENT_MEMINFO_WS"])),
       Legacy(ent(m_ws), ent(hk["PERFINFO_LOG_TYPE_MEMINFOEX_WS"]))], "etwp.c",
      doc="the handle is read through a pointer to the global EtwpState (State->MemoryRegHandle)")
    F("SeLogAccessFailure", [(T_U, "DesiredAccess"), ("NTSTATUS", "AccessStatus")],
      [IfProviderEnabled(ent(h_gen), 2, 0x20, [
          Raw("KiSyntheticCounter += (LONG)DesiredAccess + (LONG)AccessStatus;"),
          Write("EtwWrite", ent(h_gen), ent(d["AccessCheckLog"]))])], "etwp.c",
      doc="handle in a field of a global structure (EtwpState+0x10)")
    F("MiLogSectionCreate", [(T_P, "Section"), (T_U, "Flags")],
      [Raw("KiSyntheticCounter += (LONG)Flags + (LONG)(ULONG_PTR)Section;"),
       Legacy(ent(m_section), ent(hk["PERFINFO_LOG_TYPE_PFMAPPED_SECTION_CREATE"]))], "etwp.c",
      doc="combined group mask: PERF_MEMORY | PERF_SESSION")

    # ---------------------------------------------------------------- ps.c: processes, threads, jobs
    filler("PspReferenceProcess", "ps.c")
    filler("PspCaptureCreateInfo", "ps.c")
    filler("PspRundownProcess", "ps.c")
    filler("PspAddProcessToJob", "ps.c", calls=("PspReferenceProcess",))
    filler("PspCaptureThreadContext", "ps.c")
    F("NtCreateUserProcess", [(T_P, "ProcessParameters"), (T_U, "ProcessFlags"), (T_U, "ThreadFlags")],
      [Call("PspCaptureCreateInfo", [P("ProcessParameters")]),
       Call("PspAllocateProcess", [P("ProcessFlags")]),
       Call("PspInsertProcess", [P("ProcessParameters"), P("ProcessFlags")]),
       Raw("KiSyntheticCounter += (LONG)ThreadFlags;")], "ps.c",
      doc="syscall, not exported: known from the PDB only")
    F("NtCreateProcessEx", [(T_P, "ParentProcess"), (T_U, "Flags")],
      [Call("PspCreateProcessCommon", [P("ParentProcess"), P("Flags")])], "ps.c", exported=True)
    F("PspCreateProcessCommon", [(T_P, "ParentProcess"), (T_U, "Flags")],
      [Call("PspAllocateProcess", [P("Flags")]),
       Call("PspInsertProcess", [P("ParentProcess"), P("Flags")])], "ps.c")
    F("PspAllocateProcess", [(T_U, "Flags")],
      [Call("MmCreateProcessAddressSpace", [P("Flags")]),
       Call("PspReferenceProcess", [E("(PVOID)(ULONG_PTR)Flags")])], "ps.c")
    F("PspInsertProcess", [(T_P, "Process"), (T_U, "Flags")],
      [Call("EtwTraceProcess", [P("Process"), P("Flags")]),
       If("Flags & 0x2", [Call("PspCheckTokenCreation", [P("Process"), P("Flags")])])], "ps.c")
    F("PspCheckTokenCreation", [(T_P, "Process"), (T_U, "Flags")],
      [Raw("KiSyntheticCounter += (LONG)Flags;"),
       Tlg("_tlgWriteEx_EtwWriteEx", ent(t_kp), ent(ev_denied)),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Process;")], "ps.c")
    F("NtTerminateProcess", [(T_P, "ProcessHandle"), ("NTSTATUS", "ExitStatus")],
      [IfEnabled(Vol(ent(h_audit), T_H), ent(d["KERNEL_AUDIT_API_TERMINATEPROCESS"]), [
          Write("EtwWrite", Vol(ent(h_audit), T_H), ent(d["KERNEL_AUDIT_API_TERMINATEPROCESS"]))]),
       Call("PspTerminateProcess", [P("ProcessHandle"), P("ExitStatus")])], "ps.c",
      doc="write at depth 1, handle copied through a volatile local")
    F("ZwTerminateProcess", [(T_P, "ProcessHandle"), ("NTSTATUS", "ExitStatus")],
      [Call("NtTerminateProcess", [P("ProcessHandle"), P("ExitStatus")], tail=True)], "ps.c", exported=True,
      doc="exported Zw alias: a jmp to the Nt syscall")
    F("PspTerminateProcess", [(T_P, "Process"), ("NTSTATUS", "ExitStatus")],
      [Call("EtwTraceProcessTerminate", [P("Process"), P("ExitStatus")]),
       Call("PspRundownProcess", [P("Process")])], "ps.c")
    F("NtOpenProcess", [(T_P, "ClientId"), (T_U, "DesiredAccess")],
      [Call("PsOpenProcess", [E("(ULONG)(ULONG_PTR)ClientId"), P("DesiredAccess")])], "ps.c", exported=True)
    F("PsOpenProcess", [(T_U, "ProcessId"), (T_U, "DesiredAccess")],
      [Call("PspReferenceProcess", [E("(PVOID)(ULONG_PTR)ProcessId")]),
       Call("EtwpLogAuditApiEvent", [ent(d["KERNEL_AUDIT_API_OPENPROCESS"]), P("ProcessId"),
                                     E("(NTSTATUS)DesiredAccess")])], "ps.c")
    F("NtOpenThread", [(T_P, "ClientId"), (T_U, "DesiredAccess")],
      [Call("PsOpenThread", [E("(ULONG)(ULONG_PTR)ClientId"), P("DesiredAccess")])], "ps.c")
    F("PsOpenThread", [(T_U, "ThreadId"), (T_U, "DesiredAccess")],
      [Raw("KiSyntheticCounter += (LONG)DesiredAccess;"),
       Call("EtwpLogAuditApiEvent", [ent(d["KERNEL_AUDIT_API_OPENTHREAD"]), P("ThreadId"), E(0)])], "ps.c")
    F("PsSetLoadImageNotifyRoutineEx", [(T_P, "NotifyRoutine"), ("ULONG_PTR", "Flags")],
      [Raw("KiSyntheticCounter += (LONG)Flags;"),
       Call("EtwpLogAuditApiEvent", [ent(d["KERNEL_AUDIT_API_PSSETLOADIMAGENOTIFYROUTINE"]),
                                     E("(ULONG)(ULONG_PTR)NotifyRoutine"), E(0)], tail=True)], "ps.c",
      exported=True, doc="exported non-Nt API; tail call (jmp) to a wrapper")
    F("NtSetContextThread", [(T_P, "ThreadHandle"), (T_P, "ThreadContext")],
      [Call("PspCaptureThreadContext", [P("ThreadContext")]),
       Call("PspSetContextThreadInternal", [P("ThreadHandle"), E("(ULONG)(ULONG_PTR)ThreadContext")]),
       Call("EtwpLogAuditApiEvent", [ent(d["KERNEL_AUDIT_API_SETCONTEXTTHREAD"]),
                                     E("(ULONG)(ULONG_PTR)ThreadHandle"), E(0)])], "ps.c")
    F("PspSetContextThreadInternal", [(T_P, "Thread"), (T_U, "Mode")],
      [If("Mode != 0", [Call("EtwTiLogSetContextThread", [P("Thread"), P("Mode")])])], "ps.c")
    F("NtSuspendThread", [(T_P, "ThreadHandle"), (T_P, "PreviousSuspendCount")],
      [Call("PsSuspendThread", [P("ThreadHandle"), P("PreviousSuspendCount")])], "ps.c")
    F("PsSuspendThread", [(T_P, "Thread"), (T_P, "PreviousSuspendCount")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)PreviousSuspendCount;"),
       Call("EtwTiLogSuspendResumeThread", [ent(d["THREATINT_SUSPEND_THREAD"]), P("Thread")])], "ps.c")
    F("NtResumeThread", [(T_P, "ThreadHandle"), (T_P, "PreviousSuspendCount")],
      [Call("PsResumeThread", [P("ThreadHandle"), P("PreviousSuspendCount")])], "ps.c")
    F("PsResumeThread", [(T_P, "Thread"), (T_P, "PreviousSuspendCount")],
      [Raw("KiSyntheticCounter -= (LONG)(ULONG_PTR)PreviousSuspendCount;"),
       Call("EtwTiLogSuspendResumeThread", [ent(d["THREATINT_RESUME_THREAD"]), P("Thread")])], "ps.c")
    F("NtQueueApcThreadEx", [(T_P, "ThreadHandle"), (T_U, "Flags")],
      [Call("PspQueueApcThreadEx", [P("ThreadHandle"), P("Flags")])], "ps.c")
    F("PspQueueApcThreadEx", [(T_P, "Thread"), (T_U, "Flags")],
      [Raw("KiSyntheticCounter += (LONG)Flags;"),
       Call("EtwTiLogQueueApcThread", [P("Thread"), P("Flags")])], "ps.c")
    F("NtCreateThreadEx", [(T_P, "ProcessHandle"), (T_U, "CreateFlags")],
      [Call("PspCreateThread", [P("ProcessHandle"), P("CreateFlags")])], "ps.c")
    F("PsCreateSystemThread", [(T_P, "StartRoutine"), (T_U, "Flags")],
      [Call("PspInsertThread", [P("StartRoutine"), P("Flags")])], "ps.c", exported=True)
    F("PspCreateThread", [(T_P, "Process"), (T_U, "Flags")],
      [Call("PspReferenceProcess", [P("Process")]),
       Call("PspInsertThread", [P("Process"), P("Flags")])], "ps.c")
    F("PspInsertThread", [(T_P, "Thread"), (T_U, "Flags")],
      [Call("EtwTraceThread", [P("Thread"), P("Flags")])], "ps.c")
    F("NtSetInformationThread", [(T_P, "ThreadHandle"), (T_U, "ThreadInformationClass"),
                                 (T_P, "ThreadInformation"), (T_U, "ThreadInformationLength")],
      [Switch("ThreadInformationClass", [
          (0, [Call("KeSetPriorityThread", [P("ThreadHandle"), P("ThreadInformationLength")])]),
          (1, [Call("MmSetPagePriorityThread", [P("ThreadHandle"), P("ThreadInformationLength")])]),
          (2, [Call("PsSetIoPriorityThread", [P("ThreadHandle"), P("ThreadInformationLength")])]),
          (38, [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)ThreadInformation;"),
                Write("EtwWrite", ent(h_ps), StackDesc(sd_thread_name))]),
      ], [Raw("KiSyntheticCounter -= 1;")])], "ps.c", exported=True,
      doc="switch: each case reaches a different hook id; case 38 builds its descriptor on the stack")
    F("KeSetPriorityThread", [(T_P, "Thread"), (T_U, "Priority")],
      [Call("EtwTracePriority", [ent(hk["PERFINFO_LOG_TYPE_THREAD_SET_PRIORITY"]), P("Thread"),
                                 P("Priority")])], "ps.c", exported=True)
    F("MmSetPagePriorityThread", [(T_P, "Thread"), (T_U, "PagePriority")],
      [Raw("KiSyntheticCounter += (LONG)PagePriority * 5;"),
       Call("EtwTracePriority", [ent(hk["PERFINFO_LOG_TYPE_THREAD_SET_PAGE_PRIORITY"]), P("Thread"),
                                 P("PagePriority")])], "ps.c")
    F("PsSetIoPriorityThread", [(T_P, "Thread"), (T_U, "IoPriority")],
      [Raw("KiSyntheticCounter += (LONG)IoPriority * 3;"),
       Call("EtwTracePriority", [ent(hk["PERFINFO_LOG_TYPE_THREAD_SET_IO_PRIORITY"]), P("Thread"),
                                 P("IoPriority")])], "ps.c")
    F("NtCreateJobObject", [(T_P, "JobHandle"), (T_U, "DesiredAccess")],
      [Raw("KiSyntheticCounter += (LONG)DesiredAccess;"),
       Call("EtwTraceJob", [ent(hk["WMI_LOG_TYPE_JOB_CREATE"]), P("JobHandle")])], "ps.c")
    F("NtTerminateJobObject", [(T_P, "JobHandle"), ("NTSTATUS", "ExitStatus")],
      [Call("PspTerminateJobTree", [P("JobHandle"), E("(ULONG)ExitStatus")])], "ps.c")
    F("PspTerminateJobTree", [(T_P, "Job"), (T_U, "Depth")],
      [If("Depth > 1", [Call("PspTerminateJobTree", [E("(PVOID)((ULONG_PTR)Job + 8)"), E("Depth - 1")])]),
       Call("EtwTraceJob", [ent(hk["WMI_LOG_TYPE_JOB_TERMINATE"]), P("Job")])], "ps.c",
      doc="self-recursive")
    F("NtAssignProcessToJobObject", [(T_P, "JobHandle"), (T_P, "ProcessHandle")],
      [Call("PspAddProcessToJob", [P("ProcessHandle")]),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)JobHandle;")], "ps.c",
      doc="a syscall reaching no write")
    F("NtSetInformationProcess", [(T_P, "ProcessHandle"), (T_U, "ProcessInformationClass"),
                                  (T_P, "ProcessInformation"), (T_U, "ProcessInformationLength")],
      [Switch("ProcessInformationClass", [
          (5, [Call("MmAdjustWorkingSetSize", [P("ProcessHandle"), E("(SIZE_T)ProcessInformationLength")])]),
          (52, [Call("PspSetProcessMitigation", [P("ProcessHandle"), P("ProcessInformationLength")])]),
          (18, [Call("PsSetProcessPriorityClass", [P("ProcessHandle"), E("(UCHAR)ProcessInformationLength")])]),
          (61, [Call("PspSetProcessProtection", [P("ProcessHandle"), P("ProcessInformation")])]),
      ])], "ps.c", exported=True)
    F("PspSetProcessMitigation", [(T_P, "Process"), (T_U, "Flags")],
      [If("Flags & 0x1",
          [Raw("KiSyntheticCounter += 0x100;"),
           Call("EtwpTimLogMitigationForProcess", [ent(d["MITIGATION_AUDIT_PROHIBIT_DYNAMIC_CODE"]), P("Process"),
                                                   P("Flags")])],
          [Raw("KiSyntheticCounter -= 0x200;"),
           Call("EtwpTimLogMitigationForProcess", [ent(d["MITIGATION_ENFORCE_PROHIBIT_DYNAMIC_CODE"]),
                                                   P("Process"), E("Flags | 0x8")])])], "ps.c",
      doc="if/else: each branch calls the wrapper with its own descriptor")
    F("PsSetProcessPriorityClass", [(T_P, "Process"), ("UCHAR", "PriorityClass")],
      [Call("PspLogCpuPriorityChange", [P("Process"), E("(ULONG)PriorityClass")])], "ps.c", exported=True)
    F("PspLogCpuPriorityChange", [(T_P, "Process"), (T_U, "NewPriority")],
      [Raw("KiSyntheticCounter += (LONG)NewPriority;"),
       Write("EtwWrite", ent(h_ps), StackDesc(sd_cpu_prio)),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Process;")], "ps.c",
      doc="descriptor built on the stack field by field")
    F("PspSetProcessProtection", [(T_P, "Process"), (T_P, "Protection")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Protection;"),
       Tlg("_tlgWriteEx_EtwWriteEx", ent(t_sec), ent(ev_prot)),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Process;")], "ps.c")

    # ---------------------------------------------------------------- mm.c: memory manager
    filler("MiDoMappedCopy", "mm.c", params=((T_P, "Buffer"),))
    filler("MiLockProcessWorkingSet", "mm.c")
    filler("MiInsertVad", "mm.c", calls=("MiLockProcessWorkingSet",))
    F("MmCreateProcessAddressSpace", [(T_U, "Flags")],
      [Call("MiInsertVad", [E("(PVOID)(ULONG_PTR)Flags")]),
       If("Flags & 0x10", [Call("MmAdjustWorkingSetSize", [E("(PVOID)(ULONG_PTR)Flags"), E(0x1000)])])], "mm.c")
    F("NtAllocateVirtualMemory", [(T_P, "ProcessHandle"), (T_P, "BaseAddress"), ("SIZE_T", "RegionSize"),
                                  (T_U, "AllocationType"), (T_U, "Protect")],
      [Raw("KiSyntheticCounter += (LONG)AllocationType;"),
       Call("MiAllocateVirtualMemory", [P("ProcessHandle"), P("BaseAddress"), P("RegionSize"), P("Protect")])],
      "mm.c", exported=True)
    F("MiAllocateVirtualMemory", [(T_P, "ProcessHandle"), (T_P, "BaseAddress"), ("SIZE_T", "RegionSize"),
                                  (T_U, "Protect")],
      [Call("MiInsertVad", [P("BaseAddress")]),
       Call("EtwpTraceVirtualMemory", [ent(hk["PERFINFO_LOG_TYPE_VIRTUAL_ALLOC"]), P("BaseAddress"),
                                       P("RegionSize")]),
       If("Protect & 0xF0",
          [Call("EtwTiLogAllocExecVm", [Sel("ProcessHandle != NtCurrentProcess()",
                                            ent(d["THREATINT_ALLOCVM_REMOTE"]), ent(d["THREATINT_ALLOCVM_LOCAL"])),
                                        P("BaseAddress"), P("RegionSize")])])], "mm.c",
      doc="cond ? &A : &B selects the descriptor (cmov)")
    F("NtFreeVirtualMemory", [(T_P, "ProcessHandle"), (T_P, "BaseAddress"), ("SIZE_T", "RegionSize")],
      [Call("MiFreeVirtualMemory", [P("BaseAddress"), P("RegionSize")]),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)ProcessHandle;")], "mm.c", exported=True)
    F("MiFreeVirtualMemory", [(T_P, "BaseAddress"), ("SIZE_T", "RegionSize")],
      [Call("MiLockProcessWorkingSet", [P("BaseAddress")]),
       Call("EtwpTraceVirtualMemory", [ent(hk["PERFINFO_LOG_TYPE_VIRTUAL_FREE"]), P("BaseAddress"),
                                       P("RegionSize")])], "mm.c")
    F("NtProtectVirtualMemory", [(T_P, "ProcessHandle"), (T_P, "BaseAddress"), ("SIZE_T", "RegionSize"),
                                 (T_U, "NewProtect")],
      [Call("MiProtectVirtualMemory", [P("ProcessHandle"), P("BaseAddress"), P("RegionSize"), P("NewProtect")])],
      "mm.c")
    F("MiProtectVirtualMemory", [(T_P, "ProcessHandle"), (T_P, "BaseAddress"), ("SIZE_T", "RegionSize"),
                                 (T_U, "NewProtect")],
      [If("ProcessHandle != NtCurrentProcess()",
          [Raw("KiSyntheticCounter += (LONG)RegionSize;"),
           Assign("ProtectDescriptor", ent(d["THREATINT_PROTECTVM_REMOTE"]))],
          [Raw("KiSyntheticCounter -= (LONG)(ULONG_PTR)BaseAddress;"),
           Assign("ProtectDescriptor", ent(d["THREATINT_PROTECTVM_LOCAL"]))]),
       Call("MiLockProcessWorkingSet", [P("BaseAddress")]),
       Call("EtwTiLogProtectExecVm", [Var("ProtectDescriptor"), P("NewProtect")])], "mm.c",
      locals_=[(T_D, "ProtectDescriptor")],
      doc="if/else branches assign different descriptors, then one call (a phi)")
    F("MmProtectVirtualMemoryKernel", [(T_P, "BaseAddress"), ("SIZE_T", "RegionSize"), (T_U, "NewProtect")],
      [Raw("KiSyntheticCounter += (LONG)RegionSize + (LONG)(ULONG_PTR)BaseAddress;"),
       Call("EtwTiLogProtectExecVm", [ent(d["THREATINT_PROTECTVM_REMOTE_KERNEL_CALLER"]), P("NewProtect")])],
      "mm.c", exported=True)
    F("NtReadVirtualMemory", [(T_P, "ProcessHandle"), (T_P, "BaseAddress"), (T_P, "Buffer"),
                              ("SIZE_T", "BufferSize")],
      [Call("MiReadWriteVirtualMemory", [P("ProcessHandle"), P("BaseAddress"), P("Buffer"), P("BufferSize"),
                                         ent(d["THREATINT_READVM_REMOTE"])])], "mm.c")
    F("NtWriteVirtualMemory", [(T_P, "ProcessHandle"), (T_P, "BaseAddress"), (T_P, "Buffer"),
                               ("SIZE_T", "BufferSize")],
      [Raw("KiSyntheticCounter ^= 0x55;"),
       Call("MiReadWriteVirtualMemory", [P("ProcessHandle"), P("BaseAddress"), P("Buffer"), P("BufferSize"),
                                         ent(d["THREATINT_WRITEVM_REMOTE"])])], "mm.c")
    F("MiReadWriteVirtualMemory", [(T_P, "ProcessHandle"), (T_P, "BaseAddress"), (T_P, "Buffer"),
                                   ("SIZE_T", "BufferSize"), (T_D, "Descriptor")],
      [Call("MiDoMappedCopy", [P("Buffer")]),
       If("ProcessHandle != NtCurrentProcess()",
          [Call("EtwTiLogReadWriteVm", [P("Descriptor"), P("BaseAddress"), P("BufferSize")])])], "mm.c",
      doc="the descriptor is the 5th parameter (stack) and is passed on (2 levels of descriptor wrappers)")
    F("NtMapViewOfSection", [(T_P, "SectionHandle"), (T_P, "ProcessHandle"), (T_U, "Protect")],
      [Call("MiMapViewOfSection", [P("ProcessHandle"), P("SectionHandle"), P("Protect")])], "mm.c", exported=True)
    F("MiMapViewOfSection", [(T_P, "Process"), (T_P, "Section"), (T_U, "Protect")],
      [If("Process != NtCurrentProcess()", [Call("EtwTiLogMapExecView", [P("Process"), P("Protect")])]),
       Call("MiMapViewOfImageSection", [P("Section")])], "mm.c")
    F("MiMapViewOfImageSection", [(T_P, "Section")],
      [Call("MiInsertVad", [P("Section")]),
       Call("EtwpLogImageEvent", [ent(h_ps), ent(d["KERNEL_PROCESS_EVENT_IMAGE_LOAD"]), P("Section")])], "mm.c")
    F("NtUnmapViewOfSection", [(T_P, "ProcessHandle"), (T_P, "BaseAddress")],
      [Call("MiUnmapViewOfSection", [P("ProcessHandle"), P("BaseAddress")])], "mm.c")
    F("MiUnmapViewOfSection", [(T_P, "Process"), (T_P, "BaseAddress")],
      [Call("MiLockProcessWorkingSet", [P("Process")]),
       Call("EtwpLogImageEvent", [ent(h_ps), ent(d["KERNEL_PROCESS_EVENT_IMAGE_UNLOAD"]), P("BaseAddress")])],
      "mm.c")
    F("MmLoadSystemImage", [(T_P, "ImageFileName"), (T_U, "Flags")],
      [If("Flags & 0x80000000",
          [Call("EtwpTlgLogSecurityEvent", [ent(t_sec), ent(ev_blocked), P("Flags")])]),
       Call("EtwpLogImageEvent", [ent(h_ps), ent(d["KERNEL_PROCESS_EVENT_IMAGE_LOAD"]), P("ImageFileName")])],
      "mm.c", exported=True)
    F("NtCreateSection", [(T_P, "SectionHandle"), (T_U, "AllocationAttributes")],
      [Call("MiCreateSectionCommon", [P("SectionHandle"), P("AllocationAttributes")])], "mm.c", exported=True)
    F("NtCreateSectionEx", [(T_P, "SectionHandle"), (T_U, "AllocationAttributes"), (T_P, "ExtendedParameters")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)ExtendedParameters;"),
       Call("MiCreateSectionCommon", [P("SectionHandle"), P("AllocationAttributes")])], "mm.c")
    F("MiCreateSectionCommon", [(T_P, "Section"), (T_U, "Attributes")],
      [Call("MiCreateSection", [P("Section"), P("Attributes")])], "mm.c")
    F("MiCreateSection", [(T_P, "Section"), (T_U, "Attributes")],
      [If("Attributes & 0x8000000", [Call("MiCreatePagingFileMap", [P("Section"), P("Attributes")])]),
       Raw("KiSyntheticCounter += (LONG)Attributes;")], "mm.c")
    F("MiCreatePagingFileMap", [(T_P, "Section"), (T_U, "Attributes")],
      [Call("MiInsertVad", [P("Section")]),
       Call("MiLogSectionCreate", [P("Section"), P("Attributes")])], "mm.c")
    F("NtCreatePagingFile", [(T_P, "PageFileName"), ("SIZE_T", "MinimumSize")],
      [Call("MiCreatePagingFile", [P("PageFileName"), E("(ULONG)MinimumSize")])], "mm.c",
      doc="reaches MiLogSectionCreate only at depth 6: not reported with the default max depth")
    F("MiCreatePagingFile", [(T_P, "PageFileName"), (T_U, "Size")],
      [Write("EtwWriteEx", ent(h_mem), ent(d["KERNEL_MEM_EVENT_PAGEFILE_ADDED"])),
       Call("MiCreateSectionCommon", [P("PageFileName"), E("Size | 0x8000000")])], "mm.c")
    F("MmAllocatePagesForMdlEx", [("SIZE_T", "TotalBytes"), (T_U, "Flags")],
      [Call("MiAllocatePagesForMdl", [P("TotalBytes"), P("Flags")])], "mm.c", exported=True)
    F("MiAllocatePagesForMdl", [("SIZE_T", "TotalBytes"), (T_U, "Flags")],
      [Raw("KiSyntheticCounter += (LONG)TotalBytes;"),
       Write("EtwWriteEx", ent(h_mem), ent(d["KERNEL_MEM_EVENT_MDL_ALLOCATION"])),
       Raw("KiSyntheticCounter ^= (LONG)Flags;")], "mm.c",
      doc="handle in a field of a global structure (EtwpState+0x8), RIP-relative load")
    F("MmAdjustWorkingSetSize", [(T_P, "Process"), ("SIZE_T", "WorkingSetSize")],
      [Raw("KiSyntheticCounter += (LONG)WorkingSetSize;"),
       Call("MiLogWorkingSetInfo", [ent(state), P("Process")])], "mm.c")
    F("MmTrimAllSystemPagableMemory", [(T_U, "TrimType")],
      [Call("MiLogWorkingSetInfo", [ent(state), E("(PVOID)(ULONG_PTR)TrimType")])], "mm.c", exported=True)

    # ---------------------------------------------------------------- ob.c: object manager
    filler("ObReferenceObjectByHandle", "ob.c", exported=True,
           doc="exported API reaching no write")
    F("ObCreateSymbolicLink", [(T_P, "LinkName"), (T_U, "DesiredAccess")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)LinkName;"),
       Call("EtwpLogAuditApiEvent", [ent(d["KERNEL_AUDIT_API_CREATESYMBOLICLINKOBJECT"]), P("DesiredAccess"),
                                     E(0)])], "ob.c", exported=True)
    F("NtCreateSymbolicLinkObject", [(T_P, "LinkHandle"), (T_U, "DesiredAccess")],
      [Call("ObCreateSymbolicLink", [P("LinkHandle"), P("DesiredAccess")])], "ob.c")
    F("NtClose", [(T_P, "Handle")], [Call("ObpCloseHandle", [P("Handle"), E(1)])], "ob.c", exported=True)
    F("ObpCloseHandle", [(T_P, "Handle"), (T_U, "PreviousMode")],
      [Raw("KiSyntheticCounter += (LONG)PreviousMode;"),
       Call("ObpTraceHandleEvent", [ent(hk["PERFINFO_LOG_TYPE_CLOSE_HANDLE"]), P("Handle"), E(0)])], "ob.c")
    F("NtDuplicateObject", [(T_P, "SourceProcess"), (T_P, "SourceHandle"), (T_U, "Options")],
      [Call("ObDuplicateObject", [P("SourceProcess"), P("SourceHandle"), P("Options")])], "ob.c", exported=True)
    F("ObDuplicateObject", [(T_P, "SourceProcess"), (T_P, "SourceHandle"), (T_U, "Options")],
      [If("Options & 0x1", [Call("ObpCloseHandle", [P("SourceHandle"), E(0)])]),
       Call("ObpCreateHandle", [P("SourceProcess"), P("SourceHandle")])], "ob.c")
    F("ObOpenObjectByPointer", [(T_P, "Object"), (T_U, "HandleAttributes")],
      [Raw("KiSyntheticCounter += (LONG)HandleAttributes;"),
       Call("ObpCreateHandle", [P("Object"), E("(PVOID)(ULONG_PTR)HandleAttributes")])], "ob.c", exported=True)
    F("ObpCreateHandle", [(T_P, "Object"), (T_P, "Handle")],
      [Call("ObReferenceObjectByHandle", [P("Handle")]),
       Call("ObpTraceHandleEvent", [ent(hk["PERFINFO_LOG_TYPE_CREATE_HANDLE"]), P("Handle"), P("Object")])],
      "ob.c")
    F("ObpTraceHandleEvent", [("USHORT", "HookId"), (T_P, "Handle"), (T_P, "Object")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Handle - (LONG)(ULONG_PTR)Object;"),
       Legacy(ent(m_obh), P("HookId"))], "ob.c")
    F("NtQueryDirectoryObject", [(T_P, "DirectoryHandle"), (T_U, "Context")],
      [Call("ObpLookupDirectoryEntry", [P("DirectoryHandle"), P("Context")])], "ob.c")
    F("ObpLookupDirectoryEntry", [(T_P, "Directory"), (T_U, "Depth")],
      [If("Depth != 0", [Call("ObpLookupDirectoryRecursive", [P("Directory"), E("Depth - 1")])]),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Directory;")], "ob.c",
      doc="mutual recursion with ObpLookupDirectoryRecursive")
    F("ObpLookupDirectoryRecursive", [(T_P, "Directory"), (T_U, "Depth")],
      [Write("EtwWriteTransfer", ent(h_gen), ent(d["ObjectDirectoryLookup"])),
       If("Depth > 2", [Call("ObpLookupDirectoryEntry", [E("(PVOID)((ULONG_PTR)Directory + 16)"),
                                                          P("Depth")])])], "ob.c")

    # ---------------------------------------------------------------- io.c: I/O manager
    F("IoRegisterShutdownNotification", [(T_P, "DeviceObject")],
      [Call("IopRegisterShutdownCommon", [P("DeviceObject"),
                                          ent(d["KERNEL_AUDIT_API_IOREGISTERSHUTDOWNNOTIFICATION"])], tail=True)],
      "io.c", exported=True, doc="jmp to a 2-level descriptor wrapper")
    F("IoRegisterLastChanceShutdownNotification", [(T_P, "DeviceObject")],
      [Raw("KiSyntheticCounter += 0x11;"),
       Call("IopRegisterShutdownCommon", [P("DeviceObject"),
                                          ent(d["KERNEL_AUDIT_API_IOREGISTERLASTCHANCESHUTDOWNNOTIFICATION"])]),
       Raw("KiSyntheticCounter -= 0x3;")], "io.c", exported=True)
    F("IopRegisterShutdownCommon", [(T_P, "DeviceObject"), (T_D, "AuditDescriptor")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)DeviceObject;"),
       Call("EtwpLogAuditApiEvent", [P("AuditDescriptor"), E("(ULONG)(ULONG_PTR)DeviceObject"), E(0)])], "io.c")
    F("NtDeviceIoControlFile", [(T_P, "FileHandle"), (T_U, "IoControlCode")],
      [Call("IopXxxControlFile", [P("FileHandle"), P("IoControlCode"), E(1),
                                  ent(d["MITIGATION_AUDIT_PROHIBIT_WIN32K_SYSTEM_CALLS"])])], "io.c", exported=True)
    F("NtFsControlFile", [(T_P, "FileHandle"), (T_U, "FsControlCode")],
      [Call("IopXxxControlFile", [P("FileHandle"), P("FsControlCode"), E(0),
                                  ent(d["MITIGATION_AUDIT_PROHIBIT_FSCTL_SYSTEM_CALLS"])])], "io.c", exported=True)
    F("IopXxxControlFile", [(T_P, "FileHandle"), (T_U, "ControlCode"), ("BOOLEAN", "DeviceIoControl"),
                            (T_D, "MitigationDescriptor")],
      [Tlg("_tlgWriteTransfer_EtwWriteTransfer", ent(t_asm),
           Sel("DeviceIoControl", ent(ev_ioctl), ent(ev_fsctl))),
       If("ControlCode & 0x3",
          [Call("EtwpTimLogMitigationForProcess", [P("MitigationDescriptor"), P("FileHandle"), P("ControlCode")])])],
      "io.c", doc="TraceLogging event selected by cmov; mitigation descriptor per call path")
    F("IoCaptureLiveDump", [(T_U, "Flags")],
      [Raw("KiSyntheticCounter += (LONG)Flags;"), Call("IopLiveDumpWriteEvents", [P("Flags")])], "io.c",
      exported=True)
    F("IopLiveDumpWriteEvents", [(T_U, "Flags")],
      [LocalProvider(h_ld, [
          Write("EtwWriteEx", ent(h_ld), ent(d["LIVEDUMP_EVENT_CAPTURE_API_START"])),
          Raw("KiSyntheticCounter += (LONG)Flags;"),
          Write("EtwWriteEx", ent(h_ld), ent(d["LIVEDUMP_EVENT_CAPTURE_API_END"]))])], "io.c",
      doc="local REGHANDLE registered, used and unregistered in one function")
    F("NtSystemDebugControl", [(T_U, "Command"), (T_P, "InputBuffer")],
      [Switch("Command", [(37, [Call("IoCaptureLiveDump", [E("(ULONG)(ULONG_PTR)InputBuffer")])]),
                          (7, [Call("KdpQueryTraceInformation", [P("InputBuffer")])])])], "io.c")
    filler("KdpQueryTraceInformation", "io.c", params=((T_P, "Buffer"),))

    # ---------------------------------------------------------------- ke.c: executive, security, power
    F("NtSetSystemTime", [(T_P, "SystemTime"), (T_P, "PreviousTime")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)PreviousTime;"),
       Call("ExpSetSystemTime", [P("SystemTime")])], "ke.c")
    F("KeSetSystemTime", [(T_P, "NewTime"), (T_P, "OldTime")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)OldTime;"), Call("ExpSetSystemTime", [P("NewTime")])], "ke.c",
      exported=True)
    F("ExpSetSystemTime", [(T_P, "NewTime")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)NewTime;"),
       Write("EtwWrite", ent(h_gen), ent(d["KernelSystemTimeChange"]))], "ke.c")
    F("NtSetSystemInformation", [(T_U, "SystemInformationClass"), (T_P, "SystemInformation")],
      [Switch("SystemInformationClass", [
          (44, [Call("ExpSetTimeZoneInformation", [P("SystemInformation")])]),
          (38, [Call("MmLoadSystemImage", [P("SystemInformation"), E(0)])]),
          (3, [WriteString(ent(h_ps), 5, 0x8000000000000400, "SystemInformationChange")]),
      ])], "ke.c", doc="EtwWriteString at depth 1 in one case")
    F("ExpSetTimeZoneInformation", [(T_P, "TimeZone")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)TimeZone;"),
       Write("EtwWrite", ent(h_gen), StackDesc(sd_tz_bias))], "ke.c")
    F("NtSetTimerResolution", [(T_U, "DesiredTime"), ("BOOLEAN", "SetResolution")],
      [Raw("KiSyntheticCounter += (LONG)DesiredTime;"),
       If("SetResolution", [WriteString(ent(h_gen), 4, 0x8000000000000010, "TimerResolutionChange")])], "ke.c",
      doc="EtwWriteString through a handle in a global structure field")
    F("NtShutdownSystem", [(T_U, "Action")], [Call("PopGracefulShutdown", [P("Action")])], "ke.c")
    F("PopGracefulShutdown", [(T_U, "Action")],
      [Write("EtwWriteStartScenario", ent(h_pow), ent(d["POP_ETW_EVENT_GRACEFULSHUTDOWN_START"])),
       Raw("KiSyntheticCounter += (LONG)Action;"),
       Call("PopShutdownComplete", [P("Action")])], "ke.c")
    F("PopShutdownComplete", [(T_U, "Action")],
      [Raw("KiSyntheticCounter ^= (LONG)Action;"),
       Write("EtwWriteEndScenario", ent(h_pow), ent(d["POP_ETW_EVENT_GRACEFULSHUTDOWN_STOP"]))], "ke.c")
    F("NtPowerInformation", [(T_U, "InformationLevel"), (T_P, "InputBuffer")],
      [Switch("InformationLevel", [
          (0, [Write("EtwWrite", ent(h_pow), ent(d["POP_ETW_EVENT_KERNEL_QUERY_ALLOWED"]))]),
          (1, [Raw("KiSyntheticCounter += 2;"),
               Write("EtwWriteEx", ent(h_pow), ent(d["POP_ETW_EVENT_STRS"]))]),
          (2, [Raw("KiSyntheticCounter += 3;"),
               Write("EtwWriteTransfer", ent(h_pow), ent(d["POP_ETW_EVENT_SESSION_DISPLAY_ON"]))]),
      ], [Call("PopFilterCapabilities", [P("InputBuffer")])])], "ke.c",
      doc="switch: a different writer in each case, all at depth 1")
    filler("PopFilterCapabilities", "ke.c", params=((T_P, "Capabilities"),))
    F("SeAccessCheck", [(T_P, "SecurityDescriptor"), (T_U, "DesiredAccess")],
      [Call("SepAccessCheck", [P("SecurityDescriptor"), P("DesiredAccess")])], "ke.c", exported=True)
    F("NtAccessCheck", [(T_P, "SecurityDescriptor"), (T_P, "ClientToken"), (T_U, "DesiredAccess")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)ClientToken;"),
       Call("SepAccessCheck", [P("SecurityDescriptor"), P("DesiredAccess")])], "ke.c")
    F("SepAccessCheck", [(T_P, "SecurityDescriptor"), (T_U, "DesiredAccess")],
      [If("((ULONG_PTR)SecurityDescriptor & DesiredAccess) == 0",
          [Call("SeLogAccessFailure", [P("DesiredAccess"), E("STATUS_ACCESS_DENIED")])])], "ke.c")
    F("NtSetInformationToken", [(T_P, "TokenHandle"), (T_U, "TokenInformationClass")],
      [If("TokenInformationClass == 25", [Call("SepSetTokenIntegrity", [P("TokenHandle"), E(0x2000)])])], "ke.c")
    F("SepSetTokenIntegrity", [(T_P, "Token"), (T_U, "IntegrityLevel")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Token;"),
       Call("EtwpTlgLogSecurityEvent", [ent(t_sec, via_var=True), ent(ev_token), P("IntegrityLevel")])], "ke.c",
      doc="TraceLogging provider pointer loaded from its const handle variable and passed to a wrapper")
    F("NtYieldExecution", [], [Raw("KiSyntheticCounter += 1;")], "ke.c", doc="a syscall with no call at all")
    F("NtQuerySystemInformation", [(T_U, "SystemInformationClass"), (T_P, "SystemInformation")],
      [Call("ExpQuerySystemInformation", [P("SystemInformationClass"), P("SystemInformation")])], "ke.c",
      exported=True)
    F("ExpQuerySystemInformation", [(T_U, "SystemInformationClass"), (T_P, "SystemInformation")],
      [Switch("SystemInformationClass", [
          (5, [Call("ExpQueryProcessInformation", [P("SystemInformation")])]),
          (185, [Raw("KiSyntheticCounter += 185;"),
                 Tlg("_tlgWriteAgg", ent(t_asm), ent(ev_usage))]),
      ])], "ke.c")
    filler("ExpQueryProcessInformation", "ke.c", params=((T_P, "Buffer"),), calls=("PspReferenceProcess",))

    # ---------------------------------------------------------------- cm.c: configuration manager (registry)
    F("NtDeleteValueKey", [(T_P, "KeyHandle"), (T_P, "ValueName")],
      [Call("CmDeleteValueKey", [P("KeyHandle"), P("ValueName")])], "cm.c")
    F("CmDeleteValueKey", [(T_P, "KeyControlBlock"), (T_P, "ValueName")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)ValueName;"),
       Call("HvpMarkCellDirty", [P("KeyControlBlock"), E(0x20)])], "cm.c")
    F("NtSetInformationKey", [(T_P, "KeyHandle"), (T_U, "KeySetInformationClass")],
      [If("KeySetInformationClass == 0", [Call("CmSetLastWriteTimeKey", [P("KeyHandle")])])], "cm.c")
    F("CmSetLastWriteTimeKey", [(T_P, "KeyControlBlock")],
      [Call("HvpMarkCellDirty", [P("KeyControlBlock"), E(0x8)])], "cm.c")
    F("HvpMarkCellDirty", [(T_P, "Hive"), (T_U, "Cell")],
      [If("(Cell & 0x7) == 0", [Call("HvpMarkDirty", [P("Hive"), P("Cell")])]),
       Raw("KiSyntheticCounter ^= (LONG)Cell;")], "cm.c")
    F("HvpMarkDirty", [(T_P, "Hive"), (T_U, "Start")],
      [Raw("KiSyntheticCounter += (LONG)Start + (LONG)(ULONG_PTR)Hive;"),
       Legacy(ent(m_hive), ent(hk["PERFINFO_LOG_TYPE_REG_HIVE_DIRTY"]))], "cm.c",
      doc="legacy event with an index-2 group mask (PERF_REG_HIVE)")

    files = ["init.c", "etwp.c", "ps.c", "mm.c", "ob.c", "io.c", "ke.c", "cm.c"]
    file_docs = {
        "init.c": "DriverEntry, provider registration and the system service table",
        "etwp.c": "ETW logging helpers and wrappers (handles/descriptors as parameters)",
        "ps.c": "process, thread and job syscalls",
        "mm.c": "memory manager syscalls",
        "ob.c": "object manager",
        "io.c": "I/O manager",
        "ke.c": "executive, security and power",
        "cm.c": "configuration manager (registry hives)",
    }
    handles = [h_ps, h_audit, h_ti, h_mit, h_pow]
    return Model("synthkernel", guids, handles, [state], list(d.values()), [t_sec, t_asm, t_kp], tlg_events,
                 masks, [hk[n] for n in HOOKS], funcs, files, registrations, file_docs)


def add_init_funcs(model: Model) -> None:
    """DriverEntry -> EtwpInitialize, which registers every provider (manifest and TraceLogging)."""
    lines = []
    for g, h, cb in model.registrations:
        lines.append(f"Status |= EtwRegister(&{g.sym}, {cb}, NULL, &{h.c});")
    for p in model.tlg_providers:
        lines.append(f"Status |= TraceLoggingRegisterEx_EtwRegister_EtwSetInformation(&{p.sym}, NULL, NULL);")
    model.funcs.insert(0, Func("EtwpInitialize", [], [Raw("\n".join(lines))], "init.c",
                               doc="registers the manifest providers (handles in globals and in EtwpState "
                                   "fields) and the TraceLogging providers"))
    model.funcs.insert(0, Func("DriverEntry", [(T_P, "DriverObject"), (T_P, "RegistryPath")],
                               [Raw("KeServiceTableBase = (PVOID)KiServiceTable;\n"
                                    "KeServiceTableLimit = sizeof(KiServiceTable) / sizeof(KiServiceTable[0]);\n"
                                    "KiSyntheticCounter += (LONG)(ULONG_PTR)DriverObject "
                                    "+ (LONG)(ULONG_PTR)RegistryPath;"),
                                Call("EtwpInitialize", [])], "init.c", doc="image entry point (not a root)"))


# ---------------------------------------------------------------------------------------------------------------
# C emission.
# ---------------------------------------------------------------------------------------------------------------

HEADER_TYPES = r"""
typedef unsigned char UINT8, UCHAR, BOOLEAN;
typedef unsigned short UINT16, USHORT, WCHAR;
typedef unsigned int UINT32;
typedef unsigned long ULONG;
typedef long LONG, NTSTATUS;
typedef unsigned long long UINT64, ULONGLONG, ULONG64, ULONG_PTR, SIZE_T, REGHANDLE;
typedef long long LONGLONG, LONG_PTR;
typedef void VOID;
typedef void* PVOID;
typedef REGHANDLE* PREGHANDLE;
typedef const WCHAR* PCWSTR;

#define NULL ((void*)0)
#define NOINLINE __declspec(noinline)
#define EXPORT __declspec(dllexport)
#define STATUS_SUCCESS ((NTSTATUS)0x00000000L)
#define STATUS_ACCESS_DENIED ((NTSTATUS)0xC0000022L)
#define STATUS_INVALID_HANDLE ((NTSTATUS)0xC0000008L)
#define STATUS_INVALID_PARAMETER ((NTSTATUS)0xC000000DL)
#define NtCurrentProcess() ((PVOID)(LONG_PTR)-1)

typedef struct _GUID {
    ULONG Data1;
    USHORT Data2;
    USHORT Data3;
    UCHAR Data4[8];
} GUID;
typedef const GUID* LPCGUID;

/* evntprov.h */
typedef struct _EVENT_DESCRIPTOR {
    USHORT Id;
    UCHAR Version;
    UCHAR Channel;
    UCHAR Level;
    UCHAR Opcode;
    USHORT Task;
    ULONGLONG Keyword;
} EVENT_DESCRIPTOR, *PEVENT_DESCRIPTOR;
typedef const EVENT_DESCRIPTOR* PCEVENT_DESCRIPTOR;

typedef struct _EVENT_DATA_DESCRIPTOR {
    ULONGLONG Ptr;
    ULONG Size;
    ULONG Reserved;
} EVENT_DATA_DESCRIPTOR, *PEVENT_DATA_DESCRIPTOR;

typedef struct _EVENT_FILTER_DESCRIPTOR {
    ULONGLONG Ptr;
    ULONG Size;
    ULONG Type;
} EVENT_FILTER_DESCRIPTOR, *PEVENT_FILTER_DESCRIPTOR;

typedef VOID (*PETWENABLECALLBACK)(LPCGUID SourceId, ULONG ControlCode, UCHAR Level, ULONGLONG MatchAnyKeyword,
                                   ULONGLONG MatchAllKeyword, PEVENT_FILTER_DESCRIPTOR FilterData,
                                   PVOID CallbackContext);

/* TraceLoggingProvider.h (kernel mode) */
typedef struct _tlgProvider_t {
    UINT32 LevelPlus1;
    const UINT16* ProviderMetadataPtr; /* points at the provider blob's RemainingSize */
    ULONGLONG KeywordAny;
    ULONGLONG KeywordAll;
    REGHANDLE RegHandle;
    PETWENABLECALLBACK EnableCallback;
    PVOID CallbackContext;
} _tlgProvider_t;

struct _TraceLoggingMetadata_t {
    UINT32 Signature; /* "ETW0" */
    UINT16 Size;
    UINT8 Version;
    UINT8 Flags;
    UINT64 Magic;
};

/* ETW state with registration handles in fields: MemoryRegHandle at +0x8, GeneralRegHandle at +0x10 */
typedef struct _ETWP_STATE {
    ULONG Flags;
    ULONG SequenceNumber;
    REGHANDLE MemoryRegHandle;
    REGHANDLE GeneralRegHandle;
    ULONGLONG EnableMask;
} ETWP_STATE, *PETWP_STATE;

#define ETW_TRACE_KERNEL_EVENT_FLAGS 0x00401802
"""

HEADER_API = r"""
/* The kernel's ETW API (etwapi.c). */
EXPORT NTSTATUS EtwRegister(LPCGUID ProviderId, PETWENABLECALLBACK EnableCallback, PVOID CallbackContext,
                            PREGHANDLE RegHandle);
EXPORT NTSTATUS EtwUnregister(REGHANDLE RegHandle);
EXPORT BOOLEAN EtwEventEnabled(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor);
EXPORT BOOLEAN EtwProviderEnabled(REGHANDLE RegHandle, UCHAR Level, ULONGLONG Keyword);
EXPORT NTSTATUS EtwSetInformation(REGHANDLE RegHandle, ULONG InformationClass, PVOID EventInformation,
                                  ULONG InformationLength);
EXPORT NTSTATUS EtwWrite(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, LPCGUID ActivityId,
                         ULONG UserDataCount, PEVENT_DATA_DESCRIPTOR UserData);
EXPORT NTSTATUS EtwWriteEx(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, ULONG64 Filter, ULONG Flags,
                           LPCGUID ActivityId, LPCGUID RelatedActivityId, ULONG UserDataCount,
                           PEVENT_DATA_DESCRIPTOR UserData);
EXPORT NTSTATUS EtwWriteTransfer(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, LPCGUID ActivityId,
                                 LPCGUID RelatedActivityId, ULONG UserDataCount, PEVENT_DATA_DESCRIPTOR UserData);
EXPORT NTSTATUS EtwWriteString(REGHANDLE RegHandle, UCHAR Level, ULONGLONG Keyword, LPCGUID ActivityId,
                               PCWSTR String);
EXPORT NTSTATUS EtwWriteStartScenario(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, LPCGUID ActivityId,
                                      ULONG UserDataCount, PEVENT_DATA_DESCRIPTOR UserData);
EXPORT NTSTATUS EtwWriteEndScenario(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, LPCGUID ActivityId,
                                    ULONG UserDataCount, PEVENT_DATA_DESCRIPTOR UserData);
NTSTATUS EtwTraceKernelEvent(PEVENT_DATA_DESCRIPTOR EventData, ULONG DataCount, ULONG GroupMask, USHORT HookId,
                             ULONG Flags);
NTSTATUS TraceLoggingRegisterEx_EtwRegister_EtwSetInformation(_tlgProvider_t* Provider,
                                                              PETWENABLECALLBACK EnableCallback,
                                                              PVOID CallbackContext);
VOID _tlgEnableCallback(LPCGUID SourceId, ULONG ControlCode, UCHAR Level, ULONGLONG MatchAnyKeyword,
                        ULONGLONG MatchAllKeyword, PEVENT_FILTER_DESCRIPTOR FilterData, PVOID CallbackContext);
NTSTATUS _tlgWriteTransfer_EtwWriteTransfer(const _tlgProvider_t* Provider, const void* EventMetadata,
                                            LPCGUID ActivityId, LPCGUID RelatedActivityId, UINT32 DataCount,
                                            PEVENT_DATA_DESCRIPTOR Data);
NTSTATUS _tlgWriteEx_EtwWriteEx(const _tlgProvider_t* Provider, const void* EventMetadata, ULONG64 Filter,
                                ULONG Flags, LPCGUID ActivityId, LPCGUID RelatedActivityId, UINT32 DataCount,
                                PEVENT_DATA_DESCRIPTOR Data);
NTSTATUS _tlgWriteAgg(const _tlgProvider_t* Provider, const void* EventMetadata, LPCGUID ActivityId,
                      UINT32 DataCount, PEVENT_DATA_DESCRIPTOR Data);
VOID _tlgWriteCommon(const _tlgProvider_t* Provider, const void* EventMetadata, EVENT_DESCRIPTOR* Descriptor,
                     PEVENT_DATA_DESCRIPTOR Data);
"""

ETWAPI_C = r"""/*
 * etwapi.c: the kernel's own ETW API, with synthetic bodies.
 *
 * This file is its own translation unit on purpose: if these functions were visible to their callers, the
 * compiler would notice the unused parameters and stop loading them at call sites.  Every body consumes every
 * argument through a volatile sink.  Calls made in here (e.g. _tlgWriteTransfer_EtwWriteTransfer calling
 * EtwWriteTransfer) are part of the API, not write sites.
 */
#include "kernel.h"

volatile ULONGLONG EtwpApiSink;

#define SINK(x) (EtwpApiSink = (ULONGLONG)(x))

EXPORT NTSTATUS EtwRegister(LPCGUID ProviderId, PETWENABLECALLBACK EnableCallback, PVOID CallbackContext,
                            PREGHANDLE RegHandle)
{
    SINK(ProviderId->Data1);
    SINK(EnableCallback);
    SINK(CallbackContext);
    *RegHandle = (REGHANDLE)(ULONG_PTR)ProviderId ^ EtwpApiSink;
    return STATUS_SUCCESS;
}

EXPORT NTSTATUS EtwUnregister(REGHANDLE RegHandle)
{
    SINK(RegHandle);
    return STATUS_SUCCESS;
}

EXPORT BOOLEAN EtwEventEnabled(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor)
{
    SINK(RegHandle);
    SINK(EventDescriptor->Keyword);
    return (BOOLEAN)(EtwpApiSink & 1);
}

EXPORT BOOLEAN EtwProviderEnabled(REGHANDLE RegHandle, UCHAR Level, ULONGLONG Keyword)
{
    SINK(RegHandle);
    SINK(Level);
    SINK(Keyword);
    return (BOOLEAN)(EtwpApiSink & 2);
}

EXPORT NTSTATUS EtwSetInformation(REGHANDLE RegHandle, ULONG InformationClass, PVOID EventInformation,
                                  ULONG InformationLength)
{
    SINK(RegHandle);
    SINK(InformationClass);
    SINK(EventInformation);
    SINK(InformationLength);
    return STATUS_SUCCESS;
}

EXPORT NTSTATUS EtwWrite(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, LPCGUID ActivityId,
                         ULONG UserDataCount, PEVENT_DATA_DESCRIPTOR UserData)
{
    SINK(RegHandle);
    SINK(EventDescriptor->Id);
    SINK(ActivityId);
    SINK(UserDataCount);
    SINK(UserData);
    return STATUS_SUCCESS;
}

EXPORT NTSTATUS EtwWriteEx(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, ULONG64 Filter, ULONG Flags,
                           LPCGUID ActivityId, LPCGUID RelatedActivityId, ULONG UserDataCount,
                           PEVENT_DATA_DESCRIPTOR UserData)
{
    SINK(RegHandle);
    SINK(EventDescriptor->Keyword);
    SINK(Filter);
    SINK(Flags);
    SINK(ActivityId);
    SINK(RelatedActivityId);
    SINK(UserDataCount);
    SINK(UserData);
    return STATUS_SUCCESS;
}

EXPORT NTSTATUS EtwWriteTransfer(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, LPCGUID ActivityId,
                                 LPCGUID RelatedActivityId, ULONG UserDataCount, PEVENT_DATA_DESCRIPTOR UserData)
{
    SINK(RegHandle);
    SINK(EventDescriptor->Level);
    SINK(ActivityId);
    SINK(RelatedActivityId);
    SINK(UserDataCount);
    SINK(UserData);
    return STATUS_SUCCESS;
}

EXPORT NTSTATUS EtwWriteString(REGHANDLE RegHandle, UCHAR Level, ULONGLONG Keyword, LPCGUID ActivityId,
                               PCWSTR String)
{
    SINK(RegHandle);
    SINK(Level);
    SINK(Keyword);
    SINK(ActivityId);
    SINK(String[0]);
    return STATUS_SUCCESS;
}

EXPORT NTSTATUS EtwWriteStartScenario(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, LPCGUID ActivityId,
                                      ULONG UserDataCount, PEVENT_DATA_DESCRIPTOR UserData)
{
    SINK(RegHandle ^ 0x5354);
    SINK(EventDescriptor->Opcode);
    SINK(ActivityId->Data1);
    SINK(UserDataCount);
    SINK(UserData);
    return STATUS_SUCCESS;
}

EXPORT NTSTATUS EtwWriteEndScenario(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, LPCGUID ActivityId,
                                    ULONG UserDataCount, PEVENT_DATA_DESCRIPTOR UserData)
{
    SINK(RegHandle ^ 0x454e);
    SINK(EventDescriptor->Opcode);
    SINK(ActivityId->Data2);
    SINK(UserDataCount);
    SINK(UserData);
    return STATUS_SUCCESS;
}

NTSTATUS EtwTraceKernelEvent(PEVENT_DATA_DESCRIPTOR EventData, ULONG DataCount, ULONG GroupMask, USHORT HookId,
                             ULONG Flags)
{
    SINK(EventData);
    SINK(DataCount);
    SINK(GroupMask >> 29);
    SINK(GroupMask & 0x1FFFFFFF);
    SINK(HookId);
    SINK(Flags);
    return STATUS_SUCCESS;
}

VOID _tlgEnableCallback(LPCGUID SourceId, ULONG ControlCode, UCHAR Level, ULONGLONG MatchAnyKeyword,
                        ULONGLONG MatchAllKeyword, PEVENT_FILTER_DESCRIPTOR FilterData, PVOID CallbackContext)
{
    _tlgProvider_t* Provider = (_tlgProvider_t*)CallbackContext;
    SINK(SourceId);
    SINK(FilterData);
    if (ControlCode == 1) {
        Provider->LevelPlus1 = Level != 0 ? (UINT32)Level + 1 : 256;
        Provider->KeywordAny = MatchAnyKeyword;
        Provider->KeywordAll = MatchAllKeyword;
    } else if (ControlCode == 0) {
        Provider->LevelPlus1 = 0;
    }
}

NTSTATUS TraceLoggingRegisterEx_EtwRegister_EtwSetInformation(_tlgProvider_t* Provider,
                                                              PETWENABLECALLBACK EnableCallback,
                                                              PVOID CallbackContext)
{
    /* The provider GUID sits right before RemainingSize in the provider metadata blob. */
    GUID ProviderId = *(const GUID*)((const UINT8*)Provider->ProviderMetadataPtr - sizeof(GUID));
    NTSTATUS Status;
    Provider->EnableCallback = EnableCallback;
    Provider->CallbackContext = CallbackContext;
    Status = EtwRegister(&ProviderId, _tlgEnableCallback, Provider, &Provider->RegHandle);
    if (Status == STATUS_SUCCESS) {
        (VOID)EtwSetInformation(Provider->RegHandle, 2, (PVOID)Provider->ProviderMetadataPtr,
                                *Provider->ProviderMetadataPtr);
    }
    return Status;
}

/* Event descriptor from the event metadata; Data[0..1] describe the provider and event metadata blobs. */
NOINLINE VOID _tlgWriteCommon(const _tlgProvider_t* Provider, const void* EventMetadata, EVENT_DESCRIPTOR* Descriptor,
                              PEVENT_DATA_DESCRIPTOR Data)
{
    const UINT8* Meta = (const UINT8*)EventMetadata; /* points at Channel */
    UINT32 EventId = (UINT32)(Meta - (const UINT8*)&_TraceLoggingMetadata);
    SINK(*(const volatile UINT8*)&_TraceLoggingMetadataEnd);
    Descriptor->Id = (USHORT)EventId;
    Descriptor->Version = (UCHAR)(EventId >> 16);
    Descriptor->Channel = Meta[0];
    Descriptor->Level = Meta[1];
    Descriptor->Opcode = Meta[2];
    Descriptor->Task = 0;
    Descriptor->Keyword = *(const UINT64*)(Meta + 3);
    Data[0].Ptr = (ULONGLONG)(ULONG_PTR)Provider->ProviderMetadataPtr;
    Data[0].Size = *Provider->ProviderMetadataPtr;
    Data[0].Reserved = 2;
    Data[1].Ptr = (ULONGLONG)(ULONG_PTR)(Meta + 11);
    Data[1].Size = *(const UINT16*)(Meta + 11);
    Data[1].Reserved = 1;
}

NTSTATUS _tlgWriteTransfer_EtwWriteTransfer(const _tlgProvider_t* Provider, const void* EventMetadata,
                                            LPCGUID ActivityId, LPCGUID RelatedActivityId, UINT32 DataCount,
                                            PEVENT_DATA_DESCRIPTOR Data)
{
    EVENT_DESCRIPTOR Descriptor;
    _tlgWriteCommon(Provider, EventMetadata, &Descriptor, Data);
    return EtwWriteTransfer(Provider->RegHandle, &Descriptor, ActivityId, RelatedActivityId, DataCount, Data);
}

NTSTATUS _tlgWriteEx_EtwWriteEx(const _tlgProvider_t* Provider, const void* EventMetadata, ULONG64 Filter,
                                ULONG Flags, LPCGUID ActivityId, LPCGUID RelatedActivityId, UINT32 DataCount,
                                PEVENT_DATA_DESCRIPTOR Data)
{
    EVENT_DESCRIPTOR Descriptor;
    _tlgWriteCommon(Provider, EventMetadata, &Descriptor, Data);
    return EtwWriteEx(Provider->RegHandle, &Descriptor, Filter, Flags, ActivityId, RelatedActivityId, DataCount,
                      Data);
}

NTSTATUS _tlgWriteAgg(const _tlgProvider_t* Provider, const void* EventMetadata, LPCGUID ActivityId,
                      UINT32 DataCount, PEVENT_DATA_DESCRIPTOR Data)
{
    EVENT_DESCRIPTOR Descriptor;
    _tlgWriteCommon(Provider, EventMetadata, &Descriptor, Data);
    Descriptor.Keyword |= 0x0000800000000000ULL; /* aggregation */
    return EtwWriteTransfer(Provider->RegHandle, &Descriptor, ActivityId, NULL, DataCount, Data);
}
"""


def c_escape_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def tlg_event_type(e: TlgEvent) -> str:
    return e.sym + "_t"


def emit_header(model: Model) -> str:
    out = [f"/* kernel.h: types and declarations of the {model.name} sample (generated by samples/generate.py) */",
           "#ifndef SYNTH_KERNEL_H", "#define SYNTH_KERNEL_H", HEADER_TYPES]
    out.append("/* Windows Kernel Trace group masks (ntwmi.h PERFINFO_GROUPMASK: index in the top 3 bits) */")
    for name, value in PERF_MASKS.items():
        out.append(f"#define PERF_{name} 0x{value:08x}")
    out.append("/* Windows Kernel Trace hook ids (EVENT_TRACE_GROUP_xxx | event type) */")
    for value, name in sorted(EVENT_TRACE_GROUPS.items()):
        out.append(f"#define EVENT_TRACE_GROUP_{name} 0x{value:04x}")
    for h in model.hooks:
        out.append(f"#define {h.macro} (EVENT_TRACE_GROUP_{h.group} | 0x{h.value & 0xFF:02x})")
    out.append(HEADER_API)
    out.append("/* etwdata.c */")
    out.append("extern volatile LONG KiSyntheticCounter;")
    out.append("extern PVOID volatile KeServiceTableBase;")
    out.append("extern volatile ULONG KeServiceTableLimit;")
    out.append("extern GUID EtwpScenarioActivityId;")
    for g in model.guids:
        out.append(f"extern const GUID {g.sym};")
    for h in model.handles:
        out.append(f"extern REGHANDLE {h.c};")
    for s in model.structs:
        out.append(f"extern {s.ctype} {s.sym};")
    for d in model.descs:
        out.append(f"extern const EVENT_DESCRIPTOR {d.sym};")
    out.append("/* tlgdata.c */")
    out.append("extern const struct _TraceLoggingMetadata_t _TraceLoggingMetadata;")
    out.append("extern const UINT8 _TraceLoggingMetadataEnd;")
    for p in model.tlg_providers:
        out.append(f"extern _tlgProvider_t {p.sym};")
        out.append(f"extern const _tlgProvider_t* const {p.handle_var};")
    out.append("#pragma pack(push, 1)")
    for e in model.tlg_events:
        n = len(tlg_event_rest(e))
        out.append(f"typedef struct {tlg_event_type(e)} {{ UINT8 Type; UINT8 Channel; UINT8 Level; UINT8 Opcode; "
                   f"UINT64 Keyword; UINT16 RemainingSize; UINT8 Rest[{n}]; }} {tlg_event_type(e)};")
    out.append("#pragma pack(pop)")
    for e in model.tlg_events:
        out.append(f"extern const {tlg_event_type(e)} {e.sym};")
    out.append("/* init.c */")
    out.append("extern const PVOID KiServiceTable[];")
    if model.single_header:
        out.append("/* functions */")
        for f in model.funcs:
            out.append(f.prototype() + ";")
    out.append("#endif")
    return "\n".join(out) + "\n"


def emit_etwdata(model: Model) -> str:
    out = ["/* etwdata.c: provider GUIDs, registration handles and event descriptors (generated) */",
           '#include "kernel.h"', "",
           "volatile LONG KiSyntheticCounter;",
           "PVOID volatile KeServiceTableBase;",
           "volatile ULONG KeServiceTableLimit;",
           "GUID EtwpScenarioActivityId = {0x5c3e2b1a, 0x0d4f, 0x4e6a, {0x9b, 0x1c, 0x2d, 0x3e, 0x4f, 0x50, 0x61, "
           "0x72}};", ""]
    for g in model.guids:
        out.append(f"/* {g.provider} {{{g.value}}} */")
        out.append(f"const GUID {g.sym} = {guid_c(g.value)};")
    out.append("")
    for h in model.handles:
        out.append(f"REGHANDLE {h.c};")
    for s in model.structs:
        out.append(f"{s.ctype} {s.sym};")
    out.append("")
    for dsc in model.descs:
        out.append(f"const EVENT_DESCRIPTOR {dsc.sym} = {dsc.c_init()};")
    return "\n".join(out) + "\n"


def c_bytes(data: bytes) -> str:
    return "{" + ", ".join(f"0x{b:02x}" for b in data) + "}"


def emit_tlgdata(model: Model) -> str:
    out = ["/*",
           " * tlgdata.c: TraceLogging metadata laid out as TraceLoggingProvider.h does (generated).",
           " * _TraceLoggingMetadata in .rdata$zETW0, event blobs (_TlgBlobEvent4) in .rdata$zETW1, provider blobs",
           " * (_TlgBlobProvider3) in .rdata$zETW2, the _TlgBlobEnd byte in .rdata$zETW9.",
           " */",
           '#include "kernel.h"', ""]
    for sec in TLG_SECTIONS.values():
        out.append(f'#pragma section("{sec}", read)')
    out += ["",
            f'__declspec(allocate("{TLG_SECTIONS["header"]}")) const struct _TraceLoggingMetadata_t '
            f"_TraceLoggingMetadata = {{0x{TLG_SIGNATURE:08x}, sizeof(struct _TraceLoggingMetadata_t), 0, 1, "
            f"0x{TLG_MAGIC:016x}ULL}};",
            f'__declspec(allocate("{TLG_SECTIONS["end"]}")) const UINT8 _TraceLoggingMetadataEnd = {TLG_BLOB_END};',
            "", "#pragma pack(push, 1)"]
    for p in model.tlg_providers:
        name = p.name.encode() + b"\0"
        tn = "_TlgProviderMetadata_" + c_escape_name(p.sym)
        fields = [f"UINT8 Type; GUID ProviderId; UINT16 RemainingSize; char Name[{len(name)}];"]
        if p.group:
            fields.append("UINT16 TraitSize; UINT8 TraitType; GUID GroupId;")
        out.append(f"struct {tn} {{ {' '.join(fields)} }};")
    out.append("#pragma pack(pop)")
    out.append("")
    for p in model.tlg_providers:
        blob = tlg_provider_blob(p)
        remaining = int.from_bytes(blob[17:19], "little")
        tn = "_TlgProviderMetadata_" + c_escape_name(p.sym)
        init = f"{TLG_BLOB_PROVIDER3}, {guid_c(p.guid)}, {remaining}, \"{p.name}\""
        if p.group:
            init += f", 19, {TLG_OPTION_GROUP}, {guid_c(p.group)}"
        out.append(f"/* provider \"{p.name}\" {{{p.guid}}}" + (f", group {{{p.group}}}" if p.group else "") + " */")
        out.append(f'__declspec(allocate("{TLG_SECTIONS["providers"]}")) static const struct {tn} {p.meta_sym} = '
                   f"{{{init}}};")
        out.append(f"_tlgProvider_t {p.sym} = {{0, (const UINT16*)((const UINT8*)&{p.meta_sym} + 17), 0, 0, 0, "
                   f"NULL, NULL}};")
        out.append(f"const _tlgProvider_t* const {p.handle_var} = &{p.sym};")
        out.append("")
    for e in model.tlg_events:
        rest = tlg_event_rest(e)
        out.append(f"/* event \"{e.name}\" of \"{e.provider.name}\": level {e.level}, opcode {e.opcode}, "
                   f"keyword 0x{e.keyword:x}, tags 0x{e.tags:x}, {len(e.fields)} fields */")
        out.append(f'__declspec(allocate("{TLG_SECTIONS["events"]}")) const {tlg_event_type(e)} {e.sym} = '
                   f"{{{TLG_BLOB_EVENT4}, {e.channel}, {e.level}, {e.opcode}, 0x{e.keyword:x}ULL, {2 + len(rest)}, "
                   f"{c_bytes(rest)}}};")
    return "\n".join(out) + "\n"


def emit_code_file(model: Model, fname: str, funcs: list[Func]) -> str:
    doc = model.file_docs.get(fname, "")
    out = [f"/* {fname}: {doc} (generated by samples/generate.py) */" if doc else
           f"/* {fname} (generated by samples/generate.py) */", '#include "kernel.h"', ""]
    if not model.single_header:
        names = {f.name for f in funcs}
        needed: list[str] = []
        for f in funcs:
            for c in f.calls():
                if c.callee not in names and c.callee not in needed:
                    needed.append(c.callee)
        for n in sorted(needed):
            out.append(model.func(n).prototype() + ";")
        for f in funcs:
            out.append(f.prototype() + ";")
        out.append("")
    if fname == "init.c":
        roots = [f for f in model.funcs if f.name.startswith("Nt")]
        if not model.single_header:
            for f in roots:
                if f.file != "init.c":
                    out.append(f.prototype() + ";")
        out.append("/* The system service table keeps every syscall in the image (data references, not calls). */")
        out.append("const PVOID KiServiceTable[] = {")
        out += [f"    (PVOID){f.name}," for f in roots]
        out += ["};", ""]
    for f in funcs:
        out.append(f.source())
    return "\n".join(out)


def emit_sources(model: Model, out_dir: Path, seed: int) -> list[str]:
    """Write every C/H source of the model; the seed shuffles definition order inside each file (not the truth)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    written = {"kernel.h": emit_header(model), "etwapi.c": ETWAPI_C, "etwdata.c": emit_etwdata(model),
               "tlgdata.c": emit_tlgdata(model)}
    for fname in model.files:
        funcs = [f for f in model.funcs if f.file == fname]
        rng.shuffle(funcs)
        written[fname] = emit_code_file(model, fname, funcs)
    for name, text in written.items():
        (out_dir / name).write_text(text, newline="\n")
    return sorted(written)


# ---------------------------------------------------------------------------------------------------------------
# Ground truth.
# ---------------------------------------------------------------------------------------------------------------

ROW_KEYS = ("Function", "Kind", "ProviderGuid", "ProviderSymbol", "ProviderName", "ReghandleSymbol", "WriteFunction",
            "EventDescriptorSymbol", "Id", "Version", "Channel", "Level", "Opcode", "Task", "Keyword", "GroupMask",
            "HookId", "ContainingFunction", "CallDepth", "CallPath")
EVENT_KEYS = ROW_KEYS[1:17]


def base_row(kind: str, writer: str) -> dict:
    return {"Kind": kind, "ProviderGuid": "", "ProviderSymbol": "", "ProviderName": "", "ReghandleSymbol": "",
            "WriteFunction": writer, "EventDescriptorSymbol": "", "Id": None, "Version": None, "Channel": None,
            "Level": None, "Opcode": None, "Task": None, "Keyword": None, "GroupMask": None, "HookId": None}


def only(values: frozenset[object], kind: type, what: str, func: Func) -> list[object]:
    out = sorted((v for v in values), key=repr)
    for v in out:
        if not isinstance(v, kind):
            raise ModelError(f"{func.name}: {what} evaluates to {v!r}, not a {kind.__name__}")
    return out


def write_rows(st: Stmt, env: Env, func: Func) -> list[dict]:
    """The (provider, event) rows one write statement yields under a parameter environment."""
    rows = []
    if isinstance(st, Write):
        for h in only(st.handle.ev(env, func), Handle, "handle", func):
            for dsc in only(st.desc.ev(env, func), Desc, "descriptor", func):
                r = base_row("manifest", st.writer)
                r.update(ProviderGuid=h.guid.value, ProviderSymbol=h.guid.sym, ReghandleSymbol=h.symbol,
                         EventDescriptorSymbol=dsc.sym, Id=dsc.id, Version=dsc.version, Channel=dsc.channel,
                         Level=dsc.level, Opcode=dsc.opcode, Task=dsc.task, Keyword=dsc.keyword)
                rows.append(r)
    elif isinstance(st, WriteString):
        for h in only(st.handle.ev(env, func), Handle, "handle", func):
            r = base_row("manifest", STRING_WRITER)
            r.update(ProviderGuid=h.guid.value, ProviderSymbol=h.guid.sym, ReghandleSymbol=h.symbol,
                     Level=st.level, Keyword=st.keyword)
            rows.append(r)
    elif isinstance(st, Legacy):
        for m in only(st.mask.ev(env, func), Mask, "group mask", func):
            for k in only(st.hook.ev(env, func), Hook, "hook id", func):
                r = base_row("legacy", LEGACY_WRITER)
                r.update(ProviderGuid="Windows Kernel Trace", ProviderSymbol=m.name, ReghandleSymbol=k.group,
                         EventDescriptorSymbol=k.name, GroupMask=m.value, HookId=k.value)
                rows.append(r)
    elif isinstance(st, Tlg):
        provs = only(st.provider.ev(env, func), TlgProvider, "TraceLogging provider", func)
        for e in only(st.event.ev(env, func), TlgEvent, "TraceLogging event", func):
            if e.provider not in provs:
                raise ModelError(f"{func.name}: event {e.name} written through another provider")
            r = base_row("tracelogging", st.writer)
            r.update(ProviderGuid=e.provider.guid, ProviderSymbol=e.provider.name, ProviderName=e.provider.name,
                     EventDescriptorSymbol=e.name, Channel=e.channel, Level=e.level, Opcode=e.opcode,
                     Keyword=e.keyword)
            rows.append(r)
    return rows


def bind(callee: Func, call: Call, env: Env, caller: Func) -> Env:
    if len(call.args) != len(callee.params):
        raise ModelError(f"{caller.name} calls {callee.name} with {len(call.args)} arguments, "
                         f"expected {len(callee.params)}")
    out: Env = {}
    for (_, pname), arg in zip(callee.params, call.args):
        try:
            out[pname] = arg.ev(env, caller)
        except ModelError:
            out[pname] = None  # unbound: an error only if a write depends on it
    return out


def compute_truth(model: Model, max_depth: int = MAX_DEPTH, beyond: int = 0) -> dict:
    """Rows for every (root, provider, event, containing function) reachable in at most max_depth functions.

    With beyond > max_depth, rows whose shortest path is longer than max_depth but at most `beyond` are listed
    separately under rows_beyond_max_depth (they must not appear with the default depth)."""
    funcs = {f.name: f for f in model.funcs}
    if len(funcs) != len(model.funcs):
        raise ModelError("duplicate function names")
    edges = set()
    for f in model.funcs:
        for c in f.calls():
            if c.callee in ETW_API:
                raise ModelError(f"{f.name}: call {c.callee} through a write statement, not Call")
            if c.callee not in funcs:
                raise ModelError(f"{f.name} calls unknown {c.callee}")
            edges.add((f.name, c.callee))
    best: dict[tuple, tuple[int, list[str]]] = {}
    roots = sorted(f.name for f in model.funcs if f.is_root)

    def visit(root: str, func: Func, env: Env, path: list[str]) -> None:
        depth = len(path)
        for st in func.writes():
            for r in write_rows(st, env, func):
                key = (root,) + tuple(r[k] for k in EVENT_KEYS) + (func.name,)
                cand = (depth, list(path))
                if key not in best or cand < best[key]:
                    best[key] = cand
        if depth >= limit:
            return
        for c in func.calls():
            if c.callee in path:
                continue  # call paths are simple; recursion adds no shorter path
            callee = funcs[c.callee]
            visit(root, callee, bind(callee, c, env, func), path + [c.callee])

    limit = max(max_depth, beyond)
    for root in roots:
        visit(root, funcs[root], {}, [root])

    rows = []
    for key, (depth, path) in best.items():
        r = {"Function": key[0]}
        r.update(zip(EVENT_KEYS, key[1:-1]))
        r["ContainingFunction"] = key[-1]
        r["CallDepth"] = depth
        r["CallPath"] = path
        rows.append({k: r[k] for k in ROW_KEYS})
    rows.sort(key=row_sort_key)
    deep = [r for r in rows if r["CallDepth"] > max_depth]
    rows = [r for r in rows if r["CallDepth"] <= max_depth]
    api = [{"name": n, "exported": n in ETW_API_EXPORTED, "root": False, "etw_api": True} for n in ETW_API]
    functions = [{"name": f.name, "exported": f.exported, "root": f.is_root, "etw_api": False} for f in model.funcs]
    return {
        "format": TRUTH_FORMAT,
        "max_depth": max_depth,
        "sample": model.name,
        "functions": sorted(functions + api, key=lambda x: x["name"]),
        "edges": sorted([a, b] for a, b in edges),
        "rows": rows,
        "rows_beyond_max_depth": deep,
        "beyond_depth": limit,
        "tracelogging": {
            "providers": [{"guid": p.guid, "name": p.name, "group_guid": p.group or None,
                           "symbol": p.sym} for p in sorted(model.tlg_providers, key=lambda p: p.name)],
            "events": [{"provider_guid": e.provider.guid, "provider": e.provider.name, "name": e.name,
                        "channel": e.channel, "level": e.level, "opcode": e.opcode, "keyword": e.keyword,
                        "tags": e.tags,
                        "fields": [{"name": f.name, "in_type": f.in_type, "out_type": f.out_type, "tags": f.tags,
                                    "count": f.count} for f in e.fields]}
                       for e in sorted(model.tlg_events, key=lambda e: (e.provider.name, e.name))],
        },
    }


def row_sort_key(r: dict) -> tuple:
    return tuple("" if r[k] is None else (str(r[k]) if not isinstance(r[k], int) else f"{r[k]:020d}")
                 for k in ROW_KEYS)


def write_truth(truth: dict, path: Path) -> None:
    """One row per line keeps the file reviewable and diffs small."""
    lines = ["{"]
    lists = ("functions", "edges", "rows", "rows_beyond_max_depth")
    keys = [k for k in truth if k not in lists + ("tracelogging",)]
    for k in keys:
        lines.append(f"  {json.dumps(k)}: {json.dumps(truth[k])},")
    for k in lists:
        lines.append(f"  {json.dumps(k)}: [")
        items = [("    " + json.dumps(x)) for x in truth[k]]
        lines.append(",\n".join(items))
        lines.append("  ],")
    lines.append('  "tracelogging": ' + json.dumps(truth["tracelogging"], indent=2).replace("\n", "\n  "))
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)
    path.write_text(text, newline="\n")


# ---------------------------------------------------------------------------------------------------------------
# A large random kernel for benchmarks (same statement kinds, seeded, truth computed the same way).
# ---------------------------------------------------------------------------------------------------------------

_WORDS = ("Process", "Thread", "Section", "Token", "Key", "Value", "File", "Device", "Port", "Timer", "Event",
          "Mutant", "Job", "Partition", "Session", "Worker", "Object", "Handle", "Memory", "Page", "Pool", "Image",
          "Driver", "Power", "Registry", "Hive", "Callback", "Context", "Apc", "Dpc", "Queue", "Buffer", "Mdl",
          "Vad", "Cache", "Volume", "Channel", "Transaction", "Enlistment", "Resource", "Profile", "Debug")
_VERBS = ("Query", "Set", "Create", "Open", "Close", "Delete", "Map", "Unmap", "Lock", "Unlock", "Flush", "Read",
          "Write", "Allocate", "Free", "Notify", "Wait", "Signal", "Insert", "Remove", "Reference", "Capture",
          "Validate", "Enumerate", "Trace", "Log", "Update", "Initialize", "Rundown", "Acquire", "Release")
_INTERNAL_PREFIXES = ("Psp", "Mi", "Iop", "Obp", "Cmp", "Exp", "Ki", "Etwp", "Pop", "Sep", "Alpcp", "Wnfp", "Pfp")
_EXPORT_PREFIXES = ("Ps", "Mm", "Io", "Ob", "Ke", "Se", "Ex", "Cm", "Po")


def _rand_guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def build_scale(n_funcs: int, n_writes: int, seed: int, per_file: int) -> Model:
    """A seeded random kernel with n_funcs functions and n_writes write statements."""
    rng = random.Random(seed)
    n_guids = 24
    guids = [Guid(f"SynthProvider{i:02d}Guid", _rand_guid(rng), f"Synthetic-Provider-{i:02d}") for i in range(n_guids)]
    handles = [Handle(f"h{i}", f"EtwpSynth{i:02d}RegHandle", f"EtwpSynth{i:02d}RegHandle", guids[i])
               for i in range(n_guids - 2)]
    h_mem = Handle("mem", "EtwpState.MemoryRegHandle", "EtwpState+0x8", guids[-2])
    h_gen = Handle("gen", "EtwpState.GeneralRegHandle", "EtwpState+0x10", guids[-1])
    state = StructGlobal("EtwpState", "ETWP_STATE", (("MemoryRegHandle", h_mem), ("GeneralRegHandle", h_gen)))
    all_handles = handles + [h_mem, h_gen]
    registrations = [(h.guid, h, "NULL") for h in all_handles]
    descs = []
    for i in range(max(8, n_writes // 4)):
        descs.append(mk_desc(f"SYNTH_EVENT_{i:05d}", rng.randrange(1, 4000), rng.randrange(0, 4),
                             rng.choice((0, 0x08, 0x10, 0x11)), rng.randrange(1, 6), rng.choice((0, 0, 1, 2, 10)),
                             rng.randrange(0, 300), rng.getrandbits(16) | rng.choice((0, 1 << 63, 1 << 62))))
    masks = [mask(n) for n in PERF_MASKS] + [mask("MEMORY", "SESSION")]
    hooks = [hook(n) for n in HOOKS]
    tlg_providers = [TlgProvider(f"_TlgSynth{i}Prov", f"TlgSynth{i}Provider", f"Synthetic.TraceLogging.Provider{i}",
                                 _rand_guid(rng), group=_rand_guid(rng) if i == 0 else "") for i in range(6)]
    tlg_events = []
    for i in range(max(6, n_writes // 25)):
        prov = tlg_providers[i % len(tlg_providers)]
        fields = tuple(TlgField(f"Field{j}", rng.choice((TLG_IN["UINT32"], TLG_IN["UINT64"], TLG_IN["HEXINT32"],
                                                         TLG_IN["UNICODESTRING"], TLG_IN["ANSISTRING"])))
                       for j in range(rng.randrange(0, 4)))
        tlg_events.append(TlgEvent(f"_tlgEvent_Synth{i:04d}", prov, f"SynthEvent{i:04d}", rng.randrange(1, 6),
                                   rng.getrandbits(48), tags=rng.choice((0, 0, 0x2000000, 0x0123457)),
                                   fields=fields))
    events_of = {p: [e for e in tlg_events if e.provider is p] for p in tlg_providers}

    # Function skeletons: level 0 = roots; calls go to deeper levels (plus a few back edges for cycles).
    n_body = n_funcs - 2  # DriverEntry and EtwpInitialize are added by add_init_funcs
    n_roots = max(2, n_body // 10)
    names: set = set()

    def unique(prefix: str) -> str:
        while True:
            name = f"{prefix}{rng.choice(_VERBS)}{rng.choice(_WORDS)}{len(names):05d}"
            if name not in names:
                names.add(name)
                return name

    std_params = [(T_P, "Object"), (T_U, "Flags")]
    specs = []  # (name, level, kind, exported)
    for i in range(n_roots):
        if i % 8 == 7:
            specs.append((unique(rng.choice(_EXPORT_PREFIXES)), 0, "normal", True))
        else:
            specs.append((unique("Nt"), 0, "normal", i % 8 == 3))
    level_weights = (20, 20, 18, 15, 12, 8, 7)
    for _ in range(n_body - n_roots):
        level = rng.choices(range(1, 8), weights=level_weights)[0]
        kind = "normal"
        if level >= 3 and rng.random() < 0.05:
            kind = rng.choice(("desc", "desc", "stackdesc", "hook", "tlg"))
        specs.append((unique(rng.choice(_INTERNAL_PREFIXES)), level, kind, False))
    by_level: dict[tuple[int, str], list[str]] = {}
    for name, level, kind, _ in specs:
        by_level.setdefault((level, kind), []).append(name)
    wrapper_info: dict[str, tuple[str, object]] = {}  # wrapper -> (kind, fixed handle / mask / provider)

    def wrapper_params(kind: str) -> list[tuple[str, str]]:
        if kind == "desc":
            return std_params + [(T_D, "Descriptor")]
        if kind == "stackdesc":
            return std_params + [(T_U, "Spare1"), (T_U, "Spare2"), (T_H, "RegHandle"), (T_D, "Descriptor")]
        if kind == "hook":
            return std_params + [("USHORT", "HookId")]
        return std_params + [(T_TE, "EventMetadata")]

    def wrapper_args(kind: str, target: str, forward: bool) -> list[Expr]:
        base: list[Expr] = [P("Object"), P("Flags")]
        fixed = wrapper_info[target][1]
        if kind == "desc":
            return base + [P("Descriptor") if forward else
                           (Sel("Flags & 1", E(rng.choice(descs)), E(rng.choice(descs))) if rng.random() < 0.2
                            else E(rng.choice(descs)))]
        if kind == "stackdesc":
            if forward:
                return base + [E(0), E(1), P("RegHandle"), P("Descriptor")]
            return base + [E(0), E(1), E(rng.choice(all_handles)), E(rng.choice(descs))]
        if kind == "hook":
            return base + [P("HookId") if forward else E(rng.choice(hooks))]
        return base + [P("EventMetadata") if forward else E(rng.choice(events_of[fixed]))]

    for name, _level, kind, _ in specs:
        if kind in ("desc", "stackdesc"):
            wrapper_info[name] = (kind, rng.choice(all_handles))
        elif kind == "hook":
            wrapper_info[name] = (kind, rng.choice(masks))
        elif kind == "tlg":
            wrapper_info[name] = (kind, rng.choice(tlg_providers))

    funcs: list[Func] = []
    for idx, (name, level, kind, exported) in enumerate(specs):
        body: list[Stmt] = [Raw(f"KiSyntheticCounter += (LONG)Flags + {idx};")]
        params = std_params if kind == "normal" else wrapper_params(kind)
        if kind == "normal" and level < 7:
            for _ in range(rng.choices((0, 1, 2, 3), weights=(15, 35, 35, 15))[0]):
                pool = by_level.get((min(7, level + rng.choice((1, 1, 2))), "normal"))
                if pool:
                    body.append(Call(rng.choice(pool), [P("Object"), P("Flags")]))
            if rng.random() < 0.25:
                wkind = rng.choice(("desc", "desc", "stackdesc", "hook", "tlg"))
                pool = [w for lv in range(max(3, level + 1), 8) for w in by_level.get((lv, wkind), [])]
                if pool:
                    target = rng.choice(pool)
                    body.append(Call(target, wrapper_args(wkind, target, False)))
            if level > 1 and rng.random() < 0.02:  # back edge: recursion / cycles
                pool = by_level.get((rng.randrange(1, level), "normal"))
                if pool:
                    body.append(If("Flags & 0x100", [Call(rng.choice(pool), [P("Object"), E("Flags >> 1")])]))
        elif kind != "normal":
            fixed = wrapper_info[name][1]
            if kind == "desc":
                body.append(Write(rng.choice(("EtwWrite", "EtwWriteEx", "EtwWriteTransfer")), E(fixed),
                                  P("Descriptor")))
            elif kind == "stackdesc":
                body.append(Write("EtwWriteTransfer", P("RegHandle"), P("Descriptor")))
            elif kind == "hook":
                body.append(Legacy(E(fixed), P("HookId")))
            else:
                body.append(Tlg("_tlgWriteTransfer_EtwWriteTransfer", E(fixed), P("EventMetadata")))
            pool = [w for lv in range(level + 1, 8) for w in by_level.get((lv, kind), [])
                    if kind not in ("hook", "tlg") or wrapper_info[w][1] == fixed]
            if pool and rng.random() < 0.3:  # 2-level wrapper: forward the parameter
                target = rng.choice(pool)
                body.append(Call(target, wrapper_args(kind, target, True)))
        f = Func(name, list(params), body, "", exported, "NTSTATUS", [], "")
        funcs.append(f)

    # Distribute the remaining write statements over ordinary functions (roots included: depth-1 writes).
    normal = [f for f, (_, _, kind, _) in zip(funcs, specs) if kind == "normal"]
    n_direct = max(0, n_writes - sum(1 for f in funcs for _ in f.writes()))
    for _ in range(n_direct):
        f = rng.choice(normal)
        r = rng.random()
        if r < 0.55:
            writer = rng.choices(MANIFEST_WRITERS, weights=(50, 20, 20, 5, 5))[0]
            h: Expr = E(rng.choice(all_handles))
            dsc: Expr = E(rng.choice(descs))
            r2 = rng.random()
            if r2 < 0.15:
                dsc = Sel("Flags & 2", E(rng.choice(descs)), E(rng.choice(descs)))
            elif r2 < 0.25:
                h = Vol(h, T_H)
            elif r2 < 0.3:
                d0 = rng.choice(descs)
                dsc = StackDesc(mk_desc("", d0.id, d0.version, d0.channel, d0.level, d0.opcode, d0.task, d0.keyword,
                                        key=f"stack{len(f.body)}_{f.name}"))
            st: Stmt = Write(writer, h, dsc)
            if rng.random() < 0.2:
                st = IfEnabled(h, dsc, [st])
        elif r < 0.75:
            st = Legacy(E(rng.choice(masks)), E(rng.choice(hooks)))
        elif r < 0.93:
            prov = rng.choice(tlg_providers)
            st = Tlg(rng.choice(TLG_WRITERS), E(prov, via_var=rng.random() < 0.3), E(rng.choice(events_of[prov])))
        else:
            st = WriteString(E(rng.choice(all_handles)), rng.randrange(1, 6), rng.getrandbits(20), "SynthString")
        f.body.insert(rng.randrange(1, len(f.body) + 1), st)

    order = list(range(len(funcs)))
    rng.shuffle(order)
    files = []
    for n, i in enumerate(order):
        fname = f"synth{n // per_file:03d}.c"
        funcs[i].file = fname
        if not files or files[-1] != fname:
            files.append(fname)
    files = ["init.c"] + sorted(set(files))
    model = Model("scalekernel", guids, handles, [state], descs, tlg_providers, tlg_events, masks, hooks, funcs,
                  files, registrations, {}, single_header=False)
    return model


def cmd_scale(args: argparse.Namespace) -> int:
    out = Path(args.out)
    start = time.monotonic()
    model = build_scale(args.functions, args.writes, args.seed, args.per_file)
    add_init_funcs(model)
    truth = compute_truth(model)
    truth["generator"] = {"kind": "scale", "functions": args.functions, "writes": args.writes, "seed": args.seed,
                          "per_file": args.per_file}
    written = emit_sources(model, out, args.seed)
    for stale in list(out.glob("*.c")) + list(out.glob("*.h")):
        if stale.name not in written:
            stale.unlink()
    write_truth(truth, out / "truth.json")
    print(f"wrote {out} in {time.monotonic() - start:.1f}s: {summarize(truth)}")
    if args.no_build:
        return 0
    missing = missing_tools()
    if missing:
        print(f"error: {', '.join(missing)} not found on PATH", file=sys.stderr)
        return 2
    secs = build_sample(out, ("O2",), args.jobs)
    print(f"built {out.name} at -O2 in {secs:.1f}s")
    return 0


# ---------------------------------------------------------------------------------------------------------------
# Building.
# ---------------------------------------------------------------------------------------------------------------

TARGET = "x86_64-pc-windows-msvc"
EXPECTED_CLANG = "14."  # the committed images were built with Debian clang 14.0.6 and lld 14
COMPILE_FLAGS = ["-g", "-gcodeview", "-fdebug-compilation-dir=.", "-fno-stack-protector"]
# Driver-added cc1 arguments that carry machine paths or terminal settings; dropped or replaced.
_CC1_DROP_WITH_VALUE = {"-resource-dir", "-internal-isystem", "-internal-externc-isystem", "-isysroot"}
_CC1_DROP_PREFIX = ("-fcoverage-compilation-dir=", "-fmessage-length", "-fcolor-diagnostics", "-fdiagnostics-color")


def link_flags(name: str) -> list[str]:
    return ["/nologo", "/machine:x64", "/debug", "/Brepro", f"/pdbaltpath:{name}.pdb", "/pdbsourcepath:.",
            "/entry:DriverEntry", "/subsystem:native", "/driver", "/nodefaultlib", "/opt:ref", "/opt:noicf",
            f"/out:{name}.exe", f"/pdb:{name}.pdb"]


def tool(name: str) -> str | None:
    return shutil.which(name)


def missing_tools() -> list[str]:
    return [t for t in ("clang", "lld-link") if tool(t) is None]


def clang_version() -> str:
    out = subprocess.run(["clang", "--version"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"clang version (\S+)", out)
    return m.group(1) if m else out.splitlines()[0]


def cc1_command(src: str, obj: str, olevel: str, cwd: Path) -> list[str]:
    """The cc1 command the driver would run, minus machine paths, invoked as plain ``clang -cc1``.

    Running cc1 directly keeps the compiler's absolute path and the resource directory out of the CodeView
    LF_BUILDINFO record (clang 14 has no -gno-codeview-command-line)."""
    driver = ["clang", f"--target={TARGET}", f"-{olevel}"] + COMPILE_FLAGS + ["-c", src, "-o", obj, "-###"]
    res = subprocess.run(driver, cwd=cwd, capture_output=True, text=True)
    lines = [ln for ln in res.stderr.splitlines() if '"-cc1"' in ln]
    if res.returncode != 0 or not lines:
        raise RuntimeError(f"clang -### failed for {src}:\n{res.stderr}")
    args = shlex.split(lines[-1])
    out = ["clang"]
    skip = False
    for a in args[1:]:
        if skip:
            skip = False
            continue
        if a in _CC1_DROP_WITH_VALUE:
            skip = True
            continue
        if a.startswith(_CC1_DROP_PREFIX):
            continue
        out.append(a)
    anchor = "-fdebug-compilation-dir=."
    out.insert(out.index(anchor) if anchor in out else len(out), "-fcoverage-compilation-dir=.")
    return out


def run(cmd: list[str], cwd: Path) -> None:
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"command failed in {cwd.name}: {' '.join(cmd[:3])} ...\n{res.stdout}{res.stderr}")


def build_sample(sample_dir: Path, levels: Sequence[str] = OPT_LEVELS, jobs: int = 0, quiet: bool = False) -> float:
    """Compile every *.c of the sample at each level into LEVEL/NAME.exe + NAME.pdb; returns seconds spent."""
    sample_dir = sample_dir.resolve()
    name = sample_dir.name
    sources = sorted(p.name for p in sample_dir.glob("*.c"))
    if not sources:
        raise RuntimeError(f"no C sources in {sample_dir}")
    start = time.monotonic()
    jobs = jobs or os.cpu_count() or 2
    tasks = []
    for level in levels:
        (sample_dir / level).mkdir(exist_ok=True)
        for src in sources:
            obj = f"{level}/{src[:-2]}.obj"
            tasks.append((src, obj, level))
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(lambda t: run(cc1_command(t[0], t[1], t[2], sample_dir), sample_dir), t)
                   for t in tasks]
        for fut in futures:
            fut.result()
    for level in levels:
        out = sample_dir / level
        objs = [s[:-2] + ".obj" for s in sources]
        if (sample_dir / "version.rc").exists():  # a VERSIONINFO resource (kernel --file-version)
            run(["llvm-rc", "/FO", str(out / "version.res"), str(sample_dir / "version.rc")], sample_dir)
            objs.append("version.res")
        run(["lld-link"] + link_flags(name) + objs, out)
        for junk in [*out.glob("*.obj"), *out.glob("*.lib"), *out.glob("*.exp"), *out.glob("*.res")]:
            junk.unlink()
        if not quiet:
            exe, pdb = out / f"{name}.exe", out / f"{name}.pdb"
            print(f"  {name}/{level}: {exe.name} {exe.stat().st_size} bytes, {pdb.name} {pdb.stat().st_size} bytes")
    return time.monotonic() - start


def check_sample(sample_dir: Path, levels: Sequence[str] = OPT_LEVELS, jobs: int = 0) -> list[str]:
    """Rebuild from the committed sources in a temp dir; list the outputs that differ from the committed ones."""
    sample_dir = sample_dir.resolve()
    name = sample_dir.name
    problems = []
    with tempfile.TemporaryDirectory(prefix="synth-check-") as tmp:
        work = Path(tmp) / name
        work.mkdir()
        for src in list(sample_dir.glob("*.c")) + list(sample_dir.glob("*.h")):
            shutil.copy2(src, work / src.name)
        build_sample(work, levels, jobs, quiet=True)
        for level in levels:
            for ext in ("exe", "pdb"):
                built = work / level / f"{name}.{ext}"
                committed = sample_dir / level / f"{name}.{ext}"
                if not committed.exists():
                    problems.append(f"{committed.relative_to(sample_dir.parent)} is missing")
                elif not filecmp.cmp(built, committed, shallow=False):
                    problems.append(f"{committed.relative_to(sample_dir.parent)} differs from a fresh build")
    return problems


# ---------------------------------------------------------------------------------------------------------------
# Verification against the machine code (a developer tool; the analyzer is tested by tests/, not here).
# ---------------------------------------------------------------------------------------------------------------

# (function, check, argument, what it shows[, levels]). check: "tailjmp" = a jump (jmp or jcc) to the named
# function; "regex" = the function's disassembly matches.  Levels default to all; -O1 never emits sibling calls
# (LLVM marks calls `tail` only from -O2 on), so tail-call patterns are checked at O2 and Os.
TAIL_LEVELS = ("O2", "Os")
PATTERN_CHECKS = [
    ("MiAllocateVirtualMemory", "regex", r"\bcmov", "descriptor chosen by cmov (cond ? &A : &B)"),
    ("IopXxxControlFile", "regex", r"\bcmov|\bj(e|ne)\b", "TraceLogging event chosen by cmov/branch"),
    ("MiProtectVirtualMemory", "regex", r"\bj(e|ne)\b", "if/else branches assigning the descriptor"),
    ("PspSetProcessMitigation", "regex", r"\bj(e|ne)\b", "if/else branches with different descriptors"),
    ("EtwpWriteEventPassthrough", "tailjmp", "EtwWrite", "return EtwWrite(...) is a jump", TAIL_LEVELS),
    ("EtwpTraceKernelEventPassthrough", "tailjmp", "EtwTraceKernelEvent", "return EtwTraceKernelEvent(...) is a jump",
     TAIL_LEVELS),
    ("ZwTerminateProcess", "tailjmp", "NtTerminateProcess", "Zw alias jumps to the syscall", TAIL_LEVELS),
    ("PsSetLoadImageNotifyRoutineEx", "tailjmp", "EtwpLogAuditApiEvent", "jmp to a wrapper", TAIL_LEVELS),
    ("IoRegisterShutdownNotification", "tailjmp", "IopRegisterShutdownCommon", "jmp to a 2-level wrapper",
     TAIL_LEVELS),
    ("EtwTiLogReadWriteVm", "regex", r"\(%rsp\), %rcx", "handle reloaded from a stack slot"),
    ("NtTerminateProcess", "regex", r"\(%rsp\), %rcx", "handle reloaded from a stack slot"),
    ("EtwpWriteProcessEvent", "regex", r"\b(40|48|56|64|72|80|88|96|104|112|120|128|136)\(%rsp\), %r\w+",
     "handle/descriptor read from stack parameters"),
    ("EtwpLogImageEvent", "regex", r"%r\w+, (40|48)\(%rsp\)", "handle/descriptor stored as stack arguments"),
    ("MiReadWriteVirtualMemory", "regex", r"\d+\(%rsp\), %r(cx|dx|\w+)", "descriptor read from its stack parameter"),
    ("MiLogWorkingSetInfo", "regex", r"\b8\(%r(?!sp)\w+\), %rcx", "handle read through the EtwpState pointer"),
    ("MiAllocatePagesForMdl", "regex", r"\(%rip\), %rcx", "struct-field handle loaded RIP-relative"),
    ("EtwpLogAuditApiEvent", "regex", r"\(%rip\), %rcx", "global handle loaded RIP-relative"),
    ("NtSetInformationThread", "regex", r"leaq -?\d+\(%rsp\), %rdx", "descriptor built on the stack"),
    ("PspLogCpuPriorityChange", "regex", r"leaq -?\d+\(%rsp\), %rdx", "descriptor built on the stack"),
    ("ExpSetTimeZoneInformation", "regex", r"leaq -?\d+\(%rsp\), %rdx", "descriptor built on the stack"),
    ("EtwTraceProcess", "regex", r"\(%rip\), %rcx", "TraceLogging provider pointer loaded from its handle var"),
]


def _pdb_functions(pdb: Path) -> dict[str, tuple[int, int, int]]:
    """name -> (section, offset, size) of every procedure in the PDB's module streams."""
    text = subprocess.run(["llvm-pdbutil", "dump", "-symbols", str(pdb)], capture_output=True, text=True,
                          check=True).stdout
    out = {}
    pat = re.compile(r"S_[GL]PROC32 \[size = \d+\] `([^`]+)`\s*\n\s*parent = .*?addr = (\d+):(\d+), code size = (\d+)")
    for m in pat.finditer(text):
        out[m.group(1)] = (int(m.group(2)), int(m.group(3)), int(m.group(4)))
    return out


def _image_layout(exe: Path) -> tuple[int, dict[int, int]]:
    text = subprocess.run(["llvm-readobj", "--file-headers", "--sections", str(exe)], capture_output=True,
                          text=True, check=True).stdout
    base = int(re.search(r"ImageBase: 0x([0-9A-Fa-f]+)", text).group(1), 16)
    sections = {}
    for m in re.finditer(r"Number: (\d+)\s*\n\s*Name: \S+.*?VirtualAddress: 0x([0-9A-Fa-f]+)", text, re.S):
        sections[int(m.group(1))] = int(m.group(2), 16)
    return base, sections


def disassemble_functions(exe: Path, pdb: Path) -> dict[str, list[tuple[int, str]]]:
    """name -> [(address, instruction text)] for every function of the image."""
    base, sections = _image_layout(exe)
    ranges = []
    for name, (sec, off, size) in _pdb_functions(pdb).items():
        start = base + sections[sec] + off
        ranges.append((start, start + size, name))
    ranges.sort()
    text = subprocess.run(["llvm-objdump", "-d", "--no-show-raw-insn", str(exe)], capture_output=True, text=True,
                          check=True).stdout
    out: dict[str, list[tuple[int, str]]] = {name: [] for _, _, name in ranges}
    starts = [r[0] for r in ranges]
    import bisect
    for line in text.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+(.*)$", line)
        if not m:
            continue
        addr = int(m.group(1), 16)
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0 and addr < ranges[i][1]:
            out[ranges[i][2]].append((addr, re.sub(r"\s+", " ", m.group(2).strip())))
    out["__starts__"] = [(s, n) for s, _, n in ranges]  # type: ignore[assignment]
    return out


def observed_calls(dis: dict[str, list[tuple[int, str]]]) -> dict[str, dict[str, set]]:
    """function -> {"call": callees, "jmp": tail-jump targets} for direct transfers to other function starts."""
    starts = {a: n for a, n in dis["__starts__"]}  # type: ignore[misc]
    out: dict[str, dict[str, set]] = {}
    for name, insns in dis.items():
        if name == "__starts__":
            continue
        calls: dict[str, set] = {"call": set(), "jmp": set()}
        for _, ins in insns:
            m = re.match(r"(callq|call|j[a-z]+)\s+0x([0-9a-f]+)", ins)
            if not m:
                continue
            target = starts.get(int(m.group(2), 16))
            if target is None or target == name and m.group(1).startswith("j"):
                continue
            calls["call" if m.group(1).startswith("call") else "jmp"].add(target)
        out[name] = calls
    return out


def expected_api_calls(func: Func) -> set:
    out = set()
    for st in func.walk():
        if isinstance(st, Write):
            out.add(st.writer)
        elif isinstance(st, WriteString):
            out.add(STRING_WRITER)
        elif isinstance(st, Legacy):
            out.add(LEGACY_WRITER)
        elif isinstance(st, Tlg):
            out.add(st.writer)
        elif isinstance(st, IfEnabled):
            out.add("EtwEventEnabled")
        elif isinstance(st, IfProviderEnabled):
            out.add("EtwProviderEnabled")
        elif isinstance(st, LocalProvider):
            out |= {"EtwRegister", "EtwUnregister"}
        elif isinstance(st, Raw):
            for api in ETW_API:
                if re.search(rf"\b{re.escape(api)}\(", st.code):
                    out.add(api)
    return out


def _pdb_publics(pdb: Path) -> dict[str, tuple[int, int]]:
    text = subprocess.run(["llvm-pdbutil", "dump", "-publics", str(pdb)], capture_output=True, text=True,
                          check=True).stdout
    return {m.group(1): (int(m.group(2)), int(m.group(3)))
            for m in re.finditer(r"S_PUB32 \[size = \d+\] `([^`]+)`\s*\n\s*flags = .*?addr = (\d+):(\d+)", text)}


def _address_resolver(exe: Path, pdb: Path):
    base, sections = _image_layout(exe)
    publics = _pdb_publics(pdb)

    def addr_of(sym: str, off: int) -> int:
        sec, o = publics[sym]
        return base + sections[sec] + o + off

    return addr_of


def _expr_entities(expr: Expr) -> list[tuple[object, bool]]:
    """(entity, via_var) pairs an expression introduces in the function that contains it."""
    if isinstance(expr, E):
        return [(expr.entity, expr.via_var)]
    if isinstance(expr, Sel):
        return _expr_entities(expr.a) + _expr_entities(expr.b)
    if isinstance(expr, Vol):
        return _expr_entities(expr.inner)
    return []


def introduced_values(func: Func) -> list[tuple[object, bool]]:
    exprs: list[Expr] = []
    for st in func.walk():
        if isinstance(st, Call):
            exprs += st.args
        elif isinstance(st, Write):
            exprs += [st.handle, st.desc]
        elif isinstance(st, WriteString):
            exprs.append(st.handle)
        elif isinstance(st, Legacy):
            exprs += [st.mask, st.hook]
        elif isinstance(st, Tlg):
            exprs += [st.provider, st.event]
        elif isinstance(st, IfEnabled):
            exprs += [st.handle, st.desc]
        elif isinstance(st, IfProviderEnabled):
            exprs.append(st.handle)
        elif isinstance(st, Assign):
            exprs.append(st.expr)
    out = []
    for e in exprs:
        for ent, via in _expr_entities(e):
            if isinstance(ent, (Desc, Handle, StructGlobal, TlgProvider, TlgEvent, Mask, Hook)) and ent not in out:
                out.append((ent, via))
    return out


def value_present(ent: object, via: bool, insns: list[str], addr_of) -> bool | None:
    """Is the entity materialized in these instructions (address in a RIP-relative operand, or an immediate)?"""
    if isinstance(ent, (Mask, Hook)):
        v = ent.value
        pats = [rf"\${v}\b", rf"\$0x{v:x}\b", rf"imm = 0x{v:x}\b"]
        if v & 0x80000000:
            pats.append(rf"\${v - (1 << 32)}\b")
        return any(re.search(p, i) for p in pats for i in insns)
    if isinstance(ent, Desc):
        if not ent.sym:
            return None
        target = addr_of(ent.sym, 0)
    elif isinstance(ent, Handle):
        if not ent.symbol:
            return None
        sym, _, off = ent.symbol.partition("+")
        target = addr_of(sym, int(off, 16) if off else 0)
    elif isinstance(ent, StructGlobal):
        target = addr_of(ent.sym, 0)
    elif isinstance(ent, TlgProvider):
        target = addr_of(ent.handle_var if via else ent.sym, 0)
    elif isinstance(ent, TlgEvent):
        # &Event.Channel; after a select clang may load the blob base and add 1 to the selected pointer.
        targets = [addr_of(ent.sym, 1), addr_of(ent.sym, 0)]
        return any(re.search(rf"# 0x{t:x}\b", i) for t in targets for i in insns)
    else:
        return None
    return any(re.search(rf"# 0x{target:x}\b", i) for i in insns)


def verify_sample(sample_dir: Path, model: Model | None, truth: dict, levels: Sequence[str] = OPT_LEVELS,
                  patterns: bool = True) -> tuple[list[str], list[str]]:
    """Check the built images against the model. Returns (errors, pattern report lines)."""
    name = sample_dir.name
    errors: list[str] = []
    report: list[str] = []
    expected_edges: dict[str, set] = {}
    for a, b in truth["edges"]:
        expected_edges.setdefault(a, set()).add(b)
    model_funcs = [f["name"] for f in truth["functions"] if not f["etw_api"]]
    for level in levels:
        exe, pdb = sample_dir / level / f"{name}.exe", sample_dir / level / f"{name}.pdb"
        dis = disassemble_functions(exe, pdb)
        obs = observed_calls(dis)
        addr_of = _address_resolver(exe, pdb)
        extra = set(obs) - {f["name"] for f in truth["functions"]}
        if extra:
            errors.append(f"{level}: functions in the image but not in the truth: {sorted(extra)}")
        for fname in model_funcs:
            if fname not in obs:
                errors.append(f"{level}: {fname} is not in the image")
                continue
            got = (obs[fname]["call"] | obs[fname]["jmp"])
            got_edges = {c for c in got if c not in ETW_API}
            want = expected_edges.get(fname, set())
            if got_edges != want:
                errors.append(f"{level}: {fname} calls {sorted(got_edges)}, model says {sorted(want)}")
            if model is not None:
                want_api = expected_api_calls(model.func(fname))
                got_api = {c for c in got if c in ETW_API}
                if got_api != want_api:
                    errors.append(f"{level}: {fname} calls API {sorted(got_api)}, model says {sorted(want_api)}")
                insns = [i for _, i in dis[fname]]
                for ent, via in introduced_values(model.func(fname)):
                    if value_present(ent, via, insns, addr_of) is False:
                        what = getattr(ent, "sym", "") or getattr(ent, "symbol", "") or getattr(ent, "macro", "")
                        errors.append(f"{level}: {fname} does not materialize {type(ent).__name__} {what}")
        if not patterns:
            continue
        for fname, kind, arg, what, *only_levels in PATTERN_CHECKS:
            if fname not in obs or (only_levels and level not in only_levels[0]):
                continue
            if kind == "tailjmp":
                ok = arg in obs[fname]["jmp"]
            else:
                ok = any(re.search(arg, ins) for _, ins in dis[fname])
            report.append(f"{level} {'ok     ' if ok else 'MISSING'} {fname}: {what}")
    return errors, report


# ---------------------------------------------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------------------------------------------


def write_kernel(out: Path, seed: int, variant: bool = False, file_version: str | None = None) -> tuple[Model, dict]:
    model = build_synthkernel()
    changes = make_variant(model) if variant else None
    add_init_funcs(model)
    truth = compute_truth(model, beyond=KERNEL_BEYOND_DEPTH)
    truth["generator"] = {"kind": "kernel"}
    if changes is not None:
        truth["generator"]["variant"] = changes
    if file_version:
        truth["generator"]["file_version"] = file_version
    written = emit_sources(model, out, seed)
    for stale in list(out.glob("*.c")) + list(out.glob("*.h")) + list(out.glob("version.rc")):
        if stale.name not in written:
            stale.unlink()
    if file_version:
        (out / "version.rc").write_text(version_rc(out.resolve().name, file_version), newline="\n")
    write_truth(truth, out / "truth.json")
    return model, truth


# Builds of one kernel, for ``api-to-etw history``: ``kernel --variant --file-version 10.0.2.0`` writes build 2.
VARIANT_REMOVED = ("MiAllocatePagesForMdl", "KERNEL_MEM_EVENT_MDL_ALLOCATION")
VARIANT_MOVED = ("ObpLookupDirectoryRecursive", "ObjectDirectoryLookup")
VARIANT_ADDED = ("MiCreatePagingFile", "KERNEL_MEM_EVENT_PAGEFILE_REMOVED")


def _manifest_write(func: Func, sym: str) -> Write:
    for st in func.body:
        if isinstance(st, Write) and isinstance(st.desc, E) and getattr(st.desc.entity, "sym", None) == sym:
            return st
    raise ModelError(f"{func.name} has no top-level write of {sym}")


def make_variant(model: Model) -> dict:
    """Turn the kernel's model into its next build: one event removed, one moved to the function's first
    caller, one new event (a new descriptor) added beside an existing write. Returns what changed."""
    removed = model.func(VARIANT_REMOVED[0])
    removed.body.remove(_manifest_write(removed, VARIANT_REMOVED[1]))
    source = model.func(VARIANT_MOVED[0])
    moved = _manifest_write(source, VARIANT_MOVED[1])
    callers = sorted(f.name for f in model.funcs if f is not source and any(c.callee == source.name
                                                                            for c in f.calls()))
    if not callers:
        raise ModelError(f"{source.name} has no caller to move its write to")
    source.body.remove(moved)
    target = model.func(callers[0])
    target.body.insert(0, moved)
    host = model.func(VARIANT_ADDED[0])
    beside = next(st for st in host.body if isinstance(st, Write))
    old = beside.desc.entity  # type: ignore[attr-defined]
    new = mk_desc(VARIANT_ADDED[1], old.id + 1, old.version, old.channel, old.level, old.opcode, old.task, old.keyword)
    model.descs.append(new)
    host.body.insert(host.body.index(beside) + 1, Write(beside.writer, beside.handle, E(new)))
    return {"removed": list(VARIANT_REMOVED), "moved": [VARIANT_MOVED[1], source.name, target.name],
            "added": list(VARIANT_ADDED)}


def version_rc(name: str, file_version: str) -> str:
    """A VERSIONINFO resource script (built with llvm-rc when the sample folder has version.rc)."""
    parts = [int(p) for p in file_version.split(".")]
    if len(parts) != 4 or not all(0 <= p <= 0xFFFF for p in parts):
        raise ModelError(f"--file-version {file_version!r}: expected four numbers a.b.c.d (each 0..65535)")
    commas = ",".join(map(str, parts))
    return "\n".join([
        "1 VERSIONINFO", f"FILEVERSION {commas}", f"PRODUCTVERSION {commas}", "FILEOS 0x40004", "FILETYPE 0x3",
        "BEGIN", '  BLOCK "StringFileInfo"', "  BEGIN", '    BLOCK "040904B0"', "    BEGIN",
        f'      VALUE "FileVersion", "{file_version}"', f'      VALUE "OriginalFilename", "{name}.exe"',
        "    END", "  END", '  BLOCK "VarFileInfo"', "  BEGIN", '    VALUE "Translation", 0x409, 1200', "  END",
        "END", ""])


def summarize(truth: dict) -> str:
    funcs = [f for f in truth["functions"] if not f["etw_api"]]
    roots = [f for f in funcs if f["root"]]
    kinds: dict[str, int] = {}
    writers: dict[str, int] = {}
    for r in truth["rows"]:
        kinds[r["Kind"]] = kinds.get(r["Kind"], 0) + 1
        writers[r["WriteFunction"]] = writers.get(r["WriteFunction"], 0) + 1
    depth = max((r["CallDepth"] for r in truth["rows"]), default=0)
    return (f"{len(funcs)} functions ({len(roots)} roots, {sum(f['exported'] for f in funcs)} exported), "
            f"{len(truth['edges'])} edges, {len(truth['rows'])} rows {dict(sorted(kinds.items()))}, "
            f"max depth {depth}, writers {dict(sorted(writers.items()))}")


def cmd_kernel(args: argparse.Namespace) -> int:
    out = Path(args.out)
    _, truth = write_kernel(out, args.seed, args.variant, args.file_version)
    print(f"wrote {out}: {summarize(truth)}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    dirs = [Path(d) for d in args.samples] or [DEFAULT_KERNEL_DIR]
    levels = tuple(args.levels.split(","))
    missing = missing_tools()
    if missing:
        print(f"error: {', '.join(missing)} not found on PATH", file=sys.stderr)
        return 2
    version = clang_version()
    status = 0
    for d in dirs:
        if args.check:
            problems = check_sample(d, levels, args.jobs)
            if problems:
                status = 1
                print(f"{d.name}: rebuilt outputs differ from the committed ones:", file=sys.stderr)
                for p in problems:
                    print(f"  {p}", file=sys.stderr)
                if not version.startswith(EXPECTED_CLANG):
                    print(f"  (this is clang {version}; the committed images were built with clang "
                          f"{EXPECTED_CLANG}x)", file=sys.stderr)
            else:
                print(f"{d.name}: fresh build is byte-identical to the committed images ({', '.join(levels)})")
        else:
            secs = build_sample(d, levels, args.jobs)
            print(f"built {d.name} ({', '.join(levels)}) with clang {version} in {secs:.1f}s")
    return status


def cmd_verify(args: argparse.Namespace) -> int:
    status = 0
    for d in [Path(x) for x in args.samples] or [DEFAULT_KERNEL_DIR]:
        truth = json.loads((d / "truth.json").read_text())
        gen = truth.get("generator", {})
        if gen.get("kind") == "scale":
            model = build_scale(gen["functions"], gen["writes"], gen["seed"], gen["per_file"])
        else:
            model = build_synthkernel()
        add_init_funcs(model)
        if compute_truth(model, beyond=truth.get("beyond_depth", 0))["rows"] != truth["rows"]:
            print(f"error: {d.name}/truth.json does not match the generator's model", file=sys.stderr)
            status = 1
        levels = [lv for lv in OPT_LEVELS if (d / lv / f"{d.name}.exe").exists()]
        errors, report = verify_sample(d, model, truth, levels, patterns=gen.get("kind") != "scale")
        for line in report:
            print(line)
        for e in errors:
            print("error:", e, file=sys.stderr)
        missing = [ln for ln in report if "MISSING" in ln]
        print(f"{d.name}: {len(errors)} edge/API mismatches, {len(missing)} missing patterns "
              f"({', '.join(levels)})")
        if errors or missing:
            status = 1
    return status


def cmd_replica(args: argparse.Namespace) -> int:
    sys.modules.setdefault("generate", sys.modules[__name__])  # replica.py builds on this module, not a copy
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import replica

    return replica.cmd_replica(args)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("kernel", help="write the synthetic kernel's sources and truth.json")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="shuffles definition order (not the truth)")
    p.add_argument("--out", default=str(DEFAULT_KERNEL_DIR))
    p.add_argument("--variant", action="store_true",
                   help="the next build: one event removed, one moved, one added (for history tests)")
    p.add_argument("--file-version", metavar="A.B.C.D", help="also write version.rc (a VERSIONINFO resource)")
    p.set_defaults(func=cmd_kernel)
    p = sub.add_parser("build", help="compile samples at -O1, -O2, -Os")
    p.add_argument("samples", nargs="*")
    p.add_argument("--check", action="store_true", help="rebuild in a temp dir and compare with committed files")
    p.add_argument("--levels", default=",".join(OPT_LEVELS))
    p.add_argument("-j", "--jobs", type=int, default=0)
    p.set_defaults(func=cmd_build)
    p = sub.add_parser("scale", help="write and build (at -O2) a large kernel for benchmarks")
    p.add_argument("--functions", type=int, default=40000)
    p.add_argument("--writes", type=int, default=3000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--per-file", type=int, default=2000)
    p.add_argument("--out", required=True)
    p.add_argument("--no-build", action="store_true")
    p.add_argument("-j", "--jobs", type=int, default=0)
    p.set_defaults(func=cmd_scale)
    p = sub.add_parser("verify", help="check built images against the model (edges, API calls, patterns)")
    p.add_argument("samples", nargs="*")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("replica", help="write and build a replica of the kernel the published output describes")
    p.add_argument("--csv", help="the published table (default: ../shared/reference/api-to-etw-ntoskrnl.exe.csv "
                                 "beside the repository)")
    p.add_argument("--out", required=True, help="output directory, outside the repository or in benchmarks/scratch "
                                                "(its name is the image name)")
    p.add_argument("--levels", default="O2,Os", help="optimization levels to build (default O2,Os)")
    p.add_argument("--no-build", action="store_true", help="write the sources and replica.json only")
    p.add_argument("--verify", action="store_true", help="check the built images against the model (LLVM tools)")
    p.add_argument("-j", "--jobs", type=int, default=0)
    p.set_defaults(func=cmd_replica)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
