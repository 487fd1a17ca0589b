/* The few kernel types and x64 structure layouts this driver touches, from the documented wdm.h
   definitions (offsets checked below). Not the WDK header: only what the fixture needs. */
#pragma once
typedef unsigned char UCHAR, BOOLEAN;
typedef unsigned short USHORT, WCHAR;
typedef unsigned long ULONG, *PULONG;
typedef long LONG, NTSTATUS;
typedef unsigned long long ULONGLONG, ULONG_PTR, SIZE_T;
typedef long long LONGLONG;
typedef void VOID, *PVOID, *HANDLE, *PHANDLE;
typedef ULONGLONG REGHANDLE, *PREGHANDLE, TRACEHANDLE;
typedef ULONG ACCESS_MASK;
typedef struct _GUID { ULONG Data1; USHORT Data2; USHORT Data3; UCHAR Data4[8]; } GUID;
typedef const GUID *LPCGUID;
typedef struct _UNICODE_STRING { USHORT Length; USHORT MaximumLength; WCHAR *Buffer; } UNICODE_STRING, *PUNICODE_STRING;
#define NULL ((void *)0)
#define TRUE 1
#define FALSE 0
#define STATUS_SUCCESS ((NTSTATUS)0)
#define STATUS_INVALID_DEVICE_REQUEST ((NTSTATUS)0xC0000010L)
#define STATUS_NOT_SUPPORTED ((NTSTATUS)0xC00000BBL)
#define NT_SUCCESS(s) (((NTSTATUS)(s)) >= 0)
#define DECLSPEC_NOINLINE __declspec(noinline)
#define DECLSPEC_IMPORT __declspec(dllimport)

typedef struct _DEVICE_OBJECT DEVICE_OBJECT, *PDEVICE_OBJECT;
typedef struct _DRIVER_OBJECT DRIVER_OBJECT, *PDRIVER_OBJECT;
typedef struct _IRP IRP, *PIRP;
typedef struct _KPROCESS *PEPROCESS;
typedef struct _PS_CREATE_NOTIFY_INFO *PPS_CREATE_NOTIFY_INFO;
typedef NTSTATUS DRIVER_DISPATCH(PDEVICE_OBJECT DeviceObject, PIRP Irp);
typedef VOID DRIVER_UNLOAD(PDRIVER_OBJECT DriverObject);
typedef NTSTATUS DRIVER_ADD_DEVICE(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject);

typedef struct _DRIVER_EXTENSION {
    PDRIVER_OBJECT DriverObject;        /* 0x00 */
    DRIVER_ADD_DEVICE *AddDevice;       /* 0x08 */
} DRIVER_EXTENSION;

#define IRP_MJ_CREATE 0x00
#define IRP_MJ_CLOSE 0x02
#define IRP_MJ_DEVICE_CONTROL 0x0e
#define IRP_MJ_INTERNAL_DEVICE_CONTROL 0x0f
#define IRP_MJ_MAXIMUM_FUNCTION 0x1b

struct _DRIVER_OBJECT {
    USHORT Type, Size;
    PDEVICE_OBJECT DeviceObject;        /* 0x08 */
    ULONG Flags;                        /* 0x10 */
    PVOID DriverStart;                  /* 0x18 */
    ULONG DriverSize;                   /* 0x20 */
    PVOID DriverSection;                /* 0x28 */
    DRIVER_EXTENSION *DriverExtension;  /* 0x30 */
    UNICODE_STRING DriverName;          /* 0x38 */
    PUNICODE_STRING HardwareDatabase;   /* 0x48 */
    PVOID FastIoDispatch;               /* 0x50 */
    PVOID DriverInit;                   /* 0x58 */
    PVOID DriverStartIo;                /* 0x60 */
    DRIVER_UNLOAD *DriverUnload;        /* 0x68 */
    DRIVER_DISPATCH *MajorFunction[IRP_MJ_MAXIMUM_FUNCTION + 1];  /* 0x70 */
};

typedef struct _IO_STATUS_BLOCK { NTSTATUS Status; ULONG_PTR Information; } IO_STATUS_BLOCK;

typedef struct _IO_STACK_LOCATION {
    UCHAR MajorFunction, MinorFunction, Flags, Control;
    union {
        struct {
            ULONG OutputBufferLength;                          /* 0x08 */
            __declspec(align(8)) ULONG InputBufferLength;      /* 0x10: POINTER_ALIGNMENT */
            __declspec(align(8)) ULONG IoControlCode;          /* 0x18: POINTER_ALIGNMENT */
            PVOID Type3InputBuffer;     /* 0x20 */
        } DeviceIoControl;
        struct { PVOID Argument1, Argument2, Argument3, Argument4; } Others;
    } Parameters;
} IO_STACK_LOCATION, *PIO_STACK_LOCATION;

struct _IRP {
    USHORT Type, Size;
    PVOID MdlAddress;                   /* 0x08 */
    ULONG Flags;                        /* 0x10 */
    union { PVOID SystemBuffer; } AssociatedIrp;  /* 0x18 */
    UCHAR ThreadListEntry[0x10];        /* 0x20 */
    IO_STATUS_BLOCK IoStatus;           /* 0x30 */
    UCHAR Reserved[0x78];               /* 0x40: RequestorMode ... Overlay.ListEntry */
    PIO_STACK_LOCATION CurrentStackLocation;  /* 0xb8: Tail.Overlay.CurrentStackLocation */
};

typedef struct _KDPC { UCHAR Opaque[0x40]; } KDPC, *PKDPC;
typedef VOID KDEFERRED_ROUTINE(PKDPC Dpc, PVOID Context, PVOID Arg1, PVOID Arg2);
typedef VOID KSTART_ROUTINE(PVOID Context);
typedef VOID CREATE_PROCESS_NOTIFY_ROUTINE_EX(PEPROCESS Process, HANDLE ProcessId, PPS_CREATE_NOTIFY_INFO Info);

_Static_assert(__builtin_offsetof(DRIVER_OBJECT, DriverExtension) == 0x30, "DriverExtension");
_Static_assert(__builtin_offsetof(DRIVER_OBJECT, DriverUnload) == 0x68, "DriverUnload");
_Static_assert(__builtin_offsetof(DRIVER_OBJECT, MajorFunction) == 0x70, "MajorFunction");
_Static_assert(__builtin_offsetof(IRP, IoStatus) == 0x30, "IoStatus");
_Static_assert(__builtin_offsetof(IRP, CurrentStackLocation) == 0xb8, "CurrentStackLocation");
_Static_assert(__builtin_offsetof(IO_STACK_LOCATION, Parameters.DeviceIoControl.IoControlCode) == 0x18, "Ioctl");

#define IoGetCurrentIrpStackLocation(Irp) ((Irp)->CurrentStackLocation)

DECLSPEC_IMPORT VOID __fastcall IofCompleteRequest(PIRP Irp, char PriorityBoost);
DECLSPEC_IMPORT VOID KeInitializeDpc(PKDPC Dpc, KDEFERRED_ROUTINE *Routine, PVOID Context);
DECLSPEC_IMPORT NTSTATUS PsCreateSystemThread(PHANDLE Thread, ULONG Access, PVOID Attributes, HANDLE Process,
                                              PVOID ClientId, KSTART_ROUTINE *Routine, PVOID Context);
DECLSPEC_IMPORT NTSTATUS PsTerminateSystemThread(NTSTATUS Status);
DECLSPEC_IMPORT NTSTATUS PsSetCreateProcessNotifyRoutineEx(CREATE_PROCESS_NOTIFY_ROUTINE_EX *Routine, BOOLEAN Remove);
