"""Frozen facts: an engine's answers saved as JSON and replayed without the binary or the engine.

A facts file holds what ``load`` gave (functions, call sites, symbols, sections, resources), and what
the analysis asked afterwards and got back: argument values per call site, stores, references, PDB
annotations, case guards and every byte range read. ``engine.recorder.RecordingEngine`` writes it,
wrapped around any engine, and completes it before saving (every function resolved, the data sections
kept whole, references for every address the values name), so a replay does not depend on the
``--max-depth`` of the run that saved it. ``FrozenEngine`` serves the same answers, so the analysis can
be tested and two engines compared without pefile, iced-x86 or Ghidra.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import CorruptMetadataError
from ..inputs import read_regular
from ..model import (
    UNKNOWN,
    Addr,
    Arguments,
    CallSite,
    CaseSet,
    Const,
    Facts,
    Function,
    Import,
    Load,
    Memory,
    Offset,
    Param,
    Reference,
    Resolution,
    ResourceEntry,
    StackAddr,
    Store,
    Value,
)
from .base import ANNOTATIONS, ARGUMENTS, CASE_GUARDS, MEMORY, REFERENCES, STORES, Asked, Engine
from .facts_check import check_document, check_facts, check_recording

FORMAT = "api-to-etw-facts"
VERSION = 1

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------- values
def encode_value(value: Value) -> Any:
    if isinstance(value, Const):
        return {"c": value.value}
    if isinstance(value, Addr):
        return {"a": value.rva}
    if isinstance(value, Param):
        return {"p": value.index}
    if isinstance(value, Offset):
        return {"o": [encode_value(value.base), value.delta]}
    if isinstance(value, Load):
        return {"l": [encode_value(value.addr), value.size]}
    if isinstance(value, StackAddr):
        body: list[Any] = [value.offset, list(value.content) if value.content is not None else None, value.frame]
        tail: list[Any] = [[list(r) for r in value.refs or ()],
                           None if value.origin is None else encode_value(value.origin),
                           [[pos, size, encode_value(v)] for pos, size, v in value.fields or ()],
                           [list(link) for link in value.links or ()]]
        present = (bool(value.refs), value.origin is not None, bool(value.fields), bool(value.links))
        if any(present):  # optional parts kept up to the last one present (older files stay valid)
            body.extend(tail[:max(i for i, p in enumerate(present) if p) + 1])
        return {"s": body}
    if isinstance(value, Import):
        return {"i": value.name}
    return "?"


def decode_value(obj: Any) -> Value:
    if obj == "?":
        return UNKNOWN
    if not isinstance(obj, dict) or len(obj) != 1:
        raise ValueError(f"bad value {obj!r}")
    ((tag, body),) = obj.items()
    if tag == "c":
        return Const(int(body))
    if tag == "a":
        return Addr(int(body))
    if tag == "p":
        return Param(int(body))
    if tag == "o":
        return Offset(decode_value(body[0]), int(body[1]))
    if tag == "l":
        return Load(decode_value(body[0]), int(body[1]))
    if tag == "s":
        content = tuple(body[1]) if body[1] is not None else None
        refs = tuple((int(a), int(b)) for a, b in body[3]) if len(body) > 3 and body[3] else None
        origin = decode_value(body[4]) if len(body) > 4 and body[4] is not None else None
        fields = tuple((int(p), int(n), decode_value(v)) for p, n, v in body[5]) if len(body) > 5 else None
        links = tuple((int(a), int(b)) for a, b in body[6]) if len(body) > 6 and body[6] else None
        return StackAddr(int(body[0]), content, int(body[2]), refs, origin, fields or None, links)
    if tag == "i":
        return Import(str(body))
    raise ValueError(f"bad value tag {tag!r}")


# --------------------------------------------------------------------------------------------- memory
class ReplayMemory(Memory):
    """Serves the recorded ranges; anything else reads as nothing (as past the end of a section)."""

    def __init__(self, chunks: list[tuple[int, bytes]], sections: list[tuple[int, int, bool, bool]], image_base: int):
        self.chunks = sorted(chunks)
        self._starts = [start for start, _data in self.chunks]
        self.sections = sections
        self.image_base = image_base

    def read(self, rva: int, size: int) -> bytes:
        # Saved ranges are merged, so at most one holds ``rva``: the last one starting at or before it
        # (a bisection, so a file of a million ranges costs no more per read than one of ten).
        index = bisect.bisect_right(self._starts, rva) - 1
        if index >= 0:
            start, data = self.chunks[index]
            if rva < start + len(data):
                return data[rva - start : rva - start + size]
        return b""

    def is_writable(self, rva: int) -> bool:
        for start, size, writable, _executable in self.sections:
            if start <= rva < start + size:
                return writable
        return True


# --------------------------------------------------------------------------------------------- answers
@dataclass
class Recording:
    """The answers an engine gave after ``load``, as a facts file holds them."""

    #: (caller, call-site RVA) -> argument value sets.
    args: dict[tuple[int, int], Arguments] = field(default_factory=dict)
    #: Stores outside the frame, in the order the engine gave them.
    stores: list[Store] = field(default_factory=list)
    #: ``references(None)``: every RIP-relative ``lea``; None when never asked.
    lea_references: Optional[list[Reference]] = None
    #: ``references(targets)`` answers, and the targets they cover (None: an older file, use the leas).
    operand_references: list[Reference] = field(default_factory=list)
    reference_targets: Optional[set[int]] = None
    annotations: Optional[list[tuple[int, tuple[str, ...]]]] = None
    case_guards: dict[tuple[int, Value], dict[int, CaseSet]] = field(default_factory=dict)
    #: ``table_calls`` answers: table slot -> (caller, call-site RVA, byte offset); their arguments in ``args``.
    table_calls: dict[int, set[tuple[int, int, int]]] = field(default_factory=dict)
    #: ``pointed_bytes`` answers: (caller, call-site RVA, argument index, size, ``through`` or -1) -> the
    #: bytes (None: no answer).
    runtime_bytes: dict[tuple[int, int, int, int, int], Optional[bytes]] = field(default_factory=dict)
    #: (rva, bytes) of the memory read, merged and sorted.
    memory: list[tuple[int, bytes]] = field(default_factory=list)
    #: True when the recorder completed it (every function resolved, data sections whole).
    complete: bool = False
    #: The capabilities of the engine that was recorded.
    capabilities: Optional[frozenset[str]] = None


def _value_list(values: Iterable[Value]) -> list[Any]:
    return sorted((encode_value(v) for v in values), key=json.dumps)


# --------------------------------------------------------------------------------------------- save
def facts_to_json(facts: Facts, engine_name: str, recording: Recording) -> dict:
    """The facts file of ``facts`` and the answers recorded for them."""
    rec = recording
    return {
        "format": FORMAT,
        "version": VERSION,
        "engine": engine_name,
        "binary": facts.binary_name,
        "image_base": facts.image_base,
        "has_pdb": facts.has_pdb,
        "machine": facts.machine,
        "complete": rec.complete,
        "capabilities": None if rec.capabilities is None else sorted(rec.capabilities),
        "sections": [list(s) for s in facts.sections],
        "functions": [
            [f.rva, f.size, f.name, f.exported, f.imported, [list(fr) for fr in f.fragments]]
            for f in sorted(facts.functions.values(), key=lambda f: f.rva)
        ],
        "calls": [
            [s.caller, s.rva, s.callee, s.tail,
             None if (args := rec.args.get((s.caller, s.rva))) is None else [_value_list(arg) for arg in args]]
            for s in sorted(facts.calls, key=lambda s: (s.rva, s.callee))
        ],
        "symbols": sorted([rva, name] for rva, name in facts.symbols.items()),
        "memory": [[start, data.hex()] for start, data in rec.memory],
        "references": None if rec.lea_references is None else [[r.rva, r.function, r.target]
                                                                for r in rec.lea_references],
        "operand_references": [[r.rva, r.function, r.target] for r in rec.operand_references],
        "reference_targets": None if rec.reference_targets is None else sorted(rec.reference_targets),
        "annotations": None if rec.annotations is None else [[rva, list(strings)] for rva, strings in rec.annotations],
        "stores": [[st.function, st.rva, encode_value(st.address), _value_list(st.values)] for st in rec.stores],
        "resources": [[r.type, r.name, r.language, r.rva, r.size, r.codepage] for r in facts.resources],
        "entry_point": facts.entry_point,
        "funclets": [[parent, funclet, kind] for (parent, funclet), kind in sorted(facts.funclets.items())],
        "case_guards": [
            [func, encode_value(selector), [[rva, sorted((-1 if c is None else c) for c in cases)]
                                            for rva, cases in sorted(guards.items())]]
            for (func, selector), guards in sorted(rec.case_guards.items(), key=lambda kv: (kv[0][0], repr(kv[0][1])))],
        "table_calls": [
            [slot, caller, rva, offset,
             None if (args := rec.args.get((caller, rva))) is None else [_value_list(arg) for arg in args]]
            for slot, sites in sorted(rec.table_calls.items()) for caller, rva, offset in sorted(sites)],
        "runtime_bytes": [[caller, rva, index, size, None if data is None else data.hex(), through]
                          for (caller, rva, index, size, through), data in sorted(rec.runtime_bytes.items())],
    }


def save_facts(facts: Facts, engine_name: str, recording: Recording, path: str) -> None:
    from ..render.tables import write_output

    write_output(json.dumps(facts_to_json(facts, engine_name, recording), separators=(",", ":")) + "\n", path)


# --------------------------------------------------------------------------------------------- replay
def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a facts file may hold")


def _short_text(exc: object, limit: int = 120) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class FrozenEngine(Engine):
    """An engine that answers from a facts file: what the recorded engine answered, nothing more.

    Its capabilities are those of the recorded engine (as the file says); memory only when the
    recorder kept the data sections whole. A question the file holds no answer for (a reference
    target never asked, a case guard never computed) is answered empty and counted in one warning.
    """

    name = "frozen"

    def __init__(self, path: str):
        self.path = path
        self.source_engine: Optional[str] = None
        self.capabilities = frozenset((ARGUMENTS, STORES, REFERENCES, ANNOTATIONS, CASE_GUARDS))
        self.recording = Recording()
        self._unanswered: dict[str, int] = {}

    def load(self) -> Facts:
        name = os.path.basename(self.path)
        data = read_regular(self.path, kind="facts", error=CorruptMetadataError)
        try:
            doc = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
            check_document(doc)
        except RecursionError:
            raise CorruptMetadataError(f"{name}: not a facts file (JSON nested too deeply)") from None
        except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, Infinity/NaN, 1e400, huge integers
            raise CorruptMetadataError(f"{name}: not a facts file ({_short_text(exc)})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise CorruptMetadataError(f"{name}: not an api-to-etw facts file")
        if doc.get("version") != VERSION:
            raise CorruptMetadataError(
                f"{name}: facts format version {_short_text(repr(doc.get('version')))} (this tool reads {VERSION})")
        try:
            facts = self._build(doc)
            check_facts(facts)
            check_recording(facts, self.recording)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, RecursionError) as exc:
            raise CorruptMetadataError(f"{name}: malformed facts ({type(exc).__name__}: {_short_text(exc)})") from None
        self._by_caller: dict[int, list[tuple[int, Arguments]]] = {}
        for (caller, rva), args in self.recording.args.items():
            self._by_caller.setdefault(caller, []).append((rva, args))
        self._stores_of: dict[int, list[Store]] = {}
        for store in self.recording.stores:
            self._stores_of.setdefault(store.function, []).append(store)
        return facts

    def _build(self, doc: dict) -> Facts:
        self.source_engine = doc.get("engine")
        rec = self.recording
        functions = {}
        for rva, size, fname, exported, imported, fragments in doc["functions"]:
            functions[int(rva)] = Function(int(rva), int(size), str(fname), bool(exported), bool(imported),
                                           [(int(a), int(b)) for a, b in fragments])
        calls = []
        for caller, rva, callee, tail, args in doc["calls"]:
            calls.append(CallSite(int(caller), int(rva), int(callee), bool(tail)))
            if args is not None:
                rec.args[(int(caller), int(rva))] = tuple(frozenset(decode_value(v) for v in arg) for arg in args)
        memory = ReplayMemory(
            [(int(start), bytes.fromhex(hexdata)) for start, hexdata in doc["memory"]],
            [(int(a), int(b), bool(w), bool(x)) for a, b, w, x in doc["sections"]],
            int(doc["image_base"]),
        )
        rec.memory = memory.chunks
        rec.complete = bool(doc.get("complete"))
        recorded = doc.get("capabilities")
        if recorded is not None:
            rec.capabilities = frozenset(str(c) for c in recorded)
            self.capabilities = rec.capabilities - {MEMORY}
        if rec.complete:
            self.capabilities = self.capabilities | {MEMORY}
        refs = doc.get("references")
        rec.lea_references = None if refs is None else [Reference(int(a), int(b), int(c)) for a, b, c in refs]
        rec.operand_references = [Reference(int(a), int(b), int(c)) for a, b, c in doc.get("operand_references") or []]
        targets = doc.get("reference_targets")
        rec.reference_targets = None if targets is None else {int(t) for t in targets}
        rec.annotations = None if doc.get("annotations") is None else [
            (int(rva), tuple(str(x) for x in strings)) for rva, strings in doc["annotations"]]
        rec.stores = [Store(int(f), int(rva), decode_value(addr), frozenset(decode_value(v) for v in values))
                      for f, rva, addr, values in doc.get("stores") or []]
        rec.case_guards = {
            (int(func), decode_value(selector)): {
                int(rva): frozenset(None if int(c) < 0 else int(c) for c in cases) for rva, cases in sites}
            for func, selector, sites in doc.get("case_guards") or []}
        for slot, caller, rva, offset, args in doc.get("table_calls") or []:
            rec.table_calls.setdefault(int(slot), set()).add((int(caller), int(rva), int(offset)))
            if args is not None:
                rec.args[(int(caller), int(rva))] = tuple(frozenset(decode_value(v) for v in arg) for arg in args)
        for caller, rva, index, size, data, *through in doc.get("runtime_bytes") or []:
            # The sixth item (``through``) is absent in facts saved before it existed: -1, no pointer followed.
            rec.runtime_bytes[(int(caller), int(rva), int(index), int(size), int(through[0]) if through else -1)] = (
                None if data is None else bytes.fromhex(str(data)))
        entry = doc.get("entry_point")
        return Facts(
            binary_name=str(doc["binary"]),
            image_base=int(doc["image_base"]),
            functions=functions,
            calls=calls,
            symbols={int(rva): str(n) for rva, n in doc["symbols"]},
            memory=memory,
            has_pdb=bool(doc.get("has_pdb")),
            machine=str(doc.get("machine", "x64")),
            sections=memory.sections,
            resources=[ResourceEntry(kind if isinstance(kind, str) else int(kind), name if isinstance(name, str)
                                     else int(name), int(lang), int(rva), int(size), int(cp))
                       for kind, name, lang, rva, size, cp in doc.get("resources", [])],
            entry_point=None if entry is None else int(entry),
            funclets={(int(parent), int(funclet)): str(kind) for parent, funclet, kind in doc.get("funclets") or []},
        )

    def resolve(self, functions: Iterable[int], asked: Optional[Asked] = None) -> Resolution:
        """The recorded values of the call sites in ``functions``, and their stores in the order asked."""
        answer = Resolution()
        for rva in dict.fromkeys(functions):
            for site_rva, args in self._by_caller.get(rva, ()):
                answer.args[(rva, site_rva)] = args
            answer.stores.extend(self._stores_of.get(rva, ()))
        return answer

    def annotations(self) -> list[tuple[int, tuple[str, ...]]]:
        return list(self.recording.annotations or [])

    def table_calls(self, slot: int, offsets: Collection[int]) -> list[tuple[CallSite, int]]:
        wanted = set(offsets)
        return [(CallSite(caller, rva, slot, False), offset)
                for caller, rva, offset in sorted(self.recording.table_calls.get(slot, ())) if offset in wanted]

    def pointed_bytes(self, site: CallSite, index: int, size: int,
                      through: Optional[int] = None) -> Optional[bytes]:
        return self.recording.runtime_bytes.get((site.caller, site.rva, index, size, -1 if through is None else through))

    def case_guards(self, function: int, selector: Value) -> dict[int, CaseSet]:
        found = self.recording.case_guards.get((function, selector))
        if found is None:
            if self.recording.complete:
                self._unanswered["case guards"] = self._unanswered.get("case guards", 0) + 1
            return {}
        return dict(found)

    def references(self, targets: Optional[Collection[int]] = None) -> list[Reference]:
        rec = self.recording
        if targets is None:
            return list(rec.lea_references or [])
        wanted = set(targets)
        if rec.reference_targets is None:  # a file saved before targeted answers were kept: the leas
            return [r for r in rec.lea_references or [] if r.target in wanted]
        missing = wanted - rec.reference_targets
        if missing:
            self._unanswered["reference targets"] = self._unanswered.get("reference targets", 0) + len(missing)
        return [r for r in rec.operand_references if r.target in wanted]

    def close(self) -> None:
        if self._unanswered:
            log.warning("%s: the facts file holds no answer for %s (saved by an older version or from another "
                        "analysis); those answers are empty", os.path.basename(self.path),
                        ", ".join(f"{n} {what}" for what, n in sorted(self._unanswered.items())))
