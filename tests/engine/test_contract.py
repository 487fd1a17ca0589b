"""The engine contract (engine/base.py), checked against every engine this machine can run.

Facts are complete after ``load`` and never change; ``resolve`` answers with a new ``Resolution``;
every engine declares its capabilities and the analysis reports a missing one once; freezing is a
recorder wrapped around any engine, and a frozen file replays at any ``--max-depth``. The Ghidra
engine's part runs on its fakes in test_ghidra_engine.py.
"""

from __future__ import annotations

import copy
import logging
import os
import subprocess
import sys

import pytest
from conftest import REPO, SAMPLES

from api_to_etw.analysis.pipeline import AnalysisOptions, analyze
from api_to_etw.binary.loader import open_binary
from api_to_etw.engine.base import ANNOTATIONS, CAPABILITIES, CASE_GUARDS, MEMORY, Engine
from api_to_etw.engine.frozen import FrozenEngine
from api_to_etw.engine.native.engine import NativeEngine
from api_to_etw.engine.recorder import RecordingEngine
from api_to_etw.model import Param, Resolution
from api_to_etw.render.tables import render

SYNTH = os.path.join(SAMPLES, "synthkernel", "O2", "synthkernel.exe")
MCDRIVER = os.path.join(SAMPLES, "mcdriver", "O2", "mcdriver.sys")
WPP = os.path.join(SAMPLES, "wpp", "wppkernel.exe")
#: KMDF callbacks come through the framework's function table (the TABLE_CALLS capability).
MCKMDF = os.path.join(SAMPLES, "mckmdf", "O2", "mckmdf.sys")


def _native(path: str) -> NativeEngine:
    loaded = open_binary(path)
    return NativeEngine(loaded.image, loaded.pdb)


def _frozen(path: str, tmp_path, max_depth: int = 5, complete: bool = True) -> FrozenEngine:
    """The facts of a native run at ``max_depth``, recorded (and completed) into a file, as a frozen engine."""
    recorder = RecordingEngine(_native(path))
    analyze(recorder, AnalysisOptions(max_depth=max_depth))
    if complete:
        recorder.complete()
    out = tmp_path / f"{os.path.basename(path)}.{max_depth}.{'complete' if complete else 'partial'}.facts.json"
    recorder.save(str(out))
    return FrozenEngine(str(out))


def _decompiler(path: str) -> Engine:
    from api_to_etw.engine.decompiler import find_python
    from api_to_etw.engine.decompiler.engine import DecompilerEngine
    from api_to_etw.errors import MissingDependencyError

    try:
        python = find_python(os.environ.get("API_TO_ETW_DECOMPILER_PYTHON") or None)
    except MissingDependencyError as exc:
        pytest.skip(f"no decompiler: {exc}")
    return DecompilerEngine(_native(path), python)


ENGINES = ("native", "frozen", "ghidra-decompiler")


@pytest.fixture(params=ENGINES)
def engine(request, tmp_path):
    kind = request.param
    made = _native(SYNTH) if kind == "native" else _frozen(SYNTH, tmp_path) if kind == "frozen" else _decompiler(SYNTH)
    yield made
    made.close()


def _snapshot(facts) -> tuple:
    return (copy.deepcopy(facts.functions), [copy.copy(s) for s in facts.calls], dict(facts.symbols),
            list(facts.sections), list(facts.resources), facts.entry_point)


def test_capabilities_are_declared_names(engine):
    assert engine.capabilities and engine.capabilities <= set(CAPABILITIES)


def test_resolve_answers_without_changing_the_facts(engine):
    facts = engine.load()
    before = _snapshot(facts)
    assert all(site.args is None for site in facts.calls)  # values never travel inside the facts
    callers = sorted({s.caller for s in facts.calls})[:40]
    answer = engine.resolve(callers)
    assert isinstance(answer, Resolution) and answer.args
    own = {(s.caller, s.rva) for s in facts.calls if s.caller in callers}
    assert set(answer.args) <= own
    assert all(store.function in callers for store in answer.stores)
    engine.references(None)
    if CASE_GUARDS in engine.capabilities:
        engine.case_guards(callers[0], Param(1))
    assert _snapshot(facts) == before
    again = engine.resolve(callers)
    assert again.args == answer.args and again.stores == answer.stores


def test_recorded_answers_equal_the_live_ones(tmp_path):
    """A recording wraps the engine without changing what the analysis sees: the same rows and counts."""
    live = analyze(_native(MCDRIVER), AnalysisOptions())
    recorder = RecordingEngine(_native(MCDRIVER))
    recorded = analyze(recorder, AnalysisOptions())
    assert render(recorded.rows, "tsv") == render(live.rows, "tsv")
    assert recorded.stats.resolved_functions == live.stats.resolved_functions > 0


