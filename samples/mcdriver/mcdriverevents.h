/* mcdriverevents.h: provider Contoso-Widget-Driver, in the layout of an mc.exe -km header. */
#pragma once

typedef struct _EVENT_DESCRIPTOR {
    USHORT Id; UCHAR Version; UCHAR Channel; UCHAR Level; UCHAR Opcode; USHORT Task; ULONGLONG Keyword;
} EVENT_DESCRIPTOR;
typedef const EVENT_DESCRIPTOR *PCEVENT_DESCRIPTOR;
typedef struct _EVENT_DATA_DESCRIPTOR { ULONGLONG Ptr; ULONG Size; ULONG Reserved; } EVENT_DATA_DESCRIPTOR;
typedef EVENT_DATA_DESCRIPTOR *PEVENT_DATA_DESCRIPTOR;
typedef struct _EVENT_FILTER_DESCRIPTOR *PEVENT_FILTER_DESCRIPTOR;
typedef VOID (*PENABLECALLBACK)(LPCGUID SourceId, ULONG ControlCode, UCHAR Level, ULONGLONG MatchAny,
                                ULONGLONG MatchAll, PEVENT_FILTER_DESCRIPTOR FilterData, PVOID Context);
DECLSPEC_IMPORT ULONG EtwRegister(LPCGUID ProviderId, PENABLECALLBACK Callback, PVOID Context, PREGHANDLE RegHandle);
DECLSPEC_IMPORT ULONG EtwUnregister(REGHANDLE RegHandle);
DECLSPEC_IMPORT ULONG EtwWriteTransfer(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR Descriptor, LPCGUID ActivityId,
                                  LPCGUID RelatedActivityId, ULONG Count, PEVENT_DATA_DESCRIPTOR Data);

/* Per-provider state: the REGHANDLE first, then what the enable callback last received. */
typedef struct _MCGEN_TRACE_CONTEXT {
    TRACEHANDLE RegistrationHandle;
    TRACEHANDLE Logger;
    ULONGLONG MatchAnyKeyword;
    ULONGLONG MatchAllKeyword;
    ULONG Flags;
    ULONG IsEnabled;
    UCHAR Level;
    UCHAR Reserve;
    USHORT EnableBitsCount;
    PULONG EnableBitMask;
    const ULONGLONG *EnableKeyWords;
    const UCHAR *EnableLevel;
} MCGEN_TRACE_CONTEXT, *PMCGEN_TRACE_CONTEXT;
typedef const MCGEN_TRACE_CONTEXT *PCMCGEN_TRACE_CONTEXT;

__declspec(selectany) const GUID CONTOSO_WIDGET_DRIVER = {0x870a9bcf, 0x88c6, 0x5766, {0xbd, 0xf0, 0x46, 0xe9, 0x0e, 0x33, 0xcd, 0xfa}};
__declspec(selectany) ULONG CONTOSO_WIDGET_DRIVER_EnableBits[1];
__declspec(selectany) const ULONGLONG CONTOSO_WIDGET_DRIVER_Keywords[16] = {0x1, 0x1, 0x2, 0x2, 0x4, 0x4, 0x4, 0x4, 0x8, 0x4, 0x10, 0x20, 0x20, 0x40, 0x40, 0x80};
__declspec(selectany) const UCHAR CONTOSO_WIDGET_DRIVER_Levels[16] = {4, 4, 4, 5, 4, 4, 5, 2, 3, 5, 5, 5, 5, 5, 5, 4};
__declspec(selectany) MCGEN_TRACE_CONTEXT CONTOSO_WIDGET_DRIVER_Context = {0, 0, 0, 0, 0, 0, 0, 0, 16, CONTOSO_WIDGET_DRIVER_EnableBits, CONTOSO_WIDGET_DRIVER_Keywords, CONTOSO_WIDGET_DRIVER_Levels};
#define CONTOSO_WIDGET_DRIVERHandle (CONTOSO_WIDGET_DRIVER_Context.RegistrationHandle)

