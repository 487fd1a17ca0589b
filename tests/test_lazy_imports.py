"""What one ``analyze`` run imports: only what it uses (issue 15, the fixed cost per binary).

A small binary's analysis takes a few tens of milliseconds; the imports of the tool took several times
that. The modules below are loaded only by the runs that need them (a symbol download, saved facts, a
progress bar on a terminal, the XML export of a manifest, another command), so a run on a fixture with
its PDB beside it, in a fresh interpreter, must not load them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from conftest import REPO, synth_exe

#: Loaded only by what needs them: the symbol server's HTTP client (OpenSSL), pdbparse's construct-based
#: parsers (the PDB info stream is read with struct), rich (progress on a terminal), saved facts, the
#: other commands' modules; the embedded-manifest decoders and the manifest readers (a binary without a
#: WEVT_TEMPLATE or message-table resource and no --manifests), WPP's message metadata (a binary without
#: trace calls: the trace functions themselves are in etw.wppcalls), the CAB/ZIP expansion of compressed
#: symbol-store files, and json (only the jsonl format writes it); tempfile, random and shutil (temporary
#: files are made with os.open by api_to_etw.tempfiles, and argparse's help formatter is sized without
#: shutil), and the WDF framework's tables (a binary that neither imports WdfVersionBind nor exports
#: FxDriverEntryUm: analysis.wdfbind), csv (a TSV whose cells need no escaping is joined without its writer), and
#: pickle (it carries a forked child's answer back: a binary too small to split runs in one process), and
#: dataclasses with inspect, ast and dis (no class of the analyze path is a dataclass: api_to_etw.fieldclass).
NOT_FOR_ANALYZE = ("ssl", "http.client", "urllib.request", "construct", "rich", "xml.sax.saxutils",
                   "api_to_etw.diff", "api_to_etw.engine.frozen", "api_to_etw.engine.recorder",
                   "api_to_etw.store", "api_to_etw.render.html", "api_to_etw.cli.report", "api_to_etw.cli.scan",
                   "api_to_etw.etw.wevt", "api_to_etw.etw.messagetable", "api_to_etw.etw.manifest",
                   "api_to_etw.etw.wpp",
                   "api_to_etw.binary.cab", "api_to_etw.binary.symsrv.compressed", "json",
                   "tempfile", "random", "shutil", "bz2", "lzma", "api_to_etw.analysis.wdf", "csv", "pickle",
                   "dataclasses", "inspect", "ast", "dis")

# The module list is taken before json is imported to print it.
_PROBE = """
import sys
from api_to_etw.cli import main
code = main(sys.argv[1:])
modules = sorted(sys.modules)
import json
import os
print(json.dumps([code, modules]))
"""


def _modules_after(*args: str) -> tuple[int, set[str]]:
    # From the checkout's root: ``-c`` puts the working folder first on sys.path.
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, check=True,
                          timeout=300, cwd=REPO)
    code, modules = json.loads(done.stdout.strip().splitlines()[-1])
    return code, set(modules)


def test_analyze_with_pdb_loads_only_what_it_uses(tmp_path):
    code, modules = _modules_after("analyze", synth_exe(), "-o", str(tmp_path / "out.tsv"), "-q")
    assert code == 0
    assert (tmp_path / "out.tsv").read_text(encoding="utf-8").count("\n") > 1  # it did analyse
    assert {"pefile", "iced_x86", "pdbparse", "api_to_etw.binary.pdb"} <= modules
    # The walk searches its caller lists; networkx is imported only where its graph is read (call_graph).
    assert not [m for m in modules if m == "networkx" or m.startswith("networkx.")]
    loaded = sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in NOT_FOR_ANALYZE))
    assert loaded == []


def test_a_pdb_copied_into_the_cache_loads_no_tempfile(tmp_path):
    """A PDB found in a folder of the symbol path is copied into the cache before it: the copy's temporary
    file is made as the output's is (api_to_etw.tempfiles), without tempfile and random."""
    exe, pdb = tmp_path / "bin" / "synthkernel.exe", tmp_path / "folder" / "synthkernel.pdb"
    for made, origin in ((exe, synth_exe()), (pdb, synth_exe()[:-4] + ".pdb")):
        made.parent.mkdir()
        shutil.copyfile(origin, made)
    cache = tmp_path / "cache"
    code, modules = _modules_after("analyze", str(exe), "--symbol-path", f"cache*{cache};{pdb.parent}", "--offline",
                                   "-o", str(tmp_path / "out.tsv"), "-q")
    assert code == 0
    assert [p.name for p in cache.rglob("*.pdb") if p.is_file()] == ["synthkernel.pdb"]  # copied, in store layout
    assert "tempfile" not in modules and "random" not in modules


