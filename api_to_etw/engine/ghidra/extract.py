"""Turn Ghidra's view of a program into api-to-etw facts, in the native engine's value domain.

Everything here works on Ghidra objects through the few methods it calls, and imports nothing from
Ghidra, PyGhidra or JPype at module level (the only Java classes used, ``JArray``/``JByte`` for byte
buffers, are imported where memory is read). That keeps the translation logic importable and testable
without Ghidra: the tests drive :class:`PcodeTranslator` and :func:`fill_call_args` with fake p-code
objects that implement the same methods.

What comes from where
---------------------
* **Functions** -- ``program.getFunctionManager().getFunctions(True)``: entry RVA = entry address minus
  ``program.getImageBase()``; the body range holding the entry gives the size, the other body ranges
  are ``fragments``. Names come from the symbol table (the function's symbol when its source is not
  ``DEFAULT``), else the export name, else ``sub_<rva>`` as the native engine names them.
* **Exports, imports, entry point** -- read from the PE headers mapped in the program's memory (the
  loader maps them at the image base), parsed exactly as the native engine's pefile path does, so
  ``exported`` and the import slots agree with it. Where the headers cannot be read, Ghidra's
  external entry points (minus the image entry point, which Ghidra also marks) and its external
  references (IAT slot -> external function) stand in.
* **Call edges** -- every instruction of every function whose flow type is a call or a jump:
  direct targets from ``Instruction.getFlows()``, calls and jumps through an import slot from
  ``Instruction.getReferencesFrom()``. Targets are normalised like the native engine's: a call into
  the middle of a function belongs to that function, a jump is a tail call only to another
  function's entry.
* **Symbols** -- ``SymbolTable.getAllSymbols(False)`` (stored symbols, no dynamic names): labels and
  functions in memory whose source is ``IMPORTED`` (PDB, exports) or ``USER_DEFINED``; analysis-made
  names are left out, as the native engine only knows PDB and export names. Exports fill the gaps.
* **Memory** -- :class:`GhidraMemory` reads bytes through ``program.getMemory()``; a block's
  ``isWrite()`` decides whether loads from it fold to constants.
* **Call-site arguments** -- from the decompiler's p-code (``HighFunction``), see
  :class:`PcodeTranslator`.
"""

from __future__ import annotations

import logging
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ...errors import UnsupportedArchitectureError
from ...model import (
    UNKNOWN,
    Addr,
    CallSite,
    Const,
    Facts,
    Function,
    Load,
    Memory,
    Param,
    Reference,
    StackAddr,
    Value,
    ValueSet,
    add_offset,
    cap,
    make_load,
)

log = logging.getLogger(__name__)

# P-code opcodes, as numbered in ghidra.program.model.pcode.PcodeOp (stable across Ghidra releases).
COPY, LOAD, STORE = 1, 2, 3
BRANCH, CBRANCH, BRANCHIND, CALL, CALLIND, CALLOTHER, RETURN = 4, 5, 6, 7, 8, 9, 10
INT_ZEXT, INT_SEXT, INT_ADD, INT_SUB = 17, 18, 19, 20
INT_2COMP, INT_NEGATE, INT_XOR, INT_AND, INT_OR, INT_LEFT, INT_RIGHT, INT_SRIGHT, INT_MULT = (
    24, 25, 26, 27, 28, 29, 30, 31, 32)
MULTIEQUAL, INDIRECT, PIECE, SUBPIECE, CAST, PTRADD, PTRSUB = 60, 61, 62, 63, 64, 65, 66

