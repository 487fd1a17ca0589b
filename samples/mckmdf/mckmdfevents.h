/* mckmdfevents.h: provider Contoso-Kmdf-Driver, in the layout of an mc.exe -km header. */
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

__declspec(selectany) const GUID CONTOSO_KMDF_DRIVER = {0x6e3cc197, 0xbb99, 0x5a37, {0xb4, 0x32, 0xd4, 0xfa, 0x3c, 0x9a, 0xb4, 0xd9}};
__declspec(selectany) ULONG CONTOSO_KMDF_DRIVER_EnableBits[2];
__declspec(selectany) const ULONGLONG CONTOSO_KMDF_DRIVER_Keywords[35] = {0x1, 0x2, 0x1, 0x1, 0x4, 0x4, 0x4, 0x8, 0x8, 0x8, 0x10, 0x10, 0x10, 0x20, 0x20, 0x20, 0x40, 0x40, 0x40, 0x40, 0x40, 0x10, 0x10, 0x10, 0x20, 0x80, 0x80, 0x80, 0x4, 0x10, 0x40, 0x100, 0x100, 0x200, 0x200};
__declspec(selectany) const UCHAR CONTOSO_KMDF_DRIVER_Levels[35] = {4, 4, 4, 4, 5, 5, 4, 5, 4, 2, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 3, 5, 5, 4, 4, 5, 4, 5, 5, 5, 5, 4, 5};
__declspec(selectany) MCGEN_TRACE_CONTEXT CONTOSO_KMDF_DRIVER_Context = {0, 0, 0, 0, 0, 0, 0, 0, 35, CONTOSO_KMDF_DRIVER_EnableBits, CONTOSO_KMDF_DRIVER_Keywords, CONTOSO_KMDF_DRIVER_Levels};
#define CONTOSO_KMDF_DRIVERHandle (CONTOSO_KMDF_DRIVER_Context.RegistrationHandle)

