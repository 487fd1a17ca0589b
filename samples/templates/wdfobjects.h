/* The WDF object model both frameworks share: handle types, the bind information, and the x64 layouts of the
   callback structures and the signatures of the methods KMDF 1.15 and UMDF 2.33 both have (identical in the two
   sets of documented WDF headers: wdf.h, wdfdriver.h, wdfdevice.h, wdfio.h, wdfobject.h, wdftimer.h,
   wdfworkitem.h, wdfinterrupt.h, wdfiotarget.h, wdfrequest.h; offsets checked below). Included by wdflite.h
   (KMDF) and umdflite.h (UMDF 2) after the types of wdmlite.h or umdflite.h; each of those defines its
   WDFFUNCENUM and WDF_FUNCTIONS, the table the calls below go through. Not the WDK headers. */
#pragma once
typedef struct WDFDRIVER__ *WDFDRIVER;
typedef struct WDFDEVICE__ *WDFDEVICE;
typedef struct WDFQUEUE__ *WDFQUEUE;
typedef struct WDFREQUEST__ *WDFREQUEST;
typedef struct WDFCMRESLIST__ *WDFCMRESLIST;
typedef struct WDFFILEOBJECT__ *WDFFILEOBJECT;
typedef struct WDFTIMER__ *WDFTIMER;
typedef struct WDFWORKITEM__ *WDFWORKITEM;
typedef struct WDFINTERRUPT__ *WDFINTERRUPT;
typedef struct WDFIOTARGET__ *WDFIOTARGET;
typedef struct WDFSPINLOCK__ *WDFSPINLOCK;
typedef PVOID WDFCONTEXT;
typedef struct WDFDEVICE_INIT *PWDFDEVICE_INIT;
typedef PVOID WDFOBJECT;
typedef struct _WDF_DRIVER_GLOBALS *PWDF_DRIVER_GLOBALS;
typedef VOID (*WDFFUNC)(VOID);
typedef ULONG WDF_POWER_DEVICE_STATE;
extern PWDF_DRIVER_GLOBALS WdfDriverGlobals;

/* What the stub hands the loader: the loader stores the table's address through FuncTable (fxldr.h). */
typedef struct _WDF_VERSION { ULONG Major; ULONG Minor; ULONG Build; } WDF_VERSION;
typedef struct _WDF_BIND_INFO {
    ULONG Size;
    WCHAR *Component;                   /* 0x08 */
    WDF_VERSION Version;                /* 0x10 */
    ULONG FuncCount;                    /* 0x1c */
    WDFFUNC **FuncTable;                /* 0x20 */
    PVOID Module;                       /* 0x28 */
} WDF_BIND_INFO, *PWDF_BIND_INFO;

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
typedef VOID EVT_WDF_IO_QUEUE_IO_STOP(WDFQUEUE Queue, WDFREQUEST Request, ULONG ActionFlags);
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
    EVT_WDF_IO_QUEUE_IO_STOP *EvtIoStop;            /* 0x38 */
    PVOID EvtIoResume;                  /* 0x40 */
    PVOID EvtIoCanceledOnQueue;         /* 0x48 */
    union { struct { ULONG NumberOfPresentedRequests; } Parallel; } Settings;  /* 0x50 */
    WDFDRIVER Driver;                   /* 0x58 */
} WDF_IO_QUEUE_CONFIG;
/* A queue's state callback (wdfio.h): WdfIoQueueReadyNotify, Stop, Drain, Purge. */
typedef VOID EVT_WDF_IO_QUEUE_STATE(WDFQUEUE Queue, WDFCONTEXT Context);

