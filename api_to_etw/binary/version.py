"""The FileVersion of a PE image, from the VS_FIXEDFILEINFO of its RT_VERSION resource.

A corpus store orders the builds of one binary by this version, so it is read the way Windows reads
it: resource directory (type 16, first name, first language) -> IMAGE_RESOURCE_DATA_ENTRY ->
VS_VERSIONINFO -> VS_FIXEDFILEINFO (signature 0xFEEF04BD). Every read goes through the image's RVA
reads and is bounded, so a hostile resource section yields "no version", never an exception or a loop.
"""

from __future__ import annotations

import struct
from typing import Optional, Protocol

from .resources import resource_directory

RT_VERSION = 16
VS_FFI_SIGNATURE = 0xFEEF04BD
#: Entries read per resource directory level (real images have a handful).
MAX_ENTRIES = 256
#: Bytes of a VS_VERSIONINFO block read at most (the fixed info sits in its first ~100 bytes).
MAX_VERSIONINFO = 4096


class RvaReader(Protocol):
    """What the parser needs of an image: its file bytes (for the headers) and reads by RVA."""

    data: bytes

    def read(self, rva: int, size: int) -> bytes: ...


def _entries(image: RvaReader, base: int, offset: int) -> list[tuple[int, int]]:
    """(Name/Id, OffsetToData) of one IMAGE_RESOURCE_DIRECTORY, named entries first as stored."""
    head = image.read(base + offset, 16)
    if len(head) < 16:
        return []
    named, ids = struct.unpack_from("<HH", head, 12)
    count = min(named + ids, MAX_ENTRIES)
    raw = image.read(base + offset + 16, 8 * count)
    return [struct.unpack_from("<II", raw, 8 * i) for i in range(len(raw) // 8)]


def _first_leaf(image: RvaReader, base: int, offset: int, depth: int) -> Optional[int]:
    """Offset of the first data entry under a directory, descending at most ``depth`` levels."""
    for _ in range(depth):
        entries = _entries(image, base, offset)
        if not entries:
            return None
        target = entries[0][1]
        if not target & 0x80000000:
            return target
        offset = target & 0x7FFFFFFF
    return None


def version_block(image: RvaReader) -> Optional[bytes]:
    """The bytes of the first RT_VERSION resource (bounded), or None."""
    where = resource_directory(image.data)
    if where is None:
        return None
    base = where[0]
    for name, target in _entries(image, base, 0):
        if name == RT_VERSION and target & 0x80000000:
            leaf = _first_leaf(image, base, target & 0x7FFFFFFF, 2)
            if leaf is None:
                return None
            entry = image.read(base + leaf, 16)
            if len(entry) < 16:
                return None
            data_rva, size = struct.unpack_from("<II", entry, 0)
            return image.read(data_rva, min(size, MAX_VERSIONINFO))
    return None


def parse_fixed_version(block: bytes) -> Optional[str]:
    """``a.b.c.d`` from the VS_FIXEDFILEINFO of a VS_VERSIONINFO block, or None when it has none."""
    key = "VS_VERSION_INFO".encode("utf-16-le") + b"\0\0"
    if len(block) < 6 + len(key) or block[6:6 + len(key)] != key:
        return None
    (value_length,) = struct.unpack_from("<H", block, 2)
    start = (6 + len(key) + 3) & ~3
    if value_length < 52 or start + 52 > len(block):
        return None
    signature, _struc, ms, ls = struct.unpack_from("<IIII", block, start)
    if signature != VS_FFI_SIGNATURE:
        return None
    return f"{ms >> 16}.{ms & 0xFFFF}.{ls >> 16}.{ls & 0xFFFF}"


def file_version(image: RvaReader) -> Optional[str]:
    """The image's FileVersion (``10.0.19041.1``), or None without a well-formed version resource."""
    block = version_block(image)
    return parse_fixed_version(block) if block else None


def version_key(text: Optional[str]) -> tuple[int, ...]:
    """A FileVersion as a sortable tuple (``10.0.9`` before ``10.0.10``); unparsable parts sort as 0."""
    if not text:
        return ()
    return tuple(int(part) if part.isdigit() else 0 for part in text.split("."))
