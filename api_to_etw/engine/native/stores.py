"""Stores of image addresses into memory: how code hands out function pointers without calling anything.

A driver's DriverEntry fills ``DriverObject->MajorFunction[i]``, ``DriverUnload`` and
``DriverExtension->AddDevice`` with plain ``mov`` instructions. This scan runs the value-set data flow
of ``dataflow.py`` unchanged and only watches its memory writes: every store whose value may be an
image address is a fact, with the symbolic address it goes to (``Offset(Param(0), 0x70)`` is the first
MajorFunction slot of the DriverObject the function received).
"""

from __future__ import annotations

from iced_x86 import Instruction, OpKind

from ...model import Addr, CallSite, Memory, StackAddr, Store, ValueSet
from .dataflow import FunctionDataflow, State


class _StoreWatch(FunctionDataflow):
    """The data flow, recording stores of image addresses to non-stack memory."""

    def __init__(self, memory: Memory, image_base: int, image_size: int, sites: dict[int, CallSite],
                 function: int):
        super().__init__(memory, image_base, image_size, sites)
        self.function = function
        self.found: dict[tuple[int, object, object], Store] = {}

    def _write(self, instr: Instruction, state: State, values: ValueSet) -> None:
        if instr.op0_kind == OpKind.MEMORY:
            pointers = [v for v in values if isinstance(v, Addr)]
            if pointers:
                for addr in self._address(instr, state):
                    if isinstance(addr, StackAddr):
                        continue
                    for value in pointers:
                        self.found.setdefault((instr.ip, addr, value), Store(instr.ip, self.function, addr, value))
        super()._write(instr, state, values)


def scan_stores(memory: Memory, image_base: int, image_size: int, function: int,
                pieces: list[tuple[int, int]], sites: dict[int, CallSite]) -> list[Store]:
    """Stores of image addresses in one function (its code ``pieces``), in address order."""
    watch = _StoreWatch(memory, image_base, image_size, sites, function)
    watch.run(pieces)
    return sorted(watch.found.values(), key=lambda s: (s.rva, repr(s.address), repr(s.value)))
