"""Open a binary and its matching PDB: the one place that decides which symbols an analysis uses."""

from __future__ import annotations

import logging
import os
from typing import Optional

from ..errors import PdbMismatchError
from .pdb import PdbSymbols, load_pdb
from .pe import PEImage, load_pe
from .symsrv.limits import TransferLimits
from .symsrv.locate import locate_pdb

log = logging.getLogger(__name__)


class LoadedBinary:
    """The image, its PDB if one was found, and where the symbols came from. (A plain class: never
    compared, it needs none of a dataclass's generated methods, compiled at import.)"""

    __slots__ = ("image", "pdb", "pdb_note")

    def __init__(self, image: PEImage, pdb: Optional[PdbSymbols], pdb_note: str) -> None:
        self.image = image
        self.pdb = pdb
        self.pdb_note = pdb_note


def open_binary(path: str, pdb_path: Optional[str] = None, use_pdb: bool = True, force_pdb: bool = False,
                symbol_path: Optional[str] = None, offline: bool = False, progress=None,
                limits: Optional[TransferLimits] = None) -> LoadedBinary:
    """The image and the PDB to use: ``--pdb``, else beside the binary, else along the symbol path."""
    image = load_pe(path)
    sections = [(s.name, s.rva, s.virtual_size) for s in image.sections]
    if not use_pdb:
        return LoadedBinary(image, None, "symbols disabled (--no-pdb)")
    if pdb_path is None:
        found = locate_pdb(image.codeview, image.path, None, symbol_path, offline=offline, progress=progress,
                           pe_sections=sections, limits=limits)
        if found.pdb is not None:
            return LoadedBinary(image, found.pdb, found.note)
        if found.mismatched and not symbol_path:
            raise PdbMismatchError(f"{found.note} ({found.mismatched[0]}; use --pdb FILE --force-pdb to use it anyway)")
        return LoadedBinary(image, None, found.note + "; using exports only")
    pdb = load_pdb(pdb_path, sections)
    cv = image.codeview
    if cv is not None and not pdb.matches(cv.guid, cv.age):
        message = (
            f"{os.path.basename(pdb_path)} does not match {os.path.basename(path)}: "
            f"PDB {pdb.guid}/{pdb.dbi_age}, binary wants {cv.guid}/{cv.age}"
        )
        if not force_pdb:
            raise PdbMismatchError(message + " (use --force-pdb to use it anyway)")
        log.warning("%s; used anyway (--force-pdb)", message)
    return LoadedBinary(image, pdb, f"symbols from {pdb_path}")
