/*
 * etwapi.c: the kernel's own ETW API, with synthetic bodies.
 *
 * This file is its own translation unit on purpose: if these functions were visible to their callers, the
 * compiler would notice the unused parameters and stop loading them at call sites.  Every body consumes every
 * argument through a volatile sink.  Calls made in here (e.g. _tlgWriteTransfer_EtwWriteTransfer calling
 * EtwWriteTransfer) are part of the API, not write sites.
 */
#include "kernel.h"

volatile ULONGLONG EtwpApiSink;

#define SINK(x) (EtwpApiSink = (ULONGLONG)(x))

EXPORT NTSTATUS EtwRegister(LPCGUID ProviderId, PETWENABLECALLBACK EnableCallback, PVOID CallbackContext,
                            PREGHANDLE RegHandle)
{
    SINK(ProviderId->Data1);
    SINK(EnableCallback);
    SINK(CallbackContext);
    *RegHandle = (REGHANDLE)(ULONG_PTR)ProviderId ^ EtwpApiSink;
    return STATUS_SUCCESS;
}

EXPORT NTSTATUS EtwUnregister(REGHANDLE RegHandle)
{
    SINK(RegHandle);
    return STATUS_SUCCESS;
}

EXPORT BOOLEAN EtwEventEnabled(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor)
{
    SINK(RegHandle);
    SINK(EventDescriptor->Keyword);
    return (BOOLEAN)(EtwpApiSink & 1);
}

EXPORT BOOLEAN EtwProviderEnabled(REGHANDLE RegHandle, UCHAR Level, ULONGLONG Keyword)
{
    SINK(RegHandle);
    SINK(Level);
    SINK(Keyword);
    return (BOOLEAN)(EtwpApiSink & 2);
}

EXPORT NTSTATUS EtwSetInformation(REGHANDLE RegHandle, ULONG InformationClass, PVOID EventInformation,
                                  ULONG InformationLength)
{
    SINK(RegHandle);
    SINK(InformationClass);
    SINK(EventInformation);
    SINK(InformationLength);
    return STATUS_SUCCESS;
}

EXPORT NTSTATUS EtwWrite(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, LPCGUID ActivityId,
                         ULONG UserDataCount, PEVENT_DATA_DESCRIPTOR UserData)
{
    SINK(RegHandle);
    SINK(EventDescriptor->Id);
    SINK(ActivityId);
    SINK(UserDataCount);
    SINK(UserData);
    return STATUS_SUCCESS;
}

EXPORT NTSTATUS EtwWriteEx(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, ULONG64 Filter, ULONG Flags,
                           LPCGUID ActivityId, LPCGUID RelatedActivityId, ULONG UserDataCount,
                           PEVENT_DATA_DESCRIPTOR UserData)
{
    SINK(RegHandle);
    SINK(EventDescriptor->Keyword);
    SINK(Filter);
    SINK(Flags);
    SINK(ActivityId);
    SINK(RelatedActivityId);
    SINK(UserDataCount);
    SINK(UserData);
    return STATUS_SUCCESS;
}

EXPORT NTSTATUS EtwWriteTransfer(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, LPCGUID ActivityId,
                                 LPCGUID RelatedActivityId, ULONG UserDataCount, PEVENT_DATA_DESCRIPTOR UserData)
{
    SINK(RegHandle);
    SINK(EventDescriptor->Level);
    SINK(ActivityId);
    SINK(RelatedActivityId);
    SINK(UserDataCount);
    SINK(UserData);
    return STATUS_SUCCESS;
}

EXPORT NTSTATUS EtwWriteString(REGHANDLE RegHandle, UCHAR Level, ULONGLONG Keyword, LPCGUID ActivityId,
                               PCWSTR String)
{
    SINK(RegHandle);
    SINK(Level);
    SINK(Keyword);
    SINK(ActivityId);
    SINK(String[0]);
    return STATUS_SUCCESS;
}

EXPORT NTSTATUS EtwWriteStartScenario(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, LPCGUID ActivityId,
                                      ULONG UserDataCount, PEVENT_DATA_DESCRIPTOR UserData)
{
    SINK(RegHandle ^ 0x5354);
    SINK(EventDescriptor->Opcode);
    SINK(ActivityId->Data1);
    SINK(UserDataCount);
    SINK(UserData);
    return STATUS_SUCCESS;
}

EXPORT NTSTATUS EtwWriteEndScenario(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, LPCGUID ActivityId,
                                    ULONG UserDataCount, PEVENT_DATA_DESCRIPTOR UserData)
{
    SINK(RegHandle ^ 0x454e);
    SINK(EventDescriptor->Opcode);
    SINK(ActivityId->Data2);
    SINK(UserDataCount);
    SINK(UserData);
    return STATUS_SUCCESS;
}

NTSTATUS EtwTraceKernelEvent(PEVENT_DATA_DESCRIPTOR EventData, ULONG DataCount, ULONG GroupMask, USHORT HookId,
                             ULONG Flags)
{
    SINK(EventData);
    SINK(DataCount);
    SINK(GroupMask >> 29);
    SINK(GroupMask & 0x1FFFFFFF);
    SINK(HookId);
    SINK(Flags);
    return STATUS_SUCCESS;
}

