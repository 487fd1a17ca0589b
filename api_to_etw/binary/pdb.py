"""Symbols from a PDB: public and global symbol records, mapped to RVAs.

pdbparse gives us the stream objects of the MSF container, the PDB info stream (GUID, age) and the DBI
header; we deliberately do not let it parse the type stream or every module (slow on a kernel PDB
and not needed here). The symbol record stream is walked with ``struct``: pdbparse's record parser
only knows S_PUB32, and publics alone miss the data globals (descriptors, GUIDs, REGHANDLEs) that
have no public symbol.

The MSF directory is read by :func:`open_msf` rather than by ``pdbparse.parse``: pdbparse trusts the
directory size and joins pages by repeated concatenation (quadratic), so a header claiming a 256 MB
directory kept it busy for minutes. Here the file is mapped, every size and page number is checked
against the file before use, and each stream's pages are joined once.
"""

from __future__ import annotations

import functools
import logging
import mmap
import os
import struct
import uuid
from collections.abc import Iterator
from typing import Any, Callable, Optional, TypeVar

from ..errors import CorruptPdbError
from ..fieldclass import Mutable

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
#: A CodeView record's length and kind; the flags/type, offset and segment that start PUBSYM32 and DATASYM32.
_RECORD_HEAD = struct.Struct("<HH")
_RECORD_AND_SYMBOL = struct.Struct("<HHIIH")

DBI_HEADER_SIZE = 64
#: The PDB info stream's fixed head: version, signature, age, GUID. Only GUID and age are needed, so the
#: named-stream table after it is not parsed (pdbparse's ``info`` would pull in construct for 28 bytes).
PDB_INFO_HEADER = struct.Struct("<III16s")
T = TypeVar("T")

MSF7_SIGNATURE = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0"
#: Signature, page size, free page map, page count, directory size, reserved; then the directory's page map.
MSF7_HEADER = struct.Struct("<32sIIIII")
MSF_PAGE_SIZES = (512, 1024, 2048, 4096, 8192, 16384, 32768)
NIL_STREAM_SIZE = 0xFFFFFFFF


# PdbSection and PdbSymbols were dataclasses: ``Mutable`` classes (equal by their fields, printed as before)
# need no methods compiled when the module is imported, nor the ``dataclasses`` module.


class PdbSection(Mutable):
    name: str
    rva: int
    size: int
    _fields = ("name", "rva", "size")

    def __init__(self, name: str, rva: int, size: int) -> None:
        self.name = name
        self.rva = rva
        self.size = size


class PdbSymbols(Mutable):
    path: str
    guid: uuid.UUID
    age: int
    dbi_age: int
    #: RVA -> name for code symbols (publics flagged code/function).
    functions: dict[int, str]
    #: RVA -> name for data symbols (publics without the code flag, S_GDATA32, S_LDATA32).
    data: dict[int, str]
    record_count: int
    _fields = ("path", "guid", "age", "dbi_age", "functions", "data", "record_count")

    def __init__(self, path: str, guid: uuid.UUID, age: int, dbi_age: int, functions: Optional[dict[int, str]] = None,
                 data: Optional[dict[int, str]] = None, record_count: int = 0) -> None:
        self.path = path
        self.guid = guid
        self.age = age
        self.dbi_age = dbi_age
        self.functions = {} if functions is None else functions
        self.data = {} if data is None else data
        self.record_count = record_count

    def matches(self, guid: uuid.UUID, age: int) -> bool:
        return self.guid == guid and age in (self.age, self.dbi_age)


def load_pdb(path: str, pe_sections: Optional[list[tuple[str, int, int]]] = None) -> PdbSymbols:
    """Read GUID/age and the global symbol records of a PDB 7.0 file.

    ``pe_sections`` (name, rva, size) stands in for the PDB's own section headers when it has none.
    """
    return read_msf(path, lambda pdb: _read_symbols(pdb, path, pe_sections))


def read_msf(path: str, reader: Callable[[Any], T]) -> T:
    """Open a PDB's MSF container and run ``reader`` on it; every failure is one CorruptPdbError."""
    name = os.path.basename(path)
    from ..inputs import map_snapshot, open_regular

    with open_regular(path, kind="pdb", error=CorruptPdbError) as handle:
        data: Any = map_snapshot(handle, path, error=CorruptPdbError)  # truncated by another process: no SIGBUS
        try:
            try:
                pdb = open_msf(handle, data, name)
            except CorruptPdbError:
                raise
            except Exception as exc:  # pdbparse's stream objects on a directory we accepted
                raise CorruptPdbError(f"{name}: corrupt PDB container ({type(exc).__name__})") from None
            try:
                return reader(pdb)
            except CorruptPdbError:
                raise
            except Exception as exc:
                raise CorruptPdbError(f"{name}: corrupt PDB ({type(exc).__name__}: {exc})") from None
        finally:
            if isinstance(data, mmap.mmap):
                data.close()


