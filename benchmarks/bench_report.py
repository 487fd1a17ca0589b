"""Size and time of ``api-to-etw report`` for a whole kernel: the report must stay under 5 MB.

Uses the scale kernel of bench_analyze.py (``python -m samples.synth scale``, about 13,000 rows; built on
demand into benchmarks/scratch, which takes minutes), analyzes it, writes its report with the
call-path drawings, and prints the figures: rows, events, graphs, bytes, seconds.

    python benchmarks/bench_report.py [--table TSV] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from bench_analyze import ensure_scale_kernel  # noqa: E402

LIMIT = 5 * 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", help="an analyze output to report (default: the scale kernel's, made here)")
    parser.add_argument("--functions", type=int, default=40000)
    parser.add_argument("--writes", type=int, default=3000)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()

    from api_to_etw.cli import main as cli

    with tempfile.TemporaryDirectory() as tmp:
        table = args.table
        if table is None:
            exe, pdb = ensure_scale_kernel(args.functions, args.writes)
            table = os.path.join(tmp, "scale.tsv")
            if cli(["analyze", exe, "--pdb", pdb, "-o", table, "-q"]) != 0:
                raise SystemExit("analyze failed")
        out = os.path.join(tmp, "report.html")
        started = time.perf_counter()
        if cli(["report", table, "-o", out, "-q"]) != 0:
            raise SystemExit("report failed")
        seconds = time.perf_counter() - started
        size = os.path.getsize(out)
        with open(table, encoding="utf-8") as handle:
            rows = sum(1 for _ in handle) - 1
    figures = {"table": os.path.basename(table), "rows": rows, "report_bytes": size,
               "report_mb": round(size / 1e6, 2), "seconds": round(seconds, 2), "when": time.strftime("%Y-%m-%d")}
    print(json.dumps(figures, indent=2))
    verdict = "meets" if size < LIMIT else "MISSES"
    print(f"report of {rows} rows: {size / 1e6:.2f} MB in {seconds:.1f}s -> {verdict} the target (< 5 MB)",
          file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=2)
    return 0 if size < LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
