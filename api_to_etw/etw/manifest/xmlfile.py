"""Instrumentation manifests in XML (``*.xml``, ``*.man``).

XML safety
----------
Manifests may come from untrusted places. Documents containing ``<!DOCTYPE`` or ``<!ENTITY`` anywhere
(even in a comment) are refused before parsing, and the expat parser additionally refuses DTDs, entity
declarations and external entities if one slipped through, so no entity expansion or external fetch can
happen. Elements nest at most :data:`MAX_DEPTH` levels. Malformed input raises :class:`CorruptMetadataError`
as ``path:line: what`` on one line; an unreadable file raises :class:`InputNotFoundError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Optional
from xml.etree import ElementTree as ET
from xml.parsers import expat

from ...errors import CorruptMetadataError
from .common import normalize_guid, parse_int, sniff_text, strip_win
from .drafts import XML_PRIORITY, EventDraft, ProviderDraft
from .winmeta import STANDARD_CHANNELS

XML_SUFFIXES = (".xml", ".man")
#: Deepest element nesting accepted. Readers search a section's subtree (``task.iter("opcode")``), so
#: the depth bounds how often one element is visited: O(elements x depth), never quadratic.
MAX_DEPTH = 64
_REFUSED_MARKUP = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def local_name(name: str) -> str:
    """Element/attribute name without any namespace prefix (parsing is namespace-agnostic)."""
    return name.rsplit(":", 1)[-1]


def _refuse_dtd(path: str, data: bytes) -> None:
    text = sniff_text(data)
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

    def refuse(*_args: object) -> int:
        raise CorruptMetadataError(f"{path}:{parser.CurrentLineNumber}: DTDs and entities are not allowed")

    depth = [0]

    def start(tag: str, attrs: dict[str, str]) -> None:
        depth[0] += 1
        if depth[0] > MAX_DEPTH:
            raise CorruptMetadataError(f"{path}:{parser.CurrentLineNumber}: elements nested deeper than {MAX_DEPTH} "
                                       "levels (a manifest needs about ten)")
        attrib = {local_name(k): v for k, v in attrs.items() if not (k == "xmlns" or k.startswith("xmlns:"))}
        element = builder.start(local_name(tag), attrib)
        lines[id(element)] = parser.CurrentLineNumber

    def end(tag: str) -> None:
        depth[0] -= 1
        builder.end(local_name(tag))

    parser.StartElementHandler = start
    parser.EndElementHandler = end
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
    except (LookupError, ValueError) as exc:  # expat: an unknown encoding, or a multi-byte one it cannot decode
        raise CorruptMetadataError(
            f"{path}:{parser.CurrentLineNumber}: unsupported XML encoding ({exc}); use UTF-8 or UTF-16"
        ) from None
    return builder.close(), lines


def parse_xml(path: str, data: bytes) -> list[ProviderDraft]:
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
) -> ProviderDraft:
    name = provider.get("name", "").strip()
    if not name:
        raise CorruptMetadataError(f"{where(provider)}: provider without a name")
    guid = normalize_guid(provider.get("guid", ""))
    if guid is None:
        raise CorruptMetadataError(f"{where(provider)}: provider {name!r} has no valid guid ({provider.get('guid')!r})")
    draft = ProviderDraft(name=name, guid=guid, symbol=provider.get("symbol", ""))
    draft.sources.append(where(provider))
    templates: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    event_elements: list[ET.Element] = []

    def named_value(element: ET.Element, attr: str, what: str, limit: int) -> tuple[str, int]:
        label = element.get("name", "")
        if not label:
            raise CorruptMetadataError(f"{where(element)}: {what} without a name")
        return label, parse_int(element.get(attr), f"{what} {label!r} {attr}", where(element), limit)

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
                    channel_value: Optional[int] = parse_int(raw, f"channel {label!r} value", where(channel), 0xFF)
                else:
                    channel_value = STANDARD_CHANNELS.get(strip_win(label))
                for ref in (channel.get("chid"), label):
                    if ref:
                        draft.channels.setdefault(ref, (label, channel_value))
        elif section.tag == "templates":
            for template in section.iter("template"):
                names = tuple(item.get("name", "") for item in template if item.tag in ("data", "struct"))
                types = tuple(
                    strip_win(item.get("inType", "")) if item.tag == "data" else "struct"
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
        event_id = parse_int(event.get("value"), "event value", at, 0xFFFF)
        version = parse_int(event.get("version", "0"), f"event {event_id} version", at, 0xFF)
        tid = event.get("template", "")
        fields, types = templates.get(tid, ((), ()))
        draft.add_event(
            EventDraft(
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
                priority=XML_PRIORITY,
            )
        )
    return draft