__declspec(selectany) const EVENT_DESCRIPTOR DriverLoaded = {0x1, 0x0, 0x10, 0x4, 0x1, 0x1, 0x1};
__declspec(selectany) const EVENT_DESCRIPTOR DriverUnloading = {0x2, 0x0, 0x10, 0x4, 0x2, 0x1, 0x1};
__declspec(selectany) const EVENT_DESCRIPTOR DeviceAdded = {0x3, 0x0, 0x10, 0x4, 0x0, 0x2, 0x2};
__declspec(selectany) const EVENT_DESCRIPTOR DeviceOpened = {0x4, 0x0, 0x10, 0x5, 0x0, 0x2, 0x2};
__declspec(selectany) const EVENT_DESCRIPTOR IoctlStart = {0xa, 0x0, 0x10, 0x4, 0x1, 0x3, 0x4};
__declspec(selectany) const EVENT_DESCRIPTOR IoctlStop = {0xb, 0x0, 0x10, 0x4, 0x2, 0x3, 0x4};
__declspec(selectany) const EVENT_DESCRIPTOR IoctlQuery = {0xc, 0x0, 0x10, 0x5, 0x0, 0x3, 0x4};
__declspec(selectany) const EVENT_DESCRIPTOR IoctlRejected = {0xd, 0x0, 0x10, 0x2, 0x0, 0x3, 0x4};
__declspec(selectany) const EVENT_DESCRIPTOR DeviceReset = {0xe, 0x0, 0x10, 0x3, 0x0, 0x4, 0x8};
__declspec(selectany) const EVENT_DESCRIPTOR InternalPing = {0xf, 0x0, 0x10, 0x5, 0x0, 0x3, 0x4};
__declspec(selectany) const EVENT_DESCRIPTOR ProcessSeen = {0x14, 0x0, 0x10, 0x5, 0x0, 0x5, 0x10};
__declspec(selectany) const EVENT_DESCRIPTOR OpsOpened = {0x1e, 0x0, 0x10, 0x5, 0x1, 0x6, 0x20};
__declspec(selectany) const EVENT_DESCRIPTOR OpsClosed = {0x1f, 0x0, 0x10, 0x5, 0x2, 0x6, 0x20};
__declspec(selectany) const EVENT_DESCRIPTOR WorkerTick = {0x28, 0x0, 0x10, 0x5, 0x0, 0x7, 0x40};
__declspec(selectany) const EVENT_DESCRIPTOR DpcFired = {0x29, 0x0, 0x10, 0x5, 0x0, 0x7, 0x40};
__declspec(selectany) const EVENT_DESCRIPTOR LateHook = {0x32, 0x0, 0x10, 0x4, 0x0, 0x8, 0x80};

/* The enable callback: records the session's level and keywords and sets one enable bit per event. */
DECLSPEC_NOINLINE __inline VOID McGenControlCallbackV2(LPCGUID SourceId, ULONG ControlCode, UCHAR Level,
        ULONGLONG MatchAny, ULONGLONG MatchAll, PEVENT_FILTER_DESCRIPTOR FilterData, PVOID CallbackContext)
{
    PMCGEN_TRACE_CONTEXT Ctx = (PMCGEN_TRACE_CONTEXT)CallbackContext;
    ULONG Ix;
    (void)SourceId; (void)FilterData;
    if (Ctx == NULL) return;
    Ctx->Level = Level; Ctx->MatchAnyKeyword = MatchAny; Ctx->MatchAllKeyword = MatchAll;
    Ctx->IsEnabled = ControlCode == 1;
    for (Ix = 0; Ix < Ctx->EnableBitsCount; Ix++) {
        int on = Ctx->IsEnabled && (Ctx->Level == 0 || Ctx->EnableLevel[Ix] <= Ctx->Level) &&
                 (Ctx->EnableKeyWords[Ix] == 0 || ((Ctx->EnableKeyWords[Ix] & Ctx->MatchAnyKeyword) &&
                  (Ctx->EnableKeyWords[Ix] & Ctx->MatchAllKeyword) == Ctx->MatchAllKeyword));
        if (on) Ctx->EnableBitMask[Ix >> 5] |= 1u << (Ix % 32);
        else Ctx->EnableBitMask[Ix >> 5] &= ~(1u << (Ix % 32));
    }
}

DECLSPEC_NOINLINE __inline ULONG McGenEventRegister_EtwRegister(LPCGUID ProviderId, PENABLECALLBACK EnableCallback,
        PVOID CallbackContext, PREGHANDLE RegHandle)
{
    if (*RegHandle) return 0;
    return EtwRegister(ProviderId, EnableCallback, CallbackContext, RegHandle);
}

