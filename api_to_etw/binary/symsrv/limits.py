"""Bounds on every symbol-server transfer, in one place so the README and the options agree.

A hostile or broken server must not keep a lookup alive forever or fill the disk: each download has a
byte cap and an overall deadline, each lookup (every place on the symbol path, every retry) has its own
deadline, and single socket operations time out. ``API_TO_ETW_DOWNLOAD_DEADLINE`` and
``API_TO_ETW_LOOKUP_DEADLINE`` (seconds) override the defaults; ``--download-deadline`` and
``--lookup-deadline`` override those.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Callable, Optional

from ...errors import UsageError
from ...fieldclass import Frozen, set_field

#: Seconds a single connect or read may block.
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
#: Largest file downloaded or expanded (1 GiB; the largest public PDBs are a few hundred MB).
DEFAULT_MAX_BYTES = 1 << 30
#: Seconds one download may take from its request to its last byte, retries included.
DEFAULT_DOWNLOAD_DEADLINE = 600.0
#: Seconds one lookup (a PDB or a binary along the whole symbol path) may take.
DEFAULT_LOOKUP_DEADLINE = 1800.0
ENV_DOWNLOAD_DEADLINE = "API_TO_ETW_DOWNLOAD_DEADLINE"
ENV_LOOKUP_DEADLINE = "API_TO_ETW_LOOKUP_DEADLINE"
MAX_REDIRECTS = 5
#: First back-off delay in seconds; doubled per retry and capped by MAX_BACKOFF.
RETRY_BACKOFF = 0.5
MAX_BACKOFF = 8.0
CHUNK = 1 << 16
SMALL_FILE_LIMIT = 1 << 12  # file.ptr and index2.txt

ProgressCallback = Callable[[int, Optional[int]], None]


def deadline_seconds(cli_value: Optional[float], env_name: str, default: float,
                     environ: Optional[Mapping[str, str]] = None) -> float:
    """The deadline to use: the option when given, else the environment variable, else ``default``."""
    if cli_value is not None:
        value, where = cli_value, "option"
    else:
        text = (os.environ if environ is None else environ).get(env_name, "").strip()
        if not text:
            return default
        try:
            value, where = float(text), env_name
        except ValueError:
            raise UsageError(f"{env_name}={text!r} is not a number of seconds") from None
    if not value > 0 or value != value or value == float("inf"):
        raise UsageError(f"{where}: a deadline must be a positive number of seconds, not {value}")
    return float(value)


class TransferLimits(Frozen):
    """Every bound of one lookup: socket timeout, tries, bytes, and the two deadlines (seconds)."""

    timeout: float
    retries: int
    max_bytes: int
    download_deadline: float
    lookup_deadline: float
    _fields = ("timeout", "retries", "max_bytes", "download_deadline", "lookup_deadline")

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES,
                 max_bytes: int = DEFAULT_MAX_BYTES, download_deadline: float = DEFAULT_DOWNLOAD_DEADLINE,
                 lookup_deadline: float = DEFAULT_LOOKUP_DEADLINE) -> None:
        set_field(self, "__dict__", {"timeout": timeout, "retries": retries, "max_bytes": max_bytes,
                                     "download_deadline": download_deadline, "lookup_deadline": lookup_deadline})

    @classmethod
    def from_options(cls, download_deadline: Optional[float] = None, lookup_deadline: Optional[float] = None,
                     environ: Optional[Mapping[str, str]] = None, timeout: float = DEFAULT_TIMEOUT,
                     retries: int = DEFAULT_RETRIES, max_bytes: int = DEFAULT_MAX_BYTES) -> TransferLimits:
        """Deadlines from the options, else ``API_TO_ETW_*_DEADLINE``, else the defaults."""
        return cls(
            timeout=timeout,
            retries=retries,
            max_bytes=max_bytes,
            download_deadline=deadline_seconds(download_deadline, ENV_DOWNLOAD_DEADLINE, DEFAULT_DOWNLOAD_DEADLINE,
                                               environ),
            lookup_deadline=deadline_seconds(lookup_deadline, ENV_LOOKUP_DEADLINE, DEFAULT_LOOKUP_DEADLINE, environ),
        )


class Clock:
    """When a lookup must end; downloads inside it end at their own deadline or the lookup's, whichever is first."""

    def __init__(self, limits: TransferLimits) -> None:
        self.limits = limits
        self.lookup_ends = time.monotonic() + limits.lookup_deadline

    def download_ends(self) -> float:
        return min(time.monotonic() + self.limits.download_deadline, self.lookup_ends)

    def lookup_expired(self) -> bool:
        return time.monotonic() >= self.lookup_ends
