"""WPP rows: trace calls (TraceMessage import, WmiTraceMessage, the kernel pfnWppTraceMessage pointer, WPP_SF_*
wrappers) joined to the PDB's TMF annotations, compared with samples/wpp/truth.json."""

from __future__ import annotations

import json
import os

import pytest
from conftest import SAMPLES

from api_to_etw.analysis.pipeline import AnalysisOptions, analyze
from api_to_etw.binary.loader import open_binary
from api_to_etw.engine.native.engine import NativeEngine
from api_to_etw.render.rows import row_columns

WPP = os.path.join(SAMPLES, "wpp")


def _images():
    with open(os.path.join(WPP, "truth.json"), encoding="utf-8") as handle:
        return json.load(handle)["images"]


@pytest.mark.parametrize("image", _images(), ids=lambda i: i["file"])
def test_wpp_rows_equal_truth(image):
    loaded = open_binary(os.path.join(WPP, image["file"]))
    result = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions())
    rows = [r for r in result.api_rows() if r.event.kind == "wpp"]
    assert all(r.event.resolved for r in rows)
    ours = {(r.function, r.event.event_key[1], r.event.event_key[2], r.containing_function, r.call_depth)
            for r in rows}
    expected = {(t["api"], t["message_guid"], t["number"], t["function"], t["depth"]) for t in image["rows"]}
    assert ours == expected
    messages = {(m["message_guid"], m["number"]): m for m in image["messages"]}
    for row in rows:
        message = messages[(row.event.event_key[1], row.event.event_key[2])]
        assert row.event.message == message["format"]
        assert row.event.provider_guid == message["control_guid"]
        assert row.event.provider_symbol == message["control_name"]
        assert row.event.descriptor_symbol == message["name"]
        assert row.event.fields == tuple(a[0] for a in message["args"])
        assert row_columns(row)["Kind"] == "wpp"
