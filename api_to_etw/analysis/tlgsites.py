"""TraceLogging write sites found from the metadata itself, without knowing the writer's name.

Every TraceLogging write passes a pointer to its event's metadata blob (the Channel byte), and only
write code ever takes that address. So a function whose code takes the address of an event blob
writes that event — whether the helper it calls is named (``_tlgWriteTransfer``), unnamed (no PDB),
or inlined into a user-mode ``EventWriteTransfer`` call. The provider is the ``_tlgProvider_t``
object the same function takes the address of (its ProviderMetadataPtr leads to a provider blob).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..errors import CorruptMetadataError
from ..etw import tracelogging
from ..model import Facts

log = logging.getLogger(__name__)


@dataclass
class TlgMetadata:
    #: Channel-byte RVA (what a write passes) -> event.
    events: dict[int, tracelogging.TlgEvent] = field(default_factory=dict)
    #: RemainingSize RVA (what ProviderMetadataPtr holds) -> provider.
    providers: dict[int, tracelogging.TlgProvider] = field(default_factory=dict)
    #: (start, end) of each ETW0 region.
    regions: list[tuple[int, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def provider_guid_rvas(self) -> set[int]:
        """Where each provider blob's GUID sits (what a user-mode EventRegister receives)."""
        return {rva - 16 for rva, p in self.providers.items() if p.guid}


def find_metadata(facts: Facts) -> TlgMetadata:
    """Decode every ETW0 region in the image's non-executable sections."""
    meta = TlgMetadata()
    for rva, size, _writable, executable in facts.sections:
        if executable or size <= 0:
            continue
        data = facts.memory.read(rva, size)
        for offset in tracelogging.find_regions(data):
            try:
                region = tracelogging.decode_region(data, offset, rva)
            except CorruptMetadataError as exc:
                meta.warnings.append(str(exc))
                continue
            meta.regions.append((region.rva, region.rva + region.size))
            for event in region.events:
                meta.events[event.rva] = event
            for provider in region.providers:
                meta.providers[provider.offset_or_rva] = provider
            meta.warnings.extend(region.warnings)
    for warning in meta.warnings:
        log.warning("TraceLogging metadata: %s", warning)
    return meta


@dataclass(frozen=True)
class ReferenceSite:
    """A function that addresses an event blob (and maybe a provider object)."""

    function: int
    rva: int
    event: tracelogging.TlgEvent
    providers: tuple[tracelogging.TlgProvider, ...]
    provider_objects: tuple[int, ...]


#: Bytes of a ``_tlgProvider_t`` code may address (LevelPlus1, keywords, RegHandle...): up to its context.
PROVIDER_OBJECT_SIZE = 0x38
#: Bytes of an event blob the write code reads: the type byte through RemainingSize.
EVENT_HEAD = 1 + 11 + 2


def _aligned_values(data: bytes, wanted: dict[bytes, int]) -> list[tuple[int, int]]:
    hits = []
    for packed, value in wanted.items():
        pos = data.find(packed)
        while pos >= 0:
            if pos % 8 == 0:
                hits.append((pos, value))
            pos = data.find(packed, pos + 1)
    return hits


def provider_objects(facts: Facts, meta: TlgMetadata) -> dict[int, tracelogging.TlgProvider]:
    """``_tlgProvider_t`` globals: writable data whose pointer at +8 leads to a provider blob's RemainingSize."""
    wanted = {(facts.image_base + rva).to_bytes(8, "little"): rva for rva in meta.providers}
    objects = {}
    for rva, size, writable, executable in facts.sections:
        if executable or not writable or not wanted:
            continue
        for pos, meta_rva in _aligned_values(facts.memory.read(rva, size), wanted):
            objects[rva + pos - 8] = meta.providers[meta_rva]
    return objects


def provider_handles(facts: Facts, objects: dict[int, tracelogging.TlgProvider]) -> dict[int, tracelogging.TlgProvider]:
    """Non-executable globals holding a provider object's address (``TraceLoggingHProvider const``)."""
    wanted = {(facts.image_base + obj).to_bytes(8, "little"): obj for obj in objects}
    handles = {}
    for rva, size, _writable, executable in facts.sections:
        if executable or not wanted:
            continue
        for pos, obj in _aligned_values(facts.memory.read(rva, size), wanted):
            handles[rva + pos] = objects[obj]
    return handles


def reference_targets(facts: Facts, meta: TlgMetadata) -> tuple[dict[int, int], dict[int, tuple[int, object]]]:
    """Addresses worth finding references to: event heads (-> event RVA) and provider objects and handles
    (-> (object RVA, provider))."""
    events: dict[int, int] = {}
    for rva in meta.events:
        for offset in range(-1, EVENT_HEAD - 1):
            events.setdefault(rva + offset, rva)
    providers: dict[int, tuple[int, object]] = {}
    objects = provider_objects(facts, meta)
    for obj, provider in objects.items():
        for offset in range(PROVIDER_OBJECT_SIZE):
            providers[obj + offset] = (obj, provider)
    inverse = {id(p): o for o, p in objects.items()}
    for handle, provider in provider_handles(facts, objects).items():
        for offset in range(8):
            providers.setdefault(handle + offset, (inverse.get(id(provider), handle), provider))
    return events, providers


def reference_sites(facts: Facts, meta: TlgMetadata, engine) -> list[ReferenceSite]:
    """One site per (function, event blob) the function addresses, with the provider it uses.

    The provider is the one the same function addresses nearest to the event reference; failing that,
    the provider most other functions use with that event (a helper may be shared).
    """
    if not meta.events:
        return []
    event_targets, provider_targets = reference_targets(facts, meta)
    refs = engine.references(set(event_targets) | set(provider_targets))
    events_in: dict[int, list[tuple[int, int]]] = {}
    providers_in: dict[int, list[tuple[int, int, object]]] = {}
    for ref in refs:
        if ref.target in event_targets:
            events_in.setdefault(ref.function, []).append((ref.rva, event_targets[ref.target]))
        elif ref.target in provider_targets:
            obj, provider = provider_targets[ref.target]
            providers_in.setdefault(ref.function, []).append((ref.rva, obj, provider))
    chosen: dict[tuple[int, int], tuple[int, object]] = {}
    votes: dict[int, dict[int, int]] = {}
    for function, hits in events_in.items():
        candidates = providers_in.get(function)
        for rva, event in hits:
            if candidates:
                _distance, obj, provider = min((abs(rva - prva), obj, p) for prva, obj, p in candidates)
                chosen[(function, event)] = (obj, provider)
                votes.setdefault(event, {}).setdefault(obj, 0)
                votes[event][obj] += 1
    objects = provider_objects(facts, meta)
    sites = []
    for function in sorted(events_in):
        seen = set()
        for rva, event in sorted(events_in[function]):
            if event in seen:
                continue
            seen.add(event)
            pick = chosen.get((function, event))
            if pick is None and votes.get(event):
                obj = max(votes[event], key=lambda o: (votes[event][o], -o))
                pick = (obj, objects.get(obj))
            providers = (pick[1],) if pick and pick[1] is not None else ()
            sites.append(ReferenceSite(function, rva, meta.events[event], providers, (pick[0],) if pick else ()))
    return sites
