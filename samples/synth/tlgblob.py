"""TraceLogging metadata blobs as TraceLoggingProvider.h lays them out (provider, event and field encodings)."""

from __future__ import annotations

from samples.guid import guid_bytes
from samples.synth.constants import TLG_BLOB_PROVIDER3, TLG_CCOUNT, TLG_CHAIN, TLG_OPTION_GROUP, TLG_VCOUNT
from samples.synth.model import ModelError, TlgEvent, TlgField, TlgProvider


def tlg_tag_bytes(tag: int) -> list[int]:
    """Encode a 28-bit tag as TraceLoggingProvider.h does (7 bits per byte, high bits first, 0x80 = more)."""
    if tag & ~0x0FFFFFFF:
        raise ModelError(f"tag {tag:#x} exceeds 28 bits")
    if tag & 0x0FE00000 == tag:
        return [(tag >> 21) & 0x7F]
    if tag & 0x0FFFC000 == tag:
        return [0x80 | ((tag >> 21) & 0x7F), (tag >> 14) & 0x7F]
    return [0x80 | ((tag >> 21) & 0x7F), 0x80 | ((tag >> 14) & 0x7F), 0x80 | ((tag >> 7) & 0x7F), tag & 0x7F]


def tlg_provider_blob(p: TlgProvider) -> bytes:
    name = p.name.encode() + b"\0"
    traits = b""
    if p.group:
        traits = (3 + 16).to_bytes(2, "little") + bytes([TLG_OPTION_GROUP]) + guid_bytes(p.group)
    remaining = 2 + len(name) + len(traits)
    return bytes([TLG_BLOB_PROVIDER3]) + guid_bytes(p.guid) + remaining.to_bytes(2, "little") + name + traits


def tlg_field_bytes(f: TlgField) -> bytes:
    out = bytearray(f.name.encode() + b"\0")
    if f.out_type or f.tags:
        out.append(f.in_type | TLG_CHAIN)
        out.append(f.out_type | (TLG_CHAIN if f.tags else 0))
        if f.tags:
            out.extend(tlg_tag_bytes(f.tags))
    else:
        out.append(f.in_type)
    if f.in_type & (TLG_CCOUNT | TLG_VCOUNT) == TLG_CCOUNT:
        if f.count is None:
            raise ModelError(f"fixed-count field {f.name} needs a count")
        out.extend(f.count.to_bytes(2, "little"))
    return bytes(out)


def tlg_event_rest(e: TlgEvent) -> bytes:
    """Bytes after RemainingSize: tags, name, fields."""
    rest = bytearray(tlg_tag_bytes(e.tags))
    rest.extend(e.name.encode() + b"\0")
    for f in e.fields:
        rest.extend(tlg_field_bytes(f))
    return bytes(rest)

