"""Drafts: what one source says about a provider, names unresolved, merged per provider before resolution.

Resolution turns names into values against the merged tables and builds symbols for events that have none
(the rule is described in the package docstring).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Optional

from .common import VERSION_SUFFIX, strip_win
from .records import ManifestEvent, ManifestProvider
from .winmeta import STANDARD_CHANNELS, STANDARD_KEYWORDS, STANDARD_LEVELS, STANDARD_OPCODES, STANDARD_TASKS

XML_PRIORITY = 2
TSV_PRIORITY = 1
_DISAMBIGUATED_OPCODE = re.compile(r"^(?:win:)?([A-Za-z_]+?)_(\d+)_(\d+)$")
_UNNAMED_KEYWORD = re.compile(r"^keyword_([0-9A-Fa-f]{1,16})$")


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
            return "win:" + strip_win(name), standard
    return canonical, None



def _synthesize_symbol(task_name: str, opcode_name: str, opcode: Optional[int], event_id: int) -> str:
    """Symbol base for an event with no symbol: task name + opcode name (see the module docstring)."""
    base = strip_win(task_name) if task_name and task_name != "win:None" else f"event_{event_id}"
    suffix = strip_win(opcode_name)
    if suffix and opcode != 0 and not base.endswith(suffix):
        base += suffix
    return base


@dataclass
class EventDraft:
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
class ProviderDraft:
    name: str
    guid: Optional[str]
    symbol: str = ""
    tasks: dict[str, int] = field(default_factory=dict)
    task_opcodes: dict[str, dict[str, int]] = field(default_factory=dict)
    opcodes: dict[str, int] = field(default_factory=dict)
    keywords: dict[str, int] = field(default_factory=dict)
    levels: dict[str, int] = field(default_factory=dict)
    channels: dict[str, tuple[str, Optional[int]]] = field(default_factory=dict)
    events: dict[tuple[int, int], EventDraft] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def add_event(self, event: EventDraft) -> None:
        key = (event.id, event.version)
        current = self.events.get(key)
        if current is None or event.priority > current.priority:
            self.events[key] = event

    def merge(self, other: ProviderDraft) -> None:
        """Fold another source for the same provider name in: first GUID/definition wins, XML beats TSV."""
        if self.guid is None:
            self.guid = other.guid
        self.symbol = self.symbol or other.symbol
        for mine, theirs in (
            (self.tasks, other.tasks),
            (self.opcodes, other.opcodes),
            (self.keywords, other.keywords),
            (self.levels, other.levels),
        ):
            for key, value in theirs.items():
                mine.setdefault(key, value)
        for key, channel in other.channels.items():
            self.channels.setdefault(key, channel)
        for task, table in other.task_opcodes.items():
            scoped = self.task_opcodes.setdefault(task, {})
            for key, value in table.items():
                scoped.setdefault(key, value)
        for event in other.events.values():
            self.add_event(event)
        self.sources.extend(s for s in other.sources if s not in self.sources)

    def resolve(self, event: EventDraft, taken: dict[str, int]) -> ManifestEvent:
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
            base = VERSION_SUFFIX.sub("", symbol) if event.version else symbol
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
        bare = strip_win(ref)
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