__declspec(selectany) const EVENT_DESCRIPTOR DriverStarted = {0x1, 0x0, 0x10, 0x4, 0x1, 0x1, 0x1};
__declspec(selectany) const EVENT_DESCRIPTOR DeviceAdded = {0x2, 0x0, 0x10, 0x4, 0x0, 0x2, 0x2};
__declspec(selectany) const EVENT_DESCRIPTOR DriverCleanedUp = {0x3, 0x0, 0x10, 0x4, 0x2, 0x1, 0x1};
__declspec(selectany) const EVENT_DESCRIPTOR DriverUnloaded = {0x4, 0x0, 0x10, 0x4, 0x2, 0x1, 0x1};
__declspec(selectany) const EVENT_DESCRIPTOR PowerUp = {0x5, 0x0, 0x10, 0x5, 0x1, 0x3, 0x4};
__declspec(selectany) const EVENT_DESCRIPTOR PowerDown = {0x6, 0x0, 0x10, 0x5, 0x2, 0x3, 0x4};
__declspec(selectany) const EVENT_DESCRIPTOR HardwareReady = {0x7, 0x0, 0x10, 0x4, 0x0, 0x3, 0x4};
__declspec(selectany) const EVENT_DESCRIPTOR IoctlVersion = {0xa, 0x0, 0x10, 0x5, 0x0, 0x4, 0x8};
__declspec(selectany) const EVENT_DESCRIPTOR IoctlMode = {0xb, 0x0, 0x10, 0x4, 0x0, 0x4, 0x8};
__declspec(selectany) const EVENT_DESCRIPTOR IoctlUnknown = {0xc, 0x0, 0x10, 0x2, 0x0, 0x4, 0x8};
__declspec(selectany) const EVENT_DESCRIPTOR ReadDone = {0x14, 0x0, 0x10, 0x5, 0x0, 0x5, 0x10};
__declspec(selectany) const EVENT_DESCRIPTOR WriteDone = {0x15, 0x0, 0x10, 0x5, 0x0, 0x5, 0x10};
__declspec(selectany) const EVENT_DESCRIPTOR InternalPing = {0x16, 0x0, 0x10, 0x5, 0x0, 0x5, 0x10};
__declspec(selectany) const EVENT_DESCRIPTOR HandleOpen = {0x1e, 0x0, 0x10, 0x5, 0x0, 0x6, 0x20};
__declspec(selectany) const EVENT_DESCRIPTOR HandleDone = {0x1f, 0x0, 0x10, 0x5, 0x0, 0x6, 0x20};
__declspec(selectany) const EVENT_DESCRIPTOR RegistryOp = {0x20, 0x0, 0x10, 0x5, 0x0, 0x6, 0x20};
__declspec(selectany) const EVENT_DESCRIPTOR FileOpened = {0x28, 0x0, 0x10, 0x5, 0x0, 0x7, 0x40};
__declspec(selectany) const EVENT_DESCRIPTOR TimerFired = {0x29, 0x0, 0x10, 0x5, 0x0, 0x7, 0x40};
__declspec(selectany) const EVENT_DESCRIPTOR WorkItemRan = {0x2a, 0x0, 0x10, 0x5, 0x0, 0x7, 0x40};
__declspec(selectany) const EVENT_DESCRIPTOR DpcRan = {0x2b, 0x0, 0x10, 0x5, 0x0, 0x7, 0x40};
__declspec(selectany) const EVENT_DESCRIPTOR InterruptSeen = {0x2c, 0x0, 0x10, 0x5, 0x0, 0x7, 0x40};
__declspec(selectany) const EVENT_DESCRIPTOR RequestCompleted = {0x2d, 0x0, 0x10, 0x5, 0x0, 0x5, 0x10};
__declspec(selectany) const EVENT_DESCRIPTOR RequestCanceled = {0x2e, 0x0, 0x10, 0x3, 0x0, 0x5, 0x10};
__declspec(selectany) const EVENT_DESCRIPTOR RequestPreprocessed = {0x2f, 0x0, 0x10, 0x5, 0x0, 0x5, 0x10};
__declspec(selectany) const EVENT_DESCRIPTOR ThreadHandleOpen = {0x21, 0x0, 0x10, 0x5, 0x0, 0x6, 0x20};
__declspec(selectany) const EVENT_DESCRIPTOR ChildCreated = {0x32, 0x0, 0x10, 0x4, 0x0, 0x8, 0x80};
__declspec(selectany) const EVENT_DESCRIPTOR ChildEjected = {0x33, 0x0, 0x10, 0x4, 0x0, 0x8, 0x80};
__declspec(selectany) const EVENT_DESCRIPTOR ChildCompared = {0x34, 0x0, 0x10, 0x5, 0x0, 0x8, 0x80};
__declspec(selectany) const EVENT_DESCRIPTOR WakeArmed = {0x35, 0x0, 0x10, 0x4, 0x0, 0x3, 0x4};
__declspec(selectany) const EVENT_DESCRIPTOR QueueReady = {0x36, 0x0, 0x10, 0x5, 0x0, 0x5, 0x10};
__declspec(selectany) const EVENT_DESCRIPTOR ContextDestroyed = {0x37, 0x0, 0x10, 0x5, 0x0, 0x7, 0x40};
__declspec(selectany) const EVENT_DESCRIPTOR InterfaceReferenced = {0x38, 0x0, 0x10, 0x5, 0x0, 0x9, 0x100};
__declspec(selectany) const EVENT_DESCRIPTOR InterfacePinged = {0x39, 0x0, 0x10, 0x5, 0x0, 0x9, 0x100};
__declspec(selectany) const EVENT_DESCRIPTOR TargetRemoving = {0x3a, 0x0, 0x10, 0x4, 0x0, 0xa, 0x200};
__declspec(selectany) const EVENT_DESCRIPTOR WmiQueried = {0x3b, 0x0, 0x10, 0x5, 0x0, 0xa, 0x200};

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

