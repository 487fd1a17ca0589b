"""Compressed symbol files (``NAME.pd_``): a CAB (MSZIP or stored) or a ZIP, expanded under a byte cap."""

from __future__ import annotations

import os
import zipfile
import zlib
from typing import BinaryIO

from ...errors import CorruptFileError
from ...inputs import open_regular
from ..cab import extract_cab, is_cabinet
from .limits import CHUNK


def expand_compressed(source: str, out: BinaryIO, name: str, max_bytes: int) -> int:
    """Decompress a symbol-server ``NAME.xx_`` file (CAB with MSZIP/none, or ZIP) into ``out``."""
    label = os.path.basename(source)
    with open_regular(source, kind="compressed symbol", max_size=max_bytes) as handle:
        head = handle.read(4)
        if is_cabinet(head):
            handle.seek(0)
            return extract_cab(handle.read(max_bytes + 1), out, name=name, max_bytes=max_bytes, label=label)
        if head == b"PK\x03\x04":
            handle.seek(0)
            return _expand_zip(handle, out, name, max_bytes, label)
    raise CorruptFileError(f"{label}: compressed symbol file is neither a CAB nor a ZIP archive")


def _expand_zip(source: BinaryIO, out: BinaryIO, name: str, max_bytes: int, label: str) -> int:
    try:
        with zipfile.ZipFile(source) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            chosen = [m for m in members if m.filename.replace("\\", "/").split("/")[-1].lower() == name.lower()]
            if not chosen and len(members) == 1:
                chosen = members
            if not chosen:
                raise CorruptFileError(f"{label}: ZIP archive does not hold {name}")
            member = chosen[0]
            if member.file_size > max_bytes:
                raise CorruptFileError(f"{label}: {member.file_size} bytes, over the {max_bytes}-byte limit")
            done = 0
            with archive.open(member) as stream:
                while True:
                    chunk = stream.read(CHUNK)
                    if not chunk:
                        break
                    done += len(chunk)
                    if done > max_bytes:
                        raise CorruptFileError(f"{label}: expands past the {max_bytes}-byte limit")
                    out.write(chunk)
            return done
    except CorruptFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, OSError) as exc:
        raise CorruptFileError(f"{label}: corrupt ZIP archive ({type(exc).__name__}: {exc})") from None

