"""One flow object for a whole batch (``FunctionDataflow.start``, as ``NativeEngine.resolve`` runs it) answers as a
new flow per function filling working copies of the sites does: the same argument values at every site, the same
stores, in the same order, and the facts' sites keep no values. Checked on the committed fixtures (real clang
output), whole and with one argument asked per site."""

from __future__ import annotations

import os
from typing import Optional

import pytest
from conftest import SAMPLES

from api_to_etw.binary.loader import open_binary
from api_to_etw.engine.native.dataflow import FunctionDataflow
from api_to_etw.engine.native.engine import NativeEngine
from api_to_etw.model import Arguments, Store

FIXTURES = [
    os.path.join(SAMPLES, "synthkernel", "O2", "synthkernel.exe"),
    os.path.join(SAMPLES, "mckmdf", "O2", "mckmdf.sys"),
    os.path.join(SAMPLES, "idioms", "O2", "idioms.dll"),
    os.path.join(SAMPLES, "funclets", "O2", "funclets.dll"),  # landing pads: blocks entered from unwinding
]


def _fresh(engine: NativeEngine, rva: int, asked: Optional[dict[int, tuple[int, ...]]]
           ) -> tuple[dict[int, Arguments], list[Store]]:
    """The answer of a new flow over one function, on working copies of its sites (the way before batches)."""
    facts = engine.load()
    func = facts.functions[rva]
    sites = {site_rva: site.working_copy() for site_rva, site in engine._sites_by_function[rva].items()}
    image, runtime = engine.image, engine._runtime
    copies = [site_rva for site_rva, site in sites.items() if site.callee in engine._copiers]
    fills = {site_rva: engine._fillers[site.callee] for site_rva, site in sites.items() if site.callee in engine._fillers}
    flow = FunctionDataflow(image, image.image_base, image.size_of_image, sites, rva, engine._call_results, copies,
                            codecs=runtime.codecs, dispatch=runtime.dispatch, fill_calls=fills, checks=runtime.check,
                            asked=asked)
    flow.run([(func.rva, func.rva + func.size), *func.fragments], engine._landing_pads.get(rva, ()))
    order = sites if asked is None else [site_rva for site_rva in asked if site_rva in sites]
    return {r: sites[r].args for r in order if sites[r].args is not None}, flow.stores()  # type: ignore[misc]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: os.path.relpath(p, SAMPLES))
@pytest.mark.parametrize("sliced", [False, True])
def test_one_flow_per_batch_answers_as_one_per_function(path: str, sliced: bool) -> None:
    if not os.path.exists(path):
        pytest.skip(f"fixture not built: {path}")
    loaded = open_binary(path)
    engine = NativeEngine(loaded.image, loaded.pdb)
    facts = engine.load()
    functions = sorted({s.caller for s in facts.calls if not facts.functions[s.caller].imported})
    asked = None
    if sliced:
        asked = {f: {s.rva: (0,) for s in facts.calls if s.caller == f} for f in functions}
    answer = engine.resolve(functions, asked)
    expected_args: dict[tuple[int, int], Arguments] = {}
    expected_stores: list[Store] = []
    for rva in functions:
        args, stores = _fresh(engine, rva, None if asked is None else asked[rva])
        expected_args.update(((rva, site_rva), values) for site_rva, values in args.items())
        expected_stores.extend(stores)
    assert answer.args, "the fixture's calls got no values"
    assert list(answer.args.items()) == list(expected_args.items())
    assert answer.stores == expected_stores
    assert all(site.args is None for site in facts.calls)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: os.path.relpath(p, SAMPLES))
@pytest.mark.parametrize("sliced", [False, True])
def test_one_piece_run_answers_as_run(path: str, sliced: bool) -> None:
    """``run_piece`` (what the engine's batches run for a function of one piece with no landing pad) gives the
    argument values, their order and the stores ``run`` gives for the same piece, on every such function."""
    if not os.path.exists(path):
        pytest.skip(f"fixture not built: {path}")
    loaded = open_binary(path)
    engine = NativeEngine(loaded.image, loaded.pdb)
    facts = engine.load()
    image, runtime = engine.image, engine._runtime
    compared = 0
    for rva, func in sorted(facts.functions.items()):
        sites = engine._sites_by_function.get(rva)
        if func.imported or func.fragments or rva in engine._landing_pads or not sites:
            continue
        asked = {site_rva: (0, 5) for site_rva in sites} if sliced else None
        answers = []
        for one_piece in (False, True):
            flow = FunctionDataflow(image, image.image_base, image.size_of_image, {}, -1, engine._call_results,
                                    codecs=runtime.codecs, dispatch=runtime.dispatch, checks=runtime.check)
            found = flow.start(sites, rva, asked)
            if one_piece:
                flow.run_piece(rva, rva + func.size)
            else:
                flow.run(((rva, rva + func.size),))
            answers.append((list(found.items()), flow.stores()))
        assert answers[0] == answers[1], hex(rva)
        compared += 1
    assert compared > 0
