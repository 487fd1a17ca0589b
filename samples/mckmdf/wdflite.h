/* The KMDF part of the few WDF types, x64 structure layouts and function-table indices this driver uses, from the
   documented WDF headers (wdf.h, wdfdpc.h, wdfchildlist.h, wdffdo.h, wdfpdo.h, wdfqueryinterface.h, wdfwmi.h,
   wdffuncenum.h of KMDF 1.15), the INTERFACE header and the object and registry callback registration of wdm.h
   (offsets checked below); what KMDF shares with UMDF is in wdfobjects.h. Not the WDK headers. */
#pragma once
typedef struct WDFDPC__ *WDFDPC;
typedef struct WDFCHILDLIST__ *WDFCHILDLIST;
typedef struct WDFWMIINSTANCE__ *WDFWMIINSTANCE;
typedef struct WDFWMIPROVIDER__ *WDFWMIPROVIDER;
#include "wdfobjects.h"

/* FxDriverEntry hands WdfVersionBind the bind information; KMDF's table. */
DECLSPEC_IMPORT NTSTATUS WdfVersionBind(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath,
                                        PWDF_BIND_INFO BindInfo, PWDF_DRIVER_GLOBALS *Globals);
extern WDFFUNC *WdfFunctions_01015;
#define WDF_FUNCTIONS WdfFunctions_01015
#define WdfFunctionCount 444

typedef enum _WDFFUNCENUM {
    WdfChildListRetrieveNextDeviceTableIndex = 7,
    WdfDeviceInitSetPnpPowerEventCallbacksTableIndex = 55,
    WdfDeviceInitSetPowerPolicyEventCallbacksTableIndex = 56,
    WdfDeviceInitSetFileObjectConfigTableIndex = 71,
    WdfDeviceInitSetIoInCallerContextCallbackTableIndex = 74,
    WdfDeviceCreateTableIndex = 75,
    WdfDpcCreateTableIndex = 111,
    WdfDriverCreateTableIndex = 116,
    WdfFdoInitSetDefaultChildListConfigTableIndex = 130,
    WdfInterruptCreateTableIndex = 141,
    WdfIoQueueCreateTableIndex = 152,
    WdfIoQueueReadyNotifyTableIndex = 166,
    WdfIoTargetOpenTableIndex = 168,
    WdfObjectAllocateContextTableIndex = 203,
    WdfPdoInitSetEventCallbacksTableIndex = 211,
    WdfDeviceAddQueryInterfaceTableIndex = 228,
    WdfRequestMarkCancelableTableIndex = 255,
    WdfRequestSetCompletionRoutineTableIndex = 260,
    WdfTimerCreateTableIndex = 318,
    WdfWmiInstanceCreateTableIndex = 373,
    WdfWorkItemCreateTableIndex = 379,
} WDFFUNCENUM;

typedef VOID EVT_WDF_DPC(WDFDPC Dpc);
typedef struct _WDF_DPC_CONFIG {
    ULONG Size;
    EVT_WDF_DPC *EvtDpcFunc;            /* 0x08 */
    BOOLEAN AutomaticSerialization;     /* 0x10 */
} WDF_DPC_CONFIG;

/* Child lists of a bus driver (wdfchildlist.h): the framework calls EvtChildListCreateDevice for each child
   reported, with a WDFDEVICE_INIT for its PDO. */
typedef struct _WDF_CHILD_IDENTIFICATION_DESCRIPTION_HEADER { ULONG IdentificationDescriptionSize; }
    WDF_CHILD_IDENTIFICATION_DESCRIPTION_HEADER, *PWDF_CHILD_IDENTIFICATION_DESCRIPTION_HEADER;
typedef NTSTATUS EVT_WDF_CHILD_LIST_CREATE_DEVICE(WDFCHILDLIST ChildList,
    PWDF_CHILD_IDENTIFICATION_DESCRIPTION_HEADER IdentificationDescription, PWDFDEVICE_INIT ChildInit);
