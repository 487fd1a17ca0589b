"""flatline's p-code payload seen through the few Ghidra p-code methods ``engine.pcode`` calls.

flatline (Ghidra's C++ decompiler for Python) returns a function's final p-code as flat lists: ops with
an opcode name, the instruction address, input varnode ids and an output varnode id; varnodes with a
space name, offset, size, flags and their defining op. These adapters give them ``Varnode``/``PcodeOp``
/``HighFunction``-shaped methods so the one p-code translation (``PcodeTranslator``) serves both the
pyghidra engine and this one. flatline reports no basic blocks, so ``getParent()`` is None and stack
contents at a call come from the decompiler's INDIRECT guards only (which cover every address-tied
stack location a call may read).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Optional

from .. import pcode

#: flatline's opcode names -> Ghidra's opcode numbers. Standard p-code names map to their own number;
#: flatline names four ops of the final p-code after the SLEIGH pseudo-ops that share their numbers
#: (BUILD=60, DELAY_SLOT=61, LABEL=65, CROSSBUILD=66), seen on real decompilations (an INDIRECT's
#: second input is an ``iop``; a MULTIEQUAL joins control flow; a PTRSUB adds a constant to RSP).
OPCODES = {
    "COPY": pcode.COPY, "LOAD": pcode.LOAD, "STORE": pcode.STORE, "BRANCH": pcode.BRANCH,
    "CBRANCH": pcode.CBRANCH, "BRANCHIND": pcode.BRANCHIND, "CALL": pcode.CALL, "CALLIND": pcode.CALLIND,
    "CALLOTHER": pcode.CALLOTHER, "RETURN": pcode.RETURN, "INT_ZEXT": pcode.INT_ZEXT, "INT_SEXT": pcode.INT_SEXT,
    "INT_LESS": pcode.INT_LESS, "INT_LESSEQUAL": pcode.INT_LESSEQUAL, "INT_ADD": pcode.INT_ADD, "INT_SUB": pcode.INT_SUB, "INT_2COMP": pcode.INT_2COMP,
    "INT_NEGATE": pcode.INT_NEGATE, "INT_XOR": pcode.INT_XOR, "INT_AND": pcode.INT_AND, "INT_OR": pcode.INT_OR,
    "INT_LEFT": pcode.INT_LEFT, "INT_RIGHT": pcode.INT_RIGHT, "INT_SRIGHT": pcode.INT_SRIGHT,
    "INT_MULT": pcode.INT_MULT, "MULTIEQUAL": pcode.MULTIEQUAL, "INDIRECT": pcode.INDIRECT,
    "PIECE": pcode.PIECE, "SUBPIECE": pcode.SUBPIECE, "CAST": pcode.CAST, "PTRADD": pcode.PTRADD,
    "PTRSUB": pcode.PTRSUB,
    "BUILD": pcode.MULTIEQUAL, "DELAY_SLOT": pcode.INDIRECT, "LABEL": pcode.PTRADD, "CROSSBUILD": pcode.PTRSUB,
}
#: Offsets of the x86-64 SLEIGH register space -> the 64-bit register a varnode there belongs to.
REGISTERS = {0x0: "RAX", 0x8: "RCX", 0x10: "RDX", 0x18: "RBX", 0x20: "RSP", 0x28: "RBP", 0x30: "RSI",
             0x38: "RDI", 0x80: "R8", 0x88: "R9", 0x90: "R10", 0x98: "R11", 0xA0: "R12", 0xA8: "R13",
             0xB0: "R14", 0xB8: "R15"}
_UNKNOWN_OPCODE = -1


class Address:
    """An address as the translator asks about it: its offset, and whether it is on the stack."""

    __slots__ = ("offset", "stack")

    def __init__(self, offset: int, stack: bool = False):
        self.offset = offset
        self.stack = stack

    def getOffset(self) -> int:  # noqa: N802 - Ghidra's method names
        return self.offset

    def isStackAddress(self) -> bool:  # noqa: N802
        return self.stack

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Address) and (other.offset, other.stack) == (self.offset, self.stack)

    def __hash__(self) -> int:
        return hash((self.offset, self.stack))


class Varnode:
    __slots__ = ("space", "offset", "size", "is_input", "defining", "high")

    def __init__(self, space: str, offset: int, size: int, is_input: bool):
        self.space, self.offset, self.size, self.is_input = space, offset, size, is_input
        self.defining: Optional[Op] = None

    def isConstant(self) -> bool:  # noqa: N802
        return self.space == "const"

    def isAddress(self) -> bool:  # noqa: N802
        return self.space == "ram"

    def isRegister(self) -> bool:  # noqa: N802
        return self.space == "register"

    def isUnique(self) -> bool:  # noqa: N802
        return self.space == "unique"

    def isInput(self) -> bool:  # noqa: N802
        return self.is_input

    def getDef(self) -> Optional[Op]:  # noqa: N802
        return self.defining

    def getOffset(self) -> int:  # noqa: N802
        return self.offset

    def getSize(self) -> int:  # noqa: N802
        return self.size

    def getAddress(self) -> Address:  # noqa: N802
        return Address(self.offset, self.space == "stack")

    def getHigh(self) -> None:  # noqa: N802 - flatline names no high variables
        return None


class _Seq:
    __slots__ = ("target",)

    def __init__(self, target: Address):
        self.target = target

    def getTarget(self) -> Address:  # noqa: N802
        return self.target


class Op:
    __slots__ = ("opcode", "name", "inputs", "output", "seq")

    def __init__(self, name: str, address: int, inputs: list[Varnode], output: Optional[Varnode]):
        self.name = name
        self.opcode = OPCODES.get(name, _UNKNOWN_OPCODE)
        self.inputs = inputs
        self.output = output
        self.seq = _Seq(Address(address))

    def getOpcode(self) -> int:  # noqa: N802
        return self.opcode

    def getNumInputs(self) -> int:  # noqa: N802
        return len(self.inputs)

    def getInput(self, index: int) -> Optional[Varnode]:  # noqa: N802
        return self.inputs[index] if 0 <= index < len(self.inputs) else None

    def getOutput(self) -> Optional[Varnode]:  # noqa: N802
        return self.output

    def getSeqnum(self) -> _Seq:  # noqa: N802
        return self.seq

    def getParent(self) -> None:  # noqa: N802 - no basic blocks in flatline's payload
        return None


class HighFunction:
    """One decompiled function: every op, or the ops of one instruction."""

    def __init__(self, ops: list[Op]):
        self.ops = ops
        self.by_address: dict[int, list[Op]] = {}
        for op in ops:
            self.by_address.setdefault(op.seq.target.offset, []).append(op)

    def getPcodeOps(self, address: Optional[Address] = None) -> Iterator[Op]:  # noqa: N802
        if address is None:
            return iter(self.ops)
        return iter(self.by_address.get(address.getOffset(), ()))


def high_function(pcode_payload: Any) -> HighFunction:
    """Adapters over ``DecompileResult.enriched.pcode`` (``pcode_ops`` and ``varnodes``)."""
    varnodes: dict[int, Varnode] = {}
    for info in pcode_payload.varnodes:
        varnodes[info.id] = Varnode(info.space, int(info.offset), int(info.size), bool(info.flags.is_input))
    ops: dict[int, Op] = {}
    ordered = sorted(pcode_payload.pcode_ops, key=lambda o: (o.sequence_time, o.sequence_order))
    for info in ordered:
        inputs = [varnodes[i] for i in info.input_varnode_ids if i in varnodes]
        output = varnodes.get(info.output_varnode_id) if info.output_varnode_id is not None else None
        ops[info.id] = Op(info.opcode, int(info.instruction_address), inputs, output)
    for info in pcode_payload.varnodes:
        if info.defining_op_id is not None and not info.flags.is_input:
            varnodes[info.id].defining = ops.get(info.defining_op_id)
    return HighFunction([ops[i.id] for i in ordered])


def register_name(varnode: Any) -> Optional[str]:
    """The 64-bit register a register-space varnode belongs to (``ECX`` -> ``RCX``)."""
    return REGISTERS.get(varnode.getOffset()) if varnode.isRegister() else None


def call_ops(high: HighFunction) -> Iterable[Op]:
    return (op for op in high.ops if op.opcode in (pcode.CALL, pcode.CALLIND))
