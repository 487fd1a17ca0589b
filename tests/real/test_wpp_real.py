"""WPP in a real KMDF driver without its PDB: ViGEmBus.sys, tracing through the WPP recorder.

Truth independent of the analyzer: the control GUID is the one public source declares
(nefarius/ViGEmBus sys/trace.h, WPP_DEFINE_CONTROL_GUID(ViGEmBusTraceGuid, (c5ce18fe-27bd-4049-b0b4-
8a47cab1dcd9), ...)); tracewpp derives every message GUID from the source file's name (a name-based GUID,
version nibble 3) and numbers each file's messages from 10 up; each message GUID is 16 bytes of the file.
"""

from __future__ import annotations

import csv
import io
import uuid

from conftest import run_cli

CONTROL = "c5ce18fe-27bd-4049-b0b4-8a47cab1dcd9"


def test_vigembus_wpp_recorder_without_pdb(real_binary):
    path = real_binary("ViGEmBus.sys")
    data = path.read_bytes()
    result = run_cli("analyze", path, "--no-pdb", "-o", "-")
    assert result.code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout), delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))
    wpp = [r for r in rows if r["Kind"] == "wpp"]
    assert wpp, "the driver traces through WppAutoLogTrace from its WPP_RECORDER_SF_* functions"
    assert {r["ProviderGuid"] for r in wpp} == {CONTROL}
    assert all(r["Resolved"] == "yes" for r in wpp)
    for row in wpp:  # DoTraceEvents' level: TRACE_LEVEL_CRITICAL (1) .. TRACE_LEVEL_VERBOSE (5), evntrace.h
        level = dict(pair.split("=") for pair in row["TaskName"].split())["LEVEL"]
        assert 1 <= int(level) <= 5, row
    messages = {(r["EventDescriptorSymbol"], int(r["Id"])) for r in wpp}
    for guid, number in messages:
        assert guid[14] == "3", guid  # the version nibble of a name-based GUID
        assert uuid.UUID(guid).bytes_le in data
        assert 10 <= number < 0x10000
    print(f"ViGEmBus.sys: {len(wpp)} wpp rows, {len(messages)} messages, {len({g for g, _n in messages})} "
          "message GUIDs")
