"""Build the hand-out fixture: a DLL whose events are entered through a writable method table, a stored
handler, a call chain deeper than --max-depth, or nothing (samples/handout/handout.c says which).

``python -m samples.handout.build [--check]``: clang at -O1, -O2 and -Os (``--target=x86_64-pc-windows-msvc``,
CodeView, through samples/toolchain.py's path-free ``-cc1`` line), llvm-dlltool for ``advapi32.lib``,
lld-link with ``/debug /Brepro /opt:noref`` (the function nothing references stays). The DLLs and PDBs are
committed; ``--check`` rebuilds in a temporary folder and compares bytes.
"""

from __future__ import annotations

from pathlib import Path

from samples import driver, toolchain

HERE = Path(__file__).resolve().parent
INPUTS = ("handout.c", "advapi32.def")
LEVELS = ("O1", "O2", "Os")


def build_level(out: Path, level: str) -> None:
    """One optimisation level into ``out/level`` (the C and .def copied in, the intermediates removed)."""
    work = out / level
    work.mkdir(parents=True, exist_ok=True)
    driver.copy_inputs(HERE, work, INPUTS)
    toolchain.import_library("advapi32.def", "advapi32.lib", work)
    toolchain.compile_c("handout.c", "handout.obj", work,
                        (f"--target={toolchain.TARGET}", f"-{level}", *toolchain.DEBUG_FLAGS), coverage_first=True)
    toolchain.link(("/nologo", "/dll", "/noentry", "/nodefaultlib", "/machine:x64", "/debug", "/Brepro",
                    "/pdbaltpath:handout.pdb", "/pdbsourcepath:.", "/opt:noref", "/opt:noicf", "/out:handout.dll",
                    "/pdb:handout.pdb", "handout.obj", "advapi32.lib"), work)
    toolchain.remove(work, ("handout.obj", "handout.lib", "handout.exp", "advapi32.lib", *INPUTS))


def build(out: Path) -> None:
    for level in LEVELS:
        build_level(out, level)


FIXTURES = (driver.Fixture("handout", HERE, tuple(f"{level}/{name}" for level in LEVELS
                                                  for name in ("handout.dll", "handout.pdb")), build,
                           tools=(*toolchain.BUILD_TOOLS, "llvm-dlltool")),)

if __name__ == "__main__":
    raise SystemExit(driver.main(FIXTURES, __doc__.splitlines()[0]))
