"""The bounded CAB reader: round trips through a test-side MSZIP writer, gcab interop, hostile cabinets."""

from __future__ import annotations

import io
import random
import struct
import subprocess
import time
import zipfile
import zlib

import pytest
from conftest import needs_tools

from api_to_etw.binary.cab import Cabinet, extract_cab
from api_to_etw.binary.symsrv import expand_compressed
from api_to_etw.errors import CorruptFileError

BLOCK = 32768


def make_cab(files, compression=1, reserve=None, block=BLOCK, history=True, flags=0):
    """A single-folder cabinet holding ``files`` [(name, bytes)], written the way MS-CAB lays it out.

    MSZIP blocks are "CK" + a complete raw deflate stream per block; with ``history`` each block is
    compressed against the previous 32 KiB (as MS-MCI requires readers to support).
    """
    folder_data = b"".join(data for _, data in files)
    blocks = []
    window = b""
    for start in range(0, max(len(folder_data), 1), block):
        chunk = folder_data[start : start + block]
        if compression == 1:
            if history and window:
                packer = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=window)
            else:
                packer = zlib.compressobj(9, zlib.DEFLATED, -15)
            payload = b"CK" + packer.compress(chunk) + packer.flush()
            window = (window + chunk)[-BLOCK:]
        else:
            payload = chunk
        blocks.append((payload, len(chunk)))
    header_reserve, folder_reserve, data_reserve = reserve or (0, 0, 0)
    if reserve:
        flags |= 0x0004
    header_len = 36 + (4 + header_reserve if reserve else 0)
    files_offset = header_len + 8 + folder_reserve
    entries = b""
    offset = 0
    for name, data in files:
        entries += struct.pack("<IIHHHH", len(data), offset, 0, 0x5A21, 0, 0x20) + name.encode() + b"\0"
        offset += len(data)
    data_offset = files_offset + len(entries)
    blob = b"".join(struct.pack("<IHH", 0, len(p), n) + b"\0" * data_reserve + p for p, n in blocks)
    total = data_offset + len(blob)
    header = b"MSCF" + struct.pack("<IIIIIBBHHHHH", 0, total, 0, files_offset, 0, 3, 1, 1, len(files), flags, 0, 0)
    if reserve:
        header += struct.pack("<HBB", header_reserve, folder_reserve, data_reserve) + b"\x55" * header_reserve
    folder = struct.pack("<IHH", data_offset, len(blocks), compression) + b"\x66" * folder_reserve
    return header + folder + entries + blob


def sample(size, seed=1):
    """Compressible but not trivial data: repeated phrases with noise, so matches span blocks."""
    rng = random.Random(seed)
    words = [bytes(rng.choice(b"abcdefghijklmnop") for _ in range(rng.randint(3, 12))) for _ in range(300)]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + bytes([rng.randint(0, 255)]) if rng.random() < 0.05 else rng.choice(words) + b" "
    return bytes(out[:size])


def extract(data, name=None, max_bytes=1 << 24):
    out = io.BytesIO()
    extract_cab(data, out, name=name, max_bytes=max_bytes, label="t.cab")
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, 1000, BLOCK - 1, BLOCK, BLOCK + 1, 5 * BLOCK + 123])
def test_mszip_round_trip(size):
    data = sample(size)
    assert extract(make_cab([("k.pdb", data)])) == data


def test_history_is_carried_between_blocks():
    data = sample(4 * BLOCK)
    cab = make_cab([("k.pdb", data)])
    assert extract(cab) == data
    # The writer really references earlier blocks: inflating each block on its own fails or differs.
    folder = Cabinet(cab).folders[0]
    naive = bytearray()
    pos = folder.data_offset
    try:
        for _ in range(folder.block_count):
            _checksum, packed, _unpacked = struct.unpack_from("<IHH", cab, pos)
            naive += zlib.decompressobj(-15).decompress(cab[pos + 10 : pos + 8 + packed])
            pos += 8 + packed
    except zlib.error:
        return
    assert bytes(naive) != data


def test_stored_and_multiple_members_and_reserves():
    a, b, c = sample(40000, 2), sample(10, 3), sample(70000, 4)
    for compression in (0, 1):
        cab = make_cab([("a.pdb", a), ("B.PDB", b), ("c.sys", c)], compression=compression, reserve=(20, 3, 5))
        cabinet = Cabinet(cab)
        assert [m.name for m in cabinet.members] == ["a.pdb", "B.PDB", "c.sys"]
        assert extract(cab, "a.pdb") == a
        assert extract(cab, "b.pdb") == b  # names compare case-insensitively
        assert extract(cab, "c.sys") == c
    with pytest.raises(CorruptFileError, match="none named"):
        extract(make_cab([("a", a), ("b", b)]), "zzz")


@pytest.mark.parametrize("kind,label", [(2, "Quantum"), (3, "LZX"), (0x1503, "LZX"), (7, "unknown type 7")])
def test_unsupported_compression_is_named(kind, label):
    cab = make_cab([("k.pdb", b"x" * 100)], compression=0)
    cabinet = Cabinet(cab)
    pos = 36
    patched = cab[: pos + 6] + struct.pack("<H", kind) + cab[pos + 8 :]
    assert cabinet.folders
    with pytest.raises(CorruptFileError, match=label):
        extract(patched)


def test_member_over_the_limit_is_refused_before_decoding():
    cab = make_cab([("k.pdb", sample(100000))])
    with pytest.raises(CorruptFileError, match="over the 1000-byte limit"):
        extract(cab, max_bytes=1000)