DECLSPEC_NOINLINE __inline ULONG McGenEventUnregister_EtwUnregister(PREGHANDLE RegHandle)
{
    ULONG Error;
    if (!*RegHandle) return 0;
    Error = EtwUnregister(*RegHandle);
    *RegHandle = 0;
    return Error;
}

/* Every write goes through here: the REGHANDLE is read from the context, the descriptor passed on. */
DECLSPEC_NOINLINE __inline ULONG McGenEventWrite_EtwWriteTransfer(PCMCGEN_TRACE_CONTEXT Context, PCEVENT_DESCRIPTOR Descriptor,
        LPCGUID ActivityId, ULONG EventDataCount, PEVENT_DATA_DESCRIPTOR EventData)
{
    return EtwWriteTransfer(Context->RegistrationHandle, Descriptor, ActivityId, NULL, EventDataCount, EventData);
}

DECLSPEC_NOINLINE __inline ULONG McTemplateK0q(PCMCGEN_TRACE_CONTEXT Context, PCEVENT_DESCRIPTOR Descriptor, const unsigned int _Arg0)
{
    EVENT_DATA_DESCRIPTOR EventData[1];
    EventData[0].Ptr = (ULONGLONG)(ULONG_PTR)&_Arg0; EventData[0].Size = sizeof(const unsigned int); EventData[0].Reserved = 0;
    return McGenEventWrite_EtwWriteTransfer(Context, Descriptor, NULL, 1, EventData);
}

DECLSPEC_NOINLINE __inline ULONG McTemplateK0qq(PCMCGEN_TRACE_CONTEXT Context, PCEVENT_DESCRIPTOR Descriptor, const unsigned int _Arg0, const unsigned int _Arg1)
{
    EVENT_DATA_DESCRIPTOR EventData[2];
    EventData[0].Ptr = (ULONGLONG)(ULONG_PTR)&_Arg0; EventData[0].Size = sizeof(const unsigned int); EventData[0].Reserved = 0;
    EventData[1].Ptr = (ULONGLONG)(ULONG_PTR)&_Arg1; EventData[1].Size = sizeof(const unsigned int); EventData[1].Reserved = 0;
    return McGenEventWrite_EtwWriteTransfer(Context, Descriptor, NULL, 2, EventData);
}

DECLSPEC_NOINLINE __inline ULONG McTemplateK0x(PCMCGEN_TRACE_CONTEXT Context, PCEVENT_DESCRIPTOR Descriptor, const unsigned long long _Arg0)
{
    EVENT_DATA_DESCRIPTOR EventData[1];
    EventData[0].Ptr = (ULONGLONG)(ULONG_PTR)&_Arg0; EventData[0].Size = sizeof(const unsigned long long); EventData[0].Reserved = 0;
    return McGenEventWrite_EtwWriteTransfer(Context, Descriptor, NULL, 1, EventData);
}

