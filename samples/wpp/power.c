/* power.c: wppkernel (written by build.py; the trace statements are expanded by power.tmh). */
#include "wppkernel.h"
#include "power.tmh"

LONG KwpPowerState;

__declspec(noinline) void KwpTransition(LONG From, LONG To)
{
    KwpPowerState = To;
    DoTraceEvents(TRACE_LEVEL_INFORMATION, KW_POWER, "power state %d -> %d", From, To);
}

__declspec(dllexport) __declspec(noinline) NTSTATUS KwSetPowerState(LONG State)
{
    if (State == KwpPowerState) {
        return STATUS_SUCCESS;
    }
    KwpTransition(KwpPowerState, State);
    return STATUS_SUCCESS;
}
