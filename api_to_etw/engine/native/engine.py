"""The native engine: pefile + pdbparse + iced-x86, no external tools."""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Iterable
from typing import Optional

from ...binary.pdb import PdbSymbols
from ...binary.pe import PEImage
from ...model import Addr, CallSite, CaseSet, Facts, Function, Import, Reference, Value, ValueSet
from ..base import Engine
from ..frozen import RecordingMemory
from .dataflow import FunctionDataflow
from .functions import calls_through_slots, discover, scan_lea_references, scan_rip_references

#: Imports that return the address of a function named by a string argument (index of that argument).
_RESOLVERS = {"GetProcAddress": 1}
#: Longest API name read from a GetProcAddress string argument.
_MAX_PROC_NAME = 128

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
            entry_point=image.entry_point if image.entry_point in fmap.functions else None,
        )
        self._fmap = fmap
        self._dynamic_imports()
        log.info("%d functions, %d call sites", len(fmap.functions), len(fmap.calls))
        return self._facts

    def _dynamic_imports(self) -> None:
        """Function pointers filled by ``GetProcAddress(module, "Name")`` become functions named ``Name``.

        The string argument names the API; the global the result is stored to is the slot every later
        call goes through (``call [slot]`` or ``mov reg, [slot]; call reg``), so those calls become call
        sites of that API, as calls through the IAT are.
        """
        facts = self._facts
        assert facts is not None
        resolvers = {rva: _RESOLVERS[f.name] for rva, f in facts.functions.items()
                     if f.imported and f.name in _RESOLVERS}
        if not resolvers:
            return
        sites = [s for s in facts.calls if s.callee in resolvers]
        for caller in sorted({s.caller for s in sites}):
            func = facts.functions.get(caller)
            if func is None or func.imported:
                continue
            own = {s.rva: s for s in sites if s.caller == caller}
            pieces = [(func.rva, func.rva + func.size)] + list(func.fragments)
            probe = FunctionDataflow(self.image, self.image.image_base, self.image.size_of_image, dict(own), caller)
            probe.run(pieces)
            results: dict[int, ValueSet] = {}
            for site in own.values():
                names = {self._c_string(v.rva) for v in site.arg(resolvers[site.callee]) if isinstance(v, Addr)}
                names.discard(None)
                if names:
                    results[site.rva] = frozenset(Import(n) for n in names if n)
                site.args = None  # resolved again, with everything else, when the analysis asks
            if not results:
                continue
            self._call_results.update(results)
            flow = FunctionDataflow(self.image, self.image.image_base, self.image.size_of_image, {}, caller, results)
            flow.run(pieces)
            for store in flow.stores():
                if not isinstance(store.address, Addr):
                    continue
                imported = {v.name for v in store.values if isinstance(v, Import)}
                if len(imported) == 1:
                    self._name_slot(store.address.rva, imported.pop())

    def _name_slot(self, slot: int, name: str) -> None:
        facts = self._facts
        assert facts is not None
        existing = facts.functions.get(slot)
        if existing is not None and not existing.imported:
            return  # code, not a pointer slot
        facts.functions[slot] = Function(rva=slot, size=0, name=name, imported=True)
        known = {(s.rva, s.callee) for s in facts.calls}
        for site in calls_through_slots(self.image, {slot}, self._fmap.owner):
            if (site.rva, site.callee) not in known:
                facts.calls.append(site)
                self._sites_by_function.setdefault(site.caller, {})[site.rva] = site
        log.info("pointer at %#x holds %s (GetProcAddress)", slot, name)

    def _c_string(self, rva: int) -> Optional[str]:
        raw = self.image.read(rva, _MAX_PROC_NAME)
        end = raw.find(b"\0")
        if end <= 0:
            return None
        text = raw[:end]
        if not all(0x21 <= b < 0x7F for b in text):
            return None
        return text.decode("ascii")

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
        assert self._facts is not None, "load() first"
        for rva in functions:
            if rva in self._resolved:
                continue
            self._resolved.add(rva)
            func = self._facts.functions.get(rva)
            sites = self._sites_by_function.get(rva)
            if func is None or func.imported or not sites:
                continue
            flow = FunctionDataflow(self.image, self.image.image_base, self.image.size_of_image, sites, rva,
                                    self._call_results)
            flow.run([(func.rva, func.rva + func.size)] + list(func.fragments))
            self._facts.stores.extend(flow.stores())
