#!/usr/bin/env python3
"""Seeds of the ``wevt`` fuzz target: resource-only DLLs shaped like a real mc.exe runtime provider.

``python tests/fuzz/wevt_seeds.py [--check]`` writes ``tests/fuzz/corpus/wevt/*.dll``. The model is ours
(names, GUID, field names); its *shape* is the one a real C++ runtime DLL's WEVT_TEMPLATE has (vcamp140.dll
of the reference list, read with ``api-to-etw manifest``): CRIM 5.1, one provider whose elements come in the
order TTBL PRVA OPCO LEVL TASK KEYW EVNT, empty OPCO and TASK tables, no CHAN, one standard level, three
keywords, one template per event with UInt32/UInt64/Boolean/Pointer fields shown as HexInt64, events
without message ids, and a message table holding only the level's string. The bytes come from the same
encoder as samples/wevt (``encode_wevt``, ``encode_messagetable``) and are linked with llvm-rc and lld-link
(``/Brepro``), so ``--check`` rebuilds them byte for byte. No downloaded byte is copied.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus", "wevt")
sys.path.insert(0, REPO)

from api_to_etw.etw.wevt import NO_MESSAGE, Named, Template, TemplateField, WevtEvent, WevtProvider  # noqa: E402
from samples.wevt.build import encode_messagetable, encode_wevt  # noqa: E402  (the one encoder of the layout)

GUID = "3c9e1a57-08d2-4b6f-9a41-7e5d2c8b0f13"
NAME = "Contoso-Compute-Runtime"
ORDER = ("TTBL", "PRVA", "OPCO", "LEVL", "TASK", "KEYW", "EVNT")
INFORMATION = 0x50000004  # mc.exe's message id of the standard level win:Informational
#: Field shapes: (in-type, out-type) of win:UInt32, win:UInt64, win:Boolean and win:Pointer as xs:/win:HexInt64.
U32, U64, BOOL, PTR = (8, 8), (10, 10), (13, 13), (16, 19)
TEMPLATES: tuple[tuple[tuple[str, tuple[int, int]], ...], ...] = (
    (("DeviceId", PTR), ("DevicePath", (1, 1)), ("DeviceName", (1, 1))),
    (("SpanId", U32), ("DeviceId", PTR), ("QueueId", PTR), ("Tiled", BOOL), ("Tiles", U64), ("Threads", U32)),
    (("SpanId", U32),),
    (("SpanId", U32), ("FromQueue", PTR), ("ToQueue", PTR), ("Bytes", U64), ("Staged", BOOL)),
    (("OperationId", U32), ("SpanId", U32)),
    (("OperationId", U32), ("DeviceId", PTR), ("QueueId", PTR)),
)
KEYWORDS = ((0x1, "COMPUTE_SPAN_START"), (0x2, "COMPUTE_SPAN_END"), (0x4, "COMPUTE_INSTANCE"))


def provider(events: int) -> WevtProvider:
    """The runtime provider with its first ``events`` events (each with its own template, cycling)."""
    templates = tuple(Template(f"7d3f0000-0000-4000-8000-{n:012x}",
                               tuple(TemplateField(name, *types) for name, types in TEMPLATES[n % len(TEMPLATES)]))
                      for n in range(events))
    keyword_of = [KEYWORDS[n % len(KEYWORDS)][0] for n in range(events)]
    return WevtProvider(
        guid=GUID, name=NAME, message_id=NO_MESSAGE, attributes=((0x10000001, NAME),),
        levels=(Named(4, "win:Informational", INFORMATION),),
        keywords=tuple(Named(mask, name) for mask, name in KEYWORDS),
        templates=templates,
        events=tuple(WevtEvent(n + 1, 0, 0, 4, 0, 0, keyword_of[n], NO_MESSAGE, n, (keyword_of[n],))
                     for n in range(events)),
        order=ORDER)


#: Seed name -> number of events. The full one has as many events as the real provider; the small
#: ones keep each mutation cheap and close to a structure boundary.
SEEDS = {"runtime11": 11, "runtime2": 2, "runtime1": 1}


def build(out_dir: str) -> list[str]:
    run = {"cwd": out_dir, "check": True}
    written = []
    for name, events in SEEDS.items():
        with open(os.path.join(out_dir, f"{name}.wevt"), "wb") as handle:
            handle.write(encode_wevt((provider(events),), (5, 1)))
        with open(os.path.join(out_dir, f"{name}.msg"), "wb") as handle:
            handle.write(encode_messagetable({INFORMATION: "Information"}))
        with open(os.path.join(out_dir, f"{name}.rc"), "w", encoding="ascii") as handle:
            handle.write(f'LANGUAGE 9, 1\n1 WEVT_TEMPLATE "{name}.wevt"\n1 11 "{name}.msg"\n')
        subprocess.run(["llvm-rc", "/fo", f"{name}.res", f"{name}.rc"], **run)  # type: ignore[call-overload]
        subprocess.run(["lld-link", "/nologo", "/dll", "/noentry", "/nodefaultlib", "/machine:x64", "/Brepro",
                        f"/out:{name}.dll", f"{name}.res"], **run)  # type: ignore[call-overload]
        for ext in (".wevt", ".msg", ".rc", ".res", ".lib", ".exp"):
            if os.path.exists(os.path.join(out_dir, name + ext)):
                os.unlink(os.path.join(out_dir, name + ext))
        written.append(f"{name}.dll")
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="rebuild elsewhere and compare with the committed seeds")
    args = parser.parse_args()
    if not args.check:
        os.makedirs(OUT, exist_ok=True)
        print("\n".join(build(OUT)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in build(tmp):
            if not filecmp.cmp(os.path.join(tmp, name), os.path.join(OUT, name), shallow=False):
                print(f"wevt seeds: {name} does not reproduce", file=sys.stderr)
                return 1
    print("wevt seeds: reproduced")
    return 0


if __name__ == "__main__":
    sys.exit(main())
