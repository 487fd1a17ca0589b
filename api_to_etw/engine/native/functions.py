"""Function boundaries and direct call edges, from one linear decode of every function.

Entries come from the exception directory (every non-leaf x64 function has a RUNTIME_FUNCTION; chained
entries are fragments of their parent), the PDB's code symbols, the exports and the entry point; direct
call targets found while decoding add the leaf functions nobody named.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain, islice
from operator import itemgetter
from typing import Optional, overload

from iced_x86 import Decoder, FlowControl, Instruction, Mnemonic, OpKind, Register, RegisterExt

from ...binary.pe import PEImage
from ...fieldclass import Mutable
from ...model import CallSite, Function, Reference
from .decoding import NO_OPTIONS
from .gaps import gap_entries
from .ripindex import SectionOperands, derived_list, prefetch, rip_operands

log = logging.getLogger(__name__)

_CALL = FlowControl.CALL
_BRANCH = FlowControl.UNCONDITIONAL_BRANCH
_COND = FlowControl.CONDITIONAL_BRANCH
_INDIRECT_CALL = FlowControl.INDIRECT_CALL
_INDIRECT_BRANCH = FlowControl.INDIRECT_BRANCH
_NEXT = FlowControl.NEXT
_MOV = Mnemonic.MOV
_REG = OpKind.REGISTER
_full_register = RegisterExt.full_register
_START = itemgetter(0)
_END = itemgetter(1)
_CALLEE = itemgetter(2)
#: Makes a ``CallSite`` or ``Function`` without running its ``__init__`` (``discover`` sets every field).
_new = object.__new__
#: No symbols.
_NONE: Mapping[int, str] = {}


#: ``settle_pending`` steps through the known starts (rather than bisecting them) when they are fewer than this
#: many per waiting start: a step costs about a tenth of a bisect.
_WALK_STARTS = 8
#: Functions whose extent changed up to which the sorted code ranges are updated in place rather than sorted
#: again (each in-place move shifts the lists by one: tens of microseconds on 70,000 ranges).
_FEW_CHANGED = 256
#: A call edge while functions are being discovered: (caller entry, instruction RVA, target, tail jump).
#: Tuples, not ``CallSite`` objects: most are made once per call instruction of the binary.
Edge = tuple[int, int, int, bool]
#: The edges found so far, by the entry of the function decoded (in the order decoded): a function decoded
#: again with a shorter extent drops its old edges by one ``pop``, not by filtering every edge of the binary.
EdgesByEntry = dict[int, list[Edge]]


class FunctionMap(Mutable):
    """The functions and call sites found, with the lookups over them. (A dataclass once: a ``Mutable``
    class needs no methods compiled at import, nor the ``dataclasses`` module.)"""

    functions: dict[int, Function]
    calls: list[CallSite]
    #: Sorted (start, end, owner entry) of every code range, for address -> function lookups.
    ranges: list[tuple[int, int, int]]
    _starts: list[int]
    #: Caller entry -> the slice (start, stop) of ``run_sites`` holding its sites (each caller's are contiguous).
    runs: dict[int, tuple[int, int]]
    #: The list ``runs`` slices: ``calls`` itself, or once functions were decoded again (``_replace_sites``)
    #: the list as first made, with their new sites after its end (the other runs need not move).
    run_sites: list[CallSite]
    _fields = ("functions", "calls", "ranges", "_starts", "runs", "run_sites")

    def __init__(self, functions: dict[int, Function], calls: list[CallSite],
                 ranges: Optional[list[tuple[int, int, int]]] = None, _starts: Optional[list[int]] = None,
                 runs: Optional[dict[int, tuple[int, int]]] = None, run_sites: Optional[list[CallSite]] = None) -> None:
        self.functions = functions
        self.calls = calls
        self.ranges = [] if ranges is None else ranges
        self._starts = [] if _starts is None else _starts
        self.runs = {} if runs is None else runs
        self.run_sites = [] if run_sites is None else run_sites

    def owner(self, rva: int) -> int | None:
        """Entry RVA of the function whose code contains ``rva``."""
        i = bisect.bisect_right(self._starts, rva) - 1
        if i >= 0:
            start, end, owner = self.ranges[i]
            if start <= rva < end:
                return owner
        return None


class SitesByFunction:
    """The call sites of each function by instruction RVA, the dict of a function made the first time it is
    asked for: the engine asks for the few functions the analysis resolves, not for all (551,000 sites in
    node.exe). Sites added later (``setdefault``) join the function's dict."""

    def __init__(self, calls: list[CallSite], runs: dict[int, tuple[int, int]]):
        self._calls = calls
        self._runs = runs
        self._made: dict[int, dict[int, CallSite]] = {}

    @overload
    def get(self, caller: int) -> Optional[dict[int, CallSite]]: ...
    @overload
    def get(self, caller: int, default: dict[int, CallSite]) -> dict[int, CallSite]: ...

    def get(self, caller: int, default: Optional[dict[int, CallSite]] = None) -> Optional[dict[int, CallSite]]:
        made = self._made.get(caller)
        if made is None:
            run = self._runs.get(caller)
            if run is None:
                return default
            made = self._made[caller] = {site.rva: site for site in self._calls[run[0] : run[1]]}
        return made

    def __getitem__(self, caller: int) -> dict[int, CallSite]:
        made = self.get(caller)
        if made is None:
            raise KeyError(caller)
        return made

    def setdefault(self, caller: int, default: dict[int, CallSite]) -> dict[int, CallSite]:
        made = self.get(caller)
        if made is None:
            made = self._made[caller] = default
        return made


