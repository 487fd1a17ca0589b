"""Bounded substitution walks (issue 13): a registration and a write wrapper whose parameters pass through
L levels of callers, each level calling the one below from K call sites, as frozen facts. Without
memoization the walk up the callers visits K**L states (K=20: tens of seconds; K=40: out of memory)."""

from __future__ import annotations

import json
import uuid

import pytest

from api_to_etw.analysis import pipeline
from api_to_etw.analysis.pipeline import AnalysisOptions, analyze
from api_to_etw.engine.frozen import FORMAT, VERSION, FrozenEngine

GUID = uuid.UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
LEVELS = 4
ETW_REGISTER, ETW_WRITE = 0x9000, 0x9008
GUID_RVA, DESC_RVA, HANDLE_RVA = 0x5000, 0x5010, 0x6000
DESCRIPTOR = bytes([7, 0, 1, 0, 4, 0, 2, 0]) + (0x8000000000000010).to_bytes(8, "little")  # Id 7 V0 Ch0 L4...


def _p(i: int) -> list:
    return [{"p": i}]


def _chain_facts(k: int) -> dict:
    """reg_0 calls EtwRegister(P0, 0, 0, P3), write_0 calls EtwWrite(*P0, P1); level j calls level j-1 from k
    sites passing its own parameters on; the top level (an export) passes the GUID, the handle, the descriptor."""
    functions = [[ETW_REGISTER, 0, "EtwRegister", False, True, []], [ETW_WRITE, 0, "EtwWrite", False, True, []]]
    calls = []
    for chain, base in (("Register", 0x1000), ("Write", 0x3000)):
        for level in range(LEVELS + 1):
            rva = base + 0x100 * level
            top = level == LEVELS
            functions.append([rva, 0x100, f"{chain}Level{level}", top, False, []])
            if level == 0:
                if chain == "Register":
                    calls.append([rva, rva + 8, ETW_REGISTER, False, [_p(0), [{"c": 0}], [{"c": 0}], _p(3)]])
                else:
                    calls.append([rva, rva + 8, ETW_WRITE, False, [[{"l": [{"p": 0}, 8]}], _p(1), [{"c": 0}]]])
                continue
            for n in range(k):
                if top and chain == "Register":
                    args = [[{"a": GUID_RVA}], [{"c": 0}], [{"c": 0}], [{"a": HANDLE_RVA}]]
                elif top:
                    args = [[{"a": HANDLE_RVA}], [{"a": DESC_RVA}]]
                else:
                    args = [_p(0), _p(1), _p(2), _p(3)]
                calls.append([rva, rva + 4 + 2 * n, rva - 0x100, False, args])
    return {
        "format": FORMAT, "version": VERSION, "engine": "native", "binary": f"chain{k}.sys", "image_base": 0x140000000,
        "has_pdb": True, "machine": "x64",
        "sections": [[0x1000, 0x4000, False, True], [0x5000, 0x1000, False, False], [0x6000, 0x1000, True, False]],
        "functions": functions, "calls": calls,
        "symbols": [[GUID_RVA, "ChainProviderGuid"], [DESC_RVA, "CHAIN_EVENT"], [HANDLE_RVA, "ChainHandle"]],
        "memory": [[GUID_RVA, (GUID.bytes_le + DESCRIPTOR).hex()]],
        "references": None, "annotations": None,
    }


@pytest.mark.parametrize("k", [20, 40])
def test_fan_in_chain_is_linear(tmp_path, monkeypatch, k):
    """The walk's caller states are capped at a bound linear in the call sites (k per level, LEVELS levels):
    an exponential walk (k**LEVELS states) would be truncated there, a memoised one stays under it."""
    monkeypatch.setattr(pipeline, "MAX_WALK_STATES", 4 * k * LEVELS)
    path = tmp_path / f"chain{k}.json"
    path.write_text(json.dumps(_chain_facts(k)))
    result = analyze(FrozenEngine(str(path)), AnalysisOptions())
    assert result.stats.truncated == []
    rows = [(r.function, r.event.provider_guid, r.event.descriptor_symbol, r.event.id, r.event_site, r.entry)
            for r in result.rows]
    assert rows == [("WriteLevel4", str(GUID), "CHAIN_EVENT", 7, "WriteLevel4", "export")]
    assert result.rows[0].event.reghandle_symbol == "ChainHandle"


def test_cap_records_truncation(tmp_path, monkeypatch):
    """Past the state cap the walk stops with a recorded reason instead of growing."""
    monkeypatch.setattr(pipeline, "MAX_WALK_STATES", 2)
    path = tmp_path / "chain.json"
    path.write_text(json.dumps(_chain_facts(3)))
    result = analyze(FrozenEngine(str(path)), AnalysisOptions())
    assert result.stats.truncated
    assert all(reason.startswith("truncated: ") for reason in result.stats.truncated)
