"""Tables in TSV: the one-line-per-event manifest form, told apart from the MOF table by its header."""

from __future__ import annotations

import os

from ...errors import CorruptMetadataError
from .common import normalize_guid, parse_int, split_signature
from .drafts import TSV_PRIORITY, EventDraft, ProviderDraft
from .mof import MOF_TSV_REQUIRED, parse_mof_rows
from .records import MofEvent

TSV_SUFFIXES = (".tsv",)
_MANIFEST_TSV_REQUIRED = ("event_id", "version", "event(fields)")


def decode_tsv(path: str, data: bytes) -> list[str]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CorruptMetadataError(f"{path}:{line}: not UTF-8 text") from None
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def tsv_rows(path: str, data: bytes) -> tuple[int, list[str], list[tuple[int, list[str]]]]:
    """Header line number, header and (line number, cells) rows; every row must have the header's width."""
    lines = decode_tsv(path, data)
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


def parse_tsv(path: str, data: bytes) -> tuple[list[ProviderDraft], list[MofEvent]]:
    header_line, header, rows = tsv_rows(path, data)
    columns = set(header)
    if all(c in columns for c in MOF_TSV_REQUIRED):
        return [], parse_mof_rows(path, header, rows)
    if all(c in columns for c in _MANIFEST_TSV_REQUIRED):
        return _parse_manifest_rows(path, header, rows), []
    raise CorruptMetadataError(
        f"{path}:{header_line}: unrecognised TSV header (need columns {', '.join(_MANIFEST_TSV_REQUIRED)})"
    )


def _parse_manifest_rows(path: str, header: list[str], rows: list[tuple[int, list[str]]]) -> list[ProviderDraft]:
    index = {name: i for i, name in reversed(list(enumerate(header)))}
    stem = os.path.basename(path)
    stem = stem[: -len(".tsv")] if stem.lower().endswith(".tsv") else stem
    guid_column = index.get("provider_guid", index.get("guid"))
    drafts: dict[str, ProviderDraft] = {}

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
            draft = drafts[name.lower()] = ProviderDraft(name=name, guid=guid, sources=[at])
        elif draft.guid is None:
            draft.guid = guid
        event_id = parse_int(cell(cells, "event_id"), "event_id", at, 0xFFFF)
        version = parse_int(cell(cells, "version"), "version", at, 0xFF)
        symbol, fields, types = split_signature(cell(cells, "event(fields)"), at)
        draft.add_event(
            EventDraft(
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
                priority=TSV_PRIORITY,
            )
        )
    return list(drafts.values())
