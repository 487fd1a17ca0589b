"""Fuzz targets: each input is written to a file and given to the real command line, in-process.

A target passes when the command ends in a named exit code (``api_to_etw.errors.ExitCode``, anything
but ``ERROR``) with no ``internal error`` and no traceback on stderr; anything else is a finding. The
same function drives atheris (``run.py fuzz``), the corpus replay (``run.py replay``) and the pytest
test that replays the committed corpus under a memory limit (test_fuzz_corpus.py).

Seeds: the fixtures under samples/ (never copied here) plus tests/fuzz/corpus/TARGET/ (small hand-made
or minimized inputs) and tests/fuzz/reproducers/TARGET/ (the minimal input of every failure found).
Adding a target is one entry in :data:`TARGETS`.
"""

from __future__ import annotations

import argparse
import glob
import io
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from typing import Callable, Optional

from api_to_etw.errors import ExitCode

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SAMPLES = os.path.join(REPO, "samples")
CORPUS = os.path.join(HERE, "corpus")
REPRODUCERS = os.path.join(HERE, "reproducers")


#: Memory-backed folder for the per-input files when the system has one: writing the input and reading it
#: back costs about 1.4 ms on a disk and 0.03 ms there, more than most small inputs take to run.
TMPFS = "/dev/shm"


def work_dir(prefix: str) -> str:
    """A fresh folder for one fuzzing or replay session, in memory when possible."""
    where = TMPFS if os.path.isdir(TMPFS) and os.access(TMPFS, os.W_OK) else None
    return tempfile.mkdtemp(prefix=prefix, dir=where)


@dataclass
class Context:
    """Files a target needs besides the input: a matching binary for the PDB, facts, a table."""

    work: str

    def path(self, name: str) -> str:
        return os.path.join(self.work, name)

    def prepare(self) -> None:
        os.makedirs(self.work, exist_ok=True)
        wpp = os.path.join(SAMPLES, "wpp", "wppkernel.exe")
        if not os.path.exists(self.path("wppkernel.exe")):
            shutil.copyfile(wpp, self.path("wppkernel.exe"))
        shutil.copyfile(os.path.join(CORPUS, "diff", "tlg.tsv"), self.path("table.tsv"))

    def manifest_facts(self) -> str:
        """Facts of samples/wevt/gadget.dll (with its PDB), saved on first use: what the manifest targets
        name. A small binary on purpose: replaying it costs ~5 ms, the synthetic kernel's facts ~60 ms,
        and the manifest reader (the code these targets are for) well under 1 ms of either."""
        path = self.path("gadget.facts.json")
        if not os.path.exists(path):
            from api_to_etw.cli import main

            with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
                code = main(["analyze", os.path.join(SAMPLES, "wevt", "gadget.dll"),
                             "--save-facts", path, "-o", self.path("unused.tsv"), "-q"])
            if code != 0:
                raise RuntimeError("could not save the gadget facts the manifest targets replay")
        return path


@dataclass(frozen=True)
class Target:
    name: str
    #: The input's file name (the extension matters to some readers).
    filename: str
    #: Fixture globs under samples/ used as seeds (read in place).
    seeds: tuple[str, ...]
    argv: Callable[[str, Context], list[str]]
    #: Largest input atheris generates; seeds larger than this are still replayed, but not fuzzed from
    #: (a bigger input mostly costs time in code other targets cover).
    max_len: int


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("pe", "input.dll", ("*/*.dll", "*/*.exe", "synthkernel/Os/*.exe"),
           lambda path, ctx: ["analyze", path, "--no-pdb", "--all-sites", "-o", "-", "-q"], 8 * 1024),
    Target("pdb", "input.pdb", ("wpp/wppkernel.pdb",),
           lambda path, ctx: ["analyze", ctx.path("wppkernel.exe"), "--pdb", path, "--force-pdb", "-o", "-", "-q"],
           128 * 1024),
    Target("etw0", "input.dll", ("tlg/tlg.dll", "usermode/telemetry.dll"),
           lambda path, ctx: ["tracelogging", path, "-q"], 16 * 1024),
    Target("manifest_xml", "input.xml", (),
           lambda path, ctx: ["analyze", "--facts", ctx.manifest_facts(), "--manifests", path, "-o", "-",
                              "-q"], 8 * 1024),
    Target("manifest_tsv", "input.tsv", (),
           lambda path, ctx: ["analyze", "--facts", ctx.manifest_facts(), "--manifests", path, "-o", "-",
                              "-q"], 8 * 1024),
    Target("facts", "input.facts.json", (),
           lambda path, ctx: ["analyze", "--facts", path, "-o", "-", "-q"], 16 * 1024),
    Target("diff", "input.tsv", (),
           lambda path, ctx: ["diff", path, ctx.path("table.tsv"), "-q"], 8 * 1024),
    # The embedded manifest: WEVT_TEMPLATE (etw/wevt.py) and RT_MESSAGETABLE (etw/messagetable.py) found
    # through the resource tree (binary/resources.py) of a resource-only DLL, printed as XML.
    Target("wevt", "input.dll", ("wevt/gadget_res.dll", "wevt/gadget.dll"),
           lambda path, ctx: ["manifest", path, "-o", "-", "-q"], 8 * 1024),
)}

