/* wppkernel.h: types and the WPP control model of wppkernel (written by build.py). */
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
    WPP_DEFINE_CONTROL_GUID(KwTraceGuid, (5b7869e4,df55,5ba0,9ef6,de199e627df3), \
        WPP_DEFINE_BIT(KW_INIT) \
        WPP_DEFINE_BIT(KW_IOCTL) \
        WPP_DEFINE_BIT(KW_POWER) \
        WPP_DEFINE_BIT(KW_LEGACY) \
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
    void *Callback;                          /* 0x00 */
    LPCGUID ControlGuid;                     /* 0x08 */
    struct _WPP_TRACE_CONTROL_BLOCK *Next;   /* 0x10 */
    TRACEHANDLE Logger;                      /* 0x18 */
    void *RegistryPath;                      /* 0x20 */
    UCHAR FlagsLen;                          /* 0x28 */
    UCHAR Level;                             /* 0x29 */
    USHORT Reserved;                         /* 0x2a */
    ULONG Flags[1];                          /* 0x2c */
} WPP_TRACE_CONTROL_BLOCK;
typedef union { WPP_TRACE_CONTROL_BLOCK Control; UCHAR ReserveSpace[0x50]; } WPP_CB_TYPE;
extern WPP_CB_TYPE WPP_MAIN_CB[WPP_LAST_CTL];
extern WPP_CB_TYPE *WPP_GLOBAL_Control;
#define WPP_CB WPP_GLOBAL_Control
#define WPP_CONTROL(CTL) (WPP_CB[WPP_CTRL_NO(CTL)].Control)
#define WPP_CHECK_INIT (WPP_CB != (WPP_CB_TYPE *)&WPP_CB) &&

/* ntoskrnl's WMI trace-message API and the function pointer the kernel template calls through. */
__declspec(dllexport) NTSTATUS WmiTraceMessage(TRACEHANDLE LoggerHandle, ULONG MessageFlags,
                                              LPCGUID MessageGuid, USHORT MessageNumber, ...);
typedef NTSTATUS (*PFN_WPPTRACEMESSAGE)(TRACEHANDLE LoggerHandle, ULONG MessageFlags, LPCGUID MessageGuid,
                                        USHORT MessageNumber, ...);
extern PFN_WPPTRACEMESSAGE pfnWppTraceMessage;
void WppLoadTracingSupport(void);

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
NTSTATUS KwpHandleIoctl(ULONG Code, LONG InLength, LONG OutLength);
__declspec(dllexport) NTSTATUS KwDispatchDeviceControl(ULONG Code, LONG InLength, LONG OutLength);
void KwpTransition(LONG From, LONG To);
__declspec(dllexport) NTSTATUS KwSetPowerState(LONG State);
void KwpLegacyRead(ULONG64 Bytes, const void *Address);
__declspec(dllexport) NTSTATUS KwLegacyQuery(ULONG64 Bytes, const void *Address);
