"""The decompiler engine against the native engine on the same binary, as a ratio measured in one run.

    python benchmarks/bench_decompiler.py [--binary EXE] [--functions 40000 --writes 3000] [--repeat 1]

Each engine runs ``api-to-etw analyze`` in a fresh child process (alternating, best of ``--repeat``);
the decompiler needs Python >= 3.13 with flatline (here or via $API_TO_ETW_DECOMPILER_PYTHON). The scale
kernel is built on demand by ``python -m samples.synth scale`` (not committed), as bench_analyze.py does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_analyze import child, ensure_scale_kernel, python  # noqa: E402 - the benchmarks' shared helpers

RUN = r"""
import sys, time
t0 = time.perf_counter()
from api_to_etw.cli import main
code = main(["analyze", sys.argv[1], "--engine", sys.argv[2], "-o", sys.argv[3], "-q"])
print(time.perf_counter() - t0, code)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", help="binary to time (default: the scale kernel, built on demand)")
    parser.add_argument("--functions", type=int, default=40000)
    parser.add_argument("--writes", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    exe = args.binary or ensure_scale_kernel(args.functions, args.writes)[0]
    seconds: dict[str, list[float]] = {"native": [], "ghidra-decompiler": []}
    cpu: dict[str, list[float]] = {"native": [], "ghidra-decompiler": []}
    rss: dict[str, float] = {"native": 0.0, "ghidra-decompiler": 0.0}
    rows: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            for engine in seconds:
                out = os.path.join(tmp, f"{engine}.tsv")
                run, text = child(python(RUN, exe, engine, out))
                fields = text.split()
                if fields[-1] != "0":
                    raise SystemExit(f"{engine} exited {fields[-1]}")
                seconds[engine].append(run.wall)
                cpu[engine].append(run.cpu)  # the worker process is a waited-for child: its CPU is counted
                rss[engine] = max(rss[engine], run.rss_mib)
                with open(out, encoding="utf-8") as handle:
                    rows[engine] = sum(1 for _ in handle) - 1
    native, decompiler = min(seconds["native"]), min(seconds["ghidra-decompiler"])
    figures = {"binary": os.path.basename(exe), "native_seconds": round(native, 2),
               "decompiler_seconds": round(decompiler, 2), "ratio": round(decompiler / native, 1),
               "native_cpu_seconds": round(min(cpu["native"]), 2),
               "decompiler_cpu_seconds": round(min(cpu["ghidra-decompiler"]), 2),
               "native_peak_rss_mib": round(rss["native"]), "decompiler_peak_rss_mib": round(rss["ghidra-decompiler"]),
               "native_rows": rows["native"], "decompiler_rows": rows["ghidra-decompiler"],
               "when": time.strftime("%Y-%m-%d")}
    print(json.dumps(figures, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
