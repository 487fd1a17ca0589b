"""Temporary files in the folder of the file they become: created here or not at all.

An output table and a symbol store's download are both written to a temporary file beside their final name
and renamed onto it, so a reader never sees half a file. Both make that file the same way, here: a random
name, created exclusively and never through a symbolic link. This does what ``tempfile.mkstemp`` does
without importing tempfile (``random`` and ``shutil`` behind it: about 3.5 ms, a fortieth of a small
binary's whole run).
"""

from __future__ import annotations

import os

#: How a temporary file is opened: created here or not at all, never through a symbolic link.
_CREATE_NEW = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
               | getattr(os, "O_NOINHERIT", 0) | getattr(os, "O_CLOEXEC", 0))
#: Names tried before giving up (each one 64 random bits: a clash means something else is at work).
_ATTEMPTS = 100


def create_temporary(folder: str, suffix: str, mode: int) -> tuple[int, str]:
    """A new file of a random name in ``folder`` opened for writing: (descriptor, path). ``mode`` is the
    permissions asked for, less the umask (0o666: those of any new file; 0o600: mkstemp's, owner only)."""
    for _attempt in range(_ATTEMPTS):
        path = os.path.join(folder, f".api-to-etw-{os.urandom(8).hex()}{suffix}")
        try:
            return os.open(path, _CREATE_NEW, mode), path
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: no free temporary file name")
