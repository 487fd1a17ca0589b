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

Legacy hook ids are joined through :data:`api_to_etw.etw.ntwmi.LEGACY_GROUP_CATEGORIES` (evidence there).
XML safety is described in :mod:`.xmlfile`.
"""

from __future__ import annotations

from ..ntwmi import LEGACY_GROUP_CATEGORIES, LEGACY_HOOK_CATEGORIES, hook_category
from .common import normalize_guid
from .index import ManifestIndex
from .records import IndexCounts, ManifestEvent, ManifestProvider, MofEvent
from .winmeta import STANDARD_CHANNELS, STANDARD_KEYWORDS, STANDARD_LEVELS, STANDARD_OPCODES, STANDARD_TASKS

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
