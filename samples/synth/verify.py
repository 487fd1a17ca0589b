"""Verification against the machine code (a developer tool; the analyzer is tested by tests/, not here)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from samples.synth.constants import ETW_API, LEGACY_WRITER, OPT_LEVELS, STRING_WRITER
from samples.synth.model import (
    Assign,
    Call,
    Desc,
    E,
    Expr,
    Func,
    Handle,
    Hook,
    IfEnabled,
    IfProviderEnabled,
    Legacy,
    LocalProvider,
    Mask,
    Model,
    Raw,
    Sel,
    StructGlobal,
    Tlg,
    TlgEvent,
    TlgProvider,
    Vol,
    Write,
    WriteString,
)

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
    found = re.search(r"ImageBase: 0x([0-9A-Fa-f]+)", text)
    if found is None:
        raise RuntimeError(f"llvm-readobj shows no ImageBase for {exe.name}")
    base = int(found.group(1), 16)
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
    out["__starts__"] = [(s, n) for s, _, n in ranges]
    return out


def observed_calls(dis: dict[str, list[tuple[int, str]]]) -> dict[str, dict[str, set]]:
    """function -> {"call": callees, "jmp": tail-jump targets} for direct transfers to other function starts."""
    starts = {a: n for a, n in dis["__starts__"]}
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
    out: list[tuple[object, bool]] = []
    for e in exprs:
        for ent, via in _expr_entities(e):
            if isinstance(ent, (Desc, Handle, StructGlobal, TlgProvider, TlgEvent, Mask, Hook)) and (ent, via) not in out:
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
                ok = any(re.search(str(arg), ins) for _, ins in dis[fname])
            report.append(f"{level} {'ok     ' if ok else 'MISSING'} {fname}: {what}")
    return errors, report

