"""Which case of a switch on one value each call site of a function runs under.

Used for IOCTL attribution: an IRP_MJ_DEVICE_CONTROL dispatch routine reads the IoControlCode from its
IRP's stack location and branches on it. Compilers lower that switch to compare chains, binary trees of
compares, subtract-and-test chains or jump tables (after subtracting the smallest case and, with clang,
rotating out the common trailing zero bits). Two passes:

1. the value-set data flow (``dataflow.py``, unchanged) says where a register receives the selector
   value and which table base a scaled-index load reads from;
2. a forward walk keeps, per program point, the set of selector values still possible (a union of
   32-bit intervals) and what each register holds as ``ror(selector - delta, k)``; every conditional
   branch on such a register splits the set, every jump-table slot selects one value.

A call site's guard is the set at its instruction, reported as the case values it contains and
``None`` (the default case) when it also admits values no case names. Sites that admit everything are
not guarded and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Optional

from iced_x86 import Decoder, FlowControl, Instruction, InstructionInfoFactory, Mnemonic, OpAccess, OpKind, RegisterExt

from ...model import Addr, CallSite, CaseSet, Memory, Param, Value, ValueSet
from .dataflow import ARG_REGS, FunctionDataflow, State

M32 = 0xFFFFFFFF
FULL: tuple[tuple[int, int], ...] = ((0, M32),)
#: Most jump-table slots read, and most points a rotated range is expanded to.
MAX_SLOTS = 4096
MAX_VISITS = 8
Intervals = tuple[tuple[int, int], ...]


# --------------------------------------------------------------------------------------------- intervals
def _norm(spans: Iterable[tuple[int, int]]) -> Intervals:
    out: list[list[int]] = []
    for lo, hi in sorted(s for s in spans if s[0] <= s[1]):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((a, b) for a, b in out)


def _intersect(a: Intervals, b: Intervals) -> Intervals:
    out = []
    for lo1, hi1 in a:
        for lo2, hi2 in b:
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if lo <= hi:
                out.append((lo, hi))
    return _norm(out)


def _complement(a: Intervals) -> Intervals:
    out, start = [], 0
    for lo, hi in a:
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= M32:
        out.append((start, M32))
    return tuple(out)


def _contains(a: Intervals, value: int) -> bool:
    return any(lo <= value <= hi for lo, hi in a)


def _count(a: Intervals) -> int:
    return sum(hi - lo + 1 for lo, hi in a)


def _signed_span(lo: int, hi: int) -> Intervals:
    """Signed 32-bit [lo, hi] as unsigned intervals."""
    if lo > hi:
        return ()
    if lo >= 0:
        return ((lo, hi),)
    if hi < 0:
        return ((lo & M32, hi & M32),)
    return _norm([(lo & M32, M32), (0, hi)])


def _to_selector(span: Intervals, delta: int, rot: int) -> Optional[Intervals]:
    """Register values ``ror(sel - delta, rot)`` in ``span`` as selector values (None: too many points)."""
    if rot == 0:
        out = []
        for lo, hi in span:
            a, b = (lo + delta) & M32, (hi + delta) & M32
            out.extend([(a, b)] if a <= b else [(a, M32), (0, b)])
        return _norm(out)
    if _count(span) > MAX_SLOTS:
        return None
    points = []
    for lo, hi in span:
        for r in range(lo, hi + 1):
            points.append(((((r << rot) | (r >> (32 - rot))) & M32) + delta) & M32)
    return _norm((p, p) for p in points)


_TAKEN = {
    Mnemonic.JE: lambda c: ((c, c),), Mnemonic.JA: lambda c: ((c + 1, M32),),
    Mnemonic.JAE: lambda c: ((c, M32),), Mnemonic.JB: lambda c: ((0, c - 1),), Mnemonic.JBE: lambda c: ((0, c),),
    Mnemonic.JG: lambda c: _signed_span(_s32(c) + 1, 0x7FFFFFFF),
    Mnemonic.JGE: lambda c: _signed_span(_s32(c), 0x7FFFFFFF),
    Mnemonic.JL: lambda c: _signed_span(-0x80000000, _s32(c) - 1),
    Mnemonic.JLE: lambda c: _signed_span(-0x80000000, _s32(c)),
}
_NEGATED = {Mnemonic.JNE: Mnemonic.JE}
_EQUALITY_ONLY = {Mnemonic.JE, Mnemonic.JNE}


def _s32(value: int) -> int:
    value &= M32
    return value - (1 << 32) if value >> 31 else value


# --------------------------------------------------------------------------------------------- pass 1
class _SelectorWatch(FunctionDataflow):
    """The data flow, noting where a register receives the selector and where a table is indexed."""

    def __init__(self, memory: Memory, image_base: int, image_size: int, sites: dict[int, CallSite],
                 selector: Value):
        super().__init__(memory, image_base, image_size, sites)
        self.selector = selector
        self.loads: set[int] = set()
        self.tables: dict[int, int] = {}
        #: ``cmp [mem], imm`` whose memory holds the selector (a stack parameter compared in place).
        self.compares: set[int] = set()

    def _write(self, instr: Instruction, state: State, values: ValueSet) -> None:
        super()._write(instr, state, values)
        if instr.op0_kind == OpKind.REGISTER and self.selector in values:
            self.loads.add(instr.ip)

    def _step(self, instr: Instruction, state: State) -> None:
        if (instr.mnemonic == Mnemonic.CMP and instr.op_count == 2 and instr.op0_kind == OpKind.MEMORY
                and instr.op1_kind not in (OpKind.REGISTER, OpKind.MEMORY)
                and self.selector in self._operand(instr, 0, state)):
            self.compares.add(instr.ip)
        if (instr.op_count == 2 and instr.op1_kind == OpKind.MEMORY and instr.memory_index_scale == 4
                and instr.memory_index != 0 and instr.memory_base != 0):
            bases = state.regs.get(RegisterExt.full_register(instr.memory_base), frozenset())
            if len(bases) == 1:
                (base,) = bases
                if isinstance(base, Addr):
                    self.tables[instr.ip] = base.rva * 0x100000000 + ((base.rva + instr.memory_displacement) & M32)
        super()._step(instr, state)


# --------------------------------------------------------------------------------------------- pass 2
@dataclass(frozen=True)
class _Point:
    """What the walk knows at one instruction."""

    possible: Intervals
    #: full register -> (delta, rotation): the register holds ror(selector - delta, rotation).
    regs: tuple[tuple[int, tuple[int, int]], ...] = ()
    #: The last flag-setting compare on a tracked register: (delta, rotation, operand, kind).
    flags: Optional[tuple[int, int, int, str]] = None
    #: A table load waiting for its indirect jump: (base rva, table rva, delta, rotation).
    table: Optional[tuple[int, int, int, int]] = None
    #: Where the last unsigned range check sends the values outside the table.
    range_exit: Optional[int] = None

    def join(self, other: _Point) -> _Point:
        regs = tuple(sorted(set(self.regs) & set(other.regs)))
        return _Point(_norm(self.possible + other.possible), regs,
                      self.flags if self.flags == other.flags else None,
                      self.table if self.table == other.table else None,
                      self.range_exit if self.range_exit == other.range_exit else None)


class _Walk:
    def __init__(self, memory: Memory, instrs: dict[int, Instruction], pieces: list[tuple[int, int]],
                 loads: set[int], tables: dict[int, int], compares: frozenset[int] = frozenset()):
        self.memory = memory
        self.instrs = instrs
        self.pieces = pieces
        self.loads = loads
        self.compares = compares
        self.tables = tables
        self.info = InstructionInfoFactory()
        #: Block starts of the walk, and the (joined) point at every instruction walked.
        self.starts: dict[int, _Point] = {}
        self.at: dict[int, _Point] = {}
        self.cases: set[int] = set()

    def inside(self, rva: int) -> bool:
        return any(a <= rva < b for a, b in self.pieces)

    def run(self, entry: int, regs: tuple[tuple[int, tuple[int, int]], ...] = ()) -> None:
        """Walk from ``entry`` (``regs``: registers holding the selector there); block starts join, every
        instruction keeps the union of what reached it."""
        self.starts[entry] = _Point(FULL, regs)
        work = [entry]
        visits: dict[int, int] = {}
        while work:
            ip = work.pop()
            visits[ip] = visits.get(ip, 0) + 1
            for succ, point in self._run_from(ip, self.starts[ip]):
                if not self.inside(succ) or succ not in self.instrs:
                    continue
                old = self.starts.get(succ)
                new = point if old is None else old.join(point)
                if new != old and visits.get(succ, 0) < MAX_VISITS:
                    self.starts[succ] = new
                    work.append(succ)

    def _run_from(self, ip: int, point: _Point) -> list[tuple[int, _Point]]:
        first = True
        while ip in self.instrs:
            if not first and ip in self.starts:  # another path's block start: join there
                return [(ip, point)]
            first = False
            instr = self.instrs[ip]
            old = self.at.get(ip)
            self.at[ip] = point if old is None else old.join(point)
            fc = instr.flow_control
            if fc == FlowControl.CONDITIONAL_BRANCH:
                return self._branch(instr, point)
            if fc == FlowControl.UNCONDITIONAL_BRANCH:
                return [(instr.near_branch_target, point)]
            if fc == FlowControl.INDIRECT_BRANCH:
                return self._table_jump(point)
            if fc in (FlowControl.RETURN, FlowControl.INTERRUPT, FlowControl.EXCEPTION):
                return []
            point = self._step(instr, point)
            ip = instr.next_ip
        return []

    def _branch(self, instr: Instruction, point: _Point) -> list[tuple[int, _Point]]:
        target, fall = instr.near_branch_target, instr.next_ip
        flags = point.flags
        mn = instr.mnemonic
        base = _NEGATED.get(mn, mn)
        if flags is None or base not in _TAKEN or (flags[3] == "eq" and base not in _EQUALITY_ONLY):
            return [(target, point), (fall, point)]
        delta, rot, operand, _kind = flags
        span = _to_selector(_TAKEN[base](operand & M32), delta, rot)
        if span is None:  # a rotated range too wide to list: list its complement (the table's range) instead
            narrow = _to_selector(_complement(_norm(_TAKEN[base](operand & M32))), delta, rot)
            if narrow is None:
                return [(target, point), (fall, point)]
            span = _complement(narrow)
        if base == Mnemonic.JE and rot == 0:
            self.cases.add((operand + delta) & M32)
        taken = _intersect(point.possible, span)
        other = _intersect(point.possible, _complement(span))
        if mn in _NEGATED:
            taken, other = other, taken
        exit_to = point.range_exit
        if base in (Mnemonic.JA, Mnemonic.JAE):
            exit_to = target if mn == base else fall
        elif base in (Mnemonic.JB, Mnemonic.JBE):
            exit_to = fall
        out = []
        if taken:
            out.append((target, _Point(taken, point.regs, None, None, exit_to)))
        if other:
            out.append((fall, _Point(other, point.regs, None, None, exit_to)))
        return out

    def _table_jump(self, point: _Point) -> list[tuple[int, _Point]]:
        if point.table is None:
            return []
        base, table, delta, rot = point.table
        targets: dict[int, list[int]] = {}
        for slot in range(MAX_SLOTS):
            value = ((((slot << rot) | (slot >> (32 - rot))) & M32 if rot else slot) + delta) & M32
            if not _contains(point.possible, value):
                break
            raw = self.memory.read(table + 4 * slot, 4)
            if len(raw) != 4:
                break
            dest = base + int.from_bytes(raw, "little", signed=True)
            if not self.inside(dest):
                break
            if dest != point.range_exit:
                targets.setdefault(dest, []).append(value)
        out = []
        for dest, values in targets.items():
            self.cases.update(values)
            out.append((dest, _Point(_intersect(point.possible, _norm((v, v) for v in values)), point.regs)))
        return out

    def _step(self, instr: Instruction, point: _Point) -> _Point:
        regs = dict(point.regs)
        flags = point.flags
        table = point.table
        mn = instr.mnemonic
        dst = RegisterExt.full_register(instr.op0_register) if instr.op0_kind == OpKind.REGISTER else None
        src_reg = (RegisterExt.full_register(instr.op1_register)
                   if instr.op_count > 1 and instr.op1_kind == OpKind.REGISTER else None)
        imm = instr.immediate(1) if instr.op_count > 1 and instr.op1_kind not in (
            OpKind.REGISTER, OpKind.MEMORY) else None
        new_reg: Optional[tuple[int, int]] = None
        handled = False
        if instr.ip in self.compares and imm is not None:
            return _Point(point.possible, point.regs, (0, 0, imm & M32, "rel"), table, point.range_exit)
        if instr.ip in self.loads and dst is not None:
            new_reg, handled = (0, 0), True
        elif dst is not None and dst in regs:
            delta, rot = regs[dst]
            if mn in (Mnemonic.CMP, Mnemonic.SUB) and imm is not None:
                flags, handled = (delta, rot, imm & M32, "rel"), True
                if mn == Mnemonic.SUB:
                    new_reg = (delta + imm) & M32, rot
                    if rot:
                        new_reg = None
                else:
                    return _Point(point.possible, point.regs, flags, table, point.range_exit)
            elif mn == Mnemonic.ADD and imm is not None and rot == 0:
                flags = (delta, rot, (-imm) & M32, "eq")
                new_reg, handled = ((delta - imm) & M32, 0), True
            elif mn == Mnemonic.DEC and rot == 0:
                flags, new_reg, handled = (delta, 0, 1, "eq"), ((delta + 1) & M32, 0), True
            elif mn == Mnemonic.TEST and src_reg == dst:
                return _Point(point.possible, point.regs, (delta, rot, 0, "eq"), table, point.range_exit)
            elif mn in (Mnemonic.ROR, Mnemonic.ROL) and imm is not None and rot == 0:
                amount = imm & 31 if mn == Mnemonic.ROR else (32 - (imm & 31)) & 31
                new_reg, handled = (delta, amount), True
                flags = None
        if not handled and dst is not None and src_reg in regs and mn == Mnemonic.MOV:
            new_reg, handled = regs[src_reg], True
        if (not handled and dst is not None and mn == Mnemonic.LEA and instr.memory_index == 0
                and RegisterExt.full_register(instr.memory_base) in regs):
            delta, rot = regs[RegisterExt.full_register(instr.memory_base)]
            if rot == 0:
                new_reg, handled = ((delta - _s32(instr.memory_displacement)) & M32, 0), True
        if instr.ip in self.tables and instr.memory_index != 0:
            index = RegisterExt.full_register(instr.memory_index)
            if index in regs:
                packed = self.tables[instr.ip]
                delta, rot = regs[index]
                table = (packed >> 32, packed & M32, delta, rot)
        info = self.info.info(instr)
        for used in info.used_registers():
            if used.access in (OpAccess.WRITE, OpAccess.READ_WRITE, OpAccess.COND_WRITE, OpAccess.READ_COND_WRITE):
                regs.pop(RegisterExt.full_register(used.register), None)
        if instr.flow_control in (FlowControl.CALL, FlowControl.INDIRECT_CALL):
            regs = {r: v for r, v in regs.items() if r not in _VOLATILE}
        if new_reg is not None and dst is not None:
            regs[dst] = new_reg
        if not handled and instr.rflags_modified:
            flags = None
        return _Point(point.possible, tuple(sorted(regs.items())), flags, table, point.range_exit)


def _volatile() -> frozenset[int]:
    from iced_x86 import Register

    return frozenset((Register.RAX, Register.RCX, Register.RDX, Register.R8, Register.R9, Register.R10,
                      Register.R11))


_VOLATILE = _volatile()


def case_guards(memory: Memory, image_base: int, image_size: int, pieces: list[tuple[int, int]],
                sites: dict[int, CallSite], selector: Value) -> dict[int, CaseSet]:
    """Call site (or ``lea``) RVA -> the selector's case values under which it runs (None: the default case)."""
    watch = _SelectorWatch(memory, image_base, image_size, sites, selector)
    watch.run(pieces)
    at_entry: tuple[tuple[int, tuple[int, int]], ...] = ()
    if isinstance(selector, Param) and selector.index < len(ARG_REGS):  # a helper given the value itself
        at_entry = ((RegisterExt.full_register(ARG_REGS[selector.index]), (0, 0)),)
    if not watch.loads and not watch.compares and not at_entry:
        return {}
    instrs: dict[int, Instruction] = {}
    for start, stop in pieces:
        for instr in Decoder(64, memory.read(start, stop - start), ip=start):
            instrs[instr.ip] = instr
    walk = _Walk(memory, instrs, pieces, watch.loads, watch.tables, frozenset(watch.compares))
    walk.run(pieces[0][0], at_entry)
    out: dict[int, CaseSet] = {}
    # Call sites, and the instructions that take a data address (a TraceLogging write inlined into a case
    # is known by the ``lea`` of its event metadata, not by a call).
    wanted = set(sites) | {ip for ip, i in instrs.items() if i.is_ip_rel_memory_operand and i.mnemonic == Mnemonic.LEA}
    for rva in sorted(wanted):
        point = walk.at.get(rva)
        if point is None or point.possible == FULL:
            continue
        named = {c for c in walk.cases if _contains(point.possible, c)}
        cases: set[Optional[int]] = set(named)
        if _count(point.possible) > len(named):
            cases.add(None)
        out[rva] = frozenset(cases)
    return out
