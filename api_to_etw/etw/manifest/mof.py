"""The legacy kernel MOF table (``Windows_Kernel_Trace.mof.tsv``): one row per event class version.

The category GUID is joined to its ``EVENT_TRACE_GROUP_*`` through :mod:`api_to_etw.etw.ntwmi`.
"""

from __future__ import annotations

from ...errors import CorruptMetadataError
from ..ntwmi import CATEGORY_GROUPS
from .common import VERSION_SUFFIX, normalize_guid, parse_int, split_signature
from .records import MofEvent

MOF_TSV_REQUIRED = ("category", "event_id", "version", "event(fields)", "event_type")


def parse_mof_rows(path: str, header: list[str], rows: list[tuple[int, list[str]]]) -> list[MofEvent]:
    index = {name: i for i, name in reversed(list(enumerate(header)))}
    events = []
    for line, cells in rows:
        at = f"{path}:{line}"
        raw_guid = cells[index["category"]].strip()
        guid = normalize_guid(raw_guid)
        if guid is None:
            raise CorruptMetadataError(f"{at}: category is not a GUID: {raw_guid!r}")
        event_type = parse_int(cells[index["event_id"]], "event_id (event type)", at, 0xFF)
        version = parse_int(cells[index["version"]], "version", at, 0xFF)
        name, fields, types = split_signature(cells[index["event(fields)"]], at)
        event_name = cells[index["event_type"]].strip()
        class_name = VERSION_SUFFIX.sub("", name)
        if event_name and class_name.endswith("_" + event_name):
            class_name = class_name[: -len(event_name) - 1]
        description = cells[index["description"]].strip() if "description" in index else ""
        events.append(
            MofEvent(
                category_guid=guid,
                group=CATEGORY_GROUPS.get(guid),
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
