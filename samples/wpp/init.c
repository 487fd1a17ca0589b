/* init.c: wppuser (written by build.py; the trace statements are expanded by init.tmh). */
#include "wppuser.h"
#include "init.tmh"

WPP_CB_TYPE WPP_MAIN_CB[WPP_LAST_CTL];
WPP_CB_TYPE *WPP_GLOBAL_Control = (WPP_CB_TYPE *)&WPP_GLOBAL_Control;

void WppInitControlBlocks(void)
{
    for (ULONG i = 0; i < WPP_LAST_CTL; i++) {
        WPP_MAIN_CB[i].Control.Next = i + 1 < WPP_LAST_CTL ? &WPP_MAIN_CB[i + 1].Control : 0;
        WPP_MAIN_CB[i].Control.FlagsLen = 1;
    }
    WPP_GLOBAL_Control = WPP_MAIN_CB;
}

__declspec(noinline) int DllMain(void *Instance, ULONG Reason, void *Reserved)
{
    (void)Instance; (void)Reserved;
    if (Reason == 1) {
        WPP_INIT_TRACING();
    }
    DoTraceMessage(TRACE_INIT, "wppuser loaded, reason %u", Reason);
    return 1;
}
