"""What the index answers with: resolved manifest events and providers, legacy MOF events, load counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional

from .winmeta import STANDARD_KEYWORDS


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