#: Exit codes that are not findings: every named code but the catch-all.
ALLOWED = frozenset(int(c) for c in ExitCode) - {int(ExitCode.ERROR), int(ExitCode.INTERRUPTED)}


@dataclass
class Outcome:
    code: int
    stderr: str
    seconds: float

    def finding(self) -> str:
        """Why this outcome is a bug, or "" when it is not."""
        if self.code not in ALLOWED:
            return f"exit code {self.code}: {self.stderr.strip()[:300]}"
        if "internal error" in self.stderr or "Traceback" in self.stderr:
            return f"exit code {self.code} with an internal error: {self.stderr.strip()[:300]}"
        return ""


class Finding(Exception):
    """A fuzz input that breaks the contract (raised so atheris records the input)."""

    def __init__(self, text: str, outcome: Optional[Outcome] = None) -> None:
        super().__init__(text)
        self.outcome = outcome


OPEN = os.path.join(HERE, "open")


def known_open_findings() -> list[tuple[str, str]]:
    """(target, text) of the bugs listed in open/known.tsv: reported by their owners, not fixed yet."""
    path = os.path.join(OPEN, "known.tsv")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle if line.strip() and not line.startswith("#")]
    return [(row[0], row[1]) for row in rows if len(row) >= 2]


_KNOWN = known_open_findings()
_SEEN_KNOWN: set[str] = set()


_PARSER: list[argparse.ArgumentParser] = []


def _parser() -> argparse.ArgumentParser:
    """The command line's parser, built once: building it costs more than running most small inputs."""
    if not _PARSER:
        from api_to_etw.cli import build_parser

        _PARSER.append(build_parser())
    return _PARSER[0]


def run_input(target: Target, data: bytes, ctx: Context) -> Outcome:
    """Write ``data`` as the target's input file and run the command on it in this process."""
    from api_to_etw.cli import main

    path = ctx.path(target.filename)
    with open(path, "wb") as handle:
        handle.write(data)
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(target.argv(path, ctx), parser=_parser())
    except BaseException as exc:  # a SystemExit or anything else that escaped main is a finding too
        return Outcome(-1, f"escaped main: {type(exc).__name__}: {exc}", time.perf_counter() - started)
    return Outcome(code, err.getvalue(), time.perf_counter() - started)


def check_input(target: Target, data: bytes, ctx: Context) -> Outcome:
    """Raise :class:`Finding` for a new bug; a known open one (open/known.tsv) is reported once and passed,
    so fuzzing goes on past it and CI fails only on what nobody has seen yet."""
    outcome = run_input(target, data, ctx)
    why = outcome.finding()
    if why:
        known = next((text for name, text in _KNOWN if name in (target.name, "*") and text in why), None)
        if known is None:
            raise Finding(f"{target.name}: {why}", outcome)
        if known not in _SEEN_KNOWN:
            _SEEN_KNOWN.add(known)
            print(f"known open finding (tests/fuzz/open/known.tsv), not counted: {why}", file=sys.stderr)
    return outcome


def seed_files(target: Target, *, reproducers: bool = True) -> Iterator[str]:
    """The fixtures, the committed corpus and (optionally) the reproducers of a target, sorted."""
    found: list[str] = []
    for pattern in target.seeds:
        found.extend(glob.glob(os.path.join(SAMPLES, pattern)))
    roots = [os.path.join(CORPUS, target.name)] + ([os.path.join(REPRODUCERS, target.name)] if reproducers else [])
    for root in roots:
        for folder, _dirs, names in os.walk(root):
            found.extend(os.path.join(folder, n) for n in names)
    seen: set[str] = set()
    for path in sorted(found):
        if path not in seen and os.path.isfile(path):
            seen.add(path)
            yield path
