"""Freezing any engine: a wrapper that records what the analysis asked and what came back (``--save-facts``).

``RecordingEngine`` passes every question through to the engine it wraps and keeps the answers: the
facts of ``load`` (with their memory wrapped so every byte range read is kept), argument values and
stores from ``resolve``, references, annotations and case guards. Before saving, ``complete`` asks
what another analysis of the same binary could ask (every function with calls resolved, the data
sections read whole, references for every image address the values name, case guards of the selectors
asked for every function below the ones asked), so the facts file replays at any ``--max-depth``.
No engine knows it is being recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from typing import Callable, Optional

from ..model import (
    Addr,
    CallSite,
    CaseSet,
    Facts,
    Load,
    Memory,
    Offset,
    Param,
    Reference,
    Resolution,
    StackAddr,
    Value,
    ValueSet,
    params_of,
    substitute,
)
from .base import ANNOTATIONS, ARGUMENTS, CASE_GUARDS, MEMORY, REFERENCES, Asked, Engine
from .frozen import Recording, save_facts

log = logging.getLogger(__name__)

#: A data section up to this size is kept whole, zero fill included; a larger one only as the file backs it.
MAX_WHOLE_SECTION = 16 << 20
#: Bytes a pointer-sized slot spans: a reference target may be any byte of a slot a value names.
SLOT = 8
#: Parameters passed in registers (rcx, rdx, r8, r9): where a callee may receive a case selector.
REGISTER_PARAMS = 4
#: Functions resolved per engine call while completing (the native engine splits a batch over two cores).
BATCH = 4096


class RecordingMemory(Memory):
    """Passes reads through to the real image and remembers which ranges were read."""

    def __init__(self, inner: Memory, image_base: int):
        self.inner = inner
        self.image_base = image_base
        self.ranges: dict[int, int] = {}

    def read(self, rva: int, size: int) -> bytes:
        data = self.inner.read(rva, size)
        if data:
            self.ranges[rva] = max(self.ranges.get(rva, 0), len(data))
        return data

    def file_bytes(self, rva: int, size: int) -> bytes:
        data = self.inner.file_bytes(rva, size)
        if data:
            self.ranges[rva] = max(self.ranges.get(rva, 0), len(data))
        return data

    def file_view(self, rva: int, size: int) -> memoryview:
        view = self.inner.file_view(rva, size)
        if len(view):
            self.ranges[rva] = max(self.ranges.get(rva, 0), len(view))
        return view

    def release(self) -> None:
        self.inner.release()

    def is_writable(self, rva: int) -> bool:
        return self.inner.is_writable(rva)

    def merged(self) -> list[tuple[int, int]]:
        spans = sorted(self.ranges.items())
        out: list[list[int]] = []
        for start, size in spans:
            if out and start < out[-1][0] + out[-1][1]:  # overlapping; adjacent ranges may lie in two sections
                out[-1][1] = max(out[-1][1], start + size - out[-1][0])
            else:
                out.append([start, size])
        return [(a, b) for a, b in out]

    def chunks(self) -> list[tuple[int, bytes]]:
        """The merged ranges with their bytes, read again from the image a piece at a time: a merged
        range may run into the next section, and one read stops at a section's end."""
        out = []
        for start, size in self.merged():
            data = bytearray()
            while len(data) < size:
                piece = self.inner.read(start + len(data), size - len(data))
                if not piece:
                    break
                data += piece
            out.append((start, bytes(data)))
        return out


def _addresses(value: Value) -> Iterable[int]:
    """Image addresses an expression names (inside loads, offsets and stack buffers too)."""
    if isinstance(value, Addr):
        yield value.rva
    elif isinstance(value, Load):
        yield from _addresses(value.addr)
    elif isinstance(value, Offset):
        yield from _addresses(value.base)
    elif isinstance(value, StackAddr):
        for _offset, rva in value.refs or ():
            yield rva
        if value.origin is not None:
            yield from _addresses(value.origin)


def _passed_in(index: int) -> Callable[[int], ValueSet]:
    """Arguments of a call that passes everything in parameter ``index``."""
    values: ValueSet = frozenset((Param(index),))
    return lambda _i: values


