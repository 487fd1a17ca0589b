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
from collections.abc import Collection, Iterable, Sequence
from itertools import islice
from operator import attrgetter
from types import SimpleNamespace
from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

    from ..etw.manifest import ManifestIndex

from ..collector import collector_paused, keep_to_exit
from ..engine.base import MEMORY, Engine
from ..etw.apis import REGISTER_ROLES, ApiRole, EtwApi, lookup_all, write_function_label
from ..etw.descriptor import format_guid
from ..fieldclass import Mutable
from ..model import (
    MAX_VALUES,
    Addr,
    CallSite,
    Const,
    Facts,
    Load,
    Param,
    StackAddr,
    Value,
    ValueSet,
    cap,
    combinations,
    forget_params,
    in_frame_all,
    params_of,
    substitute_all,
)
from .embedded import embedded_index, embedded_manifest, unreferenced_rows
from .entries import MAX_REACH_NODES, EntryFinder, EntryPoints, EntryReach, IoctlAttribution
from .events import EventResolver, Provider, context_field_key, fold_pointers, location_key, pointer_globals
from .naming import name_rows
from .records import KIND_CLASSIC, KIND_MANIFEST, KIND_TRACELOGGING, EventInfo, Row
from .sites import sites_by_callee, sites_by_caller
from .tlgbind import WriterCallees, bind, helper_chain, write_call, writer_functions
from .values import UNKNOWN_SET, CallValues, asked_at
from .wppsites import control_guids, import_thunks, unnamed_trace_wrappers

log = logging.getLogger(__name__)
#: What the TraceLogging writer search reads at the calls of a function that references an event's metadata:
#: the provider and the metadata a writer helper is passed (``_write_call``, ``_reference_events``).
_WRITER_ARGS = (0, 1)
#: The arguments of a call that may reach a wrapper's parameters (``_passed_args``): rcx, rdx, r8, r9 and the
#: four stack arguments the native engine records (with fewer, 121 functions of the 1x kernel were flowed again).
_PASSED_ARGS = tuple(range(8))

_WRITE_ROLES = {ApiRole.WRITE, ApiRole.WRITE_STRING, ApiRole.LEGACY, ApiRole.TLG_WRITE, ApiRole.WPP,
                ApiRole.CLASSIC_WRITE}
_SYSCALL = re.compile(r"^Nt[A-Z]")
_NAME = attrgetter("name")
_new_object = object.__new__
_caller = attrgetter("caller")
#: How many caller levels a registration wrapper is followed (EtwRegister inside a helper).
REGISTER_LEVELS = 4
#: Class GUIDs asked of the run-time evaluator per classic registration (each is one bounded question).
MAX_RUNTIME_CLASSES = 4
#: sizeof(TRACE_GUID_REGISTRATION): {LPCGUID Guid; HANDLE RegHandle}.
TRACE_GUID_REGISTRATION_SIZE = 16
#: Most (function, values) states one substitution walk up the callers visits; beyond it the walk stops
#: and records why (a wrapper fanned in through many call sites would otherwise grow exponentially).
MAX_WALK_STATES = 20000
#: ``_dependence`` of a set that is one constant or image address, and of one that is one parameter.
_FIXED = (False, False)
_PARAMETER = (True, True)

Progress = Callable[[str, int, int], None]


# AnalysisOptions and AnalysisResult are plain classes, not dataclasses: each is made once per analysis and
# never compared, so they need none of a dataclass's generated methods, which are compiled when the module
# is imported (2-3 M instructions a class, on every run).
class AnalysisOptions:
    """What the analysis is asked for (the command line's options)."""

    __slots__ = ("max_depth", "roots", "ignore", "all_sites", "names", "unreferenced")

    def __init__(self, max_depth: int = 5, roots: Optional[set[str]] = None, ignore: Optional[set[str]] = None,
                 all_sites: bool = False, names: Optional[ManifestIndex] = None, unreferenced: bool = False) -> None:
        self.max_depth = max_depth
        self.roots = roots
        self.ignore: set[str] = ignore if ignore is not None else set()
        #: Also report every write site from its own containing function, reached by an API or not.
        self.all_sites = all_sites
        #: Manifests and MOF tables that name the rows' events (``--manifests``); None: no naming.
        #: They add to and override the binary's own manifest (WEVT_TEMPLATE), which names rows by itself.
        self.names = names
        #: Also list the events the binary's own manifest defines but no write site emits.
        self.unreferenced = unreferenced


class AnalysisStats(Mutable):
    """Counts of what the analysis saw and did, and the notes it leaves for the command to say. (A dataclass
    once, for its fields said once; written out, so that no class of the analyze path is a dataclass and no run
    imports ``dataclasses``, ``inspect``, ``ast`` and ``dis`` for it: about 34 M instructions.)"""

    functions: int
    call_sites: int
    roots: int
    write_sites: int
    tracelogging_reference_sites: int
    register_sites: int
    wrappers: int
    resolved_functions: int
    unresolved_rows: int
    named_rows: int
    entry_points: int
    unreached_rows: int
    #: Why a walk was cut short ("truncated: ..."), one line per cut.
    truncated: list[str]
    #: Classic registrations whose control GUID is no constant of the image (computed at run time or
    #: passed in from outside): one line each, said when classic rows are left without a provider.
    runtime_controls: list[str]
    _fields = ("functions", "call_sites", "roots", "write_sites", "tracelogging_reference_sites", "register_sites",
               "wrappers", "resolved_functions", "unresolved_rows", "named_rows", "entry_points", "unreached_rows",
               "truncated", "runtime_controls")

    def __init__(self, functions: int = 0, call_sites: int = 0, roots: int = 0, write_sites: int = 0,
                 tracelogging_reference_sites: int = 0, register_sites: int = 0, wrappers: int = 0,
                 resolved_functions: int = 0, unresolved_rows: int = 0, named_rows: int = 0, entry_points: int = 0,
                 unreached_rows: int = 0, truncated: Optional[list[str]] = None,
                 runtime_controls: Optional[list[str]] = None) -> None:
        self.functions = functions
        self.call_sites = call_sites
        self.roots = roots
        self.write_sites = write_sites
        self.tracelogging_reference_sites = tracelogging_reference_sites
        self.register_sites = register_sites
        self.wrappers = wrappers
        self.resolved_functions = resolved_functions
        self.unresolved_rows = unresolved_rows
        self.named_rows = named_rows
        self.entry_points = entry_points
        self.unreached_rows = unreached_rows
        self.truncated = [] if truncated is None else truncated
        self.runtime_controls = [] if runtime_controls is None else runtime_controls