#: Argument value sets recorded per call site, as the native engine does: rcx, rdx, r8, r9, 4 stack slots.
MAX_ARGS = 8
#: Bytes of a stack region attached to a stack address passed to a call (a descriptor is 16).
CONTENT_SIZE = 16
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
    * ``INT_ADD``/``INT_SUB``/``PTRSUB`` with a constant -> ``base + delta`` (``model.add_offset``):
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

    def reset(self, ops_at: Optional[Callable[[Any], Iterable[Any]]] = None) -> None:
        """Start a function: forget memoised values (varnodes belong to one decompilation).

        ``ops_at(address)`` gives the p-code ops of one instruction of the function being translated
        (``HighFunction.getPcodeOps(address)``); it is how an ``INDIRECT`` finds the call it guards.
        """
        self._memo: dict[Any, ValueSet] = {}
        self._active: dict[Any, int] = {}
        self._steps = 0
        self._ops_at = ops_at

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
            escaped, low = self._escapes(vn, op, depth)
            if escaped:
                return frozenset((Load(StackAddr(signed(vn.getOffset(), 8)), vn.getSize()),)), low
        if code in (COPY, CAST, INDIRECT):
            return self._resolve(op.getInput(0), depth + 1)
        if code == MULTIEQUAL:
            out: set[Value] = set()
            low = _NO_CYCLE
            for i in range(op.getNumInputs()):
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
            return frozenset(self._load(p, size) for p in pointers), low
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

    def _escapes(self, vn: Any, indirect: Any, depth: int) -> tuple[bool, int]:
        """True if the call an ``INDIRECT`` guards received this stack location's address in rcx..r9.

        The callee may then have written the location (``EtwRegister(..., &handle)``), so its value
        after the call is ``Load(StackAddr(offset))``, as the native engine reads an escaped local.
        """
        if self._ops_at is None:
            return False, _NO_CYCLE
        target = indirect.getSeqnum().getTarget()
        offset = signed(vn.getOffset(), 8)
        low = _NO_CYCLE
        for op in self._ops_at(target):
            if op.getOpcode() not in (CALL, CALLIND):
                continue
            for slot in range(1, min(op.getNumInputs(), 1 + len(ARG_REGISTERS))):
                values, sub = self._resolve(op.getInput(slot), depth + 1)
                low = min(low, sub)
                if any(isinstance(v, StackAddr) and v.frame < 0 and v.offset == offset for v in values):
                    return True, low
        return False, low

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
                return self._sized(add_offset(a, signed(b.value, in_size)), size)
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
        the stack). Slots the decompiler passes nothing in are ``Unknown``. ``ops_at(address)`` gives
        the p-code ops of one instruction (``HighFunction.getPcodeOps(address)``).
        """
        count = op.getNumInputs()
        args: list[ValueSet] = []
        for slot in range(MAX_ARGS):
            values = self.resolve(op.getInput(slot + 1)) if slot + 1 < count else _UNK
            if any(isinstance(v, StackAddr) and v.frame < 0 and v.content is None for v in values):
                values = cap(self._snapshot(v, op, ops_at) for v in values)
            args.append(values)
        return tuple(args)

    def _snapshot(self, value: Value, op: Any, ops_at: Callable[[Any], Iterable[Any]]) -> Value:
        if not isinstance(value, StackAddr) or value.frame >= 0 or value.content is not None:
            return value
        content = self.stack_content(op, value.offset, ops_at)
        if all(b is None for b in content):
            return StackAddr(value.offset)
        return StackAddr(value.offset, tuple(content))

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
        content: list[Optional[int]] = [None] * size
        decided = [False] * size
        target = op.getSeqnum().getTarget()
        for other in ops_at(target):
            if other.getOpcode() != INDIRECT:
                continue
            out = other.getOutput()
            if out is not None and self._is_stack(out):
                self._place(content, decided, offset, out, self._bytes(other.getInput(0), out.getSize(), 0))
        block = op.getParent()
        ops = list(jiter(block.getIterator())) if block is not None else []
        position = next((i for i, other in enumerate(ops) if other is op or other == op), len(ops))
        seen = {_block_key(block)}
        for _ in range(MAX_PREDECESSOR_BLOCKS):
            for prior in reversed(ops[:position]):
                out = prior.getOutput()
                if out is not None and self._is_stack(out):
                    self._place(content, decided, offset, out, self._bytes(out, out.getSize(), 0))
            if all(decided) or block is None or block.getInSize() != 1:
                break
            block = block.getIn(0)
            if block is None or _block_key(block) in seen:
                break
            seen.add(_block_key(block))
            ops = list(jiter(block.getIterator()))
            position = len(ops)
        return content

    def _bytes(self, vn: Any, size: int, depth: int) -> list[Optional[int]]:
        """The bytes of a varnode's value, where known: a constant, or a ``PIECE`` of known parts."""
        values = self.resolve(vn)
        if len(values) == 1:
            (only,) = values
            if isinstance(only, Const):
                return list((only.value & mask(size)).to_bytes(size, "little"))
        op = vn.getDef() if vn is not None and not vn.isConstant() and not vn.isAddress() else None
        if op is not None and depth < 16:
            code = op.getOpcode()
            if code in (COPY, CAST, INDIRECT):
                return self._bytes(op.getInput(0), size, depth + 1)
            if code == PIECE:
                low = op.getInput(1)
                high = op.getInput(0)
                return (self._bytes(low, low.getSize(), depth + 1)
                        + self._bytes(high, high.getSize(), depth + 1))[:size]
        return [None] * size

    @staticmethod
    def _place(content: list[Optional[int]], decided: list[bool], offset: int, out: Any,
               raw: list[Optional[int]]) -> None:
        start = signed(out.getOffset(), 8)
        for k in range(out.getSize()):
            pos = start + k - offset
            if 0 <= pos < len(content) and not decided[pos]:
                decided[pos] = True
                content[pos] = raw[k] if k < len(raw) else None


