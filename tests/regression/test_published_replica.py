"""Regression against the published Windows 11 output of the original API-To-ETW script.

``samples/replica.py`` (``python -m samples.synth replica``) reads the published table and builds a replica kernel: the union
of the published call paths, and in each containing function the writes of its rows, with the published
provider, handle and descriptor names and field values. This test generates and builds it in a temp dir at -O2
and -Os, analyzes it in-process with the default options, and checks:

(a) every published row the replica reproduces comes back with the same Function, provider, WriteFunction,
    event and ContainingFunction (a ``PERF_0x...`` / ``PERFINFO_LOG_TYPE_0x...`` placeholder is checked by value);
(b) every other row is in the replica's own truth (the generator's model, not the published table);
(c) every published row has a fate, and each one left out has a documented reason;
and that ``api-to-etw diff --ignore-unnamed --fail-on removed`` finds no named published row missing.

The published table is reference data read from ``../shared/reference/`` beside the repository; nothing of it
or of the replica is written into the repository.
"""

from __future__ import annotations

import csv
import os
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import SAMPLES, SHARED, needs_tools, run_cli

from api_to_etw.analysis.pipeline import AnalysisOptions, analyze
from api_to_etw.binary.loader import open_binary
from api_to_etw.engine.native.engine import NativeEngine
from api_to_etw.render.rows import row_columns
from api_to_etw.render.tables import render
from samples import replica as replica_module
from samples.synth.build import build_sample
from samples.synth.verify import verify_sample

CSV_PATH = os.path.join(SHARED, "reference", "api-to-etw-ntoskrnl.exe.csv")
LEVELS = ("O2", "Os")
COMPARED = ("Function", "ProviderGuid", "ProviderSymbol", "ReghandleSymbol", "WriteFunction",
            "EventDescriptorSymbol", "Id", "Version", "Channel", "Level", "Opcode", "Task", "Keyword",
            "ContainingFunction")
TRUTH_KEYS = ("Function", "Kind", "ProviderGuid", "ProviderSymbol", "ReghandleSymbol", "WriteFunction",
              "EventDescriptorSymbol", "Id", "Version", "Channel", "Level", "Opcode", "Task", "Keyword", "GroupMask",
              "HookId", "ContainingFunction", "CallDepth")
HEX_MASK = re.compile(r"^PERF_0x([0-9A-Fa-f]+)$")
HEX_HOOK = re.compile(r"^PERFINFO_LOG_TYPE_0x([0-9A-Fa-f]+)$")

pytestmark = [
    pytest.mark.skipif(not os.path.isfile(CSV_PATH),
                       reason="the published table ../shared/reference/api-to-etw-ntoskrnl.exe.csv is absent"),
    needs_tools("clang", "lld-link"),
]


def _published() -> list[dict]:
    with open(CSV_PATH, newline="", encoding="utf-8-sig") as handle:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)]


def _keyword(text: str) -> str:
    return f"0x{int(text, 16):x}" if text not in ("", "-") else text


def _int(text):
    return None if text in (None, "", "-") else int(text, 0)


def _label(writer: str) -> str:
    """The published WriteFunction convention: TraceLogging helpers without their ``_Etw...`` back-end suffix."""
    if writer.startswith("_tlgWrite") and "_Etw" in writer:
        return writer[: writer.index("_Etw")]
    return writer


def matches(published: dict, ours: dict) -> bool:
    """Does our row carry the published row's names and fields (placeholders compared by the value they hold)?"""
    for column in COMPARED:
        want, got = published[column], ours[column]
        if column == "ProviderSymbol" and HEX_MASK.match(want):
            if ours["Kind"] != "legacy" or _int(ours["GroupMask"]) != int(HEX_MASK.match(want).group(1), 16):
                return False
        elif column == "EventDescriptorSymbol" and HEX_HOOK.match(want):
            if ours["Kind"] != "legacy" or _int(ours["HookId"]) != int(HEX_HOOK.match(want).group(1), 16):
                return False
        elif column == "Keyword":
            if _keyword(want) != _keyword(got):
                return False
        elif want != got:
            return False
    return True


