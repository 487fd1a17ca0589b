/*
 * tlgcode.c: the write sites of the fixture DLL, each an exported function.
 *
 * AlphaStart and AlphaDup take the provider object's address and check its level (one provider per
 * function); BetaViaHandle loads the provider through a const handle; BothProviders writes with two
 * providers (each event belongs to the provider referenced next to it); BetaTailCall tail-calls the
 * writer, so it has no unwind data (a leaf between two RUNTIME_FUNCTIONs); LegacyWrite passes a legacy
 * event's Level byte; OrphanWrite gets its provider as a parameter, so nothing ties Orphan to a provider.
 */
#include "tlg.h"

#define EXPORT __declspec(dllexport)

extern TlgProvider AlphaProv;
extern TlgProvider BetaProv;
extern TlgProvider LegacyProv;
extern const TlgProvider* const BetaHandle;
extern const TlgEventHead AlphaStarted, DupError, DupVerbose, BetaLegacy3, BetaFromHandle, AlphaBoth, BetaBoth;
extern const TlgEventHead BetaThunk, Orphan;
extern const TlgEvent2Head OldStyle;

EXPORT int AlphaStart(int value)
{
    if (AlphaProv.LevelPlus1 > 4)
        return TlgWrite(&AlphaProv, &AlphaStarted.Channel, value) + 1;
    return 0;
}

EXPORT int AlphaDup(int value)
{
    if (AlphaProv.LevelPlus1 > 2)
        return TlgWrite(&AlphaProv, value > 3 ? &DupVerbose.Channel : &DupError.Channel, value) + 1;
    return 0;
}

EXPORT int BetaViaHandle(int value)
{
    const TlgProvider* provider = BetaHandle;
    int status = 0;
    if (provider->LevelPlus1 > 3)
        status += TlgWrite(provider, &BetaLegacy3.Channel, value);
    if (provider->LevelPlus1 > 4)
        status += TlgWrite(provider, &BetaFromHandle.Channel, value);
    return status + 1;
}

EXPORT int BothProviders(int value)
{
    int first = TlgWrite(&AlphaProv, &AlphaBoth.Channel, value);
    return first + TlgWrite(&BetaProv, &BetaBoth.Channel, value);
}

EXPORT int BetaTailCall(int value)
{
    return TlgWrite(&BetaProv, &BetaThunk.Channel, value);
}

EXPORT int LegacyWrite(int value)
{
    return TlgWrite(&LegacyProv, &OldStyle.Level, value) + 1;
}

EXPORT int OrphanWrite(const TlgProvider* provider, int value)
{
    return TlgWrite(provider, &Orphan.Channel, value) + 1;
}
