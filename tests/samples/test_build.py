"""Tests of the synthetic test binaries (samples/): their ground truth, their sync with the generator, and the
committed images.  Only the byte-identity rebuild needs clang and lld-link; the machine-code check needs the
LLVM binutils; everything else is pure Python."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_fixture_toolchain, require_tools

from samples import ctemplate, driver, toolchain
from samples.idioms import build as idioms_build
from samples.mcgen import build as mc_build
from samples.mcgen import spec as mc_spec
from samples.synth import build as synth_build
from samples.synth import constants as C
from samples.synth import emit, spec, tlgblob, verify
from samples.synth import truth as synth_truth
from samples.wevt import build as wevt_build

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
KERNEL = SAMPLES / "synthkernel"
LEVELS = ("O1", "O2", "Os")


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads((KERNEL / "truth.json").read_text())


def _images():
    for level in LEVELS:
        yield level, KERNEL / level / "synthkernel.exe", KERNEL / level / "synthkernel.pdb"


# ----------------------------------------------------------------------------------------------- truth sanity


def test_truth_header(truth):
    assert truth["format"] == 1
    assert truth["max_depth"] == 5
    assert truth["sample"] == "synthkernel"
    assert truth["beyond_depth"] > truth["max_depth"]


def test_rows_have_the_documented_fields(truth):
    for row in truth["rows"] + truth["rows_beyond_max_depth"]:
        assert list(row) == list(synth_truth.ROW_KEYS)
        assert row["Kind"] in ("manifest", "legacy", "tracelogging")
        assert row["WriteFunction"] in C.ALL_WRITERS


def test_call_paths_are_paths_of_the_call_graph(truth):
    edges = {tuple(e) for e in truth["edges"]}
    for row in truth["rows"] + truth["rows_beyond_max_depth"]:
        path = row["CallPath"]
        assert path[0] == row["Function"]
        assert path[-1] == row["ContainingFunction"]
        assert row["CallDepth"] == len(path)
        assert len(set(path)) == len(path), "call paths are simple"
        for caller, callee in zip(path, path[1:]):
            assert (caller, callee) in edges, f"{caller} -> {callee} is not an edge"


def test_depths(truth):
    depths = {r["CallDepth"] for r in truth["rows"]}
    assert max(depths) == truth["max_depth"]
    assert 1 in depths
    assert set(range(1, 6)) <= depths
    deep = truth["rows_beyond_max_depth"]
    assert deep and all(truth["max_depth"] < r["CallDepth"] <= truth["beyond_depth"] for r in deep)
    shallow = {tuple(r[k] for k in synth_truth.ROW_KEYS[:17]) + (r["ContainingFunction"],) for r in truth["rows"]}
    for r in deep:
        assert tuple(r[k] for k in synth_truth.ROW_KEYS[:17]) + (r["ContainingFunction"],) not in shallow


def test_roots_and_etw_api(truth):
    funcs = {f["name"]: f for f in truth["functions"]}
    api = {n for n, f in funcs.items() if f["etw_api"]}
    assert api == set(C.ETW_API)
    for name, f in funcs.items():
        expected_root = not f["etw_api"] and (name.startswith("Nt") or f["exported"])
        assert f["root"] == expected_root, name
    assert not any(f["root"] for f in funcs.values() if f["etw_api"])
    for row in truth["rows"] + truth["rows_beyond_max_depth"]:
        assert funcs[row["Function"]]["root"]
        assert not set(row["CallPath"]) & api, "ETW API functions are never on a call path"
    for a, b in truth["edges"]:
        assert a in funcs and b in funcs and a not in api and b not in api
    names = set(funcs)
    assert {"ZwTerminateProcess", "NtTerminateProcess", "NtYieldExecution", "DriverEntry"} <= names
    assert funcs["ZwTerminateProcess"]["exported"] and not funcs["NtTerminateProcess"]["exported"]
    assert not funcs["DriverEntry"]["root"]


def test_row_keys_are_unique(truth):
    keys = [tuple(json.dumps(r[k]) for k in synth_truth.ROW_KEYS[:17]) + (r["ContainingFunction"],) for r in truth["rows"]]
    assert len(keys) == len(set(keys))
    assert truth["rows"] == sorted(truth["rows"], key=synth_truth.row_sort_key)


def test_every_kind_and_writer_is_covered(truth):
    rows = truth["rows"]
    assert {r["Kind"] for r in rows} == {"manifest", "legacy", "tracelogging"}
    assert {r["WriteFunction"] for r in rows} == set(C.ALL_WRITERS)


def test_kind_specific_fields(truth):
    guid = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    for r in truth["rows"]:
        if r["Kind"] == "manifest":
            assert guid.match(r["ProviderGuid"]) and r["ProviderSymbol"] and r["ProviderName"] == ""
            assert r["GroupMask"] is None and r["HookId"] is None
            if r["WriteFunction"] == "EtwWriteString":
                assert r["EventDescriptorSymbol"] == "" and isinstance(r["Level"], int)
                assert isinstance(r["Keyword"], int)
                assert all(r[k] is None for k in ("Id", "Version", "Channel", "Opcode", "Task"))
            else:
                assert all(isinstance(r[k], int) for k in ("Id", "Version", "Channel", "Level", "Opcode", "Task",
                                                           "Keyword"))
        elif r["Kind"] == "legacy":
            assert r["ProviderGuid"] == "Windows Kernel Trace" and r["WriteFunction"] == "EtwTraceKernelEvent"
            assert isinstance(r["GroupMask"], int) and isinstance(r["HookId"], int)
            assert r["ReghandleSymbol"] == C.EVENT_TRACE_GROUPS[r["HookId"] & 0xFF00]
            assert all(r[k] is None for k in ("Id", "Version", "Channel", "Level", "Opcode", "Task", "Keyword"))
        else:
            assert guid.match(r["ProviderGuid"]) and r["ProviderSymbol"] == r["ProviderName"] != ""
            assert r["ReghandleSymbol"] == "" and r["EventDescriptorSymbol"]
            assert all(isinstance(r[k], int) for k in ("Channel", "Level", "Opcode", "Keyword"))
            assert all(r[k] is None for k in ("Id", "Version", "Task", "GroupMask", "HookId"))


def test_patterns_are_in_the_truth(truth):
    rows = truth["rows"]
    manifest = [r for r in rows if r["Kind"] == "manifest" and r["WriteFunction"] != "EtwWriteString"]
    legacy = [r for r in rows if r["Kind"] == "legacy"]
    # descriptors built on the stack keep their fields; a local REGHANDLE; handles in struct fields
    assert any(r["EventDescriptorSymbol"] == "" for r in manifest)
    assert any(r["ReghandleSymbol"] == "" for r in manifest)
    assert any(re.fullmatch(r"EtwpState\+0x[0-9a-f]+", r["ReghandleSymbol"]) for r in manifest)
    # two differently named descriptors with identical field values, both reported
    by_values: dict = {}
    for r in manifest:
        if r["EventDescriptorSymbol"]:
            by_values.setdefault(tuple(r[k] for k in ("Id", "Version", "Channel", "Level", "Opcode", "Task",
                                                      "Keyword")), set()).add(r["EventDescriptorSymbol"])
    assert any(len(syms) > 1 for syms in by_values.values())
    # legacy: a combined mask (two flags of one index) and an index-0 mask
    assert any(r["GroupMask"] >> 29 == 1 and bin(r["GroupMask"] & 0x1FFFFFFF).count("1") == 2 for r in legacy)
    assert any(r["GroupMask"] >> 29 == 0 for r in legacy)
    # per-path resolution: an exported root reaches only the hook its own path passes
    assert {r["EventDescriptorSymbol"] for r in legacy if r["Function"] == "KeSetPriorityThread"} == {
        "THREAD_SET_PRIORITY"}
    assert len({r["EventDescriptorSymbol"] for r in legacy if r["Function"] == "NtSetInformationThread"}) == 3
    # a syscall that reaches no write
    assert not [r for r in rows if r["Function"] in ("NtYieldExecution", "NtAssignProcessToJobObject")]


def test_tracelogging_truth(truth):
    tl = truth["tracelogging"]
    assert len(tl["providers"]) >= 2
    assert any(p["group_guid"] for p in tl["providers"])
    events = tl["events"]
    assert any(e["tags"] > 0x7F and len(tlgblob.tlg_tag_bytes(e["tags"])) > 1 for e in events)
    fields = [f for e in events for f in e["fields"]]
    assert any(f["tags"] for f in fields)
    assert any(f["in_type"] & C.TLG_VCOUNT for f in fields)
    assert any(f["count"] for f in fields)
    assert any(f["in_type"] == C.TLG_IN["STRUCT"] and f["out_type"] for f in fields)
    written = {(r["ProviderGuid"], r["EventDescriptorSymbol"]) for r in truth["rows"] if r["Kind"] == "tracelogging"}
    assert written <= {(e["provider_guid"], e["name"]) for e in events}


# ------------------------------------------------------------------------------------ sync with the generator


def test_truth_is_what_the_generator_computes(truth):
    model = spec.build_synthkernel()
    spec.add_init_funcs(model)
    fresh = synth_truth.compute_truth(model, beyond=C.KERNEL_BEYOND_DEPTH)
    fresh["generator"] = {"kind": "kernel"}
    assert fresh == truth, "samples/synthkernel/truth.json is stale: run python -m samples.synth kernel"


def test_sources_are_what_the_generator_writes(tmp_path):
    model = spec.build_synthkernel()
    spec.add_init_funcs(model)
    written = emit.emit_sources(model, tmp_path, C.DEFAULT_SEED)
    committed = sorted(p.name for p in list(KERNEL.glob("*.c")) + list(KERNEL.glob("*.h")))
    assert committed == written
    for name in written:
        assert (tmp_path / name).read_bytes() == (KERNEL / name).read_bytes(), f"{name} is stale"


# ----------------------------------------------------------------------------------------- committed images


def _pe_sections(data: bytes):
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    assert data[pe:pe + 4] == b"PE\0\0"
    machine, nsec, _, _, _, opt_size, _ = struct.unpack_from("<HHIIIHH", data, pe + 4)
    assert machine == 0x8664
    opt = pe + 24
    assert struct.unpack_from("<H", data, opt)[0] == 0x20B, "PE32+"
    sections = []
    for i in range(nsec):
        off = opt + opt_size + 40 * i
        name = data[off:off + 8].rstrip(b"\0").decode()
        vsize, va, rawsize, rawptr = struct.unpack_from("<IIII", data, off + 8)
        sections.append((name, va, max(vsize, rawsize), rawptr))
    return opt, sections


def _rva_to_offset(sections, rva: int) -> int:
    for _, va, size, raw in sections:
        if va <= rva < va + size:
            return raw + rva - va
    raise ValueError(hex(rva))


def _exports(data: bytes) -> set:
    opt, sections = _pe_sections(data)
    rva, size = struct.unpack_from("<II", data, opt + 112)
    base = _rva_to_offset(sections, rva)
    count, names_rva = struct.unpack_from("<I", data, base + 24)[0], struct.unpack_from("<I", data, base + 32)[0]
    names = set()
    for i in range(count):
        name_rva = struct.unpack_from("<I", data, _rva_to_offset(sections, names_rva) + 4 * i)[0]
        off = _rva_to_offset(sections, name_rva)
        names.add(data[off:data.index(b"\0", off)].decode())
    return names


def _decode_tracelogging(data: bytes):
    """Walk the TraceLogging metadata (ETW0 header, provider and event blobs) the way a decoder would."""
    header = struct.pack("<IHBBQ", C.TLG_SIGNATURE, 16, 0, 1, C.TLG_MAGIC)
    assert data.count(header) == 1
    pos = data.index(header) + len(header)

    def guid(off):
        d1, d2, d3 = struct.unpack_from("<IHH", data, off)
        d4 = data[off + 8:off + 16]
        return f"{d1:08x}-{d2:04x}-{d3:04x}-{d4[:2].hex()}-{d4[2:].hex()}"

    def tags(off):
        value, i = 0, 0
        while True:
            b = data[off]
            off += 1
            if i < 4:
                value |= (b & 0x7F) << (21 - 7 * i)
            i += 1
            if not b & 0x80:
                return value, off

    def cstr(off):
        end = data.index(b"\0", off)
        return data[off:end].decode(), end + 1

    providers, events = {}, []
    while data[pos] != C.TLG_BLOB_END:
        kind = data[pos]
        if kind == 0:
            pos += 1
        elif kind == C.TLG_BLOB_PROVIDER3:
            remaining = struct.unpack_from("<H", data, pos + 17)[0]
            end = pos + 17 + remaining
            name, off = cstr(pos + 19)
            group = None
            while off < end:
                size, trait = struct.unpack_from("<HB", data, off)
                if trait == C.TLG_OPTION_GROUP:
                    group = guid(off + 3)
                off += size
            providers[name] = {"guid": guid(pos + 1), "name": name, "group_guid": group}
            pos = end
        elif kind == C.TLG_BLOB_EVENT4:
            channel, level, opcode, keyword, remaining = struct.unpack_from("<BBBQH", data, pos + 1)
            end = pos + 12 + remaining
            event_tags, off = tags(pos + 14)
            name, off = cstr(off)
            fields = []
            while off < end:
                fname, off = cstr(off)
                in_type, out_type, ftags, count = data[off], 0, 0, None
                off += 1
                if in_type & C.TLG_CHAIN:
                    out_type = data[off]
                    off += 1
                    if out_type & C.TLG_CHAIN:
                        ftags, off = tags(off)
                if in_type & (C.TLG_CCOUNT | C.TLG_VCOUNT) == C.TLG_CCOUNT:
                    count = struct.unpack_from("<H", data, off)[0]
                    off += 2
                fields.append({"name": fname, "in_type": in_type & 0x7F, "out_type": out_type & 0x7F,
                               "tags": ftags, "count": count})
            events.append({"name": name, "channel": channel, "level": level, "opcode": opcode, "keyword": keyword,
                           "tags": event_tags, "fields": fields})
            pos = end
        else:
            raise AssertionError(f"unknown blob type {kind} at {pos:#x}")
    return providers, events


@pytest.mark.parametrize("level", LEVELS)
def test_images_exist_and_are_small(level):
    exe, pdb = KERNEL / level / "synthkernel.exe", KERNEL / level / "synthkernel.pdb"
    assert exe.exists() and pdb.exists()
    assert pdb.stat().st_size < 512 * 1024
    assert pdb.read_bytes().startswith(b"Microsoft C/C++ MSF 7.00")


@pytest.mark.parametrize("level", LEVELS)
def test_tracelogging_metadata_decodes_to_the_truth(level, truth):
    providers, events = _decode_tracelogging((KERNEL / level / "synthkernel.exe").read_bytes())
    want_providers = {p["name"]: {k: p[k] for k in ("guid", "name", "group_guid")}
                      for p in truth["tracelogging"]["providers"]}
    assert providers == want_providers
    want_events = sorted(({k: e[k] for k in ("name", "channel", "level", "opcode", "keyword", "tags", "fields")}
                          for e in truth["tracelogging"]["events"]), key=lambda e: e["name"])
    assert sorted(events, key=lambda e: e["name"]) == want_events


@pytest.mark.parametrize("level", LEVELS)
def test_exports_match_the_truth(level, truth):
    exported = {f["name"] for f in truth["functions"] if f["exported"]}
    assert _exports((KERNEL / level / "synthkernel.exe").read_bytes()) == exported


@pytest.mark.parametrize("level", LEVELS)
def test_no_machine_paths_in_images(level):
    for path in (KERNEL / level / "synthkernel.exe", KERNEL / level / "synthkernel.pdb"):
        data = path.read_bytes()
        for needle in (b"/work", b"/tmp", b"/root", b"/home", b"/usr", b":\\"):
            assert needle not in data, f"{path.name} contains {needle!r}"


# ------------------------------------------------------------------------------------- toolchain-dependent


def test_rebuild_is_byte_identical():
    require_fixture_toolchain()
    problems = driver.check(synth_build.folder_fixture(KERNEL))
    assert not problems, "\n".join(problems)


def test_machine_code_matches_the_model(truth):
    require_tools("llvm-objdump", "llvm-pdbutil", "llvm-readobj")
    subprocess.run(["llvm-objdump", "--version"], capture_output=True, check=True)
    model = spec.build_synthkernel()
    spec.add_init_funcs(model)
    errors, report = verify.verify_sample(KERNEL, model, truth, LEVELS)
    assert not errors, "\n".join(errors)
    assert not [line for line in report if "MISSING" in line], "\n".join(report)


def test_wevt_fixture_rebuilds_byte_for_byte():
    """samples/wevt: the embedded-manifest DLLs rebuilt from the model are the committed bytes."""
    require_fixture_toolchain("llvm-dlltool", "llvm-rc")
    problems = driver.check(wevt_build.FIXTURES[0])
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------- mc.exe-style fixtures


@pytest.mark.parametrize("sample", ["mcdriver", "mcdll", "mckmdf", "mcumdf"])
def test_mc_sources_and_truth_are_what_the_model_writes(sample, tmp_path):
    image = mc_spec.MODELS[sample]()
    written = mc_build.write_sources(image, tmp_path) + ["truth.json"]
    for name in written:
        assert (tmp_path / name).read_bytes() == (SAMPLES / sample / name).read_bytes(), f"{sample}/{name} is stale"
    committed = {p.name for p in (SAMPLES / sample).iterdir() if p.is_file()}
    assert committed == set(written)


@pytest.mark.parametrize("sample", ["mcdriver", "mcdll", "mckmdf", "mcumdf"])
def test_mc_images_have_no_machine_paths(sample):
    for path in sorted((SAMPLES / sample).glob("O*/*")):
        data = path.read_bytes()
        assert len(data) < 200_000, f"{path.name} is not small"
        for needle in (b"/work", b"/tmp", b"/root", b"/home", b"/usr", b":\\"):
            assert needle not in data, f"{path.name} contains {needle!r}"


@pytest.mark.parametrize("sample", ["mcdriver", "mcdll", "mckmdf", "mcumdf"])
def test_mc_rebuild_is_byte_identical(sample):
    require_fixture_toolchain("llvm-dlltool")
    problems = driver.check(next(f for f in mc_build.FIXTURES if f.name == sample))
    assert not problems, "\n".join(problems)


def test_idiom_fixture_rebuilds_byte_for_byte():
    """samples/idioms: idioms.c, truth.json and the three DLLs+PDBs come back identical from its build model."""
    require_fixture_toolchain("llvm-dlltool")
    problems = driver.check(idioms_build.FIXTURES[0])
    assert not problems, "\n".join(problems)


def test_idiom_sources_are_the_template_filled_from_the_model(tmp_path):
    """idioms.c is idioms.c.in filled from the build's model (no toolchain needed), and so is truth.json."""
    idioms_build.write_sources(tmp_path)
    for name in ("idioms.c", "truth.json"):
        assert (tmp_path / name).read_bytes() == (SAMPLES / "idioms" / name).read_bytes(), f"idioms/{name} is stale"
    assert "${" not in (tmp_path / "idioms.c").read_text()


