"""``python -m samples.synth``: write, build, verify the synthetic kernels and the replica of the published output.

Subcommands:
  kernel  write the sources and truth.json of the reviewable synthetic kernel
  build   compile each sample at -O1, -O2 and -Os (``--check`` rebuilds in a temp dir and compares bytes)
  scale   write and build (at -O2) a large kernel for benchmarks
  verify  disassemble built images and check every modelled call edge and pattern is in the machine code
  replica write and build a replica of the kernel the original script's published output describes
          (samples/replica.py; reads the published CSV at generation time, never copies it)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from samples import driver, toolchain
from samples.synth.build import KERNEL_DIR, build_sample, folder_fixture
from samples.synth.constants import DEFAULT_SEED, OPT_LEVELS
from samples.synth.scale import build_scale
from samples.synth.spec import add_init_funcs, build_synthkernel
from samples.synth.truth import compute_truth, summarize
from samples.synth.verify import verify_sample
from samples.synth.write import write_kernel, write_scale


def _tools_missing() -> bool:
    absent = toolchain.missing()
    if absent:
        print(f"error: {', '.join(absent)} not found on PATH", file=sys.stderr)
    return bool(absent)


def cmd_scale(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if not args.no_build and _tools_missing():
        return 2
    start = time.monotonic()
    build = None if args.no_build else (lambda folder: build_sample(folder, ("O2",), args.jobs))
    truth, secs = write_scale(out, args.functions, args.writes, args.seed, args.per_file, build)
    print(f"wrote {out}: {summarize(truth)}")
    if secs is not None:
        print(f"built {out.name} at -O2 in {secs:.1f}s")
    print(f"scale kernel in {time.monotonic() - start:.1f}s")
    return 0


def cmd_kernel(args: argparse.Namespace) -> int:
    out = Path(args.out)
    _, truth = write_kernel(out, args.seed, args.variant, args.file_version)
    print(f"wrote {out}: {summarize(truth)}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    dirs = [Path(d) for d in args.samples] or [KERNEL_DIR]
    levels = tuple(args.levels.split(","))
    if _tools_missing():
        return 2
    version = toolchain.clang_version()
    status = 0
    for d in dirs:
        if args.check:
            status |= driver.report(d.name, driver.check(folder_fixture(d, levels, args.jobs)),
                                    f"fresh build is byte-identical to the committed images ({', '.join(levels)})")
        else:
            secs = build_sample(d, levels, args.jobs)
            print(f"built {d.name} ({', '.join(levels)}) with clang {version} in {secs:.1f}s")
    return status


def cmd_verify(args: argparse.Namespace) -> int:
    status = 0
    for d in [Path(x) for x in args.samples] or [KERNEL_DIR]:
        truth = json.loads((d / "truth.json").read_text())
        gen = truth.get("generator", {})
        if gen.get("kind") == "scale":
            model = build_scale(gen["functions"], gen["writes"], gen["seed"], gen["per_file"])
        else:
            model = build_synthkernel()
        add_init_funcs(model)
        if compute_truth(model, beyond=truth.get("beyond_depth", 0))["rows"] != truth["rows"]:
            print(f"error: {d.name}/truth.json does not match the generator's model", file=sys.stderr)
            status = 1
        levels = [lv for lv in OPT_LEVELS if (d / lv / f"{d.name}.exe").exists()]
        errors, report = verify_sample(d, model, truth, levels, patterns=gen.get("kind") != "scale")
        for line in report:
            print(line)
        for e in errors:
            print("error:", e, file=sys.stderr)
        missing = [ln for ln in report if "MISSING" in ln]
        print(f"{d.name}: {len(errors)} edge/API mismatches, {len(missing)} missing patterns "
              f"({', '.join(levels)})")
        if errors or missing:
            status = 1
    return status


def cmd_replica(args: argparse.Namespace) -> int:
    from samples import replica  # reads the published table; only this subcommand needs it

    return replica.cmd_replica(args)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("kernel", help="write the synthetic kernel's sources and truth.json")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="shuffles definition order (not the truth)")
    p.add_argument("--out", default=str(KERNEL_DIR))
    p.add_argument("--variant", action="store_true",
                   help="the next build: one event removed, one moved, one added (for history tests)")
    p.add_argument("--file-version", metavar="A.B.C.D", help="also write version.rc (a VERSIONINFO resource)")
    p.set_defaults(func=cmd_kernel)
    p = sub.add_parser("build", help="compile samples at -O1, -O2, -Os")
    p.add_argument("samples", nargs="*")
    p.add_argument("--check", action="store_true", help="rebuild in a temp dir and compare with committed files")
    p.add_argument("--levels", default=",".join(OPT_LEVELS))
    p.add_argument("-j", "--jobs", type=int, default=0)
    p.set_defaults(func=cmd_build)
    p = sub.add_parser("scale", help="write and build (at -O2) a large kernel for benchmarks")
    p.add_argument("--functions", type=int, default=40000)
    p.add_argument("--writes", type=int, default=3000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--per-file", type=int, default=2000)
    p.add_argument("--out", required=True)
    p.add_argument("--no-build", action="store_true")
    p.add_argument("-j", "--jobs", type=int, default=0)
    p.set_defaults(func=cmd_scale)
    p = sub.add_parser("verify", help="check built images against the model (edges, API calls, patterns)")
    p.add_argument("samples", nargs="*")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("replica", help="write and build a replica of the kernel the published output describes")
    p.add_argument("--csv", help="the published table (default: ../shared/reference/api-to-etw-ntoskrnl.exe.csv "
                                 "beside the repository)")
    p.add_argument("--out", required=True, help="output directory, outside the repository or in benchmarks/scratch "
                                                "(its name is the image name)")
    p.add_argument("--levels", default="O2,Os", help="optimization levels to build (default O2,Os)")
    p.add_argument("--no-build", action="store_true", help="write the sources and replica.json only")
    p.add_argument("--verify", action="store_true", help="check the built images against the model (LLVM tools)")
    p.add_argument("-j", "--jobs", type=int, default=0)
    p.set_defaults(func=cmd_replica)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