def discover(image: PEImage, code_symbols: Mapping[int, str], data_symbols: Mapping[int, str] = _NONE) -> FunctionMap:
    """Find functions and their direct call edges (calls, tail jumps, calls through the IAT), each function named
    by ``code_symbols`` (else its export, else ``sub_<rva>``); imports and pointer slots by their import name,
    else ``data_symbols``, else ``ptr_<rva>``."""
    # The RIP operand index of a large image (and its IAT load candidates), on the core the serial part will
    # leave idle.
    prefetch(image, (_iat_loads_in,))
    code_spans = [(s.rva, s.end) for s in image.executable_sections()]
    disjoint = image.disjoint_sections  # then the section found for one RVA holds the next ones up to its end

    def in_code(rva: int) -> bool:
        for low, high in code_spans:
            if low <= rva < high:
                return True
        return False

    extents, fragments = _unwind_extents(image)
    from_unwind = set(extents)  # extents known exactly; the others are estimated and may be split
    # The named entries unwind data does not give (a set: the order they are settled in is sorted), those in code
    # taken by a slice of the sorted candidates per code section (no test per candidate).
    named = sorted(set(code_symbols).union(image.exports, (image.entry_point,)).difference(extents, (0,)))
    after = bisect.bisect_left
    pending = set(chain.from_iterable(named[after(named, low) : after(named, high)] for low, high in code_spans))

    functions: dict[int, Function] = {}
    calls: EdgesByEntry = {}
    imports = image.imports

    # The sorted ranges are kept between rounds; only the functions whose extent changed since (``changed``)
    # are taken out and put back, in place: a round adds a few functions to tens of thousands.
    built: list[tuple[list[int], list[tuple[int, int, int]]]] = []
    #: Entry -> the end its range in ``built`` has, for the built functions whose extent was cut since (the only
    #: built ones in ``changed``: every other entry in it is new, and each unchanged range ends at its extent).
    shortened: dict[int, int] = {}
    changed: set[int] = set()

    def code_ranges() -> tuple[list[int], list[tuple[int, int, int]]]:
        """(starts, ranges) of the current extents, sorted. The lists are updated in place by the next call:
        each caller is done with the previous answer by then."""
        if built and not changed:
            return built[0]
        if not built or len(changed) > _FEW_CHANGED:  # each move shifts the lists: few, else one sort
            owners = changed if built else extents
            # The kept ranges: all of them when no built function changed (then ``changed`` holds only new ones:
            # the 1x kernel's 16,045 symbol-only entries after the unwind extents), extended in place.
            ranges = ([r for r in built[0][1] if r[2] not in shortened] if shortened else built[0][1]) if built else []
            # Sorted, the owners' ranges are one ascending run after the kept ones: the sort merges two runs. The
            # tuples made by C-level ``zip`` and ``map``, not by a comprehension's steps.
            entries = sorted(changed) if built else extents
            ranges += zip(entries, map(extents.__getitem__, entries), entries)
            ranges += [(fstart, fend, entry) for entry, pieces in fragments.items() if entry in owners
                       for fstart, fend in pieces]
            ranges.sort()  # the order they were added in does not matter: the sorted list is the same
            built[:] = [(list(map(_START, ranges)), ranges)]
        else:
            starts, ranges = built[0]
            for entry in changed:
                old = shortened.get(entry)
                if old is not None:  # take the owner's ranges out (fragments never change, its end may)
                    for piece in [(entry, old, entry)] + [(fs, fe, entry) for fs, fe in fragments.get(entry, ())]:
                        i = bisect.bisect_left(ranges, piece)
                        del ranges[i], starts[i]
                end = extents[entry]
                for piece in [(entry, end, entry)] + [(fs, fe, entry) for fs, fe in fragments.get(entry, ())]:
                    i = bisect.bisect_left(ranges, piece)
                    ranges.insert(i, piece)
                    starts.insert(i, piece[0])
        shortened.clear()
        changed.clear()
        return built[0]

    # Symbol-only entries (leaf functions without unwind data) end at the next known start.
    def settle_pending(known: Optional[tuple[list[int], list[tuple[int, int, int]]]] = None) -> None:
        """``known``: code_ranges() of the current extents, when the caller has just built it."""
        nonlocal pending
        if not pending:
            return
        starts, ranges = known if known is not None else code_ranges()
        waiting = sorted(pending)
        count, last = len(starts), len(waiting)
        # Both lists ascend, so the first known start after each waiting one only moves on: stepped to, one start
        # at a time, when the waiting starts are many beside the known ones (the 1x kernel's first settling:
        # 16,045 among 23,976; a bisect compares about 15 ints through the generic comparison), else bisected.
        walk = count < _WALK_STARTS * last
        after = bisect.bisect_right
        low = high = end = 0  # the last section found: its RVAs (``end`` its end, as ``section_at`` gives it)
        j = 0
        for k, rva in enumerate(waiting, 1):  # ``waiting[k]``: the next waiting start (the list is sorted, unique)
            # ``j``: the first known start after ``rva`` (``starts`` does not change here), as ``bisect_right``.
            if walk:
                while j < count and starts[j] <= rva:
                    j += 1
            else:
                j = after(starts, rva, j)
            if j:
                start, stop, owner = ranges[j - 1]
                if rva < stop:
                    if owner in from_unwind or owner == rva:
                        continue  # a label inside a function whose extent unwind data gives, not a function
                    shortened.setdefault(owner, extents[owner])  # the end its built range has
                    extents[owner] = rva  # an estimated extent ran into a function nobody had named
                    changed.add(owner)
                    redo.add(owner)
            if not (low <= rva < high and disjoint):
                section = image.section_at(rva)
                if section is None:  # in_code() found it in an executable section; a hostile overlap may not
                    continue
                low, high = section.rva, section.end
                end = high
            # The next start after ``rva``, known or waiting, else the section's end.
            limit = end
            if j < count and starts[j] < limit:
                limit = starts[j]
            if k < last and waiting[k] < limit:
                limit = waiting[k]
            extents[rva] = limit if code_symbols else _estimate_end(image, rva, limit)
            changed.add(rva)
        pending = set()

    redo: set[int] = set()
    settle_pending()
    todo = sorted(extents)
    gaps_done = False
    while todo:
        work = _work(todo, extents, fragments)
        # Without following loads from the IAT (``_follow_iat_loads``, once the extents are final): the calls
        # through a register they find go to IAT slots, which never start a function.
        new_targets, tail_targets = scan_functions(image, work, [], calls)
        # Tail jumps whose target the scan did not take as a function start are the conditional ones.
        cond_targets = tail_targets - new_targets
        known = code_ranges()
        starts, ranges = known
        # The targets that are known functions or imports (most) are set aside at C level first.
        for target in cond_targets.difference(extents, imports):
            # A conditional tail jump (``jne McTemplate``) starts a function only where no known code is.
            i = bisect.bisect_right(starts, target) - 1
            if i >= 0 and ranges[i][0] <= target < ranges[i][1]:
                continue
            if in_code(target):
                pending.add(target)
        for target in new_targets.difference(extents, imports):
            i = bisect.bisect_right(starts, target) - 1
            if i >= 0 and ranges[i][0] <= target < ranges[i][1] and ranges[i][2] in from_unwind:
                continue
            if in_code(target):
                pending.add(target)
        before = len(extents)  # entries are only ever added: the new ones come after the first ``before``
        redo = set()
        settle_pending(known)  # extents unchanged since ``known`` was built
        todo = sorted(set(islice(extents, before, None)) | redo)
        if redo:  # shortened functions are decoded again: forget what their longer extent produced
            for entry in redo:
                calls.pop(entry, None)
        if not todo and not gaps_done:  # once all else is known: leaf code in the gaps (engine/native/gaps.py)
            gaps_done = True
            known = code_ranges()
            pending |= {rva for rva in gap_entries(image, known[1]) if rva not in extents}
            before = len(extents)
            settle_pending(known)
            todo = sorted(islice(extents, before, None))

    starts, ranges = code_ranges()
    fmap = FunctionMap(functions, [], ranges, starts)
    # Named as they are made: the PDB's code symbol, else the export, else the address.
    exports = image.exports
    export_names = {rva: names[0] for rva, names in exports.items()}
    # Made by ``object.__new__`` with every field set here, not by a call of the generated ``__init__`` each.
    for entry, end in extents.items():
        made = functions[entry] = _new(Function)
        made.rva = entry  # one store per field: a tuple assignment builds and unpacks a tuple per function
        made.size = end - entry
        made.exported = entry in exports
        made.imported = False
        made.name = code_symbols.get(entry) or export_names.get(entry) or f"sub_{entry:x}"
        made.fragments = fragments.get(entry) or []
    for slot, label in imports.items():
        functions[slot] = Function(slot, 0, label.split("!", 1)[-1] or data_symbols.get(slot) or f"ptr_{slot:x}",
                                   False, True)
    # Each target once (in the order the calls first name it), not once per call site.
    callees: dict[int, Optional[tuple[int, bool]]] = dict.fromkeys(map(_CALLEE, chain.from_iterable(calls.values())))
    # Calls through function pointers in data: the pointer's slot stands for the callee (named by the PDB's data
    # symbol there, else by its address).
    for callee in [callee for callee in callees if callee not in functions]:
        if fmap.owner(callee) is None and not in_code(callee) and image.section_at(callee) is not None:
            functions[callee] = Function(callee, 0, data_symbols.get(callee) or f"ptr_{callee:x}", False, True)
    # Normalise targets: a call into the middle of a function belongs to that function; tail jumps
    # inside the caller's own code are ordinary branches, not edges, and a jump into another function's
    # middle is shared code, not a call.
    # The functions' own RVA objects stand for every call to them (one int per callee, not one per site).

    def normalise(callee: int) -> Optional[tuple[int, bool]]:
        function = functions.get(callee)
        if function is not None:
            return function.rva, True
        target_owner = fmap.owner(callee)
        return None if target_owner is None else (functions[target_owner].rva, False)

    function_at = functions.get
    for callee in callees:  # most are a function's entry: looked up inline, ``normalise`` for the others
        function = function_at(callee)
        callees[callee] = (function.rva, True) if function is not None else normalise(callee)

    def add_sites(groups: Iterable[tuple[int, list[Edge]]], sites: list[CallSite]) -> dict[int, tuple[int, int]]:
        """Append the sites of each (entry, its edges) to ``sites``; entry -> the slice (start, stop) of its
        sites, for the entries that have any. One loop over every edge: each site made by ``object.__new__``
        and its fields set here, not by a call of the generated ``__init__`` per site (``model.CallSite``:
        68,063 at 1x), and each function's run read off the list's length, not counted afterwards."""
        runs = {}
        add = sites.append
        for entry, edges in groups:
            begin = len(sites)
            for caller, rva, callee, tail in edges:
                normal = callees[callee]
                if normal is None or (tail and (not normal[1] or normal[0] == caller)):
                    continue
                site = _new(CallSite)
                # One store per field (a tuple assignment of five builds and unpacks a tuple per site).
                site.caller = caller
                site.rva = rva
                site.callee = normal[0]
                site.tail = tail
                site.args = None
                add(site)
            if len(sites) > begin:
                runs[entry] = (begin, len(sites))
        return runs

    sites = fmap.calls
    fmap.run_sites = sites
    order = list(calls)
    # Each caller's sites are one run of the list (its edges were), in ``order``; its edges are let go as its
    # sites are made. The pairs by C-level ``zip`` and ``map``: a generator resumed per function cost more.
    fmap.runs.update(add_sites(zip(order, map(calls.pop, order)), sites))
    # Last, so that a large image's index, computed alongside (``ripindex.prefetch``), is ready by now.
    rescanned = _follow_iat_loads(image, extents, fragments, order, ranges)
    for edges in rescanned.values():
        for callee in map(_CALLEE, edges):
            if callee not in callees:  # an IAT slot no other instruction names
                callees[callee] = normalise(callee)
    again: list[CallSite] = []
    runs = add_sites(rescanned.items(), again)
    _replace_sites(fmap, order, {entry: again[slice(*runs[entry])] if entry in runs else [] for entry in rescanned})
    image.release()
    return fmap