typedef NTSTATUS EVT_WDF_DEVICE_D0_ENTRY(WDFDEVICE Device, WDF_POWER_DEVICE_STATE PreviousState);
typedef NTSTATUS EVT_WDF_DEVICE_D0_EXIT(WDFDEVICE Device, WDF_POWER_DEVICE_STATE TargetState);
typedef NTSTATUS EVT_WDF_DEVICE_PREPARE_HARDWARE(WDFDEVICE Device, WDFCMRESLIST Raw, WDFCMRESLIST Translated);
typedef VOID EVT_WDF_DEVICE_SURPRISE_REMOVAL(WDFDEVICE Device);
typedef struct _WDF_PNPPOWER_EVENT_CALLBACKS {
    ULONG Size;
    EVT_WDF_DEVICE_D0_ENTRY *EvtDeviceD0Entry;      /* 0x08 */
    PVOID EvtDeviceD0EntryPostInterruptsEnabled;    /* 0x10 */
    EVT_WDF_DEVICE_D0_EXIT *EvtDeviceD0Exit;        /* 0x18 */
    PVOID EvtDeviceD0ExitPreInterruptsDisabled;     /* 0x20 */
    EVT_WDF_DEVICE_PREPARE_HARDWARE *EvtDevicePrepareHardware;  /* 0x28 */
    PVOID EvtDeviceReleaseHardware;     /* 0x30 */
    PVOID EvtDeviceSelfManagedIo[5];    /* 0x38: Cleanup, Flush, Init, Suspend, Restart */
    EVT_WDF_DEVICE_SURPRISE_REMOVAL *EvtDeviceSurpriseRemoval;  /* 0x60 */
    PVOID EvtDeviceQueryRemove;         /* 0x68 */
    PVOID EvtDeviceQueryStop;           /* 0x70 */
    PVOID EvtDeviceUsageNotification;   /* 0x78 */
    PVOID EvtDeviceRelationsQuery;      /* 0x80 */
    PVOID EvtDeviceUsageNotificationEx; /* 0x88 */
} WDF_PNPPOWER_EVENT_CALLBACKS;

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

/* Interrupts: the ISR, then a DPC (KMDF) or, handled at passive level, a work item (UMDF's way). */
typedef BOOLEAN EVT_WDF_INTERRUPT_ISR(WDFINTERRUPT Interrupt, ULONG MessageId);
typedef VOID EVT_WDF_INTERRUPT_DPC(WDFINTERRUPT Interrupt, WDFOBJECT AssociatedObject);
typedef VOID EVT_WDF_INTERRUPT_WORKITEM(WDFINTERRUPT Interrupt, WDFOBJECT AssociatedObject);
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
    EVT_WDF_INTERRUPT_WORKITEM *EvtInterruptWorkItem;   /* 0x38 */
    PVOID InterruptRaw;                 /* 0x40 */
    PVOID InterruptTranslated;          /* 0x48 */
    PVOID WaitLock;                     /* 0x50 */
    BOOLEAN PassiveHandling;            /* 0x58 */
    ULONG ReportInactiveOnPowerDown;    /* 0x5c: WDF_TRI_STATE */
    BOOLEAN CanWakeDevice;              /* 0x60 */
} WDF_INTERRUPT_CONFIG;

/* Remote I/O targets (wdfiotarget.h): the target's owner is asked before its device is removed. */
typedef NTSTATUS EVT_WDF_IO_TARGET_QUERY_REMOVE(WDFIOTARGET IoTarget);
typedef VOID EVT_WDF_IO_TARGET_REMOVE_COMPLETE(WDFIOTARGET IoTarget);
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

typedef VOID EVT_WDF_REQUEST_COMPLETION_ROUTINE(WDFREQUEST Request, WDFIOTARGET Target, PVOID Params, PVOID Context);
typedef VOID EVT_WDF_REQUEST_CANCEL(WDFREQUEST Request);

