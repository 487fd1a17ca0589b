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
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
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


def engine_from_args(args: argparse.Namespace, record_memory: bool = False) -> GhidraEngine:
    """A ``GhidraEngine`` for ``analyze --engine ghidra``.

    The binary and its PDB are checked exactly as for the native engine (``open_binary``: x64 PE, PDB
    found beside it or given with ``--pdb``, GUID/age match unless ``--force-pdb``), so bad input fails
    with the same one-line errors before Ghidra starts. With ``--ghidra-project`` the BINARY may be
    omitted; the project's program is used as analysed (its own PDB, if one was applied).
    """
    from ...binary.loader import open_binary
    from .engine import GhidraEngine

    binary = getattr(args, "binary", None)
    project = getattr(args, "ghidra_project", None)
    program = getattr(args, "ghidra_program", None)
    pdb_path = None
    if binary:
        loaded = open_binary(binary, getattr(args, "pdb", None), use_pdb=not getattr(args, "no_pdb", False),
                             force_pdb=getattr(args, "force_pdb", False))
        if loaded.pdb is None:
            log.warning("%s: %s", os.path.basename(binary), loaded.pdb_note)
        else:
            log.info("%s", loaded.pdb_note)
            pdb_path = loaded.pdb.path
        if project:
            log.info("using the program in Ghidra project %s; --pdb applies only to an import", project)
    return GhidraEngine(binary, pdb_path, project=project, program=program, record_memory=record_memory)