def _unwind_extents(image: PEImage) -> tuple[dict[int, int], dict[int, list[tuple[int, int]]]]:
    """Entry -> end of each function the exception directory gives (a primary RUNTIME_FUNCTION, the longest
    where a hostile table repeats a begin; a chained entry whose parent is no primary one), and the chained
    fragments of each. Chained entries are among the PE load's ``special_entries``: when none is, and no begin
    repeats, the extents are one C-level pass over the entries (the 1x kernel's 23,976)."""
    entries, special = image.runtime_functions, image.special_entries
    chained = None if special is None else [rf for rf in map(entries.__getitem__, special) if rf.parent is not None]
    if chained == []:
        extents = dict(zip(map(_START, entries), map(_END, entries)))
        if len(extents) == len(entries):
            return extents, {}
    extents = {}
    for rf in entries:
        if rf.parent is None:
            extents[rf.begin] = max(extents.get(rf.begin, 0), rf.end)
    fragments: dict[int, list[tuple[int, int]]] = {}
    for rf in entries if chained is None else chained:
        if rf.parent is not None:
            if rf.parent in extents:
                fragments.setdefault(rf.parent, []).append((rf.begin, rf.end))
            else:
                extents.setdefault(rf.begin, rf.end)
    return extents, fragments


def _work(entries: Iterable[int], extents: dict[int, int],
          fragments: dict[int, list[tuple[int, int]]]) -> list[tuple[int, list[tuple[int, int]]]]:
    """(entry, pieces) of each function of ``entries``, what ``scan_functions`` decodes: its extent, then its
    chained fragments (most functions have none: no empty list is made and joined for them)."""
    return [(entry, [(entry, extents[entry]), *fragments[entry]] if entry in fragments else [(entry, extents[entry])])
            for entry in entries]


