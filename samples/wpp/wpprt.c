/* wpprt.c: wppuser (written by build.py; the trace statements are expanded by wpprt.tmh). */
#include "wppuser.h"

__declspec(noinline) ULONG WppStrLenA(const char *String)
{
    ULONG Length = 0;
    while (String && String[Length]) {
        Length++;
    }
    return Length;
}
