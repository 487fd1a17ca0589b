"""Time ``api-to-etw analyze`` against the physical floor measured in the same run, with peak memory and peers.

The *raw floor* is the least any static tool must do: read the file, map its sections, decode every
executable byte once with iced-x86, and read the PDB's symbol record stream with ``struct`` (MSF header,
directory, DBI header, the record walk). The *old floor* (pefile's parse, pdbparse's construct-based symbol
records and one decode) is kept beside it for continuity with earlier figures. Peers, when installed:
radare2 ``aaa`` and angr ``CFGFast`` to a call graph on the 1x kernel (each reported as missing when absent).

    python benchmarks/bench_analyze.py                         # 1x, 2x, 4x scale kernels (built on demand)
    python benchmarks/bench_analyze.py --scales 1 --binary node.exe      # its default mode; --all-sites also
    python benchmarks/bench_analyze.py --binary EXE --pdb PDB --repeat 5 --json out.json
    python benchmarks/bench_analyze.py --scales 1 --angr-python ANGR_VENV/bin/python   # angr in its own venv:
        # python -m venv ANGR_VENV && ANGR_VENV/bin/pip install angr 'bitstring<4.3' 'pycparser==3.0'
    python benchmarks/bench_analyze.py --scales 1 --radare2 PREFIX/bin/radare2   # built from source: docs/speed.md
    python benchmarks/bench_analyze.py --scales 1 --radare2 PREFIX/bin/radare2 --peer-rounds 3  # peer ratios as
        # medians of pairs: one analyze run right before each peer run

Every measurement is a fresh child process; the subjects' runs alternate (raw floor, old floor, analyze,
raw floor, ...) and the median of ``--repeat`` runs is kept, so load from other processes on a shared
machine hits all of them alike. Wall seconds and CPU seconds (user + system of the child and anything it
forked) are both reported; on a loaded machine CPU seconds are the steadier figure. The load average is
printed with the results. Ratios, never absolute times, are what to compare across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WORK = os.path.join(HERE, "scratch")

RAW_FLOOR = r"""
import mmap, struct, sys, time
t0 = time.perf_counter()
from iced_x86 import Decoder
exe, pdb = sys.argv[1], sys.argv[2]
with open(exe, "rb") as f:
    data = f.read()
(lfanew,) = struct.unpack_from("<I", data, 0x3C)
(count,) = struct.unpack_from("<H", data, lfanew + 6)
(opt_size,) = struct.unpack_from("<H", data, lfanew + 20)
sections = {}
instructions = 0
for i in range(count):
    at = lfanew + 24 + opt_size + 40 * i
    vsize, rva, raw_size, raw_ptr = struct.unpack_from("<IIII", data, at + 8)
    (chars,) = struct.unpack_from("<I", data, at + 36)
    sections[rva] = data[raw_ptr:raw_ptr + min(raw_size, vsize or raw_size)]
    if chars & 0x20000020:
        for _ in Decoder(64, sections[rva], ip=rva):
            instructions += 1
