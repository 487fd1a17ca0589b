"""The scale kernel generator (``python -m samples.synth scale``): small instances, the same code paths.

The benchmark kernels (40,000 functions and up) are not committed; these tests hold the generator to the
rules a big one relies on: every source declares what it calls exactly once, the written folder is a pure
function of the arguments, the truth is what the model computes, the images built while the truth is
written are the images a separate build makes, and the machine code has every modelled edge."""

from __future__ import annotations

import filecmp
import json
import re
import subprocess
import sys
from pathlib import Path

from conftest import require_tools

from samples.synth import verify
from samples.synth.build import build_sample
from samples.synth.emit import emit_sources
from samples.synth.scale import build_scale
from samples.synth.spec import add_init_funcs
from samples.synth.truth import compute_truth
from samples.synth.write import write_scale

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"functions": 600, "writes": 80, "seed": 7, "per_file": 90}
PROTOTYPE = re.compile(r"^NOINLINE (?:EXPORT )?\w+ (\w+)\(.*\);$", re.M)
DEFINITION = re.compile(r"^NOINLINE (?:EXPORT )?\w+ (\w+)\(.*\)$", re.M)


def _model():
    model = build_scale(SMALL["functions"], SMALL["writes"], SMALL["seed"], SMALL["per_file"])
    add_init_funcs(model)
    return model


def test_each_file_declares_what_it_defines_and_calls_once(tmp_path):
    model = _model()
    emit_sources(model, tmp_path, SMALL["seed"])
    defined_in: dict[str, str] = {}
    for fname in model.files:
        text = (tmp_path / fname).read_text()
        defined = DEFINITION.findall(text)
        declared = PROTOTYPE.findall(text)
        assert len(declared) == len(set(declared)), f"{fname} declares a function twice"
        for name in defined:
            assert name not in defined_in, f"{name} defined in {defined_in.get(name)} and {fname}"
            defined_in[name] = fname
        callees = {c.callee for f in model.funcs if f.file == fname for c in f.calls()}
        expected = callees | set(defined)
        if fname == "init.c":  # the service table takes every syscall's address
            expected |= {f.name for f in model.funcs if f.name.startswith("Nt")}
        assert set(declared) == expected, fname
    assert set(defined_in) == {f.name for f in model.funcs if f.file in model.files}


def test_same_arguments_same_folder_and_truth(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    truth, secs = write_scale(first, **SMALL)
    assert secs is None
    write_scale(second, **SMALL)
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    assert "truth.json" in names and "init.c" in names
    _match, mismatch, errors = filecmp.cmpfiles(first, second, names, shallow=False)
    assert not mismatch and not errors
    on_disk = json.loads((first / "truth.json").read_text())
    assert on_disk["generator"] == {"kind": "scale", **SMALL}
    assert on_disk["rows"] == compute_truth(_model())["rows"] == truth["rows"]
    assert len(on_disk["rows"]) > 50
    other = tmp_path / "c"
    write_scale(other, **{**SMALL, "seed": SMALL["seed"] + 1})
    assert (other / "init.c").read_bytes() != (first / "init.c").read_bytes()


def test_images_built_during_the_truth_match_a_separate_build(tmp_path):
    require_tools("clang", "lld-link")
    overlapped, separate = tmp_path / "scalek", tmp_path / "sep" / "scalek"
    subprocess.run([sys.executable, "-m", "samples.synth", "scale", *(f"--{k.replace('_', '-')}={v}"
                                                                      for k, v in SMALL.items()),
                    "--out", str(overlapped)], check=True, cwd=ROOT, capture_output=True)
    write_scale(separate, **SMALL)
    build_sample(separate, ("O2",), quiet=True)
    for name in ("O2/scalek.exe", "O2/scalek.pdb", "truth.json"):
        assert filecmp.cmp(overlapped / name, separate / name, shallow=False), name
    assert not list((overlapped / "O2").glob("*.obj")), "intermediate objects are removed"


def test_machine_code_has_every_modelled_edge(tmp_path):
    require_tools("clang", "lld-link", "llvm-objdump", "llvm-pdbutil", "llvm-readobj")
    out = tmp_path / "scalev"
    truth, _ = write_scale(out, **SMALL)
    build_sample(out, ("O2",), quiet=True)
    assert len(truth["edges"]) > 500
    errors, _report = verify.verify_sample(out, _model(), truth, ["O2"], patterns=False)
    assert not errors, "\n".join(errors[:20])

