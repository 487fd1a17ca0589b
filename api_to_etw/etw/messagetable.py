"""Decode RT_MESSAGETABLE resources: the display strings a manifest's message ids point at.

Layout (winnt.h MESSAGE_RESOURCE_DATA): UINT32 block count, then blocks of (UINT32 LowId, UINT32 HighId,
UINT32 OffsetToEntries from the resource start); each block's entries, one per id from LowId to HighId,
are MESSAGE_RESOURCE_ENTRY: UINT16 Length (counts the 4-byte head), UINT16 Flags (1: UTF-16, 0: ANSI in
the resource's code page), then the text, NUL padded. mc.exe ends each message with CR LF, which is
dropped here. Bounded like the WEVT decoder: lying counts and lengths become warnings, never reads
past the resource or unbounded loops.
"""

from __future__ import annotations

import codecs
import struct
from dataclasses import dataclass, field

MESSAGE_UNICODE = 0x0001
#: Most ids one block may span before it is believed to be corrupt.
MAX_BLOCK_IDS = 0x10000


@dataclass
class MessageTable:
    messages: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _ansi_codec(codepage: int) -> str:
    return f"cp{codepage}" if codepage and codepage not in (0, 1200, 65001) else ("utf-8" if codepage == 65001 else "cp1252")


def _known_codec(codepage: int, warnings: list[str]) -> str:
    """The codec of the resource's code page, asked for by the first ANSI entry; one Python does not know
    (the field is the file's word, any 32-bit value) is a warning and cp1252, so ANSI entries still decode."""
    codec = _ansi_codec(codepage)
    try:
        codecs.lookup(codec)
    except LookupError:
        warnings.append(f"message table: code page {codepage} is unknown; ANSI entries read as cp1252")
        return "cp1252"
    return codec


def decode_messagetable(data: bytes, codepage: int = 0) -> MessageTable:
    """Message id -> text of one language's table; ANSI entries are decoded with ``codepage``."""
    table = MessageTable()
    if len(data) < 4:
        table.warnings.append("message table shorter than its header")
        return table
    (blocks,) = struct.unpack_from("<I", data, 0)
    room = (len(data) - 4) // 12
    if blocks > room:
        table.warnings.append(f"message table: {blocks} blocks announced, room for {room}")
        blocks = room
    codec = ""
    for b in range(blocks):
        low, high, offset = struct.unpack_from("<III", data, 4 + 12 * b)
        if high < low or high - low >= MAX_BLOCK_IDS:
            table.warnings.append(f"message block {b}: id range {low:#x}..{high:#x} is impossible; skipped")
            continue
        at = offset
        for message_id in range(low, high + 1):
            if at + 4 > len(data):
                table.warnings.append(f"message {message_id:#x}: entry at {at:#x} runs past the table; block cut")
                break
            length, flags = struct.unpack_from("<HH", data, at)
            if length < 4 or at + length > len(data):
                table.warnings.append(f"message {message_id:#x}: entry length {length} at {at:#x} is impossible; "
                                      "block cut")
                break
            raw = data[at + 4 : at + length]
            if flags & MESSAGE_UNICODE:
                raw = raw[: len(raw) - len(raw) % 2]
                text = raw.decode("utf-16-le", "replace")
            else:
                codec = codec or _known_codec(codepage, table.warnings)
                text = raw.decode(codec, "replace")
            text = text.split("\0", 1)[0]
            if text.endswith("\r\n"):
                text = text[:-2]
            table.messages.setdefault(message_id, text)
            at += length
    return table


__all__ = ["MessageTable", "decode_messagetable"]
