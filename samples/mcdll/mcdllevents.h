/* mcdllevents.h: provider Contoso-Widget-Client, in the layout of an mc.exe -um header. */
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

__declspec(selectany) const GUID CONTOSO_WIDGET_CLIENT = {0xc990864a, 0x9dce, 0x56f1, {0xb0, 0x9c, 0x4e, 0x42, 0x2a, 0x34, 0xac, 0xe9}};
__declspec(selectany) ULONG CONTOSO_WIDGET_CLIENT_EnableBits[1];
__declspec(selectany) const ULONGLONG CONTOSO_WIDGET_CLIENT_Keywords[7] = {0x1, 0x2, 0x2, 0x4, 0x4, 0x8, 0x8};
__declspec(selectany) const UCHAR CONTOSO_WIDGET_CLIENT_Levels[7] = {4, 4, 5, 5, 5, 4, 4};
__declspec(selectany) MCGEN_TRACE_CONTEXT CONTOSO_WIDGET_CLIENT_Context = {0, 0, 0, 0, 0, 0, 0, 0, 7, CONTOSO_WIDGET_CLIENT_EnableBits, CONTOSO_WIDGET_CLIENT_Keywords, CONTOSO_WIDGET_CLIENT_Levels};
#define CONTOSO_WIDGET_CLIENTHandle (CONTOSO_WIDGET_CLIENT_Context.RegistrationHandle)

__declspec(selectany) const EVENT_DESCRIPTOR ClientLoaded = {0x1, 0x0, 0x10, 0x4, 0x1, 0x1, 0x1};
__declspec(selectany) const EVENT_DESCRIPTOR ClientOpened = {0x2, 0x0, 0x10, 0x4, 0x0, 0x2, 0x2};
__declspec(selectany) const EVENT_DESCRIPTOR ClientTrace = {0x3, 0x0, 0x10, 0x5, 0x0, 0x2, 0x2};
__declspec(selectany) const EVENT_DESCRIPTOR WidgetDrawn = {0xa, 0x0, 0x10, 0x5, 0x0, 0x3, 0x4};
__declspec(selectany) const EVENT_DESCRIPTOR WidgetReleased = {0xb, 0x0, 0x10, 0x5, 0x2, 0x3, 0x4};
__declspec(selectany) const EVENT_DESCRIPTOR ThreadRunning = {0x14, 0x0, 0x10, 0x4, 0x1, 0x4, 0x8};
__declspec(selectany) const EVENT_DESCRIPTOR ThreadDone = {0x15, 0x0, 0x10, 0x4, 0x2, 0x4, 0x8};

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

#define EventEnabledClientLoaded() ((CONTOSO_WIDGET_CLIENT_EnableBits[0] & 0x00000001u) != 0)
#define EventWriteClientLoaded() (EventEnabledClientLoaded() ? McGenEventWrite_EventWriteTransfer(&CONTOSO_WIDGET_CLIENT_Context, &ClientLoaded, NULL, 0, NULL) : 0)
#define EventEnabledClientOpened() ((CONTOSO_WIDGET_CLIENT_EnableBits[0] & 0x00000002u) != 0)
#define EventWriteClientOpened(a0) (EventEnabledClientOpened() ? McTemplateU0q(&CONTOSO_WIDGET_CLIENT_Context, &ClientOpened, a0) : 0)
#define EventEnabledClientTrace() ((CONTOSO_WIDGET_CLIENT_EnableBits[0] & 0x00000004u) != 0)
#define EventWriteClientTrace(a0) (EventEnabledClientTrace() ? McTemplateU0q(&CONTOSO_WIDGET_CLIENT_Context, &ClientTrace, a0) : 0)
#define EventEnabledWidgetDrawn() ((CONTOSO_WIDGET_CLIENT_EnableBits[0] & 0x00000008u) != 0)
#define EventWriteWidgetDrawn(a0, a1) (EventEnabledWidgetDrawn() ? McTemplateU0qq(&CONTOSO_WIDGET_CLIENT_Context, &WidgetDrawn, a0, a1) : 0)
#define EventEnabledWidgetReleased() ((CONTOSO_WIDGET_CLIENT_EnableBits[0] & 0x00000010u) != 0)
#define EventWriteWidgetReleased(a0) (EventEnabledWidgetReleased() ? McTemplateU0q(&CONTOSO_WIDGET_CLIENT_Context, &WidgetReleased, a0) : 0)
#define EventEnabledThreadRunning() ((CONTOSO_WIDGET_CLIENT_EnableBits[0] & 0x00000020u) != 0)
#define EventWriteThreadRunning(a0) (EventEnabledThreadRunning() ? McTemplateU0q(&CONTOSO_WIDGET_CLIENT_Context, &ThreadRunning, a0) : 0)
#define EventEnabledThreadDone() ((CONTOSO_WIDGET_CLIENT_EnableBits[0] & 0x00000040u) != 0)
#define EventWriteThreadDone(a0) (EventEnabledThreadDone() ? McTemplateU0q(&CONTOSO_WIDGET_CLIENT_Context, &ThreadDone, a0) : 0)
