/* drvinit.c: wppkernel (written by build.py; the trace statements are expanded by drvinit.tmh). */
#include "wppkernel.h"
#include "drvinit.tmh"

WPP_CB_TYPE WPP_MAIN_CB[WPP_LAST_CTL];
WPP_CB_TYPE *WPP_GLOBAL_Control = (WPP_CB_TYPE *)&WPP_GLOBAL_Control;
PFN_WPPTRACEMESSAGE pfnWppTraceMessage;

/* WppLoadTracingSupport: the WPP kernel runtime finds WmiTraceMessage (MmGetSystemRoutineAddress). */
__declspec(noinline) void WppLoadTracingSupport(void)
{
    pfnWppTraceMessage = WmiTraceMessage;
}

void WppInitControlBlocks(void)
{
    for (ULONG i = 0; i < WPP_LAST_CTL; i++) {
        WPP_MAIN_CB[i].Control.Next = i + 1 < WPP_LAST_CTL ? &WPP_MAIN_CB[i + 1].Control : 0;
        WPP_MAIN_CB[i].Control.FlagsLen = 1;
    }
    WPP_GLOBAL_Control = WPP_MAIN_CB;
}

__declspec(noinline) NTSTATUS DriverEntry(void *DriverObject, void *RegistryPath)
{
    (void)DriverObject;
    WppLoadTracingSupport();
    WPP_INIT_TRACING();
    DoTraceEvents(TRACE_LEVEL_INFORMATION, KW_INIT, "wppkernel DriverEntry, registry path %p", RegistryPath);
    return STATUS_SUCCESS;
}
