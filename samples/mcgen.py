#!/usr/bin/env python3
"""mc.exe-style fixtures: kernel drivers (``mc -km``; WDM and KMDF) and a user-mode DLL (``mc -um``) with their
ground truth.

Each image is an explicit model: a manifest provider (GUID, events with their descriptor fields and
template), and the functions of the image, each with its C body, the model functions it calls, the
events it writes and how code outside the image reaches it (its entry kinds, which the generated code
sets up: DriverEntry storing dispatch routines into DRIVER_OBJECT.MajorFunction, callbacks handed to
registration APIs, function-pointer tables in read-only data). From the model the script writes

* ``<name>events.h``: the provider header the way mc.exe lays one out (written from the documented
  structure of mc's generated headers, not copied): an ``MCGEN_TRACE_CONTEXT`` whose first field is the
  REGHANDLE, const ``EVENT_DESCRIPTOR`` globals, enable bits set by ``McGenControlCallbackV2``,
  ``McGenEventRegister``/``McGenEventUnregister``, ``McGenEventWrite`` (the REGHANDLE read from the
  context) and ``McTemplate*`` functions that pack ``EVENT_DATA_DESCRIPTOR`` arrays, named with the
  kernel (``_EtwRegister``/``_EtwWriteTransfer``) or user-mode (``_EventRegister``/``_EventWriteTransfer``)
  suffix; ``EventWrite<Event>()`` macros check the enable bit and call the template (events without
  data call McGenEventWrite themselves);
* ``<name>.c`` from the functions' bodies (``wdmlite.h`` holds the documented x64 layouts of the
  DRIVER_OBJECT, IRP and IO_STACK_LOCATION fields the driver touches);
* ``truth.json``: the rows the analyzer must report, computed from the model alone (rules below);

and builds ``O1/``, ``O2/``, ``Os/`` images with clang and lld-link (samples/toolchain.py's path-free cc1 command,
``/Brepro``, ``/opt:noicf``), importing ntoskrnl.exe / advapi32.dll / kernel32.dll through import
libraries made with llvm-dlltool from the ``.def`` files written here.

Truth rules (what README.md's output section documents). The event site of a write is the function
whose code names the descriptor (the ``EventWrite<Event>`` macro's caller); its call path ends with the
template and McGenEventWrite. API roots are the exports. A (provider, event, event site) reached by an
API root within ``--max-depth`` 5 gets one row per such root (``Entry`` = ``export``); otherwise one row
per outermost entry point reaching the site within the depth (``Function`` = that entry point, ``Entry``
= its kinds), else one row with ``Function`` = the event site and ``Entry`` = ``unreached``. ``Ioctl``:
for an IRP_MJ_DEVICE_CONTROL routine, the IOCTL codes of the switch cases whose code leads to the event.

Usage::

  python -m samples.mcgen [mcdriver|mcdll|mckmdf ...]     write sources and truth.json, build every level
  python -m samples.mcgen --sources [SAMPLE ...]          sources and truth.json only
  python -m samples.mcgen --check [SAMPLE ...]            committed sources/truth equal the model's; rebuild in
                                                          a temporary folder and compare images and PDBs
"""

from __future__ import annotations

import json
import re
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from samples import driver, toolchain
from samples.guid import guid_initializer

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"  # wdmlite.h, winlite.h, wdflite.h: documented layouts, copied verbatim into the fixtures

LEVELS = ("O1", "O2", "Os")
MAX_DEPTH = 5
TRUTH_FORMAT = 1
NAMESPACE = uuid.UUID("8a3f61d2-5b0e-4c47-9e21-7d54c0b3a9e6")  # every GUID here derives from it
FUNCTION_CODES = 0x800  # the first function code a vendor may use in CTL_CODE


def ctl_code(device: int, function: int, method: int = 0, access: int = 0) -> int:
    """CTL_CODE(DeviceType, Function, Method, Access) of devioctl.h."""
    return (device << 16) | (access << 14) | (function << 2) | method


# ------------------------------------------------------------------------------------------------ the model
@dataclass
class Event:
    symbol: str
    id: int
    level: int
    opcode: int
    task: int
    keyword: int
    #: Template fields: "q" = UINT32 (mc's InType win:UInt32), "x" = UINT64 (win:UInt64).
    args: str = ""
    version: int = 0
    channel: int = 0x10
    #: The Level the writer patches into its by-value copy of the descriptor (None: reported as declared).
    patched_level: Optional[int] = None


@dataclass
class Func:
    name: str
    signature: str                  # "NTSTATUS {name}(PDEVICE_OBJECT DeviceObject, PIRP Irp)"
    body: list[str]
    calls: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    #: How the generated code makes the function reachable from outside (the Entry kinds).
    entries: list[str] = field(default_factory=list)
    exported: bool = False
    #: IRP_MJ_DEVICE_CONTROL routines: callee or written event -> the IOCTL codes (None: default) leading to it.
    cases: dict[str, list[Optional[int]]] = field(default_factory=dict)


@dataclass
class Image:
    name: str
    mode: str                       # "km" or "um"
    provider: str                   # manifest provider name
    symbol: str                     # the provider's C symbol (mc's symbol attribute)
    events: list[Event]
    functions: list[Func]
    globals_: list[str]             # C declarations after the header (tables, pointers)
    imports: dict[str, list[str]]   # dll -> imported names
    entry: str
    #: "kmdf": a KMDF driver (wdflite.h beside wdmlite.h: the WDF function table and its structures).
    framework: str = ""

    @property
    def guid(self) -> str:
        return str(uuid.uuid5(NAMESPACE, self.provider))

    @property
    def file(self) -> str:
        return f"{self.name}.{'sys' if self.mode == 'km' else 'dll'}"


DEVICE = 0x8123  # a vendor device type (>= 0x8000)
IOCTL_START, IOCTL_STOP, IOCTL_QUERY, IOCTL_QUERY_EX, IOCTL_RESET = (
    ctl_code(DEVICE, FUNCTION_CODES + i) for i in range(5))
#: Internal IOCTLs of several device types and methods: too sparse for a jump table (a tree of compares).
INTERNAL_START, INTERNAL_PING, INTERNAL_STOP, INTERNAL_STOP_EX, INTERNAL_RESET = (
    ctl_code(DEVICE + i, FUNCTION_CODES + 0x100 * (i == 0) + i, method=i % 4) for i in range(5))


