"""The one TraceLogging binder: which provider each event is written with, and where it is written.

Both ``analyze`` and ``tracelogging`` call :func:`bind` on an engine's facts, so the two commands tie
every event to the same provider. Everything comes from the metadata and the code that addresses it,
never from the writer's name (there is no PDB in most real binaries):

* every ``ETW0`` region is decoded from the bytes the *file* backs (a section's zero fill is not
  metadata, and a lying VirtualSize must not cost memory or time);
* a *provider object* (``_tlgProvider_t``) is a writable global whose pointer at ``+pointer size`` holds
  the VA of a provider blob's RemainingSize, validated by decoding the blob it leads to; a *provider
  handle* is a non-executable global holding a provider object's VA. Pointers have the width the
  region's ``_TlgFlagsPtr64`` bit gives (a VA that does not fit that width cannot be stored there);
* code references (any RIP-relative operand) to the head of an event blob, to any byte of a provider
  object, or to a handle, grouped by the function that contains them (the engine's functions, which
  include leaf code without unwind data);
* an event referenced in a function ties to the provider that function references nearest to the event
  reference; a function that references no provider takes the provider of the *getter* it calls: a
  callee that references exactly one provider and no event (WIL's ``TraceLoggingProvider::Provider()``,
  a function-local static returned by pointer); when several functions write one event, the provider
  most of them name wins (then the nearest, then the lowest RVA).
"""

from __future__ import annotations

import logging
import struct
import sys
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import compress
from operator import attrgetter
from typing import Callable, Optional, Protocol, Union

from ..errors import CorruptMetadataError
from ..etw import tracelogging as tlg
from ..model import CallSite, Facts, Reference

log = logging.getLogger(__name__)

#: A section's file-backed bytes: a view of the mapped image (no copy), or bytes from an engine without one.
SectionBytes = Union[bytes, memoryview]
_CALLEE = attrgetter("callee")

#: sizeof(_tlgProvider_t) on x64: LevelPlus1 (padded), ProviderMetadataPtr, KeywordAny, KeywordAll, RegHandle,
#: EnableCallback, CallbackContext. Code reads its fields (the enabled checks), so any byte of it is a reference.
PROVIDER_OBJECT_SIZE = 0x38
#: An event blob's head, from the type byte to the end of RemainingSize: the write site passes the Channel
#: byte's address, or the blob base and adds 1, or (MSVC, the write helper inlined) reads Level, Keyword
#: and RemainingSize straight from the blob.
EVENT_HEAD = 1 + 11 + 2
#: How many call levels below a function that addresses an event the real ETW write call is looked for.
WRITER_LEVELS = 3


class ReferenceFinder(Protocol):
    def references(self, targets: Optional[Collection[int]] = None) -> list[Reference]: ...


class ReferenceSite:
    """A function that addresses an event blob, and the provider the binder ties the event to. (A plain class:
    read by attribute only, it needs none of a frozen dataclass's methods, compiled at import, nor its
    ``object.__setattr__`` per field: 2,182 made at the 1x scale kernel.)"""

    __slots__ = ("function", "rva", "event", "providers", "provider_objects")

    def __init__(self, function: int, rva: int, event: tlg.TlgEvent, providers: tuple[tlg.TlgProvider, ...],
                 provider_objects: tuple[int, ...]) -> None:
        self.function = function
        self.rva = rva
        self.event = event
        self.providers = providers
        self.provider_objects = provider_objects


class TlgBinding:
    """What the binder found in one image. (A plain class: never compared, it needs none of a dataclass's
    generated methods, compiled at import.)"""

    __slots__ = ("providers", "events", "event_provider", "event_object", "provider_objects", "regions",
                 "unwalked", "warnings", "sites", "references")

    def __init__(self) -> None:
        self.providers: list[tlg.TlgProvider] = []  # region and blob order
        self.events: list[tlg.TlgEvent] = []  # region and blob order
        #: Channel-byte RVA of an event -> the provider its write sites use.
        self.event_provider: dict[int, tlg.TlgProvider] = {}
        #: Channel-byte RVA of an event -> the provider object chosen for it.
        self.event_object: dict[int, int] = {}
        #: provider RemainingSize RVA -> RVAs of its _tlgProvider_t objects.
        self.provider_objects: dict[int, list[int]] = {}
        self.regions: list[tuple[int, int]] = []  # (RVA, bytes walked)
        #: [start, end) RVAs after the point where a corrupt region's walk stopped, up to its section's end.
        self.unwalked: list[tuple[int, int]] = []
        self.warnings: list[str] = []
        self.sites: list[ReferenceSite] = []
        self.references = 0  # code references to events or provider objects/handles

    @property
    def corrupt(self) -> bool:
        return bool(self.warnings)

    def provider_guid_rvas(self) -> set[int]:
        """Where each provider blob's GUID sits (what a user-mode EventRegister receives)."""
        return {p.offset_or_rva - 16 for p in self.providers if p.guid}


