"""What a file is before anything analyses it: a PE or not (by content), and the fields that index it.

A corpus scan walks folders of mixed files and records binaries that fail analysis, so it needs the
machine, TimeDateStamp and SizeOfImage straight from the headers, bounded, without pefile and without
the x64-only checks of ``binary.pe``.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Optional

#: IMAGE_FILE_MACHINE_* values, by their documented names without the prefix.
MACHINES = {0x8664: "AMD64", 0x14C: "I386", 0xAA64: "ARM64", 0x1C4: "ARMNT", 0xA641: "ARM64EC", 0x200: "IA64"}
#: Bytes read to recognise a PE (DOS header + e_lfanew + PE signature and file header fit in 4 KiB).
HEAD_BYTES = 4096


@dataclass(frozen=True)
class PeHeader:
    machine: str
    time_date_stamp: int
    size_of_image: Optional[int]


def pe_header(data: bytes) -> Optional[PeHeader]:
    """The identifying header fields of a PE image in ``data`` (its first bytes suffice), or None."""
    if len(data) < 0x40 or data[:2] != b"MZ":
        return None
    (e_lfanew,) = struct.unpack_from("<I", data, 0x3C)
    if e_lfanew > len(data) - 24 or data[e_lfanew:e_lfanew + 4] != b"PE\0\0":
        return None
    machine, _sections, stamp = struct.unpack_from("<HHI", data, e_lfanew + 4)
    size: Optional[int] = None
    optional = e_lfanew + 24
    if optional + 60 <= len(data):
        (size,) = struct.unpack_from("<I", data, optional + 56)  # SizeOfImage: same offset in PE32 and PE32+
    return PeHeader(MACHINES.get(machine, f"0x{machine:04x}"), stamp, size)


def is_pe_file(path: str) -> bool:
    """True when the file starts like a PE image (MZ header pointing at a PE signature)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError:
        return False
    if pe_header(head) is not None:
        return True
    if len(head) >= 0x40 and head[:2] == b"MZ":  # e_lfanew past the first 4 KiB: read the signature there
        (e_lfanew,) = struct.unpack_from("<I", head, 0x3C)
        try:
            with open(path, "rb") as handle:
                handle.seek(e_lfanew)
                return handle.read(4) == b"PE\0\0"
        except OSError:
            return False
    return False


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
