/* The kernel's ETW API (etwapi.c). */
EXPORT NTSTATUS EtwRegister(LPCGUID ProviderId, PETWENABLECALLBACK EnableCallback, PVOID CallbackContext,
                            PREGHANDLE RegHandle);
EXPORT NTSTATUS EtwUnregister(REGHANDLE RegHandle);
EXPORT BOOLEAN EtwEventEnabled(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor);
EXPORT BOOLEAN EtwProviderEnabled(REGHANDLE RegHandle, UCHAR Level, ULONGLONG Keyword);
EXPORT NTSTATUS EtwSetInformation(REGHANDLE RegHandle, ULONG InformationClass, PVOID EventInformation,
                                  ULONG InformationLength);
EXPORT NTSTATUS EtwWrite(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, LPCGUID ActivityId,
                         ULONG UserDataCount, PEVENT_DATA_DESCRIPTOR UserData);
EXPORT NTSTATUS EtwWriteEx(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, ULONG64 Filter, ULONG Flags,
                           LPCGUID ActivityId, LPCGUID RelatedActivityId, ULONG UserDataCount,
                           PEVENT_DATA_DESCRIPTOR UserData);
EXPORT NTSTATUS EtwWriteTransfer(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, LPCGUID ActivityId,
                                 LPCGUID RelatedActivityId, ULONG UserDataCount, PEVENT_DATA_DESCRIPTOR UserData);
EXPORT NTSTATUS EtwWriteString(REGHANDLE RegHandle, UCHAR Level, ULONGLONG Keyword, LPCGUID ActivityId,
                               PCWSTR String);
EXPORT NTSTATUS EtwWriteStartScenario(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, LPCGUID ActivityId,
                                      ULONG UserDataCount, PEVENT_DATA_DESCRIPTOR UserData);
EXPORT NTSTATUS EtwWriteEndScenario(REGHANDLE RegHandle, PCEVENT_DESCRIPTOR EventDescriptor, LPCGUID ActivityId,
                                    ULONG UserDataCount, PEVENT_DATA_DESCRIPTOR UserData);
NTSTATUS EtwTraceKernelEvent(PEVENT_DATA_DESCRIPTOR EventData, ULONG DataCount, ULONG GroupMask, USHORT HookId,
                             ULONG Flags);
NTSTATUS TraceLoggingRegisterEx_EtwRegister_EtwSetInformation(_tlgProvider_t* Provider,
                                                              PETWENABLECALLBACK EnableCallback,
                                                              PVOID CallbackContext);
VOID _tlgEnableCallback(LPCGUID SourceId, ULONG ControlCode, UCHAR Level, ULONGLONG MatchAnyKeyword,
                        ULONGLONG MatchAllKeyword, PEVENT_FILTER_DESCRIPTOR FilterData, PVOID CallbackContext);
NTSTATUS _tlgWriteTransfer_EtwWriteTransfer(const _tlgProvider_t* Provider, const void* EventMetadata,
                                            LPCGUID ActivityId, LPCGUID RelatedActivityId, UINT32 DataCount,
                                            PEVENT_DATA_DESCRIPTOR Data);
NTSTATUS _tlgWriteEx_EtwWriteEx(const _tlgProvider_t* Provider, const void* EventMetadata, ULONG64 Filter,
                                ULONG Flags, LPCGUID ActivityId, LPCGUID RelatedActivityId, UINT32 DataCount,
                                PEVENT_DATA_DESCRIPTOR Data);
NTSTATUS _tlgWriteAgg(const _tlgProvider_t* Provider, const void* EventMetadata, LPCGUID ActivityId,
                      UINT32 DataCount, PEVENT_DATA_DESCRIPTOR Data);
VOID _tlgWriteCommon(const _tlgProvider_t* Provider, const void* EventMetadata, EVENT_DESCRIPTOR* Descriptor,
                     PEVENT_DATA_DESCRIPTOR Data);
