/*
 * tlgmeta.c: the TraceLogging metadata of the fixture DLL, written out blob by blob.
 *
 * Three providers (a _TlgBlobProvider3 with a group trait and an unknown trait, a plain one, and a legacy
 * _TlgBlobProvider without a GUID) and eleven events (_TlgBlobEvent4, one _TlgBlobEvent3 and one legacy
 * _TlgBlobEvent2): 1- and 3-byte tags, field tags, a fixed-count and a variable-count array, a struct,
 * a custom-serialized field, and one event name used twice with different levels and keywords.
 * Each blob body is a string literal: names end in an explicit "\0", binary bytes sit in literals of
 * their own, and RemainingSize is computed from the literal's size (it counts itself).
 */
#include "tlg.h"

#pragma section(".rdata$zETW0", read)
#pragma section(".rdata$zETW1", read)
#pragma section(".rdata$zETW2", read)
#pragma section(".rdata$zETW9", read)

#define TLG_SIZE(body) ((UINT16)(sizeof(body) - 1 + 2))

/* _TraceLoggingMetadata_t: "ETW0", Size 16, Version 0, Flags 1 (64-bit pointers), Magic. */
__declspec(allocate(".rdata$zETW0")) const struct {
    UINT32 Signature;
    UINT16 Size;
    UINT8 Version;
    UINT8 Flags;
    UINT64 Magic;
} TlgMetadataHeader = {0x30575445, 16, 0, 1, 0xBB8A052B88040E86ULL};

/* _TlgBlobEnd */
__declspec(allocate(".rdata$zETW9")) const UINT8 TlgMetadataEnd = 1;

#pragma pack(push, 1)

#define TLG_EVENT(var, type, level, opcode, keyword, body)                                                  \
    __declspec(allocate(".rdata$zETW1")) const struct {                                                     \
        TlgEventHead Head;                                                                                 \
        char Body[sizeof(body) - 1];                                                                       \
    } var = {{type, 11, level, opcode, keyword, TLG_SIZE(body)}, body}

#define TLG_EVENT2(var, level, opcode, task, keyword, body)                                                 \
    __declspec(allocate(".rdata$zETW1")) const struct {                                                     \
        TlgEvent2Head Head;                                                                                \
        char Body[sizeof(body) - 1];                                                                       \
    } var = {{5, level, opcode, task, keyword, TLG_SIZE(body)}, body}

#define TLG_PROVIDER3(var, body, ...)                                                                       \
    __declspec(allocate(".rdata$zETW2")) const struct {                                                     \
        UINT8 Type;                                                                                        \
        TLG_GUID Id;                                                                                       \
        UINT16 RemainingSize;                                                                              \
        char Body[sizeof(body) - 1];                                                                       \
    } var = {4, __VA_ARGS__, TLG_SIZE(body), body}

#define TLG_PROVIDER2(var, body)                                                                            \
    __declspec(allocate(".rdata$zETW2")) const struct {                                                     \
        UINT8 Type;                                                                                        \
        UINT16 RemainingSize;                                                                              \
        char Body[sizeof(body) - 1];                                                                       \
    } var = {2, TLG_SIZE(body), body}

/* ------------------------------------------------------------------------------------------- events */

/* tags 0x208180 (3 bytes); Path:UNICODESTRING, Pid:UINT32/PID, Digest:UINT8/HEX[16], Addr:struct{2}
   {Ip:UINT32/IPV4, Port:UINT16/PORT}, Status:UINT32/NTSTATUS with field tags 0x804000 (2 bytes). */
TLG_EVENT(AlphaStarted, 6, 4, 1, 0x10ULL,
          "\x81\x82\x03" "AlphaStarted\0"
          "Path\0" "\x01"
          "Pid\0" "\x88\x05"
          "Digest\0" "\xa4\x04\x10\x00"
          "Addr\0" "\x98\x02"
          "Ip\0" "\x88\x08"
          "Port\0" "\x86\x07"
          "Status\0" "\x88\x8e\x84\x01");

