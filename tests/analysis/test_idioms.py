"""The data-flow idiom fixture (samples/idioms): every event its build model says an export writes is
reported with its provider and fields, at -O1/-O2/-Os, with and without the PDB, and nothing else.

The expected set is samples/idioms/truth.json, written by samples/idioms/build.py from its model (the
analyzer never reads the C source or the truth)."""

from __future__ import annotations

import json
import os

import pytest
from conftest import LEVELS, SAMPLES

from api_to_etw.analysis.pipeline import AnalysisOptions, analyze
from api_to_etw.binary.loader import open_binary
from api_to_etw.engine.native.engine import NativeEngine
from api_to_etw.render.rows import row_columns

IDIOMS = os.path.join(SAMPLES, "idioms")
FIELDS = ("Id", "Version", "Channel", "Level", "Opcode", "Task", "Keyword")


def _truth() -> list[dict]:
    with open(os.path.join(IDIOMS, "truth.json"), encoding="utf-8") as handle:
        return json.load(handle)["events"]


def _expected(with_symbols: bool) -> set[tuple]:
    out = set()
    for e in _truth():
        symbol = e["EventDescriptorSymbol"] if with_symbols else (e["ClassGuid"] if e["Kind"] == "classic" else "")
        out.add((e["Function"], e["Kind"], e["ProviderGuid"], e["ProviderSymbol"] if with_symbols else "", symbol,
                 tuple(e[k] for k in FIELDS)))
    return out


def _found(level: str, use_pdb: bool) -> set[tuple]:
    loaded = open_binary(os.path.join(IDIOMS, level, "idioms.dll"), use_pdb=use_pdb)
    assert (loaded.pdb is not None) == use_pdb
    rows = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions()).rows
    unresolved = [row_columns(r) for r in rows if not r.event.resolved]
    assert not unresolved, unresolved
    out = set()
    for r in rows:
        e = r.event
        out.add((r.function, e.kind, e.provider_guid, e.provider_symbol, e.descriptor_symbol,
                 (e.id, e.version, e.channel, e.level, e.opcode, e.task, e.keyword)))
    return out


@pytest.mark.parametrize("level", LEVELS)
def test_every_idiom_with_pdb(level):
    assert _found(level, True) == _expected(True)


@pytest.mark.parametrize("level", LEVELS)
def test_every_idiom_without_pdb(level):
    assert _found(level, False) == _expected(False)


def test_truth_covers_every_idiom():
    idioms = {e["Idiom"] for e in _truth()}
    assert idioms == {"table_mask", "table_switch", "imul", "copy_patch", "context_field", "getprocaddress",
                      "global_pointer", "classic", "table_guard", "classic_instance",
                      "runtime_field", "fill", "cfg_check", "struct_copy", "classic_by_reference", "rep_fill",
                      "zero_test", "shared_exit"}
    # McGenEventWrite patches Channel into its stack copy: the truth carries the patched value.
    assert {e["Channel"] for e in _truth() if e["EventDescriptorSymbol"].startswith("MC_")} == {0x10}
    # The rep-movs copy is patched to Level 2 (declared 5).
    assert [e["Level"] for e in _truth() if e["Function"] == "RepCopy"] == [2]
    # The copy written on the path where RAX is known zero is patched to Level 2 (declared 5).
    assert [e["Level"] for e in _truth() if e["Function"] == "ZeroTest"] == [2]
    # Ten paths into one shared write, each with its own descriptor (more than the data flow's visits per block).
    assert len([e for e in _truth() if e["Function"] == "SharedExitWrite"]) == 10


def test_a_registered_control_guid_is_not_reported_as_computed():
    """The fixture's RegisterTraceGuidsW passes &ClassicControlGuid: no run-time ControlGuid warning, and
    every classic row has that provider (the warning is for registrations like msodbcdiag18.dll's)."""
    from conftest import run_cli

    result = run_cli("analyze", os.path.join(IDIOMS, "O2", "idioms.dll"), "--all-sites", "-o", "-")
    assert result.code == 0, result.stderr
    assert "ControlGuid" not in result.stderr
    control = {e["ProviderGuid"] for e in _truth() if e["Kind"] == "classic"}
    rows = [line.split("\t") for line in result.stdout.splitlines()[1:]]
    classic = [row for row in rows if row[17] == "classic"]  # Kind
    assert len(control) == 1 and classic and {row[1] for row in classic} == control  # ProviderGuid