def _patch(data, offset, fmt, value):
    return data[:offset] + struct.pack(fmt, value) + data[offset + struct.calcsize(fmt) :]


def _first_block(cab):
    return Cabinet(cab).folders[0].data_offset


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda c: b"MSCG" + c[4:], "no MSCF signature"),
        (lambda c: c[:20], "no MSCF signature"),
        (lambda c: _patch(c, 8, "<I", len(c) + 1), "header claims"),
        (lambda c: _patch(c, 8, "<I", 0xFFFFFFFF), "header claims"),
        (lambda c: _patch(c, 16, "<I", 0x7FFFFFFF), "file table offset"),
        (lambda c: _patch(c, 25, "<B", 2), "version 2"),
        (lambda c: _patch(c, 26, "<H", 0), "no folders"),
        (lambda c: _patch(c, 26, "<H", 0xFFFF), "runs past the end|outside the file"),
        (lambda c: _patch(c, 28, "<H", 0xFFFF), "runs past the end|unterminated"),
        (lambda c: _patch(c, 30, "<H", 1), "multi-part"),
        (lambda c: _patch(c, 36, "<I", 0x7FFFFFFF), "outside the file"),
        (lambda c: _patch(c, 36 + 4, "<H", 0xFFFF), "runs past the end"),
        (lambda c: _patch(c, 44 + 8, "<H", 5), "folder 5"),
        (lambda c: _patch(c, 44, "<I", 0x7FFFFFFF), "over the"),
        (lambda c: _patch(c, 44 + 4, "<I", 0x7FFFFFF0), "holds only"),
        (lambda c: _patch(c, _first_block(c) + 4, "<H", 0xFFFF), "runs past the end"),
        (lambda c: _patch(c, _first_block(c) + 6, "<H", 0xFFFF), "limit 32768"),
        (lambda c: _patch(c, _first_block(c) + 6, "<H", 100), "claims"),
        (lambda c: _patch(c, _first_block(c) + 6, "<H", BLOCK - 1), "claims"),
        (lambda c: c[: _first_block(c) + 8] + b"XX" + c[_first_block(c) + 10 :], "CK signature"),
        (lambda c: c[: _first_block(c) + 10] + b"\xff" * 16 + c[_first_block(c) + 26 :], "inflate|claims"),
    ],
)
def test_hostile_cabinets_fail_cleanly(mutate, message):
    cab = make_cab([("k.pdb", sample(3 * BLOCK))])
    with pytest.raises(CorruptFileError, match=message):
        extract(mutate(cab), max_bytes=1 << 20)


def test_every_truncation_fails_cleanly():
    cab = make_cab([("k.pdb", sample(2 * BLOCK + 10))])
    for cut in list(range(0, 200)) + list(range(200, len(cab), 997)):
        with pytest.raises(CorruptFileError):
            extract(cab[:cut])


def test_random_corruption_never_hangs_or_escapes():
    cab = make_cab([("k.pdb", sample(3 * BLOCK))])
    rng = random.Random(7)
    started = time.monotonic()
    for _ in range(400):
        data = bytearray(cab)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            out = extract(bytes(data), max_bytes=1 << 20)
        except CorruptFileError:
            continue
        assert len(out) <= 1 << 20
    assert time.monotonic() - started < 30


def test_stored_block_with_lying_size():
    cab = make_cab([("k.pdb", b"abc" * 100)], compression=0)
    with pytest.raises(CorruptFileError, match="stored block 0"):
        extract(_patch(cab, _first_block(cab) + 6, "<H", 299))


@needs_tools("gcab")
@pytest.mark.parametrize("size", [0, 5000, 3 * BLOCK + 17])
@pytest.mark.parametrize("compress", [True, False])
def test_gcab_cabinets(tmp_path, size, compress):
    data = sample(size, 9)
    (tmp_path / "k.pdb").write_bytes(data)
    cab = tmp_path / "k.pd_"
    args = ["gcab", "-c", "-n"] + (["-z"] if compress else []) + [str(cab), str(tmp_path / "k.pdb")]
    subprocess.run(args, check=True, capture_output=True)
    raw = cab.read_bytes()
    assert Cabinet(raw).folders[0].compression == (1 if compress else 0)
    assert extract(raw, "k.pdb") == data


def test_expand_compressed_handles_cab_zip_and_garbage(tmp_path):
    data = sample(80000, 5)
    cab = tmp_path / "a.pd_"
    cab.write_bytes(make_cab([("a.pdb", data)]))
    out = io.BytesIO()
    assert expand_compressed(str(cab), out, "a.pdb", 1 << 20) == len(data)
    assert out.getvalue() == data

    zipped = tmp_path / "b.pd_"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("b.pdb", data)
    out = io.BytesIO()
    assert expand_compressed(str(zipped), out, "b.pdb", 1 << 20) == len(data)
    assert out.getvalue() == data
    with pytest.raises(CorruptFileError, match="over the 1000-byte limit"):
        expand_compressed(str(zipped), io.BytesIO(), "b.pdb", 1000)

    junk = tmp_path / "c.pd_"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(CorruptFileError, match="neither a CAB nor a ZIP"):
        expand_compressed(str(junk), io.BytesIO(), "c.pdb", 1 << 20)
    bad_zip = tmp_path / "d.pd_"
    bad_zip.write_bytes(b"PK\x03\x04" + b"\x00" * 60)
    with pytest.raises(CorruptFileError, match="ZIP"):
        expand_compressed(str(bad_zip), io.BytesIO(), "d.pdb", 1 << 20)
