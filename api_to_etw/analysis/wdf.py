"""KMDF: the framework's function table and the callbacks drivers register through it.

A KMDF driver imports only ``WdfVersionBind`` (WDFLDR.SYS). Its FxDriverEntry stub passes a WDF_BIND_INFO
to it, whose ``FuncTable`` field holds the address of the global ``WdfFunctions_<version>``; the loader fills
that global with the address of the framework's table, and every framework call the driver makes is
``WdfFunctions[<Api>TableIndex](WdfDriverGlobals, ...)``. The indices (WDFFUNCENUM, wdffuncenum.h) only grow
between versions, and the structures that carry the callbacks (WDF_DRIVER_CONFIG, WDF_IO_QUEUE_CONFIG,
WDF_PNPPOWER_EVENT_CALLBACKS, WDF_OBJECT_ATTRIBUTES) have documented x64 layouts. All facts here are from
the public WDF headers and documentation.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Optional

from ..model import Addr, Memory

BIND_API = "WdfVersionBind"
#: WdfVersionBind(DriverObject, RegistryPath, BindInfo, ComponentGlobals): the WDF_BIND_INFO argument.
BIND_INFO_ARG = 2
#: x64 WDF_BIND_INFO: ULONG Size; PWCHAR Component; WDF_VERSION Version (3 ULONGs); ULONG FuncCount;
#: WDFFUNC *FuncTable; PVOID Module.
BIND_FUNC_COUNT = 0x1C
BIND_FUNC_TABLE = 0x20
#: More entries than any KMDF version has (1.33 has fewer than 500): a larger FuncCount is not a bind info.
MAX_FUNC_COUNT = 0x1000

#: WDF_OBJECT_ATTRIBUTES: ULONG Size; EvtCleanupCallback; EvtDestroyCallback; ...
OBJECT_ATTRIBUTES = (0x38, {0x08: "EvtCleanupCallback", 0x10: "EvtDestroyCallback"})


@dataclass(frozen=True)
class WdfApi:
    """A framework method that receives callbacks: its table index, and per structure argument the
    structure's size and callback fields (offset -> the field's documented name)."""

    name: str
    index: int
    structures: dict[int, tuple[int, dict[int, str]]]
    #: Arguments that are the callback itself: argument index -> the parameter's documented name.
    routines: dict[int, str] = field(default_factory=dict)


#: The methods modelled (index from WDFFUNCENUM; argument positions count WdfDriverGlobals as 0).
WDF_APIS = (
    # WdfDriverCreate(Globals, DriverObject, RegistryPath, DriverAttributes, DriverConfig, Driver)
    WdfApi("WdfDriverCreate", 116, {3: OBJECT_ATTRIBUTES, 4: (0x20, {0x08: "EvtDriverDeviceAdd",
                                                                       0x10: "EvtDriverUnload"})}),
    # WdfIoQueueCreate(Globals, Device, Config, QueueAttributes, Queue)
    WdfApi("WdfIoQueueCreate", 152, {2: (0x60, {
        0x10: "EvtIoDefault", 0x18: "EvtIoRead", 0x20: "EvtIoWrite", 0x28: "EvtIoDeviceControl",
        0x30: "EvtIoInternalDeviceControl", 0x38: "EvtIoStop", 0x40: "EvtIoResume",
        0x48: "EvtIoCanceledOnQueue"}), 3: OBJECT_ATTRIBUTES}),
    # WdfDeviceCreate(Globals, DeviceInit *, DeviceAttributes, Device)
    WdfApi("WdfDeviceCreate", 75, {2: OBJECT_ATTRIBUTES}),
    # WdfDeviceInitSetPnpPowerEventCallbacks(Globals, DeviceInit, PnpPowerEventCallbacks)
    WdfApi("WdfDeviceInitSetPnpPowerEventCallbacks", 55, {2: (0x90, {
        0x08: "EvtDeviceD0Entry", 0x10: "EvtDeviceD0EntryPostInterruptsEnabled", 0x18: "EvtDeviceD0Exit",
        0x20: "EvtDeviceD0ExitPreInterruptsDisabled", 0x28: "EvtDevicePrepareHardware",
        0x30: "EvtDeviceReleaseHardware", 0x38: "EvtDeviceSelfManagedIoCleanup",
        0x40: "EvtDeviceSelfManagedIoFlush", 0x48: "EvtDeviceSelfManagedIoInit",
        0x50: "EvtDeviceSelfManagedIoSuspend", 0x58: "EvtDeviceSelfManagedIoRestart",
        0x60: "EvtDeviceSurpriseRemoval", 0x68: "EvtDeviceQueryRemove", 0x70: "EvtDeviceQueryStop",
        0x78: "EvtDeviceUsageNotification", 0x80: "EvtDeviceRelationsQuery",
        0x88: "EvtDeviceUsageNotificationEx"})}),
    # WdfDeviceInitSetFileObjectConfig(Globals, DeviceInit, FileObjectConfig, FileObjectAttributes)
    WdfApi("WdfDeviceInitSetFileObjectConfig", 71, {2: (0x28, {
        0x08: "EvtDeviceFileCreate", 0x10: "EvtFileClose", 0x18: "EvtFileCleanup"}), 3: OBJECT_ATTRIBUTES}),
    # WdfDeviceInitSetIoInCallerContextCallback(Globals, DeviceInit, EvtIoInCallerContext)
    WdfApi("WdfDeviceInitSetIoInCallerContextCallback", 74, {}, {2: "EvtIoInCallerContext"}),
    # WdfInterruptCreate(Globals, Device, Configuration, Attributes, Interrupt)
    WdfApi("WdfInterruptCreate", 141, {2: (0x40, {
        0x18: "EvtInterruptIsr", 0x20: "EvtInterruptDpc", 0x28: "EvtInterruptEnable",
        0x30: "EvtInterruptDisable", 0x38: "EvtInterruptWorkItem"}), 3: OBJECT_ATTRIBUTES}),
    # WdfDpcCreate / WdfTimerCreate / WdfWorkItemCreate(Globals, Config, Attributes, Object)
    WdfApi("WdfDpcCreate", 111, {1: (0x18, {0x08: "EvtDpcFunc"}), 2: OBJECT_ATTRIBUTES}),
    WdfApi("WdfTimerCreate", 318, {1: (0x20, {0x08: "EvtTimerFunc"}), 2: OBJECT_ATTRIBUTES}),
    WdfApi("WdfWorkItemCreate", 379, {1: (0x18, {0x08: "EvtWorkItemFunc"}), 2: OBJECT_ATTRIBUTES}),
    # WdfRequestMarkCancelable(Globals, Request, EvtRequestCancel)
    WdfApi("WdfRequestMarkCancelable", 255, {}, {2: "EvtRequestCancel"}),
    # WdfRequestSetCompletionRoutine(Globals, Request, CompletionRoutine, CompletionContext)
    WdfApi("WdfRequestSetCompletionRoutine", 260, {}, {2: "CompletionRoutine"}),
)
#: Queue callbacks that receive an IOCTL: EvtIoDeviceControl(Queue, Request, OutputBufferLength,
#: InputBufferLength, IoControlCode), the code in the fifth parameter.
IOCTL_CALLBACKS = ("WdfIoQueueCreate.EvtIoDeviceControl", "WdfIoQueueCreate.EvtIoInternalDeviceControl")
IOCTL_PARAM = 4


def function_table(memory: Memory, image_base: int, bind_info: int) -> Optional[tuple[int, int]]:
    """(RVA of the global the loader fills with the table's address, FuncCount) from a WDF_BIND_INFO in
    the image; None when the bytes there are not one."""
    raw = memory.read(bind_info, BIND_FUNC_TABLE + 8)
    if len(raw) < BIND_FUNC_TABLE + 8:
        return None
    (count,) = struct.unpack_from("<I", raw, BIND_FUNC_COUNT)
    (table,) = struct.unpack_from("<Q", raw, BIND_FUNC_TABLE)
    slot = table - image_base
    if not 0 < count <= MAX_FUNC_COUNT or not memory.read(slot, 8) or len(memory.read(slot, 8)) < 8:
        return None
    return slot, count


def table_names(count: int) -> dict[int, str]:
    """Byte offset in the function table -> method name, for the modelled methods the table has."""
    return {8 * api.index: api.name for api in WDF_APIS if api.index < count}


def api_named(name: str) -> Optional[WdfApi]:
    return next((api for api in WDF_APIS if api.name == name), None)


def bind_info_address(values: frozenset) -> Optional[int]:
    """The WDF_BIND_INFO a WdfVersionBind call passes, when it is one global."""
    found = [v.rva for v in values if isinstance(v, Addr)]
    return found[0] if len(found) == 1 else None
