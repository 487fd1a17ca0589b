"""The manifest index: every source loaded all-or-nothing, merged per provider, joined by GUID or name."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Optional

from ...errors import InputNotFoundError
from ..ntwmi import hook_category
from .common import normalize_guid, pick_version, read_source, sniff_text
from .drafts import ProviderDraft
from .records import IndexCounts, ManifestEvent, ManifestProvider, MofEvent
from .tsv import TSV_SUFFIXES, parse_tsv
from .xmlfile import XML_SUFFIXES, parse_xml


def _collect(paths: Iterable[str]) -> list[str]:
    """Files named directly, plus manifests/TSVs found (sorted, recursively) under named folders."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[str] = []
    for raw in paths:
        path = os.fspath(raw)
        if os.path.isdir(path):
            for folder, dirs, names in os.walk(path):
                dirs.sort()
                files.extend(
                    os.path.join(folder, n) for n in sorted(names) if n.lower().endswith(XML_SUFFIXES + TSV_SUFFIXES)
                )
        elif os.path.exists(path):
            files.append(path)
        else:
            raise InputNotFoundError(f"{path}: no such file or directory")
    return files


def _is_xml(path: str, data: bytes) -> bool:
    lower = path.lower()
    if lower.endswith(XML_SUFFIXES):
        return True
    if lower.endswith(TSV_SUFFIXES):
        return False
    return sniff_text(data[:512]).lstrip("\ufeff \t\r\n").startswith("<")


class ManifestIndex:
    """Manifest events by provider and (id, version), plus legacy MOF events by (category, type, version)."""

    def __init__(self) -> None:
        self._drafts: dict[str, ProviderDraft] = {}
        self._providers: dict[str, ManifestProvider] = {}
        self._by_guid: dict[str, str] = {}
        self._events: dict[str, dict[int, dict[int, ManifestEvent]]] = {}
        self._mof: dict[tuple[str, int], dict[int, MofEvent]] = {}
        self._files: list[str] = []

    # -- loading -----------------------------------------------------------------------------------

    def load(self, paths: Iterable[str]) -> ManifestIndex:
        """Load files and folders; all-or-nothing, so a corrupt file leaves the index as it was."""
        parsed_providers: list[ProviderDraft] = []
        parsed_mof: list[MofEvent] = []
        files = _collect(paths)
        for path in files:
            data = read_source(path)
            if _is_xml(path, data):
                parsed_providers.extend(parse_xml(path, data))
            else:
                providers, mof = parse_tsv(path, data)
                parsed_providers.extend(providers)
                parsed_mof.extend(mof)
        self._merge(parsed_providers, parsed_mof, files)
        return self

    def load_xml(self, data: bytes, source: str) -> ManifestIndex:
        """One manifest document held in memory (a binary's embedded manifest), merged like a file."""
        self._merge(parse_xml(source, data), [], [source])
        return self

    def _merge(self, providers: list[ProviderDraft], mof: list[MofEvent], files: list[str]) -> None:
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
        return pick_version(self._events[key].get(event_id, {}), version)

    def mof_event(self, category_guid: str, event_type: int, version: Optional[int] = None) -> Optional[MofEvent]:
        """A MOF event class by category GUID and event type, version chosen like :meth:`lookup`."""
        guid = normalize_guid(category_guid)
        if guid is None:
            return None
        return pick_version(self._mof.get((guid, event_type), {}), version)

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
