"""Frozen facts: saving an engine's facts and replaying them gives the same rows, without the binary."""

from __future__ import annotations

import json
import os

import pytest
from conftest import LEVELS, run_cli, synth_exe

from api_to_etw.errors import ExitCode


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("extra", [[], ["--no-pdb"], ["--max-depth", "3", "--all-sites"]])
def test_replay_equals_direct_analysis(tmp_path, level, extra):
    facts = tmp_path / "k.facts.json"
    direct = run_cli("analyze", synth_exe(level), "--save-facts", facts, "-o", "-", *extra)
    assert direct.code == ExitCode.OK, direct.stderr
    replay = run_cli("analyze", "--facts", facts, "-o", "-", *[e for e in extra if e != "--no-pdb"])
    assert replay.code == ExitCode.OK, replay.stderr
    assert replay.stdout == direct.stdout
    assert direct.stdout.count("\n") > 10


def test_facts_schema(tmp_path):
    facts = tmp_path / "k.facts.json"
    assert run_cli("analyze", synth_exe("O2"), "--save-facts", facts, "-o", os.devnull).code == ExitCode.OK
    doc = json.loads(facts.read_text())
    assert doc["format"] == "api-to-etw-facts" and doc["version"] == 1 and doc["engine"] == "native"
    assert {"functions", "calls", "symbols", "sections", "memory", "references", "image_base"} <= set(doc)
    resolved = [c for c in doc["calls"] if c[4] is not None]
    assert resolved and all(len(c[4]) == 8 for c in resolved)


@pytest.mark.parametrize("content,code", [
    ("", ExitCode.CORRUPT_METADATA),
    ("{}", ExitCode.CORRUPT_METADATA),
    ('{"format": "api-to-etw-facts", "version": 99}', ExitCode.CORRUPT_METADATA),
    ('{"format": "api-to-etw-facts", "version": 1, "functions": [[1]]}', ExitCode.CORRUPT_METADATA),
])
def test_bad_facts_files(tmp_path, content, code):
    facts = tmp_path / "bad.json"
    facts.write_text(content)
    result = run_cli("analyze", "--facts", facts, "-o", "-")
    assert result.code == code
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_facts_and_binary_are_exclusive(tmp_path):
    result = run_cli("analyze", synth_exe("O2"), "--facts", tmp_path / "x.json", "-o", "-")
    assert result.code == ExitCode.USAGE


@pytest.mark.parametrize("extra", [[], ["--no-pdb"]])
def test_replay_of_the_idiom_fixture(tmp_path, extra):
    """Stack-buffer origins and refs, GetProcAddress imports and recorded stores survive the facts file."""
    dll = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "samples",
                       "idioms", "O2", "idioms.dll")
    facts = tmp_path / "i.facts.json"
    direct = run_cli("analyze", dll, "--save-facts", facts, "-o", "-", *extra)
    assert direct.code == ExitCode.OK, direct.stderr
    doc = json.loads(facts.read_text())
    assert doc["stores"] and any('"i"' in json.dumps(s) for s in doc["stores"])
    replay = run_cli("analyze", "--facts", facts, "-o", "-")
    assert replay.code == ExitCode.OK, replay.stderr
    assert replay.stdout == direct.stdout
    assert "\tclassic\t" in direct.stdout and direct.stdout.count("\n") == 20
