"""The exception-handler funclet fixture (samples/funclets): every event its build model says an export writes
from a ``__except`` filter, a ``__finally`` block, a ``__except`` block, a C++ catch block or a destructor run on
unwind is reported from that export, with its provider and fields, at -O1/-O2/-Os, with and without the PDB.

The expected set is samples/funclets/truth.json, written by samples/funclets/build.py from its model (the analyzer
never reads the C source or the truth). Where the model puts a write in a funclet, the row's EventSite must be a
funclet the export's own exception tables name, of the model's kind, and the CallPath must show the export."""

from __future__ import annotations

import json
import os

import pytest
from conftest import LEVELS, SAMPLES, require_fixture_toolchain

from api_to_etw.analysis.pipeline import AnalysisOptions, analyze
from api_to_etw.binary.loader import open_binary
from api_to_etw.engine.native.engine import NativeEngine
from api_to_etw.render.rows import row_columns
from samples import driver
from samples.funclets import build as funclets_build

FUNCLETS = os.path.join(SAMPLES, "funclets")


def _truth() -> dict:
    with open(os.path.join(FUNCLETS, "truth.json"), encoding="utf-8") as handle:
        return json.load(handle)


def _analyze(level: str, use_pdb: bool):
    loaded = open_binary(os.path.join(FUNCLETS, level, "funclets.dll"), use_pdb=use_pdb)
    assert (loaded.pdb is not None) == use_pdb
    engine = NativeEngine(loaded.image, loaded.pdb)
    result = analyze(engine, AnalysisOptions())
    return result.facts, result.rows


@pytest.mark.parametrize("use_pdb", [True, False], ids=["pdb", "no-pdb"])
@pytest.mark.parametrize("level", LEVELS)
def test_every_funclet_write_is_reached_from_its_export(level, use_pdb):
    truth = _truth()
    facts, rows = _analyze(level, use_pdb)
    assert not [row_columns(r) for r in rows if not r.event.resolved or r.entry != "export"]
    expected = {(e["Function"], e["Id"], e["Level"]) for e in truth["events"]}
    found = {(r.function, r.event.id, r.event.level) for r in rows}
    assert found == expected
    assert {r.event.provider_guid for r in rows} == {truth["provider"]}
    by_name = {f.name: rva for rva, f in facts.functions.items()}
    for event in truth["events"]:
        parent = by_name[event["Function"]]
        mine = [r for r in rows if r.function == event["Function"]]
        sites = {r.event_site for r in mine}
        funclets = {facts.functions[f].name: kind for (p, f), kind in facts.funclets.items() if p == parent}
        for path in event["Paths"]:
            how, _, kind = path.partition(":")
            if how == "funclet":  # written in the funclet itself: it is the event site, entered from the export
                assert any(funclets.get(site) == kind for site in sites), (event, sites, funclets)
                row = next(r for r in mine if funclets.get(r.event_site) == kind)
                assert row.call_path == [event["Function"], row.event_site]
            elif how == "via":  # written by a function only the funclet calls
                row = next(r for r in mine if len(r.call_path) == 3)
                assert funclets.get(row.call_path[1]) == kind and row.event_site == row.call_path[2]
            elif how == "parent":  # the __except block: the parent's own code, entered only by the unwinder
                assert event["Function"] in sites
            else:  # the normal path: in the parent, or in a funclet it calls directly
                assert how == "normal"
                assert event["Function"] in sites or any(funclets.get(s) for s in sites)


def test_each_export_has_the_funclets_its_constructs_need():
    """The tables name a filter for each filtered __except, a termination handler for __finally, a catch funclet
    for catch (...), an unwind funclet for the destructor; the __except (1) block is a landing pad, no funclet."""
    facts, _rows = _analyze("O2", True)
    kinds: dict[str, set[str]] = {}
    for (parent, _funclet), kind in facts.funclets.items():
        kinds.setdefault(facts.functions[parent].name, set()).add(kind)
    assert kinds == {"FilterWrite": {"filter"}, "FilterCallWrite": {"filter"}, "FinallyWrite": {"finally"},
                     "CatchWrite": {"catch"}, "UnwindWrite": {"unwind"}}
    funclet_sites = {(s.caller, s.callee) for s in facts.calls if s.rva == s.callee}
    assert funclet_sites <= set(facts.funclets)


def test_funclet_fixture_rebuilds_byte_for_byte():
    """samples/funclets: seh.c, eh.cpp, the .def files, truth.json and the three DLLs+PDBs come back identical."""
    require_fixture_toolchain("llvm-dlltool")
    problems = driver.check(funclets_build.FIXTURES[0])
    assert not problems, "\n".join(problems)


def test_funclet_sources_and_truth_are_the_model(tmp_path):
    """The committed sources and truth are what the build's model writes (no toolchain needed)."""
    funclets_build.write_sources(tmp_path)
    for name in (*funclets_build.SOURCES, *funclets_build.DEFS, "truth.json"):
        assert (tmp_path / name).read_bytes() == open(os.path.join(FUNCLETS, name), "rb").read(), name
    truth = _truth()
    assert [e["Function"] for e in truth["events"]] == [c.export for c in funclets_build.MODEL]
