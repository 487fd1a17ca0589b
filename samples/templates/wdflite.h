/* The few KMDF types, x64 structure layouts and function-table indices this driver uses, from the documented
   WDF headers (wdf.h, wdfdriver.h, wdfdevice.h, wdfio.h, wdfobject.h, wdfchildlist.h, wdffdo.h, wdfpdo.h,
   wdfqueryinterface.h, wdffuncenum.h), the INTERFACE header and the object and registry callback registration
   of wdm.h (offsets checked below). Not the WDK headers. */
#pragma once
typedef struct WDFDRIVER__ *WDFDRIVER;
typedef struct WDFDEVICE__ *WDFDEVICE;
typedef struct WDFQUEUE__ *WDFQUEUE;
typedef struct WDFREQUEST__ *WDFREQUEST;
typedef struct WDFCMRESLIST__ *WDFCMRESLIST;
typedef struct WDFFILEOBJECT__ *WDFFILEOBJECT;
typedef struct WDFTIMER__ *WDFTIMER;
typedef struct WDFWORKITEM__ *WDFWORKITEM;
typedef struct WDFDPC__ *WDFDPC;
typedef struct WDFINTERRUPT__ *WDFINTERRUPT;
typedef struct WDFIOTARGET__ *WDFIOTARGET;
typedef struct WDFSPINLOCK__ *WDFSPINLOCK;
typedef struct WDFCHILDLIST__ *WDFCHILDLIST;
typedef struct WDFWMIINSTANCE__ *WDFWMIINSTANCE;
typedef struct WDFWMIPROVIDER__ *WDFWMIPROVIDER;
typedef PVOID WDFCONTEXT;
typedef struct WDFDEVICE_INIT *PWDFDEVICE_INIT;
typedef PVOID WDFOBJECT;
typedef struct _WDF_DRIVER_GLOBALS *PWDF_DRIVER_GLOBALS;
typedef VOID (*WDFFUNC)(VOID);
typedef ULONG WDF_POWER_DEVICE_STATE;

/* What FxDriverEntry hands WdfVersionBind: the loader stores the table's address through FuncTable. */
typedef struct _WDF_VERSION { ULONG Major; ULONG Minor; ULONG Build; } WDF_VERSION;
typedef struct _WDF_BIND_INFO {
    ULONG Size;
    WCHAR *Component;                   /* 0x08 */
    WDF_VERSION Version;                /* 0x10 */
    ULONG FuncCount;                    /* 0x1c */
    WDFFUNC **FuncTable;                /* 0x20 */
    PVOID Module;                       /* 0x28 */
} WDF_BIND_INFO, *PWDF_BIND_INFO;
DECLSPEC_IMPORT NTSTATUS WdfVersionBind(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath,
                                        PWDF_BIND_INFO BindInfo, PWDF_DRIVER_GLOBALS *Globals);
extern WDFFUNC *WdfFunctions_01015;
extern PWDF_DRIVER_GLOBALS WdfDriverGlobals;
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

typedef VOID EVT_WDF_OBJECT_CONTEXT_CLEANUP(WDFOBJECT Object);
typedef VOID EVT_WDF_OBJECT_CONTEXT_DESTROY(WDFOBJECT Object);
typedef struct _WDF_OBJECT_ATTRIBUTES {
    ULONG Size;
    EVT_WDF_OBJECT_CONTEXT_CLEANUP *EvtCleanupCallback;    /* 0x08 */
    EVT_WDF_OBJECT_CONTEXT_DESTROY *EvtDestroyCallback;    /* 0x10 */
    ULONG ExecutionLevel;               /* 0x18 */
    ULONG SynchronizationScope;         /* 0x1c */
    WDFOBJECT ParentObject;             /* 0x20 */
    SIZE_T ContextSizeOverride;         /* 0x28 */
    const void *ContextTypeInfo;        /* 0x30 */
} WDF_OBJECT_ATTRIBUTES;
#define WDF_NO_OBJECT_ATTRIBUTES ((WDF_OBJECT_ATTRIBUTES *)0)
#define WDF_NO_HANDLE ((void *)0)