def driver_model() -> Image:
    """mcdriver.sys: DriverEntry, dispatch routines with an IOCTL switch, notify/DPC/thread callbacks, an ops table."""
    ev = [
        Event("DriverLoaded", 1, 4, 1, 1, 0x1, "q"),
        Event("DriverUnloading", 2, 4, 2, 1, 0x1),
        Event("DeviceAdded", 3, 4, 0, 2, 0x2, "q"),
        Event("DeviceOpened", 4, 5, 0, 2, 0x2, "q"),
        Event("IoctlStart", 10, 4, 1, 3, 0x4, "q"),
        Event("IoctlStop", 11, 4, 2, 3, 0x4, "q"),
        Event("IoctlQuery", 12, 5, 0, 3, 0x4, "qq"),
        Event("IoctlRejected", 13, 2, 0, 3, 0x4, "q"),
        Event("DeviceReset", 14, 3, 0, 4, 0x8, "q"),
        Event("InternalPing", 15, 5, 0, 3, 0x4, "q"),
        Event("ProcessSeen", 20, 5, 0, 5, 0x10, "qq"),
        Event("OpsOpened", 30, 5, 1, 6, 0x20, "x"),
        Event("OpsClosed", 31, 5, 2, 6, 0x20, "x"),
        Event("WorkerTick", 40, 5, 0, 7, 0x40, "q"),
        Event("DpcFired", 41, 5, 0, 7, 0x40),
        Event("LateHook", 50, 4, 0, 8, 0x80, "q"),
    ]
    f = [
        Func("WidgetReset", "NTSTATUS {name}(ULONG Reason)",
             ["g_ResetCount++;", "EventWriteDeviceReset(Reason);", "return STATUS_SUCCESS;"],
             writes=["DeviceReset"]),
        Func("WidgetHandleStart", "NTSTATUS {name}(PIRP Irp)",
             ["EventWriteIoctlStart(Irp->IoStatus.Status);", "g_Running = 1;", "return STATUS_SUCCESS;"],
             writes=["IoctlStart"]),
        Func("WidgetHandleStop", "NTSTATUS {name}(PIRP Irp)",
             ["EventWriteIoctlStop((ULONG)Irp->IoStatus.Information);", "g_Running = 0;", "return STATUS_SUCCESS;"],
             writes=["IoctlStop"]),
        Func("WidgetHandleQuery", "NTSTATUS {name}(PIRP Irp, ULONG Code)",
             ["/* Hands the caller an ops table; code outside the driver calls through it. */",
              "*(const WIDGET_OPS **)Irp->AssociatedIrp.SystemBuffer = &g_WidgetOps[Code & 1];",
              "EventWriteIoctlQuery(Code, (ULONG)Irp->IoStatus.Information);",
              "return STATUS_SUCCESS;"],
             writes=["IoctlQuery"]),
        Func("WidgetDeviceControl", "NTSTATUS {name}(PDEVICE_OBJECT DeviceObject, PIRP Irp)",
             ["PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);",
              "ULONG code = stack->Parameters.DeviceIoControl.IoControlCode;",
              "NTSTATUS status;",
              "(void)DeviceObject;",
              "switch (code) {",
              f"case 0x{IOCTL_START:X}: status = WidgetHandleStart(Irp); break;",
              f"case 0x{IOCTL_STOP:X}: status = WidgetHandleStop(Irp); break;",
              f"case 0x{IOCTL_QUERY:X}:",
              f"case 0x{IOCTL_QUERY_EX:X}: status = WidgetHandleQuery(Irp, code); break;",
              f"case 0x{IOCTL_RESET:X}: status = WidgetReset(code); break;",
              "default: EventWriteIoctlRejected(code); status = STATUS_INVALID_DEVICE_REQUEST; break;",
              "}",
              "Irp->IoStatus.Status = status;",
              "IofCompleteRequest(Irp, 0);",
              "return status;"],
             calls=["WidgetHandleStart", "WidgetHandleStop", "WidgetHandleQuery", "WidgetReset"],
             writes=["IoctlRejected"], entries=["IRP_MJ_DEVICE_CONTROL"],
             cases={"WidgetHandleStart": [IOCTL_START], "WidgetHandleStop": [IOCTL_STOP],
                    "WidgetHandleQuery": [IOCTL_QUERY, IOCTL_QUERY_EX], "WidgetReset": [IOCTL_RESET],
                    "IoctlRejected": [None]}),
        Func("WidgetInternalSwitch", "NTSTATUS {name}(ULONG Code, PIRP Irp)",
             ["NTSTATUS status = STATUS_NOT_SUPPORTED;",
              "switch (Code) {",
              f"case 0x{INTERNAL_START:X}: status = WidgetHandleStart(Irp); break;",
              f"case 0x{INTERNAL_PING:X}: EventWriteInternalPing(Code); status = STATUS_SUCCESS; break;",
              f"case 0x{INTERNAL_STOP:X}:",
              f"case 0x{INTERNAL_STOP_EX:X}: status = WidgetHandleStop(Irp); break;",
              f"case 0x{INTERNAL_RESET:X}: status = WidgetReset(Code); break;",
              "}",
              "return status;"],
             calls=["WidgetHandleStart", "WidgetHandleStop", "WidgetReset"], writes=["InternalPing"],
             cases={"WidgetHandleStart": [INTERNAL_START], "InternalPing": [INTERNAL_PING],
                    "WidgetHandleStop": [INTERNAL_STOP, INTERNAL_STOP_EX], "WidgetReset": [INTERNAL_RESET]}),
        Func("WidgetInternalControl", "NTSTATUS {name}(PDEVICE_OBJECT DeviceObject, PIRP Irp)",
             ["/* The switch is in a helper that receives the code. */",
              "PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);",
              "NTSTATUS status = WidgetInternalSwitch(stack->Parameters.DeviceIoControl.IoControlCode, Irp);",
              "(void)DeviceObject;",
              "Irp->IoStatus.Status = status;",
              "IofCompleteRequest(Irp, 0);",
              "return status;"],
             calls=["WidgetInternalSwitch"], entries=["IRP_MJ_INTERNAL_DEVICE_CONTROL"]),
        Func("WidgetCreateClose", "NTSTATUS {name}(PDEVICE_OBJECT DeviceObject, PIRP Irp)",
             ["PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);",
              "(void)DeviceObject;",
              "EventWriteDeviceOpened(stack->MajorFunction);",
              "Irp->IoStatus.Status = STATUS_SUCCESS;",
              "IofCompleteRequest(Irp, 0);",
              "return STATUS_SUCCESS;"],
             writes=["DeviceOpened"], entries=["IRP_MJ_CREATE", "IRP_MJ_CLOSE"]),
        Func("WidgetAddDevice", "NTSTATUS {name}(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT Pdo)",
             ["(void)DriverObject;", "EventWriteDeviceAdded((ULONG)(ULONG_PTR)Pdo);", "return STATUS_SUCCESS;"],
             writes=["DeviceAdded"], entries=["AddDevice"]),
        Func("WidgetUnload", "VOID {name}(PDRIVER_OBJECT DriverObject)",
             ["(void)DriverObject;",
              "PsSetCreateProcessNotifyRoutineEx(WidgetProcessNotify, TRUE);",
              "EventWriteDriverUnloading();",
              "McGenEventUnregister_EtwUnregister(&CONTOSO_WIDGET_DRIVER_Context.RegistrationHandle);"],
             writes=["DriverUnloading"], entries=["DriverUnload"]),
        Func("WidgetProcessNotify",
             "VOID {name}(PEPROCESS Process, HANDLE ProcessId, PPS_CREATE_NOTIFY_INFO CreateInfo)",
             ["(void)Process;",
              "EventWriteProcessSeen((ULONG)(ULONG_PTR)ProcessId, CreateInfo != NULL);",
              "g_ProcessCount++;"],
             writes=["ProcessSeen"], entries=["callback:PsSetCreateProcessNotifyRoutineEx"]),
        Func("WidgetOpsOpen", "NTSTATUS {name}(PVOID Buffer)",
             ["EventWriteOpsOpened((ULONGLONG)(ULONG_PTR)Buffer);", "return STATUS_SUCCESS;"],
             writes=["OpsOpened"], entries=["table:g_WidgetOps[0]", "table:g_WidgetOps[2]"]),
        Func("WidgetOpsClose", "NTSTATUS {name}(PVOID Buffer)",
             ["EventWriteOpsClosed((ULONGLONG)(ULONG_PTR)Buffer);", "return STATUS_SUCCESS;"],
             writes=["OpsClosed"], entries=["table:g_WidgetOps[1]", "table:g_WidgetOps[3]"]),
        Func("WidgetWorker", "VOID {name}(PVOID Context)",
             ["EventWriteWorkerTick((ULONG)(ULONG_PTR)Context);", "PsTerminateSystemThread(STATUS_SUCCESS);"],
             writes=["WorkerTick"], entries=["callback:PsCreateSystemThread"]),
        Func("WidgetDpc", "VOID {name}(PKDPC Dpc, PVOID Context, PVOID Arg1, PVOID Arg2)",
             ["(void)Dpc; (void)Context; (void)Arg1; (void)Arg2;", "EventWriteDpcFired();"],
             writes=["DpcFired"], entries=["callback:KeInitializeDpc"]),
        Func("WidgetLateHook", "VOID {name}(ULONG Value)",
             ["EventWriteLateHook(Value);", "EventWriteLateHook(Value + 1);"], writes=["LateHook"]),
        Func("DriverEntry", "NTSTATUS {name}(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)",
             ["HANDLE thread;",
              "NTSTATUS status;",
              "(void)RegistryPath;",
              "McGenEventRegister_EtwRegister(&CONTOSO_WIDGET_DRIVER, McGenControlCallbackV2,"
              " &CONTOSO_WIDGET_DRIVER_Context, &CONTOSO_WIDGET_DRIVER_Context.RegistrationHandle);",
              "DriverObject->MajorFunction[IRP_MJ_CREATE] = WidgetCreateClose;",
              "DriverObject->MajorFunction[IRP_MJ_CLOSE] = WidgetCreateClose;",
              "DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = WidgetDeviceControl;",
              "DriverObject->MajorFunction[IRP_MJ_INTERNAL_DEVICE_CONTROL] = WidgetInternalControl;",
              "DriverObject->DriverUnload = WidgetUnload;",
              "DriverObject->DriverExtension->AddDevice = WidgetAddDevice;",
              "KeInitializeDpc(&g_Dpc, WidgetDpc, NULL);",
              "status = PsSetCreateProcessNotifyRoutineEx(WidgetProcessNotify, FALSE);",
              "if (NT_SUCCESS(status))",
              "    status = PsCreateSystemThread(&thread, 0, NULL, NULL, NULL, WidgetWorker, DriverObject);",
              "WidgetReset(0);",
              "EventWriteDriverLoaded(status);",
              "return status;"],
             calls=["WidgetReset"], writes=["DriverLoaded"], entries=["entry"]),
    ]
    globals_ = [
        "typedef struct _WIDGET_OPS { NTSTATUS (*Open)(PVOID); NTSTATUS (*Close)(PVOID); } WIDGET_OPS;",
        "NTSTATUS WidgetOpsOpen(PVOID Buffer);",
        "NTSTATUS WidgetOpsClose(PVOID Buffer);",
        "VOID WidgetLateHook(ULONG Value);",
        "VOID WidgetProcessNotify(PEPROCESS Process, HANDLE ProcessId, PPS_CREATE_NOTIFY_INFO CreateInfo);",
        "/* An ops table in read-only data: the plain and the extended open/close pair. */",
        "static const WIDGET_OPS g_WidgetOps[2] = {{WidgetOpsOpen, WidgetOpsClose}, {WidgetOpsOpen, WidgetOpsClose}};",
        "/* A hook in writable data, called by code outside this image: nothing static reaches it. */",
        "VOID (*volatile g_LateHook)(ULONG) = WidgetLateHook;",
        "static KDPC g_Dpc;",
        "static volatile LONG g_ResetCount;",
        "static volatile LONG g_Running;",
        "static volatile LONG g_ProcessCount;",
    ]
    imports = {"ntoskrnl.exe": ["EtwRegister", "EtwUnregister", "EtwWriteTransfer", "IofCompleteRequest",
                                "KeInitializeDpc", "PsCreateSystemThread", "PsSetCreateProcessNotifyRoutineEx",
                                "PsTerminateSystemThread"]}
    return Image("mcdriver", "km", "Contoso-Widget-Driver", "CONTOSO_WIDGET_DRIVER", ev, f, globals_, imports,
                 "DriverEntry")