# --------------------------------------------------------------------------------------------- decoding
def _bad_headers(data: SectionBytes, base_rva: int, signatures: Iterable[int]) -> list[str]:
    """Damaged ETW0 headers among the ``signatures`` (offsets of the signature in ``data``): the signature with
    a plausible Size/Version but the wrong 64-bit magic, or one cut off by the end of the section's
    file-backed bytes."""
    found = []
    for pos in signatures:
        if pos + tlg.TLG_HEADER_SIZE > len(data):
            found.append(f"ETW0 header at RVA {base_rva + pos:#x} is truncated: {len(data) - pos} of "
                         f"{tlg.TLG_HEADER_SIZE} bytes in the file; region not decoded")
        else:
            _sig, size, version, _flags, magic = struct.unpack_from("<4sHBBQ", data, pos)
            if size == tlg.TLG_HEADER_SIZE and version == tlg.TLG_VERSION and magic != tlg.TLG_MAGIC:
                found.append(f"ETW0 header at RVA {base_rva + pos:#x} has magic {magic:#018x}, not "
                             f"{tlg.TLG_MAGIC:#018x}; region not decoded")
    return found


def decode_metadata(facts: Facts) -> tuple[TlgBinding, int, dict[int, SectionBytes]]:
    """Every ETW0 region of the image; also the pointer size of the last region and each non-executable
    section's file-backed bytes (section RVA -> a view of them, in place), which the object scans reuse."""
    binding = TlgBinding()
    pointer_size = 8
    data_of: dict[int, SectionBytes] = {}
    for rva, size, _writable, executable in facts.sections:
        if size <= 0:
            continue
        data = facts.memory.file_view(rva, size)
        if not data:
            continue
        if not executable:
            data_of[rva] = data
        signatures = list(tlg.find_all(data, tlg.TLG_SIGNATURE))  # one search serves both uses below
        for offset in tlg.find_regions(data, signatures):
            try:
                region = tlg.decode_region(data, offset, rva)
            except CorruptMetadataError as exc:  # find_regions validated the header; kept for safety
                binding.warnings.append(str(exc))
                continue
            binding.regions.append((region.rva, region.size))
            if region.warnings:
                binding.unwalked.append((region.rva + region.size, rva + len(data)))
            pointer_size = region.pointer_size
            binding.providers.extend(region.providers)
            binding.events.extend(region.events)
            binding.warnings.extend(f"ETW0 region at RVA {region.rva:#x}: {w}" for w in region.warnings)
        binding.warnings.extend(_bad_headers(data, rva, signatures))
        facts.memory.release()  # one section's pages resident at a time
    return binding, pointer_size, data_of


# --------------------------------------------------------------------------------------------- objects
def _packed(value: int, pointer_size: int) -> Optional[bytes]:
    """``value`` as a little-endian pointer of ``pointer_size`` bytes, or None if it does not fit."""
    if not 0 <= value < 1 << (8 * pointer_size):
        return None
    return value.to_bytes(pointer_size, "little")


def _aligned_pointers(data: SectionBytes, targets: dict[bytes, int], alignment: int) -> list[tuple[int, int]]:
    """(offset, target) for each aligned occurrence in ``data`` of a packed pointer value in ``targets``."""
    return [(pos, target) for packed, target in targets.items()
            for pos in tlg.find_all(data, packed) if pos % alignment == 0]


def _writable_data(facts: Facts, data_of: dict[int, SectionBytes]) -> list[tuple[int, SectionBytes]]:
    return [(rva, data_of[rva]) for rva, _size, writable, executable in facts.sections
            if writable and not executable and rva in data_of]


