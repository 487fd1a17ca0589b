"""One TraceLogging binder: ``tracelogging`` and ``analyze --all-sites`` tie every event to the same provider.

Both commands call api_to_etw.analysis.tlgbind.bind on the native engine's facts; this checks the outcome on
every fixture with TraceLogging metadata, with and without its PDB (the real binaries are checked the same
way in tests/real/test_tlg_real_binaries.py).
"""

from __future__ import annotations

import csv
import io
import os

import pytest
from conftest import LEVELS, SAMPLES, run_cli

FIXTURES = [os.path.join(SAMPLES, "tlg", "tlg.dll"), os.path.join(SAMPLES, "usermode", "telemetry.dll")] + [
    os.path.join(SAMPLES, "synthkernel", level, "synthkernel.exe") for level in LEVELS]


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))


def _listed(path: str) -> set[tuple[str, str, str, str, str]]:
    result = run_cli("tracelogging", path)
    assert result.code == 0, result.stderr
    return {(r["Guid"], r["Provider"], r["Name"], r["Level"], r["Keyword"]) for r in _rows(result.stdout)
            if r["Kind"] == "event" and r["Provider"]}


def _analyzed(path: str, *options: str) -> set[tuple[str, str, str, str, str]]:
    result = run_cli("analyze", path, "--all-sites", *options, "-o", "-")
    assert result.code == 0, result.stderr
    return {(r["ProviderGuid"], r["ProviderSymbol"], r["EventDescriptorSymbol"], r["Level"],
             f"0x{int(r['Keyword'], 16):x}")
            for r in _rows(result.stdout) if r["Kind"] == "tracelogging" and r["Resolved"] == "yes"}


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: os.path.relpath(p, SAMPLES))
@pytest.mark.parametrize("pdb", ["--no-pdb", None])
def test_both_commands_tie_events_alike(path: str, pdb: str | None) -> None:
    listed = _listed(path)
    assert listed, "every fixture here writes TraceLogging events"
    assert _analyzed(path, *([pdb] if pdb else [])) == listed
