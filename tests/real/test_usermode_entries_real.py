"""User-mode entry points of real binaries nobody here wrote, against truth independent of the analyzer.

_etwtrace.cp311-win_amd64.pyd (etwtrace 0.1b8): a CPython extension. Python enters it through the
PyMethodDef array and the PyModuleDef its export PyInit__etwtrace hands out; C declares both without
``const``, so they sit in writable .data. The public source (microsoft/python-etwtrace,
src/etwtrace/_etwtrace.c, _etwcommon.c, _trace.cpp) says which method writes which event:
``enable`` -> WriteBeginThread (PythonThread, opcode START), ``disable`` -> WriteEndThread (PythonThread,
STOP), ``write_mark`` (ETWCOMMON_write_mark) -> WriteCustomEvent (PythonMark with opcodes 0/START/STOP,
PythonStackSample). WriteEvalFunctionEvent, WriteFunctionPush and WriteFunctionPop are called by nothing
in this module (the source has no call of them outside _etwinstrument.c, another module): they stay
``unreached``. The method table is read here from the binary's bytes (PyMethodDef: ml_name, ml_meth,
ml_flags, ml_doc; 32 bytes), not from the analyzer. WriteFunctionEvent is reached from ``enable`` through a
pointer: enable stores alloc_new_thunk into state->common.get_new_func_id, and alloc_new_thunk writes it.

Microsoft.WindowsAppRuntime.Bootstrap.dll (microsoft/WindowsAppSDK, dev/WindowsAppRuntime_BootstrapDLL):
MddBootstrapInitialize2 and MddBootstrapShutdown each install
``wil::ThreadFailureCallback(wilResultLoggingThreadCallback)``; that callback (MddBootstrapTracelogging.cpp)
is called by nothing else and has six TraceLoggingWrite calls: FailureLog, Exception twice, FailFast,
FailureReturn twice. The Bootstrap.Initialize.DDLM.* events are FindDDLMViaEnumeration's, on
MddBootstrapInitialize2's path (MddBootstrap.cpp).

OpenConsole.exe (microsoft/terminal, src/host/exe/exemain.cpp): wWinMain, which the CRT start-up reached from
the PE entry point calls, does ``wil::SetResultLoggingCallback(&Tracing::TraceFailure)``; TraceFailure
(src/host/tracing.cpp) writes the Host provider's "Failure" event and nothing calls it directly.

concrt140.dll: Agents_EventType (agents.h, documented on learn.microsoft.com) numbers AGENTS_EVENT_CREATE 0,
START 1, END 2, DESTROY 3; the exported agent constructors (``??0agent@Concurrency@@...``, names read from the
export table) trace CREATE, the destructor DESTROY, and agent::start schedules the agent's task, which traces
START and END around run(): a task handed to the scheduler, entered through a pointer.

WinPixEventRuntime.dll (microsoft/PixEvents, runtime/dll/shared/WinDllMain.cpp): the mc.exe control callback
EventRegister is given calls EtwEnableCallback (MCGEN_PRIVATE_ENABLE_CALLBACK_V2), whose DisableCapture and
FlushCapture flush the EtwWriter's buffered blocks: the block event (PIXETW.man id 22) is written from the
provider's enable callback as well as from the writer's worker thread.

node.exe (V8 src/diagnostics/etw-jit-win.cc): ETWJITInterface::EventHandler, the writer of MethodLoad (id 9),
is never called directly: it is passed to Isolate::SetJitCodeEventHandler.
"""

from __future__ import annotations

import csv
import io
from collections import Counter

import pefile
from conftest import run_cli

#: WINEVENT_OPCODE_START / _STOP (winmeta.h).
START, STOP = 1, 2


def _rows(path, *extra: str) -> list[dict[str, str]]:
    result = run_cli("analyze", path, "-o", "-", *extra)
    assert result.code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout), delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))


