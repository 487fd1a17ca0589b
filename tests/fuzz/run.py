#!/usr/bin/env python3
"""Run the fuzz targets: replay the corpus, fuzz with atheris, minimize a finding, distill a corpus.

    tests/fuzz/run.py replay [TARGET...]          every seed, corpus file and reproducer, in this process
    tests/fuzz/run.py ci [--runs N]               each target for N atheris inputs, one process each (CI)
    tests/fuzz/run.py campaign [TARGET...] [--inputs 100000]   the long run: a table row per target
    tests/fuzz/run.py fuzz TARGET [--runs N | --seconds S] [-- LIBFUZZER-ARGS...]
    tests/fuzz/run.py minimize TARGET CRASH-FILE  the smallest input that still fails, next to it as .min
    tests/fuzz/run.py merge TARGET                inputs of the scratch corpus that add coverage -> corpus/TARGET

Atheris (``pip install -e '.[fuzz]'``) is needed for fuzz, ci, minimize and merge; replay needs only the
package. Scratch corpora and findings go to build/fuzz/ (not committed). A finding is a crash file in
build/fuzz/findings/; minimize it, add it to tests/fuzz/reproducers/TARGET/, fix the bug, add a test.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [HERE, REPO]
# One process per input: the native engine's fork split would exit a child inside libFuzzer, which it
# reports as a crash ("fuzz target exited").
os.environ["API_TO_ETW_JOBS"] = "1"

from targets import TARGETS, Context, Finding, check_input, run_input, seed_files, work_dir  # noqa: E402

from api_to_etw.errors import ExitCode  # noqa: E402

BUILD = os.path.join(REPO, "build", "fuzz")


def _scratch(name: str) -> str:
    path = os.path.join(BUILD, "corpus", name)
    os.makedirs(path, exist_ok=True)
    return path


def _seed_dir(name: str) -> str:
    """Seeds copied into one folder, because libFuzzer runs single files once instead of fuzzing from them."""
    path = os.path.join(BUILD, "seeds", name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    for index, seed in enumerate(seed_files(TARGETS[name])):
        if os.path.getsize(seed) > TARGETS[name].max_len:
            continue  # libFuzzer would cut it to max_len: a broken copy of a seed replay already covers
        shutil.copyfile(seed, os.path.join(path, f"{index:03d}-{os.path.basename(seed)}"))
    return path


def _relauncher(name: str) -> str:
    """A command that starts this target again: libFuzzer re-runs ``argv[0]`` (with its own flags) to
    minimize a crash, so ``argv[0]`` must be runnable on its own, not just this script's path."""
    path = os.path.join(BUILD, "bin", f"fuzz-{name}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f'#!/bin/sh\nexec "{sys.executable}" "{os.path.abspath(__file__)}" fuzz {name} -- "$@"\n')
    os.chmod(path, 0o755)
    return path


def _instrumented() -> None:
    """Import every api_to_etw module under atheris' coverage instrumentation (lazy imports included)."""
    import importlib
    import pkgutil

    import atheris

    with atheris.instrument_imports(include=["api_to_etw"]):
        import api_to_etw

        for info in pkgutil.walk_packages(api_to_etw.__path__, "api_to_etw."):
            if ".ghidra" in info.name or info.name.endswith("__main__"):
                continue  # pyghidra, never reached by these targets; __main__ runs the CLI
            importlib.import_module(info.name)


def cmd_fuzz(args: argparse.Namespace) -> int:
    import atheris

    target = TARGETS[args.target]
    _instrumented()
    ctx = Context(work_dir(f"api-to-etw-fuzz-{target.name}-"))
    atexit.register(shutil.rmtree, ctx.work, True)
    ctx.prepare()
    findings = os.path.join(BUILD, "findings")
    os.makedirs(findings, exist_ok=True)
    extra = list(args.libfuzzer)
    if args.runs is not None:
        extra.append(f"-runs={args.runs}")
    if args.seconds is not None:
        extra.append(f"-max_total_time={args.seconds}")
    if not any(a.startswith(("-merge", "-minimize_crash")) for a in extra):
        extra = [_scratch(target.name), _seed_dir(target.name), *extra]
    argv = [_relauncher(target.name), f"-max_len={target.max_len}", "-timeout=10", "-rss_limit_mb=2048",
            f"-artifact_prefix={findings}{os.sep}{target.name}-", *extra]

    def one_input(data: bytes) -> None:
        try:
            check_input(target, data, ctx)
        except Finding as exc:
            if exc.outcome is not None and exc.outcome.code == ExitCode.INTERRUPTED:
                # SIGTERM (``kill``, a campaign's timeout) reached the command: the session ends, the input
                # is no bug (the CLI turns SIGTERM into Ctrl-C so that it cleans up).
                print("fuzz: interrupted", file=sys.stderr)
                os._exit(130)
            raise

    atheris.Setup(argv, one_input)
    atheris.Fuzz()
    return 0


def _fuzz_for(name: str, runs: int, seed: int, timeout: Optional[float],
              budget: Optional[int] = None) -> tuple[int, float, float, int, str]:
    """(inputs run, wall seconds, CPU seconds, exit code, libFuzzer's output) of one target fuzzed for ``runs``
    inputs in its own process (seconds include the start: importing every module under atheris'
    instrumentation, ~6 CPU seconds). CPU seconds give a rate that does not depend on the machine's load.
    The output also goes to build/fuzz/logs/TARGET.log while it runs, to follow a long run."""
    log = os.path.join(BUILD, "logs", f"{name}.log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    started = time.perf_counter()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, "w+", encoding="utf-8", errors="replace") as handle:
        try:
            limit = ["--seconds", str(budget)] if budget else []
            code = subprocess.run([sys.executable, os.path.abspath(__file__), "fuzz", name, "--runs", str(runs), *limit,
                                   "--", f"-seed={seed}", "-print_final_stats=1"],
                                  stdout=subprocess.DEVNULL, stderr=handle, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            code = -1
            handle.write("\n(timed out)\n")
        handle.seek(0)
        err = handle.read()
    seconds = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
    executed = re.findall(r"stat::number_of_executed_units:\s*(\d+)", err) or re.findall(r"Done (\d+) runs", err)
    return (int(executed[-1]) if executed else 0), seconds, cpu, code, err


def cmd_ci(args: argparse.Namespace) -> int:
    """Each target for a fixed number of inputs, so CI time does not depend on the machine's speed."""
    failed = []
    total = 0.0
    names = args.targets or list(TARGETS)
    for name in names:
        runs, seconds, _cpu, code, err = _fuzz_for(name, args.runs, args.seed, args.timeout)
        total += seconds
        print(f"fuzz {name}: {runs} inputs in {seconds:.1f}s, exit {code}", flush=True)
        if code != 0:
            failed.append(name)
            print(err[-3000:], file=sys.stderr)
    print(f"fuzz: {len(names)} targets in {total:.1f}s, {len(failed)} with findings {failed}")
    return 1 if failed else 0


def cmd_campaign(args: argparse.Namespace) -> int:
    """The long run recorded in tests/fuzz/README.md: every target for ``--inputs`` inputs, one after the
    other (run it under ``nice``), one table row per target; findings are in build/fuzz/findings/."""
    rows = []
    names = args.targets or list(TARGETS)
    print("| target | inputs | wall s | CPU s | inputs per CPU s | result |\n"
          "| --- | ---: | ---: | ---: | ---: | --- |", flush=True)
    for name in names:
        runs, seconds, cpu, code, err = _fuzz_for(name, args.inputs, args.seed, args.timeout, args.max_seconds)
        crash = re.findall(r"Test unit written to (\S+)", err)
        result = "nothing found" if code == 0 else f"finding: {os.path.relpath(crash[-1], REPO) if crash else err[-200:]}"
        row = f"| {name} | {runs} | {seconds:.0f} | {cpu:.0f} | {runs / cpu if cpu else 0:.0f} | {result} |"
        rows.append((name, code))
        print(row, flush=True)
        if args.log:
            with open(args.log, "a", encoding="utf-8") as handle:
                handle.write(row + "\n")
    return 1 if any(code for _name, code in rows) else 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Every committed input through the command line; one JSON line per input with the slowest last."""
    ctx = Context(work_dir("api-to-etw-replay-"))
    ctx.prepare()
    bad = 0
    results = []
    for name in args.targets or TARGETS:
        target = TARGETS[name]
        for path in seed_files(target):
            with open(path, "rb") as handle:
                data = handle.read()
            outcome = run_input(target, data, ctx)
            why = outcome.finding()
            if not why and outcome.seconds > args.max_seconds:
                why = f"took {outcome.seconds:.1f}s (limit {args.max_seconds}s)"
            bad += bool(why)
            results.append({"target": name, "input": os.path.relpath(path, REPO), "code": outcome.code,
                            "seconds": round(outcome.seconds, 3), "finding": why})
    shutil.rmtree(ctx.work, ignore_errors=True)
    for item in results:
        if args.json or item["finding"]:
            print(json.dumps(item))
    slowest = max(results, key=lambda r: r["seconds"]) if results else None
    print(f"replay: {len(results)} inputs, {bad} findings" +
          (f", slowest {slowest['seconds']}s ({slowest['input']})" if slowest else ""), file=sys.stderr)
    return 1 if bad else 0


def cmd_minimize(args: argparse.Namespace) -> int:
    out = args.crash + ".min"
    rc = subprocess.call([sys.executable, os.path.abspath(__file__), "fuzz", args.target, "--",
                          "-minimize_crash=1", f"-runs={args.runs}", f"-exact_artifact_path={out}", args.crash])
    print(f"minimized: {out}" if os.path.exists(out) else "nothing written", file=sys.stderr)
    return rc


def cmd_merge(args: argparse.Namespace) -> int:
    committed = os.path.join(HERE, "corpus", args.target)
    os.makedirs(committed, exist_ok=True)
    return subprocess.call([sys.executable, os.path.abspath(__file__), "fuzz", args.target, "--",
                            "-merge=1", committed, _scratch(args.target)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    fz = sub.add_parser("fuzz")
    fz.add_argument("target", choices=sorted(TARGETS))
    fz.add_argument("--runs", type=int)
    fz.add_argument("--seconds", type=int)
    ci = sub.add_parser("ci")
    ci.add_argument("targets", nargs="*", default=[])
    ci.add_argument("--runs", type=int, default=100)
    ci.add_argument("--timeout", type=int, default=300, help="seconds per target before it counts as hung")
    ci.add_argument("--seed", type=int, default=1, help="libFuzzer's seed: the same inputs on every CI run")
    cp = sub.add_parser("campaign")
    cp.add_argument("targets", nargs="*", default=[])
    cp.add_argument("--inputs", type=int, default=100_000, help="inputs per target")
    cp.add_argument("--timeout", type=float, help="seconds per target before it counts as hung (default: none)")
    cp.add_argument("--seed", type=int, default=1)
    cp.add_argument("--max-seconds", type=int, help="stop a target after this many seconds even if short of --inputs")
    cp.add_argument("--log", help="also append each table row to this file")
    rp = sub.add_parser("replay")
    rp.add_argument("targets", nargs="*", default=[])
    rp.add_argument("--json", action="store_true", help="a line for every input, not only findings")
    rp.add_argument("--max-seconds", type=float, default=10.0)
    mn = sub.add_parser("minimize")
    mn.add_argument("target", choices=sorted(TARGETS))
    mn.add_argument("crash")
    mn.add_argument("--runs", type=int, default=20000)
    mg = sub.add_parser("merge")
    mg.add_argument("target", choices=sorted(TARGETS))
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []  # libFuzzer's own arguments, after --
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    args.libfuzzer = extra
    handlers = {"fuzz": cmd_fuzz, "ci": cmd_ci, "campaign": cmd_campaign, "replay": cmd_replay, "minimize": cmd_minimize, "merge": cmd_merge}
    try:
        return handlers[args.command](args)
    except Finding as exc:  # only outside atheris (replay): atheris reports its own
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