def test_idiom_template_must_write_every_event_of_the_model(tmp_path, monkeypatch):
    """A template that no longer uses a descriptor of the model (here IMUL2_EVT) is refused, naming it."""
    text = idioms_build.TEMPLATE.read_text(encoding="utf-8")
    assert "&IMUL2_EVT" in text
    broken = tmp_path / "idioms.c.in"
    broken.write_text(text.replace("&IMUL2_EVT", "&IMUL_EVT"), encoding="utf-8")
    monkeypatch.setattr(idioms_build, "TEMPLATE", broken)
    with pytest.raises(ValueError, match="IMUL2_EVT"):
        idioms_build.source()


def test_c_template_fills_braced_names_only(tmp_path):
    """``${name}`` is filled; AT&T immediates (``$0x28``) and other ``$`` stay; a name on one side only raises."""
    path = tmp_path / "t.c.in"
    path.write_text('asm("subq $0x28, %rsp"); int ${name} = $$1;\n', encoding="utf-8")
    assert ctemplate.placeholders(path.read_text()) == {"name"}
    assert ctemplate.fill(path, name="x") == 'asm("subq $0x28, %rsp"); int x = $$1;\n'
    with pytest.raises(ValueError, match=r"without a value \['name'\]"):
        ctemplate.fill(path)
    with pytest.raises(ValueError, match=r"without a placeholder \['other'\]"):
        ctemplate.fill(path, name="x", other="y")


