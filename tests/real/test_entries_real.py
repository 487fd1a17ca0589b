"""Entry points of a real KMDF driver without its PDB: ViGEmBus.sys 1.17.333.0 (vgamepad 0.2.0's installer).

Truth independent of the analyzer, from the public source of that version (nefarius/ViGEmBus, tag
v1.17.333.0): sys/Driver.cpp calls WdfDriverCreate once, with WDF_DRIVER_CONFIG_INIT(&config, Bus_EvtDeviceAdd)
and attributes.EvtCleanupCallback = Bus_EvtDriverContextCleanup, and creates the bus's default queue with
EvtIoDeviceControl = Bus_EvtIoDeviceControl; sys/EmulationTargetPDO.cpp sets EvtDevicePrepareHardware in
its WDF_PNPPOWER_EVENT_CALLBACKS, pdoAttributes.EvtCleanupCallback for WdfDeviceCreate, and creates the PDO's
default queue with EvtIoInternalDeviceControl; Driver.cpp's WDF_FILEOBJECT_CONFIG_INIT(&foConfig,
Bus_DeviceFileCreate, Bus_FileClose, NULL) gives one file-create and one file-close callback; the other queues (four in EmulationTargetPDO.cpp and
XusbPdo.cpp) are manual queues without callbacks: six WdfIoQueueCreate calls in all. The IOCTL codes are the
IOCTL_* defines of sdk/include/ViGEm/km/BusShared.h (CTL_CODE(FILE_DEVICE_BUS_EXTENDER, 0x801 + n,
METHOD_BUFFERED, access)); Bus_EvtIoDeviceControl's default case traces (TraceEvents, "Unknown I/O control code").
Two timers: Ds4Pdo.cpp's (WDF_TIMER_CONFIG_INIT_PERIODIC(&timerConfig, PendingUsbRequestsTimerFunc, ...)) and
one of the DMF library the project links (sys/ViGEmBus.vcxproj: DmfK.lib; EmulationTargetPDO::PdoPrepare calls
DMF_BufferQueue_Create, whose BufferPool child modules create a timer: microsoft/DMF Dmf_BufferPool.c,
WDF_TIMER_CONFIG_INIT(&timerConfig, BufferPool_BufferPoolEntryTimerHandler)).

The bus side of the same source: Driver.cpp's Bus_EvtDeviceAdd sets the default child list
(WDF_CHILD_LIST_CONFIG_INIT(&config, ..., Bus_EvtDeviceListCreatePdo), config.EvtChildListIdentificationDescription
Compare = EmulationTargetPDO::EvtChildListIdentificationDescriptionCompare; WdfFdoInitSetDefaultChildListConfig);
EmulationTargetPDO.cpp hands the same compare routine to WdfChildListRetrieveNextDevice in a
WDF_CHILD_RETRIEVE_INFO (EnqueueWaitDeviceReady), registers EvtWdfIoPendingNotificationQueueState with
WdfIoQueueReadyNotify, and XusbPdo.cpp's PdoPrepareHardware exposes a USB_BUS_INTERFACE_USBDI_V1 (usbbusif.h:
the INTERFACE head, then GetUSBDIVersion, QueryBusTime, SubmitIsoOutUrb, QueryBusInformation, IsDeviceHighSpeed)
with WdfDeviceAddQueryInterface, InterfaceReference/Dereference = the no-op routines of wdfqueryinterface.h.
Bus_EvtDeviceListCreatePdo (buspdo.cpp) calls EmulationTargetPDO::PdoCreateDevice, whose TraceEvents are
EmulationTargetPDO.cpp's messages 10..23 (tracewpp numbers a file's messages from 10 in source order, TraceDbg
calls included; EvtDevicePrepareHardware's are 41 and 42 of the same file, so the same message GUID).
"""

from __future__ import annotations

import csv
import io
from collections import Counter

from conftest import entry_finder, run_cli

