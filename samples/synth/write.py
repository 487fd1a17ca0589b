"""Writing a kernel folder: the C sources and truth.json of the committed kernel, its next build, a scale kernel."""

from __future__ import annotations

import concurrent.futures
import gc
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from samples.synth.constants import KERNEL_BEYOND_DEPTH
from samples.synth.emit import emit_sources, version_rc
from samples.synth.model import Model
from samples.synth.scale import build_scale
from samples.synth.spec import add_init_funcs, build_synthkernel, make_variant
from samples.synth.truth import compute_truth, write_truth


def write_sources(model: Model, out: Path, seed: int, keep: tuple[str, ...] = ()) -> list[str]:
    """Write the model's C sources into ``out``, removing the sources a previous model wrote and this one lacks."""
    written = emit_sources(model, out, seed)
    for stale in [*out.glob("*.c"), *out.glob("*.h"), *out.glob("version.rc")]:
        if stale.name not in written and stale.name not in keep:
            stale.unlink()
    return written


def write_folder(model: Model, truth: dict, out: Path, seed: int, keep: tuple[str, ...] = ()) -> list[str]:
    """Write the model's sources and truth.json into ``out``."""
    written = write_sources(model, out, seed, keep)
    write_truth(truth, out / "truth.json")
    return written


def write_kernel(out: Path, seed: int, variant: bool = False,
                 file_version: Optional[str] = None) -> tuple[Model, dict]:
    """The committed kernel (or, with ``variant``, its next build) into ``out``."""
    model = build_synthkernel()
    changes = make_variant(model) if variant else None
    add_init_funcs(model)
    truth = compute_truth(model, beyond=KERNEL_BEYOND_DEPTH)
    truth["generator"] = {"kind": "kernel"}
    if changes is not None:
        truth["generator"]["variant"] = changes
    if file_version:
        truth["generator"]["file_version"] = file_version
    out.mkdir(parents=True, exist_ok=True)
    if file_version:
        (out / "version.rc").write_text(version_rc(out.resolve().name, file_version), newline="\n")
    write_folder(model, truth, out, seed, keep=("version.rc",) if file_version else ())
    return model, truth


def kernel_files() -> tuple[str, ...]:
    """The files ``write_kernel`` writes for the committed kernel (sources, then truth.json)."""
    model = build_synthkernel()
    return tuple(sorted(["kernel.h", "etwapi.c", "etwdata.c", "tlgdata.c", *model.files])) + ("truth.json",)


def write_scale(out: Path, functions: int, writes: int, seed: int, per_file: int,
                build: Optional[Callable[[Path], float]] = None) -> tuple[dict, Optional[float]]:
    """A seeded random kernel of ``functions`` functions and ``writes`` writes into ``out``: its truth, build seconds.

    With ``build``, the images are compiled from the written sources while the truth is computed and
    written (clang is most of a scale kernel's cost; the truth needs only the model), so the two overlap."""
    collecting = gc.isenabled()
    gc.disable()  # millions of long-lived model objects: the cyclic collector's passes were a third of the CPU
    try:
        model = build_scale(functions, writes, seed, per_file)
        add_init_funcs(model)
        out.mkdir(parents=True, exist_ok=True)
        write_sources(model, out, seed)
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            building = pool.submit(build, out) if build else None
            truth = compute_truth(model)
            truth["generator"] = {"kind": "scale", "functions": functions, "writes": writes, "seed": seed,
                                  "per_file": per_file}
            write_truth(truth, out / "truth.json")
            return truth, building.result() if building else None
    finally:
        if collecting:
            gc.enable()