def _replace_sites(fmap: FunctionMap, order: list[int], replaced: dict[int, list[CallSite]]) -> None:
    """Put the sites of the functions decoded again in place of their earlier ones, keeping ``order`` (the
    order in which the functions were decoded) and every other function's site objects.

    ``calls`` is made again from slices of the old list between the replaced runs (a few hundred), not function
    by function (71,000 on node.exe); the runs keep slicing the old list (``run_sites``), the new sites of the
    replaced functions added after its end, so no other function's run moves."""
    def key(sites: Sequence[CallSite]) -> list[tuple[int, int, bool]]:
        return [(site.rva, site.callee, site.tail) for site in sites]

    runs, old = fmap.runs, fmap.run_sites

    def current(entry: int) -> list[CallSite]:
        run = runs.get(entry)
        return old[run[0] : run[1]] if run is not None else []

    replaced = {entry: sites for entry, sites in replaced.items() if key(sites) != key(current(entry))}
    if not replaced:
        return
    # Where each replaced run is in the old list, in the old list's order; a function that had no sites takes
    # its place after the nearest function before it (in ``order``) that had some.
    places = []
    for entry in replaced:
        run = runs.get(entry)
        if run is None:
            position = i = order.index(entry)
            while i > 0 and order[i - 1] not in runs:
                i -= 1
            at = runs[order[i - 1]][1] if i > 0 else 0
            places.append((at, at, position, entry))  # after those that had none before it
        else:
            places.append((run[0], run[1], 0, entry))
    places.sort()
    calls: list[CallSite] = []
    copied = 0  # the old list is copied up to here
    for start, stop, _index, entry in places:
        calls += old[copied:start]
        calls += replaced[entry]
        copied = stop
    calls += old[copied:]
    for entry, part in replaced.items():
        if part:
            runs[entry] = (len(old), len(old) + len(part))
            old += part
        else:
            runs.pop(entry, None)
    fmap.calls = calls