def test_mc_generator_modules_depend_downward_only():
    """samples/mcgen, one module a job: the model imports none of the others; the images (spec, and umdf whose
    image spec lists), the C emitter and the truth only the model; the build puts them together."""
    import ast

    allowed = {"model": set(), "spec": {"model", "umdf"}, "umdf": {"model"}, "emit": {"model"}, "truth": {"model"},
               "build": {"model", "spec", "emit", "truth"}, "__main__": {"build"}}
    folder = SAMPLES / "mcgen"
    assert {p.stem for p in folder.glob("*.py")} == set(allowed) | {"__init__"}
    for name, deps in allowed.items():
        tree = ast.parse((folder / f"{name}.py").read_text(encoding="utf-8"))
        used = {node.module.rsplit(".", 1)[1] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("samples.mcgen.")}
        used |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 and node.module == "samples.mcgen" for alias in node.names}
        assert used == deps, (name, used)


# ------------------------------------------------------------------------------------------- the one driver


def test_every_fixture_folder_is_built_by_the_driver():
    """Each folder of committed images under samples/ belongs to a fixture the one driver builds and checks."""
    folders = {f.folder for f in driver.all_fixtures()}
    with_images = {p.parent if p.parent.name not in LEVELS else p.parent.parent
                   for pattern in ("*/*.dll", "*/*.exe", "*/*.sys", "*/O*/*.dll", "*/O*/*.exe", "*/O*/*.sys")
                   for p in SAMPLES.glob(pattern)}
    assert with_images and with_images <= folders
    for fixture in driver.all_fixtures():
        missing = [n for n in fixture.outputs if not (fixture.folder / n).is_file()]
        assert not missing, f"{fixture.name}: committed outputs missing: {missing}"


