"""The walk's shortcuts search what a plain search would: an ancestor search resumed at a larger budget
equals a fresh one, and the beyond-depth entry search seeded with the walk's own search state finds the
same entry points and paths as one from scratch.

On the synthetic kernel at --max-depth 3 (writes deeper than that are searched beyond the depth) and the
handout DLL (an event site entered only through a pointer its export hands out, one called by nothing).
"""

from __future__ import annotations

import os
from itertools import islice

import pytest
from conftest import SAMPLES, synth_exe

from api_to_etw.analysis import entries
from api_to_etw.analysis.pipeline import Analysis, AnalysisOptions, _within
from api_to_etw.binary.loader import open_binary
from api_to_etw.collector import collector_paused
from api_to_etw.engine.native.engine import NativeEngine
from api_to_etw.render.rows import row_columns

BINARIES = {"synthkernel": (synth_exe("O2"), 3), "handout": (os.path.join(SAMPLES, "handout", "O2", "handout.dll"), 5)}


def _analysis(name: str) -> tuple[Analysis, list]:
    path, depth = BINARIES[name]
    loaded = open_binary(path)
    analysis = Analysis(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions(max_depth=depth))
    with collector_paused():
        result = analysis.run()
    return analysis, result.rows


@pytest.mark.parametrize("name", sorted(BINARIES))
def test_seeded_beyond_search_finds_what_a_full_one_does(name, monkeypatch):
    seeded: list[int] = []
    nearest = entries.EntryReach.nearest

    complete: list[int] = []

    def counting(self, functions, seeds=None):
        seeded.append(len(seeds or {}))
        complete.append(sum(1 for _found, level in (seeds or {}).values() if not level))
        return nearest(self, functions, seeds)

    monkeypatch.setattr(entries.EntryReach, "nearest", counting)
    _analysis_seeded, rows = _analysis(name)
    assert sum(seeded) > 0, "the walk handed the beyond-depth search no seed"
    if name == "handout":  # its event site called by nothing: a complete search, answered without one
        assert sum(complete) > 0, "no seed was a complete search"

    monkeypatch.setattr(entries.EntryReach, "nearest", lambda self, functions, seeds=None: nearest(self, functions))
    _analysis_full, full = _analysis(name)
    assert any(r.entry == "unreached" or r.call_depth > BINARIES[name][1] for r in full)
    assert [row_columns(r) for r in rows] == [row_columns(r) for r in full]


@pytest.mark.parametrize("name", sorted(BINARIES))
def test_resumed_ancestor_search_equals_a_fresh_one(name):
    analysis, _rows = _analysis(name)
    functions = sorted(analysis._ancestor_cache)
    assert functions

    def fresh(func: int, budget: int) -> list:
        analysis._ancestor_cache = {}
        return list(analysis._ancestors(func, budget)[0].items())

    resumed_somewhere = False
    for func in functions:
        plain = [fresh(func, budget) for budget in range(7)]
        analysis._ancestor_cache = {}
        for budget in range(7):  # each budget resumes the search of the one before
            found, ends = analysis._ancestors(func, budget)
            assert list(found.items()) == plain[budget], (func, budget)
            resumed_somewhere |= budget > 0 and plain[budget] != plain[budget - 1]
        for budget in range(7):  # and the deepest search serves every smaller budget by its prefix
            found, ends = analysis._ancestors(func, budget)
            assert list(islice(found.items(), _within(ends, budget))) == plain[budget], (func, budget)
    assert resumed_somewhere


@pytest.mark.parametrize("name", sorted(BINARIES))
def test_the_walk_keeps_each_row_under_its_own_key(name):
    """The walk builds a row's key inline (no ``Row.key_of`` call per event) and the unreached pass reads its
    provider and event keys back out of it: both must stay the key ``Row.key`` gives, the unreached rows'
    with their event site after it."""
    analysis, rows = _analysis(name)
    assert rows and len(rows) == len(analysis._best) + len(analysis._extra)
    for key, (_rank, row) in analysis._best.items():
        assert key == row.key(), key
    for key, (_rank, row) in analysis._extra.items():
        assert key == row.key() + (row.event_site,), key
