"""Path safety for stores and caches: every path read or written stays below its root.

Paths are checked with ``realpath``; cache directories are created one component at a time, refusing
symlinks; downloads go to a temporary file in the destination folder, and failed ones leave no empty
folders behind.
"""

from __future__ import annotations

import os
from typing import BinaryIO, Optional

from ...tempfiles import create_temporary


def within(root: str, path: str) -> bool:
    """True if ``path`` (symlinks resolved) is ``root`` or lies below it."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


class UnsafePath(Exception):
    pass


def store_parts(root: str, name: str, key: str) -> list[list[str]]:
    """The folder components for NAME/KEY in a store (two-tier first when ``index2.txt`` is present)."""
    single = [name, key]
    if os.path.isfile(os.path.join(root, "index2.txt")):
        return [[name[:2], name, key], single]
    return [single]


def make_dirs(root: str, parts: list[str]) -> str:
    """Create ``root/parts...`` one component at a time, refusing symlinks and anything leaving ``root``."""
    os.makedirs(root, exist_ok=True)
    current = root
    for part in parts:
        current = os.path.join(current, part)
        if os.path.islink(current):
            raise UnsafePath(f"{current} is a symbolic link")
        if not os.path.exists(current):
            os.mkdir(current)
        elif not os.path.isdir(current):
            raise UnsafePath(f"{current} is not a folder")
    if not within(root, current):
        raise UnsafePath(f"{current} is outside {root}")
    return current


def prune_empty(root: str, folder: str) -> None:
    """Remove empty folders from ``folder`` up to (not including) ``root``: failed downloads leave no litter."""
    real_root = os.path.realpath(root)
    current = folder
    while within(root, current) and os.path.realpath(current) != real_root:
        try:
            os.rmdir(current)
        except OSError:
            return
        current = os.path.dirname(current)


def remove_quietly(path: Optional[str]) -> None:
    if path:
        try:
            os.remove(path)
        except OSError:
            pass


def temp_in(folder: str, suffix: str = ".part") -> tuple[BinaryIO, str]:
    """A new temporary file in ``folder`` for a download or copy, readable by its owner only."""
    fd, path = create_temporary(folder, suffix, 0o600)
    return os.fdopen(fd, "wb"), path

