"""Build the user-mode ETW fixture: a DLL importing advapi32's Event* API through a generated import library.

``python samples/usermode/build.py [--check]``: clang (``--target=x86_64-pc-windows-msvc -O2 -g -gcodeview``),
llvm-dlltool for ``advapi32.lib`` from ``advapi32.def``, lld-link with ``/debug /Brepro``. The DLL and PDB are
committed; ``--check`` rebuilds in a temporary folder and compares bytes. Relative paths and
``/pdbsourcepath:.`` keep machine paths out; clang's own path (LF_BUILDINFO) is avoided by running the
``-cc1`` command ``clang -###`` prints, without the resource-dir arguments (as samples/generate.py does).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = ("telemetry.c", "advapi32.def")
OUTPUTS = ("telemetry.dll", "telemetry.pdb")
CFLAGS = ["--target=x86_64-pc-windows-msvc", "-O2", "-g", "-gcodeview", "-fdebug-compilation-dir=.",
          "-fno-stack-protector"]


def _cc1(source: str, obj: str, cwd: str, flags: list[str] = CFLAGS) -> None:
    """Compile through the -cc1 line clang would run, minus the arguments that embed machine paths."""
    probe = subprocess.run(["clang", *flags, "-c", source, "-o", obj, "-###"], cwd=cwd, capture_output=True,
                           text=True, check=True)
    line = [ln for ln in probe.stderr.splitlines() if '"-cc1"' in ln][0]
    argv = shlex.split(line)
    cleaned, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("-resource-dir", "-internal-isystem", "-internal-externc-isystem", "-fcoverage-compilation-dir"):
            skip = True
            continue
        if arg.startswith("-fcoverage-compilation-dir="):
            continue
        cleaned.append(arg)
    cleaned[0] = "clang"
    cleaned.insert(2, "-fcoverage-compilation-dir=.")
    subprocess.run(cleaned, cwd=cwd, check=True)


def build(out_dir: str) -> None:
    if os.path.abspath(out_dir) != HERE:
        for name in SOURCES:
            shutil.copy(os.path.join(HERE, name), os.path.join(out_dir, name))
    subprocess.run(["llvm-dlltool", "-m", "i386:x86-64", "-d", "advapi32.def", "-l", "advapi32.lib"], cwd=out_dir,
                   check=True)
    _cc1("telemetry.c", "telemetry.obj", out_dir)
    subprocess.run(["lld-link", "/nologo", "/dll", "/noentry", "/nodefaultlib", "/machine:x64", "/debug", "/Brepro",
                    "/pdbaltpath:telemetry.pdb", "/pdbsourcepath:.", "/opt:ref", "/opt:noicf", "/out:telemetry.dll",
                    "/pdb:telemetry.pdb", "telemetry.obj", "advapi32.lib"], cwd=out_dir, check=True)
    for leftover in ("telemetry.obj", "telemetry.lib", "telemetry.exp", "advapi32.lib"):
        path = os.path.join(out_dir, leftover)
        if os.path.exists(path):
            os.unlink(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="rebuild elsewhere and compare with the committed files")
    args = parser.parse_args()
    if not args.check:
        build(HERE)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        build(tmp)
        for name in OUTPUTS:
            if not filecmp.cmp(os.path.join(tmp, name), os.path.join(HERE, name), shallow=False):
                print(f"usermode: {name} does not reproduce", file=sys.stderr)
                return 1
    print("usermode: reproduced")
    return 0


if __name__ == "__main__":
    sys.exit(main())
