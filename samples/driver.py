"""The one build and ``--check`` driver of every committed fixture.

A :class:`Fixture` says which committed files its build writes and how to write them into a folder (its own,
or a fresh one). Building means writing them in place; checking means writing them into a temporary folder
and comparing every byte with the committed copies, so generated sources, truth files, images and PDBs are
all held to the same rule. ``python -m samples`` runs this over every fixture; each fixture's module runs it
over its own (``python -m samples.tlg.build --check``).
"""

from __future__ import annotations

import argparse
import filecmp
import importlib
import shutil
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from samples import toolchain

#: The modules that define the committed fixtures (each has ``FIXTURES``), imported on use.
FIXTURE_MODULES = ("samples.synth.build", "samples.mcgen.build", "samples.idioms.build", "samples.usermode.build",
                   "samples.handout.build", "samples.wevt.build", "samples.tlg.build", "samples.badinput.build",
                   "samples.wpp.build", "samples.funclets.build")


@dataclass(frozen=True)
class Fixture:
    """A committed fixture: the files its build writes (relative to ``folder``) and the build that writes them."""

    name: str
    folder: Path
    outputs: tuple[str, ...]
    #: Writes every output into the given folder; inputs (hand-written C, .def files) are read from ``folder``.
    build: Callable[[Path], None]
    tools: tuple[str, ...] = toolchain.BUILD_TOOLS
    #: Writes the generated sources and truth only (no toolchain needed); None when nothing is generated.
    sources: Optional[Callable[[Path], None]] = None


def copy_inputs(fixture_folder: Path, out: Path, names: Iterable[str]) -> None:
    """Copy the fixture's hand-written inputs into ``out`` when the build is not in place."""
    if out.resolve() == fixture_folder.resolve():
        return
    for name in names:
        shutil.copy(fixture_folder / name, out / name)


def check(fixture: Fixture) -> list[str]:
    """Build into a temporary folder; the committed outputs that are missing or differ (empty: reproduced)."""
    absent = toolchain.missing(fixture.tools)
    if absent:
        return [f"cannot rebuild: {', '.join(absent)} not found on PATH"]
    problems = []
    with tempfile.TemporaryDirectory(prefix=f"{fixture.name}-check-") as tmp:
        fresh = Path(tmp) / fixture.folder.name
        fresh.mkdir()
        fixture.build(fresh)
        for name in fixture.outputs:
            committed, built = fixture.folder / name, fresh / name
            if not committed.is_file():
                problems.append(f"{name} is missing")
            elif not built.is_file() or not filecmp.cmp(built, committed, shallow=False):
                problems.append(f"{name} differs from a fresh build")
    return problems


def report(name: str, problems: Sequence[str], what: str = "reproduced") -> int:
    """Print a check's outcome (problems on stderr, with the clang version when it explains them); 1 on problems."""
    if not problems:
        print(f"{name}: {what}")
        return 0
    for problem in problems:
        print(f"{name}: {problem}", file=sys.stderr)
    if shutil.which("clang"):
        note = toolchain.version_note()
        if note:
            print(f"{name}: ({note})", file=sys.stderr)
    return 1


def build(fixture: Fixture) -> int:
    """Build in place and list what was written; 2 when a tool is missing."""
    absent = toolchain.missing(fixture.tools)
    if absent:
        print(f"{fixture.name}: {', '.join(absent)} not found on PATH", file=sys.stderr)
        return 2
    fixture.build(fixture.folder)
    for name in fixture.outputs:
        print(f"  {fixture.name}/{name} {(fixture.folder / name).stat().st_size} bytes")
    return 0


def write_sources(fixture: Fixture) -> int:
    if fixture.sources is None:
        print(f"{fixture.name}: nothing is generated (its sources are written by hand)", file=sys.stderr)
        return 2
    fixture.sources(fixture.folder)
    return 0


def all_fixtures() -> list[Fixture]:
    return [f for module in FIXTURE_MODULES for f in importlib.import_module(module).FIXTURES]


def main(fixtures: Sequence[Fixture], description: str, argv: Optional[Sequence[str]] = None,
         prog: Optional[str] = None) -> int:
    """The command line of a fixture module (or of all of them): build in place, ``--sources``, ``--check``.
    ``prog`` names a package's ``python -m`` command in its usage (argparse would say ``__main__.py``)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    names = [f.name for f in fixtures]
    if len(fixtures) > 1:
        parser.add_argument("names", nargs="*", metavar="FIXTURE", help=f"one of {', '.join(names)} (default: all)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="rebuild in a temporary folder and compare every byte "
                                                           "with the committed files")
    if any(f.sources for f in fixtures):
        mode.add_argument("--sources", action="store_true", help="write the generated sources and truth only")
    args = parser.parse_args(argv)
    chosen = list(fixtures)
    if getattr(args, "names", None):
        unknown = [n for n in args.names if n not in names]
        if unknown:
            parser.error(f"unknown fixture {unknown[0]!r} (choose from {', '.join(names)})")
        chosen = [f for f in fixtures if f.name in args.names]
    status = 0
    for fixture in chosen:
        if args.check:
            status |= report(fixture.name, check(fixture))
        elif getattr(args, "sources", False):
            status = max(status, write_sources(fixture))
        else:
            status = max(status, build(fixture))
    return status
