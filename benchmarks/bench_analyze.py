"""Time ``api-to-etw analyze`` against the floor measured in the same run, and its peak memory.

The floor is the least any tool of this kind must do with our libraries: parse the PE with pefile,
parse the PDB's symbol records with pdbparse, and decode every executable section once with
iced-x86. The target is analyze <= 2x floor and peak RSS <= 1 GB, measured on a scale kernel of about
40,000 functions built by ``samples/generate.py scale`` (not committed; built on demand).

    python benchmarks/bench_analyze.py [--binary EXE --pdb PDB] [--repeat 3]

Each measurement runs in a fresh child process (so imports and caches count the same for both) and
the best of ``--repeat`` runs is kept; the report is one ratio from one run of this script.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WORK = os.path.join(HERE, "scratch")

FLOOR = r"""
import sys, time
t0 = time.perf_counter()
import pefile, pdbparse, iced_x86
exe, pdb = sys.argv[1], sys.argv[2]
pe = pefile.PE(exe, fast_load=True)
pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"]])
from pdbparse import dbi
p = pdbparse.parse(pdb, fast_load=True)
symrec = dbi.DBIHeader.parse(p.streams[3].data[:64]).symrecStream
p.streams[symrec] = pdbparse.PDBGlobalSymbolStream(p.fp, p.streams[symrec].pages, symrec,
    size=p.streams[symrec].size, page_size=p.page_size)
n = len(p.streams[symrec].globals)
count = 0
for s in pe.sections:
    if s.Characteristics & 0x20000000:
        for _ in iced_x86.Decoder(64, s.get_data(), ip=s.VirtualAddress):
            count += 1
print(time.perf_counter() - t0, n, count)
"""

ANALYZE = r"""
import sys, time
t0 = time.perf_counter()
from api_to_etw.cli import main
code = main(["analyze", sys.argv[1], "--pdb", sys.argv[2], "-o", sys.argv[3], "-q"])
print(time.perf_counter() - t0, code)
"""


def peak_rss_child(script: str, *args: str) -> tuple[list[str], float]:
    """Run a Python snippet in a fresh process: its printed fields and its own peak RSS in MiB (wait4)."""
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, cwd=REPO, text=True,
                            env={**os.environ, "PYTHONPATH": REPO})
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.stdout.close()
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"child failed: {out}")
    return out.split(), usage.ru_maxrss / 1024.0


def ensure_scale_kernel(functions: int, writes: int) -> tuple[str, str]:
    out = os.path.join(WORK, f"scale_{functions}_{writes}")
    name = os.path.basename(out)
    exe = os.path.join(out, "O2", f"{name}.exe")
    if not os.path.exists(exe):
        print(f"building the scale kernel ({functions} functions, {writes} writes) in {os.path.relpath(out)} ...",
              file=sys.stderr)
        subprocess.run([sys.executable, os.path.join(REPO, "samples", "generate.py"), "scale", "--functions",
                        str(functions), "--writes", str(writes), "--out", out], check=True)
    return exe, os.path.join(os.path.dirname(exe), f"{name}.pdb")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", help="binary to time (default: the scale kernel, built on demand)")
    parser.add_argument("--pdb", help="its PDB")
    parser.add_argument("--functions", type=int, default=40000)
    parser.add_argument("--writes", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    if args.binary:
        exe, pdb = args.binary, args.pdb or os.path.splitext(args.binary)[0] + ".pdb"
    else:
        exe, pdb = ensure_scale_kernel(args.functions, args.writes)

    floors, analyses, floor_rss, analyze_rss = [], [], 0.0, 0.0
    rows = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.tsv")
        for _ in range(args.repeat):
            fields, rss = peak_rss_child(FLOOR, exe, pdb)
            floors.append(float(fields[0]))
            floor_rss = max(floor_rss, rss)
            fields, rss = peak_rss_child(ANALYZE, exe, pdb, out)
            analyses.append(float(fields[0]))
            analyze_rss = max(analyze_rss, rss)
        with open(out, encoding="utf-8") as handle:
            rows = sum(1 for _ in handle) - 1
    floor, analysis = min(floors), min(analyses)
    figures = {
        "binary": os.path.basename(exe),
        "size_bytes": os.path.getsize(exe),
        "pdb_bytes": os.path.getsize(pdb),
        "floor_seconds": round(floor, 3),
        "analyze_seconds": round(analysis, 3),
        "ratio": round(analysis / floor, 2),
        "analyze_peak_rss_mib": round(analyze_rss, 1),
        "floor_peak_rss_mib": round(floor_rss, 1),
        "rows": rows,
        "repeat": args.repeat,
        "when": time.strftime("%Y-%m-%d"),
    }
    print(json.dumps(figures, indent=2))
    verdict = "meets" if figures["ratio"] <= 2.0 and analyze_rss <= 1024 else "MISSES"
    print(f"analyze {analysis:.2f}s vs floor {floor:.2f}s: ratio {figures['ratio']}, peak {analyze_rss:.0f} MiB "
          f"-> {verdict} the target (<= 2x, <= 1024 MiB)", file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
