"""Unit tests of binary/pdb.py against ``llvm-pdbutil dump`` (independent truth) on every committed PDB:
GUID and age, and the public and global data symbols with their RVAs (segment:offset mapped through the
PE's section table, read by pefile). Bounds on hostile MSF directories are in test_parse_limits.py."""

from __future__ import annotations

import glob
import os
import random
import re
import struct
import subprocess
import uuid

import pefile
import pytest
from conftest import SAMPLES, require_tools

from api_to_etw.binary.pdb import _stream_bytes, _walk_symbols, iter_records, load_pdb, read_msf
from api_to_etw.errors import ApiToEtwError

PDBS = sorted(glob.glob(os.path.join(SAMPLES, "**", "*.pdb"), recursive=True))
IDS = [os.path.relpath(p, SAMPLES) for p in PDBS]
RECORD = re.compile(r"\| (S_PUB32|S_GDATA32|S_LDATA32) \[size = \d+\] `(.*)`\n\s+(.*)")
ADDR = re.compile(r"addr = (\d+):(\d+)")


def pdbutil(*args: str) -> str:
    require_tools("llvm-pdbutil")
    return subprocess.run(["llvm-pdbutil", "dump", *args], check=True, capture_output=True, text=True).stdout


def image_of(pdb: str) -> str:
    (image,) = [p for p in glob.glob(os.path.splitext(pdb)[0] + ".*") if p.endswith((".dll", ".exe", ".sys"))]
    return image


@pytest.fixture(scope="module", params=PDBS, ids=IDS)
def case(request):
    path = request.param
    pe = pefile.PE(image_of(path), fast_load=True)
    sections = [(s.Name.rstrip(b"\0").decode(), s.VirtualAddress, s.Misc_VirtualSize) for s in pe.sections]
    return path, load_pdb(path, sections), [s[1] for s in sections]


def test_fixtures_found():
    assert len(PDBS) >= 8


def test_guid_and_age(case):
    path, symbols, _ = case
    summary = pdbutil("-summary", path)
    guid = re.search(r"GUID: \{([0-9A-F-]+)\}", summary).group(1)
    age = int(re.search(r"Age: (\d+)", summary).group(1))
    assert symbols.guid == uuid.UUID(guid)
    assert symbols.age == age
    assert symbols.matches(uuid.UUID(guid), age)
    assert not symbols.matches(uuid.UUID(guid), age + 1) or symbols.dbi_age == age + 1


def test_guid_matches_the_images_codeview(case):
    path, symbols, _ = case
    pe = pefile.PE(image_of(path))
    (cv,) = [d.entry for d in pe.DIRECTORY_ENTRY_DEBUG if d.struct.Type == 2]
    assert symbols.matches(symbols.guid, cv.Age)
    assert symbols.guid.bytes_le[:4] == cv.Signature_Data1.to_bytes(4, "little")


def _truth(path: str, starts: list[int]) -> tuple[dict[int, set[str]], dict[int, set[str]]]:
    functions: dict[int, set[str]] = {}
    data: dict[int, set[str]] = {}
    text = pdbutil("-publics", "-globals", path)
    for kind, name, detail in RECORD.findall(text):
        where = ADDR.search(detail)
        assert where, detail
        segment, offset = int(where.group(1)), int(where.group(2))
        if not 1 <= segment <= len(starts):
            continue
        rva = starts[segment - 1] + offset
        is_code = kind == "S_PUB32" and ("function" in detail.split("addr")[0] or "code" in detail.split("addr")[0])
        (functions if is_code else data).setdefault(rva, set()).add(name)
    return functions, data


def test_public_and_global_symbols(case):
    path, symbols, starts = case
    functions, data = _truth(path, starts)
    assert functions and data
    # One name per RVA (the first record wins), always one that the PDB gives for that address.
    assert set(symbols.functions) == set(functions)
    assert all(symbols.functions[rva] in names for rva, names in functions.items())
    assert set(symbols.data) == set(data)
    assert all(symbols.data[rva] in names for rva, names in data.items())


def test_record_count_covers_every_symbol(case):
    path, symbols, starts = case
    functions, data = _truth(path, starts)
    assert symbols.record_count >= sum(map(len, functions.values())) + sum(map(len, data.values()))


