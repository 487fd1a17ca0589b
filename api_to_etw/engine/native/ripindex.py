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

import io
import logging
import re
import struct
import sys
import weakref
from array import array
from collections.abc import Collection, Iterator, Sequence
from typing import Callable, Optional

from ...binary.pe import PEImage, Section
from .parallel import Background, fork_split, jobs

log = logging.getLogger(__name__)

#: ModRM bytes with mod=00 and rm=101 (any register in reg): a RIP-relative memory operand.
RIP_MODRMS = b"\x05\x0d\x15\x1d\x25\x2d\x35\x3d"
_MARK = bytes(1 if b in RIP_MODRMS else 0 for b in range(256))
_ONE = re.compile(b"\x01")
#: The byte positions of a target (from its least significant) that ``offsets_to`` narrows the candidates by;
#: the higher ones are zero in most images (or all 0xFF), telling few candidates apart.
_PLANES = (0, 1, 2, 3)
_LITTLE = sys.byteorder == "little"
_BYTES = range(256)
#: ``offsets_to`` tests only the candidates its pre-filter leaves when they are under 1/_LEFT_FEW of them.
_LEFT_FEW = 4
_MATCH_START = re.Match.start
#: Bytes translated per step (the section's bytes are copied this much at a time, not whole).
_CHUNK = 4 << 20
_disp32 = struct.Struct("<i").unpack_from
#: Bytes of one section below which one process scans it: a fork and the transfer cost more than they save.
MIN_PARALLEL_SCAN_BYTES = 8 << 20


class SectionOperands:
    """The candidates of one executable section: offsets of the ModRM bytes in the section's file bytes,
    ascending, and for each ``rva + 5 + disp32``. (A plain class: never compared, it needs none of a
    dataclass's generated methods, compiled at import.)"""

    __slots__ = ("section", "offsets", "targets", "_planes")

    def __init__(self, section: Section, offsets: array, targets: array) -> None:
        self.section = section
        self.offsets = offsets
        self.targets = targets
        #: The targets' low bytes, one ``bytes`` per byte position (``offsets_to``'s pre-filter), made on first use.
        self._planes: Optional[list[bytes]] = None

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self.offsets, self.targets)

    def offsets_to(self, wanted: Collection[int]) -> list[int]:
        """The offsets (ascending) of the candidates whose target is in ``wanted``.

        Each call asks about every candidate (167,095 at 1x, for 15 targets or for 5,723), so they are first
        narrowed at C level: a candidate stays only if each of its target's low four bytes is that byte of some
        wanted value (a ``translate`` of each byte plane, the marks ANDed as one big int). Few left (they are
        not proven matches): only those are read as ints and tested. Many left (the wanted values' bytes cover
        the targets'): a byte per candidate marks the wanted ones and a literal search finds them, so only the
        targets are read as ints (``compress`` over the offsets would make an int of every offset too)."""
        offsets, targets = self.offsets, self.targets
        planes = self._planes
        if planes is None:
            raw = targets.tobytes()
            width = targets.itemsize
            planes = self._planes = [raw[k :: width] if _LITTLE else raw[width - 1 - k :: width] for k in _PLANES]
        try:
            values = struct.pack(f"{len(wanted)}q", *wanted)  # ``array("q", wanted)`` parses each value: 3x this
        except struct.error:  # a value no candidate's target can be: the test per candidate alone
            values = None
        if values is not None:
            if not values:
                return []
            mask = -1
            for k, plane in zip(_PLANES, planes):
                present = set(values[k :: 8] if _LITTLE else values[7 - k :: 8])
                if len(present) < 256:  # else every candidate has such a byte there
                    mask &= int.from_bytes(plane.translate(bytes(map(present.__contains__, _BYTES))), "little")
                    if not mask:
                        return []
            if mask != -1:
                kept = mask.to_bytes(len(targets), "little")
                # A match object and a test per candidate left cost about four set tests of the whole scan's.
                if kept.count(1) * _LEFT_FEW < len(kept):
                    return [offsets[i] for i in map(_MATCH_START, _ONE.finditer(kept)) if targets[i] in wanted]
        return [offsets[i] for i in map(_MATCH_START, _ONE.finditer(bytes(map(wanted.__contains__, targets))))]


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
    first = section.rva + 5
    offsets = array("I")  # offsets in a section: below 4 GB (4 bytes each, not 8)
    targets = array("q")
    for chunk in range(low, high, _CHUNK):
        size = min(_CHUNK, high - chunk)
        # The chunk's bytes and the displacement of its last candidates: each candidate's target read from this
        # copy at the candidate's own position (one add fewer per candidate than reading the mapped file).
        window = bytes(data[start + chunk : start + chunk + size + 4])
        found = list(map(_MATCH_START, _ONE.finditer(window.translate(_MARK), 0, size)))
        # Chunk by chunk: the list of one chunk's ints is all that is made beside the arrays (a list of every
        # candidate's target would be 35 MB on node.exe, and the heap keeps such a peak). Each list goes into
        # its array packed by one ``struct.pack`` (``extend`` converts item by item through the argument parser:
        # 645M -> 575M instructions at 1x).
        disp, base = memoryview(window)[1:], first + chunk
        targets.frombytes(_pack_items("q", [base + at + _disp32(disp, at)[0] for at in found]))
        disp.release()
        offsets.frombytes(_pack_items("I", list(map(chunk.__add__, found)) if chunk else found))
    return offsets, targets


