"""The analysis' site maps (analysis/sites.py) and the API name index (etw/apis.lookup_all) against their
plain definitions, on the facts of every committed fixture with code."""

from __future__ import annotations

import pytest

from api_to_etw.analysis.sites import sites_by_callee, sites_by_caller
from api_to_etw.binary.loader import open_binary
from api_to_etw.engine.native.engine import NativeEngine
from api_to_etw.etw.apis import lookup, lookup_all
from api_to_etw.model import CallSite, Facts
from tests.conftest import code_fixtures

FIXTURES = code_fixtures()


def _facts(path: str) -> Facts:
    loaded = open_binary(path, use_pdb=True)
    return NativeEngine(loaded.image, loaded.pdb).load()


def _plain_callers(calls: list[CallSite], skip_callers: set[int], skip_callees: set[int]) -> dict[int, list[CallSite]]:
    out: dict[int, list[CallSite]] = {}
    for site in calls:
        if site.caller in skip_callers or site.callee in skip_callees:
            continue
        out.setdefault(site.callee, []).append(site)
    for sites in out.values():
        sites.sort(key=lambda s: s.rva)
    return out


def _plain_sites_in(calls: list[CallSite]) -> dict[int, list[CallSite]]:
    out: dict[int, list[CallSite]] = {}
    for site in calls:
        out.setdefault(site.caller, []).append(site)
    return out


def _same(a: dict[int, list[CallSite]], b: dict[int, list[CallSite]]) -> bool:
    """The same keys and, per key, the same site objects in the same order."""
    return a.keys() == b.keys() and all([id(s) for s in a[k]] == [id(s) for s in b[k]] for k in a)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.split("samples/")[-1])
def test_site_maps_match_their_definition(path: str) -> None:
    facts = _facts(path)
    calls = facts.calls
    sites_in = sites_by_caller(calls)
    assert _same(sites_in, _plain_sites_in(calls))
    assert _same(sites_by_callee(calls, sites_in), _plain_callers(calls, set(), set()))
    # Skipping the callers and callees an analysis leaves out: the ETW APIs' own calls, ignored functions.
    callers = sorted({s.caller for s in calls})
    callees = sorted({s.callee for s in calls})
    skip_callers, skip_callees = set(callers[::3]), set(callees[::4])
    assert _same(sites_by_callee(calls, sites_in, skip_callers | skip_callees, skip_callees),
                 _plain_callers(calls, skip_callers | skip_callees, skip_callees))


def test_some_fixture_lists_sites_out_of_address_order() -> None:
    """The maps' tail path (sites after the first one below its predecessor) is taken by a real fixture: the
    funclet edges come after the calls."""
    unordered = []
    for path in FIXTURES:
        rvas = [s.rva for s in _facts(path).calls]
        if any(b < a for a, b in zip(rvas, rvas[1:])):
            unordered.append(path)
    assert any("funclets" in p for p in unordered)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.split("samples/")[-1])
def test_lookup_all_is_lookup_of_each_name(path: str) -> None:
    facts = _facts(path)
    names = [(rva, f.name) for rva, f in facts.functions.items()]
    assert lookup_all(names) == {rva: api for rva, name in names if (api := lookup(name)) is not None}


def test_lookup_all_takes_decorated_names() -> None:
    names = ["advapi32!EventWrite", "__imp_EtwWriteTransfer", "ntdll.dll!__imp_EtwEventRegister", "_tlgWriteAgg",
             "WPP_SF_qd", "x!WPP_RECORDER_SF_s", "TraceMessage", "TraceEvent", "RegisterTraceGuidsW",
             "sub_140001000", "EventWriter", "MyEventWrite", "Etw", "", "!", "__imp_"]
    listed = list(enumerate(names))
    found = lookup_all(listed)
    assert found == {i: api for i, name in listed if (api := lookup(name)) is not None}
    assert {names[i] for i in found} == {"advapi32!EventWrite", "__imp_EtwWriteTransfer",
                                          "ntdll.dll!__imp_EtwEventRegister", "_tlgWriteAgg", "WPP_SF_qd",
                                          "x!WPP_RECORDER_SF_s", "TraceMessage", "TraceEvent", "RegisterTraceGuidsW"}


def test_site_maps_of_a_caller_in_two_runs_and_an_unordered_tail() -> None:
    """Sites made by hand: a caller whose sites are split in two runs (funclet edges appended after the calls),
    a tail below its predecessor, callees joined before and after the tail, an empty list."""
    calls = [CallSite(0x100, 0x110, 0x900), CallSite(0x100, 0x120, 0x800), CallSite(0x200, 0x210, 0x900),
             CallSite(0x300, 0x310, 0x700), CallSite(0x100, 0x105, 0x900), CallSite(0x200, 0x205, 0x800),
             CallSite(0x200, 0x400, 0x600), CallSite(0x300, 0x300, 0x900)]
    sites_in = sites_by_caller(calls)
    assert _same(sites_in, _plain_sites_in(calls))
    assert list(sites_in) == [0x100, 0x200, 0x300]
    assert _same(sites_by_callee(calls, sites_in), _plain_callers(calls, set(), set()))
    assert [s.rva for s in sites_by_callee(calls, sites_in)[0x900]] == [0x105, 0x110, 0x210, 0x300]
    assert _same(sites_by_callee(calls, sites_in, {0x200}, {0x700}), _plain_callers(calls, {0x200}, {0x700}))
    assert sites_by_caller([]) == {} and sites_by_callee([], {}) == {}
