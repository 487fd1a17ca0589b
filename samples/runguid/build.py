"""Build the run-time GUID fixture: a classic provider whose control GUID the DLL computes from its name (an
RFC 4122 version-5 name-based GUID, hashed with bcrypt's SHA-1), so no byte of the image holds it.

``python -m samples.runguid.build [--check]``: runguid.c from runguid.c.in and the model below, truth.json from
the model alone (Python's ``uuid.uuid5`` over the same namespace and name), clang at -O1, -O2 and -Os
(``--target=x86_64-pc-windows-msvc``, CodeView, samples/toolchain.py's path-free ``-cc1`` line), llvm-dlltool
for advapi32.lib and bcrypt.lib, lld-link with ``/debug /Brepro``. The DLLs and PDBs are committed; ``--check``
rebuilds in a temporary folder and compares bytes.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from samples import ctemplate, driver, toolchain

HERE = Path(__file__).resolve().parent
INPUTS = ("runguid.c", "advapi32.def", "bcrypt.def")
LEVELS = ("O1", "O2", "Os")

#: The model: the namespace and name the provider's GUID is derived from, and the classic writers
#: (export name, EVENT_TRACE_HEADER.Class.Type, Class.Level).
NAMESPACE = uuid.UUID("6b2f8e41-9c3d-4a57-b1e0-2d7c94a3f185")
NAME = "Samples.RunGuid.Provider"
WRITERS = (("RunGuidStarted", 1, 4), ("RunGuidStopped", 2, 4), ("RunGuidFailed", 17, 2))
#: The export whose registration hashes a name its caller passes: its GUID is not the image's to decide.
PASSED_IN = "RunGuidRegisterNamed"


def control_guid() -> str:
    """The provider's GUID: RFC 4122 section 4.3 (what the C computes, written here with the standard library)."""
    return str(uuid.uuid5(NAMESPACE, NAME))


def class_guid() -> str:
    """The class GUID the C registers and writes: the control GUID with Data1 + 1."""
    guid = uuid.UUID(control_guid())
    data1 = (guid.time_low + 1) & 0xFFFFFFFF
    return str(uuid.UUID(int=(data1 << 96) | (guid.int & ((1 << 96) - 1))))


def truth() -> dict:
    return {"provider": control_guid(), "class": class_guid(), "passed_in": PASSED_IN,
            "writes": [{"function": name, "type": kind, "level": level} for name, kind, level in WRITERS]}


def source() -> str:
    writers = "\n\n".join(f"EXPORT void {name}(PROVIDER *Provider)\n{{\n    Trace(Provider, {kind}, {level});\n}}"
                          for name, kind, level in WRITERS)
    return ctemplate.fill(HERE / "runguid.c.in", namespace=", ".join(f"0x{b:02x}" for b in NAMESPACE.bytes),
                          name=NAME, writers=writers)


def write_sources(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "runguid.c").write_text(source(), encoding="utf-8")
    (out / "truth.json").write_text(json.dumps(truth(), indent=1) + "\n", encoding="utf-8")


def build_level(out: Path, level: str) -> None:
    """One optimisation level into ``out/level`` (the C and .def files copied in, the intermediates removed)."""
    work = out / level
    work.mkdir(parents=True, exist_ok=True)
    (work / "runguid.c").write_text(source(), encoding="utf-8")
    driver.copy_inputs(HERE, work, INPUTS[1:])
    toolchain.import_library("advapi32.def", "advapi32.lib", work)
    toolchain.import_library("bcrypt.def", "bcrypt.lib", work)
    toolchain.compile_c("runguid.c", "runguid.obj", work,
                        (f"--target={toolchain.TARGET}", f"-{level}", *toolchain.DEBUG_FLAGS), coverage_first=True)
    toolchain.link(("/nologo", "/dll", "/noentry", "/nodefaultlib", "/machine:x64", "/debug", "/Brepro",
                    "/pdbaltpath:runguid.pdb", "/pdbsourcepath:.", "/opt:noref", "/opt:noicf", "/out:runguid.dll",
                    "/pdb:runguid.pdb", "runguid.obj", "advapi32.lib", "bcrypt.lib"), work)
    toolchain.remove(work, ("runguid.obj", "runguid.lib", "runguid.exp", "advapi32.lib", "bcrypt.lib", *INPUTS))


def build(out: Path) -> None:
    write_sources(out)
    for level in LEVELS:
        build_level(out, level)


FIXTURES = (driver.Fixture("runguid", HERE, ("runguid.c", "truth.json", *(f"{level}/{name}" for level in LEVELS
                                                                        for name in ("runguid.dll", "runguid.pdb"))),
                           build, tools=(*toolchain.BUILD_TOOLS, "llvm-dlltool"), sources=write_sources),)

if __name__ == "__main__":
    raise SystemExit(driver.main(FIXTURES, __doc__.splitlines()[0]))
