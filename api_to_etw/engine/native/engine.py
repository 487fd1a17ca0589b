"""The native engine: pefile + pdbparse + iced-x86, no external tools."""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import compress
from operator import attrgetter
from typing import Optional

from ...binary.pdb import PdbSymbols
from ...binary.pe import PEImage
from ...model import (
    Arguments,
    CallSite,
    CaseSet,
    Facts,
    Function,
    Reference,
    Resolution,
    ResourceEntry,
    Store,
    Value,
    ValueSet,
    import_thunks,
)
from ..base import (
    ANNOTATIONS,
    ARGUMENTS,
    CASE_GUARDS,
    MEMORY,
    REFERENCES,
    RUNTIME_BYTES,
    STORES,
    TABLE_CALLS,
    Asked,
    Engine,
)
from .dataflow import FILL_FUNCTIONS, FunctionDataflow
from .ehtables import exception_tables
from .functions import SitesByFunction, calls_through_table, discover, scan_lea_references, scan_rip_references
from .parallel import MIN_PARALLEL_FLOW_BYTES, fork_split
from .runtime import RuntimeImports, resolve_runtime_imports

#: Functions that copy ``r8`` bytes from ``rdx`` to ``rcx`` (imported, or named by the PDB): a call to one
#: is a by-value copy for the data flow, as an inlined ``rep movsb`` is.
COPY_FUNCTIONS = frozenset(("memcpy", "memmove", "RtlCopyMemory", "RtlMoveMemory"))

log = logging.getLogger(__name__)
_NAME = attrgetter("name")


