"""Events reached past the exports the ways real DLLs are entered: samples/handout/handout.c, at -O1/-O2/-Os,
with and without its PDB. The expected rows are transcribed by hand from that source:

- MethodStart / MethodStop sit in ``g_Methods``, a METHOD array (name, method, flags, doc) in writable data
  that the export HandoutMethods returns: each is a table entry of its own (``table:<rva>[0]``, the run of
  code pointers being one word long between the records' other fields);
- FailureHandler is called by nothing here: the export HandoutInstall stores its address into the caller's
  CALLBACKS structure, so the row is under HandoutInstall with the handler entered through a pointer
  (``&FailureHandler`` on the path);
- Level5 is five calls below the export HandoutDeep (a path of 6 functions, longer than --max-depth 5): the
  row is under HandoutDeep with its whole path;
- Orphan is called by nothing and its address is nowhere: ``unreached``.
"""

from __future__ import annotations

import os

import pytest
from conftest import REPO, SAMPLES, needs_tools

from api_to_etw.analysis.pipeline import AnalysisOptions, analyze
from api_to_etw.binary.loader import open_binary
from api_to_etw.engine.native.engine import NativeEngine

PROVIDER = "3c6e1f0a-7d2b-4e59-a184-5f0c932e6b47"
LEVELS = ("O1", "O2", "Os")
# Id -> (Function, Entry, call path, event site); names as in the source (without the PDB, functions are
# matched by their position on the path).
EXPECTED = {
    1: ("MethodStart", "table", ["MethodStart"], "MethodStart"),
    2: ("MethodStop", "table", ["MethodStop"], "MethodStop"),
    3: ("HandoutInstall", "export", ["HandoutInstall", "&FailureHandler"], "FailureHandler"),
    4: ("HandoutDeep", "export", ["HandoutDeep", "Level1", "Level2", "Level3", "Level4", "Level5"], "Level5"),
    5: ("Orphan", "unreached", ["Orphan"], "Orphan"),
}
#: (Version, Channel, Level, Opcode, Task, Keyword) of each EVENT_DESCRIPTOR in the source.
DESCRIPTORS = {1: (0, 0x10, 4, 1, 1, 0x1), 2: (0, 0x10, 4, 2, 1, 0x1), 3: (0, 0x10, 2, 0, 2, 0x2),
               4: (0, 0x10, 5, 0, 3, 0x4), 5: (0, 0x10, 5, 0, 4, 0x8)}
EXPORTS = {"HandoutMethods", "HandoutInstall", "HandoutDeep"}


def _dll(level: str) -> str:
    return os.path.join(SAMPLES, "handout", level, "handout.dll")


@pytest.mark.parametrize("use_pdb", [True, False])
@pytest.mark.parametrize("level", LEVELS)
def test_handout_rows(level, use_pdb):
    loaded = open_binary(_dll(level), use_pdb=use_pdb)
    result = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions())
    rows = {r.event.id: r for r in result.rows}
    assert sorted(rows) == sorted(EXPECTED) and len(result.rows) == len(EXPECTED)
    for event_id, (function, entry, path, site) in EXPECTED.items():
        row = rows[event_id]
        e = row.event
        assert e.provider_guid == PROVIDER and e.resolved
        assert (e.version, e.channel, e.level, e.opcode, e.task, e.keyword) == DESCRIPTORS[event_id]
        assert row.entry.split(":")[0] == entry, (event_id, row.entry)
        assert len(row.call_path) == len(path), (event_id, row.call_path)
        assert [n.startswith("&") for n in row.call_path] == [n.startswith("&") for n in path]
        assert row.event_site == row.call_path[-1].lstrip("&") == row.containing_function
        if use_pdb or function in EXPORTS:
            assert row.function == function
        if use_pdb:
            assert row.call_path == path and row.event_site == site
    # Only the rows within the depth are API rows: HandoutDeep's is reported, beyond it.
    assert {r.event.id for r in result.api_rows()} == {3}


@needs_tools("clang", "lld-link", "llvm-dlltool")
def test_handout_fixture_reproduces():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "samples.handout.build", "--check"], capture_output=True,
                          text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
