"""A small, bounded reader for Microsoft cabinet (CAB) files: enough for symbol-server ``.pd_`` files.

Symbol servers store compressed files as single-file cabinets (``symstore /compress``). The layout
(MS-CAB): a CFHEADER (``MSCF``), optional reserve area, an array of CFFOLDER records, the CFFILE
records at ``coffFiles``, and per folder a chain of CFDATA blocks starting at ``coffCabStart``.
Only the "none" (0) and MSZIP (1) compressions are supported. MSZIP (MS-MCI) blocks each start with
``CK`` followed by a complete raw deflate stream of at most 32 KiB of output; the 32 KiB history
carries over from one block to the next, which ``zlib`` models with a preset dictionary.

Everything read from the file is untrusted: every offset and size is checked against the buffer,
output is bounded by the caller's byte limit and by the per-block sizes, and any inconsistency is a
one-line :class:`CorruptFileError`, never a hang or an unbounded allocation. CFDATA checksums are not
verified; callers verify what they extract (the symbol code checks the PDB GUID/age or PE index).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Optional

from ..errors import CorruptFileError

SIGNATURE = b"MSCF"
HEADER_SIZE = 36
FOLDER_SIZE = 8
FILE_SIZE = 16
DATA_SIZE = 8

FLAG_PREV_CABINET = 0x0001
FLAG_NEXT_CABINET = 0x0002
FLAG_RESERVE_PRESENT = 0x0004

COMPRESS_NONE = 0
COMPRESS_MSZIP = 1
COMPRESS_QUANTUM = 2
COMPRESS_LZX = 3
COMPRESSION_NAMES = {COMPRESS_NONE: "none", COMPRESS_MSZIP: "MSZIP", COMPRESS_QUANTUM: "Quantum", COMPRESS_LZX: "LZX"}

#: MS-MCI: a block never holds more than 32 KiB of uncompressed data ...
MSZIP_BLOCK = 32768
#: ... nor more than 32 KiB + 12 bytes of compressed data (two stored deflate blocks plus "CK").
MSZIP_MAX_COMPRESSED = MSZIP_BLOCK + 12
MAX_NAME = 256


@dataclass(frozen=True)
class CabFolder:
    data_offset: int
    block_count: int
    compression: int

    @property
    def compression_name(self) -> str:
        return COMPRESSION_NAMES.get(self.compression, f"unknown type {self.compression}")


@dataclass(frozen=True)
class CabMember:
    name: str
    size: int
    folder_index: int
    folder_offset: int


class Cabinet:
    """A parsed cabinet held in memory; :meth:`extract` streams one member to a file object."""

    def __init__(self, data: bytes, label: str = "cabinet") -> None:
        self.label = label
        self.folders: list[CabFolder] = []
        self.members: list[CabMember] = []
        self.data_reserve = 0
        self._data = memoryview(data)
        self._parse()

    # ------------------------------------------------------------------ parsing
    def _fail(self, what: str) -> CorruptFileError:
        return CorruptFileError(f"{self.label}: corrupt cabinet: {what}")

    def _parse(self) -> None:
        data = self._data
        if len(data) < HEADER_SIZE or bytes(data[:4]) != SIGNATURE:
            raise self._fail("no MSCF signature")
        cab_size, files_offset, _minor, major, n_folders, n_files, flags = struct.unpack_from(
            "<4xI4xI4xBBHHH", data, 4
        )
        if major != 1:
            raise self._fail(f"unsupported format version {major}")
        if cab_size < HEADER_SIZE or cab_size > len(data):
            raise self._fail(f"header claims {cab_size} bytes but the file has {len(data)}")
        # Everything below must lie inside the cabinet the header describes.
        self._data = data = data[:cab_size]
        if flags & (FLAG_PREV_CABINET | FLAG_NEXT_CABINET):
            raise self._fail("multi-part cabinet sets are not supported")
        pos = HEADER_SIZE
        folder_reserve = 0
        if flags & FLAG_RESERVE_PRESENT:
            self._need(pos, 4, "reserve sizes")
            header_reserve, folder_reserve, self.data_reserve = struct.unpack_from("<HBB", data, pos)
            pos += 4
            if header_reserve > 60000:
                raise self._fail(f"header reserve of {header_reserve} bytes exceeds the 60000 allowed")
            self._need(pos, header_reserve, "header reserve")
            pos += header_reserve
        if n_folders == 0:
            raise self._fail("no folders")
        for index in range(n_folders):
            self._need(pos, FOLDER_SIZE + folder_reserve, f"folder {index}")
            offset, blocks, compression = struct.unpack_from("<IHH", data, pos)
            pos += FOLDER_SIZE + folder_reserve
            if offset < HEADER_SIZE or offset > len(data):
                raise self._fail(f"folder {index} data starts at {offset}, outside the file")
            self.folders.append(CabFolder(offset, blocks, compression & 0x000F))
        if files_offset < pos or files_offset > len(data):
            raise self._fail(f"file table offset {files_offset} is outside the file")
        pos = files_offset
        for index in range(n_files):
            self._need(pos, FILE_SIZE, f"file record {index}")
            size, folder_offset, folder_index = struct.unpack_from("<IIH", data, pos)
            pos += FILE_SIZE
            end = bytes(data[pos : pos + MAX_NAME]).find(b"\0")
            if end < 0:
                raise self._fail(f"file record {index} has an unterminated name")
            name = bytes(data[pos : pos + end]).decode("utf-8", "replace")
            pos += end + 1
            if folder_index >= n_folders:
                raise self._fail(f"file {name!r} is in folder {folder_index} of {n_folders}")
            self.members.append(CabMember(name, size, folder_index, folder_offset))
        if not self.members:
            raise self._fail("no files")

    def _need(self, pos: int, size: int, what: str) -> None:
        if pos + size > len(self._data):
            raise self._fail(f"{what} runs past the end of the file")

    # ------------------------------------------------------------------ extraction
    def member(self, name: Optional[str] = None) -> CabMember:
        """The member called ``name`` (case-insensitive), or the only member when ``name`` is None/absent."""
        if name is not None:
            for member in self.members:
                if member.name.lower() == name.lower():
                    return member
        if len(self.members) == 1:
            return self.members[0]
        wanted = f" named {name!r}" if name else ""
        raise self._fail(f"{len(self.members)} files and none{wanted} to pick")

    def extract(self, member: CabMember, out: BinaryIO, max_bytes: int) -> int:
        """Write ``member``'s bytes to ``out``; returns the count. Refuses members larger than ``max_bytes``."""
        if member.size > max_bytes:
            raise CorruptFileError(
                f"{self.label}: {member.name} is {member.size} bytes, over the {max_bytes}-byte limit"
            )
        folder = self.folders[member.folder_index]
        if folder.compression not in (COMPRESS_NONE, COMPRESS_MSZIP):
            raise CorruptFileError(
                f"{self.label}: {member.name} uses {folder.compression_name} compression; "
                "only uncompressed and MSZIP cabinets are supported"
            )
        start, stop = member.folder_offset, member.folder_offset + member.size
        written = 0
        produced = 0  # uncompressed bytes of the folder decoded so far
        for block in self._blocks(folder):
            if written == member.size:
                break
            block_start, produced = produced, produced + len(block)
            if produced <= start:
                continue
            piece = block[max(0, start - block_start) : min(len(block), stop - block_start)]
            out.write(piece)
            written += len(piece)
        if written != member.size:
            raise self._fail(f"{member.name} needs {member.size} bytes but the folder holds only {written}")
        return written

    def _blocks(self, folder: CabFolder):
        """Yield each CFDATA block's uncompressed bytes, checking every size against the buffer."""
        data = self._data
        pos = folder.data_offset
        history = b""
        for index in range(folder.block_count):
            self._need(pos, DATA_SIZE + self.data_reserve, f"data block {index} header")
            _checksum, packed, unpacked = struct.unpack_from("<IHH", data, pos)
            pos += DATA_SIZE + self.data_reserve
            self._need(pos, packed, f"data block {index} ({packed} bytes)")
            payload = bytes(data[pos : pos + packed])
            pos += packed
            if unpacked > MSZIP_BLOCK:
                raise self._fail(f"data block {index} claims {unpacked} uncompressed bytes (limit {MSZIP_BLOCK})")
            if folder.compression == COMPRESS_NONE:
                if packed != unpacked:
                    raise self._fail(f"stored block {index} has {packed} bytes but claims {unpacked}")
                yield payload
                continue
            block = self._inflate(payload, unpacked, history, index)
            history = (history + block)[-MSZIP_BLOCK:]
            yield block

    def _inflate(self, payload: bytes, unpacked: int, history: bytes, index: int) -> bytes:
        if len(payload) > MSZIP_MAX_COMPRESSED:
            raise self._fail(f"MSZIP block {index} is {len(payload)} bytes (limit {MSZIP_MAX_COMPRESSED})")
        if payload[:2] != b"CK":
            raise self._fail(f"MSZIP block {index} lacks its CK signature")
        try:
            inflater = zlib.decompressobj(-15, zdict=history) if history else zlib.decompressobj(-15)
            # One byte more than promised tells a lying size from an honest one.
            block = inflater.decompress(payload[2:], unpacked + 1)
        except zlib.error as exc:
            raise self._fail(f"MSZIP block {index} does not inflate ({exc})") from None
        if len(block) != unpacked or inflater.unconsumed_tail:
            raise self._fail(f"MSZIP block {index} inflates to more or less than the {unpacked} bytes it claims")
        if not inflater.eof:
            raise self._fail(f"MSZIP block {index} does not end its deflate stream")
        return block


def is_cabinet(head: bytes) -> bool:
    return head[:4] == SIGNATURE


def extract_cab(data: bytes, out: BinaryIO, *, name: Optional[str] = None, max_bytes: int,
                label: str = "cabinet") -> int:
    """Extract the member ``name`` (or the only member) of the cabinet in ``data`` to ``out``."""
    cabinet = Cabinet(data, label)
    return cabinet.extract(cabinet.member(name), out, max_bytes)