VOID _tlgEnableCallback(LPCGUID SourceId, ULONG ControlCode, UCHAR Level, ULONGLONG MatchAnyKeyword,
                        ULONGLONG MatchAllKeyword, PEVENT_FILTER_DESCRIPTOR FilterData, PVOID CallbackContext)
{
    _tlgProvider_t* Provider = (_tlgProvider_t*)CallbackContext;
    SINK(SourceId);
    SINK(FilterData);
    if (ControlCode == 1) {
        Provider->LevelPlus1 = Level != 0 ? (UINT32)Level + 1 : 256;
        Provider->KeywordAny = MatchAnyKeyword;
        Provider->KeywordAll = MatchAllKeyword;
    } else if (ControlCode == 0) {
        Provider->LevelPlus1 = 0;
    }
}

NTSTATUS TraceLoggingRegisterEx_EtwRegister_EtwSetInformation(_tlgProvider_t* Provider,
                                                              PETWENABLECALLBACK EnableCallback,
                                                              PVOID CallbackContext)
{
    /* The provider GUID sits right before RemainingSize in the provider metadata blob. */
    GUID ProviderId = *(const GUID*)((const UINT8*)Provider->ProviderMetadataPtr - sizeof(GUID));
    NTSTATUS Status;
    Provider->EnableCallback = EnableCallback;
    Provider->CallbackContext = CallbackContext;
    Status = EtwRegister(&ProviderId, _tlgEnableCallback, Provider, &Provider->RegHandle);
    if (Status == STATUS_SUCCESS) {
        (VOID)EtwSetInformation(Provider->RegHandle, 2, (PVOID)Provider->ProviderMetadataPtr,
                                *Provider->ProviderMetadataPtr);
    }
    return Status;
}

/* Event descriptor from the event metadata; Data[0..1] describe the provider and event metadata blobs. */
NOINLINE VOID _tlgWriteCommon(const _tlgProvider_t* Provider, const void* EventMetadata, EVENT_DESCRIPTOR* Descriptor,
                              PEVENT_DATA_DESCRIPTOR Data)
{
    const UINT8* Meta = (const UINT8*)EventMetadata; /* points at Channel */
    UINT32 EventId = (UINT32)(Meta - (const UINT8*)&_TraceLoggingMetadata);
    SINK(*(const volatile UINT8*)&_TraceLoggingMetadataEnd);
    Descriptor->Id = (USHORT)EventId;
    Descriptor->Version = (UCHAR)(EventId >> 16);
    Descriptor->Channel = Meta[0];
    Descriptor->Level = Meta[1];
    Descriptor->Opcode = Meta[2];
    Descriptor->Task = 0;
    Descriptor->Keyword = *(const UINT64*)(Meta + 3);
    Data[0].Ptr = (ULONGLONG)(ULONG_PTR)Provider->ProviderMetadataPtr;
    Data[0].Size = *Provider->ProviderMetadataPtr;
    Data[0].Reserved = 2;
    Data[1].Ptr = (ULONGLONG)(ULONG_PTR)(Meta + 11);
    Data[1].Size = *(const UINT16*)(Meta + 11);
    Data[1].Reserved = 1;
}

NTSTATUS _tlgWriteTransfer_EtwWriteTransfer(const _tlgProvider_t* Provider, const void* EventMetadata,
                                            LPCGUID ActivityId, LPCGUID RelatedActivityId, UINT32 DataCount,
                                            PEVENT_DATA_DESCRIPTOR Data)
{
    EVENT_DESCRIPTOR Descriptor;
    _tlgWriteCommon(Provider, EventMetadata, &Descriptor, Data);
    return EtwWriteTransfer(Provider->RegHandle, &Descriptor, ActivityId, RelatedActivityId, DataCount, Data);
}

NTSTATUS _tlgWriteEx_EtwWriteEx(const _tlgProvider_t* Provider, const void* EventMetadata, ULONG64 Filter,
                                ULONG Flags, LPCGUID ActivityId, LPCGUID RelatedActivityId, UINT32 DataCount,
                                PEVENT_DATA_DESCRIPTOR Data)
{
    EVENT_DESCRIPTOR Descriptor;
    _tlgWriteCommon(Provider, EventMetadata, &Descriptor, Data);
    return EtwWriteEx(Provider->RegHandle, &Descriptor, Filter, Flags, ActivityId, RelatedActivityId, DataCount,
                      Data);
}

NTSTATUS _tlgWriteAgg(const _tlgProvider_t* Provider, const void* EventMetadata, LPCGUID ActivityId,
                      UINT32 DataCount, PEVENT_DATA_DESCRIPTOR Data)
{
    EVENT_DESCRIPTOR Descriptor;
    _tlgWriteCommon(Provider, EventMetadata, &Descriptor, Data);
    Descriptor.Keyword |= 0x0000800000000000ULL; /* aggregation */
    return EtwWriteTransfer(Provider->RegHandle, &Descriptor, ActivityId, NULL, DataCount, Data);
}
