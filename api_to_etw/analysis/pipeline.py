"""From facts to rows: find ETW call sites, resolve providers, walk the call graph back to the APIs.

The walk is per call path. A write whose REGHANDLE or descriptor arrives as a parameter is followed up
the callers, substituting each caller's arguments, until the values are concrete; only then are the
APIs above that point searched (a plain reverse breadth-first search, shared per function). So an API
reaches only the descriptors that its own path passes.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Callable, Optional

import networkx as nx

if TYPE_CHECKING:  # pragma: no cover
    from ..etw.manifest import ManifestIndex

from ..engine.base import Engine
from ..etw.apis import ApiRole, EtwApi, lookup, write_function_label
from ..model import Addr, CallSite, Facts, Value, ValueSet, cap, combinations, in_frame, params_of, substitute_all
from .events import EventResolver, Provider, handle_key
from .naming import name_rows
from .records import KIND_MANIFEST, KIND_TRACELOGGING, EventInfo, Row
from .tlgsites import find_metadata, reference_sites

log = logging.getLogger(__name__)

#: ETW API argument roles that identify an event (what the walk must make concrete).
_EVENT_ROLES = ("handle", "descriptor", "guid", "level", "keyword", "group_mask", "hook_id", "provider", "event",
                "message_guid", "message_number")
_WRITE_ROLES = {ApiRole.WRITE, ApiRole.WRITE_STRING, ApiRole.LEGACY, ApiRole.TLG_WRITE, ApiRole.WPP}
_SYSCALL = re.compile(r"^Nt[A-Z]")
#: How many caller levels a registration wrapper is followed (EtwRegister inside a helper).
REGISTER_LEVELS = 4

Progress = Callable[[str, int, int], None]


@dataclass
class AnalysisOptions:
    max_depth: int = 5
    roots: Optional[set[str]] = None
    ignore: set[str] = field(default_factory=set)
    #: Also report every write site from its own containing function, reached by an API or not.
    all_sites: bool = False
    #: Manifests and MOF tables that name the rows' events (``--manifests``); None: no naming.
    names: Optional[ManifestIndex] = None


@dataclass
class AnalysisStats:
    functions: int = 0
    call_sites: int = 0
    roots: int = 0
    write_sites: int = 0
    tracelogging_reference_sites: int = 0
    register_sites: int = 0
    wrappers: int = 0
    resolved_functions: int = 0
    unresolved_rows: int = 0
    named_rows: int = 0


@dataclass
class AnalysisResult:
    rows: list[Row]
    stats: AnalysisStats
    facts: Facts


def relevant_args(api: EtwApi, site: CallSite) -> dict[str, ValueSet]:
    """The argument value sets an API call site needs, by role, tagged with the caller's frame."""
    out = {}
    for role in _EVENT_ROLES + ("handle_out",):
        index = getattr(api, role)
        if index is not None:
            out[role] = frozenset(in_frame(v, site.caller) for v in site.arg(index))
    return out


def _params(exprs: dict[str, ValueSet]) -> set[int]:
    found: set[int] = set()
    for values in exprs.values():
        for value in values:
            found |= params_of(value)
    return found