def _method_table(path) -> dict[str, int]:
    """ml_name -> ml_meth RVA of every PyMethodDef whose name is a string of the image: the array the
    source's ``etwtrace_methods`` declares, found as (pointer to a C string, pointer into .text) pairs."""
    pe = pefile.PE(str(path), fast_load=True)
    base = pe.OPTIONAL_HEADER.ImageBase
    text = next(s for s in pe.sections if s.Name.rstrip(b"\0") == b".text")
    data = next(s for s in pe.sections if s.Name.rstrip(b"\0") == b".data")
    raw = data.get_data()
    methods = {}
    for pos in range(0, len(raw) - 32, 8):
        name_va, meth_va = int.from_bytes(raw[pos:pos + 8], "little"), int.from_bytes(raw[pos + 8:pos + 16], "little")
        meth = meth_va - base
        if not text.VirtualAddress <= meth < text.VirtualAddress + text.Misc_VirtualSize:
            continue
        try:
            name = pe.get_string_at_rva(name_va - base, 64)
        except Exception:  # not a pointer into the image
            continue
        if name and name.isascii() and name.replace(b"_", b"").isalnum():
            methods[name.decode()] = meth
    return methods


def test_etwtrace_events_under_the_python_methods_that_write_them(real_binary):
    path = real_binary("_etwtrace.cp311-win_amd64.pyd")
    methods = _method_table(path)
    assert {"enable", "disable", "write_mark", "get_ignored_files"} <= set(methods)
    rows = _rows(path)
    by_event: dict[tuple[str, int], set[tuple[str, str]]] = {}
    for r in rows:
        by_event.setdefault((r["EventName"], int(r["Opcode"])), set()).add((r["Function"], r["Entry"]))

    for (name, opcode), method in {("PythonThread", START): "enable", ("PythonThread", STOP): "disable",
                                   ("PythonMark", 0): "write_mark", ("PythonMark", START): "write_mark",
                                   ("PythonMark", STOP): "write_mark", ("PythonStackSample", 0): "write_mark"}.items():
        found = by_event.get((name, opcode), set())
        assert found, (name, opcode)
        assert {f for f, _e in found} == {f"sub_{methods[method]:x}"}, (name, opcode, found)
        assert all(e.startswith("table:") for _f, e in found), found
    for name in ("PythonEvalFunction", "PythonFunctionPush", "PythonFunctionPop"):
        found = by_event.get((name, 0), set())
        assert found and all(e == "unreached" for _f, e in found), (name, found)
    # WriteFunctionEvent: through the get_new_func_id pointer enable sets (alloc_new_thunk).
    found = {(f, e) for r in rows if r["EventName"] == "PythonFunction" for f, e in [(r["Function"], r["Entry"])]}
    assert {f for f, _e in found} == {f"sub_{methods['enable']:x}"}, found
    assert all("&" in r["CallPath"] for r in rows if r["EventName"] == "PythonFunction")


def _pointer_hop(row: dict[str, str]) -> bool:
    """True when the row's path enters a function through a pointer its predecessor takes (``&name``)."""
    return any(step.startswith("&") for step in row["CallPath"].strip("[]").split("->"))


def test_bootstrap_failure_events_under_the_apis_that_install_the_wil_callback(real_binary):
    rows = _rows(real_binary("Microsoft.WindowsAppRuntime.Bootstrap.dll"))
    failures = [r for r in rows if r["EventName"] in ("FailureLog", "Exception", "FailFast", "FailureReturn")]
    assert {r["Function"] for r in failures} == {"MddBootstrapInitialize2", "MddBootstrapShutdown"}
    assert all(r["Entry"] == "export" and _pointer_hop(r) and r["CallDepth"] == "2" for r in failures)
    for api in ("MddBootstrapInitialize2", "MddBootstrapShutdown"):
        writes = Counter(r["EventName"] for r in failures if r["Function"] == api)
        assert writes == {"FailureLog": 1, "Exception": 2, "FailFast": 1, "FailureReturn": 2}, (api, writes)
    ddlm = [r for r in rows if r["EventName"].startswith("Bootstrap.Initialize.DDLM.")]
    assert ddlm and all(r["Function"] == "MddBootstrapInitialize2" and r["Entry"] == "export" for r in ddlm)
    assert not [r for r in rows if r["Entry"] == "unreached"]


