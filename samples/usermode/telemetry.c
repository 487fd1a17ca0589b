/* A user-mode DLL that logs through advapi32 (imported): a manifest provider written with EventWrite and
   EventWriteTransfer, and a TraceLogging provider written the way TraceLoggingProvider.h's user-mode helpers
   expand once inlined (descriptor built from the event metadata, EventWriteTransfer on the provider's handle). */
typedef unsigned char UINT8;
typedef unsigned short UINT16;
typedef unsigned int UINT32;
typedef unsigned long long UINT64;
typedef UINT64 REGHANDLE;
typedef struct { UINT32 Data1; UINT16 Data2, Data3; UINT8 Data4[8]; } GUID;
typedef struct { UINT16 Id; UINT8 Version, Channel, Level, Opcode; UINT16 Task; UINT64 Keyword; } EVENT_DESCRIPTOR;
typedef struct { UINT64 Ptr; UINT32 Size; UINT32 Reserved; } EVENT_DATA_DESCRIPTOR;
typedef void (*ENABLECALLBACK)(const GUID *, UINT32, UINT8, UINT64, UINT64, void *, void *);

__declspec(dllimport) UINT32 __stdcall EventRegister(const GUID *Provider, ENABLECALLBACK Cb, void *Ctx, REGHANDLE *H);
__declspec(dllimport) UINT32 __stdcall EventUnregister(REGHANDLE H);
__declspec(dllimport) UINT32 __stdcall EventWrite(REGHANDLE H, const EVENT_DESCRIPTOR *D, UINT32 N, EVENT_DATA_DESCRIPTOR *Data);
__declspec(dllimport) UINT32 __stdcall EventWriteTransfer(REGHANDLE H, const EVENT_DESCRIPTOR *D, const GUID *Act,
                                                          const GUID *Rel, UINT32 N, EVENT_DATA_DESCRIPTOR *Data);

/* ---- manifest provider ---- */
const GUID WidgetProviderGuid = {0x6b0a6a2e, 0x1c4f, 0x4d71, {0x9a, 0x55, 0x2d, 0x3e, 0x41, 0x0b, 0x7c, 0x11}};
REGHANDLE WidgetRegHandle;
const EVENT_DESCRIPTOR WIDGET_EVENT_OPENED = {1, 0, 0x10, 4, 1, 1, 0x8000000000000001ULL};
const EVENT_DESCRIPTOR WIDGET_EVENT_CLOSED = {2, 0, 0x10, 4, 2, 1, 0x8000000000000001ULL};
const EVENT_DESCRIPTOR WIDGET_EVENT_FAILED = {3, 1, 0x10, 2, 0, 2, 0x8000000000000002ULL};

/* ---- TraceLogging metadata (TraceLoggingProvider.h layout) ---- */
#pragma section(".rdata$zETW0", read)
#pragma section(".rdata$zETW1", read)
#pragma section(".rdata$zETW2", read)
#pragma section(".rdata$zETW9", read)
#pragma pack(push, 1)
typedef struct { UINT32 Signature; UINT16 Size; UINT8 Version; UINT8 Flags; UINT64 Magic; } TLG_HEADER;
typedef struct { UINT8 Type; GUID Id; UINT16 RemainingSize; char Name[25]; } TLG_PROVIDER_META;
typedef struct { UINT8 Type; UINT8 Channel, Level, Opcode; UINT64 Keyword; UINT16 RemainingSize; UINT8 Tags[2];
                 char Name[12]; char F1[6]; UINT8 F1In; } TLG_EVENT_META;
#pragma pack(pop)
__declspec(allocate(".rdata$zETW0")) const TLG_HEADER _tlgHeader = {0x30575445, 16, 0, 1, 0xBB8A052B88040E86ULL};
__declspec(allocate(".rdata$zETW2")) const TLG_PROVIDER_META _tlgProviderMeta = {
    4, {0x1d2c3b4a, 0x5e6f, 0x4a7b, {0x8c, 0x9d, 0xae, 0xbf, 0xc0, 0xd1, 0xe2, 0xf3}}, 2 + 25,
    "Contoso.Widget.Telemetry"};
