"""``query`` filters over a store of the committed fixtures, and ``history`` across two builds of the
synthetic kernel whose changes (one event removed, one moved, one added) come from the generator's model."""

from __future__ import annotations

import csv
import io
import json
import os
import re

import pytest
from conftest import SAMPLES, run_cli

from api_to_etw.errors import ExitCode

FIXTURES = [os.path.join(SAMPLES, p) for p in ("synthkernel/O2/synthkernel.exe", "tlg/tlg.dll",
                                               "usermode/telemetry.dll", "wpp")]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    db = tmp_path_factory.mktemp("query") / "fixtures.db"
    result = run_cli("scan", *FIXTURES, "--db", db, "-j", "2", "-q")
    assert result.code == 0, result.stderr
    return db


def tsv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))


def query(store, *args: str) -> list[dict[str, str]]:
    result = run_cli("query", "--db", store, *args)
    assert result.code == 0, result.stderr
    return tsv(result.stdout)


@pytest.fixture(scope="module")
def every(store) -> list[dict[str, str]]:
    rows = query(store)
    assert {r["Binary"] for r in rows} == {"synthkernel.exe", "tlg.dll", "telemetry.dll", "wppkernel.exe",
                                           "wppuser.dll"}
    return rows


def test_unfiltered_rows_are_analyze_rows(store, every):
    expected = tsv(run_cli("analyze", FIXTURES[1], "-o", "-", "-q").stdout)
    got = [{k: v for k, v in r.items() if k not in ("Binary", "FileVersion")} for r in every if r["Binary"] == "tlg.dll"]
    assert got == expected


@pytest.mark.parametrize("args, keep", [
    (("--api", "NtCreateUserProcess"), lambda r: r["Function"] == "NtCreateUserProcess"),
    (("--api", "ntcreate*"), lambda r: r["Function"].startswith("NtCreate")),
    (("--api", "NtCreateUserProcess", "--api", "NtTerminateProcess"),
     lambda r: r["Function"] in ("NtCreateUserProcess", "NtTerminateProcess")),
    (("--provider", "{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}"),
     lambda r: r["ProviderGuid"] == "22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716"),
    (("--provider", "KernelProcessProviderGuid"), lambda r: r["ProviderSymbol"] == "KernelProcessProviderGuid"),
    (("--event", "PROCESS_CREATE"), lambda r: "PROCESS_CREATE" in (r["EventDescriptorSymbol"], r["EventName"])),
    (("--event", "5"), lambda r: r["Id"] == "5"),
    (("--kind", "wpp"), lambda r: r["Kind"] == "wpp"),
    (("--binary", "wpp*"), lambda r: r["Binary"].startswith("wpp")),
    (("--binary", "telemetry.dll", "--kind", "tracelogging"),
     lambda r: r["Binary"] == "telemetry.dll" and r["Kind"] == "tracelogging"),
    (("--grep", r"Ps[A-Z]\w+->Etw"), lambda r: re.search(r"Ps[A-Z]\w+->Etw", "\t".join(r.values()))),
])
def test_filters_select_exactly_the_matching_rows(store, every, args, keep):
    expected = [r for r in every if keep(r)]
    assert expected, f"no fixture row for {args}: the test would prove nothing"
    assert query(store, *args) == expected


def test_field_filter(store, every):
    named = [r for r in every if r["Fields"]]
    assert named
    word = named[0]["Fields"].split()[0]
    assert query(store, "--field", word) == [r for r in every if word.lower() in r["Fields"].lower().split()]


def test_formats(store, every):
    result = run_cli("query", "--db", store, "--kind", "legacy", "--format", "jsonl")
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert objects == [r for r in every if r["Kind"] == "legacy"]
    result = run_cli("query", "--db", store, "--kind", "legacy", "--format", "csv")
    assert list(csv.DictReader(io.StringIO(result.stdout))) == objects


def test_sql_is_read_only(store):
    result = run_cli("query", "--db", store, "--sql", "SELECT name, status FROM binaries ORDER BY name")
    assert result.stdout.splitlines()[:2] == ["name\tstatus", "synthkernel.exe\tok"]
    result = run_cli("query", "--db", store, "--sql", "DELETE FROM rows")
    assert result.code == ExitCode.USAGE and "readonly" in result.stderr and result.stderr.count("\n") == 1
    assert query(store, "--kind", "wpp")


def test_bad_regex_is_a_usage_error(store):
    result = run_cli("query", "--db", store, "--grep", "(")
    assert result.code == ExitCode.USAGE and "not a regular expression" in result.stderr


# ------------------------------------------------------------------------------------------- history
@pytest.fixture(scope="module")
def builds(kernel_builds):
    return kernel_builds


def _truth_changes(old: list[dict], new: list[dict]) -> set[tuple[str, str, str, str]]:
    key = lambda r: (r["Function"], r["EventDescriptorSymbol"], r["ContainingFunction"])  # noqa: E731
    a, b = {key(r): r for r in old}, {key(r): r for r in new}
    compared = ("ProviderGuid", "ProviderSymbol", "ReghandleSymbol", "WriteFunction", "Id", "Version", "Channel",
                "Level", "Opcode", "Task", "CallDepth")
    changes = {("added",) + k for k in b.keys() - a.keys()} | {("removed",) + k for k in a.keys() - b.keys()}
    changes |= {("changed",) + k for k in a.keys() & b.keys() if any(a[k][c] != b[k][c] for c in compared)}
    return changes


def _history(db, *args: str) -> list[dict]:
    result = run_cli("history", "--db", db, "synthkernel.exe", "--format", "jsonl", *args)
    assert result.code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_history_lists_exactly_the_generator_changes(builds):
    db, truths = builds
    expected = _truth_changes(truths["v1"]["rows"], truths["v2"]["rows"])
    variant = truths["v2"]["generator"]["variant"]
    assert {c[2] for c in expected} == {variant["removed"][1], variant["moved"][0], variant["added"][1]}
    entries = _history(db)
    assert {(e["version"], e["previous_version"]) for e in entries} == {("10.0.2.0", "10.0.1.0")}
    assert {(e["change"], e["function"], e["event"], e["containing_function"]) for e in entries} == expected


def test_history_text_in_file_version_order(builds):
    db, _ = builds
    result = run_cli("history", "--db", db, "synthkernel.exe")
    heads = [line for line in result.stdout.splitlines() if line.startswith("=== ")]
    assert [h.split()[2] for h in heads] == ["10.0.1.0", "10.0.2.0"]
    assert "first build, 99 rows" in heads[0]


def test_history_narrowed_by_event_and_api(builds):
    db, truths = builds
    moved, source, target = truths["v2"]["generator"]["variant"]["moved"]
    entries = _history(db, "--event", moved)
    assert {(e["change"], e["containing_function"]) for e in entries} == {("removed", source), ("added", target)}
    added_api = next(c[1] for c in _truth_changes(truths["v1"]["rows"], truths["v2"]["rows"]) if c[0] == "added"
                     and c[2] == truths["v2"]["generator"]["variant"]["added"][1])
    entries = _history(db, "--api", added_api)
    assert [(e["change"], e["function"]) for e in entries] == [("added", added_api)]


def test_history_of_unknown_binary(builds):
    db, _ = builds
    result = run_cli("history", "--db", db, "ntoskrnl.exe")
    assert result.code == ExitCode.FILE_NOT_FOUND and "no binary of that name" in result.stderr