def _pack_items(code: str, items: list[int]) -> bytes:
    """``items`` as the machine bytes of an ``array(code)`` (``struct``'s native sizes are the C types' too)."""
    return struct.pack(f"{len(items)}{code}", *items)


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


#: A sorted list of RVAs computed from the index alone (the IAT load candidates of ``functions``): the
#: prefetch child computes it beside the index, so the process that asks for it only reads it.
Derived = Callable[[PEImage, list[SectionOperands]], list[int]]
#: What the prefetch child answers: every section's (offsets, targets), then each derived list.
Prefetched = tuple[list[tuple[array, array]], list[array]]


def _scan_all(image: PEImage, derived: Sequence[Derived] = ()) -> Prefetched:
    """The candidates of every executable section and the ``derived`` lists of them, in this process (what a
    background child computes)."""
    out = []
    for section in image.executable_sections():
        size = min(section.raw_size, max(0, len(image.data) - section.raw_offset))
        out.append(_scan_range(image, section, 0, max(size - 4, 0)))
    index = [SectionOperands(section, *part) for section, part in zip(image.executable_sections(), out)]
    return out, [array("q", rule(image, index)) for rule in derived]


def _pack_all(found: Prefetched) -> bytes:
    """Every section's candidates for ``_receive_all``: the number of sections, then per section the count,
    the offsets and the targets (machine order); then the number of derived lists, each its count and RVAs."""
    sections, derived = found
    parts = [struct.pack("<Q", len(sections))]
    for offsets, targets in sections:
        parts += [struct.pack("<Q", len(offsets)), offsets.tobytes(), targets.tobytes()]
    parts.append(struct.pack("<Q", len(derived)))
    for rvas in derived:
        parts += [struct.pack("<Q", len(rvas)), rvas.tobytes()]
    return b"".join(parts)


def _receive_all(pipe: io.BufferedReader) -> Optional[Prefetched]:
    """``_pack_all``'s answer read from the pipe straight into the arrays (no copy of the whole payload: it
    arrives when the analysis is at its largest). Raises EOFError when the answer is short."""
    def count() -> int:
        head = pipe.read(8)
        if len(head) != 8:
            raise EOFError
        return struct.unpack("<Q", head)[0]

    def fill(items: array) -> array:
        """Read ``items``' bytes from the pipe into it in place (``fromfile`` would make a bytes object of the
        same size first)."""
        view = memoryview(items).cast("B")
        done = 0
        while done < len(view):
            got = pipe.readinto(view[done:])
            if not got:
                raise EOFError
            done += got
        return items

    out = []
    for _ in range(count()):
        size = count()
        out.append((fill(array("I", [0]) * size), fill(array("q", [0]) * size)))
    return out, [fill(array("q", [0]) * count()) for _ in range(count())]


