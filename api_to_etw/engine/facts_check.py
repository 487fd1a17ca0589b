"""Checks that make a facts file safe to replay: a saved file is input like any other, so it may lie.

Two passes, kept apart from the reader so the format can grow without touching them. Before the
document is decoded: it nests at most :data:`MAX_DEPTH` levels and holds only integers within 64 bits
(no ``1e400``, ``Infinity`` or fractions: facts have none). After it is decoded: addresses and sizes
are 32-bit RVAs, the image base a 64-bit address, and every call site and reference names a function
of the file, which the analysis relies on. (Values decode recursively; :data:`MAX_DEPTH` bounds that.)
"""

from __future__ import annotations

from typing import Any

from ..model import Facts

#: Deepest JSON nesting accepted (the format itself needs 6 levels plus the values).
MAX_DEPTH = 128
WORD = (-(1 << 63), (1 << 64) - 1)
U32 = (0, 0xFFFFFFFF)
U64 = (0, 0xFFFFFFFFFFFFFFFF)


def _short(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 40 else text[:37] + "..."


def check_document(doc: Any) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` and numbers that are not 64-bit integers (ValueError)."""
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth >= MAX_DEPTH:
                raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, float):
            raise ValueError(f"{_short(item)} where facts hold integers")
        elif isinstance(item, int) and not isinstance(item, bool) and not WORD[0] <= item <= WORD[1]:
            raise ValueError(f"integer {_short(item)} does not fit in 64 bits")


def _in(value: int, bounds: tuple[int, int], what: str) -> None:
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{what} {_short(value)} is out of range ({bounds[0]:#x}..{bounds[1]:#x})")


def check_facts(facts: Facts) -> None:
    """Ranges and cross-references of decoded facts (ValueError naming the first problem)."""
    _in(facts.image_base, U64, "image_base")
    for rva, func in facts.functions.items():
        _in(rva, U32, "function rva")
        _in(func.size, U32, f"size of function {rva:#x}")
        for start, size in func.fragments:
            _in(start, U32, "fragment rva")
            _in(size, U32, "fragment size")
    for start, size, _writable, _executable in facts.sections:
        _in(start, U32, "section rva")
        _in(size, U32, "section size")
    end = -1
    for start, data in getattr(facts.memory, "chunks", ()):  # ReplayMemory: saved merged, so never overlapping
        _in(start, U32, "memory rva")
        if start < end:
            raise ValueError(f"memory range at {start:#x} overlaps the one before it")
        end = start + len(data)
    for rva in facts.symbols:
        _in(rva, U32, "symbol rva")
    for site in facts.calls:
        _in(site.rva, U32, "call rva")
        for end, what in ((site.caller, "caller"), (site.callee, "callee")):
            if end not in facts.functions:
                raise ValueError(f"call at {site.rva:#x} names {what} {_short(end)}, which is not a function of the file")
    for parent, funclet in facts.funclets:
        for end, what in ((parent, "parent"), (funclet, "funclet")):
            if end not in facts.functions:
                raise ValueError(f"funclet edge names {what} {_short(end)}, which is not a function of the file")


def check_recording(facts: Facts, recording: Any) -> None:
    """Ranges and cross-references of the recorded answers (``frozen.Recording``): every reference
    names a function of the file, as the analysis relies on."""
    for ref in list(recording.lea_references or ()) + list(recording.operand_references):
        _in(ref.rva, U32, "reference rva")
        _in(ref.target, U32, "reference target")
        if ref.function not in facts.functions:
            raise ValueError(f"reference at {ref.rva:#x} is in {_short(ref.function)}, which is not a function of the file")