def dll_model() -> Image:
    """mcdll.dll: exports, a COM-style vtable in read-only data, a thread routine, DllMain."""
    ev = [
        Event("ClientLoaded", 1, 4, 1, 1, 0x1),
        Event("ClientOpened", 2, 4, 0, 2, 0x2, "q"),
        Event("ClientTrace", 3, 5, 0, 2, 0x2, "q"),
        Event("WidgetDrawn", 10, 5, 0, 3, 0x4, "qq"),
        Event("WidgetReleased", 11, 5, 2, 3, 0x4, "q"),
        Event("ThreadRunning", 20, 4, 1, 4, 0x8, "q"),
        Event("ThreadDone", 21, 4, 2, 4, 0x8, "q"),
        Event("PoolWorkRan", 22, 5, 0, 4, 0x8, "x"),
        Event("ServiceStarted", 30, 4, 1, 5, 0x10, "q"),
        Event("ServiceControl", 31, 4, 0, 5, 0x10, "qq"),
    ]
    f = [
        Func("WidgetTrace", "void {name}(ULONG Value)", ["EventWriteClientTrace(Value);"],
             writes=["ClientTrace"]),
        Func("WidgetAddRef", "ULONG STDMETHODCALLTYPE {name}(IWidget *This)",
             ["ULONG refs = (ULONG)InterlockedIncrement(&((WIDGET *)This)->Refs);", "WidgetTrace(refs);",
              "return refs;"],
             calls=["WidgetTrace"], entries=["table:g_WidgetVtbl[1]"]),
        Func("WidgetRelease", "ULONG STDMETHODCALLTYPE {name}(IWidget *This)",
             ["ULONG refs = (ULONG)InterlockedDecrement(&((WIDGET *)This)->Refs);",
              "EventWriteWidgetReleased(refs);", "return refs;"],
             writes=["WidgetReleased"], entries=["table:g_WidgetVtbl[2]"]),
        Func("WidgetDraw", "HRESULT STDMETHODCALLTYPE {name}(IWidget *This, ULONG X, ULONG Y)",
             ["((WIDGET *)This)->Draws++;", "EventWriteWidgetDrawn(X, Y);", "return 0;"],
             writes=["WidgetDrawn"], entries=["table:g_WidgetVtbl[3]"]),
        Func("WidgetQueryInterface", "HRESULT STDMETHODCALLTYPE {name}(IWidget *This, const GUID *Iid, void **Out)",
             ["(void)Iid;", "*Out = This;", "return 0;"], entries=["table:g_WidgetVtbl[0]"]),
        Func("WidgetThreadFinish", "DWORD {name}(DWORD Count)",
             ["EventWriteThreadDone(Count);", "return Count;"], writes=["ThreadDone"]),
        Func("WidgetThread", "DWORD WINAPI {name}(LPVOID Parameter)",
             ["DWORD count = (DWORD)(ULONG_PTR)Parameter;", "EventWriteThreadRunning(count);",
              "return WidgetThreadFinish(count + 1);"],
             calls=["WidgetThreadFinish"], writes=["ThreadRunning"], entries=["callback:CreateThread"]),
        Func("WidgetPoolWork", "VOID WINAPI {name}(PVOID Instance, PVOID Context)",
             ["(void)Instance;", "EventWritePoolWorkRan((ULONGLONG)(ULONG_PTR)Context);", "g_PoolRuns++;"],
             writes=["PoolWorkRan"], entries=["callback:TrySubmitThreadpoolCallback"]),
        Func("WidgetServiceHandler", "DWORD WINAPI {name}(DWORD Control, DWORD Type, LPVOID Data, LPVOID Context)",
             ["(void)Data; (void)Context;", "EventWriteServiceControl(Control, Type);", "return 0;"],
             writes=["ServiceControl"], entries=["callback:RegisterServiceCtrlHandlerExW"]),
        Func("WidgetServiceMain", "VOID WINAPI {name}(DWORD Argc, WCHAR **Argv)",
             ["(void)Argv;",
              "g_Status = RegisterServiceCtrlHandlerExW(g_ServiceName, WidgetServiceHandler, NULL);",
              "EventWriteServiceStarted(Argc);"],
             writes=["ServiceStarted"], entries=["callback:StartServiceCtrlDispatcherW"]),
        Func("WidgetClientServe", "__declspec(dllexport) BOOL {name}(void)",
             ["return StartServiceCtrlDispatcherW(g_ServiceTable);"], exported=True, entries=["export"]),
        Func("WidgetClientPool", "__declspec(dllexport) BOOL {name}(ULONG Value)",
             ["return TrySubmitThreadpoolCallback(WidgetPoolWork, (PVOID)(ULONG_PTR)Value, NULL);"],
             exported=True, entries=["export"]),
        Func("WidgetClientOpen", "__declspec(dllexport) ULONG {name}(ULONG Flags)",
             ["EventWriteClientOpened(Flags);", "WidgetTrace(Flags);", "return Flags;"],
             calls=["WidgetTrace"], writes=["ClientOpened"], exported=True, entries=["export"]),
        Func("WidgetClientCreate", "__declspec(dllexport) IWidget *{name}(void)",
             ["g_Widget.Base.lpVtbl = &g_WidgetVtbl;", "g_Widget.Refs = 1;", "return &g_Widget.Base;"],
             exported=True, entries=["export"]),
        Func("WidgetClientStart", "__declspec(dllexport) HANDLE {name}(ULONG Count)",
             ["return CreateThread(NULL, 0, WidgetThread, (LPVOID)(ULONG_PTR)Count, 0, NULL);"],
             exported=True, entries=["export"]),
        Func("DllMain", "BOOL WINAPI {name}(HINSTANCE Instance, DWORD Reason, LPVOID Reserved)",
             ["(void)Instance; (void)Reserved;",
              "if (Reason == DLL_PROCESS_ATTACH) {",
              "    McGenEventRegister_EventRegister(&CONTOSO_WIDGET_CLIENT, McGenControlCallbackV2,"
              " &CONTOSO_WIDGET_CLIENT_Context, &CONTOSO_WIDGET_CLIENT_Context.RegistrationHandle);",
              "    EventWriteClientLoaded();",
              "} else if (Reason == DLL_PROCESS_DETACH) {",
              "    McGenEventUnregister_EventUnregister(&CONTOSO_WIDGET_CLIENT_Context.RegistrationHandle);",
              "}",
              "return TRUE;"],
             writes=["ClientLoaded"], entries=["entry"]),
    ]
    globals_ = [
        "typedef struct IWidget IWidget;",
        "typedef struct IWidgetVtbl {",
        "    HRESULT (STDMETHODCALLTYPE *QueryInterface)(IWidget *This, const GUID *Iid, void **Out);",
        "    ULONG (STDMETHODCALLTYPE *AddRef)(IWidget *This);",
        "    ULONG (STDMETHODCALLTYPE *Release)(IWidget *This);",
        "    HRESULT (STDMETHODCALLTYPE *Draw)(IWidget *This, ULONG X, ULONG Y);",
        "} IWidgetVtbl;",
        "struct IWidget { const IWidgetVtbl *lpVtbl; };",
        "typedef struct WIDGET { IWidget Base; volatile LONG Refs; ULONG Draws; } WIDGET;",
        "HRESULT STDMETHODCALLTYPE WidgetQueryInterface(IWidget *This, const GUID *Iid, void **Out);",
        "ULONG STDMETHODCALLTYPE WidgetAddRef(IWidget *This);",
        "ULONG STDMETHODCALLTYPE WidgetRelease(IWidget *This);",
        "HRESULT STDMETHODCALLTYPE WidgetDraw(IWidget *This, ULONG X, ULONG Y);",
        "/* The vtable, in read-only data: code outside the DLL calls through it. */",
        "static const IWidgetVtbl g_WidgetVtbl = {WidgetQueryInterface, WidgetAddRef, WidgetRelease, WidgetDraw};",
        "static WIDGET g_Widget;",
        "VOID WINAPI WidgetServiceMain(DWORD Argc, WCHAR **Argv);",
        "static WCHAR g_ServiceName[] = L\"WidgetService\";",
        "/* The dispatcher table, in writable data as services usually keep it. */",
        "static SERVICE_TABLE_ENTRYW g_ServiceTable[] = {{g_ServiceName, WidgetServiceMain}, {NULL, NULL}};",
        "static PVOID g_Status;",
        "static volatile LONG g_PoolRuns;",
    ]
    imports = {"advapi32.dll": ["EventRegister", "EventUnregister", "EventWriteTransfer",
                                "RegisterServiceCtrlHandlerExW", "StartServiceCtrlDispatcherW"],
               "kernel32.dll": ["CreateThread", "TrySubmitThreadpoolCallback"]}
    return Image("mcdll", "um", "Contoso-Widget-Client", "CONTOSO_WIDGET_CLIENT", ev, f, globals_, imports, "DllMain")


KMDF_DEVICE = 0x8124  # another vendor device type
KMDF_GET_VERSION, KMDF_SET_MODE, KMDF_SET_MODE_EX, KMDF_RESET = (
    ctl_code(KMDF_DEVICE, FUNCTION_CODES + i, access=i % 3) for i in range(4))
KMDF_INTERNAL_PING = ctl_code(KMDF_DEVICE + 1, FUNCTION_CODES + 0x40)