typedef NTSTATUS EVT_WDF_DRIVER_DEVICE_ADD(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit);
typedef VOID EVT_WDF_DRIVER_UNLOAD(WDFDRIVER Driver);
typedef struct _WDF_DRIVER_CONFIG {
    ULONG Size;
    EVT_WDF_DRIVER_DEVICE_ADD *EvtDriverDeviceAdd;  /* 0x08 */
    EVT_WDF_DRIVER_UNLOAD *EvtDriverUnload;         /* 0x10 */
    ULONG DriverInitFlags;              /* 0x18 */
    ULONG DriverPoolTag;                /* 0x1c */
} WDF_DRIVER_CONFIG;

typedef VOID EVT_WDF_IO_QUEUE_IO_DEFAULT(WDFQUEUE Queue, WDFREQUEST Request);
typedef VOID EVT_WDF_IO_QUEUE_IO_READ(WDFQUEUE Queue, WDFREQUEST Request, SIZE_T Length);
typedef VOID EVT_WDF_IO_QUEUE_IO_WRITE(WDFQUEUE Queue, WDFREQUEST Request, SIZE_T Length);
typedef VOID EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL(WDFQUEUE Queue, WDFREQUEST Request, SIZE_T OutputBufferLength,
                                                SIZE_T InputBufferLength, ULONG IoControlCode);
typedef enum { WdfIoQueueDispatchSequential = 1, WdfIoQueueDispatchParallel, WdfIoQueueDispatchManual }
    WDF_IO_QUEUE_DISPATCH_TYPE;
typedef struct _WDF_IO_QUEUE_CONFIG {
    ULONG Size;
    WDF_IO_QUEUE_DISPATCH_TYPE DispatchType;        /* 0x04 */
    ULONG PowerManaged;                 /* 0x08: WDF_TRI_STATE */
    BOOLEAN AllowZeroLengthRequests;    /* 0x0c */
    BOOLEAN DefaultQueue;               /* 0x0d */
    EVT_WDF_IO_QUEUE_IO_DEFAULT *EvtIoDefault;      /* 0x10 */
    EVT_WDF_IO_QUEUE_IO_READ *EvtIoRead;            /* 0x18 */
    EVT_WDF_IO_QUEUE_IO_WRITE *EvtIoWrite;          /* 0x20 */
    EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL *EvtIoDeviceControl;          /* 0x28 */
    EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL *EvtIoInternalDeviceControl;  /* 0x30 */
    PVOID EvtIoStop;                    /* 0x38 */
    PVOID EvtIoResume;                  /* 0x40 */
    PVOID EvtIoCanceledOnQueue;         /* 0x48 */
    union { struct { ULONG NumberOfPresentedRequests; } Parallel; } Settings;  /* 0x50 */
    WDFDRIVER Driver;                   /* 0x58 */
} WDF_IO_QUEUE_CONFIG;

typedef NTSTATUS EVT_WDF_DEVICE_D0_ENTRY(WDFDEVICE Device, WDF_POWER_DEVICE_STATE PreviousState);
typedef NTSTATUS EVT_WDF_DEVICE_D0_EXIT(WDFDEVICE Device, WDF_POWER_DEVICE_STATE TargetState);
typedef NTSTATUS EVT_WDF_DEVICE_PREPARE_HARDWARE(WDFDEVICE Device, WDFCMRESLIST Raw, WDFCMRESLIST Translated);
typedef struct _WDF_PNPPOWER_EVENT_CALLBACKS {
    ULONG Size;
    EVT_WDF_DEVICE_D0_ENTRY *EvtDeviceD0Entry;      /* 0x08 */
    PVOID EvtDeviceD0EntryPostInterruptsEnabled;    /* 0x10 */
    EVT_WDF_DEVICE_D0_EXIT *EvtDeviceD0Exit;        /* 0x18 */
    PVOID EvtDeviceD0ExitPreInterruptsDisabled;     /* 0x20 */
    EVT_WDF_DEVICE_PREPARE_HARDWARE *EvtDevicePrepareHardware;  /* 0x28 */
    PVOID EvtDeviceReleaseHardware;     /* 0x30 */
    PVOID EvtDeviceSelfManagedIo[5];    /* 0x38: Cleanup, Flush, Init, Suspend, Restart */
    PVOID EvtDeviceSurpriseRemoval;     /* 0x60 */
    PVOID EvtDeviceQueryRemove;         /* 0x68 */
    PVOID EvtDeviceQueryStop;           /* 0x70 */
    PVOID EvtDeviceUsageNotification;   /* 0x78 */
    PVOID EvtDeviceRelationsQuery;      /* 0x80 */
    PVOID EvtDeviceUsageNotificationEx; /* 0x88 */
} WDF_PNPPOWER_EVENT_CALLBACKS;

