"""``--engine ghidra-decompiler``: Ghidra's decompiler (flatline) run for real on every fixture, against the
native engine, row for row; plus its start-up paths (in-process, worker interpreter, missing flatline).

The decompiler needs Python >= 3.13 with flatline: this interpreter, or the one named by
$API_TO_ETW_DECOMPILER_PYTHON (CI makes one), or python3.13 / pyenv. Without one the run tests skip
with that reason; the error-path tests always run.
"""

from __future__ import annotations

import os

import pytest
from conftest import SAMPLES, run_cli

from api_to_etw.analysis.pipeline import AnalysisOptions, analyze
from api_to_etw.engine import EngineSource, open_engine
from api_to_etw.engine.decompiler import adapter, find_python
from api_to_etw.engine.decompiler.engine import mapped_image, required_arguments
from api_to_etw.errors import ExitCode, MissingDependencyError
from api_to_etw.model import UNKNOWN, Addr, Const, Load, Param, StackAddr
from api_to_etw.render.rows import row_columns


def _decompiler_python():
    try:
        return find_python(os.environ.get("API_TO_ETW_DECOMPILER_PYTHON") or None), None
    except MissingDependencyError as exc:
        return None, str(exc)


PYTHON, WHY_NOT = _decompiler_python()
needs_decompiler = pytest.mark.skipif(WHY_NOT is not None, reason=f"no decompiler: {WHY_NOT}")


@needs_decompiler
def test_worker_imports_this_package_whatever_the_working_directory(tmp_path, monkeypatch):
    """Run from a directory holding another ``api_to_etw`` (a checkout of another branch): the worker must
    still import the parent's package (``python -P``), not the copy in its working directory."""
    if PYTHON is None:
        pytest.skip("flatline imports in this interpreter: no worker process")
    decoy = tmp_path / "api_to_etw"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise ImportError('the decoy package was imported')\n")
    monkeypatch.chdir(tmp_path)
    from api_to_etw.engine.decompiler.engine import DecompilerEngine
    from api_to_etw.engine.native import open_native

    native = open_native(EngineSource(binary=os.path.join(SAMPLES, "wpp", "wppkernel.exe")))
    engine = DecompilerEngine(native, PYTHON)
    try:
        facts = engine.load()
        engine.resolve(sorted({s.caller for s in facts.calls}))
        assert engine.stats.failed == 0 and engine.stats.sites > 0
    finally:
        engine.close()


@needs_decompiler
def test_forwarded_register_parameters_are_the_wrappers_parameters():
    """EtwpWriteEventPassthrough (O1) calls EtwWrite with its own RCX/RDX: flatline's CALL carries no
    inputs (no prototype), but no op writes those registers and no call runs before, so they are Param(0/1)."""
    from api_to_etw.engine.decompiler.engine import DecompilerEngine
    from api_to_etw.engine.native import open_native

    native = open_native(EngineSource(binary=os.path.join(SAMPLES, "synthkernel", "O1", "synthkernel.exe")))
    engine = DecompilerEngine(native, PYTHON)
    try:
        facts = engine.load()
        func = next(rva for rva, f in facts.functions.items() if f.name == "EtwpWriteEventPassthrough")
        answer = engine.resolve([func])
        site = next(s for s in facts.calls if s.caller == func and facts.functions[s.callee].name == "EtwWrite")
        args = answer.args[(func, site.rva)]
        assert args[0] == {Param(0)} and args[1] == {Param(1)}
        assert engine.stats.arity_mismatches == 1  # still reported
    finally:
        engine.close()


def test_a_prepared_decompiler_interpreter_works():
    """Where $API_TO_ETW_DECOMPILER_PYTHON is set (CI makes that venv), it must run flatline: no silent skips."""
    if not os.environ.get("API_TO_ETW_DECOMPILER_PYTHON"):
        pytest.skip("API_TO_ETW_DECOMPILER_PYTHON is not set (CI sets it where a Python >= 3.13 exists)")
    assert WHY_NOT is None, WHY_NOT

# Every fixture, with and without its PDB, and the containing functions whose rows the two engines
# are known to disagree on, each with its cause (checked by hand in the machine code and the p-code).
LOCAL_HANDLE = ("-Os: without EtwRegister's prototype the decompiler does not know that it writes through its 4th "
                "argument (&local REGHANDLE, zeroed just before): it drops the argument and folds the local handle "
                "to that 0, so the handle has no provider (arity mismatch reported)")
