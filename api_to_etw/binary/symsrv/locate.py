"""Locate a binary's PDB (or a binary itself) the way WinDbg and symchk do.

Search order for a PDB: an explicit ``--pdb``; beside the binary (:func:`pdb_candidates`); then each
element of the symbol path in order (:mod:`.path` for the grammar, :mod:`.store` for the search).
A found file is accepted only when it matches the binary: PDB GUID/age, or PE TimeDateStamp/SizeOfImage.
"""

from __future__ import annotations

import logging
import os
import re
import struct
from typing import Optional, Union

from ...errors import ApiToEtwError, SymbolsUnavailableError, UsageError
from ...inputs import open_regular
from ..pdb import PdbSymbols, load_pdb
from ..pe import CodeViewInfo
from .keys import binary_key, binary_keys, pdb_key, pdb_keys, printable, safe_file_name, safe_pdb_name
from .limits import DEFAULT_MAX_BYTES, DEFAULT_RETRIES, DEFAULT_TIMEOUT, ProgressCallback, TransferLimits
from .path import SymbolPathElement, parse_symbol_path
from .store import StoreSearch, Target

_LOG = logging.getLogger("api_to_etw.binary.symsrv")


def pdb_candidates(binary_path: str, codeview: Optional[CodeViewInfo]) -> list[str]:
    """Where a PDB is looked for when none is given: beside the binary, by CodeView name then by stem."""
    folder = os.path.dirname(os.path.abspath(binary_path))
    names = []
    cv_name = safe_pdb_name(codeview)
    if cv_name:
        names.append(cv_name)
    stem = os.path.splitext(os.path.basename(binary_path))[0] + ".pdb"
    if stem not in names:
        names.append(stem)
    return [os.path.join(folder, n) for n in names]


class LocateResult:
    """Where the PDB was found (or None), every place tried, and a one-line summary. (A plain class: never
    compared, it needs none of a dataclass's generated methods, compiled at import.)"""

    __slots__ = ("path", "tried", "note", "pdb", "source", "mismatched", "problems")

    def __init__(self, path: Optional[str], tried: list[str], note: str, pdb: Optional[PdbSymbols] = None,
                 source: str = "", mismatched: Optional[list[str]] = None,
                 problems: Optional[list[str]] = None) -> None:
        self.path = path
        self.tried = tried
        self.note = note
        #: The verified PDB, already loaded (reuse it rather than loading the file again).
        self.pdb = pdb
        #: Where it came from: "--pdb", "beside the binary" or the symbol-path element.
        self.source = source
        #: PDB files that were found by name but whose GUID/age do not match the binary.
        self.mismatched = mismatched if mismatched is not None else []
        #: Server failures and refusals worth showing even without -v.
        self.problems = problems if problems is not None else []


def _elements(symbol_path: Union[str, list[SymbolPathElement], None]) -> list[SymbolPathElement]:
    if symbol_path is None:
        return []
    if isinstance(symbol_path, str):
        return parse_symbol_path(symbol_path)
    return list(symbol_path)


def _summary(items: list[str], limit: int = 6) -> str:
    shown = "; ".join(items[:limit])
    if len(items) > limit:
        shown += f"; and {len(items) - limit} more (-v lists them)"
    return shown


def _store_search(log: Optional[logging.Logger], progress: Optional[ProgressCallback], transfer: TransferLimits,
                  offline: bool) -> StoreSearch:
    """The search over the symbol path both look-ups run (the package logger unless one is given)."""
    return StoreSearch(log if log is not None else _LOG, progress, transfer, offline)


def _flat_folders(file_name: str, *, symbols: bool = False) -> list[str]:
    """Sub-folders of a flat (non-store) symbol path folder that may hold ``file_name``.

    The folder itself, then one named after the file's extension (``dll``, and ``symbols/dll`` for a
    PDB) when the extension is a plain short word.
    """
    ext = os.path.splitext(file_name)[1].lstrip(".").lower()
    if not re.fullmatch(r"[a-z0-9]{1,8}", ext):
        return [""]
    return ["", ext, os.path.join("symbols", ext)] if symbols else ["", ext]


