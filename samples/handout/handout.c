/* A user-mode DLL whose events are reached only the ways real DLLs are entered past their exports: through a
   method table the DLL hands out from writable data (a CPython extension's PyMethodDef array returned by its
   PyInit export), through a handler an export stores into the caller's structure (a WIL failure callback, a
   std::function, a V8 JIT code event handler), and through a call chain longer than the default --max-depth
   (a constructor several calls above its trace helper). One write nothing reaches: an exported-nowhere
   function no code and no data points to. Each write names its own EVENT_DESCRIPTOR; EventWrite is imported. */
typedef unsigned char UINT8;
typedef unsigned short UINT16;
typedef unsigned int UINT32;
typedef unsigned long long UINT64;
typedef UINT64 REGHANDLE;
typedef struct { UINT32 Data1; UINT16 Data2, Data3; UINT8 Data4[8]; } GUID;
typedef struct { UINT16 Id; UINT8 Version, Channel, Level, Opcode; UINT16 Task; UINT64 Keyword; } EVENT_DESCRIPTOR;
typedef struct { UINT64 Ptr; UINT32 Size; UINT32 Reserved; } EVENT_DATA_DESCRIPTOR;

__declspec(dllimport) UINT32 __stdcall EventRegister(const GUID *Provider, void *Cb, void *Ctx, REGHANDLE *H);
__declspec(dllimport) UINT32 __stdcall EventWrite(REGHANDLE H, const EVENT_DESCRIPTOR *D, UINT32 N,
                                                  EVENT_DATA_DESCRIPTOR *Data);

const GUID HandoutProviderGuid = {0x3c6e1f0a, 0x7d2b, 0x4e59, {0xa1, 0x84, 0x5f, 0x0c, 0x93, 0x2e, 0x6b, 0x47}};
REGHANDLE HandoutRegHandle;
const EVENT_DESCRIPTOR HANDOUT_STARTED = {1, 0, 0x10, 4, 1, 1, 0x1};
const EVENT_DESCRIPTOR HANDOUT_STOPPED = {2, 0, 0x10, 4, 2, 1, 0x1};
const EVENT_DESCRIPTOR HANDOUT_FAILURE = {3, 0, 0x10, 2, 0, 2, 0x2};
const EVENT_DESCRIPTOR HANDOUT_DEEP = {4, 0, 0x10, 5, 0, 3, 0x4};
const EVENT_DESCRIPTOR HANDOUT_ORPHAN = {5, 0, 0x10, 5, 0, 4, 0x8};

#define NOINLINE __declspec(noinline)
#define EXPORT __declspec(dllexport)

/* ---- a method table in writable data, handed out by an export ---- */
typedef struct { const char *Name; void *(*Method)(void *Self, void *Args); int Flags; const char *Doc; } METHOD;
NOINLINE void *MethodStart(void *Self, void *Args)
{
    (void)Args;
    EventWrite(HandoutRegHandle, &HANDOUT_STARTED, 0, 0);
    return Self;
}
NOINLINE void *MethodStop(void *Self, void *Args)
{
    (void)Args;
    EventWrite(HandoutRegHandle, &HANDOUT_STOPPED, 0, 0);
    return Self;
}
static METHOD g_Methods[] = {{"start", MethodStart, 1, "Starts."}, {"stop", MethodStop, 1, "Stops."}, {0, 0, 0, 0}};
EXPORT METHOD *HandoutMethods(void)
{
    EventRegister(&HandoutProviderGuid, 0, 0, &HandoutRegHandle);
    return g_Methods;
}

/* ---- a handler an export stores into its caller's structure ---- */
typedef struct { UINT32 Code; void (*OnFailure)(UINT32 Code); } CALLBACKS;
NOINLINE void FailureHandler(UINT32 Code)
{
    EVENT_DATA_DESCRIPTOR data = {(UINT64)&Code, sizeof Code, 0};
    EventWrite(HandoutRegHandle, &HANDOUT_FAILURE, 1, &data);
}
EXPORT void HandoutInstall(CALLBACKS *Callbacks)
{
    Callbacks->Code = 0;
    Callbacks->OnFailure = FailureHandler;
}

/* ---- a chain longer than the default depth: HandoutDeep -> Level1 -> ... -> Level5 writes ---- */
volatile UINT32 g_Depth;
NOINLINE void Level5(void) { g_Depth = 5; EventWrite(HandoutRegHandle, &HANDOUT_DEEP, 0, 0); }
NOINLINE void Level4(void) { g_Depth = 4; Level5(); }
NOINLINE void Level3(void) { g_Depth = 3; Level4(); }
NOINLINE void Level2(void) { g_Depth = 2; Level3(); }
NOINLINE void Level1(void) { g_Depth = 1; Level2(); }
EXPORT void HandoutDeep(void) { Level1(); g_Depth = 0; }

/* ---- nothing calls this or holds its address ---- */
NOINLINE void Orphan(void) { EventWrite(HandoutRegHandle, &HANDOUT_ORPHAN, 0, 0); }
