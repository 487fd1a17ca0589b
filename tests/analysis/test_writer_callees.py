"""The direct calls between TraceLogging writer functions are read where the helper chains ask
(``tlgbind.WriterCallees``) and are those every writer's own call sites give."""

from __future__ import annotations

import os

from conftest import SAMPLES

from api_to_etw.analysis.pipeline import _WRITE_ROLES, Analysis, AnalysisOptions
from api_to_etw.analysis.sites import sites_by_caller
from api_to_etw.analysis.tlgbind import WriterCallees, helper_chain, writer_functions
from api_to_etw.binary.loader import open_binary
from api_to_etw.engine.native.engine import NativeEngine


def test_writer_callees_are_the_writers_calls():
    loaded = open_binary(os.path.join(SAMPLES, "usermode", "telemetry.dll"))
    analysis = Analysis(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions())
    analysis.run()
    facts = analysis.facts
    apis = [rva for rva, api in analysis.apis.items() if api.role in _WRITE_ROLES and rva in facts.functions]
    writers = writer_functions(apis, analysis._caller_lists.__getitem__)
    assert len(writers) > len(apis), "some function reaches a write API through a call"
    sites_in = sites_by_caller(facts.calls)
    callees = WriterCallees(sites_in, writers)
    linked = 0
    for rva in facts.functions:
        expected = {s.callee for s in sites_in.get(rva, ()) if s.callee in writers} if rva in writers else set()
        assert callees.get(rva) == expected
        linked += bool(expected)
        assert helper_chain(rva, callees) >= {rva} | expected
    assert linked > 0