REP_FILL = ("an inline `rep stosd` that zeroes the event (ClassicRepStos): the native data flow makes the filled "
            "bytes known (Version 0), the p-code translation does not model the fill loop (it models fill calls), "
            "so the decompiler leaves Version empty")
BY_REFERENCE = ("a class GUID the helper copies from its caller's pointer (`h.Guid = *Class`) or keeps as GuidPtr: "
                "the native data flow keeps it, and Type and Level, as StackAddr.fields the walk substitutes per "
                "caller; the p-code translation does not see the 16-byte copy or the pointer as one value, so the "
                "decompiler's rows have no class")


def _idioms_known(*helpers: str) -> dict[str, str]:
    """The idiom fixture's known differences; ``helpers`` are the names of the by-reference trace helpers."""
    return {"ClassicRepStos": REP_FILL, **{helper: BY_REFERENCE for helper in helpers}}


FIXTURES = {
    ("synthkernel/O1/synthkernel.exe", True): {},
    ("synthkernel/O1/synthkernel.exe", False): {},
    ("synthkernel/O2/synthkernel.exe", True): {},
    ("synthkernel/O2/synthkernel.exe", False): {},
    ("synthkernel/Os/synthkernel.exe", True): {"IopLiveDumpWriteEvents": LOCAL_HANDLE},
    ("synthkernel/Os/synthkernel.exe", False): {"sub_1f9f": LOCAL_HANDLE},
    ("tlg/tlg.dll", True): {},
    ("tlg/tlg.dll", False): {},
    ("usermode/telemetry.dll", True): {},
    ("usermode/telemetry.dll", False): {},
    ("wpp/wppkernel.exe", True): {},
    ("wpp/wppkernel.exe", False): {},
    ("wpp/wppuser.dll", True): {},
    ("wpp/wppuser.dll", False): {},
    ("idioms/O1/idioms.dll", True): _idioms_known("ClassicTraceClass", "ClassicTraceClassPtr"),
    ("idioms/O1/idioms.dll", False): _idioms_known("sub_1a30", "sub_1a80"),
    ("idioms/O2/idioms.dll", True): _idioms_known("ClassicTraceClass", "ClassicTraceClassPtr"),
    ("idioms/O2/idioms.dll", False): _idioms_known("sub_19d0", "sub_1a20"),
    ("idioms/Os/idioms.dll", True): _idioms_known("ClassicTraceClass", "ClassicTraceClassPtr"),
    ("idioms/Os/idioms.dll", False): _idioms_known("sub_17da", "sub_1821"),
    ("mcdll/O1/mcdll.dll", True): {},
    ("mcdll/O1/mcdll.dll", False): {},
    ("mcdll/O2/mcdll.dll", True): {},
    ("mcdll/O2/mcdll.dll", False): {},
    ("mcdll/Os/mcdll.dll", True): {},
    ("mcdll/Os/mcdll.dll", False): {},
    ("mcdriver/O1/mcdriver.sys", True): {},
    ("mcdriver/O1/mcdriver.sys", False): {},
    ("mcdriver/O2/mcdriver.sys", True): {},
    ("mcdriver/O2/mcdriver.sys", False): {},
    ("mcdriver/Os/mcdriver.sys", True): {},
    ("mcdriver/Os/mcdriver.sys", False): {},
    ("mcumdf/O1/mcumdf.dll", True): {},
    ("mcumdf/O1/mcumdf.dll", False): {},
    ("mcumdf/O2/mcumdf.dll", True): {},
    ("mcumdf/O2/mcumdf.dll", False): {},
    ("mcumdf/Os/mcumdf.dll", True): {},
    ("mcumdf/Os/mcumdf.dll", False): {},
    ("wevt/gadget.dll", True): {},
    ("wevt/gadget.dll", False): {},
    **{(f"funclets/{level}/funclets.dll", use_pdb): {} for level in ("O1", "O2", "Os") for use_pdb in (True, False)},
}


def _rows(kind: str, path: str, use_pdb: bool):
    """The rows of one engine, its stats, and its facts with the argument values it answered (recorded as
    ``--save-facts`` records them: the facts themselves stay as loaded)."""
    from api_to_etw.engine.recorder import RecordingEngine
    from api_to_etw.model import CallSite

    source = EngineSource(binary=path, use_pdb=use_pdb, options={"decompiler_python": PYTHON})
    inner = open_engine(kind, source)
    engine = RecordingEngine(inner)
    try:
        result = analyze(engine, AnalysisOptions(all_sites=True))
        rows = {tuple(sorted(row_columns(row).items())) for row in result.rows}
        answered = engine.recording.args
        facts = result.facts._replace(calls=[CallSite(s.caller, s.rva, s.callee, s.tail,
                                                      answered.get((s.caller, s.rva)))
                                             for s in result.facts.calls])
        return rows, getattr(inner, "stats", None), facts
    finally:
        engine.close()


