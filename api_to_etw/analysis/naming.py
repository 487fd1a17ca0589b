"""Name rows from instrumentation manifests, the binary's own manifest and the legacy MOF table.

The binary gives a provider GUID and descriptor values; manifests give them names: the event symbol
(``task_05``), task, opcode and keyword names, the template's fields and the message. Joined on
provider GUID + event id + version, falling back to the provider name where a source has no GUID.
Several indexes are consulted in order (``--manifests`` first, so they add to and override the
binary's own ``WEVT_TEMPLATE``); the first that knows the event names it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .records import KIND_LEGACY, KIND_MANIFEST, EventNames, Row

if TYPE_CHECKING:  # pragma: no cover
    from ..etw.manifest import ManifestIndex  # loaded by whoever made the indexes


def name_rows(rows: Iterable[Row], indexes: Sequence[ManifestIndex] | ManifestIndex) -> int:
    """Attach names to every row an index knows; returns how many rows were named."""
    from ..etw.manifest import ManifestIndex

    if isinstance(indexes, ManifestIndex):
        indexes = [indexes]
    named = 0
    for row in rows:
        names = best_names(row, indexes)
        if names is not None:
            row.names = names
            named += 1
    return named


def best_names(row: Row, indexes: Sequence[ManifestIndex]) -> EventNames | None:
    """The first index's names that name the event itself, else the first provider-only names.

    A row whose binary holds no provider name takes the name an index gives its GUID, so a GUID-less
    source (a TSV) for that provider can still name it.
    """
    provider_name = row.event.provider_name
    if not provider_name and row.event.provider_guid:
        known = (index.provider(guid=row.event.provider_guid) for index in indexes)
        provider_name = next((p.name for p in known if p is not None), "")
    fallback = None
    for index in indexes:
        names = names_for(row, index, provider_name)
        if names is not None and names.event_name:
            return names
        fallback = fallback or names
    return fallback


def names_for(row: Row, index: ManifestIndex, provider_name: str = "") -> EventNames | None:
    e = row.event
    if e.kind == KIND_MANIFEST and e.id is not None and e.provider_guid:
        event = index.lookup(e.provider_guid, e.provider_name or provider_name or None, e.id, e.version)
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
            message=event.message,
        )
    if e.kind == KIND_LEGACY and e.hook_id is not None:
        mof = index.legacy(e.hook_id)
        if mof is None:
            return None
        return EventNames(provider_name=mof.class_name, event_name=mof.event_name, fields=tuple(mof.fields))
    return None