records = 0
if pdb != "-":
    with open(pdb, "rb") as f:
        msf = f.read()
    page, _fpm, _pages, dir_size, _res = struct.unpack_from("<IIIII", msf, 32)
    def pages_of(numbers):
        return b"".join(msf[p * page:(p + 1) * page] for p in numbers)
    n_dir = -(-dir_size // page)
    n_map = -(-n_dir * 4 // page)
    page_map = pages_of(struct.unpack_from(f"<{n_map}I", msf, 52))
    directory = pages_of(struct.unpack_from(f"<{n_dir}I", page_map))[:dir_size]
    (n_streams,) = struct.unpack_from("<I", directory)
    sizes = [0 if s == 0xFFFFFFFF else s for s in struct.unpack_from(f"<{n_streams}I", directory, 4)]
    pos, lists = 4 + 4 * n_streams, []
    for size in sizes:
        k = -(-size // page)
        lists.append(struct.unpack_from(f"<{k}I", directory, pos))
        pos += 4 * k
    stream = lambda i: pages_of(lists[i])[:sizes[i]]
    (symrec,) = struct.unpack_from("<h", stream(3), 20)
    sym = stream(symrec)
    p = 0
    while p + 4 <= len(sym):
        length, kind = struct.unpack_from("<HH", sym, p)
        if length < 2:
            break
        if kind in (0x110E, 0x110D, 0x110C):
            struct.unpack_from("<IIH", sym, p + 4)
        records += 1
        p += 2 + length
print(time.perf_counter() - t0, instructions, records)
"""

OLD_FLOOR = r"""
import sys, time
t0 = time.perf_counter()
import pefile, pdbparse, iced_x86
exe, pdb = sys.argv[1], sys.argv[2]
pe = pefile.PE(exe, fast_load=True)
pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"]])
n = 0
if pdb != "-":
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

#: Through the console entry point (``cli.entry``), as ``api-to-etw analyze`` runs: its exit skips the
#: interpreter's teardown and analyze runs without the cyclic collector, which ``main`` alone does not do.
ANALYZE = r"""
import sys
exe, pdb, out = sys.argv[1], sys.argv[2], sys.argv[3]
sys.argv = ["api-to-etw", "analyze", exe, "-o", out, "-q"] + (["--pdb", pdb] if pdb != "-" else ["--no-pdb"]) + sys.argv[4:]
from api_to_etw.cli import entry
entry()
"""

#: After ``aaa``: the function count, then the global call graph as JSON on one line (``agCj``).
R2_COMMANDS = "aaa; aflc; agCj"


def r2_edges(graph_json: str) -> Optional[int]:
    """The edge count of radare2's ``agCj`` (nodes with their callees' names in ``imports``)."""
    try:
        nodes = json.loads(graph_json)
    except ValueError:
        return None
    return sum(len(node.get("imports", ())) for node in nodes) if isinstance(nodes, list) else None


ANGR = r"""
import sys, time
t0 = time.perf_counter()
import angr
project = angr.Project(sys.argv[1], auto_load_libs=False)
cfg = project.analyses.CFGFast(normalize=False)
print(time.perf_counter() - t0, len(cfg.kb.functions), cfg.graph.number_of_edges())
"""


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mib: float
    #: Peak of the resident sets of the process and its children summed, sampled (0 where /proc is missing).
    tree_mib: float = 0.0


@dataclass
class Series:
    runs: list[Run] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs)

    def peak(self) -> float:
        return max(r.rss_mib for r in self.runs)

    def tree_peak(self) -> float:
        return max(r.tree_mib for r in self.runs)


#: Seconds between two samples of a child's process tree.
TREE_SAMPLE_SECONDS = 0.02


def _tree_rss_kib(pid: int) -> int:
    """Resident KiB of ``pid`` and its descendants now (Linux ``/proc``); 0 where it cannot be read."""
    total = 0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/status", encoding="ascii", errors="replace") as status:
                total += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
            with open(f"/proc/{current}/task/{current}/children", encoding="ascii") as children:
                todo.extend(int(child) for child in children.read().split())
        except (OSError, ValueError):
            continue
    return total


def _sample_tree(pid: int, done: threading.Event, peak: list[int]) -> None:
    """The largest summed resident set of ``pid``'s tree until ``done``: what a forked worker and its parent
    hold at once (``wait4`` gives only the largest single process)."""
    while not done.wait(TREE_SAMPLE_SECONDS):
        peak[0] = max(peak[0], _tree_rss_kib(pid))


def child(argv: list[str], timeout: Optional[float] = None) -> tuple[Run, str]:
    """Run a command; its wall and CPU seconds (its own and its children's), peak RSS (wait4: the largest single
    process), the peak of its processes' resident sets summed (sampled) and stdout.

    Raises TimeoutExpired when it was killed after ``timeout`` seconds.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO, text=True,
                            env={**os.environ, "PYTHONPATH": REPO})
    timer = threading.Timer(timeout, proc.kill) if timeout else None
    if timer:
        timer.start()
    done, tree_peak = threading.Event(), [0]
    sampler = threading.Thread(target=_sample_tree, args=(proc.pid, done, tree_peak), daemon=True)
    sampler.start()
    try:
        out = proc.stdout.read() if proc.stdout else ""
        _pid, status, usage = os.wait4(proc.pid, 0)
    finally:
        done.set()
        sampler.join()
        if timer:
            timer.cancel()
        if proc.stdout:
            proc.stdout.close()
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if timeout and wall >= timeout:
        raise subprocess.TimeoutExpired(argv, timeout)
    if code != 0:
        raise SystemExit(f"{argv[:4]} failed ({code}): {out[-500:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, tree_peak[0] / 1024.0), out


def python(script: str, *args: str) -> list[str]:
    return [sys.executable, "-c", script, *args]


def ensure_scale_kernel(functions: int, writes: int) -> tuple[str, str]:
    out = os.path.join(WORK, f"scale_{functions}_{writes}")
    name = os.path.basename(out)
    exe = os.path.join(out, "O2", f"{name}.exe")
    if not os.path.exists(exe):
        print(f"building the scale kernel ({functions} functions, {writes} writes) in {os.path.relpath(out)} ...",
              file=sys.stderr)
        subprocess.run([sys.executable, "-m", "samples.synth", "scale", "--functions", str(functions), "--writes",
                        str(writes), "--out", out], check=True, cwd=REPO)
    return exe, os.path.join(os.path.dirname(exe), f"{name}.pdb")


def code_bytes(exe: str) -> int:
    import struct

    with open(exe, "rb") as handle:
        head = handle.read(4096)
    (lfanew,) = struct.unpack_from("<I", head, 0x3C)
    (count,) = struct.unpack_from("<H", head, lfanew + 6)
    (opt_size,) = struct.unpack_from("<H", head, lfanew + 20)
    total = 0
    for i in range(count):
        at = lfanew + 24 + opt_size + 40 * i
        vsize, _rva, raw_size, _ptr = struct.unpack_from("<IIII", head, at + 8)
        (chars,) = struct.unpack_from("<I", head, at + 36)
        if chars & 0x20000020:
            total += min(raw_size, vsize or raw_size)
    return total


def measure(label: str, exe: str, pdb: str, repeat: int, extra: list[str], old_floor: bool = True) -> dict:
    """Alternate raw floor, old floor (unless ``old_floor`` is off) and analyze ``repeat`` times; medians, peaks."""
    raw, old, analyze = Series(), Series(), Series()
    rows = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.tsv")
        for i in range(repeat):
            print(f"  {label}: round {i + 1}/{repeat}", file=sys.stderr)
            raw.runs.append(child(python(RAW_FLOOR, exe, pdb))[0])
            if old_floor:
                old.runs.append(child(python(OLD_FLOOR, exe, pdb))[0])
            analyze.runs.append(child(python(ANALYZE, exe, pdb, out, *extra))[0])
        with open(out, encoding="utf-8") as handle:
            rows = sum(1 for _ in handle) - 1
    figures: dict = {
        "binary": os.path.basename(exe),
        "file_mib": round(os.path.getsize(exe) / 2**20, 1),
        "code_mib": round(code_bytes(exe) / 2**20, 2),
        "pdb_mib": round(os.path.getsize(pdb) / 2**20, 1) if pdb != "-" else 0,
        "rows": rows,
        "analyze_args": extra,
    }
    for name, series in (("raw_floor", raw), ("old_floor", old), ("analyze", analyze)):
        if not series.runs:
            continue
        figures[f"{name}_wall"] = round(series.median("wall"), 3)
        figures[f"{name}_cpu"] = round(series.median("cpu"), 3)
        figures[f"{name}_peak_mib"] = round(series.peak(), 1)
        figures[f"{name}_tree_peak_mib"] = round(series.tree_peak(), 1)
    for base in ("raw_floor", "old_floor") if old_floor else ("raw_floor",):
        for kind in ("wall", "cpu"):
            figures[f"ratio_{base}_{kind}"] = round(figures[f"analyze_{kind}"] / figures[f"{base}_{kind}"], 2)
    return figures


def uptime() -> str:
    """``uptime``'s line (the load other jobs put on a shared machine), or the load averages alone."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def scaled_labels(subjects: list[tuple[str, str, str, list[str]]]) -> list[str]:
    return [label for label, *_rest in subjects if label.startswith("scale ")]


def peers(exe: str, timeout: float, analyze_wall: float, execute: bool = True, angr_python: Optional[str] = None,
          analyze_cpu: Optional[float] = None, radare2: Optional[str] = None,
          analyze_argv: Optional[list[str]] = None, rounds: int = 1) -> dict:
    """radare2 ``aaa`` and angr ``CFGFast`` on the same binary, when present; skipped (with the reason) if not.

    With ``analyze_argv`` each of ``rounds`` runs analyze once right before the peer, and the ratios are the
    medians of those pairs: a shared machine's speed drifts by more than the ratios' differences within the
    minutes between the analyze rounds and a peer run (radare2 over 40 s, angr minutes), so only runs taken at
    the same moment compare. Without it the ratios are to the given analyze medians.

    angr may live in an interpreter of its own (``--angr-python``): its pinned dependencies do not mix
    with ours in one environment. radare2 is ``--radare2`` or the one on PATH; after ``aaa`` it prints
    its function count (``aflc``) and call-graph size, so the run is known to have reached a call graph."""
    import importlib.util

    r2 = radare2 or shutil.which("radare2") or shutil.which("r2")
    if angr_python:  # importing angr takes seconds: probe only when the peers are run
        has_angr = not execute or subprocess.run([angr_python, "-c", "import angr"], capture_output=True).returncode == 0
    else:
        try:
            has_angr = importlib.util.find_spec("angr") is not None
        except (ImportError, ValueError):
            has_angr = False
    found: dict = {}
    for name, argv in (("radare2_aaa", [r2, "-q", "-2", "-e", "scr.interactive=false", "-c", R2_COMMANDS, exe]
                        if r2 else None),
                       ("angr_cfgfast", ([angr_python, "-c", ANGR, exe] if angr_python else python(ANGR, exe))
                        if has_angr else None)):
        if argv is None:
            found[name] = "skipped: not installed"
            continue
        if not execute:
            found[name] = "skipped: --no-peers"
            continue
        paired, runs = Series(), Series()
        try:
            for i in range(max(rounds, 1)):
                if analyze_argv:
                    print(f"  {name}: round {i + 1}/{max(rounds, 1)} (analyze, then the peer)", file=sys.stderr)
                    paired.runs.append(child(analyze_argv)[0])
                run, text = child(argv, timeout=timeout)
                runs.runs.append(run)
        except subprocess.TimeoutExpired:
            found[name] = f"> {timeout:.0f} s (timed out)"
            continue
        run = Run(runs.median("wall"), runs.median("cpu"), runs.peak())
        found[name] = {"wall": round(run.wall, 2), "cpu": round(run.cpu, 2), "peak_mib": round(run.rss_mib, 1),
                       "over_analyze": round(run.wall / analyze_wall, 1), "rounds": len(runs.runs)}
        if paired.runs:
            found[name]["paired_analyze_cpu"] = [round(r.cpu, 3) for r in paired.runs]
            found[name]["paired_analyze_wall"] = [round(r.wall, 3) for r in paired.runs]
            found[name]["over_analyze"] = round(statistics.median(
                peer.wall / ours.wall for peer, ours in zip(runs.runs, paired.runs)), 1)
            found[name]["over_analyze_cpu"] = round(statistics.median(
                peer.cpu / ours.cpu for peer, ours in zip(runs.runs, paired.runs)), 1)
            found[name]["paired_peer_wall"] = [round(r.wall, 3) for r in runs.runs]
            found[name]["paired_peer_cpu"] = [round(r.cpu, 3) for r in runs.runs]
        lines = text.splitlines()
        if name == "radare2_aaa" and len(lines) >= 2 and lines[-2].strip().isdigit():
            found[name]["functions"] = int(lines[-2])
            found[name]["call_graph_edges"] = r2_edges(lines[-1])
        elif name == "angr_cfgfast" and len(lines[-1:][0].split() if lines else ()) == 3:
            _secs, functions, edges = lines[-1].split()
            found[name]["functions"], found[name]["cfg_edges"] = int(functions), int(edges)
        if analyze_cpu and not paired.runs:
            found[name]["over_analyze_cpu"] = round(run.cpu / analyze_cpu, 1)
        found[name].update(target_met(found[name]))
    return found


#: How many times faster than a peer (radare2 ``aaa``) ``analyze`` is meant to be on the 1x kernel (issue 15).
PEER_TARGET = 20


def target_met(figure: dict) -> dict:
    """The peer's ratio to analyze in wall seconds and in CPU seconds under labelled keys of their own, and
    whether each meets ``PEER_TARGET``. Both are kept: analyze may use two processes (its CPU counts both, its
    wall what a user waits for) while radare2's ``aaa`` is one process, so the two ratios differ and a
    statement about the target must say which one it is met in. ``over_analyze`` stays the wall ratio."""
    wall, cpu = figure.get("over_analyze"), figure.get("over_analyze_cpu")
    return {"over_analyze_wall": wall, f"meets_{PEER_TARGET}x_wall": wall is not None and wall >= PEER_TARGET,
            f"meets_{PEER_TARGET}x_cpu": cpu is not None and cpu >= PEER_TARGET}


def _peak_cell(subject: dict) -> str:
    """The largest process's peak, and the processes' summed peak where children held memory beside it."""
    peak, tree = subject["analyze_peak_mib"], subject.get("analyze_tree_peak_mib", 0)
    return f"{peak:.0f} MiB" + (f" ({tree:.0f} summed)" if tree >= peak + 1 else "")


def markdown(report: dict) -> str:
    """The figures as the README's speed table (CPU ratios: the steadier figure on a shared machine)."""
    lines = [f"Measured {report['when']} on {report['machine']}; medians of {report['repeat']} alternating runs.", "",
             "| binary (code) | analyze CPU s | wall s | peak RSS | raw floor CPU s | / raw floor (CPU) "
             "| / old floor (CPU) | rows | load |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in report["subjects"]:
        what = f"{r['label']} ({r['code_mib']} MiB code" + (f", {r['pdb_mib']} MiB PDB)" if r["pdb_mib"] else ", no PDB)")
        lines.append(f"| {what} | {r['analyze_cpu']:.2f} | {r['analyze_wall']:.2f} | {_peak_cell(r)} "
                     f"| {r['raw_floor_cpu']:.2f} | {r['ratio_raw_floor_cpu']}x "
                     f"| {str(r['ratio_old_floor_cpu']) + 'x' if 'ratio_old_floor_cpu' in r else '-'} "
                     f"| {r['rows']:,} | {r['load_average'][0]}-{r['load_average'][1]} |")
    if report["linearity"]:
        lines.append("\nLinearity against 1x: " + "; ".join(
            f"{label}: {g['size']}x the code, CPU {g['cpu_growth']}x, peak memory {g['peak_growth']}x"
            for label, g in report["linearity"].items()))
    for r in report["subjects"]:
        for name, figure in r.get("peers", {}).items():
            if isinstance(figure, dict):
                graph = ", ".join(f"{figure[k]:,} {k.replace('_', ' ')}" for k in ("functions", "call_graph_edges",
                                                                                  "cfg_edges") if figure.get(k))
                met = [kind for kind in ("wall", "cpu") if figure.get(f"meets_{PEER_TARGET}x_{kind}")]
                lines.append(f"\n{name} on {r['label']}: {figure['cpu']:.1f} s CPU, {figure['wall']:.1f} s wall, "
                             f"{figure['peak_mib']:.0f} MiB ({graph}): {figure.get('over_analyze_cpu')}x analyze's "
                             f"CPU seconds, {figure['over_analyze']}x its wall seconds"
                             + (f" (medians of {figure['rounds']} runs, each after one of analyze)"
                                if figure.get("paired_analyze_cpu") else "")
                             + f"; the {PEER_TARGET}x target met in "
                             + (" and ".join(f"{kind} seconds" for kind in met) if met else "neither"))
            else:
                lines.append(f"\n{name} on {r['label']}: {figure}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", action="append", default=[], help="also time this binary (repeatable)")
    parser.add_argument("--pdb", action="append", default=[], help="PDB of the --binary at the same position "
                        "(default: beside it with the same stem; '-' for none)")
    parser.add_argument("--all-sites", action="store_true", help="pass --all-sites to analyze for --binary")
    parser.add_argument("--scales", default="1,2,4", help="scale kernel multiples of --functions/--writes "
                        "('' for none)")
    parser.add_argument("--functions", type=int, default=40000)
    parser.add_argument("--writes", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-peers", action="store_true", help="do not time radare2 aaa / angr CFGFast on the 1x "
                        "kernel (they are looked for and reported as missing either way)")
    parser.add_argument("--peer-timeout", type=float, default=600)
    parser.add_argument("--peer-rounds", type=int, default=1, help="runs of each peer, each right after one run of "
                        "analyze on the same binary; the ratios are the medians of those pairs (default 1)")
    parser.add_argument("--angr-python", help="an interpreter that imports angr (its own venv) for the angr peer")
    parser.add_argument("--no-old-floor", action="store_true", help="skip the old floor (pefile + pdbparse): "
                        "it costs about as much CPU as analyze and only continues earlier figures")
    parser.add_argument("--radare2", help="the radare2 executable for the aaa peer (default: radare2 or r2 on PATH)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()

    subjects: list[tuple[str, str, str, list[str]]] = []
    for scale in [int(s) for s in args.scales.split(",") if s.strip()]:
        exe, pdb = ensure_scale_kernel(args.functions * scale, args.writes * scale)
        subjects.append((f"scale {scale}x", exe, pdb, []))
    for i, exe in enumerate(args.binary):
        pdb = args.pdb[i] if i < len(args.pdb) else os.path.splitext(exe)[0] + ".pdb"
        if pdb != "-" and not os.path.exists(pdb):
            pdb = "-"
        subjects.append((os.path.basename(exe), exe, pdb, ["--all-sites"] if args.all_sites else []))

    load_before = os.getloadavg()
    uptime_before = uptime()
    results = []
    for label, exe, pdb, extra in subjects:
        load = os.getloadavg()[0]
        figures = measure(label, exe, pdb, args.repeat, extra, old_floor=not args.no_old_floor)
        figures["label"] = label
        figures["load_average"] = [round(load, 1), round(os.getloadavg()[0], 1)]
        if label == "scale 1x" or (not scaled_labels(subjects) and label == subjects[0][0]):
            with tempfile.TemporaryDirectory() as tmp:
                paired = python(ANALYZE, exe, pdb, os.path.join(tmp, "out.tsv"), *extra)
                figures["peers"] = peers(exe, args.peer_timeout, figures["analyze_wall"], execute=not args.no_peers,
                                         angr_python=args.angr_python, analyze_cpu=figures.get("analyze_cpu"),
                                         radare2=args.radare2, analyze_argv=paired, rounds=args.peer_rounds)
        results.append(figures)
    scaled = [r for r in results if r["label"].startswith("scale ")]
    linearity = {}
    if len(scaled) > 1:
        base = scaled[0]
        for r in scaled[1:]:
            size = r["code_mib"] / base["code_mib"]
            linearity[r["label"]] = {"size": round(size, 2),
                                     "cpu_growth": round(r["analyze_cpu"] / base["analyze_cpu"], 2),
                                     "peak_growth": round(r["analyze_peak_mib"] / base["analyze_peak_mib"], 2)}
    report = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} cores, load average {load_before[0]:.1f} before / "
                   f"{os.getloadavg()[0]:.1f} after",
        "uptime": [uptime_before, uptime()],
        "repeat": args.repeat,
        "subjects": results,
        "linearity": linearity,
    }
    print(json.dumps(report, indent=2))
    for r in results:
        print(f"{r['label']:>12}: analyze {r['analyze_wall']:.2f}s wall / {r['analyze_cpu']:.2f}s cpu, "
              f"{_peak_cell(r)}; raw floor x{r['ratio_raw_floor_wall']} wall, "
              f"x{r['ratio_raw_floor_cpu']} cpu; old floor x{r.get('ratio_old_floor_wall', '-')}", file=sys.stderr)
    print(markdown(report), file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