def _parity(path: str, use_pdb: bool, known: dict[str, str], label: str):
    """Both engines on one binary: the rows, and the ETW call sites both resolved (the arguments the analysis
    reads, as ``api-to-etw parity --etw-only``); every difference must be in a known containing function."""
    from api_to_etw.parity import compare_sites

    native, _, native_facts = _rows("native", path, use_pdb)
    decompiled, stats, decompiled_facts = _rows("ghidra-decompiler", path, use_pdb)
    sites = compare_sites(native_facts, decompiled_facts, etw_only=True)
    print(f"\n{label}: rows {len(native & decompiled)}/{len(native)} of the native engine's reproduced "
          f"({len(decompiled)} decompiler rows); ETW call sites {sites.equal}/{sites.compared} equal; decompiler: "
          f"{stats.functions} functions, {stats.sites} call sites, {stats.native_fallback} from the native data "
          f"flow, {stats.arity_mismatches} arity mismatches, {stats.failed} failed")
    assert stats.failed == 0
    differing = {dict(row)["ContainingFunction"] for row in native ^ decompiled}
    assert differing == set(known), "update the known differences with the cause of a new one"
    assert {d.caller_name for d in sites.diffs if d.kind == "args"} <= set(known)
    return native, decompiled, stats


@needs_decompiler
@pytest.mark.parametrize(("fixture", "use_pdb"), sorted(FIXTURES))
def test_rows_equal_the_native_engine_but_for_known_differences(fixture, use_pdb):
    known = FIXTURES[(fixture, use_pdb)]
    native, decompiled, stats = _parity(os.path.join(SAMPLES, fixture), use_pdb, known, f"{fixture} pdb={use_pdb}")
    assert stats.functions > 0 and stats.sites > 0
    assert {row for row in native if dict(row)["ContainingFunction"] not in known} <= decompiled


@needs_decompiler
def test_cli_engine_ghidra_decompiler(tmp_path):
    out = tmp_path / "rows.tsv"
    args = ["analyze", os.path.join(SAMPLES, "synthkernel", "O2", "synthkernel.exe"), "--engine",
            "ghidra-decompiler", "-o", out]
    if PYTHON:
        args += ["--decompiler-python", PYTHON]
    result = run_cli(*args)
    assert result.code == ExitCode.OK, result.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 100 and "THREATINT_READVM_REMOTE" in "\n".join(lines)


def test_missing_decompiler_is_exit_13(monkeypatch, tmp_path):
    """No 3.13 interpreter with flatline anywhere: one line naming the extra, exit 13 (MISSING_DEPENDENCY)."""
    import api_to_etw.engine.decompiler as dec

    monkeypatch.setattr(dec, "in_process", lambda: False)
    monkeypatch.setattr(dec, "candidate_pythons", lambda: [])
    result = run_cli("analyze", os.path.join(SAMPLES, "synthkernel", "O2", "synthkernel.exe"), "--engine",
                     "ghidra-decompiler", "-o", tmp_path / "x.tsv")
    assert result.code == ExitCode.MISSING_DEPENDENCY
    assert "api-to-etw[decompiler]" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_decompiler_python_without_flatline_is_refused(tmp_path):
    import sys

    result = run_cli("analyze", os.path.join(SAMPLES, "synthkernel", "O2", "synthkernel.exe"), "--engine",
                     "ghidra-decompiler", "--decompiler-python", sys.executable if sys.version_info < (3, 13)
                     else "/nonexistent/python", "-o", tmp_path / "x.tsv")
    assert result.code == ExitCode.MISSING_DEPENDENCY
    assert "cannot import flatline" in result.stderr


def test_decompiler_python_needs_the_engine():
    result = run_cli("analyze", os.path.join(SAMPLES, "synthkernel", "O2", "synthkernel.exe"),
                     "--decompiler-python", "python3.13")
    assert result.code == ExitCode.USAGE


def test_mapped_image_places_sections_at_their_rvas():
    from api_to_etw.binary.pe import load_pe

    image = load_pe(os.path.join(SAMPLES, "synthkernel", "O2", "synthkernel.exe"))
    mapped = mapped_image(image)
    assert len(mapped) == image.size_of_image and mapped[:2] == b"MZ"
    for section in image.sections:
        assert mapped[section.rva : section.rva + 64] == image.read(section.rva, 64)


