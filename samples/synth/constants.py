"""Constants of the synthetic kernels: Windows Kernel Trace masks and hooks, TraceLogging encodings, the ETW API.

Values are the public ones (ntwmi.h / evntrace.h as System Informer's phnt has them, TraceLoggingProvider.h of
the Windows SDK 10.0.19041); the ETW API names are ntoskrnl's.
"""

from __future__ import annotations

MAX_DEPTH = 5
TRUTH_FORMAT = 1
OPT_LEVELS = ("O1", "O2", "Os")
DEFAULT_SEED = 4  # shuffles definition order in the committed kernel's files (not the truth)
KERNEL_BEYOND_DEPTH = 8  # rows deeper than MAX_DEPTH, up to this, are listed apart in the kernel's truth

# ---------------------------------------------------------------------------------------------------------------
# Legacy (Windows Kernel Trace) constants, as defined in ntwmi.h / evntrace.h (System Informer phnt copies).
# ---------------------------------------------------------------------------------------------------------------

EVENT_TRACE_GROUPS = {
    0x0200: "MEMORY",
    0x0300: "PROCESS",
    0x0500: "THREAD",
    0x0700: "JOB",
    0x0900: "REGISTRY",
    0x1100: "OBJECT",
}

# name (without PERF_) -> value.  Index 0 masks alias EVENT_TRACE_FLAG_xxx.
PERF_MASKS = {
    "PROCESS": 0x00000001,  # EVENT_TRACE_FLAG_PROCESS
    "THREAD": 0x00000002,  # EVENT_TRACE_FLAG_THREAD
    "JOB": 0x00080000,  # EVENT_TRACE_FLAG_JOB
    "MEMORY": 0x20000001,
    "PRIORITY": 0x20002000,
    "VIRTUAL_ALLOC": 0x20008000,
    "SESSION": 0x20400000,  # PERF_PFSECTION is an alias of PERF_SESSION
    "MEMINFO_WS": 0x20800000,
    "REG_HIVE": 0x41000000,
    "OB_HANDLE": 0x80000040,
}

# hook macro -> value (EVENT_TRACE_GROUP_xxx | type)
HOOKS = {
    "WMI_LOG_TYPE_PROCESS_CREATE": 0x0300 | 0x01,  # EVENT_TRACE_TYPE_START
    "WMI_LOG_TYPE_PROCESS_TERMINATE": 0x0300 | 0x0B,  # EVENT_TRACE_TYPE_TERMINATE
    "WMI_LOG_TYPE_THREAD_CREATE": 0x0500 | 0x01,
    "PERFINFO_LOG_TYPE_THREAD_SET_PRIORITY": 0x0500 | 0x30,
    "PERFINFO_LOG_TYPE_THREAD_SET_PAGE_PRIORITY": 0x0500 | 0x33,
    "PERFINFO_LOG_TYPE_THREAD_SET_IO_PRIORITY": 0x0500 | 0x34,
    "WMI_LOG_TYPE_JOB_CREATE": 0x0700 | 0x20,
    "WMI_LOG_TYPE_JOB_TERMINATE": 0x0700 | 0x21,
    "PERFINFO_LOG_TYPE_PFMAPPED_SECTION_CREATE": 0x0200 | 0x49,
    "PERFINFO_LOG_TYPE_VIRTUAL_ALLOC": 0x0200 | 0x62,
    "PERFINFO_LOG_TYPE_VIRTUAL_FREE": 0x0200 | 0x63,
    "PERFINFO_LOG_TYPE_MEMINFOEX_WS": 0x0200 | 0x7D,
    "PERFINFO_LOG_TYPE_REG_HIVE_DIRTY": 0x0900 | 0x28,
    "PERFINFO_LOG_TYPE_CREATE_HANDLE": 0x1100 | 0x20,
    "PERFINFO_LOG_TYPE_CLOSE_HANDLE": 0x1100 | 0x21,
}

# ---------------------------------------------------------------------------------------------------------------
# TraceLogging constants (TraceLoggingProvider.h, Windows SDK 10.0.19041).
# ---------------------------------------------------------------------------------------------------------------

TLG_BLOB_END = 1
TLG_BLOB_PROVIDER3 = 4
TLG_BLOB_EVENT4 = 6
TLG_OPTION_GROUP = 1
TLG_SIGNATURE = 0x30575445  # "ETW0"
TLG_MAGIC = 0xBB8A052B88040E86
TLG_IN = {
    "UNICODESTRING": 1, "ANSISTRING": 2, "INT8": 3, "UINT8": 4, "INT16": 5, "UINT16": 6, "INT32": 7, "UINT32": 8,
    "INT64": 9, "UINT64": 10, "FLOAT": 11, "DOUBLE": 12, "BOOL32": 13, "BINARY": 14, "GUID": 15, "FILETIME": 17,
    "SYSTEMTIME": 18, "SID": 19, "HEXINT32": 20, "HEXINT64": 21, "COUNTEDSTRING": 22, "COUNTEDANSISTRING": 23,
    "STRUCT": 24, "COUNTEDBINARY": 25,
}
TLG_CCOUNT = 0x20
TLG_VCOUNT = 0x40
TLG_CHAIN = 0x80
TLG_OUT = {"NULL": 0, "STRING": 2, "BOOLEAN": 3, "HEX": 4, "PID": 5, "TID": 6, "WIN32ERROR": 13, "NTSTATUS": 14,
           "HRESULT": 15, "FILETIME": 16}
TLG_SECTIONS = {"header": ".rdata$zETW0", "events": ".rdata$zETW1", "providers": ".rdata$zETW2",
                "end": ".rdata$zETW9"}

# ---------------------------------------------------------------------------------------------------------------
# The ETW API implemented by etwapi.c.  These are never roots and never containing functions.
# ---------------------------------------------------------------------------------------------------------------

MANIFEST_WRITERS = ("EtwWrite", "EtwWriteEx", "EtwWriteTransfer", "EtwWriteStartScenario", "EtwWriteEndScenario")
TLG_WRITERS = ("_tlgWriteTransfer_EtwWriteTransfer", "_tlgWriteEx_EtwWriteEx", "_tlgWriteAgg")
LEGACY_WRITER = "EtwTraceKernelEvent"
STRING_WRITER = "EtwWriteString"
ALL_WRITERS = MANIFEST_WRITERS + (STRING_WRITER, LEGACY_WRITER) + TLG_WRITERS
ETW_API_EXPORTED = ("EtwRegister", "EtwUnregister", "EtwEventEnabled", "EtwProviderEnabled", "EtwSetInformation",
                    "EtwWrite", "EtwWriteEx", "EtwWriteTransfer", "EtwWriteString", "EtwWriteStartScenario",
                    "EtwWriteEndScenario")
ETW_API_INTERNAL = ("EtwTraceKernelEvent", "TraceLoggingRegisterEx_EtwRegister_EtwSetInformation",
                    "_tlgEnableCallback", "_tlgWriteCommon", "_tlgWriteTransfer_EtwWriteTransfer",
                    "_tlgWriteEx_EtwWriteEx", "_tlgWriteAgg")
ETW_API = frozenset(ETW_API_EXPORTED + ETW_API_INTERNAL)

