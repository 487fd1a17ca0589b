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