typedef VOID EVT_WDF_DEVICE_FILE_CREATE(WDFDEVICE Device, WDFREQUEST Request, WDFFILEOBJECT FileObject);
typedef VOID EVT_WDF_FILE_CLOSE(WDFFILEOBJECT FileObject);
typedef struct _WDF_FILEOBJECT_CONFIG {
    ULONG Size;
    EVT_WDF_DEVICE_FILE_CREATE *EvtDeviceFileCreate;    /* 0x08 */
    EVT_WDF_FILE_CLOSE *EvtFileClose;                   /* 0x10 */
    EVT_WDF_FILE_CLOSE *EvtFileCleanup;                 /* 0x18 */
    ULONG AutoForwardCleanupClose;      /* 0x20: WDF_TRI_STATE */
    ULONG FileObjectClass;              /* 0x24 */
} WDF_FILEOBJECT_CONFIG;

typedef VOID EVT_WDF_TIMER(WDFTIMER Timer);
typedef struct _WDF_TIMER_CONFIG {
    ULONG Size;
    EVT_WDF_TIMER *EvtTimerFunc;        /* 0x08 */
    ULONG Period;                       /* 0x10 */
    BOOLEAN AutomaticSerialization;     /* 0x14 */
    ULONG TolerableDelay;               /* 0x18 */
    ULONG UseHighResolutionTimer;       /* 0x1c: WDF_TRI_STATE */
} WDF_TIMER_CONFIG;

typedef VOID EVT_WDF_WORKITEM(WDFWORKITEM WorkItem);
typedef struct _WDF_WORKITEM_CONFIG {
    ULONG Size;
    EVT_WDF_WORKITEM *EvtWorkItemFunc;  /* 0x08 */
    BOOLEAN AutomaticSerialization;     /* 0x10 */
} WDF_WORKITEM_CONFIG;

typedef VOID EVT_WDF_DPC(WDFDPC Dpc);
typedef struct _WDF_DPC_CONFIG {
    ULONG Size;
    EVT_WDF_DPC *EvtDpcFunc;            /* 0x08 */
    BOOLEAN AutomaticSerialization;     /* 0x10 */
} WDF_DPC_CONFIG;

typedef BOOLEAN EVT_WDF_INTERRUPT_ISR(WDFINTERRUPT Interrupt, ULONG MessageId);
typedef VOID EVT_WDF_INTERRUPT_DPC(WDFINTERRUPT Interrupt, WDFOBJECT AssociatedObject);
typedef struct _WDF_INTERRUPT_CONFIG {
    ULONG Size;
    WDFSPINLOCK SpinLock;               /* 0x08 */
    ULONG ShareVector;                  /* 0x10: WDF_TRI_STATE */
    BOOLEAN FloatingSave;               /* 0x14 */
    BOOLEAN AutomaticSerialization;     /* 0x15 */
    EVT_WDF_INTERRUPT_ISR *EvtInterruptIsr;         /* 0x18 */
    EVT_WDF_INTERRUPT_DPC *EvtInterruptDpc;         /* 0x20 */
    PVOID EvtInterruptEnable;           /* 0x28 */
    PVOID EvtInterruptDisable;          /* 0x30 */
    PVOID EvtInterruptWorkItem;         /* 0x38 */
    PVOID InterruptRaw;                 /* 0x40 */
    PVOID InterruptTranslated;          /* 0x48 */
    PVOID WaitLock;                     /* 0x50 */
    BOOLEAN PassiveHandling;            /* 0x58 */
    ULONG ReportInactiveOnPowerDown;    /* 0x5c: WDF_TRI_STATE */
    BOOLEAN CanWakeDevice;              /* 0x60 */
} WDF_INTERRUPT_CONFIG;

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

/* Power policy owner's wake callbacks (wdfdevice.h). */
typedef NTSTATUS EVT_WDF_DEVICE_ARM_WAKE_FROM_S0(WDFDEVICE Device);
typedef struct _WDF_POWER_POLICY_EVENT_CALLBACKS {
    ULONG Size;
    EVT_WDF_DEVICE_ARM_WAKE_FROM_S0 *EvtDeviceArmWakeFromS0;    /* 0x08 */
    PVOID EvtDeviceDisarmWakeFromS0;        /* 0x10 */
    PVOID EvtDeviceWakeFromS0Triggered;     /* 0x18 */
    PVOID EvtDeviceArmWakeFromSx;           /* 0x20 */
    PVOID EvtDeviceDisarmWakeFromSx;        /* 0x28 */
    PVOID EvtDeviceWakeFromSxTriggered;     /* 0x30 */
    PVOID EvtDeviceArmWakeFromSxWithReason; /* 0x38 */
} WDF_POWER_POLICY_EVENT_CALLBACKS;