typedef BOOLEAN EVT_WDF_CHILD_LIST_IDENTIFICATION_DESCRIPTION_COMPARE(WDFCHILDLIST ChildList,
    PWDF_CHILD_IDENTIFICATION_DESCRIPTION_HEADER First, PWDF_CHILD_IDENTIFICATION_DESCRIPTION_HEADER Second);
typedef struct _WDF_CHILD_LIST_CONFIG {
    ULONG Size;
    ULONG IdentificationDescriptionSize;    /* 0x04 */
    ULONG AddressDescriptionSize;           /* 0x08 */
    EVT_WDF_CHILD_LIST_CREATE_DEVICE *EvtChildListCreateDevice;    /* 0x10 */
    PVOID EvtChildListScanForChildren;      /* 0x18 */
    PVOID EvtChildListIdentificationDescriptionCopy;        /* 0x20 */
    PVOID EvtChildListIdentificationDescriptionDuplicate;   /* 0x28 */
    PVOID EvtChildListIdentificationDescriptionCleanup;     /* 0x30 */
    EVT_WDF_CHILD_LIST_IDENTIFICATION_DESCRIPTION_COMPARE *EvtChildListIdentificationDescriptionCompare;  /* 0x38 */
    PVOID EvtChildListAddressDescription[3];    /* 0x40: Copy, Duplicate, Cleanup */
    PVOID EvtChildListDeviceReenumerated;   /* 0x58 */
} WDF_CHILD_LIST_CONFIG;
typedef struct _WDF_CHILD_LIST_ITERATOR { ULONG Size; ULONG Flags; PVOID Reserved[4]; } WDF_CHILD_LIST_ITERATOR;
typedef struct _WDF_CHILD_RETRIEVE_INFO {
    ULONG Size;
    PWDF_CHILD_IDENTIFICATION_DESCRIPTION_HEADER IdentificationDescription;    /* 0x08 */
    PVOID AddressDescription;               /* 0x10 */
    ULONG Status;                           /* 0x18 */
    EVT_WDF_CHILD_LIST_IDENTIFICATION_DESCRIPTION_COMPARE *EvtChildListIdentificationDescriptionCompare;  /* 0x20 */
} WDF_CHILD_RETRIEVE_INFO;

/* A PDO's own callbacks (wdfpdo.h). */
typedef NTSTATUS EVT_WDF_DEVICE_EJECT(WDFDEVICE Device);
typedef struct _WDF_PDO_EVENT_CALLBACKS {
    ULONG Size;
    PVOID EvtDeviceResourcesQuery;          /* 0x08 */
    PVOID EvtDeviceResourceRequirementsQuery;   /* 0x10 */
    EVT_WDF_DEVICE_EJECT *EvtDeviceEject;   /* 0x18 */
    PVOID EvtDeviceSetLock;                 /* 0x20 */
    PVOID EvtDeviceEnableWakeAtBus;         /* 0x28 */
    PVOID EvtDeviceDisableWakeAtBus;        /* 0x30 */
    PVOID EvtDeviceReportedMissing;         /* 0x38 */
} WDF_PDO_EVENT_CALLBACKS;


/* Query interfaces (wdfqueryinterface.h) and the INTERFACE head every one starts with (wdm.h): the routines
   after it are called by the drivers that query the interface. */
typedef VOID INTERFACE_REFERENCE(PVOID Context);
typedef struct _INTERFACE {
    USHORT Size;
    USHORT Version;                         /* 0x02 */
    PVOID Context;                          /* 0x08 */
    INTERFACE_REFERENCE *InterfaceReference;    /* 0x10 */
    INTERFACE_REFERENCE *InterfaceDereference;  /* 0x18 */
} INTERFACE, *PINTERFACE;
typedef struct _WDF_QUERY_INTERFACE_CONFIG {
    ULONG Size;
    PINTERFACE Interface;                   /* 0x08 */
    const GUID *InterfaceType;              /* 0x10 */
    BOOLEAN SendQueryToParentStack;         /* 0x18 */
    PVOID EvtDeviceProcessQueryInterfaceRequest;    /* 0x20 */
    BOOLEAN ImportInterface;                /* 0x28 */
} WDF_QUERY_INTERFACE_CONFIG;

