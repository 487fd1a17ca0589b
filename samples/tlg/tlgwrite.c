/* tlgwrite.c: the stand-in for _tlgWriteTransfer, in its own translation unit so callers cannot see its body. */
#include "tlg.h"

volatile const void* TlgSinkProvider;
volatile const void* TlgSinkEvent;
volatile int TlgSinkValue;

__declspec(noinline) int TlgWrite(const TlgProvider* provider, const void* event, int value)
{
    TlgSinkProvider = provider;
    TlgSinkEvent = event;
    TlgSinkValue = value;
    return value;
}