@pytest.mark.parametrize("path", [SYNTH, MCDRIVER, WPP, MCKMDF], ids=os.path.basename)
@pytest.mark.parametrize(("freeze_at", "replay_at"), [(2, 7), (7, 2)])
def test_frozen_facts_replay_at_another_depth(path, freeze_at, replay_at, tmp_path, caplog):
    """Frozen at one --max-depth, replayed at another: the rows of a live run at that depth."""
    live = analyze(_native(path), AnalysisOptions(max_depth=replay_at))
    frozen = _frozen(path, tmp_path, max_depth=freeze_at)
    with caplog.at_level(logging.WARNING):
        replay = analyze(frozen, AnalysisOptions(max_depth=replay_at))
        frozen.close()
    assert render(replay.rows, "tsv") == render(live.rows, "tsv")
    assert len(live.rows) > 0
    assert not [r for r in caplog.records if "facts file holds no answer" in r.getMessage()]


def test_depth_changes_rows_so_the_replay_test_means_something(tmp_path):
    shallow = analyze(_native(SYNTH), AnalysisOptions(max_depth=2))
    deep = analyze(_native(SYNTH), AnalysisOptions(max_depth=7))
    assert len(deep.rows) > len(shallow.rows)
    mc_shallow = analyze(_native(MCDRIVER), AnalysisOptions(max_depth=2))
    mc_deep = analyze(_native(MCDRIVER), AnalysisOptions(max_depth=7))
    assert {r.ioctl for r in mc_deep.rows} != {r.ioctl for r in mc_shallow.rows}


def test_an_incomplete_recording_says_its_memory_is_partial(tmp_path, caplog):
    frozen = _frozen(SYNTH, tmp_path, complete=False)
    frozen.load()
    assert MEMORY not in frozen.capabilities
    complete = _frozen(SYNTH, tmp_path)
    complete.load()
    assert MEMORY in complete.capabilities
    with caplog.at_level(logging.WARNING):
        analyze(_frozen(SYNTH, tmp_path, complete=False), AnalysisOptions())
    warned = [r.getMessage() for r in caplog.records if "cannot give memory" in r.getMessage()]
    assert len(warned) == 1


class _WithoutAnnotations(FrozenEngine):
    """A frozen engine that declares no PDB annotations (as the Ghidra engine)."""

    def load(self):
        facts = super().load()
        self.capabilities = self.capabilities - {ANNOTATIONS}
        return facts


def test_a_missing_capability_is_reported_once(tmp_path, caplog):
    """WPP messages need the PDB's annotations: without them the analysis says so once; the writes stay rows."""
    full = analyze(_native(WPP), AnalysisOptions())
    saved = _frozen(WPP, tmp_path)
    engine = _WithoutAnnotations(saved.path)
    with caplog.at_level(logging.WARNING):
        result = analyze(engine, AnalysisOptions())
    warned = [r.getMessage() for r in caplog.records if "cannot give annotations" in r.getMessage()]
    assert len(warned) == 1 and "WPP" in warned[0]
    assert result.rows and all(r.event.kind == "wpp" for r in result.rows)
    assert {r.event.message for r in full.rows} != {r.event.message for r in result.rows}


def test_engines_do_not_import_the_facts_format():
    """Freezing is the recorder's job: importing an engine does not load frozen.py."""
    code = ("import sys, api_to_etw.engine.native.engine, api_to_etw.engine.decompiler.engine, "
            "api_to_etw.engine.ghidra.engine; print('api_to_etw.engine.frozen' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_a_recorded_decompiler_run_replays_at_another_depth(tmp_path):
    """The recorder wraps the decompiler engine as any other: frozen at depth 2, replayed at 7, live rows."""
    live_engine = _decompiler(MCDRIVER)
    try:
        live = analyze(live_engine, AnalysisOptions(max_depth=7))
    finally:
        live_engine.close()
    recorder = RecordingEngine(_decompiler(MCDRIVER))
    try:
        analyze(recorder, AnalysisOptions(max_depth=2))
        recorder.complete()
        recorder.save(str(tmp_path / "decompiler.facts.json"))
    finally:
        recorder.close()
    replay = analyze(FrozenEngine(str(tmp_path / "decompiler.facts.json")), AnalysisOptions(max_depth=7))
    assert live.rows and render(replay.rows, "tsv") == render(live.rows, "tsv")
