"""Exception-handler funclets: the code only a function's exception tables reach, tied to that function.

Nothing calls a ``__except`` filter, a ``__finally`` block, a C++ catch block or an unwind (destructor)
funclet: the operating system's unwinder finds them through the language-specific handler named in the
function's UNWIND_INFO and the handler data that follows it. An event written there is reached when the
parent function runs, so the parent gets an edge to each funclet (``Facts.funclets`` says which edges are).

Layouts, from the public x64 exception-handling documentation and the public descriptions of the MSVC
C++ EH tables (all RVAs are image-relative):

* UNWIND_INFO: ``Version:3 Flags:5``, ``SizeOfProlog``, ``CountOfCodes``, ``FrameRegister:4 FrameOffset:4``,
  ``CountOfCodes`` 2-byte codes padded to an even count; with UNW_FLAG_EHANDLER or UNW_FLAG_UHANDLER then
  the handler's RVA and the handler data.
* ``__C_specific_handler`` (and ``__GSHandlerCheck_SEH``): a SCOPE_TABLE inline, ``Count`` then ``Count``
  records of (BeginAddress, EndAddress, HandlerAddress, JumpTarget). JumpTarget 0: HandlerAddress is a
  ``__finally`` block; else HandlerAddress is the ``__except`` filter (1, EXCEPTION_EXECUTE_HANDLER, is a
  constant filter, not code) and JumpTarget the ``__except`` block inside the parent.
* ``__CxxFrameHandler3`` (and ``__GSHandlerCheck_EH``): the RVA of a FuncInfo: magic (low 29 bits
  0x19930520-0x19930522), maxState, dispUnwindMap, nTryBlocks, dispTryBlockMap, ...; unwind map entries
  (toState, action RVA); try blocks (tryLow, tryHigh, catchHigh, nCatches, dispHandlerArray); handlers
  (adjectives, dispType, dispCatchObj, dispOfHandler, dispFrame).
* ``__CxxFrameHandler4`` (and ``__GSHandlerCheck_EH4``): the RVA of a FuncInfo4, compressed: a header byte
  (isCatch 0x01, isSeparated 0x02, BBT 0x04, UnwindMap 0x08, TryBlockMap 0x10, EHs 0x20, NoExcept 0x40),
  then the fields its flags name: bbtFlags (compressed), dispUnwindMap and dispTryBlockMap (int32 RVAs),
  dispIPtoStateMap, dispFrame (compressed, catch funclets). A compressed unsigned integer's length is told by
  the low bits of its first byte (0: 1 byte, 01: 2, 011: 3, 0111: 4, 1111: 5) and its value is the
  little-endian bytes shifted right by that length (5 bytes: the 4 bytes after the first). The unwind map is a
  count and entries whose first field's low 2 bits give their type (0 none; 1 and 2 a destructor and its
  object; 3 an action RVA); the try-block map a count and (tryLow, tryHigh, catchHigh, dispHandlerArray)
  entries; a handler array a count and HandlerType4 entries: a flags byte (adjectives 0x01, dispType 0x02,
  dispCatchObj 0x04, continuation is an RVA 0x08, continuation count 0x30), those fields, dispOfHandler
  (int32 RVA) and the continuation addresses.
* The GS variants put the EH table's handler data first and the GS cookie data after it, so each reads
  as its base handler.

Which handler a function uses is told by the handler's name: an import (``VCRUNTIME140.dll``,
``VCRUNTIME140_1.dll``, ``ntoskrnl.exe``), a PDB or export name. A handler linked into the image with no name
(the GS variants the CRT links statically beside an imported handler) takes the layout of the named handler it
calls within two calls (``__GSHandlerCheck_EH4`` ends in a call to the imported ``__CxxFrameHandler4``). A handler
that neither has nor calls a name (a CRT linked statically, ``/MT``, without a PDB: node.exe) is recognised from
the tables of the functions it serves, when it serves at least MIN_RECOGNISED_USERS and the tables of 90% of them
read as valid in exactly one layout (:func:`recognise`: scope records inside the function, the FuncInfo magic,
FuncInfo4 targets that are all function entries). A handler named otherwise (``__GSHandlerCheck``, which has GS
data only, or a private handler) is not read: a guess would give edges from tables that are not tables.

Every count is bounded by :data:`MAX_ENTRIES` and by the bytes that hold it; a target outside the image's
code, or not a function's entry, is ignored: hostile tables cost nothing and raise nothing.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable, Mapping
from typing import Callable, Optional, Protocol

from ...binary.pe import UNW_FLAG_CHAININFO, UNW_FLAG_EHANDLER, UNW_FLAG_UHANDLER, PEImage
from ...fieldclass import Frozen, set_field
from ...model import CallSite, Function, Memory

log = logging.getLogger(__name__)

#: HandlerAddress of a ``__except`` whose filter is the constant EXCEPTION_EXECUTE_HANDLER.
EXCEPTION_EXECUTE_HANDLER = 1
#: FuncInfo.magicNumber values (low 29 bits; the top 3 are bbtFlags).
EH_MAGIC = frozenset((0x19930520, 0x19930521, 0x19930522))
#: Most records read from one table (scope records, unwind entries, try blocks, handlers of a try block).
MAX_ENTRIES = 4096
#: Records read from all the tables of one image, beyond MAX_ENTRIES per table: this many per function with a
#: handler, plus a floor (onnxruntime's 10,000 tables name 31,000 funclets); past it no more tables are read.
ENTRIES_PER_HANDLER, ENTRIES_FLOOR = 16, 1 << 16
#: Calls followed from an unnamed handler to the named handler that gives its data layout.
HANDLER_CALL_DEPTH = 2

#: Data layout of a language-specific handler's data.
SEH, FH3, FH4 = "seh", "fh3", "fh4"
#: Handler names (imports without the DLL) -> the layout of the handler data they are given.
HANDLER_FAMILIES: dict[str, str] = {
    "__C_specific_handler": SEH, "_C_specific_handler": SEH, "__C_specific_handler_noexcept": SEH,
    "__GSHandlerCheck_SEH": SEH, "__GSHandlerCheck_SEH_noexcept": SEH,
    "__CxxFrameHandler": FH3, "__CxxFrameHandler2": FH3, "__CxxFrameHandler3": FH3, "__GSHandlerCheck_EH": FH3,
    "__CxxFrameHandler4": FH4, "__GSHandlerCheck_EH4": FH4,
}

#: What a funclet is to its parent: a ``__except`` filter, a ``__finally`` block, a C++ catch block, or an
#: unwind action (a destructor funclet, or the destructor itself).
FILTER, FINALLY, CATCH, UNWIND = "filter", "finally", "catch", "unwind"
#: Code of the parent itself that only the unwinder enters: a ``__except`` block (the scope's JumpTarget), a
#: catch block's continuation (FH4's table, or the address the catch funclet returns). Not a funclet: a landing
#: pad of the parent's data flow.
LANDING = "landing"


class LanguageHandler(Frozen):
    """A RUNTIME_FUNCTION's language-specific handler: the function's begin, the handler's RVA, and the RVA
    of its handler data (right after the handler RVA in the UNWIND_INFO)."""

    function: int
    handler: int
    data: int
    _fields = ("function", "handler", "data")

    def __init__(self, function: int, handler: int, data: int) -> None:
        set_field(self, "__dict__", {"function": function, "handler": handler, "data": data})


class ScopeRecord(Frozen):
    """One SCOPE_TABLE record of ``__C_specific_handler``."""

    begin: int
    end: int
    handler: int
    jump_target: int
    _fields = ("begin", "end", "handler", "jump_target")

    def __init__(self, begin: int, end: int, handler: int, jump_target: int) -> None:
        set_field(self, "__dict__", {"begin": begin, "end": end, "handler": handler, "jump_target": jump_target})


# --------------------------------------------------------------------------------------------- UNWIND_INFO
def language_handlers(image: PEImage) -> list[LanguageHandler]:
    """The language-specific handler of every primary RUNTIME_FUNCTION that names one (chained entries
    carry no handler of their own). Only the PE load's ``special_entries`` are read: it read every entry's
    flags already, and most name no handler."""
    out = []
    data = image.data
    disjoint = image.disjoint_sections  # then the section of one UNWIND_INFO holds the next ones up to its end
    section = None
    low = high = 0  # the section's RVAs (the UNWIND_INFOs are in one or two sections: looked up when one leaves it)
    entries, candidates = image.runtime_functions, image.special_entries
    for rf in entries if candidates is None else map(entries.__getitem__, candidates):
        unwind = rf.unwind
        if rf.parent is not None or unwind & 1:
            continue
        if section is None or not (low <= unwind < high and disjoint):
            section = image.section_at(unwind)
            if section is None:
                continue
            low, high = section.rva, section.end
        at = section.file_offset(unwind, 4)  # read in place: most functions have no handler
        if at is None:
            continue
        flags = data[at] >> 3
        if flags & UNW_FLAG_CHAININFO or not flags & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER):
            continue
        count = data[at + 2]
        at = unwind + 4 + 2 * (count + (count & 1))
        raw = image.read(at, 4)
        if len(raw) < 4:
            continue
        (handler,) = struct.unpack("<I", raw)
        out.append(LanguageHandler(rf.begin, handler, at + 4))
    return out


# --------------------------------------------------------------------------------------------- SEH
def scope_table(image: Memory, rva: int) -> list[ScopeRecord]:
    """The SCOPE_TABLE at ``rva``: a lying Count is cut to the records the image holds (and MAX_ENTRIES)."""
    raw = image.read(rva, 4)
    if len(raw) < 4:
        return []
    (count,) = struct.unpack("<I", raw)
    count = min(count, MAX_ENTRIES)
    blob = image.read(rva + 4, 16 * count)
    return [ScopeRecord(*fields) for fields in struct.iter_unpack("<IIII", blob[: len(blob) - len(blob) % 16])]


def seh_funclets(records: Iterable[ScopeRecord]) -> list[tuple[int, str]]:
    """Filter funclets and ``__finally`` blocks of a scope table, and the ``__except`` blocks (the parent's
    code, LANDING)."""
    out = []
    for record in records:
        if record.jump_target == 0:
            out.append((record.handler, FINALLY))
            continue
        if record.handler != EXCEPTION_EXECUTE_HANDLER:
            out.append((record.handler, FILTER))
        out.append((record.jump_target, LANDING))
    return out


# --------------------------------------------------------------------------------------------- FH3
def _ints(image: Memory, rva: int, count: int) -> Optional[tuple[int, ...]]:
    raw = image.read(rva, 4 * count)
    return struct.unpack(f"<{count}i", raw) if len(raw) == 4 * count else None


def func_info3(image: Memory, rva: int) -> list[tuple[int, str]]:
    """Unwind actions and catch handlers of the ``__CxxFrameHandler3`` FuncInfo at ``rva`` (none when its
    magic is not one of EH_MAGIC)."""
    head = _ints(image, rva, 5)
    if head is None or head[0] & 0x1FFFFFFF not in EH_MAGIC:
        return []
    _magic, max_state, unwind_map, try_count, try_map = head
    out = []
    for state in range(min(max(max_state, 0), MAX_ENTRIES)):
        entry = _ints(image, unwind_map + 8 * state, 2)
        if entry is None:
            break
        if entry[1]:
            out.append((entry[1], UNWIND))
    for block in range(min(max(try_count, 0), MAX_ENTRIES)):
        entry = _ints(image, try_map + 20 * block, 5)
        if entry is None:
            break
        _low, _high, _catch_high, catches, handlers = entry
        for k in range(min(max(catches, 0), MAX_ENTRIES)):
            handler = _ints(image, handlers + 20 * k, 5)
            if handler is None:
                break
            out.append((handler[3], CATCH))
    return out


# --------------------------------------------------------------------------------------------- FH4
class _Reader:
    """Reads FuncInfo4's compressed integers and int32 RVAs from the image, failing with ValueError past its
    end. The bytes are read in chunks (tables are short), not one image read per field."""

    CHUNK = 256

    def __init__(self, image: Memory, rva: int):
        self.image = image
        self.start = rva
        self.buf = b""
        self.pos = 0

    @property
    def rva(self) -> int:
        return self.start + self.pos

    def _take(self, size: int, need: int) -> bytes:
        """``size`` bytes from the cursor (fewer at the image's end, but at least ``need``), not consumed."""
        if self.pos + size > len(self.buf):
            more = self.image.read(self.start + len(self.buf), max(self.CHUNK, size))
            self.buf += more
        raw = self.buf[self.pos : self.pos + size]
        if len(raw) < need:
            raise ValueError("past the image")
        return raw

    def byte(self) -> int:
        value = self._take(1, 1)[0]
        self.pos += 1
        return value

    def unsigned(self) -> int:
        raw = self._take(5, 1)
        low = raw[0]
        length = 5 if low & 0xF == 0xF else 1 + (low & 1) + (low & 3 == 3) + (low & 7 == 7)
        if len(raw) < length:
            raise ValueError("past the image")
        self.pos += length
        if length == 5:
            return int.from_bytes(raw[1:5], "little")
        return int.from_bytes(raw[:length], "little") >> length

    def rva32(self) -> int:
        value: int = struct.unpack("<i", self._take(4, 4))[0]
        self.pos += 4
        return value


def func_info4(image: Memory, rva: int) -> list[tuple[int, str]]:
    """Unwind actions and catch handlers of the ``__CxxFrameHandler4`` FuncInfo4 at ``rva``."""
    out: list[tuple[int, str]] = []
    try:
        reader = _Reader(image, rva)
        header = reader.byte()
        if header & 0x80:  # reserved bit: not a FuncInfo4
            return []
        if header & 0x04:
            reader.unsigned()  # bbtFlags
        unwind_map = reader.rva32() if header & 0x08 else 0
        try_map = reader.rva32() if header & 0x10 else 0
        if unwind_map:
            _unwind_map4(_Reader(image, unwind_map), out)
        if try_map:
            _try_map4(image, _Reader(image, try_map), out)
    except ValueError:
        pass  # a table cut short: what was read before stays
    return out


def _unwind_map4(reader: _Reader, out: list[tuple[int, str]]) -> None:
    for _ in range(min(reader.unsigned(), MAX_ENTRIES)):
        kind = reader.unsigned() & 3  # nextOffset << 2 | type
        if kind in (1, 2):  # a destructor called with an object of the frame
            out.append((reader.rva32(), UNWIND))
            reader.unsigned()
        elif kind == 3:  # an unwind funclet
            out.append((reader.rva32(), UNWIND))


def _try_map4(image: Memory, reader: _Reader, out: list[tuple[int, str]]) -> None:
    for _ in range(min(reader.unsigned(), MAX_ENTRIES)):
        reader.unsigned()  # tryLow
        reader.unsigned()  # tryHigh
        reader.unsigned()  # catchHigh
        handlers = _Reader(image, reader.rva32())
        try:
            for _k in range(min(handlers.unsigned(), MAX_ENTRIES)):
                flags = handlers.byte()
                if flags & 0x01:
                    handlers.unsigned()  # adjectives
                if flags & 0x02:
                    handlers.rva32()  # dispType
                if flags & 0x04:
                    handlers.unsigned()  # dispCatchObj
                out.append((handlers.rva32(), CATCH))
                for _c in range((flags >> 4) & 3):  # continuation addresses: RVAs, else offsets in the parent
                    if flags & 0x08:
                        out.append((handlers.rva32(), LANDING))
                    else:
                        handlers.unsigned()
        except ValueError:
            continue  # this try block's handler array is cut short; the next block may be whole


READERS: dict[str, Callable[[Memory, int], list[tuple[int, str]]]] = {
    SEH: lambda image, data: seh_funclets(scope_table(image, data)),
    FH3: lambda image, data: _via_rva(image, data, func_info3),
    FH4: lambda image, data: _via_rva(image, data, func_info4),
}


def _via_rva(image: Memory, data: int, reader: Callable[[Memory, int], list[tuple[int, str]]]) -> list[tuple[int, str]]:
    """The C++ handlers' data is the RVA of their table (then, for the GS variants, the GS data)."""
    raw = image.read(data, 4)
    return reader(image, struct.unpack("<I", raw)[0]) if len(raw) == 4 else []


def table_key(image: Memory, family: str, data: int) -> int:
    """What identifies one function's tables: the C++ table's RVA (a catch funclet's UNWIND_INFO names its
    parent's FuncInfo again), the scope table's own place for SEH."""
    if family == SEH:
        return data
    raw = image.read(data, 4)
    return struct.unpack("<I", raw)[0] if len(raw) == 4 else data


# --------------------------------------------------------------------------------------------- families
class SitesByCaller(Protocol):
    """The call sites of a function by site RVA, asked by the function's entry (what the native engine keeps:
    a dict, or a mapping that makes each function's dict on first use)."""

    def get(self, caller: int, default: dict[int, CallSite], /) -> Mapping[int, CallSite]: ...


#: Fewest functions an unnamed handler must serve before its layout is recognised from their tables.
MIN_RECOGNISED_USERS = 8
#: Most of a handler's functions (the first in .pdata order) whose tables are read to recognise its layout.
RECOGNISED_SAMPLE = 256
#: Share of a handler's functions whose tables must read as valid in a layout (and in no other) to recognise it.
RECOGNISED_SHARE = 0.9


def handler_families(handlers: Iterable[LanguageHandler], functions: Mapping[int, Function], sites: SitesByCaller,
                     image: Optional[PEImage] = None) -> dict[int, str]:
    """Handler RVA -> data layout: by the name of the handler (an import thunk takes its import's name), else
    by the named handler it calls within HANDLER_CALL_DEPTH calls, else (with ``image``) recognised from the
    tables of the functions it serves (:func:`recognise`); unknown handlers are left out."""
    def callees(rva: int) -> list[int]:
        return [site.callee for site in sites.get(rva, {}).values()]

    def named(rva: int) -> Optional[str]:
        func = functions.get(rva)
        family = HANDLER_FAMILIES.get(func.name) if func is not None else None
        if family is None and func is not None and func.size <= 8:  # ``jmp [__imp_handler]``
            for callee in callees(rva):
                target = functions.get(callee)
                if target is not None and target.imported:
                    family = HANDLER_FAMILIES.get(target.name)
        return family

    users: dict[int, list[LanguageHandler]] = {}
    for entry in handlers:
        users.setdefault(entry.handler, []).append(entry)
    out = {}
    for handler, served in users.items():
        family = named(handler)
        frontier = [handler]
        seen = {handler}
        for _ in range(HANDLER_CALL_DEPTH):
            if family is not None:
                break
            frontier = [c for f in frontier for c in callees(f) if c not in seen]
            seen.update(frontier)
            found = {fam for c in frontier if (fam := named(c)) is not None}
            if len(found) == 1:  # two different named handlers called: which layout is unknown
                family = found.pop()
            elif found:
                break
        func = functions.get(handler)
        if family is None and image is not None and func is not None and func.name in ("", f"sub_{handler:x}"):
            family = recognise(image, served, functions)
        if family is not None:
            out[handler] = family
    return out


def recognise(image: PEImage, served: list[LanguageHandler], functions: Mapping[int, Function]) -> Optional[str]:
    """The layout of an unnamed handler (a CRT linked statically, no PDB) from the tables of the functions it
    serves: the one layout (and only one) in which at least RECOGNISED_SHARE of them read as valid, when it serves
    at least MIN_RECOGNISED_USERS. Valid means: SEH, 1 to 64 scope records inside the function whose handlers are
    1 or function entries and whose jump targets are 0 or inside it; FH3, the magic; FH4, no reserved header bit
    and every target a function entry (or, for a landing pad, inside the function), with at least one target in
    half of them. A plain ``__GSHandlerCheck`` (GS data only) reads as none of these."""
    if len(served) < MIN_RECOGNISED_USERS:
        return None
    served = served[:RECOGNISED_SAMPLE]
    valid: dict[str, int] = {SEH: 0, FH3: 0, FH4: 0}
    named_any = 0
    for entry in served:
        func = functions.get(entry.function)
        if func is None:
            continue
        lo, hi = func.rva, func.rva + func.size

        def inside(rva: int, lo: int = lo, hi: int = hi) -> bool:
            return lo <= rva < hi

        raw = image.read(entry.data, 4)
        count = struct.unpack("<I", raw)[0] if len(raw) == 4 else 0
        records = scope_table(image, entry.data) if 0 < count <= 64 else []
        if records and len(records) == count and all(
                inside(r.begin) and lo < r.end <= hi and (r.handler == EXCEPTION_EXECUTE_HANDLER or r.handler in functions)
                and (r.jump_target == 0 or inside(r.jump_target)) for r in records):
            valid[SEH] += 1
        table = struct.unpack("<I", raw)[0] if len(raw) == 4 else 0
        magic = image.read(table, 4)
        if len(magic) == 4 and struct.unpack("<I", magic)[0] & 0x1FFFFFFF in EH_MAGIC:
            valid[FH3] += 1
        header = image.read(table, 1)
        targets = func_info4(image, table) if header and not header[0] & 0x80 else None
        if targets is not None and all((inside(t) if kind == LANDING else t in functions) for t, kind in targets):
            valid[FH4] += 1
            named_any += bool(targets)
    if named_any * 2 < len(served):
        valid[FH4] = 0
    passing = [family for family, n in valid.items() if n >= RECOGNISED_SHARE * len(served)]
    return passing[0] if len(passing) == 1 else None


#: Most bytes of a catch funclet decoded for the continuation it returns.
MAX_CATCH_BYTES = 4096


def catch_continuations(image: PEImage, funclet: Function, parent: Function) -> set[int]:
    """Where the parent resumes after a catch block: a catch funclet returns that address in rax
    (``lea rax, [rip+continuation]`` before its ``ret``), in the parent's code, which only the unwinder then
    enters. The addresses of the parent that the funclet's ``lea rax, [rip+X]`` instructions load."""
    from iced_x86 import Decoder, Mnemonic, OpKind, Register

    pieces = [(parent.rva, parent.rva + parent.size)] + [(a, a + n) for a, n in parent.fragments]
    code = image.read(funclet.rva, min(funclet.size, MAX_CATCH_BYTES))
    found = set()
    for instr in Decoder(64, code, ip=funclet.rva):
        if (instr.mnemonic == Mnemonic.LEA and instr.op0_register == Register.RAX
                and instr.op1_kind == OpKind.MEMORY and instr.is_ip_rel_memory_operand):
            target = instr.ip_rel_memory_address
            if any(a <= target < b for a, b in pieces):
                found.add(target)
    return found


class ExceptionTables:
    """What the exception tables of an image say about its functions. (A plain class: never compared, it
    needs none of a dataclass's generated methods, compiled at import.)"""

    __slots__ = ("funclets", "landing_pads", "called")

    def __init__(self, funclets: dict[tuple[int, int], str], landing_pads: dict[int, set[int]],
                 called: frozenset[tuple[int, int]]) -> None:
        #: (parent, funclet) -> what the funclet is (FILTER, FINALLY, CATCH, UNWIND).
        self.funclets = funclets
        #: Parent -> its code only the unwinder enters (``__except`` blocks, catch continuations).
        self.landing_pads = landing_pads
        #: The funclets a parent already calls directly (clang's ``__finally`` on the normal path): no new site.
        self.called = called

    def sites(self) -> list[CallSite]:
        """The call sites parent -> funclet the call graph gets: the site RVA is the funclet's entry, outside
        the parent's code, so it never stands for one of the parent's calls (its arguments are unknown: a
        funclet's parameters are the unwinder's, not values of the parent)."""
        return [CallSite(parent, funclet, funclet) for parent, funclet in sorted(self.funclets)
                if (parent, funclet) not in self.called]


def exception_tables(image: PEImage, functions: Mapping[int, Function], sites: SitesByCaller) -> ExceptionTables:
    """Funclets and landing pads from every function's exception tables (``sites``: the call sites by caller).

    A function whose UNWIND_INFO names tables another function's also name, and that is
    itself a funclet of them (a catch funclet's unwind data repeats its parent's FuncInfo), is no parent.
    A funclet that is not a function's entry (a leaf filter without unwind data) gets no edge; a LANDING
    target that is a function's entry is no landing pad.
    """
    handlers = language_handlers(image)
    families = handler_families(handlers, functions, sites, image)
    by_table: dict[tuple[str, int], tuple[list[int], list[tuple[int, str]]]] = {}
    budget = ENTRIES_PER_HANDLER * len(handlers) + ENTRIES_FLOOR
    for entry in handlers:
        family = families.get(entry.handler)
        if family is None or entry.function not in functions:
            continue
        key = (family, table_key(image, family, entry.data))
        if key not in by_table:
            if budget <= 0:
                continue
            by_table[key] = ([], READERS[family](image, entry.data))
            budget -= len(by_table[key][1]) + 1
        by_table[key][0].append(entry.function)
    named = {target for _owners, targets in by_table.values() for target, _kind in targets}
    funclets: dict[tuple[int, int], str] = {}
    pads: dict[int, set[int]] = {}
    for owners, targets in by_table.values():
        parents = [owner for owner in owners if owner not in named] or owners
        for parent in parents:
            for target, kind in targets:
                func = functions.get(target)
                if kind == LANDING:
                    if func is None and image.section_at(target) is not None:
                        pads.setdefault(parent, set()).add(target)
                    continue
                if func is None or func.imported or target == parent or image.section_at(target) is None:
                    continue
                funclets.setdefault((parent, target), kind)
                if kind == CATCH and parent in functions:
                    found = catch_continuations(image, func, functions[parent])
                    if found:
                        pads.setdefault(parent, set()).update(found)
    if budget <= 0:
        log.warning("exception tables: stopped after %d tables naming %d targets (a hostile image?)",
                    len(by_table), ENTRIES_PER_HANDLER * len(handlers) + ENTRIES_FLOOR - budget)
    log.info("%d exception-handler funclets from %d handler tables", len(funclets), len(by_table))
    callees: dict[int, set[int]] = {}
    for parent, _funclet in funclets:
        if parent not in callees:
            callees[parent] = {site.callee for site in sites.get(parent, {}).values()}
    called = frozenset(pair for pair in funclets if pair[1] in callees[pair[0]])
    return ExceptionTables(funclets, pads, called)
