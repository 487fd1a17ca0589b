"""The clang / lld-link / llvm-dlltool / llvm-rc invocations every fixture is built with, in one place.

The committed images must come back byte for byte, so each call here keeps machine paths out of the
outputs: objects are compiled through the ``-cc1`` line ``clang -###`` prints, run as plain ``clang -cc1``
without the resource-directory arguments (clang 14 records its own path and command line in the CodeView
LF_BUILDINFO record and has no ``-gno-codeview-command-line``), with ``-fdebug-compilation-dir=.`` and
``-fcoverage-compilation-dir=.``; links run in the output folder with relative names. Which flags a fixture
uses (and in which order, since the command lines end up in the objects and the PDB) stays with the fixture.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Union

TARGET = "x86_64-pc-windows-msvc"
#: The committed images were built with Debian clang 14.0.6 and lld 14; other versions build valid, different images.
EXPECTED_CLANG = "14."
#: CodeView debug information with no machine path, no stack cookies (no CRT to provide them).
DEBUG_FLAGS = ("-g", "-gcodeview", "-fdebug-compilation-dir=.", "-fno-stack-protector")
#: What a build of a PE with a PDB always needs: clang and lld-link.
BUILD_TOOLS = ("clang", "lld-link")

# Driver-added cc1 arguments that carry machine paths or terminal settings; dropped (with their value) or replaced.
_CC1_DROP_WITH_VALUE = frozenset({"-resource-dir", "-internal-isystem", "-internal-externc-isystem", "-isysroot",
                                  "-fcoverage-compilation-dir"})
_CC1_DROP_PREFIX = ("-fcoverage-compilation-dir=", "-fmessage-length", "-fcolor-diagnostics", "-fdiagnostics-color")
_COVERAGE_DIR = "-fcoverage-compilation-dir=."
_DEBUG_DIR = "-fdebug-compilation-dir=."

Folder = Union[str, Path]


class ToolError(RuntimeError):
    """A tool failed; the message holds its output."""


def missing(tools: Iterable[str] = BUILD_TOOLS) -> list[str]:
    """The tools of ``tools`` that are not on PATH."""
    return [t for t in tools if shutil.which(t) is None]


def clang_version() -> str:
    out = subprocess.run(["clang", "--version"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"clang version (\S+)", out)
    return m.group(1) if m else out.splitlines()[0]


def version_note() -> str:
    """Why a rebuild may differ on this machine ('' when clang is the version that built the committed images)."""
    version = clang_version()
    if version.startswith(EXPECTED_CLANG):
        return ""
    return f"this is clang {version}; the committed images were built with clang {EXPECTED_CLANG}x"


def run(cmd: Sequence[str], cwd: Folder) -> None:
    """Run one tool in ``cwd``; a failure raises :class:`ToolError` with the tool's output."""
    res = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        raise ToolError(f"{' '.join(cmd[:4])} ... failed in {os.path.basename(os.fspath(cwd))}:\n"
                        f"{res.stdout}{res.stderr}")


def cc1_command(source: str, obj: str, cwd: Folder, flags: Sequence[str], coverage_first: bool = False) -> list[str]:
    """The cc1 command ``clang FLAGS -c SOURCE -o OBJ`` would run, minus machine paths, as plain ``clang -cc1``.

    ``-fcoverage-compilation-dir=.`` goes right after ``-cc1`` with ``coverage_first`` (how the user-mode
    fixtures were built), else before ``-fdebug-compilation-dir=.``: the position is part of the recorded
    command line, so each fixture keeps the one its committed objects have."""
    res = subprocess.run(["clang", *flags, "-c", source, "-o", obj, "-###"], cwd=cwd, capture_output=True, text=True)
    lines = [ln for ln in res.stderr.splitlines() if '"-cc1"' in ln]
    if res.returncode != 0 or not lines:
        raise ToolError(f"clang -### failed for {source}:\n{res.stderr}")
    out, skip = ["clang"], False
    for arg in shlex.split(lines[-1])[1:]:
        if skip:
            skip = False
        elif arg in _CC1_DROP_WITH_VALUE:
            skip = True
        elif not arg.startswith(_CC1_DROP_PREFIX):
            out.append(arg)
    if coverage_first:
        out.insert(2, _COVERAGE_DIR)
    else:
        out.insert(out.index(_DEBUG_DIR) if _DEBUG_DIR in out else len(out), _COVERAGE_DIR)
    return out


def compile_c(source: str, obj: str, cwd: Folder, flags: Sequence[str], coverage_first: bool = False) -> None:
    """Compile one C file to a path-free object (see :func:`cc1_command`)."""
    run(cc1_command(source, obj, cwd, flags, coverage_first), cwd)


def compile_plain(source: str, obj: str, cwd: Folder, flags: Sequence[str]) -> None:
    """Compile through the clang driver, for images without debug information (nothing machine-specific in them)."""
    run(["clang", *flags, "-c", source, "-o", obj], cwd)


def import_library(def_file: str, lib: str, cwd: Folder) -> None:
    """An x64 import library from a ``.def`` file (llvm-dlltool), so images link against DLLs we do not have."""
    run(["llvm-dlltool", "-m", "i386:x86-64", "-d", def_file, "-l", lib], cwd)


def resources(rc_args: Sequence[str], cwd: Folder) -> None:
    """Compile a resource script (llvm-rc; ``rc_args`` as the fixture spells them)."""
    run(["llvm-rc", *rc_args], cwd)


def link(args: Sequence[str], cwd: Folder) -> None:
    """lld-link in the output folder; ``args`` carry /Brepro and, with a PDB, /pdbaltpath: and /pdbsourcepath:."""
    run(["lld-link", *args], cwd)


def remove(folder: Folder, names: Iterable[str]) -> None:
    """Delete the build's intermediate files (objects, import libraries, .exp, .res) that exist."""
    for name in names:
        path = os.path.join(folder, name)
        if os.path.exists(path):
            os.unlink(path)


def remove_intermediates(folder: Folder) -> None:
    """Delete every object, import library, export file and compiled resource in ``folder``."""
    for pattern in ("*.obj", "*.lib", "*.exp", "*.res"):
        for path in Path(folder).glob(pattern):
            path.unlink()