@pytest.mark.parametrize("cut", [0, 31, 0x400, 0x1000, 0x2000])
def test_truncated_pdb_is_a_named_error(tmp_path, cut):
    with open(PDBS[0], "rb") as handle:
        data = handle.read()[:cut]
    target = tmp_path / "cut.pdb"
    target.write_bytes(data)
    with pytest.raises(ApiToEtwError) as raised:
        load_pdb(str(target))
    assert "cut.pdb" in str(raised.value) and "\n" not in str(raised.value)


def _reference_walk(records: bytes, bases: dict[int, int]) -> tuple[dict[int, str], dict[int, str], int]:
    """The symbol walk written plainly: every record by ``iter_records``, each kept name decoded from its bytes."""
    functions: dict[int, str] = {}
    data: dict[int, str] = {}
    count = 0
    for kind, payload in iter_records(records):
        count += 1
        if kind not in (0x110E, 0x110D, 0x110C) or len(payload) < 10:
            continue
        flags, offset, segment = struct.unpack_from("<IIH", payload)
        if segment not in bases:
            continue
        name = payload[10:].split(b"\0", 1)[0].decode("utf-8", "replace")
        target = functions if kind == 0x110E and flags & 3 else data
        target.setdefault(bases[segment] + offset, name)
    return functions, data, count


def _walked(records: bytes, bases: dict[int, int]) -> tuple[dict[int, str], dict[int, str], int]:
    functions: dict[int, str] = {}
    data: dict[int, str] = {}
    # ``_walk_symbols`` takes the bases by section number (a tuple, 0 standing for no section).
    count = _walk_symbols(records, tuple(bases.get(i) for i in range(max(bases) + 1)), functions, data)
    return functions, data, count


def _symbol_records(path: str) -> bytes:
    def read(pdb) -> bytes:
        dbi = _stream_bytes(pdb, 3)
        return _stream_bytes(pdb, struct.unpack_from("<h", dbi, 20)[0])

    return read_msf(path, read)


@pytest.mark.parametrize("path", PDBS, ids=IDS)
def test_symbol_walk_is_the_plain_walk(path):
    records = _symbol_records(path)
    bases = {index: 0x1000 * index for index in range(1, 9)}
    assert _walked(records, bases) == _reference_walk(records, bases)
    # In order too: the first record of an RVA, in the order the records come.
    assert [list(d.items()) for d in _walked(records, bases)[:2]] == \
        [list(d.items()) for d in _reference_walk(records, bases)[:2]]


@pytest.mark.parametrize("seed", range(40))
def test_symbol_walk_on_made_up_records(seed):
    """Names that are not ASCII or not UTF-8, short and odd-length records, repeated RVAs, unknown segments,
    a last record that overruns or is shorter than a symbol's head."""
    rng = random.Random(seed)
    names = [b"plain", "caf\u00e9".encode(), b"bad\xff\xfeutf8", b"cut\xe2\x82", b"", "\u4e2d".encode(), b"x\x80"]
    out = bytearray()
    for _ in range(rng.randrange(1, 60)):
        kind = rng.choice([0x110E, 0x110D, 0x110C, 0x1125, 0x1108])
        if rng.random() < 0.1:
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 12)))
        else:
            body = struct.pack("<IIH", rng.randrange(4), rng.choice([0, 16, 32, rng.randrange(1 << 32)]),
                               rng.randrange(0, 5)) + rng.choice(names) + b"\0" * rng.randrange(0, 4)
            if rng.random() < 0.2:  # no terminating NUL: the name runs to the record's end
                body = body.rstrip(b"\0")
        out += struct.pack("<HH", len(body) + 2, kind) + body
    if rng.random() < 0.5:
        out += rng.choice([b"\0\0\0\0", b"\x40\x00\x0e\x11abc", b"\x02", b"\x05\x00\x0e\x11\x01\x02\x03"])
    records = bytes(out)
    bases = {1: 0x1000, 2: 0x20000, 3: 0x300000}
    assert _walked(records, bases) == _reference_walk(records, bases)
    assert [list(d.items()) for d in _walked(records, bases)[:2]] == \
        [list(d.items()) for d in _reference_walk(records, bases)[:2]]
