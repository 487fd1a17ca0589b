"""Small parsing helpers shared by the XML, TSV and MOF readers: GUIDs, bounded integers, signatures."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Optional, TypeVar

from ...errors import CorruptMetadataError
from ...inputs import read_regular

VERSION_SUFFIX = re.compile(r"_V\d+$")
_INTEGER = re.compile(r"^(?:0[xX][0-9A-Fa-f]{1,16}|[0-9]{1,20})$")

T = TypeVar("T")


def normalize_guid(text: str) -> Optional[str]:
    """A GUID as the output writes it (lower case, no braces), or ``None`` if ``text`` is not a GUID."""
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    if len(text) != 36:
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None



def pick_version(versions: Mapping[int, T], version: Optional[int]) -> Optional[T]:
    """Exact version, else nearest lower, else nearest higher; ``None`` asks for the highest."""
    if not versions:
        return None
    if version is None:
        return versions[max(versions)]
    if version in versions:
        return versions[version]
    lower = [v for v in versions if v < version]
    return versions[max(lower)] if lower else versions[min(versions)]



def strip_win(name: str) -> str:
    return name[4:] if name.startswith("win:") else name



def parse_int(text: Optional[str], what: str, where: str, limit: int) -> int:
    """Decimal or 0x-hex integer in ``0..limit``, else a one-line CorruptMetadataError naming ``where``."""
    raw = (text or "").strip()
    if not _INTEGER.match(raw):
        raise CorruptMetadataError(f"{where}: {what} is not a number: {raw[:40]!r}")
    value = int(raw, 16) if raw[:2].lower() == "0x" else int(raw, 10)
    if not 0 <= value <= limit:
        raise CorruptMetadataError(f"{where}: {what} {value} is out of range (0..{limit:#x})")
    return value



def split_signature(text: str, where: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """``Name(Type Field, Type Field)`` -> (name, field names, field types)."""
    text = text.strip()
    if "(" not in text:
        if ")" in text:
            raise CorruptMetadataError(f"{where}: unbalanced parentheses in {text!r}")
        return text, (), ()
    name, _, rest = text.partition("(")
    if not rest.endswith(")"):
        raise CorruptMetadataError(f"{where}: unbalanced parentheses in event(fields) {text[:80]!r}")
    inner = rest[:-1].strip()
    if not inner:
        return name.strip(), (), ()
    names: list[str] = []
    types: list[str] = []
    for part in inner.split(","):
        type_name, _, field_name = part.strip().rpartition(" ")
        if not field_name:
            raise CorruptMetadataError(f"{where}: empty field in event(fields) of {name.strip()!r}")
        names.append(field_name)
        types.append(type_name.strip())
    return name.strip(), tuple(names), tuple(types)



def read_source(path: str) -> bytes:
    """A manifest or table file: a regular file within the manifest size limit."""
    return read_regular(path, kind="manifest", error=CorruptMetadataError)



def sniff_text(data: bytes) -> str:
    """Best-effort text for the DOCTYPE/ENTITY scan; never fails (expat does the strict decoding)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if data[:2] == b"<\x00":
        return data.decode("utf-16-le", errors="replace")
    if data[:2] == b"\x00<":
        return data.decode("utf-16-be", errors="replace")
    return data.decode("utf-8", errors="replace")
