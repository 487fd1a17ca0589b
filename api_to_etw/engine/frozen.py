"""Frozen facts: an engine's output saved as JSON and replayed without the binary or the engine.

Saving records the functions, call sites with whatever argument values were resolved, the symbols,
the section layout and every byte range the ETW decoders read. Replaying serves the same answers, so
the analysis can be tested and two engines compared without pefile, iced-x86 or Ghidra. Facts are
saved after an analysis, so they hold the arguments that analysis asked for: replay with the same
(or a smaller) --max-depth.
"""

from __future__ import annotations

import bisect
import json
import os
from collections.abc import Collection, Iterable
from typing import Any, Optional

from ..errors import CorruptMetadataError
from ..inputs import read_regular
from ..model import (
    UNKNOWN,
    Addr,
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
    ResourceEntry,
    StackAddr,
    Store,
    Value,
)
from .base import Engine
from .facts_check import check_document, check_facts

FORMAT = "api-to-etw-facts"
VERSION = 1


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
        if value.refs or value.origin is not None or value.fields:
            body.append([list(r) for r in value.refs or ()])
        if value.origin is not None or value.fields:
            body.append(encode_value(value.origin) if value.origin is not None else None)
        if value.fields:
            body.append([[pos, size, encode_value(v)] for pos, size, v in value.fields])
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
        return StackAddr(int(body[0]), content, int(body[2]), refs, origin, fields or None)
    if tag == "i":
        return Import(str(body))
    raise ValueError(f"bad value tag {tag!r}")


# --------------------------------------------------------------------------------------------- memory
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

    def is_writable(self, rva: int) -> bool:
        return self.inner.is_writable(rva)

    def merged(self) -> list[tuple[int, int]]:
        spans = sorted(self.ranges.items())
        out: list[list[int]] = []
        for start, size in spans:
            if out and start <= out[-1][0] + out[-1][1]:
                out[-1][1] = max(out[-1][1], start + size - out[-1][0])
            else:
                out.append([start, size])
        return [(a, b) for a, b in out]


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


# --------------------------------------------------------------------------------------------- save
def facts_to_json(facts: Facts, engine_name: str) -> dict:
    memory = facts.memory
    ranges = memory.merged() if isinstance(memory, RecordingMemory) else []
    return {
        "format": FORMAT,
        "version": VERSION,
        "engine": engine_name,
        "binary": facts.binary_name,
        "image_base": facts.image_base,
        "has_pdb": facts.has_pdb,
        "machine": facts.machine,
        "sections": [list(s) for s in facts.sections],
        "functions": [
            [f.rva, f.size, f.name, f.exported, f.imported, [list(fr) for fr in f.fragments]]
            for f in sorted(facts.functions.values(), key=lambda f: f.rva)
        ],
        "calls": [
            [s.caller, s.rva, s.callee, s.tail,
             None if s.args is None else [sorted((encode_value(v) for v in arg), key=json.dumps) for arg in s.args]]
            for s in sorted(facts.calls, key=lambda s: (s.rva, s.callee))
        ],
        "symbols": sorted([rva, name] for rva, name in facts.symbols.items()),
        "memory": [[start, memory.read(start, size).hex()] for start, size in ranges],
        "references": None if facts.references is None else [[r.rva, r.function, r.target] for r in facts.references],
        "annotations": None if facts.annotations is None else [[rva, list(strings)] for rva, strings in facts.annotations],
        "stores": [[st.function, st.rva, encode_value(st.address), sorted((encode_value(v) for v in st.values), key=json.dumps)]
                   for st in sorted(facts.stores, key=lambda st: (st.rva, repr(st.address)))],
        "resources": [[r.type, r.name, r.language, r.rva, r.size, r.codepage] for r in facts.resources],
        "entry_point": facts.entry_point,
        "case_guards": None if facts.case_guards is None else [
            [func, encode_value(selector), [[rva, sorted((-1 if c is None else c) for c in cases)]
                                            for rva, cases in sorted(guards.items())]]
            for (func, selector), guards in sorted(facts.case_guards.items(), key=lambda kv: (kv[0][0], repr(kv[0][1])))],
    }


def save_facts(facts: Facts, engine_name: str, path: str) -> None:
    from ..render.tables import write_output

    write_output(json.dumps(facts_to_json(facts, engine_name), separators=(",", ":")) + "\n", path)


# --------------------------------------------------------------------------------------------- replay
def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a facts file may hold")


def _short_text(exc: object, limit: int = 120) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class FrozenEngine(Engine):
    """An engine that answers from a facts file."""

    name = "frozen"

    def __init__(self, path: str):
        self.path = path
        self.source_engine: Optional[str] = None

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
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, RecursionError) as exc:
            raise CorruptMetadataError(f"{name}: malformed facts ({type(exc).__name__}: {_short_text(exc)})") from None
        self._facts = facts
        return facts

    def _build(self, doc: dict) -> Facts:
        self.source_engine = doc.get("engine")
        functions = {}
        for rva, size, fname, exported, imported, fragments in doc["functions"]:
            functions[int(rva)] = Function(int(rva), int(size), str(fname), bool(exported), bool(imported),
                                           [(int(a), int(b)) for a, b in fragments])
        calls = []
        for caller, rva, callee, tail, args in doc["calls"]:
            decoded = None
            if args is not None:
                decoded = tuple(frozenset(decode_value(v) for v in arg) for arg in args)
            calls.append(CallSite(int(caller), int(rva), int(callee), bool(tail), decoded))
        memory = ReplayMemory(
            [(int(start), bytes.fromhex(hexdata)) for start, hexdata in doc["memory"]],
            [(int(a), int(b), bool(w), bool(x)) for a, b, w, x in doc["sections"]],
            int(doc["image_base"]),
        )
        refs = doc.get("references")
        guards = doc.get("case_guards")
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
            references=None if refs is None else [Reference(int(a), int(b), int(c)) for a, b, c in refs],
            annotations=None if doc.get("annotations") is None else [
                (int(rva), tuple(str(x) for x in strings)) for rva, strings in doc["annotations"]],
            stores=[Store(int(f), int(rva), decode_value(addr), frozenset(decode_value(v) for v in values))
                    for f, rva, addr, values in doc.get("stores") or []],
            resources=[ResourceEntry(kind if isinstance(kind, str) else int(kind), name if isinstance(name, str)
                                     else int(name), int(lang), int(rva), int(size), int(cp))
                       for kind, name, lang, rva, size, cp in doc.get("resources", [])],
            entry_point=None if entry is None else int(entry),
            case_guards=None if guards is None else {
                (int(func), decode_value(selector)): {
                    int(rva): frozenset(None if int(c) < 0 else int(c) for c in cases) for rva, cases in sites}
                for func, selector, sites in guards},
        )

    def resolve(self, functions: Iterable[int]) -> None:
        """Nothing to do: arguments were resolved when the facts were saved."""

    def annotations(self) -> list[tuple[int, tuple[str, ...]]]:
        facts = getattr(self, "_facts", None)
        return list(facts.annotations or []) if facts is not None else []

    def case_guards(self, function: int, selector: Value) -> dict[int, CaseSet]:
        facts = getattr(self, "_facts", None)
        if facts is None or not facts.case_guards:
            return {}
        return dict(facts.case_guards.get((function, selector), {}))

    def references(self, targets: Optional[Collection[int]] = None) -> list[Reference]:
        facts = getattr(self, "_facts", None)
        refs = list(facts.references or []) if facts is not None else []
        return refs if targets is None else [r for r in refs if r.target in set(targets)]