def test_required_arguments_follow_the_prototypes():
    assert required_arguments("EtwWrite") == 2          # REGHANDLE, PCEVENT_DESCRIPTOR
    assert required_arguments("EtwRegister") == 4       # LPCGUID ... PREGHANDLE
    assert required_arguments("EtwTraceKernelEvent") == 4
    assert required_arguments("memcpy") == 0


def test_adapter_names_the_final_pcode_ops():
    """flatline names four final-p-code ops after the SLEIGH pseudo-ops sharing their numbers."""
    from api_to_etw.engine import pcode

    assert adapter.OPCODES["DELAY_SLOT"] == pcode.INDIRECT and adapter.OPCODES["BUILD"] == pcode.MULTIEQUAL
    assert adapter.OPCODES["CROSSBUILD"] == pcode.PTRSUB and adapter.OPCODES["LABEL"] == pcode.PTRADD
    assert adapter.REGISTERS[0x8] == "RCX" and adapter.REGISTERS[0x88] == "R9" and adapter.REGISTERS[0x20] == "RSP"


@needs_decompiler
def test_worker_values_of_a_real_function():
    """EtwTraceThread (O2): EtwWrite(handle global, &descriptor, NULL, 1, &data): the values the worker sends."""
    from api_to_etw.engine.decompiler.engine import DecompilerEngine
    from api_to_etw.engine.native import open_native

    native = open_native(EngineSource(binary=os.path.join(SAMPLES, "synthkernel", "O2", "synthkernel.exe")))
    engine = DecompilerEngine(native, PYTHON)
    try:
        facts = engine.load()
        by_name = {f.name: rva for rva, f in facts.functions.items()}
        func = by_name["EtwTraceThread"]
        answer = engine.resolve([func])
        site = next(s for s in facts.calls if s.caller == func and facts.functions[s.callee].name == "EtwWrite")
        assert site.args is None  # the facts stay as loaded: the values come in the answer
        args = answer.args[(func, site.rva)]
        handle, descriptor, activity, count = (args[i] for i in range(4))
        assert len(handle) == 1 and isinstance(next(iter(handle)), Load)
        assert {type(v) for v in descriptor} == {Addr}
        assert activity == {Const(0)} and count == {Const(1)}
        assert all(v != UNKNOWN for v in handle | descriptor)
        assert not any(isinstance(v, (Param, StackAddr)) for v in descriptor)
    finally:
        engine.close()


# Real binaries of ../shared/reference/real-binaries.tsv that are small enough to decompile in CI (the
# engine decompiles every function that writes ETW or passes its parameters to such a function).
REAL = ("vcamp140.dll", "dxil.dll", "WinPixEventRuntime.dll", "WdfCoInstaller01011.dll",
        "_etwtrace.cp311-win_amd64.pyd", "msodbcdiag18.dll", "Microsoft.WindowsAppRuntime.Bootstrap.dll",
        "concrt140.dll", "dokan2.sys", "attach_amd64.dll", "OpenConsole.exe", "dxcompiler.dll", "node.exe")
#: Containing functions whose rows differ, with the cause (as FIXTURES).
REAL_KNOWN: dict[str, dict[str, str]] = {
    "msodbcdiag18.dll": {
        "sub_4ed4": "the ControlGuid is computed at run time; only the native engine has the runtime-bytes "
                    "capability (docs/runtime-guids.md) that runs the code computing it, so the decompiler's rows "
                    "have no provider",
    },
}