class AnalysisResult:
    """The rows, the counts and the facts they came from."""

    __slots__ = ("rows", "stats", "facts", "root_names", "max_depth", "walked_callers", "etw_apis")

    def __init__(self, rows: list[Row], stats: AnalysisStats, facts: Facts, root_names: frozenset[str] = frozenset(),
                 max_depth: Optional[int] = None, walked_callers: Optional[dict[int, list[int]]] = None,
                 etw_apis: frozenset[int] = frozenset()) -> None:
        self.rows = rows
        self.stats = stats
        self.facts = facts
        #: Names of the API roots (syscalls, exports, ``--roots``; with ``--all-sites`` the write sites too).
        self.root_names = root_names
        #: ``--max-depth`` of the walk: longer rows are those of event sites nothing reaches within it.
        self.max_depth = max_depth
        #: Function -> its direct callers, for every function the walk reached (``call_graph``).
        self.walked_callers: dict[int, list[int]] = walked_callers if walked_callers is not None else {}
        #: RVAs of the ETW APIs the analysis recognised (by name, import thunk or unnamed trace wrapper).
        self.etw_apis = etw_apis

    def call_graph(self) -> nx.DiGraph:
        """The call graph the walk searched, as networkx edges (caller -> callee); see ``call_graph``."""
        return call_graph(self.walked_callers)

    def api_rows(self) -> list[Row]:
        """The rows an API root reaches within the depth (without those of events reached only from other
        entry points, or only beyond the depth)."""
        return [r for r in self.rows if r.function in self.root_names and r.entry != "unreached"
                and (self.max_depth is None or r.call_depth <= self.max_depth)]


def call_graph(callers: dict[int, list[int]]) -> nx.DiGraph:
    """Caller lists as a networkx DiGraph, made only where a graph is read: the walk searches the sorted
    lists themselves, and filling a DiGraph beside them cost the walk a tenth of its time at 1x (networkx's
    import, which loads every algorithm it has, and one edge per caller) with nothing reading it."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_edges_from((caller, n) for n, known in callers.items() for caller in known)
    return graph


class CallerLists(dict):
    """Node -> its direct callers in the call graph, sorted (callers_of holds no ETW API's call, so none is
    an API), callers by a call before callers through a funclet edge; made from ``callers_of`` when a node
    is first read (``__missing__``) and kept (a node's callers are complete once read: they never change
    after). A third of the walked nodes have no caller and a quarter one, which need no set and no sort.
    Read by subscript, a known node costs no Python call (the searches read about 100,000 at 1x)."""

    __slots__ = ("callers_of", "funclets")

    def __init__(self, callers_of: dict[int, list[CallSite]], funclets: Collection[tuple[int, int]]) -> None:
        super().__init__()
        self.callers_of = callers_of
        self.funclets = funclets

    def __missing__(self, node: int) -> list[int]:
        sites = self.callers_of.get(node)
        if not sites:
            known = []
        elif len(sites) == 1:
            known = [sites[0].caller]
        else:
            count = len(sites)
            if count == 2:  # two or three callers (a quarter of the walked nodes): no set and no sort call
                first, second = sites[0].caller, sites[1].caller
                known = [first] if first == second else [first, second] if first < second else [second, first]
            elif count == 3:
                first, second, third = sites[0].caller, sites[1].caller, sites[2].caller
                if first > second:
                    first, second = second, first
                if second > third:
                    second, third = third, second
                    if first > second:
                        first, second = second, first
                known = [first, second, third] if first != second != third else sorted({first, second, third})
            else:
                known = sorted(set(map(_caller, sites)))  # a caller calling twice is one edge
            funclets = self.funclets
            if funclets:  # callers by a call first: a funclet runs only when an exception unwinds its parent
                by_call = {site.caller for site in sites if site.rva != node}  # a funclet edge's site is the funclet
                known.sort(key=lambda caller: ((caller, node) in funclets and caller not in by_call, caller))
        self[node] = known
        return known


def relevant_args(roles: Iterable[tuple[str, int]], site: CallSite, values: CallValues,
                  slots: Collection[int] = ()) -> dict[str, ValueSet]:
    """The argument value sets an API call site needs, by role (``EtwApi.roles``), tagged with the caller's frame.
    ``slots``: the roles' argument indices (``EtwApi.argument_slots``), read with one ``CallValues.read``."""
    caller = site.caller
    args = values.read(site, slots or [index for _role, index in roles]) or ()
    count = len(args)
    found: dict[str, ValueSet] = {}
    for role, index in roles:  # a loop, not a comprehension: that is a function made and called per site
        found[role] = in_frame_all(args[index], caller) if index < count else UNKNOWN_SET
    return found


def _params(exprs: dict[str, ValueSet]) -> set[int]:
    found: set[int] = set()
    for values in exprs.values():
        _add_params(values, found)
    return found


def _add_params(values: Iterable[Value], found: set[int]) -> None:
    """Add to ``found`` the parameters the values depend on (``params_of``), with no call and no new set for a
    constant, an image address or a parameter itself: nearly every value an argument has (the wrapper stage
    reads 9,396 calls' at the 1x kernel)."""
    for value in values:
        kind = type(value)
        if kind is Const or kind is Addr:
            continue
        if isinstance(value, Param):
            found.add(value.index)
        else:
            found.update(params_of(value))


