"""``api-to-etw tracelogging BINARY``: list the TraceLogging providers and events an image embeds.

Every ``ETW0`` metadata region in the image (every section is scanned) is decoded blob by blob, legacy
blob forms included, and written as one row per provider and one row per event. The rows go to stdout
by default (``-o FILE`` for a file); warnings and a one-line summary go to stderr.

An event row names its provider only where a write site ties the two together, found without a PDB:

* a *provider object* (``_tlgProvider_t``) is a writable global whose pointer at ``+8`` holds the VA of
  a provider blob's RemainingSize; a *provider handle* is a non-executable global holding the VA of a
  provider object (``TraceLoggingHProvider const h = &obj``);
* code references are instructions with a RIP-relative memory operand (``lea``/``mov``, but also the
  ``cmp dword ptr [obj], level`` and ``test byte ptr [obj+0x10], kw`` of an inlined enabled check, with
  or without an immediate), found by a byte scan of the executable sections for ModRM bytes with
  ``mod=00 rm=101`` whose disp32 lands on a wanted address, each hit confirmed by decoding it with
  iced-x86. A reference to an event is one to the head of its blob, type byte to RemainingSize: clang
  passes the Channel byte's address (or the blob base, then ``+1``, after ``cond ? &A : &B``); MSVC
  inlines the write helper and reads Level and RemainingSize straight from the blob. A reference to a
  provider is one to any field of its object, or to a handle;
* references are grouped by function: the RUNTIME_FUNCTION containing them (a chained entry counts
  as the function it continues) or, for leaf functions and tail-calling thunks without unwind data,
  the gap between two RUNTIME_FUNCTIONs. An event referenced in a function that references exactly
  one provider belongs to it; with several providers in the function, the provider referenced nearest
  to the event reference wins; when the functions referencing one event disagree, the provider most of
  them name wins. A provider whose blob lies past the damage in a corrupt region is still recognised
  by its object (so its events stay untied rather than tied to a neighbour).

Exit codes: 0, or 9 (corrupt ETW metadata) when the decoder warned about any region (a blob with a
lying size, a truncated region, an unknown blob type, an ETW0 signature with a wrong magic); the rows
decoded before the damage are still written. An image without any ETW0 region gives a header-only
table and exit 0. A file that is not an x64 PE gets the loader's one-line error.
"""

from __future__ import annotations

import bisect
import json
import logging
import struct
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Optional

from .errors import CorruptMetadataError

log = logging.getLogger("api_to_etw.tracelogging")

TLG_FORMATS = ("tsv", "csv", "jsonl")
COLUMNS = ("Kind", "Guid", "Provider", "Name", "Channel", "Level", "Opcode", "Keyword", "Tags", "Fields",
           "GroupGuid", "Rva", "BlobType")
KIND_PROVIDER = "provider"
KIND_EVENT = "event"

# A ModRM byte with mod=00 rm=101 (any reg field) introduces a RIP-relative operand: its disp32 follows,
# and the target is the end of the instruction (after an immediate of 0, 1, 2 or 4 bytes) plus the disp32.
# Every such byte is a candidate; candidates whose target is wanted are confirmed by decoding the
# instruction that would contain them (iced-x86), so bytes that only look like a ModRM are dropped.
#: sizeof(_tlgProvider_t) on x64: LevelPlus1 (padded), ProviderMetadataPtr, KeywordAny, KeywordAll, RegHandle,
#: EnableCallback, CallbackContext. Code reads its fields (the enabled checks), so any byte of it is a reference.
_PROVIDER_OBJECT_SIZE = 0x38
#: An event blob's head, from the type byte to the end of RemainingSize: the write site passes the Channel
#: byte's address, or the blob base and adds 1, or (MSVC, the write helper inlined) reads Level, Keyword
#: and RemainingSize straight from the blob.
_EVENT_HEAD = 1 + 11 + 2