FILE_DEVICE_BUS_EXTENDER = 0x2A
FILE_READ_DATA, FILE_WRITE_DATA = 1, 2
#: BusShared.h: (function code offset from IOCTL_VIGEM_BASE 0x801, access) of each IOCTL_* define.
IOCTLS = {
    "IOCTL_VIGEM_PLUGIN_TARGET": (0x000, FILE_WRITE_DATA), "IOCTL_VIGEM_UNPLUG_TARGET": (0x001, FILE_WRITE_DATA),
    "IOCTL_VIGEM_CHECK_VERSION": (0x002, FILE_WRITE_DATA),
    "IOCTL_VIGEM_WAIT_DEVICE_READY": (0x003, FILE_WRITE_DATA),
    "IOCTL_XUSB_REQUEST_NOTIFICATION": (0x200, FILE_WRITE_DATA | FILE_READ_DATA),
    "IOCTL_XUSB_SUBMIT_REPORT": (0x201, FILE_WRITE_DATA), "IOCTL_DS4_SUBMIT_REPORT": (0x202, FILE_WRITE_DATA),
    "IOCTL_DS4_REQUEST_NOTIFICATION": (0x203, FILE_WRITE_DATA),
    "IOCTL_XUSB_GET_USER_INDEX": (0x206, FILE_WRITE_DATA | FILE_READ_DATA),
}


def _ctl_code(function: int, access: int) -> int:
    return (FILE_DEVICE_BUS_EXTENDER << 16) | (access << 14) | (function << 2)


CODES = {_ctl_code(0x801 + offset, access) for offset, access in IOCTLS.values()}


def test_vigembus_kmdf_callbacks_are_entry_points(real_binary):
    path = real_binary("ViGEmBus.sys")
    assert "1.17.333.0".encode("utf-16-le") in path.read_bytes()  # the version the source tag describes
    finder = entry_finder(path, use_pdb=False)
    entries = finder.run([])
    calls = Counter(name for _site, name in finder.framework_calls)
    assert calls["WdfDriverCreate"] == 1
    assert calls["WdfIoQueueCreate"] == 6
    assert calls["WdfDeviceCreate"] == 2  # the bus FDO (Driver.cpp) and each PDO (EmulationTargetPDO.cpp)
    assert calls["WdfDeviceInitSetPnpPowerEventCallbacks"] == 1 and calls["WdfDeviceInitSetFileObjectConfig"] == 1
    assert calls["WdfFdoInitSetDefaultChildListConfig"] == 1 and calls["WdfIoQueueReadyNotify"] == 1
    assert calls["WdfDeviceAddQueryInterface"] == 1  # XusbPdo.cpp only
    assert calls["WdfChildListRetrieveNextDevice"] >= 4  # Driver.cpp 1, EmulationTargetPDO.cpp 1, busenum.cpp 2
    assert calls["WdfTimerCreate"] == 2
    by_kind = Counter(k for kinds in entries.kinds.values() for k in kinds if k.startswith("callback:Wdf"))
    interface = "callback:WdfDeviceAddQueryInterface."
    assert by_kind == {
        "callback:WdfDeviceInitSetFileObjectConfig.EvtDeviceFileCreate": 1,
        "callback:WdfDeviceInitSetFileObjectConfig.EvtFileClose": 1,
        "callback:WdfDriverCreate.EvtDriverDeviceAdd": 1,
        "callback:WdfDriverCreate.EvtCleanupCallback": 1,
        "callback:WdfIoQueueCreate.EvtIoDeviceControl": 1,
        "callback:WdfIoQueueCreate.EvtIoInternalDeviceControl": 1,
        "callback:WdfDeviceInitSetPnpPowerEventCallbacks.EvtDevicePrepareHardware": 1,
        "callback:WdfDeviceCreate.EvtCleanupCallback": 1,
        "callback:WdfFdoInitSetDefaultChildListConfig.EvtChildListCreateDevice": 1,
        "callback:WdfFdoInitSetDefaultChildListConfig.EvtChildListIdentificationDescriptionCompare": 1,
        "callback:WdfChildListRetrieveNextDevice.EvtChildListIdentificationDescriptionCompare": 1,
        "callback:WdfIoQueueReadyNotify.QueueReady": 1,
        "callback:WdfTimerCreate.EvtTimerFunc": 2,
        interface + "InterfaceReference": 1, interface + "InterfaceDereference": 1,
        # USB_BUS_INTERFACE_USBDI_V1's five routines after the 0x20-byte INTERFACE head
        **{f"{interface}Interface+0x{at:x}": 1 for at in range(0x20, 0x48, 8)},
    }
    compare = [rva for rva, kinds in entries.kinds.items()
               if any(k.endswith(".EvtChildListIdentificationDescriptionCompare") for k in kinds)]
    assert len(compare) == 1  # one routine, in the child list's configuration and in a retrieve info


