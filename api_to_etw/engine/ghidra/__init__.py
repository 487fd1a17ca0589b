"""The Ghidra engine: facts from a Ghidra program and its decompiler, through PyGhidra.

Importing this package imports nothing from Ghidra, PyGhidra or JPype; they are imported when an
engine starts Ghidra (``launcher.start_ghidra``). The modules:

* ``launcher`` -- find and check the Ghidra installation, start it headless (one-line errors, exit 13);
* ``extract``  -- Ghidra program -> facts, and decompiler p-code -> argument value sets;
* ``engine``   -- ``GhidraEngine``, the ``Engine`` the analysis drives;
* ``parity``   -- compare two facts files (e.g. native vs Ghidra) per call site and per row.

The CLI wiring lives here too (``add_ghidra_arguments``, ``engine_from_args``) so ``cli.py`` needs a
few lines only; see docs/ghidra.md.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # pragma: no cover
    from ...binary.loader import LoadedBinary
    from .engine import GhidraEngine

log = logging.getLogger(__name__)


def add_ghidra_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--ghidra-project`` and ``--ghidra-program`` to the ``analyze`` parser."""
    group = parser.add_argument_group("Ghidra engine (--engine ghidra; needs GHIDRA_INSTALL_DIR and pyghidra)")
    group.add_argument("--ghidra-project", metavar="DIR",
                       help="reuse this analysed Ghidra project (its folder or .gpr file) instead of importing "
                            "BINARY into a temporary one")
    group.add_argument("--ghidra-program", metavar="NAME",
                       help="the program in --ghidra-project: NAME or /folder/NAME (default: BINARY's file name)")


def engine_from_args(args: argparse.Namespace, loaded: Optional[LoadedBinary] = None,
                     record_memory: bool = False) -> GhidraEngine:
    """A ``GhidraEngine`` for ``analyze --engine ghidra``.

    ``loaded`` is what ``open_binary`` returned for BINARY in ``cmd_analyze`` (the x64 PE check and the
    PDB search/match/download, exactly as for the native engine), so bad input fails with the same
    one-line errors before Ghidra starts; its PDB is the one Ghidra applies on import. Without it,
    BINARY is opened here with ``--pdb``/``--no-pdb``/``--force-pdb``. With ``--ghidra-project`` the
    BINARY may be omitted: the project's program is used as analysed (with the PDB it was given).
    """
    from .engine import GhidraEngine

    binary = getattr(args, "binary", None)
    project = getattr(args, "ghidra_project", None)
    program = getattr(args, "ghidra_program", None)
    if binary and loaded is None:
        from ...binary.loader import open_binary

        loaded = open_binary(binary, getattr(args, "pdb", None), use_pdb=not getattr(args, "no_pdb", False),
                             force_pdb=getattr(args, "force_pdb", False))
        if loaded.pdb is None:
            log.warning("%s: %s", os.path.basename(binary), loaded.pdb_note)
        else:
            log.info("%s", loaded.pdb_note)
    pdb_path = loaded.pdb.path if loaded is not None and loaded.pdb is not None else None
    if project and pdb_path:
        log.info("using the program in Ghidra project %s as analysed; the PDB applies to imports only", project)
    return GhidraEngine(binary, pdb_path, project=project, program=program, record_memory=record_memory)