def _block_key(block: Any) -> Any:
    """A basic block's identity: ``PcodeBlock.getIndex()`` (Java proxies are not stable Python objects)."""
    get_index = getattr(block, "getIndex", None)
    return get_index() if get_index is not None else id(block)


_BINARY = {INT_ADD, INT_SUB, PTRSUB, PTRADD, PIECE, INT_AND, INT_OR, INT_XOR, INT_MULT, INT_LEFT, INT_RIGHT,
           INT_SRIGHT}


def fill_call_args(high: Any, sites: dict[int, CallSite], translator: PcodeTranslator,
                   rva_of: Callable[[Any], int]) -> int:
    """Fill ``args`` of the call sites (by instruction RVA) of one decompiled function; returns how many.

    ``high`` is a ``HighFunction``: ``getPcodeOps()`` iterates every op, ``getPcodeOps(address)`` the
    ops of one instruction. Sites without a ``CALL``/``CALLIND`` op (a tail jump the decompiler kept
    as a branch) stay unresolved.
    """
    def ops_at(address: Any) -> Iterable[Any]:
        return jiter(high.getPcodeOps(address))

    translator.reset(ops_at)

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


# ------------------------------------------------------------------------------------------ PE headers
@dataclass
class PeDirectories:
    """What the native engine takes from pefile, parsed from the image as mapped (read by RVA)."""

    entry_point: int
    size_of_image: int
    exports: dict[int, list[str]] = field(default_factory=dict)
    #: IAT slot RVA -> "dll!name" ("dll!#ordinal" for imports by ordinal).
    imports: dict[int, str] = field(default_factory=dict)
    #: (rva, size, writable, executable) of each section, size = max(virtual size, raw size).
    sections: list[tuple[int, int, bool, bool]] = field(default_factory=list)


_SCN_CODE, _SCN_EXECUTE, _SCN_WRITE = 0x20, 0x20000000, 0x80000000


def _u16(data: bytes, off: int) -> int:
    return struct.unpack_from("<H", data, off)[0] if off + 2 <= len(data) else 0


def _u32(data: bytes, off: int) -> int:
    return struct.unpack_from("<I", data, off)[0] if off + 4 <= len(data) else 0


def _cstring(read: Callable[[int, int], bytes], rva: int, limit: int = 512) -> str:
    data = b""
    while len(data) < limit:
        chunk = read(rva + len(data), 64)
        if not chunk:
            break
        end = chunk.find(b"\0")
        if end >= 0:
            data += chunk[:end]
            break
        data += chunk
    return data[:limit].decode("ascii", "replace")