def kmdf_model() -> Image:
    """mckmdf.sys: a KMDF driver. FxDriverEntry binds to the framework (WdfVersionBind fills the function
    table) and calls DriverEntry, which creates the WDF driver (EvtDriverDeviceAdd, EvtDriverUnload, an
    EvtCleanupCallback) and registers object and registry callbacks. EvtDriverDeviceAdd sets PnP/power
    callbacks (one a frameless tail jump, without unwind data), a file-create and an in-caller-context
    callback, creates two queues (read, write and device-control callbacks; an internal device-control
    callback, created by a helper given the configuration), a timer, a work item, a DPC and an interrupt, a child
    list (its create-device callback sets the child PDO's callbacks), power-policy callbacks, an object context
    with a destroy callback, a query interface, a queue-ready routine, a remote I/O target's remove callback
    and a WMI instance's query callback; the write callback sets a completion
    routine and a cancel routine. Every framework call goes through the function table. The read callback copies its
    descriptor with RtlMoveMemory and patches the Level."""
    ev = [
        Event("DriverStarted", 1, 4, 1, 1, 0x1, "q"),
        Event("DeviceAdded", 2, 4, 0, 2, 0x2, "q"),
        Event("DriverCleanedUp", 3, 4, 2, 1, 0x1),
        Event("DriverUnloaded", 4, 4, 2, 1, 0x1),
        Event("PowerUp", 5, 5, 1, 3, 0x4, "q"),
        Event("PowerDown", 6, 5, 2, 3, 0x4, "q"),
        Event("HardwareReady", 7, 4, 0, 3, 0x4),
        Event("IoctlVersion", 10, 5, 0, 4, 0x8, "q"),
        Event("IoctlMode", 11, 4, 0, 4, 0x8, "qq"),
        Event("IoctlUnknown", 12, 2, 0, 4, 0x8, "q"),
        Event("ReadDone", 20, 5, 0, 5, 0x10, patched_level=2),
        Event("WriteDone", 21, 5, 0, 5, 0x10, "x"),
        Event("InternalPing", 22, 5, 0, 5, 0x10, "q"),
        Event("HandleOpen", 30, 5, 0, 6, 0x20, "q"),
        Event("HandleDone", 31, 5, 0, 6, 0x20),
        Event("RegistryOp", 32, 5, 0, 6, 0x20, "q"),
        Event("FileOpened", 40, 5, 0, 7, 0x40, "x"),
        Event("TimerFired", 41, 5, 0, 7, 0x40, "x"),
        Event("WorkItemRan", 42, 5, 0, 7, 0x40, "x"),
        Event("DpcRan", 43, 5, 0, 7, 0x40, "x"),
        Event("InterruptSeen", 44, 5, 0, 7, 0x40, "q"),
        Event("RequestCompleted", 45, 5, 0, 5, 0x10, "x"),
        Event("RequestCanceled", 46, 3, 0, 5, 0x10, "x"),
        Event("RequestPreprocessed", 47, 5, 0, 5, 0x10, "x"),
        Event("ThreadHandleOpen", 33, 5, 0, 6, 0x20, "q"),
        Event("ChildCreated", 50, 4, 0, 8, 0x80, "q"),
        Event("ChildEjected", 51, 4, 0, 8, 0x80, "x"),
        Event("ChildCompared", 52, 5, 0, 8, 0x80, "q"),
        Event("WakeArmed", 53, 4, 0, 3, 0x4, "x"),
        Event("QueueReady", 54, 5, 0, 5, 0x10, "q"),
        Event("ContextDestroyed", 55, 5, 0, 7, 0x40, "x"),
        Event("InterfaceReferenced", 56, 5, 0, 9, 0x100, "x"),
        Event("InterfacePinged", 57, 5, 0, 9, 0x100, "q"),
        Event("TargetRemoving", 58, 4, 0, 10, 0x200, "x"),
        Event("WmiQueried", 59, 5, 0, 10, 0x200, "q"),
    ]
    f = [
        Func("KmdfReset", "NTSTATUS {name}(ULONG Reason)",
             ["g_Resets++;", "return STATUS_SUCCESS;"]),
        Func("KmdfHandleVersion", "NTSTATUS {name}(WDFREQUEST Request)",
             ["EventWriteIoctlVersion((ULONG)(ULONG_PTR)Request);", "return STATUS_SUCCESS;"],
             writes=["IoctlVersion"]),
        Func("KmdfIoDeviceControl", "VOID {name}(WDFQUEUE Queue, WDFREQUEST Request, SIZE_T OutputBufferLength,"
             " SIZE_T InputBufferLength, ULONG IoControlCode)",
             ["(void)Queue; (void)InputBufferLength;",
              "switch (IoControlCode) {",
              f"case 0x{KMDF_GET_VERSION:X}: g_Status = KmdfHandleVersion(Request); break;",
              f"case 0x{KMDF_SET_MODE:X}:",
              f"case 0x{KMDF_SET_MODE_EX:X}: EventWriteIoctlMode(IoControlCode, (ULONG)OutputBufferLength);"
              " break;",
              f"case 0x{KMDF_RESET:X}: g_Status = KmdfReset(IoControlCode); break;",
              "default: EventWriteIoctlUnknown(IoControlCode); break;",
              "}"],
             calls=["KmdfHandleVersion", "KmdfReset"], writes=["IoctlMode", "IoctlUnknown"],
             entries=["callback:WdfIoQueueCreate.EvtIoDeviceControl"],
             cases={"KmdfHandleVersion": [KMDF_GET_VERSION], "IoctlMode": [KMDF_SET_MODE, KMDF_SET_MODE_EX],
                    "KmdfReset": [KMDF_RESET], "IoctlUnknown": [None]}),
        Func("KmdfIoInternal", "VOID {name}(WDFQUEUE Queue, WDFREQUEST Request, SIZE_T OutputBufferLength,"
             " SIZE_T InputBufferLength, ULONG IoControlCode)",
             ["(void)Queue; (void)Request; (void)OutputBufferLength; (void)InputBufferLength;",
              f"if (IoControlCode == 0x{KMDF_INTERNAL_PING:X}) EventWriteInternalPing(IoControlCode);"],
             writes=["InternalPing"], entries=["callback:WdfIoQueueCreate.EvtIoInternalDeviceControl"],
             cases={"InternalPing": [KMDF_INTERNAL_PING]}),
        Func("KmdfIoRead", "VOID {name}(WDFQUEUE Queue, WDFREQUEST Request, SIZE_T Length)",
             ["/* The descriptor copied by a call, then patched: reported as ReadDone with the patched Level. */",
              "EVENT_DESCRIPTOR Descriptor;",
              "(void)Queue; (void)Request; (void)Length;",
              "RtlMoveMemory(&Descriptor, &ReadDone, sizeof Descriptor);",
              "Descriptor.Level = 2;",
              "if (EventEnabledReadDone())",
              "    McGenEventWrite_EtwWriteTransfer(&CONTOSO_KMDF_DRIVER_Context, &Descriptor, NULL, 0, NULL);"
              " /* writes ReadDone */"],
             writes=["ReadDone"], entries=["callback:WdfIoQueueCreate.EvtIoRead"]),
        Func("KmdfCompletion", "VOID {name}(WDFREQUEST Request, WDFIOTARGET Target, PVOID Params, PVOID Context)",
             ["(void)Target; (void)Params; (void)Context;",
              "EventWriteRequestCompleted((ULONGLONG)(ULONG_PTR)Request);"],
             writes=["RequestCompleted"], entries=["callback:WdfRequestSetCompletionRoutine.CompletionRoutine"]),
        Func("KmdfCancel", "VOID {name}(WDFREQUEST Request)",
             ["EventWriteRequestCanceled((ULONGLONG)(ULONG_PTR)Request);"],
             writes=["RequestCanceled"], entries=["callback:WdfRequestMarkCancelable.EvtRequestCancel"]),
        Func("KmdfIoWrite", "VOID {name}(WDFQUEUE Queue, WDFREQUEST Request, SIZE_T Length)",
             ["(void)Queue;",
              "WdfRequestSetCompletionRoutine(Request, KmdfCompletion, NULL);",
              "WdfRequestMarkCancelable(Request, KmdfCancel);",
              "EventWriteWriteDone((ULONGLONG)Length);"],
             writes=["WriteDone"], entries=["callback:WdfIoQueueCreate.EvtIoWrite"]),
        Func("KmdfPowerTrace", "NTSTATUS {name}(ULONG State, ULONG Up)",
             ["if (Up) EventWritePowerUp(State); else EventWritePowerDown(State);", "return g_Status;"],
             writes=["PowerUp", "PowerDown"]),
        Func("KmdfD0Entry", "NTSTATUS {name}(WDFDEVICE Device, WDF_POWER_DEVICE_STATE PreviousState)",
             ["(void)Device;", "g_Powered = 1;", "return KmdfPowerTrace(PreviousState, 1);"],
             calls=["KmdfPowerTrace"], entries=["callback:WdfDeviceInitSetPnpPowerEventCallbacks.EvtDeviceD0Entry"]),
        Func("KmdfD0Exit", "NTSTATUS {name}(WDFDEVICE Device, WDF_POWER_DEVICE_STATE TargetState)",
             ["/* Only a tail jump: no frame, so no unwind data; known only from the pointer registered. */",
              "(void)Device;", "return KmdfPowerTrace(TargetState, 0);"],
             calls=["KmdfPowerTrace"], entries=["callback:WdfDeviceInitSetPnpPowerEventCallbacks.EvtDeviceD0Exit"]),
        Func("KmdfPrepareHardware", "NTSTATUS {name}(WDFDEVICE Device, WDFCMRESLIST Raw, WDFCMRESLIST Translated)",
             ["(void)Device; (void)Raw; (void)Translated;", "EventWriteHardwareReady();", "return STATUS_SUCCESS;"],
             writes=["HardwareReady"],
             entries=["callback:WdfDeviceInitSetPnpPowerEventCallbacks.EvtDevicePrepareHardware"]),
        Func("KmdfFileCreate", "VOID {name}(WDFDEVICE Device, WDFREQUEST Request, WDFFILEOBJECT FileObject)",
             ["(void)Device; (void)Request;", "EventWriteFileOpened((ULONGLONG)(ULONG_PTR)FileObject);"],
             writes=["FileOpened"], entries=["callback:WdfDeviceInitSetFileObjectConfig.EvtDeviceFileCreate"]),
        Func("KmdfInCallerContext", "VOID {name}(WDFDEVICE Device, WDFREQUEST Request)",
             ["(void)Device;", "EventWriteRequestPreprocessed((ULONGLONG)(ULONG_PTR)Request);"],
             writes=["RequestPreprocessed"],
             entries=["callback:WdfDeviceInitSetIoInCallerContextCallback.EvtIoInCallerContext"]),
        Func("KmdfWorkItem", "VOID {name}(WDFWORKITEM WorkItem)",
             ["EventWriteWorkItemRan((ULONGLONG)(ULONG_PTR)WorkItem);"],
             writes=["WorkItemRan"], entries=["callback:WdfWorkItemCreate.EvtWorkItemFunc"]),
        Func("KmdfDpc", "VOID {name}(WDFDPC Dpc)",
             ["EventWriteDpcRan((ULONGLONG)(ULONG_PTR)Dpc);"],
             writes=["DpcRan"], entries=["callback:WdfDpcCreate.EvtDpcFunc"]),
        Func("KmdfIsr", "BOOLEAN {name}(WDFINTERRUPT Interrupt, ULONG MessageId)",
             ["(void)Interrupt;", "EventWriteInterruptSeen(MessageId);", "return TRUE;"],
             writes=["InterruptSeen"], entries=["callback:WdfInterruptCreate.EvtInterruptIsr"]),
        Func("KmdfTimer", "VOID {name}(WDFTIMER Timer)",
             ["EventWriteTimerFired((ULONGLONG)(ULONG_PTR)Timer);"],
             writes=["TimerFired"], entries=["callback:WdfTimerCreate.EvtTimerFunc"]),
        Func("KmdfCreateQueue", "NTSTATUS {name}(WDFDEVICE Device, WDF_IO_QUEUE_CONFIG *Config)",
             ["/* The configuration comes from the caller's frame: the callbacks are its. */",
              "WDFQUEUE queue;",
              "return WdfIoQueueCreate(Device, Config, WDF_NO_OBJECT_ATTRIBUTES, &queue);"]),
        Func("KmdfEject", "NTSTATUS {name}(WDFDEVICE Device)",
             ["EventWriteChildEjected((ULONGLONG)(ULONG_PTR)Device);", "return STATUS_SUCCESS;"],
             writes=["ChildEjected"], entries=["callback:WdfPdoInitSetEventCallbacks.EvtDeviceEject"]),
        Func("KmdfCreateChild", "NTSTATUS {name}(WDFCHILDLIST ChildList, PWDF_CHILD_IDENTIFICATION_DESCRIPTION_HEADER"
             " Identification, PWDFDEVICE_INIT ChildInit)",
             ["/* A bus driver's child: the PDO's own callbacks set on the WDFDEVICE_INIT the framework hands over. */",
              "WDF_PDO_EVENT_CALLBACKS pdo;",
              "(void)ChildList;",
              "WDF_PDO_EVENT_CALLBACKS_INIT(&pdo);",
              "pdo.EvtDeviceEject = KmdfEject;",
              "WdfPdoInitSetEventCallbacks(ChildInit, &pdo);",
              "EventWriteChildCreated(Identification->IdentificationDescriptionSize);",
              "return STATUS_SUCCESS;"],
             writes=["ChildCreated"],
             entries=["callback:WdfFdoInitSetDefaultChildListConfig.EvtChildListCreateDevice"]),
        Func("KmdfCompareChild", "BOOLEAN {name}(WDFCHILDLIST ChildList, PWDF_CHILD_IDENTIFICATION_DESCRIPTION_HEADER"
             " First, PWDF_CHILD_IDENTIFICATION_DESCRIPTION_HEADER Second)",
             ["(void)ChildList;", "EventWriteChildCompared(First->IdentificationDescriptionSize);",
              "return First->IdentificationDescriptionSize == Second->IdentificationDescriptionSize;"],
             writes=["ChildCompared"],
             entries=["callback:WdfChildListRetrieveNextDevice.EvtChildListIdentificationDescriptionCompare",
                      "callback:WdfFdoInitSetDefaultChildListConfig.EvtChildListIdentificationDescriptionCompare"]),
        Func("KmdfArmWake", "NTSTATUS {name}(WDFDEVICE Device)",
             ["EventWriteWakeArmed((ULONGLONG)(ULONG_PTR)Device);", "return STATUS_SUCCESS;"],
             writes=["WakeArmed"],
             entries=["callback:WdfDeviceInitSetPowerPolicyEventCallbacks.EvtDeviceArmWakeFromS0"]),
        Func("KmdfFindChild", "NTSTATUS {name}(WDFCHILDLIST List)",
             ["/* The compare callback in a WDF_CHILD_RETRIEVE_INFO passed as the fifth (stack) argument. */",
              "WDF_CHILD_LIST_ITERATOR iterator;",
              "WDF_CHILD_RETRIEVE_INFO info;",
              "WDF_CHILD_IDENTIFICATION_DESCRIPTION_HEADER id;",
              "WDFDEVICE child;",
              "id.IdentificationDescriptionSize = sizeof id;",
              "WDF_CHILD_LIST_ITERATOR_INIT(&iterator, 1);",
              "WDF_CHILD_RETRIEVE_INFO_INIT(&info, &id);",
              "info.EvtChildListIdentificationDescriptionCompare = KmdfCompareChild;",
              "return WdfChildListRetrieveNextDevice(List, &iterator, &child, &info);"]),
        Func("KmdfQueueReady", "VOID {name}(WDFQUEUE Queue, WDFCONTEXT Context)",
             ["(void)Queue;", "g_Status = KmdfFindChild((WDFCHILDLIST)Context);", "EventWriteQueueReady(g_Status);"],
             calls=["KmdfFindChild"], writes=["QueueReady"], entries=["callback:WdfIoQueueReadyNotify.QueueReady"]),
        Func("KmdfContextDestroy", "VOID {name}(WDFOBJECT Object)",
             ["EventWriteContextDestroyed((ULONGLONG)(ULONG_PTR)Object);"],
             writes=["ContextDestroyed"], entries=["callback:WdfObjectAllocateContext.EvtDestroyCallback"]),
        Func("KmdfInterfaceReference", "VOID {name}(PVOID Context)",
             ["EventWriteInterfaceReferenced((ULONGLONG)(ULONG_PTR)Context);"],
             writes=["InterfaceReferenced"],
             entries=["callback:WdfDeviceAddQueryInterface.InterfaceDereference",
                      "callback:WdfDeviceAddQueryInterface.InterfaceReference"]),
        Func("KmdfInterfacePing", "VOID {name}(PVOID Context, ULONG Value)",
             ["(void)Context;", "EventWriteInterfacePinged(Value);"],
             writes=["InterfacePinged"], entries=["callback:WdfDeviceAddQueryInterface.Interface+0x20"]),
        Func("KmdfAddInterface", "NTSTATUS {name}(WDFDEVICE Device)",
             ["/* The interface and its configuration both on the stack; the configuration points to the interface. */",
              "CONTOSO_PING_INTERFACE ping;",
              "WDF_QUERY_INTERFACE_CONFIG config;",
              "ping.Header.Size = sizeof ping;",
              "ping.Header.Version = 1;",
              "ping.Header.Context = Device;",
              "ping.Header.InterfaceReference = KmdfInterfaceReference;",
              "ping.Header.InterfaceDereference = KmdfInterfaceReference;",
              "ping.Ping = KmdfInterfacePing;",
              "WDF_QUERY_INTERFACE_CONFIG_INIT(&config, &ping.Header, &g_PingInterface, NULL);",
              "return WdfDeviceAddQueryInterface(Device, &config);"]),
        Func("KmdfTargetQueryRemove", "NTSTATUS {name}(WDFIOTARGET IoTarget)",
             ["EventWriteTargetRemoving((ULONGLONG)(ULONG_PTR)IoTarget);", "return STATUS_SUCCESS;"],
             writes=["TargetRemoving"], entries=["callback:WdfIoTargetOpen.EvtIoTargetQueryRemove"]),
        Func("KmdfWmiQuery", "NTSTATUS {name}(WDFWMIINSTANCE WmiInstance, ULONG OutBufferSize, PVOID OutBuffer,"
             " ULONG *BufferUsed)",
             ["(void)WmiInstance; (void)OutBuffer;", "*BufferUsed = 0;", "EventWriteWmiQueried(OutBufferSize);",
              "return STATUS_SUCCESS;"],
             writes=["WmiQueried"], entries=["callback:WdfWmiInstanceCreate.EvtWmiInstanceQueryInstance"]),
        Func("KmdfOpenTargets", "NTSTATUS {name}(WDFDEVICE Device)",
             ["/* A remote I/O target opened with remove callbacks, and a WMI instance with its query callback. */",
              "WDF_IO_TARGET_OPEN_PARAMS open;",
              "WDF_WMI_PROVIDER_CONFIG provider;",
              "WDF_WMI_INSTANCE_CONFIG instance;",
              "NTSTATUS status;",
              "__builtin_memset(&open, 0, sizeof open);",
              "open.Size = sizeof open;",
              "open.Type = 1;",
              "open.EvtIoTargetQueryRemove = KmdfTargetQueryRemove;",
              "status = WdfIoTargetOpen(g_Target, &open);",
              "if (!NT_SUCCESS(status)) return status;",
              "__builtin_memset(&provider, 0, sizeof provider);",
              "provider.Size = sizeof provider;",
              "provider.Guid = g_PingInterface;",
              "provider.MinInstanceBufferSize = sizeof(ULONG);",
              "__builtin_memset(&instance, 0, sizeof instance);",
              "instance.Size = sizeof instance;",
              "instance.ProviderConfig = &provider;",
              "instance.Register = 1;",
              "instance.EvtWmiInstanceQueryInstance = KmdfWmiQuery;",
              "return WdfWmiInstanceCreate(Device, &instance, WDF_NO_OBJECT_ATTRIBUTES, WDF_NO_HANDLE);"]),
        Func("KmdfSetupChildren", "VOID {name}(PWDFDEVICE_INIT DeviceInit)",
             ["/* A bus FDO: its default child list and, as power policy owner, its wake callbacks. */",
              "WDF_CHILD_LIST_CONFIG children;",
              "WDF_POWER_POLICY_EVENT_CALLBACKS policy;",
              "WDF_CHILD_LIST_CONFIG_INIT(&children, sizeof(WDF_CHILD_IDENTIFICATION_DESCRIPTION_HEADER),"
              " KmdfCreateChild);",
              "children.EvtChildListIdentificationDescriptionCompare = KmdfCompareChild;",
              "WdfFdoInitSetDefaultChildListConfig(DeviceInit, &children, WDF_NO_OBJECT_ATTRIBUTES);",
              "WDF_POWER_POLICY_EVENT_CALLBACKS_INIT(&policy);",
              "policy.EvtDeviceArmWakeFromS0 = KmdfArmWake;",
              "WdfDeviceInitSetPowerPolicyEventCallbacks(DeviceInit, &policy);"]),
        Func("KmdfDeviceAdd", "NTSTATUS {name}(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)",
             ["WDF_PNPPOWER_EVENT_CALLBACKS pnp;",
              "WDF_FILEOBJECT_CONFIG files;",
              "WDF_IO_QUEUE_CONFIG queue;",
              "WDF_TIMER_CONFIG timer;",
              "WDF_WORKITEM_CONFIG work;",
              "WDF_DPC_CONFIG dpc;",
              "WDF_INTERRUPT_CONFIG interrupt;",
              "WDF_OBJECT_ATTRIBUTES context;",
              "WDFDEVICE device;",
              "WDFQUEUE handle;",
              "WDFTIMER ticker;",
              "WDFWORKITEM item;",
              "WDFDPC deferred;",
              "WDFINTERRUPT line;",
              "NTSTATUS status;",
              "(void)Driver;",
              "WDF_PNPPOWER_EVENT_CALLBACKS_INIT(&pnp);",
              "pnp.EvtDeviceD0Entry = KmdfD0Entry;",
              "pnp.EvtDeviceD0Exit = KmdfD0Exit;",
              "pnp.EvtDevicePrepareHardware = KmdfPrepareHardware;",
              "WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, &pnp);",
              "WDF_FILEOBJECT_CONFIG_INIT(&files, KmdfFileCreate, NULL, NULL);",
              "WdfDeviceInitSetFileObjectConfig(DeviceInit, &files, WDF_NO_OBJECT_ATTRIBUTES);",
              "WdfDeviceInitSetIoInCallerContextCallback(DeviceInit, KmdfInCallerContext);",
              "KmdfSetupChildren(DeviceInit);",
              "status = WdfDeviceCreate(&DeviceInit, WDF_NO_OBJECT_ATTRIBUTES, &device);",
              "if (!NT_SUCCESS(status)) return status;",
              "WDF_OBJECT_ATTRIBUTES_INIT(&context);",
              "context.EvtDestroyCallback = KmdfContextDestroy;",
              "status = WdfObjectAllocateContext(device, &context, &g_Context);",
              "if (NT_SUCCESS(status)) status = KmdfAddInterface(device);",
              "if (NT_SUCCESS(status)) status = KmdfOpenTargets(device);",
              "if (!NT_SUCCESS(status)) return status;",
              "WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&queue, WdfIoQueueDispatchSequential);",
              "queue.EvtIoRead = KmdfIoRead;",
              "queue.EvtIoWrite = KmdfIoWrite;",
              "queue.EvtIoDeviceControl = KmdfIoDeviceControl;",
              "status = WdfIoQueueCreate(device, &queue, WDF_NO_OBJECT_ATTRIBUTES, &handle);",
              "if (!NT_SUCCESS(status)) return status;",
              "status = WdfIoQueueReadyNotify(handle, KmdfQueueReady, NULL);",
              "if (!NT_SUCCESS(status)) return status;",
              "WDF_IO_QUEUE_CONFIG_INIT(&queue, WdfIoQueueDispatchParallel);",
              "queue.EvtIoInternalDeviceControl = KmdfIoInternal;",
              "status = KmdfCreateQueue(device, &queue);",
              "WDF_TIMER_CONFIG_INIT(&timer, KmdfTimer);",
              "if (NT_SUCCESS(status)) status = WdfTimerCreate(&timer, WDF_NO_OBJECT_ATTRIBUTES, &ticker);",
              "WDF_WORKITEM_CONFIG_INIT(&work, KmdfWorkItem);",
              "if (NT_SUCCESS(status)) status = WdfWorkItemCreate(&work, WDF_NO_OBJECT_ATTRIBUTES, &item);",
              "WDF_DPC_CONFIG_INIT(&dpc, KmdfDpc);",
              "if (NT_SUCCESS(status)) status = WdfDpcCreate(&dpc, WDF_NO_OBJECT_ATTRIBUTES, &deferred);",
              "WDF_INTERRUPT_CONFIG_INIT(&interrupt, KmdfIsr, NULL);",
              "if (NT_SUCCESS(status)) status = WdfInterruptCreate(device, &interrupt, WDF_NO_OBJECT_ATTRIBUTES, &line);",
              "EventWriteDeviceAdded(status);",
              "return status;"],
             calls=["KmdfCreateQueue", "KmdfSetupChildren", "KmdfAddInterface", "KmdfOpenTargets"], writes=["DeviceAdded"],
             entries=["callback:WdfDriverCreate.EvtDriverDeviceAdd"]),
        Func("KmdfDriverUnload", "VOID {name}(WDFDRIVER Driver)",
             ["(void)Driver;", "ObUnRegisterCallbacks(g_ObHandle);", "CmUnRegisterCallback(g_Cookie);",
              "EventWriteDriverUnloaded();",
              "McGenEventUnregister_EtwUnregister(&CONTOSO_KMDF_DRIVER_Context.RegistrationHandle);"],
             writes=["DriverUnloaded"], entries=["callback:WdfDriverCreate.EvtDriverUnload"]),
        Func("KmdfDriverCleanup", "VOID {name}(WDFOBJECT Object)",
             ["(void)Object;", "EventWriteDriverCleanedUp();"],
             writes=["DriverCleanedUp"], entries=["callback:WdfDriverCreate.EvtCleanupCallback"]),
        Func("KmdfPreOperation", "OB_PREOP_CALLBACK_STATUS {name}(PVOID Context, POB_PRE_OPERATION_INFORMATION Info)",
             ["(void)Context;", "EventWriteHandleOpen((ULONG)(ULONG_PTR)Info);", "return OB_PREOP_SUCCESS;"],
             writes=["HandleOpen"], entries=["callback:ObRegisterCallbacks.PreOperation"]),
        Func("KmdfPostOperation", "VOID {name}(PVOID Context, POB_POST_OPERATION_INFORMATION Info)",
             ["(void)Context; (void)Info;", "EventWriteHandleDone();"],
             writes=["HandleDone"], entries=["callback:ObRegisterCallbacks.PostOperation"]),
        Func("KmdfThreadPreOperation",
             "OB_PREOP_CALLBACK_STATUS {name}(PVOID Context, POB_PRE_OPERATION_INFORMATION Info)",
             ["(void)Context;", "EventWriteThreadHandleOpen((ULONG)(ULONG_PTR)Info);", "return OB_PREOP_SUCCESS;"],
             writes=["ThreadHandleOpen"], entries=["callback:ObRegisterCallbacks.PreOperation"]),
        Func("KmdfProtectThreads", "NTSTATUS {name}(VOID)",
             ["/* The registration and its operations both on the stack, as the WDK's ObCallback sample has them. */",
              "OB_OPERATION_REGISTRATION operations[1];",
              "OB_CALLBACK_REGISTRATION registration;",
              "operations[0].ObjectType = PsThreadType;",
              "operations[0].Operations = OB_OPERATION_HANDLE_CREATE;",
              "operations[0].PreOperation = KmdfThreadPreOperation;",
              "operations[0].PostOperation = NULL;",
              "registration.Version = OB_FLT_REGISTRATION_VERSION;",
              "registration.OperationRegistrationCount = 1;",
              "registration.Altitude = g_Altitude;",
              "registration.RegistrationContext = NULL;",
              "registration.OperationRegistration = operations;",
              "return ObRegisterCallbacks(&registration, &g_ObThreadHandle);"]),
        Func("KmdfRegistryCallback", "NTSTATUS {name}(PVOID Context, PVOID Argument1, PVOID Argument2)",
             ["(void)Context; (void)Argument2;", "EventWriteRegistryOp((ULONG)(ULONG_PTR)Argument1);",
              "return STATUS_SUCCESS;"],
             writes=["RegistryOp"], entries=["callback:CmRegisterCallbackEx"]),
        Func("DriverEntry", "NTSTATUS {name}(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)",
             ["WDF_DRIVER_CONFIG config;",
              "WDF_OBJECT_ATTRIBUTES attributes;",
              "OB_CALLBACK_REGISTRATION registration;",
              "NTSTATUS status;",
              "McGenEventRegister_EtwRegister(&CONTOSO_KMDF_DRIVER, McGenControlCallbackV2,"
              " &CONTOSO_KMDF_DRIVER_Context, &CONTOSO_KMDF_DRIVER_Context.RegistrationHandle);",
              "WDF_DRIVER_CONFIG_INIT(&config, KmdfDeviceAdd);",
              "config.EvtDriverUnload = KmdfDriverUnload;",
              "WDF_OBJECT_ATTRIBUTES_INIT(&attributes);",
              "attributes.EvtCleanupCallback = KmdfDriverCleanup;",
              "status = WdfDriverCreate(DriverObject, RegistryPath, &attributes, &config, WDF_NO_HANDLE);",
              "if (!NT_SUCCESS(status)) return status;",
              "/* Object callbacks: the operations in a global (the object type filled at run time). */",
              "g_ObOperations[0].ObjectType = PsProcessType;",
              "g_ObOperations[1].ObjectType = PsThreadType;",
              "registration.Version = OB_FLT_REGISTRATION_VERSION;",
              "registration.OperationRegistrationCount = 2;",
              "registration.Altitude = g_Altitude;",
              "registration.RegistrationContext = NULL;",
              "registration.OperationRegistration = g_ObOperations;",
              "status = ObRegisterCallbacks(&registration, &g_ObHandle);",
              "if (NT_SUCCESS(status)) status = KmdfProtectThreads();",
              "if (NT_SUCCESS(status))",
              "    status = CmRegisterCallbackEx(KmdfRegistryCallback, &g_Altitude, DriverObject, NULL,"
              " &g_Cookie, NULL);",
              "EventWriteDriverStarted(status);",
              "return status;"],
             calls=["KmdfProtectThreads"], writes=["DriverStarted"]),
        Func("FxDriverEntry", "NTSTATUS {name}(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)",
             ["/* What the KMDF stub library does: bind to the framework, then run the driver's DriverEntry. */",
              "NTSTATUS status = WdfVersionBind(DriverObject, RegistryPath, &WdfBindInfo, &WdfDriverGlobals);",
              "if (!NT_SUCCESS(status)) return status;",
              "return DriverEntry(DriverObject, RegistryPath);"],
             calls=["DriverEntry"], entries=["entry"]),
    ]
    globals_ = [
        "OB_PREOP_CALLBACK_STATUS KmdfPreOperation(PVOID Context, POB_PRE_OPERATION_INFORMATION Info);",
        "VOID KmdfPostOperation(PVOID Context, POB_POST_OPERATION_INFORMATION Info);",
        "/* The framework's table, filled by the loader through WdfBindInfo.FuncTable. */",
        "WDFFUNC *WdfFunctions_01015;",
        "PWDF_DRIVER_GLOBALS WdfDriverGlobals;",
        "static WCHAR g_Component[] = L\"KmdfLibrary\";",
        "WDF_BIND_INFO WdfBindInfo = {sizeof(WDF_BIND_INFO), g_Component, {1, 15, 0}, WdfFunctionCount,"
        " &WdfFunctions_01015, NULL};",
        "static WCHAR g_AltitudeText[] = L\"385201\";",
        "static UNICODE_STRING g_Altitude = {sizeof(g_AltitudeText) - 2, sizeof(g_AltitudeText), g_AltitudeText};",
        "static OB_OPERATION_REGISTRATION g_ObOperations[2] = {",
        "    {NULL, OB_OPERATION_HANDLE_CREATE | OB_OPERATION_HANDLE_DUPLICATE, KmdfPreOperation, KmdfPostOperation},",
        "    {NULL, OB_OPERATION_HANDLE_CREATE, KmdfPreOperation, NULL}};",
        "static PVOID g_ObHandle;",
        "static PVOID g_ObThreadHandle;",
        "static LONGLONG g_Cookie;",
        "static volatile LONG g_Resets;",
        "static volatile LONG g_Powered;",
        "static volatile NTSTATUS g_Status;",
        "static PVOID g_Context;",
        "static WDFIOTARGET g_Target;",
        "/* A query interface of our own: the INTERFACE head, then its routine. */",
        "typedef VOID CONTOSO_PING(PVOID Context, ULONG Value);",
        "typedef struct _CONTOSO_PING_INTERFACE { INTERFACE Header; CONTOSO_PING *Ping; } CONTOSO_PING_INTERFACE;",
        f"static const GUID g_PingInterface = {guid_initializer(str(uuid.uuid5(NAMESPACE, 'Contoso-Ping-Interface')))};",
    ]
    imports = {"ntoskrnl.exe": ["CmRegisterCallbackEx", "CmUnRegisterCallback", "EtwRegister", "EtwUnregister",
                                "EtwWriteTransfer", "ObRegisterCallbacks", "ObUnRegisterCallbacks", "PsProcessType",
                                "PsThreadType", "RtlMoveMemory", "memcpy", "memset"],
               "WDFLDR.SYS": ["WdfVersionBind"]}
    return Image("mckmdf", "km", "Contoso-Kmdf-Driver", "CONTOSO_KMDF_DRIVER", ev, f, globals_, imports,
                 "FxDriverEntry", framework="kmdf")


