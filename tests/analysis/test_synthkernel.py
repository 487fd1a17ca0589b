"""The analyzer's rows on the synthetic kernels equal the generator's ground truth, at every -O level.

The analyzer reads only the binary and its PDB; the truth comes from the generator's own model of the
C it wrote (samples/synthkernel/truth.json). Recall and precision are both checked, every descriptor
field, the depth, and that each reported call path is a real path of the truth's call graph.
"""

from __future__ import annotations

import pytest
from conftest import LEVELS, load_truth, synth_exe

from api_to_etw.analysis.pipeline import AnalysisOptions, analyze
from api_to_etw.binary.loader import open_binary
from api_to_etw.engine.native.engine import NativeEngine
from api_to_etw.etw.apis import lookup_all
from api_to_etw.render.rows import row_columns

FIELDS = ("Id", "Version", "Channel", "Level", "Opcode", "Task", "Keyword", "GroupMask", "HookId")
NAMES = ("ProviderGuid", "ProviderSymbol", "ReghandleSymbol", "EventDescriptorSymbol")


def _hex(value):
    return None if value in (None, "", "-") else int(value, 16) if isinstance(value, str) else int(value)


def _int(value):
    return None if value in (None, "", "-") else int(value)


def expected_write_function(name: str) -> str:
    """The published convention: TraceLogging helpers are named without their ``_Etw...`` back-end suffix."""
    if name.startswith("_tlgWrite") and "_Etw" in name:
        return name[: name.index("_Etw")]
    return name


def normalise_truth(row: dict) -> dict:
    out = {k: row.get(k) or "" for k in ("Function", "Kind", "ContainingFunction") + NAMES}
    out["WriteFunction"] = expected_write_function(row["WriteFunction"])
    for f in FIELDS:
        out[f] = row.get(f)
    out["CallDepth"] = row["CallDepth"]
    return out


def normalise_ours(row: dict) -> dict:
    out = {k: row[k] for k in ("Function", "Kind", "ContainingFunction", "WriteFunction") + NAMES}
    for f in ("Id", "Version", "Channel", "Level", "Opcode", "Task"):
        out[f] = _int(row[f])
    for f in ("Keyword", "GroupMask", "HookId"):
        out[f] = _hex(row[f])
    out["CallDepth"] = int(row["CallDepth"])
    return out


def key(row: dict) -> tuple:
    event = row["EventDescriptorSymbol"] if row["Kind"] != "manifest" or row["EventDescriptorSymbol"] else ""
    return (row["Function"], row["Kind"], row["ProviderGuid"], row["ProviderSymbol"], event,
            tuple(row[f] for f in FIELDS), row["ContainingFunction"])


@pytest.fixture(scope="module")
def truth():
    return load_truth()


@pytest.fixture(scope="module", params=LEVELS)
def result(request):
    loaded = open_binary(synth_exe(request.param))
    assert loaded.pdb is not None
    res = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions(max_depth=5))
    return request.param, res


def test_every_row_resolved(result):
    level, res = result
    unresolved = [row_columns(r) for r in res.rows if not r.event.resolved]
    assert not unresolved, f"{level}: {len(unresolved)} unresolved rows, e.g. {unresolved[:3]}"


def test_rows_equal_truth(result, truth):
    level, res = result
    ours = {}
    for row in res.rows:
        norm = normalise_ours(row_columns(row))
        assert key(norm) not in ours, f"duplicate row {key(norm)}"
        ours[key(norm)] = norm
    expected = {key(n): n for n in map(normalise_truth, truth["rows"])}
    missing = sorted(set(expected) - set(ours))
    extra = sorted(set(ours) - set(expected))
    assert not missing and not extra, (
        f"{level}: recall {len(set(expected) & set(ours))}/{len(expected)}, {len(extra)} extra\n"
        f"missing: {missing[:8]}\nextra: {extra[:8]}"
    )
    for k, exp in expected.items():
        got = ours[k]
        assert got == exp, f"{level}: {k}\nexpected {exp}\ngot      {got}"


def test_call_paths_are_real(result, truth):
    level, res = result
    edges = {tuple(e) for e in truth["edges"]}
    for row in res.rows:
        path = row.call_path
        assert path[0] == row.function and path[-1] == row.containing_function
        assert len(path) == row.call_depth <= truth["max_depth"]
        for a, b in zip(path, path[1:]):
            assert (a, b) in edges, f"{level}: {a}->{b} is not a call in the truth ({path})"


def test_call_graph_holds_the_walked_calls(result, truth):
    """The networkx graph made from what the walk searched: its edges are calls of the truth (besides the
    calls of the ETW APIs themselves, which the truth does not list), and every row's call path runs along
    them."""
    level, res = result
    edges = {tuple(e) for e in truth["edges"]}
    graph = res.call_graph()
    names = {rva: f.name for rva, f in res.facts.functions.items()}
    apis = lookup_all(names.items())
    walked = {(names[a], names[b]) for a, b in graph.edges if b not in apis}
    assert graph.number_of_edges() > len(res.rows) // 4 > 0
    assert walked <= edges, f"{level}: {sorted(walked - edges)[:3]} are not calls in the truth"
    for row in res.rows:
        for a, b in zip(row.call_path, row.call_path[1:]):
            assert (a, b) in walked, f"{level}: {a}->{b} of {row.call_path} is not in the walk's graph"


def test_depth_limit_is_respected(truth):
    """A smaller --max-depth drops exactly the truth rows deeper than it."""
    loaded = open_binary(synth_exe("O2"))
    res = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions(max_depth=3))
    ours = {key(normalise_ours(row_columns(r))) for r in res.api_rows()}
    expected = {key(n) for n in map(normalise_truth, truth["rows"]) if n["CallDepth"] <= 3}
    assert ours == expected


def test_roots_and_ignore(tmp_path, truth):
    """--roots restricts the APIs; --ignore cuts paths through a function."""
    rows = truth["rows"]
    some_root = sorted({r["Function"] for r in rows})[0]
    loaded = open_binary(synth_exe("O2"))
    res = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions(roots={some_root}))
    assert {r.function for r in res.api_rows()} == {some_root}
    assert len(res.api_rows()) == sum(1 for r in rows if r["Function"] == some_root)

    # Ignoring a containing function removes every row it contains (and paths through it).
    victim = sorted({r["ContainingFunction"] for r in rows if r["CallDepth"] > 1})[0]
    res = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions(ignore={victim}))
    assert all(victim not in r.call_path for r in res.rows)
    assert len(res.rows) < len(rows)


def test_larger_depth_adds_the_deeper_rows(truth):
    """--max-depth 6 reports exactly the truth's rows plus those it lists beyond depth 5."""
    deeper = truth.get("rows_beyond_max_depth", [])
    assert deeper, "the sample must have writes beyond the default depth"
    loaded = open_binary(synth_exe("O2"))
    res = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions(max_depth=6))
    ours = {key(normalise_ours(row_columns(r))) for r in res.rows}
    expected = {key(normalise_truth(r)) for r in truth["rows"] + deeper}
    # A deeper limit may also shorten nothing and add only paths of length 6.
    assert expected <= ours
    assert all(r.call_depth == 6 for r in res.rows if key(normalise_ours(row_columns(r))) not in expected)
