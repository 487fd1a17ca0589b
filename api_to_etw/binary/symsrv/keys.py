"""Names and index keys: what a store path is built from, and the checks that keep untrusted names harmless.

Names come from untrusted binaries. They must be plain file names (no separators, ``..``, drive
letters, control characters or device names, at most 200 characters); keys are formatted from
integers: the GUID as 32 upper-case hex digits plus the age in hex for a PDB, and TimeDateStamp as 8
hex digits plus SizeOfImage in hex (``%08X%x``) for a binary. Because local file systems are
case-sensitive, the lower-case-age PDB key (symsrv's form) and the all-upper-case binary key are
tried too when they differ.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Optional

from ...errors import UsageError
from ..pe import CodeViewInfo

_NAME = re.compile(r"^[A-Za-z0-9_+\-][A-Za-z0-9_.+\-]{0,199}$")
_DEVICE_NAMES = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}
_SAFE_PDB_NAME = re.compile(r"^[A-Za-z0-9_.+\-]{1,200}$")


def safe_pdb_name(codeview: Optional[CodeViewInfo]) -> Optional[str]:
    """The PDB file name from the CodeView record, reduced to a bare, harmless file name (or None).

    The record is attacker-controlled: it may hold directories, ``..``, drive letters or control
    characters. Only the last path component is kept, and only if it is a plain file name.
    """
    if codeview is None:
        return None
    name = re.split(r"[\\/]", codeview.pdb_name)[-1]
    if not _SAFE_PDB_NAME.match(name) or name in (".", "..") or ":" in name:
        return None
    return name


def safe_file_name(name: Optional[str]) -> Optional[str]:
    """``name`` if it is a harmless bare file name to use as a store/cache path component, else None."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        return None
    if name.split(".")[0].upper() in _DEVICE_NAMES:
        return None
    return name


def compressed_name(name: str) -> str:
    """The symsrv compressed form: the last character replaced by ``_`` (``k.pdb`` -> ``k.pd_``)."""
    return name[:-1] + "_"


def pdb_key(guid: uuid.UUID, age: int) -> str:
    """``GUID`` (32 upper-case hex digits) + age in hex, built from the parsed values (like CodeViewInfo.signature)."""
    if not isinstance(guid, uuid.UUID) or not isinstance(age, int) or not 0 <= age <= 0xFFFFFFFF:
        raise ValueError("bad GUID/age")
    return guid.hex.upper() + format(age, "X")


def pdb_keys(codeview: CodeViewInfo) -> list[str]:
    """The PDB keys to try: upper-case age first, then symsrv's lower-case age (differs only for ages >= 10)."""
    key = pdb_key(codeview.guid, codeview.age)
    lower_age = codeview.guid.hex.upper() + format(codeview.age, "x")
    return _unique([key, lower_age])


def binary_key(timestamp: int, size_of_image: int) -> str:
    """The binary index: TimeDateStamp as 8 hex digits, then SizeOfImage in hex without padding (``%08X%x``)."""
    for value, what in ((timestamp, "timestamp"), (size_of_image, "SizeOfImage")):
        if not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"bad {what}")
    return f"{timestamp:08X}{size_of_image:x}"


def binary_keys(timestamp: int, size_of_image: int) -> list[str]:
    key = binary_key(timestamp, size_of_image)
    return _unique([key, key.upper()])


def parse_hex(text: str, what: str) -> int:
    """A 32-bit value given in hex on the command line (``0x`` prefix optional)."""
    cleaned = text.strip().lower()
    cleaned = cleaned[2:] if cleaned.startswith("0x") else cleaned
    if not re.fullmatch(r"[0-9a-f]{1,8}", cleaned):
        raise UsageError(f"{what} must be a 32-bit hexadecimal number, not {text!r}")
    return int(cleaned, 16)


def _unique(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def display_url(url: str) -> str:
    """A URL without any user:password part, for messages."""
    import urllib.parse  # here: an analysis with no symbol server shows no URL

    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<bad URL>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, ""))


def printable(text: str, limit: int = 80) -> str:
    """Untrusted text made printable and short for a one-line message."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."

