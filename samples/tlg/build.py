"""Build the TraceLogging fixture DLL (``tlg.dll``) the ``tracelogging`` command's tests decode and corrupt.

Run from anywhere: ``python samples/tlg/build.py [--check]``. Needs clang and lld-link; the built DLL is
committed so the tests run without them. ``--check`` rebuilds into a temporary folder and compares the
bytes with the committed file (clang 14 and lld 14 built it; other versions may lay the code out
differently).

What the DLL holds (see ``tlgmeta.c`` and ``tlgcode.c``):

* an ETW0 region built the way TraceLoggingProvider.h builds it: the header in ``.rdata$zETW0``, event
  blobs in ``.rdata$zETW1``, provider blobs in ``.rdata$zETW2``, the end byte in ``.rdata$zETW9``;
* three providers: ``Contoso.Fixture.Alpha`` (group trait and an unknown trait), ``Contoso.Fixture.Beta``
  and the legacy, GUID-less ``Contoso.Fixture.Legacy``; their ``_tlgProvider_t`` objects in ``.data``
  and a const handle to Beta's in ``.rdata``;
* ten events: ``_TlgBlobEvent4`` blobs with 1- and 3-byte tags, field tags, a fixed-count and a
  variable-count array and a struct; a ``_TlgBlobEvent3`` with a custom-serialized field; a legacy
  ``_TlgBlobEvent2``; ``Dup`` twice with different levels and keywords;
* exported write sites covering each way a write ties an event to its provider (object address and
  level check, handle load, two providers in one function, a tail-calling leaf without unwind data,
  ``cond ? &A : &B`` on the blob bases) and one event (``Orphan``) no write site ties to a provider.
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
HEADERS = ("tlg.h",)
SOURCES = ("tlgmeta.c", "tlgcode.c", "tlgwrite.c")
TRIPLE = "x86_64-pc-windows-msvc"
DLL = "tlg.dll"


def build(out_dir: str) -> list[str]:
    if os.path.abspath(out_dir) != HERE:
        for name in HEADERS + SOURCES:
            shutil.copy(os.path.join(HERE, name), os.path.join(out_dir, name))
    objects = []
    for source in SOURCES:
        obj = os.path.splitext(source)[0] + ".obj"
        subprocess.run(["clang", f"--target={TRIPLE}", "-O2", "-Wall", "-c", source, "-o", obj], cwd=out_dir,
                       check=True)
        objects.append(obj)
    subprocess.run(["lld-link", "/nologo", "/dll", "/noentry", "/nodefaultlib", "/Brepro", "/machine:x64",
                    f"/out:{DLL}", *objects], cwd=out_dir, check=True)
    for leftover in (*objects, "tlg.lib", "tlg.exp"):
        path = os.path.join(out_dir, leftover)
        if os.path.exists(path):
            os.unlink(path)
    return [DLL]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="rebuild elsewhere and compare with the committed DLL")
    args = parser.parse_args()
    if not args.check:
        build(HERE)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for dll in build(tmp):
            if not filecmp.cmp(os.path.join(tmp, dll), os.path.join(HERE, dll), shallow=False):
                print(f"tlg: {dll} does not reproduce", file=sys.stderr)
                return 1
    print("tlg: reproduced")
    return 0


if __name__ == "__main__":
    sys.exit(main())
