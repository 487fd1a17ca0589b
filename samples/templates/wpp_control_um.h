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