class Analysis:
    def __init__(self, engine: Engine, options: AnalysisOptions, progress: Optional[Progress] = None):
        self.engine = engine
        self.options = options
        self.progress = progress or (lambda phase, done, total: None)
        self.stats = AnalysisStats()

    # ------------------------------------------------------------------ setup
    def run(self) -> AnalysisResult:
        self.progress("load", 0, 1)
        facts = self.engine.load()
        self.facts = facts
        self.progress("load", 1, 1)
        self.stats.functions = len(facts.functions)
        self.stats.call_sites = len(facts.calls)

        self.apis: dict[int, EtwApi] = {}
        for rva, func in facts.functions.items():
            api = lookup(func.name)
            if api is not None:
                self.apis[rva] = api
        ignored = {rva for rva, f in facts.functions.items() if f.name in self.options.ignore}
        self.ignored = ignored

        self.callers_of: dict[int, list[CallSite]] = {}
        for site in facts.calls:
            if site.caller in ignored or site.callee in ignored or site.caller in self.apis:
                continue
            self.callers_of.setdefault(site.callee, []).append(site)
        for sites in self.callers_of.values():
            sites.sort(key=lambda s: s.rva)
        self._sites_in: dict[int, list[CallSite]] = {}
        for site in facts.calls:
            self._sites_in.setdefault(site.caller, []).append(site)
        # The call graph the walk searches, grown from callers_of as the walk reaches each function: its cost
        # follows the rows produced, not the size of the binary (551,000 edges in node.exe).
        self.graph = nx.DiGraph()
        self._grown: set[int] = set()
        self.roots = self._roots()
        self.stats.roots = len(self.roots)

        self._resolve_wrappers()
        registrations = self._registrations()
        self.tlg = find_metadata(facts)
        self.ref_sites = []
        if self.tlg.events:
            self.ref_sites = [r for r in reference_sites(facts, self.tlg, self.engine)
                              if r.function not in self.apis and r.function not in self.ignored]
            self.engine.resolve(sorted({r.function for r in self.ref_sites}))
        self.stats.tracelogging_reference_sites = len(self.ref_sites)
        wpp = None
        if any(api.role == ApiRole.WPP for api in self.apis.values()):
            from ..etw.wpp import WppIndex

            wpp = WppIndex.from_annotations(
                SimpleNamespace(rva=rva, strings=strings) for rva, strings in self.engine.annotations())
            for warning in wpp.warnings:
                log.warning("WPP annotations: %s", warning)
        self.resolver = EventResolver(facts, registrations, self.tlg.provider_guid_rvas(), wpp)
        rows = self._walk()
        self.stats.unresolved_rows = sum(1 for r in rows if not r.event.resolved)
        if self.options.names is not None:
            self.stats.named_rows = name_rows(rows, self.options.names)
            log.info("%d of %d rows named from manifests", self.stats.named_rows, len(rows))
        return AnalysisResult(rows, self.stats, facts)

    def _roots(self) -> set[int]:
        funcs = self.facts.functions
        if self.options.roots is not None:
            wanted = self.options.roots
            found = {rva for rva, f in funcs.items() if f.name in wanted and not f.imported}
            missing = wanted - {funcs[r].name for r in found}
            if missing:
                log.warning("%d root names not found in the binary (e.g. %s)", len(missing), sorted(missing)[0])
        else:
            found = {
                rva for rva, f in funcs.items()
                if not f.imported and (f.exported or _SYSCALL.match(f.name))
            }
        return {r for r in found if r not in self.apis and r not in self.ignored}

    # ------------------------------------------------------------------ argument resolution
    def _api_sites(self, roles: set[ApiRole]) -> list[tuple[CallSite, EtwApi]]:
        out = []
        for rva, api in self.apis.items():
            if api.role in roles:
                for site in self.callers_of.get(rva, ()):
                    out.append((site, api))
        return out

    def _resolve_wrappers(self) -> None:
        """Resolve arguments at ETW calls, then (repeatedly) at calls to functions that pass theirs on."""
        want = _WRITE_ROLES | {ApiRole.REGISTER, ApiRole.TLG_REGISTER}
        sites = self._api_sites(want)
        self.progress("resolve", 0, 1)
        self.engine.resolve(sorted({s.caller for s, _ in sites}))
        # wrapper function -> parameter indices that flow into an ETW call's event arguments
        wrappers: dict[int, set[int]] = {}
        frontier: dict[int, set[int]] = {}
        for site, api in sites:
            needed = _params(relevant_args(api, site))
            if needed:
                frontier.setdefault(site.caller, set()).update(needed)
        levels = max(self.options.max_depth, REGISTER_LEVELS)
        for _level in range(levels):
            new: dict[int, set[int]] = {}
            for func, params in frontier.items():
                have = wrappers.setdefault(func, set())
                if params <= have and have:
                    continue
                have |= params
                new[func] = params
            if not new:
                break
            callers = {s.caller for f in new for s in self.callers_of.get(f, ())}
            self.engine.resolve(sorted(callers))
            frontier = {}
            for func, params in new.items():
                for site in self.callers_of.get(func, ()):
                    passed = {str(i): site.arg(i) for i in params}
                    needed = _params(passed)
                    if needed:
                        frontier.setdefault(site.caller, set()).update(needed)
        self.stats.wrappers = sum(1 for f, p in wrappers.items() if p)
        self.stats.resolved_functions = len(getattr(self.engine, "_resolved", ()))
        self.progress("resolve", 1, 1)

    # ------------------------------------------------------------------ registrations
    def _concretize(self, site: CallSite, exprs: dict[str, ValueSet], levels: int) -> list[dict[str, ValueSet]]:
        """Substitute callers' arguments until no parameter remains (all callers, up to ``levels``)."""
        done = []
        frontier = [(site.caller, exprs)]
        for _ in range(levels + 1):
            nxt = []
            for func, ex in frontier:
                if not _params(ex):
                    done.append(ex)
                    continue
                for caller_site in self.callers_of.get(func, ()):
                    def args(i: int, s: CallSite = caller_site) -> ValueSet:
                        return frozenset(in_frame(v, s.caller) for v in s.arg(i))
                    nxt.append((caller_site.caller, {k: substitute_all(v, args) for k, v in ex.items()}))
            frontier = nxt
        return done

    def _registrations(self) -> dict[tuple, set[Provider]]:
        resolver = EventResolver(self.facts, {})
        regs: dict[tuple, set[Provider]] = {}
        sites = self._api_sites({ApiRole.REGISTER})
        self.stats.register_sites = len(sites)
        for site, api in sites:
            exprs = {"guid": relevant_args(api, site)["guid"], "handle_out": relevant_args(api, site)["handle_out"]}
            for concrete in self._concretize(site, exprs, REGISTER_LEVELS):
                for combo in combinations(concrete):
                    provider = resolver.provider_from_guid(combo["guid"])
                    key = handle_key(combo["handle_out"])
                    if provider is not None and key is not None:
                        regs.setdefault(key, set()).add(provider)
        log.info("%d registration sites, %d REGHANDLEs with a provider", len(sites), len(regs))
        return regs

    # ------------------------------------------------------------------ the walk
    def _ancestors(self, func: int, budget: int) -> dict[int, tuple[int, Optional[int]]]:
        """Callers of ``func`` within ``budget`` edges: caller -> (distance, next function toward func)."""
        cache = self._ancestor_cache
        hit = cache.get(func)
        if hit is not None and hit[0] >= budget:
            return hit[1]
        found: dict[int, tuple[int, Optional[int]]] = {func: (0, None)}
        queue = deque([func])
        while queue:
            node = queue.popleft()
            dist = found[node][0]
            if dist >= budget:
                continue
            for caller in sorted(self._callers(node)):
                if caller in found or caller in self.apis:
                    continue
                found[caller] = (dist + 1, node)
                queue.append(caller)
        cache[func] = (budget, found)
        return found

    def _callers(self, node: int) -> Iterable[int]:
        """Direct callers of ``node`` in the call graph, adding its incoming edges on first visit."""
        if node not in self._grown:
            self._grown.add(node)
            self.graph.add_edges_from((site.caller, node) for site in self.callers_of.get(node, ()))
        pred = self.graph.pred
        return pred[node] if node in pred else ()

    def _path(self, ancestors: dict[int, tuple[int, Optional[int]]], start: int) -> list[int]:
        path = [start]
        nxt = ancestors[start][1]
        while nxt is not None:
            path.append(nxt)
            nxt = ancestors[nxt][1]
        return path

    def _walk(self) -> list[Row]:
        self._ancestor_cache: dict[int, tuple[int, dict]] = {}
        max_depth = self.options.max_depth
        funcs = self.facts.functions
        self._best: dict[tuple, tuple[tuple, Row]] = {}
        write_sites = [(s, a) for s, a in self._api_sites(_WRITE_ROLES) if s.caller not in self.apis]
        write_sites.sort(key=lambda sa: sa[0].rva)
        self.stats.write_sites = len(write_sites)
        if self.options.all_sites:
            self.roots |= {s.caller for s, _ in write_sites if s.caller not in self.ignored}
            self.roots |= {r.function for r in self.ref_sites}
        ref_functions = {r.function for r in self.ref_sites}
        covered: set[tuple[int, int]] = set()  # (function where the event became concrete, event blob)
        total = len(write_sites) + len(self.ref_sites)
        for n, (site, api) in enumerate(write_sites):
            if n % 64 == 0:
                self.progress("walk", n, total)
            exprs = {k: v for k, v in relevant_args(api, site).items() if k != "handle_out"}
            for func, concrete, suffix in self._concrete_points(site, exprs, max_depth):
                events: list[EventInfo] = []
                for combo in combinations(concrete):
                    for event in self.resolver.events(api, funcs[site.callee].name, combo):
                        if event.kind == KIND_MANIFEST and self.ref_sites and (
                                event.tracelogging_provider or (not event.resolved and site.caller in ref_functions)):
                            continue  # an inlined user-mode TraceLogging write: reported from its metadata
                        if event not in events:
                            events.append(event)
                        if event.kind == KIND_TRACELOGGING and event.event_key[1:] and isinstance(
                                event.event_key[1], int):
                            covered.add((func, event.event_key[1]))
                self._emit(func, suffix, events, site.rva)
        for n, ref in enumerate(self.ref_sites, start=len(write_sites)):
            if n % 64 == 0:
                self.progress("walk", n, total)
            if (ref.function, ref.event.rva) in covered:
                continue
            self._emit(ref.function, [ref.function], self._reference_events(ref), ref.rva)
        self.progress("walk", total, total)
        rows = [row for _rank, row in self._best.values()]
        rows.sort(key=lambda r: (r.function, r.event.kind, r.event.provider_guid, r.event.provider_symbol,
                                 r.event.descriptor_symbol, r.event.id if r.event.id is not None else -1,
                                 r.containing_function, r.call_depth))
        return rows

    def _reference_events(self, ref) -> list[EventInfo]:
        """Events of a function that takes an event blob's address, labelled with the call that passes it."""
        label = ""
        providers = ref.providers
        target = Addr(ref.event.rva)
        for site in self._sites_in.get(ref.function, ()):
            if site.args is not None and target in site.arg(1):
                label = write_function_label(self.facts.functions[site.callee].name)
                passed = tuple(p for p in (self.resolver.tlg_provider_at(v) for v in site.arg(0)) if p is not None)
                providers = passed or providers
                break
        return self.resolver.tracelogging_event(label, ref.event, providers)

    def _emit(self, func: int, suffix: list[int], events: list[EventInfo], site_rva: int) -> None:
        """Rows for every API above ``func`` within the depth budget left by ``suffix`` (func ... container)."""
        if not events:
            return
        funcs = self.facts.functions
        budget = self.options.max_depth - len(suffix)
        if budget < 0:
            return
        ancestors = self._ancestors(func, budget)
        container = funcs[suffix[-1]].name
        for root, (dist, _next) in ancestors.items():
            if root not in self.roots or dist > budget:
                continue
            path_ids = self._path(ancestors, root)[:-1] + suffix
            names = [funcs[r].name for r in path_ids]
            exported = sum(1 for r in path_ids[1:] if funcs[r].exported)
            for event in events:
                row = Row(event, funcs[root].name, container, names, exported, site_rva)
                key = row.key()
                rank = (len(names), names, site_rva)
                old = self._best.get(key)
                if old is None or rank < old[0]:
                    self._best[key] = (rank, row)

    def _concrete_points(self, site: CallSite, exprs: dict[str, ValueSet],
                         max_depth: int) -> Iterable[tuple[int, dict[str, ValueSet], list[int]]]:
        """Functions at which the event arguments become concrete, with the path from there to the site.

        Starts at the containing function; while a value still depends on a parameter, moves to each
        caller, substituting that call's arguments. A root that still has parameters yields the
        partially known values (its events are reported as unresolved).
        """
        start = site.caller
        queue = deque([(start, exprs, [start])])
        seen = {(start, tuple(sorted((k, tuple(sorted(map(repr, v)))) for k, v in exprs.items())))}
        while queue:
            func, ex, suffix = queue.popleft()
            if not _params(ex):
                yield func, ex, suffix
                continue
            if func in self.roots:
                yield func, _drop_params(ex), suffix
            if len(suffix) >= max_depth:
                continue
            for caller_site in self.callers_of.get(func, ()):
                caller = caller_site.caller
                if caller in self.apis or caller in suffix:
                    continue

                def args(i: int, s: CallSite = caller_site) -> ValueSet:
                    return frozenset(in_frame(v, s.caller) for v in s.arg(i))

                new = {k: substitute_all(v, args) for k, v in ex.items()}
                key = (caller, tuple(sorted((k, tuple(sorted(map(repr, v)))) for k, v in new.items())))
                if key in seen:
                    continue
                seen.add(key)
                queue.append((caller, new, [caller] + suffix))


def _drop_params(exprs: dict[str, ValueSet]) -> dict[str, ValueSet]:
    """Values that still depend on a parameter become unknown (the API's caller decides them)."""
    from ..model import UNKNOWN

    out = {}
    for k, values in exprs.items():
        out[k] = cap(UNKNOWN if params_of(v) else v for v in values)
    return out


def analyze(engine: Engine, options: Optional[AnalysisOptions] = None,
            progress: Optional[Progress] = None) -> AnalysisResult:
    return Analysis(engine, options or AnalysisOptions(), progress).run()


__all__ = ["AnalysisOptions", "AnalysisResult", "AnalysisStats", "analyze", "Value"]