#define EventEnabledDriverStarted() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00000001u) != 0)
#define EventWriteDriverStarted(a0) (EventEnabledDriverStarted() ? McTemplateK0q(&CONTOSO_KMDF_DRIVER_Context, &DriverStarted, a0) : 0)
#define EventEnabledDeviceAdded() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00000002u) != 0)
#define EventWriteDeviceAdded(a0) (EventEnabledDeviceAdded() ? McTemplateK0q(&CONTOSO_KMDF_DRIVER_Context, &DeviceAdded, a0) : 0)
#define EventEnabledDriverCleanedUp() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00000004u) != 0)
#define EventWriteDriverCleanedUp() (EventEnabledDriverCleanedUp() ? McGenEventWrite_EtwWriteTransfer(&CONTOSO_KMDF_DRIVER_Context, &DriverCleanedUp, NULL, 0, NULL) : 0)
#define EventEnabledDriverUnloaded() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00000008u) != 0)
#define EventWriteDriverUnloaded() (EventEnabledDriverUnloaded() ? McGenEventWrite_EtwWriteTransfer(&CONTOSO_KMDF_DRIVER_Context, &DriverUnloaded, NULL, 0, NULL) : 0)
#define EventEnabledPowerUp() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00000010u) != 0)
#define EventWritePowerUp(a0) (EventEnabledPowerUp() ? McTemplateK0q(&CONTOSO_KMDF_DRIVER_Context, &PowerUp, a0) : 0)
#define EventEnabledPowerDown() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00000020u) != 0)
#define EventWritePowerDown(a0) (EventEnabledPowerDown() ? McTemplateK0q(&CONTOSO_KMDF_DRIVER_Context, &PowerDown, a0) : 0)
#define EventEnabledHardwareReady() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00000040u) != 0)
#define EventWriteHardwareReady() (EventEnabledHardwareReady() ? McGenEventWrite_EtwWriteTransfer(&CONTOSO_KMDF_DRIVER_Context, &HardwareReady, NULL, 0, NULL) : 0)
#define EventEnabledIoctlVersion() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00000080u) != 0)
#define EventWriteIoctlVersion(a0) (EventEnabledIoctlVersion() ? McTemplateK0q(&CONTOSO_KMDF_DRIVER_Context, &IoctlVersion, a0) : 0)
#define EventEnabledIoctlMode() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00000100u) != 0)
#define EventWriteIoctlMode(a0, a1) (EventEnabledIoctlMode() ? McTemplateK0qq(&CONTOSO_KMDF_DRIVER_Context, &IoctlMode, a0, a1) : 0)
#define EventEnabledIoctlUnknown() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00000200u) != 0)
#define EventWriteIoctlUnknown(a0) (EventEnabledIoctlUnknown() ? McTemplateK0q(&CONTOSO_KMDF_DRIVER_Context, &IoctlUnknown, a0) : 0)
#define EventEnabledReadDone() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00000400u) != 0)
#define EventWriteReadDone() (EventEnabledReadDone() ? McGenEventWrite_EtwWriteTransfer(&CONTOSO_KMDF_DRIVER_Context, &ReadDone, NULL, 0, NULL) : 0)
#define EventEnabledWriteDone() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00000800u) != 0)
#define EventWriteWriteDone(a0) (EventEnabledWriteDone() ? McTemplateK0x(&CONTOSO_KMDF_DRIVER_Context, &WriteDone, a0) : 0)
#define EventEnabledInternalPing() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00001000u) != 0)
#define EventWriteInternalPing(a0) (EventEnabledInternalPing() ? McTemplateK0q(&CONTOSO_KMDF_DRIVER_Context, &InternalPing, a0) : 0)
#define EventEnabledHandleOpen() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00002000u) != 0)
#define EventWriteHandleOpen(a0) (EventEnabledHandleOpen() ? McTemplateK0q(&CONTOSO_KMDF_DRIVER_Context, &HandleOpen, a0) : 0)
#define EventEnabledHandleDone() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00004000u) != 0)
#define EventWriteHandleDone() (EventEnabledHandleDone() ? McGenEventWrite_EtwWriteTransfer(&CONTOSO_KMDF_DRIVER_Context, &HandleDone, NULL, 0, NULL) : 0)
#define EventEnabledRegistryOp() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00008000u) != 0)
#define EventWriteRegistryOp(a0) (EventEnabledRegistryOp() ? McTemplateK0q(&CONTOSO_KMDF_DRIVER_Context, &RegistryOp, a0) : 0)
#define EventEnabledFileOpened() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00010000u) != 0)
#define EventWriteFileOpened(a0) (EventEnabledFileOpened() ? McTemplateK0x(&CONTOSO_KMDF_DRIVER_Context, &FileOpened, a0) : 0)
#define EventEnabledTimerFired() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00020000u) != 0)
#define EventWriteTimerFired(a0) (EventEnabledTimerFired() ? McTemplateK0x(&CONTOSO_KMDF_DRIVER_Context, &TimerFired, a0) : 0)
#define EventEnabledWorkItemRan() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00040000u) != 0)
#define EventWriteWorkItemRan(a0) (EventEnabledWorkItemRan() ? McTemplateK0x(&CONTOSO_KMDF_DRIVER_Context, &WorkItemRan, a0) : 0)
#define EventEnabledDpcRan() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00080000u) != 0)
#define EventWriteDpcRan(a0) (EventEnabledDpcRan() ? McTemplateK0x(&CONTOSO_KMDF_DRIVER_Context, &DpcRan, a0) : 0)
#define EventEnabledInterruptSeen() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00100000u) != 0)
#define EventWriteInterruptSeen(a0) (EventEnabledInterruptSeen() ? McTemplateK0q(&CONTOSO_KMDF_DRIVER_Context, &InterruptSeen, a0) : 0)
#define EventEnabledRequestCompleted() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00200000u) != 0)
#define EventWriteRequestCompleted(a0) (EventEnabledRequestCompleted() ? McTemplateK0x(&CONTOSO_KMDF_DRIVER_Context, &RequestCompleted, a0) : 0)
#define EventEnabledRequestCanceled() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00400000u) != 0)
#define EventWriteRequestCanceled(a0) (EventEnabledRequestCanceled() ? McTemplateK0x(&CONTOSO_KMDF_DRIVER_Context, &RequestCanceled, a0) : 0)
#define EventEnabledRequestPreprocessed() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x00800000u) != 0)
#define EventWriteRequestPreprocessed(a0) (EventEnabledRequestPreprocessed() ? McTemplateK0x(&CONTOSO_KMDF_DRIVER_Context, &RequestPreprocessed, a0) : 0)
#define EventEnabledThreadHandleOpen() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x01000000u) != 0)
#define EventWriteThreadHandleOpen(a0) (EventEnabledThreadHandleOpen() ? McTemplateK0q(&CONTOSO_KMDF_DRIVER_Context, &ThreadHandleOpen, a0) : 0)
#define EventEnabledChildCreated() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x02000000u) != 0)
#define EventWriteChildCreated(a0) (EventEnabledChildCreated() ? McTemplateK0q(&CONTOSO_KMDF_DRIVER_Context, &ChildCreated, a0) : 0)
#define EventEnabledChildEjected() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x04000000u) != 0)
#define EventWriteChildEjected(a0) (EventEnabledChildEjected() ? McTemplateK0x(&CONTOSO_KMDF_DRIVER_Context, &ChildEjected, a0) : 0)
#define EventEnabledChildCompared() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x08000000u) != 0)
#define EventWriteChildCompared(a0) (EventEnabledChildCompared() ? McTemplateK0q(&CONTOSO_KMDF_DRIVER_Context, &ChildCompared, a0) : 0)
#define EventEnabledWakeArmed() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x10000000u) != 0)
#define EventWriteWakeArmed(a0) (EventEnabledWakeArmed() ? McTemplateK0x(&CONTOSO_KMDF_DRIVER_Context, &WakeArmed, a0) : 0)
#define EventEnabledQueueReady() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x20000000u) != 0)
#define EventWriteQueueReady(a0) (EventEnabledQueueReady() ? McTemplateK0q(&CONTOSO_KMDF_DRIVER_Context, &QueueReady, a0) : 0)
#define EventEnabledContextDestroyed() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x40000000u) != 0)
#define EventWriteContextDestroyed(a0) (EventEnabledContextDestroyed() ? McTemplateK0x(&CONTOSO_KMDF_DRIVER_Context, &ContextDestroyed, a0) : 0)
#define EventEnabledInterfaceReferenced() ((CONTOSO_KMDF_DRIVER_EnableBits[0] & 0x80000000u) != 0)
#define EventWriteInterfaceReferenced(a0) (EventEnabledInterfaceReferenced() ? McTemplateK0x(&CONTOSO_KMDF_DRIVER_Context, &InterfaceReferenced, a0) : 0)
#define EventEnabledInterfacePinged() ((CONTOSO_KMDF_DRIVER_EnableBits[1] & 0x00000001u) != 0)
#define EventWriteInterfacePinged(a0) (EventEnabledInterfacePinged() ? McTemplateK0q(&CONTOSO_KMDF_DRIVER_Context, &InterfacePinged, a0) : 0)
#define EventEnabledTargetRemoving() ((CONTOSO_KMDF_DRIVER_EnableBits[1] & 0x00000002u) != 0)
#define EventWriteTargetRemoving(a0) (EventEnabledTargetRemoving() ? McTemplateK0x(&CONTOSO_KMDF_DRIVER_Context, &TargetRemoving, a0) : 0)
#define EventEnabledWmiQueried() ((CONTOSO_KMDF_DRIVER_EnableBits[1] & 0x00000004u) != 0)
#define EventWriteWmiQueried(a0) (EventEnabledWmiQueried() ? McTemplateK0q(&CONTOSO_KMDF_DRIVER_Context, &WmiQueried, a0) : 0)