def test_vigembus_wpp_rows_under_the_queue_callbacks_with_their_ioctls(real_binary):
    path = real_binary("ViGEmBus.sys")
    result = run_cli("analyze", path, "--no-pdb", "-o", "-")
    assert result.code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout), delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))
    control = [r for r in rows if r["Entry"] == "callback:WdfIoQueueCreate.EvtIoDeviceControl"]
    internal = [r for r in rows if r["Entry"] == "callback:WdfIoQueueCreate.EvtIoInternalDeviceControl"]
    assert control and internal
    assert len({r["Function"] for r in control}) == 1 and len({r["Function"] for r in internal}) == 1
    assert all(r["Kind"] == "wpp" for r in control + internal)
    seen = {code for r in control for code in r["Ioctl"].split(",") if code}
    assert "default" in seen
    named = {int(c, 16) for c in seen - {"default"}}
    assert named <= CODES, sorted(hex(c) for c in named - CODES)
    assert len(named) > len(CODES) // 2  # most cases trace (TraceEvents in the helpers they call)
    print(f"ViGEmBus.sys: {len(rows)} rows, {len(control)} under EvtIoDeviceControl with {len(named)} of "
          f"{len(CODES)} IOCTL codes, {len(internal)} under EvtIoInternalDeviceControl, "
          f"{sum(r['Entry'] == 'unreached' for r in rows)} unreached")


def test_vigembus_pdo_creation_reached_from_the_child_list(real_binary):
    """PdoCreateDevice's messages (EmulationTargetPDO.cpp 10..23) were ``unreached``: the framework calls
    Bus_EvtDeviceListCreatePdo through the child list configuration, and it calls PdoCreateDevice."""
    path = real_binary("ViGEmBus.sys")
    result = run_cli("analyze", path, "--no-pdb", "-o", "-")
    assert result.code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout), delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))
    create = [r for r in rows if r["Entry"] == "callback:WdfFdoInitSetDefaultChildListConfig.EvtChildListCreateDevice"]
    assert create and all(r["Kind"] == "wpp" for r in create)
    assert len({r["Function"] for r in create}) == 1 and len({r["EventSite"] for r in create}) == 1
    assert {r["Function"] for r in create} != {r["EventSite"] for r in create}  # reached through a call
    (guid,) = {r["EventDescriptorSymbol"] for r in create}
    ids = {int(r["Id"]) for r in create}
    assert ids <= set(range(10, 24)) and len(ids) >= 10, sorted(ids)
    prepare = {int(r["Id"]) for r in rows if r["EventDescriptorSymbol"] == guid
               and r["Entry"] == "callback:WdfDeviceInitSetPnpPowerEventCallbacks.EvtDevicePrepareHardware"}
    assert prepare == {41, 42}  # the same source file: the same message GUID
    assert not [r for r in rows if r["EventDescriptorSymbol"] == guid and r["Entry"] == "unreached"
                and int(r["Id"]) in ids]
    print(f"ViGEmBus.sys: {len(create)} rows under EvtChildListCreateDevice (messages {sorted(ids)}), "
          f"{sum(r['Entry'] == 'unreached' for r in rows)} unreached of {len(rows)}")


def test_dokan_wdm_driver_gets_no_kmdf_entries(real_binary):
    """A WDM file-system driver with its PDB (negative control): no ETW rows, no framework callbacks."""
    path = real_binary("dokan2.sys")
    entries = entry_finder(path, use_pdb=True).run([])
    assert not [k for kinds in entries.kinds.values() for k in kinds if k.startswith("callback:Wdf")]
    result = run_cli("analyze", path, "-o", "-")
    assert result.code == 0, result.stderr
    assert len(result.stdout.splitlines()) <= 1