class Analysis:
    def __init__(self, engine: Engine, options: AnalysisOptions, progress: Optional[Progress] = None):
        self.engine = engine
        #: The argument values, stores and other answers asked of the engine (the analysis owns them).
        self.values = CallValues(engine)
        self.options = options
        self.progress = progress or (lambda phase, done, total: None)
        self.stats = AnalysisStats()

    # ------------------------------------------------------------------ setup
    def run(self) -> AnalysisResult:
        self.progress("load", 0, 1)
        facts = self.engine.load()
        self.facts = facts
        self.values.has(MEMORY)  # a partial image (an incomplete facts file) is said once, here
        self.progress("load", 1, 1)
        self.stats.functions = len(facts.functions)
        self.stats.call_sites = len(facts.calls)

        self.apis: dict[int, EtwApi] = lookup_all(zip(facts.functions, map(_NAME, facts.functions.values())))
        self.apis.update(import_thunks(facts, self.apis))  # without symbols (analysis/wppsites.py)
        self.apis.update(unnamed_trace_wrappers(facts, self.values, self.apis))
        ignore = self.options.ignore
        ignored = {rva for rva, f in facts.functions.items() if f.name in ignore} if ignore else set()
        self.ignored = ignored

        # Both site maps once, for every stage (analysis/sites.py): the calls each function makes, in the
        # facts' order, and the calls of each function by RVA, without those an ETW API or an ignored
        # function makes.
        self._sites_in: dict[int, list[CallSite]] = sites_by_caller(facts.calls)
        self.callers_of: dict[int, list[CallSite]] = sites_by_callee(facts.calls, self._sites_in,
                                                                     ignored | set(self.apis), ignored)
        # The call graph the walk searches is grown from callers_of as the walk reaches each function
        # (``_caller_lists``): its cost follows the rows produced, not the size of the binary (551,000 edges
        # in node.exe).
        #: node -> its direct callers, sorted: a node's list is made on its first visit and never changes after.
        self._caller_lists = CallerLists(self.callers_of, facts.funclets)
        #: (caller, call RVA, callee) -> the ETW call's argument value sets by role (``_site_args``).
        self._relevant: dict[tuple[int, int, int], dict[str, ValueSet]] = {}
        #: ETW API callee -> ``EtwApi.roles`` of its API (``_roles``).
        self._roles_of: dict[int, tuple[tuple[tuple[str, int], ...], tuple[int, ...]]] = {}
        self.roots = self._roots()
        #: The API roots proper (``--all-sites`` adds write sites to ``roots`` later).
        self.api_roots = frozenset(self.roots)
        self.stats.roots = len(self.roots)

        # TraceLogging metadata first (it reads no argument values): the functions that reference an event's
        # metadata are then asked, whenever they are resolved, for what the writer search reads.
        self.tlg = bind(facts, self.values, self._sites_in)
        for warning in self.tlg.warnings:
            log.warning("TraceLogging metadata: %s", warning)
        self.ref_sites = []
        if self.tlg.events:
            self.ref_sites = [r for r in self.tlg.sites
                              if r.function not in self.apis and r.function not in self.ignored]
        self._referrers = sorted({r.function for r in self.ref_sites})
        # The entry finder's questions first: the functions the resolution flows are then asked what the finder
        # reads in them too (a function is flowed once).
        finder = EntryFinder(facts, self.values, self.callers_of, self._sites_in)
        finder.ask_first()
        self._resolve_wrappers()
        self.entries: EntryPoints = finder.run(self.roots)
        #: The image's own functions (not imports): the finder's set, which the beyond-depth search reads too.
        self._code = finder.code
        self.stats.entry_points = len(self.entries.kinds)
        self.ioctl = IoctlAttribution(self.entries, self.values, self._sites_in)
        self.pointers = self._assigned_once()
        registrations, classes, class_rvas, instances = self._registrations()
        facts.memory.release()  # the pages the entry and registration scans touched (as bind did here before)
        if self._referrers:
            self.values.resolve(self._referrers, self._writer_args(self._referrers, {}))
        self.stats.tracelogging_reference_sites = len(self.ref_sites)
        wpp = None
        if any(api.role == ApiRole.WPP for api in self.apis.values()):
            from ..etw.wpp import WppIndex

            wpp = WppIndex.from_annotations(
                SimpleNamespace(rva=rva, strings=strings) for rva, strings in self.values.annotations())
            for warning in wpp.warnings:
                log.warning("WPP annotations: %s", warning)
        self.resolver = EventResolver(facts, registrations, self.tlg.provider_guid_rvas(), wpp, classes)
        self.resolver.class_rvas = class_rvas
        self.resolver.instances = instances
        self.resolver.pointers = self.pointers
        if wpp is not None:
            self.resolver.wpp_controls = control_guids(facts, self.values)
        rows = self._walk()
        # One loop, not ``sum`` over filtered generators: those are called once and one of them, its filter
        # mostly false, ran on CPython 3.11's generic bytecode to the end.
        unresolved = unreached = 0
        for r in rows:
            if not r.event.resolved:
                unresolved += 1
            if r.entry == "unreached":
                unreached += 1
        self.stats.unresolved_rows, self.stats.unreached_rows = unresolved, unreached
        for reason in self.stats.truncated:
            log.warning("%s", reason)
        if self.stats.runtime_controls and self._api_sites({ApiRole.CLASSIC_WRITE}):
            orphans = sum(1 for r in rows if r.event.kind == KIND_CLASSIC and not r.event.provider_guid)
            for control in self.stats.runtime_controls:
                log.warning("%s, so its classic writes have no provider (%d rows here; --all-sites lists every "
                            "write site)", control, orphans)
        embedded = embedded_manifest(facts)
        if self.options.unreferenced:
            rows += unreferenced_rows(embedded, self._written)
        indexes = [i for i in (self.options.names, embedded_index(embedded, facts.binary_name)) if i is not None]
        if indexes:
            self.stats.named_rows = name_rows(rows, indexes)
            log.info("%d of %d rows named from manifests", self.stats.named_rows, len(rows))
        return AnalysisResult(rows, self.stats, facts, frozenset(facts.functions[r].name for r in self.roots),
                              self.options.max_depth, self._caller_lists, frozenset(self.apis))

    def _roots(self) -> set[int]:
        funcs = self.facts.functions
        if self.options.roots is not None:
            wanted = self.options.roots
            found = {rva for rva, f in funcs.items() if f.name in wanted and not f.imported}
            missing = wanted - {funcs[r].name for r in found}
            if missing:
                log.warning("%d root names not found in the binary (e.g. %s)", len(missing), sorted(missing)[0])
        else:  # the prefix test before the regex: a match per name was a sixth of this pass (40,000 at 1x)
            # (a loop, not a filtered comprehension: that, called once with its filter mostly false, ran on
            # CPython 3.11's generic bytecode to the end)
            found = set()
            for rva, f in funcs.items():
                if not f.imported and (f.exported or (f.name.startswith("Nt") and _SYSCALL.match(f.name))):
                    found.add(rva)
        return {r for r in found if r not in self.apis and r not in self.ignored}

    # ------------------------------------------------------------------ argument resolution
    def _api_sites(self, roles: set[ApiRole]) -> list[tuple[CallSite, EtwApi]]:
        out = []
        for rva, api in self.apis.items():
            if api.role in roles:
                for site in self.callers_of.get(rva, ()):
                    out.append((site, api))
        return out

    def _writer_args(self, functions: Iterable[int], asked: dict[int, dict[int, set[int]]]
                     ) -> dict[int, dict[int, set[int]]]:
        """``asked`` with what the TraceLogging writer search reads at every call of the referrers among
        ``functions`` (so that resolving them once serves it)."""
        referrers = set(self._referrers)
        sites_in = self._sites_in
        for func in filter(referrers.__contains__, functions):  # in C: most functions are none (9,396 at 1x)
            sites = asked.get(func)
            if sites is None:
                sites = asked[func] = {}
            for site in sites_in.get(func, ()):  # no set made to be thrown away by setdefault
                have = sites.get(site.rva)
                if have is None:
                    sites[site.rva] = set(_WRITER_ARGS)
                else:
                    have.update(_WRITER_ARGS)
        return asked

    def _passed_args(self, callers: Sequence[int], asked: dict[int, dict[int, set[int]]]
                     ) -> dict[int, dict[int, set[int]]]:
        """``asked`` with every argument of the calls from one of ``callers`` (the functions that call an ETW
        API) to another: a callee among them may turn out to pass its parameters on (a wrapper), and the next
        round then asks for them at its callers; asked now, a caller is not flowed a second time for them."""
        among = set(callers)
        for func in callers:
            for site in self._sites_in.get(func, ()):
                if site.callee in among:
                    asked.setdefault(func, {}).setdefault(site.rva, set()).update(_PASSED_ARGS)
        return asked

    def _resolve_wrappers(self) -> None:
        """Resolve arguments at ETW calls, then (repeatedly) at calls to functions that pass theirs on."""
        want = _WRITE_ROLES | {ApiRole.REGISTER, ApiRole.TLG_REGISTER, ApiRole.CLASSIC_REGISTER,
                               ApiRole.CLASSIC_INSTANCE}
        sites = self._api_sites(want)
        self.progress("resolve", 0, 1)
        callers = sorted({s.caller for s, _ in sites})
        # Each API's argument slots once (17 attribute reads and a sort each; 3,030 calls at the 1x kernel).
        slots = {rva: api.argument_slots for rva, api in self.apis.items()}
        asked = self._writer_args(callers, asked_at((s, slots[s.callee]) for s, _api in sites))
        self.values.resolve(callers, self._passed_args(callers, asked))
        # wrapper function -> parameter indices that flow into an ETW call's event arguments
        wrappers: dict[int, set[int]] = {}
        frontier: dict[int, set[int]] = {}
        for site, api in sites:
            needed = _params(self._site_args(site, api))
            if needed:
                frontier.setdefault(site.caller, set()).update(needed)
        levels = max(self.options.max_depth, REGISTER_LEVELS)
        read = self.values.read
        for level in range(levels):
            new: dict[int, set[int]] = {}
            for func, params in frontier.items():
                have = wrappers.setdefault(func, set())
                if params <= have and have:
                    continue
                have |= params
                new[func] = params
            if not new:
                break
            calls = [(s, params) for f, params in new.items() for s in self.callers_of.get(f, ())]
            callers = sorted({s.caller for s, _ in calls})
            self.values.resolve(callers, self._writer_args(callers, asked_at(calls)))
            if level == levels - 1:  # these callers' values are for the walk: no level reads what they pass on
                break
            frontier = {}
            for site, params in calls:  # the parameters of its own that a caller passes on to a wrapper
                args = read(site, params)  # (no argument known: nothing passed on)
                if args is None:
                    continue
                count = len(args)
                passed: set[int] = set()
                for index in params:
                    if index < count:
                        _add_params(args[index], passed)
                if passed:
                    frontier.setdefault(site.caller, set()).update(passed)
        self.stats.wrappers = sum(1 for f, p in wrappers.items() if p)
        self.stats.resolved_functions = len(self.values.resolved)
        self.progress("resolve", 1, 1)

    def _site_args(self, site: CallSite, api: EtwApi) -> dict[str, ValueSet]:
        """``relevant_args`` of an ETW call, once per call (the wrapper stage, the registrations, the
        pointer globals and the walk all read them; an answered site's values do not change). Read only."""
        key = (site.caller, site.rva, site.callee)
        found = self._relevant.get(key)
        if found is None:
            roles, slots = self._roles(site, api)
            found = self._relevant[key] = relevant_args(roles, site, self.values, slots)
        return found

    def _roles(self, site: CallSite, api: EtwApi) -> tuple[tuple[tuple[str, int], ...], tuple[int, ...]]:
        """``EtwApi.roles`` and ``argument_slots`` of the API ``site`` calls, once per callee (17 attribute
        reads each time otherwise)."""
        roles = self._roles_of.get(site.callee)
        if roles is None:
            roles = self._roles_of[site.callee] = (api.roles, api.argument_slots)
        return roles

    # ------------------------------------------------------------------ registrations
    def _concretize(self, site: CallSite, exprs: dict[str, ValueSet], levels: int) -> list[dict[str, ValueSet]]:
        """Substitute callers' arguments until no parameter remains (all callers, up to ``levels``).

        Each (function, values) state is expanded once: call sites that pass the same values collapse,
        so a wrapper called from K sites through L levels costs K*L substitutions, not K**L.
        """
        done: list[dict[str, ValueSet]] = []
        done_keys: set[tuple] = set()
        frontier = [(site.caller, exprs)]
        seen = {(site.caller, _exprs_key(exprs))}
        for _ in range(levels + 1):
            nxt = []
            for func, ex in frontier:
                if not _params(ex):
                    key = _exprs_key(ex)
                    if key not in done_keys:
                        done_keys.add(key)
                        done.append(ex)
                    continue
                for caller_site in self.callers_of.get(func, ()):
                    def args(i: int, s: CallSite = caller_site) -> ValueSet:
                        return in_frame_all(self.values.arg(s, i), s.caller)
                    new = {k: substitute_all(v, args) for k, v in ex.items()}
                    state = (caller_site.caller, _exprs_key(new))
                    if state in seen:
                        continue
                    if len(seen) >= MAX_WALK_STATES:
                        self.stats.truncated.append(
                            f"truncated: registration at 0x{site.rva:x}: more than {MAX_WALK_STATES} caller states")
                        return done
                    seen.add(state)
                    nxt.append((caller_site.caller, new))
            frontier = nxt
        return done

    def _registrations(self) -> tuple[dict[tuple, set[Provider]], dict[str, set[Provider]], dict[str, int],
                                      dict[tuple, str]]:
        """REGHANDLE location -> providers (manifest), class GUID -> control GUIDs (classic), and the
        EVENT_INSTANCE_INFOs CreateTraceInstanceId fills from a class's RegHandle -> that class (classic).

        Besides the REGHANDLE's own address, a registration is keyed by where its code keeps a pointer
        to it (the out-pointer also stored to a global: ``("deref", global)``) and by the field of the
        CallbackContext object that holds it (``("field", offset, depth)``), so writes that reach the
        handle through that object (``[[this+0x58]]``) find their provider.
        """
        resolver = EventResolver(self.facts, {})
        resolver.pointers = self.pointers
        regs: dict[tuple, set[Provider]] = {}
        classes: dict[str, set[Provider]] = {}
        class_rvas: dict[str, int] = {}
        class_handles: dict[tuple, str] = {}
        sites = self._api_sites({ApiRole.REGISTER, ApiRole.CLASSIC_REGISTER})
        self.stats.register_sites = len(sites)
        for site, api in sites:
            args = self._site_args(site, api)
            exprs: dict[str, ValueSet] = {k: args[k] for k in ("guid", "handle_out", "context", "class_count",
                                                               "class_regs") if k in args}
            exprs["handle_out"] = exprs["handle_out"] | self._stored_aliases(exprs["handle_out"],
                                                                           self.values.stores_in((site.caller,)))

            static_classes: set[str] = set()
            site_controls: set[Provider] = set()

            def register(exprs: dict[str, ValueSet], site: CallSite = site, api: EtwApi = api,
                         site_controls: set[Provider] = site_controls, static_classes: set[str] = static_classes) -> bool:
                named = False
                for concrete in self._concretize(site, exprs, REGISTER_LEVELS):
                    for combo in combinations(concrete):
                        provider = resolver.provider_from_guid(combo["guid"])
                        if provider is None:
                            continue
                        named = True
                        if api.role == ApiRole.CLASSIC_REGISTER:
                            classes.setdefault(provider.guid, set()).add(provider)
                            site_controls.add(provider)
                            for class_addr in resolver.classic_class_guids(combo["class_regs"], combo["class_count"]):
                                guid = resolver.guid_at(class_addr.rva)
                                if guid and self._filled_at_run_time(class_addr.rva):
                                    continue  # zeros in writable memory until the code fills them: no class
                                if guid:
                                    static_classes.add(guid)
                                    classes.setdefault(guid, set()).add(provider)
                                    class_rvas.setdefault(guid, class_addr.rva)
                            class_handles.update(resolver.classic_handle_slots(combo["class_regs"], combo["class_count"]))
                            continue
                        handle_out = fold_pointers(combo["handle_out"], self.pointers)
                        for key in (location_key(handle_out), context_field_key(combo.get("context"), handle_out)):
                            if key is not None:
                                regs.setdefault(key, set()).add(provider)
                return named

            named = register(exprs)
            if not named and api.guid is not None and "guid" in exprs:
                # No GUID constant reaches the call: run the code that leads to it (an engine capability).
                data = self.values.pointed_bytes(site, api.guid, 16)
                if data is not None:
                    exprs["guid"] = frozenset((StackAddr(0, tuple(data), frame=site.caller),))
                    named = register(exprs)
                    if named:
                        log.info("%s at 0x%x in %s: its GUID %s comes from a run of the code that computes it",
                                 self.facts.functions[site.callee].name, site.rva,
                                 self.facts.functions[site.caller].name, format_guid(data))
            if site_controls and not static_classes:
                self._runtime_classes(site, api, exprs, site_controls, classes)
            if not named and api.role == ApiRole.CLASSIC_REGISTER:
                self.stats.runtime_controls.append(
                    f"{self.facts.functions[site.callee].name} at 0x{site.rva:x} in {self.facts.functions[site.caller].name}: "
                    "its ControlGuid is no GUID constant of the image (computed at run time or passed in from outside)")
        instances: dict[tuple, str] = {}
        for site, api in self._api_sites({ApiRole.CLASSIC_INSTANCE}) if class_handles else ():
            args = self._site_args(site, api)
            for concrete in self._concretize(site, {k: args[k] for k in ("handle", "instance")}, REGISTER_LEVELS):
                for combo in combinations(concrete):
                    handle, info = combo["handle"], location_key(combo["instance"])
                    slot = location_key(handle.addr) if isinstance(handle, Load) else None
                    if info is not None and slot in class_handles:
                        instances[info] = class_handles[slot]
        log.info("%d registration sites, %d REGHANDLE keys with a provider, %d classic GUIDs", len(sites), len(regs),
                 len(classes))
        return regs, classes, class_rvas, instances

    def _filled_at_run_time(self, rva: int) -> bool:
        """A GUID slot that holds zeros in writable memory (GUID_NULL, never a class): the code fills it."""
        return self.facts.memory.is_writable(rva) and self.facts.memory.read(rva, 16) == bytes(16)

    def _runtime_classes(self, site: CallSite, api: EtwApi, exprs: dict[str, ValueSet], controls: set[Provider],
                         classes: dict[str, set[Provider]]) -> None:
        """The class GUIDs of a classic registration whose TRACE_GUID_REGISTRATION entries point at no GUID
        constant (a copy the code derives from the control GUID): the bytes each entry's Guid points to
        when RegisterTraceGuids runs (an engine capability; nothing when it cannot say).

        Each class GUID then names the control GUIDs this call registers, as a constant class GUID does.
        """
        if api.class_regs is None:
            return
        counts = {v.value & 0xFFFFFFFF for v in exprs.get("class_count", ()) if isinstance(v, Const)}
        count = min(counts.pop(), MAX_RUNTIME_CLASSES) if len(counts) == 1 else 1
        for i in range(count):
            data = self.values.pointed_bytes(site, api.class_regs, 16, through=TRACE_GUID_REGISTRATION_SIZE * i)
            if data is None:
                continue
            guid = format_guid(data)
            classes.setdefault(guid, set()).update(controls)
            log.info("%s at 0x%x in %s: class GUID %d is %s (from a run of the code that computes it)",
                     self.facts.functions[site.callee].name, site.rva, self.facts.functions[site.caller].name, i,
                     guid)

    def _assigned_once(self) -> dict[int, int]:
        """Global pointers the REGHANDLE expressions load that every store in the binary sets to one object.

        The candidates are the globals loaded as pointers in the ETW calls' arguments; every function that
        references one is resolved, so all the stores to it are seen. A pointer whose initial content is
        zero and that is only ever assigned ``&Object`` is that object's address.
        """
        wanted: set[int] = set()
        for site, api in self._api_sites(_WRITE_ROLES | {ApiRole.REGISTER}):
            for values in self._site_args(site, api).values():
                for value in values:
                    wanted |= pointer_globals(value)
        wanted = {g for g in wanted if self.facts.memory.is_writable(g)}
        if not wanted:
            return {}
        refs = self.values.references(sorted(wanted))
        self.values.resolve(sorted({r.function for r in refs}))
        stored: dict[int, set] = {}
        for g in sorted(wanted):
            for store in self.values.stores_to(g, g + 1):
                stored.setdefault(g, set()).update(store.values)
        out = {}
        for g, assigned in stored.items():
            if len(assigned) == 1 and self.facts.memory.read(g, 8) == bytes(8):
                (only,) = assigned
                if isinstance(only, Addr):
                    out[g] = only.rva
        log.info("%d global pointers assigned once", len(out))
        return out

    @staticmethod
    def _stored_aliases(values: ValueSet, stores: Iterable) -> ValueSet:
        """``Load(Addr(G))`` for every global G the same function stored the out-pointer into."""
        from ..model import Unknown

        out: set[Value] = set()
        for store in stores:
            if isinstance(store.address, Addr) and any(v in store.values for v in values if not isinstance(v, Unknown)):
                out.add(Load(store.address, 8))
        return frozenset(out)

    # ------------------------------------------------------------------ the walk
    def _ancestors(self, func: int, budget: int) -> tuple[dict[int, Optional[int]], list[int]]:
        """Callers of ``func`` within ``budget`` edges, breadth first: (caller -> next function toward func,
        in the order found; ``ends[d]`` = how many of them lie within ``d`` edges, ``_within``).

        A level at a time, each caller list the sorted one of ``CallerLists`` (so the path to each caller is
        the shortest whose RVAs, read from ``func`` up, are smallest). Kept per function: every event of one
        site, later sites in the same function, and the unreached pass after the walk ask it again; a
        larger budget goes on from the last level (a breadth-first search is the same whether it stops and
        resumes or not), and a search that ran out of callers is complete for every budget."""
        cache = self._ancestor_cache
        hit = cache.get(func)
        if hit is not None:
            searched, found, ends = hit
            if searched >= budget or len(ends) <= searched:  # deep enough, or no caller is left above
                return found, ends
            level = list(islice(found, ends[-2] if len(ends) > 1 else 0, None))
        else:
            found = {func: None}
            ends = [1]
            level = [func]
        lists = self._caller_lists
        for _dist in range(len(ends), budget + 1):
            following = []
            for node in level:
                for caller in lists[node]:
                    if caller not in found:
                        found[caller] = node
                        following.append(caller)
            if not following:
                break
            ends.append(len(found))
            level = following
        cache[func] = (budget, found, ends)
        return found, ends

    @staticmethod
    def _path(found: dict[int, Optional[int]], start: int, suffix: list[int]) -> list[int]:
        """The path from ``start`` down to the searched function (``_ancestors``), that function itself
        replaced by ``suffix`` (which begins with it): one list, not a path sliced and concatenated."""
        path = []
        step = found[start]
        while step is not None:
            path.append(start)
            start = step
            step = found[start]
        path += suffix
        return path

    def _search_state(self, func: int, depth: int) -> tuple[dict[int, Optional[int]], list[int]]:
        """The breadth-first search above ``func`` as it stands after ``depth`` levels: every function found
        so far (-> next toward func, a new dict where a level is left) and the last level, for ``EntryReach`` to
        go on from; no level where no caller was left above (the whole search: its levels held no entry point,
        and its deepest level's callers are all found, so going on from there finds nothing: 3,735 of 4,950 at
        1x; ``EntryReach.nearest`` then answers from it without a search). Read from the walk's cache: the
        unreached pass searched ``func`` at least ``depth`` levels up (``_ancestors``), as it would return."""
        _searched, found, ends = self._ancestor_cache[func]
        if depth >= len(ends):  # the walk's own dict: a search with no level left never extends it
            return found, []
        start, end = ends[depth - 1] if depth else 0, ends[depth]
        return (found.copy() if end == len(found) else dict(islice(found.items(), end)),
                list(islice(found, start, end)))

    def _walk(self) -> list[Row]:
        self._ancestor_cache: dict[int, tuple[int, dict[int, Optional[int]], list[int]]] = {}
        #: (write API, its concrete argument values) -> the events they select (``_site_events``).
        self._events_of: dict[tuple, tuple[list[EventInfo], dict[tuple[bool, bool], tuple[list[EventInfo],
                                                                                      list[int]]]]] = {}
        #: Value set -> (depends on a parameter, changes under substitution) (``_dependence``).
        self._depends: dict[ValueSet, tuple[bool, bool]] = {}
        #: Row function -> its Entry label.
        self._labels: dict[int, str] = {}
        #: The IRP_MJ_DEVICE_CONTROL routines with IOCTL guards (``IoctlAttribution.codes`` is "" for any other).
        self._ioctl_guards = self.entries.ioctl_guards
        max_depth = self.options.max_depth
        self._best: dict[tuple, tuple[tuple, Row]] = {}
        #: (provider GUID, id, version) of every manifest event a write site emits, reached or not.
        self._written: set[tuple[str, Optional[int], Optional[int]]] = set()
        self._extra: dict[tuple, tuple[tuple, Row]] = {}
        #: Every (event site, suffix, events, write RVA) emitted, for the rows no API root reaches.
        self._emitted: list[tuple[int, list[int], list[EventInfo], int, int]] = []
        write_sites = [(s, a) for s, a in self._api_sites(_WRITE_ROLES) if s.caller not in self.apis]
        write_sites.sort(key=lambda sa: sa[0].rva)
        self.stats.write_sites = len(write_sites)
        if self.options.all_sites:
            self.roots |= {s.caller for s, _ in write_sites if s.caller not in self.ignored}
            self.roots |= {r.function for r in self.ref_sites}
        self._writers: Optional[dict[int, int]] = None
        ref_functions = {r.function for r in self.ref_sites}
        helpers: set[int] = set()
        for ref in self.ref_sites:  # the helpers an inlined TraceLogging write calls write nothing else
            call = self._write_call(ref)
            if call is not None and call.callee not in self.apis:
                helpers.add(call.callee)
        if helpers:
            callees = WriterCallees(self._sites_in, self._writers or {})
            for helper in helpers:
                ref_functions |= helper_chain(helper, callees)
        covered: set[tuple[int, int]] = set()  # (function where the event became concrete, event blob)
        total = len(write_sites) + len(self.ref_sites)
        all_sites = self.options.all_sites
        emit = self._emit
        for n, (site, api) in enumerate(write_sites):
            if n % 64 == 0:
                self.progress("walk", n, total)
            exprs = {k: v for k, v in self._site_args(site, api).items() if k not in REGISTER_ROLES}
            for func, concrete, suffix, hop in self._concrete_points(site, exprs, max_depth):
                if all_sites:
                    self.roots.add(func)  # where the event became concrete is a site of its own
                events, blobs = self._site_events(api, site.callee, concrete, func in ref_functions,
                                                  site.caller in ref_functions)
                for blob in blobs:
                    covered.add((func, blob))
                emit(func, suffix, events, site.rva, hop)
        self._depends.clear()  # the walk's value sets: kept no longer than the write sites' walks
        for n, ref in enumerate(self.ref_sites, start=len(write_sites)):
            if n % 64 == 0:
                self.progress("walk", n, total)
            if (ref.function, ref.event.rva) in covered:
                continue
            events, write_rva = self._reference_events(ref)
            self._emit(ref.function, [ref.function], events, write_rva, ref.rva)
        self.progress("walk", total, total)
        self._unreached()
        rows = [row for _rank, row in self._best.values()] + [row for _rank, row in self._extra.values()]
        rows.sort(key=lambda r: (r.function, (e := r.event).kind, e.provider_guid, e.provider_symbol, e.descriptor_symbol,
                                 -1 if (i := e.id) is None else i,  # the event read once, not five times
                                 r.containing_function, len(r.call_path)))  # call_depth, without its property call
        return rows

    def _dependence(self, values: ValueSet) -> tuple[bool, bool]:
        """(whether a value set depends on a parameter, whether a caller's substitution can change it),
        once per set: the same sets travel through many states of the walk. A set of neither kind is
        the same in every caller; a stack buffer with field slots is always substituted (its slots may
        become content). One constant, image address or parameter (most sets) is answered at once."""
        if len(values) == 1:
            (only,) = values
            kind = type(only)
            if kind is Const or kind is Addr:
                return _FIXED
            if kind is Param:
                return _PARAMETER
        known = self._depends.get(values)
        if known is None:
            has = any(params_of(v) for v in values)
            known = self._depends[values] = (
                has, has or len(values) > MAX_VALUES or any(isinstance(v, StackAddr) and v.fields for v in values))
        return known

    def _site_events(self, api: EtwApi, callee: int, concrete: dict[str, ValueSet], func_refers: bool,
                     caller_refers: bool) -> tuple[list[EventInfo], list[int]]:
        """The events one write API emits for concrete argument values and the TraceLogging blobs among
        them: resolved once per (API, values), however many call paths bring the same values to it, and
        kept once per (whether the function where they became concrete, and the write's caller, reference
        TraceLogging metadata), which is all the choice of what a path reports depends on. The event lists
        are only read, so every path with the same answer shares one."""
        key = (callee, tuple(concrete.values()))  # one API's roles come in one order
        known = self._events_of.get(key)
        if known is None:
            name = self.facts.functions[callee].name
            combos = combinations(concrete)
            if len(combos) == 1:  # one value per role (most points): the resolver's own list, no comprehension
                found = self.resolver.events(api, name, combos[0])
            else:
                found = [event for combo in combos for event in self.resolver.events(api, name, combo)]
            known = self._events_of[key] = (found, {})
        found, kept_by = known
        kept = kept_by.get((func_refers, caller_refers))
        if kept is None:
            kept = kept_by[(func_refers, caller_refers)] = self._kept_events(found, func_refers, caller_refers)
        return kept

    def _kept_events(self, found: list[EventInfo], func_refers: bool,
                     caller_refers: bool) -> tuple[list[EventInfo], list[int]]:
        """The distinct events a path reports (each marked written) and the TraceLogging blobs among them."""
        events: list[EventInfo] = []
        blobs: list[int] = []
        for event in found:
            # An inlined user-mode TraceLogging write is reported from its metadata; a write with its
            # own EVENT_DESCRIPTOR on a TraceLogging-format provider (V8's ETW JIT events) is not.
            inlined = event.tracelogging_provider and (event.id in (None, 0) or func_refers or caller_refers)
            if event.kind == KIND_MANIFEST and self.ref_sites and (
                    inlined or (not event.resolved and (caller_refers or func_refers))):
                continue
            if event not in events:
                events.append(event)
                self._written.add((event.provider_guid, event.id, event.version))
            if event.kind == KIND_TRACELOGGING and event.event_key[1:] and isinstance(event.event_key[1], int):
                if event.event_key[1] not in blobs:
                    blobs.append(event.event_key[1])
        return events, blobs

    def _write_call(self, ref) -> Optional[CallSite]:
        """The call that writes a referenced event: a TraceLogging writer passed the blob, else the ETW
        write call (or helper reaching one) the inlined metadata load leads to."""
        if self._writers is None:
            self._writers = writer_functions(
                (rva for rva, api in self.apis.items() if api.role in _WRITE_ROLES and rva in self.facts.functions),
                self._caller_lists.__getitem__)
        sites = self._sites_in.get(ref.function, [])
        blob = ref.event.rva
        # Every call of a referrer was asked for what is read here (``_writer_args``), so ``arg`` needs no
        # ``answered`` first: a call the flow did not reach reads as unknown, which holds no address.
        arg = self.values.arg
        for site in sites:
            passed = arg(site, 1)
            if passed is not UNKNOWN_SET:
                for value in passed:  # ``Addr(blob) in passed``, without its hash in Python per call (a value or two)
                    if value.__class__ is Addr and value.rva == blob:
                        return site
        return write_call(sites, ref.rva, self._writers)

    def _reference_events(self, ref) -> tuple[list[EventInfo], int]:
        """Events of a function that takes an event blob's address, labelled with the call that writes it
        (a TraceLogging writer passed the blob, else the ETW write call the inlined metadata load leads to)."""
        label = ""
        providers = ref.providers
        target = Addr(ref.event.rva)
        write_rva = ref.rva
        call = self._write_call(ref)
        if call is not None:
            if self.values.answered(call) and target in self.values.arg(call, 1):
                passed = tuple(p for p in (self.resolver.tlg_provider_at(v) for v in self.values.arg(call, 0))
                               if p is not None)
                providers = providers or passed
            writers = self._writers or {}
            label = write_function_label(self.facts.functions[writers.get(call.callee, call.callee)].name)
            write_rva = call.rva
        return self.resolver.tracelogging_event(label, ref.event, providers), write_rva

    def _emit(self, func: int, suffix: list[int], events: list[EventInfo], site_rva: int, hop: int) -> None:
        """Rows for every API above ``func`` within the depth budget left by ``suffix`` (func ... container);
        ``hop`` is the call in ``func`` that passes the event on (the write itself when func contains it)."""
        if not events:
            return
        self._emitted.append((func, suffix, events, site_rva, hop))
        budget = self.options.max_depth - len(suffix)
        if budget < 0:
            return
        found, ends = self._ancestors(func, budget)
        common = self.roots.intersection(found)  # in C: most searches hold one root or none
        if not common:
            return
        within = ends[budget] if budget < len(ends) else ends[-1]  # _within, budget not negative here
        hits: Collection[int] = common
        if len(common) > 1 or within < len(found):  # the roots in the order found, those within the budget
            hits = [r for r in islice(found, within) if r in common]
        for root in hits:
            self._add_rows(self._best, root, self._path(found, root, suffix), func, events, site_rva, hop)

    def _add_rows(self, into: dict[tuple, tuple[tuple, Row]], root: int, path_ids: list[int], site: int,
                  events: Iterable[EventInfo], site_rva: int, hop: int, entry: Optional[str] = None,
                  pointer_hops: frozenset[int] = frozenset()) -> None:
        """Keep, per row key, the shortest path (then the smallest names, then the first write). A function
        on the path entered through a pointer its predecessor takes, not a call, is named ``&name``."""
        funcs = self.facts.functions
        function, container, event_site = funcs[root].name, funcs[path_ids[-1]].name, funcs[site].name
        best = into is self._best
        length = len(path_ids)
        keys = []
        for event in events:  # a path longer than the kept one's loses before anything of it is built
            # Row.key_of, built here (no call per event); the unreached rows are kept per event site too
            key = (function, event.provider_key, event.event_key, container) if best else (
                function, event.provider_key, event.event_key, container, event_site)
            old = into.get(key)
            if old is None or old[0][0] >= length:
                keys.append((key, event, old))
        guarded = path_ids[0] in self._ioctl_guards  # the root
        if not keys:
            if guarded:  # the IOCTL search resolves the path's functions: as before
                self.ioctl.codes(path_ids, site, hop)
            return
        names = []
        exported = 0  # the exported functions on the path below its first
        if pointer_hops:  # a few rows beyond the depth budget
            for r in path_ids:
                f = funcs[r]
                names.append("&" + f.name if r in pointer_hops else f.name)
                if f.exported:
                    exported += 1
        else:
            for r in path_ids:  # one pass, no comprehension's frame: a path is four functions on average
                f = funcs[r]
                names.append(f.name)
                if f.exported:
                    exported += 1
        if funcs[path_ids[0]].exported:
            exported -= 1
        if entry is None:
            label = self._labels.get(root)
            if label is None:
                label = self._label(root)
        else:
            label = entry
        ioctl = self.ioctl.codes(path_ids, site, hop) if guarded else ""  # codes() is "" for any other root
        rank = (length, names, site_rva)
        single = len(keys) == 1  # nothing was stored between the look-up and here: its answer stands
        for key, event, old in keys:  # a row is built only where it is kept
            if not single:
                old = into.get(key)
            if old is None or rank < old[0]:
                # Row's __init__ written out (a class with a Python __init__ is called through type_call and
                # slot_tp_init, no inlined frame): its fields in its order, so the instance dict shares the
                # class's keys as the constructor's does (tests/analysis/test_rows_made.py compares them).
                row = _new_object(Row)
                row.event = event
                row.function = function
                row.containing_function = container
                row.call_path = names
                row.exported_call_depth = exported
                row.write_rva = site_rva
                row.names = None
                row.event_site = event_site
                row.entry = label
                row.ioctl = ioctl
                into[key] = (rank, row)

    def _label(self, func: int) -> str:
        """A row function's Entry label, made once per function (``EntryPoints.label`` joins its kinds)."""
        label = self._labels.get(func)
        if label is None:
            label = self._labels[func] = self.entries.label(func)
        return label

    def _unreached(self) -> None:
        """Rows for the resolved (provider, event, event site) triples no API root's row reports (rows
        ``--all-sites`` adds from write sites do not count: that option only adds).

        Their ``Function`` is each outermost entry point (dispatch routine, callback, table slot, the PE
        entry) that reaches the event site within the depth budget, else the event site itself, with
        ``Entry`` = ``unreached`` when it is no entry point either.
        """
        api_names = {self.facts.functions[r].name for r in self.api_roots}
        # from each kept row's key (function, provider key, event key, container: Row.key_of)
        covered = {(key[1], key[2], r.event_site) for key, (_rank, r) in self._best.items() if key[0] in api_names}
        funcs = self.facts.functions
        entry_points = set(self.entries.kinds) - self.ignored
        beyond: list[tuple[int, list[int], list[EventInfo], int, int]] = []
        #: Function -> how many levels above it the walk's own search found no entry point (``EntryReach``
        #: goes on from there instead of searching those levels again).
        searched: dict[int, int] = {}
        max_depth = self.options.max_depth
        ancestors = self._ancestor_cache
        for func, suffix, events, site_rva, hop in self._emitted:
            site_name = funcs[func].name
            if len(events) == 1:  # 92% at 1x: no comprehension's frame, the shared list itself (only read)
                only = events[0]
                if not only.resolved or (only.provider_key, only.event_key, site_name) in covered:
                    continue
                missing = events
            else:
                missing = [e for e in events if e.resolved and (e.provider_key, e.event_key, site_name) not in covered]
                if not missing:
                    continue
            budget = max_depth - len(suffix)
            # ``_emit`` searched ``func`` at this budget (at least) where it is not negative: its cache entry
            # is what ``_ancestors`` would return, read without the call
            hit = ancestors.get(func) if budget >= 0 else None
            above, ends = (hit[1], hit[2]) if hit is not None else self._ancestors(func, max(budget, 0))
            within = (ends[budget] if budget < len(ends) else ends[-1]) if budget >= 0 else 0  # _within
            reaching = entry_points.intersection(above if within == len(above) else islice(above, within))
            if not reaching:
                beyond.append((func, suffix, missing, site_rva, hop))
                searched[func] = max(searched.get(func, 0), budget)
                continue
            paths = {r: self._path(above, r, []) for r in reaching}
            inner = {f for path in paths.values() for f in path[1:]}
            for root in sorted(r for r in reaching if r not in inner):
                self._add_rows(self._extra, root, paths[root] + suffix, func, missing, site_rva, hop)
        if not beyond:
            return
        # Nothing reaches these within the budget: the nearest entry points beyond it, else through pointers.
        seeds = None
        if not self.facts.funclets:  # the beyond search reads the walk's own caller lists: it can go on from them
            seeds = {func: self._search_state(func, depth) for func, depth in searched.items()}
        lists = self._caller_lists
        by_rva = lists.__getitem__ if not self.facts.funclets else lambda node: sorted(lists[node])
        reach = EntryReach(by_rva, entry_points, self.values, self._code)
        nearest = reach.nearest([item[0] for item in beyond], seeds)
        cut = 0  # a loop, not ``sum`` over a filtered generator (called once, its filter mostly false: generic)
        for found in nearest.values():
            if found.truncated:
                cut += 1
        if cut:
            self.stats.truncated.append(f"truncated: {cut} event sites searched for an entry point beyond --max-depth "
                                        f"stopped at {MAX_REACH_NODES} functions")
        for func, suffix, missing, site_rva, hop in beyond:
            found = nearest[func]
            if not found.paths:
                self._add_rows(self._extra, func, suffix, func, missing, site_rva, hop,
                               entry=self._label(func) or "unreached")
            for root, path in found.paths.items():
                self._add_rows(self._extra, root, path[:-1] + suffix, func, missing, site_rva, hop,
                               pointer_hops=found.pointer_hops[root])

    def _concrete_points(self, site: CallSite, exprs: dict[str, ValueSet],
                         max_depth: int) -> Iterable[tuple[int, dict[str, ValueSet], list[int], int]]:
        """Functions at which the event arguments become concrete, with the path from there to the site
        and the call in that function the values leave through (one state per call site, so two cases of
        a switch passing the same descriptor stay apart).

        Starts at the containing function; while a value still depends on a parameter, moves to each
        caller, substituting that call's arguments. A root that still has parameters yields the
        partially known values (its events are reported as unresolved).

        Each state carries the roles whose values a caller's substitution can change: a role that cannot
        change stays so in every caller, so only the roles just substituted are tested again. A role that
        is one parameter (every substitution on the scale kernels) takes the caller's argument as it is.
        """
        start = site.caller
        changing = self._changing
        dependent, param = changing(exprs, exprs)
        if not param:  # concrete where it is written (1,893 of the 1x kernel's 3,000 sites): no queue, no states
            yield start, exprs, [start], site.rva
            return
        queue: deque[tuple[int, dict[str, ValueSet], list[int], int, list[str], bool]] = deque(
            [(start, exprs, [start], site.rva, dependent, param)])
        # The roles are in the same order in every state of one walk: their value sets, in that order, are its identity.
        seen = {(start, tuple(exprs.values()), site.rva)}
        roots, apis, callers_of, arg, dependence = self.roots, self.apis, self.callers_of, self.values.arg, self._dependence
        while queue:
            func, ex, suffix, hop, dependent, param = queue.popleft()
            if not param:
                yield func, ex, suffix, hop
                continue
            if func in roots:
                yield func, _drop_params(ex), suffix, hop
            if len(suffix) >= max_depth:
                continue
            for caller_site in callers_of.get(func, ()):
                caller = caller_site.caller
                if caller in apis or caller in suffix:
                    continue
                new = ex.copy()
                args: Optional[Callable[[int], ValueSet]] = None
                still: list[str] = []  # the new state's changing roles and whether one has a parameter (_changing)
                param = False
                for k in dependent:
                    values = new[k]
                    if len(values) == 1:
                        (only,) = values
                        if type(only) is Param:
                            values = in_frame_all(arg(caller_site, only.index), caller)
                            if type(values) is not frozenset or len(values) > MAX_VALUES:
                                values = cap(values)  # else what cap() returns: the set itself
                            new[k] = values
                        else:
                            if args is None:
                                args = self._framed_args(caller_site)
                            values = new[k] = substitute_all(values, args)
                    else:
                        if args is None:
                            args = self._framed_args(caller_site)
                        values = new[k] = substitute_all(values, args)
                    if len(values) == 1:  # _dependence's one-value answers, without its call
                        kind = type(next(iter(values)))
                        if kind is Const or kind is Addr:
                            continue
                        if kind is Param:
                            still.append(k)
                            param = True
                            continue
                    has, changes = dependence(values)
                    if changes:
                        still.append(k)
                        param = param or has
                key = (caller, tuple(new.values()), caller_site.rva)
                if key in seen:
                    continue
                if len(seen) >= MAX_WALK_STATES:
                    self.stats.truncated.append(
                        f"truncated: write at 0x{site.rva:x}: more than {MAX_WALK_STATES} caller states")
                    return
                seen.add(key)
                queue.append((caller, new, [caller] + suffix, caller_site.rva, still, param))

    def _changing(self, exprs: dict[str, ValueSet], roles: Iterable[str]) -> tuple[list[str], bool]:
        """Of ``roles``, those whose values in ``exprs`` a caller's substitution can change, and whether any
        of them still depends on a parameter (``_dependence``)."""
        dependence = self._dependence
        changing: list[str] = []
        param = False
        for k in roles:
            has, changes = dependence(exprs[k])
            if changes:  # a set with a parameter always changes
                changing.append(k)
                param = param or has
        return changing, param

    def _framed_args(self, site: CallSite) -> Callable[[int], ValueSet]:
        """What a call passes, by argument index, with its stack addresses tagged with the caller's frame:
        the parameters of the callee's values become these when the walk moves to that caller."""
        arg, caller = self.values.arg, site.caller

        def args(index: int) -> ValueSet:
            return in_frame_all(arg(site, index), caller)
        return args


