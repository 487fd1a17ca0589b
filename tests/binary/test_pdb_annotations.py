"""S_ANNOTATION reading: the WPP fixture's annotations exactly as its truth.json says, and corrupt PDBs rejected
quickly with CorruptPdbError (never another exception, never a hang)."""

from __future__ import annotations

import os
import random
import shutil
import struct
from typing import Optional

import pytest
from conftest import SAMPLES, load_truth

from api_to_etw.binary.pdb import load_pdb
from api_to_etw.binary.pdb_annotations import Annotation, module_infos, read_annotations
from api_to_etw.errors import CorruptPdbError, InputNotFoundError

WPP = os.path.join(SAMPLES, "wpp")


@pytest.fixture(scope="module")
def truth() -> dict:
    return load_truth("wpp")


def _pdb(image: dict) -> str:
    return os.path.join(WPP, image["pdb"])


# ---------------------------------------------------------------------------------------------------------------
# The fixture.
# ---------------------------------------------------------------------------------------------------------------


def _expected(image: dict) -> list[tuple[tuple[str, ...], str, str]]:
    rows = [(tuple(c["annotation"]), c["module"], c["function"]) for c in image["controls"]]
    rows += [(tuple(m["annotation"]), m["module"], m["function"]) for m in image["messages"]]
    return rows


@pytest.mark.parametrize("which", [0, 1], ids=["wppuser", "wppkernel"])
def test_fixture_annotations_are_read_exactly(truth, which):
    image = truth["images"][which]
    annotations = read_annotations(_pdb(image))
    assert all(isinstance(a, Annotation) for a in annotations)
    got = sorted((a.strings, a.module, a.function) for a in annotations)
    assert got == sorted(_expected(image))


@pytest.mark.parametrize("which", [0, 1], ids=["wppuser", "wppkernel"])
def test_fixture_annotation_addresses_lie_in_their_procedure(truth, which):
    image = truth["images"][which]
    annotations = read_annotations(_pdb(image))
    functions = load_pdb(_pdb(image)).functions  # rva -> name (publics)
    starts = sorted(functions)
    by_name = {name: rva for rva, name in functions.items()}
    assert [a.rva for a in annotations] == sorted(a.rva for a in annotations)
    for a in annotations:
        assert a.function_rva == by_name[a.function], a
        later = [s for s in starts if s > a.function_rva]
        assert a.function_rva <= a.rva < (later[0] if later else a.rva + 1), a


def test_fixture_module_infos(truth):
    import pdbparse

    from api_to_etw.binary.pdb import _stream_bytes

    for image in truth["images"]:
        pdb = pdbparse.parse(_pdb(image), fast_load=True)
        try:
            modules = module_infos(_stream_bytes(pdb, 3))
        finally:
            pdb.fp.close()
        names = [os.path.basename(m.name) for m in modules]
        for message in image["messages"]:
            assert message["module"] in names
        assert names[-1] == "* Linker *"
        assert [m.index for m in modules] == list(range(len(modules)))


def test_a_pdb_without_annotations():
    from conftest import synth_pdb

    assert read_annotations(synth_pdb("O2")) == []


def test_missing_file_is_input_not_found(tmp_path):
    with pytest.raises(InputNotFoundError):
        read_annotations(str(tmp_path / "nope.pdb"))


def test_pe_sections_stand_in_for_missing_section_headers(truth, tmp_path):
    image = truth["images"][0]
    original = read_annotations(_pdb(image))
    path = _copy(image, tmp_path)
    msf = Msf(path)
    dbi = msf.stream(3)
    hdr = struct.unpack_from("<IIIIIIII", dbi, 24)
    dbg = 64 + hdr[0] + hdr[1] + hdr[2] + hdr[3] + hdr[4] + hdr[7]
    msf.patch(3, dbg + 10, struct.pack("<h", -1))  # no section header stream
    assert read_annotations(path) == []  # nothing maps without sections
    import pefile

    pe = pefile.PE(os.path.join(WPP, image["file"]), fast_load=True)
    sections = [(s.Name.rstrip(b"\0").decode(), s.VirtualAddress, s.Misc_VirtualSize) for s in pe.sections]
    assert read_annotations(path, sections) == original


# ---------------------------------------------------------------------------------------------------------------
# Corrupt input: a tiny MSF editor to damage the fixture's PDB in precise ways.
# ---------------------------------------------------------------------------------------------------------------


