"""``api-to-etw tracelogging BINARY``: the listing on the fixture DLL and the synthetic kernels, and corrupt metadata.

samples/tlg/tlg.dll is built from samples/tlg/*.c (clang + lld-link, ``python -m samples.tlg.build``); the expected
rows below are read off its C source (tlgmeta.c: blobs; tlgcode.c: which provider each write site uses),
not off the tool's output. Byte-patched copies of it check that damaged metadata gives warnings on
stderr, exit code 9 and the rows decoded before the damage, never a traceback or a hang.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import subprocess
import sys

import pytest
from conftest import LEVELS, REPO, SAMPLES, load_truth, require_fixture_toolchain, run_cli, synth_exe

from api_to_etw.binary.pe import parse_pe
from api_to_etw.errors import ExitCode
from api_to_etw.etw.tracelogging import TLG_IN_NAMES, TLG_OUT_NAMES

TLG_DLL = os.path.join(SAMPLES, "tlg", "tlg.dll")
HEADER = "Kind\tGuid\tProvider\tName\tChannel\tLevel\tOpcode\tKeyword\tTags\tFields\tGroupGuid\tRva\tBlobType"

ALPHA = ("0b6a1c3e-5d2f-4a71-9c84-1f2e3d4c5b6a", "Contoso.Fixture.Alpha")
BETA = ("7f3e2d1c-0b9a-4876-a5b4-c3d2e1f00112", "Contoso.Fixture.Beta")
LEGACY = ("", "Contoso.Fixture.Legacy")
NONE = ("", "")
ALPHA_GROUP = "5e0f6a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"

# (Kind, Guid, Provider, Name, Channel, Level, Opcode, Keyword, Tags, Fields, GroupGuid, BlobType), metadata order.
PROVIDER_ROWS = [
    ("provider", *ALPHA, ALPHA[1], "", "", "", "", "", "", ALPHA_GROUP, "_TlgBlobProvider3"),
    ("provider", *BETA, BETA[1], "", "", "", "", "", "", "", "_TlgBlobProvider3"),
    ("provider", *LEGACY, LEGACY[1], "", "", "", "", "", "", "", "_TlgBlobProvider"),
]
EVENT_ROWS = [
    ("event", *ALPHA, "AlphaStarted", "11", "4", "1", "0x10", "0x208180",
     "Path:UNICODESTRING;Pid:UINT32/PID;Digest:UINT8/HEX[16];Addr:struct{2};Ip:UINT32/IPV4;Port:UINT16/PORT;"
     "Status:UINT32/NTSTATUS", "", "_TlgBlobEvent4"),
    ("event", *ALPHA, "Dup", "11", "2", "0", "0x1", "0x0", "Code:INT32", "", "_TlgBlobEvent4"),
    ("event", *ALPHA, "Dup", "11", "5", "0", "0x2", "0x0", "Code:INT32;Extra:UINT64", "", "_TlgBlobEvent4"),
    ("event", *BETA, "BetaLegacy3", "11", "3", "0", "0x20", "0xa00000",
     "Values:UINT16[];Blob:UINT8<custom:3>;Label:ANSISTRING", "", "_TlgBlobEvent3"),
    ("event", *BETA, "BetaFromHandle", "11", "4", "0", "0x40", "0x0", "When:FILETIME", "", "_TlgBlobEvent4"),
    ("event", *ALPHA, "AlphaBoth", "11", "4", "0", "0x100", "0x0", "A:UINT32", "", "_TlgBlobEvent4"),
    ("event", *BETA, "BetaBoth", "11", "4", "0", "0x200", "0x0", "B:UINT32", "", "_TlgBlobEvent4"),
    ("event", *BETA, "BetaThunk", "11", "5", "0", "0x0", "0x0", "X:UINT32", "", "_TlgBlobEvent4"),
    ("event", *LEGACY, "OldStyle", "11", "3", "2", "0x80", "0x0", "Count:UINT32", "", "_TlgBlobEvent2"),
    ("event", *NONE, "Orphan", "11", "4", "0", "0x0", "0x0", "", "", "_TlgBlobEvent4"),
]


@pytest.fixture(scope="module")
def tlg_cli():
    """The CLI, which runs ``tracelogging`` in-process."""
    return run_cli


def table(text: str) -> list[dict[str, str]]:
    assert text.splitlines()[0] == HEADER
    return list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))


def as_tuple(row: dict[str, str]) -> tuple[str, ...]:
    return tuple(row[c] for c in HEADER.split("\t") if c != "Rva")


def warnings_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ": WARNING: " in line]


def assert_clean_failure(result) -> None:
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr


# ------------------------------------------------------------------------------------------ the fixture DLL


def test_fixture_listing(tlg_cli):
    result = tlg_cli("tracelogging", TLG_DLL)
    assert result.code == ExitCode.OK, result.stderr
    assert warnings_of(result.stderr) == []
    summary = result.stderr.strip().splitlines()
    assert len(summary) == 1
    assert summary[0].startswith("api-to-etw: 3 providers, 10 events (9 tied to a provider) in 1 ETW0 region(s) "
                                 "-> stdout in ")
    rows = table(result.stdout)
    assert [as_tuple(r) for r in rows] == PROVIDER_ROWS + EVENT_ROWS
    for row in rows:
        assert row["Rva"].startswith("0x") and int(row["Rva"], 16) > 0


def test_fixture_formats(tlg_cli, tmp_path):
    csv_result = tlg_cli("tracelogging", TLG_DLL, "--format", "csv", "-q")
    assert csv_result.code == 0 and csv_result.stderr == ""
    csv_rows = list(csv.DictReader(io.StringIO(csv_result.stdout)))
    assert [as_tuple(r) for r in csv_rows] == PROVIDER_ROWS + EVENT_ROWS

    out = tmp_path / "tlg.jsonl"
    result = tlg_cli("tracelogging", TLG_DLL, "-o", out, "-q")  # format from the extension
    assert result.code == 0 and result.stdout == "" and result.stderr == ""
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["name"] for r in records] == [r[3] for r in PROVIDER_ROWS + EVENT_ROWS]
    started = next(r for r in records if r["name"] == "AlphaStarted")
    assert started["level"] == 4 and started["keyword"] == "0x10" and started["provider"] == ALPHA[1]
    status = started["fields"][-1]
    assert status == {"name": "Status", "in_type": "UINT32", "out_type": "NTSTATUS", "tags": "0x804000",
                      "count": None, "variable_count": False, "struct_fields": None, "custom_type_info": None}
    assert started["fields"][3]["struct_fields"] == 2 and started["fields"][2]["count"] == 16
    legacy3 = next(r for r in records if r["name"] == "BetaLegacy3")
    assert legacy3["fields"][0]["variable_count"] is True
    assert legacy3["fields"][1]["custom_type_info"] == "aabbcc"
    orphan = next(r for r in records if r["name"] == "Orphan")
    assert orphan["provider"] is None and orphan["guid"] is None
    alpha = records[0]
    assert alpha["kind"] == "provider" and alpha["group_guid"] == ALPHA_GROUP


def test_bad_inputs_are_one_line_errors(tlg_cli, tmp_path):
    junk = tmp_path / "junk.dll"
    junk.write_bytes(b"hello world\n" * 10)
    for args, code in (((junk,), ExitCode.NOT_A_PE), ((tmp_path / "nope.dll",), ExitCode.FILE_NOT_FOUND),
                       ((os.path.join(SAMPLES, "badinput", "tiny_arm64.dll"),), ExitCode.UNSUPPORTED_ARCH)):
        result = tlg_cli("tracelogging", *args)
        assert result.code == code, result.stderr
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("api-to-etw: error: "), result.stderr


# ---------------------------------------------------------------------------------- byte-patched fixtures


class Patcher:
    """The fixture's bytes with helpers that find blobs through the section table."""

    def __init__(self) -> None:
        with open(TLG_DLL, "rb") as handle:
            self.data = bytearray(handle.read())
        self.image = parse_pe(bytes(self.data), TLG_DLL)
        self.header = bytes(self.data).index(b"ETW0")

    def offset(self, rva: int) -> int:
        section = self.image.section_at(rva)
        return section.raw_offset + rva - section.rva

    def name_at(self, name: bytes, skip: int = 0) -> int:
        """File offset of the NUL-terminated name, the ``skip``-th occurrence in the metadata."""
        pos = self.header
        for _ in range(skip + 1):
            pos = bytes(self.data).index(name + b"\0", pos + 1)
        return pos

    def event_start(self, name: str, tag_bytes: int = 1, skip: int = 0, legacy: bool = False) -> int:
        """File offset of an event blob's type byte (the name follows RemainingSize and the tags)."""
        return self.name_at(name.encode(), skip) - tag_bytes - 2 - (12 if legacy else 11) - 1

    def provider_size_at(self, name: str, legacy: bool = False) -> int:
        """File offset of a provider blob's RemainingSize (the name follows it)."""
        return self.name_at(name.encode()) - 2

    def write(self, path) -> str:
        with open(path, "wb") as handle:
            handle.write(self.data)
        return str(path)


