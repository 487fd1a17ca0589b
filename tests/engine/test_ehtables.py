"""The exception-table reader (engine/native/ehtables.py): the documented encodings, hostile tables, and the
funclet edges surviving a facts file.

The compressed FuncInfo4 bytes below are written by this test's own encoder from the documented rule (the low
bits of the first byte give the length; the value is the little-endian bytes shifted right by it), not by the
reader under test. The hostile images are the funclet fixture's real DLL with its tables overwritten."""

from __future__ import annotations

import json
import os
import random
import re
import struct
import subprocess

import pytest
from conftest import SAMPLES, require_tools, run_cli

from api_to_etw.binary.pe import load_pe, parse_pe
from api_to_etw.engine.frozen import ReplayMemory
from api_to_etw.engine.native import ehtables
from api_to_etw.engine.native.functions import discover
from api_to_etw.errors import ExitCode
from api_to_etw.model import CallSite

DLL = os.path.join(SAMPLES, "funclets", "O2", "funclets.dll")
BASE = 0x1000


def _compressed(value: int) -> bytes:
    """A FuncInfo4 compressed unsigned integer: 1-4 bytes of (value << n | n-1 one bits), else 0x0F + 4 bytes."""
    for length in (1, 2, 3, 4):
        if value < 1 << (7 * length):
            encoded = value << length | ((1 << (length - 1)) - 1)
            return encoded.to_bytes(length, "little")
    return b"\x0f" + value.to_bytes(4, "little")


def _memory(blob: bytes) -> ReplayMemory:
    return ReplayMemory([(BASE, blob)], [(BASE, len(blob), False, False)], 0)


@pytest.mark.parametrize("value", [0, 1, 5, 127, 128, 200, 16383, 16384, 2_000_000, 1 << 27, 0xFFFFFFFF])
def test_compressed_integers(value):
    encoded = _compressed(value)
    reader = ehtables._Reader(_memory(encoded + b"\0" * 8), BASE)
    assert reader.unsigned() == value
    assert reader.rva == BASE + len(encoded)


def test_func_info4_names_unwind_actions_catch_handlers_and_continuations():
    """Header UnwindMap|TryBlockMap; an unwind map of an action funclet, a destructor with its object and an
    entry with no action; one try block with one handler whose continuation is an RVA."""
    head = bytes([0x08 | 0x10]) + struct.pack("<ii", BASE + 0x40, BASE + 0x80)
    unwind = (_compressed(3) + _compressed(0 << 2 | 3) + struct.pack("<i", 0x5000)
              + _compressed(1 << 2 | 1) + struct.pack("<i", 0x5100) + _compressed(0x28)
              + _compressed(2 << 2 | 0))
    tries = _compressed(1) + _compressed(1) + _compressed(1) + _compressed(2) + struct.pack("<i", BASE + 0xC0)
    handlers = (_compressed(1) + bytes([0x01 | 0x08 | 0x10]) + _compressed(0x40) + struct.pack("<ii", 0x5200, 0x5300))
    blob = bytearray(0x100)
    for at, part in ((0, head), (0x40, unwind), (0x80, tries), (0xC0, handlers)):
        blob[at : at + len(part)] = part
    found = ehtables.func_info4(_memory(bytes(blob)), BASE)
    assert found == [(0x5000, "unwind"), (0x5100, "unwind"), (0x5200, "catch"), (0x5300, "landing")]


def test_func_info3_refuses_a_table_without_the_magic():
    table = struct.pack("<5i", 0x19930522, 1, BASE + 0x20, 0, 0) + b"\0" * 12 + struct.pack("<ii", -1, 0x6000)
    assert ehtables.func_info3(_memory(table), BASE) == [(0x6000, "unwind")]
    assert ehtables.func_info3(_memory(b"\x01" + table[1:]), BASE) == []


