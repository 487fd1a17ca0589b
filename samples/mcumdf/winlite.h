/* The few Win32 types this DLL touches, from the documented windows.h definitions. Not the SDK header. */
#pragma once
typedef unsigned char UCHAR, BOOLEAN;
typedef unsigned short USHORT, WCHAR;
typedef unsigned long ULONG, DWORD, *PULONG;
typedef long LONG, HRESULT;
typedef int BOOL;
typedef unsigned long long ULONGLONG, ULONG_PTR, SIZE_T;
typedef void VOID, *PVOID, *LPVOID, *HANDLE, *HINSTANCE;
typedef ULONGLONG REGHANDLE, *PREGHANDLE, TRACEHANDLE;
typedef struct _GUID { ULONG Data1; USHORT Data2; USHORT Data3; UCHAR Data4[8]; } GUID;
typedef const GUID *LPCGUID;
#define NULL ((void *)0)
#define TRUE 1
#define FALSE 0
#define WINAPI __stdcall
#define STDMETHODCALLTYPE __stdcall
#define DLL_PROCESS_ATTACH 1
#define DLL_PROCESS_DETACH 0
#define DECLSPEC_NOINLINE __declspec(noinline)
#define DECLSPEC_IMPORT __declspec(dllimport)
#define InterlockedIncrement(p) _InterlockedIncrement(p)
#define InterlockedDecrement(p) _InterlockedDecrement(p)
long _InterlockedIncrement(long volatile *Addend);
long _InterlockedDecrement(long volatile *Addend);
typedef DWORD (WINAPI *LPTHREAD_START_ROUTINE)(LPVOID Parameter);
DECLSPEC_IMPORT HANDLE WINAPI CreateThread(PVOID Attributes, SIZE_T StackSize, LPTHREAD_START_ROUTINE Start,
                                           LPVOID Parameter, DWORD Flags, DWORD *ThreadId);
typedef VOID (WINAPI *PTP_SIMPLE_CALLBACK)(PVOID Instance, PVOID Context);
DECLSPEC_IMPORT BOOL WINAPI TrySubmitThreadpoolCallback(PTP_SIMPLE_CALLBACK Callback, PVOID Context, PVOID Environ);
typedef VOID (WINAPI *LPSERVICE_MAIN_FUNCTIONW)(DWORD Argc, WCHAR **Argv);
typedef struct _SERVICE_TABLE_ENTRYW { WCHAR *lpServiceName; LPSERVICE_MAIN_FUNCTIONW lpServiceProc; } SERVICE_TABLE_ENTRYW;
typedef DWORD (WINAPI *LPHANDLER_FUNCTION_EX)(DWORD Control, DWORD Type, LPVOID Data, LPVOID Context);
DECLSPEC_IMPORT PVOID WINAPI RegisterServiceCtrlHandlerExW(const WCHAR *Name, LPHANDLER_FUNCTION_EX Handler,
                                                          LPVOID Context);
DECLSPEC_IMPORT BOOL WINAPI StartServiceCtrlDispatcherW(const SERVICE_TABLE_ENTRYW *Table);
