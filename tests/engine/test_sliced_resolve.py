"""A sliced ``resolve`` (``Engine.resolve(functions, asked)``) gives, at every argument it is asked for, the value
a full answer gives, the same stores, and nothing it was not asked for; ``CallValues`` asks again for all of a
function when an argument nobody named is read. Checked on the committed fixtures (real clang output)."""

from __future__ import annotations

import os

import pytest
from conftest import SAMPLES

from api_to_etw.analysis.values import CallValues, asked_at
from api_to_etw.binary.loader import open_binary
from api_to_etw.engine.native.dataflow import MAX_ARGS
from api_to_etw.engine.native.engine import NativeEngine
from api_to_etw.model import UNKNOWN, CallSite, Facts, Resolution

FIXTURES = [
    os.path.join(SAMPLES, "synthkernel", "O2", "synthkernel.exe"),
    os.path.join(SAMPLES, "synthkernel", "Os", "synthkernel.exe"),
    os.path.join(SAMPLES, "mcdriver", "O2", "mcdriver.sys"),
    os.path.join(SAMPLES, "mckmdf", "O2", "mckmdf.sys"),
    os.path.join(SAMPLES, "idioms", "O2", "idioms.dll"),
    os.path.join(SAMPLES, "idioms", "O1", "idioms.dll"),
    os.path.join(SAMPLES, "mcdll", "O2", "mcdll.dll"),
    os.path.join(SAMPLES, "funclets", "O2", "funclets.dll"),  # landing pads: blocks entered from unwinding
    os.path.join(SAMPLES, "funclets", "Os", "funclets.dll"),
    os.path.join(SAMPLES, "wpp", "wppkernel.exe"),
]


def _native(path: str) -> NativeEngine:
    if not os.path.exists(path):
        pytest.skip(f"fixture not built: {path}")
    loaded = open_binary(path)
    return NativeEngine(loaded.image, loaded.pdb)


def _callers(engine: NativeEngine) -> list[int]:
    facts = engine.load()
    return sorted({s.caller for s in facts.calls if not facts.functions[s.caller].imported})


def _first_arguments_only(path: str) -> tuple[Facts, Resolution, CallValues, dict[int, CallSite]]:
    """The fixture's facts, the full answer for every calling function, and a ``CallValues`` asked for the first
    argument of each function's first site only (with those sites)."""
    engine = _native(path)
    functions = _callers(engine)
    full = engine.resolve(functions)
    facts = engine.load()
    first: dict[int, CallSite] = {}
    for site in sorted(facts.calls, key=lambda s: s.rva):
        first.setdefault(site.caller, site)
    values = CallValues(engine)
    values.resolve(functions, asked_at((first[f], (0,)) for f in functions))
    return facts, full, values, first


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: os.path.relpath(p, SAMPLES))
@pytest.mark.parametrize("every", [1, 3])
def test_sliced_answer_is_the_full_answer_where_asked(path: str, every: int) -> None:
    """Every ``every``-th site of each function asked for one argument (its position picks which, stack
    arguments too): those values equal the full run's, the other arguments are UNKNOWN, the stores are equal."""
    engine = _native(path)
    functions = _callers(engine)
    full = engine.resolve(functions)
    asked: dict[int, dict[int, set[int]]] = {}
    for k, site in enumerate(sorted(engine.load().calls, key=lambda s: (s.caller, s.rva))):
        if k % every == 0 and site.caller in functions:
            asked.setdefault(site.caller, {})[site.rva] = {k % MAX_ARGS, 0}
    sliced = engine.resolve(functions, asked)
    assert sliced.stores == full.stores
    compared = 0
    for (caller, rva), args in sliced.args.items():
        if caller not in asked:  # a function asked for nothing in particular: every argument
            assert args == full.args[(caller, rva)]
            continue
        wanted = asked[caller][rva]  # nothing is answered that was not asked
        for i, values in enumerate(args):
            if i in wanted:
                assert values == full.args[(caller, rva)][i], (hex(caller), hex(rva), i)
                compared += 1
            else:
                assert values == frozenset((UNKNOWN,))
    missing = [key for key in full.args if key[0] in asked and key[1] in asked[key[0]] and key not in sliced.args]
    assert not missing
    assert compared > 0


@pytest.mark.parametrize("path", FIXTURES[:4], ids=lambda p: os.path.relpath(p, SAMPLES))
def test_call_values_completes_a_function_when_another_argument_is_read(path: str) -> None:
    """The resolver asks for the first argument of each function's first site; reading any other argument
    then gives the full answer's value, and the stores are taken once."""
    facts, full, values, first = _first_arguments_only(path)
    assert values.stores == full.stores
    for site in facts.calls:
        if site.caller not in first:
            continue
        for i in range(MAX_ARGS):
            expected = full.args.get((site.caller, site.rva))
            assert values.arg(site, i) == (expected[i] if expected else frozenset((UNKNOWN,)))
    assert values.stores == full.stores
    values.resolve(sorted(first))  # all complete now: nothing asked again
    assert values.stores == full.stores


