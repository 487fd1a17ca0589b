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
from ..model import Facts, Reference

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
    """A function that takes the address of an event blob (and maybe of a provider object)."""

    function: int
    rva: int
    event: tracelogging.TlgEvent
    providers: tuple[tracelogging.TlgProvider, ...]
    provider_objects: tuple[int, ...]


def reference_sites(facts: Facts, meta: TlgMetadata, references: list[Reference]) -> list[ReferenceSite]:
    """One site per (function, event blob) the function references, with the providers it references."""
    if not meta.events:
        return []
    provider_objects: dict[int, tracelogging.TlgProvider] = {}
    by_function: dict[int, list[Reference]] = {}
    candidates = set()
    for ref in references:
        if ref.target in meta.events:
            by_function.setdefault(ref.function, []).append(ref)
        elif ref.target + 1 in meta.events:
            # The blob's type byte: code that selects between events may add 1 after choosing a base.
            by_function.setdefault(ref.function, []).append(Reference(ref.rva, ref.function, ref.target + 1))
        else:
            candidates.add(ref.target)
    ptr = 8
    image_base = facts.image_base
    for target in candidates:
        raw = facts.memory.read(target + ptr, ptr)
        if len(raw) != ptr:
            continue
        va = int.from_bytes(raw, "little")
        provider = meta.providers.get(va - image_base) if va >= image_base else None
        if provider is not None:
            provider_objects[target] = provider
    objects_in: dict[int, set[int]] = {}
    for ref in references:
        if ref.target in provider_objects and ref.function in by_function:
            objects_in.setdefault(ref.function, set()).add(ref.target)
    sites = []
    for function, refs in sorted(by_function.items()):
        objects = tuple(sorted(objects_in.get(function, ())))
        providers = tuple(provider_objects[o] for o in objects)
        seen = set()
        for ref in sorted(refs, key=lambda r: r.rva):
            if ref.target in seen:
                continue
            seen.add(ref.target)
            sites.append(ReferenceSite(function, ref.rva, meta.events[ref.target], providers, objects))
    return sites
