/* dispatch.c: wppkernel (written by build.py; the trace statements are expanded by dispatch.tmh). */
#include "wppkernel.h"
#include "dispatch.tmh"

ULONG KwpLastIoctl;

__declspec(noinline) NTSTATUS KwpHandleIoctl(ULONG Code, LONG InLength, LONG OutLength)
{
    DoTraceEvents(TRACE_LEVEL_VERBOSE, KW_IOCTL, "IOCTL %x", Code);
    KwpLastIoctl = Code;
    DoTraceEvents(TRACE_LEVEL_VERBOSE, KW_IOCTL, "buffer sizes in %d out %d", InLength, OutLength);
    return InLength < OutLength ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

__declspec(dllexport) __declspec(noinline) NTSTATUS KwDispatchDeviceControl(ULONG Code, LONG InLength, LONG OutLength)
{
    if ((Code & 0xFFFF0000u) != 0x00220000u) {
        NTSTATUS Status = STATUS_INVALID_PARAMETER;
        DoTraceEvents(TRACE_LEVEL_ERROR, KW_IOCTL, "unknown IOCTL %x -> %!STATUS!", Code, Status);
        return Status;
    }
    return KwpHandleIoctl(Code, InLength, OutLength);
}