MODELS = {"mcdriver": driver_model, "mcdll": dll_model, "mckmdf": kmdf_model}


# ------------------------------------------------------------------------------------------------ C sources


_ARG_C = {"q": "const unsigned int", "x": "const unsigned long long"}


def template_name(image: Image, args: str) -> str:
    return f"McTemplate{'K' if image.mode == 'km' else 'U'}0{args}"


def events_header(image: Image) -> str:
    """The provider header, laid out as mc.exe's generated headers are (structure documented; code ours)."""
    km = image.mode == "km"
    sym = image.symbol
    register = "McGenEventRegister_EtwRegister" if km else "McGenEventRegister_EventRegister"
    unregister = "McGenEventUnregister_EtwUnregister" if km else "McGenEventUnregister_EventUnregister"
    write = "McGenEventWrite_EtwWriteTransfer" if km else "McGenEventWrite_EventWriteTransfer"
    reg_api, unreg_api, write_api = ("EtwRegister", "EtwUnregister", "EtwWriteTransfer") if km else (
        "EventRegister", "EventUnregister", "EventWriteTransfer")
    n = len(image.events)
    words = (n + 31) // 32
    lines = [
        f"/* {image.name}events.h: provider {image.provider}, in the layout of an mc.exe -{image.mode} header. */",
        "#pragma once",
        "",
        "typedef struct _EVENT_DESCRIPTOR {",
        "    USHORT Id; UCHAR Version; UCHAR Channel; UCHAR Level; UCHAR Opcode; USHORT Task; ULONGLONG Keyword;",
        "} EVENT_DESCRIPTOR;",
        "typedef const EVENT_DESCRIPTOR *PCEVENT_DESCRIPTOR;",
        "typedef struct _EVENT_DATA_DESCRIPTOR { ULONGLONG Ptr; ULONG Size; ULONG Reserved; } EVENT_DATA_DESCRIPTOR;",
        "typedef EVENT_DATA_DESCRIPTOR *PEVENT_DATA_DESCRIPTOR;",
        "typedef struct _EVENT_FILTER_DESCRIPTOR *PEVENT_FILTER_DESCRIPTOR;",
        "typedef VOID (*PENABLECALLBACK)(LPCGUID SourceId, ULONG ControlCode, UCHAR Level, ULONGLONG MatchAny,",
        "                                ULONGLONG MatchAll, PEVENT_FILTER_DESCRIPTOR FilterData, PVOID Context);",
        f"DECLSPEC_IMPORT ULONG {reg_api}(LPCGUID ProviderId, PENABLECALLBACK Callback, PVOID Context,"
        " PREGHANDLE RegHandle);",
        f"DECLSPEC_IMPORT ULONG {unreg_api}(REGHANDLE RegHandle);",
        f"DECLSPEC_IMPORT ULONG {write_api}(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR Descriptor, LPCGUID ActivityId,",
        "                                  LPCGUID RelatedActivityId, ULONG Count, PEVENT_DATA_DESCRIPTOR Data);",
        "",
        "/* Per-provider state: the REGHANDLE first, then what the enable callback last received. */",
        "typedef struct _MCGEN_TRACE_CONTEXT {",
        "    TRACEHANDLE RegistrationHandle;",
        "    TRACEHANDLE Logger;",
        "    ULONGLONG MatchAnyKeyword;",
        "    ULONGLONG MatchAllKeyword;",
        "    ULONG Flags;",
        "    ULONG IsEnabled;",
        "    UCHAR Level;",
        "    UCHAR Reserve;",
        "    USHORT EnableBitsCount;",
        "    PULONG EnableBitMask;",
        "    const ULONGLONG *EnableKeyWords;",
        "    const UCHAR *EnableLevel;",
        "} MCGEN_TRACE_CONTEXT, *PMCGEN_TRACE_CONTEXT;",
        "typedef const MCGEN_TRACE_CONTEXT *PCMCGEN_TRACE_CONTEXT;",
        "",
        f"__declspec(selectany) const GUID {sym} = {guid_initializer(image.guid)};",
        f"__declspec(selectany) ULONG {sym}_EnableBits[{words}];",
        f"__declspec(selectany) const ULONGLONG {sym}_Keywords[{n}] = {{"
        + ", ".join(f"0x{e.keyword:x}" for e in image.events) + "};",
        f"__declspec(selectany) const UCHAR {sym}_Levels[{n}] = {{"
        + ", ".join(str(e.level) for e in image.events) + "};",
        f"__declspec(selectany) MCGEN_TRACE_CONTEXT {sym}_Context = {{0, 0, 0, 0, 0, 0, 0, 0, {n},"
        f" {sym}_EnableBits, {sym}_Keywords, {sym}_Levels}};",
        f"#define {sym}Handle ({sym}_Context.RegistrationHandle)",
        "",
    ]
    for e in image.events:
        lines.append(f"__declspec(selectany) const EVENT_DESCRIPTOR {e.symbol} = {{0x{e.id:x}, 0x{e.version:x},"
                     f" 0x{e.channel:x}, 0x{e.level:x}, 0x{e.opcode:x}, 0x{e.task:x}, 0x{e.keyword:x}}};")
    lines += [
        "",
        "/* The enable callback: records the session's level and keywords and sets one enable bit per event. */",
        "DECLSPEC_NOINLINE __inline VOID McGenControlCallbackV2(LPCGUID SourceId, ULONG ControlCode, UCHAR Level,",
        "        ULONGLONG MatchAny, ULONGLONG MatchAll, PEVENT_FILTER_DESCRIPTOR FilterData, PVOID CallbackContext)",
        "{",
        "    PMCGEN_TRACE_CONTEXT Ctx = (PMCGEN_TRACE_CONTEXT)CallbackContext;",
        "    ULONG Ix;",
        "    (void)SourceId; (void)FilterData;",
        "    if (Ctx == NULL) return;",
        "    Ctx->Level = Level; Ctx->MatchAnyKeyword = MatchAny; Ctx->MatchAllKeyword = MatchAll;",
        "    Ctx->IsEnabled = ControlCode == 1;",
        "    for (Ix = 0; Ix < Ctx->EnableBitsCount; Ix++) {",
        "        int on = Ctx->IsEnabled && (Ctx->Level == 0 || Ctx->EnableLevel[Ix] <= Ctx->Level) &&",
        "                 (Ctx->EnableKeyWords[Ix] == 0 || ((Ctx->EnableKeyWords[Ix] & Ctx->MatchAnyKeyword) &&",
        "                  (Ctx->EnableKeyWords[Ix] & Ctx->MatchAllKeyword) == Ctx->MatchAllKeyword));",
        "        if (on) Ctx->EnableBitMask[Ix >> 5] |= 1u << (Ix % 32);",
        "        else Ctx->EnableBitMask[Ix >> 5] &= ~(1u << (Ix % 32));",
        "    }",
        "}",
        "",
        f"DECLSPEC_NOINLINE __inline ULONG {register}(LPCGUID ProviderId, PENABLECALLBACK EnableCallback,",
        "        PVOID CallbackContext, PREGHANDLE RegHandle)",
        "{",
        "    if (*RegHandle) return 0;",
        f"    return {reg_api}(ProviderId, EnableCallback, CallbackContext, RegHandle);",
        "}",
        "",
        f"DECLSPEC_NOINLINE __inline ULONG {unregister}(PREGHANDLE RegHandle)",
        "{",
        "    ULONG Error;",
        "    if (!*RegHandle) return 0;",
        f"    Error = {unreg_api}(*RegHandle);",
        "    *RegHandle = 0;",
        "    return Error;",
        "}",
        "",
        "/* Every write goes through here: the REGHANDLE is read from the context, the descriptor passed on. */",
        f"DECLSPEC_NOINLINE __inline ULONG {write}(PCMCGEN_TRACE_CONTEXT Context, PCEVENT_DESCRIPTOR Descriptor,",
        "        LPCGUID ActivityId, ULONG EventDataCount, PEVENT_DATA_DESCRIPTOR EventData)",
        "{",
        f"    return {write_api}(Context->RegistrationHandle, Descriptor, ActivityId, NULL, EventDataCount, EventData);",
        "}",
        "",
    ]
    for args in sorted({e.args for e in image.events if e.args}):
        params = ", ".join(f"{_ARG_C[a]} _Arg{i}" for i, a in enumerate(args))
        lines += [f"DECLSPEC_NOINLINE __inline ULONG {template_name(image, args)}(PCMCGEN_TRACE_CONTEXT Context,"
                  f" PCEVENT_DESCRIPTOR Descriptor, {params})",
                  "{",
                  f"    EVENT_DATA_DESCRIPTOR EventData[{len(args)}];"]
        for i, a in enumerate(args):
            lines.append(f"    EventData[{i}].Ptr = (ULONGLONG)(ULONG_PTR)&_Arg{i}; EventData[{i}].Size ="
                         f" sizeof({_ARG_C[a]}); EventData[{i}].Reserved = 0;")
        lines += [f"    return {write}(Context, Descriptor, NULL, {len(args)}, EventData);", "}", ""]
    for bit, e in enumerate(image.events):
        enabled = f"(({sym}_EnableBits[{bit >> 5}] & 0x{1 << (bit % 32):08x}u) != 0)"
        lines.append(f"#define EventEnabled{e.symbol}() {enabled}")
        if e.args:
            names = ", ".join(f"a{i}" for i in range(len(e.args)))
            lines.append(f"#define EventWrite{e.symbol}({names}) (EventEnabled{e.symbol}() ?"
                         f" {template_name(image, e.args)}(&{sym}_Context, &{e.symbol}, {names}) : 0)")
        else:
            lines.append(f"#define EventWrite{e.symbol}() (EventEnabled{e.symbol}() ?"
                         f" {write}(&{sym}_Context, &{e.symbol}, NULL, 0, NULL) : 0)")
    return "\n".join(lines) + "\n"


