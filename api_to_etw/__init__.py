"""api-to-etw: which Windows API or syscall can emit which ETW event."""

from __future__ import annotations

__version__ = "0.1.0"
