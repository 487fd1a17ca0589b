"""Analysis backends. Each engine lives in its own sub-package and imports its heavy dependencies lazily."""

from __future__ import annotations

ENGINES = ("native", "ghidra")
