"""Every input file is opened here: regular files only, and never more bytes than a stated limit.

A FIFO blocks a reader forever, ``/dev/zero`` never ends, a directory is not data: all are refused
before a byte is read. The check is made on the opened descriptor (``fstat``), so a path swapped
between a check and the open cannot slip through, and the open itself never blocks (``O_NONBLOCK``,
cleared once the file is known to be regular). Sizes are checked against a per-kind limit before
reading, and a file that grows while it is read is cut off at the limit, not read to the end.

Limits (bytes) can be changed per kind with ``API_TO_ETW_MAX_<KIND>_BYTES`` (``API_TO_ETW_MAX_FACTS_BYTES``,
``API_TO_ETW_MAX_MANIFEST_BYTES``, ...); see the README's "Errors and limits".
"""

from __future__ import annotations

import mmap
import os
import stat
from collections.abc import Mapping
from typing import BinaryIO, Optional, Union

from .errors import ApiToEtwError, CorruptFileError, InputNotFoundError, UsageError

MIB = 1 << 20
GIB = 1 << 30

#: Default size limit per kind of input. Binaries and PDBs are the largest real inputs (ntoskrnl's PDB
#: is ~40 MB, the largest public PDBs a few hundred MB); facts of a whole kernel are tens of MB.
LIMITS: Mapping[str, int] = {
    "binary": 2 * GIB,
    "pdb": 4 * GIB,
    "facts": 1 * GIB,
    "manifest": 256 * MIB,
    "table": 1 * GIB,
    "names": 64 * MIB,
}

_KINDS_OF_FILE = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def env_name(kind: str) -> str:
    return f"API_TO_ETW_MAX_{kind.upper()}_BYTES"


def input_limit(kind: str, environ: Optional[Mapping[str, str]] = None) -> int:
    """The size limit for ``kind``: ``API_TO_ETW_MAX_<KIND>_BYTES`` when set, else :data:`LIMITS`."""
    name = env_name(kind)
    text = (os.environ if environ is None else environ).get(name, "").strip()
    if not text:
        return LIMITS[kind]
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"{name}={text!r}: a limit is a positive number of bytes")
    return int(text)


def describe_mode(mode: int) -> Optional[str]:
    """What a non-regular file is ("a FIFO (named pipe)"), or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, what in _KINDS_OF_FILE:
        if test(mode):
            return what
    return "not a regular file"


def _what_is(path: str) -> Optional[str]:
    try:
        return describe_mode(os.stat(path).st_mode)
    except OSError:
        return None


def open_regular(path: str, *, kind: str = "binary", max_size: Optional[int] = None,
                 error: type[ApiToEtwError] = CorruptFileError) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file no larger than the limit.

    ``max_size`` overrides the limit of ``kind``. Missing or non-regular files raise
    :class:`InputNotFoundError` (exit 3); a file over the limit raises ``error`` (exit 6 by default),
    naming the environment variable that raises the limit; undecodable text raises ``error`` too.
    """
    limit = input_limit(kind) if max_size is None else max_size
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise InputNotFoundError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputNotFoundError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        what = _what_is(path)  # a socket cannot even be opened (ENXIO): say what it is
        if what is not None:
            raise InputNotFoundError(f"{path}: is {what}, not a regular file; inputs must be regular files") from None
        raise InputNotFoundError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        what = describe_mode(info.st_mode)
        if what is not None:
            raise InputNotFoundError(f"{path}: is {what}, not a regular file; inputs must be regular files")
        if info.st_size > limit:
            hint = f" (set {env_name(kind)} to raise it)" if max_size is None else ""
            raise error(f"{path}: {info.st_size} bytes, over the {limit}-byte limit for a {kind} file{hint}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def map_snapshot(handle: BinaryIO, path: str, *, error: type[ApiToEtwError] = CorruptFileError) -> Union[mmap.mmap, bytes]:
    """The opened regular file's bytes, mapped read-only, as they were when it was opened.

    A mapping of the file itself faults with SIGBUS (the process dies, "Bus error", exit 135) when another
    process truncates the file while it is read. So where the system has anonymous memory files (Linux's
    ``memfd_create``) the file is first copied into one by the kernel (``sendfile``: no pass of this process
    over the bytes) and that copy is mapped: nobody else can shrink it, and pages still load only as they are
    read. Elsewhere, or if the copy cannot be made, the file itself is mapped. A file that shrinks during the
    copy is ``error``; one that grows is taken at the size it had when opened.
    """
    fd = handle.fileno()
    size = os.fstat(fd).st_size
    if not size:
        return b""
    memfd_create = getattr(os, "memfd_create", None)
    copy = -1
    if memfd_create is not None:
        try:
            copy = memfd_create("api-to-etw-input", getattr(os, "MFD_CLOEXEC", 0))
        except OSError:
            copy = -1
    try:
        if copy >= 0:
            try:
                done = 0
                while done < size:
                    sent = os.sendfile(copy, fd, done, size - done)
                    if not sent:
                        raise error(f"{path}: shrank from {size} to {done} bytes while being read")
                    done += sent
                return mmap.mmap(copy, size, access=mmap.ACCESS_READ)
            except OSError:
                pass  # no room for the copy, or a file system sendfile cannot read: map the file itself
        return mmap.mmap(fd, size, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise InputNotFoundError(f"{path}: cannot map ({exc.strerror})") from None
    finally:
        if copy >= 0:
            os.close(copy)


def read_regular(path: str, *, kind: str = "binary", max_size: Optional[int] = None,
                 error: type[ApiToEtwError] = CorruptFileError) -> bytes:
    """The whole content of a regular file, at most the limit (a file growing past it is refused too)."""
    limit = input_limit(kind) if max_size is None else max_size
    with open_regular(path, kind=kind, max_size=max_size, error=error) as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise InputNotFoundError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise error(f"{path}: grew past the {limit}-byte limit for a {kind} file while being read")
    return data


def read_text_regular(path: str, *, kind: str, encoding: str = "utf-8",
                      error: type[ApiToEtwError] = CorruptFileError) -> str:
    """A regular text file decoded strictly; undecodable bytes are a one-line error with the line number."""
    data = read_regular(path, kind=kind, error=error)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        label = "UTF-8" if encoding.lower().startswith("utf-8") else encoding
        raise error(f"{path}:{line}: not {label} text") from None
