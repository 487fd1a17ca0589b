"""The default engine: pefile, pdbparse and iced-x86, runs anywhere Python does."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .. import EngineSource
    from .engine import NativeEngine


def open_native(source: EngineSource) -> NativeEngine:
    """The native engine over ``source.binary`` and the PDB found for it (warned about when absent)."""
    from ...errors import UsageError
    from .. import load_binary
    from .engine import NativeEngine

    if not source.binary:
        raise UsageError("the native engine needs a BINARY")
    loaded = load_binary(source)
    return NativeEngine(loaded.image, loaded.pdb)
