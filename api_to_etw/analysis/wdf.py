"""WDF: the framework's function table and the callbacks drivers register through it (KMDF and UMDF 2).

A KMDF driver imports only ``WdfVersionBind`` (WDFLDR.SYS). Its FxDriverEntry stub passes a WDF_BIND_INFO
to it, whose ``FuncTable`` field holds the address of the global ``WdfFunctions_<version>``; the loader fills
that global with the address of the framework's table, and every framework call the driver makes is
``WdfFunctions[<Api>TableIndex](WdfDriverGlobals, ...)``. The indices (WDFFUNCENUM, wdffuncenum.h) only grow
between versions, and the structures that carry the callbacks (WDF_DRIVER_CONFIG, WDF_IO_QUEUE_CONFIG,
WDF_PNPPOWER_EVENT_CALLBACKS, WDF_CHILD_LIST_CONFIG, WDF_OBJECT_ATTRIBUTES, ...) have documented x64 layouts.
A method either takes a callback as an argument (WdfIoQueueReadyNotify's QueueReady), or structures with
callback fields, or (WdfDeviceAddQueryInterface) a structure pointing to an INTERFACE whose routines other
drivers call. All facts here are from the public WDF headers (the KMDF 1.15 and UMDF 2.15-2.33 sets) and
documentation.

A UMDF 2 driver is a DLL that imports nothing from the framework: it exports ``FxDriverEntryUm``
(LoaderInterface, Context, DriverObject, RegistryPath), which the driver host calls; the stub linked in
(WdfDriverStubUm.lib) binds through the loader interface it is handed, with the same WDF_BIND_INFO
(Version.Major 2, ``FuncTable`` = ``&WdfFunctions_02<minor>``; from stub version 25 on the larger
WDF_BIND_INFO2, whose first part it is), then calls DriverEntry. So the bind info is found in the image's
data, not at a call. UMDF's WDFFUNCENUM is a table of its own (WdfDriverCreate is 57, not 116; no DMA,
DPC, child-list, PDO, WMI or query-interface methods; a few of its own, WdfRequestImpersonate among them),
while the methods both have take the same arguments and the callback structures have the same x64 layouts.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Optional

from ..model import Addr, Memory

#: WdfVersionBind(DriverObject, RegistryPath, BindInfo, ComponentGlobals): the WDF_BIND_INFO argument.
BIND_INFO_ARG = 2
#: x64 WDF_BIND_INFO: ULONG Size; PWCHAR Component; WDF_VERSION Version (3 ULONGs); ULONG FuncCount;
#: WDFFUNC *FuncTable; PVOID Module.
BIND_VERSION_MAJOR = 0x10
BIND_FUNC_COUNT = 0x1C
BIND_FUNC_TABLE = 0x20
#: More entries than any KMDF version has (1.33 has fewer than 500): a larger FuncCount is not a bind info.
MAX_FUNC_COUNT = 0x1000

#: WDF_OBJECT_ATTRIBUTES (wdfobject.h): ULONG Size; EvtCleanupCallback; EvtDestroyCallback; ...
OBJECT_ATTRIBUTES = (0x38, {0x08: "EvtCleanupCallback", 0x10: "EvtDestroyCallback"})
#: WDF_CHILD_LIST_CONFIG (wdfchildlist.h): ULONG Size, IdentificationDescriptionSize, AddressDescriptionSize;
#: then eleven callbacks from +0x10.
CHILD_LIST_CONFIG = (0x60, {
    0x10: "EvtChildListCreateDevice", 0x18: "EvtChildListScanForChildren",
    0x20: "EvtChildListIdentificationDescriptionCopy", 0x28: "EvtChildListIdentificationDescriptionDuplicate",
    0x30: "EvtChildListIdentificationDescriptionCleanup", 0x38: "EvtChildListIdentificationDescriptionCompare",
    0x40: "EvtChildListAddressDescriptionCopy", 0x48: "EvtChildListAddressDescriptionDuplicate",
    0x50: "EvtChildListAddressDescriptionCleanup", 0x58: "EvtChildListDeviceReenumerated"})
#: WDF_CHILD_RETRIEVE_INFO (wdfchildlist.h): ULONG Size; IdentificationDescription; AddressDescription;
#: Status; EvtChildListIdentificationDescriptionCompare (+0x20).
CHILD_RETRIEVE_INFO = (0x28, {0x20: "EvtChildListIdentificationDescriptionCompare"})
#: INTERFACE (wdm.h), the head of every query interface: USHORT Size, Version; PVOID Context;
#: InterfaceReference; InterfaceDereference; then the interface's own routines (USB_BUS_INTERFACE_USBDI_V1's
#: from +0x20), as many as its Size says.
INTERFACE_FIELDS = {0x10: "InterfaceReference", 0x18: "InterfaceDereference"}
INTERFACE_ROUTINES = 0x20
#: Most bytes of an interface read when its Size is not known.
MAX_INTERFACE = 0x100


@dataclass(frozen=True)
class Nested:
    """A structure that a pointer field of a structure argument points to: WDF_QUERY_INTERFACE_CONFIG.Interface
    (+0x08) -> the INTERFACE the framework hands to drivers that query it."""

    arg: int
    at: int
    name: str


@dataclass(frozen=True)
class WdfApi:
    """A framework method that receives callbacks: its table index, and per structure argument the
    structure's size and callback fields (offset -> the field's documented name)."""

    name: str
    #: KMDF's WDFFUNCENUM index (None: a UMDF-only method; UMDF's indices are ``UMDF_INDICES``).
    index: Optional[int]
    structures: dict[int, tuple[int, dict[int, str]]]
    #: Arguments that are the callback itself: argument index -> the parameter's documented name.
    routines: dict[int, str] = field(default_factory=dict)
    #: An interface structure reached through a field of a structure argument.
    interface: Optional[Nested] = None


def _attributes(name: str, index: Optional[int], *args: int) -> WdfApi:
    """A method whose only callbacks are those of the WDF_OBJECT_ATTRIBUTES it takes at ``args``."""
    return WdfApi(name, index, {arg: OBJECT_ATTRIBUTES for arg in args})


#: The methods modelled (index from WDFFUNCENUM, wdffuncenum.h; argument positions from the PFN_WDF* typedefs
#: of the method's header, counting WdfDriverGlobals as 0).
WDF_APIS = (
    # WdfChildListCreate(Globals, Device, Config, ChildListAttributes, ChildList) (wdfchildlist.h)
    WdfApi("WdfChildListCreate", 0, {2: CHILD_LIST_CONFIG, 3: OBJECT_ATTRIBUTES}),
    # WdfChildListRetrievePdo(Globals, ChildList, RetrieveInfo)
    WdfApi("WdfChildListRetrievePdo", 2, {2: CHILD_RETRIEVE_INFO}),
    # WdfChildListRetrieveNextDevice(Globals, ChildList, Iterator, Device, Info)
    WdfApi("WdfChildListRetrieveNextDevice", 7, {4: CHILD_RETRIEVE_INFO}),
    _attributes("WdfCollectionCreate", 13, 1),
    # WdfCommonBufferCreate(Globals, DmaEnabler, Length, Attributes, CommonBuffer) (wdfcommonbuffer.h)
    _attributes("WdfCommonBufferCreate", 21, 3),
    # WdfControlDeviceInitSetShutdownNotification(Globals, DeviceInit, Notification, Flags) (wdfcontrol.h)
    WdfApi("WdfControlDeviceInitSetShutdownNotification", 26, {}, {2: "EvtDeviceShutdownNotification"}),
    # WdfDeviceOpenRegistryKey(Globals, Device, DeviceInstanceKeyType, DesiredAccess, KeyAttributes, Key)
    _attributes("WdfDeviceOpenRegistryKey", 48, 4),
    # WdfDeviceInitSetPnpPowerEventCallbacks(Globals, DeviceInit, PnpPowerEventCallbacks) (wdfdevice.h)
    WdfApi("WdfDeviceInitSetPnpPowerEventCallbacks", 55, {2: (0x90, {
        0x08: "EvtDeviceD0Entry", 0x10: "EvtDeviceD0EntryPostInterruptsEnabled", 0x18: "EvtDeviceD0Exit",
        0x20: "EvtDeviceD0ExitPreInterruptsDisabled", 0x28: "EvtDevicePrepareHardware",
        0x30: "EvtDeviceReleaseHardware", 0x38: "EvtDeviceSelfManagedIoCleanup",
        0x40: "EvtDeviceSelfManagedIoFlush", 0x48: "EvtDeviceSelfManagedIoInit",
        0x50: "EvtDeviceSelfManagedIoSuspend", 0x58: "EvtDeviceSelfManagedIoRestart",
        0x60: "EvtDeviceSurpriseRemoval", 0x68: "EvtDeviceQueryRemove", 0x70: "EvtDeviceQueryStop",
        0x78: "EvtDeviceUsageNotification", 0x80: "EvtDeviceRelationsQuery",
        0x88: "EvtDeviceUsageNotificationEx"})}),
    # WdfDeviceInitSetPowerPolicyEventCallbacks(Globals, DeviceInit, PowerPolicyEventCallbacks):
    # WDF_POWER_POLICY_EVENT_CALLBACKS, ULONG Size then seven callbacks.
    WdfApi("WdfDeviceInitSetPowerPolicyEventCallbacks", 56, {2: (0x40, {
        0x08: "EvtDeviceArmWakeFromS0", 0x10: "EvtDeviceDisarmWakeFromS0", 0x18: "EvtDeviceWakeFromS0Triggered",
        0x20: "EvtDeviceArmWakeFromSx", 0x28: "EvtDeviceDisarmWakeFromSx", 0x30: "EvtDeviceWakeFromSxTriggered",
        0x38: "EvtDeviceArmWakeFromSxWithReason"})}),
    # WdfDeviceInitRegister{Pnp,Power,PowerPolicy}StateChangeCallback(Globals, DeviceInit, State, Evt, Types)
    WdfApi("WdfDeviceInitRegisterPnpStateChangeCallback", 58, {}, {3: "EvtDevicePnpStateChange"}),
    WdfApi("WdfDeviceInitRegisterPowerStateChangeCallback", 59, {}, {3: "EvtDevicePowerStateChange"}),
    WdfApi("WdfDeviceInitRegisterPowerPolicyStateChangeCallback", 60, {}, {3: "EvtDevicePowerPolicyStateChange"}),
    # WdfDeviceInitSetFileObjectConfig(Globals, DeviceInit, FileObjectConfig, FileObjectAttributes)
    WdfApi("WdfDeviceInitSetFileObjectConfig", 71, {2: (0x28, {
        0x08: "EvtDeviceFileCreate", 0x10: "EvtFileClose", 0x18: "EvtFileCleanup"}), 3: OBJECT_ATTRIBUTES}),
    # WdfDeviceInitSetRequestAttributes(Globals, DeviceInit, RequestAttributes): every request's cleanup.
    _attributes("WdfDeviceInitSetRequestAttributes", 72, 2),
    # WdfDeviceInitAssignWdmIrpPreprocessCallback(Globals, DeviceInit, EvtDeviceWdmIrpPreprocess, MajorFunction,
    # MinorFunctions, NumMinorFunctions)
    WdfApi("WdfDeviceInitAssignWdmIrpPreprocessCallback", 73, {}, {2: "EvtDeviceWdmIrpPreprocess"}),
    # WdfDeviceInitSetIoInCallerContextCallback(Globals, DeviceInit, EvtIoInCallerContext)
    WdfApi("WdfDeviceInitSetIoInCallerContextCallback", 74, {}, {2: "EvtIoInCallerContext"}),
    # WdfDeviceCreate(Globals, DeviceInit *, DeviceAttributes, Device)
    _attributes("WdfDeviceCreate", 75, 2),
    # WdfDmaEnablerCreate(Globals, Device, Config, Attributes, DmaEnabler) (wdfdmaenabler.h): WDF_DMA_ENABLER_CONFIG
    # is ULONG Size; WDF_DMA_PROFILE Profile; size_t MaximumLength; then six callbacks from +0x10.
    WdfApi("WdfDmaEnablerCreate", 94, {2: (0x40, {
        0x10: "EvtDmaEnablerFill", 0x18: "EvtDmaEnablerFlush", 0x20: "EvtDmaEnablerDisable",
        0x28: "EvtDmaEnablerEnable", 0x30: "EvtDmaEnablerSelfManagedIoStart",
        0x38: "EvtDmaEnablerSelfManagedIoStop"}), 3: OBJECT_ATTRIBUTES}),
    # WdfDmaTransactionCreate(Globals, DmaEnabler, Attributes, DmaTransaction); Initialize(Globals, Transaction,
    # EvtProgramDmaFunction, ...); InitializeUsingRequest(Globals, Transaction, Request, EvtProgramDmaFunction, ...)
    _attributes("WdfDmaTransactionCreate", 98, 2),
    WdfApi("WdfDmaTransactionInitialize", 99, {}, {2: "EvtProgramDmaFunction"}),
    WdfApi("WdfDmaTransactionInitializeUsingRequest", 100, {}, {3: "EvtProgramDmaFunction"}),
    # WdfDpcCreate / WdfTimerCreate / WdfWorkItemCreate(Globals, Config, Attributes, Object)
    WdfApi("WdfDpcCreate", 111, {1: (0x18, {0x08: "EvtDpcFunc"}), 2: OBJECT_ATTRIBUTES}),
    # WdfDriverCreate(Globals, DriverObject, RegistryPath, DriverAttributes, DriverConfig, Driver)
    WdfApi("WdfDriverCreate", 116, {3: OBJECT_ATTRIBUTES, 4: (0x20, {0x08: "EvtDriverDeviceAdd",
                                                                       0x10: "EvtDriverUnload"})}),
    # WdfDriverOpenParametersRegistryKey(Globals, Driver, DesiredAccess, KeyAttributes, Key)
    _attributes("WdfDriverOpenParametersRegistryKey", 119, 3),
    # WdfFdoInitSetEventCallbacks(Globals, DeviceInit, FdoEventCallbacks) (wdffdo.h): WDF_FDO_EVENT_CALLBACKS
    WdfApi("WdfFdoInitSetEventCallbacks", 128, {2: (0x20, {
        0x08: "EvtDeviceFilterAddResourceRequirements", 0x10: "EvtDeviceFilterRemoveResourceRequirements",
        0x18: "EvtDeviceRemoveAddedResources"})}),
    # WdfFdoInitSetDefaultChildListConfig(Globals, DeviceInit, Config, DefaultChildListAttributes)
    WdfApi("WdfFdoInitSetDefaultChildListConfig", 130, {2: CHILD_LIST_CONFIG, 3: OBJECT_ATTRIBUTES}),
    # WdfInterruptCreate(Globals, Device, Configuration, Attributes, Interrupt) (wdfinterrupt.h)
    WdfApi("WdfInterruptCreate", 141, {2: (0x40, {
        0x18: "EvtInterruptIsr", 0x20: "EvtInterruptDpc", 0x28: "EvtInterruptEnable",
        0x30: "EvtInterruptDisable", 0x38: "EvtInterruptWorkItem"}), 3: OBJECT_ATTRIBUTES}),
    # WdfInterruptSynchronize(Globals, Interrupt, Callback, Context)
    WdfApi("WdfInterruptSynchronize", 143, {}, {2: "EvtInterruptSynchronize"}),
    # WdfIoQueueCreate(Globals, Device, Config, QueueAttributes, Queue) (wdfio.h)
    WdfApi("WdfIoQueueCreate", 152, {2: (0x60, {
        0x10: "EvtIoDefault", 0x18: "EvtIoRead", 0x20: "EvtIoWrite", 0x28: "EvtIoDeviceControl",
        0x30: "EvtIoInternalDeviceControl", 0x38: "EvtIoStop", 0x40: "EvtIoResume",
        0x48: "EvtIoCanceledOnQueue"}), 3: OBJECT_ATTRIBUTES}),
    # WdfIoQueue{Stop,Drain,Purge,ReadyNotify,StopAndPurge}(Globals, Queue, EvtIoQueueState, Context)
    WdfApi("WdfIoQueueStop", 155, {}, {2: "StopComplete"}),
    WdfApi("WdfIoQueueDrain", 163, {}, {2: "DrainComplete"}),
    WdfApi("WdfIoQueuePurge", 165, {}, {2: "PurgeComplete"}),
    WdfApi("WdfIoQueueReadyNotify", 166, {}, {2: "QueueReady"}),
    WdfApi("WdfIoQueueStopAndPurge", 418, {}, {2: "StopAndPurgeComplete"}),
    # WdfIoTargetCreate(Globals, Device, IoTargetAttributes, IoTarget) (wdfiotarget.h); WdfIoTargetOpen(Globals,
    # IoTarget, OpenParams): WDF_IO_TARGET_OPEN_PARAMS is ULONG Size; Type; then the three remove callbacks.
    _attributes("WdfIoTargetCreate", 167, 2),
    WdfApi("WdfIoTargetOpen", 168, {2: (0x20, {
        0x08: "EvtIoTargetQueryRemove", 0x10: "EvtIoTargetRemoveCanceled", 0x18: "EvtIoTargetRemoveComplete"})}),
    # WdfMemoryCreate(Globals, Attributes, PoolType, PoolTag, BufferSize, Memory, Buffer) (wdfmemory.h);
    # WdfMemoryCreatePreallocated(Globals, Attributes, Buffer, BufferSize, Memory); WdfLookasideListCreate(Globals,
    # LookasideAttributes, BufferSize, PoolType, MemoryAttributes, PoolTag, Lookaside)
    _attributes("WdfMemoryCreate", 192, 1),
    _attributes("WdfMemoryCreatePreallocated", 193, 1),
    _attributes("WdfLookasideListCreate", 198, 1, 4),
    # WdfObjectAllocateContext(Globals, Handle, ContextAttributes, Context); WdfObjectCreate(Globals, Attributes,
    # Object) (wdfobject.h)
    _attributes("WdfObjectAllocateContext", 203, 2),
    _attributes("WdfObjectCreate", 207, 1),
    # WdfPdoInitSetEventCallbacks(Globals, DeviceInit, DispatchTable) (wdfpdo.h): WDF_PDO_EVENT_CALLBACKS
    WdfApi("WdfPdoInitSetEventCallbacks", 211, {2: (0x40, {
        0x08: "EvtDeviceResourcesQuery", 0x10: "EvtDeviceResourceRequirementsQuery", 0x18: "EvtDeviceEject",
        0x20: "EvtDeviceSetLock", 0x28: "EvtDeviceEnableWakeAtBus", 0x30: "EvtDeviceDisableWakeAtBus",
        0x38: "EvtDeviceReportedMissing"})}),
    # WdfDeviceAddQueryInterface(Globals, Device, InterfaceConfig) (wdfqueryinterface.h): WDF_QUERY_INTERFACE_CONFIG
    # is ULONG Size; PINTERFACE Interface (+0x08); GUID *InterfaceType; BOOLEAN SendQueryToParentStack;
    # EvtDeviceProcessQueryInterfaceRequest (+0x20); BOOLEAN ImportInterface. The INTERFACE's routines are
    # called by the drivers that query it.
    WdfApi("WdfDeviceAddQueryInterface", 228, {2: (0x30, {0x20: "EvtDeviceProcessQueryInterfaceRequest"})},
           interface=Nested(2, 0x08, "Interface")),
    # WdfRegistryOpenKey(Globals, ParentKey, KeyName, DesiredAccess, KeyAttributes, Key); WdfRegistryCreateKey(
    # Globals, ParentKey, KeyName, DesiredAccess, CreateOptions, CreateDisposition, KeyAttributes, Key)
    _attributes("WdfRegistryOpenKey", 229, 4),
    _attributes("WdfRegistryCreateKey", 230, 6),
    # WdfRequestCreate(Globals, RequestAttributes, IoTarget, Request); WdfRequestCreateFromIrp(Globals,
    # RequestAttributes, Irp, RequestFreesIrp, Request) (wdfrequest.h)
    _attributes("WdfRequestCreate", 247, 1),
    _attributes("WdfRequestCreateFromIrp", 248, 1),
    # WdfRequestMarkCancelable(Globals, Request, EvtRequestCancel)
    WdfApi("WdfRequestMarkCancelable", 255, {}, {2: "EvtRequestCancel"}),
    # WdfRequestSetCompletionRoutine(Globals, Request, CompletionRoutine, CompletionContext)
    WdfApi("WdfRequestSetCompletionRoutine", 260, {}, {2: "CompletionRoutine"}),
    # WdfStringCreate(Globals, UnicodeString, StringAttributes, String) (wdfstring.h)
    _attributes("WdfStringCreate", 308, 2),
    # WdfWaitLockCreate / WdfSpinLockCreate(Globals, LockAttributes, Lock) (wdfsync.h)
    _attributes("WdfWaitLockCreate", 312, 1),
    _attributes("WdfSpinLockCreate", 315, 1),
    WdfApi("WdfTimerCreate", 318, {1: (0x20, {0x08: "EvtTimerFunc"}), 2: OBJECT_ATTRIBUTES}),
    # WdfUsbTargetDeviceCreate(Globals, Device, Attributes, UsbDevice) (wdfusb.h)
    _attributes("WdfUsbTargetDeviceCreate", 322, 2),
    # WdfUsbTargetPipeConfigContinuousReader(Globals, Pipe, Config): WDF_USB_CONTINUOUS_READER_CONFIG is ULONG
    # Size; size_t TransferLength, HeaderLength, TrailerLength; UCHAR NumPendingReads; BufferAttributes (+0x28);
    # EvtUsbTargetPipeReadComplete (+0x30); its context; EvtUsbTargetPipeReadersFailed (+0x40).
    WdfApi("WdfUsbTargetPipeConfigContinuousReader", 350, {2: (0x48, {
        0x30: "EvtUsbTargetPipeReadComplete", 0x40: "EvtUsbTargetPipeReadersFailed"})}),
    # WdfWmiProviderCreate(Globals, Device, WmiProviderConfig, ProviderAttributes, WmiProvider) (wdfwmi.h):
    # WDF_WMI_PROVIDER_CONFIG is ULONG Size; GUID Guid; ULONG Flags, MinInstanceBufferSize;
    # EvtWmiProviderFunctionControl (+0x20). WdfWmiInstanceCreate(Globals, Device, InstanceConfig,
    # InstanceAttributes, Instance): WDF_WMI_INSTANCE_CONFIG is ULONG Size; Provider; ProviderConfig; two
    # BOOLEANs; then four callbacks from +0x20.
    WdfApi("WdfWmiProviderCreate", 369, {2: (0x28, {0x20: "EvtWmiProviderFunctionControl"}), 3: OBJECT_ATTRIBUTES}),
    WdfApi("WdfWmiInstanceCreate", 373, {2: (0x40, {
        0x20: "EvtWmiInstanceQueryInstance", 0x28: "EvtWmiInstanceSetInstance", 0x30: "EvtWmiInstanceSetItem",
        0x38: "EvtWmiInstanceExecuteMethod"}), 3: OBJECT_ATTRIBUTES}),
    WdfApi("WdfWorkItemCreate", 379, {1: (0x18, {0x08: "EvtWorkItemFunc"}), 2: OBJECT_ATTRIBUTES}),
    # WdfRequestMarkCancelableEx(Globals, Request, EvtRequestCancel)
    WdfApi("WdfRequestMarkCancelableEx", 393, {}, {2: "EvtRequestCancel"}),
    # WdfDeviceConfigureWdmIrpDispatchCallback(Globals, Device, Driver, MajorFunction, EvtDeviceWdmIrpDispatch,
    # DriverContext)
    WdfApi("WdfDeviceConfigureWdmIrpDispatchCallback", 404, {}, {4: "EvtDeviceWdmIrpDispatch"}),
    # UMDF 2 only. WdfRequestImpersonate(Globals, Request, ImpersonationLevel, EvtRequestImpersonate, Context)
    # (wdfrequest.h); WdfDeviceInitSetCompanionEventCallbacks(Globals, DeviceInit, CompanionEventCallbacks) and
    # WdfCompanionCreate(Globals, DeviceInit, DeviceAttributes, Companion) (wdfcompanion.h):
    # WDF_COMPANION_EVENT_CALLBACKS is ULONG Size, then four callbacks from +0x08.
    WdfApi("WdfRequestImpersonate", None, {}, {3: "EvtRequestImpersonate"}),
    WdfApi("WdfDeviceInitSetCompanionEventCallbacks", None, {2: (0x28, {
        0x08: "EvtCompanionPreD0Entry", 0x10: "EvtCompanionPostD0Exit", 0x18: "EvtCompanionPrePrepareHardware",
        0x20: "EvtCompanionPostReleaseHardware"})}),
    _attributes("WdfCompanionCreate", None, 2),
)
#: UMDF 2's WDFFUNCENUM (wdffuncenum.h of UMDF 2.33; earlier versions are its prefixes) for the methods above
#: that UMDF has. The argument positions and structure layouts are KMDF's (the same headers' PFN typedefs).
UMDF_INDICES: Mapping[str, int] = {
    "WdfCollectionCreate": 0, "WdfDeviceOpenRegistryKey": 18, "WdfDeviceInitSetPnpPowerEventCallbacks": 19,
    "WdfDeviceInitSetPowerPolicyEventCallbacks": 20, "WdfDeviceInitSetFileObjectConfig": 23,
    "WdfDeviceInitSetRequestAttributes": 24, "WdfDeviceCreate": 25, "WdfDriverCreate": 57,
    "WdfDriverOpenParametersRegistryKey": 59, "WdfInterruptCreate": 72, "WdfInterruptSynchronize": 75,
    "WdfIoQueueCreate": 85, "WdfIoQueueStop": 88, "WdfIoQueueDrain": 96, "WdfIoQueuePurge": 98,
    "WdfIoQueueReadyNotify": 99, "WdfIoQueueStopAndPurge": 100, "WdfIoTargetCreate": 102, "WdfIoTargetOpen": 103,
    "WdfMemoryCreate": 117, "WdfMemoryCreatePreallocated": 118, "WdfObjectAllocateContext": 124,
    "WdfObjectCreate": 128, "WdfRegistryOpenKey": 131, "WdfRegistryCreateKey": 132, "WdfRequestCreate": 148,
    "WdfRequestMarkCancelable": 154, "WdfRequestMarkCancelableEx": 155, "WdfRequestSetCompletionRoutine": 160,
    "WdfRequestImpersonate": 178, "WdfStringCreate": 188, "WdfWaitLockCreate": 192, "WdfSpinLockCreate": 195,
    "WdfTimerCreate": 198, "WdfUsbTargetDeviceCreate": 202, "WdfUsbTargetPipeConfigContinuousReader": 225,
    "WdfWorkItemCreate": 243, "WdfDeviceConfigureWdmIrpDispatchCallback": 259, "WdfCompanionCreate": 261,
    "WdfDeviceInitSetCompanionEventCallbacks": 264,
}
#: Queue callbacks that receive an IOCTL: EvtIoDeviceControl(Queue, Request, OutputBufferLength,
#: InputBufferLength, IoControlCode), the code in the fifth parameter.
IOCTL_CALLBACKS = ("WdfIoQueueCreate.EvtIoDeviceControl", "WdfIoQueueCreate.EvtIoInternalDeviceControl")
IOCTL_PARAM = 4


@dataclass(frozen=True, eq=False)
class Framework:
    """One framework's function table: its WDF_BIND_INFO.Version.Major and the WDFFUNCENUM index of each method
    (compared by identity: there are two)."""

    name: str
    major: int
    indices: Mapping[str, int]


KMDF = Framework("KMDF", 1, {api.name: api.index for api in WDF_APIS if api.index is not None})
UMDF = Framework("UMDF", 2, UMDF_INDICES)
#: x64 sizes of WDF_BIND_INFO and of WDF_BIND_INFO2 (stub version 25 and later: the first followed by five
#: pointers; its Size says which).
BIND_INFO_SIZES = (0x30, 0x58)
#: Size (either), 4 bytes of padding and Component, then Version.Major 2: where a UMDF bind info may start.
_UMDF_BIND_HEAD = re.compile(b"(?=[" + bytes(BIND_INFO_SIZES) + rb"]\x00\x00\x00.{12}\x02\x00\x00\x00)", re.DOTALL)


def framework_of(memory: Memory, bind_info: int) -> Framework:
    """The framework a bind info names by its major version (2: UMDF; anything else read as KMDF, whose
    drivers import WdfVersionBind)."""
    raw = memory.read(bind_info + BIND_VERSION_MAJOR, 4)
    return UMDF if len(raw) == 4 and struct.unpack("<I", raw)[0] == UMDF.major else KMDF


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


def umdf_bind_infos(memory: Memory, image_base: int,
                    sections: Iterable[tuple[int, int, bool, bool]]) -> list[int]:
    """The UMDF WDF_BIND_INFOs in the image's data: 8-aligned, Size one of ``BIND_INFO_SIZES``, Component a
    pointer into the image, Version.Major 2, and a FuncCount and FuncTable ``function_table`` accepts (the
    stub initialises them statically; nothing calls an import with them)."""
    found = []
    for start, size, _writable, executable in sections:
        if executable:
            continue
        data = memory.read(start, size)
        for match in _UMDF_BIND_HEAD.finditer(data):
            at = match.start()
            if (start + at) % 8:
                continue
            (component,) = struct.unpack_from("<Q", data, at + 8)
            if not 0 < component - image_base < 1 << 32 or not memory.read(component - image_base, 2):
                continue
            if function_table(memory, image_base, start + at) is not None:
                found.append(start + at)
    return found


def table_names(count: int, framework: Framework = KMDF) -> dict[int, str]:
    """Byte offset in the function table -> method name, for the modelled methods the table has."""
    return {8 * index: name for name, index in framework.indices.items() if index < count}


def api_named(name: str) -> Optional[WdfApi]:
    return next((api for api in WDF_APIS if api.name == name), None)


def bind_info_address(values: frozenset) -> Optional[int]:
    """The WDF_BIND_INFO a WdfVersionBind call passes, when it is one global."""
    found = [v.rva for v in values if isinstance(v, Addr)]
    return found[0] if len(found) == 1 else None