def test_a_binary_without_etw_writes_never_loads_networkx(tmp_path, real_binary):
    """The walk's graph is made when the walk first reads a caller: a WDM driver that writes no ETW event
    (dokan2.sys with its PDB, the negative control of tests/real/test_entries_real.py) is analysed without
    networkx, whose import is about a third of a small binary's run."""
    path = real_binary("dokan2.sys")
    code, modules = _modules_after("analyze", path, "-o", str(tmp_path / "out.tsv"), "-q")
    assert code == 0
    assert (tmp_path / "out.tsv").read_text(encoding="utf-8").count("\n") == 1  # the header only
    assert "pdbparse" in modules and not [m for m in modules if m == "networkx" or m.startswith("networkx.")]


def test_saved_facts_load_the_recorder_only_when_asked(tmp_path):
    facts = tmp_path / "k.facts.json"
    code, modules = _modules_after("analyze", synth_exe(), "-o", str(tmp_path / "out.tsv"), "-q",
                                   "--save-facts", str(facts))
    assert code == 0 and facts.is_file()
    assert "api_to_etw.engine.recorder" in modules


def test_a_binary_with_a_manifest_loads_its_decoders(tmp_path):
    """The lazy imports are taken when the binary needs them: gadget.dll's WEVT_TEMPLATE is decoded and
    its manifest indexed (the rows are named from it), and jsonl output loads json."""
    gadget = os.path.join(REPO, "samples", "wevt", "gadget.dll")
    out = tmp_path / "out.jsonl"
    code, modules = _modules_after("analyze", gadget, "-o", str(out), "-q")
    assert code == 0
    assert {"api_to_etw.etw.wevt", "api_to_etw.etw.manifest", "json"} <= modules
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows and all(row["message"] for row in rows)  # named from the manifest's message table


def test_a_binary_with_trace_calls_loads_wpp(tmp_path):
    """wppuser.dll calls WPP's trace functions: its messages' metadata (etw.wpp) is read for its rows."""
    out = tmp_path / "out.tsv"
    code, modules = _modules_after("analyze", os.path.join(REPO, "samples", "wpp", "wppuser.dll"), "-o", str(out), "-q")
    assert code == 0
    assert "api_to_etw.etw.wpp" in modules
    assert "\twpp\t" in out.read_text(encoding="utf-8")


def test_a_wdf_driver_loads_the_framework_tables(tmp_path):
    """The WDF tables are taken when the binary binds to a framework: mckmdf imports WdfVersionBind and mcumdf
    exports FxDriverEntryUm; both have rows reached through a framework callback (``callback:Wdf...``)."""
    for sample, image in (("mckmdf", "mckmdf.sys"), ("mcumdf", "mcumdf.dll")):
        out = tmp_path / f"{sample}.tsv"
        code, modules = _modules_after("analyze", os.path.join(REPO, "samples", sample, "O2", image), "-o", str(out),
                                       "-q")
        assert code == 0
        assert "api_to_etw.analysis.wdf" in modules
        assert "\tcallback:Wdf" in out.read_text(encoding="utf-8")
