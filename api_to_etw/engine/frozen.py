"""Frozen facts: an engine's output saved as JSON and replayed without the binary or the engine.

Saving records the functions, call sites with whatever argument values were resolved, the symbols,
the section layout and every byte range the ETW decoders read. Replaying serves the same answers, so
the analysis can be tested and two engines compared without pefile, iced-x86 or Ghidra. Facts are
saved after an analysis, so they hold the arguments that analysis asked for: replay with the same
(or a smaller) --max-depth.
"""

from __future__ import annotations

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
    Const,
    Facts,
    Function,
    Load,
    Memory,
    Offset,
    Param,
    Reference,
    StackAddr,
    Value,
)
from .base import Engine

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
        return {"s": [value.offset, list(value.content) if value.content is not None else None, value.frame]}
    return "?"


#: Deepest value nesting accepted in a facts file (the engines produce at most a handful of levels).
MAX_VALUE_DEPTH = 64
U32 = (0, 0xFFFFFFFF)
U64 = (0, 0xFFFFFFFFFFFFFFFF)
#: Constants and offsets: what a 64-bit register can hold, read as signed or unsigned.
WORD = (-(1 << 63), (1 << 64) - 1)
SMALL = (-(1 << 31), (1 << 31) - 1)


def _int(obj: Any, bounds: tuple[int, int], what: str) -> int:
    """An integer within ``bounds``; floats (1e400, Infinity), booleans and strings are refused."""
    if type(obj) is not int:
        raise ValueError(f"{what} must be an integer, not {type(obj).__name__} {_short(obj)}")
    if not bounds[0] <= obj <= bounds[1]:
        raise ValueError(f"{what} {_short(obj)} is out of range ({bounds[0]}..{bounds[1]})")
    return obj


def _list(obj: Any, what: str, length: Optional[int] = None) -> list:
    if not isinstance(obj, list):
        raise ValueError(f"{what} must be a list, not {type(obj).__name__}")
    if length is not None and len(obj) != length:
        raise ValueError(f"{what} must have {length} items, not {len(obj)}")
    return obj


def _str(obj: Any, what: str) -> str:
    if not isinstance(obj, str):
        raise ValueError(f"{what} must be a string, not {type(obj).__name__}")
    return obj


def _bool(obj: Any, what: str) -> bool:
    if not isinstance(obj, bool):
        raise ValueError(f"{what} must be true or false, not {_short(obj)}")
    return obj


def _short(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 40 else text[:37] + "..."


def decode_value(obj: Any, depth: int = 0) -> Value:
    if obj == "?":
        return UNKNOWN
    if depth >= MAX_VALUE_DEPTH:
        raise ValueError(f"value nested deeper than {MAX_VALUE_DEPTH} levels")
    if not isinstance(obj, dict) or len(obj) != 1:
        raise ValueError(f"bad value {_short(obj)}")
    ((tag, body),) = obj.items()
    if tag == "c":
        return Const(_int(body, WORD, "constant"))
    if tag == "a":
        return Addr(_int(body, U32, "address"))
    if tag == "p":
        return Param(_int(body, (0, 255), "parameter index"))
    if tag == "o":
        base, delta = _list(body, "offset", 2)
        return Offset(decode_value(base, depth + 1), _int(delta, WORD, "offset delta"))
    if tag == "l":
        addr, size = _list(body, "load", 2)
        return Load(decode_value(addr, depth + 1), _int(size, (0, 64), "load size"))
    if tag == "s":
        offset, content, frame = _list(body, "stack address", 3)
        stored = None
        if content is not None:
            stored = tuple(None if b is None else _int(b, (0, 255), "stack byte")
                           for b in _list(content, "stack content"))
        return StackAddr(_int(offset, SMALL, "stack offset"), stored, _int(frame, (-1, U32[1]), "stack frame"))
    raise ValueError(f"bad value tag {_short(tag)}")


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
        self.sections = sections
        self.image_base = image_base

    def read(self, rva: int, size: int) -> bytes:
        for start, data in self.chunks:
            if start <= rva < start + len(data):
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
    }


def save_facts(facts: Facts, engine_name: str, path: str) -> None:
    from ..render.tables import write_output

    write_output(json.dumps(facts_to_json(facts, engine_name), separators=(",", ":")) + "\n", path)


# --------------------------------------------------------------------------------------------- replay
def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a facts file may hold")


