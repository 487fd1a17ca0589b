"""Unit tests of binary/pdb.py against ``llvm-pdbutil dump`` (independent truth) on every committed PDB:
GUID and age, and the public and global data symbols with their RVAs (segment:offset mapped through the
PE's section table, read by pefile). Bounds on hostile MSF directories are in test_parse_limits.py."""

from __future__ import annotations

import glob
import os
import re
import subprocess
import uuid

import pefile
import pytest
from conftest import SAMPLES, require_tools

from api_to_etw.binary.pdb import load_pdb
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
