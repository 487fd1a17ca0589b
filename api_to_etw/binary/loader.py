"""Open a binary and its matching PDB: the one place that decides which symbols an analysis uses."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Optional

from ..errors import PdbMismatchError
from .pdb import PdbSymbols, load_pdb
from .pe import CodeViewInfo, PEImage, load_pe

log = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.+\-]{1,200}$")


@dataclass
class LoadedBinary:
    image: PEImage
    pdb: Optional[PdbSymbols]
    pdb_note: str


def safe_pdb_name(codeview: Optional[CodeViewInfo]) -> Optional[str]:
    """The PDB file name from the CodeView record, reduced to a bare, harmless file name (or None).

    The record is attacker-controlled: it may hold directories, ``..``, drive letters or control
    characters. Only the last path component is kept, and only if it is a plain file name.
    """
    if codeview is None:
        return None
    name = re.split(r"[\\/]", codeview.pdb_name)[-1]
    if not _SAFE_NAME.match(name) or name in (".", "..") or ":" in name:
        return None
    return name


def pdb_candidates(image: PEImage) -> list[str]:
    """Where a PDB is looked for when none is given: beside the binary, by CodeView name then by stem."""
    folder = os.path.dirname(os.path.abspath(image.path))
    names = []
    cv_name = safe_pdb_name(image.codeview)
    if cv_name:
        names.append(cv_name)
    stem = os.path.splitext(os.path.basename(image.path))[0] + ".pdb"
    if stem not in names:
        names.append(stem)
    return [os.path.join(folder, n) for n in names]


def open_binary(path: str, pdb_path: Optional[str] = None, use_pdb: bool = True, force_pdb: bool = False,
                symbol_path: Optional[str] = None, offline: bool = False, progress=None) -> LoadedBinary:
    """The image and the PDB to use: ``--pdb``, else beside the binary, else along the symbol path."""
    image = load_pe(path)
    sections = [(s.name, s.rva, s.virtual_size) for s in image.sections]
    if not use_pdb:
        return LoadedBinary(image, None, "symbols disabled (--no-pdb)")
    if pdb_path is None:
        from .symbols import locate_pdb

        found = locate_pdb(image.codeview, image.path, None, symbol_path, offline=offline, progress=progress,
                           pe_sections=sections)
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
