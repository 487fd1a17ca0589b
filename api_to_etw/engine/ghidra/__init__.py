"""The Ghidra engine: facts from a Ghidra program and its decompiler, through PyGhidra.

Importing this package imports nothing from Ghidra, PyGhidra or JPype; they are imported when an
engine starts Ghidra (``launcher.start_ghidra``). The modules:

* ``launcher`` -- find and check the Ghidra installation, start it headless (one-line errors, exit 13);
* ``extract``  -- Ghidra program -> facts, and decompiler p-code -> argument value sets;
* ``engine``   -- ``GhidraEngine``, the ``Engine`` the analysis drives;

``open_ghidra`` is the factory the engine registry (``api_to_etw.engine.open_engine``) calls; the
``--ghidra-*`` options are declared by the ``analyze`` command. See docs/ghidra.md.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .. import EngineSource
    from .engine import GhidraEngine

log = logging.getLogger(__name__)


def open_ghidra(source: EngineSource) -> GhidraEngine:
    """A ``GhidraEngine`` for ``analyze --engine ghidra`` (registered in ``api_to_etw.engine``).

    BINARY is first opened exactly as for the native engine (the x64 PE check and the PDB
    search/match/download), so bad input fails with the same one-line errors before Ghidra starts; its
    PDB is the one Ghidra applies on import. With a Ghidra project (``source.options["project"]``) the
    BINARY may be omitted: the project's program is used as analysed (with the PDB it was given).
    """
    from ...errors import UsageError
    from .. import load_binary
    from .engine import GhidraEngine

    options = source.options or {}
    project = options.get("project")
    program = options.get("program")
    if not (source.binary or project):
        raise UsageError("--engine ghidra needs a BINARY or --ghidra-project DIR")
    pdb_path = None
    if source.binary:
        loaded = load_binary(source)
        pdb_path = loaded.pdb.path if loaded.pdb is not None else None
    if project and pdb_path:
        log.info("using the program in Ghidra project %s as analysed; the PDB applies to imports only", project)
    return GhidraEngine(source.binary, pdb_path, project=str(project) if project else None,
                        program=str(program) if program else None)