_CACHE: dict[int, list[SectionOperands]] = {}
#: Images whose candidates a forked child is computing (``prefetch``), collected by ``rip_operands``, with the
#: rules of the derived lists it computes.
_PENDING: dict[int, tuple[Background[Prefetched], tuple[Derived, ...]]] = {}
#: (image, rule) -> the derived list, as the prefetch child answered it or as computed here.
_DERIVED: dict[tuple[int, Derived], list[int]] = {}


def prefetch(image: PEImage, derived: Sequence[Derived] = ()) -> None:
    """Start the byte scan of a large image in a forked child, to be collected by the first ``rip_operands``.

    For images with a section of at least ``MIN_PARALLEL_SCAN_BYTES`` (those the scan splits over two
    processes anyway). Function discovery calls this first, while the process is small (the fork copies
    little, and pages made later are the parent's own); the child runs only on an idle core
    (``parallel.Background``'s ``idle``), so the first decode round, which keeps both cores busy, goes
    first and the scan takes the core that the serial part after it leaves idle. It computes the
    ``derived`` lists too (``derived_list``). Discovery collects it when it ends; a child that has not
    answered by then (no core was idle: a loaded machine) is waited for at this process's priority: what is
    left of its scan costs the path no more than a scan here would, and a scan here would split over two
    processes by a fork of the grown heap (its page tables copied, 480 MB summed on node.exe) or, in one
    process, redo the part the child has done.
    """
    key = id(image)
    if key in _CACHE or key in _PENDING or jobs() < 2:
        return
    sections = image.executable_sections()
    if not any(section.raw_size >= MIN_PARALLEL_SCAN_BYTES for section in sections):
        return
    rules = tuple(derived)
    pending = Background(lambda: _scan_all(image, rules), _pack_all, receive=_receive_all, idle=True)
    _PENDING[key] = (pending, rules)
    weakref.finalize(image, _forget, key, pending)


def _forget(key: int, pending: Background[Prefetched]) -> None:
    if key in _PENDING and _PENDING[key][0] is pending:
        del _PENDING[key]
        pending.cancel()


def rip_operands(image: PEImage) -> list[SectionOperands]:
    """The candidates of every executable section of ``image`` (scanned on first use, then kept with it)."""
    key = id(image)
    found = _CACHE.get(key)
    if found is None:
        sections = image.executable_sections()
        pending, rules = _PENDING.pop(key, (None, ()))
        answer = None
        if pending is not None:
            if not pending.ready():  # a loaded machine left it no idle core: it now runs as this process would
                log.debug("ripindex: waiting for the prefetch child")
            answer = pending.result()
        if answer is not None and len(answer[0]) == len(sections) and len(answer[1]) == len(rules):
            found = [SectionOperands(section, *part) for section, part in zip(sections, answer[0])]
            for rule, rvas in zip(rules, answer[1]):
                _DERIVED[(key, rule)] = rvas.tolist()
                weakref.finalize(image, _DERIVED.pop, (key, rule), None)
        else:
            found = [_scan_section(image, section) for section in sections]
        _CACHE[key] = found
        weakref.finalize(image, _CACHE.pop, key, None)
    return found


def derived_list(image: PEImage, rule: Derived) -> list[int]:
    """``rule(image, rip_operands(image))``: as the prefetch child computed it beside the index, else here."""
    index = rip_operands(image)  # collects the prefetch child's answer, derived lists included
    key = (id(image), rule)
    rvas = _DERIVED.get(key)
    if rvas is None:
        rvas = _DERIVED[key] = rule(image, index)
        weakref.finalize(image, _DERIVED.pop, key, None)
    return rvas


__all__ = ["RIP_MODRMS", "Derived", "SectionOperands", "derived_list", "prefetch", "rip_operands"]
