/*
 * tlg.h: types shared by the TraceLogging fixture DLL (see build.py).
 *
 * The metadata follows the layout TraceLoggingProvider.h emits (Windows SDK 10.0.10240 onwards): an
 * _TraceLoggingMetadata_t header in .rdata$zETW0, event blobs in .rdata$zETW1, provider blobs in
 * .rdata$zETW2 and the _TlgBlobEnd byte in .rdata$zETW9, which the linker sorts into one run. No
 * Windows header is used, so the DLL builds with clang and lld-link alone.
 */
#ifndef TLG_FIXTURE_H
#define TLG_FIXTURE_H

typedef unsigned char UINT8;
typedef unsigned short UINT16;
typedef unsigned int UINT32;
typedef unsigned long long UINT64;

typedef struct TLG_GUID {
    UINT32 Data1;
    UINT16 Data2;
    UINT16 Data3;
    UINT8 Data4[8];
} TLG_GUID;

/* _tlgProvider_t: what a TraceLoggingHProvider points to; ProviderMetadataPtr -> the blob's RemainingSize. */
typedef struct TlgProvider {
    UINT32 LevelPlus1;
    const UINT16* ProviderMetadataPtr;
    UINT64 KeywordAny;
    UINT64 KeywordAll;
    UINT64 RegHandle;
    void* EnableCallback;
    void* CallbackContext;
} TlgProvider;

/* The fixed head of _TlgBlobEvent3/_TlgBlobEvent4; a write passes &Channel. */
#pragma pack(push, 1)
typedef struct TlgEventHead {
    UINT8 Type;
    UINT8 Channel;
    UINT8 Level;
    UINT8 Opcode;
    UINT64 Keyword;
    UINT16 RemainingSize;
} TlgEventHead;

/* The fixed head of the legacy _TlgBlobEvent2; a write passes &Level (one byte past the type). */
typedef struct TlgEvent2Head {
    UINT8 Type;
    UINT8 Level;
    UINT8 Opcode;
    UINT16 Task;
    UINT64 Keyword;
    UINT16 RemainingSize;
} TlgEvent2Head;
#pragma pack(pop)

/* The fixture's own "write helper": consumes its arguments so callers must materialise them. */
int TlgWrite(const TlgProvider* provider, const void* event, int value);

#endif
