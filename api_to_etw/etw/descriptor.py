"""EVENT_DESCRIPTOR and GUID layouts.

``typedef struct _EVENT_DESCRIPTOR { USHORT Id; UCHAR Version; UCHAR Channel; UCHAR Level;
UCHAR Opcode; USHORT Task; ULONGLONG Keyword; }`` — 16 bytes, no padding.
"""

from __future__ import annotations

import struct
import uuid
from typing import Optional

from ..fieldclass import Frozen, set_field

DESCRIPTOR_SIZE = 16


class EventDescriptor(Frozen):
    id: Optional[int]
    version: Optional[int]
    channel: Optional[int]
    level: Optional[int]
    opcode: Optional[int]
    task: Optional[int]
    keyword: Optional[int]
    _fields = ("id", "version", "channel", "level", "opcode", "task", "keyword")

    def __init__(self, id: Optional[int], version: Optional[int], channel: Optional[int], level: Optional[int],
                 opcode: Optional[int], task: Optional[int], keyword: Optional[int]) -> None:
        set_field(self, "__dict__", {"id": id, "version": version, "channel": channel, "level": level,
                                     "opcode": opcode, "task": task, "keyword": keyword})

    @classmethod
    def from_bytes(cls, raw: bytes) -> EventDescriptor:
        if len(raw) < DESCRIPTOR_SIZE:
            raise ValueError("EVENT_DESCRIPTOR needs 16 bytes")
        return cls(*struct.unpack_from("<HBBBBHQ", raw, 0))

    @classmethod
    def from_partial(cls, content: tuple[Optional[int], ...]) -> EventDescriptor:
        """Fields from bytes some of which are unknown (a descriptor built on the stack)."""

        def field(offset: int, size: int) -> Optional[int]:
            known = [b for b in content[offset : offset + size] if b is not None]
            if len(known) < size:  # short, or a byte not known
                return None
            return int.from_bytes(bytes(known), "little")

        return cls(field(0, 2), field(2, 1), field(3, 1), field(4, 1), field(5, 1), field(6, 2), field(8, 8))

    @property
    def complete(self) -> bool:
        return None not in (self.id, self.version, self.channel, self.level, self.opcode, self.task, self.keyword)


def format_guid(raw: bytes) -> str:
    """A GUID as the published output writes it: lower case, no braces."""
    return str(uuid.UUID(bytes_le=bytes(raw[:16])))
