"""Value-set data flow over one function's machine code: what each call receives in its arguments.

A forward analysis over basic blocks tracks, for every general-purpose and vector register and every
stack slot, the set of symbolic values (see ``api_to_etw.model``) it may hold. Joins take the union, so
a ``cmov`` or an if/else that picks one of two descriptors yields both. Stack slots are addressed
relative to the stack pointer at entry, which makes incoming stack parameters (``Param(4+)``), spilled
locals and descriptors built field by field on the stack all visible. The analysis is deliberately
small: instructions it does not model make their destination unknown, never wrong.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Callable, Optional, TypeVar, cast

from iced_x86 import (
    Decoder,
    DecoderOptions,
    FlowControl,
    Instruction,
    MemorySize,
    MemorySizeExt,
    Mnemonic,
    OpKind,
    Register,
    RegisterExt,
)

if TYPE_CHECKING:  # iced_x86's module ``Register`` holds the constants; the stub's enum is the type
    from iced_x86._iced_x86_py import MemorySize as MemorySizeId
    from iced_x86._iced_x86_py import Register as RegisterId

from ...model import (
    FILL_ARGUMENTS,
    HEADER_BYTES,
    MAX_BLOCK,
    MAX_VALUES,
    UNKNOWN,
    Addr,
    CallSite,
    Const,
    Import,
    Load,
    Memory,
    Param,
    StackAddr,
    Store,
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

ARG_REGS = (Register.RCX, Register.RDX, Register.R8, Register.R9)
#: How many arguments a call site records: four in registers, four on the stack.
MAX_ARGS = 8
VOLATILE = (Register.RAX, Register.RCX, Register.RDX, Register.R8, Register.R9, Register.R10, Register.R11) + tuple(
    RegisterExt.full_register(r) for r in (Register.XMM0, Register.XMM1, Register.XMM2, Register.XMM3,
                                           Register.XMM4, Register.XMM5)
)
RSP = Register.RSP
_RAX, _RCX, _RDX, _R8, _R9 = Register.RAX, Register.RCX, Register.RDX, Register.R8, Register.R9
_INDIRECT_CALL = FlowControl.INDIRECT_CALL
_NEXT, _CALL, _COND, _JUMP = FlowControl.NEXT, FlowControl.CALL, FlowControl.CONDITIONAL_BRANCH, FlowControl.UNCONDITIONAL_BRANCH
_RETURN = FlowControl.RETURN
_BLOCK_ENDS = frozenset((FlowControl.RETURN, FlowControl.INDIRECT_BRANCH, FlowControl.INTERRUPT, FlowControl.EXCEPTION))
_UNK: ValueSet = frozenset((UNKNOWN,))
_ZERO: ValueSet = frozenset((Const(0),))
#: A frame slot of 8 unknown bytes (a pushed callee-saved register): one tuple for every such slot.
_UNKNOWN_QWORD = (8, _UNK)
#: What a call leaves in the volatile registers (one dict update instead of a store per register).
_VOLATILE_UNKNOWN: dict[RegisterId, ValueSet] = dict.fromkeys(VOLATILE, _UNK)
#: The stack arguments of a call with no frame to read them from; every argument of a call, nothing known.
_NO_STACK_ARGS: tuple[ValueSet, ...] = (_UNK,) * (MAX_ARGS - 4)
_NO_ARGS: tuple[ValueSet, ...] = (_UNK,) * MAX_ARGS
_NO_SITES: frozenset[int] = frozenset()
#: No memset-like call sites (``start`` points a flow at a function without any): one read-only map for all.
_NO_FILLS: dict[int, tuple[Optional[RegisterId], RegisterId]] = {}
_NO_OPTIONS = DecoderOptions.NONE
MAX_BLOCK_VISITS = 8
MASKS = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF, 8: 0xFFFFFFFFFFFFFFFF, 16: (1 << 128) - 1}
#: Bytes of a stack buffer captured when its address is passed to a call (only the known prefix beyond 16 is kept).
SNAPSHOT_BYTES = HEADER_BYTES
#: Bytes of a stack buffer whose image addresses (``refs``) are captured: configuration structures passed
#: to registration APIs hold their callbacks up to 0x90 bytes in (WDF_PNPPOWER_EVENT_CALLBACKS).
REF_BYTES = 0x100
#: Longest lookup table of pointers followed when its index has no known bound.
MAX_TABLE = 16

_NO_WRITE = {
    Mnemonic.CMP, Mnemonic.TEST, Mnemonic.BT, Mnemonic.NOP, Mnemonic.UCOMISS, Mnemonic.UCOMISD,
    Mnemonic.COMISS, Mnemonic.COMISD, Mnemonic.PTEST, Mnemonic.PREFETCHW, Mnemonic.PREFETCHNTA,
    Mnemonic.PREFETCHT0, Mnemonic.PREFETCHT1, Mnemonic.PREFETCHT2, Mnemonic.CLFLUSH, Mnemonic.INT3,
    Mnemonic.LFENCE, Mnemonic.MFENCE, Mnemonic.SFENCE, Mnemonic.PAUSE,
}
#: Registers some instructions write without naming them as operands.
_IMPLICIT = {
    Mnemonic.MUL: (Register.RAX, Register.RDX), Mnemonic.IMUL: (Register.RAX, Register.RDX),
    Mnemonic.DIV: (Register.RAX, Register.RDX), Mnemonic.IDIV: (Register.RAX, Register.RDX),
    Mnemonic.CQO: (Register.RDX,), Mnemonic.CDQ: (Register.RDX,), Mnemonic.CWD: (Register.RDX,),
    Mnemonic.CDQE: (Register.RAX,), Mnemonic.CWDE: (Register.RAX,), Mnemonic.CBW: (Register.RAX,),
    Mnemonic.RDTSC: (Register.RAX, Register.RDX), Mnemonic.RDTSCP: (Register.RAX, Register.RDX, Register.RCX),
    Mnemonic.CPUID: (Register.RAX, Register.RBX, Register.RCX, Register.RDX),
    Mnemonic.RDMSR: (Register.RAX, Register.RDX), Mnemonic.XGETBV: (Register.RAX, Register.RDX),
    Mnemonic.MOVSB: (Register.RSI, Register.RDI, Register.RCX), Mnemonic.MOVSQ: (Register.RSI, Register.RDI, Register.RCX),
    Mnemonic.MOVSD: (Register.RSI, Register.RDI, Register.RCX), Mnemonic.MOVSW: (Register.RSI, Register.RDI, Register.RCX),
    Mnemonic.STOSB: (Register.RDI, Register.RCX), Mnemonic.STOSQ: (Register.RDI, Register.RCX),
    Mnemonic.STOSD: (Register.RDI, Register.RCX), Mnemonic.STOSW: (Register.RDI, Register.RCX),
    Mnemonic.CMPXCHG: (Register.RAX,), Mnemonic.SYSCALL: (Register.RAX, Register.RCX, Register.R11),
}
#: ``rep movs`` element sizes (struct copies by value).
_REP_COPIES: dict[int, int] = {Mnemonic.MOVSB: 1, Mnemonic.MOVSW: 2, Mnemonic.MOVSD: 4, Mnemonic.MOVSQ: 8}
#: ``rep stos`` element sizes (a buffer filled with AL/AX/EAX/RAX: the inline memset).
_REP_FILLS: dict[int, int] = {Mnemonic.STOSB: 1, Mnemonic.STOSW: 2, Mnemonic.STOSD: 4, Mnemonic.STOSQ: 8}
#: Functions that fill a buffer with one byte (``model.FILL_ARGUMENTS``): name -> (register of the fill byte,
#: None for zero; register of the byte count); the destination is RCX.
FILL_FUNCTIONS: dict[str, tuple[Optional[RegisterId], RegisterId]] = {
    name: (None if fill is None else ARG_REGS[fill], ARG_REGS[count]) for name, (fill, count) in FILL_ARGUMENTS.items()
}
_ONE_OPERAND_MULDIV = {Mnemonic.MUL, Mnemonic.IMUL, Mnemonic.DIV, Mnemonic.IDIV}
#: AH, BH, CH, DH: bits 8..15 of their register.
_HIGH_BYTE = {Register.AH, Register.BH, Register.CH, Register.DH}
_STRING = {Mnemonic.MOVSB, Mnemonic.MOVSW, Mnemonic.MOVSD, Mnemonic.MOVSQ, Mnemonic.STOSB, Mnemonic.STOSW,
           Mnemonic.STOSD, Mnemonic.STOSQ}
_VEC_MOVES = {
    Mnemonic.MOVUPS, Mnemonic.MOVAPS, Mnemonic.MOVDQU, Mnemonic.MOVDQA, Mnemonic.MOVUPD, Mnemonic.MOVAPD,
    Mnemonic.VMOVUPS, Mnemonic.VMOVAPS, Mnemonic.VMOVDQU, Mnemonic.VMOVDQA, Mnemonic.LDDQU,
}
_VEC_ZERO = {Mnemonic.XORPS, Mnemonic.PXOR, Mnemonic.XORPD, Mnemonic.VXORPS, Mnemonic.VPXOR}
_CMOV = {
    Mnemonic.CMOVA, Mnemonic.CMOVAE, Mnemonic.CMOVB, Mnemonic.CMOVBE, Mnemonic.CMOVE, Mnemonic.CMOVG,
    Mnemonic.CMOVGE, Mnemonic.CMOVL, Mnemonic.CMOVLE, Mnemonic.CMOVNE, Mnemonic.CMOVNO, Mnemonic.CMOVNP,
    Mnemonic.CMOVNS, Mnemonic.CMOVO, Mnemonic.CMOVP, Mnemonic.CMOVS,
}
_ARITH = {Mnemonic.AND, Mnemonic.OR, Mnemonic.XOR, Mnemonic.SHL, Mnemonic.SHR, Mnemonic.ADD, Mnemonic.SUB}
_ADD, _SUB, _AND, _XOR = Mnemonic.ADD, Mnemonic.SUB, Mnemonic.AND, Mnemonic.XOR
_MOV, _PUSH, _POP, _LEA = Mnemonic.MOV, Mnemonic.PUSH, Mnemonic.POP, Mnemonic.LEA
_REG_KIND = OpKind.REGISTER
_MEM_KIND = OpKind.MEMORY
_IMM_KINDS = {OpKind.IMMEDIATE8, OpKind.IMMEDIATE16, OpKind.IMMEDIATE32, OpKind.IMMEDIATE64,
              OpKind.IMMEDIATE8TO16, OpKind.IMMEDIATE8TO32, OpKind.IMMEDIATE8TO64, OpKind.IMMEDIATE32TO64}
#: Full register of every iced-x86 register id (a tuple index is cheaper than a call per operand).
_FULL: tuple[RegisterId, ...] = tuple(
    RegisterExt.full_register(cast("RegisterId", r)) for r in range(max(v for k, v in vars(Register).items() if k.isupper()) + 1))


#: Size in bytes, and whether it is a general-purpose register, of every register id.
_SIZE: tuple[int, ...] = tuple(RegisterExt.size(cast("RegisterId", r)) for r in range(len(_FULL)))
_GPR: tuple[bool, ...] = tuple(RegisterExt.is_gpr(cast("RegisterId", r)) for r in range(len(_FULL)))
#: Bytes a memory operand of each iced-x86 memory size reads or writes, 8 where the size is not fixed.
_MEM_SIZE: tuple[int, ...] = tuple(
    MemorySizeExt.size(cast("MemorySizeId", m)) or 8
    for m in range(max(v for k, v in vars(MemorySize).items() if k.isupper()) + 1))


#: How a register operand is read and written, per register id (one table look-up instead of four tests per
#: operand): 0 the full register as is (a 64-bit GPR, a vector or other register), 1 the stack pointer (RSP, ESP,
#: SP, SPL), 2 AH..DH (bits 8..15), 3 a 32-bit GPR (truncated; the write zero-extends), 4 an 8- or 16-bit GPR
#: (truncated; the write keeps the other bits).
_PLAIN, _STACK_POINTER, _HIGH, _DWORD, _NARROW = 0, 1, 2, 3, 4
_HIGH_BYTE_IDS = frozenset((Register.AH, Register.BH, Register.CH, Register.DH))
_SHAPE: tuple[int, ...] = tuple(
    _STACK_POINTER if _FULL[r] == RSP else _HIGH if r in _HIGH_BYTE_IDS else
    (_DWORD if _SIZE[r] == 4 else _NARROW) if _SIZE[r] < 8 and _GPR[r] else _PLAIN
    for r in range(len(_FULL)))
_NO_REGISTER = Register.NONE
#: Instruction getters ``map`` applies in C (the driver's set-up reads them for every instruction).
_IP = attrgetter("ip")
_FLOW_CONTROL = attrgetter("flow_control")
_INDIRECT_BRANCH = FlowControl.INDIRECT_BRANCH
#: Flow control -> 1 where it makes a block leader (a branch's target, or the instruction after a branch or an
#: end), else 0: ``bytes.translate`` marks them and ``find`` visits the marks (a regex costs more per call).
_LEADING = bytes(int(fc in _BLOCK_ENDS or fc == _COND or fc == _JUMP) for fc in range(256))
_FS_GS = (Register.GS, Register.FS)
_WRAP = 1 << 64
#: ``State.low`` of a frame with no slot: above every offset.
_NO_SLOT = 1 << 64
_M64 = _WRAP - 1


def _full(reg: RegisterId) -> RegisterId:
    return _FULL[reg]


#: Registers at a function's entry: the four register parameters (values are immutable, so shared).
_ENTRY_REGS: dict[RegisterId, ValueSet] = {reg: frozenset((Param(i),)) for i, reg in enumerate(ARG_REGS)}


#: A state without ``__init__`` (``State.entry`` and ``copy`` fill its slots).
_new_state = object.__new__


class State:
    """Registers and stack slots at one program point."""

    __slots__ = ("regs", "stack", "rsp", "escaped", "copies", "low")

    def __init__(self, regs: dict[RegisterId, ValueSet], stack: dict[int, tuple[int, ValueSet]], rsp: Optional[int],
                 escaped: Optional[set[int]] = None, copies: Optional[dict[int, tuple[int, Value]]] = None,
                 low: Optional[int] = None):
        self.regs = regs
        self.stack = stack
        self.rsp = rsp
        #: At most the lowest offset of ``stack`` (``_NO_SLOT`` when it has never held one): tests of whether a
        #: store lies below every slot read it instead of ``min(stack)`` (89K calls at 1x, a pass over the slots
        #: each). Slots removed leave it low, which only sends a store down the path that looks for overlaps.
        self.low = (min(stack) if stack else _NO_SLOT) if low is None else low
        #: Stack offsets whose address was passed to a call: the callee may have written there.
        self.escaped = escaped if escaped is not None else set()
        #: Stack offset -> (size, address copied from): by-value copies, kept when later bytes patch them.
        self.copies = copies if copies is not None else {}

    @classmethod
    def entry(cls) -> State:
        """The state at a function's entry (built slot by slot, as ``copy``: the call of ``__init__`` with its
        defaults cost about 2K machine instructions a state, 30K states at 1x)."""
        state = _new_state(cls)
        state.regs = dict(_ENTRY_REGS)
        state.stack = {}
        state.rsp = 0
        state.low = _NO_SLOT
        state.escaped = set()
        state.copies = {}
        return state

    def copy(self) -> State:
        state = _new_state(State)
        state.regs = self.regs.copy()
        state.stack = self.stack.copy()
        state.rsp = self.rsp
        state.low = self.low
        state.escaped = self.escaped.copy()
        state.copies = self.copies.copy()
        return state

    def join(self, other: State) -> bool:
        """Merge ``other`` into self; True if anything changed."""
        changed = False
        regs, their_regs = self.regs, other.regs
        if regs != their_regs:
            # Only a register whose value set is not the very same object on both sides can change.
            mine_of = regs.get
            todo = [reg for reg, values in their_regs.items() if mine_of(reg) is not values]
            todo.extend(reg for reg in regs if reg not in their_regs)
            for reg in todo:
                mine = regs.get(reg, _UNK)
                theirs = their_regs.get(reg, _UNK)
                if not theirs <= mine:
                    regs[reg] = cap(mine | theirs)
                    changed = True
        stack, their_stack = self.stack, other.stack
        if stack != their_stack:
            if other.low < self.low:  # slots of the other side may be added below this side's
                self.low = other.low
            slot_of = stack.get
            differ = [off for off, slot in their_stack.items() if slot_of(off) is not slot]
            differ.extend(stack.keys() - their_stack.keys())
            # Slots new to this side are added in the order of the walk over both sides' offsets (the order
            # later reads of overlapping slots see); with none new, the order of the walk does not matter.
            if not their_stack.keys() <= stack.keys():
                wanted = set(differ)
                differ = [off for off in set(stack) | set(their_stack) if off in wanted]
            for off in differ:
                my_slot = stack.get(off)
                their_slot = their_stack.get(off)
                if my_slot == their_slot:
                    continue
                if my_slot is None or their_slot is None or my_slot[0] != their_slot[0]:
                    size, values = my_slot or their_slot or (0, _UNK)  # one side is set (the two differ)
                    merged = (size, cap(values | _UNK))
                else:
                    merged = (my_slot[0], cap(my_slot[1] | their_slot[1]))
                if merged != my_slot:
                    stack[off] = merged
                    changed = True
        if other.escaped and not other.escaped <= self.escaped:
            self.escaped |= other.escaped
            changed = True
        if self.copies:
            for off in [o for o, copy in self.copies.items() if other.copies.get(o) != copy]:
                del self.copies[off]
                changed = True
        if self.rsp != other.rsp and self.rsp is not None:
            # Frames that disagree on the stack pointer (alloca): stop trusting stack offsets.
            self.rsp = None
            changed = True
        return changed


class FunctionDataflow:
    """Runs the analysis for one function and records argument values at each call site."""

    def __init__(self, memory: Memory, image_base: int, image_size: int, sites: dict[int, CallSite],
                 function: int = -1, call_results: Optional[dict[int, ValueSet]] = None,
                 copy_calls: Collection[int] = (), codecs: Collection[int] = (), dispatch: Collection[int] = (),
                 record_targets: bool = False,
                 fill_calls: Optional[Mapping[int, tuple[Optional[RegisterId], RegisterId]]] = None,
                 checks: Collection[int] = (), asked: Optional[Mapping[int, Collection[int]]] = None,
                 read_only: Optional[dict[int, bool]] = None):
        self.memory = memory
        #: (start, end, bytes) of code the functions' bytes may be sliced from instead of ``memory.read`` (which
        #: finds the section and copies through the map: about 7K machine instructions a function); the owner
        #: sets these only where a read of ``[a, b)`` inside one of them gives those bytes.
        self.code_views: Sequence[tuple[int, int, memoryview]] = ()
        self.image_base = image_base
        self.image_size = image_size
        self.sites = sites
        self.function = function
        #: What RAX holds after particular calls (``GetProcAddress(m, "EventWrite")`` -> Import).
        self.call_results = call_results or {}
        #: Call sites of memcpy-like functions (dst, src, byte count in rcx, rdx, r8): block copies.
        self.copy_calls = frozenset(copy_calls)
        #: Call sites of memset-like functions -> (fill byte register or None for zero, byte count register).
        self.fill_calls = fill_calls or {}
        #: Callees (entry RVAs, IAT slots) that return their first argument encoded or decoded
        #: (EncodePointer, DecodePointer, ``x ^ secret``): a function pointer keeps its identity through them.
        self.codecs = codecs
        #: Pointer slots whose callee jumps to RAX (the CFG ``__guard_dispatch_icall_fptr``).
        self.dispatch = dispatch
        #: Pointer slots whose callee only checks the target in RCX (the CFG ``__guard_check_icall_fptr``):
        #: a call through one keeps the argument registers and RAX for the call that follows.
        self.checks = checks
        #: Call site -> the argument indices wanted there (None: every argument of every site of ``sites``).
        #: The other sites get no values, the other arguments of a wanted site UNKNOWN, and code that can change
        #: neither a wanted argument nor a store is not run (``_slice``).
        self.asked = asked
        #: Indirect call RVA -> (values of the called address, whether they came out of a codec call),
        #: when ``record_targets`` is set.
        self.targets: Optional[dict[int, tuple[ValueSet, bool]]] = {} if record_targets else None
        #: Values some codec call of this function returned (a decoded pointer is one of them).
        self.decoded: set[Value] = set()
        #: The recorded targets that are tail jumps.
        self.tail_targets: set[int] = set()
        #: Image page -> whether it is read-only (``read_only``: one cache shared by the flows over an image).
        self._ro_cache: dict[int, bool] = {} if read_only is None else read_only
        #: A prepared global load (``_OP_GLOBAL``) -> what it reads (``_global_load``: the image does not change
        #: under the flow, and the operation is the same object for every instruction equal to it).
        self._loaded: dict[_Op, ValueSet] = {}
        self._stores: dict[tuple[int, Value], set[Value]] = {}
        #: Successor -> the state on that edge when a branch refines it (a bounds check).
        self._edge_states: dict[int, State] = {}
        #: Register writes of ``mov`` and ``lea`` may skip ``_write`` (a subclass that watches writes overrides it).
        self._own_writes = type(self)._write is FunctionDataflow._write
        #: Call site -> its argument values, when the flow answers in a map of its own (``start``) instead of
        #: filling the sites' ``args``.
        self.found: Optional[dict[int, tuple[ValueSet, ...]]] = None

    def start(self, sites: dict[int, CallSite], function: int, asked: Optional[Mapping[int, Collection[int]]],
              copy_calls: Collection[int] = (), fill_calls: Optional[Mapping[int, tuple[Optional[RegisterId],
                                                                                    RegisterId]]] = None
              ) -> dict[int, tuple[ValueSet, ...]]:
        """Point this flow at another function of the same image, everything else kept (the engine's batches:
        building a flow, its twenty attributes from keyword arguments, cost about 20K machine instructions per
        function). Its sites are only read; the argument values go to the map returned (call site -> values),
        filled by ``run``, so the engine makes no working copies of the sites."""
        self.sites = sites
        self.function = function
        self.asked = asked
        self.copy_calls = frozenset(copy_calls) if copy_calls else _NO_SITES
        self.fill_calls = fill_calls or _NO_FILLS
        if self._stores:  # the last function's (``stores`` copied them out); an empty map serves again
            self._stores = {}
        if self.decoded:
            self.decoded = set()
        found: dict[int, tuple[ValueSet, ...]] = {}
        self.found = found
        return found

    def stores(self) -> list[Store]:
        """Stores to memory outside the frame seen while running (values joined over all visits)."""
        if not self._stores:
            return []
        return [Store(self.function, rva, addr, cap(values)) for (rva, addr), values in self._stores.items()]

    # ------------------------------------------------------------------ driver
    def run(self, pieces: Iterable[tuple[int, int]], landing_pads: Collection[int] = ()) -> None:
        """The data flow over the function's code from its entry, and from each landing pad (code only the
        unwinder enters: a ``__except`` block) with nothing known but the image.

        Most functions the analysis asks about are one block: their set-up reads each instruction's flow
        control once (in C, through ``map``), finds no leader, and runs the block once with no worklist."""
        instrs: list[Instruction] = []
        bounds = []
        for start, stop in pieces:
            code = self._code(start, stop)
            bounds.append((start, stop))
            instrs.extend(Decoder(64, code, _NO_OPTIONS, start))  # positional: keywords cost a tenth of a decode
        if not instrs:
            return
        entry = instrs[0].ip if len(bounds) > 1 else bounds[0][0]
        inside: Callable[[int], bool]
        if len(bounds) > 1:  # one piece decodes in address order already
            instrs.sort(key=_IP)
            bounds_seen = bounds

            def inside(rva: int) -> bool:
                return any(a <= rva < b for a, b in bounds_seen)
        else:
            inside = range(*bounds[0]).__contains__
        flows = bytes(map(_FLOW_CONTROL, instrs))
        loops = _one_block(instrs, flows, entry, inside) if len(bounds) == 1 and not landing_pads else None
        self._run_decoded(instrs, flows, code, entry, inside, len(bounds) == 1, landing_pads, loops)

    def run_piece(self, start: int, stop: int) -> None:
        """``run`` of a function that is one piece of code ``[start, stop)`` with no landing pad (at 1x all of the
        engine's 11,639): the same flow, without the set-up ``run`` makes for pieces and pads (about 1K machine
        instructions a function)."""
        code = self._code(start, stop)
        instrs = list(Decoder(64, code, _NO_OPTIONS, start))
        if not instrs:
            return
        inside = range(start, stop).__contains__
        flows = bytes(map(_FLOW_CONTROL, instrs))
        self._run_decoded(instrs, flows, code, start, inside, True, (), _one_block(instrs, flows, start, inside))

    def _code(self, start: int, stop: int) -> bytes:
        """The bytes of ``[start, stop)``: from the code view that holds them, else through the image's read."""
        for low, high, view in self.code_views:
            if low <= start and stop <= high:
                return view[start - low:stop - low].tobytes()
        return self.memory.read(start, stop - start)

    def _run_decoded(self, instrs: list[Instruction], flows: bytes, code: bytes, entry: int,
                     inside: Callable[[int], bool], one_piece: bool, landing_pads: Collection[int],
                     loops: Optional[bool]) -> None:
        """``run`` after the decode: ``instrs`` in address order with their flow controls, ``code`` the bytes of
        a function decoded as ``one_piece``, ``loops`` what ``_one_block`` said (None: maybe several blocks)."""
        self._orphans: list[int] = []
        sliced = self.asked is not None and self.targets is None
        if loops is not None:  # most functions: one block, no edges to follow
            block = instrs
            if sliced:
                last = self._last_needed(instrs, flows, 0, len(instrs))
                if last < 0:
                    return
                if not loops:
                    del instrs[last + 1:]
            if not loops:  # one visit from the entry state, nothing to join
                self._edge_states = {}
                self._run_entry(block, flows, code, State.entry(), inside)
                return
            blocks = {entry: (block, flows)}
            position = {entry: 0}
        else:
            spans = _spans(instrs, flows, entry, inside, landing_pads, one_piece)
            needed = self._needed(instrs, flows, spans) if sliced else None
            if needed is not None and len(spans) > 1 and one_piece and not landing_pads and (not needed or (
                    len(needed) == 1 and entry in needed and not any(
                        instrs[b - 1].near_branch_target == entry
                        for _a, b in spans.values() if flows[b - 1] == _COND or flows[b - 1] == _JUMP))):
                # Work in the entry block alone (at 1x, 1,150 of the 1,954 sliced functions of more than one
                # block), and no branch back to it: the slice keeps its part up to the last wanted instruction and
                # the worklist runs that once from the entry state, so it runs here without the graph.
                if needed:
                    self._edge_states = {}
                    self._run_entry(instrs[:needed[entry] + 1], flows, code, State.entry(), inside)
                return
            # Block -> the blocks control reaches from it (``_successors``, those that are blocks).
            successors: dict[int, Sequence[int]] = {}
            if len(spans) == 1:  # it reaches itself only through a jump back to the entry
                fc = flows[-1]
                loops = (fc == _COND or fc == _JUMP) and instrs[-1].near_branch_target == entry
                successors[entry] = (entry,) if loops else ()
                position = {entry: 0}
            else:
                sites = self.sites
                for ip, (_a, b) in spans.items():
                    successors[ip] = _successors(instrs[b - 1], flows[b - 1], inside, sites, ())
                # Blocks nothing branches or falls into are jump-table cases: successors of indirect jumps (the
                # successor rule without them).
                reached = {entry}
                for succs in successors.values():
                    reached.update(succs)
                orphans = self._orphans = [ip for ip in spans if ip not in reached]
                for ip, (_a, b) in spans.items():
                    if orphans and flows[b - 1] == _INDIRECT_BRANCH:
                        successors[ip] = _successors(instrs[b - 1], flows[b - 1], inside, sites, orphans)
                    successors[ip] = [succ for succ in successors[ip] if succ in spans]
                position = _reverse_postorder(successors, list(spans), entry)
            if needed is not None:
                spans = self._slice(spans, successors, needed)
            whole = (0, len(instrs))
            blocks = {ip: (instrs, flows) if span == whole else (instrs[span[0]:span[1]], flows[span[0]:span[1]])
                      for ip, span in spans.items()}

        states: dict[int, State] = {}
        visits: dict[int, int] = {}
        worklist: list[int] = []
        if entry in blocks:  # a sliced function may keep only code reached from a landing pad
            states[entry] = State.entry()
            worklist.append(entry)
        queued = set(worklist)
        for pad in landing_pads:
            if pad in blocks and pad not in states:
                states[pad] = State({}, {}, None)
                worklist.append(pad)
                queued.add(pad)
        while worklist:
            worklist.sort(key=position.__getitem__, reverse=True)
            ip = worklist.pop()
            queued.discard(ip)
            visits[ip] = visits.get(ip, 0) + 1
            state = states[ip].copy()
            block, block_flows = blocks[ip]
            self._edge_states = {}
            if ip == entry and visits[ip] == 1 and one_piece:
                # The entry's first visit, first of all (its position is 0): from the entry state as it was made.
                run_successors = self._run_entry(block, block_flows, code, state, inside)
            else:
                run_successors = self._run_block(block, block_flows, state, inside)
            if run_successors is None:  # the block falls through to the next
                run_successors = _successors(block[-1], block_flows[len(block) - 1], inside, self.sites, self._orphans)
            edges = self._edge_states
            kept = False  # whether ``state`` (this visit's own copy) is some successor's state now
            for succ in run_successors:
                if succ not in blocks:
                    continue
                out = edges.get(succ, state)
                known = states.get(succ)
                if known is None:
                    # A state is kept without a copy where nothing else holds it: an edge's refined state (made
                    # for that edge), or this visit's state the first time (the visit copied it from its block's).
                    if out is state:
                        if kept:
                            out = state.copy()
                        kept = True
                    states[succ] = out
                    changed = True
                else:
                    changed = known.join(out)
                if changed and visits.get(succ, 0) < MAX_BLOCK_VISITS and succ not in queued:
                    worklist.append(succ)
                    queued.add(succ)

    def _run_entry(self, block: list[Instruction], flows: bytes, code: bytes, state: State,
                   inside: Callable[[int], bool]) -> Optional[Sequence[int]]:
        """``_run_block`` for the entry block of a function decoded as one piece (``code``) from ``state``, the entry
        state as ``State.entry`` makes it (the block's first run, before anything joins into it). Its opening (its
        pushes and the frame allocation after them: at 1x 43K of the 219K stepped instructions) is not stepped:
        the state it leaves is made at once, a copy of the state stepping the same bytes left the first time
        (``_OPENINGS``), so each of its instructions saves its table look-up (about 2,200 machine instructions)
        and its step. The key is found inline (``lstrip`` and ``startswith``): a Python call per function cost
        more than the look-up."""
        if self._stock:
            run = len(code) - len(code.lstrip(_PUSH_RUN))
            if run or code.startswith(_SUB_RSP_IMM8) or code.startswith(_SUB_RSP_IMM32):
                if code.startswith(_SUB_RSP_IMM8, run):
                    run += 4
                elif code.startswith(_SUB_RSP_IMM32, run):
                    run += 7
                key = code[:run]
            else:
                key = b""
            found = _OPENINGS.get(key)
            if found is None:
                found = self._opening(key, block, flows, code)
            count, made, longer = found
            if longer:  # the first function's longer runs (longest first), where this code starts with one
                end = _run_end(block, flows)
                for ext, k, state_k in longer:
                    if k <= end and code.startswith(ext):
                        count, made = k, state_k
                        break
            if count and count <= len(block):
                regs, stack, state.rsp, state.low = made
                if regs is not None:
                    state.regs = regs.copy()
                state.stack = stack.copy()
                block = block[count:]
                flows = flows[count:]
        return self._run_block(block, flows, state, inside)

    def _opening(self, key: bytes, block: list[Instruction], flows: bytes, code: bytes) -> _Opening:
        """``_OPENINGS``' entry for a function's first bytes ``key``: how many of the block's first instructions,
        those in ``key`` (``_opening_count``), are the code's own opening, and the state ``_run_block`` leaves
        after stepping them from the entry state (stepped here once, on the block's own first instructions, so the
        made state is the stepped one by construction): its registers (None where they are the entry's), frame,
        stack pointer and lowest slot (no opening escapes a slot or copies a load); and the longer runs of the
        instructions after it that depend on the state alone, with the state after each (``_run_entry`` makes the
        longest a later function's code starts with)."""
        count = _opening_count(len(key), block)
        made = State.entry()
        if count == len(block) and sum(instr.len for instr in block) < len(key):
            # A block cut short by the slice: the count is not the key's (step it; longer blocks will find it).
            return 0, None, ()
        if count:
            self._run_block(block[:count], bytes(count), made, _nowhere)
            if made.escaped or made.copies:  # never from these instructions; were it so, they are stepped
                return 0, None, ()
        regs = None if list(made.regs.items()) == list(_ENTRY_REGS.items()) else made.regs
        # The instructions after the opening whose step reads and writes nothing but the state: stepped one by
        # one from it, the state after each kept with the code's bytes up to there (later functions with this
        # key that start with those bytes make it instead of stepping). Only after an opening that made
        # something: code without pushes (MSVC's spills first) shares the empty key, whose one first function's
        # run most others do not repeat, and each would test it (ViGEmBus +1.9M, OpenConsole +1.2M).
        longer: list[tuple[bytes, int, tuple[dict[RegisterId, ValueSet], dict[int, tuple[int, ValueSet]], Optional[int], int]]] = []
        end = _run_end(block, flows)
        size = sum(instr.len for instr in block[:count])
        state = made.copy()
        k = count
        while count and k < end and flows[k] == _NEXT and len(longer) < _LONGER_LIMIT:
            instr = block[k]
            if instr.is_ip_rel_memory_operand:
                break
            op = _OPS.get(instr)
            if op is None:
                op = _prepare(instr)
            if op[0] not in _PREFIX_KINDS or (op[0] == _OP_ARITH and op[5] is None and op[6] is None):
                break
            self._run_block(block[k:k + 1], flows[k:k + 1], state, _nowhere)
            if state.escaped or state.copies:
                break
            k += 1
            size += instr.len
            longer.append((code[:size], k, (state.regs.copy(), state.stack.copy(), state.rsp, state.low)))
        longer.reverse()
        found = (count, (regs, made.stack, made.rsp, made.low), tuple(longer))
        if len(_OPENINGS) < _SHARED_LIMIT:
            _OPENINGS[key] = found
        return found

    def _needed(self, instrs: list[Instruction], flows: bytes, spans: Mapping[int, tuple[int, int]]) -> dict[int, int]:
        """Block -> index in ``instrs`` of its last instruction a sliced run must run (``_last_needed``), for the
        blocks that have one."""
        last: dict[int, int] = {}
        for ip, (a, b) in spans.items():
            k = self._last_needed(instrs, flows, a, b)
            if k >= 0:
                last[ip] = k
        return last

    def _slice(self, spans: dict[int, tuple[int, int]], successors: Mapping[int, Sequence[int]],
               last: Mapping[int, int]) -> dict[int, tuple[int, int]]:
        """Keep only the code the answer depends on: the blocks from which control can reach a wanted call site
        or an instruction that writes memory (a store to remember), and of those that reach no other kept block,
        the instructions up to the last such one (mostly the epilogue after the last wanted call goes).

        The kept blocks are closed under predecessors, and the worklist takes them in the same order with or
        without the others (their positions are fixed before), so every kept block sees the states it would
        have seen in a run of the whole function: the answer for the wanted sites and the stores is the same.

        ``spans`` are the blocks as index ranges of the function's instructions, ``last`` what ``_needed`` found
        in them (a memory write is looked for only where the flow goes on to the next instruction, a wanted site
        only where it does not: a call or a jump, the only instructions whose arguments are recorded)."""
        if len(spans) == 1:  # most functions: no edges to follow
            ((ip, (a, b)),) = spans.items()
            if ip not in last:
                return {}
            return {ip: (a, b if ip in successors[ip] else last[ip] + 1)}
        predecessors: dict[int, list[int]] = {}
        for ip, succs in successors.items():
            for succ in succs:
                if succ in spans:
                    predecessors.setdefault(succ, []).append(ip)
        kept = set(last)
        todo = list(last)
        while todo:
            for pred in predecessors.get(todo.pop(), ()):
                if pred not in kept:
                    kept.add(pred)
                    todo.append(pred)
        out = {}
        for ip, (a, b) in spans.items():
            if ip in kept:
                # A kept block with no kept successor holds the work.
                out[ip] = (a, b) if any(succ in kept for succ in successors[ip]) else (a, last[ip] + 1)
        return out

    def _last_needed(self, instrs: list[Instruction], flows: bytes, start: int, end: int) -> int:
        """Index of the last instruction in ``instrs[start:end]`` (one block) a sliced run must run: a wanted call
        site or a memory write that may be a store; -1 when there is none."""
        asked = self.asked
        assert asked is not None
        for k in range(end - 1, start - 1, -1):
            instr = instrs[k]
            if flows[k] == _NEXT:
                # A pointer-sized memory write may be a store (``_note_store``); a narrower one, one through the
                # stack pointer (always the frame), and an operand that is only read (a compare, a push through
                # memory) change at most the frame, which nothing after the last wanted site reads.
                if instr.op0_kind == _MEM_KIND and instr.op_count and _MEM_SIZE[instr.memory_size] == 8 \
                        and _may_store(instr):
                    return k
            elif flows[k] != _RETURN and instr.ip in asked:  # a return records nothing (the last instruction)
                return k
        return -1

    #: Whether the class steps and writes as this one does (a subclass that watches steps or writes does not):
    #: then ``_run_block`` runs each instruction's prepared operation (``_prepare``), else every instruction
    #: goes through ``_step``.
    _stock = True

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls._stock = cls._step is FunctionDataflow._step and cls._write is FunctionDataflow._write

    def _run_block(self, block: list[Instruction], flows: bytes, state: State, inside) -> Optional[Sequence[int]]:
        """Run one block (``flows``: its instructions' flow controls, as the set-up read them) from ``state``;
        the blocks control goes on to where it ends with a branch or an end, None where it runs off its last
        instruction (the successors of that are the caller's to find: a one-block function needs none). Calls
        and branches are taken from ``flows`` without the operation table (their tuple would only say the flow
        control again, and their targets make most of them distinct)."""
        stock = self._stock
        regs = state.regs
        ops = _OPS
        narrow = _NARROW_SETS
        copy_calls, fill_calls, call_results, record = self.copy_calls, self.fill_calls, self.call_results, self._record
        loaded = self._loaded
        for instr, fc in zip(block, flows):
            if fc == _NEXT:
                if not stock:
                    self._step(instr, state)
                    continue
                # One look-up gives what the instruction does (the same for every instruction equal to it, at
                # any address); the commonest operations run here, each exactly as ``_step`` would run it.
                op = ops.get(instr)
                if op is None:
                    op = _prepare(instr)
                kind = op[0]
                if kind == _OP_COPY:  # mov r, r
                    values = regs.get(op[2], _UNK)
                    regs[op[1]] = values if not op[3] or values is _UNK or values in narrow else _dword(values)
                    continue
                if kind == _OP_SET:  # mov r, imm; lea r, [rip+x]; xor r, r
                    regs[op[1]] = op[2]
                    continue
                if kind == _OP_PUSH:
                    rsp = state.rsp
                    if rsp is not None:
                        rsp -= 8
                        state.rsp = rsp
                        values = regs.get(op[1], _UNK)
                        stack = state.stack
                        if values is _UNK and not state.copies and not state.escaped and rsp + 8 <= state.low:
                            # A callee-saved register pushed below the frame (the prologue): nothing to split,
                            # copy or un-escape, so ``_stack_store`` would only add the slot.
                            stack[rsp] = _UNKNOWN_QWORD
                            state.low = rsp
                        else:
                            self._stack_store(state, rsp, 8, values)
                    continue
                if kind == _OP_ARITH:  # add/sub/or/xor/... r, x: an unknown register stays unknown
                    if regs.get(op[1], _UNK) is _UNK and op[2]:
                        regs[op[1]] = _UNK
                    elif op[5] is None and op[6] is None:  # a memory source
                        self._arith(instr, state, op[3])
                    else:
                        _arith_prepared(state, op)
                    continue
                if kind == _OP_GLOBAL:  # mov r, [rip+x]
                    read = loaded.get(op)
                    if read is None:
                        read = loaded[op] = self._global_load(op[2], op[3])
                    regs[op[1]] = read if not op[4] or read is _UNK or read in narrow else _dword(read)
                    continue
                if kind == _OP_FRAME_STORE:  # mov [rsp+d], r/imm
                    rsp = state.rsp
                    if rsp is not None:
                        values = op[4]
                        if values is None:
                            values = regs.get(op[3], _UNK)
                            if op[5] and values is not _UNK and values not in narrow:
                                values = _dword(values)
                        self._stack_store(state, rsp + op[1], op[2], values)
                    continue
                if kind == _OP_FRAME_ADDRESS:  # lea r, [rsp+d]
                    rsp = state.rsp
                    regs[op[1]] = _FRAME_ADDRESSES[rsp + op[2]] if rsp is not None else _UNK
                    continue
                if kind == _OP_STACK:  # add/sub rsp, imm
                    if state.rsp is not None:
                        state.rsp += op[1]
                    continue
                if kind == _OP_NONE:
                    continue
                op[1](self, instr, state)  # _OP_CALL
                continue
            # A call, branch or return.
            if fc == _INDIRECT_CALL and self.checks and instr.is_ip_rel_memory_operand \
                    and instr.ip_rel_memory_address in self.checks:
                regs[Register.R10] = regs[Register.R11] = _UNK  # all the check may change
                continue
            if fc == _CALL or fc == _INDIRECT_CALL:
                ip = instr.ip
                copy = copy_calls and ip in copy_calls and (regs.get(_RCX, _UNK), regs.get(_RDX, _UNK),
                                                            regs.get(_R8, _UNK))
                layout = fill_calls.get(ip) if fill_calls else None
                fill = layout is not None and (regs.get(_RCX, _UNK),
                                               _ZERO if layout[0] is None else regs.get(layout[0], _UNK),
                                               regs.get(layout[1], _UNK))
                record(ip, state, False)
                passed = self._codec_argument(instr, state) if self.codecs else None
                if self.targets is not None and fc == _INDIRECT_CALL:
                    self._record_target(instr, state)
                # What the call leaves: the volatile registers unknown, its home space (shadow slots) gone.
                regs.update(_VOLATILE_UNKNOWN)
                rsp = state.rsp
                if rsp is not None and state.low < rsp + 0x20:  # at the 1x kernel's calls, never: no pass
                    home = rsp + 0x20
                    stack = state.stack
                    for off in [o for o in stack if rsp <= o < home]:
                        del stack[off]
                if copy:
                    _block_copy(state, copy[0], copy[1], copy[2], 1)
                if fill:
                    _block_fill(state, fill[0], fill[1], fill[2], 1)
                result = call_results.get(ip) if call_results else None
                if result is not None:
                    regs[_RAX] = result
                elif passed is not None:
                    regs[_RAX] = passed
                    self.decoded.update(passed)
                continue
            if fc == _JUMP or fc == _COND:
                if not inside(instr.near_branch_target):
                    self._record(instr.ip, state, True)  # a jump out of the function: a tail call
                elif fc == _COND:
                    self._guard(block, instr, state, instr.near_branch_target, instr.next_ip)
                return _successors(instr, fc, inside, self.sites, self._orphans)
            if fc == FlowControl.INDIRECT_BRANCH:
                if self.targets is not None:
                    self._record_target(instr, state)
                if instr.ip in self.sites:  # a jump through the IAT: a tail call
                    self._record(instr.ip, state, True)
                return _successors(instr, fc, inside, self.sites, self._orphans)
            if fc in (FlowControl.RETURN, FlowControl.INTERRUPT, FlowControl.EXCEPTION):
                return []
            self._step(instr, state)
        return None

    def _guard(self, block: list[Instruction], branch: Instruction, state: State, target: int, fall: int) -> None:
        """``cmp r, N`` then an unsigned ``jcc``: on the edge where ``r`` is below the bound, ``r`` is one of
        the few values ``0..bound`` (the guard in front of a table lookup), when it was not known before;
        then ``je``/``jne``: on the equal edge ``r`` is ``N`` (``test r, r``: 0)."""
        if len(block) < 2 or block[-1] is not branch:
            return
        cmp = block[-2]
        # ``test rax, rax``: compares the register with zero.
        zero_test = cmp.mnemonic == Mnemonic.TEST and cmp.op0_kind == _REG_KIND and cmp.op1_kind == _REG_KIND \
            and cmp.op0_register == cmp.op1_register
        if not zero_test and (cmp.mnemonic != Mnemonic.CMP or cmp.op0_kind != _REG_KIND
                              or cmp.op1_kind not in _IMM_KINDS):
            return
        reg = _FULL[cmp.op0_register]
        if any(isinstance(v, Const) for v in state.regs.get(reg, _UNK)):
            return
        size = _SIZE[cmp.op0_register]
        bound = 0 if zero_test else cmp.immediate(1) & MASKS[size]
        equal = {Mnemonic.JE: target, Mnemonic.JNE: fall}.get(branch.mnemonic)
        if equal is not None and size >= 4:
            # ``cmp eax, 16; jne out`` or ``test rax, rax; jne out``: where the branch says equal, the register
            # is that constant (a WPP message number computed from it, ``lea r9d, [rax+0xe]`` on the path
            # where a call returned NULL, as the decompiler's constant propagation finds).
            refined = state.copy()
            refined.regs[reg] = frozenset((Const(bound),))
            self._edge_states[equal] = refined
            return
        if zero_test:
            return
        below = {Mnemonic.JAE: (fall, bound), Mnemonic.JA: (fall, bound + 1),
                 Mnemonic.JB: (target, bound), Mnemonic.JBE: (target, bound + 1)}.get(branch.mnemonic)
        if below is None or not 0 < below[1] <= MAX_TABLE:
            return
        edge, count = below
        refined = state.copy()
        refined.regs[reg] = frozenset(Const(k) for k in range(count))
        self._edge_states[edge] = refined

    # ------------------------------------------------------------------ call sites
    def _record(self, ip: int, state: State, tail: bool) -> None:
        """The argument values at the call (or tail jump) at ``ip``, into its site when it is one that is asked;
        at every call, the frame slots whose address is passed escape (the callee may write there)."""
        regs = state.regs
        args: list[ValueSet] = [regs.get(_RCX, _UNK), regs.get(_RDX, _UNK), regs.get(_R8, _UNK), regs.get(_R9, _UNK)]
        # The register arguments that hold a frame address (rarely any): sets known to hold none are skipped.
        unframed = _UNFRAMED
        framed: Optional[list[int]] = None
        if not (args[0] in unframed and args[1] in unframed and args[2] in unframed and args[3] in unframed):
            framed = _escapes(args, state)
        wanted: Optional[Collection[int]] = None
        asked = self.asked
        if asked is not None:
            wanted = asked.get(ip)
            if wanted is None:
                return
        site = self.sites.get(ip)
        if site is None:
            return
        rsp = state.rsp
        if wanted is not None:
            # Only the wanted arguments are read (the others stay UNKNOWN); a set holding a frame address gets
            # the known bytes there attached.
            out = list(_NO_ARGS)
            for i in wanted:
                if i < 4:
                    values = args[i]
                    if framed is not None and i in framed:
                        values = frozenset([self._snapshot(v, state) for v in values])
                elif i < MAX_ARGS and rsp is not None:
                    values = self._stack_load(state, rsp + (0x28 if tail else 0x20) + 8 * (i - 4), 8)
                    if values is not _UNK and _has_stack_addr(values):
                        values = frozenset([self._snapshot(v, state) for v in values])
                else:
                    continue
                out[i] = values
            if self.found is None:
                site.args = tuple(out)
            else:
                self.found[ip] = tuple(out)
            return
        if framed is None:
            framed = []
        if rsp is None:
            args.extend(_NO_STACK_ARGS)
        else:
            first = rsp + (0x28 if tail else 0x20)
            for i in range(MAX_ARGS - 4):
                values = self._stack_load(state, first + 8 * i, 8)
                if values is not _UNK and _has_stack_addr(values):
                    framed.append(len(args))
                args.append(values)
        # Only sets holding a frame address change (their known bytes are attached); the rest are kept as is.
        for i in framed:
            args[i] = frozenset([self._snapshot(v, state) for v in args[i]])
        if self.found is None:
            site.args = tuple(args)
        else:
            self.found[ip] = tuple(args)

    def _codec_argument(self, instr: Instruction, state: State) -> Optional[ValueSet]:
        """What a call to a pointer codec returns: the pointer it was passed (RCX), None for other calls."""
        if not self.codecs:
            return None
        if instr.flow_control == FlowControl.CALL:
            target = instr.near_branch_target
        elif instr.is_ip_rel_memory_operand:
            target = instr.ip_rel_memory_address
        else:
            return None
        if target not in self.codecs:
            return None
        passed = state.regs.get(Register.RCX, _UNK)
        return None if passed == _UNK else passed

    def _record_target(self, instr: Instruction, state: State) -> None:
        """The address an indirect call or tail jump goes to: RAX through the CFG dispatch slot (``call
        [slot]``, or the slot loaded into a register first: ``mov rdx, [slot]; jmp rdx``), else its operand."""
        assert self.targets is not None
        if instr.is_ip_rel_memory_operand and instr.ip_rel_memory_address in self.dispatch:
            values = state.regs.get(Register.RAX, _UNK)
        elif instr.op0_kind == _REG_KIND or (instr.op0_kind == _MEM_KIND and not instr.is_ip_rel_memory_operand):
            values = self._operand(instr, 0, state)
            if values and all(isinstance(v, Load) and isinstance(v.addr, Addr) and v.addr.rva in self.dispatch
                              for v in values):
                values = state.regs.get(Register.RAX, _UNK)
        else:
            return
        if values != _UNK:
            known = self.targets.get(instr.ip)
            decoded = bool(values) and values <= self.decoded
            if known is not None:
                values, decoded = cap(known[0] | values), known[1] and decoded
            self.targets[instr.ip] = (values, decoded)
            if instr.flow_control == FlowControl.INDIRECT_BRANCH:
                self.tail_targets.add(instr.ip)

    def _snapshot(self, value: Value, state: State) -> Value:
        """Attach the bytes and image addresses known at a stack address (structures built on the stack)."""
        if not isinstance(value, StackAddr):
            return value
        base = value.offset
        stack = state.stack
        # One pass over the slots: the known bytes of the first SNAPSHOT_BYTES (``stack_bytes_partial``: constant
        # slots, later ones over earlier), and the image addresses, links and parameter fields of the first
        # REF_BYTES. ``known`` is past the last known byte: the content keeps at least 16 bytes, and no more
        # unknown ones after the last known.
        content: list[Optional[int]] = [None] * SNAPSHOT_BYTES
        known = 0
        refs = []
        fields = []
        links = []
        for off, (size, values) in stack.items():
            pos = off - base
            if pos + size <= 0 or pos >= REF_BYTES or len(values) != 1:
                continue
            (only,) = values
            if pos < SNAPSHOT_BYTES and isinstance(only, Const) and size in MASKS:
                raw = (only.value & MASKS[size]).to_bytes(size, "little")
                first = -pos if pos < 0 else 0
                past = SNAPSHOT_BYTES - pos if pos + size > SNAPSHOT_BYTES else size
                content[pos + first:pos + past] = raw[first:past]
                if pos + past > known:
                    known = pos + past
            if pos < 0:
                continue
            if size == 8 and isinstance(only, Addr):
                refs.append((pos, only.rva))
            elif size == 8 and isinstance(only, StackAddr):
                if only.frame < 0 and only.offset != base:
                    links.append((pos, only.offset - base))  # another buffer of the frame this one points at
            else:
                found = parameter_field(pos, size, values)  # a value the caller passes (type, level, GuidPtr)
                if found is not None:
                    fields.append(found)
        for _pos, delta in links:  # the linked buffers' image addresses, at their offsets from this address
            for off, (size, values) in stack.items():
                rel = off - base - delta
                if size == 8 and 0 <= rel < REF_BYTES and len(values) == 1:
                    (only,) = values
                    if isinstance(only, Addr):
                        refs.append((off - base, only.rva))
        ref_tuple = tuple(sorted(set(refs))) or None
        field_tuple = tuple(sorted(fields, key=lambda f: f[0])) or None
        link_tuple = tuple(sorted(links)) or None
        del content[max(known, 16):]
        origin = _copy_origin(state, value.offset)
        if not known and ref_tuple is None and origin is None and field_tuple is None and link_tuple is None:
            return _FRAME_ADDRESS[value.offset]
        return StackAddr(value.offset, tuple(content), -1, ref_tuple, origin, field_tuple, link_tuple)

    # ------------------------------------------------------------------ instructions
    def _step(self, instr: Instruction, state: State) -> None:
        mn = instr.mnemonic
        # The shapes most code is made of first (each handled exactly as the general order below would).
        if mn == _MOV:
            if instr.op1_kind == _REG_KIND:
                reg = instr.op1_register
                values = state.regs.get(_FULL[reg], _UNK) if _SHAPE[reg] == _PLAIN else _read_register(reg, state)
            else:
                values = self._operand(instr, 1, state)
            if not self._own_writes:
                self._write(instr, state, values)
                return
            k0 = instr.op0_kind
            if k0 == _REG_KIND:
                reg = instr.op0_register
                if _SHAPE[reg] == _PLAIN:
                    state.regs[_FULL[reg]] = values
                else:
                    _write_register(reg, state, values)
            elif k0 == _MEM_KIND:
                self._store_memory(instr, state, values)
            return
        if mn == _PUSH or mn == _POP:
            if instr.op0_kind == _REG_KIND:  # push/pop of a 64-bit register: the prologue and epilogue
                reg = instr.op0_register
                full = _FULL[reg]
                rsp = state.rsp
                if full != RSP and _SIZE[reg] == 8:
                    if mn == _PUSH:
                        if rsp is not None:
                            state.rsp = rsp - 8
                            self._stack_store(state, rsp - 8, 8, state.regs.get(full, _UNK))
                    else:
                        if rsp is not None:
                            state.regs[full] = self._stack_load(state, rsp, 8)
                            state.rsp = rsp + 8
                        else:
                            state.regs[full] = _UNK
                    return
            self._push_pop(instr, state, mn)
            return
        if mn == _LEA:
            self._lea(instr, state)
            return
        if mn in _ARITH and instr.op0_kind == _REG_KIND:
            self._arith(instr, state, mn)
            return
        count = instr.op_count
        if count == 0:
            for reg in _IMPLICIT.get(mn, ()):
                state.regs[reg] = _UNK
            return
        k0 = instr.op0_kind
        if mn in _REP_COPIES and instr.has_rep_prefix and instr.is_string_instruction:
            self._rep_copy(instr, state, mn)
            return
        if mn in _REP_FILLS and instr.has_rep_prefix and instr.is_string_instruction:
            _block_fill(state, state.regs.get(Register.RDI, _UNK), state.regs.get(Register.RAX, _UNK),
                        state.regs.get(Register.RCX, _UNK), _REP_FILLS[mn])
            for reg in (Register.RDI, Register.RCX):
                state.regs[reg] = _UNK
            return
        if mn == Mnemonic.MOV or mn in _VEC_MOVES:
            src = self._operand(instr, 1, state)
            self._write(instr, state, src)
            return
        if mn == Mnemonic.LEA:
            self._write(instr, state, self._address(instr, state))
            return
        if mn in (Mnemonic.MOVZX, Mnemonic.MOVSX, Mnemonic.MOVSXD):
            src = self._operand(instr, 1, state)
            size = self._operand_size(instr, 1)
            out: set[Value] = set()
            for v in src:
                if isinstance(v, Const):
                    raw = v.value & MASKS[size]
                    if mn != Mnemonic.MOVZX and raw >> (size * 8 - 1):
                        raw -= 1 << (size * 8)
                    out.add(Const(raw & MASKS[8]))
                elif isinstance(v, Load) and mn == Mnemonic.MOVZX:
                    out.add(v)
                else:
                    out.add(UNKNOWN)
            self._write(instr, state, frozenset(out))
            return
        if mn in _CMOV and k0 == _REG_KIND:
            reg = _FULL[instr.op0_register]
            src = self._operand(instr, 1, state)
            state.regs[reg] = cap(state.regs.get(reg, _UNK) | src)
            return
        if mn == Mnemonic.PUSH or mn == Mnemonic.POP:
            self._push_pop(instr, state, mn)
            return
        if mn in _VEC_ZERO and k0 == _REG_KIND and instr.op1_kind == _REG_KIND and instr.op0_register == instr.op1_register:
            state.regs[_FULL[instr.op0_register]] = frozenset((Const(0),))
            return
        if mn in _ARITH and k0 == _REG_KIND:
            self._arith(instr, state, mn)
            return
        if mn == Mnemonic.IMUL and count >= 2:
            # Two- and three-operand forms write only their destination (the one-operand form is below).
            self._imul(instr, state)
            return
        if mn in (Mnemonic.INC, Mnemonic.DEC) and k0 == _REG_KIND:
            reg = _FULL[instr.op0_register]
            size = RegisterExt.size(instr.op0_register)
            delta = 1 if mn == Mnemonic.INC else -1
            state.regs[reg] = cap(_truncate(add_offset(v, delta), size) for v in state.regs.get(reg, _UNK))
            return
        if mn in _NO_WRITE:
            return
        if mn in _ONE_OPERAND_MULDIV and count == 1:
            # ``mul r8``/``div r8`` read their operand and write only RDX:RAX.
            for reg in _IMPLICIT[mn]:
                state.regs[reg] = _UNK
            return
        if k0 == _REG_KIND:
            reg = _FULL[instr.op0_register]
            if reg == RSP:
                state.rsp = None
            state.regs[reg] = _UNK
            if mn == Mnemonic.XCHG and instr.op1_kind == _REG_KIND:
                state.regs[_FULL[instr.op1_register]] = _UNK
        elif k0 == _MEM_KIND:
            self._store_unknown(instr, state)
        if mn in _IMPLICIT and (mn not in _STRING or instr.is_string_instruction) and (mn != Mnemonic.IMUL or count == 1):
            for reg in _IMPLICIT[mn]:
                state.regs[reg] = _UNK

    def _lea(self, instr: Instruction, state: State) -> None:
        values = _IMAGE_ADDRESSES[instr.ip_rel_memory_address] if instr.is_ip_rel_memory_operand \
            else self._address(instr, state)
        if self._own_writes:
            reg = instr.op0_register
            if _SHAPE[reg] == _PLAIN:
                state.regs[_FULL[reg]] = values
            else:
                _write_register(reg, state, values)
        else:
            self._write(instr, state, values)

    def _arith_entry(self, instr: Instruction, state: State) -> None:
        if instr.op0_kind == _REG_KIND:
            self._arith(instr, state, instr.mnemonic)
        else:
            self._step(instr, state)

    def _push_pop(self, instr: Instruction, state: State, mn: int) -> None:
        if mn == _PUSH:
            value = self._operand(instr, 0, state)
            if state.rsp is not None:
                state.rsp -= 8
                self._stack_store(state, state.rsp, 8, value)
            return
        if state.rsp is not None:
            value = self._stack_load(state, state.rsp, 8)
            state.rsp += 8
        else:
            value = _UNK
        if instr.op0_kind == _REG_KIND:
            state.regs[_FULL[instr.op0_register]] = value

    def _rep_copy(self, instr: Instruction, state: State, mn: int) -> None:
        """``rep movs`` into the frame: the bytes are a by-value copy of whatever RSI points at."""
        _block_copy(state, state.regs.get(Register.RDI, _UNK), state.regs.get(Register.RSI, _UNK),
                    state.regs.get(Register.RCX, _UNK), _REP_COPIES[mn])
        for reg in (Register.RSI, Register.RDI, Register.RCX):
            state.regs[reg] = _UNK

    def _imul(self, instr: Instruction, state: State) -> None:
        """``imul r, r/m`` and ``imul r, r/m, imm``: the product when both factors are known, else unknown."""
        if instr.op0_kind != _REG_KIND:
            return
        reg = _FULL[instr.op0_register]
        size = RegisterExt.size(instr.op0_register)
        if instr.op_count == 3:
            left, right = self._operand(instr, 1, state), self._operand(instr, 2, state)
        else:
            left, right = self._operand(instr, 0, state), self._operand(instr, 1, state)
        out: set[Value] = set()
        for a in left:
            for b in right:
                if isinstance(a, Const) and isinstance(b, Const):
                    out.add(Const((_signed(a.value, size) * _signed(b.value, 8)) & MASKS[size]))
                else:
                    out.add(UNKNOWN)
        state.regs[reg] = cap(out) if out else _UNK

    def _arith(self, instr: Instruction, state: State, mn: int) -> None:
        reg0 = instr.op0_register
        reg = _FULL[reg0]
        size = _SIZE[reg0]
        shape = _SHAPE[reg0]
        partial = shape == _HIGH or shape == _NARROW
        shift = 8 if shape == _HIGH else 0
        k1 = instr.op1_kind
        if k1 == _REG_KIND:
            reg1 = instr.op1_register
            if reg1 == reg0 and (mn == _XOR or mn == _SUB):
                zero: ValueSet = _ZERO
                state.regs[reg] = self._partial(state.regs.get(reg, _UNK), zero, size, shift) if partial else zero
                return
        if shape != _STACK_POINTER:
            if partial:
                dst = _read_register(reg0, state)
            else:
                dst = state.regs.get(reg, _UNK)
                if dst is _UNK and mn != _AND and (mn != _XOR or size != 8):
                    # Unknown stays unknown whatever the source (only a mask bounds it, and only an Import
                    # survives a 64-bit xor): the source is not read.
                    state.regs[reg] = _UNK
                    return
            src = _read_register(instr.op1_register, state) if k1 == _REG_KIND else \
                _CONSTANTS[instr.immediate(1) & _M64] if k1 in _IMM_KINDS else self._operand(instr, 1, state)
        else:
            if k1 in _IMM_KINDS:  # ``sub rsp, N``: the frame grows
                if state.rsp is not None and (mn == _ADD or mn == _SUB):
                    delta = _signed(instr.immediate(1), 8)
                    state.rsp += delta if mn == _ADD else -delta
                else:
                    state.rsp = None
                return
            src = _read_register(instr.op1_register, state) if k1 == _REG_KIND else self._operand(instr, 1, state)
            if state.rsp is not None and len(src) == 1 and mn in (Mnemonic.ADD, Mnemonic.SUB):
                (imm,) = src
                if isinstance(imm, Const):
                    delta = _signed(imm.value, 8)
                    state.rsp += delta if mn == Mnemonic.ADD else -delta
                    return
            state.rsp = None
            return
        result = _combined(mn, dst, src, size)
        state.regs[reg] = self._partial(state.regs.get(reg, _UNK), result, size, shift) if partial else result

    # ------------------------------------------------------------------ operands
    def _operand_size(self, instr: Instruction, index: int) -> int:
        kind = instr.op_kind(index)
        if kind == _REG_KIND:
            return RegisterExt.size(instr.op_register(index))
        if kind == _MEM_KIND:
            return _MEM_SIZE[instr.memory_size]
        return 8

    def _operand(self, instr: Instruction, index: int, state: State) -> ValueSet:
        kind = instr.op_kind(index)
        if kind == _REG_KIND:
            return _read_register(instr.op_register(index), state)
        if kind == _MEM_KIND:
            size = _MEM_SIZE[instr.memory_size]
            addresses = self._address(instr, state)
            if addresses == _UNK and size == 8:
                addresses = self._table_entries(instr, state)
            if len(addresses) == 1:
                for addr in addresses:
                    if isinstance(addr, StackAddr):  # a frame slot: the commonest load
                        values = self._stack_load(state, addr.offset, size)
                        return values if len(values) <= MAX_VALUES else _UNK
                    return cap(self._load(addr, size, state))
            out: set[Value] = set()
            for addr in addresses:
                out |= self._load(addr, size, state)
            return cap(out)
        if kind in _IMM_KINDS:
            return _CONSTANTS[instr.immediate(index) & MASKS[8]]
        return _UNK

    def _table_entries(self, instr: Instruction, state: State) -> ValueSet:
        """``[table + index*8]`` with an index of unknown bound: every slot of the run of image pointers
        the read-only table starts with (a switch lowered to a table of descriptor pointers)."""
        if instr.memory_index == Register.NONE or instr.memory_index_scale != 8 or instr.memory_base == Register.NONE:
            return _UNK
        bases = state.regs.get(_FULL[instr.memory_base], _UNK)
        if len(bases) != 1:
            return _UNK
        (table,) = bases
        if not isinstance(table, Addr):
            return _UNK
        start = table.rva + _signed(instr.memory_displacement, 8)
        if not self._read_only(start):
            return _UNK
        slots = pointer_table(self.memory, start, self.image_base, self.image_size, self._read_only, MAX_TABLE)
        return frozenset(Addr(slot) for slot in slots) if slots else _UNK

    def _address(self, instr: Instruction, state: State) -> ValueSet:
        if instr.is_ip_rel_memory_operand:
            return _IMAGE_ADDRESSES[instr.ip_rel_memory_address]
        base = instr.memory_base
        index = instr.memory_index
        if base == RSP and index == _NO_REGISTER:  # a frame slot, [rsp+disp]: the commonest shape first
            if state.rsp is None or instr.memory_segment in _FS_GS:
                return _UNK
            disp = instr.memory_displacement
            return _FRAME_ADDRESSES[state.rsp + (disp - _WRAP if disp >> 63 else disp)]
        if instr.memory_segment in _FS_GS:
            return _UNK
        disp = _signed(instr.memory_displacement, 8)
        if index == Register.NONE and _FULL[base] == RSP:  # a frame slot: [rsp+disp]
            return _FRAME_ADDRESSES[state.rsp + disp] if state.rsp is not None else _UNK
        offsets = [0]
        if index != Register.NONE:
            ivals = state.regs.get(_FULL[index], _UNK)
            if not ivals or not all(isinstance(v, Const) for v in ivals):
                return _UNK
            # A bounded index (an ``and`` mask, a few known values) gives one address per value.
            offsets = sorted(_signed(v.value, 8) * instr.memory_index_scale for v in ivals)
        if len(offsets) > 1:
            out: set[Value] = set()
            for off in offsets:
                out |= self._address_at(instr, state, disp, base, off)
            return cap(out)
        return self._address_at(instr, state, disp, base, offsets[0])

    def _address_at(self, instr: Instruction, state: State, disp: int, base: RegisterId, offset: int) -> ValueSet:
        if base == Register.NONE:
            absolute = (disp + offset) & MASKS[8]
            if self.image_base <= absolute < self.image_base + self.image_size:
                return frozenset((Addr(absolute - self.image_base),))
            return _UNK
        full = _FULL[base]
        if full == RSP:
            if state.rsp is None:
                return _UNK
            return _FRAME_ADDRESSES[state.rsp + disp + offset]
        return cap(field_of(v, disp + offset) for v in state.regs.get(full, _UNK))

    def _load(self, addr: Value, size: int, state: State) -> ValueSet:
        if isinstance(addr, StackAddr):
            return self._stack_load(state, addr.offset, size)
        if isinstance(addr, Addr):
            return self._global_load(addr.rva, size)
        return frozenset((make_load(addr, size),))

    def _global_load(self, rva: int, size: int) -> ValueSet:
        """What ``size`` bytes of the image at ``rva`` hold: read-only memory read as a constant or an image
        address, writable memory (a global) as a load of it."""
        if size in MASKS and self._read_only(rva):
            raw = self.memory.read(rva, size)
            if len(raw) == size:
                value = int.from_bytes(raw, "little")
                if size == 8 and self.image_base <= value < self.image_base + self.image_size:
                    return frozenset((Addr(value - self.image_base),))
                return frozenset((Const(value),))
        return _IMAGE_LOADS[rva, size]

    def _read_only(self, rva: int) -> bool:
        known = self._ro_cache.get(rva >> 12)
        if known is None:
            known = self._ro_cache[rva >> 12] = not self.memory.is_writable(rva)
        return known

    # ------------------------------------------------------------------ stores
    def _write(self, instr: Instruction, state: State, values: ValueSet) -> None:
        kind = instr.op0_kind
        if kind == _REG_KIND:
            _write_register(instr.op0_register, state, values)
        elif kind == _MEM_KIND:
            self._store_memory(instr, state, values)

    @staticmethod
    def _partial(old: ValueSet, new: ValueSet, size: int, shift: int) -> ValueSet:
        """An 8- or 16-bit write leaves the register's other bits alone.

        Over a known constant the result is exact (``mov ecx, 0x100; mov cl, 5`` is 0x105). Over an
        unknown register a low write keeps the written low bits as the value: the callee of an 8- or
        16-bit argument (a UCHAR level, a USHORT WPP message number) reads only those bits. A write to
        AH..DH over an unknown register is unknown.
        """
        mask = MASKS[size] << shift
        out: set[Value] = set()
        for v in new:
            for o in old:
                if isinstance(v, Const) and isinstance(o, Const):
                    out.add(Const((o.value & ~mask & MASKS[8]) | ((v.value << shift) & mask)))
                elif shift == 0:
                    out.add(v)
                else:
                    out.add(UNKNOWN)
        return cap(out)

    def _store_unknown(self, instr: Instruction, state: State) -> None:
        self._store_memory(instr, state, _UNK)

    def _store_memory(self, instr: Instruction, state: State, values: ValueSet) -> None:
        """Write ``values`` to the memory operand: a stack slot of the frame, or a store worth remembering."""
        size = _MEM_SIZE[instr.memory_size]
        for addr in self._address(instr, state):
            if isinstance(addr, StackAddr):
                self._stack_store(state, addr.offset, size, values)
            else:
                self._note_store(instr.ip, addr, size, values)

    def _note_store(self, rva: int, addr: Value, size: int, values: ValueSet) -> None:
        """Remember a pointer-sized store to a global or to a field of an object the code can name."""
        if size != 8 or isinstance(addr, Unknown):
            return
        if not isinstance(addr, Addr) and all(isinstance(v, Unknown) for v in values):
            return  # an unknown value into a field of a non-global object tells nothing
        self._stores.setdefault((rva, addr), set()).update(values)

    @staticmethod
    def _stack_store(state: State, offset: int, size: int, values: ValueSet) -> None:
        """Store at a stack offset; constant bytes of older slots that are only partly overwritten survive."""
        end = offset + size
        copies = state.copies
        if copies:
            for off in [o for o, (s, _a) in copies.items() if offset <= o and o + s <= end]:
                del copies[off]  # wholly overwritten: no longer a copy (a patch leaves the copy in place)
        if (size == 8 or size == 16) and len(values) == 1:
            (only,) = values
            if isinstance(only, Load) and only.size == size and not isinstance(only.addr, StackAddr):
                copies[offset] = (size, only.addr)
        stack = state.stack
        # A slot below every other one (a push, the frame filled downwards) overlaps none: the state's bound on
        # its lowest slot instead of a Python pass over the slots.
        if end > state.low:
            for off in [o for o, (s, _v) in stack.items() if o < end and o + s > offset]:
                old_size, old_values = stack.pop(off)
                if offset <= off and off + old_size <= end:
                    continue  # wholly overwritten: no byte of it survives
                raw = _const_raw(old_values, old_size)
                if raw is None:
                    continue
                for k in range(old_size):
                    if not offset <= off + k < end:
                        stack[off + k] = (1, frozenset((Const(raw[k]),)))
        stack[offset] = (size, frozenset(values))
        if offset < state.low:
            state.low = offset
        if state.escaped:
            state.escaped.discard(offset)

    @staticmethod
    def _stack_load(state: State, offset: int, size: int) -> ValueSet:
        if offset in state.escaped:
            return _FRAME_LOADS[offset, size]
        stack = state.stack
        slot = stack.get(offset)
        if slot is not None:
            if slot[0] == size:
                return slot[1]
        else:
            end = offset + size
            for o, (s, _v) in stack.items():
                if o < end and o + s > offset:
                    break
            else:
                # Nothing stored there in this frame: an incoming stack parameter, or whatever the local holds.
                if offset >= 0x28 and (offset - 0x28) % 8 == 0:
                    return _PARAMETERS[4 + (offset - 0x28) // 8]
                return _FRAME_LOADS[offset, size]
        raw = stack_bytes(state, offset, size)
        if raw is not None and size in MASKS:
            return frozenset((Const(int.from_bytes(raw, "little")),))
        return _UNK


#: The step of each mnemonic ``_run_block`` does not take inline (one list index instead of a chain of tests):
#: ``lea`` and register arithmetic to their own handler, everything else to ``_step``.
_HANDLERS: list[Callable[[FunctionDataflow, Instruction, State], None]] = [FunctionDataflow._step] * (
    max(v for k, v in vars(Mnemonic).items() if k.isupper()) + 1)
_HANDLERS[_LEA] = FunctionDataflow._lea
for _mnemonic in _ARITH:
    _HANDLERS[_mnemonic] = FunctionDataflow._arith_entry


#: What ``_run_block`` does with an instruction, prepared once per distinct instruction (``_prepare``); the tuple's
#: first item is one of these, the rest its operands.
_OP_COPY = 0  # (full destination, full source, truncate to 32 bits): ``mov r, r``
_OP_SET = 1  # (full destination, values): ``mov r, imm``, ``lea r, [rip+x]``, ``xor r, r``
_OP_PUSH = 2  # (full register): ``push r64``
_OP_ARITH = 3  # (full destination, an unknown destination stays unknown, mnemonic, size, source register or None,
#              immediate value or None): ``add r, x`` and the like
_OP_GLOBAL = 4  # (full destination, rva, size, truncate to 32 bits): ``mov r, [rip+x]``
_OP_FRAME_STORE = 5  # (displacement, size, full source or None, values or None, truncate): ``mov [rsp+d], r/imm``
_OP_FRAME_ADDRESS = 6  # (full destination, displacement): ``lea r, [rsp+d]``
_OP_STACK = 7  # (delta): ``add rsp, imm``, ``sub rsp, imm``
_OP_NONE = 8  # (): nothing the analysis tracks changes (``cmp``, ``test``, ``mov`` of 1-4 bytes to a global)
_OP_CALL = 9  # (handler): the mnemonic's handler, with the instruction
_Op = tuple
#: Instruction -> its prepared operation. iced-x86 instructions are equal when they differ only in address and
#: length (a RIP-relative operand holds its absolute target), so one entry serves every copy of a common
#: instruction in every function (about 80-90% of the stepped ones); the operation holds nothing of the image.
_OPS: dict[Instruction, _Op] = {}
_OPS_LIMIT = 1 << 16


def _prepare(instr: Instruction) -> _Op:
    op = _prepared(instr)
    if len(_OPS) < _OPS_LIMIT:
        _OPS[instr] = op
    return op


def _prepared(instr: Instruction) -> _Op:
    """The operation ``_run_block`` runs for ``instr``: the shapes most code is made of get their own, each
    doing exactly what ``FunctionDataflow._step`` does for them; the rest go to their mnemonic's handler. Only
    instructions whose flow goes on to the next one are prepared (``_run_block`` takes calls and branches itself)."""
    mn = instr.mnemonic
    if mn in _NO_WRITE:
        return (_OP_NONE,)
    # No operand count is read: an instruction without operands reads as a register operand NONE, and ``mov``,
    # ``push``, ``lea`` and the arithmetic always have one, so it ends at its handler below as it did before.
    k0 = instr.op0_kind
    if k0 == _REG_KIND:
        reg0 = instr.op0_register
        shape0 = _SHAPE[reg0]
        full0 = _FULL[reg0]
        whole = shape0 == _PLAIN or shape0 == _DWORD  # a write that replaces the register (no bits kept)
        if mn == _MOV and whole:
            k1 = instr.op1_kind
            if k1 == _REG_KIND:
                shape1 = _SHAPE[instr.op1_register]
                if shape1 == _PLAIN or shape1 == _DWORD:
                    return (_OP_COPY, full0, _FULL[instr.op1_register], shape0 == _DWORD or shape1 == _DWORD)
            elif k1 in _IMM_KINDS:
                values = _CONSTANTS[instr.immediate(1) & _M64]
                return (_OP_SET, full0, _truncated(values, 4) if shape0 == _DWORD else values)
            elif k1 == _MEM_KIND and instr.is_ip_rel_memory_operand:
                return (_OP_GLOBAL, full0, instr.ip_rel_memory_address, _MEM_SIZE[instr.memory_size],
                        shape0 == _DWORD)
        elif mn == _PUSH:
            if full0 != RSP and _SIZE[reg0] == 8:
                return (_OP_PUSH, full0)
        elif mn == _LEA and whole:
            # Image and frame addresses are no constants: a 32-bit destination keeps them as they are.
            if instr.is_ip_rel_memory_operand:
                return (_OP_SET, full0, _IMAGE_ADDRESSES[instr.ip_rel_memory_address])
            if instr.memory_base == RSP and instr.memory_index == _NO_REGISTER \
                    and instr.memory_segment not in _FS_GS:
                return (_OP_FRAME_ADDRESS, full0, _signed(instr.memory_displacement, 8))
        elif mn in _ARITH:
            k1 = instr.op1_kind
            if shape0 == _STACK_POINTER:
                if k1 in _IMM_KINDS and (mn == _ADD or mn == _SUB):
                    delta = _signed(instr.immediate(1), 8)
                    return (_OP_STACK, delta if mn == _ADD else -delta)
            elif whole:
                if k1 == _REG_KIND and instr.op1_register == reg0 and (mn == _XOR or mn == _SUB):
                    return (_OP_SET, full0, _ZERO)
                # Only a mask bounds an unknown value, and only an Import survives a 64-bit xor. The source: a
                # register, or an immediate's value (neither for memory: ``_arith`` reads it); its constant set
                # is made when a step reads it, not here: most of these steps find an unknown destination, and
                # the sets made for all of them held 3 MB at 1x.
                return (_OP_ARITH, full0, mn != _AND and (mn != _XOR or _SIZE[reg0] != 8), mn, _SIZE[reg0],
                        instr.op1_register if k1 == _REG_KIND else None,
                        instr.immediate(1) & _M64 if k1 in _IMM_KINDS else None)
    elif k0 == _MEM_KIND and mn == _MOV:
        if instr.is_ip_rel_memory_operand:
            if _MEM_SIZE[instr.memory_size] != 8:
                return (_OP_NONE,)  # only a pointer-sized store to a global is remembered (``_note_store``)
        elif instr.memory_base == RSP and instr.memory_index == _NO_REGISTER and instr.memory_segment not in _FS_GS:
            disp = _signed(instr.memory_displacement, 8)
            size = _MEM_SIZE[instr.memory_size]
            k1 = instr.op1_kind
            if k1 == _REG_KIND:
                shape1 = _SHAPE[instr.op1_register]
                if shape1 == _PLAIN or shape1 == _DWORD:
                    return (_OP_FRAME_STORE, disp, size, _FULL[instr.op1_register], None, shape1 == _DWORD)
            elif k1 in _IMM_KINDS:
                return (_OP_FRAME_STORE, disp, size, None, _CONSTANTS[instr.immediate(1) & _M64], False)
    return (_OP_CALL, _HANDLERS[mn])


#: The bytes a run of ``push r64`` is made of (50+r, and the REX.B prefix of r8..r15); ``sub rsp, imm8`` and
#: ``sub rsp, imm32`` (REX.W, 83 or 81 /5, ModRM rsp) up to their immediate: ``_run_entry`` finds an opening's
#: key by ``lstrip`` and ``startswith`` (C speed, inline: a Python call a function costs more).
_PUSH_RUN = bytes(range(0x50, 0x58)) + b"\x41"
_SUB_RSP_IMM8 = b"\x48\x83\xec"
_SUB_RSP_IMM32 = b"\x48\x81\xec"
#: A function's first bytes (its run of push bytes and a ``sub rsp`` after) -> (instructions made, the state after
#: them: (registers or None for the entry's, frame, stack pointer, lowest slot), the longer runs after them: (the
#: code's bytes up to a run's end, instructions made, the state after them), longest first).
_Opening = tuple
_OPENINGS: dict[bytes, _Opening] = {}


#: The prepared operations whose step reads nothing but the state and changes nothing but it (register
#: arithmetic only with a register or immediate source), which an opening's longer runs may hold.
_PREFIX_KINDS = frozenset((_OP_COPY, _OP_SET, _OP_PUSH, _OP_ARITH, _OP_FRAME_STORE, _OP_FRAME_ADDRESS, _OP_STACK,
                           _OP_NONE))
#: At most so many longer runs per opening (each flow with the key tests them: a ``startswith`` each).
_LONGER_LIMIT = 16


def _run_end(block: list[Instruction], flows: bytes) -> int:
    """How far into ``block`` an opening's longer run may reach: all of it but, before a closing conditional
    branch, the compare and the branch (``_guard`` reads the compare before the branch)."""
    end = len(block)
    if end and flows[end - 1] == _COND:
        end -= 2
    return end


def _nowhere(rva: int) -> bool:
    """``inside`` for an opening's steps: none of them branches, so none asks."""
    return False


def _opening_count(size: int, instrs: Iterable[Instruction]) -> int:
    """How many of a function's first instructions (``instrs``) lie wholly in its first ``size`` bytes (the key,
    so the answer is the key's alone: x86 decodes from the start) and are pushes of 64-bit registers or, after
    them, moves of the stack pointer by an immediate (``_prepared``'s own operations for them, through the
    operation table ``_run_block`` reads)."""
    count = 0
    for instr in instrs:
        size -= instr.len
        if size < 0:
            break
        op = _OPS.get(instr)
        if op is None:
            op = _prepare(instr)
        if op[0] == _OP_PUSH:
            count += 1
            continue
        if op[0] == _OP_STACK:
            count += 1
        break
    return count


def _arith_prepared(state: State, op: _Op) -> None:
    """``FunctionDataflow._arith`` for a prepared ``_OP_ARITH`` with a register or immediate source, whose
    destination is replaced whole (64 or 32 bits, not the stack pointer), without reading the instruction again
    (three getters a step: 14K such steps at 1x); the destination is known, or the mnemonic keeps an unknown one
    from staying unknown."""
    regs = state.regs
    reg, mn, size = op[1], op[3], op[4]
    dst = regs.get(reg, _UNK)
    src = _CONSTANTS[op[6]] if op[5] is None else _read_register(op[5], state)
    regs[reg] = _combined(mn, dst, src, size)


def _combined(mn: int, dst: ValueSet, src: ValueSet, size: int) -> ValueSet:
    """The value set of ``dst <mn> src`` at ``size`` bytes, each pair folded (``_fold``); an ``and`` of an
    unknown-shaped value with a constant mask gives every value the mask allows. Both arithmetic paths
    (``FunctionDataflow._arith`` and ``_arith_prepared``) combine through this one rule."""
    if len(dst) == 1 and len(src) == 1 and mn != _AND:  # one value each: no set to build
        (a,), (b,) = dst, src
        folded = _fold(mn, a, b, size)
        return _UNK if folded is UNKNOWN else frozenset((folded,))
    out = set()
    for a in dst:
        for b in src:
            if mn == _AND and isinstance(b, Const) and not isinstance(a, (Const, Addr, StackAddr)):
                out.update(masked_values(b.value & MASKS[size]))
                continue
            out.add(_fold(mn, a, b, size))
    return cap(out)


def _may_store(instr: Instruction) -> bool:
    """Whether an instruction whose first operand is memory can be a store ``_note_store`` remembers: not an
    address off the stack pointer (``_address`` gives a frame slot or nothing), not a branch or call, not an
    instruction that only reads the operand (``_NO_WRITE``; push and pop of memory write the frame only)."""
    if _FULL[instr.memory_base] == RSP or instr.flow_control != _NEXT:
        return False
    mn = instr.mnemonic
    return mn not in _NO_WRITE and mn != _PUSH and mn != _POP


def _read_register(reg: RegisterId, state: State) -> ValueSet:
    """The values a register operand reads: the full register's, narrowed to the operand's bytes."""
    shape = _SHAPE[reg]
    if shape == _PLAIN:
        return state.regs.get(_FULL[reg], _UNK)
    if shape == _STACK_POINTER:
        return _FRAME_ADDRESSES[state.rsp] if state.rsp is not None else _UNK
    values = state.regs.get(_FULL[reg], _UNK)
    if values is _UNK:  # the commonest value, the same in every width
        return values
    if shape == _HIGH:
        return frozenset(Const((v.value >> 8) & 0xFF) if isinstance(v, Const) else UNKNOWN for v in values)
    return _truncated(values, _SIZE[reg])


def _write_register(reg: RegisterId, state: State, values: ValueSet) -> None:
    """Write ``values`` to a register operand: a 32-bit write zero-extends, an 8- or 16-bit one keeps the other
    bits (``_partial``), a write to the stack pointer moves the frame (or loses it)."""
    shape = _SHAPE[reg]
    if shape == _PLAIN:
        state.regs[_FULL[reg]] = values
        return
    if shape == _STACK_POINTER:
        vals = list(values)
        state.rsp = vals[0].offset if len(vals) == 1 and isinstance(vals[0], StackAddr) else None
        return
    size = _SIZE[reg]
    full = _FULL[reg]
    if shape == _DWORD:
        state.regs[full] = values if values is _UNK else _truncated(values, size)
        return
    state.regs[full] = FunctionDataflow._partial(state.regs.get(full, _UNK), _truncated(values, size), size,
                                                 8 if shape == _HIGH else 0)


def _successors(last: Instruction, fc: int, inside: Callable[[int], bool], sites: Mapping[int, CallSite],
                orphans: Sequence[int]) -> Sequence[int]:
    """The blocks control reaches from a block that ends with ``last``: the one rule the worklist's order and
    the run of each block share. A jump out of the function and a jump through the IAT are tail calls (no
    successor); an indirect jump inside reaches the blocks nothing else enters (its jump-table cases). ``fc`` is
    ``last``'s flow control, as the set-up read it."""
    if fc == _JUMP:
        target = last.near_branch_target
        return [target] if inside(target) else []
    if fc == _COND:
        target = last.near_branch_target
        return [target, last.next_ip] if inside(target) else [last.next_ip]
    if fc == FlowControl.INDIRECT_BRANCH:
        return [] if last.ip in sites else orphans
    if fc in (FlowControl.RETURN, FlowControl.INTERRUPT, FlowControl.EXCEPTION):
        return []
    return [last.next_ip]


def _reverse_postorder(successors: Mapping[int, Sequence[int]], order: list[int], entry: int) -> dict[int, int]:
    """Each block's place in the worklist: reverse postorder of the control-flow graph (``successors``: block ->
    the blocks ``_successors`` gives, one key per block), so every block runs after all its predecessors but
    those closing a loop. In address order a shared error exit placed before the paths that jump to it (an
    epilogue inside a loop) used up its visits before the last of them arrived and those paths' values were
    lost. Blocks the search does not reach follow in address order."""
    finished: list[int] = []
    seen = {entry}
    stack = [(entry, iter(successors[entry]))]
    while stack:
        ip, todo = stack[-1]
        for succ in todo:
            if succ in successors and succ not in seen:
                seen.add(succ)
                stack.append((succ, iter(successors[succ])))
                break
        else:
            stack.pop()
            finished.append(ip)
    finished.reverse()
    finished.extend(ip for ip in order if ip not in seen)
    return {ip: i for i, ip in enumerate(finished)}


def _one_block(instrs: list[Instruction], flows: bytes, entry: int, inside: Callable[[int], bool]) -> Optional[bool]:
    """For code decoded as one piece from ``entry`` with no landing pad: whether it is one block that loops to
    itself (a jump back to the entry), False for one block that does not, None when it may be more blocks
    (``_spans`` says). One block: nothing but its last instruction makes a leader (``_LEADING``), and that one
    does not branch to an instruction inside other than the entry (nor to an address inside: ``_spans`` takes
    the rare jump into the middle of an instruction)."""
    last_index = len(instrs) - 1
    first = flows.translate(_LEADING).find(1)
    if first < 0:
        return False
    if first != last_index:
        return None
    fc = flows[last_index]
    if fc != _COND and fc != _JUMP:
        return False
    target = instrs[last_index].near_branch_target
    if target == entry:
        return True
    return None if inside(target) else False


def _spans(instrs: list[Instruction], flows: bytes, entry: int, inside: Callable[[int], bool],
           landing_pads: Collection[int], ordered: bool) -> dict[int, tuple[int, int]]:
    """The basic blocks of ``instrs`` (sorted by address; ``ordered``: no address twice, as one decoded piece)
    as leader -> (index of its first instruction, index past its last), in address order.

    Leaders are the entry, the landing pads, the targets of branches inside and the instructions after a
    branch or block end. Only the instructions that make one are looked at in Python: ``flows`` (their flow
    controls, a byte each) is searched for them (most functions have none but their last)."""
    leaders = {entry}
    if landing_pads:
        leaders.update(pad for pad in landing_pads if inside(pad))
    last_index = len(instrs) - 1
    count = len(instrs)
    marks = flows.translate(_LEADING)
    idx = marks.find(1)
    # The instructions after a branch or an end, by index (no getter; a one-piece decode needs no address).
    starts: set[int] = set()
    while idx >= 0:
        fc = flows[idx]
        if fc == _COND or fc == _JUMP:
            target = instrs[idx].near_branch_target
            if inside(target):
                leaders.add(target)
        if idx < last_index:
            starts.add(idx + 1)
        idx = marks.find(1, idx + 1)
    if ordered:
        # Only the other leaders (the entry, the pads, the branch targets) are searched for by address: a getter
        # per probe, not one per instruction.
        for leader in leaders:  # a leader that is no instruction's start (a jump into one) starts nothing
            lo, hi = 0, count
            while lo < hi:
                mid = (lo + hi) // 2
                if instrs[mid].ip < leader:
                    lo = mid + 1
                else:
                    hi = mid
            if lo < count and instrs[lo].ip == leader:
                starts.add(lo)
        order = sorted(starts)
        return {instrs[a].ip: (a, b) for a, b in zip(order, order[1:] + [count])}
    leaders.update(instrs[k].ip for k in starts)
    if len(leaders) == 1 and instrs[0].ip == entry:
        return {entry: (0, count)}
    # Pieces decoded apart may hold an address twice: its later copy starts the block again.
    spans: dict[int, tuple[int, int]] = {}
    current, first = -1, 0
    for k, instr in enumerate(instrs):
        ip = instr.ip
        if ip in leaders:
            if current >= 0:
                spans[current] = (first, k)
            current, first = ip, k
    if current >= 0:
        spans[current] = (first, count)
    return spans


#: Most values of each kind kept for reuse (the frame offsets and constants code uses are few: a guard).
_SHARED_LIMIT = 1 << 16
_K = TypeVar("_K")
_V = TypeVar("_V")


class _Shared(dict[_K, _V]):
    """Immutable values built once per key and reused: a frozen dataclass and its one-element set cost
    microseconds to build and hash, many times per instruction that touches the frame or an immediate."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[_K], _V]):
        super().__init__()
        self._make = make

    def __missing__(self, key: _K) -> _V:
        value = self._make(key)
        if len(self) < _SHARED_LIMIT:
            self[key] = value
        return value


#: ``StackAddr(offset)``; ``{StackAddr(offset)}``; ``{Load(StackAddr(offset), size)}`` (what an untouched or
#: escaped local holds); ``{Param(index)}``; ``{Const(value)}``; ``{Addr(rva)}`` (a RIP-relative operand).
_FRAME_ADDRESS: _Shared[int, StackAddr] = _Shared(StackAddr)
_FRAME_ADDRESSES: _Shared[int, ValueSet] = _Shared(lambda offset: frozenset((_FRAME_ADDRESS[offset],)))
_FRAME_LOADS: _Shared[tuple[int, int], ValueSet] = _Shared(
    lambda key: frozenset((Load(_FRAME_ADDRESS[key[0]], key[1]),)))
_PARAMETERS: _Shared[int, ValueSet] = _Shared(lambda index: frozenset((Param(index),)))
_CONSTANTS: _Shared[int, ValueSet] = _Shared(lambda value: frozenset((Const(value),)))
_IMAGE_ADDRESS: _Shared[int, Addr] = _Shared(Addr)
_IMAGE_ADDRESSES: _Shared[int, ValueSet] = _Shared(lambda rva: frozenset((_IMAGE_ADDRESS[rva],)))
#: ``{Load(Addr(rva), size)}``: what a read of writable image memory (a global) gives.
_IMAGE_LOADS: _Shared[tuple[int, int], ValueSet] = _Shared(lambda key: frozenset((make_load(Addr(key[0]), key[1]),)))


#: Value sets known to hold no frame address (``_escapes`` adds them, bounded as the shared tables): at a call, a
#: set test per register argument instead of a pass over its values.
_UNFRAMED: set[ValueSet] = {_UNK}


def _escapes(args: Sequence[ValueSet], state: State) -> Optional[list[int]]:
    """The indices of ``args`` that hold a frame address, None for none; the frame slots at those addresses
    escape (the callee may write through them)."""
    framed: Optional[list[int]] = None
    for i, values in enumerate(args):
        if values in _UNFRAMED:
            continue
        offsets = [v.offset for v in values if isinstance(v, StackAddr)]
        if not offsets:
            if len(_UNFRAMED) < _SHARED_LIMIT:
                _UNFRAMED.add(values)
            continue
        if framed is None:
            framed = [i]
        else:
            framed.append(i)
        state.escaped.update(offsets)
    return framed


def _has_stack_addr(values: ValueSet) -> bool:
    for value in values:
        if isinstance(value, StackAddr):
            return True
    return False


def _block_copy(state: State, dst: ValueSet, src: ValueSet, count: ValueSet, unit: int) -> None:
    """``count`` units of ``unit`` bytes copied from ``src`` into the frame at ``dst`` (``rep movs``, or a
    call to memcpy/memmove/RtlCopyMemory): the bytes there are a by-value copy of the source; what the
    code stores afterwards patches the copy (the one rule for every copy idiom)."""
    block = _overwrite(state, dst, count, unit)
    if block is not None and len(src) == 1:
        (origin,) = src
        if not isinstance(origin, (Unknown, StackAddr)):
            state.copies[block[0]] = (block[1], origin)


def _overwrite(state: State, dst: ValueSet, count: ValueSet, unit: int) -> Optional[tuple[int, int]]:
    """(offset, size) of a frame block ``count`` units of ``unit`` bytes long at ``dst``, its old contents
    forgotten (a block copy or fill replaces it whole); None when the block is not a known part of the frame."""
    if len(dst) != 1 or len(count) != 1:
        return None
    (d,), (n,) = dst, count
    if not (isinstance(d, StackAddr) and d.frame < 0 and isinstance(n, Const) and 0 < n.value <= MAX_BLOCK):
        return None
    offset, size = d.offset, n.value * unit
    for off in [o for o, (sz, _v) in state.stack.items() if o < offset + size and o + sz > offset]:
        del state.stack[off]
    for off in [o for o in state.copies if offset <= o < offset + size]:
        del state.copies[off]
    state.escaped.discard(offset)
    return offset, size


def _block_fill(state: State, dst: ValueSet, fill: ValueSet, count: ValueSet, unit: int) -> None:
    """``count`` units of ``unit`` bytes of the frame at ``dst`` set to ``fill`` (``rep stos``, or a call to
    memset/RtlZeroMemory/RtlFillMemory): a header zeroed this way and then partly filled has every byte known.
    With the fill unknown the old contents are only forgotten."""
    block = _overwrite(state, dst, count, unit)
    if block is None or len(fill) != 1:
        return
    offset = block[0]
    (value,), (n,) = fill, count
    pattern = fill_pattern(value, n, unit)
    if pattern is None:
        return
    pos = 0
    while pos < len(pattern):
        width = 8 if len(pattern) - pos >= 8 else 1
        chunk = int.from_bytes(pattern[pos:pos + width], "little")
        state.stack[offset + pos] = (width, frozenset((Const(chunk),)))
        pos += width
    if offset < state.low:
        state.low = offset


def _copy_origin(state: State, offset: int) -> Optional[Value]:
    """The address the 16 bytes at ``offset`` were copied from: a copy covering them (a block copy or vector
    move of a larger struct, the descriptor at any offset in it), or adjacent pieces copied from adjacent
    source addresses (two 8-byte moves, a struct copied by several vector moves)."""
    first = state.copies.get(offset)
    if first is not None:
        start, (size, origin) = offset, first
    else:
        covering = [(o, c) for o, c in state.copies.items() if o < offset < o + c[0]]
        if len(covering) != 1:
            return None
        start, (size, origin) = covering[0]
    end = start + size
    while end < offset + 16:
        piece = state.copies.get(end)
        if piece is None or piece[1] != add_offset(origin, end - start):
            return None
        end += piece[0]
    return add_offset(origin, offset - start)


def _const_raw(values: ValueSet, size: int) -> Optional[bytes]:
    if len(values) != 1 or size not in MASKS:
        return None
    (only,) = values
    if not isinstance(only, Const):
        return None
    return (only.value & MASKS[size]).to_bytes(size, "little")


def stack_bytes_partial(state: State, offset: int, size: int) -> list[Optional[int]]:
    """The bytes known to be stored at ``[offset, offset+size)`` of the frame (None where unknown)."""
    content: list[Optional[int]] = [None] * size
    end = offset + size
    for off, (slot_size, values) in state.stack.items():
        if off + slot_size <= offset or off >= end:
            continue
        raw = _const_raw(values, slot_size)
        if raw is None:
            continue
        for k in range(slot_size):
            pos = off + k - offset
            if 0 <= pos < size:
                content[pos] = raw[k]
    return content


def stack_bytes(state: State, offset: int, size: int) -> Optional[bytes]:
    known = [b for b in stack_bytes_partial(state, offset, size) if b is not None]
    if len(known) < size:  # a byte not known
        return None
    return bytes(known)


def _signed(value: int, size: int) -> int:
    bits = size * 8
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _truncate(value: Value, size: int) -> Value:
    if isinstance(value, Const):
        masked = value.value & MASKS[size]
        return value if masked == value.value else Const(masked)  # equal values: keep the object
    return value


def _truncated(values: ValueSet, size: int) -> ValueSet:
    """``values`` written to or read from a ``size``-byte register: only constants wider than it change (the
    set itself is kept when none does)."""
    mask = MASKS[size]
    for value in values:
        if isinstance(value, Const) and value.value & mask != value.value:
            return frozenset(_truncate(v, size) for v in values)
    return values


#: Value sets with no constant wider than 32 bits (``_dword`` keeps them as they are): a set test in the stepping
#: loop instead of a call per 32-bit register copy.
_NARROW_SETS: set[ValueSet] = set()


def _dword(values: ValueSet) -> ValueSet:
    """``values`` through a 32-bit register (``_truncated`` to 4 bytes), remembering the sets it keeps whole."""
    out = _truncated(values, 4)
    if out is values and len(_NARROW_SETS) < _SHARED_LIMIT:
        _NARROW_SETS.add(values)
    return out


def _fold(mn: int, a: Value, b: Value, size: int) -> Value:
    if mn == Mnemonic.XOR and size == 8 and isinstance(a, Import) != isinstance(b, Import):
        return a if isinstance(a, Import) else b  # a pointer from GetProcAddress encoded with a secret, inline
    if isinstance(b, Const):
        if mn == Mnemonic.ADD:
            return _truncate(add_offset(a, _signed(b.value, 8)), size) if not isinstance(a, Const) else Const(
                (a.value + b.value) & MASKS[size])
        if mn == Mnemonic.SUB:
            return _truncate(add_offset(a, -_signed(b.value, 8)), size) if not isinstance(a, Const) else Const(
                (a.value - b.value) & MASKS[size])
        if isinstance(a, Const):
            if mn == Mnemonic.AND:
                return Const(a.value & b.value & MASKS[size])
            if mn == Mnemonic.OR:
                return Const((a.value | b.value) & MASKS[size])
            if mn == Mnemonic.XOR:
                return Const((a.value ^ b.value) & MASKS[size])
            if mn == Mnemonic.SHL:
                return Const((a.value << (b.value & 63)) & MASKS[size])
            if mn == Mnemonic.SHR:
                return Const((a.value & MASKS[size]) >> (b.value & 63))
    return UNKNOWN
