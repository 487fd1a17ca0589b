"""User-mode ETW through the import table: advapi32 EventRegister/EventWrite/EventWriteTransfer, and an
inlined user-mode TraceLogging write (EventWriteTransfer on a _tlgProvider_t's handle). The expected rows are
those samples/usermode/telemetry.c writes, transcribed by hand from its source."""

from __future__ import annotations

import os

from conftest import REPO, SAMPLES, require_fixture_toolchain

from api_to_etw.analysis.pipeline import AnalysisOptions, analyze
from api_to_etw.binary.loader import open_binary
from api_to_etw.engine.native.engine import NativeEngine
from api_to_etw.render.rows import row_columns

DLL = os.path.join(SAMPLES, "usermode", "telemetry.dll")
WIDGET = "6b0a6a2e-1c4f-4d71-9a55-2d3e410b7c11"
CONTOSO = "1d2c3b4a-5e6f-4a7b-8c9d-aebfc0d1e2f3"
# (API, kind, provider GUID, event symbol or TraceLogging name, (Id, Version, Channel, Level, Opcode, Task, Keyword),
#  containing function, depth)
EXPECTED = {
    ("WidgetOpen", "manifest", WIDGET, "WIDGET_EVENT_OPENED", (1, 0, 16, 4, 1, 1, 0x8000000000000001), "WidgetLog", 2),
    ("WidgetClose", "manifest", WIDGET, "WIDGET_EVENT_CLOSED", (2, 0, 16, 4, 2, 1, 0x8000000000000001), "WidgetLog", 2),
    ("WidgetClose", "manifest", WIDGET, "WIDGET_EVENT_FAILED", (3, 1, 16, 2, 0, 2, 0x8000000000000002), "WidgetClose",
     1),
    ("WidgetOpen", "tracelogging", CONTOSO, "WidgetUsage", (None, None, 11, 5, 0, None, 0x400000000000), "WidgetOpen",
     1),
    ("WidgetClose", "tracelogging", CONTOSO, "WidgetCrash", (None, None, 11, 2, 0, None, 0x400000000000),
     "WidgetClose", 1),
}


def _rows(use_pdb: bool):
    loaded = open_binary(DLL, use_pdb=use_pdb)
    result = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions())
    assert all(r.event.resolved for r in result.rows), [row_columns(r) for r in result.rows if not r.event.resolved]
    return result.rows


def _key(row, with_symbols=True):
    e = row.event
    return (row.function, e.kind, e.provider_guid, e.descriptor_symbol if with_symbols or e.kind != "manifest" else "",
            (e.id, e.version, e.channel, e.level, e.opcode, e.task, e.keyword), row.containing_function,
            row.call_depth)


def test_usermode_rows_with_pdb():
    rows = _rows(True)
    assert {_key(r) for r in rows} == EXPECTED
    assert {r.event.reghandle_symbol for r in rows if r.event.kind == "manifest"} == {"WidgetRegHandle"}
    assert {r.event.provider_name for r in rows if r.event.kind == "tracelogging"} == {"Contoso.Widget.Telemetry"}


def test_usermode_rows_without_pdb():
    rows = _rows(False)
    names = {"WidgetLog": None}
    got = set()
    for r in rows:
        k = _key(r, with_symbols=False)
        if r.containing_function.startswith("sub_"):
            names["WidgetLog"] = r.containing_function
            k = k[:5] + ("WidgetLog",) + k[6:]
        got.add(k)
    expected = {(e[0], e[1], e[2], e[3] if e[1] != "manifest" else "", e[4], e[5], e[6]) for e in EXPECTED}
    assert got == expected


def test_usermode_fixture_reproduces():
    import subprocess
    import sys

    require_fixture_toolchain("llvm-dlltool")

    proc = subprocess.run([sys.executable, "-m", "samples.usermode.build", "--check"], capture_output=True,
                          text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
