"""Symbols from a PDB: public and global symbol records, mapped to RVAs.

pdbparse gives us the MSF container (streams by index), the PDB info stream (GUID, age) and the DBI
header; we deliberately do not let it parse the type stream or every module (slow on a kernel PDB
and not needed here). The symbol record stream is walked with ``struct``: pdbparse's record parser
only knows S_PUB32, and publics alone miss the data globals (descriptors, GUIDs, REGHANDLEs) that
have no public symbol.
"""

from __future__ import annotations

import logging
import os
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, TypeVar

from ..errors import CorruptPdbError, InputNotFoundError

log = logging.getLogger(__name__)

S_PUB32 = 0x110E
S_GDATA32 = 0x110D
S_LDATA32 = 0x110C
S_PROCREF = 0x1125
S_LPROCREF = 0x1127
S_GPROC32 = 0x1110
S_LPROC32 = 0x110F
S_GPROC32_ID = 0x1147
S_LPROC32_ID = 0x1146
CV_PUBSYMFLAGS_FCODE = 0x1
CV_PUBSYMFLAGS_FFUNCTION = 0x2

DBI_HEADER_SIZE = 64
T = TypeVar("T")


@dataclass
class PdbSection:
    name: str
    rva: int
    size: int


@dataclass
class PdbSymbols:
    path: str
    guid: uuid.UUID
    age: int
    dbi_age: int
    #: RVA -> name for code symbols (publics flagged code/function).
    functions: dict[int, str] = field(default_factory=dict)
    #: RVA -> name for data symbols (publics without the code flag, S_GDATA32, S_LDATA32).
    data: dict[int, str] = field(default_factory=dict)
    record_count: int = 0

    def matches(self, guid: uuid.UUID, age: int) -> bool:
        return self.guid == guid and age in (self.age, self.dbi_age)


def load_pdb(path: str, pe_sections: Optional[list[tuple[str, int, int]]] = None) -> PdbSymbols:
    """Read GUID/age and the global symbol records of a PDB 7.0 file.

    ``pe_sections`` (name, rva, size) stands in for the PDB's own section headers when it has none.
    """
    return read_msf(path, lambda pdb: _read_symbols(pdb, path, pe_sections))


def read_msf(path: str, reader: Callable[[Any], T]) -> T:
    """Open a PDB's MSF container with pdbparse and run ``reader`` on it; every failure is one CorruptPdbError."""
    import pdbparse

    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise InputNotFoundError(f"{path}: no such PDB file")
    try:
        pdb = pdbparse.parse(path, fast_load=True)
    except ValueError:
        raise CorruptPdbError(f"{name}: not a PDB 7.0 file (bad MSF signature)") from None
    except Exception as exc:  # construct/struct errors from a damaged MSF directory
        raise CorruptPdbError(f"{name}: corrupt PDB container ({type(exc).__name__})") from None
    try:
        return reader(pdb)
    except CorruptPdbError:
        raise
    except Exception as exc:
        raise CorruptPdbError(f"{name}: corrupt PDB ({type(exc).__name__}: {exc})") from None
    finally:
        try:
            pdb.fp.close()
        except Exception:  # pragma: no cover - best effort
            pass


def _stream_bytes(pdb, index: int) -> bytes:
    if index < 0 or index >= len(pdb.streams):
        raise CorruptPdbError(f"{os.path.basename(pdb.fp.name)}: stream {index} does not exist")
    stream = pdb.streams[index]
    pages = len(stream.pages) * stream.page_size
    if stream.size > pages or stream.size < 0:
        raise CorruptPdbError(
            f"{os.path.basename(pdb.fp.name)}: stream {index} claims {stream.size} bytes in {pages} bytes of pages"
        )
    data = stream.data
    return data[: stream.size]