/* WMI (wdfwmi.h): an instance's query callback; its provider configuration is pointed to. */
typedef NTSTATUS EVT_WDF_WMI_INSTANCE_QUERY_INSTANCE(WDFWMIINSTANCE WmiInstance, ULONG OutBufferSize,
                                                     PVOID OutBuffer, ULONG *BufferUsed);
typedef struct _WDF_WMI_PROVIDER_CONFIG {
    ULONG Size;
    GUID Guid;                              /* 0x04 */
    ULONG Flags;                            /* 0x14 */
    ULONG MinInstanceBufferSize;            /* 0x18 */
    PVOID EvtWmiProviderFunctionControl;    /* 0x20 */
} WDF_WMI_PROVIDER_CONFIG;
typedef struct _WDF_WMI_INSTANCE_CONFIG {
    ULONG Size;
    WDFWMIPROVIDER Provider;                /* 0x08 */
    WDF_WMI_PROVIDER_CONFIG *ProviderConfig;    /* 0x10 */
    BOOLEAN UseContextForQuery;             /* 0x18 */
    BOOLEAN Register;                       /* 0x19 */
    EVT_WDF_WMI_INSTANCE_QUERY_INSTANCE *EvtWmiInstanceQueryInstance;  /* 0x20 */
    PVOID EvtWmiInstanceSetInstance;        /* 0x28 */
    PVOID EvtWmiInstanceSetItem;            /* 0x30 */
    PVOID EvtWmiInstanceExecuteMethod;      /* 0x38 */
} WDF_WMI_INSTANCE_CONFIG;

typedef VOID EVT_WDF_IO_IN_CALLER_CONTEXT(WDFDEVICE Device, WDFREQUEST Request);

_Static_assert(sizeof(WDF_DPC_CONFIG) == 0x18, "DPC");

_Static_assert(sizeof(WDF_CHILD_LIST_CONFIG) == 0x60, "WDF_CHILD_LIST_CONFIG");
_Static_assert(__builtin_offsetof(WDF_CHILD_LIST_CONFIG, EvtChildListIdentificationDescriptionCompare) == 0x38,
               "EvtChildListIdentificationDescriptionCompare");
_Static_assert(__builtin_offsetof(WDF_CHILD_RETRIEVE_INFO, EvtChildListIdentificationDescriptionCompare) == 0x20,
               "retrieve info compare");
_Static_assert(sizeof(WDF_PDO_EVENT_CALLBACKS) == 0x40, "PDO callbacks");
_Static_assert(__builtin_offsetof(WDF_PDO_EVENT_CALLBACKS, EvtDeviceEject) == 0x18, "EvtDeviceEject");
_Static_assert(sizeof(INTERFACE) == 0x20, "INTERFACE");
_Static_assert(__builtin_offsetof(WDF_WMI_PROVIDER_CONFIG, EvtWmiProviderFunctionControl) == 0x20, "WMI provider");
_Static_assert(__builtin_offsetof(WDF_WMI_INSTANCE_CONFIG, EvtWmiInstanceQueryInstance) == 0x20 &&
               sizeof(WDF_WMI_INSTANCE_CONFIG) == 0x40, "WDF_WMI_INSTANCE_CONFIG");
_Static_assert(__builtin_offsetof(WDF_QUERY_INTERFACE_CONFIG, EvtDeviceProcessQueryInterfaceRequest) == 0x20 &&
               sizeof(WDF_QUERY_INTERFACE_CONFIG) == 0x30, "WDF_QUERY_INTERFACE_CONFIG");

/* The INIT helpers of the KMDF-only structures (WDF_ZERO_SIZED: wdfobjects.h). */
#define WDF_DPC_CONFIG_INIT(d, func) (WDF_ZERO_SIZED(d), (d)->EvtDpcFunc = (func), (d)->AutomaticSerialization = 1)
#define WDF_CHILD_LIST_CONFIG_INIT(c, idsize, create) (WDF_ZERO_SIZED(c),\
    (c)->IdentificationDescriptionSize = (idsize), (c)->EvtChildListCreateDevice = (create))
