"""The walk's substitution up the callers (``Analysis._concrete_points``) gives the points of the rule as first
written, on every committed fixture and a real driver, in both modes.

The walk carries, per state, the roles a caller's substitution can still change and takes a caller's argument
as it is for a role that is one parameter; the rule it must agree with tests every role at every state and
substitutes every changing role through ``substitute_all``. Both run on the same analysis at the same moment
(same roots, same argument values), so any difference in a point, its values, its path or its call is a bug.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import pytest
from conftest import code_fixtures

from api_to_etw.analysis import pipeline
from api_to_etw.analysis.pipeline import Analysis, AnalysisOptions, _drop_params, analyze
from api_to_etw.binary.loader import open_binary
from api_to_etw.binary.pe import load_pe
from api_to_etw.engine.native.engine import NativeEngine
from api_to_etw.model import MAX_VALUES, CallSite, StackAddr, ValueSet, in_frame, params_of, substitute_all

Point = tuple[int, dict[str, ValueSet], list[int], int]


def _rule(an: Analysis, site: CallSite, exprs: dict[str, ValueSet], max_depth: int) -> Iterator[Point]:
    """Every role tested at every state; every changing role substituted through ``substitute_all``."""
    start = site.caller
    queue = deque([(start, exprs, [start], site.rva)])
    seen = {(start, tuple(exprs.values()), site.rva)}
    while queue:
        func, ex, suffix, hop = queue.popleft()
        dependent, param = [], False
        for k, values in ex.items():
            has = any(params_of(v) for v in values)
            if has or len(values) > MAX_VALUES or any(isinstance(v, StackAddr) and v.fields for v in values):
                dependent.append(k)
                param = param or has
        if not param:
            yield func, ex, suffix, hop
            continue
        if func in an.roots:
            yield func, _drop_params(ex), suffix, hop
        if len(suffix) >= max_depth:
            continue
        for caller_site in an.callers_of.get(func, ()):
            caller = caller_site.caller
            if caller in an.apis or caller in suffix:
                continue

            def args(i: int, s: CallSite = caller_site) -> ValueSet:
                return frozenset(in_frame(v, s.caller) for v in an.values.arg(s, i))

            new = dict(ex)
            for k in dependent:
                new[k] = substitute_all(new[k], args)
            key = (caller, tuple(new.values()), caller_site.rva)
            if key not in seen:
                seen.add(key)
                queue.append((caller, new, [caller] + suffix, caller_site.rva))


def _compare(engine: NativeEngine, all_sites: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """Analyse with every write site's walk checked against the rule: (points compared, points above the site)."""
    walk = Analysis._concrete_points
    counts = [0, 0]

    def checked(self: Analysis, site: CallSite, exprs: dict[str, ValueSet], max_depth: int) -> Iterator[Point]:
        expected = list(_rule(self, site, exprs, max_depth))
        got = list(walk(self, site, exprs, max_depth))
        assert got == expected, f"write at {site.rva:#x}"
        counts[0] += len(got)
        counts[1] += sum(1 for _func, _ex, suffix, _hop in got if len(suffix) > 1)
        return iter(got)

    monkeypatch.setattr(pipeline.Analysis, "_concrete_points", checked)
    analyze(engine, AnalysisOptions(all_sites=all_sites))
    return counts[0], counts[1]


@pytest.mark.parametrize("path", code_fixtures(), ids=lambda p: p.split("samples/")[-1])
def test_fixtures_walk_as_the_rule(path, monkeypatch):
    loaded = open_binary(path)
    compared = [_compare(NativeEngine(loaded.image, loaded.pdb), all_sites, monkeypatch) for all_sites in (False, True)]
    assert all(points >= above for points, above in compared)


def test_the_rule_is_exercised_above_the_write_sites(monkeypatch):
    """The synthetic kernel passes descriptors and REGHANDLEs through wrappers: the walk substitutes there."""
    path = next(p for p in code_fixtures() if p.endswith("O2/synthkernel.exe"))
    loaded = open_binary(path)
    points, above = _compare(NativeEngine(loaded.image, loaded.pdb), False, monkeypatch)
    assert points > 0 and above > 0


def test_a_real_driver_walks_as_the_rule(real_binary, monkeypatch):
    image = load_pe(real_binary("ViGEmBus.sys"))
    points, above = _compare(NativeEngine(image, None), False, monkeypatch)
    assert points > 100
