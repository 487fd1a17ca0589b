"""Manifest events made with their instance dict filled at once (``events._manifest``: a copy of a prepared
dict) are the objects the record's own constructor makes: same fields in the same order, equal, same hash and
repr."""

from __future__ import annotations

import os

from conftest import SAMPLES

from api_to_etw.analysis.pipeline import AnalysisOptions, analyze
from api_to_etw.analysis.records import KIND_MANIFEST, EventInfo
from api_to_etw.binary.loader import open_binary
from api_to_etw.engine.native.engine import NativeEngine


def test_the_record_has_nothing_its_constructor_would_run():
    assert not hasattr(EventInfo, "__post_init__") and "__slots__" not in vars(EventInfo)


def test_manifest_events_are_what_the_constructor_makes():
    loaded = open_binary(os.path.join(SAMPLES, "mcdriver", "O2", "mcdriver.sys"))
    rows = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions(all_sites=True)).rows
    events = {id(r.event): r.event for r in rows if r.event.kind == KIND_MANIFEST}
    assert len(events) > 3
    for event in events.values():
        made = EventInfo(**{name: getattr(event, name) for name in EventInfo._fields})
        assert made == event and hash(made) == hash(event) and repr(made) == repr(event)
        assert list(vars(made).items()) == list(vars(event).items())
        assert event._replace(write_function="X").write_function == "X"
