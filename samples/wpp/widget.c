/* widget.c: wppuser (written by build.py; the trace statements are expanded by widget.tmh). */
#include "wppuser.h"
#include "widget.tmh"

void *WdpTable[8];

__declspec(noinline) NTSTATUS WdpValidateName(const char *Name, ULONG Length)
{
    if (Length == 0 || Length > 64) {
        DoTraceEvents(TRACE_LEVEL_ERROR, TRACE_ERROR, "invalid widget name \"%s\" (length %u)", Name, Length);
        return STATUS_INVALID_PARAMETER;
    }
    return Name ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

__declspec(noinline) void WdpOpenInternal(const char *Name, void *Handle, ULONG Flags)
{
    WdpTable[Flags & 7] = Handle;
    DoTraceEvents(TRACE_LEVEL_INFORMATION, TRACE_WIDGET, "opened widget %s handle %p flags %08X", Name, Handle, Flags);
}

__declspec(dllexport) __declspec(noinline) NTSTATUS WidgetOpen(const char *Name, ULONG Flags, void **Handle)
{
    DoTraceEvents(TRACE_LEVEL_VERBOSE, PERF_ENTRY, "--> WidgetOpen flags %u", Flags);
    NTSTATUS Status = WdpValidateName(Name, WppStrLenA(Name));
    if (Status < 0) {
        return Status;
    }
    *Handle = &WdpTable[Flags & 7];
    WdpOpenInternal(Name, *Handle, Flags);
    return STATUS_SUCCESS;
}

__declspec(dllexport) __declspec(noinline) NTSTATUS WidgetClose(void *Handle)
{
    NTSTATUS Status = Handle ? STATUS_SUCCESS : STATUS_INVALID_HANDLE;
    DoTraceEvents(TRACE_LEVEL_INFORMATION, TRACE_WIDGET, "closing widget %p status %d", Handle, Status);
    return Status;
}