/* A queue's state callback (wdfio.h): WdfIoQueueReadyNotify, Stop, Drain, Purge. */
typedef VOID EVT_WDF_IO_QUEUE_STATE(WDFQUEUE Queue, WDFCONTEXT Context);

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

/* Remote I/O targets (wdfiotarget.h): the target's owner is asked before its device is removed. */
typedef NTSTATUS EVT_WDF_IO_TARGET_QUERY_REMOVE(WDFIOTARGET IoTarget);
typedef struct _WDF_IO_TARGET_OPEN_PARAMS {
    ULONG Size;
    ULONG Type;                             /* 0x04: WDF_IO_TARGET_OPEN_TYPE */
    EVT_WDF_IO_TARGET_QUERY_REMOVE *EvtIoTargetQueryRemove;    /* 0x08 */
    PVOID EvtIoTargetRemoveCanceled;        /* 0x10 */
    PVOID EvtIoTargetRemoveComplete;        /* 0x18 */
    PVOID TargetDeviceObject;               /* 0x20 */
    PVOID TargetFileObject;                 /* 0x28 */
    UNICODE_STRING TargetDeviceName;        /* 0x30 */
    ULONG DesiredAccess;                    /* 0x40 */
    ULONG ShareAccess;                      /* 0x44 */
    ULONG FileAttributes;                   /* 0x48 */
    ULONG CreateDisposition;                /* 0x4c */
    ULONG CreateOptions;                    /* 0x50 */
    PVOID EaBuffer;                         /* 0x58 */
    ULONG EaBufferLength;                   /* 0x60 */
    LONGLONG *AllocationSize;               /* 0x68 */
    ULONG FileInformation;                  /* 0x70 */
    UNICODE_STRING FileName;                /* 0x78 */
} WDF_IO_TARGET_OPEN_PARAMS;

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

typedef VOID EVT_WDF_REQUEST_COMPLETION_ROUTINE(WDFREQUEST Request, WDFIOTARGET Target, PVOID Params, PVOID Context);
typedef VOID EVT_WDF_REQUEST_CANCEL(WDFREQUEST Request);
typedef VOID EVT_WDF_IO_IN_CALLER_CONTEXT(WDFDEVICE Device, WDFREQUEST Request);

_Static_assert(__builtin_offsetof(WDF_BIND_INFO, FuncTable) == 0x20, "FuncTable");
_Static_assert(sizeof(WDF_WORKITEM_CONFIG) == 0x18 && sizeof(WDF_DPC_CONFIG) == 0x18, "work item, DPC");
_Static_assert(__builtin_offsetof(WDF_INTERRUPT_CONFIG, EvtInterruptWorkItem) == 0x38, "EvtInterruptWorkItem");
_Static_assert(__builtin_offsetof(WDF_FILEOBJECT_CONFIG, EvtFileCleanup) == 0x18, "EvtFileCleanup");
_Static_assert(sizeof(WDF_TIMER_CONFIG) == 0x20, "WDF_TIMER_CONFIG");
_Static_assert(__builtin_offsetof(WDF_BIND_INFO, FuncCount) == 0x1c, "FuncCount");
_Static_assert(__builtin_offsetof(WDF_DRIVER_CONFIG, EvtDriverDeviceAdd) == 0x08, "EvtDriverDeviceAdd");
_Static_assert(__builtin_offsetof(WDF_IO_QUEUE_CONFIG, EvtIoDeviceControl) == 0x28, "EvtIoDeviceControl");
_Static_assert(__builtin_offsetof(WDF_IO_QUEUE_CONFIG, Driver) == 0x58, "Driver");
_Static_assert(__builtin_offsetof(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDevicePrepareHardware) == 0x28, "Prepare");
_Static_assert(__builtin_offsetof(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceUsageNotificationEx) == 0x88, "UsageEx");
_Static_assert(__builtin_offsetof(WDF_OBJECT_ATTRIBUTES, ContextTypeInfo) == 0x30, "ContextTypeInfo");
_Static_assert(sizeof(WDF_CHILD_LIST_CONFIG) == 0x60, "WDF_CHILD_LIST_CONFIG");
_Static_assert(__builtin_offsetof(WDF_CHILD_LIST_CONFIG, EvtChildListIdentificationDescriptionCompare) == 0x38,
               "EvtChildListIdentificationDescriptionCompare");