def _u16(data: bytearray, pos: int, value: int) -> None:
    data[pos : pos + 2] = value.to_bytes(2, "little")


def test_patcher_finds_the_blobs():
    p = Patcher()
    assert p.data[p.event_start("AlphaStarted", tag_bytes=3)] == 6
    assert p.data[p.event_start("BetaLegacy3")] == 3
    assert p.data[p.event_start("OldStyle", legacy=True)] == 5
    assert p.data[p.provider_size_at("Contoso.Fixture.Beta") - 17] == 4
    assert p.data[p.provider_size_at("Contoso.Fixture.Legacy") - 1] == 2


def _names(rows: list[dict[str, str]], kind: str) -> list[str]:
    return [r["Name"] for r in rows if r["Kind"] == kind]


def _lying_big_event(p: Patcher) -> None:
    _u16(p.data, p.event_start("BetaLegacy3") + 12, 0xFFFF)


def _lying_small_event(p: Patcher) -> None:
    _u16(p.data, p.event_start("AlphaStarted", tag_bytes=3) + 12, 4)


def _lying_plus_one_event(p: Patcher) -> None:
    pos = p.event_start("Dup") + 12
    _u16(p.data, pos, int.from_bytes(p.data[pos : pos + 2], "little") + 1)


def _lying_provider(p: Patcher) -> None:
    _u16(p.data, p.provider_size_at("Contoso.Fixture.Beta"), 0xFFFF)