#define EventEnabledDriverLoaded() ((CONTOSO_WIDGET_DRIVER_EnableBits[0] & 0x00000001u) != 0)
#define EventWriteDriverLoaded(a0) (EventEnabledDriverLoaded() ? McTemplateK0q(&CONTOSO_WIDGET_DRIVER_Context, &DriverLoaded, a0) : 0)
#define EventEnabledDriverUnloading() ((CONTOSO_WIDGET_DRIVER_EnableBits[0] & 0x00000002u) != 0)
#define EventWriteDriverUnloading() (EventEnabledDriverUnloading() ? McGenEventWrite_EtwWriteTransfer(&CONTOSO_WIDGET_DRIVER_Context, &DriverUnloading, NULL, 0, NULL) : 0)
#define EventEnabledDeviceAdded() ((CONTOSO_WIDGET_DRIVER_EnableBits[0] & 0x00000004u) != 0)
#define EventWriteDeviceAdded(a0) (EventEnabledDeviceAdded() ? McTemplateK0q(&CONTOSO_WIDGET_DRIVER_Context, &DeviceAdded, a0) : 0)
#define EventEnabledDeviceOpened() ((CONTOSO_WIDGET_DRIVER_EnableBits[0] & 0x00000008u) != 0)
#define EventWriteDeviceOpened(a0) (EventEnabledDeviceOpened() ? McTemplateK0q(&CONTOSO_WIDGET_DRIVER_Context, &DeviceOpened, a0) : 0)
#define EventEnabledIoctlStart() ((CONTOSO_WIDGET_DRIVER_EnableBits[0] & 0x00000010u) != 0)
#define EventWriteIoctlStart(a0) (EventEnabledIoctlStart() ? McTemplateK0q(&CONTOSO_WIDGET_DRIVER_Context, &IoctlStart, a0) : 0)
#define EventEnabledIoctlStop() ((CONTOSO_WIDGET_DRIVER_EnableBits[0] & 0x00000020u) != 0)
#define EventWriteIoctlStop(a0) (EventEnabledIoctlStop() ? McTemplateK0q(&CONTOSO_WIDGET_DRIVER_Context, &IoctlStop, a0) : 0)
#define EventEnabledIoctlQuery() ((CONTOSO_WIDGET_DRIVER_EnableBits[0] & 0x00000040u) != 0)
#define EventWriteIoctlQuery(a0, a1) (EventEnabledIoctlQuery() ? McTemplateK0qq(&CONTOSO_WIDGET_DRIVER_Context, &IoctlQuery, a0, a1) : 0)
#define EventEnabledIoctlRejected() ((CONTOSO_WIDGET_DRIVER_EnableBits[0] & 0x00000080u) != 0)
#define EventWriteIoctlRejected(a0) (EventEnabledIoctlRejected() ? McTemplateK0q(&CONTOSO_WIDGET_DRIVER_Context, &IoctlRejected, a0) : 0)
#define EventEnabledDeviceReset() ((CONTOSO_WIDGET_DRIVER_EnableBits[0] & 0x00000100u) != 0)
#define EventWriteDeviceReset(a0) (EventEnabledDeviceReset() ? McTemplateK0q(&CONTOSO_WIDGET_DRIVER_Context, &DeviceReset, a0) : 0)
#define EventEnabledInternalPing() ((CONTOSO_WIDGET_DRIVER_EnableBits[0] & 0x00000200u) != 0)
#define EventWriteInternalPing(a0) (EventEnabledInternalPing() ? McTemplateK0q(&CONTOSO_WIDGET_DRIVER_Context, &InternalPing, a0) : 0)
#define EventEnabledProcessSeen() ((CONTOSO_WIDGET_DRIVER_EnableBits[0] & 0x00000400u) != 0)
#define EventWriteProcessSeen(a0, a1) (EventEnabledProcessSeen() ? McTemplateK0qq(&CONTOSO_WIDGET_DRIVER_Context, &ProcessSeen, a0, a1) : 0)
#define EventEnabledOpsOpened() ((CONTOSO_WIDGET_DRIVER_EnableBits[0] & 0x00000800u) != 0)
#define EventWriteOpsOpened(a0) (EventEnabledOpsOpened() ? McTemplateK0x(&CONTOSO_WIDGET_DRIVER_Context, &OpsOpened, a0) : 0)
#define EventEnabledOpsClosed() ((CONTOSO_WIDGET_DRIVER_EnableBits[0] & 0x00001000u) != 0)
#define EventWriteOpsClosed(a0) (EventEnabledOpsClosed() ? McTemplateK0x(&CONTOSO_WIDGET_DRIVER_Context, &OpsClosed, a0) : 0)
#define EventEnabledWorkerTick() ((CONTOSO_WIDGET_DRIVER_EnableBits[0] & 0x00002000u) != 0)
#define EventWriteWorkerTick(a0) (EventEnabledWorkerTick() ? McTemplateK0q(&CONTOSO_WIDGET_DRIVER_Context, &WorkerTick, a0) : 0)
#define EventEnabledDpcFired() ((CONTOSO_WIDGET_DRIVER_EnableBits[0] & 0x00004000u) != 0)
#define EventWriteDpcFired() (EventEnabledDpcFired() ? McGenEventWrite_EtwWriteTransfer(&CONTOSO_WIDGET_DRIVER_Context, &DpcFired, NULL, 0, NULL) : 0)
#define EventEnabledLateHook() ((CONTOSO_WIDGET_DRIVER_EnableBits[0] & 0x00008000u) != 0)
#define EventWriteLateHook(a0) (EventEnabledLateHook() ? McTemplateK0q(&CONTOSO_WIDGET_DRIVER_Context, &LateHook, a0) : 0)
