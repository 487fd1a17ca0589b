"""mc.exe-style fixtures (samples/mcgen.py): every event at its EventSite, with the entry points that reach it
(DriverEntry, MajorFunction dispatch routines with their IOCTL cases, DriverUnload, AddDevice, notify/DPC/thread
callbacks, ops tables and vtables in read-only data, exports, DllMain) or ``unreached``; compared with the truth
the generator computes from its model, at -O1/-O2/-Os, with and without the PDB."""

from __future__ import annotations

import json
import os
import re

import pytest
from conftest import SAMPLES

from api_to_etw.analysis.pipeline import AnalysisOptions, analyze
from api_to_etw.binary.loader import open_binary
from api_to_etw.binary.pdb import load_pdb
from api_to_etw.engine.frozen import FrozenEngine
from api_to_etw.engine.native.engine import NativeEngine
from api_to_etw.engine.recorder import RecordingEngine
from api_to_etw.render.rows import row_columns

FIXTURES = ("mcdriver", "mcdll", "mckmdf", "mcumdf")
LEVELS = ("O1", "O2", "Os")
_TABLE = re.compile(r"^table:0x([0-9a-f]+)\[(\d+)\]$")


def _truth(sample: str) -> dict:
    with open(os.path.join(SAMPLES, sample, "truth.json"), encoding="utf-8") as handle:
        return json.load(handle)


def _image(sample: str, level: str) -> str:
    return os.path.join(SAMPLES, sample, level, _truth(sample)["file"])


def _expected(truth: dict, with_symbols: bool) -> set:
    return {(r["Function"], frozenset(r["Entry"]), r["Ioctl"], r["EventSite"], r["ProviderGuid"],
             r["EventDescriptorSymbol"] if with_symbols else "", r["Id"]) for r in truth["rows"]}


def _ours(rows, real=lambda name: name) -> set:
    return {(real(r.function), frozenset(real(k) for k in r.entry.split(",")), r.ioctl, real(r.event_site),
             r.event.provider_guid, r.event.descriptor_symbol, r.event.id) for r in rows}


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("sample", FIXTURES)
def test_rows_equal_truth_with_pdb(sample, level):
    truth = _truth(sample)
    loaded = open_binary(_image(sample, level))
    assert loaded.pdb is not None
    result = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions())
    assert all(r.event.resolved for r in result.rows), [row_columns(r) for r in result.rows if not r.event.resolved]
    assert _ours(result.rows) == _expected(truth, True)
    events = {e["id"]: e for e in truth["events"]}
    for row in result.rows:
        e = events[row.event.id]
        level = e.get("patched_level", e["level"])  # a by-value copy patched before the write
        assert (row.event.version, row.event.channel, row.event.level, row.event.opcode, row.event.task,
                row.event.keyword) == (e["version"], e["channel"], level, e["opcode"], e["task"], e["keyword"])
        assert row.event.provider_symbol == truth["provider"]["symbol"]
        assert row.event.reghandle_symbol == truth["provider"]["symbol"] + "_Context"
        assert row.containing_function.startswith("McGenEventWrite_")


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("sample", FIXTURES)
def test_rows_equal_truth_without_pdb(sample, level):
    """From the code and the imports alone: the same rows, named back through the PDB only to compare."""
    truth = _truth(sample)
    path = _image(sample, level)
    loaded = open_binary(path, use_pdb=False)
    assert loaded.pdb is None
    result = analyze(NativeEngine(loaded.image, None), AnalysisOptions())
    pdb = load_pdb(os.path.splitext(path)[0] + ".pdb")
    names = {**pdb.data, **pdb.functions}

    def real(name: str) -> str:
        if name.startswith("sub_"):
            return names.get(int(name[4:], 16), name)
        table = _TABLE.match(name)
        if table:
            return f"table:{names.get(int(table.group(1), 16), table.group(1))}[{table.group(2)}]"
        return name

    assert all(r.event.resolved for r in result.rows)
    assert _ours(result.rows, real) == _expected(truth, False)


def test_the_driver_covers_every_entry_kind():
    """The fixture is worth its name: each entry kind of the issue appears in the driver's truth."""
    kinds = {k for r in _truth("mcdriver")["rows"] for k in r["Entry"]}
    assert {"entry", "IRP_MJ_CREATE", "IRP_MJ_CLOSE", "IRP_MJ_DEVICE_CONTROL", "DriverUnload", "AddDevice",
            "callback:PsSetCreateProcessNotifyRoutineEx", "callback:KeInitializeDpc",
            "callback:PsCreateSystemThread", "table:g_LateHook[0]"} <= kinds  # a pointer in writable data too
    assert any(k.startswith("table:g_WidgetOps") for k in kinds)
    ioctls = {r["Ioctl"] for r in _truth("mcdriver")["rows"]}
    assert "default" in ioctls and any("," in i for i in ioctls)
    dll = {k for r in _truth("mcdll")["rows"] for k in r["Entry"]}
    assert {"export", "entry", "callback:CreateThread", "callback:TrySubmitThreadpoolCallback",
            "callback:StartServiceCtrlDispatcherW", "callback:RegisterServiceCtrlHandlerExW"} <= dll
    assert any(k.startswith("table:") for k in dll)