_Static_assert(__builtin_offsetof(WDF_BIND_INFO, FuncTable) == 0x20, "FuncTable");
_Static_assert(__builtin_offsetof(WDF_BIND_INFO, FuncCount) == 0x1c && sizeof(WDF_BIND_INFO) == 0x30, "FuncCount");
_Static_assert(sizeof(WDF_WORKITEM_CONFIG) == 0x18 && sizeof(WDF_TIMER_CONFIG) == 0x20, "work item, timer");
_Static_assert(__builtin_offsetof(WDF_INTERRUPT_CONFIG, EvtInterruptWorkItem) == 0x38, "EvtInterruptWorkItem");
_Static_assert(__builtin_offsetof(WDF_FILEOBJECT_CONFIG, EvtFileCleanup) == 0x18, "EvtFileCleanup");
_Static_assert(__builtin_offsetof(WDF_DRIVER_CONFIG, EvtDriverDeviceAdd) == 0x08, "EvtDriverDeviceAdd");
_Static_assert(__builtin_offsetof(WDF_IO_QUEUE_CONFIG, EvtIoDeviceControl) == 0x28, "EvtIoDeviceControl");
_Static_assert(__builtin_offsetof(WDF_IO_QUEUE_CONFIG, EvtIoStop) == 0x38, "EvtIoStop");
_Static_assert(__builtin_offsetof(WDF_IO_QUEUE_CONFIG, Driver) == 0x58, "Driver");
_Static_assert(__builtin_offsetof(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDevicePrepareHardware) == 0x28, "Prepare");
_Static_assert(__builtin_offsetof(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceSurpriseRemoval) == 0x60, "Surprise");
_Static_assert(__builtin_offsetof(WDF_PNPPOWER_EVENT_CALLBACKS, EvtDeviceUsageNotificationEx) == 0x88, "UsageEx");
_Static_assert(sizeof(WDF_POWER_POLICY_EVENT_CALLBACKS) == 0x40, "power policy callbacks");
_Static_assert(__builtin_offsetof(WDF_OBJECT_ATTRIBUTES, ContextTypeInfo) == 0x30, "ContextTypeInfo");
_Static_assert(__builtin_offsetof(WDF_IO_TARGET_OPEN_PARAMS, FileName) == 0x78 &&
               sizeof(WDF_IO_TARGET_OPEN_PARAMS) == 0x88, "WDF_IO_TARGET_OPEN_PARAMS");

/* The INIT helpers, as the headers define them: zero the structure, set its size and the defaults. */
#define WDF_ZERO_SIZED(p) (__builtin_memset((p), 0, sizeof(*(p))), (p)->Size = sizeof(*(p)))
#define WDF_DRIVER_CONFIG_INIT(c, add) (WDF_ZERO_SIZED(c), (c)->EvtDriverDeviceAdd = (add))
#define WDF_OBJECT_ATTRIBUTES_INIT(a) (WDF_ZERO_SIZED(a), (a)->ExecutionLevel = 1, (a)->SynchronizationScope = 1)
#define WDF_PNPPOWER_EVENT_CALLBACKS_INIT(p) WDF_ZERO_SIZED(p)
#define WDF_POWER_POLICY_EVENT_CALLBACKS_INIT(p) WDF_ZERO_SIZED(p)
#define WDF_IO_QUEUE_CONFIG_INIT(q, type) (WDF_ZERO_SIZED(q), (q)->PowerManaged = 2, (q)->DispatchType = (type))
#define WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(q, type) (WDF_IO_QUEUE_CONFIG_INIT(q, type), (q)->DefaultQueue = 1)
#define WDF_FILEOBJECT_CONFIG_INIT(f, create, close, cleanup) (WDF_ZERO_SIZED(f),\
    (f)->EvtDeviceFileCreate = (create), (f)->EvtFileClose = (close), (f)->EvtFileCleanup = (cleanup),\
    (f)->AutoForwardCleanupClose = 2, (f)->FileObjectClass = 2)
#define WDF_TIMER_CONFIG_INIT(t, func) (WDF_ZERO_SIZED(t), (t)->EvtTimerFunc = (func),\
    (t)->AutomaticSerialization = 1, (t)->UseHighResolutionTimer = 0)
#define WDF_WORKITEM_CONFIG_INIT(w, func) (WDF_ZERO_SIZED(w), (w)->EvtWorkItemFunc = (func),\
    (w)->AutomaticSerialization = 1)