def test_fixture_command_line_checks_every_output():
    """``python -m samples --check NAME`` runs the driver on that fixture and says it is reproduced (a committed
    file that differs is named: the test below)."""
    require_fixture_toolchain()
    proc = subprocess.run([sys.executable, "-m", "samples", "--check", "badinput"], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "badinput: reproduced"


def test_check_names_the_committed_file_that_differs(tmp_path):
    """driver.check on a copy of badinput whose x86 DLL lost a byte: that file, and only it, is named."""
    require_fixture_toolchain()
    import dataclasses
    import shutil

    from samples.badinput import build as badinput_build

    fixture = badinput_build.FIXTURES[0]
    copy = tmp_path / "badinput"
    shutil.copytree(fixture.folder, copy)
    data = (copy / "tiny_x86.dll").read_bytes()
    (copy / "tiny_x86.dll").write_bytes(data[:-1])
    assert driver.check(dataclasses.replace(fixture, folder=copy)) == ["tiny_x86.dll differs from a fresh build"]
    (copy / "tiny_arm64.dll").unlink()
    assert driver.check(dataclasses.replace(fixture, folder=copy)) == ["tiny_x86.dll differs from a fresh build",
                                                                        "tiny_arm64.dll is missing"]


def test_no_build_script_runs_its_own_toolchain():
    """Every clang/lld-link call goes through samples/toolchain.py (one recipe for path-free, byte-stable builds)."""
    offenders = []
    for path in sorted(SAMPLES.rglob("*.py")):
        if path.name == "toolchain.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r'\[\s*"(clang|lld-link|llvm-dlltool|llvm-rc)"', text):
            offenders.append(path.relative_to(SAMPLES).as_posix())
    assert not offenders, offenders


def test_cc1_command_has_no_machine_path(tmp_path):
    """The one compile recipe: no resource dir or include path of this machine, and the coverage directory
    where each fixture's committed objects have it (after -cc1, or before -fdebug-compilation-dir=.)."""
    require_tools("clang")
    (tmp_path / "a.c").write_text("int f(void) { return 1; }\n")
    flags = [f"--target={toolchain.TARGET}", "-O2", *toolchain.DEBUG_FLAGS]
    late = toolchain.cc1_command("a.c", "a.obj", tmp_path, flags)
    early = toolchain.cc1_command("a.c", "a.obj", tmp_path, flags, coverage_first=True)
    for cmd in (late, early):
        assert cmd[:2] == ["clang", "-cc1"]
        assert not [a for a in cmd if a.startswith("/") or a in ("-resource-dir", "-internal-isystem")], cmd
        assert cmd.count("-fcoverage-compilation-dir=.") == 1 and "-fdebug-compilation-dir=." in cmd
    assert early[2] == "-fcoverage-compilation-dir=."
    assert late[late.index("-fdebug-compilation-dir=.") - 1] == "-fcoverage-compilation-dir=."
    assert sorted(early) == sorted(late)
    toolchain.compile_c("a.c", "a.obj", tmp_path, flags)
    assert str(tmp_path).encode() not in (tmp_path / "a.obj").read_bytes()
