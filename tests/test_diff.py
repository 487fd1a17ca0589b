"""``api-to-etw diff``: reading every format into the same rows, keying, comparing, rendering, exit codes."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os

import pytest
from conftest import SHARED

from api_to_etw.analysis.records import (
    KIND_LEGACY,
    KIND_MANIFEST,
    KIND_TRACELOGGING,
    LEGACY_PROVIDER,
    EventInfo,
    Row,
)
from api_to_etw.diff import (
    ADDED,
    CHANGED,
    REMOVED,
    compare,
    detect_format,
    diff_files,
    exit_code,
    read_table,
)
from api_to_etw.errors import CorruptMetadataError, ExitCode, InputNotFoundError
from api_to_etw.render.diff import TSV_COLUMNS, render_diff
from api_to_etw.render.rows import PUBLISHED_COLUMNS
from api_to_etw.render.tables import render

PUBLISHED_CSV = os.path.join(SHARED, "reference", "api-to-etw-ntoskrnl.exe.csv")
needs_published = pytest.mark.skipif(
    not os.path.isfile(PUBLISHED_CSV),
    reason=f"published reference CSV not found at {PUBLISHED_CSV} (set API_TO_ETW_SHARED to the shared folder)")


# ------------------------------------------------------------------------------------------------ helpers
def parse_args(*argv: object) -> argparse.Namespace:
    from api_to_etw.cli import build_parser

    return build_parser().parse_args(["diff", *(str(a) for a in argv)])


def cmd_diff(args: argparse.Namespace) -> int:
    return int(args.run(args))


def run_diff(capsys, *argv: object) -> tuple[int, str, str]:
    code = cmd_diff(parse_args(*argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def published_rows() -> list[dict[str, str]]:
    with open(PUBLISHED_CSV, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write_csv(path, rows: list[dict[str, str]]) -> str:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=PUBLISHED_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def _num(text: str):
    return None if text in ("", "-") else int(text, 0)


def to_row(cells: dict[str, str]) -> Row:
    """A published CSV row as the Row our analysis would produce, so render() writes our real formats."""
    guid = cells["ProviderGuid"]
    kind = KIND_TRACELOGGING if cells["Id"] == "-" else KIND_LEGACY if guid == LEGACY_PROVIDER else KIND_MANIFEST
    event = EventInfo(
        kind, cells["WriteFunction"], provider_guid=guid, provider_symbol=cells["ProviderSymbol"],
        reghandle_symbol=cells["ReghandleSymbol"], descriptor_symbol=cells["EventDescriptorSymbol"],
        id=_num(cells["Id"]), version=_num(cells["Version"]), channel=_num(cells["Channel"]),
        level=_num(cells["Level"]), opcode=_num(cells["Opcode"]), task=_num(cells["Task"]),
        keyword=_num(cells["Keyword"]),
    )
    path = [p for p in cells["CallPath"].strip("[]").split("->") if p]
    return Row(event, cells["Function"], cells["ContainingFunction"], path,
               int(cells["ExportedCallDepth"]), write_rva=0x1000)


def write_ours(path, rows: list[dict[str, str]], fmt: str) -> str:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(render([to_row(r) for r in rows], fmt))
    return str(path)


def row(function="NtA", guid="11111111-2222-3333-4444-555555555555", symbol="ProvA", handle="HandleA",
        write="EtwWrite", descriptor="EVENT_A", containing="Inner", path="NtA->Inner", **fields) -> dict[str, str]:
    """A small hand-made published-format row; ``fields`` sets Id..Keyword."""
    cells = {"Function": function, "ProviderGuid": guid, "ProviderSymbol": symbol, "ReghandleSymbol": handle,
             "WriteFunction": write, "EventDescriptorSymbol": descriptor, "Id": "1", "Version": "0",
             "Channel": "16", "Level": "4", "Opcode": "0", "Task": "0", "Keyword": "0x8000000000000000",
             "ContainingFunction": containing, "ExportedCallDepth": "0"}
    cells.update({k: str(v) for k, v in fields.items()})
    names = path.split("->")
    cells["CallDepth"] = str(len(names))
    cells["CallPath"] = "[" + "->".join(names) + "]"
    return cells


def pick_named(rows: list[dict[str, str]], count: int) -> list[int]:
    """Indexes of rows in distinct functions whose key is unique, with a GUID and a descriptor name."""
    seen: dict[tuple, int] = {}
    for r in rows:
        k = (r["Function"], r["ProviderGuid"], r["EventDescriptorSymbol"], r["ContainingFunction"])
        seen[k] = seen.get(k, 0) + 1
    picked, functions = [], set()
    for i, r in enumerate(rows):
        k = (r["Function"], r["ProviderGuid"], r["EventDescriptorSymbol"], r["ContainingFunction"])
        if (seen[k] == 1 and r["ProviderGuid"] not in ("", "???", LEGACY_PROVIDER) and r["EventDescriptorSymbol"]
                and r["Function"] not in functions):
            picked.append(i)
            functions.add(r["Function"])
            if len(picked) == count:
                return picked
    raise AssertionError("not enough distinct named rows")


# ----------------------------------------------------------------------------------- the published table
@needs_published
def test_published_against_itself():
    result = diff_files(PUBLISHED_CSV, PUBLISHED_CSV)
    assert result.differences == []
    assert result.old.total == 352
    assert result.unchanged == len(result.old.rows) > 300
    assert "0 added, 0 removed, 0 changed" in result.summary()


@pytest.fixture
def modified(tmp_path):
    """The published table with two rows dropped, a Level changed, a CallDepth changed and a row added."""
    rows = published_rows()
    drop, level, depth, template = pick_named(rows, 4)
    changed = [dict(r) for r in rows]
    changed[level]["Level"] = "1" if changed[level]["Level"] != "1" else "2"
    path = changed[depth]["CallPath"].strip("[]").split("->")
    path.insert(1, "SomeNewHop")
    changed[depth]["CallPath"] = "[" + "->".join(path) + "]"
    changed[depth]["CallDepth"] = str(len(path))
    extra = dict(rows[template], EventDescriptorSymbol="BRAND_NEW_EVENT", Id="4242")
    # The second dropped row: an unnamed one (provider "???").
    unnamed = next(i for i, r in enumerate(rows) if r["ProviderGuid"] == "???")
    kept = [r for i, r in enumerate(changed) if i not in (drop, unnamed)] + [extra]
    return {
        "old": PUBLISHED_CSV,
        "new": write_csv(tmp_path / "modified.csv", kept),
        "rows": rows,
        "dropped": (rows[drop], rows[unnamed]),
        "level": (rows[level], changed[level]),
        "depth": (rows[depth], changed[depth]),
        "added": extra,
    }


def _functions(diffs, kind):
    return sorted((d.key[0], d.row["EventDescriptorSymbol"]) for d in diffs if d.kind == kind)


@needs_published
def test_modified_copy_gives_exactly_those_differences(modified):
    result = diff_files(modified["old"], modified["new"])
    diffs = result.differences
    assert len(diffs) == 5, render_diff(result)
    assert _functions(diffs, REMOVED) == sorted((r["Function"], r["EventDescriptorSymbol"])
                                                for r in modified["dropped"])
    assert _functions(diffs, ADDED) == [(modified["added"]["Function"], "BRAND_NEW_EVENT")]
    changes = {d.key[0]: d.changes for d in diffs if d.kind == CHANGED}
    old_level, new_level = modified["level"]
    assert changes[old_level["Function"]] == [("Level", int(old_level["Level"]), int(new_level["Level"]))]
    old_depth, new_depth = modified["depth"]
    assert changes[old_depth["Function"]] == [("CallDepth", int(old_depth["CallDepth"]), int(new_depth["CallDepth"]))]
    assert result.unchanged == len(result.old.rows) - 4
    assert [d.unnamed for d in diffs if d.kind == REMOVED].count(True) == 1
    assert "1 added, 2 removed, 2 changed" in result.summary()
    assert "(unnamed: 1 removed)" in result.summary()


@needs_published
def test_ignore_unnamed(modified):
    result = diff_files(modified["old"], modified["new"], ignore_unnamed=True)
    assert result.count(REMOVED) == 1 and not any(d.unnamed for d in result.differences if d.kind == REMOVED)
    assert result.ignored == {ADDED: 0, REMOVED: 1}
    assert "ignored 1 unnamed" in result.summary()


@needs_published
def test_reversed_diff_swaps_added_and_removed(modified):
    forward = diff_files(modified["old"], modified["new"])
    backward = diff_files(modified["new"], modified["old"])
    assert _functions(forward.differences, ADDED) == _functions(backward.differences, REMOVED)
    assert _functions(forward.differences, REMOVED) == _functions(backward.differences, ADDED)
    assert {(d.key, tuple((c, n, o) for c, o, n in d.changes)) for d in forward.differences if d.kind == CHANGED} \
        == {(d.key, tuple(d.changes)) for d in backward.differences if d.kind == CHANGED}


@needs_published
@pytest.mark.parametrize("fmt", ["tsv", "csv", "jsonl"])
def test_format_independence(tmp_path, fmt):
    rows = published_rows()
    ours = write_ours(tmp_path / f"table.{fmt}", rows, fmt)
    assert read_table(ours).fmt == fmt
    for old, new in ((PUBLISHED_CSV, ours), (ours, PUBLISHED_CSV)):
        result = diff_files(old, new)
        assert result.differences == [], render_diff(result)
        assert result.unchanged == len(read_table(PUBLISHED_CSV).rows)


@needs_published
def test_differences_are_the_same_whatever_the_formats(tmp_path, modified):
    rows = published_rows()
    expected = render_diff(diff_files(modified["old"], modified["new"]), "tsv")
    old_jsonl = write_ours(tmp_path / "old.jsonl", rows, "jsonl")
    with open(modified["new"], encoding="utf-8", newline="") as handle:
        new_tsv = write_ours(tmp_path / "new.tsv", list(csv.DictReader(handle)), "tsv")
    assert render_diff(diff_files(old_jsonl, new_tsv), "tsv") == expected


@needs_published
def test_renderings(capsys, tmp_path, modified):
    code, out, err = run_diff(capsys, modified["old"], modified["new"])
    assert code == ExitCode.OK
    assert "unchanged" not in err  # text on stdout already carries the summary
    old_level, new_level = modified["level"]
    assert f"\n{old_level['Function']}\n" in out
    assert f"Level: {old_level['Level']} -> {new_level['Level']}" in out
    assert "+ added" in out and "- removed" in out and "[unnamed]" in out
    unchanged = len(read_table(PUBLISHED_CSV).rows) - 4
    assert out.rstrip().splitlines()[-1].endswith(f"2 changed, {unchanged} unchanged (unnamed: 1 removed)")

    code, out, err = run_diff(capsys, modified["old"], modified["new"], "--format", "tsv")
    lines = list(csv.reader(io.StringIO(out), delimiter="\t"))
    assert lines[0] == TSV_COLUMNS
    assert sorted(line[0] for line in lines[1:]) == ["added", "changed", "changed", "removed", "removed"]
    level_line = next(line for line in lines[1:] if line[2] == "Level")
    assert level_line[TSV_COLUMNS.index("Level")] == f"{old_level['Level']} -> {new_level['Level']}"
    assert "1 added, 2 removed, 2 changed" in err

    code, out, err = run_diff(capsys, modified["old"], modified["new"], "--format", "jsonl")
    objects = [json.loads(line) for line in out.splitlines()]
    assert len(objects) == 5
    level_obj = next(o for o in objects if "level" in o["changes"])
    assert level_obj["changes"]["level"] == {"old": int(old_level["Level"]), "new": int(new_level["Level"])}
    added = next(o for o in objects if o["change"] == "added")
    assert added["old"] is None and added["new"]["descriptor_symbol"] == "BRAND_NEW_EVENT"
    assert isinstance(added["new"]["call_path"], list)

    report = tmp_path / "out" / "report.jsonl"
    code, out, err = run_diff(capsys, modified["old"], modified["new"], "-o", report)
    assert out == "" and "1 added" in err
    assert len(report.read_text(encoding="utf-8").splitlines()) == 5  # format taken from the extension


@needs_published
def test_fail_on(capsys, modified):
    old, new = modified["old"], modified["new"]
    assert run_diff(capsys, old, new)[0] == ExitCode.OK
    for kind in ("added", "removed", "changed"):
        assert run_diff(capsys, old, new, "--fail-on", kind)[0] == ExitCode.DIFF_FOUND == 12
    assert run_diff(capsys, old, old, "--fail-on", "added,removed,changed")[0] == ExitCode.OK
    # One named removal is left once the unnamed one is ignored.
    assert run_diff(capsys, old, new, "--fail-on", "removed", "--ignore-unnamed")[0] == ExitCode.DIFF_FOUND


def test_fail_on_kinds(capsys, tmp_path):
    old = write_csv(tmp_path / "old.csv", [row(), row(function="NtB", path="NtB->Inner")])
    new = write_csv(tmp_path / "new.csv", [row(Level=5), row(function="NtB", path="NtB->Inner")])
    assert run_diff(capsys, old, new, "--fail-on", "added,removed")[0] == ExitCode.OK
    assert run_diff(capsys, old, new, "--fail-on", "added", "--fail-on", "removed")[0] == ExitCode.OK
    assert run_diff(capsys, old, new, "--fail-on", "added", "--fail-on", "changed")[0] == ExitCode.DIFF_FOUND
    assert run_diff(capsys, old, new, "--fail-on", " Changed ")[0] == ExitCode.DIFF_FOUND
    assert exit_code(diff_files(old, new), ["changed"]) == ExitCode.DIFF_FOUND
    assert exit_code(diff_files(old, new), []) == ExitCode.OK
    with pytest.raises(SystemExit) as exc:
        parse_args(old, new, "--fail-on", "added,moved")
    assert exc.value.code == 2


# ------------------------------------------------------------------------------- keying and normalising
def test_normalisation_across_formats(tmp_path):
    plain = write_csv(tmp_path / "plain.csv", [row(Keyword="0x200000000000", Id="-", Version="-", Task="-")])
    record = {"function": "NtA", "provider_guid": "{11111111-2222-3333-4444-555555555555}".upper(),
              "provider_symbol": "ProvA", "reghandle_symbol": "HandleA", "write_function": "EtwWrite",
              "descriptor_symbol": "EVENT_A", "id": None, "version": None, "channel": 16, "level": 4,
              "opcode": 0, "task": None, "keyword": 0x200000000000, "containing_function": "Inner",
              "call_depth": 2, "exported_call_depth": 0, "call_path": ["NtA", "Inner"], "kind": "manifest",
              "resolved": True}
    jsonl = tmp_path / "typed.jsonl"
    jsonl.write_text("\n" + json.dumps(record) + "\n\n", encoding="utf-8")
    tsv = tmp_path / "quoted.tsv"
    tsv.write_text("\t".join(PUBLISHED_COLUMNS) + "\n" + "\t".join([
        "NtA", "11111111-2222-3333-4444-555555555555", '"ProvA"', "HandleA", "EtwWrite", '"EVENT_A"', "", "",
        "16", "4", "0", "-", "0X200000000000", "Inner", "2", "0", "[NtA->Inner]"]) + "\n", encoding="utf-8")
    assert detect_format(jsonl.read_text()) == "jsonl"
    assert detect_format(tsv.read_text()) == "tsv"
    for other in (jsonl, tsv):
        result = diff_files(plain, str(other))
        assert result.differences == [] and result.unchanged == 1, render_diff(result)
    values = next(iter(read_table(str(jsonl)).rows.values())).values
    assert values["ProviderGuid"] == "11111111-2222-3333-4444-555555555555"
    assert values["Keyword"] == "0x200000000000" and values["Id"] is None and values["Channel"] == 16
    assert values["CallPath"] == ("NtA", "Inner")


def test_legacy_rows_are_keyed_on_symbols(tmp_path):
    legacy = dict(guid=LEGACY_PROVIDER, write="EtwTraceKernelEvent", Id="", Version="", Channel="", Level="",
                  Opcode="", Task="", Keyword="")
    old = write_csv(tmp_path / "old.csv", [row(symbol="MEMINFO", handle="MEMORY", descriptor="MM_STATS", **legacy),
                                           row(symbol="POWER", handle="POWER", descriptor="MM_STATS", **legacy)])
    new = write_csv(tmp_path / "new.csv", [row(symbol="MEMINFO", handle="MEMORY", descriptor="MM_STATS", **legacy)])
    result = diff_files(old, new)
    assert [(d.kind, d.row["ProviderSymbol"]) for d in result.differences] == [(REMOVED, "POWER")]
    assert result.unchanged == 1


def test_event_without_symbol_is_keyed_on_fields(tmp_path):
    old = write_csv(tmp_path / "old.csv", [row(descriptor="", Id=7, Channel=16), row(descriptor="", Id=8)])
    new = write_csv(tmp_path / "new.csv", [row(descriptor="", Id=7, Channel=17), row(descriptor="", Id=9)])
    result = diff_files(old, new)
    kinds = sorted((d.kind, d.row["Id"]) for d in result.differences)
    assert kinds == [(ADDED, 9), (CHANGED, 7), (REMOVED, 8)]
    assert next(d for d in result.differences if d.kind == CHANGED).changes == [("Channel", 16, 17)]


def test_duplicates_keep_the_smallest_call_depth(tmp_path):
    deep = row(path="NtA->Middle->Inner")
    shallow = row(path="NtA->Inner")
    old = write_csv(tmp_path / "old.csv", [deep, shallow, deep])
    new = write_csv(tmp_path / "new.csv", [shallow])
    table = read_table(old)
    assert table.total == 3 and len(table.rows) == 1 and table.duplicates == 2
    assert diff_files(old, new).differences == []
    result = diff_files(new, write_csv(tmp_path / "deep.csv", [deep]))
    assert [d.changes for d in result.differences] == [[("CallDepth", 2, 3)]]


def test_unnamed_rows(tmp_path):
    unnamed = [row(guid="???", symbol="", handle="", descriptor="X"),
               row(guid=LEGACY_PROVIDER, symbol="PERF_0x20400001", handle="MEMORY", descriptor="Y"),
               row(descriptor="", Id="", Version="", Channel="", Level="", Opcode="", Task="", Keyword="")]
    named = [row(descriptor="Z")]
    old = write_csv(tmp_path / "old.csv", [])
    new = write_csv(tmp_path / "new.csv", unnamed + named)
    result = diff_files(old, new)
    assert sorted(d.unnamed for d in result.differences) == [False, True, True, True]
    assert "(unnamed: 3 added)" in result.summary()
    ignoring = diff_files(old, new, ignore_unnamed=True)
    assert [d.row["EventDescriptorSymbol"] for d in ignoring.differences] == ["Z"]
    assert ignoring.ignored[ADDED] == 3


def test_compare_tables_directly(tmp_path):
    a = read_table(write_csv(tmp_path / "a.csv", [row(), row(function="NtB", path="NtB->Inner")]))
    b = read_table(write_csv(tmp_path / "b.csv", [row(write="EtwWriteEx")]))
    result = compare(a, b)
    assert [(d.kind, d.key[0]) for d in result.differences] == [(CHANGED, "NtA"), (REMOVED, "NtB")]
    assert result.differences[0].changes == [("WriteFunction", "EtwWrite", "EtwWriteEx")]
    text = render_diff(result, "text")
    assert "WriteFunction: EtwWrite -> EtwWriteEx" in text and text.index("NtA") < text.index("NtB")


# ----------------------------------------------------------------------------------------- bad input
def test_missing_file(tmp_path):
    good = write_csv(tmp_path / "good.csv", [row()])
    with pytest.raises(InputNotFoundError):
        diff_files(good, str(tmp_path / "nope.csv"))
    with pytest.raises(InputNotFoundError):
        read_table(str(tmp_path))
    assert InputNotFoundError.exit_code == ExitCode.FILE_NOT_FOUND


@pytest.mark.parametrize("content", [
    b"",
    b"\n   \n\t\n",
    b"alpha,beta,gamma\n1,2,3\n",
    b"Function\tProviderGuid\n NtA\tx\n",
    b'{"name": "x", "value": 1}\n',
    b"\x00\x01\x02\xff\xfe\x00" * 64,
    b"\xc3\x28\xa0\xa1 not utf-8 at all\n",
    ("\t".join(PUBLISHED_COLUMNS) + "\n").encode() + b"{not json\n",
], ids=["empty", "blank", "no-key-columns", "some-key-columns", "jsonl-no-key-columns", "binary", "not-utf8",
        "tsv-header-only-then-junk"])
def test_malformed_input(tmp_path, content):
    bad = tmp_path / "bad.table"
    bad.write_bytes(content)
    good = write_csv(tmp_path / "good.csv", [row()])
    with pytest.raises(CorruptMetadataError) as exc:
        diff_files(good, str(bad))
    assert "bad.table" in str(exc.value)
    assert CorruptMetadataError.exit_code == ExitCode.CORRUPT_METADATA


def test_malformed_rows(tmp_path):
    header = ",".join(PUBLISHED_COLUMNS)
    short = tmp_path / "short.csv"
    short.write_text(header + "\nNtA,guid,Prov\n", encoding="utf-8")
    jsonl = tmp_path / "broken.jsonl"
    first = {"function": "NtA", "provider_guid": "", "descriptor_symbol": "", "containing_function": ""}
    jsonl.write_text(json.dumps(first) + "\n{truncated\n", encoding="utf-8")
    for path, where in ((short, "line 2"), (jsonl, "line 2")):
        with pytest.raises(CorruptMetadataError, match=where):
            read_table(str(path))


def test_header_only_is_an_empty_table(tmp_path):
    empty = write_csv(tmp_path / "empty.csv", [])
    full = write_csv(tmp_path / "full.csv", [row()])
    result = diff_files(empty, full)
    assert [d.kind for d in result.differences] == [ADDED]


def test_cmd_diff_raises_for_the_cli(capsys, tmp_path):
    good = write_csv(tmp_path / "good.csv", [row()])
    with pytest.raises(InputNotFoundError):
        cmd_diff(parse_args(good, tmp_path / "missing.tsv"))
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(256) + b"\0")
    with pytest.raises(CorruptMetadataError, match="junk.bin"):
        cmd_diff(parse_args(junk, good))
    assert capsys.readouterr().out == ""


def test_conflicting_duplicates_are_warned_and_kept_in_any_order(tmp_path, caplog):
    start, stop = row(descriptor="Activity", Opcode=1), row(descriptor="Activity", Opcode=2)
    one = write_csv(tmp_path / "one.csv", [start, stop])
    two = write_csv(tmp_path / "two.csv", [stop, start])
    with caplog.at_level("WARNING", logger="api_to_etw"):
        result = diff_files(one, two)
    assert result.differences == [] and result.unchanged == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "1 in one.csv and 1 in two.csv" in warnings[0]


def test_utf16_with_bom(tmp_path):
    plain = write_csv(tmp_path / "plain.csv", [row()])
    wide = tmp_path / "wide.csv"
    wide.write_bytes(open(plain, encoding="utf-8").read().encode("utf-16"))
    assert diff_files(plain, str(wide)).differences == []
