"""Leaf code nobody names: functions in the gaps between known function ranges.

x64 leaf functions that touch neither the stack nor non-volatile registers need no unwind data, so they
have no RUNTIME_FUNCTION; without a PDB, and when no direct call reaches them (they are reached through
a vtable or a function pointer), nothing else marks them. Compilers emit exactly such functions for
TraceLogging: an enabled check, the address of the event's metadata, a tail jump to the shared write
helper. This module finds them: in each gap of an executable section, after the padding (int3, nops,
zero bytes), every run of instructions that decodes cleanly up to a terminator (ret, jmp) is a function
when it starts 16-byte aligned after padding, or right where the code before it ends (size-optimised
builds do not pad); the gap may hold several.
"""

from __future__ import annotations

import bisect
import re
from itertools import chain

from iced_x86 import Decoder, FlowControl, Instruction, Mnemonic

from ...binary.pe import PEImage
from .decoding import NO_OPTIONS

_TERMINATORS = (FlowControl.RETURN, FlowControl.UNCONDITIONAL_BRANCH, FlowControl.INDIRECT_BRANCH)
_PADDING = (Mnemonic.NOP, Mnemonic.INT3)
#: Compilers align function entries to 16 bytes; gap code that starts elsewhere is not taken as a function.
ALIGNMENT = 16
#: A gap piece longer than this without a terminator is data, not a leaf function.
MAX_PIECE = 0x400
#: A run of padding in the encodings compilers emit: one-byte padding (int3, nop, zero) and the multi-byte nops
#: (``0F 1F /0`` with a zero displacement, ``66`` prefixes, the ``2E`` segment prefix) that clang pads with between
#: functions. Each is one whole instruction that iced-x86 decodes as a NOP of that length, so the run ends where
#: decoding them one by one would have got to; any other nop form is decoded after it, as before.
_PADDING_RUN = re.compile(rb"[\xcc\x90\x00]*(?:(?:\x66\x90|\x0f\x1f\x00|\x0f\x1f\x40\x00|\x66?\x0f\x1f\x44\x00\x00"
                          rb"|\x0f\x1f\x80\x00{4}|\x66?\x0f\x1f\x84\x00{5}|\x66{1,5}\x2e\x0f\x1f\x84\x00{5})"
                          rb"[\xcc\x90\x00]*)*")


#: Gaps up to this many bytes are remembered when they hold only padding (``gap_entries``): longer ones hold code.
_KNOWN_GAP = 64
#: A byte that is not one-byte padding (int3, nop, zero): where a multi-byte nop or code may start.
_NOT_PADDING_BYTE = re.compile(rb"[^\xcc\x90\x00]")
#: The first bytes of the multi-byte nops ``_PADDING_RUN`` knows.
_NOP_LEADS = frozenset(b"\x0f\x66")


def _skip_padding(code: bytes, pos: int, stop: int, base: int) -> int:
    """Offset of the first byte at or after ``pos`` (before ``stop``) that is not padding (int3, nop, zeros)."""
    while pos < stop:
        found = _NOT_PADDING_BYTE.search(code, pos, stop)  # one-byte padding skipped at C speed
        if found is None:
            return stop
        pos = found.start()
        if code[pos] in _NOP_LEADS:  # clang's multi-byte nops skipped at C speed too, not decoded
            run = _PADDING_RUN.match(code, pos, stop)
            pos = run.end() if run is not None else pos
            if pos >= stop:
                return stop
        instr = Decoder(64, code[pos : pos + 15], NO_OPTIONS, base + pos).decode()
        if instr.is_invalid or instr.mnemonic not in _PADDING:
            return pos
        pos += instr.len
    return pos


def _piece_end(code: bytes, pos: int, stop: int, base: int) -> int | None:
    """End offset of the function starting at ``pos`` (before ``stop``): past the terminator that no branch
    seen so far jumps beyond; None when the bytes do not decode as one clean function."""
    limit = min(stop, pos + MAX_PIECE)
    decoder = Decoder(64, code[pos:limit], NO_OPTIONS, base + pos)
    instr = Instruction()
    furthest = base + pos
    while decoder.can_decode:
        decoder.decode_out(instr)
        if instr.is_invalid:
            return None
        fc = instr.flow_control
        if fc == FlowControl.CONDITIONAL_BRANCH:
            target = instr.near_branch_target
            if base + pos <= target < base + limit:
                furthest = max(furthest, target)
        if fc in _TERMINATORS and instr.next_ip > furthest:
            return instr.next_ip - base
    return None


def gap_entries(image: PEImage, ranges: list[tuple[int, int, int]]) -> set[int]:
    """Entry RVAs of the leaf functions in the gaps between ``ranges`` ((start, end, owner), any order)."""
    found: set[int] = set()
    # Gaps found to be nothing but padding, by their bytes: a few dozen distinct ones make most of a large
    # image's gaps (22 of the 1x scale kernel's 23,378), and each costs two regular expression steps or more.
    padding: set[bytes] = set()
    spans = sorted(ranges)  # by start then end (the owner only breaks ties): already sorted, one pass
    for section in image.executable_sections():
        code = image.file_bytes(section.rva, section.end - section.rva)
        base = section.rva
        size = len(code)
        top = base + size
        # The spans that start in the section (those from before it only move the cursor), then its end.
        low, high = bisect.bisect_left(spans, (base,)), bisect.bisect_left(spans, (top,))
        cursor = max((min(e, top) - base for _s, e, _o in spans[:low] if e > base), default=0)
        for span_start, span_end, _owner in chain(spans[low:high], [(top, top, 0)]):
            if span_end <= base:  # an empty or inverted range (hostile unwind data) holds no code
                continue
            start = span_start - base
            end = span_end - base if span_end < top else size  # where the span ends in the section's bytes
            if start <= cursor:  # no gap before this span (the common case: functions follow each other)
                if end > cursor:
                    cursor = end
                continue
            pos = cursor
            gap = code[pos:start] if start - pos <= _KNOWN_GAP else None
            if gap is not None and gap in padding:
                if end > cursor:
                    cursor = end
                continue
            while pos < start:
                code_start = _skip_padding(code, pos, start, base)
                if code_start >= start:
                    if code_start == start and pos == cursor and gap is not None:
                        padding.add(gap)  # every step read the gap's bytes alone: the same bytes, the same answer
                    break
                if code_start != pos and (base + code_start) % ALIGNMENT:
                    break  # padding, then code at no entry alignment: data or a piece of something else
                pos = code_start
                end_off = _piece_end(code, pos, start, base)
                if end_off is None:
                    break
                found.add(base + pos)
                pos = end_off
            if end > cursor:
                cursor = end
    return found


__all__ = ["gap_entries"]