def normalise_ours(row: dict) -> tuple:
    out = dict(row)
    for column in ("Id", "Version", "Channel", "Level", "Opcode", "Task", "CallDepth"):
        out[column] = _int(row[column])
    for column in ("Keyword", "GroupMask", "HookId"):
        out[column] = None if row[column] in ("", "-") else int(row[column], 16)
    return tuple(out[k] for k in TRUTH_KEYS)


def normalise_truth(row: dict) -> tuple:
    out = {k: row[k] for k in TRUTH_KEYS}
    out["WriteFunction"] = _label(row["WriteFunction"])
    return tuple(out[k] for k in TRUTH_KEYS)


@pytest.fixture(scope="module")
def replica(tmp_path_factory):
    out = tmp_path_factory.mktemp("published") / "replica"
    start = time.monotonic()
    model, data = replica_module.write_replica(Path(CSV_PATH), out)
    return SimpleNamespace(module=replica_module, model=model, out=out, data=data, seconds=time.monotonic() - start)


@pytest.fixture(scope="module", params=LEVELS)
def analysed(request, replica):
    level = request.param
    start = time.monotonic()
    build_sample(replica.out, (level,), quiet=True)
    built = time.monotonic()
    loaded = open_binary(str(replica.out / level / "replica.exe"))
    assert loaded.pdb is not None
    result = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions())
    done = time.monotonic()
    tsv = replica.out / f"replica-{level}.tsv"
    tsv.write_text(render(result.rows, "tsv"), encoding="utf-8")
    print(f"\n{level}: generated in {replica.seconds:.2f}s, built in {built - start:.2f}s, "
          f"analyzed in {done - built:.2f}s: {len(result.rows)} rows")
    return SimpleNamespace(level=level, result=result, rows=[row_columns(r) for r in result.rows], tsv=tsv,
                           seconds=(replica.seconds, built - start, done - built))


def test_every_published_row_has_a_fate(replica, record_property):
    """(c) The replica accounts for every published row; the left-out ones carry a documented reason."""
    data, published = replica.data, _published()
    records = data["published"]
    assert len(records) == len(published) == data["csv"]["rows"]
    for rec, row in zip(records, published):
        assert {k: rec[k] for k in row} == row, f"CSV line {rec['line']} is not the published row"
        assert rec["fate"] in ("reproduced", "left_out")
    left_out = [r for r in records if r["fate"] == "left_out"]
    reasons: dict[str, int] = {}
    for r in left_out:
        assert r["reason"] in replica.module.REASONS, f"line {r['line']}: undocumented reason {r['reason']}"
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    counts = data["counts"]
    assert counts["left_out"] == len(left_out) == sum(counts["left_out_by_reason"].values())
    assert counts["left_out_by_reason"] == reasons
    assert counts["reproduced"] + counts["left_out"] == len(published)
    summary = (f"{len(published)} published rows: {counts['reproduced']} reproduced "
               f"({counts['reproduced_by_value']} by the value in a hex placeholder), {len(left_out)} left out "
               f"{dict(sorted(reasons.items()))}")
    print("\n" + summary)
    record_property("replica_fates", summary)


def test_left_out_reasons_are_documented(replica):
    readme = Path(SAMPLES, "README.md").read_text(encoding="utf-8")
    for reason in replica.module.REASONS:
        assert f"`{reason}`" in readme, f"samples/README.md does not document {reason}"


def test_left_out_rows_named_nothing(replica):
    """A row is left out only where the original script failed: no GUID, no event, or no legacy arguments."""
    for r in replica.data["published"]:
        if r["fate"] != "left_out":
            continue
        descriptor = [r[c] for c in ("Id", "Version", "Channel", "Level", "Opcode", "Task", "Keyword")]
        failed = (r["ProviderGuid"] == "???" or not r["WriteFunction"]
                  or not r["EventDescriptorSymbol"] and all(v in ("", "-") for v in descriptor))
        assert failed, f"line {r['line']} was left out ({r['reason']}) but names its provider and event"


