"""Build the tiny non-x64 images the bad-input tests feed to the analyzer (32-bit x86 and ARM64 DLLs).

Run from anywhere: ``python samples/badinput/build.py [--check]``. Needs clang and lld-link; the
built DLLs are committed so the tests run without them. ``--check`` rebuilds into a temporary
folder and compares the bytes with the committed files.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = "tiny.c"
TARGETS = {"x86": "i686-pc-windows-msvc", "arm64": "aarch64-pc-windows-msvc"}


def build(out_dir: str) -> list[str]:
    if os.path.abspath(out_dir) != HERE:
        shutil.copy(os.path.join(HERE, SOURCE), os.path.join(out_dir, SOURCE))
    built = []
    for machine, triple in TARGETS.items():
        obj = f"tiny_{machine}.obj"
        dll = f"tiny_{machine}.dll"
        subprocess.run(["clang", f"--target={triple}", "-O2", "-c", SOURCE, "-o", obj], cwd=out_dir, check=True)
        subprocess.run(["lld-link", "/nologo", "/dll", "/noentry", "/nodefaultlib", "/Brepro", f"/machine:{machine}",
                        f"/out:{dll}", obj], cwd=out_dir, check=True)
        for leftover in (obj, f"tiny_{machine}.lib", f"tiny_{machine}.exp"):
            path = os.path.join(out_dir, leftover)
            if os.path.exists(path):
                os.unlink(path)
        built.append(dll)
    return built


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="rebuild elsewhere and compare with the committed DLLs")
    args = parser.parse_args()
    if not args.check:
        build(HERE)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for dll in build(tmp):
            if not filecmp.cmp(os.path.join(tmp, dll), os.path.join(HERE, dll), shallow=False):
                print(f"badinput: {dll} does not reproduce", file=sys.stderr)
                return 1
    print("badinput: reproduced")
    return 0


if __name__ == "__main__":
    sys.exit(main())