def c_source(image: Image) -> str:
    lines = [f"/* {image.file}: generated by samples/mcgen.py from its model. */",
             f'#include "{"wdmlite.h" if image.mode == "km" else "winlite.h"}"']
    lines += ['#include "wdflite.h"'] if image.framework == "kmdf" else []
    lines += [f'#include "{image.name}events.h"', ""]
    lines += image.globals_ + [""]
    for func in image.functions:
        sig = func.signature.format(name=func.name)
        lines.append(sig if func.exported or func.entries == ["entry"] else "DECLSPEC_NOINLINE " + sig)
        lines.append("{")
        lines += ["    " + stmt for stmt in func.body]
        lines += ["}", ""]
    return "\n".join(lines)


def def_files(image: Image) -> dict[str, str]:
    return {dll.split(".")[0] + ".def": f"LIBRARY {dll}\nEXPORTS\n" + "".join(f"{n}\n" for n in names)
            for dll, names in image.imports.items()}


def sources(image: Image) -> dict[str, str]:
    out = {f"{image.name}events.h": events_header(image), f"{image.name}.c": c_source(image)}
    lite = ["wdmlite.h" if image.mode == "km" else "winlite.h"] + (["wdflite.h"] if image.framework == "kmdf" else [])
    out.update({name: (TEMPLATES / name).read_text(encoding="utf-8") for name in lite})
    out.update(def_files(image))
    return out


