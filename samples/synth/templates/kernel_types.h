typedef unsigned char UINT8, UCHAR, BOOLEAN;
typedef unsigned short UINT16, USHORT, WCHAR;
typedef unsigned int UINT32;
typedef unsigned long ULONG;
typedef long LONG, NTSTATUS;
typedef unsigned long long UINT64, ULONGLONG, ULONG64, ULONG_PTR, SIZE_T, REGHANDLE;
typedef long long LONGLONG, LONG_PTR;
typedef void VOID;
typedef void* PVOID;
typedef REGHANDLE* PREGHANDLE;
typedef const WCHAR* PCWSTR;

#define NULL ((void*)0)
#define NOINLINE __declspec(noinline)
#define EXPORT __declspec(dllexport)
#define STATUS_SUCCESS ((NTSTATUS)0x00000000L)
#define STATUS_ACCESS_DENIED ((NTSTATUS)0xC0000022L)
#define STATUS_INVALID_HANDLE ((NTSTATUS)0xC0000008L)
#define STATUS_INVALID_PARAMETER ((NTSTATUS)0xC000000DL)
#define NtCurrentProcess() ((PVOID)(LONG_PTR)-1)

typedef struct _GUID {
    ULONG Data1;
    USHORT Data2;
    USHORT Data3;
    UCHAR Data4[8];
} GUID;
typedef const GUID* LPCGUID;

/* evntprov.h */
typedef struct _EVENT_DESCRIPTOR {
    USHORT Id;
    UCHAR Version;
    UCHAR Channel;
    UCHAR Level;
    UCHAR Opcode;
    USHORT Task;
    ULONGLONG Keyword;
} EVENT_DESCRIPTOR, *PEVENT_DESCRIPTOR;
typedef const EVENT_DESCRIPTOR* PCEVENT_DESCRIPTOR;

typedef struct _EVENT_DATA_DESCRIPTOR {
    ULONGLONG Ptr;
    ULONG Size;
    ULONG Reserved;
} EVENT_DATA_DESCRIPTOR, *PEVENT_DATA_DESCRIPTOR;

typedef struct _EVENT_FILTER_DESCRIPTOR {
    ULONGLONG Ptr;
    ULONG Size;
    ULONG Type;
} EVENT_FILTER_DESCRIPTOR, *PEVENT_FILTER_DESCRIPTOR;

typedef VOID (*PETWENABLECALLBACK)(LPCGUID SourceId, ULONG ControlCode, UCHAR Level, ULONGLONG MatchAnyKeyword,
                                   ULONGLONG MatchAllKeyword, PEVENT_FILTER_DESCRIPTOR FilterData,
                                   PVOID CallbackContext);

/* TraceLoggingProvider.h (kernel mode) */
typedef struct _tlgProvider_t {
    UINT32 LevelPlus1;
    const UINT16* ProviderMetadataPtr; /* points at the provider blob's RemainingSize */
    ULONGLONG KeywordAny;
    ULONGLONG KeywordAll;
    REGHANDLE RegHandle;
    PETWENABLECALLBACK EnableCallback;
    PVOID CallbackContext;
} _tlgProvider_t;

struct _TraceLoggingMetadata_t {
    UINT32 Signature; /* "ETW0" */
    UINT16 Size;
    UINT8 Version;
    UINT8 Flags;
    UINT64 Magic;
};

/* ETW state with registration handles in fields: MemoryRegHandle at +0x8, GeneralRegHandle at +0x10 */
typedef struct _ETWP_STATE {
    ULONG Flags;
    ULONG SequenceNumber;
    REGHANDLE MemoryRegHandle;
    REGHANDLE GeneralRegHandle;
    ULONGLONG EnableMask;
} ETWP_STATE, *PETWP_STATE;

#define ETW_TRACE_KERNEL_EVENT_FLAGS 0x00401802