def find_provider_objects(facts: Facts, binding: TlgBinding, pointer_size: int,
                          data_of: dict[int, SectionBytes]) -> dict[int, int]:
    """RVA of each ``_tlgProvider_t`` (writable global, ProviderMetadataPtr at +pointer_size) -> provider RVA,
    each one validated by decoding the provider blob its pointer leads to."""
    packed: dict[bytes, int] = {}
    for p in binding.providers:
        raw = _packed(facts.image_base + p.offset_or_rva, pointer_size)
        if raw is not None:
            packed[raw] = p.offset_or_rva
    objects: dict[int, int] = {}
    for rva, data in _writable_data(facts, data_of):
        for offset, meta_rva in _aligned_pointers(data, packed, pointer_size):
            obj = rva + offset - pointer_size
            try:
                decoded = tlg.decode_provider_object(facts.memory.read, obj, facts.image_base, pointer_size)
            except CorruptMetadataError:
                continue
            if decoded.offset_or_rva == meta_rva:
                objects[obj] = meta_rva
    return objects


def find_undecoded_provider_objects(facts: Facts, binding: TlgBinding, known: dict[int, int], pointer_size: int,
                                    data_of: dict[int, SectionBytes]) -> dict[int, int]:
    """Writable globals whose ProviderMetadataPtr points past the damage in a corrupt region, at a byte shaped
    like a provider blob's RemainingSize: object RVA -> that RemainingSize RVA (no decoded provider).

    Without them, an event written next to such a provider would be tied to another provider its function
    also uses."""
    code = "Q" if pointer_size == 8 else "I"
    found: dict[int, int] = {}
    read = facts.memory.read
    for rva, data in _writable_data(facts, data_of):
        for index, (value,) in enumerate(struct.iter_unpack(f"<{code}", data[: len(data) // pointer_size * pointer_size])):
            target = value - facts.image_base
            if not any(start <= target < end for start, end in binding.unwalked):
                continue
            obj = rva + index * pointer_size - pointer_size
            if obj in known or obj < rva:
                continue
            if read(target - 1 - tlg.PROVIDER_PREAMBLE, 1) == bytes([tlg.BLOB_PROVIDER3]) or \
                    read(target - 1, 1) == bytes([tlg.BLOB_PROVIDER]):
                found[obj] = target
    return found


def find_provider_handles(facts: Facts, objects: dict[int, int], pointer_size: int,
                          data_of: dict[int, SectionBytes]) -> dict[int, int]:
    """RVA of each non-executable global holding a provider object's VA -> that object's RVA."""
    packed: dict[bytes, int] = {}
    for obj in objects:
        raw = _packed(facts.image_base + obj, pointer_size)
        if raw is not None:
            packed[raw] = obj
    handles: dict[int, int] = {}
    for rva, data in data_of.items():
        for offset, obj in _aligned_pointers(data, packed, pointer_size):
            handles[rva + offset] = obj
    return handles


# --------------------------------------------------------------------------------------------- binding
def bind(facts: Facts, engine: ReferenceFinder,
         sites_in: Optional[Mapping[int, Sequence[CallSite]]] = None) -> TlgBinding:
    """Decode the image's TraceLogging metadata and tie each event to its provider through its write sites.
    ``sites_in`` (caller -> every call site it makes, ``analysis.sites.sites_by_caller``), when the caller has
    it, lets the getter search read the calls of the functions that reference an event only.

    The scans read every data section in place; the pages they touched are given back when they end."""
    facts.memory.release()  # what earlier passes left resident: each pass below then adds one section at most
    try:
        return _bind(facts, engine, sites_in)
    finally:
        facts.memory.release()


def _bind(facts: Facts, engine: ReferenceFinder, sites_in: Optional[Mapping[int, Sequence[CallSite]]]) -> TlgBinding:
    binding, pointer_size, data_of = decode_metadata(facts)
    if not binding.events or not binding.providers:
        binding.sites = _sites(binding, {}, _event_refs(facts, binding, engine, {}))
        return binding
    providers = {p.offset_or_rva: p for p in binding.providers}
    objects = find_provider_objects(facts, binding, pointer_size, data_of)
    for obj, meta in sorted(objects.items()):
        binding.provider_objects.setdefault(meta, []).append(obj)
    if binding.unwalked:
        objects.update(find_undecoded_provider_objects(facts, binding, objects, pointer_size, data_of))
    handles = find_provider_handles(facts, objects, pointer_size, data_of)
    facts.memory.release()
    # target byte -> object RVA (a provider object's field, or a handle naming the object)
    object_targets: dict[int, int] = {}
    for handle, obj in handles.items():
        for offset in range(pointer_size):
            object_targets[handle + offset] = obj
    for obj in objects:
        for offset in range(PROVIDER_OBJECT_SIZE):
            object_targets[obj + offset] = obj
    refs = _event_refs(facts, binding, engine, object_targets)
    by_function_objects: dict[int, list[tuple[int, int]]] = defaultdict(list)  # function -> [(ref, object)]
    event_refs: list[tuple[int, int, int]] = []  # (function, ref RVA, event Channel RVA)
    for reference, key, is_object in refs:
        if is_object:
            by_function_objects[reference.function].append((reference.rva, key))
        else:
            event_refs.append((reference.function, reference.rva, key))
    event_functions = {f for f, _r, _e in event_refs}
    getters = _getter_objects(facts, by_function_objects, event_functions, sites_in)
    orphans = {f for f in event_functions if f not in by_function_objects and f not in getters}
    if orphans:
        if sites_in is not None:  # the callers' getters are read too: those of every function
            getters = _getter_objects(facts, by_function_objects, event_functions)
        getters.update(_inherited_objects(facts, engine, orphans, by_function_objects, getters, data_of))
    getters = {f: o for f, o in getters.items() if f in event_functions}
    votes: dict[int, Counter[int]] = defaultdict(Counter)
    nearest: dict[tuple[int, int], int] = {}
    for function, ref, event_rva in event_refs:
        candidates = by_function_objects.get(function)
        if candidates:
            distance, obj = min((abs(ref - pref), obj) for pref, obj in candidates)
        else:
            obj_found = getters.get(function)
            if obj_found is None:
                continue
            distance, obj = 1 << 32, obj_found
        votes[event_rva][obj] += 1
        pair = (event_rva, obj)
        nearest[pair] = min(nearest.get(pair, distance), distance)
    names = {e.rva: e.name for e in binding.events}
    for event_rva, counter in votes.items():
        obj = max(counter, key=lambda o: (counter[o], -nearest[(event_rva, o)], -o))
        chosen = providers.get(objects[obj])
        if chosen is None:
            log.info("event %r at RVA %#x is written with the undecoded provider at RVA %#x", names[event_rva],
                     event_rva, objects[obj])
            continue
        if len(counter) > 1:
            log.info("event %r at RVA %#x is written with %d provider objects; %r chosen", names[event_rva],
                     event_rva, len(counter), chosen.name)
        binding.event_provider[event_rva] = chosen
        binding.event_object[event_rva] = obj
    binding.sites = _sites(binding, objects, refs)
    return binding


def _event_refs(facts: Facts, binding: TlgBinding, engine: ReferenceFinder,
                object_targets: dict[int, int]) -> list[tuple[Reference, int, bool]]:
    """(reference, key, is_object): key is the object RVA for a provider reference, else the event's
    Channel RVA. One reference finder call for all targets."""
    event_targets: dict[int, int] = {}
    for event in binding.events:
        for offset in range(-1, EVENT_HEAD - 1):
            event_targets.setdefault(event.rva + offset, event.rva)
    if not event_targets:
        return []
    found = engine.references(set(event_targets) | set(object_targets))
    binding.references = len(found)
    out: list[tuple[Reference, int, bool]] = []
    for ref in found:
        if ref.target in object_targets:
            out.append((ref, object_targets[ref.target], True))
        elif ref.target in event_targets:
            out.append((ref, event_targets[ref.target], False))
    return out


def _getter_objects(facts: Facts, objects_in: dict[int, list[tuple[int, int]]], event_functions: set[int],
                    sites_in: Optional[Mapping[int, Sequence[CallSite]]] = None) -> dict[int, int]:
    """Function that references no provider -> the provider object of the getter it calls: a direct callee
    that references exactly one provider object and no event (a function-local static provider returned
    by pointer, as WIL's TraceLogging classes do). Only when all such callees agree. With ``sites_in``
    (caller -> its call sites), only the functions of ``event_functions`` are answered, from their own calls."""
    held = {f: {o for _r, o in hits} for f, hits in objects_in.items() if f not in event_functions}
    getter_of = {f: next(iter(objs)) for f, objs in held.items() if len(objs) == 1}
    if not getter_of:
        return {}
    found: dict[int, set[int]] = defaultdict(set)
    if sites_in is None:
        # The calls of a getter picked out in C: a Python step per call site (150,000 at 1x) was this pass's cost.
        calls = facts.calls
        picked: Iterable[CallSite] = compress(calls, map(getter_of.__contains__, map(_CALLEE, calls)))
    else:  # the event functions' own calls (1,881 functions at 1x, of 68,063 call sites in all)
        empty: Sequence[CallSite] = ()
        picked = [site for function in event_functions for site in sites_in.get(function, empty)
                  if site.callee in getter_of]
    for site in picked:
        if site.caller not in objects_in:
            found[site.caller].add(getter_of[site.callee])
    return {f: next(iter(objs)) for f, objs in found.items() if len(objs) == 1}


#: How many caller (or vtable) levels up an event's function looks for the provider its callers hold.
INHERIT_LEVELS = 2


def _inherited_objects(facts: Facts, engine: ReferenceFinder, orphans: set[int],
                       objects_in: dict[int, list[tuple[int, int]]], getters: dict[int, int],
                       data_of: dict[int, SectionBytes]) -> dict[int, int]:
    """Function that references an event but neither a provider nor a getter -> the one provider object its
    callers hold (their own references or getters), up to :data:`INHERIT_LEVELS` callers up.

    A method of a class that keeps the provider handle in a field (WIL's TraceLogging classes) receives it
    through ``this``; when the method is reached only through a vtable, the vtable's users (the code that
    installs it, a constructor or a getter) stand for its callers."""
    callers: dict[int, set[int]] = defaultdict(set)
    for site in facts.calls:
        callers[site.callee].add(site.caller)
    table_users = _vtable_users(facts, engine, orphans | {c for f in orphans for c in callers.get(f, ())}, data_of)

    def held(function: int) -> set[int]:
        if function in objects_in:
            return {o for _r, o in objects_in[function]}
        return {getters[function]} if function in getters else set()

    found: dict[int, int] = {}
    for function in sorted(orphans):
        frontier = {function}
        seen = {function}
        objects: set[int] = set()
        for _ in range(INHERIT_LEVELS):
            up = set()
            for f in frontier:
                up |= callers.get(f, set()) | table_users.get(f, set())
            up -= seen
            seen |= up
            for f in up:
                objects |= held(f)
            if objects:
                break
            frontier = up
        if len(objects) == 1:
            found[function] = next(iter(objects))
    return found


def _vtable_users(facts: Facts, engine: ReferenceFinder, functions: set[int],
                  data_of: dict[int, SectionBytes]) -> dict[int, set[int]]:
    """Function -> the functions that reference a table of code pointers in read-only data holding it (a
    vtable and the constructors or getters that install it)."""
    if not functions:
        return {}
    code = [(rva, rva + size) for rva, size, _w, executable in facts.sections if executable]

    def is_code_pointer(value: int) -> bool:
        target = value - facts.image_base
        return any(start <= target < end for start, end in code)

    readonly = [(rva, data_of[rva]) for rva, _size, writable, executable in facts.sections
                if not writable and not executable and rva in data_of]
    wanted = {facts.image_base + f: f for f in functions}
    table_of: dict[int, set[int]] = defaultdict(set)
    for rva, data in readonly:
        hits = sorted((offset, wanted[value]) for value in _words_present(data, wanted.keys())
                      for offset in tlg.find_all(data, value.to_bytes(8, "little")) if offset % 8 == 0)
        for offset, function in hits:
            start = offset
            while start >= 8 and is_code_pointer(int.from_bytes(data[start - 8 : start], "little")):
                start -= 8
            table_of[rva + start].add(function)
    if not table_of:
        return {}
    users: dict[int, set[int]] = defaultdict(set)
    for ref in engine.references(set(table_of)):
        for function in table_of.get(ref.target, ()):
            users[function].add(ref.function)
    return users


def _words_present(data: SectionBytes, values: Collection[int]) -> set[int]:
    """Which of ``values`` occur as an aligned little-endian 8-byte word of ``data``: one pass in C over the
    words of the view (no Python step per word, no copy of the section); the few found are then located."""
    usable = len(data) // 8 * 8
    view = memoryview(data)[:usable]
    if sys.byteorder == "little":
        return set(values).intersection(view.cast("Q"))
    return set(values).intersection(value for (value,) in struct.iter_unpack("<Q", view))


def _sites(binding: TlgBinding, objects: dict[int, int], refs: list[tuple[Reference, int, bool]]) -> list[ReferenceSite]:
    """One site per (function, event blob) the function addresses, with the provider bound to the event."""
    events = {e.rva: e for e in binding.events}
    first: dict[tuple[int, int], int] = {}
    for ref, key, is_object in refs:
        if not is_object:
            site_key = (ref.function, key)
            first[site_key] = min(first.get(site_key, ref.rva), ref.rva)
    sites = []
    for (function, event_rva), rva in sorted(first.items()):
        provider = binding.event_provider.get(event_rva)
        obj = binding.event_object.get(event_rva)
        sites.append(ReferenceSite(function, rva, events[event_rva], (provider,) if provider else (),
                                   (obj,) if obj is not None else ()))
    return sites


# --------------------------------------------------------------------------------------------- write calls
def writer_functions(write_apis: Iterable[int], callers: Callable[[int], Iterable[int]],
                     levels: int = WRITER_LEVELS) -> dict[int, int]:
    """Function -> the ETW write API it is or calls within ``levels`` direct calls (template helpers,
    ``_tlgWriteTransfer`` copies): where an inlined TraceLogging write's real call goes. ``callers`` gives a
    function's direct callers, sorted (the walk's own lists: only the few levels above the APIs are read)."""
    found = {rva: rva for rva in sorted(write_apis)}
    frontier = list(found)  # sorted, each function once (a level's new callers are new to ``found``)
    for _ in range(levels):
        nxt: list[int] = []
        for f in frontier:
            writer = found[f]
            for caller in callers(f):
                if caller not in found:
                    found[caller] = writer
                    nxt.append(caller)
        nxt.sort()
        frontier = nxt
    return found


def write_call(sites: list[CallSite], ref_rva: int, writers: Collection[int]) -> Optional[CallSite]:
    """The call that performs the write whose metadata is loaded at ``ref_rva``: the first call after the
    load (in address order) to a write API or a function that reaches one; else the last one before it."""
    after = [s for s in sites if s.rva > ref_rva and s.callee in writers]
    if after:
        return min(after, key=lambda s: s.rva)
    before = [s for s in sites if s.rva < ref_rva and s.callee in writers]
    return max(before, key=lambda s: s.rva) if before else None


class WriterCallees:
    """Direct calls between writer functions (see :func:`writer_functions`), each writer's read from its
    own call sites (``sites_in``: caller -> its call sites) when first asked: the helper chains read a few
    functions below each helper, not the calls of every writer (most functions of a kernel are one)."""

    def __init__(self, sites_in: Mapping[int, Iterable[CallSite]], writers: Collection[int]):
        self._sites_in = sites_in
        self._writers = writers
        self._known: dict[int, set[int]] = {}

    def get(self, caller: int) -> set[int]:
        """The writers ``caller`` calls directly (none when it is no writer itself)."""
        known = self._known.get(caller)
        if known is None:
            writers = self._writers
            known = self._known[caller] = {site.callee for site in self._sites_in.get(caller, ())
                                           if site.callee in writers} if caller in writers else set()
        return known


def helper_chain(start: int, callees: WriterCallees) -> set[int]:
    """``start`` and the functions below it on the way to the write API (the template helpers an
    inlined TraceLogging write calls; ``callees``: a :class:`WriterCallees`): their unresolved
    manifest-style writes are that TraceLogging write."""
    found = {start}
    frontier = {start}
    for _ in range(WRITER_LEVELS):
        frontier = {c for f in frontier for c in callees.get(f)} - found
        found |= frontier
    return found


__all__ = [
    "EVENT_HEAD",
    "PROVIDER_OBJECT_SIZE",
    "ReferenceSite",
    "TlgBinding",
    "WriterCallees",
    "bind",
    "decode_metadata",
    "helper_chain",
    "write_call",
    "writer_functions",
]
