"""Read ETW instrumentation manifests and the legacy kernel MOF table, so output rows can be named.

Static analysis recovers bare numbers -- a provider GUID plus an ``EVENT_DESCRIPTOR`` (Id, Version,
Channel, Level, Opcode, Task, Keyword), or for the classic kernel logger a hook id. A report is only
useful once those numbers carry the names Windows gives them (``Microsoft-Windows-Kernel-Audit-API-Calls``
event 5 is ``task_05``; hook 0x0302 is ``Process_End``). This module loads the metadata that holds those
names and answers the joins.

Inputs
------
* **Instrumentation manifests** (``*.xml``, ``*.man``): ``<instrumentationManifest>`` with one or more
  ``<provider name guid symbol>`` elements holding ``<events>``, ``<tasks>`` (each task may carry its own
  ``<opcodes>``), ``<opcodes>``, ``<keywords>``, ``<levels>``, ``<channels>``, ``<templates>`` and a
  ``<localization>`` string table for ``$(string.X)`` messages. Element names are matched without their
  namespace or prefix, so any namespace spelling works. Events refer to tasks, opcodes, levels, keywords
  and channels by *name*; names starting ``win:`` are the standard ones from ``winmeta.xml``
  (:data:`STANDARD_LEVELS`, :data:`STANDARD_OPCODES`, :data:`STANDARD_KEYWORDS`, :data:`STANDARD_CHANNELS`).
  A missing attribute means value 0 and an empty name (version 0, opcode 0, level 0, task 0, no keyword),
  so a report can tell "not declared" from an explicit ``win:Info``.
* **Manifest TSV** (``*.tsv``, one line per event, as published next to EtwExplorer's manifests): header
  ``provider, event_id, version, event(fields), opcode, keywords, task, level, evtlog_channel,
  evtlog_message``. ``event(fields)`` is ``Symbol(Type Name, Type Name, ...)``; ``keywords`` is space
  separated; standard names appear without their ``win:`` prefix (``Informational``, ``Start``). There is
  no GUID column (one named ``guid`` or ``provider_guid`` is honoured if present), so a TSV provider is
  joined by *name*; when no ``provider`` cell is given the file name (minus ``.tsv``) is the name.
* **Legacy kernel MOF TSV** (``Windows_Kernel_Trace.mof.tsv``): header ``provider, category, event_id,
  version, event(fields), event_type, description``. ``category`` is the MOF class GUID (braced),
  ``event_id`` the event type (the opcode byte of a hook id), ``version`` the class ``EventVersion``,
  ``event(fields)`` a name built as ``<Class>_<EventTypeName>[_V<version>]`` plus typed fields,
  ``event_type`` the ``EventTypeName`` and ``description`` the class description. A TSV is told apart
  by its header, not its file name.

Merging and joins
-----------------
Every source is parsed into drafts first and only merged when all files of a :meth:`ManifestIndex.load`
call parsed, so a corrupt file leaves the index unchanged. Sources for the same provider *name* (case
insensitive) merge: the first GUID seen wins, tables merge first-definition-wins, and for one
(id, version) an XML definition replaces a TSV one (XML carries values, TSV only names). Names are then
resolved against the merged tables, so a TSV-only event still gets numeric task/opcode/keyword values
when an XML manifest for the same provider was loaded. A TSV name that is neither provider-defined nor
standard as written but is standard with ``win:`` prepended gets that prefix, so both sources spell
names alike. Names that cannot be resolved keep their text and get value ``None``.

:meth:`ManifestIndex.lookup` finds the provider by GUID; failing that by name, but only if the provider
found by name has no GUID (a TSV-only source) or the same GUID -- never a different provider that merely
shares a name. Within the provider it takes (id, version) exactly, else the same id with the nearest
lower version, else the nearest higher one; ``version=None`` means the highest version.

Symbols: the event's ``symbol`` attribute (XML) or the name in ``event(fields)`` (TSV). When an XML event
has no symbol one is built the way the published manifests and TSVs name events: the task name, plus the
opcode name if the opcode is not 0 and the task name does not already end with it, plus ``_V<version>``
for version > 0, with ``win:`` prefixes dropped (``ProcessStart`` + ``win:Start`` -> ``ProcessStart``,
version 1 -> ``ProcessStart_V1``); with no task the base is ``event_<id>``.

One opcode spelling in reconstructed manifests is not in ``winmeta.xml``: ``win:<Std>_<task>_<opcode>``
(``win:Stop_8_2`` in Microsoft-Windows-Kernel-EventTracing, task 8). It is read as the standard opcode
``<Std>`` when ``<opcode>`` equals that standard value and ``<task>`` equals the event's task value.

Legacy hook ids
---------------
A hook id is ``EVENT_TRACE_GROUP_xxx | type``; the group byte selects the MOF category (class GUID) and
the low byte is the MOF event type. :data:`LEGACY_GROUP_CATEGORIES` maps groups to categories. The
group -> GUID pairing is the one the ETW consumer side uses (sechost.dll, as reverse engineered and
published in fox-it's dissect.etl ``GROUP_GUID_MAP``); each GUID is also confirmed by a second source:

* Microsoft Learn "NT Kernel Logger Constants" (DiskIo, PageFault, Process, FileIo, Thread, TcpIp, UdpIp,
  Registry, EventTraceConfig, PerfInfo, ImageLoad, ALPC, SplitIo) and the class pages (StackWalk, ObTrace);
* ``ntwmi.h`` ``DEFINE_GUID`` (Pool, Perfinfo, Heap, CritSec, Object, ModBound, Power, Dpc, VolMgr = SplitIo);
* other public headers/tools naming the GUID the same way (Job, ThreadPool, DbgPrint, Wnf, Cc, UMS,
  EventTrace).

Groups present in the reference MOF table were also cross-checked against it: the hook names of
:mod:`api_to_etw.etw.ntwmi` match the MOF event-type names in the mapped category (IO_READ 0x010A ->
DiskIo Read, PROCESS_DELETE 0x0302 -> Process End, FILENAME_CREATE 0x0420 -> FileIo FileCreate,
CONTEXTSWAP 0x0524 -> Thread CSwitch, CONFIG_CPU 0x0B0A -> SystemConfig CPU, DEBUG_PRINT 0x0A20 ->
DebugPrint, PPM_IDLE_EXIT_LATENCY 0x123C -> Power IdleExitLatency, ALPC_SEND_MESSAGE 0x1A21 -> ALPC
Send-Message, SPLITIO_VOLMGR 0x1B20 -> SplitIo VolMgr, HEADER 0x0000 -> EventTrace Header, ...).
One hook is routed outside its group: PROCESS_LOAD_IMAGE 0x030A is the Image class type 10 (``Load``), as
sechost does (the Process class has no type 10).

Left out on purpose: SPARE1 0x0C00 (dissect.etl pairs it with 99134383-..., which the MOF table shows as
the ``LBR`` class, but no hook id exists to confirm the pairing), HYPERVISOR/HYPERVISORX (one source
only), MMCSS (its hook ids carry no group byte) and the RT lost-event class (logged by ETW itself, not
through a hook id).

XML safety
----------
Manifests may come from untrusted places. Documents containing ``<!DOCTYPE`` or ``<!ENTITY`` anywhere
(even in a comment) are refused before parsing, and the expat parser additionally refuses DTDs, entity
declarations and external entities if one slipped through, so no entity expansion or external fetch can
happen. Malformed input raises :class:`CorruptMetadataError` as ``path:line: what`` on one line; an
unreadable file raises :class:`InputNotFoundError`.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Optional, TypeVar
from xml.etree import ElementTree as ET
from xml.parsers import expat

from api_to_etw.errors import CorruptMetadataError, InputNotFoundError

__all__ = [
    "LEGACY_GROUP_CATEGORIES",
    "LEGACY_HOOK_CATEGORIES",
    "STANDARD_CHANNELS",
    "STANDARD_KEYWORDS",
    "STANDARD_LEVELS",
    "STANDARD_OPCODES",
    "STANDARD_TASKS",
    "IndexCounts",
    "ManifestEvent",
    "ManifestIndex",
    "ManifestProvider",
    "MofEvent",
    "hook_category",
    "normalize_guid",
]

# --------------------------------------------------------------------------------------------------
# Standard names (winmeta.xml)
# --------------------------------------------------------------------------------------------------

STANDARD_LEVELS: Mapping[str, int] = MappingProxyType(
    {
        "win:LogAlways": 0,
        "win:Always": 0,  # the spelling manifest reconstructions (PerfView/EtwExplorer) use for level 0
        "win:Critical": 1,
        "win:Error": 2,
        "win:Warning": 3,
        "win:Informational": 4,
        "win:Verbose": 5,
    }
)
"""``winmeta.xml`` levels."""

STANDARD_OPCODES: Mapping[str, int] = MappingProxyType(
    {
        "win:Info": 0,
        "win:Start": 1,
        "win:Stop": 2,
        "win:DC_Start": 3,
        "win:DC_Stop": 4,
        "win:Extension": 5,
        "win:Reply": 6,
        "win:Resume": 7,
        "win:Suspend": 8,
        "win:Send": 9,
        "win:Receive": 240,
    }
)
"""``winmeta.xml`` opcodes."""

STANDARD_KEYWORDS: Mapping[str, int] = MappingProxyType(
    {
        "win:AnyKeyword": 0,
        "win:ResponseTime": 0x0001000000000000,
        "win:WDIContext": 0x0002000000000000,
        "win:WDIDiag": 0x0004000000000000,
        "win:SQM": 0x0008000000000000,
        "win:AuditFailure": 0x0010000000000000,
        "win:AuditSuccess": 0x0020000000000000,
        "win:CorrelationHint": 0x0040000000000000,
        "win:EventlogClassic": 0x0080000000000000,
        "win:EventLogClassic": 0x0080000000000000,
    }
)
"""``winmeta.xml`` keywords (bits 48-55 are reserved for these)."""

STANDARD_TASKS: Mapping[str, int] = MappingProxyType({"win:None": 0})
"""``winmeta.xml`` tasks."""

STANDARD_CHANNELS: Mapping[str, int] = MappingProxyType(
    {"TraceClassic": 0, "System": 8, "Application": 9, "Security": 10, "TraceLogging": 11}
)
"""``winmeta.xml`` channels, referenced through ``<importChannel>`` (also accepted with ``win:``)."""

# --------------------------------------------------------------------------------------------------
# Legacy kernel logger: EVENT_TRACE_GROUP_* -> MOF category (class GUID). Evidence in the module docstring.
# --------------------------------------------------------------------------------------------------

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

_CATEGORY_GROUPS: dict[str, int] = {guid: group for group, (guid, _name) in LEGACY_GROUP_CATEGORIES.items()}

_XML_PRIORITY = 2
_TSV_PRIORITY = 1
_XML_SUFFIXES = (".xml", ".man")
_TSV_SUFFIXES = (".tsv",)

_MANIFEST_TSV_REQUIRED = ("event_id", "version", "event(fields)")
_MOF_TSV_REQUIRED = ("category", "event_id", "version", "event(fields)", "event_type")

