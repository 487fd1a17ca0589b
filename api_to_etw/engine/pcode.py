"""Decompiler p-code -> the native engine's symbolic values: one translation for every p-code engine.

Both the pyghidra engine (Ghidra's Java ``HighFunction``) and the decompiler engine (flatline's p-code
payload, through thin adapters in ``engine/decompiler/pcode_adapter.py``) hand this module objects with
the few methods of Ghidra's p-code API it calls (``Varnode.isConstant/isAddress/isRegister/isInput/
getDef/getOffset/getSize/getAddress/getHigh``, ``PcodeOp.getOpcode/getInput/getNumInputs/getOutput/
getSeqnum/getParent``, ``HighFunction.getPcodeOps``), so argument values mean the same whichever
decompiler produced them. Nothing here imports Ghidra, JPype or flatline.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ..model import (
    HEADER_BYTES,
    MAX_BLOCK,
    UNKNOWN,
    Addr,
    CallSite,
    Const,
    Load,
    Memory,
    Offset,
    Param,
    StackAddr,
    Unknown,
    Value,
    ValueSet,
    add_offset,
    cap,
    field_of,
    fill_pattern,
    make_load,
    masked_values,
    parameter_field,
    pointer_table,
)

# P-code opcodes, as numbered in ghidra.program.model.pcode.PcodeOp (stable across Ghidra releases).
COPY, LOAD, STORE = 1, 2, 3
BRANCH, CBRANCH, BRANCHIND, CALL, CALLIND, CALLOTHER, RETURN = 4, 5, 6, 7, 8, 9, 10
INT_LESS, INT_LESSEQUAL = 15, 16
INT_ZEXT, INT_SEXT, INT_ADD, INT_SUB = 17, 18, 19, 20
INT_2COMP, INT_NEGATE, INT_XOR, INT_AND, INT_OR, INT_LEFT, INT_RIGHT, INT_SRIGHT, INT_MULT = (
    24, 25, 26, 27, 28, 29, 30, 31, 32)
MULTIEQUAL, INDIRECT, PIECE, SUBPIECE, CAST, PTRADD, PTRSUB = 60, 61, 62, 63, 64, 65, 66

#: Argument value sets recorded per call site, as the native engine does: rcx, rdx, r8, r9, 4 stack slots.
MAX_ARGS = 8
#: Bytes of a stack region attached to a stack address passed to a call: an EVENT_DESCRIPTOR needs 16,
#: a classic EVENT_TRACE_HEADER 48 (only the known prefix beyond 16 is kept, as the native engine does).
CONTENT_SIZE = HEADER_BYTES
#: Bytes of a stack buffer whose image addresses (``refs``) are kept (configuration structures with
#: callbacks), as the native engine's ``REF_BYTES``.
REF_BYTES = 0x100
#: Bytes always kept of a stack region's content, and the bytes a by-value copy must cover (a descriptor).
DESCRIPTOR_SIZE = 16
#: Longest table of pointers enumerated for a load indexed by a value with no known bound, and the
#: largest bound a compare guard may give (the native engine's ``MAX_TABLE``).
MAX_TABLE = 16
#: Microsoft x64 ABI: the register (or its vector twin) that carries argument slot i.
ARG_REGISTERS = {"RCX": 0, "RDX": 1, "R8": 2, "R9": 3}
_VECTOR_ARG = re.compile(r"^[XYZ]MM([0-3])(?:_.*)?$")
#: First stack argument, relative to the stack pointer at entry (return address + 32-byte home area).
FIRST_STACK_ARG = 0x28
#: Deepest chain of defining ops followed for one value, and the work budget per function.
MAX_DEPTH = 120
MAX_STEPS = 200_000
#: How many single-predecessor blocks are searched backwards for stack stores before a call.
MAX_PREDECESSOR_BLOCKS = 32

_UNK: ValueSet = frozenset((UNKNOWN,))
_EMPTY: ValueSet = frozenset()
_NO_CYCLE = 1 << 30


def mask(size: int) -> int:
    return (1 << (8 * size)) - 1 if size > 0 else 0


def signed(value: int, size: int) -> int:
    bits = 8 * size
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def jiter(obj: Any) -> Iterator[Any]:
    """Iterate a Java ``Iterator``/``Iterable``, a Java array or a Python iterable alike."""
    if obj is None:
        return iter(())
    if hasattr(obj, "hasNext") and hasattr(obj, "next"):
        def walk() -> Iterator[Any]:
            while obj.hasNext():
                yield obj.next()
        return walk()
    return iter(obj)


# ------------------------------------------------------------------------------------------ p-code -> values
class PcodeTranslator:
    """Maps decompiler p-code varnodes to the native engine's symbolic values.

    ``register_name(varnode)`` names the base register of a register varnode (``RCX`` for ``ECX``); in
    Ghidra it is ``program.getRegister(varnode).getBaseRegister().getName()``. ``memory`` and the image
    bounds decide what is an image address and what folds to a constant.

    Rules, per varnode (each result is a value set, capped at ``model.MAX_VALUES`` like the native one):

    * constant -> ``Const`` masked to the varnode's size; an 8-byte constant inside the image is an
      address, ``Addr(rva)`` (x64 code forms image addresses with ``lea reg,[rip+x]``, which the
      decompiler turns into constants).
    * a ``ram`` varnode (a global read directly) -> the memory read at that address: folded to
      ``Const``/``Addr`` when the block is read-only and the bytes are there, else ``Load(Addr(rva))``.
      Its defining ops are not followed: the native engine does not track stores to globals either.
    * function inputs (``isInput()``): ``RCX``/``RDX``/``R8``/``R9`` (or ``XMM0``-``XMM3``) ->
      ``Param(0..3)``; ``RSP`` -> ``StackAddr(0)`` (offsets are relative to the stack pointer at entry,
      as in the native engine); a stack input at ``0x28 + 8k`` -> ``Param(4 + k)``; any other stack
      location read before it is written -> ``Load(StackAddr(offset))`` ("whatever the local holds",
      as the native engine reads it); a ``HighParam`` elsewhere -> ``Param(slot)``; anything else ->
      ``Unknown``.
    * ``COPY``, ``CAST``, ``INDIRECT`` -> the value of input 0 (``INDIRECT``: the value before the
      call that may change it; the native engine keeps stack slots and non-volatile registers across
      calls too) -- except an ``INDIRECT`` on a stack location whose address the guarded call received
      in rcx..r9: the callee may have written it, so it is ``Load(StackAddr(offset))``, the native
      engine's "escaped local" (how ``EtwRegister(&guid, 0, 0, &localHandle)`` ties a local handle to
      its provider).
    * ``MULTIEQUAL`` -> the union of its inputs (a copy that closes a loop adds nothing).
    * ``INT_ADD``/``INT_SUB``/``PTRSUB`` with a constant -> ``base + delta`` (``model.add_offset``; an
      added field offset on an unknown object stays ``Offset(Unknown, d)``, ``model.field_of``, as in the
      native data flow):
      ``Addr``, ``StackAddr`` or ``Offset``; ``PTRSUB(0, x)`` is the address ``x``; ``PTRADD(p, i, n)``
      with constants -> ``p + i*n``.
    * ``LOAD`` -> for each pointer value, the read-only fold or ``Load(pointer, size)``.
    * ``INT_ZEXT``/``INT_SEXT``/``SUBPIECE``/``PIECE`` -> constants re-sized (zero/sign extension,
      byte extraction, concatenation); other values pass through zero extension and truncation.
    * constant-only arithmetic (``INT_AND``, ``INT_OR``, ``INT_XOR``, shifts, ``INT_MULT``, negation)
      folds; with a non-constant operand the result is ``Unknown`` (as the native engine's).
    * call outputs and every other op -> ``Unknown``. Value-changing ops over an operand that is only
      reachable around a loop are ``Unknown``.

    Stack addresses passed to a call carry ``content``: the 16 bytes known stored there when the call
    happens (see :meth:`stack_content`).
    """

    def __init__(self, image_base: int, image_size: int, memory: Memory,
                 register_name: Callable[[Any], Optional[str]]):
        self.image_base = image_base
        self.image_size = image_size
        self.memory = memory
        self.register_name = register_name
        self._ro: dict[int, bool] = {}
        self.reset()

    def reset(self, ops_at: Optional[Callable[[Any], Iterable[Any]]] = None,
              ops: Optional[Iterable[Any]] = None,
              fills: Optional[Mapping[int, tuple[Optional[int], int]]] = None) -> None:
        """Start a function: forget memoised values (varnodes belong to one decompilation).

        ``ops_at(address)`` gives the p-code ops of one instruction of the function being translated
        (``HighFunction.getPcodeOps(address)``); it is how an ``INDIRECT`` finds the call it guards.
        ``ops`` are all of the function's ops: where compare guards and ``rep movs`` loops are found.
        ``fills`` are the function's calls to memset-like functions, by call RVA: the argument slots of the
        fill byte (None: zero) and of the byte count (``model.FILL_ARGUMENTS``), as the native engine has them.
        """
        self._memo: dict[Any, ValueSet] = {}
        self._active: dict[Any, int] = {}
        self._steps = 0
        self._ops_at = ops_at
        self._ops: list[Any] = list(ops) if ops is not None else []
        self._compares: Optional[list[Any]] = None
        self._copies: Optional[list[tuple[int, int, int, Value]]] = None
        self._frame: Optional[_FrameFacts] = None
        self._byte_memo: dict[tuple[Any, int], list[_Byte]] = {}
        self._escaped_at: dict[int, frozenset[int]] = {}
        self._interrupts: dict[int, bool] = {}
        self._fills = fills or {}
        self._filled: dict[int, Optional[_Fill]] = {}
        self._fill_calls: Optional[dict[int, _Fill]] = None

    # ------------------------------------------------------------------ values
    def resolve(self, vn: Any) -> ValueSet:
        """The value set of a varnode at its use."""
        values, _low = self._resolve(vn, 0)
        return values if values else _UNK

    def _resolve(self, vn: Any, depth: int) -> tuple[ValueSet, int]:
        """(values, lowest active index this result depends on); only closed results are memoised."""
        if vn is None:
            return _UNK, _NO_CYCLE
        if vn.isConstant():
            return frozenset((self._constant(vn.getOffset(), vn.getSize()),)), _NO_CYCLE
        if vn.isAddress():
            return frozenset((self._global(vn.getOffset(), vn.getSize()),)), _NO_CYCLE
        known = self._memo.get(vn)
        if known is not None:
            return known, _NO_CYCLE
        active = self._active.get(vn)
        if active is not None:
            return _EMPTY, active
        self._steps += 1
        if depth > MAX_DEPTH or self._steps > MAX_STEPS:
            return _UNK, _NO_CYCLE
        index = len(self._active)
        self._active[vn] = index
        try:
            values, low = self._compute(vn, depth)
        finally:
            del self._active[vn]
        if values:
            values = cap(values)
        if low >= index:
            self._memo[vn] = values
            low = _NO_CYCLE
        return values, low

    def _compute(self, vn: Any, depth: int) -> tuple[ValueSet, int]:
        op = vn.getDef()
        if op is None:
            return frozenset((self._input(vn),)), _NO_CYCLE
        code = op.getOpcode()
        if code == INDIRECT and self._is_stack(vn):
            filled = self._filled_bytes(op, vn)
            if filled is not None:  # a local read after memset(&local, 0, n) without a store in between
                known = [b for b in filled if b is not None]
                if len(known) != len(filled) or not known:
                    return _UNK, _NO_CYCLE
                return frozenset((self._constant(int.from_bytes(bytes(known), "little"), vn.getSize()),)), _NO_CYCLE
            escaped, low = self._escapes(vn, op, depth)
            if escaped:
                return frozenset((Load(StackAddr(signed(vn.getOffset(), 8)), vn.getSize()),)), low
        if code in (COPY, CAST, INDIRECT):
            return self._resolve(op.getInput(0), depth + 1)
        if code == MULTIEQUAL:
            out: set[Value] = set()
            low = _NO_CYCLE
            for i in range(op.getNumInputs()):
                if self._after_interrupt(op.getInput(i)):
                    continue
                values, sub = self._resolve(op.getInput(i), depth + 1)
                out |= values
                low = min(low, sub)
            return frozenset(out), low
        size = vn.getSize()
        if code in (INT_ZEXT, INT_SEXT, SUBPIECE):
            src = op.getInput(0)
            values, low = self._resolve(src, depth + 1)
            if not values:
                return _UNK, low
            if code == SUBPIECE:
                shift = op.getInput(1).getOffset() if op.getInput(1) is not None else 0
                return frozenset(self._subpiece(v, shift, size) for v in values), low
            return frozenset(self._extend(v, src.getSize(), size, code == INT_SEXT) for v in values), low
        if code == LOAD:
            pointers, low = self._resolve(op.getInput(1), depth + 1)
            if not pointers:
                return _UNK, low
            if pointers == _UNK and size == 8:
                pointers = self._table_slots(op.getInput(1), depth + 1) or pointers
            return frozenset(self._load(p, size) for p in pointers), low
        if code == INT_AND:
            left, low1 = self._resolve(op.getInput(0), depth + 1)
            right, low2 = self._resolve(op.getInput(1), depth + 1)
            if not left or not right:
                return _UNK, min(low1, low2)
            out_and: set[Value] = set()
            for a in left:
                for b in right:
                    if isinstance(a, Const) and not isinstance(b, Const):
                        a, b = b, a
                    if isinstance(b, Const) and not isinstance(a, (Const, Addr, StackAddr)):
                        out_and.update(masked_values(b.value & mask(size)))  # ``and ecx, 3``: 0..3
                    else:
                        out_and.add(self._binary(code, a, b, op.getInput(1).getSize(), size))
            return frozenset(out_and), min(low1, low2)
        if code in _BINARY:
            left, low1 = self._resolve(op.getInput(0), depth + 1)
            right, low2 = self._resolve(op.getInput(1), depth + 1)
            low = min(low1, low2)
            if not left or not right:
                return _UNK, low
            if code == PTRADD:
                scale = op.getInput(2)
                step = scale.getOffset() if scale is not None and scale.isConstant() else None
                return frozenset(self._ptradd(a, b, step, size) for a in left for b in right), low
            in_size = op.getInput(1).getSize()
            return frozenset(self._binary(code, a, b, in_size, size) for a in left for b in right), low
        if code in (INT_2COMP, INT_NEGATE):
            values, low = self._resolve(op.getInput(0), depth + 1)
            if not values:
                return _UNK, low
            out = set()
            for v in values:
                if isinstance(v, Const):
                    out.add(Const((-v.value if code == INT_2COMP else ~v.value) & mask(size)))
                else:
                    out.add(UNKNOWN)
            return frozenset(out), low
        return _UNK, _NO_CYCLE

    def _after_interrupt(self, vn: Any) -> bool:
        """True if ``vn`` is set by a software interrupt (``int 0x29``, __fastfail; ``int 3``): the decompiler
        models it as a call that returns (``CALLOTHER`` then ``CALLIND`` of the vector, moving RSP), but it
        does not return, and the native engine ends the path there; a join ignores that way in."""
        op = vn.getDef() if vn is not None else None
        if op is None or self._ops_at is None:
            return False
        target = op.getSeqnum().getTarget()
        known = self._interrupts.get(target.getOffset())
        if known is None:
            codes = {other.getOpcode() for other in self._ops_at(target)}
            known = self._interrupts[target.getOffset()] = CALLOTHER in codes and CALLIND in codes
        return known

    def _input(self, vn: Any) -> Value:
        """A varnode nobody in the function defines: an incoming argument, the stack pointer, or unknown."""
        if not vn.isInput():
            return UNKNOWN
        if vn.isRegister():
            name = (self.register_name(vn) or "").upper()
            if name == "RSP":
                return StackAddr(0)
            slot = ARG_REGISTERS.get(name)
            if slot is None:
                match = _VECTOR_ARG.match(name)
                slot = int(match.group(1)) if match else None
            if slot is not None:
                return Param(slot)
        elif self._is_stack(vn):
            offset = signed(vn.getOffset(), 8)
            if offset >= FIRST_STACK_ARG and (offset - FIRST_STACK_ARG) % 8 == 0:
                return Param(4 + (offset - FIRST_STACK_ARG) // 8)
            return Load(StackAddr(offset), vn.getSize())  # a local read before any write: whatever it holds
        high = vn.getHigh() if hasattr(vn, "getHigh") else None
        get_slot = getattr(high, "getSlot", None)
        if get_slot is not None:  # a HighParam: the decompiler's own parameter slot
            slot = int(get_slot())
            if 0 <= slot < MAX_ARGS:
                return Param(slot)
        return UNKNOWN

    # ------------------------------------------------------------------ table lookups
    def _table_slots(self, pointer: Any, depth: int) -> Optional[ValueSet]:
        """``table + index*8`` with an index the value sets cannot name: the slots it can select.

        As the native data flow: an index a compare guard bounds (``cmp ecx, 2; ja default``, in p-code an
        ``INT_LESS``/``INT_LESSEQUAL`` of the same varnode against a constant) selects slots ``0..bound``;
        an index with no bound selects every slot of the run of image pointers a read-only table starts
        with (at most ``MAX_TABLE``). None when the pointer is not such a sum.
        """
        found = self._table_form(pointer, depth)
        if found is None:
            return None
        table, index = found
        count = self._guard_bound(index)
        if count is not None:
            return frozenset(Addr(table + 8 * k) for k in range(count))
        if not self._read_only(table):
            return None
        slots = pointer_table(self.memory, table, self.image_base, self.image_size, self._read_only, MAX_TABLE)
        return frozenset(Addr(slot) for slot in slots) or None

    def _table_form(self, vn: Any, depth: int) -> Optional[tuple[int, Any]]:
        """(table RVA, index varnode) of ``INT_ADD(INT_MULT(index, 8), &table)`` or ``PTRADD(&table, index, 8)``."""
        op = _def_through_copies(vn)
        if op is None:
            return None
        code = op.getOpcode()
        if code == PTRADD:
            scale = op.getInput(2)
            if scale is None or not scale.isConstant() or scale.getOffset() != 8:
                return None
            base, index = op.getInput(0), op.getInput(1)
        elif code == INT_ADD:
            base, index = op.getInput(1), op.getInput(0)
            scaled = _def_through_copies(index)
            if not _is_scaled_by_8(scaled):
                base, index = index, base
                scaled = _def_through_copies(index)
            if scaled is None or not _is_scaled_by_8(scaled):
                return None
            index = scaled.getInput(0)
        else:
            return None
        values, _low = self._resolve(base, depth + 1)
        if len(values) != 1:
            return None
        (table,) = values
        return (table.rva, index) if isinstance(table, Addr) else None

    def _guard_bound(self, index: Any) -> Optional[int]:
        """How many values a compare guard lets ``index`` take (``INT_LESS(i, 3)``: 3), or None.

        flatline's final p-code keeps no block structure and may flip a branch, so the guard's constant
        is read without its direction: the table lookup sits on the in-range side. An index already
        known as constants needs no guard (the native engine refines only an unknown register).
        """
        root = _root(index)
        if root is None or any(isinstance(v, Const) for v in self.resolve(root)):
            return None
        if self._compares is None:
            self._compares = [op for op in self._ops if op.getOpcode() in (INT_LESS, INT_LESSEQUAL)]
        for op in self._compares:
            left, right = op.getInput(0), op.getInput(1)
            if left is None or right is None:
                continue
            equal = op.getOpcode() == INT_LESSEQUAL
            if right.isConstant() and _root(left) is root:
                count = right.getOffset() + (1 if equal else 0)       # i < N, i <= N
            elif left.isConstant() and _root(right) is root:
                count = left.getOffset() + (0 if equal else 1)        # N < i, N <= i: out of range
            else:
                continue
            if 0 < count <= MAX_TABLE:
                return int(count)
        return None

    def _escapes(self, vn: Any, indirect: Any, depth: int) -> tuple[bool, int]:
        """True if the call an ``INDIRECT`` guards received this stack location's address in rcx..r9.

        The callee may then have written the location (``EtwRegister(..., &handle)``), so its value
        after the call is ``Load(StackAddr(offset))``, as the native engine reads an escaped local.
        """
        if self._ops_at is None:
            return False, _NO_CYCLE
        target = indirect.getSeqnum().getTarget()
        where = target.getOffset()
        escaped = self._escaped_at.get(where)
        if escaped is None:
            # Once per call: the stack offsets it receives in rcx..r9 (an INDIRECT guards each location the
            # call may touch, so a big function would otherwise resolve the same arguments thousands of times).
            found: set[int] = set()
            for op in self._ops_at(target):
                if op.getOpcode() not in (CALL, CALLIND):
                    continue
                for slot in range(1, min(op.getNumInputs(), 1 + len(ARG_REGISTERS))):
                    values, _sub = self._resolve(op.getInput(slot), depth + 1)
                    found.update(v.offset for v in values if isinstance(v, StackAddr) and v.frame < 0)
            escaped = self._escaped_at[where] = frozenset(found)
        return signed(vn.getOffset(), 8) in escaped, _NO_CYCLE

    @staticmethod
    def _is_stack(vn: Any) -> bool:
        address = vn.getAddress()
        return address is not None and bool(address.isStackAddress())

    # ------------------------------------------------------------------ value helpers
    def _in_image(self, va: int) -> bool:
        return self.image_base <= va < self.image_base + self.image_size

    def _constant(self, raw: int, size: int) -> Value:
        value = raw & mask(size)
        if size == 8 and self._in_image(value):
            return Addr(value - self.image_base)
        return Const(value)

    def _sized(self, value: Value, size: int) -> Value:
        if isinstance(value, Const):
            return self._constant(value.value, size)
        return value

    def _global(self, va: int, size: int) -> Value:
        va &= mask(8)
        if not self._in_image(va):
            return UNKNOWN
        return self._load(Addr(va - self.image_base), size)

    def _read_only(self, rva: int) -> bool:
        page = rva >> 12
        known = self._ro.get(page)
        if known is None:
            known = self._ro[page] = not self.memory.is_writable(rva)
        return known

    def _load(self, pointer: Value, size: int) -> Value:
        if isinstance(pointer, Const) and size and self._in_image(pointer.value):
            pointer = Addr(pointer.value - self.image_base)
        if isinstance(pointer, Addr):
            if 0 < size <= 16 and self._read_only(pointer.rva):
                raw = self.memory.read(pointer.rva, size)
                if len(raw) == size:
                    return self._constant(int.from_bytes(raw, "little"), size)
            return make_load(pointer, size)
        return make_load(pointer, size)

    def _extend(self, value: Value, in_size: int, out_size: int, sign: bool) -> Value:
        if isinstance(value, Const):
            raw = value.value & mask(in_size)
            if sign:
                raw = signed(raw, in_size)
            return self._constant(raw, out_size)
        return value

    def _subpiece(self, value: Value, shift: int, out_size: int) -> Value:
        if isinstance(value, Const):
            return Const((value.value >> (8 * shift)) & mask(out_size))
        return value if shift == 0 else UNKNOWN

    def _ptradd(self, base: Value, index: Value, step: Optional[int], size: int) -> Value:
        if step is None or not isinstance(index, Const):
            return UNKNOWN
        delta = signed(index.value, 8) * step
        if isinstance(base, Const):
            return self._constant(base.value + delta, size)
        return add_offset(base, delta)

    def _binary(self, code: int, a: Value, b: Value, in_size: int, size: int) -> Value:
        if code in (INT_ADD, PTRSUB):
            if isinstance(a, Const) and isinstance(b, Const):
                return self._constant(a.value + b.value, size)
            if isinstance(b, Const):
                return self._sized(field_of(a, signed(b.value, in_size)), size)
            if isinstance(a, Const):  # PTRSUB(0, &global) arrives as (Const(0), Addr(global))
                return self._sized(add_offset(b, signed(a.value, in_size)), size)
            return UNKNOWN
        if code == INT_SUB:
            if isinstance(a, Const) and isinstance(b, Const):
                return self._constant(a.value - b.value, size)
            if isinstance(b, Const):
                return self._sized(add_offset(a, -signed(b.value, in_size)), size)
            return UNKNOWN
        if code == PIECE:
            if isinstance(a, Const) and isinstance(b, Const):
                return self._constant((a.value << (8 * in_size)) | (b.value & mask(in_size)), size)
            if in_size in (1, 2) and not isinstance(a, Const):
                # ``mov dx, 12`` over an unknown RDX: the callee of a UCHAR/USHORT argument (a level, a WPP
                # message number) reads only the low bits, so the value is what was written (the native
                # engine's rule for 8- and 16-bit register writes).
                return self._sized(b, size)
            return UNKNOWN
        if not (isinstance(a, Const) and isinstance(b, Const)):
            return UNKNOWN
        x, y = a.value, b.value
        if code == INT_AND:
            return Const(x & y & mask(size))
        if code == INT_OR:
            return self._constant(x | y, size)
        if code == INT_XOR:
            return self._constant(x ^ y, size)
        if code == INT_MULT:
            return self._constant(x * y, size)
        if code == INT_LEFT:
            return self._constant(x << min(y, 128), size)
        if code == INT_RIGHT:
            return Const((x & mask(size)) >> min(y, 128))
        if code == INT_SRIGHT:
            return Const((signed(x, size) >> min(y, 128)) & mask(size))
        return UNKNOWN

    # ------------------------------------------------------------------ call sites
    def call_args(self, op: Any, ops_at: Callable[[Any], Iterable[Any]]) -> tuple[ValueSet, ...]:
        """The argument value sets of a ``CALL``/``CALLIND`` op, by ABI slot.

        Input 0 is the call target; inputs 1.. are the arguments in prototype order, which under the
        Microsoft x64 convention is slot order (each argument takes one slot: rcx, rdx, r8, r9, then
        the stack). ``ops_at(address)`` gives the p-code ops of one instruction
        (``HighFunction.getPcodeOps(address)``).

        A register slot the decompiler passes nothing in (it knows no prototype of the callee, so a
        wrapper that forwards its own parameters shows a call without inputs) is the function's own
        parameter when no op of the function writes that register and no call runs before this one:
        the register still holds its value at entry. Any other missing slot is ``Unknown``.
        """
        count = op.getNumInputs()
        args: list[ValueSet] = []
        for slot in range(MAX_ARGS):
            if slot + 1 < count:
                values = self.resolve(op.getInput(slot + 1))
            elif slot < len(ARG_REGISTERS):
                values = frozenset((Param(slot),)) if self._untouched(op, slot) else _UNK
            else:
                values = self._stack_argument(op, slot, ops_at)
            if any(isinstance(v, StackAddr) and v.frame < 0 and v.content is None for v in values):
                values = cap(self._snapshot(v, op, ops_at) for v in values)
            args.append(values)
        return tuple(args)

    def _untouched(self, call: Any, slot: int) -> bool:
        """True if argument register ``slot`` holds the function's entry value at ``call``."""
        if slot >= len(ARG_REGISTERS) or not self._ops:
            return False
        frame = self._frame_facts()
        name = next(reg for reg, i in ARG_REGISTERS.items() if i == slot)
        at = call.getSeqnum().getTarget().getOffset()
        # No op writes the register, and no other call runs at or before this one's address.
        return name not in frame.written and at == frame.first_call and frame.calls_at_first == 1

    def _frame_facts(self) -> _FrameFacts:
        """What the whole function says once: registers written, the first call, RSP definitions by address."""
        if self._frame is None:
            frame = _FrameFacts()
            for other in self._ops:
                if other.getOpcode() in (CALL, CALLIND):
                    where = other.getSeqnum().getTarget().getOffset()
                    if frame.first_call is None or where < frame.first_call:
                        frame.first_call, frame.calls_at_first = where, 1
                    elif where == frame.first_call:
                        frame.calls_at_first += 1
                out = other.getOutput()
                if out is not None and out.isRegister():
                    name = (self.register_name(out) or "").upper()
                    frame.written.add(name)
                    if name == "RSP":
                        frame.rsp_defs.setdefault(other.getSeqnum().getTarget().getOffset(), []).append(out)
            frame.rsp_addresses = sorted(frame.rsp_defs)
            self._frame = frame
        return self._frame

    def _stack_argument(self, call: Any, slot: int, ops_at: Callable[[Any], Iterable[Any]]) -> ValueSet:
        """A stack argument the decompiler passes nothing in: the 8 bytes stored at its slot
        (``[rsp + 0x20 + 8*(slot-4)]`` at the call), where one stack write covers exactly that slot."""
        rsp = self._stack_pointer_at(call)
        if rsp is None:
            return _UNK
        where = rsp + 0x20 + 8 * (slot - len(ARG_REGISTERS))
        for start, size, value in self._stack_writes(call, ops_at):
            if start == where and size == 8 and not isinstance(value, _Fill):
                return self.resolve(value)
            if start < where + 8 and start + size > where:
                return _UNK
        return _UNK

    def _stack_pointer_at(self, call: Any) -> Optional[int]:
        """The frame offset of RSP at a call: the value of its last definition before the call's instruction."""
        frame = self._frame_facts()
        at = call.getSeqnum().getTarget().getOffset()
        k = bisect.bisect_left(frame.rsp_addresses, at)
        if k == 0:
            return None
        found: set[Value] = set()
        for out in frame.rsp_defs[frame.rsp_addresses[k - 1]]:
            found |= self.resolve(out)
        if len(found) != 1:
            return None
        (only,) = found
        return only.offset if isinstance(only, StackAddr) and only.frame < 0 else None

    def _snapshot(self, value: Value, op: Any, ops_at: Callable[[Any], Iterable[Any]]) -> Value:
        """A stack address with what the native engine attaches to it: content, refs, copy origin."""
        if not isinstance(value, StackAddr) or value.frame >= 0 or value.content is not None:
            return value
        facts = self._stack_facts(op, value.offset, ops_at)
        content = [b if isinstance(b, int) else None for b in facts]
        while len(content) > DESCRIPTOR_SIZE and content[-1] is None:
            content.pop()
        refs, links = self._refs(op, value.offset, ops_at)
        for _pos, delta in links or ():  # the linked buffers' image addresses, at their offsets from this one
            linked, _more = self._refs(op, value.offset + delta, ops_at)
            refs = tuple(sorted(set(refs or ()) | {(rel + delta, rva) for rel, rva in linked or ()})) or None
        fields = _param_fields(facts)
        origin = self._origin(facts[:DESCRIPTOR_SIZE]) or self._rep_copy_origin(op, value.offset)
        if all(b is None for b in content) and refs is None and origin is None and fields is None and links is None:
            return StackAddr(value.offset)
        return StackAddr(value.offset, tuple(content), -1, refs, origin, fields, links)

    def stack_content(self, op: Any, offset: int, ops_at: Callable[[Any], Iterable[Any]],
                      size: int = CONTENT_SIZE) -> list[Optional[int]]:
        """The bytes known stored at ``[offset, offset+size)`` of the frame when ``op`` (a call) runs.

        1. The decompiler guards each address-tied stack location a call may touch with an
           ``INDIRECT`` op at the call's address; its input 0 is the location's value at the call.
        2. Bytes no guard covers come from the stack varnodes written earlier in the call's basic
           block, then in its chain of single-predecessor blocks (which all run before the call);
           the latest write wins.
        A byte is known only where exactly one constant is stored (a join of two values is unknown,
        as in the native engine).
        """
        return [b if isinstance(b, int) else None for b in self._stack_facts(op, offset, ops_at, size)]

    def _stack_writes(self, op: Any, ops_at: Callable[[Any], Iterable[Any]]) -> Iterator[tuple[int, int, Any]]:
        """(frame offset, size, varnode holding the value or the fill) of the stack writes live at a call, the
        latest first; a memset-like call over the frame is a write of its bytes (``_Fill``)."""
        target = op.getSeqnum().getTarget()
        for other in ops_at(target):
            if other.getOpcode() != INDIRECT:
                continue
            out = other.getOutput()
            if out is not None and self._is_stack(out):
                yield signed(out.getOffset(), 8), out.getSize(), other.getInput(0)
        block = op.getParent()
        ops = list(jiter(block.getIterator())) if block is not None else []
        position = next((i for i, other in enumerate(ops) if other is op or other == op), len(ops))
        seen = {_block_key(block)}
        for _ in range(MAX_PREDECESSOR_BLOCKS):
            for prior in reversed(ops[:position]):
                out = prior.getOutput()
                if out is not None and self._is_stack(out):
                    yield signed(out.getOffset(), 8), out.getSize(), out
                elif self._fills and prior.getOpcode() in (CALL, CALLIND):
                    fill = self._fill_of(prior)
                    if fill is not None:
                        yield fill.offset, fill.size, fill
            if block is None or block.getInSize() != 1:
                break
            block = block.getIn(0)
            if block is None or _block_key(block) in seen:
                break
            seen.add(_block_key(block))
            ops = list(jiter(block.getIterator()))
            position = len(ops)
        for fill in self._reaching_fills(op):
            yield fill.offset, fill.size, fill

    def _stack_facts(self, op: Any, offset: int, ops_at: Callable[[Any], Iterable[Any]],
                     size: int = CONTENT_SIZE) -> list[_Byte]:
        """Per byte of ``[offset, offset+size)`` at the call: a constant, where it was loaded from, or None."""
        facts: list[_Byte] = [None] * size
        decided = [False] * size
        for where, width, value in self._stack_writes(op, ops_at):
            start = where - offset
            if start >= size or start + width <= 0:
                continue
            raw = value.bytes_at(0, width) if isinstance(value, _Fill) else self._bytes(value, width, 0)
            for k in range(width):
                pos = start + k
                if 0 <= pos < size and not decided[pos]:
                    decided[pos] = True
                    facts[pos] = raw[k] if k < len(raw) else None
            if all(decided):
                break
        return facts

    def _refs(self, op: Any, offset: int, ops_at: Callable[[Any], Iterable[Any]]
              ) -> tuple[Optional[tuple[tuple[int, int], ...]], Optional[tuple[tuple[int, int], ...]]]:
        """What the 8-byte slots of ``[offset, offset+REF_BYTES)`` hold whole, as the native engine names it:
        image addresses (a GuidPtr, a TRACE_GUID_REGISTRATION, a WDF queue configuration's callbacks) as
        ``refs`` (offset from the buffer, rva), and addresses of other buffers of the frame as ``links``
        (offset from the buffer, that buffer's offset from this one: an EVENT_DATA_DESCRIPTOR's Ptr)."""
        decided = [False] * REF_BYTES
        refs = []
        links = []
        for where, width, value in self._stack_writes(op, ops_at):
            start = where - offset
            span = [start + k for k in range(width) if 0 <= start + k < REF_BYTES]
            if width == 8 and not isinstance(value, _Fill) and len(span) == 8 and not any(decided[p] for p in span):
                values = self.resolve(value)
                if len(values) == 1:
                    (only,) = values
                    if isinstance(only, Addr):
                        refs.append((start, only.rva))
                    elif isinstance(only, StackAddr) and only.frame < 0 and only.offset != offset:
                        links.append((start, only.offset - offset))
            for p in span:
                decided[p] = True
        return tuple(sorted(refs)) or None, tuple(sorted(links)) or None

    def _fill_of(self, call: Any) -> Optional[_Fill]:
        """The frame block a memset-like call fills (``memset(&local, 0, sizeof local)``), None for other calls or
        a destination that is not one known stack address. An unknown fill byte still overwrites the block."""
        at = call.getSeqnum().getTarget().getOffset()
        if at in self._filled:
            return self._filled[at]
        found: Optional[_Fill] = None
        layout = self._fills.get(at - self.image_base)
        if layout is not None:
            def argument(slot: int) -> ValueSet:
                return self.resolve(call.getInput(slot + 1)) if slot + 1 < call.getNumInputs() else _UNK

            dst, count = argument(0), argument(layout[1])
            fill = frozenset((Const(0),)) if layout[0] is None else argument(layout[0])
            if len(dst) == 1 and len(count) == 1:
                (d,), (n,) = dst, count
                if isinstance(d, StackAddr) and d.frame < 0 and isinstance(n, Const) and 0 < n.value <= MAX_BLOCK:
                    pattern = fill_pattern(next(iter(fill)), n) if len(fill) == 1 else None
                    found = _Fill(d.offset, n.value, pattern)
        self._filled[at] = found
        return found

    def _reaching_fills(self, call: Any) -> list[_Fill]:
        """The fills that run on every way to ``call``, the latest first. flatline's p-code has no basic blocks
        to walk, but it is SSA: a value the call may read (an ``INDIRECT`` at the call) dominated by a fill call
        (``_fills_before``) shows that the fill runs before the call on every way in. The filled block is then as
        the fill left it where no later write says otherwise (bytes no varnode covers: a header's Version nobody
        writes)."""
        if not self._fills or self._ops_at is None:
            return []
        if self._fill_calls is None:
            self._fill_calls = {}
            for other in self._ops:
                if other.getOpcode() in (CALL, CALLIND):
                    fill = self._fill_of(other)
                    if fill is not None:
                        self._fill_calls[other.getSeqnum().getTarget().getOffset()] = fill
        fills = self._fill_calls
        if not fills:
            return []
        found: set[int] = set()
        memo: dict[Any, Optional[frozenset[int]]] = {}
        for guard in self._ops_at(call.getSeqnum().getTarget()):
            if guard.getOpcode() == INDIRECT:
                found |= self._fills_before(guard.getInput(0), fills, memo, 0) or frozenset()
        return [fills[at] for at in sorted(found, reverse=True)]

    def _fills_before(self, vn: Any, fills: Mapping[int, _Fill], memo: dict[Any, Optional[frozenset[int]]],
                      depth: int) -> Optional[frozenset[int]]:
        """The fill calls that dominate the definition of ``vn``: in SSA a definition dominates its uses, so a
        value defined at a fill call, or copied from one, or a join (``MULTIEQUAL``) of such values on every
        way in, is dominated by that fill. None while ``vn`` is being looked at (a loop's way back adds nothing)."""
        if vn is None or vn.isConstant() or depth > MAX_DEPTH:
            return frozenset()
        if vn in memo:
            return memo[vn]
        op = vn.getDef()
        if op is None:
            return frozenset()
        at = op.getSeqnum().getTarget().getOffset()
        if at in fills:
            return frozenset((at,))
        code = op.getOpcode()
        if code not in (COPY, CAST, INDIRECT, MULTIEQUAL):
            return frozenset()
        memo[vn] = None
        if code == MULTIEQUAL:
            result: Optional[frozenset[int]] = None
            for i in range(op.getNumInputs()):
                way = self._fills_before(op.getInput(i), fills, memo, depth + 1)
                if way is not None:
                    result = way if result is None else result & way
            found = result or frozenset()
        else:
            found = self._fills_before(op.getInput(0), fills, memo, depth + 1) or frozenset()
        memo[vn] = found
        return found

    def _filled_bytes(self, indirect: Any, vn: Any) -> Optional[list[Optional[int]]]:
        """The bytes of stack location ``vn`` after the call its ``INDIRECT`` guards, when that call fills it."""
        if not self._fills or self._ops_at is None:
            return None
        for other in self._ops_at(indirect.getSeqnum().getTarget()):
            if other.getOpcode() in (CALL, CALLIND):
                fill = self._fill_of(other)
                where = signed(vn.getOffset(), 8)
                if fill is not None and fill.offset <= where and where + vn.getSize() <= fill.offset + fill.size:
                    return fill.bytes_at(where - fill.offset, vn.getSize())
                return None
        return None

    @staticmethod
    def _origin(facts: list[_Byte]) -> Optional[Value]:
        """The address a by-value copy came from: every byte not patched with a constant was loaded from
        the same place, each from its own position (``d = *Descriptor``, however the decompiler split it)."""
        root: Optional[Value] = None
        delta: Optional[int] = None
        for pos, fact in enumerate(facts):
            if isinstance(fact, int):
                continue
            if fact is None or isinstance(fact, _ParamByte):
                return None
            base, d = _split(fact[0])
            here = d + fact[1] - pos
            if root is None:
                root, delta = base, here
            elif base != root or here != delta:
                return None
        if root is None or delta is None:
            return None
        return add_offset(root, delta)

    def _rep_copy_origin(self, op: Any, offset: int) -> Optional[Value]:
        """A ``rep movs`` into the frame at ``offset`` before the call: the address it copied from.

        The decompiler lowers ``rep movs`` to a one-instruction loop: a ``STORE`` through a pointer
        ``MULTIEQUAL`` of a ``LOAD`` through another, and a count ``MULTIEQUAL`` that starts at a
        constant; the loop's entry values are the destination, the source and the count. The native
        engine records such a copy when it covers at least a descriptor and starts at the buffer.
        """
        if self._copies is None:
            self._copies = []
            for store in self._ops:
                if store.getOpcode() == STORE:
                    found = self._rep_copy(store)
                    if found is not None:
                        self._copies.append(found)
        call_at = op.getSeqnum().getTarget().getOffset()
        for at, dst, size, origin in self._copies:
            if at < call_at and dst == offset and size >= DESCRIPTOR_SIZE:
                return origin
        return None

    def _rep_copy(self, store: Any) -> Optional[tuple[int, int, int, Value]]:
        at = store.getSeqnum().getTarget()
        value = store.getInput(2)
        load = value.getDef() if value is not None else None
        if load is None or load.getOpcode() != LOAD:
            return None
        dst = self._loop_entry(store.getInput(1), at)
        src = self._loop_entry(load.getInput(1), at)
        count = next((c for c in (self._loop_count(o, at) for o in self._ops_at(at)) if c is not None), None) \
            if self._ops_at is not None else None
        if dst is None or src is None or count is None:
            return None
        dsts, srcs = self.resolve(dst), self.resolve(src)
        if len(dsts) != 1 or len(srcs) != 1:
            return None
        (d,), (origin,) = dsts, srcs
        if not isinstance(d, StackAddr) or d.frame >= 0 or isinstance(origin, (Unknown, StackAddr)):
            return None
        return at.getOffset(), d.offset, count * value.getSize(), origin

    @staticmethod
    def _loop_entry(vn: Any, at: Any) -> Optional[Any]:
        """The value a pointer of a one-instruction loop at ``at`` enters the loop with."""
        phi = vn.getDef() if vn is not None else None
        if phi is None or phi.getOpcode() != MULTIEQUAL or phi.getSeqnum().getTarget() != at:
            return None
        entries = [phi.getInput(i) for i in range(phi.getNumInputs())]
        outside = [e for e in entries if e is not None and not _defined_at(e, at)]
        return outside[0] if len(outside) == 1 else None

    def _loop_count(self, phi: Any, at: Any) -> Optional[int]:
        """``rcx`` of ``rep movs``: a ``MULTIEQUAL`` at ``at`` entered with a constant, stepped by -1."""
        if phi.getOpcode() != MULTIEQUAL:
            return None
        entry = self._loop_entry(phi.getOutput(), at)
        if entry is None or not any(_is_decrement(phi.getInput(i), phi.getOutput())
                                    for i in range(phi.getNumInputs())):
            return None
        values = self.resolve(entry)
        if len(values) != 1:
            return None
        (n,) = values
        return n.value if isinstance(n, Const) and 0 < n.value <= 0x1000 else None

    def _bytes(self, vn: Any, size: int, depth: int) -> list[_Byte]:
        """The bytes of a varnode's value, where known: a constant, or a ``PIECE`` of known parts; a byte
        read from memory is (pointer, position in the read) -- the makings of a copy. Memoised per
        function (joins of joins would otherwise be walked once per path); a varnode met again on its
        own way in (a loop) has unknown bytes."""
        key = (vn, size)
        known = self._byte_memo.get(key)
        if known is not None:
            return known
        self._byte_memo[key] = [None] * size
        found = self._bytes_of(vn, size, depth)
        self._byte_memo[key] = found
        return found

    def _bytes_of(self, vn: Any, size: int, depth: int) -> list[_Byte]:
        piece = vn.getDef() if vn is not None and not vn.isConstant() and not vn.isAddress() else None
        if piece is not None and piece.getOpcode() == PIECE and depth < 16:
            low, high = piece.getInput(1), piece.getInput(0)
            if self._is_stack(high):
                # A byte written over a stack location (``d.Level = 2`` after ``d = *Descriptor``): the location's
                # other bytes stay, byte by byte (the value of a piece over a register is the written byte alone,
                # ``mov dl, 5``: see _binary).
                return (self._bytes(low, low.getSize(), depth + 1)
                        + self._bytes(high, high.getSize(), depth + 1))[:size]
        values = self.resolve(vn)
        if len(values) == 1:
            (only,) = values
            if isinstance(only, Const):
                return list((only.value & mask(size)).to_bytes(size, "little"))
        op = vn.getDef() if vn is not None and not vn.isConstant() and not vn.isAddress() else None
        if op is not None and depth < 16:
            code = op.getOpcode()
            if code == INDIRECT and self._is_stack(vn):
                filled = self._filled_bytes(op, vn)
                if filled is not None:
                    return (filled + [None] * size)[:size]
            if code in (COPY, CAST, INDIRECT):
                return self._bytes(op.getInput(0), size, depth + 1)
            if code == MULTIEQUAL:  # known only where every way in agrees
                ways = [self._bytes(op.getInput(i), size, depth + 1) for i in range(op.getNumInputs())
                        if not self._after_interrupt(op.getInput(i))]
                if ways and all(way == ways[0] for way in ways):
                    return ways[0]
                return [None] * size
            if code == PIECE:
                low, high = op.getInput(1), op.getInput(0)
                return (self._bytes(low, low.getSize(), depth + 1)
                        + self._bytes(high, high.getSize(), depth + 1))[:size]
            if code == SUBPIECE:
                src, shift = op.getInput(0), op.getInput(1)
                if src is not None and shift is not None and shift.isConstant():
                    start = shift.getOffset()
                    return (self._bytes(src, src.getSize(), depth + 1)[start : start + size]
                            + [None] * size)[:size]
            if code in (INT_LEFT, INT_OR):
                merged = self._merged(op, size, depth)
                if merged is not None:
                    return merged
            if code == LOAD and size >= 4:
                pointers = self.resolve(op.getInput(1))
                if len(pointers) == 1:
                    (pointer,) = pointers
                    if not isinstance(pointer, (Unknown, StackAddr)):
                        return [(pointer, k) for k in range(size)]
        if len(values) == 1 and isinstance(next(iter(values)), Param):  # a parameter stored whole
            return [_ParamByte(next(iter(values)), k) for k in range(size)]
        return [None] * size


    def _merged(self, op: Any, size: int, depth: int) -> Optional[list[_Byte]]:
        """The bytes of several stores the decompiler merged into one wider value (``ZEXT(dl:cl) << 16`` for a
        zeroed header whose Type and Level bytes come from the parameters): each part at its place, when every
        byte of every part is a constant or a parameter's (else None: a shifted or zero-extended value the
        native engine does not know either, such as ``movzx eax, byte [x]; shl eax, 24``)."""
        code = op.getOpcode()
        if code == INT_ZEXT:
            part = self._part(op.getInput(0), op.getInput(0).getSize(), depth)
            return None if part is None else (part + [0] * size)[:size]
        if code == INT_LEFT:
            amount = op.getInput(1)
            if amount is None or not amount.isConstant() or amount.getOffset() % 8 or amount.getOffset() >= 8 * size:
                return None
            part = self._part(op.getInput(0), size, depth)
            return None if part is None else ([0] * (amount.getOffset() // 8) + part)[:size]
        if code == INT_OR:
            left, right = self._part(op.getInput(0), size, depth), self._part(op.getInput(1), size, depth)
            if left is None or right is None:
                return None
            out: list[_Byte] = []
            for a, b in zip(left, right):
                if isinstance(a, int) and isinstance(b, int):
                    out.append(a | b)
                elif a == 0 or b == 0:
                    out.append(b if a == 0 else a)
                else:
                    return None
            return out
        return None

    def _part(self, vn: Any, size: int, depth: int) -> Optional[list[_Byte]]:
        """One part of a merged value (``_merged``): its bytes if each is a constant or a parameter's."""
        op = vn.getDef() if vn is not None and not vn.isConstant() and not vn.isAddress() else None
        if op is not None and op.getOpcode() in (INT_ZEXT, INT_LEFT, INT_OR) and depth < 16:
            return self._merged(op, size, depth + 1)
        found = self._bytes(vn, size, depth + 1)
        return found if all(isinstance(b, (int, _ParamByte)) for b in found) else None

class _Fill:
    """A frame block a memset-like call overwrites: ``size`` bytes at frame ``offset``, the first of them
    ``pattern`` (``model.fill_pattern``; None when the fill byte is unknown)."""

    __slots__ = ("offset", "size", "pattern")

    def __init__(self, offset: int, size: int, pattern: Optional[bytes]):
        self.offset = offset
        self.size = size
        self.pattern = pattern

    def bytes_at(self, start: int, width: int) -> list[_Byte]:
        """The bytes ``[start, start+width)`` of the block (None where the pattern does not say)."""
        known = self.pattern or b""
        return [known[k] if 0 <= k < len(known) else None for k in range(start, start + width)]


class _FrameFacts:
    """Facts of one decompiled function computed once (per-call questions would make big functions quadratic)."""

    __slots__ = ("written", "first_call", "calls_at_first", "rsp_defs", "rsp_addresses")

    def __init__(self) -> None:
        self.written: set[str] = set()
        self.first_call: Optional[int] = None
        self.calls_at_first = 0
        self.rsp_defs: dict[int, list[Any]] = {}
        self.rsp_addresses: list[int] = []


#: What one byte of a stack buffer is known to be: a constant, (pointer, position) it was loaded from, a byte of
#: one of the function's parameters (``_ParamByte``), or None.
_Byte = Optional[Any]


@dataclass(frozen=True)
class _ParamByte:
    """Byte ``index`` of a parameter's value, stored in a stack buffer (the makings of ``StackAddr.fields``)."""

    param: Param
    index: int


def _param_fields(facts: list[_Byte]) -> Optional[tuple[tuple[int, int, Value], ...]]:
    """``StackAddr.fields`` from a buffer's bytes: each run of the bytes 0, 1, ... of one parameter is the slot
    holding it, kept where ``model.parameter_field`` (the native engine's rule) keeps such a slot."""
    fields = []
    pos = 0
    while pos < len(facts):
        fact = facts[pos]
        if not isinstance(fact, _ParamByte) or fact.index != 0:
            pos += 1
            continue
        end = pos + 1
        while end < len(facts) and facts[end] == _ParamByte(fact.param, end - pos):
            end += 1
        found = parameter_field(pos, end - pos, frozenset((fact.param,)))
        if found is not None:
            fields.append(found)
        pos = end
    return tuple(fields) or None


def _split(pointer: Value) -> tuple[Value, int]:
    """A pointer as (base, displacement), so the pieces of one copy compare equal."""
    if isinstance(pointer, Offset):
        return pointer.base, pointer.delta
    if isinstance(pointer, Addr):
        return Addr(0), pointer.rva
    return pointer, 0


def _defined_at(vn: Any, at: Any) -> bool:
    """True if ``vn`` is computed inside the loop at ``at`` (through copies)."""
    for _ in range(8):
        op = vn.getDef() if vn is not None else None
        if op is None:
            return False
        if op.getSeqnum().getTarget() == at:
            return True
        if op.getOpcode() not in (COPY, CAST):
            return False
        vn = op.getInput(0)
    return False


def _is_decrement(vn: Any, phi_out: Any) -> bool:
    op = _def_through_copies(vn)
    if op is None or op.getOpcode() not in (INT_ADD, INT_SUB):
        return False
    step = op.getInput(1)
    if op.getInput(0) is not phi_out or step is None or not step.isConstant():
        return False
    size = step.getSize()
    return (op.getOpcode() == INT_ADD and step.getOffset() == mask(size)) or \
        (op.getOpcode() == INT_SUB and step.getOffset() == 1)


def _def_through_copies(vn: Any) -> Optional[Any]:
    """The op defining ``vn``, looking through ``COPY`` and ``CAST``."""
    for _ in range(8):
        op = vn.getDef() if vn is not None and not vn.isConstant() else None
        if op is None or op.getOpcode() not in (COPY, CAST):
            return op
        vn = op.getInput(0)
    return None


def _is_scaled_by_8(op: Optional[Any]) -> bool:
    if op is None:
        return False
    factor = op.getInput(1)
    if factor is None or not factor.isConstant():
        return False
    return (op.getOpcode() == INT_MULT and factor.getOffset() == 8) or \
        (op.getOpcode() == INT_LEFT and factor.getOffset() == 3)


def _root(vn: Any) -> Optional[Any]:
    """A table index without its copies and extensions: the varnode a compare guard tests."""
    for _ in range(8):
        op = vn.getDef() if vn is not None and not vn.isConstant() else None
        if op is None or op.getOpcode() not in (COPY, CAST, INT_ZEXT, INT_SEXT):
            return vn
        vn = op.getInput(0)
    return vn


def _block_key(block: Any) -> Any:
    """A basic block's identity: ``PcodeBlock.getIndex()`` (Java proxies are not stable Python objects)."""
    get_index = getattr(block, "getIndex", None)
    return get_index() if get_index is not None else id(block)


_BINARY = {INT_ADD, INT_SUB, PTRSUB, PTRADD, PIECE, INT_AND, INT_OR, INT_XOR, INT_MULT, INT_LEFT, INT_RIGHT,
           INT_SRIGHT}


def fill_call_args(high: Any, sites: dict[int, CallSite], translator: PcodeTranslator,
                   rva_of: Callable[[Any], int],
                   fills: Optional[Mapping[int, tuple[Optional[int], int]]] = None) -> int:
    """Fill ``args`` of the call sites (by instruction RVA) of one decompiled function; returns how many.

    ``high`` is a ``HighFunction``: ``getPcodeOps()`` iterates every op, ``getPcodeOps(address)`` the
    ops of one instruction. Sites without a ``CALL``/``CALLIND`` op (a tail jump the decompiler kept
    as a branch) stay unresolved. ``fills``: the function's memset-like calls (see ``PcodeTranslator.reset``).
    """
    def ops_at(address: Any) -> Iterable[Any]:
        return jiter(high.getPcodeOps(address))

    translator.reset(ops_at, jiter(high.getPcodeOps()), fills)

    filled = 0
    for op in jiter(high.getPcodeOps()):
        if op.getOpcode() not in (CALL, CALLIND):
            continue
        site = sites.get(rva_of(op.getSeqnum().getTarget()))
        if site is None or site.args is not None:
            continue
        site.args = translator.call_args(op, ops_at)
        filled += 1
    return filled
