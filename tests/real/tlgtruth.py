"""TraceLogging truth for real binaries, derived without the decoder: a brute-force scan of the file's bytes.

Provider blobs are byte runs ``04 GUID size name\\0 traits`` whose traits add up to the size and are
followed by another blob type byte; event blobs are ``03|06, channel 11, level 0-5, opcode, keyword, size,
tags, name\\0`` whose size ends on a blob type byte. This reads the whole file (never the ETW0 header, the
section table or anything the analyzer uses), so it is a check of the decoder, not a copy of it.
"""

from __future__ import annotations

import re
import struct
import uuid
from pathlib import Path

_PROVIDER = re.compile(rb"\x04(.{16})(..)([\x20-\x7e]{2,200})\x00", re.S)
_EVENT = re.compile(rb"[\x03\x06]\x0b([\x00-\x05])(.)(.{8})(..)", re.S)
_BLOB_TYPES = bytes(range(7))


def providers(data: bytes) -> set[tuple[str, str]]:
    """(guid, name) of every provider blob in ``data``."""
    found = set()
    for m in _PROVIDER.finditer(data):
        size = struct.unpack("<H", m.group(2))[0]
        end = m.start(2) + size
        if size < len(m.group(3)) + 3 or end >= len(data):
            continue
        pos = m.end()
        while pos + 2 <= end:
            trait = struct.unpack_from("<H", data, pos)[0]
            if trait < 3:
                break
            pos += trait
        if pos == end and data[end] in _BLOB_TYPES:
            found.add((str(uuid.UUID(bytes_le=m.group(1))), m.group(3).decode()))
    return found


def events(data: bytes) -> list[tuple[str, int, int]]:
    """(name, level, keyword) of every event blob in ``data``, one per blob."""
    found = []
    for m in _EVENT.finditer(data):
        size = struct.unpack("<H", m.group(4))[0]
        end = m.start(4) + size
        if not 4 <= size <= 0x4000 or end >= len(data) or data[end] not in _BLOB_TYPES:
            continue
        pos = m.end()
        while pos < len(data) and data[pos] & 0x80:
            pos += 1
        name = re.match(rb"([\x20-\x7e]{1,200})\x00", data[pos + 1 : pos + 203])
        if name:
            found.append((name.group(1).decode(), m.group(1)[0], struct.unpack("<Q", m.group(3))[0]))
    return found


def scan(path: Path) -> tuple[set[tuple[str, str]], list[tuple[str, int, int]]]:
    data = path.read_bytes()
    return providers(data), events(data)