_Static_assert(__builtin_offsetof(WDF_CHILD_RETRIEVE_INFO, EvtChildListIdentificationDescriptionCompare) == 0x20,
               "retrieve info compare");
_Static_assert(sizeof(WDF_PDO_EVENT_CALLBACKS) == 0x40 && sizeof(WDF_POWER_POLICY_EVENT_CALLBACKS) == 0x40,
               "PDO, power policy callbacks");
_Static_assert(__builtin_offsetof(WDF_PDO_EVENT_CALLBACKS, EvtDeviceEject) == 0x18, "EvtDeviceEject");
_Static_assert(sizeof(INTERFACE) == 0x20, "INTERFACE");
_Static_assert(__builtin_offsetof(WDF_IO_TARGET_OPEN_PARAMS, FileName) == 0x78 &&
               sizeof(WDF_IO_TARGET_OPEN_PARAMS) == 0x88, "WDF_IO_TARGET_OPEN_PARAMS");
_Static_assert(__builtin_offsetof(WDF_WMI_PROVIDER_CONFIG, EvtWmiProviderFunctionControl) == 0x20, "WMI provider");
_Static_assert(__builtin_offsetof(WDF_WMI_INSTANCE_CONFIG, EvtWmiInstanceQueryInstance) == 0x20 &&
               sizeof(WDF_WMI_INSTANCE_CONFIG) == 0x40, "WDF_WMI_INSTANCE_CONFIG");
_Static_assert(__builtin_offsetof(WDF_QUERY_INTERFACE_CONFIG, EvtDeviceProcessQueryInterfaceRequest) == 0x20 &&
               sizeof(WDF_QUERY_INTERFACE_CONFIG) == 0x30, "WDF_QUERY_INTERFACE_CONFIG");

/* The INIT helpers, as the headers define them: zero the structure, set its size and the defaults. */
#define WDF_DRIVER_CONFIG_INIT(c, add) (__builtin_memset((c), 0, sizeof(*(c))), (c)->Size = sizeof(*(c)),\
    (c)->EvtDriverDeviceAdd = (add))
#define WDF_OBJECT_ATTRIBUTES_INIT(a) (__builtin_memset((a), 0, sizeof(*(a))), (a)->Size = sizeof(*(a)),\
    (a)->ExecutionLevel = 1, (a)->SynchronizationScope = 1)
#define WDF_PNPPOWER_EVENT_CALLBACKS_INIT(p) (__builtin_memset((p), 0, sizeof(*(p))), (p)->Size = sizeof(*(p)))
#define WDF_IO_QUEUE_CONFIG_INIT(q, type) (__builtin_memset((q), 0, sizeof(*(q))), (q)->Size = sizeof(*(q)),\
    (q)->PowerManaged = 2, (q)->DispatchType = (type))
#define WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(q, type) (WDF_IO_QUEUE_CONFIG_INIT(q, type), (q)->DefaultQueue = 1)
#define WDF_FILEOBJECT_CONFIG_INIT(f, create, close, cleanup) (__builtin_memset((f), 0, sizeof(*(f))),\
    (f)->Size = sizeof(*(f)), (f)->EvtDeviceFileCreate = (create), (f)->EvtFileClose = (close),\
    (f)->EvtFileCleanup = (cleanup), (f)->AutoForwardCleanupClose = 2, (f)->FileObjectClass = 2)
#define WDF_WORKITEM_CONFIG_INIT(w, func) (__builtin_memset((w), 0, sizeof(*(w))), (w)->Size = sizeof(*(w)),\
    (w)->EvtWorkItemFunc = (func), (w)->AutomaticSerialization = 1)
#define WDF_DPC_CONFIG_INIT(d, func) (__builtin_memset((d), 0, sizeof(*(d))), (d)->Size = sizeof(*(d)),\
    (d)->EvtDpcFunc = (func), (d)->AutomaticSerialization = 1)