#define WDF_INTERRUPT_CONFIG_INIT(i, isr, dpc) (WDF_ZERO_SIZED(i), (i)->ShareVector = 2,\
    (i)->EvtInterruptIsr = (isr), (i)->EvtInterruptDpc = (dpc))

/* Every framework call goes through the table: WDF_FUNCTIONS[<Name>TableIndex](WdfDriverGlobals, ...). */
typedef NTSTATUS (*PFN_WDFDRIVERCREATE)(PWDF_DRIVER_GLOBALS, PDRIVER_OBJECT, PUNICODE_STRING,
                                        WDF_OBJECT_ATTRIBUTES *, WDF_DRIVER_CONFIG *, WDFDRIVER *);
typedef NTSTATUS (*PFN_WDFDEVICECREATE)(PWDF_DRIVER_GLOBALS, PWDFDEVICE_INIT *, WDF_OBJECT_ATTRIBUTES *,
                                        WDFDEVICE *);
typedef VOID (*PFN_WDFDEVICEINITSETPNPPOWEREVENTCALLBACKS)(PWDF_DRIVER_GLOBALS, PWDFDEVICE_INIT,
                                                           WDF_PNPPOWER_EVENT_CALLBACKS *);
typedef VOID (*PFN_WDFDEVICEINITSETPOWERPOLICYEVENTCALLBACKS)(PWDF_DRIVER_GLOBALS, PWDFDEVICE_INIT,
                                                              WDF_POWER_POLICY_EVENT_CALLBACKS *);
typedef VOID (*PFN_WDFDEVICEINITSETFILEOBJECTCONFIG)(PWDF_DRIVER_GLOBALS, PWDFDEVICE_INIT, WDF_FILEOBJECT_CONFIG *,
                                                     WDF_OBJECT_ATTRIBUTES *);
typedef NTSTATUS (*PFN_WDFIOQUEUECREATE)(PWDF_DRIVER_GLOBALS, WDFDEVICE, WDF_IO_QUEUE_CONFIG *,
                                         WDF_OBJECT_ATTRIBUTES *, WDFQUEUE *);
typedef NTSTATUS (*PFN_WDFIOQUEUEREADYNOTIFY)(PWDF_DRIVER_GLOBALS, WDFQUEUE, EVT_WDF_IO_QUEUE_STATE *, WDFCONTEXT);
typedef NTSTATUS (*PFN_WDFTIMERCREATE)(PWDF_DRIVER_GLOBALS, WDF_TIMER_CONFIG *, WDF_OBJECT_ATTRIBUTES *, WDFTIMER *);
typedef NTSTATUS (*PFN_WDFWORKITEMCREATE)(PWDF_DRIVER_GLOBALS, WDF_WORKITEM_CONFIG *, WDF_OBJECT_ATTRIBUTES *,
                                          WDFWORKITEM *);
typedef NTSTATUS (*PFN_WDFINTERRUPTCREATE)(PWDF_DRIVER_GLOBALS, WDFDEVICE, WDF_INTERRUPT_CONFIG *,
                                           WDF_OBJECT_ATTRIBUTES *, WDFINTERRUPT *);
typedef NTSTATUS (*PFN_WDFOBJECTALLOCATECONTEXT)(PWDF_DRIVER_GLOBALS, WDFOBJECT, WDF_OBJECT_ATTRIBUTES *, PVOID *);
typedef NTSTATUS (*PFN_WDFIOTARGETCREATE)(PWDF_DRIVER_GLOBALS, WDFDEVICE, WDF_OBJECT_ATTRIBUTES *, WDFIOTARGET *);
typedef NTSTATUS (*PFN_WDFIOTARGETOPEN)(PWDF_DRIVER_GLOBALS, WDFIOTARGET, WDF_IO_TARGET_OPEN_PARAMS *);
typedef VOID (*PFN_WDFREQUESTSETCOMPLETIONROUTINE)(PWDF_DRIVER_GLOBALS, WDFREQUEST,
                                                   EVT_WDF_REQUEST_COMPLETION_ROUTINE *, PVOID);