def _read_symbols(pdb, path: str, pe_sections: Optional[list[tuple[str, int, int]]]) -> PdbSymbols:
    from pdbparse import info

    name = os.path.basename(path)
    info_bytes = _stream_bytes(pdb, 1)
    if len(info_bytes) < 28:
        raise CorruptPdbError(f"{name}: PDB info stream is truncated")
    inf = info.Info.parse(info_bytes)
    guid_raw = struct.pack("<IHH", inf.GUID.Data1, inf.GUID.Data2, inf.GUID.Data3) + bytes(inf.GUID.Data4)
    guid = uuid.UUID(bytes_le=guid_raw)

    dbi = _stream_bytes(pdb, 3)
    if len(dbi) < DBI_HEADER_SIZE:
        raise CorruptPdbError(f"{name}: DBI stream is truncated")
    (signature, _version, dbi_age, _gs, _vers, _ps, _pdbver, symrec, _pdbver2, module_size, seccon_size,
     secmap_size, filinf_size, tsmap_size, _mfc, dbghdr_size, ecinfo_size) = struct.unpack_from(
        "<iIIhHhHhHIIIIIIII", dbi, 0
    )
    if signature != -1:
        raise CorruptPdbError(f"{name}: DBI stream has a bad signature")
    sections: list[PdbSection] = []
    dbg_offset = DBI_HEADER_SIZE + module_size + seccon_size + secmap_size + filinf_size + tsmap_size + ecinfo_size
    if dbghdr_size >= 22 and dbg_offset + 22 <= len(dbi):
        debug_streams = struct.unpack_from("<11h", dbi, dbg_offset)
        section_stream = debug_streams[5]
        if section_stream >= 0:
            sections = _section_headers(_stream_bytes(pdb, section_stream))
        if debug_streams[3] >= 0:
            log.warning("%s: PDB has an OMAP (code was rearranged after linking); addresses may be off", name)
    if not sections and pe_sections:
        sections = [PdbSection(n, rva, size) for n, rva, size in pe_sections]

    symbols = PdbSymbols(path=path, guid=guid, age=inf.Age, dbi_age=dbi_age)
    if symrec < 0:
        log.warning("%s: PDB has no global symbol records", name)
        return symbols
    records = _stream_bytes(pdb, symrec)
    for kind, payload in iter_records(records):
        symbols.record_count += 1
        if kind == S_PUB32:
            if len(payload) < 10:
                continue
            flags, offset, segment = struct.unpack_from("<IIH", payload, 0)
            rva = _to_rva(sections, segment, offset)
            if rva is None:
                continue
            sym = _cstring(payload, 10)
            if flags & (CV_PUBSYMFLAGS_FCODE | CV_PUBSYMFLAGS_FFUNCTION):
                symbols.functions.setdefault(rva, sym)
            else:
                symbols.data.setdefault(rva, sym)
        elif kind in (S_GDATA32, S_LDATA32):
            if len(payload) < 10:
                continue
            _type, offset, segment = struct.unpack_from("<IIH", payload, 0)
            rva = _to_rva(sections, segment, offset)
            if rva is not None:
                symbols.data.setdefault(rva, _cstring(payload, 10))
    return symbols


def iter_records(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(kind, payload) of each CodeView symbol record; stops at the first record that overruns."""
    pos = 0
    end = len(data)
    while pos + 4 <= end:
        length, kind = struct.unpack_from("<HH", data, pos)
        if length < 2 or pos + 2 + length > end:
            break
        yield kind, data[pos + 4 : pos + 2 + length]
        pos += 2 + length


def _cstring(data: bytes, offset: int) -> str:
    stop = data.find(b"\0", offset)
    if stop < 0:
        stop = len(data)
    return data[offset:stop].decode("utf-8", "replace")


def _section_headers(data: bytes) -> list[PdbSection]:
    sections = []
    for pos in range(0, len(data) - 39, 40):
        raw_name, vsize, rva = struct.unpack_from("<8sII", data, pos)
        sections.append(PdbSection(raw_name.rstrip(b"\0").decode("ascii", "replace"), rva, vsize))
    return sections


def _to_rva(sections: list[PdbSection], segment: int, offset: int) -> Optional[int]:
    if 1 <= segment <= len(sections):
        return sections[segment - 1].rva + offset
    return None
