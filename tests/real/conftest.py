"""Fixtures for the real-binary tests: ``real_binary(name)`` gives the cached file or skips with the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from catalog import real_binary as _real_binary
from fetch import FetchError


@pytest.fixture(scope="session")
def real_binary() -> Callable[[str], Path]:
    """``real_binary("vcamp140.dll")``: the pinned binary from real-binaries.tsv (its PDB beside it), or a skip."""

    def get(name: str) -> Path:
        try:
            return _real_binary(name)
        except FetchError as exc:
            pytest.skip(f"{name} unavailable: {exc}")

    return get
