/* legacy.c: wppkernel (written by build.py; the trace statements are expanded by legacy.tmh). */
#include "wppkernel.h"
#include "legacy.tmh"

ULONG64 KwpLegacyTotal;

__declspec(noinline) void KwpLegacyRead(ULONG64 Bytes, const void *Address)
{
    KwpLegacyTotal += Bytes;
    DoTraceMessage(KW_LEGACY, "legacy read %I64x bytes at %p", Bytes, Address);
}

__declspec(dllexport) __declspec(noinline) NTSTATUS KwLegacyQuery(ULONG64 Bytes, const void *Address)
{
    KwpLegacyRead(Bytes, Address);
    return STATUS_SUCCESS;
}
