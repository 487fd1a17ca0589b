"""Loading the reference manifest folder (``--manifests``): ``ManifestIndex.load`` against its floor, parsing
the same XML files with ElementTree and reading the TSV files, as a ratio measured in one run (alternating
runs, medians).

    python benchmarks/bench_manifests.py [--repeat 5] [FOLDER]

FOLDER defaults to ../shared/reference/manifests beside the repository. The index does more than the floor
(it names events, templates and the MOF table), so the ratio says what that costs, not whether it is slow:
on a shared machine the absolute seconds move with the other load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

from api_to_etw.etw.manifest import ManifestIndex  # noqa: E402


def floor(folder: str) -> None:
    """The physical floor: every XML file parsed once, every other file read once."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if name.lower().endswith((".xml", ".man")):
                ET.parse(path)
            else:
                with open(path, "rb") as handle:
                    handle.read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?",
                        default=os.path.join(os.path.dirname(REPO), "shared", "reference", "manifests"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not os.path.isdir(args.folder):
        print(f"no manifest folder at {args.folder}", file=sys.stderr)
        return 2
    times: dict[str, list[float]] = {"floor": [], "index": []}
    for _ in range(args.repeat):
        for label, work in (("floor", lambda: floor(args.folder)),
                            ("index", lambda: ManifestIndex().load([args.folder]))):
            started = time.perf_counter()
            work()
            times[label].append(time.perf_counter() - started)
    floor_s, index_s = statistics.median(times["floor"]), statistics.median(times["index"])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"manifest folder: floor {floor_s:.3f} s, ManifestIndex.load {index_s:.3f} s, "
          f"ratio {index_s / floor_s:.2f}x (medians of {args.repeat}, load {load:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
