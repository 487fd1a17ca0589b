"""Without a PDB: exports are the APIs, functions are sub_<rva>, TraceLogging sites come from the metadata.

The expected rows are the ground truth restricted to what a symbol-free analysis can know: exported
APIs, writers it can name (exported ETW APIs), and TraceLogging events found from their metadata,
whose containing function is the one that takes the event's address (with a wrapper that receives
the event as a parameter, that is the wrapper's caller). Our sub_<rva> names are translated back with
the PDB *by the test* (the analyzer never sees it), so names and depths can be compared.
"""

from __future__ import annotations

import pytest
from conftest import LEVELS, load_truth, synth_exe, synth_pdb

from api_to_etw.analysis.pipeline import AnalysisOptions, analyze
from api_to_etw.binary.loader import open_binary
from api_to_etw.binary.pdb import load_pdb
from api_to_etw.engine.native.engine import NativeEngine
from api_to_etw.render.rows import row_columns

COMPARED = ("Function", "Kind", "ProviderGuid", "Id", "Version", "Channel", "Level", "Opcode", "Task", "Keyword",
            "ContainingFunction", "CallDepth", "GroupMask", "HookId")
TLG_COMPARED = ("Function", "ProviderGuid", "EventDescriptorSymbol", "Channel", "Level", "Opcode", "Keyword")


def _norm(value):
    if value in (None, "", "-"):
        return None
    if isinstance(value, int):
        return value
    return int(value, 16) if value.startswith("0x") else int(value) if value.isdigit() else value


@pytest.fixture(scope="module")
def truth():
    return load_truth()


@pytest.mark.parametrize("level", LEVELS)
def test_exports_only_rows_equal_truth(level, truth):
    loaded = open_binary(synth_exe(level), use_pdb=False)
    assert loaded.pdb is None
    result = analyze(NativeEngine(loaded.image, None), AnalysisOptions())
    names = load_pdb(synth_pdb(level)).functions

    def real(name: str) -> str:
        return names.get(int(name[4:], 16), name) if name.startswith("sub_") else name

    exported = {f["name"] for f in truth["functions"] if f["exported"]}
    ours, ours_tlg, depth = set(), set(), {}
    for row in result.api_rows():
        assert row.event.resolved, row_columns(row)
        d = row_columns(row)
        d["Function"], d["ContainingFunction"] = real(d["Function"]), real(d["ContainingFunction"])
        assert real(row.call_path[0]) in exported
        if row.event.kind == "tracelogging":
            key = tuple(_norm(d[c]) for c in TLG_COMPARED)
            ours_tlg.add(key)
            depth[key] = min(depth.get(key, 99), row.call_depth)
        else:
            ours.add(tuple(_norm(d[c]) for c in COMPARED))
    expected = {tuple(_norm(r.get(c)) for c in COMPARED) for r in truth["rows"]
                if r["Function"] in exported and r["Kind"] != "tracelogging" and r["WriteFunction"] in exported}
    assert ours == expected, (sorted(expected - ours)[:5], sorted(ours - expected)[:5])
    expected_tlg = {}
    for r in truth["rows"]:
        if r["Function"] in exported and r["Kind"] == "tracelogging":
            key = tuple(_norm(r.get(c)) for c in TLG_COMPARED)
            expected_tlg[key] = min(expected_tlg.get(key, 99), r["CallDepth"])
    assert ours_tlg == set(expected_tlg), (sorted(set(expected_tlg) - ours_tlg), sorted(ours_tlg - set(expected_tlg)))
    # The reference is taken at or above the write call, so the path is never longer than the truth's.
    assert all(depth[k] <= expected_tlg[k] for k in ours_tlg)


def test_tracelogging_rows_name_provider_and_event_without_symbols(truth):
    loaded = open_binary(synth_exe("O2"), use_pdb=False)
    result = analyze(NativeEngine(loaded.image, None), AnalysisOptions())
    tlg = [r for r in result.rows if r.event.kind == "tracelogging"]
    assert tlg, "TraceLogging writes reachable from exports must be found from the ETW0 metadata"
    known = {(e["name"], e["provider_guid"]) for e in truth["tracelogging"]["events"]}
    for row in tlg:
        assert row.event.provider_name and row.event.descriptor_symbol
        assert (row.event.descriptor_symbol, row.event.provider_guid) in known


def test_all_sites_lists_every_write_site():
    loaded = open_binary(synth_exe("O2"))
    plain = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions())
    every = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions(all_sites=True))
    containing = {r.containing_function for r in plain.rows}
    own = {r.function for r in every.rows if r.call_depth == 1}
    assert containing <= own
    plain_keys = {r.key() for r in plain.rows}
    assert plain_keys <= {r.key() for r in every.rows}