@functools.lru_cache(maxsize=1)
def _page_reader() -> type:
    """pdbparse's StreamFile with its page join done once over the mapped file (pdbparse concatenates)."""
    import pdbparse

    class PageReader(pdbparse.StreamFile):
        def __init__(self, fp: Any, data: Any, pages: tuple[int, ...], size: int, page_size: int):
            super().__init__(fp, pages, size=size, page_size=page_size)
            self._mapped = data

        def _read_pages(self, wanted: Any) -> bytes:
            size = self.page_size
            return b"".join(self._mapped[p * size:(p + 1) * size] for p in wanted)

    return PageReader


def open_msf(fp: Any, data: Any, name: str) -> Any:
    """pdbparse's container and stream objects over an MSF 7.00 directory checked against the file.

    Bounds: the page size is one MSF allows; the directory, every stream and every page number fit in the
    file; the directory holds the page lists its stream sizes need. Anything else is a CorruptPdbError.
    Nothing is parsed until a reader asks for a stream's ``data``.
    """
    import pdbparse

    streams, page_size = _msf_directory(data, name)
    pdb = pdbparse.PDB(fp, fast_load=True)
    pdb.page_size = page_size
    pdb.display_name = name  # the file object is opened from a descriptor: fp.name is not a path
    pdb.read_root(_Root(streams))
    reader = _page_reader()
    for stream in pdb.streams:
        stream.stream_file = reader(fp, data, stream.pages, stream.size, page_size)
    return pdb


class _Root:
    """What pdbparse's ``PDB.read_root`` reads from a root stream: (size, pages) per stream."""

    def __init__(self, streams: list[tuple[int, tuple[int, ...]]]):
        self.streams = streams