@pytest.mark.parametrize("sample", FIXTURES)
def test_frozen_facts_replay_entries_and_ioctls(sample, tmp_path):
    """Stores, case guards, the entry point and the read-only tables travel in the facts file."""
    loaded = open_binary(_image(sample, "O2"))
    recorder = RecordingEngine(NativeEngine(loaded.image, loaded.pdb))
    result = analyze(recorder, AnalysisOptions())
    path = tmp_path / "facts.json"
    recorder.save(str(path))
    replay = analyze(FrozenEngine(str(path)), AnalysisOptions())
    assert [row_columns(r) for r in replay.rows] == [row_columns(r) for r in result.rows]
    assert {r.entry for r in replay.rows} - {"unreached", "export", "entry"}


@pytest.mark.parametrize("sample", FIXTURES)
def test_all_sites_only_adds_rows(sample):
    """--all-sites adds rows from write sites; the entry-point and unreached rows stay as they are."""
    loaded = open_binary(_image(sample, "O2"))
    default = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions())
    loaded = open_binary(_image(sample, "O2"))
    every = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions(all_sites=True))
    assert _ours(default.rows) <= _ours(every.rows)
    assert len(every.rows) > len(default.rows)


def test_the_kmdf_driver_covers_its_idioms():
    """mckmdf is worth its name: KMDF callbacks of every modelled structure (a bus FDO's child list, its PDOs'
    callbacks, power policy, a query interface whose routines follow the INTERFACE head, queue state and object
    destroy callbacks, a remote I/O target's (one stored by a helper into the caller's structure) and a WMI
    instance's), object and registry callbacks, IOCTL cases of an EvtIoDeviceControl callback, and a
    descriptor copied by a call then patched."""
    truth = _truth("mckmdf")
    kinds = {k for r in truth["rows"] for k in r["Entry"]}
    assert {"entry", "callback:WdfDriverCreate.EvtDriverDeviceAdd", "callback:WdfDriverCreate.EvtDriverUnload",
            "callback:WdfDriverCreate.EvtCleanupCallback", "callback:WdfIoQueueCreate.EvtIoRead",
            "callback:WdfIoQueueCreate.EvtIoWrite", "callback:WdfIoQueueCreate.EvtIoDeviceControl",
            "callback:WdfIoQueueCreate.EvtIoInternalDeviceControl",
            "callback:WdfDeviceInitSetPnpPowerEventCallbacks.EvtDeviceD0Entry",
            "callback:WdfDeviceInitSetPnpPowerEventCallbacks.EvtDeviceD0Exit",
            "callback:WdfDeviceInitSetPnpPowerEventCallbacks.EvtDevicePrepareHardware",
            "callback:ObRegisterCallbacks.PreOperation", "callback:ObRegisterCallbacks.PostOperation",
            "callback:CmRegisterCallbackEx", "callback:WdfDeviceInitSetFileObjectConfig.EvtDeviceFileCreate",
            "callback:WdfTimerCreate.EvtTimerFunc", "callback:WdfWorkItemCreate.EvtWorkItemFunc",
            "callback:WdfDpcCreate.EvtDpcFunc", "callback:WdfInterruptCreate.EvtInterruptIsr",
            "callback:WdfRequestSetCompletionRoutine.CompletionRoutine",
            "callback:WdfRequestMarkCancelable.EvtRequestCancel",
            "callback:WdfDeviceInitSetIoInCallerContextCallback.EvtIoInCallerContext",
            "callback:WdfFdoInitSetDefaultChildListConfig.EvtChildListCreateDevice",
            "callback:WdfFdoInitSetDefaultChildListConfig.EvtChildListIdentificationDescriptionCompare",
            "callback:WdfChildListRetrieveNextDevice.EvtChildListIdentificationDescriptionCompare",
            "callback:WdfPdoInitSetEventCallbacks.EvtDeviceEject",
            "callback:WdfDeviceInitSetPowerPolicyEventCallbacks.EvtDeviceArmWakeFromS0",
            "callback:WdfIoQueueReadyNotify.QueueReady", "callback:WdfObjectAllocateContext.EvtDestroyCallback",
            "callback:WdfDeviceAddQueryInterface.InterfaceReference",
            "callback:WdfDeviceAddQueryInterface.InterfaceDereference",
            "callback:WdfDeviceAddQueryInterface.Interface+0x20", "callback:WdfIoTargetOpen.EvtIoTargetQueryRemove",
            "callback:WdfIoTargetOpen.EvtIoTargetRemoveComplete",
            "callback:WdfWmiInstanceCreate.EvtWmiInstanceQueryInstance"} <= kinds
    ioctls = {r["Ioctl"] for r in truth["rows"] if "callback:WdfIoQueueCreate.EvtIoDeviceControl" in r["Entry"]}
    assert "default" in ioctls and any("," in i for i in ioctls)
    assert [e["symbol"] for e in truth["events"] if "patched_level" in e] == ["ReadDone"]


