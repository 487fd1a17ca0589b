"""A classic provider whose control GUID exists only at run time: samples/runguid (an RFC 4122 version-5
name-based GUID the DLL hashes with bcrypt's SHA-1 from its provider name; its class GUID is that GUID with
Data1 + 1, kept in an object the writers are given), at -O1/-O2/-Os, with and without its PDB. The truth is the fixture model's (samples/runguid/build.py: Python's ``uuid.uuid5`` over the same
namespace and name); the analyzer gets it only by running the DLL's code (engine capability runtime-bytes).

The second registration hashes a name its caller passes in: its GUID is the caller's, so it gets none (the
two runs of the evaluator read different scratch names and disagree), and the run says so on stderr.
"""

from __future__ import annotations

import json
import os
import uuid

import pytest
from conftest import REPO, SAMPLES, needs_tools, run_cli

from api_to_etw.analysis.pipeline import AnalysisOptions, analyze
from api_to_etw.binary.loader import open_binary
from api_to_etw.engine.native.engine import NativeEngine

LEVELS = ("O1", "O2", "Os")
TRUTH = json.loads(open(os.path.join(SAMPLES, "runguid", "truth.json"), encoding="utf-8").read())

pytest.importorskip("unicorn", reason="the run-time evaluation needs the emulator (pip install unicorn)")


def _dll(level: str) -> str:
    return os.path.join(SAMPLES, "runguid", level, "runguid.dll")


@pytest.mark.parametrize("use_pdb", [True, False])
@pytest.mark.parametrize("level", LEVELS)
def test_runguid_rows_have_the_run_time_provider(level, use_pdb):
    path = _dll(level)
    # The GUID is nowhere in the image, in either byte order.
    data = open(path, "rb").read()
    for text in (TRUTH["provider"], TRUTH["class"]):
        guid = uuid.UUID(text)
        assert guid.bytes_le not in data and guid.bytes not in data
    loaded = open_binary(path, use_pdb=use_pdb)
    rows = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions()).rows
    writes = {w["function"]: w for w in TRUTH["writes"]}
    assert len(rows) == len(writes)
    for row in rows:
        e = row.event
        assert e.kind == "classic" and e.write_function == "TraceEvent"
        assert e.provider_guid == TRUTH["provider"]
        # The class GUID: evaluated at the registration (its TRACE_GUID_REGISTRATION.Guid), named at the writes,
        # whose GuidPtr is a field of the object their caller passes (the provider's one class).
        assert e.descriptor_symbol == TRUTH["class"] and e.resolved
        assert row.entry == "export"
        if use_pdb:
            assert row.function in writes
    assert sorted((r.event.opcode, r.event.level) for r in rows) == sorted((w["type"], w["level"])
                                                                           for w in writes.values())


def test_runguid_passed_in_name_gets_no_guid():
    result = run_cli("analyze", _dll("O2"), "-o", "-")
    assert result.code == 0, result.stderr
    [why] = [line for line in result.stderr.splitlines() if "ControlGuid" in line]
    assert f"in {TRUTH['passed_in']}:" in why and "no GUID constant of the image" in why, why


def test_runguid_replays_from_a_facts_file(tmp_path):
    """--save-facts records the evaluator's answers; --facts gives the same provider without running anything."""
    facts = str(tmp_path / "runguid.facts.json")
    live = run_cli("analyze", _dll("O2"), "--save-facts", facts, "-o", "-")
    replay = run_cli("analyze", "--facts", facts, "-o", "-")
    assert live.code == 0 and replay.code == 0, (live.stderr, replay.stderr)
    assert replay.stdout == live.stdout
    assert TRUTH["provider"] in replay.stdout


@needs_tools("clang", "lld-link", "llvm-dlltool")
def test_runguid_fixture_reproduces():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "samples.runguid.build", "--check"], capture_output=True,
                          text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr


def test_runguid_evaluation_stops_at_the_binary_budget(monkeypatch):
    """With the binary's evaluation instructions spent, no question is run: the rows keep no provider (the same
    image gets its GUID above), so a hostile image cannot make the evaluator cost more than the budget."""
    from api_to_etw.engine.native import evaluate

    monkeypatch.setattr(evaluate, "BINARY_INSTRUCTIONS", 0)
    loaded = open_binary(_dll("O2"), use_pdb=True)
    result = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions(all_sites=True))
    assert result.rows
    assert all(row.event.provider_guid != TRUTH["provider"] for row in result.rows)