_TERMINATORS = (FlowControl.RETURN, FlowControl.UNCONDITIONAL_BRANCH, FlowControl.INDIRECT_BRANCH)
_PADDING = (Mnemonic.NOP, Mnemonic.INT3)


def _estimate_end(image: PEImage, start: int, limit: int) -> int:
    """Where a function with neither unwind data nor a symbol after it ends (symbol-free analysis).

    Linear decode from ``start``; stop after a terminator (ret, jmp) that no branch seen so far jumps
    past. Else, when padding (int3/nops) follows it and only unconditional jumps land beyond the
    padding, stop too: such a jump is a tail call to the next function, which becomes a function of
    its own. Never beyond ``limit``, nor into a section's zero fill (no code lives there; a lying
    VirtualSize would otherwise cost a megabyte of decoded zeros per function).
    """
    code = image.file_bytes(start, limit - start)
    cond_furthest = start
    targets: list[int] = []
    for instr in Decoder(64, code, NO_OPTIONS, start):  # iterated: no ``can_decode`` and ``decode_out`` calls
        fc = instr.flow_control
        if not fc:  # NEXT (0)
            continue
        if fc == _COND or fc == _BRANCH:
            target = instr.near_branch_target
            if start <= target < limit:
                targets.append(target)
                if fc == _COND:
                    cond_furthest = max(cond_furthest, target)
        if fc in _TERMINATORS:
            end = instr.next_ip
            if end >= limit:
                return limit
            if not any(t >= end for t in targets):
                return end  # nothing jumps past this ret/jmp: whatever follows is another function
            pad_end = _skip_padding(code, end - start, end)
            if pad_end == end and end % 16:
                continue
            if cond_furthest < end and not any(end <= t < pad_end for t in targets):
                return end
    return limit


def _skip_padding(code: bytes, offset: int, ip: int) -> int:
    decoder = Decoder(64, code[offset:], ip=ip)
    instr = Instruction()
    end = ip
    while decoder.can_decode:
        decoder.decode_out(instr)
        if instr.mnemonic not in _PADDING:
            break
        end = instr.next_ip
    return end


def scan_functions(image: PEImage, work: list[tuple[int, list[tuple[int, int]]]], iat_loads: list[int],
                   calls: EdgesByEntry) -> tuple[set[int], set[int]]:
    """Decode every (entry, pieces) of ``work`` once: add its call sites to ``calls`` (in ``work`` order) and
    return the direct call and tail-jump targets, and the targets of every tail edge. Large work is split over
    two processes (see ``parallel``)."""
    from .parallel import scan_in_parallel

    split = scan_in_parallel(image, work, iat_loads, calls)
    return scan_work(image, work, iat_loads, calls) if split is None else split