#define WDF_CHILD_LIST_ITERATOR_INIT(i, flags) (WDF_ZERO_SIZED(i), (i)->Flags = (flags))
#define WDF_CHILD_RETRIEVE_INFO_INIT(r, id) (WDF_ZERO_SIZED(r), (r)->IdentificationDescription = (id))
#define WDF_PDO_EVENT_CALLBACKS_INIT(p) WDF_ZERO_SIZED(p)
#define WDF_QUERY_INTERFACE_CONFIG_INIT(q, iface, type, process) (WDF_ZERO_SIZED(q), (q)->Interface = (iface),\
    (q)->InterfaceType = (type), (q)->EvtDeviceProcessQueryInterfaceRequest = (process))

/* The KMDF-only methods this driver calls, through the table like the others (wdfobjects.h's WDF_CALL). */
typedef NTSTATUS (*PFN_WDFDPCCREATE)(PWDF_DRIVER_GLOBALS, WDF_DPC_CONFIG *, WDF_OBJECT_ATTRIBUTES *, WDFDPC *);
typedef VOID (*PFN_WDFDEVICEINITSETIOINCALLERCONTEXTCALLBACK)(PWDF_DRIVER_GLOBALS, PWDFDEVICE_INIT,
                                                              EVT_WDF_IO_IN_CALLER_CONTEXT *);
typedef VOID (*PFN_WDFFDOINITSETDEFAULTCHILDLISTCONFIG)(PWDF_DRIVER_GLOBALS, PWDFDEVICE_INIT, WDF_CHILD_LIST_CONFIG *,
                                                        WDF_OBJECT_ATTRIBUTES *);
typedef NTSTATUS (*PFN_WDFCHILDLISTRETRIEVENEXTDEVICE)(PWDF_DRIVER_GLOBALS, WDFCHILDLIST, WDF_CHILD_LIST_ITERATOR *,
                                                       WDFDEVICE *, WDF_CHILD_RETRIEVE_INFO *);
typedef VOID (*PFN_WDFPDOINITSETEVENTCALLBACKS)(PWDF_DRIVER_GLOBALS, PWDFDEVICE_INIT, WDF_PDO_EVENT_CALLBACKS *);
typedef NTSTATUS (*PFN_WDFDEVICEADDQUERYINTERFACE)(PWDF_DRIVER_GLOBALS, WDFDEVICE, WDF_QUERY_INTERFACE_CONFIG *);
typedef NTSTATUS (*PFN_WDFWMIINSTANCECREATE)(PWDF_DRIVER_GLOBALS, WDFDEVICE, WDF_WMI_INSTANCE_CONFIG *,
                                             WDF_OBJECT_ATTRIBUTES *, WDFWMIINSTANCE *);
#define WdfDpcCreate(c, a, d) WDF_CALL(PFN_WDFDPCCREATE, WdfDpcCreate)(WdfDriverGlobals, c, a, d)
#define WdfDeviceInitSetIoInCallerContextCallback(i, c) WDF_CALL(PFN_WDFDEVICEINITSETIOINCALLERCONTEXTCALLBACK,\
    WdfDeviceInitSetIoInCallerContextCallback)(WdfDriverGlobals, i, c)
#define WdfFdoInitSetDefaultChildListConfig(i, c, a) WDF_CALL(PFN_WDFFDOINITSETDEFAULTCHILDLISTCONFIG,\
    WdfFdoInitSetDefaultChildListConfig)(WdfDriverGlobals, i, c, a)
#define WdfChildListRetrieveNextDevice(l, i, d, r) WDF_CALL(PFN_WDFCHILDLISTRETRIEVENEXTDEVICE,\
    WdfChildListRetrieveNextDevice)(WdfDriverGlobals, l, i, d, r)
