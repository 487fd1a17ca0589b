"""The default engine: pefile, pdbparse and iced-x86, runs anywhere Python does."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .. import EngineSource
    from .engine import NativeEngine

log = logging.getLogger(__name__)


def open_native(source: EngineSource) -> NativeEngine:
    """The native engine over ``source.binary`` and the PDB found for it (warned about when absent)."""
    from ...binary.loader import open_binary
    from ...errors import UsageError
    from .engine import NativeEngine

    if not source.binary:
        raise UsageError("the native engine needs a BINARY")
    loaded = open_binary(source.binary, source.pdb, use_pdb=source.use_pdb, force_pdb=source.force_pdb,
                         symbol_path=source.symbol_path, offline=source.offline, progress=source.progress)
    if loaded.pdb is None:
        log.warning("%s: %s", os.path.basename(source.binary), loaded.pdb_note)
    else:
        log.info("%s", loaded.pdb_note)
    return NativeEngine(loaded.image, loaded.pdb, record_memory=source.record_memory)