def test_runguid_evaluation_of_a_lying_image_is_no_answer():
    """A section that claims more than SizeOfImage maps outside the run's image: the emulator's error while
    the run is set up is a reason, never an exception out of the analysis."""
    from api_to_etw.engine.native import evaluate

    loaded = open_binary(_dll("O2"), use_pdb=True)
    engine = NativeEngine(loaded.image, loaded.pdb)
    facts = engine.load()
    site = next(s for s in facts.calls if facts.functions[s.callee].name.endswith("RegisterTraceGuidsW"))
    loaded.image.size_of_image = 0x1000  # the headers' page only: every section lies outside it
    answer = evaluate.pointed_bytes(loaded.image, evaluate.runtime_starts(facts, site.caller), site.rva, 0, 16)
    assert answer.data is None and "unmapped" in answer.reason.lower()


def test_runguid_evaluation_does_not_depend_on_the_clock(monkeypatch):
    """The budgets count instructions, not seconds: with a clock that jumps a thousand seconds at every
    reading (a machine so loaded that any wall-clock budget is spent at once), the provider is still found,
    and the runs are charged the same instructions as with the real clock."""
    import time

    def charged_rows() -> tuple[int, list[str]]:
        loaded = open_binary(_dll("O2"), use_pdb=True)
        engine = NativeEngine(loaded.image, loaded.pdb)
        rows = analyze(engine, AnalysisOptions()).rows
        return engine._evaluation_charged, [row.event.provider_guid for row in rows]

    calm = charged_rows()
    clock = [time.monotonic()]

    def slow() -> float:
        clock[0] += 1000.0
        return clock[0]

    for name in ("monotonic", "perf_counter", "time", "process_time"):
        monkeypatch.setattr(time, name, slow)
    assert charged_rows() == calm
    assert calm[0] > 0 and set(calm[1]) == {TRUTH["provider"]}


def test_runguid_evaluation_of_a_looping_start_is_bounded(monkeypatch):
    """Start functions that never reach the call (each one a ``jmp $``) are run to their bound, charged by
    the instructions they were given, and the question stops at its budget: no answer, the same charge
    each time, and never more than the question's instructions."""
    from api_to_etw.engine.native import evaluate

    loaded = open_binary(_dll("O2"), use_pdb=True)
    facts = NativeEngine(loaded.image, loaded.pdb).load()
    site = next(s for s in facts.calls if facts.functions[s.callee].name.endswith("RegisterTraceGuidsW"))
    starts = evaluate.runtime_starts(facts, site.caller)
    image = loaded.image
    read = image.read

    def looping(rva: int, size: int) -> bytes:
        data = bytearray(read(rva, size))
        for start in starts:
            if rva <= start < rva + len(data) - 1:
                data[start - rva:start - rva + 2] = b"\xeb\xfe"  # jmp $
        return bytes(data)

    monkeypatch.setattr(image, "read", looping)
    answers = [evaluate.pointed_bytes(image, starts, site.rva, 0, 16) for _ in range(2)]
    assert answers[0] == answers[1]
    answer = answers[0]
    assert answer.data is None
    assert f"within {evaluate.MAX_INSTRUCTIONS:,} instructions" in answer.reason
    # Each start's first run is given FIRST_INSTRUCTIONS, then its whole bound (the second run of the start
    # never comes: the first did not reach the call); each run is charged a page of the image as well.
    pages = -(-image.size_of_image // 0x1000)
    assert answer.charged == len(starts) * (evaluate.FIRST_INSTRUCTIONS + evaluate.MAX_INSTRUCTIONS + 2 * pages)
    # A question whose budget covers one bound: the first start's second run is not run, and nothing after it.
    short = evaluate.pointed_bytes(image, starts, site.rva, 0, 16, question_instructions=evaluate.MAX_INSTRUCTIONS)
    assert short.data is None and short.reason.endswith("instructions are spent")
    assert short.charged == evaluate.FIRST_INSTRUCTIONS + pages