@dataclass
class TlgListing:
    """What ``tracelogging`` found in one image."""

    providers: list = field(default_factory=list)  # TlgProvider, in region and blob order
    events: list = field(default_factory=list)  # TlgEvent, in region and blob order
    #: Channel-byte RVA of an event -> the provider a write site ties it to.
    event_provider: dict = field(default_factory=dict)
    #: provider RemainingSize RVA -> RVAs of its _tlgProvider_t objects.
    provider_objects: dict = field(default_factory=dict)
    regions: list[tuple[int, int]] = field(default_factory=list)  # (RVA, bytes walked)
    #: [start, end) RVAs of what follows the point where a corrupt region's walk stopped, up to the end of
    #: its section: provider blobs there are not decoded, but objects pointing at them are still providers.
    unwalked: list[tuple[int, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    references: int = 0  # code references to events or provider objects/handles

    @property
    def corrupt(self) -> bool:
        return bool(self.warnings)


# --------------------------------------------------------------------------------------------- decoding
def _find_bad_headers(data: bytes, base_rva: int) -> list[str]:
    """Damaged ETW0 headers: a signature with a plausible Size/Version but the wrong 64-bit magic, or one cut
    off by the end of the section's file-backed bytes."""
    from .etw.tracelogging import TLG_HEADER_SIZE, TLG_MAGIC, TLG_SIGNATURE, TLG_VERSION

    found = []
    pos = data.find(TLG_SIGNATURE)
    while pos >= 0:
        if pos + TLG_HEADER_SIZE > len(data):
            found.append(f"ETW0 header at RVA {base_rva + pos:#x} is truncated: {len(data) - pos} of "
                         f"{TLG_HEADER_SIZE} bytes in the file; region not decoded")
        else:
            _sig, size, version, _flags, magic = struct.unpack_from("<4sHBBQ", data, pos)
            if size == TLG_HEADER_SIZE and version == TLG_VERSION and magic != TLG_MAGIC:
                found.append(f"ETW0 header at RVA {base_rva + pos:#x} has magic {magic:#018x}, not {TLG_MAGIC:#018x}; "
                             "region not decoded")
        pos = data.find(TLG_SIGNATURE, pos + 1)
    return found


def decode_image(image) -> TlgListing:
    """Decode every ETW0 region of a loaded PEImage and tie events to providers through write sites."""
    from .etw import tracelogging

    listing = TlgListing()
    pointer_size = 8
    for section in image.sections:
        # Only the bytes the file backs: TraceLogging metadata is initialised data, and past the end of a
        # truncated file the loader's zero fill would decode as blobs that are not there.
        size = min(section.virtual_size, section.raw_size) if section.virtual_size else section.raw_size
        data = image.read(section.rva, size)
        if not data:
            continue
        offsets = tracelogging.find_regions(data)
        for offset in offsets:
            try:
                region = tracelogging.decode_region(data, offset, section.rva)
            except CorruptMetadataError as exc:  # find_regions validated the header; kept for safety
                listing.warnings.append(str(exc))
                continue
            listing.regions.append((region.rva, region.size))
            if region.warnings:
                listing.unwalked.append((region.rva + region.size, section.rva + len(data)))
            pointer_size = region.pointer_size
            listing.providers.extend(region.providers)
            listing.events.extend(region.events)
            listing.warnings.extend(f"ETW0 region at RVA {region.rva:#x}: {w}" for w in region.warnings)
        listing.warnings.extend(_find_bad_headers(data, section.rva))
    if listing.events and listing.providers:
        _tie_events(image, listing, pointer_size)
    return listing


def _aligned_pointers(data: bytes, targets: dict[bytes, int], alignment: int) -> list[tuple[int, int]]:
    """(offset, target) for each aligned occurrence in ``data`` of a packed pointer value in ``targets``."""
    hits = []
    for packed, target in targets.items():
        pos = data.find(packed)
        while pos >= 0:
            if pos % alignment == 0:
                hits.append((pos, target))
            pos = data.find(packed, pos + 1)
    return hits


def _find_provider_objects(image, providers: dict[int, object], pointer_size: int) -> dict[int, int]:
    """RVA of each ``_tlgProvider_t`` (writable global, ProviderMetadataPtr at +pointer_size) -> provider RVA."""
    from .etw.tracelogging import decode_provider_object

    packed = {(image.image_base + rva).to_bytes(pointer_size, "little"): rva for rva in providers}
    objects: dict[int, int] = {}
    for section in image.sections:
        if section.executable or not section.writable:
            continue
        for offset, meta_rva in _aligned_pointers(image.section_bytes(section), packed, pointer_size):
            obj = section.rva + offset - pointer_size
            try:
                decoded = decode_provider_object(image.read, obj, image.image_base, pointer_size)
            except CorruptMetadataError:
                continue
            if decoded.offset_or_rva == meta_rva:
                objects[obj] = meta_rva
    return objects


def _find_undecoded_provider_objects(image, listing: TlgListing, known: dict[int, int],
                                     pointer_size: int) -> dict[int, int]:
    """Writable globals whose ProviderMetadataPtr points past the damage in a corrupt region, at a byte shaped
    like a provider blob's RemainingSize (a _TlgBlobProvider3 type byte 17 bytes before it, or a legacy
    _TlgBlobProvider type byte right before it): object RVA -> that RemainingSize RVA (no decoded provider).

    Without them, an event written next to such a provider would be tied to another provider its function
    also uses."""
    from .etw.tracelogging import BLOB_PROVIDER, BLOB_PROVIDER3, PROVIDER_PREAMBLE

    code = "Q" if pointer_size == 8 else "I"
    found: dict[int, int] = {}
    for section in image.sections:
        if section.executable or not section.writable:
            continue
        data = image.section_bytes(section)
        count = len(data) // pointer_size
        values = struct.unpack_from(f"<{count}{code}", data)
        for index, value in enumerate(values):
            target = value - image.image_base
            if not any(start <= target < end for start, end in listing.unwalked):
                continue
            obj = section.rva + index * pointer_size - pointer_size
            if obj in known or obj < section.rva:
                continue
            if image.read(target - 1 - PROVIDER_PREAMBLE, 1) == bytes([BLOB_PROVIDER3]) or \
                    image.read(target - 1, 1) == bytes([BLOB_PROVIDER]):
                found[obj] = target
    return found


def _find_provider_handles(image, objects: dict[int, int], pointer_size: int) -> dict[int, int]:
    """RVA of each non-executable global holding a provider object's VA -> that object's provider RVA."""
    packed = {(image.image_base + obj).to_bytes(pointer_size, "little"): meta for obj, meta in objects.items()}
    handles: dict[int, int] = {}
    for section in image.sections:
        if section.executable:
            continue
        for offset, meta_rva in _aligned_pointers(image.section_bytes(section), packed, pointer_size):
            handles[section.rva + offset] = meta_rva
    return handles


def code_references(image, targets: dict[int, int]) -> list[tuple[int, int]]:
    """``(RVA, key)`` of each instruction in the executable sections whose RIP-relative memory operand
    (``lea``, ``mov``, ``cmp``, ``test``..., with or without an immediate) addresses a byte in ``targets``
    (target RVA -> key): the native engine's reference scan."""
    from .engine.native.functions import scan_rip_references

    refs = scan_rip_references(image, set(targets), lambda _rva: 0)
    return sorted((ref.rva, targets[ref.target]) for ref in refs)


class _FunctionIndex:
    """Maps an RVA to the function holding it: its RUNTIME_FUNCTION (chained entries folded into the
    function they continue), else the gap between two entries, where leaf functions without unwind data
    (and tail-calling thunks) live."""

    def __init__(self, runtime_functions) -> None:
        entries = sorted(runtime_functions, key=lambda f: f.begin)
        self._begins = [f.begin for f in entries]
        self._entries = entries

    def function_at(self, rva: int) -> tuple[str, int]:
        i = bisect.bisect_right(self._begins, rva) - 1
        # Entries do not overlap in a sane image; look back a little in case a hostile one does.
        for j in range(i, max(i - 4, -1), -1):
            entry = self._entries[j]
            if entry.begin <= rva < entry.end:
                return ("function", entry.parent if entry.parent is not None else entry.begin)
        return ("gap", self._entries[i].end if i >= 0 else 0)


def _event_extents(listing: TlgListing) -> dict[int, int]:
    """Each byte of each event blob's head (type byte to RemainingSize) -> the event's Channel RVA."""
    heads: dict[int, int] = {}
    for event in listing.events:
        for offset in range(-1, _EVENT_HEAD - 1):
            heads.setdefault(event.rva + offset, event.rva)
    return heads


def _tie_events(image, listing: TlgListing, pointer_size: int) -> None:
    providers = {p.offset_or_rva: p for p in listing.providers}
    objects = _find_provider_objects(image, providers, pointer_size)
    for obj, meta in objects.items():
        listing.provider_objects.setdefault(meta, []).append(obj)
    if listing.unwalked:
        objects.update(_find_undecoded_provider_objects(image, listing, objects, pointer_size))
    handles = _find_provider_handles(image, objects, pointer_size)
    # Keys: an event's Channel RVA, or ~provider RVA (negative) for a provider object's or handle's byte.
    targets: dict[int, int] = {}
    for handle, meta in handles.items():
        for offset in range(pointer_size):
            targets[handle + offset] = ~meta
    for obj, meta in objects.items():
        for offset in range(_PROVIDER_OBJECT_SIZE):
            targets[obj + offset] = ~meta
    for address, event_rva in _event_extents(listing).items():
        targets.setdefault(address, event_rva)
    refs = code_references(image, targets)
    listing.references = len(refs)
    functions = _FunctionIndex(image.runtime_functions)
    provider_refs: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)  # function -> [(ref, provider)]
    event_refs: list[tuple[tuple[str, int], int, int]] = []  # (function, ref RVA, event Channel RVA)
    for ref, key in refs:
        function = functions.function_at(ref)
        if key < 0:
            provider_refs[function].append((ref, ~key))
        else:
            event_refs.append((function, ref, key))
    votes: dict[int, Counter] = defaultdict(Counter)
    nearest: dict[tuple[int, int], int] = {}
    for function, ref, event_rva in event_refs:
        candidates = provider_refs.get(function)
        if not candidates:
            continue
        distance, meta = min((abs(ref - pref), meta) for pref, meta in candidates)
        votes[event_rva][meta] += 1
        key = (event_rva, meta)
        nearest[key] = min(nearest.get(key, distance), distance)
    names = {e.rva: e.name for e in listing.events}
    for event_rva, counter in votes.items():
        meta = max(counter, key=lambda m: (counter[m], -nearest[(event_rva, m)], -m))
        chosen = providers.get(meta)
        if chosen is None:
            log.info("event %r at RVA %#x is written with the undecoded provider at RVA %#x", names[event_rva],
                     event_rva, meta)
            continue
        if len(counter) > 1:
            log.info("event %r at RVA %#x is written with %d providers; %r chosen", names[event_rva], event_rva,
                     len(counter), chosen.name)
        listing.event_provider[event_rva] = chosen


# --------------------------------------------------------------------------------------------- rendering
def _short(name: Optional[str], prefix: str) -> str:
    name = (name or "").lstrip("_")
    return name[len(prefix):] if name.startswith(prefix) else name


def format_field(f) -> str:
    """``name:intype[/outtype][[count]]``; ``[]`` for a variable-count array, ``name:struct{n}`` for a struct."""
    if f.is_struct:
        text = f"{f.name}:struct{{{f.struct_fields}}}"
    else:
        text = f"{f.name}:{_short(f.in_type_name, 'TlgIn')}"
        if f.out_type:  # TlgOutNULL (0) is the default format: left out
            text += f"/{_short(f.out_type_name, 'TlgOut')}"
    if f.is_custom:
        text += f"<custom:{len(f.type_info or b'')}>"
    elif f.count is not None:
        text += f"[{f.count}]"
    elif f.is_variable_array:
        text += "[]"
    return text


def _field_record(f) -> dict[str, object]:
    return {
        "name": f.name,
        "in_type": _short(f.in_type_name, "TlgIn"),
        "out_type": _short(f.out_type_name, "TlgOut") if f.out_type is not None else None,
        "tags": f"0x{f.tags:x}",
        "count": f.count,
        "variable_count": f.is_variable_array,
        "struct_fields": f.struct_fields,
        "custom_type_info": f.type_info.hex() if f.type_info is not None else None,
    }


def listing_records(listing: TlgListing) -> list[dict[str, object]]:
    """One typed record per provider, then one per event, in the order of the metadata."""
    from .etw.tracelogging import BLOB_TYPE_NAMES

    records: list[dict[str, object]] = []
    for p in listing.providers:
        records.append({
            "kind": KIND_PROVIDER, "guid": p.guid, "provider": p.name, "name": p.name,
            "channel": None, "level": None, "opcode": None, "keyword": None, "tags": None, "fields": [],
            "group_guid": p.group_guid, "rva": f"0x{p.offset_or_rva:x}",
            "blob_type": BLOB_TYPE_NAMES.get(p.blob_type, str(p.blob_type)),
        })
    for e in listing.events:
        owner = listing.event_provider.get(e.rva)
        records.append({
            "kind": KIND_EVENT, "guid": owner.guid if owner else None, "provider": owner.name if owner else None,
            "name": e.name, "channel": e.channel, "level": e.level, "opcode": e.opcode,
            "keyword": f"0x{e.keyword:x}", "tags": f"0x{e.tags:x}", "fields": [_field_record(f) for f in e.fields],
            "group_guid": None, "rva": f"0x{e.rva:x}", "blob_type": BLOB_TYPE_NAMES.get(e.blob_type, str(e.blob_type)),
        })
    return records


def listing_rows(listing: TlgListing) -> list[dict[str, str]]:
    """The table rows (column name -> text) for TSV and CSV."""
    from .etw.tracelogging import BLOB_TYPE_NAMES

    rows: list[dict[str, str]] = []
    for p in listing.providers:
        rows.append({
            "Kind": KIND_PROVIDER, "Guid": p.guid, "Provider": p.name, "Name": p.name, "Channel": "", "Level": "",
            "Opcode": "", "Keyword": "", "Tags": "", "Fields": "", "GroupGuid": p.group_guid or "",
            "Rva": f"0x{p.offset_or_rva:x}", "BlobType": BLOB_TYPE_NAMES.get(p.blob_type, str(p.blob_type)),
        })
    for e in listing.events:
        owner = listing.event_provider.get(e.rva)
        rows.append({
            "Kind": KIND_EVENT, "Guid": owner.guid if owner else "", "Provider": owner.name if owner else "",
            "Name": e.name, "Channel": str(e.channel), "Level": str(e.level), "Opcode": str(e.opcode),
            "Keyword": f"0x{e.keyword:x}", "Tags": f"0x{e.tags:x}", "Fields": ";".join(map(format_field, e.fields)),
            "GroupGuid": "", "Rva": f"0x{e.rva:x}", "BlobType": BLOB_TYPE_NAMES.get(e.blob_type, str(e.blob_type)),
        })
    return rows


def render_listing(listing: TlgListing, fmt: str) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(record) + "\n" for record in listing_records(listing))
    from .render.tables import render_table

    return render_table(listing_rows(listing), COLUMNS, fmt)


__all__ = [
    "COLUMNS",
    "TlgListing",
    "code_references",
    "decode_image",
    "format_field",
    "listing_records",
    "listing_rows",
    "render_listing",
]
