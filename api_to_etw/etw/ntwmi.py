"""Names for the legacy "Windows Kernel Trace" events logged through ``EtwTraceKernelEvent``.

ntoskrnl logs its classic kernel-logger events with the undocumented
``EtwTraceKernelEvent(Data, Count, GroupMask, HookId, Flags)``. Static analysis recovers the
``GroupMask`` and ``HookId`` arguments as bare integers; this module turns them into the symbolic
names Microsoft uses, so a report says ``MEMINFO_WS`` / ``MEMINFOEX_WS`` instead of
``0x20800000`` / ``0x27d``.

Where the constants come from: ``ntwmi.h`` as published in the Windows 10 1511 (build 10586) WDK,
as reproduced in public headers -- chiefly the System Informer (formerly Process Hacker) ``phnt``
copy, in both its older plain form and its newer annotated form, which adds ``PERF_PHYSICAL_MEMORY``
and ``PERF_MARK_WITH_FLUSH``. ``WMI_LOG_TYPE_*`` / ``PERFINFO_LOG_TYPE_*`` values written in terms
of ``EVENT_TRACE_TYPE_*`` and the index-0 masks written in terms of ``EVENT_TRACE_FLAG_*`` were
resolved with the public SDK ``evntrace.h``.

Deliberately left out:

* definitions that are only comments in the headers (reserved slots, provisional names);
* hook ids built on ``EVENT_TRACE_GROUP_TBD``, which no public Windows 10 header defines (older
  headers used 0x1400 for it, which is ``IMAGE`` today, so guessing would mislabel events);
* the ``PERFINFO_LOG_TYPE_MMCSS_*`` values, which carry no group byte (they belong to the MMCSS
  DLL, not the kernel) and would collide with ``WMI_LOG_TYPE_GROUP_MASKS_END``;
* ``WMI_LOG_TYPE_CONFIG_OSVERSION`` and friends, whose ``EVENT_TRACE_TYPE_*`` operands are defined
  in no public header.

A group mask packs two things into one ULONG: the top 3 bits (``mask >> 29``) select one of the 8
ULONGs of ``PERFINFO_GROUPMASK`` and the low 29 bits are flags within it. Index-0 masks coincide
with the documented ``EVENT_TRACE_FLAG_*`` values. A hook id is ``EVENT_TRACE_GROUP_xxx | type``:
the group in the high byte, the event type (opcode) in the low byte.

Names are given without their ``PERF_`` / ``EVENT_TRACE_GROUP_`` / ``PERFINFO_LOG_TYPE_`` /
``WMI_LOG_TYPE_`` prefixes; the fallbacks for unknown values keep a prefix so a reader can still
tell a mask from a hook id. Treat the tables as read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Optional

__all__ = [
    "CATEGORY_GROUPS",
    "LEGACY_GROUP_CATEGORIES",
    "LEGACY_HOOK_CATEGORIES",
    "EVENT_GROUPS",
    "GROUP_MASKS",
    "GROUP_MASK_ALIASES",
    "HOOK_IDS",
    "MASK_FLAGS",
    "MASK_INDEX_BITS",
    "MASK_INDEX_SHIFT",
    "group_mask_name",
    "hook_group",
    "hook_group_name",
    "hook_category",
    "hook_name",
    "mask_flags",
    "mask_index",
]

MASK_INDEX_SHIFT = 29
"""``PERF_GET_MASK_INDEX``: the top 3 bits pick one of the 8 ULONGs of ``PERFINFO_GROUPMASK``."""

MASK_FLAGS = 0x1FFFFFFF
"""``PERF_MASK_GROUP``: the 29 flag bits within the selected ULONG."""

MASK_INDEX_BITS = 0xE0000000
"""``PERF_MASK_INDEX``: the 3 index bits, kept in place."""

_ULONG = 0xFFFFFFFF
_USHORT = 0xFFFF
_GROUP_BYTE = 0xFF00

# --------------------------------------------------------------------------------------------------
# PERF_* group masks (value -> name without "PERF_").
# --------------------------------------------------------------------------------------------------

GROUP_MASKS: dict[int, str] = {
    # Masks[0]: the documented EVENT_TRACE_FLAG_* values.
    0x00000001: "PROCESS",
    0x00000002: "THREAD",
    0x00000003: "PROC_THREAD",  # PROCESS | THREAD
    0x00000004: "LOADER",
    0x00000008: "PERF_COUNTER",
    0x00000200: "FILENAME",
    0x00000300: "DISK_IO",  # DISK_FILE_IO | DISK_IO
    0x00000400: "DISK_IO_INIT",
    0x00001000: "ALL_FAULTS",
    0x00002000: "HARD_FAULTS",
    0x00008000: "VAMAP",
    0x00010000: "NETWORK",
    0x00020000: "REGISTRY",
    0x00040000: "DBGPRINT",
    0x00080000: "JOB",
    0x00100000: "ALPC",
    0x00200000: "SPLIT_IO",
    0x00400000: "DEBUG_EVENTS",
    0x02000000: "FILE_IO",
    0x04000000: "FILE_IO_INIT",
    0x10000000: "NO_SYSCONFIG",
    # Masks[1]
    0x20000001: "MEMORY",
    0x20000002: "PROFILE",
    0x20000004: "CONTEXT_SWITCH",
    0x20000008: "FOOTPRINT",
    0x20000010: "DRIVERS",
    0x20000020: "REFSET",
    0x20000040: "POOL",
    0x20000041: "POOLTRACE",  # MEMORY | POOL
    0x20000080: "DPC",
    0x20000100: "COMPACT_CSWITCH",
    0x20000200: "DISPATCHER",
    0x20000400: "PMC_PROFILE",
    0x20000402: "PROFILING",  # PROFILE | PMC_PROFILE
    0x20000800: "PROCESS_INSWAP",
    0x20001000: "AFFINITY",
    0x20002000: "PRIORITY",
    0x20004000: "INTERRUPT",
    0x20008000: "VIRTUAL_ALLOC",
    0x20010000: "SPINLOCK",
    0x20020000: "SYNC_OBJECTS",
    0x20040000: "DPC_QUEUE",
    0x20080000: "MEMINFO",
    0x20100000: "CONTMEM_GEN",
    0x20200000: "SPINLOCK_CNTRS",
    0x20210000: "SPININSTR",  # SPINLOCK | SPINLOCK_CNTRS
    0x20400000: "SESSION",  # alias PFSECTION
    0x20800000: "MEMINFO_WS",
    0x21000000: "KERNEL_QUEUE",
    0x22000000: "INTERRUPT_STEER",
    0x24000000: "SHOULD_YIELD",
    0x28000000: "WS",
    # Masks[2]
    0x40000001: "ANTI_STARVATION",
    0x40000002: "PROCESS_FREEZE",
    0x40000004: "PFN_LIST",
    0x40000008: "WS_DETAIL",
    0x40000010: "WS_ENTRY",
    0x40000020: "HEAP",
    0x40000040: "SYSCALL",
    0x40000080: "UMS",
    0x40000100: "BACKTRACE",
    0x40000200: "VULCAN",
    0x40000400: "OBJECTS",
    0x40000800: "EVENTS",
    0x40001000: "FULLTRACE",
    0x40002000: "DFSS",
    0x40004000: "PREFETCH",
    0x40008000: "PROCESSOR_IDLE",
    0x40010000: "CPU_CONFIG",
    0x40020000: "TIMER",
    0x40040000: "CLOCK_INTERRUPT",
    0x40080000: "LOAD_BALANCER",
    0x40100000: "CLOCK_TIMER",
    0x40200000: "IDLE_SELECTION",
    0x40400000: "IPI",
    0x40800000: "IO_TIMER",
    0x41000000: "REG_HIVE",
    0x42000000: "REG_NOTIF",
    0x44000000: "PPM_EXIT_LATENCY",
    0x48000000: "WORKER_THREAD",
    # Masks[3]: reserved, nothing defined.
    # Masks[4]
    0x80000001: "OPTICAL_IO",
    0x80000002: "OPTICAL_IO_INIT",
    0x80000008: "DLL_INFO",
    0x80000010: "DLL_FLUSH_WS",
    0x80000040: "OB_HANDLE",
    0x80000080: "OB_OBJECT",
    0x80000200: "WAKE_DROP",
    0x80000400: "WAKE_EVENT",
    0x80000800: "DEBUGGER",
    0x80001000: "PROC_ATTACH",
    0x80002000: "WAKE_COUNTER",
    0x80008000: "POWER",
    0x80010000: "SOFT_TRIM",
    0x80020000: "CC",
    0x80080000: "FLT_IO_INIT",
    0x80100000: "FLT_IO",
    0x80200000: "FLT_FASTIO",
    0x80400000: "FLT_IO_FAILURE",
    0x80800000: "HV_PROFILE",
    0x81000000: "WDF_DPC",
    0x82000000: "WDF_INTERRUPT",
    0x84000000: "CACHE_FLUSH",
    # Masks[5]
    0xA0000001: "HIBER_RUNDOWN",
    0xA0000040: "PHYSICAL_MEMORY",
    # Masks[6]
    0xC0000001: "SYSCFG_SYSTEM",
    0xC0000002: "SYSCFG_GRAPHICS",
    0xC0000004: "SYSCFG_STORAGE",
    0xC0000008: "SYSCFG_NETWORK",
    0xC0000010: "SYSCFG_SERVICES",
    0xC0000020: "SYSCFG_PNP",
    0xC0000040: "SYSCFG_OPTICAL",
    0xDFFFFFFF: "SYSCFG_ALL",
    # Masks[7]: control flags that change system behaviour while tracing.
    0xE0000001: "CLUSTER_OFF",  # alias MARK_WITH_FLUSH
    0xE0000002: "MEMORY_CONTROL",
}
"""Every ``PERF_*`` group mask the public headers define, value -> name without ``PERF_``."""

GROUP_MASK_ALIASES: dict[int, tuple[str, ...]] = {
    0x20400000: ("PFSECTION",),  # the header reuses the scarce SESSION bit for PFSECTION events
    0xE0000001: ("MARK_WITH_FLUSH",),  # newer phnt name; CLUSTER_OFF is the WDK 1511 one
}
"""Second names for values already in ``GROUP_MASKS`` (which keeps the WDK 1511 spelling)."""

# --------------------------------------------------------------------------------------------------
# EVENT_TRACE_GROUP_* (the high byte of a hook id).
# --------------------------------------------------------------------------------------------------

EVENT_GROUPS: dict[int, str] = {
    0x0000: "HEADER",
    0x0100: "IO",
    0x0200: "MEMORY",
    0x0300: "PROCESS",
    0x0400: "FILE",
    0x0500: "THREAD",
    0x0600: "TCPIP",
    0x0700: "JOB",
    0x0800: "UDPIP",
    0x0900: "REGISTRY",
    0x0A00: "DBGPRINT",
    0x0B00: "CONFIG",
    0x0C00: "SPARE1",
    0x0D00: "WNF",
    0x0E00: "POOL",
    0x0F00: "PERFINFO",
    0x1000: "HEAP",
    0x1100: "OBJECT",
    0x1200: "POWER",
    0x1300: "MODBOUND",
    0x1400: "IMAGE",
    0x1500: "DPC",
    0x1600: "CC",
    0x1700: "CRITSEC",
    0x1800: "STACKWALK",
    0x1900: "UMS",
    0x1A00: "ALPC",
    0x1B00: "SPLITIO",
    0x1C00: "THREAD_POOL",
    0x1D00: "HYPERVISOR",
    0x1E00: "HYPERVISORX",
}
"""Every ``EVENT_TRACE_GROUP_*``, value -> name without the prefix."""

# --------------------------------------------------------------------------------------------------
# PERFINFO_LOG_TYPE_* / WMI_LOG_TYPE_* hook ids (value -> name without the prefix).
# The two prefixes never name the same value, so no tie-break is needed between them; the one
# duplicate spelling in the header (PERFINFO_LOT_TYPE_THREAD_SET_BASE_PRIORITY, a typo carrying
# neither prefix) is ignored.
# --------------------------------------------------------------------------------------------------

HOOK_IDS: dict[int, str] = {
    # HEADER (WMI_LOG_TYPE_)
    0x0000: "HEADER",
    0x0005: "HEADER_EXTENSION",
    0x0008: "RUNDOWN_COMPLETE",
    0x0020: "GROUP_MASKS_END",
    0x0030: "RUNDOWN_BEGIN",
    0x0031: "RUNDOWN_END",
    0x0040: "DBGID_RSDS",
    0x0041: "DBGID_NB10",
    0x0042: "BUILD_LAB",
    0x0043: "BINARY_PATH",
    # IO
    0x010A: "IO_READ",
    0x010B: "IO_WRITE",
    0x010C: "IO_READ_INIT",
    0x010D: "IO_WRITE_INIT",
    0x010E: "IO_FLUSH",
    0x010F: "IO_FLUSH_INIT",
    0x0110: "IO_REDIRECTED_INIT",
    0x0120: "DRIVER_INIT",
    0x0121: "DRIVER_INIT_COMPLETE",
    0x0122: "DRIVER_MAJORFUNCTION_CALL",
    0x0123: "DRIVER_MAJORFUNCTION_RETURN",
    0x0124: "DRIVER_COMPLETIONROUTINE_CALL",
    0x0125: "DRIVER_COMPLETIONROUTINE_RETURN",
    0x0126: "DRIVER_ADD_DEVICE_CALL",
    0x0127: "DRIVER_ADD_DEVICE_RETURN",
    0x0128: "DRIVER_STARTIO_CALL",
    0x0129: "DRIVER_STARTIO_RETURN",
    0x0130: "PREFETCH_ACTION",
    0x0131: "PREFETCH_REQUEST",
    0x0132: "PREFETCH_READLIST",
    0x0133: "PREFETCH_READ",
    0x0134: "DRIVER_COMPLETE_REQUEST",
    0x0135: "DRIVER_COMPLETE_REQUEST_RETURN",
    0x0136: "BOOT_PREFETCH_INFORMATION",
    0x0137: "OPTICAL_IO_READ",
    0x0138: "OPTICAL_IO_WRITE",
    0x0139: "OPTICAL_IO_FLUSH",
    0x013A: "OPTICAL_IO_READ_INIT",
    0x013B: "OPTICAL_IO_WRITE_INIT",
    0x013C: "OPTICAL_IO_FLUSH_INIT",
    # MEMORY
    0x020A: "PAGE_FAULT_TRANSITION",
    0x020B: "PAGE_FAULT_DEMAND_ZERO",
    0x020C: "PAGE_FAULT_COPY_ON_WRITE",
    0x020D: "PAGE_FAULT_GUARD_PAGE",
    0x020E: "PAGE_FAULT_HARD_PAGE_FAULT",
    0x020F: "PAGE_FAULT_ACCESS_VIOLATION",
    0x0220: "HARDFAULT",
    0x0221: "REMOVEPAGEBYCOLOR",
    0x0222: "REMOVEPAGEFROMLIST",
    0x0223: "PAGEINMEMORY",
    0x0224: "INSERTINFREELIST",
    0x0225: "INSERTINMODIFIEDLIST",
    0x0226: "INSERTINLIST",
    0x0228: "INSERTATFRONT",
    0x0229: "UNLINKFROMSTANDBY",
    0x022A: "UNLINKFFREEORZERO",
    0x022B: "WORKINGSETMANAGER",
    0x022C: "TRIMPROCESS",
    0x022E: "ZEROSHARECOUNT",
    0x023C: "WSINFOPROCESS",
    0x0245: "FAULTADDR_WITH_IP",
    0x0246: "TRIMSESSION",
    0x0247: "MEMORYSNAPLITE",
    0x0248: "PFMAPPED_SECTION_RUNDOWN",
    0x0249: "PFMAPPED_SECTION_CREATE",
    0x024A: "WSINFOSESSION",
    0x024B: "CREATE_SESSION",
    0x024C: "SESSION_RUNDOWN_DC_END",
    0x024D: "SESSION_RUNDOWN_DC_START",
    0x024E: "SESSION_DELETE",
    0x024F: "PFMAPPED_SECTION_DELETE",
    0x0262: "VIRTUAL_ALLOC",
    0x0263: "VIRTUAL_FREE",
    0x0264: "HEAP_RANGE_RUNDOWN",
    0x0265: "HEAP_RANGE_CREATE",
    0x0266: "HEAP_RANGE_RESERVE",
    0x0267: "HEAP_RANGE_RELEASE",
    0x0268: "HEAP_RANGE_DESTROY",
    0x0269: "PAGEFILE_BACK",
    0x0270: "MEMINFO",
    0x0271: "CONTMEM_GENERATE",
    0x0272: "FILE_STORE_FAULT",
    0x0273: "INMEMORY_STORE_FAULT",
    0x0274: "COMPRESSED_PAGE",
    0x0275: "PAGEINMEMORY_ACTIVE",
    0x0276: "PAGE_ACCESS",
    0x0277: "PAGE_RELEASE",
    0x0278: "PAGE_RANGE_ACCESS",
    0x0279: "PAGE_RANGE_RELEASE",
    0x027A: "PAGE_COMBINE",
    0x027B: "KERNEL_MEMUSAGE",
    0x027C: "MM_STATS",
    0x027D: "MEMINFOEX_WS",
    0x027E: "MEMINFOEX_SESSIONWS",
    0x027F: "VIRTUAL_ROTATE",
    0x0280: "VIRTUAL_ALLOC_DC_START",
    0x0281: "VIRTUAL_ALLOC_DC_END",
    0x0282: "PAGE_ACCESS_EX",
    0x0283: "REMOVEFROMWS",
    0x0284: "WSSHAREABLE_RUNDOWN",
    0x0285: "INMEMORYACTIVE_RUNDOWN",
    0x0286: "MEM_RESET_INFO",
    0x0287: "PFMAPPED_SECTION_OBJECT_CREATE",
    0x0288: "PFMAPPED_SECTION_OBJECT_DELETE",
    # PROCESS
    0x0301: "PROCESS_CREATE",
    0x0302: "PROCESS_DELETE",
    0x0303: "PROCESS_DC_START",
    0x0304: "PROCESS_DC_END",
    0x030A: "PROCESS_LOAD_IMAGE",
    0x030B: "PROCESS_TERMINATE",
    0x0320: "PROCESS_PERFCTR_END",
    0x0321: "PROCESS_PERFCTR_RD",
    0x0323: "INSWAPPROCESS",
    0x0324: "PROCESS_FREEZE",
    0x0325: "PROCESS_THAW",
    0x0326: "BOOT_PHASE_START",
    0x0327: "ZOMBIE_PROCESS",
    0x0328: "PROCESS_SET_AFFINITY",
    0x0330: "CHARGE_WAKE_COUNTER_USER",
    0x0331: "CHARGE_WAKE_COUNTER_EXECUTION",
    0x0332: "CHARGE_WAKE_COUNTER_KERNEL",
    0x0333: "CHARGE_WAKE_COUNTER_INSTRUMENTATION",
    0x0334: "CHARGE_WAKE_COUNTER_PRESERVE_PROCESS",
    0x0340: "RELEASE_WAKE_COUNTER_USER",
    0x0341: "RELEASE_WAKE_COUNTER_EXECUTION",
    0x0342: "RELEASE_WAKE_COUNTER_KERNEL",
    0x0343: "RELEASE_WAKE_COUNTER_INSTRUMENTATION",
    0x0344: "RELEASE_WAKE_COUNTER_PRESERVE_PROCESS",
    0x0350: "WAKE_DROP_USER",
    0x0351: "WAKE_DROP_EXECUTION",
    0x0352: "WAKE_DROP_KERNEL",
    0x0353: "WAKE_DROP_INSTRUMENTATION",
    0x0354: "WAKE_DROP_PRESERVE_PROCESS",
    0x0360: "WAKE_EVENT_USER",
    0x0361: "WAKE_EVENT_EXECUTION",
    0x0362: "WAKE_EVENT_KERNEL",
    0x0363: "WAKE_EVENT_INSTRUMENTATION",
    0x0364: "WAKE_EVENT_PRESERVE_PROCESS",
    0x0370: "DEBUG_EVENT",
    # FILE
    0x0400: "FILENAME",
    0x0420: "FILENAME_CREATE",
    0x0421: "FILENAME_SAME",
    0x0422: "FILENAME_NULL",
    0x0423: "FILENAME_DELETE",
    0x0424: "FILENAME_RUNDOWN",
    0x0425: "MAPFILE",
    0x0426: "UNMAPFILE",
    0x0427: "MAPFILE_DC_START",
    0x0428: "MAPFILE_DC_END",
    0x0440: "FILE_IO_CREATE",
    0x0441: "FILE_IO_CLEANUP",
    0x0442: "FILE_IO_CLOSE",
    0x0443: "FILE_IO_READ",
    0x0444: "FILE_IO_WRITE",
    0x0445: "FILE_IO_SET_INFORMATION",
    0x0446: "FILE_IO_DELETE",
    0x0447: "FILE_IO_RENAME",
    0x0448: "FILE_IO_DIRENUM",
    0x0449: "FILE_IO_FLUSH",
    0x044A: "FILE_IO_QUERY_INFORMATION",
    0x044B: "FILE_IO_FS_CONTROL",
    0x044C: "FILE_IO_OPERATION_END",
    0x044D: "FILE_IO_DIRNOTIFY",
    0x044E: "FILE_IO_CREATE_NEW",
    0x044F: "FILE_IO_DELETE_PATH",
    0x0450: "FILE_IO_RENAME_PATH",
    0x0451: "FILE_IO_SETLINK_PATH",
    0x0452: "FILE_IO_SETLINK",
    0x0460: "FLT_PREOP_INIT",
    0x0461: "FLT_POSTOP_INIT",
    0x0462: "FLT_PREOP_COMPLETION",
    0x0463: "FLT_POSTOP_COMPLETION",
    0x0464: "FLT_PREOP_FAILURE",
    0x0465: "FLT_POSTOP_FAILURE",
    # THREAD
    0x0501: "THREAD_CREATE",
    0x0502: "THREAD_DELETE",
    0x0503: "THREAD_DC_START",
    0x0504: "THREAD_DC_END",
    0x0524: "CONTEXTSWAP",
    0x0525: "CONTEXTSWAP_BATCH",
    0x0529: "SPINLOCK",
    0x052A: "QUEUE",
    0x052B: "RESOURCE",
    0x052C: "PUSHLOCK",
    0x052D: "WAIT_SINGLE",
    0x052E: "WAIT_MULTIPLE",
    0x052F: "DELAY_EXECUTION",
    0x0530: "THREAD_SET_PRIORITY",
    0x0531: "THREAD_SET_BASE_PRIORITY",
    0x0532: "READY_THREAD",
    0x0533: "THREAD_SET_PAGE_PRIORITY",
    0x0534: "THREAD_SET_IO_PRIORITY",
    0x0535: "THREAD_SET_AFFINITY",
    0x0539: "WORKER_THREAD_ITEM",
    0x053A: "DFSS_START_NEW_INTERVAL",
    0x053B: "DFSS_PROCESS_IDLE_ONLY_QUEUE",
    0x053C: "ANTI_STARVATION_BOOST",
    0x053D: "THREAD_MIGRATION",
    0x053E: "KQUEUE_ENQUEUE",
    0x053F: "KQUEUE_DEQUEUE",
    0x0540: "WORKER_THREAD_ITEM_START",
    0x0541: "WORKER_THREAD_ITEM_END",
    0x0542: "AUTO_BOOST_SET_FLOOR",
    0x0543: "AUTO_BOOST_CLEAR_FLOOR",
    0x0544: "AUTO_BOOST_NO_ENTRIES",
    0x0545: "THREAD_SUBPROCESSTAG_CHANGED",
    # No public header names THREAD types above 0x45; the kernel MOF calls type 0x48 "SetName".
    # TCPIP
    0x060A: "TCPIP_SEND",
    0x060B: "TCPIP_RECEIVE",
    0x060C: "TCPIP_CONNECT",
    0x060D: "TCPIP_DISCONNECT",
    0x060E: "TCPIP_RETRANSMIT",
    0x060F: "TCPIP_ACCEPT",
    0x0610: "TCPIP_RECONNECT",
    0x0611: "TCPIP_FAIL",
    0x0612: "TCPIP_TCPCOPY",
    0x0613: "TCPIP_ARPCOPY",
    0x0614: "TCPIP_FULLACK",
    0x0615: "TCPIP_PARTACK",
    0x0616: "TCPIP_DUPACK",
    0x061A: "TCPIP_SEND_IPV6",
    0x061B: "TCPIP_RECEIVE_IPV6",
    0x061C: "TCPIP_CONNECT_IPV6",
    0x061D: "TCPIP_DISCONNECT_IPV6",
    0x061E: "TCPIP_RETRANSMIT_IPV6",
    0x061F: "TCPIP_ACCEPT_IPV6",
    0x0620: "TCPIP_RECONNECT_IPV6",
    0x0621: "TCPIP_FAIL_IPV6",
    0x0622: "TCPIP_TCPCOPY_IPV6",
    0x0623: "TCPIP_ARPCOPY_IPV6",
    0x0624: "TCPIP_FULLACK_IPV6",
    0x0625: "TCPIP_PARTACK_IPV6",
    0x0626: "TCPIP_DUPACK_IPV6",
    # JOB
    0x0720: "JOB_CREATE",
    0x0721: "JOB_TERMINATE",
    0x0722: "JOB_OPEN",
    0x0723: "JOB_ASSIGN_PROCESS",
    0x0724: "JOB_REMOVE_PROCESS",
    0x0725: "JOB_SET",
    0x0726: "JOB_QUERY",
    0x0727: "JOB_SET_FAILED",
    0x0728: "JOB_QUERY_FAILED",
    0x0729: "JOB_SET_NOTIFICATION",
    0x072A: "JOB_SEND_NOTIFICATION",
    0x072B: "JOB_QUERY_VIOLATION",
    0x072C: "JOB_SET_CPU_RATE",
    0x072D: "JOB_SET_NET_RATE",
    # UDPIP
    0x080A: "UDP_SEND",
    0x080B: "UDP_RECEIVE",
    0x0811: "UDP_FAIL",
    0x081A: "UDP_SEND_IPV6",
    0x081B: "UDP_RECEIVE_IPV6",
    # REGISTRY
    0x0918: "REG_RUNDOWNBEGIN",
    0x0919: "REG_RUNDOWNEND",
    0x0920: "CMCELLREFERRED",
    0x0921: "REG_SET_VALUE",
    0x0922: "REG_COUNTERS",
    0x0923: "REG_CONFIG",
    0x0924: "REG_HIVE_INITIALIZE",
    0x0925: "REG_HIVE_DESTROY",
    0x0926: "REG_HIVE_LINK",
    0x0927: "REG_HIVE_RUNDOWN_DC_END",
    0x0928: "REG_HIVE_DIRTY",
    0x0930: "REG_NOTIF_REGISTER",
    0x0931: "REG_NOTIF_DELIVER",
    # DBGPRINT
    0x0A20: "DEBUG_PRINT",
    # CONFIG (WMI_LOG_TYPE_)
    0x0B0A: "CONFIG_CPU",
    0x0B0B: "CONFIG_PHYSICALDISK",
    0x0B0C: "CONFIG_LOGICALDISK",
    0x0B0D: "CONFIG_NIC",
    0x0B0E: "CONFIG_VIDEO",
    0x0B0F: "CONFIG_SERVICES",
    0x0B10: "CONFIG_POWER",
    0x0B12: "CONFIG_OPTICALMEDIA",
    0x0B15: "CONFIG_IRQ",
    0x0B16: "CONFIG_PNP",
    0x0B17: "CONFIG_IDECHANNEL",
    0x0B18: "CONFIG_NUMANODE",
    0x0B19: "CONFIG_PLATFORM",
    0x0B1A: "CONFIG_PROCESSORGROUP",
    0x0B1B: "CONFIG_PROCESSORNUMBER",
    0x0B1C: "CONFIG_DPI",
    0x0B1D: "CONFIG_CODEINTEGRITY",
    0x0B1E: "CONFIG_MACHINEID",
    # WNF
    0x0D20: "WNF_SUBSCRIBE",
    0x0D21: "WNF_UNSUBSCRIBE",
    0x0D22: "WNF_CALLBACK",
    0x0D23: "WNF_PUBLISH",
    0x0D24: "WNF_NAME_SUB_RUNDOWN",
    # POOL
    0x0E20: "ALLOCATEPOOL",
    0x0E21: "ALLOCATEPOOL_SESSION",
    0x0E22: "FREEPOOL",
    0x0E23: "FREEPOOL_SESSION",
    0x0E24: "ADDPOOLPAGE",
    0x0E25: "ADDPOOLPAGE_SESSION",
    0x0E26: "BIGPOOLPAGE",
    0x0E27: "BIGPOOLPAGE_SESSION",
    0x0E28: "POOLSNAP_DC_START",
    0x0E29: "POOLSNAP_DC_END",
    0x0E2A: "BIGPOOLSNAP_DC_START",
    0x0E2B: "BIGPOOLSNAP_DC_END",
    0x0E2C: "POOLSNAP_SESSION_DC_START",
    0x0E2D: "POOLSNAP_SESSION_DC_END",
    0x0E2E: "SESSIONBIGPOOLSNAP_DC_START",
    0x0E2F: "SESSIONBIGPOOLSNAP_DC_END",
    # PERFINFO
    0x0F20: "RUNDOWN_CHECKPOINT",
    0x0F22: "MARK",
    0x0F24: "ASYNCMARK",
    0x0F26: "IMAGENAME",
    0x0F27: "DELAYS_CC_CAN_I_WRITE",
    0x0F2E: "SAMPLED_PROFILE",
    0x0F2F: "PMC_INTERRUPT",
    0x0F30: "PMC_CONFIG",
    0x0F32: "MSI_INTERRUPT",
    0x0F33: "SYSCALL_ENTER",
    0x0F34: "SYSCALL_EXIT",
    0x0F35: "BACKTRACE",
    0x0F36: "BACKTRACE_USERSTACK",
    0x0F37: "SAMPLED_PROFILE_CACHE",
    0x0F38: "EXCEPTION_STACK",
    0x0F39: "BRANCH_TRACE",
    0x0F3A: "DEBUGGER_ENABLED",
    0x0F3B: "DEBUGGER_EXIT",
    0x0F40: "BRANCH_TRACE_DEBUG",
    0x0F41: "BRANCH_ADDRESS_DEBUG",
    0x0F42: "THREADED_DPC",
    0x0F43: "INTERRUPT",
    0x0F44: "DPC",
    0x0F45: "TIMERDPC",
    0x0F46: "IOTIMER_EXPIRATION",
    0x0F47: "SAMPLED_PROFILE_NMI",
    0x0F48: "SAMPLED_PROFILE_SET_INTERVAL",
    0x0F49: "SAMPLED_PROFILE_DC_START",
    0x0F4A: "SAMPLED_PROFILE_DC_END",
    0x0F4B: "SPINLOCK_DC_START",
    0x0F4C: "SPINLOCK_DC_END",
    0x0F4D: "ERESOURCE_DC_START",
    0x0F4E: "ERESOURCE_DC_END",
    0x0F4F: "CLOCK_INTERRUPT",
    0x0F50: "TIMER_EXPIRATION_START",
    0x0F51: "TIMER_EXPIRATION",
    0x0F52: "TIMER_SET_PERIODIC",
    0x0F53: "TIMER_SET_ONE_SHOT",
    0x0F54: "TIMER_SET_THREAD",
    0x0F55: "TIMER_CANCEL",
    0x0F56: "TIME_ADJUSTMENT",
    0x0F57: "CLOCK_MODE_SWITCH",
    0x0F58: "CLOCK_TIME_UPDATE",
    0x0F59: "CLOCK_DYNAMIC_TICK_VETO",
    0x0F5A: "CLOCK_CONFIGURATION",
    0x0F5B: "IPI",
    0x0F5C: "UNEXPECTED_INTERRUPT",
    0x0F5D: "IOTIMER_START",
    0x0F5E: "IOTIMER_STOP",
    0x0F5F: "PASSIVE_INTERRUPT",
    0x0F60: "WDF_INTERRUPT",
    0x0F61: "WDF_PASSIVE_INTERRUPT",
    0x0F62: "WDF_DPC",
    0x0F63: "CPU_CACHE_FLUSH",
    0x0F64: "DPC_ENQUEUE",
    0x0F65: "DPC_EXECUTION",
    0x0F66: "INTERRUPT_STEERING",
    0x0F67: "WDF_WORK_ITEM",
    0x0F68: "KTIMER2_SET",
    0x0F69: "KTIMER2_EXPIRATION",
    0x0F6A: "KTIMER2_CANCEL",
    0x0F6B: "KTIMER2_DISABLE",
    0x0F6C: "KTIMER2_FINALIZATION",
    0x0F6D: "SHOULD_YIELD_PROCESSOR",
    0x0F80: "FUNCTION_CALL",
    0x0F81: "FUNCTION_RETURN",
    0x0F82: "FUNCTION_ENTER",
    0x0F83: "FUNCTION_EXIT",
    0x0F84: "TAILCALL",
    0x0F85: "TRAP",
    0x0F86: "SPINLOCK_ACQUIRE",
    0x0F87: "SPINLOCK_RELEASE",
    0x0F88: "CAP_COMMENT",
    0x0F89: "CAP_RUNDOWN",
    # HEAP
    0x1020: "HEAP_CREATE",
    0x1021: "HEAP_ALLOC",
    0x1022: "HEAP_REALLOC",
    0x1023: "HEAP_DESTROY",
    0x1024: "HEAP_FREE",
    0x1025: "HEAP_EXTEND",
    0x1026: "HEAP_SNAPSHOT",
    0x1027: "HEAP_CREATE_SNAPSHOT",
    0x1028: "HEAP_DESTROY_SNAPSHOT",
    0x1029: "HEAP_EXTEND_SNAPSHOT",
    0x102A: "HEAP_CONTRACT",
    0x102B: "HEAP_LOCK",
    0x102C: "HEAP_UNLOCK",
    0x102D: "HEAP_VALIDATE",
    0x102E: "HEAP_WALK",
    0x102F: "HEAP_SUBSEGMENT_ALLOC",
    0x1030: "HEAP_SUBSEGMENT_FREE",
    0x1031: "HEAP_SUBSEGMENT_ALLOC_CACHE",
    0x1032: "HEAP_SUBSEGMENT_FREE_CACHE",
    0x1033: "HEAP_COMMIT",
    0x1034: "HEAP_DECOMMIT",
    0x1035: "HEAP_SUBSEGMENT_INIT",
    0x1036: "HEAP_AFFINITY_ENABLE",
    0x1038: "HEAP_SUBSEGMENT_ACTIVATED",
    0x1039: "HEAP_AFFINITY_ASSIGN",
    0x103A: "HEAP_REUSE_THRESHOLD_ACTIVATED",
    # OBJECT
    0x1120: "CREATE_HANDLE",
    0x1121: "CLOSE_HANDLE",
    0x1122: "DUPLICATE_HANDLE",
    0x1124: "OBJECT_TYPE_DC_START",
    0x1125: "OBJECT_TYPE_DC_END",
    0x1126: "OBJECT_HANDLE_DC_START",
    0x1127: "OBJECT_HANDLE_DC_END",
    0x1130: "CREATE_OBJECT",
    0x1131: "DELETE_OBJECT",
    0x1132: "REFERENCE_OBJECT",
    0x1133: "DEREFERENCE_OBJECT",
    # POWER
    0x1220: "BATTERY_LIFE_INFO",
    0x1221: "IDLE_STATE_CHANGE",
    0x1222: "SET_POWER_ACTION",
    0x1223: "SET_POWER_ACTION_RET",
    0x1224: "SET_DEVICES_STATE",
    0x1225: "SET_DEVICES_STATE_RET",
    0x1226: "PO_NOTIFY_DEVICE",
    0x1227: "PO_NOTIFY_DEVICE_COMPLETE",
    0x1228: "PO_SESSION_CALLOUT",
    0x1229: "PO_SESSION_CALLOUT_RET",
    0x1230: "PO_PRESLEEP",
    0x1231: "PO_POSTSLEEP",
    0x1232: "PO_CALIBRATED_PERFCOUNTER",
    0x1233: "PPM_PERF_STATE_CHANGE",
    0x1234: "PPM_THROTTLE_STATE_CHANGE",
    0x1235: "PPM_IDLE_STATE_CHANGE",
    0x1236: "PPM_THERMAL_CONSTRAINT",
    0x1237: "PO_SIGNAL_RESUME_UI",
    0x1238: "PO_SIGNAL_VIDEO_ON",
    0x1239: "PPM_IDLE_STATE_ENTER",
    0x123A: "PPM_IDLE_STATE_EXIT",
    0x123B: "PPM_PLATFORM_IDLE_STATE_ENTER",
    0x123C: "PPM_IDLE_EXIT_LATENCY",
    0x123D: "PPM_IDLE_PROCESSOR_SELECTION",
    0x123E: "PPM_IDLE_PLATFORM_SELECTION",
    0x123F: "PPM_COORDINATED_IDLE_ENTER",
    0x1240: "PPM_COORDINATED_IDLE_EXIT",
    # MODBOUND
    0x1318: "COWHEADER",
    0x1319: "COWBLOB",
    0x131A: "COWBLOB_CLOSED",
    0x1320: "MODULEBOUND_ENT",
    0x1321: "MODULEBOUND_JUMP",
    0x1322: "MODULEBOUND_RET",
    0x1323: "MODULEBOUND_CALL",
    0x1324: "MODULEBOUND_CALLRET",
    0x1325: "MODULEBOUND_INT2E",
    0x1326: "MODULEBOUND_INT2B",
    0x1327: "MODULEBOUND_FULLTRACE",
    # IMAGE
    0x1401: "IMAGE_LOAD",
    0x1402: "IMAGE_UNLOAD",
    0x1403: "IMAGE_DC_START",
    0x1404: "IMAGE_DC_END",
    0x1420: "IMAGE_RELOCATION",
    0x1421: "IMAGE_KERNEL_BASE",
    0x1422: "IMAGE_HYPERCALL_PAGE",
    0x1480: "LDR_LOCK_ACQUIRE_ATTEMPT",
    0x1481: "LDR_LOCK_ACQUIRE_SUCCESS",
    0x1482: "LDR_LOCK_ACQUIRE_FAIL",
    0x1483: "LDR_LOCK_ACQUIRE_WAIT",
    0x1484: "LDR_PROC_INIT_DONE",
    0x1485: "LDR_CREATE_SECTION",
    0x1486: "LDR_SECTION_CREATED",
    0x1487: "LDR_MAP_VIEW",
    0x1490: "LDR_RELOCATE_IMAGE",
    0x1491: "LDR_IMAGE_RELOCATED",
    0x1492: "LDR_HANDLE_OLD_DESCRIPTORS",
    0x1493: "LDR_OLD_DESCRIPTORS_HANDLED",
    0x1494: "LDR_HANDLE_NEW_DESCRIPTORS",
    0x1495: "LDR_NEW_DESCRIPTORS_HANDLED",
    0x1496: "LDR_DLLMAIN_EXIT",
    0x14A0: "LDR_FIND_DLL",
    0x14A1: "LDR_VIEW_MAPPED",
    0x14A2: "LDR_LOCK_RELEASE",
    0x14A3: "LDR_DLLMAIN_ENTER",
    0x14A4: "LDR_ERROR",
    0x14A5: "LDR_VIEW_MAPPING",
    0x14A6: "LDR_SNAPPING",
    0x14A7: "LDR_SNAPPED",
    0x14A8: "LDR_LOADING",
    0x14A9: "LDR_LOADED",
    0x14AA: "LDR_FOUND_KNOWN_DLL",
    0x14AB: "LDR_ABNORMAL",
    0x14AC: "LDR_PLACEHOLDER",
    0x14AD: "LDR_RDY_TO_INIT",
    0x14AE: "LDR_RDY_TO_RUN",
    0x14B0: "LDR_NEW_DLL_LOAD",
    0x14B1: "LDR_NEW_DLL_AS_DATA",
    0x14C0: "LDR_EXTERNAL_PATH",
    0x14C1: "LDR_GENERATED_PATH",
    0x14D0: "LDR_APISET_RESOLVING",
    0x14D1: "LDR_APISET_HOSTED",
    0x14D2: "LDR_APISET_UNHOSTED",
    0x14D3: "LDR_APISET_UNRESOLVED",
    0x14D4: "LDR_SEARCH_SECURITY",
    0x14D5: "LDR_SEARCH_PATH_SECURITY",
    # CC
    0x1600: "CC_WORKITEM_ENQUEUE",
    0x1601: "CC_WORKITEM_DEQUEUE",
    0x1602: "CC_WORKITEM_COMPLETE",
    0x1603: "CC_READ_AHEAD",
    0x1604: "CC_WRITE_BEHIND",
    0x1605: "CC_LAZY_WRITE_SCAN",
    0x1606: "CC_CAN_I_WRITE_FAIL",
    0x1609: "CC_FLUSH_CACHE",
    0x160A: "CC_FLUSH_SECTION",
    0x160B: "CC_READ_AHEAD_PREFETCH",
    0x160C: "CC_SCHEDULE_READ_AHEAD",
    0x160D: "CC_LOGGED_STREAM_INFO",
    0x160E: "CC_EXTRA_WRITEBEHIND_THREAD",
    # CRITSEC
    0x1720: "CRITSEC_ENTER",
    0x1721: "CRITSEC_LEAVE",
    0x1722: "CRITSEC_COLLISION",
    0x1723: "CRITSEC_INITIALIZE",
    # STACKWALK
    0x1820: "STACKWALK",
    0x1822: "STACKTRACE_CREATE",
    0x1823: "STACKTRACE_DELETE",
    0x1824: "STACKTRACE_RUNDOWN",
    0x1825: "STACKTRACE_KEY_KERNEL",
    0x1826: "STACKTRACE_KEY_USER",
    # UMS
    0x1920: "UMS_DIRECTED_SWITCH_START",
    0x1921: "UMS_DIRECTED_SWITCH_END",
    0x1922: "UMS_PARK",
    0x1923: "UMS_DISASSOCIATE",
    0x1924: "UMS_CONTEXT_SWITCH",
    # ALPC (WMI_LOG_TYPE_)
    0x1A21: "ALPC_SEND_MESSAGE",
    0x1A22: "ALPC_RECEIVE_MESSAGE",
    0x1A23: "ALPC_WAIT_FOR_REPLY",
    0x1A24: "ALPC_WAIT_FOR_NEW_MESSAGE",
    0x1A25: "ALPC_UNWAIT",
    0x1A26: "ALPC_CONNECT_REQUEST",
    0x1A27: "ALPC_CONNECT_SUCCESS",
    0x1A28: "ALPC_CONNECT_FAIL",
    0x1A29: "ALPC_CLOSE_PORT",
    # SPLITIO
    0x1B20: "SPLITIO_VOLMGR",
    # THREAD_POOL
    0x1C20: "TP_CALLBACK_ENQUEUE",
    0x1C21: "TP_CALLBACK_DEQUEUE",
    0x1C22: "TP_CALLBACK_START",
    0x1C23: "TP_CALLBACK_STOP",
    0x1C24: "TP_CALLBACK_CANCEL",
    0x1C25: "TP_POOL_CREATE",
    0x1C26: "TP_POOL_CLOSE",
    0x1C27: "TP_POOL_TH_MIN_SET",
    0x1C28: "TP_POOL_TH_MAX_SET",
    0x1C29: "TP_WORKER_NUMANODE_SWITCH",
    0x1C2A: "TP_TIMER_SET",
    0x1C2B: "TP_TIMER_CANCELLED",
    0x1C2C: "TP_TIMER_SET_NTTIMER",
    0x1C2D: "TP_TIMER_CANCEL_NTTIMER",
    0x1C2E: "TP_TIMER_EXPIRATION_BEGIN",
    0x1C2F: "TP_TIMER_EXPIRATION_END",
    0x1C30: "TP_TIMER_EXPIRATION",
}
"""Every ``PERFINFO_LOG_TYPE_*`` / ``WMI_LOG_TYPE_*`` hook id, value -> name without the prefix."""

# One name per single flag bit (index bits included), for splitting combined masks. Multi-bit
# constants such as PROFILING are matched only exactly, never used to explain part of a mask.
_SINGLE_BIT_MASKS: dict[int, str] = {
    value: name
    for value, name in GROUP_MASKS.items()
    if (value & MASK_FLAGS) and (value & MASK_FLAGS) & ((value & MASK_FLAGS) - 1) == 0
}


def mask_index(mask: int) -> int:
    """Which ULONG of ``PERFINFO_GROUPMASK`` (0..7) a group mask tests, i.e. ``PERF_GET_MASK_INDEX``.

    The value is first cut to 32 bits, as the kernel sees a ULONG (so a sign-extended immediate
    from the disassembly still gives the right index).
    """
    return (mask & _ULONG) >> MASK_INDEX_SHIFT


def mask_flags(mask: int) -> int:
    """The 29 flag bits of a group mask, i.e. ``PERF_GET_MASK_GROUP``."""
    return mask & MASK_FLAGS


def group_mask_name(mask: int) -> str:
    """Name a ``GroupMask`` argument, splitting masks that test several flags of one ULONG.

    An exact ``PERF_*`` constant gives its name. Otherwise each set flag bit that has a
    single-bit name is listed, lowest bit first, joined with ``|``; flag bits without a name are
    collected into one trailing hex term carrying the index bits too (e.g. ``POWER|0x80000004``),
    so nothing the kernel tests is dropped from the report. When no bit has a name, or no flag bit
    is set, the published fallback ``PERF_0x<mask>`` is returned. The mask is cut to 32 bits first
    because the parameter is a ULONG.
    """
    value = mask & _ULONG
    exact = GROUP_MASKS.get(value)
    if exact is not None:
        return exact
    index_bits = value & MASK_INDEX_BITS
    flags = value & MASK_FLAGS
    names: list[str] = []
    unnamed = 0
    bit = 1
    while bit <= flags:
        if flags & bit:
            name = _SINGLE_BIT_MASKS.get(index_bits | bit)
            if name is None:
                unnamed |= bit
            else:
                names.append(name)
        bit <<= 1
    if not names:
        return f"PERF_0x{value:x}"
    if unnamed:
        names.append(f"0x{index_bits | unnamed:x}")
    return "|".join(names)


def hook_group(hook_id: int) -> int:
    """The ``EVENT_TRACE_GROUP_*`` value of a hook id: its high byte, kept in place (0x0500 etc.).

    The hook id is cut to 16 bits first because the parameter is a USHORT.
    """
    return hook_id & _USHORT & _GROUP_BYTE


def hook_group_name(hook_id: int) -> str:
    """Name the event group a ``HookId`` belongs to, falling back to ``GROUP_0x<group>``.

    Useful even when the hook itself is unnamed: the group still says which kernel provider
    (Thread, PageFault, ...) the event appears under.
    """
    group = hook_group(hook_id)
    name = EVENT_GROUPS.get(group)
    return name if name is not None else f"GROUP_0x{group:x}"


def hook_name(hook_id: int) -> str:
    """Name a ``HookId`` argument, falling back to ``PERFINFO_LOG_TYPE_0x<hook_id>``.

    The hook id is cut to 16 bits first because the parameter is a USHORT.
    """
    value = hook_id & _USHORT
    name = HOOK_IDS.get(value)
    return name if name is not None else f"PERFINFO_LOG_TYPE_0x{value:x}"


# ------------------------------------------------------------------ legacy groups -> MOF categories
# Legacy hook ids
# ---------------
# A hook id is ``EVENT_TRACE_GROUP_xxx | type``; the group byte selects the MOF category (class GUID) and
# the low byte is the MOF event type. :data:`LEGACY_GROUP_CATEGORIES` maps groups to categories. The
# group -> GUID pairing is the one the ETW consumer side uses (sechost.dll, as reverse engineered and
# published in fox-it's dissect.etl ``GROUP_GUID_MAP``); each GUID is also confirmed by a second source:
#
# * Microsoft Learn "NT Kernel Logger Constants" (DiskIo, PageFault, Process, FileIo, Thread, TcpIp, UdpIp,
#   Registry, EventTraceConfig, PerfInfo, ImageLoad, ALPC, SplitIo) and the class pages (StackWalk, ObTrace);
# * ``ntwmi.h`` ``DEFINE_GUID`` (Pool, Perfinfo, Heap, CritSec, Object, ModBound, Power, Dpc, VolMgr = SplitIo);
# * other public headers/tools naming the GUID the same way (Job, ThreadPool, DbgPrint, Wnf, Cc, UMS,
#   EventTrace).
#
# The 20 groups whose category is in the reference MOF table (HEADER, IO, MEMORY, PROCESS, FILE, THREAD,
# TCPIP, UDPIP, REGISTRY, DBGPRINT, CONFIG, POOL, PERFINFO, OBJECT, POWER, IMAGE, STACKWALK, UMS, ALPC,
# SPLITIO) were also cross-checked against it: the hook names of this module match the MOF
# event-type names in the mapped category (IO_READ 0x010A ->
# DiskIo Read, PROCESS_DELETE 0x0302 -> Process End, FILENAME_CREATE 0x0420 -> FileIo FileCreate,
# CONTEXTSWAP 0x0524 -> Thread CSwitch, CONFIG_CPU 0x0B0A -> SystemConfig CPU, DEBUG_PRINT 0x0A20 ->
# DebugPrint, PPM_IDLE_EXIT_LATENCY 0x123C -> Power IdleExitLatency, ALPC_SEND_MESSAGE 0x1A21 -> ALPC
# Send-Message, SPLITIO_VOLMGR 0x1B20 -> SplitIo VolMgr, HEADER 0x0000 -> EventTrace Header, ...).
# The other 8 (JOB, WNF, HEAP, MODBOUND, DPC, CC, CRITSEC, THREAD_POOL) have no class in that table and
# rest on the two public sources alone; :meth:`api_to_etw.etw.manifest.ManifestIndex.legacy` finds nothing for them unless a MOF
# table that has them is loaded. One hook is routed outside its group: PROCESS_LOAD_IMAGE 0x030A is the Image class type 10 (``Load``), as
# sechost does (the Process class has no type 10).
#
# Left out on purpose: SPARE1 0x0C00 (dissect.etl pairs it with 99134383-..., which the MOF table shows as
# the ``LBR`` class, but no hook id exists to confirm the pairing), HYPERVISOR/HYPERVISORX (one source
# only), MMCSS (its hook ids carry no group byte) and the RT lost-event class (logged by ETW itself, not
# through a hook id).

LEGACY_GROUP_CATEGORIES: Mapping[int, tuple[str, str]] = MappingProxyType(
    {
        0x0000: ("68fdd900-4a3e-11d1-84f4-0000f80464e3", "EventTrace"),  # HEADER
        0x0100: ("3d6fa8d4-fe05-11d0-9dda-00c04fd7ba7c", "DiskIo"),  # IO
        0x0200: ("3d6fa8d3-fe05-11d0-9dda-00c04fd7ba7c", "PageFault"),  # MEMORY
        0x0300: ("3d6fa8d0-fe05-11d0-9dda-00c04fd7ba7c", "Process"),  # PROCESS
        0x0400: ("90cbdc39-4a3e-11d1-84f4-0000f80464e3", "FileIo"),  # FILE
        0x0500: ("3d6fa8d1-fe05-11d0-9dda-00c04fd7ba7c", "Thread"),  # THREAD
        0x0600: ("9a280ac0-c8e0-11d1-84e2-00c04fb998a2", "TcpIp"),  # TCPIP
        0x0700: ("3282fc76-feed-498e-8aa7-e70f459d430e", "Job"),  # JOB
        0x0800: ("bf3a50c5-a9c9-4988-a005-2df0b7c80f80", "UdpIp"),  # UDPIP
        0x0900: ("ae53722e-c863-11d2-8659-00c04fa321a1", "Registry"),  # REGISTRY
        0x0A00: ("13976d09-a327-438c-950b-7f03192815c7", "Debugger"),  # DBGPRINT (DbgPrintGuid)
        0x0B00: ("01853a65-418f-4f36-aefc-dc0f1d2fd235", "SystemConfig"),  # CONFIG (EventTraceConfigGuid)
        0x0D00: ("42695762-ea50-497a-9068-5cbbb35e0b95", "Wnf"),  # WNF
        0x0E00: ("0268a8b6-74fd-4302-9dd0-6e8f1795c0cf", "Pool"),  # POOL
        0x0F00: ("ce1dbfb4-137e-4da6-87b0-3f59aa102cbc", "PerfInfo"),  # PERFINFO
        0x1000: ("222962ab-6180-4b88-a825-346b75f2a24a", "Heap"),  # HEAP
        0x1100: ("89497f50-effe-4440-8cf2-ce6b1cdcaca7", "Object"),  # OBJECT (ObTrace)
        0x1200: ("e43445e0-0903-48c3-b878-ff0fccebdd04", "Power"),  # POWER
        0x1300: ("a9152f00-3f58-4bee-92a1-70c7d079d5dd", "ModBound"),  # MODBOUND
        0x1400: ("2cb15d1d-5fc1-11d2-abe1-00a0c911f518", "Image"),  # IMAGE (ImageLoadGuid)
        0x1500: ("b2d14872-7c5b-463d-8419-ee9bf7d23e04", "Dpc"),  # DPC
        0x1600: ("7687a439-f752-45b8-b741-321aec0f8df9", "Cc"),  # CC
        0x1700: ("3ac66736-cc59-4cff-8115-8df50e39816b", "CritSec"),  # CRITSEC
        0x1800: ("def2fe46-7bd6-4b80-bd94-f57fe20d0ce3", "StackWalk"),  # STACKWALK
        0x1900: ("9aec974b-5b8e-4118-9b92-3186d8002ce5", "UMS"),  # UMS
        0x1A00: ("45d8cccd-539f-4b72-a8b7-5c683142609a", "ALPC"),  # ALPC
        0x1B00: ("d837ca92-12b9-44a5-ad6a-3a65b3578aa8", "SplitIo"),  # SPLITIO (VolMgrGuid)
        0x1C00: ("c861d0e2-a2c1-4d36-9f9c-970bab943a12", "ThreadPool"),  # THREAD_POOL
    }
)
"""Group byte (``hook_id & 0xFF00``) -> (MOF category GUID, class name)."""

LEGACY_HOOK_CATEGORIES: Mapping[int, str] = MappingProxyType(
    {0x030A: "2cb15d1d-5fc1-11d2-abe1-00a0c911f518"}  # PROCESS_LOAD_IMAGE -> Image type 10 (Load)
)
"""Whole hook ids logged under another group's category than their own."""

CATEGORY_GROUPS: dict[str, int] = {guid: group for group, (guid, _name) in LEGACY_GROUP_CATEGORIES.items()}


def hook_category(hook_id: int) -> Optional[str]:
    """The MOF category GUID a legacy hook id is logged under, or ``None`` if its group is not mapped."""
    if not 0 <= hook_id <= 0xFFFF:
        return None
    if hook_id in LEGACY_HOOK_CATEGORIES:
        return LEGACY_HOOK_CATEGORIES[hook_id]
    entry = LEGACY_GROUP_CATEGORIES.get(hook_group(hook_id))
    return entry[0] if entry else None
