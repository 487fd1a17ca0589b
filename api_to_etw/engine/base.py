"""The one interface every analysis backend implements, and the contract that goes with it.

An engine loads a binary and answers questions about it:

* ``load()`` -- functions, call sites, symbols, sections, resources and memory. The returned ``Facts``
  are complete and never change afterwards: no later call fills or extends them.
* ``resolve(functions)`` -- what values reach the arguments of the calls inside those functions, and
  what they store to memory outside their frame. The answer is a new ``Resolution``, not a change to
  the facts. Argument resolution is the expensive part, so the analysis asks lazily (first the
  functions that call an ETW API, then the callers of the wrappers it discovers) through a resolver
  object it owns (``analysis.values.CallValues``), which asks each function once. It may say which
  arguments of which call sites it reads (``asked``); an engine that is ``sliced`` then computes only what
  those arguments and the function's stores depend on, and answers for them alone (the resolver asks again
  when another is read). Other engines answer for every argument whatever is asked.
* the optional questions below, each tied to a named capability in :attr:`Engine.capabilities`. An
  engine without a capability answers "nothing" (the defaults here); the analysis checks the set
  before asking and tells the user once what the missing capability costs, instead of failing silently.

Freezing (``--save-facts``) is not an engine's business: ``engine.recorder.RecordingEngine`` wraps any
engine, records what the analysis asked and what came back, and writes it as a facts file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Mapping
from typing import Optional

from ..model import CallSite, CaseSet, Facts, Reference, Resolution, Value

#: ``resolve`` gives argument values at call sites (without it every argument is unknown).
ARGUMENTS = "arguments"
#: ``resolve`` also gives the stores to globals and object fields (REGHANDLE pointers, dispatch tables).
STORES = "stores"
#: ``references`` finds the code that addresses data (TraceLogging metadata, global pointers, WPP blocks).
REFERENCES = "references"
#: ``annotations`` gives the symbol file's S_ANNOTATION records (WPP's TMF/TMC message formats).
ANNOTATIONS = "annotations"
#: ``case_guards`` tells which switch cases or compare chains guard a call (IOCTL attribution).
CASE_GUARDS = "case-guards"
#: ``Facts.memory`` reads every byte of the image (a frozen engine serves only the ranges it holds).
MEMORY = "memory"
#: ``table_calls`` finds calls through a function table held in a global (KMDF's WdfFunctions).
TABLE_CALLS = "table-calls"

#: ``pointed_bytes`` runs the image's code to learn the bytes an argument points to (a GUID computed at
#: run time). Optional: the analysis asks only where the static values name nothing, and says nothing
#: when an engine lacks it.
RUNTIME_BYTES = "runtime-bytes"

#: What ``Engine.resolve`` is asked for: function -> {call-site RVA: the argument indices read there}.
Asked = Mapping[int, Mapping[int, Collection[int]]]

CAPABILITIES = (ARGUMENTS, STORES, REFERENCES, ANNOTATIONS, CASE_GUARDS, MEMORY, TABLE_CALLS, RUNTIME_BYTES)

#: What the user loses without each capability: the text of the one warning the analysis gives.
MISSING_EFFECT = {
    ARGUMENTS: "call-site argument values are unknown: providers and events stay unresolved",
    STORES: "stores to globals are unknown: REGHANDLEs kept through pointers and DRIVER_OBJECT dispatch "
            "routines are not followed",
    REFERENCES: "data references are unknown: TraceLogging events, global pointers and WPP control blocks "
                "are not tied to code",
    ANNOTATIONS: "no PDB annotation records: WPP messages keep no format, level or flags",
    CASE_GUARDS: "no switch or compare-chain guards: the Ioctl column stays empty",
    MEMORY: "only part of the image's memory is readable: values outside it read as nothing",
    TABLE_CALLS: "calls through function tables held in globals are unknown: KMDF callbacks are no entry points",
    RUNTIME_BYTES: "GUIDs computed at run time are not evaluated: their registrations name no provider",
}


class Engine(ABC):
    name: str = "engine"
    #: The optional questions this engine answers (the constants above); checked by the analysis.
    capabilities: frozenset[str] = frozenset()
    #: ``resolve`` answers only for the arguments ``asked`` names (and may skip the code none of them needs).
    sliced: bool = False

    @abstractmethod
    def load(self) -> Facts:
        """Functions, call sites (no argument values: ``CallSite.args`` is None), symbols and memory.

        Called once; the facts it returns are never changed by the engine afterwards."""

    @abstractmethod
    def resolve(self, functions: Iterable[int], asked: Optional[Asked] = None) -> Resolution:
        """Argument values at the call sites inside the given functions (by entry RVA), and all their stores.

        ``asked`` maps some of the functions to {call-site RVA: argument indices} that are read (a function it
        does not hold: every argument of every site). A ``sliced`` engine answers for those alone (the other
        arguments of an asked site UNKNOWN); the values it gives there are those of a full answer. Each function
        may be asked more than once (the answer is the same); the analysis takes each function's stores once."""

    def references(self, targets: Optional[Collection[int]] = None) -> list[Reference]:
        """Code that addresses data, with the function it is in: every RIP-relative ``lea`` when
        ``targets`` is None, else every instruction whose RIP-relative operand addresses one of ``targets``.

        Symbol-free TraceLogging detection needs them: the code that passes an event's metadata is
        the code that writes the event, whatever the writer helper is called (capability REFERENCES).
        """
        return []

    def annotations(self) -> list[tuple[int, tuple[str, ...]]]:
        """(rva, strings) of the symbol file's annotation records (WPP's TMF/TMC); capability ANNOTATIONS."""
        return []

    def case_guards(self, function: int, selector: Value) -> dict[int, CaseSet]:
        """For the call sites (and data-address ``lea`` instructions) of ``function`` that run only for
        some values of ``selector`` (a switch or a compare chain on it): RVA -> the case values (``None``:
        the default case). Those that run whatever the selector holds are absent (capability CASE_GUARDS).

        IOCTL attribution needs it: the selector is IO_STACK_LOCATION.Parameters.DeviceIoControl.IoControlCode.
        """
        return {}

    def table_calls(self, slot: int, offsets: Collection[int]) -> list[tuple[CallSite, int]]:
        """Calls through a table of function pointers whose address the code reads from the global ``slot``
        (``mov rax, [slot]`` then ``call [rax+off]``, or the entry loaded into a register and called, also
        through the CFG dispatch routine that takes its target in rax), for the byte offsets ``offsets``:
        (call site, offset) each (capability TABLE_CALLS). A site's callee is ``slot``; it is not in the
        facts, but ``resolve`` of its function answers for it (as for every site of that function).

        KMDF drivers call the framework this way: ``WdfFunctions[WdfDriverCreateTableIndex](...)``.
        """
        return []

    def pointed_bytes(self, site: CallSite, index: int, size: int,
                      through: Optional[int] = None) -> Optional[bytes]:
        """The ``size`` bytes that argument ``index`` of ``site`` points to when the call runs, learned by
        running the code that leads to it (capability RUNTIME_BYTES); None when that cannot be known.
        With ``through``, the bytes the pointer at that offset of the pointed structure points to (the
        class GUID of a TRACE_GUID_REGISTRATION entry).

        A classic provider whose ControlGuid is derived at run time (hashed from a name) needs it: no
        instruction or data of the image holds the GUID.
        """
        return None

    def close(self) -> None:  # noqa: B027 - optional hook, most engines hold nothing
        """Release whatever the engine holds (files, a Ghidra project)."""
