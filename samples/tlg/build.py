"""Build the TraceLogging fixture DLL (``tlg.dll``) the ``tracelogging`` command's tests decode and corrupt.

``python -m samples.tlg.build [--check]`` (from the repository root). Needs clang and lld-link; the built DLL is
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

from pathlib import Path

from samples import driver, toolchain

HERE = Path(__file__).resolve().parent
HEADERS = ("tlg.h",)
SOURCES = ("tlgmeta.c", "tlgcode.c", "tlgwrite.c")
DLL = "tlg.dll"


def build(out: Path) -> None:
    driver.copy_inputs(HERE, out, HEADERS + SOURCES)
    objects = []
    for source in SOURCES:
        obj = source[:-2] + ".obj"
        toolchain.compile_plain(source, obj, out, [f"--target={toolchain.TARGET}", "-O2", "-Wall"])
        objects.append(obj)
    toolchain.link(["/nologo", "/dll", "/noentry", "/nodefaultlib", "/Brepro", "/machine:x64", f"/out:{DLL}",
                    *objects], out)
    toolchain.remove(out, (*objects, "tlg.lib", "tlg.exp"))


FIXTURES = (driver.Fixture("tlg", HERE, (DLL,), build),)

if __name__ == "__main__":
    raise SystemExit(driver.main(FIXTURES, __doc__.splitlines()[0]))
