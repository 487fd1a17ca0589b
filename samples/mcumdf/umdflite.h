/* The UMDF 2 part of the few WDF types, x64 structure layouts and function-table indices this driver uses, from
   the documented WDF headers of UMDF 2.33 (wdf.h, wdfrequest.h, wdfcompanion.h, wdffuncenum.h) and the bind
   information the framework's stub shares with KMDF (fxldr.h; offsets checked below); what UMDF shares with
   KMDF is in wdfobjects.h. Not the WDK headers. */
#pragma once
typedef LONG NTSTATUS;
#define NT_SUCCESS(s) ((NTSTATUS)(s) >= 0)
#define STATUS_SUCCESS ((NTSTATUS)0)
#define STATUS_INVALID_PARAMETER ((NTSTATUS)0xC000000DL)
typedef long long LONGLONG;
typedef struct _UNICODE_STRING { USHORT Length; USHORT MaximumLength; WCHAR *Buffer; } UNICODE_STRING,
    *PUNICODE_STRING;
typedef struct _DRIVER_OBJECT *PDRIVER_OBJECT;
#include "wdfobjects.h"

/* From stub version 25 on the driver passes WDF_BIND_INFO2: the bind information with Size =
   sizeof(WDF_BIND_INFO2), then five pointers to the driver's globals. */
typedef struct _WDF_BIND_INFO2 {
    WDF_BIND_INFO V1;
    ULONG *MinimumVersionRequired;      /* 0x30 */
    BOOLEAN *ClientVersionHigherThanFramework;  /* 0x38 */
    ULONG *FuncCountPtr;                /* 0x40 */
    ULONG *StructCountPtr;              /* 0x48 */
    PVOID StructTable;                  /* 0x50 */
} WDF_BIND_INFO2;
/* The interface the driver host hands FxDriverEntryUm, as far as the stub uses it: its size, then the routine
   that binds the driver (our declaration: the layout is not in the public headers, and the analysis does not
   read it). */
typedef NTSTATUS (*PFN_WUDF_VERSION_BIND)(PVOID Context, PWDF_BIND_INFO BindInfo, PWDF_DRIVER_GLOBALS *Globals);
typedef struct _WUDF_LOADER_INTERFACE {
    ULONG Size;
    PFN_WUDF_VERSION_BIND VersionBind;  /* 0x08 */
} WUDF_LOADER_INTERFACE, *PWUDF_LOADER_INTERFACE;
extern WDFFUNC *WdfFunctions_02033;
#define WDF_FUNCTIONS WdfFunctions_02033
#define WdfFunctionCount 274

/* UMDF's own WDFFUNCENUM: not KMDF's indices. */
typedef enum _WDFFUNCENUM {
    WdfDeviceInitSetPnpPowerEventCallbacksTableIndex = 19,
    WdfDeviceInitSetPowerPolicyEventCallbacksTableIndex = 20,
    WdfDeviceInitSetFileObjectConfigTableIndex = 23,
    WdfDeviceCreateTableIndex = 25,
    WdfDriverCreateTableIndex = 57,
    WdfInterruptCreateTableIndex = 72,
    WdfIoQueueCreateTableIndex = 85,
    WdfIoQueueReadyNotifyTableIndex = 99,
    WdfIoTargetCreateTableIndex = 102,
    WdfIoTargetOpenTableIndex = 103,
    WdfObjectAllocateContextTableIndex = 124,
    WdfRequestMarkCancelableExTableIndex = 155,
    WdfRequestSetCompletionRoutineTableIndex = 160,
    WdfRequestImpersonateTableIndex = 178,
    WdfTimerCreateTableIndex = 198,
    WdfWorkItemCreateTableIndex = 243,
    WdfDeviceInitSetCompanionEventCallbacksTableIndex = 264,
} WDFFUNCENUM;

/* A companion's callbacks (wdfcompanion.h, UMDF only). */
typedef NTSTATUS EVT_WDF_COMPANION_PRE_D0_ENTRY(WDFDEVICE Device, WDF_POWER_DEVICE_STATE PreviousState);
typedef struct _WDF_COMPANION_EVENT_CALLBACKS {
    ULONG Size;
    EVT_WDF_COMPANION_PRE_D0_ENTRY *EvtCompanionPreD0Entry;    /* 0x08 */
    PVOID EvtCompanionPostD0Exit;           /* 0x10 */
    PVOID EvtCompanionPrePrepareHardware;   /* 0x18 */
    PVOID EvtCompanionPostReleaseHardware;  /* 0x20 */
} WDF_COMPANION_EVENT_CALLBACKS;
#define WDF_COMPANION_EVENT_CALLBACKS_INIT(p) WDF_ZERO_SIZED(p)
/* WdfRequestImpersonate (UMDF only) runs the callback while impersonating the request's client. */
typedef VOID EVT_WDF_REQUEST_IMPERSONATE(WDFREQUEST Request, PVOID Context);
typedef ULONG SECURITY_IMPERSONATION_LEVEL;
#define SecurityImpersonation 2
/* The documented routine (kernel32.dll; not the memmove macro): the copy is a real call. */
DECLSPEC_IMPORT VOID WINAPI RtlMoveMemory(VOID *Destination, const VOID *Source, SIZE_T Length);

_Static_assert(sizeof(WDF_BIND_INFO2) == 0x58, "WDF_BIND_INFO2");
_Static_assert(__builtin_offsetof(WUDF_LOADER_INTERFACE, VersionBind) == 0x08, "VersionBind");
_Static_assert(sizeof(WDF_COMPANION_EVENT_CALLBACKS) == 0x28, "WDF_COMPANION_EVENT_CALLBACKS");

/* The UMDF-only methods this driver calls, through the table like the others (wdfobjects.h's WDF_CALL). */
typedef VOID (*PFN_WDFDEVICEINITSETCOMPANIONEVENTCALLBACKS)(PWDF_DRIVER_GLOBALS, PWDFDEVICE_INIT,
                                                            WDF_COMPANION_EVENT_CALLBACKS *);
typedef NTSTATUS (*PFN_WDFREQUESTIMPERSONATE)(PWDF_DRIVER_GLOBALS, WDFREQUEST, SECURITY_IMPERSONATION_LEVEL,
                                              EVT_WDF_REQUEST_IMPERSONATE *, PVOID);
#define WdfDeviceInitSetCompanionEventCallbacks(i, c) WDF_CALL(PFN_WDFDEVICEINITSETCOMPANIONEVENTCALLBACKS,\
    WdfDeviceInitSetCompanionEventCallbacks)(WdfDriverGlobals, i, c)
#define WdfRequestImpersonate(r, l, c, x) WDF_CALL(PFN_WDFREQUESTIMPERSONATE, WdfRequestImpersonate)(\
    WdfDriverGlobals, r, l, c, x)