def test_openconsole_failure_event_under_the_pe_entry_through_the_wil_callback(real_binary):
    path = real_binary("OpenConsole.exe")
    entry = pefile.PE(str(path), fast_load=True).OPTIONAL_HEADER.AddressOfEntryPoint
    rows = _rows(path)
    failure = [r for r in rows if r["EventName"] == "Failure" and r["ProviderName"] == "Microsoft.Windows.Console.Host"]
    assert failure
    assert all(r["Function"] == f"sub_{entry:x}" and r["Entry"] == "entry" for r in failure), failure
    assert all(r["CallPath"].strip("[]").split("->")[-1].startswith("&") for r in failure)
    assert not [r for r in rows if r["Entry"] == "unreached"]


def test_concrt_agent_events_under_the_agent_apis(real_binary):
    path = real_binary("concrt140.dll")
    exports = {e.name.decode() for e in pefile.PE(str(path)).DIRECTORY_ENTRY_EXPORT.symbols if e.name}
    constructors = {n for n in exports if n.startswith("??0agent@Concurrency@@")}
    assert len(constructors) == 3
    rows = [r for r in _rows(path, "--no-pdb")
            if r["EventDescriptorSymbol"].startswith("?AgentEventGuid") and r["Opcode"] != ""]
    by_type: dict[int, set[str]] = {}
    for r in rows:
        by_type.setdefault(int(r["Opcode"]), set()).add(r["Function"])
    assert constructors <= by_type[0]  # AGENTS_EVENT_CREATE
    assert "??1agent@Concurrency@@UEAA@XZ" in by_type[3]  # AGENTS_EVENT_DESTROY
    start = "?start@agent@Concurrency@@QEAA_NXZ"
    for kind in (START, STOP):  # AGENTS_EVENT_START / AGENTS_EVENT_END, from the task start() schedules
        assert any(r["Function"] == start and _pointer_hop(r) for r in rows if int(r["Opcode"]) == kind), kind


def test_node_jit_event_handler_entered_through_the_pointer_v8_hands_out(real_binary):
    rows = _rows(real_binary("node.exe"))
    method_load = [r for r in rows if r["Id"] == "9"]
    assert method_load and all(_pointer_hop(r) and r["Entry"] != "unreached" for r in method_load)
    assert not [r for r in rows if r["Entry"] == "unreached"]


def test_winpix_block_event_from_the_provider_enable_callback(real_binary):
    rows = _rows(real_binary("WinPixEventRuntime.dll"))
    entries = {k for r in rows if r["Id"] == "22" for k in r["Entry"].split(",")}
    assert {"callback:EventRegister", "callback:_beginthreadex"} <= entries, entries


def test_etwtrace_frame_evaluator_is_a_callback_of_the_c_api(real_binary):
    """etwtrace_enable passes PythonFrame to _PyInterpreterState_SetEvalFrameFunc (imported from python311.dll)."""
    from conftest import entry_finder

    path = real_binary("_etwtrace.cp311-win_amd64.pyd")
    pe = pefile.PE(str(path))
    imported = {i.name for d in pe.DIRECTORY_ENTRY_IMPORT for i in d.imports if i.name}
    assert b"_PyInterpreterState_SetEvalFrameFunc" in imported
    entries = entry_finder(path, use_pdb=False).run([])
    frame = [rva for rva, kinds in entries.kinds.items() if "callback:_PyInterpreterState_SetEvalFrameFunc" in kinds]
    assert len(frame) == 1
    assert frame[0] not in _method_table(path).values()  # not one of the methods: a function of its own
