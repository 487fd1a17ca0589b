"""``api-to-etw tracelogging BINARY``: list the TraceLogging providers and events an image embeds.

Every ``ETW0`` metadata region in the image (every section is scanned, as far as the file backs it) is
decoded blob by blob, legacy blob forms included, and written as one row per provider and one row per
event. The rows go to stdout by default (``-o FILE`` for a file); warnings and a one-line summary go to
stderr.

An event row names its provider where its write sites tie the two together, found without a PDB by the
same binder ``analyze`` uses (:mod:`api_to_etw.analysis.tlgbind`, whose docstring gives the rules), on
the native engine's functions and references.

Exit codes: 0, or 9 (corrupt ETW metadata) when the decoder warned about any region (a blob with a
lying size, a truncated region, an unknown blob type, an ETW0 signature with a wrong magic); the rows
decoded before the damage are still written. An image without any ETW0 region gives a header-only
table and exit 0. A file that is not an x64 PE gets the loader's one-line error.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Optional

from .analysis.tlgbind import TlgBinding, bind

if TYPE_CHECKING:
    from .binary.pe import PEImage

log = logging.getLogger("api_to_etw.tracelogging")

TLG_FORMATS = ("tsv", "csv", "jsonl")
COLUMNS = ("Kind", "Guid", "Provider", "Name", "Channel", "Level", "Opcode", "Keyword", "Tags", "Fields",
           "GroupGuid", "Rva", "BlobType")
KIND_PROVIDER = "provider"
KIND_EVENT = "event"

#: What ``tracelogging`` found in one image: the binder's result.
TlgListing = TlgBinding


def decode_image(image: PEImage) -> TlgBinding:
    """Decode every ETW0 region of a loaded PEImage and tie events to providers through write sites."""
    from .engine.native.engine import NativeEngine

    engine = NativeEngine(image)
    return bind(engine.load(), engine)


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
    "decode_image",
    "format_field",
    "listing_records",
    "listing_rows",
    "render_listing",
]
