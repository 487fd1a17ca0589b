"""The committed fuzz corpus and every reproducer end in a named exit code, fast and in bounded memory.

The replay runs in a subprocess limited to 3 GiB of address space (resource.setrlimit), so an input
that allocates without bound fails here with MemoryError instead of taking the machine down; each
input must finish within 10 seconds. See tests/fuzz/run.py for fuzzing with atheris.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import pytest
from conftest import REPO

from api_to_etw.errors import ExitCode

RUN = os.path.join(REPO, "tests", "fuzz", "run.py")
ADDRESS_SPACE = 3 << 30


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def test_corpus_and_reproducers_give_named_exit_codes():
    proc = subprocess.run([sys.executable, RUN, "replay", "--json", "--max-seconds", "10"], capture_output=True,
                          text=True, timeout=600, preexec_fn=_limit_memory, cwd=REPO)
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    findings = [r for r in results if r["finding"]]
    assert proc.returncode == 0 and not findings, (findings, proc.stderr[-2000:])
    named = {int(c) for c in ExitCode} - {int(ExitCode.ERROR)}
    assert all(r["code"] in named for r in results)
    by_target: dict[str, int] = {}
    for r in results:
        by_target[r["target"]] = by_target.get(r["target"], 0) + 1
    sys.path.insert(0, os.path.dirname(RUN))
    from targets import TARGETS

    assert set(by_target) == set(TARGETS), by_target  # every target has seeds
    reproducers = [r for r in results if "/reproducers/" in r["input"]]
    assert len(reproducers) >= 5 and all(r["code"] != ExitCode.ERROR for r in reproducers)


def test_the_memory_limit_is_real():
    """The same limit stops a runaway allocation (so the test above would catch one)."""
    code = "b = bytearray(4 << 30)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          preexec_fn=_limit_memory)
    assert proc.returncode != 0 and "MemoryError" in proc.stderr


def test_require_tools_skips_locally_and_fails_in_ci(monkeypatch):
    import conftest

    monkeypatch.setattr(conftest, "REQUIRE_TOOLS", False)
    with pytest.raises(pytest.skip.Exception, match="no-such-tool-h4"):
        conftest.require_tools("sh", "no-such-tool-h4")
    monkeypatch.setattr(conftest, "REQUIRE_TOOLS", True)
    with pytest.raises(pytest.fail.Exception, match="CI requires it"):
        conftest.require_tools("no-such-tool-h4")
    conftest.require_tools("sh")  # present: neither


def _open_pe_findings() -> list[str]:
    folder = os.path.join(os.path.dirname(RUN), "open")
    return sorted(n for n in os.listdir(folder) if n.startswith("pe-")) if os.path.isdir(folder) else []


@pytest.mark.skipif(not _open_pe_findings(), reason="no open PE fuzz finding to check the known-findings filter with")
def test_known_open_findings_pass_and_new_ones_fail(tmp_path):
    """An input of tests/fuzz/open/ that still fails is passed as known (so CI fails only on new bugs);
    the same failure without its open/known.tsv entry is a finding."""
    sys.path.insert(0, os.path.dirname(RUN))
    import targets

    ctx = targets.Context(str(tmp_path / "work"))
    ctx.prepare()
    for name in sorted(os.listdir(targets.OPEN)):
        if not name.startswith("pe-"):
            continue
        with open(os.path.join(targets.OPEN, name), "rb") as handle:
            data = handle.read()
        outcome = targets.check_input(targets.TARGETS["pe"], data, ctx)  # known, or fixed: no Finding
        if outcome.finding():
            known, targets._KNOWN = targets._KNOWN, []
            try:
                with pytest.raises(targets.Finding):
                    targets.check_input(targets.TARGETS["pe"], data, ctx)
            finally:
                targets._KNOWN = known


def test_wevt_seeds_rebuild_byte_for_byte():
    """The wevt target's seeds are built by us (tests/fuzz/wevt_seeds.py), never copied from a real binary."""
    import conftest

    conftest.require_tools("llvm-rc", "lld-link")
    script = os.path.join(os.path.dirname(RUN), "wevt_seeds.py")
    proc = subprocess.run([sys.executable, script, "--check"], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0 and "reproduced" in proc.stdout, proc.stderr


def test_wevt_seeds_decode_to_their_model():
    """The vcamp140-shaped seed decodes to exactly the provider it was built from, with no warning."""
    sys.path.insert(0, os.path.dirname(RUN))
    import wevt_seeds

    from api_to_etw.cli.manifest import open_manifest

    for name, events in wevt_seeds.SEEDS.items():
        manifest = open_manifest(os.path.join(wevt_seeds.OUT, f"{name}.dll"))
        assert manifest.warnings == []
        assert manifest.providers == [wevt_seeds.provider(events)]
        assert manifest.messages == {1033: {wevt_seeds.INFORMATION: "Information"}}