class Msf:
    """Edits streams of an MSF 7.0 file in place (same sizes), and stream sizes in its directory."""

    def __init__(self, path: str):
        self.path = path
        with open(path, "rb") as handle:
            self.raw = bytearray(handle.read())
        self.bs = struct.unpack_from("<I", self.raw, 32)[0]
        self.dir_bytes, _unknown, map_addr = struct.unpack_from("<III", self.raw, 44)
        ndir = -(-self.dir_bytes // self.bs)
        self.dir_blocks = list(struct.unpack_from(f"<{ndir}I", self.raw, map_addr * self.bs))
        directory = self._directory()
        count = struct.unpack_from("<I", directory, 0)[0]
        self.sizes = list(struct.unpack_from(f"<{count}I", directory, 4))
        pos = 4 + 4 * count
        self.blocks = []
        for size in self.sizes:
            n = 0 if size == 0xFFFFFFFF else -(-size // self.bs)
            self.blocks.append(list(struct.unpack_from(f"<{n}I", directory, pos)))
            pos += 4 * n

    def _directory(self) -> bytes:
        return b"".join(self.raw[b * self.bs : (b + 1) * self.bs] for b in self.dir_blocks)[: self.dir_bytes]

    def _file_offset(self, blocks: list[int], offset: int) -> int:
        return blocks[offset // self.bs] * self.bs + offset % self.bs

    def stream(self, index: int) -> bytes:
        data = b"".join(self.raw[b * self.bs : (b + 1) * self.bs] for b in self.blocks[index])
        return data[: self.sizes[index]]

    def patch(self, index: int, offset: int, data: bytes) -> None:
        for i, byte in enumerate(data):
            self.raw[self._file_offset(self.blocks[index], offset + i)] = byte
        self.save()

    def set_size(self, index: int, size: int) -> None:
        self._patch_directory(4 + 4 * index, struct.pack("<I", size))

    def _patch_directory(self, offset: int, data: bytes) -> None:
        for i, byte in enumerate(data):
            self.raw[self._file_offset(self.dir_blocks, offset + i)] = byte
        self.save()

    def save(self) -> None:
        with open(self.path, "wb") as handle:
            handle.write(self.raw)


def _copy(image: dict, tmp_path) -> str:
    path = str(tmp_path / image["pdb"])
    shutil.copy(_pdb(image), path)
    return path


def _module(msf: Msf, name: str) -> tuple[int, int, int]:
    """(ModInfo offset in the DBI stream, stream index, symbol byte size) of the module ``name``."""
    dbi = msf.stream(3)
    pos = 64
    for module in module_infos(dbi):
        end = dbi.index(b"\0", dbi.index(b"\0", pos + 64) + 1)
        if os.path.basename(module.name) == name:
            return pos, module.stream, module.sym_byte_size
        pos = (end + 1 + 3) & ~3
    raise KeyError(name)


def _first_annotation_offset(data: bytes, size: int) -> int:
    pos = 4
    while pos + 4 <= size:
        length, kind = struct.unpack_from("<HH", data, pos)
        if kind == 0x1019:
            return pos
        pos += 2 + length
    raise AssertionError("no S_ANNOTATION")


def _patch_first_annotation(image: dict, tmp_path, module: str, offset: int, data: bytes) -> str:
    """A copy of the image's PDB with ``data`` written ``offset`` bytes into MODULE's first S_ANNOTATION record."""
    path = _copy(image, tmp_path)
    msf = Msf(path)
    _pos, stream, sym_size = _module(msf, module)
    msf.patch(stream, _first_annotation_offset(msf.stream(stream), sym_size) + offset, data)
    return path


def _expect_corrupt(path: str, match: Optional[str] = None) -> str:
    with pytest.raises(CorruptPdbError, match=match) as info:
        read_annotations(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(os.path.basename(path))
    return message


def test_not_a_pdb(tmp_path):
    path = tmp_path / "garbage.pdb"
    path.write_bytes(os.urandom(8192))
    _expect_corrupt(str(path))


def test_truncated_file(truth, tmp_path):
    path = _copy(truth["images"][0], tmp_path)
    with open(path, "r+b") as handle:
        handle.truncate(3 * 4096)
    _expect_corrupt(path)


def test_truncated_module_stream(truth, tmp_path):
    path = _copy(truth["images"][0], tmp_path)
    msf = Msf(path)
    _pos, stream, sym_size = _module(msf, "widget.obj")
    msf.set_size(stream, sym_size // 2)
    _expect_corrupt(path, "exceeds its stream")


def test_symbol_size_larger_than_the_stream(truth, tmp_path):
    path = _copy(truth["images"][0], tmp_path)
    msf = Msf(path)
    pos, stream, _sym_size = _module(msf, "queue.obj")
    msf.patch(3, pos + 36, struct.pack("<I", msf.sizes[stream] + 4096))
    _expect_corrupt(path, "exceeds its stream")


def test_symbol_size_cutting_a_record(truth, tmp_path):
    path = _copy(truth["images"][0], tmp_path)
    msf = Msf(path)
    pos, stream, sym_size = _module(msf, "widget.obj")
    data = msf.stream(stream)
    ann = _first_annotation_offset(data, sym_size)
    msf.patch(3, pos + 36, struct.pack("<I", ann + 40))  # ends inside the annotation record
    _expect_corrupt(path, "overruns")


def test_record_length_overrunning_the_substream(truth, tmp_path):
    path = _patch_first_annotation(truth["images"][1], tmp_path, "dispatch.obj", 0, struct.pack("<H", 0xFFF0))
    _expect_corrupt(path, "overruns")


def test_zero_record_length(truth, tmp_path):
    path = _patch_first_annotation(truth["images"][1], tmp_path, "dispatch.obj", 0, struct.pack("<H", 0))
    _expect_corrupt(path, "overruns")


def test_annotation_claiming_more_strings(truth, tmp_path):
    path = _patch_first_annotation(truth["images"][0], tmp_path, "queue.obj", 4 + 6, struct.pack("<H", 500))
    _expect_corrupt(path, "claims 500 strings")


def test_bad_symbol_signature(truth, tmp_path):
    path = _copy(truth["images"][0], tmp_path)
    msf = Msf(path)
    _pos, stream, _sym_size = _module(msf, "init.obj")
    msf.patch(stream, 0, struct.pack("<I", 2))
    _expect_corrupt(path, "not C13")


def test_module_stream_that_does_not_exist(truth, tmp_path):
    path = _copy(truth["images"][0], tmp_path)
    msf = Msf(path)
    pos, _stream, _sym_size = _module(msf, "widget.obj")
    msf.patch(3, pos + 34, struct.pack("<H", 999))
    _expect_corrupt(path, "does not exist")


def test_module_substream_larger_than_dbi(truth, tmp_path):
    path = _copy(truth["images"][0], tmp_path)
    msf = Msf(path)
    msf.patch(3, 24, struct.pack("<I", 0x7FFFFFF0))
    _expect_corrupt(path, "overruns the DBI stream")


def test_unterminated_module_names(truth, tmp_path):
    path = _copy(truth["images"][1], tmp_path)
    msf = Msf(path)
    dbi = msf.stream(3)
    module_size = struct.unpack_from("<I", dbi, 24)[0]
    names = bytes(b if b else 0x41 for b in dbi[64 + 64 : 64 + module_size])  # every NUL becomes 'A'
    msf.patch(3, 64 + 64, names)
    _expect_corrupt(path, "unterminated")


def test_dbi_stream_too_short(truth, tmp_path):
    path = _copy(truth["images"][1], tmp_path)
    msf = Msf(path)
    msf.set_size(3, 20)
    _expect_corrupt(path, "DBI stream is truncated")


@pytest.mark.parametrize("seed", range(12))
def test_random_damage_never_escapes_as_another_error(truth, tmp_path, seed):
    """Flip bytes of module symbol streams and the DBI module substream: the result is either a list of
    annotations or CorruptPdbError (the reader's bounds, not a clock, keep it quick)."""
    rng = random.Random(seed)
    image = truth["images"][seed % 2]
    path = _copy(image, tmp_path)
    msf = Msf(path)
    modules = module_infos(msf.stream(3))
    for _ in range(6):
        module = rng.choice([m for m in modules if m.stream != 0xFFFF])
        offset = rng.randrange(0, max(module.sym_byte_size, 4))
        msf.patch(module.stream, offset, bytes([rng.randrange(256)]))
    if seed % 3 == 0:
        msf.patch(3, 64 + rng.randrange(0, 64), bytes([rng.randrange(256)]))
    try:
        result = read_annotations(path)
    except CorruptPdbError as exc:
        assert "\n" not in str(exc)
    else:
        assert all(isinstance(a, Annotation) for a in result)