@pytest.mark.parametrize("level", LEVELS)
def test_kmdf_fixture_has_the_shapes_it_claims(level):
    """The tail-jump power callback has no RUNTIME_FUNCTION where clang makes it a tail jump (-O2, -Os: only
    its registered pointer names its start), the framework is reached only through WdfVersionBind, the
    read callback really calls RtlMoveMemory (the copy is a call, not inlined moves), and the open-params
    helper is a real call (one that calls RtlMoveMemory itself: the native engine resolves only functions
    with call sites, so a leaf's stores are not seen)."""
    path = _image("mckmdf", level)
    loaded = open_binary(path)
    pdb = loaded.pdb
    assert pdb is not None
    by_name = {name: rva for rva, name in pdb.functions.items()}
    begins = {rf.begin for rf in loaded.image.runtime_functions}
    assert (by_name["KmdfD0Exit"] not in begins) == (level != "O1")
    assert by_name["KmdfD0Entry"] in begins or by_name["KmdfPrepareHardware"] in begins
    imports = {label.split("!", 1)[-1] for label in loaded.image.imports.values()}
    assert "WdfVersionBind" in imports and not any(n.startswith("WdfDriver") for n in imports)
    engine = NativeEngine(loaded.image, pdb)
    facts = engine.load()
    move = next(rva for rva, f in facts.functions.items() if f.imported and f.name == "RtlMoveMemory")
    assert any(s.callee == move and s.caller == by_name["KmdfIoRead"] for s in facts.calls)
    # the helper that stores a remove callback into its caller's WDF_IO_TARGET_OPEN_PARAMS is a real call
    helper = by_name["KmdfTargetCallbacks"]
    assert any(s.callee == helper and s.caller == by_name["KmdfOpenTargets"] for s in facts.calls)
    assert any(s.callee == move and s.caller == helper for s in facts.calls)


def test_the_umdf_driver_covers_its_idioms():
    """mcumdf is worth its name: a UMDF 2 driver's callbacks under the same entry kinds as KMDF's (driver, queue
    with IOCTL cases, PnP/power, power policy, file object, cleanup and destroy, timer, work item, interrupt and
    its passive work item, queue state, I/O target remove callbacks, request completion and cancel), and the
    UMDF-only ones (WdfRequestImpersonate, companion callbacks)."""
    truth = _truth("mcumdf")
    kinds = {k for r in truth["rows"] for k in r["Entry"]}
    assert {"export", "callback:WdfDriverCreate.EvtDriverDeviceAdd", "callback:WdfDriverCreate.EvtDriverUnload",
            "callback:WdfDriverCreate.EvtCleanupCallback", "callback:WdfDeviceCreate.EvtCleanupCallback",
            "callback:WdfIoQueueCreate.EvtIoRead", "callback:WdfIoQueueCreate.EvtIoWrite",
            "callback:WdfIoQueueCreate.EvtIoDeviceControl", "callback:WdfIoQueueCreate.EvtIoDefault",
            "callback:WdfIoQueueCreate.EvtIoStop", "callback:WdfIoQueueReadyNotify.QueueReady",
            "callback:WdfDeviceInitSetPnpPowerEventCallbacks.EvtDeviceD0Entry",
            "callback:WdfDeviceInitSetPnpPowerEventCallbacks.EvtDeviceD0Exit",
            "callback:WdfDeviceInitSetPnpPowerEventCallbacks.EvtDevicePrepareHardware",
            "callback:WdfDeviceInitSetPnpPowerEventCallbacks.EvtDeviceSurpriseRemoval",
            "callback:WdfDeviceInitSetPowerPolicyEventCallbacks.EvtDeviceArmWakeFromS0",
            "callback:WdfDeviceInitSetCompanionEventCallbacks.EvtCompanionPreD0Entry",
            "callback:WdfDeviceInitSetFileObjectConfig.EvtDeviceFileCreate",
            "callback:WdfDeviceInitSetFileObjectConfig.EvtFileClose", "callback:WdfTimerCreate.EvtTimerFunc",
            "callback:WdfWorkItemCreate.EvtWorkItemFunc", "callback:WdfInterruptCreate.EvtInterruptIsr",
            "callback:WdfInterruptCreate.EvtInterruptWorkItem",
            "callback:WdfObjectAllocateContext.EvtDestroyCallback",
            "callback:WdfIoTargetOpen.EvtIoTargetQueryRemove", "callback:WdfIoTargetOpen.EvtIoTargetRemoveComplete",
            "callback:WdfRequestSetCompletionRoutine.CompletionRoutine",
            "callback:WdfRequestMarkCancelableEx.EvtRequestCancel",
            "callback:WdfRequestImpersonate.EvtRequestImpersonate"} <= kinds
    ioctls = {r["Ioctl"] for r in truth["rows"] if "callback:WdfIoQueueCreate.EvtIoDeviceControl" in r["Entry"]}
    assert "default" in ioctls and any("," in i for i in ioctls)
    assert not [r for r in truth["rows"] if r["Entry"] == ["unreached"]]


