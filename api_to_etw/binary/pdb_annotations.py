"""S_ANNOTATION records of a PDB's module streams, mapped to RVAs.

``__annotation(L"a", L"b", ...)`` (MSVC; clang for MSVC targets too) puts no code in the function: the compiler
records the strings and the code address at that point of the function as an S_ANNOTATION CodeView symbol in the
module's symbol stream, nested in the procedure's symbols. WPP uses it to carry the trace message formats
(``TMF:``) and the control GUIDs (``TMC:``) into the PDB; see :mod:`api_to_etw.etw.wpp`.

Layout (all little-endian):

* DBI stream (stream 3): a 64-byte header (``module_info_size`` at offset 24), then the module info substream:
  one ModInfo record per module, each a 64-byte fixed part (``stream`` u16 at 34, ``sym_byte_size`` u32 at 36)
  followed by the NUL-terminated module name and object file name, padded to a multiple of 4 bytes.
* A module stream starts with its symbol substream of ``sym_byte_size`` bytes: a u32 signature (4, C13) and
  CodeView symbol records (u16 length, u16 kind, payload); line data follows and is not read here.
* S_ANNOTATION (0x1019): u32 offset, u16 segment, u16 string count, then that many NUL-terminated strings.

Everything is bounds-checked: a record, a stream or a size that does not fit raises :class:`CorruptPdbError`
with a one-line message, and every loop advances by at least one record, so corrupt input cannot hang the reader.
"""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass
from typing import Optional

from ..errors import CorruptPdbError
from .pdb import DBI_HEADER_SIZE, PdbSection, _section_headers, _stream_bytes, _to_rva, iter_records, read_msf

log = logging.getLogger(__name__)

S_ANNOTATION = 0x1019
S_END = 0x0006
S_PROC_ID_END = 0x114F
#: S_GPROC32, S_LPROC32, S_GPROC32_ID, S_LPROC32_ID, S_LPROC32_DPC, S_LPROC32_DPC_ID.
PROC_KINDS = frozenset((0x1110, 0x110F, 0x1147, 0x1146, 0x1155, 0x1156))
CV_SIGNATURE_C13 = 4
MODINFO_FIXED_SIZE = 64
NIL_STREAM = 0xFFFF


@dataclass(frozen=True)
class Annotation:
    """One S_ANNOTATION: where the compiler placed it and its strings."""

    rva: int
    strings: tuple[str, ...]
    #: The module (object file) whose stream holds the record, e.g. ``widget.obj``.
    module: str
    #: The procedure whose symbol scope holds the record (inlined code counts for its caller), if any.
    function: Optional[str] = None
    #: That procedure's RVA.
    function_rva: Optional[int] = None


def read_annotations(pdb_path: str, pe_sections: Optional[list[tuple[str, int, int]]] = None) -> list[Annotation]:
    """Every S_ANNOTATION of the PDB's module streams, sorted by RVA (then module order).

    ``pe_sections`` (name, rva, size) stand in for the PDB's section headers when it has none. Records whose
    segment cannot be mapped to an RVA are skipped with a warning.
    """
    name = os.path.basename(pdb_path)
    return read_msf(pdb_path, lambda pdb: _read(pdb, name, pe_sections))


@dataclass(frozen=True)
class ModuleInfo:
    index: int
    name: str
    object_file: str
    stream: int
    sym_byte_size: int


def module_infos(dbi: bytes, name: str = "PDB") -> list[ModuleInfo]:
    """The DBI stream's ModInfo records (``name`` only labels error messages)."""
    if len(dbi) < DBI_HEADER_SIZE:
        raise CorruptPdbError(f"{name}: DBI stream is truncated ({len(dbi)} bytes)")
    signature, module_size = struct.unpack_from("<i", dbi, 0)[0], struct.unpack_from("<I", dbi, 24)[0]
    if signature != -1:
        raise CorruptPdbError(f"{name}: DBI stream has a bad signature")
    end = DBI_HEADER_SIZE + module_size
    if end > len(dbi):
        raise CorruptPdbError(f"{name}: module info substream ({module_size} bytes) overruns the DBI stream")
    modules: list[ModuleInfo] = []
    pos = DBI_HEADER_SIZE
    while pos + MODINFO_FIXED_SIZE <= end:
        stream, sym_size = struct.unpack_from("<HI", dbi, pos + 34)
        name_end = dbi.find(b"\0", pos + MODINFO_FIXED_SIZE, end)
        obj_end = dbi.find(b"\0", name_end + 1, end) if name_end >= 0 else -1
        if obj_end < 0:
            raise CorruptPdbError(f"{name}: module info record {len(modules)} has unterminated names")
        module_name = dbi[pos + MODINFO_FIXED_SIZE : name_end].decode("utf-8", "replace")
        object_file = dbi[name_end + 1 : obj_end].decode("utf-8", "replace")
        modules.append(ModuleInfo(len(modules), module_name, object_file, stream, sym_size))
        pos = (obj_end + 1 + 3) & ~3
    return modules