def scan_work(image: PEImage, work: Sequence[tuple[int, list[tuple[int, int]]]], iat_loads: list[int],
              calls: EdgesByEntry) -> tuple[set[int], set[int]]:
    """``scan_functions`` in this process: the edges of each function decoded go to ``calls[entry]``, an empty
    list when it has none (so that each function keeps its place in the order of ``calls`` when its edges are
    replaced later, see ``_follow_iat_loads``).

    The hottest loop of the engine (every instruction of the binary passes here once), so the plain decode of
    a piece (no load from the IAT in it: ``_scan`` follows those) is inline: the common cases are tested first
    (straight-line code, then branches inside the function) and edges are plain tuples. A piece's bytes are
    sliced from the mapped file with the bounds of the section it starts in (``Section.file_delta`` and
    ``file_end``, as ``PEImage.file_bytes`` slices), looked up only when a piece leaves the last one (``work``
    is in address order): no section lookup and no call per function (40,000 on the 1x kernel)."""
    targets: set[int] = set()
    tails: set[int] = set()
    add = targets.add
    tail = tails.add
    imports = image.imports
    data = image.data
    loads = len(iat_loads)
    first = bisect.bisect_left
    disjoint = image.disjoint_sections  # else a piece's section is looked up each time (the first in header order)
    low = high = delta = file_end = 0  # the current section: its RVAs, RVA -> file offset, its file bytes' end
    for entry, pieces in work:
        found: list[Edge] = []
        append = found.append
        for start, stop in pieces:
            if not (low <= start < high and disjoint):
                section = image.section_at(start)
                if section is None:
                    low = high = 0
                    continue
                low, high, delta, file_end = section.rva, section.end, section.file_delta, section.file_end
            if stop <= start:
                continue
            last = stop + delta
            # ``file_bytes``, the section known (the end clipped inline: a ``min()`` call per piece costs more)
            code = data[start + delta : last if last < file_end else file_end]
            if loads and (i := first(iat_loads, start)) < loads and iat_loads[i] < stop:
                _scan(code, entry, start, stop, imports, found, targets, tails)
                continue
            for instr in Decoder(64, code, NO_OPTIONS, start):
                fc = instr.flow_control
                if not fc:  # NEXT (0), straight-line code: tested as an int's truth, no constant to load
                    continue
                if fc == _COND:
                    target = instr.near_branch_target
                    if not (start <= target < stop):
                        append((entry, instr.ip, target, True))
                        tail(target)
                elif fc == _CALL:
                    target = instr.near_branch_target
                    append((entry, instr.ip, target, False))
                    add(target)
                elif fc == _BRANCH:
                    target = instr.near_branch_target
                    if not (start <= target < stop):
                        append((entry, instr.ip, target, True))
                        add(target)
                        tail(target)
                elif fc == _INDIRECT_CALL:
                    if instr.is_ip_rel_memory_operand:
                        append((entry, instr.ip, instr.ip_rel_memory_address, False))
                elif fc == _INDIRECT_BRANCH and instr.is_ip_rel_memory_operand:
                    slot = instr.ip_rel_memory_address
                    append((entry, instr.ip, slot, True))
                    tail(slot)
        calls[entry] = found
    return targets, tails


def _follow_iat_loads(image: PEImage, extents: dict[int, int], fragments: dict[int, list[tuple[int, int]]],
                      entries: list[int], ranges: list[tuple[int, int, int]]) -> EdgesByEntry:
    """The edges of the functions (of ``entries``) that may hold a load from the IAT, decoded again following the
    registers so loaded: the calls through those registers join their other edges, in instruction order.

    Discovery decodes without this tracking: the only edges it adds go to IAT slots, which start no function, so
    every round finds the same functions either way; what it needs, the IAT load candidates (a filter of the RIP
    operand index, ``ripindex``), is then asked for only now, when a large image's index has been computed by a
    child process alongside the first round (``ripindex.prefetch``). Few functions hold a candidate (286 of
    71,500 on node.exe). ``ranges``: the sorted (start, end, owner) of every function's pieces (``code_ranges``);
    a function is decoded again when one of its pieces holds a candidate.
    """
    iat_loads = _iat_load_candidates(image)
    if not iat_loads:
        return {}
    loads = len(iat_loads)
    first = bisect.bisect_left
    # Loops, not filtered comprehensions: those are called once and, their filters mostly false, ran on CPython
    # 3.11's generic bytecode to the end (only the kept items count towards quickening).
    holding = set()
    for start, stop, owner in ranges:
        if (i := first(iat_loads, start)) < loads and iat_loads[i] < stop:
            holding.add(owner)
    held = []
    for entry in entries:
        if entry in holding:
            held.append(entry)
    work = _work(held, extents, fragments)
    found: EdgesByEntry = {}
    scan_work(image, work, iat_loads, found)
    return found


#: Opcodes of ``mov r, r/m`` (8A/8B) and ``mov sreg, r/m`` (8E): before a RIP-relative ModRM, a load.
_MOV_OPCODES = frozenset(b"\x8a\x8b\x8e")


def _iat_load_candidates(image: PEImage) -> list[int]:
    """Sorted RVAs of the ModRM bytes of every possible ``mov reg, [rip+IAT slot]``, from the byte scan of
    ``ripindex`` (opcode 8A/8B/8E before the ModRM, the displacement pointing at an IAT slot); computed by the
    child that computes a large image's index (``prefetch``), else here.

    A superset of the real loads (a match may sit inside another instruction): code without one needs no
    register tracking while it is decoded, which is most code.
    """
    return derived_list(image, _iat_loads_in) if image.imports else []


def _iat_loads_in(image: PEImage, index: list[SectionOperands]) -> list[int]:
    """``_iat_load_candidates`` from the image's RIP operand ``index`` (a ``ripindex.Derived`` rule)."""
    imports = image.imports
    if not imports:
        return []
    found = []
    for operands in index:
        data = image.code_view(operands.section)
        base = operands.section.rva
        for offset in operands.offsets_to(imports):
            if offset and data[offset - 1] in _MOV_OPCODES:
                found.append(base + offset)
    found.sort()
    return found


