"""Name rows from instrumentation manifests and the legacy MOF table (``--manifests``).

The binary gives a provider GUID and descriptor values; manifests give them names: the event symbol
(``task_05``), task, opcode and keyword names, and the template's fields. Joined on provider GUID +
event id + version, falling back to the provider name where a source has no GUID.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..etw.manifest import ManifestIndex
from .records import KIND_LEGACY, KIND_MANIFEST, EventNames, Row


def name_rows(rows: Iterable[Row], index: ManifestIndex) -> int:
    """Attach names to every row the index knows; returns how many rows were named."""
    named = 0
    for row in rows:
        names = names_for(row, index)
        if names is not None:
            row.names = names
            named += 1
    return named


def names_for(row: Row, index: ManifestIndex) -> EventNames | None:
    e = row.event
    if e.kind == KIND_MANIFEST and e.id is not None and e.provider_guid:
        event = index.lookup(e.provider_guid, e.provider_name or None, e.id, e.version)
        if event is None:
            provider = index.provider(guid=e.provider_guid)
            if provider is None:
                return None
            keywords = provider.keyword_names(e.keyword) if e.keyword is not None else ()
            return EventNames(provider_name=provider.name, keyword_names=keywords)
        provider = index.provider(guid=event.provider_guid, name=event.provider_name)
        keywords = event.keyword_names
        if provider is not None and e.keyword is not None:
            keywords = provider.keyword_names(e.keyword) or keywords
        return EventNames(
            provider_name=event.provider_name,
            event_name=event.symbol,
            task_name=event.task_name,
            opcode_name=event.opcode_name,
            keyword_names=tuple(keywords),
            fields=tuple(event.template_fields),
        )
    if e.kind == KIND_LEGACY and e.hook_id is not None:
        mof = index.legacy(e.hook_id)
        if mof is None:
            return None
        return EventNames(provider_name=mof.class_name, event_name=mof.event_name, fields=tuple(mof.fields))
    return None