#define WDF_INTERRUPT_CONFIG_INIT(i, isr, dpc) (__builtin_memset((i), 0, sizeof(*(i))), (i)->Size = sizeof(*(i)),\
    (i)->ShareVector = 2, (i)->EvtInterruptIsr = (isr), (i)->EvtInterruptDpc = (dpc))
#define WDF_CHILD_LIST_CONFIG_INIT(c, idsize, create) (__builtin_memset((c), 0, sizeof(*(c))),\
    (c)->Size = sizeof(*(c)), (c)->IdentificationDescriptionSize = (idsize), (c)->EvtChildListCreateDevice = (create))
#define WDF_CHILD_LIST_ITERATOR_INIT(i, flags) (__builtin_memset((i), 0, sizeof(*(i))), (i)->Size = sizeof(*(i)),\
    (i)->Flags = (flags))
#define WDF_CHILD_RETRIEVE_INFO_INIT(r, id) (__builtin_memset((r), 0, sizeof(*(r))), (r)->Size = sizeof(*(r)),\
    (r)->IdentificationDescription = (id))
#define WDF_PDO_EVENT_CALLBACKS_INIT(p) (__builtin_memset((p), 0, sizeof(*(p))), (p)->Size = sizeof(*(p)))
#define WDF_POWER_POLICY_EVENT_CALLBACKS_INIT(p) (__builtin_memset((p), 0, sizeof(*(p))), (p)->Size = sizeof(*(p)))
#define WDF_QUERY_INTERFACE_CONFIG_INIT(q, iface, type, process) (__builtin_memset((q), 0, sizeof(*(q))),\
    (q)->Size = sizeof(*(q)), (q)->Interface = (iface), (q)->InterfaceType = (type),\
    (q)->EvtDeviceProcessQueryInterfaceRequest = (process))
#define WDF_TIMER_CONFIG_INIT(t, func) (__builtin_memset((t), 0, sizeof(*(t))), (t)->Size = sizeof(*(t)),\
    (t)->EvtTimerFunc = (func), (t)->AutomaticSerialization = 1, (t)->UseHighResolutionTimer = 0)

/* Every framework call goes through the table: WdfFunctions[<Name>TableIndex](WdfDriverGlobals, ...). */
typedef NTSTATUS (*PFN_WDFDRIVERCREATE)(PWDF_DRIVER_GLOBALS, PDRIVER_OBJECT, PUNICODE_STRING,
                                        WDF_OBJECT_ATTRIBUTES *, WDF_DRIVER_CONFIG *, WDFDRIVER *);
typedef NTSTATUS (*PFN_WDFDEVICECREATE)(PWDF_DRIVER_GLOBALS, PWDFDEVICE_INIT *, WDF_OBJECT_ATTRIBUTES *,
                                        WDFDEVICE *);
typedef VOID (*PFN_WDFDEVICEINITSETPNPPOWEREVENTCALLBACKS)(PWDF_DRIVER_GLOBALS, PWDFDEVICE_INIT,
                                                           WDF_PNPPOWER_EVENT_CALLBACKS *);
typedef NTSTATUS (*PFN_WDFIOQUEUECREATE)(PWDF_DRIVER_GLOBALS, WDFDEVICE, WDF_IO_QUEUE_CONFIG *,
                                         WDF_OBJECT_ATTRIBUTES *, WDFQUEUE *);
typedef VOID (*PFN_WDFDEVICEINITSETFILEOBJECTCONFIG)(PWDF_DRIVER_GLOBALS, PWDFDEVICE_INIT, WDF_FILEOBJECT_CONFIG *,
                                                     WDF_OBJECT_ATTRIBUTES *);
typedef NTSTATUS (*PFN_WDFTIMERCREATE)(PWDF_DRIVER_GLOBALS, WDF_TIMER_CONFIG *, WDF_OBJECT_ATTRIBUTES *, WDFTIMER *);
typedef NTSTATUS (*PFN_WDFWORKITEMCREATE)(PWDF_DRIVER_GLOBALS, WDF_WORKITEM_CONFIG *, WDF_OBJECT_ATTRIBUTES *,
                                          WDFWORKITEM *);
typedef NTSTATUS (*PFN_WDFDPCCREATE)(PWDF_DRIVER_GLOBALS, WDF_DPC_CONFIG *, WDF_OBJECT_ATTRIBUTES *, WDFDPC *);
typedef NTSTATUS (*PFN_WDFINTERRUPTCREATE)(PWDF_DRIVER_GLOBALS, WDFDEVICE, WDF_INTERRUPT_CONFIG *,
                                           WDF_OBJECT_ATTRIBUTES *, WDFINTERRUPT *);