def _scan(code: bytes, entry: int, start: int, stop: int, imports: dict[int, str], calls: list[Edge],
          targets: set[int], tails: set[int]) -> None:
    """Append the edges of the code ``start``..``stop`` (its bytes ``code``) of function ``entry`` to ``calls``,
    following registers loaded from the IAT (``scan_work`` decodes the pieces with no such load); add the direct call and
    jump targets to ``targets`` and the target of every tail edge to ``tails``."""
    iat_regs: dict[int, int] = {}  # register -> IAT slot it was loaded from (``mov rdi, [__imp_X]; call rdi``)
    for instr in Decoder(64, code, NO_OPTIONS, start):
        fc = instr.flow_control
        if not fc:  # NEXT (0)
            if imports and instr.is_ip_rel_memory_operand and instr.mnemonic == _MOV and instr.op0_kind == _REG:
                slot = instr.ip_rel_memory_address
                if slot in imports:
                    iat_regs[_full_register(instr.op0_register)] = slot
            continue
        if fc == _CALL:
            target = instr.near_branch_target
            calls.append((entry, instr.ip, target, False))
            targets.add(target)
        elif fc == _BRANCH or fc == _COND:
            target = instr.near_branch_target
            if not (start <= target < stop):
                calls.append((entry, instr.ip, target, True))
                tails.add(target)
                if fc == _BRANCH:
                    targets.add(target)
        elif fc == _INDIRECT_CALL or fc == _INDIRECT_BRANCH:
            if instr.is_ip_rel_memory_operand:
                # Through the IAT, or through a function pointer in data (kernel WPP's pfnWppTraceMessage).
                slot = instr.ip_rel_memory_address
                calls.append((entry, instr.ip, slot, fc == _INDIRECT_BRANCH))
                if fc == _INDIRECT_BRANCH:
                    tails.add(slot)
            elif instr.op0_kind == _REG:
                loaded = iat_regs.get(_full_register(instr.op0_register))
                if loaded is not None:
                    calls.append((entry, instr.ip, loaded, fc == _INDIRECT_BRANCH))
                    if fc == _INDIRECT_BRANCH:
                        tails.add(loaded)


#: Instructions followed after a pointer slot is loaded into a register, looking for the call through it.
_SLOT_WINDOW = 24


def calls_through_slots(image: PEImage, slots: set[int], owner,
                        refs: Optional[list[Reference]] = None) -> list[CallSite]:
    """Calls through function-pointer slots in data: ``call [rip+slot]``, ``jmp [rip+slot]``, and
    ``mov reg, [rip+slot]`` followed (within a few instructions, the register untouched) by ``call reg``.

    Used for slots learnt after discovery, e.g. globals filled by ``GetProcAddress``; ``refs`` are the
    references to the slots when the caller already scanned for them.
    """
    out: dict[int, CallSite] = {}
    for ref in scan_rip_references(image, slots, owner) if refs is None else refs:
        code = image.read(ref.rva, 15 * _SLOT_WINDOW)
        decoder = Decoder(64, code, ip=ref.rva)
        instr = Instruction()
        loaded: Optional[int] = None
        for _ in range(_SLOT_WINDOW):
            if not decoder.can_decode:
                break
            decoder.decode_out(instr)
            fc = instr.flow_control
            if fc in (_INDIRECT_CALL, _INDIRECT_BRANCH):
                if instr.is_ip_rel_memory_operand and instr.ip_rel_memory_address == ref.target:
                    out[instr.ip] = CallSite(ref.function, instr.ip, ref.target, fc == _INDIRECT_BRANCH)
                elif loaded is not None and instr.op0_kind == _REG and _full_register(instr.op0_register) == loaded:
                    out[instr.ip] = CallSite(ref.function, instr.ip, ref.target, fc == _INDIRECT_BRANCH)
                break
            if loaded is None:
                if instr.mnemonic == _MOV and instr.op0_kind == _REG and instr.is_ip_rel_memory_operand:
                    loaded = _full_register(instr.op0_register)
                    continue
                break
            if fc not in (_NEXT, _COND):  # a null check (``test rax, rax; je``) keeps to the fall-through
                break
            if instr.op0_kind == _REG and _full_register(instr.op0_register) == loaded and instr.mnemonic != Mnemonic.TEST:
                break  # the register is overwritten before any call through it
    return [out[k] for k in sorted(out)]


#: Instructions followed after a table's address is loaded, looking for the call through one of its entries
#: (a KMDF call sets up to eight arguments in between).
_TABLE_WINDOW = 48


