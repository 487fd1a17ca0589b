#!/usr/bin/env python3
"""WPP fixture: two small images whose PDBs carry WPP trace-message metadata, with their ground truth.

The script keeps an explicit model of two WPP-instrumented images, writes their C sources the way the WPP
preprocessor (tracewpp) writes ``.tmh`` headers, builds them with clang and lld-link, and writes ``truth.json``
from the model alone:

* ``wppuser.dll``: a user-mode DLL importing ``TraceMessage`` from advapi32.dll (through an import library
  generated here from ``advapi32.def`` with llvm-dlltool). ``widget.c`` and ``queue.c`` use the WPP template's
  out-of-line ``WPP_SF_*`` wrappers (``__declspec(noinline) __inline``: COMDATs, one copy per signature in the
  image), which call ``TraceMessage``; ``init.c`` uses force-inlined wrappers, so ``DllMain`` calls
  ``TraceMessage`` itself.
* ``wppkernel.exe``: a kernel-style image (native subsystem, ``DriverEntry``) that exports ``WmiTraceMessage``
  as ntoskrnl does. ``dispatch.c`` and ``power.c`` use the kernel template: ``WPP_SF_*`` wrappers calling
  through the ``pfnWppTraceMessage`` function pointer with the logger read from ``WPP_GLOBAL_Control``;
  ``drvinit.c`` force-inlines that indirect call into ``DriverEntry`` (the pointer is set by a separate
  ``WppLoadTracingSupport``, as the WPP kernel runtime does, so the compiler cannot turn it into a direct call);
  ``legacy.c`` uses an older template (the ``#typev  name`` annotation layout) whose wrappers call the exported
  ``WmiTraceMessage`` directly.

Every trace call is written as tracewpp's macros expand it: ``WPP_ANNOTATE_<name>`` (an
``__annotation(L"TMF:", ...)`` that clang turns into an S_ANNOTATION symbol at that point of the code), then the
enable check, then the ``WPP_SF_*`` call with (logger, message number, ``WPP_LOCAL_TraceGuids+0``, args...).
Control GUIDs are described by ``__annotation(L"TMC:", guid, name, flag names...)`` in a force-inlined
``WPP_CONTROL_ANNOTATION()`` called from the entry point.

Usage (from the repository root; needs clang, lld-link and llvm-dlltool):

  python -m samples.wpp.build            write the sources and truth.json, build both images
  python -m samples.wpp.build --sources  write the sources and truth.json only
  python -m samples.wpp.build --check    check the committed sources and truth.json equal the model's, rebuild
                                         in a temporary directory and compare the images and PDBs byte for byte

Reproducibility: each C file is compiled through samples/toolchain.py's path-free ``-cc1`` line; lld-link runs
with ``/Brepro /pdbaltpath:NAME.pdb /pdbsourcepath:.``. Objects and import libraries are deleted after linking.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from samples import driver, toolchain
from samples.wpp.annotations import obj_annotations, restore_annotations
from samples.wpp.emit import c_source, write_sources
from samples.wpp.model import Image, declare_images
from samples.wpp.truth import truth

HERE = os.path.dirname(os.path.abspath(__file__))
COMPILE_FLAGS = (f"--target={toolchain.TARGET}", "-O2", *toolchain.DEBUG_FLAGS)


def build_model() -> list[Image]:
    """The images with every message numbered and placed on its line (by writing their C once)."""
    images = declare_images()
    for image in images:
        for unit in image.units:
            c_source(image, unit)
    return images


# ---------------------------------------------------------------------------------------------------------------
# Building.
# ---------------------------------------------------------------------------------------------------------------


def link_flags(image: Image) -> list[str]:
    flags = ["/nologo", "/machine:x64", "/debug", "/Brepro", f"/pdbaltpath:{image.name}.pdb", "/pdbsourcepath:.",
             "/nodefaultlib", "/opt:ref", "/opt:noicf", f"/entry:{image.entry}",
             f"/out:{image.name}.{image.ext}", f"/pdb:{image.name}.pdb"]
    if image.kind == "dll":
        flags += ["/dll", "/subsystem:windows"]
    else:
        flags += ["/subsystem:native", "/driver"]
    return flags


def build(out_dir: str, images: list[Image]) -> list[str]:
    """Compile and link every image in out_dir (which holds the sources); returns the built files."""
    built = []
    toolchain.import_library("advapi32.def", "advapi32.lib", out_dir)
    try:
        for image in images:
            objs = []
            for unit in image.units:
                obj = unit.file[:-2] + ".obj"
                toolchain.compile_c(unit.file, obj, out_dir, COMPILE_FLAGS)
                objs.append(obj)
            libs = ["advapi32.lib"] if image.kind == "dll" else []
            toolchain.link([*link_flags(image), *objs, *libs], out_dir)
            annotations = {obj: obj_annotations(os.path.join(out_dir, obj)) for obj in objs}
            restore_annotations(os.path.join(out_dir, f"{image.name}.pdb"), annotations)
            for obj in objs:
                os.unlink(os.path.join(out_dir, obj))
            for leftover in (f"{image.name}.lib", f"{image.name}.exp"):
                path = os.path.join(out_dir, leftover)
                if os.path.exists(path):
                    os.unlink(path)
            built += [f"{image.name}.{image.ext}", f"{image.name}.pdb"]
    finally:
        lib = os.path.join(out_dir, "advapi32.lib")
        if os.path.exists(lib):
            os.unlink(lib)
    return built


def write_truth(out_dir: str, images: list[Image]) -> None:
    with open(os.path.join(out_dir, "truth.json"), "w", encoding="utf-8", newline="\n") as handle:
        json.dump(truth(images), handle, indent=1)
        handle.write("\n")


def _write(out: Path) -> None:
    images = build_model()
    write_sources(str(out), images)
    write_truth(str(out), images)


def _build(out: Path) -> None:
    _write(out)
    build(str(out), build_model())


def _outputs() -> tuple[str, ...]:
    images = build_model()
    with tempfile.TemporaryDirectory(prefix="wpp-names-") as tmp:
        names = write_sources(tmp, images)
    return (*names, "truth.json", *(f"{i.name}.{ext}" for i in images for ext in (i.ext, "pdb")))


FIXTURES = (driver.Fixture("wpp", Path(HERE), _outputs(), _build, tools=(*toolchain.BUILD_TOOLS, "llvm-dlltool"),
                           sources=_write),)

if __name__ == "__main__":
    raise SystemExit(driver.main(FIXTURES, __doc__.splitlines()[0]))