def check_model(image: Image) -> None:
    """The model's calls and writes are what the bodies say (so the truth describes the code)."""
    names = {f.name for f in image.functions}
    symbols = {e.symbol for e in image.events}
    for func in image.functions:
        text = "\n".join(func.body)
        writes = set(re.findall(r"\bEventWrite(\w+)\(", text)) | set(re.findall(r"/\* writes (\w+) \*/", text))
        calls = {n for n in names if re.search(rf"\b{n}\(", text) and n != func.name}
        assert writes == set(func.writes) and writes <= symbols, (func.name, writes)
        assert calls == set(func.calls), (func.name, calls)


# ------------------------------------------------------------------------------------------------ truth
def truth(image: Image) -> dict:
    """The rows the analyzer must report, from the model (see the module docstring for the rules)."""
    funcs = {f.name: f for f in image.functions}
    callers: dict[str, list[str]] = {}
    for func in image.functions:
        for callee in func.calls:
            callers.setdefault(callee, []).append(func.name)
    events = {e.symbol: e for e in image.events}
    rows = []
    for site in image.functions:
        for symbol in site.writes:
            event = events[symbol]
            suffix = 3 if event.args else 2  # site -> [template ->] McGenEventWrite
            budget = MAX_DEPTH - suffix
            dist: dict[str, int] = {site.name: 0}
            nxt: dict[str, Optional[str]] = {site.name: None}
            queue = deque([site.name])
            while queue:
                node = queue.popleft()
                if dist[node] >= budget:
                    continue
                for caller in sorted(callers.get(node, [])):
                    if caller not in dist:
                        dist[caller], nxt[caller] = dist[node] + 1, node
                        queue.append(caller)
            roots = [r for r in dist if funcs[r].exported]
            if not roots:
                reaching = [r for r in dist if funcs[r].entries]
                inner = {r for r in reaching for other in reaching if other != r and _reaches(funcs, other, r)}
                roots = [r for r in reaching if r not in inner]
            for root in sorted(roots):
                rows.append({"Function": root, "Entry": sorted(funcs[root].entries), "EventSite": site.name,
                             "Ioctl": _ioctl_along(funcs, root, nxt, symbol),
                             "ProviderGuid": image.guid, "EventDescriptorSymbol": symbol, "Id": event.id})
            if not roots:
                rows.append({"Function": site.name, "Entry": ["unreached"], "EventSite": site.name, "Ioctl": "",
                             "ProviderGuid": image.guid, "EventDescriptorSymbol": symbol, "Id": event.id})
    rows.sort(key=lambda r: (r["Function"], r["Id"], r["EventSite"]))
    return {
        "format": TRUTH_FORMAT, "sample": image.name, "file": image.file, "mode": image.mode,
        "max_depth": MAX_DEPTH, "levels": list(LEVELS),
        "provider": {"name": image.provider, "guid": image.guid, "symbol": image.symbol},
        "events": [{"symbol": e.symbol, "id": e.id, "version": e.version, "channel": e.channel, "level": e.level,
                    "opcode": e.opcode, "task": e.task, "keyword": e.keyword, "template": e.args,
                    **({"patched_level": e.patched_level} if e.patched_level is not None else {})}
                   for e in image.events],
        "functions": [{"name": f.name, "exported": f.exported, "entries": f.entries, "calls": f.calls,
                       "writes": f.writes} for f in image.functions],
        "rows": rows,
    }