def test_scope_records_name_filters_finally_blocks_and_landing_pads():
    records = [ehtables.ScopeRecord(0x10, 0x20, 0x3000, 0x18), ehtables.ScopeRecord(0x10, 0x20, 1, 0x1C),
               ehtables.ScopeRecord(0x10, 0x20, 0x3100, 0)]
    assert ehtables.seh_funclets(records) == [(0x3000, "filter"), (0x18, "landing"), (0x1C, "landing"),
                                              (0x3100, "finally")]


def _tables(data: bytes) -> ehtables.ExceptionTables:
    image = parse_pe(data, "funclets.dll")
    fmap = discover(image, {})
    sites: dict[int, dict[int, CallSite]] = {}
    for site in fmap.calls:
        sites.setdefault(site.caller, {})[site.rva] = site
    return ehtables.exception_tables(image, fmap.functions, sites)


def test_lying_counts_and_rvas_outside_the_image_are_ignored():
    """Every scope table's Count and every FuncInfo's counts and map RVAs overwritten with huge values: the
    reader neither raises nor names anything that is not a function of the image."""
    data = bytearray(open(DLL, "rb").read())
    image = load_pe(DLL)
    handlers = ehtables.language_handlers(image)
    assert handlers
    for entry in handlers:
        at = image.file_offset(entry.data, 4)
        (value,) = struct.unpack_from("<I", data, at)
        table = image.file_offset(value, 20)
        if table is not None and struct.unpack_from("<I", data, table)[0] == 0x19930522:  # a FuncInfo
            struct.pack_into("<iiiii", data, table, 0x19930522, 0x7FFFFFFF, -16, 0x7FFFFFFF, 0x7FFFFFF0)
        else:  # a SCOPE_TABLE's Count
            struct.pack_into("<I", data, at, 0xFFFFFFFF)
    tables = _tables(bytes(data))
    functions = discover(parse_pe(bytes(data), "funclets.dll"), {}).functions
    assert all(p in functions and f in functions for p, f in tables.funclets)


def test_random_damage_to_the_tables_never_raises():
    """Bytes of the unwind data and the tables it points at overwritten at random (seeded): each damaged image
    gives an answer (possibly empty), never an exception."""
    clean = open(DLL, "rb").read()
    image = load_pe(DLL)
    spans = [(image.file_offset(rf.unwind, 1), 64) for rf in image.runtime_functions]
    spans += [(image.file_offset(e.data, 1), 64) for e in ehtables.language_handlers(image)]
    spans = [(at, size) for at, size in spans if at is not None]
    rng = random.Random(9)
    for _ in range(60):
        data = bytearray(clean)
        for _k in range(8):
            at, size = rng.choice(spans)
            data[min(at + rng.randrange(size), len(data) - 1)] = rng.randrange(256)
        tables = _tables(bytes(data))
        assert isinstance(tables.funclets, dict)


def test_funclet_edges_survive_a_facts_file(tmp_path):
    facts = tmp_path / "f.facts.json"
    direct = run_cli("analyze", DLL, "--save-facts", facts, "-o", "-")
    assert direct.code == ExitCode.OK, direct.stderr
    doc = json.loads(facts.read_text())
    assert sorted(kind for _p, _f, kind in doc["funclets"]) == ["catch", "filter", "filter", "finally", "unwind"]
    replay = run_cli("analyze", "--facts", facts, "-o", "-")
    assert replay.code == ExitCode.OK, replay.stderr
    assert replay.stdout == direct.stdout and "\tunreached\t" not in direct.stdout