@pytest.mark.parametrize("path", FIXTURES[:4], ids=lambda p: os.path.relpath(p, SAMPLES))
@pytest.mark.parametrize("read", ["args", "answered"])
def test_call_values_completes_a_function_when_a_whole_site_is_read(path: str, read: str) -> None:
    """``args`` (every argument of a site) and ``answered`` (a site nobody named) of functions answered for the first
    argument of their first site only give what the full answer gives, as ``arg`` does."""
    facts, full, values, first = _first_arguments_only(path)
    checked = 0
    for site in facts.calls:
        if site.caller not in first:
            continue
        key = (site.caller, site.rva)
        if read == "args":
            assert values.args(site) == full.args.get(key)
        else:
            assert values.answered(site) == (key in full.args)
        checked += 1
    assert checked > len(first)  # sites besides the asked ones were read
    assert values.stores == full.stores


class _Counting(NativeEngine):
    """The native engine, counting the functions it is asked for particular arguments only."""

    sliced_functions = 0

    def resolve(self, functions, asked=None):  # type: ignore[no-untyped-def]
        functions = list(functions)
        self.sliced_functions += sum(1 for f in functions if asked and f in asked)
        return super().resolve(functions, asked)


@pytest.mark.parametrize("path", [os.path.join(SAMPLES, "tlg", "tlg.dll")] + FIXTURES[:-1],
                         ids=lambda p: os.path.relpath(p, SAMPLES))
def test_analysis_rows_are_the_same_sliced_or_whole(path: str) -> None:
    """The whole analysis (``--all-sites``) gives the same rows whether the engine slices or answers every
    argument, and slices are asked for (the analysis names what it reads). Not the WPP kernel: its message
    calls are read by a stage that asks for whole functions."""
    from api_to_etw.analysis.pipeline import AnalysisOptions, analyze

    if not os.path.exists(path):
        pytest.skip(f"fixture not built: {path}")
    rows = {}
    asked = {}
    for sliced in (False, True):
        loaded = open_binary(path)
        engine = _Counting(loaded.image, loaded.pdb)
        engine.sliced = sliced
        result = analyze(engine, AnalysisOptions(all_sites=True))
        rows[sliced] = [repr(row) for row in result.rows]
        asked[sliced] = engine.sliced_functions
    assert rows[True] == rows[False]
    assert rows[True]
    assert asked[True] > 0 and asked[False] == 0


class _Recording(NativeEngine):
    """The native engine, keeping the functions of each ``resolve`` call in order."""

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.batches: list[list[int]] = []

    def resolve(self, functions, asked=None):  # type: ignore[no-untyped-def]
        functions = list(dict.fromkeys(functions))
        self.batches.append(functions)
        return super().resolve(functions, asked)


def _recording(path: str, sliced: bool) -> _Recording:
    """A recording engine for the fixture at ``path`` (skipped when it is not built), slicing or not."""
    if not os.path.exists(path):
        pytest.skip(f"fixture not built: {path}")
    loaded = open_binary(path)
    engine = _Recording(loaded.image, loaded.pdb)
    engine.sliced = sliced
    return engine


@pytest.mark.parametrize("path", FIXTURES[:2], ids=lambda p: os.path.relpath(p, SAMPLES))
def test_wrapper_rounds_flow_a_caller_once(path: str) -> None:
    """The synthetic kernel has ETW callers that also call a wrapper (a function that calls an ETW API with its
    own parameters). The wrapper stage's first round asks at those calls for every argument, so its second
    round (the wrappers' callers) flows none of the first round's functions again; the rows are those of an
    engine that answers whole functions."""
    from api_to_etw.analysis.pipeline import AnalysisOptions, analyze

    rows = {}
    for sliced in (False, True):
        engine = _recording(path, sliced)
        rows[sliced] = [repr(row) for row in analyze(engine, AnalysisOptions()).rows]
        if sliced:
            first, second = engine.batches[0], engine.batches[1]
            calls = engine.load().calls
            wrapped = {s.caller for s in calls if s.caller in first and s.callee in first and s.callee in
                       {c.callee for c in calls if c.caller in second}}
            assert wrapped  # the fixture has such callers: the second round would have flowed them again
            assert not set(first) & set(second)
    assert rows[True] == rows[False]
    assert rows[True]


@pytest.mark.parametrize("path", [FIXTURES[2], FIXTURES[3]], ids=lambda p: os.path.relpath(p, SAMPLES))
def test_entry_finder_questions_ride_on_the_first_flow(path: str) -> None:
    """The entry finder hands its questions to ``CallValues`` before the wrapper stage (``ask_first``): the
    drivers' entry point, their registration calls and (KMDF) the callers of framework methods are each flowed
    once, by whichever stage comes first, and the rows are those of an engine that answers whole functions."""
    from api_to_etw.analysis.pipeline import Analysis, AnalysisOptions

    rows = {}
    for sliced in (False, True):
        engine = _recording(path, sliced)
        analysis = Analysis(engine, AnalysisOptions())
        rows[sliced] = [repr(row) for row in analysis.run().rows]
        callers = {s.caller for s in engine.load().calls}
        flowed = [f for batch in engine.batches for f in batch if f in callers]
        if sliced:
            assert analysis.values.flows > 0 and analysis.values.reflows == 0
            assert len(flowed) == len(set(flowed))
    assert rows[True] == rows[False]
    assert rows[True]
