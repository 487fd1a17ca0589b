"""The one interface every analysis backend implements.

An engine loads a binary and answers two questions: what are the functions, call edges, symbols and
memory (``load``), and what values reach the arguments of the calls inside a set of functions
(``resolve``). Argument resolution is the expensive part, so the analysis asks for it lazily: first
for the functions that call an ETW API, then for the callers of the wrappers it discovers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Mapping
from typing import Optional

from ..model import CallSite, CaseSet, Facts, Reference, Value


class Engine(ABC):
    name: str = "engine"

    @abstractmethod
    def load(self) -> Facts:
        """Functions, call sites (arguments unresolved), symbols and memory of the binary."""

    @abstractmethod
    def resolve(self, functions: Iterable[int]) -> None:
        """Fill ``CallSite.args`` for every call site inside the given functions (by entry RVA)."""

    @abstractmethod
    def references(self, targets: Optional[Collection[int]] = None) -> list[Reference]:
        """Code that addresses data, with the function it is in: every RIP-relative ``lea`` when
        ``targets`` is None, else every instruction whose RIP-relative operand addresses one of ``targets``.

        Symbol-free TraceLogging detection needs them: the code that passes an event's metadata is
        the code that writes the event, whatever the writer helper is called.
        """

    def annotations(self) -> list[tuple[int, tuple[str, ...]]]:
        """(rva, strings) of the symbol file's annotation records (WPP's TMF/TMC); empty if none."""
        return []

    def case_guards(self, function: int, selector: Value) -> dict[int, CaseSet]:
        """For the call sites (and data-address ``lea`` instructions) of ``function`` that run only for
        some values of ``selector`` (a switch or a compare chain on it): RVA -> the case values (``None``:
        the default case). Those that run whatever the selector holds are absent. Empty by default.

        IOCTL attribution needs it: the selector is IO_STACK_LOCATION.Parameters.DeviceIoControl.IoControlCode.
        """
        return {}

    def table_calls(self, slot: int, names: Mapping[int, str]) -> list[CallSite]:
        """Calls through a table of function pointers whose address the code reads from the global ``slot``
        (``mov rax, [slot]`` then ``call [rax+off]``, or the entry loaded into a register and called, also
        through the CFG dispatch routine that takes its target in rax), for the byte offsets in ``names``.
        Each becomes a call site (arguments resolved as any other) of an imported function named
        ``names[off]``, added to the facts (asking again replaces them with the same sites). Empty by default.

        KMDF drivers call the framework this way: ``WdfFunctions[WdfDriverCreateTableIndex](...)``.
        """
        return []

    def close(self) -> None:  # noqa: B027 - optional hook, most engines hold nothing
        """Release whatever the engine holds (files, a Ghidra project)."""