@needs_decompiler
def test_vigembus_wpp_rows_differ_only_in_the_known_way(real_binary):
    """ViGEmBus.sys (WPP recorder, no PDB): the two engines give the same rows (same sites, messages, entries),
    except one kind of difference.

    The WPP wrappers pass ``movzx esi, dl`` of their level parameter on to WppAutoLogTrace, and the callers
    set DL with ``mov dl, 5`` over an RDX holding an image address: the native engine keeps the written byte
    (the callee reads only DL), the decompiler folds the whole register into another address (no level) or a
    constant whose low byte is the level, so some rows' TaskName has ``LEVEL=n`` in the native engine only or
    a larger LEVEL in the decompiler's. (The rows the decompiler alone resolved -- message
    numbers computed from a register known to be zero after ``test rax, rax; jne``, and an error exit shared
    by a dozen paths -- are native rows now: the native data flow learnt both.)
    """
    path = str(real_binary("ViGEmBus.sys"))

    def keyed(kind):
        engine = open_engine(kind, EngineSource(binary=path, options={"decompiler_python": PYTHON}))
        try:
            rows = analyze(engine, AnalysisOptions(all_sites=True)).rows
        finally:
            engine.close()
        return {(r.function, r.containing_function, r.write_rva, r.event.id, r.event.provider_guid): row_columns(r)
                for r in rows}

    native, decompiled = keyed("native"), keyed("ghidra-decompiler")
    assert native.keys() == decompiled.keys()
    level_only = 0
    for key in native:
        a, b = native[key], decompiled[key]
        differing = {col for col in a if a[col] != b.get(col)}
        assert differing <= {"TaskName"}, (key, differing)
        if differing:
            level_only += 1
            mine, theirs = (dict(pair.split("=") for pair in row["TaskName"].split()) for row in (a, b))
            assert {k: v for k, v in mine.items() if k != "LEVEL"} == {k: v for k, v in theirs.items() if k != "LEVEL"}
            # the decompiler's RDX: an image address (no level) or a constant whose low byte is the native level
            assert "LEVEL" in mine and ("LEVEL" not in theirs or int(theirs["LEVEL"]) & 0xFF == int(mine["LEVEL"])), key
    print(f"\nViGEmBus.sys: {len(native)} rows in both engines, {level_only} differing only in LEVEL=")


@needs_decompiler
@pytest.mark.parametrize("name", REAL)
def test_real_binary_rows_equal_the_native_engine(real_binary, name):
    _parity(str(real_binary(name)), True, REAL_KNOWN.get(name, {}), name)


@needs_decompiler
@pytest.mark.parametrize("level", ["O1", "O2", "Os"])
def test_pcode_models_copies_headers_and_tables_of_real_code(level):
    """The idioms fixture's by-value copies, classic headers and table lookups, read through the decompiler.

    What each call must receive follows from the C source (symbols from the PDB, field offsets from the
    documented structures), not from the native engine: a table lookup is the set of descriptors its
    bounded index can select; ``d = *Descriptor`` (vector or ``rep movsb``) then a patch is a copy of the
    parameter with the patched byte; an EVENT_TRACE_HEADER keeps its 48 bytes and the GuidPtr it holds.
    """
    from api_to_etw.engine.decompiler.engine import DecompilerEngine
    from api_to_etw.engine.native import open_native

    native = open_native(EngineSource(binary=os.path.join(SAMPLES, "idioms", level, "idioms.dll")))
    engine = DecompilerEngine(native, PYTHON)
    try:
        facts = engine.load()
        rva = {name: address for address, name in facts.symbols.items()}
        by_name = {f.name: address for address, f in facts.functions.items()}

        def argument(caller: str, api: str, slot: int):
            func = by_name[caller]
            answer = engine.resolve([func])
            site = next(s for s in facts.calls if s.caller == func and facts.functions[s.callee].name == api)
            return answer.args[(func, site.rva)][slot]

        def descriptors(*names):
            return {Addr(rva[n]) for n in names}

        assert argument("TableMasked", "EventWrite", 1) == descriptors(*(f"TABLE_EVT_{k}" for k in range(4)))
        assert argument("TableGuard", "EventWrite", 1) == descriptors(*(f"GUARD_EVT_{k}" for k in range(3)))
        assert argument("NextTable", "EventWrite", 1) == descriptors("NEXT_EVT_0", "NEXT_EVT_1")
        assert argument("TableSwitch", "EventWrite", 1) == descriptors(*(f"SWITCH_EVT_{k}" for k in range(4)))

        (rep,) = argument("RepCopyWrite", "EventWrite", 1)
        assert isinstance(rep, StackAddr) and rep.origin == Param(0) and rep.content[4] == 2  # d.Level = 2
        (mc,) = argument("McGenEventWrite", "EventWriteTransfer", 1)
        assert isinstance(mc, StackAddr) and mc.origin == Param(1) and mc.content[3] == 0x10  # d.Channel = 0x10

        (stop,) = argument("ClassicStop", "TraceEvent", 1)
        assert isinstance(stop, StackAddr) and stop.refs == ((0x18, rva["ClassicClassB"]),)  # GuidPtr
        assert stop.content[:2] == (0x30, 0) and stop.content[4:6] == (2, 3)  # Size 48, Type 2, Level 3
        (start,) = argument("ClassicStart", "TraceEvent", 1)
        guid_a = bytes(native.image.read(rva["ClassicClassA"], 16))
        assert isinstance(start, StackAddr) and bytes(start.content[0x18:0x28]) == guid_a  # Guid by value
    finally:
        engine.close()
