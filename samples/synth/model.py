"""The little language a synthetic kernel is written in: entities, expressions, statements, functions, a model.

Entities are the concrete things a handle, descriptor or provider argument can be (a GUID global, a REGHANDLE,
an EVENT_DESCRIPTOR, a TraceLogging provider or event blob, a group mask, a hook id). Expressions render C
(``c``) and evaluate (``ev``) to the set of entities they can denote under a parameter environment; statements
render C and expose their children, so one model gives both the C sources and the ground truth.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Optional

from samples.synth.constants import ETW_API, EVENT_TRACE_GROUPS, HOOKS, MANIFEST_WRITERS, PERF_MASKS, TLG_WRITERS


class ModelError(Exception):
    """The model is inconsistent (e.g. a write depends on a parameter no caller binds)."""


# ---------------------------------------------------------------------------------------------------------------
# Entities: the concrete things a handle/descriptor expression can evaluate to.
# ---------------------------------------------------------------------------------------------------------------
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

