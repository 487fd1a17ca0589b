"""The PE resource tree (type / name / language -> data), read through an image's RVA reads.

The resource directory (data directory 2) is a three-level tree of IMAGE_RESOURCE_DIRECTORY tables
(16-byte head, then 8-byte entries: a name word whose high bit marks a string offset, and an offset
word whose high bit marks a subdirectory; both offsets from the directory start) ending in
IMAGE_RESOURCE_DATA_ENTRY records (data RVA, size, code page). Everything here reads through
``Memory.read(rva, size)``, so the same walk serves a PEImage and an engine's facts. Hostile trees are
bounded: depth 3, entry counts capped by the directory's size, each table visited once (loops), every
offset checked against the directory; what is wrong becomes a warning and the rest is kept.
"""

from __future__ import annotations

import struct
from typing import Optional, Union

from ..model import Memory, ResourceEntry

RT_MESSAGETABLE = 11
WEVT_TEMPLATE = "WEVT_TEMPLATE"
IMAGE_DIRECTORY_ENTRY_RESOURCE = 2
#: Most leaves kept from one tree (a real binary has hundreds at most).
MAX_LEAVES = 100_000
_DEPTH = 3


class ResourceTree:
    """The resources of an image and what was wrong with its directory. (A plain class: never compared, it
    needs none of a dataclass's generated methods, compiled at import.)"""

    __slots__ = ("entries", "warnings")

    def __init__(self) -> None:
        self.entries: list[ResourceEntry] = []
        self.warnings: list[str] = []

    def of_type(self, kind: Union[int, str]) -> list[ResourceEntry]:
        return [e for e in self.entries if e.type == kind]


def resource_directory(headers: bytes) -> Optional[tuple[int, int]]:
    """(RVA, size) of the resource directory from the file's headers (PE32 or PE32+), or None."""
    if len(headers) < 0x40 or headers[:2] != b"MZ":
        return None
    (e_lfanew,) = struct.unpack_from("<I", headers, 0x3C)
    optional = e_lfanew + 24
    if optional + 2 > len(headers) or headers[e_lfanew : e_lfanew + 4] != b"PE\0\0":
        return None
    (magic,) = struct.unpack_from("<H", headers, optional)
    base = optional + (112 if magic == 0x20B else 96)
    count_at = base - 4
    if base + 8 * (IMAGE_DIRECTORY_ENTRY_RESOURCE + 1) > len(headers):
        return None
    (count,) = struct.unpack_from("<I", headers, count_at)
    if count <= IMAGE_DIRECTORY_ENTRY_RESOURCE:
        return None
    rva, size = struct.unpack_from("<II", headers, base + 8 * IMAGE_DIRECTORY_ENTRY_RESOURCE)
    return (rva, size) if rva and size else None


def walk_resources(memory: Memory, rva: int, size: int) -> ResourceTree:
    """Every leaf of the resource tree at ``rva`` (``size`` bytes), with warnings for what is wrong."""
    tree = ResourceTree()
    data = memory.read(rva, size)
    if len(data) < size:
        tree.warnings.append(f"resource directory at RVA {rva:#x}: {size} bytes declared, {len(data)} mapped")
    seen: set[int] = set()

    def label(word: int) -> Union[int, str]:
        if not word & 0x80000000:
            return word & 0xFFFF
        at = word & 0x7FFFFFFF
        if at + 2 > len(data):
            tree.warnings.append(f"resource name at offset {at:#x} is outside the directory")
            return f"#{at:x}"
        (length,) = struct.unpack_from("<H", data, at)
        raw = data[at + 2 : at + 2 + 2 * length]
        if len(raw) < 2 * length:
            tree.warnings.append(f"resource name at offset {at:#x} is cut by the directory's end")
        return raw[: len(raw) - len(raw) % 2].decode("utf-16-le", "replace")

    def table(offset: int, depth: int, path: tuple[Union[int, str], ...]) -> None:
        if offset in seen:
            tree.warnings.append(f"resource directory table at offset {offset:#x} is reached twice (loop); skipped")
            return
        seen.add(offset)
        if offset + 16 > len(data):
            tree.warnings.append(f"resource directory table at offset {offset:#x} is outside the directory")
            return
        named, ids = struct.unpack_from("<HH", data, offset + 12)
        count = named + ids
        room = (len(data) - offset - 16) // 8
        if count > room:
            tree.warnings.append(f"resource table at offset {offset:#x}: {count} entries announced, room for {room}")
            count = room
        for i in range(count):
            name_word, target = struct.unpack_from("<II", data, offset + 16 + 8 * i)
            key = path + (label(name_word),)
            if target & 0x80000000:
                if depth + 1 >= _DEPTH:
                    tree.warnings.append(f"resource tree deeper than {_DEPTH} levels at {key!r}; skipped")
                    continue
                table(target & 0x7FFFFFFF, depth + 1, key)
            elif depth != _DEPTH - 1:
                tree.warnings.append(f"resource data entry at level {depth + 1} ({key!r}); skipped")
            elif target + 16 > len(data):
                tree.warnings.append(f"resource data entry at offset {target:#x} is outside the directory")
            elif len(tree.entries) >= MAX_LEAVES:
                tree.warnings.append(f"more than {MAX_LEAVES} resources; the rest skipped")
                return
            else:
                data_rva, data_size, codepage = struct.unpack_from("<III", data, target)
                tree.entries.append(ResourceEntry(key[0], key[1], int(key[2]) if isinstance(key[2], int) else 0,
                                                  data_rva, data_size, codepage))

    table(0, 0, ())
    return tree


def image_resources(image: Memory, headers: bytes) -> ResourceTree:
    """The resource tree of an image whose file starts with ``headers``."""
    where = resource_directory(headers)
    if where is None:
        return ResourceTree()
    return walk_resources(image, *where)


class MappedFile(Memory):
    """Any PE file mapped by RVA with pefile: for resource-only DLLs and images of other machines,
    which PEImage (x64 code images only) refuses but whose manifest is still readable."""

    def __init__(self, data: bytes) -> None:
        import pefile

        self._pe = pefile.PE(data=data, fast_load=True)
        self.image_base = self._pe.OPTIONAL_HEADER.ImageBase

    def read(self, rva: int, size: int) -> bytes:
        try:
            return bytes(self._pe.get_data(rva, size))
        except Exception:  # pefile raises PEFormatError for RVAs outside every section
            return b""

    def is_writable(self, rva: int) -> bool:
        return False


__all__ = ["RT_MESSAGETABLE", "WEVT_TEMPLATE", "MappedFile", "ResourceTree", "image_resources", "resource_directory",
           "walk_resources"]