def _reaches(funcs: dict[str, Func], start: str, goal: str) -> bool:
    seen, stack = {start}, [start]
    while stack:
        for callee in funcs[stack.pop()].calls:
            if callee == goal:
                return True
            if callee not in seen:
                seen.add(callee)
                stack.append(callee)
    return False


def _ioctl_along(funcs: dict[str, Func], root: str, nxt: dict[str, Optional[str]], symbol: str) -> str:
    """The cases of the first function on the path from a DEVICE_CONTROL routine whose switch leads on."""
    if not any(k in IOCTL_ENTRIES for k in funcs[root].entries):
        return ""
    func: Optional[str] = root
    while func is not None:
        hop = nxt[func] or symbol
        if hop in funcs[func].cases:
            return _ioctl_text(funcs[func].cases[hop])
        func = nxt[func]
    return ""


#: Entry kinds whose routine receives an IOCTL code (the IRP's, or a KMDF queue callback's IoControlCode).
IOCTL_ENTRIES = ("IRP_MJ_DEVICE_CONTROL", "IRP_MJ_INTERNAL_DEVICE_CONTROL",
                 "callback:WdfIoQueueCreate.EvtIoDeviceControl", "callback:WdfIoQueueCreate.EvtIoInternalDeviceControl")


def _ioctl_text(cases: Optional[list[Optional[int]]]) -> str:
    if not cases:
        return ""
    named = [f"0x{c:x}" for c in sorted(c for c in cases if c is not None)]
    return ",".join(named + (["default"] if None in cases else []))


# ------------------------------------------------------------------------------------------------ build
def write_sources(image: Image, out: Path) -> list[str]:
    check_model(image)
    written = []
    for name, text in sorted(sources(image).items()):
        (out / name).write_text(text, encoding="utf-8", newline="\n")
        written.append(name)
    (out / "truth.json").write_text(json.dumps(truth(image), indent=1) + "\n", encoding="utf-8", newline="\n")
    return written


def link_flags(image: Image) -> list[str]:
    ext = image.file.rsplit(".", 1)[1]
    common = ["/nologo", "/machine:x64", "/debug", "/Brepro", f"/pdbaltpath:{image.name}.pdb", "/pdbsourcepath:.",
              "/nodefaultlib", "/opt:ref", "/opt:noicf", f"/entry:{image.entry}", f"/out:{image.name}.{ext}",
              f"/pdb:{image.name}.pdb"]
    if image.mode == "km":
        return common + ["/subsystem:native", "/driver"]
    return common + ["/dll"]


def build(image: Image, sample_dir: Path, levels: tuple[str, ...] = LEVELS) -> None:
    """Compile and link each level into LEVEL/NAME.{sys,dll} + NAME.pdb, from the sources in ``sample_dir``."""
    for level in levels:
        out = sample_dir / level
        out.mkdir(exist_ok=True)
        libs = []
        for dll in image.imports:
            stem = dll.split(".")[0]
            toolchain.import_library(f"../{stem}.def", f"{stem}.lib", out)
            libs.append(f"{stem}.lib")
        flags = [f"--target={toolchain.TARGET}", f"-{level}", *toolchain.DEBUG_FLAGS]
        toolchain.compile_c(f"{image.name}.c", f"{level}/{image.name}.obj", sample_dir, flags)
        toolchain.link(link_flags(image) + [f"{image.name}.obj"] + libs, out)
        toolchain.remove_intermediates(out)


def fixture(name: str) -> driver.Fixture:
    """One image as a committed fixture: its sources and truth.json from the model, then its three builds."""
    image = MODELS[name]()
    ext = image.file.rsplit(".", 1)[1]
    files = sorted(sources(image)) + ["truth.json"]
    images = [f"{level}/{image.name}.{e}" for level in LEVELS for e in (ext, "pdb")]

    def write(out: Path) -> None:
        write_sources(MODELS[name](), out)

    def build_all(out: Path) -> None:
        write(out)
        build(MODELS[name](), out)

    return driver.Fixture(name, HERE / name, tuple(files + images), build_all,
                          tools=(*toolchain.BUILD_TOOLS, "llvm-dlltool"), sources=write)


FIXTURES = tuple(fixture(name) for name in MODELS)

if __name__ == "__main__":
    raise SystemExit(driver.main(FIXTURES, __doc__.splitlines()[0]))
