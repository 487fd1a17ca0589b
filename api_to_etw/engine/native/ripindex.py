"""Every possible RIP-relative memory operand of the code, found once by a byte scan and kept as two arrays.

A RIP-relative operand is a ModRM byte with mod=00, rm=101 followed by a 32-bit displacement relative to
the end of the instruction. The scans that look for references (to IAT slots, to TraceLogging metadata,
to pointer slots filled at run time, every ``lea r64, [rip+x]``) all start from the same candidates: each
such ModRM byte and the address ``rva(ModRM) + 5 + disp32`` (the target when no immediate follows). They
differ only in which targets they keep, so the byte scan runs once per image and each scan filters the
arrays (a set lookup per candidate) instead of running a regular expression over all the code again.

The candidates are found with C-level byte operations (``bytes.translate`` then a literal search), not a
Python step per byte; a match may sit inside another instruction, as before: the callers confirm what
matters by decoding.
"""

from __future__ import annotations

import re
import struct
import weakref
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Optional

from ...binary.pe import PEImage, Section
from .parallel import fork_split

#: ModRM bytes with mod=00 and rm=101 (any register in reg): a RIP-relative memory operand.
RIP_MODRMS = b"\x05\x0d\x15\x1d\x25\x2d\x35\x3d"
_MARK = bytes(1 if b in RIP_MODRMS else 0 for b in range(256))
_ONE = re.compile(b"\x01")
#: Bytes translated per step (the section's bytes are copied this much at a time, not whole).
_CHUNK = 4 << 20
_disp32 = struct.Struct("<i").unpack_from
#: Bytes of one section below which one process scans it: a fork and the transfer cost more than they save.
MIN_PARALLEL_SCAN_BYTES = 8 << 20


@dataclass
class SectionOperands:
    """The candidates of one executable section: offsets of the ModRM bytes in the section's file bytes,
    ascending, and for each ``rva + 5 + disp32``."""

    section: Section
    offsets: array
    targets: array

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self.offsets, self.targets)


def _scan_section(image: PEImage, section: Section) -> SectionOperands:
    """The candidates of ``section``; a large one is scanned in two halves by two processes (``parallel``)."""
    size = min(section.raw_size, max(0, len(image.data) - section.raw_offset))
    span = max(size - 4, 0)  # candidate offsets 0..size-5: the displacement must lie in the section's bytes
    middle = span // 2
    halves = [(0, middle), (middle, span)]
    split = fork_split(halves, [middle, span - middle], MIN_PARALLEL_SCAN_BYTES,
                       lambda part: _scan_range(image, section, *part[0]), _pack, _unpack)
    if split is None:
        offsets, targets = _scan_range(image, section, 0, span)
    else:
        (offsets, targets), (more_offsets, more_targets) = split
        offsets.extend(more_offsets)
        targets.extend(more_targets)
    return SectionOperands(section, offsets, targets)


def _scan_range(image: PEImage, section: Section, low: int, high: int) -> tuple[array, array]:
    """The candidates at section offsets ``low``..``high`` (exclusive): their offsets and targets."""
    data = image.data
    start = section.raw_offset
    offsets = array("I")  # offsets in a section: below 4 GB (4 bytes each, not 8)
    for chunk in range(low, high, _CHUNK):
        marked = bytes(data[start + chunk : start + min(chunk + _CHUNK, high)]).translate(_MARK)
        offsets.extend(map(chunk.__add__, map(re.Match.start, _ONE.finditer(marked))))
    first = section.rva + 5
    targets = array("q", [first + offset + _disp32(data, start + offset + 1)[0] for offset in offsets])
    return offsets, targets


def _pack(found: tuple[array, array]) -> bytes:
    """A half's candidates through the pipe: their count, the offsets, the targets (machine order)."""
    offsets, targets = found
    return struct.pack("<Q", len(offsets)) + offsets.tobytes() + targets.tobytes()


def _unpack(payload: bytes) -> Optional[tuple[array, array]]:
    if len(payload) < 8:
        return None
    (count,) = struct.unpack_from("<Q", payload)
    offsets, targets = array("I"), array("q")
    split = 8 + count * offsets.itemsize
    if len(payload) != split + count * targets.itemsize:
        return None
    offsets.frombytes(payload[8:split])
    targets.frombytes(payload[split:])
    return offsets, targets


_CACHE: dict[int, list[SectionOperands]] = {}


def rip_operands(image: PEImage) -> list[SectionOperands]:
    """The candidates of every executable section of ``image`` (scanned on first use, then kept with it)."""
    key = id(image)
    found = _CACHE.get(key)
    if found is None:
        found = [_scan_section(image, section) for section in image.executable_sections()]
        _CACHE[key] = found
        weakref.finalize(image, _CACHE.pop, key, None)
    return found


__all__ = ["RIP_MODRMS", "SectionOperands", "rip_operands"]