typedef VOID (*PFN_WDFREQUESTSETCOMPLETIONROUTINE)(PWDF_DRIVER_GLOBALS, WDFREQUEST,
                                                   EVT_WDF_REQUEST_COMPLETION_ROUTINE *, PVOID);
typedef VOID (*PFN_WDFREQUESTMARKCANCELABLE)(PWDF_DRIVER_GLOBALS, WDFREQUEST, EVT_WDF_REQUEST_CANCEL *);
typedef VOID (*PFN_WDFDEVICEINITSETIOINCALLERCONTEXTCALLBACK)(PWDF_DRIVER_GLOBALS, PWDFDEVICE_INIT,
                                                              EVT_WDF_IO_IN_CALLER_CONTEXT *);
typedef VOID (*PFN_WDFFDOINITSETDEFAULTCHILDLISTCONFIG)(PWDF_DRIVER_GLOBALS, PWDFDEVICE_INIT, WDF_CHILD_LIST_CONFIG *,
                                                        WDF_OBJECT_ATTRIBUTES *);
typedef NTSTATUS (*PFN_WDFCHILDLISTRETRIEVENEXTDEVICE)(PWDF_DRIVER_GLOBALS, WDFCHILDLIST, WDF_CHILD_LIST_ITERATOR *,
                                                       WDFDEVICE *, WDF_CHILD_RETRIEVE_INFO *);
typedef VOID (*PFN_WDFPDOINITSETEVENTCALLBACKS)(PWDF_DRIVER_GLOBALS, PWDFDEVICE_INIT, WDF_PDO_EVENT_CALLBACKS *);
typedef VOID (*PFN_WDFDEVICEINITSETPOWERPOLICYEVENTCALLBACKS)(PWDF_DRIVER_GLOBALS, PWDFDEVICE_INIT,
                                                              WDF_POWER_POLICY_EVENT_CALLBACKS *);
typedef NTSTATUS (*PFN_WDFIOQUEUEREADYNOTIFY)(PWDF_DRIVER_GLOBALS, WDFQUEUE, EVT_WDF_IO_QUEUE_STATE *, WDFCONTEXT);
typedef NTSTATUS (*PFN_WDFOBJECTALLOCATECONTEXT)(PWDF_DRIVER_GLOBALS, WDFOBJECT, WDF_OBJECT_ATTRIBUTES *, PVOID *);
typedef NTSTATUS (*PFN_WDFDEVICEADDQUERYINTERFACE)(PWDF_DRIVER_GLOBALS, WDFDEVICE, WDF_QUERY_INTERFACE_CONFIG *);
typedef NTSTATUS (*PFN_WDFIOTARGETOPEN)(PWDF_DRIVER_GLOBALS, WDFIOTARGET, WDF_IO_TARGET_OPEN_PARAMS *);
typedef NTSTATUS (*PFN_WDFWMIINSTANCECREATE)(PWDF_DRIVER_GLOBALS, WDFDEVICE, WDF_WMI_INSTANCE_CONFIG *,
                                             WDF_OBJECT_ATTRIBUTES *, WDFWMIINSTANCE *);
#define WdfIoTargetOpen(t, p) ((PFN_WDFIOTARGETOPEN)WdfFunctions_01015[WdfIoTargetOpenTableIndex])(\
    WdfDriverGlobals, t, p)
#define WdfWmiInstanceCreate(d, c, a, i) ((PFN_WDFWMIINSTANCECREATE)\
    WdfFunctions_01015[WdfWmiInstanceCreateTableIndex])(WdfDriverGlobals, d, c, a, i)
#define WdfFdoInitSetDefaultChildListConfig(i, c, a) ((PFN_WDFFDOINITSETDEFAULTCHILDLISTCONFIG)\
    WdfFunctions_01015[WdfFdoInitSetDefaultChildListConfigTableIndex])(WdfDriverGlobals, i, c, a)
#define WdfChildListRetrieveNextDevice(l, i, d, r) ((PFN_WDFCHILDLISTRETRIEVENEXTDEVICE)\
    WdfFunctions_01015[WdfChildListRetrieveNextDeviceTableIndex])(WdfDriverGlobals, l, i, d, r)