class RecordingEngine(Engine):
    """Any engine, with every answer it gives after ``load`` recorded for a facts file."""

    def __init__(self, inner: Engine):
        self.inner = inner
        self.name = inner.name
        self.capabilities = inner.capabilities
        self.recording = Recording(capabilities=frozenset(inner.capabilities))
        self._facts: Optional[Facts] = None
        self._memory: Optional[RecordingMemory] = None
        self._resolved: set[int] = set()
        self._operand: dict[tuple[int, int], Reference] = {}
        self._targets: set[int] = set()

    @property
    def label(self) -> Optional[str]:
        """The wrapped engine's output name (``GhidraEngine.label``), if it has one."""
        found = getattr(self.inner, "label", None)
        return str(found) if found else None

    def load(self) -> Facts:
        facts = self.inner.load()
        self._memory = RecordingMemory(facts.memory, facts.image_base)
        self._facts = facts._replace(memory=self._memory)
        return self._facts

    def resolve(self, functions: Iterable[int], asked: Optional[Asked] = None) -> Resolution:
        todo = list(dict.fromkeys(functions))
        answer = self.inner.resolve(todo)  # every site (not ``sites``): the facts file replays any question
        self._resolved.update(todo)
        self.recording.args.update(answer.args)
        self.recording.stores.extend(answer.stores)
        return answer

    def references(self, targets: Optional[Collection[int]] = None) -> list[Reference]:
        found = self.inner.references(targets)
        if targets is None:
            self.recording.lea_references = list(found)
        else:
            self._targets.update(targets)
            for ref in found:
                self._operand.setdefault((ref.rva, ref.target), ref)
        return found

    def annotations(self) -> list[tuple[int, tuple[str, ...]]]:
        found = self.inner.annotations()
        self.recording.annotations = list(found)
        return found

    def table_calls(self, slot: int, offsets: Collection[int]) -> list[tuple[CallSite, int]]:
        found = self.inner.table_calls(slot, offsets)
        sites = self.recording.table_calls.setdefault(slot, set())
        for site, offset in found:
            sites.add((site.caller, site.rva, offset))
            self._resolved.discard(site.caller)  # resolved again when completing: with these sites
        return found

    def case_guards(self, function: int, selector: Value) -> dict[int, CaseSet]:
        found = self.inner.case_guards(function, selector)
        self.recording.case_guards[(function, selector)] = dict(found)
        return found

    def pointed_bytes(self, site: CallSite, index: int, size: int,
                      through: Optional[int] = None) -> Optional[bytes]:
        found = self.inner.pointed_bytes(site, index, size, through)
        self.recording.runtime_bytes[(site.caller, site.rva, index, size, -1 if through is None else through)] = found
        return found

    def close(self) -> None:
        self.inner.close()

    # ------------------------------------------------------------------ completing and saving
    def complete(self, progress: Optional[Callable[[str, int, int], None]] = None) -> None:
        """Ask what any other analysis of this binary could ask, so the file replays at any depth."""
        assert self._facts is not None and self._memory is not None, "load() first"
        step = progress or (lambda phase, done, total: None)
        facts = self._facts
        caps = self.inner.capabilities
        if ARGUMENTS in caps:
            callers = {s.caller for s in facts.calls}
            callers |= {caller for sites in self.recording.table_calls.values() for caller, _rva, _off in sites}
            todo = sorted(callers - self._resolved)
            for start in range(0, len(todo), BATCH):
                step("freeze", start, len(todo))
                self.resolve(todo[start:start + BATCH])
            step("freeze", len(todo), len(todo))
        if ANNOTATIONS in caps and self.recording.annotations is None:
            self.annotations()
        if REFERENCES in caps:
            if self.recording.lea_references is None:
                self.references(None)
            named: set[int] = set()
            for args in self.recording.args.values():
                for values in args:
                    for value in values:
                        named.update(_addresses(value))
            for store in self.recording.stores:
                for value in (store.address, *store.values):
                    named.update(_addresses(value))
            wanted = {rva + k for rva in named for k in range(SLOT)} - self._targets
            if wanted:
                self.references(wanted)
        if CASE_GUARDS in caps and self.recording.case_guards:
            self._complete_guards()
        for rva, size, _writable, executable in facts.sections:
            if not executable:
                if size <= MAX_WHOLE_SECTION:
                    self._memory.read(rva, size)
                else:
                    self._memory.file_bytes(rva, size)
        self.recording.complete = MEMORY in caps

    def _complete_guards(self) -> None:
        """Case guards for every function called (transitively) from a function asked about, of every
        selector a callee may receive: an asked selector read through any of the four register
        parameters, or that parameter itself (a dispatcher passes the IRP or the code it read on)."""
        assert self._facts is not None
        callees: dict[int, set[int]] = {}
        for site in self._facts.calls:
            callees.setdefault(site.caller, set()).add(site.callee)
        asked = list(self.recording.case_guards)
        selectors: set[Value] = {Param(k) for k in range(REGISTER_PARAMS)}
        for _func, selector in asked:
            selectors.add(selector)
            if params_of(selector):
                for k in range(REGISTER_PARAMS):
                    selectors.update(substitute(selector, _passed_in(k)))
        seen = {func for func, _selector in asked}
        stack = list(seen)
        while stack:
            for callee in callees.get(stack.pop(), ()):
                if callee not in seen and not getattr(self._facts.functions.get(callee), "imported", True):
                    seen.add(callee)
                    stack.append(callee)
        for func in sorted(seen):
            for selector in sorted(selectors, key=repr):
                if (func, selector) not in self.recording.case_guards:
                    self.case_guards(func, selector)

    def save(self, path: str) -> None:
        """Write the facts file (call ``complete`` first for one that replays at any depth)."""
        assert self._facts is not None and self._memory is not None, "load() first"
        self.recording.memory = self._memory.chunks()
        self.recording.operand_references = sorted(self._operand.values(), key=lambda r: (r.rva, r.target))
        self.recording.reference_targets = set(self._targets) if self._targets or self.recording.complete else None
        save_facts(self._facts, self.inner.name, self.recording, path)