#define WdfPdoInitSetEventCallbacks(i, p) WDF_CALL(PFN_WDFPDOINITSETEVENTCALLBACKS, WdfPdoInitSetEventCallbacks)(\
    WdfDriverGlobals, i, p)
#define WdfDeviceAddQueryInterface(d, c) WDF_CALL(PFN_WDFDEVICEADDQUERYINTERFACE, WdfDeviceAddQueryInterface)(\
    WdfDriverGlobals, d, c)
#define WdfWmiInstanceCreate(d, c, a, i) WDF_CALL(PFN_WDFWMIINSTANCECREATE, WdfWmiInstanceCreate)(\
    WdfDriverGlobals, d, c, a, i)

/* Object callbacks (wdm.h). */
typedef struct _OBJECT_TYPE *POBJECT_TYPE;
typedef ULONG OB_OPERATION;
typedef enum { OB_PREOP_SUCCESS } OB_PREOP_CALLBACK_STATUS;
typedef struct _OB_PRE_OPERATION_INFORMATION *POB_PRE_OPERATION_INFORMATION;
typedef struct _OB_POST_OPERATION_INFORMATION *POB_POST_OPERATION_INFORMATION;
typedef OB_PREOP_CALLBACK_STATUS OB_PRE_OPERATION_CALLBACK(PVOID Context, POB_PRE_OPERATION_INFORMATION Info);
typedef VOID OB_POST_OPERATION_CALLBACK(PVOID Context, POB_POST_OPERATION_INFORMATION Info);
typedef struct _OB_OPERATION_REGISTRATION {
    POBJECT_TYPE *ObjectType;
    OB_OPERATION Operations;                        /* 0x08 */
    OB_PRE_OPERATION_CALLBACK *PreOperation;        /* 0x10 */
    OB_POST_OPERATION_CALLBACK *PostOperation;      /* 0x18 */
} OB_OPERATION_REGISTRATION;
typedef struct _OB_CALLBACK_REGISTRATION {
    USHORT Version;
    USHORT OperationRegistrationCount;              /* 0x02 */
    UNICODE_STRING Altitude;                        /* 0x08 */
    PVOID RegistrationContext;                      /* 0x18 */
    OB_OPERATION_REGISTRATION *OperationRegistration;  /* 0x20 */
} OB_CALLBACK_REGISTRATION;
#define OB_FLT_REGISTRATION_VERSION 0x0100
#define OB_OPERATION_HANDLE_CREATE 0x1
#define OB_OPERATION_HANDLE_DUPLICATE 0x2
_Static_assert(__builtin_offsetof(OB_CALLBACK_REGISTRATION, OperationRegistration) == 0x20, "OperationRegistration");
_Static_assert(__builtin_offsetof(OB_OPERATION_REGISTRATION, PostOperation) == 0x18, "PostOperation");
DECLSPEC_IMPORT NTSTATUS ObRegisterCallbacks(OB_CALLBACK_REGISTRATION *Registration, PVOID *Handle);
DECLSPEC_IMPORT VOID ObUnRegisterCallbacks(PVOID Handle);
DECLSPEC_IMPORT extern POBJECT_TYPE *PsProcessType;
DECLSPEC_IMPORT extern POBJECT_TYPE *PsThreadType;

/* Registry callbacks (wdm.h). */
typedef NTSTATUS EX_CALLBACK_FUNCTION(PVOID Context, PVOID Argument1, PVOID Argument2);
DECLSPEC_IMPORT NTSTATUS CmRegisterCallbackEx(EX_CALLBACK_FUNCTION *Function, PUNICODE_STRING Altitude,
                                              PVOID Driver, PVOID Context, LONGLONG *Cookie, PVOID Reserved);
DECLSPEC_IMPORT NTSTATUS CmUnRegisterCallback(LONGLONG Cookie);
/* The documented routine (not the memmove macro): the copy is a real call. */
DECLSPEC_IMPORT VOID RtlMoveMemory(VOID *Destination, const VOID *Source, SIZE_T Length);