#define WdfPdoInitSetEventCallbacks(i, p) ((PFN_WDFPDOINITSETEVENTCALLBACKS)\
    WdfFunctions_01015[WdfPdoInitSetEventCallbacksTableIndex])(WdfDriverGlobals, i, p)
#define WdfDeviceInitSetPowerPolicyEventCallbacks(i, p) ((PFN_WDFDEVICEINITSETPOWERPOLICYEVENTCALLBACKS)\
    WdfFunctions_01015[WdfDeviceInitSetPowerPolicyEventCallbacksTableIndex])(WdfDriverGlobals, i, p)
#define WdfIoQueueReadyNotify(q, r, c) ((PFN_WDFIOQUEUEREADYNOTIFY)\
    WdfFunctions_01015[WdfIoQueueReadyNotifyTableIndex])(WdfDriverGlobals, q, r, c)
#define WdfObjectAllocateContext(h, a, c) ((PFN_WDFOBJECTALLOCATECONTEXT)\
    WdfFunctions_01015[WdfObjectAllocateContextTableIndex])(WdfDriverGlobals, h, a, c)
#define WdfDeviceAddQueryInterface(d, c) ((PFN_WDFDEVICEADDQUERYINTERFACE)\
    WdfFunctions_01015[WdfDeviceAddQueryInterfaceTableIndex])(WdfDriverGlobals, d, c)
#define WdfDriverCreate(o, r, a, c, d) ((PFN_WDFDRIVERCREATE)WdfFunctions_01015[WdfDriverCreateTableIndex])(\
    WdfDriverGlobals, o, r, a, c, d)
#define WdfDeviceCreate(i, a, d) ((PFN_WDFDEVICECREATE)WdfFunctions_01015[WdfDeviceCreateTableIndex])(\
    WdfDriverGlobals, i, a, d)
#define WdfDeviceInitSetPnpPowerEventCallbacks(i, p) ((PFN_WDFDEVICEINITSETPNPPOWEREVENTCALLBACKS)\
    WdfFunctions_01015[WdfDeviceInitSetPnpPowerEventCallbacksTableIndex])(WdfDriverGlobals, i, p)
#define WdfIoQueueCreate(d, c, a, q) ((PFN_WDFIOQUEUECREATE)WdfFunctions_01015[WdfIoQueueCreateTableIndex])(\
    WdfDriverGlobals, d, c, a, q)
#define WdfDeviceInitSetFileObjectConfig(i, f, a) ((PFN_WDFDEVICEINITSETFILEOBJECTCONFIG)\
    WdfFunctions_01015[WdfDeviceInitSetFileObjectConfigTableIndex])(WdfDriverGlobals, i, f, a)
#define WdfTimerCreate(c, a, t) ((PFN_WDFTIMERCREATE)WdfFunctions_01015[WdfTimerCreateTableIndex])(\
    WdfDriverGlobals, c, a, t)
#define WdfWorkItemCreate(c, a, w) ((PFN_WDFWORKITEMCREATE)WdfFunctions_01015[WdfWorkItemCreateTableIndex])(\
    WdfDriverGlobals, c, a, w)
#define WdfDpcCreate(c, a, d) ((PFN_WDFDPCCREATE)WdfFunctions_01015[WdfDpcCreateTableIndex])(\
    WdfDriverGlobals, c, a, d)
#define WdfInterruptCreate(d, c, a, i) ((PFN_WDFINTERRUPTCREATE)WdfFunctions_01015[WdfInterruptCreateTableIndex])(\
    WdfDriverGlobals, d, c, a, i)
#define WdfRequestSetCompletionRoutine(r, c, x) ((PFN_WDFREQUESTSETCOMPLETIONROUTINE)\
    WdfFunctions_01015[WdfRequestSetCompletionRoutineTableIndex])(WdfDriverGlobals, r, c, x)
#define WdfDeviceInitSetIoInCallerContextCallback(i, c) ((PFN_WDFDEVICEINITSETIOINCALLERCONTEXTCALLBACK)\
    WdfFunctions_01015[WdfDeviceInitSetIoInCallerContextCallbackTableIndex])(WdfDriverGlobals, i, c)
#define WdfRequestMarkCancelable(r, c) ((PFN_WDFREQUESTMARKCANCELABLE)\
    WdfFunctions_01015[WdfRequestMarkCancelableTableIndex])(WdfDriverGlobals, r, c)

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
