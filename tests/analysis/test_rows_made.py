"""What the walk writes out instead of calling a constructor or sorting is what those give: each row is the
``Row`` its constructor makes (same fields in the same order, equal), and the nearest symbol below an
address, probed address by address before any sort, is the one the sorted addresses give."""

from __future__ import annotations

import os

import pytest
from conftest import SAMPLES, synth_exe

from api_to_etw.analysis.events import MAX_SYMBOL_OFFSET
from api_to_etw.analysis.pipeline import Analysis, AnalysisOptions
from api_to_etw.analysis.records import Row
from api_to_etw.binary.loader import open_binary
from api_to_etw.collector import collector_paused
from api_to_etw.engine.native.engine import NativeEngine

BINARIES = {"synthkernel": synth_exe("O2"), "handout": os.path.join(SAMPLES, "handout", "O2", "handout.dll")}


def _run(name: str, **options) -> tuple[Analysis, list[Row]]:
    loaded = open_binary(BINARIES[name])
    analysis = Analysis(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions(**options))
    with collector_paused():
        result = analysis.run()
    return analysis, result.rows


@pytest.mark.parametrize("name", sorted(BINARIES))
@pytest.mark.parametrize("all_sites", [False, True])
def test_rows_are_what_the_constructor_makes(name, all_sites):
    _analysis, rows = _run(name, all_sites=all_sites, max_depth=3)
    assert rows
    for row in rows:
        made = Row(*(getattr(row, field) for field in Row._fields))
        assert made == row
        assert list(vars(made)) == list(vars(row)) == list(Row._fields)


def test_probed_nearest_symbol_is_the_sorted_one():
    analysis, _rows = _run("synthkernel")
    resolver = analysis.resolver
    symbols = resolver.facts.symbols
    assert len(symbols) > 10
    addresses = sorted({rva + delta for rva in symbols for delta in (1, 2, 8, 0x40, MAX_SYMBOL_OFFSET,
                                                                       MAX_SYMBOL_OFFSET + 1)} - set(symbols))
    resolver._data_addrs, resolver._probes = None, 0
    probed = []
    for rva in addresses:
        resolver._probes = 0  # every look-up probes (no sort)
        probed.append(resolver.symbol_at(rva))
        assert resolver._data_addrs is None
    resolver._probes = len(symbols)  # the sorted addresses from here on
    assert [resolver.symbol_at(rva) for rva in addresses] == probed
    assert resolver._data_addrs is not None
    assert any(probed) and not all(probed)
