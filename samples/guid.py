"""GUIDs as the fixtures write them: the C initializer of a ``GUID`` and its 16 little-endian bytes."""

from __future__ import annotations

import uuid


def guid_initializer(text: str) -> str:
    """``{0x01234567, 0x89ab, 0xcdef, {0x01, ...}}`` for a GUID written ``01234567-89ab-cdef-0123-456789abcdef``."""
    g = uuid.UUID(text)
    data4 = ", ".join(f"0x{b:02x}" for b in g.bytes[8:])
    return f"{{0x{g.time_low:08x}, 0x{g.time_mid:04x}, 0x{g.time_hi_version:04x}, {{{data4}}}}}"


def guid_bytes(text: str) -> bytes:
    """The GUID as it lies in memory (Data1..Data3 little-endian, then Data4)."""
    return uuid.UUID(text).bytes_le
