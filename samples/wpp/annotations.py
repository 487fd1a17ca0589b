"""Carrying the objects' S_ANNOTATION records into the PDB (lld 14 leaves S_SKIP placeholders)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

# ---------------------------------------------------------------------------------------------------------------
# Carrying the objects' S_ANNOTATION records into the PDB.
#
# clang compiles __annotation(...) into an S_ANNOTATION symbol (offset, segment, string count, NUL-terminated
# strings) nested in the procedure's symbols, its offset relocated (SECREL) against the code section. lld 14 does
# not copy the record into the PDB ("ignoring unknown symbol record with kind 0x1019" with /verbose): it leaves a
# zero-filled S_SKIP record of the same size in its place, so that every other record keeps its offset. MSVC's
# linker keeps the record. After linking, each placeholder is overwritten with the object's annotation: the
# placeholder's enclosing procedure in the PDB names the procedure, the annotations of that procedure are taken
# in the object's order, and the address is the procedure's address in the PDB + the annotation's offset from
# the procedure's first byte in the object (the linker never splits a section's code). Sizes do not change, so
# the blocks of the module stream are rewritten in place. If the linker kept the annotations, nothing is done.
# ---------------------------------------------------------------------------------------------------------------

S_ANNOTATION = 0x1019
S_SKIP = 0x0007
S_GPROC32, S_LPROC32, S_GPROC32_ID, S_LPROC32_ID = 0x1110, 0x110F, 0x1147, 0x1146
PROC_KINDS = (S_GPROC32, S_LPROC32, S_GPROC32_ID, S_LPROC32_ID)
MSF_MAGIC = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0"


@dataclass
class ObjAnnotation:
    proc: str
    delta: int           # offset from the procedure's first byte
    strings: list[str]


def _u16(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 2], "little")


def _u32(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 4], "little")


def _records(data: bytes, start: int, end: int):
    """(offset, kind, record bytes including the length prefix) of each CodeView symbol record."""
    pos = start
    while pos + 4 <= end:
        length = _u16(data, pos)
        if length < 2 or pos + 2 + length > end:
            raise RuntimeError(f"malformed CodeView record at {pos:#x}")
        yield pos, _u16(data, pos + 2), data[pos : pos + 2 + length]
        pos += 2 + length


def obj_annotations(path: str) -> list[ObjAnnotation]:
    """The S_ANNOTATION records of a COFF object, located relative to their enclosing procedure."""
    with open(path, "rb") as handle:
        obj = handle.read()
    nsections, symtab, nsyms, opt = _u16(obj, 2), _u32(obj, 8), _u32(obj, 12), _u16(obj, 16)
    strtab = symtab + 18 * nsyms
    symbols: dict[int, tuple[str, int, int]] = {}  # index -> (name, value, section number)
    i = 0
    while i < nsyms:
        raw = obj[symtab + 18 * i : symtab + 18 * i + 18]
        if raw[:4] == b"\0\0\0\0":
            off = strtab + _u32(raw, 4)
            name = obj[off : obj.index(b"\0", off)].decode()
        else:
            name = raw[:8].rstrip(b"\0").decode()
        symbols[i] = (name, _u32(raw, 8), int.from_bytes(raw[12:14], "little", signed=True))
        i += 1 + raw[17]
    found: list[ObjAnnotation] = []
    for s in range(nsections):
        hdr = 20 + opt + 40 * s
        if obj[hdr : hdr + 8].rstrip(b"\0") != b".debug$S":
            continue
        size, raw_ptr, reloc_ptr, nrelocs = _u32(obj, hdr + 16), _u32(obj, hdr + 20), _u32(obj, hdr + 24), \
            _u16(obj, hdr + 32)
        data = obj[raw_ptr : raw_ptr + size]
        relocs = {}
        for r in range(nrelocs):
            rel = reloc_ptr + 10 * r
            relocs[_u32(obj, rel)] = _u32(obj, rel + 4)  # field offset -> symbol index

        def target(field: int, data: bytes = data, relocs: dict = relocs) -> tuple[int, int]:
            name, value, section = symbols[relocs[field]]
            return section, value + _u32(data, field)

        if _u32(data, 0) != 4:
            continue
        pos = 4
        while pos + 8 <= len(data):
            kind, length = _u32(data, pos), _u32(data, pos + 4)
            body = pos + 8
            if kind == 0xF1:  # symbols
                proc: Optional[tuple[str, int, int]] = None
                for off, rkind, rec in _records(data, body, body + length):
                    if rkind in PROC_KINDS:
                        section, start = target(off + 4 + 28)
                        proc = (rec[4 + 35 : rec.index(b"\0", 4 + 35)].decode(), section, start)
                    elif rkind == S_ANNOTATION:
                        if proc is None:
                            raise RuntimeError(f"{path}: S_ANNOTATION outside a procedure")
                        section, where = target(off + 4)
                        if section != proc[1]:
                            raise RuntimeError(f"{path}: annotation and {proc[0]} in different sections")
                        count = _u16(rec, 4 + 6)
                        strings = rec[4 + 8 :].split(b"\0")[:count]
                        found.append(ObjAnnotation(proc[0], where - proc[2], [t.decode() for t in strings]))
            pos = body + ((length + 3) & ~3)
    return found


def msf_streams(raw: bytes) -> tuple[int, list[Optional[list[int]]], list[int]]:
    """(block size, block list of each stream or None for a nil stream, stream sizes) of an MSF 7.0 file."""
    if raw[:32] != MSF_MAGIC:
        raise RuntimeError("not an MSF 7.0 file")
    bs, dir_bytes, map_addr = _u32(raw, 32), _u32(raw, 44), _u32(raw, 52)
    ndir = (dir_bytes + bs - 1) // bs
    dir_blocks = [_u32(raw, map_addr * bs + 4 * k) for k in range(ndir)]
    directory = b"".join(raw[b * bs : (b + 1) * bs] for b in dir_blocks)[:dir_bytes]
    count = _u32(directory, 0)
    sizes = [_u32(directory, 4 + 4 * k) for k in range(count)]
    pos = 4 + 4 * count
    blocks: list[Optional[list[int]]] = []
    for size in sizes:
        if size == 0xFFFFFFFF:
            blocks.append(None)
            continue
        nblocks = (size + bs - 1) // bs
        blocks.append([_u32(directory, pos + 4 * k) for k in range(nblocks)])
        pos += 4 * nblocks
    return bs, blocks, sizes


def _annotation_record(size: int, offset: int, segment: int, strings: list[str]) -> bytes:
    body = S_ANNOTATION.to_bytes(2, "little") + offset.to_bytes(4, "little") + segment.to_bytes(2, "little")
    body += len(strings).to_bytes(2, "little") + b"".join(s.encode() + b"\0" for s in strings)
    if len(body) + 2 > size:
        raise RuntimeError(f"annotation needs {len(body) + 2} bytes, its placeholder has {size}")
    return (size - 2).to_bytes(2, "little") + body.ljust(size - 2, b"\0")


def restore_annotations(pdb_path: str, per_module: dict[str, list[ObjAnnotation]]) -> int:
    """Overwrite lld's S_SKIP placeholders with the objects' annotations; returns how many were restored."""
    with open(pdb_path, "rb") as handle:
        raw = bytearray(handle.read())
    bs, blocks, sizes = msf_streams(bytes(raw))

    def stream_blocks(index: int) -> list[int]:
        found = blocks[index]
        if found is None:
            raise RuntimeError(f"{os.path.basename(pdb_path)}: stream {index} is nil")
        return found

    def read(index: int) -> bytes:
        return b"".join(bytes(raw[b * bs : (b + 1) * bs]) for b in stream_blocks(index))[: sizes[index]]

    dbi = read(3)
    pos, end, restored = 64, 64 + _u32(dbi, 24), 0
    while pos + 64 <= end:
        name_end = dbi.index(b"\0", pos + 64)
        module = os.path.basename(dbi[pos + 64 : name_end].decode().replace("\\", "/"))
        obj_end = dbi.index(b"\0", name_end + 1)
        stream, sym_size = _u16(dbi, pos + 34), _u32(dbi, pos + 36)
        pos = (obj_end + 1 + 3) & ~3
        wanted = per_module.get(module)
        if not wanted or stream == 0xFFFF:
            continue
        queues: dict[str, list[ObjAnnotation]] = {}
        for ann in wanted:
            queues.setdefault(ann.proc, []).append(ann)
        data = bytearray(read(stream))
        proc: Optional[tuple[str, int, int, int]] = None  # name, end offset, code offset, segment
        for off, kind, rec in list(_records(bytes(data), 4, sym_size)):
            if kind == S_ANNOTATION:
                return 0
            if kind in PROC_KINDS:
                name = rec[4 + 35 : rec.index(b"\0", 4 + 35)].decode()
                proc = (name, _u32(rec, 4 + 4), _u32(rec, 4 + 28), _u16(rec, 4 + 32))
            elif kind == S_SKIP and not any(rec[4:]) and proc is not None and off < proc[1]:
                queue = queues.get(proc[0])
                if not queue:
                    raise RuntimeError(f"{module}: a placeholder in {proc[0]} without an annotation")
                ann = queue.pop(0)
                data[off : off + len(rec)] = _annotation_record(len(rec), proc[2] + ann.delta, proc[3], ann.strings)
                restored += 1
        left = [a.proc for q in queues.values() for a in q]
        if left:
            raise RuntimeError(f"{module}: no placeholder for the annotations in {', '.join(left)}")
        for k, block in enumerate(stream_blocks(stream)):
            chunk = bytes(data[k * bs : (k + 1) * bs])
            raw[block * bs : block * bs + len(chunk)] = chunk
    with open(pdb_path, "wb") as out:
        out.write(bytes(raw))
    return restored


