"""Building a synthetic kernel folder at -O1/-O2/-Os, and the committed ``synthkernel`` fixture.

Each C file of the folder is compiled at each level with ``--target=x86_64-pc-windows-msvc -O{1,2,s}`` and the
path-free debug flags (samples/toolchain.py), into ``LEVEL/NAME.exe`` + ``NAME.pdb`` linked as a native-subsystem
driver image entered at ``DriverEntry``; a ``version.rc`` beside the sources is compiled and linked in.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from samples import toolchain
from samples.driver import Fixture
from samples.synth.constants import DEFAULT_SEED, OPT_LEVELS
from samples.synth.write import kernel_files, write_kernel

HERE = Path(__file__).resolve().parent.parent
KERNEL_DIR = HERE / "synthkernel"
COMPILE_FLAGS = ("-g", "-gcodeview", "-fdebug-compilation-dir=.", "-fno-stack-protector")


def link_flags(name: str) -> list[str]:
    return ["/nologo", "/machine:x64", "/debug", "/Brepro", f"/pdbaltpath:{name}.pdb", "/pdbsourcepath:.",
            "/entry:DriverEntry", "/subsystem:native", "/driver", "/nodefaultlib", "/opt:ref", "/opt:noicf",
            f"/out:{name}.exe", f"/pdb:{name}.pdb"]


def image_outputs(name: str, levels: Sequence[str]) -> tuple[str, ...]:
    return tuple(f"{level}/{name}.{ext}" for level in levels for ext in ("exe", "pdb"))


def build_sample(sample_dir: Path, levels: Sequence[str] = OPT_LEVELS, jobs: int = 0, quiet: bool = False) -> float:
    """Compile every *.c of the sample at each level into LEVEL/NAME.exe + NAME.pdb; returns seconds spent."""
    sample_dir = sample_dir.resolve()
    name = sample_dir.name
    sources = sorted(p.name for p in sample_dir.glob("*.c"))
    if not sources:
        raise toolchain.ToolError(f"no C sources in {sample_dir}")
    start = time.monotonic()
    jobs = jobs or os.cpu_count() or 2
    tasks = []
    for level in levels:
        (sample_dir / level).mkdir(exist_ok=True)
        for src in sources:
            tasks.append((src, f"{level}/{src[:-2]}.obj", level))

    def compile_one(task: tuple[str, str, str]) -> None:
        src, obj, level = task
        toolchain.compile_c(src, obj, sample_dir, [f"--target={toolchain.TARGET}", f"-{level}", *COMPILE_FLAGS])

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for fut in [pool.submit(compile_one, t) for t in tasks]:
            fut.result()
    for level in levels:
        out = sample_dir / level
        objs = [s[:-2] + ".obj" for s in sources]
        if (sample_dir / "version.rc").exists():  # a VERSIONINFO resource (kernel --file-version)
            toolchain.resources(["/FO", str(out / "version.res"), str(sample_dir / "version.rc")], sample_dir)
            objs.append("version.res")
        toolchain.link(link_flags(name) + objs, out)
        toolchain.remove_intermediates(out)
        if not quiet:
            exe, pdb = out / f"{name}.exe", out / f"{name}.pdb"
            print(f"  {name}/{level}: {exe.name} {exe.stat().st_size} bytes, {pdb.name} {pdb.stat().st_size} bytes")
    return time.monotonic() - start


def folder_fixture(sample_dir: Path, levels: Sequence[str] = OPT_LEVELS, jobs: int = 0) -> Fixture:
    """Any kernel folder as a fixture: its committed sources rebuilt into its images (``build --check DIR``)."""
    sample_dir = sample_dir.resolve()

    def build(out: Path) -> None:
        if out.resolve() != sample_dir:
            for src in [*sample_dir.glob("*.c"), *sample_dir.glob("*.h"), *sample_dir.glob("version.rc")]:
                shutil.copy2(src, out / src.name)
        build_sample(out, levels, jobs, quiet=True)

    return Fixture(sample_dir.name, sample_dir, image_outputs(sample_dir.name, levels), build)


def _kernel_fixture() -> Fixture:
    """The committed kernel: its sources and truth.json written from the model, then its three images."""
    def build(out: Path) -> None:
        write_kernel(out, DEFAULT_SEED)
        build_sample(out, OPT_LEVELS, quiet=True)

    def sources(out: Path) -> None:
        write_kernel(out, DEFAULT_SEED)

    return Fixture("synthkernel", KERNEL_DIR, kernel_files() + image_outputs("synthkernel", OPT_LEVELS), build,
                   sources=sources)


FIXTURES = (_kernel_fixture(),)