@pytest.mark.parametrize("level", LEVELS)
def test_umdf_fixture_has_the_shapes_it_claims(level):
    """The UMDF driver imports nothing of the framework (no WdfVersionBind, no WUDFx02000.dll) and exports
    FxDriverEntryUm; its bind info (WDF_BIND_INFO2, Version.Major 2) is what the data scan finds, and it selects
    UMDF's table; the tail-jump power callback has no RUNTIME_FUNCTION at -O2/-Os; the open-params helper's
    copy is a real call (a leaf's stores would not be seen)."""
    from api_to_etw.analysis import wdf

    loaded = open_binary(_image("mcumdf", level))
    pdb = loaded.pdb
    assert pdb is not None
    by_name = {name: rva for rva, name in pdb.functions.items()}
    data = {name: rva for rva, name in pdb.data.items()}
    imports = {label.lower().split("!", 1)[0] for label in loaded.image.imports.values()}
    assert not any("wudf" in dll or "wdfldr" in dll for dll in imports), imports
    assert not any(label.split("!", 1)[-1].startswith("Wdf") for label in loaded.image.imports.values())
    engine = NativeEngine(loaded.image, pdb)
    facts = engine.load()
    assert facts.functions[by_name["FxDriverEntryUm"]].exported
    assert wdf.umdf_bind_infos(facts.memory, facts.image_base, facts.sections) == [data["WdfBindInfo"]]
    assert wdf.framework_of(facts.memory, data["WdfBindInfo"]) is wdf.UMDF
    assert wdf.function_table(facts.memory, facts.image_base, data["WdfBindInfo"]) == (
        data["WdfFunctions_02033"], 274)
    begins = {rf.begin for rf in loaded.image.runtime_functions}
    assert (by_name["UmdfD0Exit"] not in begins) == (level != "O1")
    move = next(rva for rva, f in facts.functions.items() if f.imported and f.name == "RtlMoveMemory")
    assert any(s.callee == move and s.caller == by_name["UmdfTargetCallbacks"] for s in facts.calls)


def test_the_kmdf_bind_info_is_not_a_umdf_one():
    """mckmdf's WDF_BIND_INFO (Version.Major 1, passed to WdfVersionBind) is read as KMDF, and the UMDF data
    scan, which only DLLs exporting FxDriverEntryUm get, finds nothing in it."""
    from api_to_etw.analysis import wdf

    loaded = open_binary(_image("mckmdf", "O2"))
    assert loaded.pdb is not None
    data = {name: rva for rva, name in loaded.pdb.data.items()}
    facts = NativeEngine(loaded.image, loaded.pdb).load()
    assert wdf.framework_of(facts.memory, data["WdfBindInfo"]) is wdf.KMDF
    assert wdf.umdf_bind_infos(facts.memory, facts.image_base, facts.sections) == []


def test_umdf_and_kmdf_tables_place_methods_differently():
    """The same method sits at another offset of each table (UMDF's WDFFUNCENUM is its own), and a method only
    one framework has is only in that one's names."""
    from api_to_etw.analysis import wdf

    kmdf, umdf = wdf.table_names(444, wdf.KMDF), wdf.table_names(274, wdf.UMDF)
    assert kmdf[8 * 116] == "WdfDriverCreate" and umdf[8 * 57] == "WdfDriverCreate"
    assert kmdf[8 * 152] == "WdfIoQueueCreate" and umdf[8 * 85] == "WdfIoQueueCreate"
    assert "WdfRequestImpersonate" in umdf.values() and "WdfRequestImpersonate" not in kmdf.values()
    assert "WdfDpcCreate" in kmdf.values() and "WdfDpcCreate" not in umdf.values()
    assert all(wdf.api_named(name) is not None for name in umdf.values())
    # a table older than a method does not name it (UMDF 2.15 had 257 functions; companions came later)
    assert "WdfDeviceInitSetCompanionEventCallbacks" not in wdf.table_names(257, wdf.UMDF).values()
