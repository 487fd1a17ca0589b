"""Build the tiny non-x64 images the bad-input tests feed to the analyzer (32-bit x86 and ARM64 DLLs).

``python -m samples.badinput.build [--check]`` (from the repository root). Needs clang and lld-link; the built
DLLs are committed so the tests run without them. ``--check`` rebuilds into a temporary folder and compares the
bytes with the committed files.
"""

from __future__ import annotations

from pathlib import Path

from samples import driver, toolchain

HERE = Path(__file__).resolve().parent
SOURCE = "tiny.c"
TARGETS = {"x86": "i686-pc-windows-msvc", "arm64": "aarch64-pc-windows-msvc"}


def build(out: Path) -> None:
    driver.copy_inputs(HERE, out, (SOURCE,))
    for machine, triple in TARGETS.items():
        obj, dll = f"tiny_{machine}.obj", f"tiny_{machine}.dll"
        toolchain.compile_plain(SOURCE, obj, out, [f"--target={triple}", "-O2"])
        toolchain.link(["/nologo", "/dll", "/noentry", "/nodefaultlib", "/Brepro", f"/machine:{machine}",
                        f"/out:{dll}", obj], out)
        toolchain.remove(out, (obj, f"tiny_{machine}.lib", f"tiny_{machine}.exp"))


FIXTURES = (driver.Fixture("badinput", HERE, tuple(f"tiny_{m}.dll" for m in TARGETS), build),)

if __name__ == "__main__":
    raise SystemExit(driver.main(FIXTURES, __doc__.splitlines()[0]))