def calls_through_table(image: PEImage, slot: int, offsets: set[int], owner) -> list[tuple[int, int, int]]:
    """(caller, call RVA, byte offset) of each call through an entry of the table whose address the global
    ``slot`` holds: ``mov r, [rip+slot]`` then ``call [r+off]``, or ``mov r2, [r+off]`` then ``call r2``
    (or a call through memory while the entry is in rax: the CFG dispatch routine calls rax). The code
    between may set up arguments; a write to the register that holds the table or the entry ends the search.
    """
    out: dict[int, tuple[int, int, int]] = {}
    for ref in scan_rip_references(image, {slot}, owner):
        start = ref.rva
        # The reference may be decoded from the opcode on; a load of the 64-bit table address has a REX.W
        # prefix before it, whose R bit names the register (``mov r10, [slot]`` is 4C 8B 15).
        if 0x48 <= (image.read(start - 1, 1) or b"\0")[0] <= 0x4F:
            start -= 1
        code = image.read(start, 15 * _TABLE_WINDOW)
        decoder = Decoder(64, code, ip=start)
        instr = Instruction()
        table: Optional[int] = None
        entry: Optional[tuple[int, int]] = None  # (register, offset)
        for _ in range(_TABLE_WINDOW):
            if not decoder.can_decode:
                break
            decoder.decode_out(instr)
            fc = instr.flow_control
            if table is None:
                if instr.mnemonic == _MOV and instr.op0_kind == _REG and instr.is_ip_rel_memory_operand \
                        and instr.ip_rel_memory_address == slot:
                    table = _full_register(instr.op0_register)
                    continue
                break
            if fc in (_INDIRECT_CALL, _INDIRECT_BRANCH):
                if instr.op0_kind == OpKind.MEMORY and _full_register(instr.memory_base) == table \
                        and instr.memory_index == Register.NONE and instr.memory_displacement in offsets:
                    out[instr.ip] = (ref.function, instr.ip, instr.memory_displacement)
                elif entry is not None and ((instr.op0_kind == _REG and _full_register(instr.op0_register) == entry[0])
                                            or (instr.is_ip_rel_memory_operand and entry[0] == Register.RAX)):
                    out[instr.ip] = (ref.function, instr.ip, entry[1])
                break
            if fc not in (_NEXT, _COND):
                break
            if instr.mnemonic == _MOV and instr.op0_kind == _REG and instr.op1_kind == OpKind.MEMORY \
                    and _full_register(instr.memory_base) == table and instr.memory_index == Register.NONE:
                disp = instr.memory_displacement
                entry = (_full_register(instr.op0_register), disp) if disp in offsets else None
                if entry is None:
                    break
                continue
            if instr.op0_kind == _REG and _full_register(instr.op0_register) in (table, entry and entry[0]) \
                    and instr.mnemonic not in (Mnemonic.TEST, Mnemonic.CMP):
                break  # the register is overwritten before the call
    return [out[k] for k in sorted(out)]


#: REX.W prefixes (with or without REX.R) of ``lea r64, [rip+disp32]`` (REX 8D ModRM).
_LEA_REX = frozenset(b"\x48\x4c")
_LEA = 0x8D


def scan_lea_references(image: PEImage, owner) -> list[Reference]:
    """Every RIP-relative ``lea`` in the executable sections, found by a byte scan (no decoding).

    A byte pattern can match inside another instruction; such false hits only matter if their
    computed target happens to be exactly an address the caller looks for (TraceLogging metadata).
    """
    refs = []
    for operands in rip_operands(image):
        data = image.code_view(operands.section)
        base = operands.section.rva - 2  # the REX prefix two bytes before the ModRM starts the instruction
        for offset, target in operands:
            if offset >= 2 and data[offset - 1] == _LEA and data[offset - 2] in _LEA_REX:
                rva = base + offset
                func = owner(rva)
                if func is not None:
                    refs.append(Reference(rva, func, target))
    image.release()
    return refs


#: Immediate sizes that may follow the displacement (the disp32 is relative to the instruction's end).
_IMMEDIATE_SIZES = (0, 1, 2, 4)
#: Bytes an instruction may have before its ModRM: prefixes, REX, 0F 38 escapes, opcode.
_MAX_PREFIX = 5


def scan_rip_references(image: PEImage, targets: set[int], owner) -> list[Reference]:
    """Every instruction whose RIP-relative memory operand (``lea``, ``mov``, ``cmp``, ``test``...) addresses
    one of ``targets``: the byte scan's candidates (``ripindex``) whose displacement points at a target, and
    only those decoded with iced-x86 to confirm the instruction."""
    # A set comprehension (its ``SET_ADD`` per value, no method call): 22,892 values at 1x.
    wanted = {target - size for target in targets for size in _IMMEDIATE_SIZES}
    refs: dict[int, Reference] = {}
    for operands in rip_operands(image):
        section = operands.section
        data = image.code_view(section)
        for pos in operands.offsets_to(wanted):
            low = pos - 1 - _MAX_PREFIX  # clipped inline: a ``max()`` call per candidate costs more than its try
            for start in range(pos - 1, low if low > -1 else -1, -1):
                instr = Decoder(64, bytes(data[start : start + 15]), NO_OPTIONS, section.rva + start).decode()
                if instr.is_invalid or start + instr.len <= pos + 4 or not instr.is_ip_rel_memory_operand:
                    continue
                target = instr.ip_rel_memory_address
                if target in targets:
                    rva = section.rva + start
                    function = owner(rva)
                    # Keyed by the instruction's end: decoding a byte early (without its REX) gives the same one.
                    if function is not None:
                        refs[rva + instr.len] = Reference(rva, function, target)
                    break
    image.release()
    return [refs[k] for k in sorted(refs)]