/* The same name twice: level 2 / keyword 0x1 and level 5 / keyword 0x2. */
TLG_EVENT(DupError, 6, 2, 0, 0x1ULL,
          "\x00" "Dup\0"
          "Code\0" "\x07");
TLG_EVENT(DupVerbose, 6, 5, 0, 0x2ULL,
          "\x00" "Dup\0"
          "Code\0" "\x07"
          "Extra\0" "\x0a");

/* _TlgBlobEvent3, tags 0x00a00000 (1 byte); Values:UINT16[] (variable count), Blob:UINT8 custom-serialized
   with 3 bytes of type info, Label:ANSISTRING. */
TLG_EVENT(BetaLegacy3, 3, 3, 0, 0x20ULL,
          "\x05" "BetaLegacy3\0"
          "Values\0" "\x46"
          "Blob\0" "\x64\x03\x00\xaa\xbb\xcc"
          "Label\0" "\x02");

TLG_EVENT(BetaFromHandle, 6, 4, 0, 0x40ULL,
          "\x00" "BetaFromHandle\0"
          "When\0" "\x11");

TLG_EVENT(AlphaBoth, 6, 4, 0, 0x100ULL,
          "\x00" "AlphaBoth\0"
          "A\0" "\x08");

TLG_EVENT(BetaBoth, 6, 4, 0, 0x200ULL,
          "\x00" "BetaBoth\0"
          "B\0" "\x08");

TLG_EVENT(BetaThunk, 6, 5, 0, 0x0ULL,
          "\x00" "BetaThunk\0"
          "X\0" "\x08");

/* Legacy _TlgBlobEvent2: Level 3, Opcode 2, Task 7, Keyword 0x80 (no channel byte). */
TLG_EVENT2(OldStyle, 3, 2, 7, 0x80ULL,
           "\x00" "OldStyle\0"
           "Count\0" "\x08");

/* Written by a function that receives its provider as a parameter: no write site ties it to a provider. */
TLG_EVENT(Orphan, 6, 4, 0, 0x0ULL,
          "\x00" "Orphan\0");

/* ---------------------------------------------------------------------------------------- providers */

/* "Contoso.Fixture.Alpha" {0b6a1c3e-5d2f-4a71-9c84-1f2e3d4c5b6a}; traits: group {5e0f6a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b}
   (size 19, type 1) and an unknown type 0x7f with two data bytes (size 5). */
TLG_PROVIDER3(AlphaMeta,
              "Contoso.Fixture.Alpha\0"
              "\x13\x00\x01" "\x2b\x6a\x0f\x5e\x4d\x3c\x5f\x4e\x8a\x9b\x0c\x1d\x2e\x3f\x4a\x5b"
              "\x05\x00\x7f\xde\xad",
              {0x0b6a1c3e, 0x5d2f, 0x4a71, {0x9c, 0x84, 0x1f, 0x2e, 0x3d, 0x4c, 0x5b, 0x6a}});

/* "Contoso.Fixture.Beta" {7f3e2d1c-0b9a-4876-a5b4-c3d2e1f00112}, no traits. */
TLG_PROVIDER3(BetaMeta,
              "Contoso.Fixture.Beta\0",
              {0x7f3e2d1c, 0x0b9a, 0x4876, {0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0, 0x01, 0x12}});

/* Legacy _TlgBlobProvider: no GUID, RemainingSize right after the type byte. */
TLG_PROVIDER2(LegacyMeta, "Contoso.Fixture.Legacy\0");

#pragma pack(pop)

/* -------------------------------------------------------------------- provider objects and a handle */

TlgProvider AlphaProv = {0, (const UINT16*)((const UINT8*)&AlphaMeta + 17), 0, 0, 0, 0, 0};
TlgProvider BetaProv = {0, (const UINT16*)((const UINT8*)&BetaMeta + 17), 0, 0, 0, 0, 0};
TlgProvider LegacyProv = {0, (const UINT16*)((const UINT8*)&LegacyMeta + 1), 0, 0, 0, 0, 0};

/* TraceLoggingHProvider const: code in another translation unit has to load it (mov, not lea). */
const TlgProvider* const BetaHandle = &BetaProv;