__declspec(allocate(".rdata$zETW1")) const TLG_EVENT_META _tlgEvent_WidgetUsage = {
    6, 11, 5, 0, 0x0000400000000000ULL, 2 + 2 + 12 + 6 + 1, {0x80, 0x00}, "WidgetUsage", "Count", 8};
__declspec(allocate(".rdata$zETW1")) const TLG_EVENT_META _tlgEvent_WidgetCrash = {
    6, 11, 2, 0, 0x0000400000000000ULL, 2 + 2 + 12 + 6 + 1, {0x80, 0x00}, "WidgetCrash", "Error",
    8};
__declspec(allocate(".rdata$zETW9")) const UINT8 _tlgEnd = 1;

typedef struct { UINT32 LevelPlus1; const UINT16 *ProviderMetadataPtr; UINT64 KeywordAny, KeywordAll;
                 REGHANDLE RegHandle; ENABLECALLBACK Callback; void *Context; } TLG_PROVIDER;
TLG_PROVIDER _tlgWidgetProvider = {0, &_tlgProviderMeta.RemainingSize, 0, 0, 0, 0, 0};

/* ---- code ---- */
__declspec(noinline) static void TlgEnable(const GUID *g, UINT32 c, UINT8 l, UINT64 a, UINT64 b, void *f, void *ctx)
{
    ((TLG_PROVIDER *)ctx)->LevelPlus1 = (UINT32)l + 1 + (UINT32)(a ^ b) + (UINT32)c + (g != 0) + (f != 0);
}

__declspec(dllexport) UINT32 WidgetInitialize(void)
{
    UINT32 status = EventRegister(&WidgetProviderGuid, 0, 0, &WidgetRegHandle);
    /* TraceLoggingRegister: the GUID is read from the provider metadata the object points to. */
    status |= EventRegister((const GUID *)((const UINT8 *)_tlgWidgetProvider.ProviderMetadataPtr - 16), TlgEnable,
                            &_tlgWidgetProvider, &_tlgWidgetProvider.RegHandle);
    return status;
}

__declspec(noinline) UINT32 TlgWriteInline(TLG_PROVIDER *provider, const UINT8 *meta, UINT32 value)
{
    EVENT_DESCRIPTOR desc;
    EVENT_DATA_DESCRIPTOR data[3];
    desc.Id = 0;
    desc.Version = 0;
    desc.Channel = meta[0];
    desc.Level = meta[1];
    desc.Opcode = meta[2];
    desc.Task = 0;
    desc.Keyword = *(const UINT64 *)(meta + 3);
    data[0].Ptr = (UINT64)provider->ProviderMetadataPtr;
    data[0].Size = *provider->ProviderMetadataPtr;
    data[0].Reserved = 2;
    data[1].Ptr = (UINT64)(meta + 11);
    data[1].Size = *(const UINT16 *)(meta + 11);
    data[1].Reserved = 1;
    data[2].Ptr = (UINT64)&value;
    data[2].Size = 4;
    data[2].Reserved = 0;
    return EventWriteTransfer(provider->RegHandle, &desc, 0, 0, 3, data);
}

__declspec(noinline) UINT32 WidgetLog(const EVENT_DESCRIPTOR *desc, UINT32 value)
{
    EVENT_DATA_DESCRIPTOR data = {(UINT64)&value, 4, 0};
    return EventWrite(WidgetRegHandle, desc, 1, &data);
}

__declspec(dllexport) UINT32 WidgetOpen(UINT32 id)
{
    UINT32 status = WidgetLog(&WIDGET_EVENT_OPENED, id);
    if (_tlgWidgetProvider.LevelPlus1 > 5)
        status |= TlgWriteInline(&_tlgWidgetProvider, &_tlgEvent_WidgetUsage.Channel, id);
    return status;
}

__declspec(dllexport) UINT32 WidgetClose(UINT32 id, UINT32 failed)
{
    EVENT_DATA_DESCRIPTOR data = {(UINT64)&id, 4, 0};
    if (failed) {
        if (_tlgWidgetProvider.LevelPlus1 > 2)
            TlgWriteInline(&_tlgWidgetProvider, &_tlgEvent_WidgetCrash.Channel, failed);
        return EventWriteTransfer(WidgetRegHandle, &WIDGET_EVENT_FAILED, 0, 0, 1, &data);
    }
    return WidgetLog(&WIDGET_EVENT_CLOSED, id);
}