def _lying_legacy_event(p: Patcher) -> None:
    _u16(p.data, p.event_start("OldStyle", legacy=True) + 13, 3)


def _unknown_blob_type(p: Patcher) -> None:
    p.data[p.event_start("BetaFromHandle")] = 0x07


def _missing_end_and_garbage(p: Patcher) -> None:
    end = p.name_at(b"Contoso.Fixture.Legacy") + len("Contoso.Fixture.Legacy") + 1
    assert p.data[end] == 1  # _TlgBlobEnd
    p.data[end : end + 4] = b"\x09\x09\x09\x09"


ALL_EVENTS = [r[3] for r in EVENT_ROWS]
ALL_PROVIDERS = [r[3] for r in PROVIDER_ROWS]

CORRUPTIONS = {
    # name: (patch, expected warning text, providers kept, events kept)
    "event RemainingSize 0xffff": (_lying_big_event, "corrupt _TlgBlobEvent3 blob", [], ALL_EVENTS[:3]),
    "event RemainingSize too small": (_lying_small_event, "corrupt _TlgBlobEvent4 blob", [], []),
    "event RemainingSize one too big": (_lying_plus_one_event, "corrupt _TlgBlobEvent4 blob", [], ALL_EVENTS[:1]),
    "legacy event RemainingSize": (_lying_legacy_event, "corrupt _TlgBlobEvent2 blob", [], ALL_EVENTS[:8]),
    "provider RemainingSize 0xffff": (_lying_provider, "corrupt _TlgBlobProvider3 blob", ALL_PROVIDERS[:1],
                                      ALL_EVENTS),
    "unknown blob type": (_unknown_blob_type, "unknown blob type 7", [], ALL_EVENTS[:4]),
    "end marker overwritten": (_missing_end_and_garbage, "unknown blob type 9", ALL_PROVIDERS, ALL_EVENTS),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupt_blob(tlg_cli, tmp_path, case):
    patch, warning, providers, events = CORRUPTIONS[case]
    p = Patcher()
    patch(p)
    result = tlg_cli("tracelogging", p.write(tmp_path / "tlg.dll"))
    assert_clean_failure(result)
    assert result.code == ExitCode.CORRUPT_METADATA, result.stderr
    warned = warnings_of(result.stderr)
    assert len(warned) == 1 and warning in warned[0] and "walk stopped" in warned[0], result.stderr
    assert warned[0].startswith("api-to-etw: WARNING: tlg.dll: ETW0 region at RVA 0x")
    rows = table(result.stdout)
    assert _names(rows, "provider") == providers
    assert _names(rows, "event") == events


def test_corrupt_provider_leaves_its_events_untied(tlg_cli, tmp_path):
    p = Patcher()
    _lying_provider(p)
    rows = table(tlg_cli("tracelogging", p.write(tmp_path / "tlg.dll")).stdout)
    owners = {r["Name"]: r["Provider"] for r in rows if r["Kind"] == "event"}
    assert owners["AlphaStarted"] == ALPHA[1] and owners["BetaBoth"] == "" and owners["BetaThunk"] == ""


def test_wrong_magic(tlg_cli, tmp_path):
    p = Patcher()
    p.data[p.header + 8] ^= 0xFF
    result = tlg_cli("tracelogging", p.write(tmp_path / "tlg.dll"))
    assert_clean_failure(result)
    assert result.code == ExitCode.CORRUPT_METADATA
    warned = warnings_of(result.stderr)
    assert len(warned) == 1 and "has magic" in warned[0] and "not 0xbb8a052b88040e86" in warned[0]
    assert result.stdout == HEADER + "\n"
    assert "0 providers, 0 events" in result.stderr


def test_wrong_header_size(tlg_cli, tmp_path):
    p = Patcher()
    _u16(p.data, p.header + 4, 12)
    result = tlg_cli("tracelogging", p.write(tmp_path / "tlg.dll"))
    assert_clean_failure(result)
    assert result.code == ExitCode.CORRUPT_METADATA
    assert any("region not walked" in w for w in warnings_of(result.stderr))
    assert result.stdout == HEADER + "\n"


@pytest.mark.parametrize("cut, providers, events", [
    ("header", [], []),  # the header itself is cut
    ("AlphaStarted", [], []),
    ("BetaBoth", [], ALL_EVENTS[:6]),
    ("Contoso.Fixture.Legacy", ALL_PROVIDERS[:2], ALL_EVENTS),
    ("end", ALL_PROVIDERS, ALL_EVENTS),  # every blob there, the end marker cut off
])
def test_truncated_region(tlg_cli, tmp_path, cut, providers, events):
    """The file ends inside the ETW0 region: the loader keeps the short section, the walk warns."""
    p = Patcher()
    if cut == "header":
        at = p.header + 10
    elif cut == "end":
        at = p.name_at(b"Contoso.Fixture.Legacy") + len("Contoso.Fixture.Legacy") + 1
    else:
        at = p.name_at(cut.encode()) + 3
    del p.data[at:]
    result = tlg_cli("tracelogging", p.write(tmp_path / "tlg.dll"))
    assert_clean_failure(result)
    assert result.code == ExitCode.CORRUPT_METADATA, result.stderr
    warned = warnings_of(result.stderr)
    assert len(warned) == 1, result.stderr
    assert ("truncated" in warned[0]) if cut == "header" else ("ETW0 region at RVA" in warned[0])
    rows = table(result.stdout)
    assert _names(rows, "provider") == providers
    assert _names(rows, "event") == events


def test_no_metadata_is_not_an_error(tlg_cli, tmp_path):
    p = Patcher()
    p.data[p.header : p.header + 4] = b"XXXX"
    result = tlg_cli("tracelogging", p.write(tmp_path / "tlg.dll"))
    assert result.code == ExitCode.OK
    assert [w.split(": ", 3)[-1] for w in warnings_of(result.stderr)] == ["no TraceLogging metadata (no ETW0 region)"]
    assert result.stdout == HEADER + "\n"


def test_random_damage_never_crashes(tlg_cli, tmp_path):
    """Seeded random byte damage anywhere in the metadata: exit 0 or 9, no traceback, always a table."""
    clean = Patcher()
    start = clean.header
    end = clean.name_at(b"Contoso.Fixture.Legacy") + len("Contoso.Fixture.Legacy") + 2
    rng = random.Random(20240611)
    path = tmp_path / "tlg.dll"
    for _ in range(150):
        p = Patcher()
        for _ in range(rng.randint(1, 6)):
            value = rng.choice((0, 1, 2, 3, 4, 5, 6, 7, 0x7F, 0x80, 0xFF, rng.randrange(256)))
            p.data[rng.randrange(start, end)] = value
        result = tlg_cli("tracelogging", p.write(path), "-q")
        assert_clean_failure(result)
        assert result.code in (ExitCode.OK, ExitCode.CORRUPT_METADATA), result.stderr
        assert result.stdout.startswith(HEADER + "\n")


# ----------------------------------------------------------------------------------- the synthetic kernels


def _in_name(raw: int) -> str:
    name = TLG_IN_NAMES[raw & 0x1F].lstrip("_")
    return name[len("TlgIn"):]


def _truth_fields(fields: list[dict]) -> str:
    """The truth's fields in the command's compact form: name:intype[/outtype][[count]], structs name:struct{n}."""
    parts = []
    for f in fields:
        if f["in_type"] & 0x1F == 24:
            parts.append(f"{f['name']}:struct{{{f['out_type']}}}")
            continue
        text = f"{f['name']}:{_in_name(f['in_type'])}"
        if f["out_type"]:
            text += "/" + TLG_OUT_NAMES[f["out_type"]][len("TlgOut"):]
        if f["count"] is not None:
            text += f"[{f['count']}]"
        elif f["in_type"] & 0x60 == 0x40:
            text += "[]"
        parts.append(text)
    return ";".join(parts)


@pytest.mark.parametrize("level", LEVELS)
def test_synthkernel_matches_truth(tlg_cli, level):
    truth = load_truth()["tracelogging"]
    result = tlg_cli("tracelogging", synth_exe(level), "--format", "jsonl")
    assert result.code == ExitCode.OK, result.stderr
    assert warnings_of(result.stderr) == []
    records = [json.loads(line) for line in result.stdout.splitlines()]
    providers = {(r["guid"], r["name"], r["group_guid"]) for r in records if r["kind"] == "provider"}
    assert providers == {(p["guid"], p["name"], p["group_guid"]) for p in truth["providers"]}
    events = sorted((r["guid"], r["provider"], r["name"], r["channel"], r["level"], r["opcode"],
                     int(r["keyword"], 16), int(r["tags"], 16)) for r in records if r["kind"] == "event")
    expected = sorted((e["provider_guid"], e["provider"], e["name"], e["channel"], e["level"], e["opcode"],
                       e["keyword"], e["tags"]) for e in truth["events"])
    assert events == expected  # every event present, and each tied to the provider its write site uses

    tsv = table(tlg_cli("tracelogging", synth_exe(level), "-q").stdout)
    fields = {r["Name"]: r["Fields"] for r in tsv if r["Kind"] == "event"}
    assert fields == {e["name"]: _truth_fields(e["fields"]) for e in truth["events"]}


def test_help_lists_the_options(tlg_cli):
    result = tlg_cli("tracelogging", "--help")
    assert result.code == 0
    for option in ("-o OUTPUT", "--format {tsv,csv,jsonl}", "-q", "-v"):
        assert option in result.stdout


def test_fixture_rebuilds_byte_for_byte():
    require_fixture_toolchain()
    proc = subprocess.run([sys.executable, "-m", "samples.tlg.build", "--check"], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "reproduced" in proc.stdout


def test_fixture_sources_are_committed_next_to_the_dll():
    for name in ("build.py", "tlg.h", "tlgmeta.c", "tlgcode.c", "tlgwrite.c", "tlg.dll"):
        assert os.path.isfile(os.path.join(SAMPLES, "tlg", name)), name