def _msf_directory(data: Any, name: str) -> tuple[list[tuple[int, tuple[int, ...]]], int]:
    """(size, pages) of every stream and the page size, from a header and directory checked against the file."""
    if len(data) < MSF7_HEADER.size or data[:32] != MSF7_SIGNATURE:
        raise CorruptPdbError(f"{name}: not a PDB 7.0 file (bad MSF signature)")
    _sig, page_size, _fpm, _page_count, dir_size, _reserved = MSF7_HEADER.unpack_from(data, 0)
    if page_size not in MSF_PAGE_SIZES:
        raise CorruptPdbError(f"{name}: corrupt PDB container (page size {page_size})")
    file_pages = -(-len(data) // page_size)
    if dir_size < 4 or dir_size > len(data):
        raise CorruptPdbError(f"{name}: corrupt PDB container (directory of {dir_size} bytes in a file of "
                              f"{len(data)})")
    dir_pages = -(-dir_size // page_size)
    map_pages = -(-dir_pages * 4 // page_size)
    map_at = MSF7_HEADER.size
    if map_at + 4 * map_pages > min(page_size, len(data)):
        raise CorruptPdbError(f"{name}: corrupt PDB container (directory page map does not fit the header page)")
    map_list = struct.unpack_from(f"<{map_pages}I", data, map_at)
    page_map = _join_pages(data, map_list, page_size, file_pages, name)
    dir_list = struct.unpack_from(f"<{dir_pages}I", page_map, 0)
    directory = _join_pages(data, dir_list, page_size, file_pages, name)[:dir_size]
    (count,) = struct.unpack_from("<I", directory, 0)
    if 4 + 4 * count > dir_size:
        raise CorruptPdbError(f"{name}: corrupt PDB container ({count} streams in a {dir_size}-byte directory)")
    sizes = [0 if size == NIL_STREAM_SIZE else size for size in struct.unpack_from(f"<{count}I", directory, 4)]
    pos = 4 + 4 * count
    streams: list[tuple[int, tuple[int, ...]]] = []
    for index, size in enumerate(sizes):
        if size > len(data):
            raise CorruptPdbError(f"{name}: corrupt PDB container (stream {index} claims {size} bytes in a file "
                                  f"of {len(data)})")
        pages = -(-size // page_size)
        if pos + 4 * pages > dir_size:
            raise CorruptPdbError(f"{name}: corrupt PDB container (stream {index} lists pages past the directory)")
        page_list = struct.unpack_from(f"<{pages}I", directory, pos)
        pos += 4 * pages
        if page_list and max(page_list) >= file_pages:
            raise CorruptPdbError(f"{name}: corrupt PDB container (stream {index} names a page past the file)")
        streams.append((size, page_list))
    return streams, page_size


def _join_pages(data: Any, pages: tuple[int, ...], page_size: int, file_pages: int, name: str) -> bytes:
    if pages and max(pages) >= file_pages:
        raise CorruptPdbError(f"{name}: corrupt PDB container (directory names a page past the file)")
    return b"".join(data[p * page_size:(p + 1) * page_size] for p in pages)


def _pdb_name(pdb: Any) -> str:
    return getattr(pdb, "display_name", None) or os.path.basename(str(pdb.fp.name))


def _stream_bytes(pdb, index: int) -> bytes:
    if index < 0 or index >= len(pdb.streams):
        raise CorruptPdbError(f"{_pdb_name(pdb)}: stream {index} does not exist")
    stream = pdb.streams[index]
    pages = len(stream.pages) * stream.page_size
    if stream.size > pages or stream.size < 0:
        raise CorruptPdbError(
            f"{_pdb_name(pdb)}: stream {index} claims {stream.size} bytes in {pages} bytes of pages"
        )
    data = stream.data
    return data[: stream.size]


def _read_symbols(pdb, path: str, pe_sections: Optional[list[tuple[str, int, int]]]) -> PdbSymbols:
    name = os.path.basename(path)
    info_bytes = _stream_bytes(pdb, 1)
    if len(info_bytes) < PDB_INFO_HEADER.size:
        raise CorruptPdbError(f"{name}: PDB info stream is truncated")
    _version, _signature, info_age, guid_raw = PDB_INFO_HEADER.unpack_from(info_bytes, 0)
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

    symbols = PdbSymbols(path=path, guid=guid, age=info_age, dbi_age=dbi_age)
    if symrec < 0:
        log.warning("%s: PDB has no global symbol records", name)
        return symbols
    records = _stream_bytes(pdb, symrec)
    bases = (None, *(section.rva for section in sections))  # by section number (1-based), 0 none
    symbols.record_count += _walk_symbols(records, bases, symbols.functions, symbols.data)
    return symbols


def _walk_symbols(records: bytes, bases: tuple[Optional[int], ...], functions: dict[int, str],
                  data: dict[int, str]) -> int:
    """Keep the code and data symbols of a symbol record stream in ``functions`` and ``data`` (the first record
    of an RVA wins); the number of records walked (up to the first that overruns). ``bases``: the RVA of each
    section by its number (``bases[0]`` None: no section 0).

    Called once per PDB, so on CPython 3.11 its loop is specialized only once the code is quickened, which a
    backward jump counts towards, and ``while cond:``'s closing conditional jump does not: written so, the
    walk ran unspecialized until its first ``continue`` (the 1x kernel's publics come first: half the stream).
    ``while True:`` closes with a plain backward jump, quickened after eight records."""
    # The walk iter_records does, inlined: one unpack per record reads its head and, for the kinds kept, the
    # flags/offset/segment after it; the names are read in place (no payload copy per record).
    record, head = _RECORD_AND_SYMBOL.unpack_from, _RECORD_HEAD.unpack_from
    code_flags = CV_PUBSYMFLAGS_FCODE | CV_PUBSYMFLAGS_FFUNCTION
    # The names are cut from one latin-1 decoding of the stream (a str slice of it, when ASCII, is what a
    # UTF-8 decoding of the bytes gives, without a decode call per name).
    chars = records.decode("latin-1")
    pos, end, seen = 0, len(records), 0
    full = end - _RECORD_AND_SYMBOL.size  # records starting at or before this have all 14 bytes to unpack
    while True:  # not ``while pos <= full``: see the docstring
        if pos > full:
            break
        length, kind, flags, offset, segment = record(records, pos)
        text = pos + 14  # where a kept record's name starts
        pos += 2 + length
        if length < 2 or pos > end:
            pos = end  # stops the walk (the tail loop below sees nothing)
            break
        seen += 1
        # The kept kinds by comparisons of ints (specialized: cheaper than a dict lookup's call per record).
        if kind == S_PUB32:
            code = flags & code_flags
        elif kind == S_GDATA32 or kind == S_LDATA32:
            code = 0
        else:
            continue
        if length < 12:
            continue
        try:  # a tuple indexed (no call per record); a segment past the sections is rare
            base = bases[segment]
        except IndexError:
            continue
        if base is None:
            continue
        nul = chars.find("\0", text, pos)
        sym = chars[text:pos if nul < 0 else nul]
        if not sym.isascii():  # a name that is not ASCII: decoded from its bytes (latin-1 is 1:1 only in ASCII)
            sym = records[text:pos if nul < 0 else nul].decode("utf-8", "replace")
        if code:
            functions.setdefault(base + offset, sym)
        else:
            data.setdefault(base + offset, sym)
    while pos + 4 <= end:  # the last records, shorter than a symbol head: counted, never kept
        length, kind = head(records, pos)
        if length < 2 or pos + 2 + length > end:
            break
        seen += 1
        pos += 2 + length
    return seen


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
