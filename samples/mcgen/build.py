"""Sources, truth and images of the mc.exe-style fixtures (``mcdriver/``, ``mcdll/``, ``mckmdf/``, ``mcumdf/``).

The sources and ``truth.json`` come from the model (samples/mcgen/emit.py, truth.py); each level's image is
built with clang and lld-link (samples/toolchain.py's path-free cc1 command, ``/Brepro``, ``/opt:noicf``),
importing ntoskrnl.exe / advapi32.dll / kernel32.dll / ntdll.dll / WDFLDR.SYS through import libraries made with
llvm-dlltool from the ``.def`` files the emitter writes.
"""

from __future__ import annotations

import json
from pathlib import Path

from samples import driver, toolchain
from samples.mcgen.emit import check_model, sources
from samples.mcgen.model import LEVELS, Image
from samples.mcgen.spec import MODELS
from samples.mcgen.truth import truth

SAMPLES = Path(__file__).resolve().parent.parent


def write_sources(image: Image, out: Path) -> list[str]:
    """The image's sources and truth.json into ``out`` (after checking the model against its bodies); their names
    (truth.json not among them)."""
    check_model(image)
    written = []
    for name, text in sorted(sources(image).items()):
        (out / name).write_text(text, encoding="utf-8", newline="\n")
        written.append(name)
    (out / "truth.json").write_text(json.dumps(truth(image), indent=1) + "\n", encoding="utf-8", newline="\n")
    return written


def link_flags(image: Image) -> list[str]:
    """lld-link's flags: a PDB without machine paths, no folding (every model function stays its own)."""
    ext = image.file.rsplit(".", 1)[1]
    common = ["/nologo", "/machine:x64", "/debug", "/Brepro", f"/pdbaltpath:{image.name}.pdb", "/pdbsourcepath:.",
              "/nodefaultlib", "/opt:ref", "/opt:noicf", f"/entry:{image.entry}", f"/out:{image.name}.{ext}",
              f"/pdb:{image.name}.pdb"]
    if image.mode == "km":
        return common + ["/subsystem:native", "/driver"]
    return common + ["/dll"]


def build(image: Image, sample_dir: Path, levels: tuple[str, ...] = LEVELS) -> None:
    """Compile and link each level into LEVEL/NAME.{sys,dll} + NAME.pdb, from the sources in ``sample_dir``."""
    for level in levels:
        out = sample_dir / level
        out.mkdir(exist_ok=True)
        libs = []
        for dll in image.imports:
            stem = dll.split(".")[0]
            toolchain.import_library(f"../{stem}.def", f"{stem}.lib", out)
            libs.append(f"{stem}.lib")
        flags = [f"--target={toolchain.TARGET}", f"-{level}", *toolchain.DEBUG_FLAGS]
        toolchain.compile_c(f"{image.name}.c", f"{level}/{image.name}.obj", sample_dir, flags)
        toolchain.link(link_flags(image) + [f"{image.name}.obj"] + libs, out)
        toolchain.remove_intermediates(out)


def fixture(name: str) -> driver.Fixture:
    """One image as a committed fixture: its sources and truth.json from the model, then its three builds."""
    image = MODELS[name]()
    ext = image.file.rsplit(".", 1)[1]
    files = sorted(sources(image)) + ["truth.json"]
    images = [f"{level}/{image.name}.{e}" for level in LEVELS for e in (ext, "pdb")]

    def write(out: Path) -> None:
        write_sources(MODELS[name](), out)

    def build_all(out: Path) -> None:
        write(out)
        build(MODELS[name](), out)

    return driver.Fixture(name, SAMPLES / name, tuple(files + images), build_all,
                          tools=(*toolchain.BUILD_TOOLS, "llvm-dlltool"), sources=write)


FIXTURES = tuple(fixture(name) for name in MODELS)