def _short_text(exc: BaseException, limit: int = 120) -> str:
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
        except RecursionError:
            raise CorruptMetadataError(f"{name}: not a facts file (JSON nested too deeply)") from None
        except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, Infinity/NaN, over-long integers
            raise CorruptMetadataError(f"{name}: not a facts file ({_short_text(exc)})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise CorruptMetadataError(f"{name}: not an api-to-etw facts file")
        if doc.get("version") != VERSION:
            raise CorruptMetadataError(
                f"{name}: facts format version {_short(doc.get('version'))} (this tool reads {VERSION})")
        try:
            self._facts = self._build(doc)
            return self._facts
        except RecursionError:
            raise CorruptMetadataError(f"{name}: malformed facts (nested too deeply)") from None
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise CorruptMetadataError(f"{name}: malformed facts ({type(exc).__name__}: {_short_text(exc)})") from None

    def _build(self, doc: dict) -> Facts:
        """Facts from a parsed document, every field checked: types, integer ranges, and that every call
        site and reference names a function of the file (the analysis relies on it)."""
        engine = doc.get("engine")
        self.source_engine = engine if isinstance(engine, str) else None
        functions: dict[int, Function] = {}
        for item in _list(doc["functions"], "functions"):
            rva, size, fname, exported, imported, fragments = _list(item, "function", 6)
            entry = _int(rva, U32, "function rva")
            functions[entry] = Function(
                entry, _int(size, U32, "function size"), _str(fname, "function name"),
                _bool(exported, "exported"), _bool(imported, "imported"),
                [(_int(a, U32, "fragment rva"), _int(b, U32, "fragment size"))
                 for a, b in (_list(fr, "fragment", 2) for fr in _list(fragments, "fragments"))])
        calls = []
        for item in _list(doc["calls"], "calls"):
            caller, rva, callee, tail, args = _list(item, "call", 5)
            site = _int(rva, U32, "call rva")
            for end, what in ((caller, "caller"), (callee, "callee")):
                if _int(end, U32, what) not in functions:
                    raise ValueError(f"call at {site:#x} names {what} {end:#x}, which is not a function of the file")
            decoded = None
            if args is not None:
                decoded = tuple(frozenset(decode_value(v) for v in _list(arg, "argument values"))
                                for arg in _list(args, "arguments"))
            calls.append(CallSite(caller, site, callee, _bool(tail, "tail"), decoded))
        sections = [(_int(a, U32, "section rva"), _int(b, U32, "section size"), _bool(w, "writable"),
                     _bool(x, "executable"))
                    for a, b, w, x in (_list(s, "section", 4) for s in _list(doc["sections"], "sections"))]
        image_base = _int(doc["image_base"], U64, "image_base")
        memory = ReplayMemory(
            [(_int(start, U32, "memory rva"), bytes.fromhex(_str(hexdata, "memory bytes")))
             for start, hexdata in (_list(m, "memory range", 2) for m in _list(doc["memory"], "memory"))],
            sections, image_base)
        refs = doc.get("references")
        references = None
        if refs is not None:
            references = []
            for item in _list(refs, "references"):
                at, function, target = (_int(v, U32, "reference") for v in _list(item, "reference", 3))
                if function not in functions:
                    raise ValueError(f"reference at {at:#x} is in {function:#x}, which is not a function of the file")
                references.append(Reference(at, function, target))
        notes = doc.get("annotations")
        annotations = None
        if notes is not None:
            annotations = [(_int(rva, U32, "annotation rva"),
                            tuple(_str(x, "annotation string") for x in _list(strings, "annotation strings")))
                           for rva, strings in (_list(a, "annotation", 2) for a in _list(notes, "annotations"))]
        symbols = {_int(rva, U32, "symbol rva"): _str(n, "symbol name")
                   for rva, n in (_list(s, "symbol", 2) for s in _list(doc["symbols"], "symbols"))}
        return Facts(
            binary_name=_str(doc["binary"], "binary"),
            image_base=image_base,
            functions=functions,
            calls=calls,
            symbols=symbols,
            memory=memory,
            has_pdb=_bool(doc.get("has_pdb", False), "has_pdb"),
            machine=_str(doc.get("machine", "x64"), "machine"),
            sections=sections,
            references=references,
            annotations=annotations,
        )

    def resolve(self, functions: Iterable[int]) -> None:
        """Nothing to do: arguments were resolved when the facts were saved."""

    def annotations(self) -> list[tuple[int, tuple[str, ...]]]:
        facts = getattr(self, "_facts", None)
        return list(facts.annotations or []) if facts is not None else []

    def references(self, targets: Optional[Collection[int]] = None) -> list[Reference]:
        facts = getattr(self, "_facts", None)
        refs = list(facts.references or []) if facts is not None else []
        return refs if targets is None else [r for r in refs if r.target in set(targets)]
