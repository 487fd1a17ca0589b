/* wppuser.h: types and the WPP control model of wppuser (written by build.py). */
#pragma once
typedef unsigned char UCHAR;
typedef unsigned short USHORT;
typedef unsigned short WCHAR;
typedef long LONG;
typedef unsigned long ULONG;
typedef long long LONG64;
typedef unsigned long long ULONG64;
typedef unsigned long long SIZE_T;
typedef unsigned long long TRACEHANDLE;
typedef long NTSTATUS;
typedef struct _GUID { ULONG Data1; USHORT Data2; USHORT Data3; UCHAR Data4[8]; } GUID;
typedef const GUID *LPCGUID;
typedef GUID *LPGUID;
#define STATUS_SUCCESS ((NTSTATUS)0)
#define STATUS_INVALID_PARAMETER ((NTSTATUS)0xC000000DL)
#define STATUS_INVALID_HANDLE ((NTSTATUS)0xC0000008L)

/* WPP_CONTROL_GUIDS, as the driver or DLL defines it. */
#define WPP_CONTROL_GUIDS \
    WPP_DEFINE_CONTROL_GUID(WidgetTraceGuid, (fd97617c,e143,5079,b9cb,b434162e18f6), \
        WPP_DEFINE_BIT(TRACE_INIT) \
        WPP_DEFINE_BIT(TRACE_WIDGET) \
        WPP_DEFINE_BIT(TRACE_QUEUE) \
        WPP_DEFINE_BIT(TRACE_ERROR) \
    ) \
    WPP_DEFINE_CONTROL_GUID(WidgetPerfGuid, (41d2d92e,72a2,5792,9cf2,433e8459a0c6), \
        WPP_DEFINE_BIT(PERF_ENTRY) \
        WPP_DEFINE_BIT(PERF_EXIT) \
    ) \

/* template control.tpl: control block names, bits and the control block array. */
#define WPP_DEFINE_CONTROL_GUID(Name, Guid, Bits) WPP_CTL_ ## Name,
enum WPP_CTL_NAMES { WPP_CONTROL_GUIDS WPP_LAST_CTL };
#undef WPP_DEFINE_CONTROL_GUID
#define WPP_DEFINE_CONTROL_GUID(Name, Guid, Bits) \
    WPP_BLOCK_START_ ## Name = WPP_CTL_ ## Name * 0x10000, Bits WPP_BLOCK_END_ ## Name,
#define WPP_DEFINE_BIT(Name) WPP_BIT_ ## Name,
enum WPP_DEFINE_BIT_NAMES { WPP_CONTROL_GUIDS };
#undef WPP_DEFINE_BIT
#undef WPP_DEFINE_CONTROL_GUID
#define WPP_MASK(CTL) (1u << (((CTL) - 1) & 31))
#define WPP_FLAG_NO(CTL) ((0xFFFF & ((CTL) - 1)) / 32)
#define WPP_CTRL_NO(CTL) ((CTL) >> 16)

typedef struct _WPP_TRACE_CONTROL_BLOCK {
    struct _WPP_TRACE_CONTROL_BLOCK *Next;   /* 0x00 */
    TRACEHANDLE UmRegistrationHandle;        /* 0x08 */
    TRACEHANDLE Logger;                      /* 0x10 */
    UCHAR FlagsLen;                          /* 0x18 */
    UCHAR Level;                             /* 0x19 */
    USHORT Options;                          /* 0x1a */
    ULONG Flags[1];                          /* 0x1c */
    LPCGUID ControlGuid;                     /* 0x20 */
} WPP_TRACE_CONTROL_BLOCK;
typedef union { WPP_TRACE_CONTROL_BLOCK Control; UCHAR ReserveSpace[0x28]; } WPP_CB_TYPE;
extern WPP_CB_TYPE WPP_MAIN_CB[WPP_LAST_CTL];
extern WPP_CB_TYPE *WPP_GLOBAL_Control;
#define WPP_CB WPP_GLOBAL_Control
#define WPP_CONTROL(CTL) (WPP_CB[WPP_CTRL_NO(CTL)].Control)
#define WPP_CHECK_INIT (WPP_CB != (WPP_CB_TYPE *)&WPP_CB) &&

/* advapi32!TraceMessage (imported). */
__declspec(dllimport) ULONG __cdecl TraceMessage(TRACEHANDLE LoggerHandle, ULONG MessageFlags,
                                                 LPCGUID MessageGuid, USHORT MessageNumber, ...);
ULONG WppStrLenA(const char *String);

/* WPP_LEVEL_LOGGER/ENABLED (DoTraceMessage: LEVEL is a flag name) and WPP_LEVEL_FLAGS_* (DoTraceEvents). */
#define WPP_LEVEL_LOGGER(FLAG) (WPP_CONTROL(WPP_BIT_ ## FLAG).Logger),
#define WPP_LEVEL_ENABLED(FLAG) \
    (WPP_CONTROL(WPP_BIT_ ## FLAG).Flags[WPP_FLAG_NO(WPP_BIT_ ## FLAG)] & WPP_MASK(WPP_BIT_ ## FLAG))
#define WPP_LEVEL_FLAGS_LOGGER(LVL, FLAGS) (WPP_CONTROL(WPP_BIT_ ## FLAGS).Logger),
#define WPP_LEVEL_FLAGS_ENABLED(LVL, FLAGS) \
    (WPP_CONTROL(WPP_BIT_ ## FLAGS).Level >= (LVL) && WPP_LEVEL_ENABLED(FLAGS))
#define TRACE_LEVEL_CRITICAL 1
#define TRACE_LEVEL_ERROR 2
#define TRACE_LEVEL_WARNING 3
#define TRACE_LEVEL_INFORMATION 4
#define TRACE_LEVEL_VERBOSE 5

#define WPP_INIT_TRACING() (WPP_CONTROL_ANNOTATION(), WppInitControlBlocks())
void WppInitControlBlocks(void);

/* The image's own functions. */
NTSTATUS WdpValidateName(const char *Name, ULONG Length);
void WdpOpenInternal(const char *Name, void *Handle, ULONG Flags);
__declspec(dllexport) NTSTATUS WidgetOpen(const char *Name, ULONG Flags, void **Handle);
__declspec(dllexport) NTSTATUS WidgetClose(void *Handle);
void QpInsert(void *Item, LONG Priority);
void QpDrain(LPCGUID Owner);
__declspec(dllexport) void WidgetQueueWork(void *Item, LONG Priority);
__declspec(dllexport) void WidgetFlush(LPCGUID Owner);
ULONG WppStrLenA(const char *String);
