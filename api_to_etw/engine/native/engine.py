"""The native engine: pefile + pdbparse + iced-x86, no external tools."""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Iterable, Sequence
from typing import Optional

from ...binary.pdb import PdbSymbols
from ...binary.pe import PEImage
from ...model import CallSite, CaseSet, Facts, Function, Reference, ResourceEntry, Store, Value, ValueSet
from ..base import Engine
from ..frozen import RecordingMemory
from .dataflow import FunctionDataflow
from .functions import discover, scan_lea_references, scan_rip_references
from .parallel import MIN_PARALLEL_FLOW_BYTES, fork_split
from .runtime import RuntimeImports, resolve_runtime_imports

log = logging.getLogger(__name__)


class NativeEngine(Engine):
    name = "native"

    def __init__(self, image: PEImage, pdb: Optional[PdbSymbols] = None, record_memory: bool = False):
        self.image = image
        self.pdb = pdb
        self.record_memory = record_memory
        self._facts: Optional[Facts] = None
        self._sites_by_function: dict[int, dict[int, CallSite]] = {}
        self._resolved: set[int] = set()
        self._references: Optional[list[Reference]] = None
        self._annotations: Optional[list[tuple[int, tuple[str, ...]]]] = None
        self._call_results: dict[int, ValueSet] = {}
        self._runtime = RuntimeImports()

    def load(self) -> Facts:
        image, pdb = self.image, self.pdb
        code_symbols = dict(pdb.functions) if pdb else {}
        fmap = discover(image, code_symbols)
        export_names = {rva: names[0] for rva, names in image.exports.items()}
        data_symbols = pdb.data if pdb else {}
        for rva, func in fmap.functions.items():
            if func.imported:
                if not func.name:
                    func.name = data_symbols.get(rva) or f"ptr_{rva:x}"
                continue
            func.exported = rva in image.exports
            func.name = code_symbols.get(rva) or export_names.get(rva) or f"sub_{rva:x}"
        symbols: dict[int, str] = {}
        if pdb:
            symbols.update(pdb.data)
            symbols.update(pdb.functions)
        for rva, names in image.exports.items():
            symbols.setdefault(rva, names[0])
        for site in fmap.calls:
            self._sites_by_function.setdefault(site.caller, {})[site.rva] = site
        self._facts = Facts(
            binary_name=os.path.basename(image.path),
            image_base=image.image_base,
            functions=fmap.functions,
            calls=fmap.calls,
            symbols=symbols,
            memory=RecordingMemory(image, image.image_base) if self.record_memory else image,
            has_pdb=pdb is not None,
            sections=[(s.rva, s.end - s.rva, s.writable, s.executable) for s in image.sections],
            resources=self._resources(),
            entry_point=image.entry_point if image.entry_point in fmap.functions else None,
        )
        self._fmap = fmap
        self._runtime = resolve_runtime_imports(image, self._facts, fmap, self._sites_by_function)
        self._call_results = self._runtime.call_results
        log.info("%d functions, %d call sites", len(fmap.functions), len(fmap.calls))
        return self._facts

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
            if self._facts is not None:
                self._facts.annotations = self._annotations
        return self._annotations

    def references(self, targets: Optional[Collection[int]] = None) -> list[Reference]:
        if targets is None:
            found = scan_lea_references(self.image, self._fmap.owner)
        else:
            found = scan_rip_references(self.image, set(targets), self._fmap.owner)
        self._references = (self._references or []) + found
        if self._facts is not None:
            self._facts.references = self._references
        return found

    def _pieces(self, rva: int) -> Optional[list[tuple[int, int]]]:
        func = self._facts.functions.get(rva) if self._facts is not None else None
        if func is None or func.imported or func.size <= 0:
            return None
        return [(func.rva, func.rva + func.size)] + list(func.fragments)

    def case_guards(self, function: int, selector: Value) -> dict[int, CaseSet]:
        from .switches import case_guards

        assert self._facts is not None, "load() first"
        cache = self._facts.case_guards
        if cache is None:
            cache = self._facts.case_guards = {}
        if (function, selector) not in cache:
            pieces = self._pieces(function)
            cache[(function, selector)] = {} if pieces is None else case_guards(
                self.image, self.image.image_base, self.image.size_of_image, pieces,
                self._sites_by_function.get(function, {}), selector)
        return dict(cache[(function, selector)])

    def resolve(self, functions: Iterable[int]) -> None:
        """Argument values at every call site of ``functions`` (data flow), each function once.

        A large batch is split over two processes; the child's argument values come back pickled.
        """
        assert self._facts is not None, "load() first"
        todo = []
        for rva in functions:
            if rva in self._resolved:
                continue
            self._resolved.add(rva)
            func = self._facts.functions.get(rva)
            if func is None or func.imported or not self._sites_by_function.get(rva):
                continue
            todo.append(func)
        weights = [func.size + sum(end - start for start, end in func.fragments) for func in todo]
        split = fork_split(todo, weights, MIN_PARALLEL_FLOW_BYTES, self._flow)
        if split is None:
            self._flow(todo)
        else:
            for rva, args, stores in split[0]:  # the child's part; this process already holds its own
                sites = self._sites_by_function[rva]
                for site_rva, values in args.items():
                    sites[site_rva].args = values
                self._facts.stores.extend(stores)

    def _flow(self, functions: Sequence[Function]
              ) -> list[tuple[int, dict[int, Optional[tuple[ValueSet, ...]]], list[Store]]]:
        """Run the data flow over ``functions`` here; the argument values it set per function and call site,
        and the stores it saw (also added to the facts of this process)."""
        assert self._facts is not None
        out = []
        for func in functions:
            sites = self._sites_by_function[func.rva]
            flow = FunctionDataflow(self.image, self.image.image_base, self.image.size_of_image, sites, func.rva,
                                    self._call_results, self._runtime.codecs, self._runtime.dispatch)
            flow.run([(func.rva, func.rva + func.size)] + list(func.fragments))
            stores = flow.stores()
            self._facts.stores.extend(stores)
            out.append((func.rva, {site_rva: site.args for site_rva, site in sites.items()}, stores))
        return out