@pytest.mark.parametrize("funclets", [[[1, 2, "catch"]], [[1]], "x"])
def test_a_facts_file_with_bad_funclet_edges_is_refused_in_one_line(tmp_path, funclets):
    facts = tmp_path / "f.facts.json"
    assert run_cli("analyze", DLL, "--save-facts", facts, "-o", tmp_path / "f.tsv").code == ExitCode.OK
    doc = json.loads(facts.read_text())
    doc["funclets"] = funclets if not isinstance(funclets, list) else doc["funclets"] + funclets
    facts.write_text(json.dumps(doc))
    result = run_cli("analyze", "--facts", facts, "-o", tmp_path / "g.tsv")
    assert result.code == ExitCode.CORRUPT_METADATA
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_catch_continuation_is_a_landing_pad_of_the_parent():
    """The catch funclet returns where CatchWrite resumes (``leaq X(%rip), %rax``, which llvm-objdump annotates
    with ``<CatchWrite+off>``): that address is a landing pad of CatchWrite, as the __except blocks are."""
    require_tools("llvm-objdump")
    image = load_pe(DLL)
    tables = _tables(open(DLL, "rb").read())
    ((parent, funclet),) = [pair for pair, kind in tables.funclets.items() if kind == "catch"]
    base = image.image_base
    text = subprocess.run(["llvm-objdump", "-d", "--no-show-raw-insn", f"--start-address={base + funclet:#x}",
                           f"--stop-address={base + funclet + 0x40:#x}", DLL], capture_output=True, text=True,
                          check=True).stdout
    resumes = {int(m.group(1), 16) - base for m in re.finditer(r"leaq\s.*%rax\s+# 0x([0-9a-f]+) <CatchWrite\+", text)}
    assert resumes and resumes <= tables.landing_pads[parent]


@pytest.mark.parametrize("name", ["ViGEmBus.sys", "vcamp140.dll", "OpenConsole.exe", "_etwtrace.cp311-win_amd64.pyd"])
def test_reading_only_the_special_entries_finds_what_reading_every_entry_finds(real_binary, name):
    """The PE load leaves out of ``special_entries`` only plain entries (primary, flags read, no handler): the
    handlers and the chained fragments read from the special entries alone are those read from every entry,
    in the same order."""
    image = load_pe(str(real_binary(name)))
    special = image.special_entries
    assert special is not None and len(special) < len(image.runtime_functions)
    handlers = ehtables.language_handlers(image)
    functions = discover(image, {}).functions
    chained = [rf for rf in image.runtime_functions if rf.parent is not None]
    assert chained == [image.runtime_functions[i] for i in special if image.runtime_functions[i].parent is not None]
    assert chained or name in ("ViGEmBus.sys", "vcamp140.dll")  # OpenConsole.exe has 770, the .pyd 19
    image.special_entries = None
    assert handlers and ehtables.language_handlers(image) == handlers
    assert discover(image, {}).functions == functions


def test_special_entries_of_damaged_unwind_data_still_find_every_handler_and_fragment():
    """The funclets fixture with unwind flags and RUNTIME_FUNCTION entries damaged at random (seeded: chain
    flags, odd unwind RVAs, the form that names another entry, and RVAs outside any section): the special
    entries read give the handlers and fragments a read of every entry gives."""
    clean = open(DLL, "rb").read()
    image = load_pe(DLL)
    entries = image.runtime_functions
    flags = [at for rf in entries if (at := image.file_offset(rf.unwind, 1)) is not None]
    table = clean.find(struct.pack("<III", entries[0].begin, entries[0].end, entries[0].unwind))
    assert flags and table > 0
    rng = random.Random(5)
    chained = 0
    for _ in range(30):
        data = bytearray(clean)
        for _k in range(4):
            data[rng.choice(flags)] = rng.randrange(256)
        for _k in range(2):
            unwind = rng.choice([0x7FFF0000, entries[rng.randrange(len(entries))].unwind | 1])
            struct.pack_into("<I", data, table + 12 * rng.randrange(len(entries)) + 8, unwind)
        damaged = parse_pe(bytes(data), "funclets.dll")
        chained += sum(rf.parent is not None for rf in damaged.runtime_functions)
        found = ehtables.language_handlers(damaged), discover(damaged, {}).functions
        damaged.special_entries = None
        assert (ehtables.language_handlers(damaged), discover(damaged, {}).functions) == found
    assert chained  # the damage made chained entries
