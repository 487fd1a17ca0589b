"""The argument values the analysis has asked for: the lazy resolver the analysis owns.

Engines return facts once (``Engine.load``) and answer ``resolve`` with a new ``Resolution``; this
object keeps those answers, asks the engine for each function at most once, and is where every stage
of the analysis reads a call site's argument values and the stores seen so far. It also checks the
engine's declared capabilities and warns once per missing one that a stage needed.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Collection, Iterable, Mapping
from typing import Optional

from ..engine.base import (
    ANNOTATIONS,
    ARGUMENTS,
    CASE_GUARDS,
    MISSING_EFFECT,
    REFERENCES,
    RUNTIME_BYTES,
    STORES,
    TABLE_CALLS,
    Engine,
)
from ..model import UNKNOWN, Addr, Arguments, CallSite, CaseSet, Reference, Store, Value, ValueSet

log = logging.getLogger(__name__)

UNKNOWN_SET: ValueSet = frozenset((UNKNOWN,))


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
        #: Functions a sliced engine answered for some arguments only -> {site RVA: those argument indices}.
        self._partial: dict[int, dict[int, set[int]]] = {}
        #: What a later stage will read in some functions (None: every argument of every site), added to the
        #: question of whichever ``resolve`` flows them first (``ask_later``).
        self._later: dict[int, Optional[dict[int, set[int]]]] = {}
        #: Functions handed to the engine, and how many of them it had been handed before (``-vv`` says both).
        self.flows = 0
        self.reflows = 0
        self._flowed: set[int] = set()

    def resolve(self, functions: Iterable[int], asked: Optional[Mapping[int, dict[int, set[int]]]] = None) -> None:
        """Ask the engine for the functions not asked yet (in the order given), and take their stores.

        ``asked`` names, for some of the functions, the arguments of their call sites a stage reads now: a
        sliced engine then runs only the code those need. Reading any other argument of such a function later
        asks the engine again for all of it (``arg``), so every value read is the one a full answer gives.
        A function's question is kept as the record of what it was answered for, not copied (12K functions at the
        1x scale kernel): a caller hands over maps it builds for the call and changes no more."""
        todo = []
        new = []  # not resolved before
        wanted: dict[int, dict[int, set[int]]] = {}
        resolved, partial, later = self.resolved, self._partial, self._later
        sliced = asked if asked is not None and self.engine.sliced else None
        # One pass per function (the 1x kernel's second round hands over 9,396): what is flowed, and for what.
        for rva in dict.fromkeys(functions):
            ask = sliced.get(rva) if sliced is not None else None
            covered = partial.get(rva)
            if rva not in resolved:
                new.append(rva)
            elif covered is None or (ask is not None and _covers(covered, ask)):
                continue
            todo.append(rva)
            if ask is not None:
                if rva not in later:
                    wanted[rva] = _merged(covered, ask) if covered else ask
                    continue
                more = later[rva]
                if more is not None:  # (None: all of it)
                    merged = _merged(ask, more)
                    wanted[rva] = _merged(covered, merged) if covered else merged
                    continue
            if covered is not None:  # flowed whole now: no longer answered for some arguments only
                del partial[rva]
        if not todo:
            return
        resolved.update(new)
        partial.update(wanted)
        if not self.has(ARGUMENTS):
            return
        again = len(self._flowed.intersection(todo))
        self._flowed.update(todo)
        self.flows += len(todo)
        self.reflows += again
        log.debug("data flow: %d functions, %d of them again (%d and %d in all)", len(todo), again, self.flows,
                  self.reflows)
        answer = self.engine.resolve(todo, wanted) if wanted else self.engine.resolve(todo)
        self._args.update(answer.args)
        start = len(self.stores)
        if len(new) == len(todo):
            self.stores.extend(answer.stores)
        else:  # a function asked again: its stores are known already
            first = set(new)
            self.stores.extend(store for store in answer.stores if store.function in first)
        by_function, by_global = self._by_function, self._by_global
        for pos in range(start, len(self.stores)):
            store = self.stores[pos]
            by_function.setdefault(store.function, []).append(pos)
            address = store.address
            if isinstance(address, Addr):
                if address.rva not in by_global:
                    self._global_rvas = []
                by_global.setdefault(address.rva, []).append(pos)

    def ask_later(self, asked: Mapping[int, Optional[Mapping[int, Collection[int]]]]) -> None:
        """Questions a later stage will ask (function -> {call-site RVA: argument indices}, None: all of it):
        whichever ``resolve`` flows one of those functions first asks them too, so that the later stage finds
        them answered instead of flowing the function a second time. A function never flowed before that stage
        costs nothing here."""
        later = self._later
        for rva, ask in asked.items():
            if ask is None or later.get(rva, {}) is None:
                later[rva] = None
            else:
                later[rva] = _merged(later.get(rva) or {}, ask)

    def args(self, site: CallSite) -> Optional[Arguments]:
        """The site's argument value sets, None where its function was not resolved or the engine had none.
        A function answered for some arguments only is asked for all of it first (whoever reads every
        argument of a site, as the TraceLogging writer search does, reads more sites of it next)."""
        if site.caller in self._partial:
            self.resolve([site.caller])
        return self._args.get((site.caller, site.rva))

    def answered(self, site: CallSite) -> bool:
        """True if the engine gave values for the site (its function resolved and the site reached)."""
        covered = self._partial.get(site.caller)
        if covered is not None and site.rva not in covered:
            self.resolve([site.caller])
        return (site.caller, site.rva) in self._args

    def read(self, site: CallSite, indices: Collection[int]) -> Optional[Arguments]:
        """The site's argument value sets for a caller that reads those at ``indices`` (``arg`` of each, index
        by index, is the same): a function answered for some arguments only, not all of those, is asked for
        all of it first. One check and one look-up for several reads (the wrapper stage reads 12K sites at 1x)."""
        caller, rva = site.caller, site.rva
        covered = self._partial.get(caller)
        if covered is not None:
            have = covered.get(rva)
            if have is None or not have.issuperset(indices):
                self.resolve([caller])
        return self._args.get((caller, rva))

    def arg(self, site: CallSite, index: int) -> ValueSet:
        """The value set of one argument (``{UNKNOWN}`` where nothing is known)."""
        caller, rva = site.caller, site.rva
        covered = self._partial.get(caller)
        if covered is not None:  # answered for other arguments only: ask for all of the function
            indices = covered.get(rva)
            if indices is None or index not in indices:
                self.resolve([caller])
        args = self._args.get((caller, rva))
        if args is None or index >= len(args):
            return UNKNOWN_SET
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

    def pointed_bytes(self, site: CallSite, index: int, size: int,
                      through: Optional[int] = None) -> Optional[bytes]:
        """``Engine.pointed_bytes``, if the engine declares it (else None, silently: an engine without it
        loses only what the static values could not name anyway, which the analysis reports itself)."""
        if RUNTIME_BYTES not in self.engine.capabilities:
            return None
        return self.engine.pointed_bytes(site, index, size, through)

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
                self._partial.pop(site.caller, None)
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


def _covers(covered: Mapping[int, set[int]], ask: Mapping[int, Collection[int]]) -> bool:
    return all(site in covered and covered[site].issuperset(indices) for site, indices in ask.items())


def _merged(ask: Mapping[int, Collection[int]], more: Mapping[int, Collection[int]]) -> dict[int, set[int]]:
    """Two questions about one function's call sites as one (a new map: neither is changed)."""
    out = {site: set(indices) for site, indices in ask.items()}
    for site, indices in more.items():
        out.setdefault(site, set()).update(indices)
    return out


def asked_at(calls: Iterable[tuple[CallSite, Iterable[int]]]) -> dict[int, dict[int, set[int]]]:
    """What a stage reads, for ``CallValues.resolve``: (call site, argument indices) pairs by calling function."""
    out: dict[int, dict[int, set[int]]] = {}
    for site, indices in calls:  # no dict or set made to be thrown away by setdefault (12K calls at 1x)
        sites = out.get(site.caller)
        if sites is None:
            out[site.caller] = {site.rva: set(indices)}
        elif site.rva in sites:
            sites[site.rva].update(indices)
        else:
            sites[site.rva] = set(indices)
    return out
