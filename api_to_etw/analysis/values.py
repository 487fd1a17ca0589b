"""The argument values the analysis has asked for: the lazy resolver the analysis owns.

Engines return facts once (``Engine.load``) and answer ``resolve`` with a new ``Resolution``; this
object keeps those answers, asks the engine for each function at most once, and is where every stage
of the analysis reads a call site's argument values and the stores seen so far. It also checks the
engine's declared capabilities and warns once per missing one that a stage needed.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Collection, Iterable
from typing import Optional

from ..engine.base import (
    ANNOTATIONS,
    ARGUMENTS,
    CASE_GUARDS,
    MISSING_EFFECT,
    REFERENCES,
    STORES,
    TABLE_CALLS,
    Engine,
)
from ..model import UNKNOWN, Addr, Arguments, CallSite, CaseSet, Reference, Store, Value, ValueSet

log = logging.getLogger(__name__)

_UNKNOWN_SET: ValueSet = frozenset((UNKNOWN,))


class CallValues:
    """Argument values by call site and the stores of the resolved functions, filled on demand."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.resolved: set[int] = set()
        self.stores: list[Store] = []
        #: Positions in ``stores``: by the function that made the store, and by the global it stores to
        #: (one index every question about stores is answered from, instead of a scan per question).
        self._by_function: dict[int, list[int]] = {}
        self._by_global: dict[int, list[int]] = {}
        self._global_rvas: list[int] = []  # the keys of _by_global, sorted (emptied when a global is added)
        self._args: dict[tuple[int, int], Arguments] = {}
        self._warned: set[str] = set()

    def resolve(self, functions: Iterable[int]) -> None:
        """Ask the engine for the functions not asked yet (in the order given)."""
        todo = [rva for rva in dict.fromkeys(functions) if rva not in self.resolved]
        if not todo:
            return
        self.resolved.update(todo)
        if not self.has(ARGUMENTS):
            return
        answer = self.engine.resolve(todo)
        self._args.update(answer.args)
        start = len(self.stores)
        self.stores.extend(answer.stores)
        for pos in range(start, len(self.stores)):
            store = self.stores[pos]
            self._by_function.setdefault(store.function, []).append(pos)
            if isinstance(store.address, Addr):
                if store.address.rva not in self._by_global:
                    self._global_rvas = []
                self._by_global.setdefault(store.address.rva, []).append(pos)

    def args(self, site: CallSite) -> Optional[Arguments]:
        """The site's argument value sets, None where its function was not resolved or the engine had none."""
        return self._args.get((site.caller, site.rva))

    def arg(self, site: CallSite, index: int) -> ValueSet:
        """The value set of one argument (``{UNKNOWN}`` where nothing is known)."""
        args = self._args.get((site.caller, site.rva))
        if args is None or index >= len(args):
            return _UNKNOWN_SET
        return args[index]

    def stores_in(self, functions: Iterable[int]) -> list[Store]:
        """The stores the resolved ``functions`` made, in the order they were recorded (warns once when
        the engine records none)."""
        self.has(STORES)
        by_function = self._by_function
        return self._at(sorted(p for f in dict.fromkeys(functions) for p in by_function.get(f, ())))

    def stores_to(self, start: int, end: int) -> list[Store]:
        """The stores to global addresses in ``[start, end)``, in the order they were recorded."""
        self.has(STORES)
        if not self._global_rvas and self._by_global:
            self._global_rvas = sorted(self._by_global)
        rvas = self._global_rvas
        found = rvas[bisect_left(rvas, start):bisect_left(rvas, end)]
        return self._at(sorted(p for rva in found for p in self._by_global[rva]))

    def _at(self, positions: list[int]) -> list[Store]:
        stores = self.stores
        return [stores[p] for p in positions]

    def references(self, targets: Optional[Collection[int]] = None) -> list[Reference]:
        """``Engine.references``, if the engine declares it (else empty, warned once)."""
        return self.engine.references(targets) if self.has(REFERENCES) else []

    def annotations(self) -> list[tuple[int, tuple[str, ...]]]:
        """``Engine.annotations``, if the engine declares it (else empty, warned once)."""
        return self.engine.annotations() if self.has(ANNOTATIONS) else []

    def case_guards(self, function: int, selector: Value) -> dict[int, CaseSet]:
        """``Engine.case_guards``, if the engine declares it (else empty, warned once)."""
        return self.engine.case_guards(function, selector) if self.has(CASE_GUARDS) else {}

    def table_calls(self, slot: int, offsets: Collection[int]) -> list[tuple[CallSite, int]]:
        """``Engine.table_calls``, if the engine declares it (else empty, warned once). The callers of the
        sites found are asked again on their next ``resolve``: their earlier answer lacks these sites."""
        if not self.has(TABLE_CALLS):
            return []
        found = self.engine.table_calls(slot, offsets)
        for site, _offset in found:
            if (site.caller, site.rva) not in self._args:
                self.resolved.discard(site.caller)
        return found

    def has(self, capability: str) -> bool:
        """True if the engine declares ``capability``; else one warning that says what is lost."""
        if capability in self.engine.capabilities:
            return True
        if capability not in self._warned:
            self._warned.add(capability)
            log.warning("engine %s cannot give %s: %s", self.engine.name, capability,
                        MISSING_EFFECT.get(capability, "its answers are empty"))
        return False
