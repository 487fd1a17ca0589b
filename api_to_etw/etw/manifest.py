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
names alike. A keyword named ``keyword_<hex>`` (the reconstruction's name for a mask bit with no name)
resolves to that mask. Names that cannot be resolved keep their text and get value ``None`` (for keywords:
if any of the event's keywords is unresolved).

:meth:`ManifestIndex.lookup` finds the provider by GUID; failing that by name, but only if the provider
found by name has no GUID (a TSV-only source) or the same GUID -- never a different provider that merely
shares a name. Within the provider it takes (id, version) exactly, else the same id with the nearest
lower version, else the nearest higher one; ``version=None`` means the highest version.

Symbols: the event's ``symbol`` attribute (XML) or the name in ``event(fields)`` (TSV). When an XML event
has no symbol one is built the way the published (reconstructed) manifests name events, a rule that
reproduces all 698 symbols of the reference XML: the task name (``event_<id>`` without a task), plus the
opcode name if the opcode is not 0 and the task name does not already end with it, ``win:`` prefixes
dropped; if an event with another id (earlier in id order) already uses that base, the event id is
appended; then ``_V<version>`` for version > 0. So task ``ProcessStart`` + ``win:Start`` gives
``ProcessStart``/``ProcessStart_V1``, and events 1 and 5 of task ``task_0`` give ``task_0`` and ``task_05``.

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

The 20 groups whose category is in the reference MOF table (HEADER, IO, MEMORY, PROCESS, FILE, THREAD,
TCPIP, UDPIP, REGISTRY, DBGPRINT, CONFIG, POOL, PERFINFO, OBJECT, POWER, IMAGE, STACKWALK, UMS, ALPC,
SPLITIO) were also cross-checked against it: the hook names of :mod:`api_to_etw.etw.ntwmi` match the MOF
event-type names in the mapped category (IO_READ 0x010A ->
DiskIo Read, PROCESS_DELETE 0x0302 -> Process End, FILENAME_CREATE 0x0420 -> FileIo FileCreate,
CONTEXTSWAP 0x0524 -> Thread CSwitch, CONFIG_CPU 0x0B0A -> SystemConfig CPU, DEBUG_PRINT 0x0A20 ->
DebugPrint, PPM_IDLE_EXIT_LATENCY 0x123C -> Power IdleExitLatency, ALPC_SEND_MESSAGE 0x1A21 -> ALPC
Send-Message, SPLITIO_VOLMGR 0x1B20 -> SplitIo VolMgr, HEADER 0x0000 -> EventTrace Header, ...).
The other 8 (JOB, WNF, HEAP, MODBOUND, DPC, CC, CRITSEC, THREAD_POOL) have no class in that table and
rest on the two public sources alone; :meth:`ManifestIndex.legacy` finds nothing for them unless a MOF
table that has them is loaded. One hook is routed outside its group: PROCESS_LOAD_IMAGE 0x030A is the Image class type 10 (``Load``), as
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
from collections.abc import Callable, Iterable, Mapping
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

_REFUSED_MARKUP = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DISAMBIGUATED_OPCODE = re.compile(r"^(?:win:)?([A-Za-z_]+?)_(\d+)_(\d+)$")
_VERSION_SUFFIX = re.compile(r"_V\d+$")
_UNNAMED_KEYWORD = re.compile(r"^keyword_([0-9A-Fa-f]{1,16})$")
_INTEGER = re.compile(r"^(?:0[xX][0-9A-Fa-f]{1,16}|[0-9]{1,20})$")

T = TypeVar("T")

# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestEvent:
    """One manifest event with every reference resolved: names to label a row, values to check it against."""

    provider_name: str
    provider_guid: Optional[str]
    """Lower case, no braces; ``None`` when only a GUID-less source (TSV) describes the provider."""
    id: int
    version: int
    symbol: str
    """The source's symbol, or one built from task/opcode/version when the XML has none (module docstring)."""
    task_name: str
    opcode_name: str
    level_name: str
    keyword_names: tuple[str, ...]
    channel_name: str
    template_fields: tuple[str, ...]
    message: str
    task: Optional[int] = None
    """Resolved values; ``None`` where a name could not be resolved."""
    opcode: Optional[int] = None
    level: Optional[int] = None
    keyword: Optional[int] = None
    channel: Optional[int] = None
    template: str = ""
    """Template id (XML ``tid``); empty for TSV rows."""
    template_types: tuple[str, ...] = ()
    """In-types parallel to ``template_fields``, without ``win:`` (``UInt32``, ``UnicodeString``)."""
    source: str = ""
    """``path:line`` of the definition that won the merge."""


@dataclass(frozen=True, eq=False)
class ManifestProvider:
    """A provider's merged metadata; the tables let callers name raw descriptor values (e.g. keyword masks)."""

    name: str
    guid: Optional[str]
    symbol: str
    events: tuple[ManifestEvent, ...]
    tasks: Mapping[str, int] = field(default_factory=dict)
    opcodes: Mapping[str, int] = field(default_factory=dict)
    """Provider-wide opcodes; task-scoped ones are in ``task_opcodes``."""
    task_opcodes: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    keywords: Mapping[str, int] = field(default_factory=dict)
    levels: Mapping[str, int] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

    def keyword_names(self, mask: int) -> tuple[str, ...]:
        """Names of the provider and standard keywords whose bits are all set in ``mask``, lowest bit first."""
        found = [
            (bits, name)
            for table in (self.keywords, STANDARD_KEYWORDS)
            for name, bits in table.items()
            if bits and mask & bits == bits
        ]
        return tuple(name for _bits, name in sorted(found))

    def task_name(self, value: int) -> Optional[str]:
        """The task declared with ``value`` (first declared wins), if any."""
        for name, task in self.tasks.items():
            if task == value:
                return name
        return None


@dataclass(frozen=True)
class MofEvent:
    """One legacy "Windows Kernel Trace" event class version from the MOF table."""

    category_guid: str
    """MOF category (class) GUID, lower case, no braces."""
    group: Optional[int]
    """``EVENT_TRACE_GROUP_*`` mapped to this category, or ``None`` for categories with no group."""
    event_type: int
    class_name: str
    """The category's class name as the table spells it (``Process``, ``PageFault``)."""
    event_name: str
    """The ``EventTypeName`` (``End``, ``HardFault``)."""
    fields: tuple[str, ...]
    version: int = 0
    name: str = ""
    """``<Class>_<EventTypeName>[_V<version>]`` as published (``Process_End_V4``)."""
    field_types: tuple[str, ...] = ()
    description: str = ""
    source: str = ""


@dataclass(frozen=True)
class IndexCounts:
    """Sizes of a loaded index, for the summary line."""

    files: int
    providers: int
    providers_with_guid: int
    events: int
    mof_events: int
    mof_categories: int


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------


def normalize_guid(text: str) -> Optional[str]:
    """A GUID as the output writes it (lower case, no braces), or ``None`` if ``text`` is not a GUID."""
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    if len(text) != 36:
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def hook_category(hook_id: int) -> Optional[str]:
    """The MOF category GUID a legacy hook id is logged under, or ``None`` if its group is not mapped."""
    if not 0 <= hook_id <= 0xFFFF:
        return None
    if hook_id in LEGACY_HOOK_CATEGORIES:
        return LEGACY_HOOK_CATEGORIES[hook_id]
    entry = LEGACY_GROUP_CATEGORIES.get(hook_id & 0xFF00)
    return entry[0] if entry else None


def _pick_version(versions: Mapping[int, T], version: Optional[int]) -> Optional[T]:
    """Exact version, else nearest lower, else nearest higher; ``None`` asks for the highest."""
    if not versions:
        return None
    if version is None:
        return versions[max(versions)]
    if version in versions:
        return versions[version]
    lower = [v for v in versions if v < version]
    return versions[max(lower)] if lower else versions[min(versions)]


def _strip_win(name: str) -> str:
    return name[4:] if name.startswith("win:") else name


def _local(name: str) -> str:
    """Element/attribute name without any namespace prefix (parsing is namespace-agnostic)."""
    return name.rsplit(":", 1)[-1]


def _parse_int(text: Optional[str], what: str, where: str, limit: int) -> int:
    """Decimal or 0x-hex integer in ``0..limit``, else a one-line CorruptMetadataError naming ``where``."""
    raw = (text or "").strip()
    if not _INTEGER.match(raw):
        raise CorruptMetadataError(f"{where}: {what} is not a number: {raw[:40]!r}")
    value = int(raw, 16) if raw[:2].lower() == "0x" else int(raw, 10)
    if not 0 <= value <= limit:
        raise CorruptMetadataError(f"{where}: {what} {value} is out of range (0..{limit:#x})")
    return value


def _resolve(name: str, own: Mapping[str, int], standard: Mapping[str, int]) -> tuple[str, Optional[int]]:
    """Name -> (canonical name, value): provider table first, then standard, then standard with ``win:``."""
    if not name:
        return "", 0
    if name in own:
        return name, own[name]
    if name in standard:
        return name, standard[name]
    prefixed = "win:" + name
    if not name.startswith("win:") and prefixed in standard:
        return prefixed, standard[prefixed]
    return name, None


def _resolve_opcode(
    name: str, scoped: Mapping[str, int], own: Mapping[str, int], task: Optional[int]
) -> tuple[str, Optional[int]]:
    if name in scoped:
        return name, scoped[name]
    canonical, value = _resolve(name, own, STANDARD_OPCODES)
    if value is not None:
        return canonical, value
    match = _DISAMBIGUATED_OPCODE.match(name)
    if match:
        base, task_text, opcode_text = match.groups()
        standard = STANDARD_OPCODES.get("win:" + base)
        if standard == int(opcode_text) and (task is None or task == int(task_text)):
            return "win:" + _strip_win(name), standard
    return canonical, None


def _synthesize_symbol(task_name: str, opcode_name: str, opcode: Optional[int], event_id: int) -> str:
    """Symbol base for an event with no symbol: task name + opcode name (see the module docstring)."""
    base = _strip_win(task_name) if task_name and task_name != "win:None" else f"event_{event_id}"
    suffix = _strip_win(opcode_name)
    if suffix and opcode != 0 and not base.endswith(suffix):
        base += suffix
    return base


def _split_signature(text: str, where: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """``Name(Type Field, Type Field)`` -> (name, field names, field types)."""
    text = text.strip()
    if "(" not in text:
        if ")" in text:
            raise CorruptMetadataError(f"{where}: unbalanced parentheses in {text!r}")
        return text, (), ()
    name, _, rest = text.partition("(")
    if not rest.endswith(")"):
        raise CorruptMetadataError(f"{where}: unbalanced parentheses in event(fields) {text[:80]!r}")
    inner = rest[:-1].strip()
    if not inner:
        return name.strip(), (), ()
    names: list[str] = []
    types: list[str] = []
    for part in inner.split(","):
        type_name, _, field_name = part.strip().rpartition(" ")
        if not field_name:
            raise CorruptMetadataError(f"{where}: empty field in event(fields) of {name.strip()!r}")
        names.append(field_name)
        types.append(type_name.strip())
    return name.strip(), tuple(names), tuple(types)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise InputNotFoundError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _sniff_text(data: bytes) -> str:
    """Best-effort text for the DOCTYPE/ENTITY scan; never fails (expat does the strict decoding)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if data[:2] == b"<\x00":
        return data.decode("utf-16-le", errors="replace")
    if data[:2] == b"\x00<":
        return data.decode("utf-16-be", errors="replace")
    return data.decode("utf-8", errors="replace")


def _decode_tsv(path: str, data: bytes) -> list[str]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CorruptMetadataError(f"{path}:{line}: not UTF-8 text") from None
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


# --------------------------------------------------------------------------------------------------
# Drafts: what a source says, names unresolved, merged per provider before resolution.
# --------------------------------------------------------------------------------------------------


@dataclass
class _EventDraft:
    id: int
    version: int
    symbol: str
    task: str
    opcode: str
    level: str
    keywords: tuple[str, ...]
    channel: str
    template: str
    fields: tuple[str, ...]
    types: tuple[str, ...]
    message: str
    source: str
    priority: int


@dataclass
class _ProviderDraft:
    name: str
    guid: Optional[str]
    symbol: str = ""
    tasks: dict[str, int] = field(default_factory=dict)
    task_opcodes: dict[str, dict[str, int]] = field(default_factory=dict)
    opcodes: dict[str, int] = field(default_factory=dict)
    keywords: dict[str, int] = field(default_factory=dict)
    levels: dict[str, int] = field(default_factory=dict)
    channels: dict[str, tuple[str, Optional[int]]] = field(default_factory=dict)
    events: dict[tuple[int, int], _EventDraft] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def add_event(self, event: _EventDraft) -> None:
        key = (event.id, event.version)
        current = self.events.get(key)
        if current is None or event.priority > current.priority:
            self.events[key] = event

    def merge(self, other: _ProviderDraft) -> None:
        """Fold another source for the same provider name in: first GUID/definition wins, XML beats TSV."""
        if self.guid is None:
            self.guid = other.guid
        self.symbol = self.symbol or other.symbol
        for mine, theirs in (
            (self.tasks, other.tasks),
            (self.opcodes, other.opcodes),
            (self.keywords, other.keywords),
            (self.levels, other.levels),
            (self.channels, other.channels),
        ):
            for key, value in theirs.items():
                mine.setdefault(key, value)
        for task, table in other.task_opcodes.items():
            scoped = self.task_opcodes.setdefault(task, {})
            for key, value in table.items():
                scoped.setdefault(key, value)
        for event in other.events.values():
            self.add_event(event)
        self.sources.extend(s for s in other.sources if s not in self.sources)

    def resolve(self, event: _EventDraft, taken: dict[str, int]) -> ManifestEvent:
        """Resolve names to values; ``taken`` maps symbol bases already used to their event id."""
        task_name, task = _resolve(event.task, self.tasks, STANDARD_TASKS)
        opcode_name, opcode = (
            _resolve_opcode(event.opcode, self.task_opcodes.get(task_name, {}), self.opcodes, task)
            if event.opcode
            else ("", 0)
        )
        level_name, level = _resolve(event.level, self.levels, STANDARD_LEVELS)
        keyword_names = []
        keyword: Optional[int] = 0
        for name in event.keywords:
            canonical, bits = _resolve(name, self.keywords, STANDARD_KEYWORDS)
            unnamed = _UNNAMED_KEYWORD.match(name) if bits is None else None
            if unnamed:
                bits = int(unnamed.group(1), 16)
            keyword_names.append(canonical)
            keyword = None if bits is None or keyword is None else keyword | bits
        channel_name, channel = self._resolve_channel(event.channel)
        if event.symbol:
            symbol = event.symbol
            base = _VERSION_SUFFIX.sub("", symbol) if event.version else symbol
        else:
            base = _synthesize_symbol(task_name, opcode_name, opcode, event.id)
            if taken.get(base, event.id) != event.id:
                base += str(event.id)
            symbol = f"{base}_V{event.version}" if event.version else base
        taken.setdefault(base, event.id)
        return ManifestEvent(
            provider_name=self.name,
            provider_guid=self.guid,
            id=event.id,
            version=event.version,
            symbol=symbol,
            task_name=task_name,
            opcode_name=opcode_name,
            level_name=level_name,
            keyword_names=tuple(keyword_names),
            channel_name=channel_name,
            template_fields=event.fields,
            message=event.message,
            task=task,
            opcode=opcode,
            level=level,
            keyword=keyword,
            channel=channel,
            template=event.template,
            template_types=event.types,
            source=event.source,
        )

    def _resolve_channel(self, ref: str) -> tuple[str, Optional[int]]:
        if not ref:
            return "", 0
        if ref in self.channels:
            return self.channels[ref]
        bare = _strip_win(ref)
        if bare in STANDARD_CHANNELS:
            return ref, STANDARD_CHANNELS[bare]
        return ref, None

    def build(self) -> ManifestProvider:
        taken: dict[str, int] = {}
        events = tuple(self.resolve(self.events[key], taken) for key in sorted(self.events))
        return ManifestProvider(
            name=self.name,
            guid=self.guid,
            symbol=self.symbol,
            events=events,
            tasks=MappingProxyType(dict(self.tasks)),
            opcodes=MappingProxyType(dict(self.opcodes)),
            task_opcodes=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in self.task_opcodes.items()}),
            keywords=MappingProxyType(dict(self.keywords)),
            levels=MappingProxyType(dict(self.levels)),
            sources=tuple(self.sources),
        )


# --------------------------------------------------------------------------------------------------
# XML manifests
# --------------------------------------------------------------------------------------------------


def _refuse_dtd(path: str, data: bytes) -> None:
    text = _sniff_text(data)
    match = _REFUSED_MARKUP.search(text)
    if match:
        line = text.count("\n", 0, match.start()) + 1
        raise CorruptMetadataError(f"{path}:{line}: {match.group(0)} is refused (DTDs and entities are not allowed)")


def _parse_xml_tree(path: str, data: bytes) -> tuple[ET.Element, dict[int, int]]:
    """Parse with expat into an ElementTree, recording each element's line; DTDs and entities refused."""
    _refuse_dtd(path, data)
    builder = ET.TreeBuilder()
    lines: dict[int, int] = {}
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse(*_args: object) -> None:
        raise CorruptMetadataError(f"{path}:{parser.CurrentLineNumber}: DTDs and entities are not allowed")

    def start(tag: str, attrs: dict[str, str]) -> None:
        attrib = {_local(k): v for k, v in attrs.items() if not (k == "xmlns" or k.startswith("xmlns:"))}
        element = builder.start(_local(tag), attrib)
        lines[id(element)] = parser.CurrentLineNumber

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda tag: builder.end(_local(tag))
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        reason = expat.ErrorString(exc.code) if exc.code else str(exc)
        raise CorruptMetadataError(
            f"{path}:{exc.lineno}: XML syntax error: {reason} (column {exc.offset + 1})"
        ) from None
    return builder.close(), lines


def _parse_xml(path: str, data: bytes) -> list[_ProviderDraft]:
    root, lines = _parse_xml_tree(path, data)

    def where(element: ET.Element) -> str:
        return f"{path}:{lines.get(id(element), 1)}"

    if root.tag != "instrumentationManifest":
        raise CorruptMetadataError(f"{where(root)}: not an instrumentation manifest (root element <{root.tag}>)")
    strings: dict[str, str] = {}
    for table in root.iter("stringTable"):
        for string in table:
            if string.tag == "string" and string.get("id") is not None:
                strings.setdefault(string.get("id", ""), string.get("value", ""))
    providers = [_parse_provider(provider, strings, where) for provider in root.iter("provider")]
    if not providers:
        raise CorruptMetadataError(f"{where(root)}: instrumentation manifest declares no provider")
    return providers


def _message(raw: str, strings: Mapping[str, str]) -> str:
    if raw.startswith("$(string.") and raw.endswith(")"):
        return strings.get(raw[9:-1], raw)
    return raw


def _parse_provider(
    provider: ET.Element, strings: Mapping[str, str], where: Callable[[ET.Element], str]
) -> _ProviderDraft:
    name = provider.get("name", "").strip()
    if not name:
        raise CorruptMetadataError(f"{where(provider)}: provider without a name")
    guid = normalize_guid(provider.get("guid", ""))
    if guid is None:
        raise CorruptMetadataError(f"{where(provider)}: provider {name!r} has no valid guid ({provider.get('guid')!r})")
    draft = _ProviderDraft(name=name, guid=guid, symbol=provider.get("symbol", ""))
    draft.sources.append(where(provider))
    templates: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    event_elements: list[ET.Element] = []

    def named_value(element: ET.Element, attr: str, what: str, limit: int) -> tuple[str, int]:
        label = element.get("name", "")
        if not label:
            raise CorruptMetadataError(f"{where(element)}: {what} without a name")
        return label, _parse_int(element.get(attr), f"{what} {label!r} {attr}", where(element), limit)

    for section in provider:
        if section.tag == "tasks":
            for task in section.iter("task"):
                label, value = named_value(task, "value", "task", 0xFFFF)
                draft.tasks.setdefault(label, value)
                for opcode in task.iter("opcode"):
                    op_label, op_value = named_value(opcode, "value", "opcode", 0xFF)
                    draft.task_opcodes.setdefault(label, {}).setdefault(op_label, op_value)
        elif section.tag == "opcodes":
            for opcode in section.iter("opcode"):
                label, value = named_value(opcode, "value", "opcode", 0xFF)
                draft.opcodes.setdefault(label, value)
        elif section.tag == "keywords":
            for keyword in section.iter("keyword"):
                label, value = named_value(keyword, "mask", "keyword", 0xFFFFFFFFFFFFFFFF)
                draft.keywords.setdefault(label, value)
        elif section.tag == "levels":
            for level in section.iter("level"):
                label, value = named_value(level, "value", "level", 0xFF)
                draft.levels.setdefault(label, value)
        elif section.tag == "channels":
            for channel in section:
                if channel.tag not in ("channel", "importChannel"):
                    continue
                label = channel.get("name", "")
                raw = channel.get("value")
                if raw is not None:
                    value: Optional[int] = _parse_int(raw, f"channel {label!r} value", where(channel), 0xFF)
                else:
                    value = STANDARD_CHANNELS.get(_strip_win(label))
                for ref in (channel.get("chid"), label):
                    if ref:
                        draft.channels.setdefault(ref, (label, value))
        elif section.tag == "templates":
            for template in section.iter("template"):
                names = tuple(item.get("name", "") for item in template if item.tag in ("data", "struct"))
                types = tuple(
                    _strip_win(item.get("inType", "")) if item.tag == "data" else "struct"
                    for item in template
                    if item.tag in ("data", "struct")
                )
                templates.setdefault(template.get("tid", ""), (names, types))
        elif section.tag == "events":
            event_elements.extend(e for e in section if e.tag == "event")

    for event in event_elements:
        at = where(event)
        if event.get("value") is None:
            raise CorruptMetadataError(f"{at}: event without a value attribute in provider {name!r}")
        event_id = _parse_int(event.get("value"), "event value", at, 0xFFFF)
        version = _parse_int(event.get("version", "0"), f"event {event_id} version", at, 0xFF)
        tid = event.get("template", "")
        fields, types = templates.get(tid, ((), ()))
        draft.add_event(
            _EventDraft(
                id=event_id,
                version=version,
                symbol=event.get("symbol", "").strip(),
                task=event.get("task", "").strip(),
                opcode=event.get("opcode", "").strip(),
                level=event.get("level", "").strip(),
                keywords=tuple(event.get("keywords", "").split()),
                channel=event.get("channel", "").strip(),
                template=tid,
                fields=fields,
                types=types,
                message=_message(event.get("message", ""), strings),
                source=at,
                priority=_XML_PRIORITY,
            )
        )
    return draft


# --------------------------------------------------------------------------------------------------
# TSV tables
# --------------------------------------------------------------------------------------------------


def _tsv_rows(path: str, data: bytes) -> tuple[int, list[str], list[tuple[int, list[str]]]]:
    """Header line number, header and (line number, cells) rows; every row must have the header's width."""
    lines = _decode_tsv(path, data)
    header_at = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_at is None:
        raise CorruptMetadataError(f"{path}:1: empty TSV (no header line)")
    header = [cell.strip().lower() for cell in lines[header_at].split("\t")]
    rows = []
    for index in range(header_at + 1, len(lines)):
        line = lines[index]
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != len(header):
            raise CorruptMetadataError(
                f"{path}:{index + 1}: expected {len(header)} tab-separated columns, found {len(cells)}"
            )
        rows.append((index + 1, cells))
    return header_at + 1, header, rows


def _parse_tsv(path: str, data: bytes) -> tuple[list[_ProviderDraft], list[MofEvent]]:
    header_line, header, rows = _tsv_rows(path, data)
    columns = set(header)
    if all(c in columns for c in _MOF_TSV_REQUIRED):
        return [], _parse_mof_rows(path, header, rows)
    if all(c in columns for c in _MANIFEST_TSV_REQUIRED):
        return _parse_manifest_rows(path, header, rows), []
    raise CorruptMetadataError(
        f"{path}:{header_line}: unrecognised TSV header (need columns {', '.join(_MANIFEST_TSV_REQUIRED)})"
    )


def _parse_manifest_rows(path: str, header: list[str], rows: list[tuple[int, list[str]]]) -> list[_ProviderDraft]:
    index = {name: i for i, name in reversed(list(enumerate(header)))}
    stem = os.path.basename(path)
    stem = stem[: -len(".tsv")] if stem.lower().endswith(".tsv") else stem
    guid_column = index.get("provider_guid", index.get("guid"))
    drafts: dict[str, _ProviderDraft] = {}

    def cell(cells: list[str], name: str) -> str:
        at = index.get(name)
        return cells[at].strip() if at is not None else ""

    for line, cells in rows:
        at = f"{path}:{line}"
        name = cell(cells, "provider") or stem
        guid = None
        if guid_column is not None and cells[guid_column].strip():
            guid = normalize_guid(cells[guid_column])
            if guid is None:
                raise CorruptMetadataError(f"{at}: provider GUID is not a GUID: {cells[guid_column].strip()!r}")
        draft = drafts.get(name.lower())
        if draft is None:
            draft = drafts[name.lower()] = _ProviderDraft(name=name, guid=guid, sources=[at])
        elif draft.guid is None:
            draft.guid = guid
        event_id = _parse_int(cell(cells, "event_id"), "event_id", at, 0xFFFF)
        version = _parse_int(cell(cells, "version"), "version", at, 0xFF)
        symbol, fields, types = _split_signature(cell(cells, "event(fields)"), at)
        draft.add_event(
            _EventDraft(
                id=event_id,
                version=version,
                symbol=symbol,
                task=cell(cells, "task"),
                opcode=cell(cells, "opcode"),
                level=cell(cells, "level"),
                keywords=tuple(cell(cells, "keywords").split()),
                channel=cell(cells, "evtlog_channel"),
                template="",
                fields=fields,
                types=types,
                message=cell(cells, "evtlog_message"),
                source=at,
                priority=_TSV_PRIORITY,
            )
        )
    return list(drafts.values())


def _parse_mof_rows(path: str, header: list[str], rows: list[tuple[int, list[str]]]) -> list[MofEvent]:
    index = {name: i for i, name in reversed(list(enumerate(header)))}
    events = []
    for line, cells in rows:
        at = f"{path}:{line}"
        raw_guid = cells[index["category"]].strip()
        guid = normalize_guid(raw_guid)
        if guid is None:
            raise CorruptMetadataError(f"{at}: category is not a GUID: {raw_guid!r}")
        event_type = _parse_int(cells[index["event_id"]], "event_id (event type)", at, 0xFF)
        version = _parse_int(cells[index["version"]], "version", at, 0xFF)
        name, fields, types = _split_signature(cells[index["event(fields)"]], at)
        event_name = cells[index["event_type"]].strip()
        class_name = _VERSION_SUFFIX.sub("", name)
        if event_name and class_name.endswith("_" + event_name):
            class_name = class_name[: -len(event_name) - 1]
        description = cells[index["description"]].strip() if "description" in index else ""
        events.append(
            MofEvent(
                category_guid=guid,
                group=_CATEGORY_GROUPS.get(guid),
                event_type=event_type,
                class_name=class_name,
                event_name=event_name,
                fields=fields,
                version=version,
                name=name,
                field_types=types,
                description=description,
                source=at,
            )
        )
    return events


# --------------------------------------------------------------------------------------------------
# The index
# --------------------------------------------------------------------------------------------------


def _collect(paths: Iterable[str]) -> list[str]:
    """Files named directly, plus manifests/TSVs found (sorted, recursively) under named folders."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]  # type: ignore[list-item]
    files: list[str] = []
    for raw in paths:
        path = os.fspath(raw)
        if os.path.isdir(path):
            for folder, dirs, names in os.walk(path):
                dirs.sort()
                files.extend(
                    os.path.join(folder, n) for n in sorted(names) if n.lower().endswith(_XML_SUFFIXES + _TSV_SUFFIXES)
                )
        elif os.path.exists(path):
            files.append(path)
        else:
            raise InputNotFoundError(f"{path}: no such file or directory")
    return files


def _is_xml(path: str, data: bytes) -> bool:
    lower = path.lower()
    if lower.endswith(_XML_SUFFIXES):
        return True
    if lower.endswith(_TSV_SUFFIXES):
        return False
    return _sniff_text(data[:512]).lstrip("\ufeff \t\r\n").startswith("<")


class ManifestIndex:
    """Manifest events by provider and (id, version), plus legacy MOF events by (category, type, version)."""

    def __init__(self) -> None:
        self._drafts: dict[str, _ProviderDraft] = {}
        self._providers: dict[str, ManifestProvider] = {}
        self._by_guid: dict[str, str] = {}
        self._events: dict[str, dict[int, dict[int, ManifestEvent]]] = {}
        self._mof: dict[tuple[str, int], dict[int, MofEvent]] = {}
        self._files: list[str] = []

    # -- loading -----------------------------------------------------------------------------------

    def load(self, paths: Iterable[str]) -> ManifestIndex:
        """Load files and folders; all-or-nothing, so a corrupt file leaves the index as it was."""
        parsed_providers: list[_ProviderDraft] = []
        parsed_mof: list[MofEvent] = []
        files = _collect(paths)
        for path in files:
            data = _read(path)
            if _is_xml(path, data):
                parsed_providers.extend(_parse_xml(path, data))
            else:
                providers, mof = _parse_tsv(path, data)
                parsed_providers.extend(providers)
                parsed_mof.extend(mof)
        self._merge(parsed_providers, parsed_mof, files)
        return self

    def load_xml(self, data: bytes, source: str) -> ManifestIndex:
        """One manifest document held in memory (a binary's embedded manifest), merged like a file."""
        self._merge(_parse_xml(source, data), [], [source])
        return self

    def _merge(self, providers: list[_ProviderDraft], mof: list[MofEvent], files: list[str]) -> None:
        for draft in providers:
            key = draft.name.lower()
            if key in self._drafts:
                self._drafts[key].merge(draft)
            else:
                self._drafts[key] = draft
        for event in mof:
            self._mof.setdefault((event.category_guid, event.event_type), {}).setdefault(event.version, event)
        self._files.extend(files)
        self._rebuild()

    def _rebuild(self) -> None:
        self._providers = {key: draft.build() for key, draft in self._drafts.items()}
        self._by_guid = {}
        self._events = {}
        for key, provider in self._providers.items():
            if provider.guid is not None:
                self._by_guid.setdefault(provider.guid, key)
            by_id = self._events[key] = {}
            for event in provider.events:
                by_id.setdefault(event.id, {})[event.version] = event

    # -- queries -----------------------------------------------------------------------------------

    def _provider_key(self, guid: Optional[str], name: Optional[str]) -> Optional[str]:
        wanted = normalize_guid(guid) if guid else None
        if wanted is not None and wanted in self._by_guid:
            return self._by_guid[wanted]
        if name:
            key = name.strip().lower()
            provider = self._providers.get(key)
            if provider is not None and (wanted is None or provider.guid in (None, wanted)):
                return key
        return None

    def provider(self, guid: Optional[str] = None, name: Optional[str] = None) -> Optional[ManifestProvider]:
        """Provider by GUID, else by name where that provider has no GUID or the same one."""
        key = self._provider_key(guid, name)
        return None if key is None else self._providers[key]

    def providers(self) -> tuple[ManifestProvider, ...]:
        """All providers, sorted by name."""
        return tuple(self._providers[key] for key in sorted(self._providers))

    def lookup(
        self, provider_guid: Optional[str], provider_name: Optional[str], event_id: int, version: Optional[int]
    ) -> Optional[ManifestEvent]:
        """The event for a row: exact version, else nearest lower, else nearest higher (``None``: highest)."""
        key = self._provider_key(provider_guid, provider_name)
        if key is None:
            return None
        return _pick_version(self._events[key].get(event_id, {}), version)

    def mof_event(self, category_guid: str, event_type: int, version: Optional[int] = None) -> Optional[MofEvent]:
        """A MOF event class by category GUID and event type, version chosen like :meth:`lookup`."""
        guid = normalize_guid(category_guid)
        if guid is None:
            return None
        return _pick_version(self._mof.get((guid, event_type), {}), version)

    def legacy(self, hook_id: int, version: Optional[int] = None) -> Optional[MofEvent]:
        """The MOF event a legacy kernel hook id logs: category from the group byte, type from the low byte."""
        guid = hook_category(hook_id)
        if guid is None:
            return None
        return self.mof_event(guid, hook_id & 0xFF, version)

    # -- summary -----------------------------------------------------------------------------------

    @property
    def counts(self) -> IndexCounts:
        providers = self._providers.values()
        return IndexCounts(
            files=len(self._files),
            providers=len(self._providers),
            providers_with_guid=sum(1 for p in providers if p.guid is not None),
            events=sum(len(p.events) for p in providers),
            mof_events=sum(len(v) for v in self._mof.values()),
            mof_categories=len({guid for guid, _type in self._mof}),
        )

    def summary(self) -> str:
        """One line for logs: what was loaded."""
        c = self.counts
        return (
            f"ETW metadata: {c.providers} provider(s) ({c.providers_with_guid} with GUID), {c.events} event(s); "
            f"{c.mof_events} legacy MOF event(s) in {c.mof_categories} categories; from {c.files} file(s)"
        )