def read_pe_directories(read: Callable[[int, int], bytes]) -> Optional[PeDirectories]:
    """Entry point, exports and imports of a PE image mapped by RVA; None if there is no PE header.

    Mirrors the native engine: named exports that are not forwarders (and point into the image),
    imports by the import lookup table (the IAT when there is none), the IAT slot as the key.
    """
    dos = read(0, 0x40)
    if len(dos) < 0x40 or dos[:2] != b"MZ":
        return None
    lfanew = _u32(dos, 0x3C)
    head = read(lfanew, 24)
    if len(head) < 24 or head[:4] != b"PE\0\0":
        return None
    opt = read(lfanew + 24, _u16(head, 20))
    magic = _u16(opt, 0)
    if magic == 0x20B:
        thunk_size, dirs_at = 8, 112
    elif magic == 0x10B:
        thunk_size, dirs_at = 4, 96
    else:
        return None
    result = PeDirectories(entry_point=_u32(opt, 16), size_of_image=_u32(opt, 56))
    count = _u32(opt, dirs_at - 4)
    n_sections = min(_u16(head, 6), 96)
    table = read(lfanew + 24 + _u16(head, 20), 40 * n_sections)
    for i in range(len(table) // 40):
        vsize, vaddr, raw_size = _u32(table, 40 * i + 8), _u32(table, 40 * i + 12), _u32(table, 40 * i + 16)
        flags = _u32(table, 40 * i + 36)
        result.sections.append((vaddr, max(vsize, raw_size), bool(flags & _SCN_WRITE),
                                bool(flags & (_SCN_EXECUTE | _SCN_CODE))))

    def directory(index: int) -> tuple[int, int]:
        if index >= count:
            return 0, 0
        return _u32(opt, dirs_at + 8 * index), _u32(opt, dirs_at + 8 * index + 4)

    exp_rva, exp_size = directory(0)
    if exp_rva:
        exp = read(exp_rva, 40)
        n_funcs, n_names = min(_u32(exp, 20), 0x10000), min(_u32(exp, 24), 0x10000)
        funcs = read(_u32(exp, 28), 4 * n_funcs)
        names = read(_u32(exp, 32), 4 * n_names)
        ordinals = read(_u32(exp, 36), 2 * n_names)
        for i in range(n_names):
            ordinal = _u16(ordinals, 2 * i)
            if 4 * ordinal + 4 > len(funcs):
                continue
            address = _u32(funcs, 4 * ordinal)
            if not address or exp_rva <= address < exp_rva + exp_size or not read(address, 1):
                continue  # unused slot, a forwarder ("dll.name" string), or outside the image
            name = _cstring(read, _u32(names, 4 * i))
            if name:
                result.exports.setdefault(address, []).append(name)
    imp_rva, _imp_size = directory(1)
    if imp_rva:
        ordinal_flag = 1 << (8 * thunk_size - 1)
        for d in range(4096):
            desc = read(imp_rva + 20 * d, 20)
            if len(desc) < 20 or desc == b"\0" * 20:
                break
            lookup, name_rva, iat = _u32(desc, 0), _u32(desc, 12), _u32(desc, 16)
            dll = _cstring(read, name_rva) if name_rva else "?"
            table = lookup or iat
            for i in range(0x10000):
                raw = read(table + thunk_size * i, thunk_size)
                if len(raw) < thunk_size:
                    break
                entry = int.from_bytes(raw, "little")
                if not entry:
                    break
                if entry & ordinal_flag:
                    label = f"#{entry & 0xFFFF}"
                else:
                    label = _cstring(read, (entry & 0x7FFFFFFF) + 2)
                result.imports[iat + thunk_size * i] = f"{dll}!{label}"
    return result


# ------------------------------------------------------------------------------------------ memory
class GhidraMemory(Memory):
    """The program's memory by RVA, with the native image's semantics.

    Bytes of uninitialised blocks read as zeros (as the loader maps ``.bss``); a read stops at the end
    of a section (blocks with the same name continue it), so callers see the short reads they see from
    the native image. Blocks are found with ``Memory.getBlock(Address)``; writability is
    ``MemoryBlock.isWrite()``.
    """

    def __init__(self, program: Any):
        self.program = program
        self._mem = program.getMemory()
        self._base = program.getImageBase()
        self.image_base = int(self._base.getOffset())

    def address(self, rva: int) -> Any:
        return self._base.add(rva)

    def read(self, rva: int, size: int) -> bytes:
        if size <= 0 or rva < 0:
            return b""
        out = bytearray()
        section = None
        while len(out) < size:
            try:
                addr = self.address(rva + len(out))
            except Exception:  # AddressOutOfBoundsException past the end of the space
                break
            block = self._mem.getBlock(addr)
            if block is None:
                break
            name = str(block.getName())
            if section is None:
                section = name
            elif name != section:
                break
            available = int(block.getEnd().getOffset()) - int(addr.getOffset()) + 1
            want = min(size - len(out), available)
            if block.isInitialized():
                chunk = read_java_bytes(self._mem, addr, want)
                out += chunk
                if len(chunk) < want:
                    break
            else:
                out += b"\0" * want
        return bytes(out)

    def is_writable(self, rva: int) -> bool:
        try:
            block = self._mem.getBlock(self.address(rva))
        except Exception:
            return True
        return block is None or bool(block.isWrite())

    def sections(self) -> list[tuple[int, int, bool, bool]]:
        """(rva, size, writable, executable) of each loaded block (when the PE section table is unreadable)."""
        out = []
        for block in jiter(self._mem.getBlocks()):
            if not block.isLoaded() or not block.getStart().isMemoryAddress():
                continue
            start = int(block.getStart().getOffset()) - self.image_base
            if start < 0:
                continue
            out.append((start, int(block.getSize()), bool(block.isWrite()), bool(block.isExecute())))
        return sorted(out)

    def data_ranges(self) -> list[tuple[int, int]]:
        """(rva, size) of the initialised, loaded, non-executable blocks: all the data the decoders may read."""
        out = []
        for block in jiter(self._mem.getBlocks()):
            if not block.isLoaded() or not block.isInitialized() or block.isExecute():
                continue
            start = int(block.getStart().getOffset()) - self.image_base
            if start >= 0:
                out.append((start, int(block.getSize())))
        return sorted(out)


def read_java_bytes(memory: Any, address: Any, size: int) -> bytes:
    """``size`` bytes at ``address`` through ``Memory.getBytes(Address, byte[])`` (short on an access error)."""
    from jpype import JArray, JByte

    buffer = JArray(JByte)(size)
    try:
        got = int(memory.getBytes(address, buffer))
    except Exception:  # MemoryAccessException: uninitialised or unmapped bytes
        return b""
    try:
        data = bytes(memoryview(buffer))
    except TypeError:
        data = bytes(b & 0xFF for b in buffer)
    return data[:got]


# ------------------------------------------------------------------------------------------ listing
def _source(symbol: Any) -> str:
    return str(symbol.getSource()).upper() if symbol is not None else "DEFAULT"


def register_namer(program: Any) -> Callable[[Any], Optional[str]]:
    """``varnode -> base register name`` through ``Program.getRegister(Varnode)``."""
    def name(vn: Any) -> Optional[str]:
        reg = program.getRegister(vn)
        if reg is None:
            return None
        base = reg.getBaseRegister()
        return str((base or reg).getName())
    return name


@dataclass
class ProgramFacts:
    """Facts extracted from a program, with what the engine needs to resolve arguments later."""

    facts: Facts
    memory: GhidraMemory
    #: caller entry RVA -> {instruction RVA: call site}
    sites_by_function: dict[int, dict[int, CallSite]]
    #: SizeOfImage (from the PE header, else the extent of the memory blocks).
    image_size: int
    #: entry RVA -> Ghidra Function, for the reference scan.
    bodies: dict[int, Any] = field(default_factory=dict)


def check_x64(program: Any) -> None:
    processor = str(program.getLanguage().getProcessor())
    pointer = int(program.getDefaultPointerSize())
    if processor.lower() != "x86" or pointer != 8:
        raise UnsupportedArchitectureError(
            f"{program.getName()}: {processor} {8 * pointer}-bit program; only x64 (AMD64) images are supported")


def extract_facts(program: Any, binary_name: Optional[str] = None) -> ProgramFacts:
    """Functions, call sites (arguments unresolved), symbols and memory of an analysed x64 PE program."""
    check_x64(program)
    gmem = GhidraMemory(program)
    base = gmem.image_base
    pe = read_pe_directories(gmem.read)
    sections = pe.sections if pe and pe.sections else gmem.sections()
    image_size = pe.size_of_image if pe and pe.size_of_image else max((s + n for s, n, _w, _x in sections), default=0)
    symtab = program.getSymbolTable()
    fm = program.getFunctionManager()
    listing = program.getListing()

    def rva(address: Any) -> int:
        return int(address.getOffset()) - base

    # Imports: IAT slot -> "dll!name", and external addresses -> slot (for references that skip the slot).
    imports: dict[int, str] = dict(pe.imports) if pe else {}
    external_slots: dict[int, int] = {}
    for ref in jiter(program.getReferenceManager().getExternalReferences()):
        source = ref.getFromAddress()
        if not source.isMemoryAddress() or listing.getInstructionContaining(source) is not None:
            continue
        slot = rva(source)
        external_slots[int(ref.getToAddress().getOffset())] = slot
        if not pe:
            location = ref.getExternalLocation()
            imports.setdefault(slot, f"{location.getLibraryName()}!{location.getLabel()}")

    exports: dict[int, list[str]] = dict(pe.exports) if pe else {}
    if not pe:
        # Ghidra marks exports and the image entry point (its "entry" label) as external entry points.
        for point in jiter(symtab.getExternalEntryPointIterator()):
            if not point.isMemoryAddress():
                continue
            sym = symtab.getPrimarySymbol(point)
            if sym is not None and str(sym.getName()) != "entry":
                exports.setdefault(rva(point), []).append(str(sym.getName()))

    functions: dict[int, Function] = {}
    bodies: dict[int, Any] = {}
    for func in jiter(fm.getFunctions(True)):
        if func.isExternal():
            continue
        entry = rva(func.getEntryPoint())
        size, fragments = 0, []
        for r in jiter(func.getBody().getAddressRanges()):
            start, end = rva(r.getMinAddress()), rva(r.getMaxAddress()) + 1
            if start <= entry < end:
                size = end - entry
                if start < entry:
                    fragments.append((start, entry))
            else:
                fragments.append((start, end))
        symbol = func.getSymbol()
        export_names = exports.get(entry)
        if _source(symbol) == "DEFAULT":
            name = export_names[0] if export_names else f"sub_{entry:x}"
        else:
            name = str(func.getName(True))
        functions[entry] = Function(entry, size, name, exported=entry in exports, fragments=sorted(fragments))
        bodies[entry] = func
    for slot, label in imports.items():
        if slot not in functions:
            functions[slot] = Function(slot, 0, label.split("!", 1)[-1], imported=True)

    calls, sites_by_function = _call_sites(program, functions, bodies, imports, external_slots, rva)

    symbols: dict[int, str] = {}
    for sym in jiter(symtab.getAllSymbols(False)):
        address = sym.getAddress()
        if sym.isExternal() or not address.isMemoryAddress():
            continue
        if _source(sym) not in ("IMPORTED", "USER_DEFINED"):
            continue
        if str(sym.getSymbolType()).upper() not in ("LABEL", "FUNCTION", "CODE"):
            continue
        where = rva(address)
        if where < 0:
            continue
        name = str(sym.getName(True))
        if sym.isPrimary():
            symbols[where] = name
        else:
            symbols.setdefault(where, name)
    for where, names in exports.items():
        symbols.setdefault(where, names[0])

    options = program.getOptions("Program Information")
    has_pdb = bool(options.getBoolean("PDB Loaded", False))
    facts = Facts(
        binary_name=binary_name or str(program.getName()),
        image_base=base,
        functions=functions,
        calls=calls,
        symbols=symbols,
        memory=gmem,
        has_pdb=has_pdb,
        machine="x64",
        sections=sections,
        entry_point=pe.entry_point if pe and pe.entry_point in functions else None,
    )
    log.info("%d functions, %d call sites, %d symbols, image %#x bytes", len(functions), len(calls), len(symbols),
             image_size)
    return ProgramFacts(facts, gmem, sites_by_function, image_size, bodies)


def base_address(program: Any, rva: int) -> Any:
    return program.getImageBase().add(rva)


def _call_sites(program: Any, functions: dict[int, Function], bodies: dict[int, Any], imports: dict[int, str],
                external_slots: dict[int, int], rva: Callable[[Any], int]
                ) -> tuple[list[CallSite], dict[int, dict[int, CallSite]]]:
    """Direct calls, tail jumps and calls through import slots, normalised as the native engine does."""
    fm = program.getFunctionManager()
    listing = program.getListing()
    calls: list[CallSite] = []
    by_function: dict[int, dict[int, CallSite]] = {}

    def import_slot(instr: Any) -> Optional[int]:
        for ref in jiter(instr.getReferencesFrom()):
            to = ref.getToAddress()
            if to.isMemoryAddress():
                slot = rva(to)
                if slot in imports:
                    return slot
            elif to.isExternalAddress():
                slot = external_slots.get(int(to.getOffset()))
                if slot is not None:
                    return slot
        return None

    for entry, func in bodies.items():
        body = func.getBody()
        for instr in jiter(listing.getInstructions(body, True)):
            flow = instr.getFlowType()
            if not (flow.isCall() or flow.isJump()):
                continue
            at = rva(instr.getAddress())
            tail = str(instr.getMnemonicString()).upper().startswith("J")
            targets: list[int] = []
            if not flow.isComputed():
                for target in jiter(instr.getFlows()):
                    if target.isMemoryAddress() and not (tail and body.contains(target)):
                        targets.append(rva(target))
            if not targets:
                slot = import_slot(instr)
                if slot is not None:
                    targets.append(slot)
            for target in targets:
                if target in functions:
                    callee = target
                elif tail:
                    continue  # a jump into another function's middle is shared code, not a call
                else:
                    owner = fm.getFunctionContaining(base_address(program, target))
                    if owner is None or owner.isExternal():
                        continue
                    callee = rva(owner.getEntryPoint())
                    if callee not in functions:
                        continue
                if tail and callee == entry:
                    continue
                site = CallSite(entry, at, callee, tail)
                calls.append(site)
                by_function.setdefault(entry, {})[at] = site
    calls.sort(key=lambda s: (s.rva, s.callee))
    return calls, by_function


def lea_target(rva: int, code: bytes) -> Optional[int]:
    """The target of ``lea r64, [rip+disp32]`` (REX.W 8D, ModRM mod=00 rm=101) at ``rva``, else None."""
    if len(code) >= 7 and code[0] in (0x48, 0x4C) and code[1] == 0x8D and code[2] & 0xC7 == 0x05:
        return rva + 7 + int.from_bytes(code[3:7], "little", signed=True)
    return None


def scan_references(program: Any, bodies: dict[int, Any]) -> list[Reference]:
    """Every RIP-relative ``lea`` in each function: the data addresses code takes, as the native engine
    finds them (same instruction pattern, decoded from ``Instruction.getBytes()``), with the function."""
    base = int(program.getImageBase().getOffset())
    listing = program.getListing()
    refs: list[Reference] = []
    for entry, func in bodies.items():
        for instr in jiter(listing.getInstructions(func.getBody(), True)):
            if str(instr.getMnemonicString()).upper() != "LEA":
                continue
            at = int(instr.getAddress().getOffset()) - base
            target = lea_target(at, bytes(b & 0xFF for b in instr.getBytes()))
            if target is not None:
                refs.append(Reference(at, entry, target))
    refs.sort(key=lambda r: r.rva)
    return refs


# ------------------------------------------------------------------------------------------ decompiler
class Decompiler:
    """One ``DecompInterface`` for a program: ``decompileFunction`` -> ``HighFunction`` (or None)."""

    def __init__(self, program: Any, timeout: int = 60):
        self.program = program
        self.timeout = timeout
        self._ifc: Any = None
        self.failures = 0

    def _open(self) -> Any:
        from ghidra.app.decompiler import DecompileOptions, DecompInterface

        ifc = DecompInterface()
        options = DecompileOptions()
        options.grabFromProgram(self.program)
        ifc.setOptions(options)
        ifc.toggleCCode(False)
        ifc.toggleSyntaxTree(True)
        ifc.setSimplificationStyle("decompile")
        if not ifc.openProgram(self.program):
            message = ifc.getLastMessage()
            ifc.dispose()
            raise RuntimeError(f"the Ghidra decompiler did not start: {message}")
        return ifc

    def high_function(self, func: Any) -> Any:
        from ghidra.util.task import TaskMonitor

        if self._ifc is None:
            self._ifc = self._open()
        result = self._ifc.decompileFunction(func, self.timeout, TaskMonitor.DUMMY)
        if result is None or not result.decompileCompleted():
            self.failures += 1
            reason = result.getErrorMessage() if result is not None else "no result"
            log.warning("decompiling %s failed: %s", func.getName(), str(reason).strip().splitlines()[:1])
            return None
        return result.getHighFunction()

    def close(self) -> None:
        if self._ifc is not None:
            self._ifc.dispose()
            self._ifc = None
