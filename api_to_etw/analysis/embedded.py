"""The binary's own manifest inside the analysis: an index that names rows, rows for unwritten events.

The ``WEVT_TEMPLATE`` and message-table resources reach the analysis as engine facts (resource leaves
plus the memory holding them), so a replay of saved facts names rows the same way. Events the
manifest defines but no write site emits become rows with ``Entry`` = ``unreferenced`` on request,
so a user sees both what the provider could log and what this build logs.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Optional

from ..errors import CorruptMetadataError
from ..etw.embedded import EmbeddedManifest, read_embedded, to_index
from ..model import Facts
from .records import ENTRY_UNREFERENCED, KIND_MANIFEST, EventInfo, Row

if TYPE_CHECKING:  # pragma: no cover
    from ..etw.manifest import ManifestIndex  # loaded by to_index, only for a binary with a manifest

log = logging.getLogger(__name__)


def embedded_manifest(facts: Facts) -> EmbeddedManifest:
    manifest = read_embedded(facts.memory, facts.resources, facts.binary_name)
    for warning in manifest.warnings:
        log.warning("WEVT_TEMPLATE: %s", warning)
    return manifest


def embedded_index(manifest: EmbeddedManifest, binary_name: str) -> Optional[ManifestIndex]:
    """The manifest as a naming index; None when the binary has none (or it cannot be indexed)."""
    if not manifest.providers:
        return None
    try:
        return to_index(manifest, binary_name)
    except CorruptMetadataError as exc:
        log.warning("WEVT_TEMPLATE: cannot index the embedded manifest: %s", exc)
        return None


def unreferenced_rows(manifest: EmbeddedManifest, written: Collection[tuple[str, Optional[int], Optional[int]]]
                      ) -> list[Row]:
    """A row per manifest event whose (provider GUID, id, version) no write site emits."""
    rows = []
    for provider in manifest.providers:
        name = manifest.provider_name(provider)
        for ev in provider.events:
            if (provider.guid, ev.id, ev.version) in written:
                continue
            info = EventInfo(kind=KIND_MANIFEST, write_function="", provider_guid=provider.guid, provider_name=name,
                             id=ev.id, version=ev.version, channel=ev.channel, level=ev.level, opcode=ev.opcode,
                             task=ev.task, keyword=ev.keyword,
                             event_key=(ENTRY_UNREFERENCED, provider.guid, ev.id, ev.version),
                             provider_key=("guid", provider.guid))
            rows.append(Row(info, "", "", [], 0, 0, entry=ENTRY_UNREFERENCED))
    return rows


__all__ = ["embedded_index", "embedded_manifest", "unreferenced_rows"]
