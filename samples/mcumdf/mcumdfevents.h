/* mcumdfevents.h: provider Contoso-Umdf-Driver, in the layout of an mc.exe -um header. */
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
DECLSPEC_IMPORT ULONG EventRegister(LPCGUID ProviderId, PENABLECALLBACK Callback, PVOID Context, PREGHANDLE RegHandle);
DECLSPEC_IMPORT ULONG EventUnregister(REGHANDLE RegHandle);
DECLSPEC_IMPORT ULONG EventWriteTransfer(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR Descriptor, LPCGUID ActivityId,
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

__declspec(selectany) const GUID CONTOSO_UMDF_DRIVER = {0x7afa39f0, 0xe0d4, 0x5127, {0xb9, 0x2c, 0xe7, 0x65, 0x89, 0x85, 0xc7, 0xdd}};
__declspec(selectany) ULONG CONTOSO_UMDF_DRIVER_EnableBits[1];
__declspec(selectany) const ULONGLONG CONTOSO_UMDF_DRIVER_Keywords[31] = {0x1, 0x2, 0x1, 0x1, 0x4, 0x4, 0x4, 0x4, 0x8, 0x8, 0x8, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x20, 0x20, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x4, 0x4, 0x80, 0x80};
__declspec(selectany) const UCHAR CONTOSO_UMDF_DRIVER_Levels[31] = {4, 4, 4, 4, 5, 5, 4, 2, 5, 4, 2, 5, 5, 5, 4, 5, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4};
__declspec(selectany) MCGEN_TRACE_CONTEXT CONTOSO_UMDF_DRIVER_Context = {0, 0, 0, 0, 0, 0, 0, 0, 31, CONTOSO_UMDF_DRIVER_EnableBits, CONTOSO_UMDF_DRIVER_Keywords, CONTOSO_UMDF_DRIVER_Levels};
#define CONTOSO_UMDF_DRIVERHandle (CONTOSO_UMDF_DRIVER_Context.RegistrationHandle)

__declspec(selectany) const EVENT_DESCRIPTOR DriverStarted = {0x1, 0x0, 0x10, 0x4, 0x1, 0x1, 0x1};
__declspec(selectany) const EVENT_DESCRIPTOR DeviceAdded = {0x2, 0x0, 0x10, 0x4, 0x0, 0x2, 0x2};
__declspec(selectany) const EVENT_DESCRIPTOR DriverCleanedUp = {0x3, 0x0, 0x10, 0x4, 0x2, 0x1, 0x1};
__declspec(selectany) const EVENT_DESCRIPTOR DriverUnloaded = {0x4, 0x0, 0x10, 0x4, 0x2, 0x1, 0x1};
__declspec(selectany) const EVENT_DESCRIPTOR PowerUp = {0x5, 0x0, 0x10, 0x5, 0x1, 0x3, 0x4};
__declspec(selectany) const EVENT_DESCRIPTOR PowerDown = {0x6, 0x0, 0x10, 0x5, 0x2, 0x3, 0x4};
__declspec(selectany) const EVENT_DESCRIPTOR HardwareReady = {0x7, 0x0, 0x10, 0x4, 0x0, 0x3, 0x4};
__declspec(selectany) const EVENT_DESCRIPTOR SurpriseRemoved = {0x8, 0x0, 0x10, 0x2, 0x0, 0x3, 0x4};
__declspec(selectany) const EVENT_DESCRIPTOR IoctlState = {0xa, 0x0, 0x10, 0x5, 0x0, 0x4, 0x8};
__declspec(selectany) const EVENT_DESCRIPTOR IoctlSetState = {0xb, 0x0, 0x10, 0x4, 0x0, 0x4, 0x8};
__declspec(selectany) const EVENT_DESCRIPTOR IoctlUnknown = {0xc, 0x0, 0x10, 0x2, 0x0, 0x4, 0x8};
__declspec(selectany) const EVENT_DESCRIPTOR ReadDone = {0x14, 0x0, 0x10, 0x5, 0x0, 0x5, 0x10};
__declspec(selectany) const EVENT_DESCRIPTOR WriteDone = {0x15, 0x0, 0x10, 0x5, 0x0, 0x5, 0x10};
__declspec(selectany) const EVENT_DESCRIPTOR DefaultRequest = {0x16, 0x0, 0x10, 0x5, 0x0, 0x5, 0x10};
__declspec(selectany) const EVENT_DESCRIPTOR QueueStopping = {0x17, 0x0, 0x10, 0x4, 0x0, 0x5, 0x10};
__declspec(selectany) const EVENT_DESCRIPTOR RequestCompleted = {0x18, 0x0, 0x10, 0x5, 0x0, 0x5, 0x10};
__declspec(selectany) const EVENT_DESCRIPTOR RequestCanceled = {0x19, 0x0, 0x10, 0x3, 0x0, 0x5, 0x10};
__declspec(selectany) const EVENT_DESCRIPTOR ClientImpersonated = {0x1a, 0x0, 0x10, 0x4, 0x0, 0x5, 0x10};
__declspec(selectany) const EVENT_DESCRIPTOR QueueReady = {0x1b, 0x0, 0x10, 0x5, 0x0, 0x5, 0x10};
__declspec(selectany) const EVENT_DESCRIPTOR FileOpened = {0x1e, 0x0, 0x10, 0x5, 0x0, 0x6, 0x20};
__declspec(selectany) const EVENT_DESCRIPTOR FileClosed = {0x1f, 0x0, 0x10, 0x5, 0x0, 0x6, 0x20};
__declspec(selectany) const EVENT_DESCRIPTOR TimerFired = {0x28, 0x0, 0x10, 0x5, 0x0, 0x7, 0x40};
__declspec(selectany) const EVENT_DESCRIPTOR WorkItemRan = {0x29, 0x0, 0x10, 0x5, 0x0, 0x7, 0x40};
__declspec(selectany) const EVENT_DESCRIPTOR InterruptSeen = {0x2a, 0x0, 0x10, 0x5, 0x0, 0x7, 0x40};
__declspec(selectany) const EVENT_DESCRIPTOR InterruptWork = {0x2b, 0x0, 0x10, 0x5, 0x0, 0x7, 0x40};
__declspec(selectany) const EVENT_DESCRIPTOR ContextDestroyed = {0x2c, 0x0, 0x10, 0x5, 0x0, 0x7, 0x40};
__declspec(selectany) const EVENT_DESCRIPTOR DeviceCleanedUp = {0x2d, 0x0, 0x10, 0x4, 0x0, 0x7, 0x40};
__declspec(selectany) const EVENT_DESCRIPTOR WakeArmed = {0x32, 0x0, 0x10, 0x4, 0x0, 0x3, 0x4};
__declspec(selectany) const EVENT_DESCRIPTOR CompanionStarting = {0x33, 0x0, 0x10, 0x4, 0x0, 0x3, 0x4};
__declspec(selectany) const EVENT_DESCRIPTOR TargetRemoving = {0x3c, 0x0, 0x10, 0x4, 0x0, 0x8, 0x80};
__declspec(selectany) const EVENT_DESCRIPTOR TargetRemoved = {0x3d, 0x0, 0x10, 0x4, 0x0, 0x8, 0x80};

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

DECLSPEC_NOINLINE __inline ULONG McGenEventRegister_EventRegister(LPCGUID ProviderId, PENABLECALLBACK EnableCallback,
        PVOID CallbackContext, PREGHANDLE RegHandle)
{
    if (*RegHandle) return 0;
    return EventRegister(ProviderId, EnableCallback, CallbackContext, RegHandle);
}

DECLSPEC_NOINLINE __inline ULONG McGenEventUnregister_EventUnregister(PREGHANDLE RegHandle)
{
    ULONG Error;
    if (!*RegHandle) return 0;
    Error = EventUnregister(*RegHandle);
    *RegHandle = 0;
    return Error;
}

/* Every write goes through here: the REGHANDLE is read from the context, the descriptor passed on. */
DECLSPEC_NOINLINE __inline ULONG McGenEventWrite_EventWriteTransfer(PCMCGEN_TRACE_CONTEXT Context, PCEVENT_DESCRIPTOR Descriptor,
        LPCGUID ActivityId, ULONG EventDataCount, PEVENT_DATA_DESCRIPTOR EventData)
{
    return EventWriteTransfer(Context->RegistrationHandle, Descriptor, ActivityId, NULL, EventDataCount, EventData);
}

DECLSPEC_NOINLINE __inline ULONG McTemplateU0q(PCMCGEN_TRACE_CONTEXT Context, PCEVENT_DESCRIPTOR Descriptor, const unsigned int _Arg0)
{
    EVENT_DATA_DESCRIPTOR EventData[1];
    EventData[0].Ptr = (ULONGLONG)(ULONG_PTR)&_Arg0; EventData[0].Size = sizeof(const unsigned int); EventData[0].Reserved = 0;
    return McGenEventWrite_EventWriteTransfer(Context, Descriptor, NULL, 1, EventData);
}

DECLSPEC_NOINLINE __inline ULONG McTemplateU0qq(PCMCGEN_TRACE_CONTEXT Context, PCEVENT_DESCRIPTOR Descriptor, const unsigned int _Arg0, const unsigned int _Arg1)
{
    EVENT_DATA_DESCRIPTOR EventData[2];
    EventData[0].Ptr = (ULONGLONG)(ULONG_PTR)&_Arg0; EventData[0].Size = sizeof(const unsigned int); EventData[0].Reserved = 0;
    EventData[1].Ptr = (ULONGLONG)(ULONG_PTR)&_Arg1; EventData[1].Size = sizeof(const unsigned int); EventData[1].Reserved = 0;
    return McGenEventWrite_EventWriteTransfer(Context, Descriptor, NULL, 2, EventData);
}

DECLSPEC_NOINLINE __inline ULONG McTemplateU0x(PCMCGEN_TRACE_CONTEXT Context, PCEVENT_DESCRIPTOR Descriptor, const unsigned long long _Arg0)
{
    EVENT_DATA_DESCRIPTOR EventData[1];
    EventData[0].Ptr = (ULONGLONG)(ULONG_PTR)&_Arg0; EventData[0].Size = sizeof(const unsigned long long); EventData[0].Reserved = 0;
    return McGenEventWrite_EventWriteTransfer(Context, Descriptor, NULL, 1, EventData);
}

#define EventEnabledDriverStarted() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00000001u) != 0)
#define EventWriteDriverStarted(a0) (EventEnabledDriverStarted() ? McTemplateU0q(&CONTOSO_UMDF_DRIVER_Context, &DriverStarted, a0) : 0)
#define EventEnabledDeviceAdded() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00000002u) != 0)
#define EventWriteDeviceAdded(a0) (EventEnabledDeviceAdded() ? McTemplateU0q(&CONTOSO_UMDF_DRIVER_Context, &DeviceAdded, a0) : 0)
#define EventEnabledDriverCleanedUp() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00000004u) != 0)
#define EventWriteDriverCleanedUp() (EventEnabledDriverCleanedUp() ? McGenEventWrite_EventWriteTransfer(&CONTOSO_UMDF_DRIVER_Context, &DriverCleanedUp, NULL, 0, NULL) : 0)
#define EventEnabledDriverUnloaded() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00000008u) != 0)
#define EventWriteDriverUnloaded() (EventEnabledDriverUnloaded() ? McGenEventWrite_EventWriteTransfer(&CONTOSO_UMDF_DRIVER_Context, &DriverUnloaded, NULL, 0, NULL) : 0)
#define EventEnabledPowerUp() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00000010u) != 0)
#define EventWritePowerUp(a0) (EventEnabledPowerUp() ? McTemplateU0q(&CONTOSO_UMDF_DRIVER_Context, &PowerUp, a0) : 0)
#define EventEnabledPowerDown() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00000020u) != 0)
#define EventWritePowerDown(a0) (EventEnabledPowerDown() ? McTemplateU0q(&CONTOSO_UMDF_DRIVER_Context, &PowerDown, a0) : 0)
#define EventEnabledHardwareReady() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00000040u) != 0)
#define EventWriteHardwareReady() (EventEnabledHardwareReady() ? McGenEventWrite_EventWriteTransfer(&CONTOSO_UMDF_DRIVER_Context, &HardwareReady, NULL, 0, NULL) : 0)
#define EventEnabledSurpriseRemoved() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00000080u) != 0)
#define EventWriteSurpriseRemoved(a0) (EventEnabledSurpriseRemoved() ? McTemplateU0x(&CONTOSO_UMDF_DRIVER_Context, &SurpriseRemoved, a0) : 0)
#define EventEnabledIoctlState() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00000100u) != 0)
#define EventWriteIoctlState(a0) (EventEnabledIoctlState() ? McTemplateU0q(&CONTOSO_UMDF_DRIVER_Context, &IoctlState, a0) : 0)
#define EventEnabledIoctlSetState() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00000200u) != 0)
#define EventWriteIoctlSetState(a0, a1) (EventEnabledIoctlSetState() ? McTemplateU0qq(&CONTOSO_UMDF_DRIVER_Context, &IoctlSetState, a0, a1) : 0)
#define EventEnabledIoctlUnknown() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00000400u) != 0)
#define EventWriteIoctlUnknown(a0) (EventEnabledIoctlUnknown() ? McTemplateU0q(&CONTOSO_UMDF_DRIVER_Context, &IoctlUnknown, a0) : 0)
#define EventEnabledReadDone() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00000800u) != 0)
#define EventWriteReadDone(a0) (EventEnabledReadDone() ? McTemplateU0x(&CONTOSO_UMDF_DRIVER_Context, &ReadDone, a0) : 0)
#define EventEnabledWriteDone() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00001000u) != 0)
#define EventWriteWriteDone(a0) (EventEnabledWriteDone() ? McTemplateU0x(&CONTOSO_UMDF_DRIVER_Context, &WriteDone, a0) : 0)
#define EventEnabledDefaultRequest() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00002000u) != 0)
#define EventWriteDefaultRequest(a0) (EventEnabledDefaultRequest() ? McTemplateU0x(&CONTOSO_UMDF_DRIVER_Context, &DefaultRequest, a0) : 0)
#define EventEnabledQueueStopping() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00004000u) != 0)
#define EventWriteQueueStopping(a0) (EventEnabledQueueStopping() ? McTemplateU0q(&CONTOSO_UMDF_DRIVER_Context, &QueueStopping, a0) : 0)
#define EventEnabledRequestCompleted() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00008000u) != 0)
#define EventWriteRequestCompleted(a0) (EventEnabledRequestCompleted() ? McTemplateU0x(&CONTOSO_UMDF_DRIVER_Context, &RequestCompleted, a0) : 0)
#define EventEnabledRequestCanceled() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00010000u) != 0)
#define EventWriteRequestCanceled(a0) (EventEnabledRequestCanceled() ? McTemplateU0x(&CONTOSO_UMDF_DRIVER_Context, &RequestCanceled, a0) : 0)
#define EventEnabledClientImpersonated() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00020000u) != 0)
#define EventWriteClientImpersonated(a0) (EventEnabledClientImpersonated() ? McTemplateU0x(&CONTOSO_UMDF_DRIVER_Context, &ClientImpersonated, a0) : 0)
#define EventEnabledQueueReady() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00040000u) != 0)
#define EventWriteQueueReady(a0) (EventEnabledQueueReady() ? McTemplateU0q(&CONTOSO_UMDF_DRIVER_Context, &QueueReady, a0) : 0)
#define EventEnabledFileOpened() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00080000u) != 0)
#define EventWriteFileOpened(a0) (EventEnabledFileOpened() ? McTemplateU0x(&CONTOSO_UMDF_DRIVER_Context, &FileOpened, a0) : 0)
#define EventEnabledFileClosed() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00100000u) != 0)
#define EventWriteFileClosed(a0) (EventEnabledFileClosed() ? McTemplateU0x(&CONTOSO_UMDF_DRIVER_Context, &FileClosed, a0) : 0)
#define EventEnabledTimerFired() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00200000u) != 0)
#define EventWriteTimerFired(a0) (EventEnabledTimerFired() ? McTemplateU0x(&CONTOSO_UMDF_DRIVER_Context, &TimerFired, a0) : 0)
#define EventEnabledWorkItemRan() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00400000u) != 0)
#define EventWriteWorkItemRan(a0) (EventEnabledWorkItemRan() ? McTemplateU0x(&CONTOSO_UMDF_DRIVER_Context, &WorkItemRan, a0) : 0)
#define EventEnabledInterruptSeen() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x00800000u) != 0)
#define EventWriteInterruptSeen(a0) (EventEnabledInterruptSeen() ? McTemplateU0q(&CONTOSO_UMDF_DRIVER_Context, &InterruptSeen, a0) : 0)
#define EventEnabledInterruptWork() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x01000000u) != 0)
#define EventWriteInterruptWork(a0) (EventEnabledInterruptWork() ? McTemplateU0x(&CONTOSO_UMDF_DRIVER_Context, &InterruptWork, a0) : 0)
#define EventEnabledContextDestroyed() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x02000000u) != 0)
#define EventWriteContextDestroyed(a0) (EventEnabledContextDestroyed() ? McTemplateU0x(&CONTOSO_UMDF_DRIVER_Context, &ContextDestroyed, a0) : 0)
#define EventEnabledDeviceCleanedUp() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x04000000u) != 0)
#define EventWriteDeviceCleanedUp(a0) (EventEnabledDeviceCleanedUp() ? McTemplateU0x(&CONTOSO_UMDF_DRIVER_Context, &DeviceCleanedUp, a0) : 0)
#define EventEnabledWakeArmed() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x08000000u) != 0)
#define EventWriteWakeArmed(a0) (EventEnabledWakeArmed() ? McTemplateU0x(&CONTOSO_UMDF_DRIVER_Context, &WakeArmed, a0) : 0)
#define EventEnabledCompanionStarting() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x10000000u) != 0)
#define EventWriteCompanionStarting(a0) (EventEnabledCompanionStarting() ? McTemplateU0q(&CONTOSO_UMDF_DRIVER_Context, &CompanionStarting, a0) : 0)
#define EventEnabledTargetRemoving() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x20000000u) != 0)
#define EventWriteTargetRemoving(a0) (EventEnabledTargetRemoving() ? McTemplateU0x(&CONTOSO_UMDF_DRIVER_Context, &TargetRemoving, a0) : 0)
#define EventEnabledTargetRemoved() ((CONTOSO_UMDF_DRIVER_EnableBits[0] & 0x40000000u) != 0)
#define EventWriteTargetRemoved(a0) (EventEnabledTargetRemoved() ? McTemplateU0x(&CONTOSO_UMDF_DRIVER_Context, &TargetRemoved, a0) : 0)