def test_published_rows_come_back(analysed, replica, record_property):
    """(a) Every reproduced published row is found with the same names and fields."""
    ours: dict[tuple, list[dict]] = {}
    for row in analysed.rows:
        ours.setdefault((row["Function"], row["ContainingFunction"]), []).append(row)
    reproduced = [r for r in replica.data["published"] if r["fate"] == "reproduced"]
    missing = [r for r in reproduced
               if not any(matches(r, o) for o in ours.get((r["Function"], r["ContainingFunction"]), []))]
    found = len(reproduced) - len(missing)
    summary = f"{analysed.level}: recall {found}/{len(reproduced)} of the reproduced published rows"
    print("\n" + summary)
    record_property(f"recall_{analysed.level}", f"{found}/{len(reproduced)}")
    detail = []
    for r in missing[:8]:
        near = [{c: o[c] for c in COMPARED[1:13]} for o in ours.get((r["Function"], r["ContainingFunction"]), [])]
        detail.append(f"line {r['line']}: {[r[c] for c in COMPARED]}\n  ours there: {near[:4]}")
    assert not missing, summary + "\n" + "\n".join(detail)


def test_extra_rows_are_in_the_replica_truth(analysed, replica, record_property):
    """(b) Rows beyond the published set are explained by the replica's call graph: they are in its truth."""
    truth = replica.data["truth"]
    expected = {normalise_truth(r) for r in truth["rows"]}
    edges = {tuple(e) for e in truth["edges"]}
    published = [r for r in replica.data["published"] if r["fate"] == "reproduced"]
    by_site: dict[tuple, list[dict]] = {}
    for r in published:
        by_site.setdefault((r["Function"], r["ContainingFunction"]), []).append(r)
    extra = [o for o in analysed.rows
             if not any(matches(p, o) for p in by_site.get((o["Function"], o["ContainingFunction"]), []))]
    unexplained = [o for o in extra if normalise_ours(o) not in expected]
    print(f"\n{analysed.level}: {len(extra)} rows beyond the published set, {len(unexplained)} not in the truth")
    record_property(f"extra_rows_{analysed.level}", len(extra))
    assert not unexplained, [normalise_ours(o) for o in unexplained[:8]]
    for row in analysed.result.rows:
        path = row.call_path
        assert path[0] == row.function and path[-1] == row.containing_function and len(path) <= 5
        for a, b in zip(path, path[1:]):
            assert (a, b) in edges, f"{analysed.level}: {a}->{b} is not a call of the replica ({path})"


def test_rows_equal_the_replica_truth(analysed, replica):
    """The analyzer finds exactly the replica's truth (every row, field and depth), like on the synthetic kernel."""
    expected = {normalise_truth(r) for r in replica.data["truth"]["rows"]}
    ours = [normalise_ours(r) for r in analysed.rows]
    assert len(ours) == len(set(ours)), "duplicate rows"
    missing, extra = sorted(expected - set(ours)), sorted(set(ours) - expected)
    assert not missing and not extra, (
        f"{analysed.level}: truth recall {len(expected) - len(missing)}/{len(expected)}, {len(extra)} extra\n"
        f"missing: {missing[:6]}\nextra: {extra[:6]}")


@needs_tools("llvm-objdump", "llvm-pdbutil", "llvm-readobj")
def test_machine_code_has_every_modelled_call(analysed, replica):
    """The built image makes exactly the model's calls and writes (a failure here is the generator's, not the
    analyzer's)."""
    errors, _ = verify_sample(replica.out, replica.model, replica.data["truth"], (analysed.level,), patterns=False)
    assert not errors, errors[:10]


def test_diff_finds_no_named_published_row_removed(analysed):
    res = run_cli("diff", CSV_PATH, str(analysed.tsv), "--ignore-unnamed", "--fail-on", "removed")
    assert res.code == 0, f"{analysed.level}: diff exit {res.code}\n{res.stdout[-3000:]}\n{res.stderr[-2000:]}"
