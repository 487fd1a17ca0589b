/* wmi.c: wppkernel (written by build.py; the trace statements are expanded by wmi.tmh). */
#include "wppkernel.h"

volatile ULONG64 WmipTraceSink;

/* MessageNumber is a USHORT: va_start after a promoted parameter is fine in the x64 calling convention. */
#pragma clang diagnostic ignored "-Wvarargs"

__declspec(dllexport) __declspec(noinline) NTSTATUS WmiTraceMessage(TRACEHANDLE LoggerHandle, ULONG MessageFlags,
                                                                  LPCGUID MessageGuid, USHORT MessageNumber, ...)
{
    __builtin_va_list ap;
    __builtin_va_start(ap, MessageNumber);
    WmipTraceSink = LoggerHandle ^ MessageFlags ^ MessageGuid->Data1 ^ MessageNumber;
    for (const void *data = __builtin_va_arg(ap, const void *); data; data = __builtin_va_arg(ap, const void *)) {
        WmipTraceSink += (ULONG64)data + __builtin_va_arg(ap, SIZE_T);
    }
    __builtin_va_end(ap);
    return 0;
}