def locate_pdb(
    codeview: Optional[CodeViewInfo],
    binary_path: str,
    pdb_arg: Optional[str] = None,
    symbol_path: Union[str, list[SymbolPathElement], None] = None,
    *,
    log: Optional[logging.Logger] = None,
    progress: Optional[ProgressCallback] = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    offline: bool = False,
    pe_sections: Optional[list[tuple[str, int, int]]] = None,
    limits: Optional[TransferLimits] = None,
) -> LocateResult:
    """Find the PDB matching ``codeview``: explicit ``pdb_arg``, beside the binary, then the symbol path.

    ``pdb_arg`` is returned as given, unverified (the caller applies ``--force-pdb``). Every other
    candidate must match the CodeView GUID and age; mismatches are skipped and listed. Unreachable
    servers are noted, not raised. ``pe_sections`` is passed to :func:`load_pdb` so the returned
    ``LocateResult.pdb`` is exactly what the caller would have loaded.
    """
    if pdb_arg:
        return LocateResult(pdb_arg, [f"--pdb {pdb_arg}"], f"symbols from {pdb_arg} (--pdb)", source="--pdb")
    search = _store_search(log, progress, limits or TransferLimits.from_options(
        timeout=timeout, retries=retries, max_bytes=max_bytes), offline)
    # The search stops at the first file verify() accepts, so the last PDB accepted is the one found
    # (possibly verified under a temporary name and then renamed into the cache).
    accepted: list[PdbSymbols] = []

    def verify(path: str) -> Optional[str]:
        try:
            pdb = load_pdb(path, pe_sections)
        except ApiToEtwError as exc:
            return f"unusable ({exc})"
        if codeview is not None and not pdb.matches(codeview.guid, codeview.age):
            return f"does not match (PDB {pdb.guid}/{pdb.dbi_age}, binary wants {codeview.guid}/{codeview.age})"
        accepted.append(pdb)
        return None

    found: Optional[str] = None
    source = ""
    for candidate in pdb_candidates(binary_path, codeview):
        if not os.path.isfile(candidate):
            search.note(f"beside the binary: {candidate}: not found")
        elif search.check(Target(os.path.basename(candidate), [], verify), candidate, candidate,
                          "beside the binary"):
            found, source = candidate, "beside the binary"
            break

    name = safe_file_name(safe_pdb_name(codeview))
    label = f"{name} ({pdb_key(codeview.guid, codeview.age)})" if name and codeview else "the binary"
    elements = _elements(symbol_path)
    if found is None and elements:
        if codeview is None:
            search.note("symbol path not searched: the binary has no CodeView (RSDS) record", logging.INFO)
        elif name is None:
            search.problem(f"symbol path not searched: CodeView PDB name {printable(repr(codeview.pdb_name))} "
                           "is not a plain file name")
        else:
            target = Target(name, pdb_keys(codeview), verify, _flat_folders(binary_path, symbols=True))
            found, source = search.run(target, elements)

    if found is not None:
        pdb = accepted[-1]
        pdb.path = found
        return LocateResult(found, search.tried, f"symbols from {found}", pdb, source, search.mismatched,
                            search.problems)
    where = "beside the binary" + (" or on the symbol path" if elements else " (no symbol path set)")
    note = f"no PDB found for {label} {where}"
    if search.mismatched:
        note += f"; {len(search.mismatched)} with the right name did not match"
    if search.problems:
        note += f"; {_summary(search.problems, 3)}"
    return LocateResult(None, search.tried, note, None, "", search.mismatched, search.problems)


def require_pdb(result: LocateResult) -> str:
    """The found PDB path, or :class:`SymbolsUnavailableError` listing where it looked (``symbols`` command)."""
    if result.path:
        return result.path
    raise SymbolsUnavailableError(f"{result.note}; tried: {_summary(result.tried, 8)}")


def pe_index(path: str) -> Optional[tuple[int, int]]:
    """(TimeDateStamp, SizeOfImage) from a PE file's headers, or None if it is not a PE file."""
    try:
        with open_regular(path) as handle:
            head = handle.read(4096)
            if len(head) < 0x40 or head[:2] != b"MZ":
                return None
            (e_lfanew,) = struct.unpack_from("<I", head, 0x3C)
            if e_lfanew > (1 << 20):
                return None
            handle.seek(e_lfanew)
            header = handle.read(24 + 60)
    except (OSError, ApiToEtwError):
        return None
    if len(header) < 24 + 60 or header[:4] != b"PE\0\0":
        return None
    (timestamp,) = struct.unpack_from("<I", header, 8)
    (size_of_image,) = struct.unpack_from("<I", header, 24 + 56)  # same offset in PE32 and PE32+
    return timestamp, size_of_image


def fetch_binary(
    name: str,
    timestamp: int,
    size_of_image: int,
    symbol_path: Union[str, list[SymbolPathElement], None],
    *,
    log: Optional[logging.Logger] = None,
    progress: Optional[ProgressCallback] = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    offline: bool = False,
    limits: Optional[TransferLimits] = None,
) -> str:
    """Find a binary by its index (``NAME/%08X%x/NAME``) on the symbol path; returns its local path.

    Raises :class:`UsageError` for a name or index that cannot be looked up and
    :class:`SymbolsUnavailableError` (listing where it looked) when no element has it.
    """
    safe = safe_file_name(name)
    if safe is None:
        raise UsageError(f"{printable(repr(name))} is not a plain file name (no folders, '..' or special characters)")
    try:
        keys = binary_keys(timestamp, size_of_image)
    except ValueError as exc:
        raise UsageError(f"{safe}: {exc}: timestamp and SizeOfImage must be 32-bit values") from None
    elements = _elements(symbol_path)
    label = f"{safe} ({keys[0]})"
    if not elements:
        raise SymbolsUnavailableError(f"cannot fetch {label}: no symbol path (use --symbol-path or _NT_SYMBOL_PATH)")

    def verify(path: str) -> Optional[str]:
        index = pe_index(path)
        if index is None:
            return "unusable (not a PE file)"
        if index != (timestamp, size_of_image):
            return f"does not match (index {binary_key(*index)}, wanted {keys[0]})"
        return None

    search = _store_search(log, progress, limits or TransferLimits.from_options(
        timeout=timeout, retries=retries, max_bytes=max_bytes), offline)
    found, _source = search.run(Target(safe, keys, verify, _flat_folders(safe)), elements)
    if found is None:
        raise SymbolsUnavailableError(f"{label} not found on the symbol path; tried: {_summary(search.tried, 8)}")
    return found