def _within(ends: list[int], budget: int) -> int:
    """How many of an ``_ancestors`` search's functions lie within ``budget`` edges (none for a negative one)."""
    if budget < 0:
        return 0
    return ends[budget] if budget < len(ends) else ends[-1]


def _exprs_key(exprs: dict[str, ValueSet]) -> tuple:
    """A hashable, order-independent identity of argument value sets by role."""
    return tuple(sorted((k, frozenset(v)) for k, v in exprs.items()))


def _drop_params(exprs: dict[str, ValueSet]) -> dict[str, ValueSet]:
    """Parameters still in a value become unknown (the API's caller decides them); the loads and field
    offsets around them stay, so a REGHANDLE read through ``[[this+0x58]]`` can still be matched."""
    out = {}
    for k, values in exprs.items():
        out[k] = cap(forget_params(v) for v in values)
    return out


def analyze(engine: Engine, options: Optional[AnalysisOptions] = None,
            progress: Optional[Progress] = None) -> AnalysisResult:
    """Run the analysis, with Python's cyclic garbage collector paused; its working state is freed when it
    returns, or held to the end of a process that ends without freeing (``collector.py`` says why of both)."""
    with collector_paused():
        analysis = Analysis(engine, options or AnalysisOptions(), progress)
        result = analysis.run()
        keep_to_exit(analysis)
        return result


__all__ = ["AnalysisOptions", "AnalysisResult", "AnalysisStats", "analyze", "Value"]