def _read(pdb, name: str, pe_sections: Optional[list[tuple[str, int, int]]]) -> list[Annotation]:
    dbi = _stream_bytes(pdb, 3)
    modules = module_infos(dbi, name)
    sections = _sections(pdb, dbi, name)
    if not sections and pe_sections:
        sections = [PdbSection(n, rva, size) for n, rva, size in pe_sections]
    found: list[tuple[int, int, Annotation]] = []
    unmapped = 0
    for module in modules:
        if module.stream == NIL_STREAM or module.sym_byte_size == 0:
            continue
        for seq, annotation in enumerate(_module_annotations(pdb, module, sections, name)):
            if annotation is None:
                unmapped += 1
            else:
                found.append((annotation.rva, module.index * 0x1000000 + seq, annotation))
    if unmapped:
        log.warning("%s: %d S_ANNOTATION records with an unmappable address skipped", name, unmapped)
    found.sort(key=lambda item: (item[0], item[1]))
    return [annotation for _rva, _order, annotation in found]


def _sections(pdb, dbi: bytes, name: str) -> list[PdbSection]:
    """The PDB's section headers (the optional debug header's section-header stream), as load_pdb reads them."""
    (module_size, seccon_size, secmap_size, filinf_size, tsmap_size, _mfc, dbghdr_size,
     ecinfo_size) = struct.unpack_from("<IIIIIIII", dbi, 24)
    dbg_offset = (DBI_HEADER_SIZE + module_size + seccon_size + secmap_size + filinf_size + tsmap_size
                  + ecinfo_size)
    if dbghdr_size < 22 or dbg_offset + 22 > len(dbi):
        return []
    section_stream = struct.unpack_from("<11h", dbi, dbg_offset)[5]
    if section_stream < 0:
        return []
    return _section_headers(_stream_bytes(pdb, section_stream))


def _module_annotations(pdb, module: ModuleInfo, sections: list[PdbSection], name: str):
    """Yield each S_ANNOTATION of the module (None for one whose address does not map)."""
    label = f"{name}: module {module.index} ({os.path.basename(module.name.replace(chr(92), '/'))})"
    data = _stream_bytes(pdb, module.stream)
    if module.sym_byte_size > len(data):
        raise CorruptPdbError(
            f"{label}: symbol substream size {module.sym_byte_size} exceeds its stream ({len(data)} bytes)"
        )
    if module.sym_byte_size < 4:
        raise CorruptPdbError(f"{label}: symbol substream of {module.sym_byte_size} bytes has no signature")
    signature = struct.unpack_from("<I", data, 0)[0]
    if signature != CV_SIGNATURE_C13:
        raise CorruptPdbError(f"{label}: symbol substream signature {signature} is not C13 (4)")
    symbols = data[4 : module.sym_byte_size]
    module_name = os.path.basename(module.name.replace("\\", "/")) or module.name
    # The enclosing procedure: (name, rva, offset of its S_END); offsets count from the stream start, as PtrEnd.
    proc: Optional[tuple[str, Optional[int], int]] = None
    offset = 4
    for kind, payload in iter_records(symbols):
        record_offset = offset
        offset += 4 + len(payload)
        if proc is not None and record_offset >= proc[2]:
            proc = None
        if kind in PROC_KINDS:
            if len(payload) < 36:
                raise CorruptPdbError(f"{label}: truncated procedure record at offset {record_offset}")
            end, code_offset, segment = struct.unpack_from("<I", payload, 4)[0], *struct.unpack_from(
                "<IH", payload, 28)
            stop = payload.find(b"\0", 35)
            proc_name = payload[35 : stop if stop >= 0 else len(payload)].decode("utf-8", "replace")
            # A PtrEnd that does not point past the record (a damaged or unlinked scope): until the next procedure.
            proc = (proc_name, _to_rva(sections, segment, code_offset), end if end > record_offset else 1 << 62)
        elif kind in (S_END, S_PROC_ID_END) and proc is not None and proc[2] == 1 << 62:
            proc = None
        elif kind == S_ANNOTATION:
            strings = _annotation_strings(payload, label, record_offset)
            code_offset, segment = struct.unpack_from("<IH", payload, 0)
            rva = _to_rva(sections, segment, code_offset)
            if rva is None:
                yield None
                continue
            yield Annotation(rva, strings, module_name, proc[0] if proc else None, proc[1] if proc else None)
    if offset + 4 <= module.sym_byte_size:  # iter_records stopped at a record that overruns the substream
        raise CorruptPdbError(f"{label}: symbol record at offset {offset} overruns the symbol substream")


def _annotation_strings(payload: bytes, label: str, offset: int) -> tuple[str, ...]:
    if len(payload) < 8:
        raise CorruptPdbError(f"{label}: truncated S_ANNOTATION at offset {offset}")
    count = struct.unpack_from("<H", payload, 6)[0]
    strings: list[str] = []
    pos = 8
    for _ in range(count):
        stop = payload.find(b"\0", pos)
        if stop < 0:
            raise CorruptPdbError(f"{label}: S_ANNOTATION at offset {offset} claims {count} strings, has {len(strings)}")
        strings.append(payload[pos:stop].decode("utf-8", "replace"))
        pos = stop + 1
    return tuple(strings)
