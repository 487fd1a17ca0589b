"""Build the user-mode ETW fixture: a DLL importing advapi32's Event* API through a generated import library.

``python -m samples.usermode.build [--check]``: clang (``--target=x86_64-pc-windows-msvc -O2 -g -gcodeview``,
through samples/toolchain.py's path-free ``-cc1`` line), llvm-dlltool for ``advapi32.lib`` from
``advapi32.def``, lld-link with ``/debug /Brepro``. The DLL and PDB are committed; ``--check`` rebuilds in a
temporary folder and compares bytes.
"""

from __future__ import annotations

from pathlib import Path

from samples import driver, toolchain

HERE = Path(__file__).resolve().parent
INPUTS = ("telemetry.c", "advapi32.def")
CFLAGS = (f"--target={toolchain.TARGET}", "-O2", *toolchain.DEBUG_FLAGS)
LINK = ("/nologo", "/dll", "/noentry", "/nodefaultlib", "/machine:x64", "/debug", "/Brepro", "/pdbaltpath:telemetry.pdb",
        "/pdbsourcepath:.", "/opt:ref", "/opt:noicf", "/out:telemetry.dll", "/pdb:telemetry.pdb", "telemetry.obj",
        "advapi32.lib")


def build(out: Path) -> None:
    driver.copy_inputs(HERE, out, INPUTS)
    toolchain.import_library("advapi32.def", "advapi32.lib", out)
    toolchain.compile_c("telemetry.c", "telemetry.obj", out, CFLAGS, coverage_first=True)
    toolchain.link(LINK, out)
    toolchain.remove(out, ("telemetry.obj", "telemetry.lib", "telemetry.exp", "advapi32.lib"))


FIXTURES = (driver.Fixture("usermode", HERE, ("telemetry.dll", "telemetry.pdb"), build,
                           tools=(*toolchain.BUILD_TOOLS, "llvm-dlltool")),)

if __name__ == "__main__":
    raise SystemExit(driver.main(FIXTURES, __doc__.splitlines()[0]))
