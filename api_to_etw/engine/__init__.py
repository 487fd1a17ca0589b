"""Analysis backends behind one facts interface (``engine.base.Engine``), opened by name.

Each engine lives in its own sub-package and imports its heavy dependencies lazily: ``open_engine``
imports only the engine asked for, so ``--engine native`` never touches Ghidra and ``--facts`` never
parses a PE. The registry maps a name to ``module:function``; the function takes an ``EngineSource``.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:  # pragma: no cover
    from ..binary.loader import LoadedBinary
    from ..binary.symsrv.limits import TransferLimits
    from .base import Engine

log = logging.getLogger(__name__)

#: Engine name -> "module:factory"; the factory takes an EngineSource and returns an Engine.
REGISTRY = {
    "native": "api_to_etw.engine.native:open_native",
    "ghidra": "api_to_etw.engine.ghidra:open_ghidra",
    "ghidra-decompiler": "api_to_etw.engine.decompiler:open_decompiler",
}
ENGINES = tuple(REGISTRY)


class EngineSource:
    """What to analyse and how to find its symbols: the same for every engine. (A plain class: never
    compared, it needs none of a dataclass's generated methods, compiled at import.)"""

    __slots__ = ("binary", "pdb", "use_pdb", "force_pdb", "symbol_path", "offline", "symbol_limits", "progress",
                 "options")

    def __init__(self, binary: Optional[str] = None, pdb: Optional[str] = None, use_pdb: bool = True,
                 force_pdb: bool = False, symbol_path: Optional[str] = None, offline: bool = False,
                 symbol_limits: Optional[TransferLimits] = None,
                 progress: Optional[Callable[[int, Optional[int]], None]] = None,
                 options: Optional[dict[str, object]] = None) -> None:
        self.binary = binary
        self.pdb = pdb
        self.use_pdb = use_pdb
        self.force_pdb = force_pdb
        self.symbol_path = symbol_path
        self.offline = offline
        #: Symbol-server bounds (``binary.symsrv.limits.TransferLimits``); None: defaults and environment.
        self.symbol_limits = symbol_limits
        #: Download progress callback (done, total) while symbols are fetched.
        self.progress = progress
        #: Engine-specific settings (e.g. the Ghidra project and program).
        self.options = options


def open_engine(kind: str, source: EngineSource) -> Engine:
    """The engine called ``kind`` for ``source`` (``KeyError`` is a usage error for the caller)."""
    module, _, factory = REGISTRY[kind].partition(":")
    engine: Engine = getattr(importlib.import_module(module), factory)(source)
    return engine


def load_binary(source: EngineSource) -> LoadedBinary:
    """``source.binary`` and the PDB found for it, checked the same way for every engine (one warning
    line when there is no PDB), so bad input fails with the same one-line errors whatever the engine."""
    from ..binary.loader import open_binary

    assert source.binary
    loaded = open_binary(source.binary, source.pdb, use_pdb=source.use_pdb, force_pdb=source.force_pdb,
                         symbol_path=source.symbol_path, offline=source.offline, progress=source.progress,
                         limits=source.symbol_limits)
    if loaded.pdb is None:
        log.warning("%s: %s", os.path.basename(source.binary), loaded.pdb_note)
    else:
        log.info("%s", loaded.pdb_note)
    return loaded