typedef VOID (*PFN_WDFREQUESTMARKCANCELABLE)(PWDF_DRIVER_GLOBALS, WDFREQUEST, EVT_WDF_REQUEST_CANCEL *);
typedef NTSTATUS (*PFN_WDFREQUESTMARKCANCELABLEEX)(PWDF_DRIVER_GLOBALS, WDFREQUEST, EVT_WDF_REQUEST_CANCEL *);
#define WDF_CALL(type, name) ((type)WDF_FUNCTIONS[name##TableIndex])
#define WdfDriverCreate(o, r, a, c, d) WDF_CALL(PFN_WDFDRIVERCREATE, WdfDriverCreate)(WdfDriverGlobals, o, r, a, c, d)
#define WdfDeviceCreate(i, a, d) WDF_CALL(PFN_WDFDEVICECREATE, WdfDeviceCreate)(WdfDriverGlobals, i, a, d)
#define WdfDeviceInitSetPnpPowerEventCallbacks(i, p) WDF_CALL(PFN_WDFDEVICEINITSETPNPPOWEREVENTCALLBACKS,\
    WdfDeviceInitSetPnpPowerEventCallbacks)(WdfDriverGlobals, i, p)
#define WdfDeviceInitSetPowerPolicyEventCallbacks(i, p) WDF_CALL(PFN_WDFDEVICEINITSETPOWERPOLICYEVENTCALLBACKS,\
    WdfDeviceInitSetPowerPolicyEventCallbacks)(WdfDriverGlobals, i, p)
#define WdfDeviceInitSetFileObjectConfig(i, f, a) WDF_CALL(PFN_WDFDEVICEINITSETFILEOBJECTCONFIG,\
    WdfDeviceInitSetFileObjectConfig)(WdfDriverGlobals, i, f, a)
#define WdfIoQueueCreate(d, c, a, q) WDF_CALL(PFN_WDFIOQUEUECREATE, WdfIoQueueCreate)(WdfDriverGlobals, d, c, a, q)
#define WdfIoQueueReadyNotify(q, r, c) WDF_CALL(PFN_WDFIOQUEUEREADYNOTIFY, WdfIoQueueReadyNotify)(\
    WdfDriverGlobals, q, r, c)
#define WdfTimerCreate(c, a, t) WDF_CALL(PFN_WDFTIMERCREATE, WdfTimerCreate)(WdfDriverGlobals, c, a, t)
#define WdfWorkItemCreate(c, a, w) WDF_CALL(PFN_WDFWORKITEMCREATE, WdfWorkItemCreate)(WdfDriverGlobals, c, a, w)
#define WdfInterruptCreate(d, c, a, i) WDF_CALL(PFN_WDFINTERRUPTCREATE, WdfInterruptCreate)(\
    WdfDriverGlobals, d, c, a, i)
#define WdfObjectAllocateContext(h, a, c) WDF_CALL(PFN_WDFOBJECTALLOCATECONTEXT, WdfObjectAllocateContext)(\
    WdfDriverGlobals, h, a, c)
#define WdfIoTargetCreate(d, a, t) WDF_CALL(PFN_WDFIOTARGETCREATE, WdfIoTargetCreate)(WdfDriverGlobals, d, a, t)
#define WdfIoTargetOpen(t, p) WDF_CALL(PFN_WDFIOTARGETOPEN, WdfIoTargetOpen)(WdfDriverGlobals, t, p)
#define WdfRequestSetCompletionRoutine(r, c, x) WDF_CALL(PFN_WDFREQUESTSETCOMPLETIONROUTINE,\
    WdfRequestSetCompletionRoutine)(WdfDriverGlobals, r, c, x)
#define WdfRequestMarkCancelable(r, c) WDF_CALL(PFN_WDFREQUESTMARKCANCELABLE, WdfRequestMarkCancelable)(\
    WdfDriverGlobals, r, c)
#define WdfRequestMarkCancelableEx(r, c) WDF_CALL(PFN_WDFREQUESTMARKCANCELABLEEX, WdfRequestMarkCancelableEx)(\
    WdfDriverGlobals, r, c)