class NativeEngine(Engine):
    """Facts from the PE, its PDB and a data flow over the decoded instructions (no external tools).

    The data flow reads the call sites and answers in a map of its own (``FunctionDataflow.start``), so the
    facts ``load`` returned never change; ``resolve`` answers with a new ``Resolution``.
    """

    name = "native"
    sliced = True
    capabilities = frozenset((ARGUMENTS, STORES, REFERENCES, ANNOTATIONS, CASE_GUARDS, MEMORY, TABLE_CALLS,
                              RUNTIME_BYTES))

    def __init__(self, image: PEImage, pdb: Optional[PdbSymbols] = None):
        self.image = image
        self.pdb = pdb
        self._facts: Optional[Facts] = None
        self._sites_by_function = SitesByFunction([], {})
        self._annotations: Optional[list[tuple[int, tuple[str, ...]]]] = None
        self._case_guards: dict[tuple[int, Value], dict[int, CaseSet]] = {}
        self._call_results: dict[int, ValueSet] = {}
        self._copiers: frozenset[int] = frozenset()
        self._runtime = RuntimeImports()
        #: Run-time evaluations asked so far (``pointed_bytes``; bounded per binary).
        self._questions = 0
        #: Instructions the run-time evaluator's runs were charged on this binary (bounded by BINARY_INSTRUCTIONS).
        self._evaluation_charged = 0
        #: Function -> its callers, for the evaluator's start functions (made on the first question).
        self._evaluation_callers: Optional[dict[int, set[int]]] = None
        #: Function -> its code only the unwinder enters (``__except`` blocks): more entries of its data flow.
        self._landing_pads: dict[int, set[int]] = {}
        #: Image page -> whether it is read-only: one answer for every data flow over this image.
        self._read_only: dict[int, bool] = {}

    def load(self) -> Facts:
        image, pdb = self.image, self.pdb
        fmap = discover(image, pdb.functions if pdb else {}, pdb.data if pdb else {})
        # memcpy/memset by name (the data flow models their calls).
        modelled = COPY_FUNCTIONS | FILL_FUNCTIONS.keys()
        # The functions' names tested by C-level maps: two attribute reads per function in Python cost more.
        functions = fmap.functions
        called = {rva: functions[rva].name
                  for rva in compress(functions, map(modelled.__contains__, map(_NAME, functions.values())))}
        symbols: dict[int, str] = {}
        if pdb:
            symbols.update(pdb.data)
            symbols.update(pdb.functions)
        for rva, names in image.exports.items():
            symbols.setdefault(rva, names[0])
        # Each caller's sites are one run of the calls: its dict is made when the analysis asks for it.
        self._sites_by_function = SitesByFunction(fmap.run_sites, fmap.runs)
        # Exception-handler funclets: edges from their parents (not sites of the data flow: no instruction).
        tables = exception_tables(image, fmap.functions, self._sites_by_function)
        self._landing_pads = tables.landing_pads
        funclet_calls = tables.sites()
        self._facts = Facts(
            binary_name=os.path.basename(image.path),
            image_base=image.image_base,
            functions=fmap.functions,
            calls=fmap.calls + funclet_calls if funclet_calls else fmap.calls,
            symbols=symbols,
            memory=image,
            has_pdb=pdb is not None,
            sections=[(s.rva, s.end - s.rva, s.writable, s.executable) for s in image.sections],
            resources=self._resources(),
            entry_point=image.entry_point if image.entry_point in fmap.functions else None,
            funclets=tables.funclets,
        )
        self._fmap = fmap
        # memcpy/memset by name (``called``), directly or through an import thunk (``jmp [__imp_memset]``).
        called.update(import_thunks(self._facts, called))
        self._copiers = frozenset(rva for rva, name in called.items() if name in COPY_FUNCTIONS)
        #: Callee RVA -> the memset-like function it is (the decompiler engine models these calls too).
        self.fill_callees = {rva: name for rva, name in called.items() if name in FILL_FUNCTIONS}
        self._fillers = {rva: FILL_FUNCTIONS[name] for rva, name in self.fill_callees.items()}
        self._runtime = resolve_runtime_imports(image, self._facts, fmap, self._sites_by_function)
        self._call_results = self._runtime.call_results
        log.info("%d functions, %d call sites", len(fmap.functions), len(fmap.calls))
        return self._facts

    def pointed_bytes(self, site: CallSite, index: int, size: int,
                      through: Optional[int] = None) -> Optional[bytes]:
        """Run the code from the site's function, then from its callers (nearest first), until one run
        pair reaches the site and agrees on the bytes (``evaluate.pointed_bytes``; bounded, optional)."""
        assert self._facts is not None, "load() first"
        from . import evaluate

        self._questions += 1
        if self._questions > evaluate.MAX_QUESTIONS:
            log.info("no run-time value for argument %d at 0x%x: more than %d questions", index, site.rva,
                     evaluate.MAX_QUESTIONS)
            return None
        left = evaluate.BINARY_INSTRUCTIONS - self._evaluation_charged
        if left <= 0:
            log.info("no run-time value for argument %d at 0x%x: the binary's %s instructions of evaluation are "
                     "spent", index, site.rva, f"{evaluate.BINARY_INSTRUCTIONS:,}")
            return None
        if self._evaluation_callers is None:
            self._evaluation_callers = evaluate.callers_by_function(self._facts)
        starts = evaluate.runtime_starts(self._facts, site.caller, self._evaluation_callers)
        answer = evaluate.pointed_bytes(self.image, starts, site.rva, index, size, through=through,
                                        question_instructions=min(evaluate.QUESTION_INSTRUCTIONS, left))
        self._evaluation_charged += answer.charged
        if answer.data is None:
            log.info("no run-time value for argument %d at 0x%x: %s", index, site.rva, answer.reason)
        else:
            log.info("argument %d at 0x%x evaluated from 0x%x: %s", index, site.rva, answer.start, answer.data.hex())
        return answer.data

    def table_calls(self, slot: int, offsets: Collection[int]) -> list[tuple[CallSite, int]]:
        """The sites are kept with the function's others (not in the facts), so ``resolve`` answers for them;
        a CFG dispatch call already is a site at that instruction, and its arguments are the same."""
        assert self._facts is not None, "load() first"
        out = []
        for caller, rva, offset in calls_through_table(self.image, slot, set(offsets), self._fmap.owner):
            site = CallSite(caller, rva, slot, False)
            self._sites_by_function.setdefault(caller, {}).setdefault(rva, site)
            out.append((site, offset))
        return out

    def _resources(self) -> list[ResourceEntry]:
        """The resource tree's leaves (their data is read later through the facts' memory)."""
        from ...binary.resources import image_resources

        tree = image_resources(self.image, self.image.data[:4096])
        for warning in tree.warnings:
            log.warning("resources: %s", warning)
        return tree.entries

    def annotations(self) -> list[tuple[int, tuple[str, ...]]]:
        """S_ANNOTATION records of the PDB's modules (WPP's TMF/TMC), read on first use only."""
        if self._annotations is None:
            self._annotations = []
            if self.pdb is not None:
                from ...binary.pdb_annotations import read_annotations

                sections = [(s.name, s.rva, s.virtual_size) for s in self.image.sections]
                self._annotations = [(a.rva, tuple(a.strings)) for a in read_annotations(self.pdb.path, sections)]
        return list(self._annotations)

    def references(self, targets: Optional[Collection[int]] = None) -> list[Reference]:
        self.image.release()  # the data pages earlier passes touched: this scan touches every code page
        if targets is None:
            return scan_lea_references(self.image, self._fmap.owner)
        return scan_rip_references(self.image, set(targets), self._fmap.owner)

    def _pieces(self, rva: int) -> Optional[list[tuple[int, int]]]:
        func = self._facts.functions.get(rva) if self._facts is not None else None
        if func is None or func.imported or func.size <= 0:
            return None
        return [(func.rva, func.rva + func.size)] + list(func.fragments)

    def case_guards(self, function: int, selector: Value) -> dict[int, CaseSet]:
        from .switches import case_guards

        assert self._facts is not None, "load() first"
        cache = self._case_guards
        if (function, selector) not in cache:
            pieces = self._pieces(function)
            sites = {rva: site.working_copy() for rva, site in self._sites_by_function.get(function, {}).items()}
            cache[(function, selector)] = {} if pieces is None else case_guards(
                self.image, self.image.image_base, self.image.size_of_image, pieces, sites, selector)
        return dict(cache[(function, selector)])

    def resolve(self, functions: Iterable[int], asked: Optional[Asked] = None) -> Resolution:
        """Argument values at the call sites of ``functions`` (data flow), and their stores: every argument of
        every site, or for a function ``asked`` holds only the arguments it names (the flow then runs only the
        code they and the stores depend on).

        A batch of a second of work and more (``MIN_PARALLEL_FLOW_BYTES`` of code) is split over two processes; the child's
        part comes back pickled. A smaller one runs here: split, it costs more CPU than it saves wall time.
        """
        assert self._facts is not None, "load() first"
        todo: list[tuple[Function, dict[int, CallSite], Optional[Mapping[int, Collection[int]]]]] = []
        weights = []
        known, sites_by_function = self._facts.functions, self._sites_by_function
        for rva in dict.fromkeys(functions):
            func = known.get(rva)
            if func is None or func.imported:
                continue
            sites = sites_by_function.get(rva)
            if not sites:
                continue
            todo.append((func, sites, None if asked is None else asked.get(rva)))
            weights.append(func.size + sum(end - start for start, end in func.fragments) if func.fragments
                           else func.size)
        split = fork_split(todo, weights, MIN_PARALLEL_FLOW_BYTES, self._flow)
        parts = self._flow(todo) if split is None else split[0] + split[1]
        answer = Resolution()
        found, stored = answer.args, answer.stores
        for rva, args, stores in parts:
            for site_rva, values in args.items():
                found[rva, site_rva] = values
            if stores:
                stored.extend(stores)
        return answer

    def _flow(self, functions: Sequence[tuple[Function, dict[int, CallSite], Optional[Mapping[int, Collection[int]]]]]
              ) -> list[tuple[int, dict[int, Arguments], list[Store]]]:
        """Run the data flow over ``functions`` (each with its call sites) here: per function, the argument values
        of its call sites (all, or the asked ones: their other arguments UNKNOWN; in the order of the sites, or
        of the question) and the stores it saw. The flow reads the facts' sites and answers in its own map: the
        facts stay as loaded.

        One flow object serves the batch (``FunctionDataflow.start`` points it at each function): at 1x most of
        the 11,639 functions are one block of about 20 stepped instructions, for which building a flow and the
        sites' working copies per function were 6% of the batch (250M of 4,350M machine instructions)."""
        out = []
        copiers, fillers = self._copiers, self._fillers
        image, runtime, landing_pads = self.image, self._runtime, self._landing_pads
        flow = FunctionDataflow(image, image.image_base, image.size_of_image, {}, -1, self._call_results,
                                codecs=runtime.codecs, dispatch=runtime.dispatch, checks=runtime.check,
                                read_only=self._read_only)
        flow.code_views = _code_views(image)
        start, run, run_piece, stores = flow.start, flow.run, flow.run_piece, flow.stores
        for func, sites, asked in functions:
            copies = [rva for rva, site in sites.items() if site.callee in copiers] if copiers else ()
            fills = {rva: fillers[site.callee] for rva, site in sites.items()
                     if site.callee in fillers} if fillers else None
            rva = func.rva
            answers = start(sites, rva, asked, copies, fills)
            if func.fragments:
                run([(rva, rva + func.size), *func.fragments], landing_pads.get(rva, ()))
            elif rva in landing_pads:
                run(((rva, rva + func.size),), landing_pads[rva])
            else:
                run_piece(rva, rva + func.size)
            if len(answers) > 1:  # recorded in the order the flow met them: given in the sites' or question's
                answers = {at: answers[at] for at in (sites if asked is None else asked) if at in answers}
            out.append((rva, answers, stores()))
        return out


def _code_views(image: PEImage) -> list[tuple[int, int, memoryview]]:
    """(start, end, bytes in place) of each executable section's file-backed code, where ``PEImage.read`` of a
    range inside gives the same bytes: its sections do not overlap (so the section found for an RVA is that one),
    and no zero fill is involved (the range ends within the bytes the file holds)."""
    if not image.disjoint_sections:
        return []
    views = []
    for section in image.executable_sections():
        view = image.code_view(section)
        if len(view):
            views.append((section.rva, section.rva + min(len(view), section.raw_size), view))
    return views
