"""The binary's own manifest: its WEVT_TEMPLATE resource joined with its RT_MESSAGETABLE strings.

mc.exe compiles an instrumentation manifest into two resources: the ``WEVT_TEMPLATE`` blob (numbers,
names, templates; :mod:`.wevt`) and a message table (display strings by message id;
:mod:`.messagetable`). This module joins them and renders the result as instrumentation manifest XML,
which is also how it becomes a :class:`~.manifest.ManifestIndex`: the XML reader is the one place
where names are resolved and event symbols are built, for ``--manifests`` files and for embedded
manifests alike. Input is the resource leaves plus an RVA reader (an engine's ``Facts.memory``).
"""

from __future__ import annotations

import functools
import locale
from collections.abc import Iterable
from typing import TYPE_CHECKING, Optional

from ..model import Memory, ResourceEntry

if TYPE_CHECKING:  # pragma: no cover
    from .manifest import ManifestIndex
    from .wevt import Named, WevtProvider

# The decoders (.wevt, .messagetable) and the manifest package are imported where they are used: most
# binaries have neither resource, and their imports (dataclasses, the manifest readers' patterns) cost a
# small binary's analysis about 15 ms.

RT_MESSAGETABLE = 11
WEVT_TEMPLATE = "WEVT_TEMPLATE"
#: Language whose strings name things when a table exists in several (en-US), else the lowest id.
PREFERRED_LANGUAGE = 1033
#: Largest resource read (a compiled manifest of a big provider is a few hundred KiB).
MAX_RESOURCE = 64 << 20

_CHANNEL_TYPES = ("Admin", "Operational", "Analytic", "Debug")


class EmbeddedManifest:
    """The providers of a binary's WEVT_TEMPLATE and the texts of its message table. (A plain class: never
    compared, it needs none of a dataclass's generated methods, compiled at import.)"""

    __slots__ = ("providers", "messages", "warnings", "source")

    def __init__(self, source: str = "") -> None:
        self.providers: list[WevtProvider] = []
        #: Language id -> message id -> text.
        self.messages: dict[int, dict[int, str]] = {}
        self.warnings: list[str] = []
        self.source = source

    def message(self, message_id: int) -> str:
        from .wevt import NO_MESSAGE

        if message_id == NO_MESSAGE:
            return ""
        for lang in self.languages():
            text = self.messages[lang].get(message_id)
            if text is not None:
                return text
        return ""

    def languages(self) -> list[int]:
        return sorted(self.messages, key=lambda lang: (lang != PREFERRED_LANGUAGE, lang))

    def provider_name(self, provider: WevtProvider) -> str:
        return provider.name or self.message(provider.message_id) or f"Provider_{provider.guid}"

    @property
    def events(self) -> int:
        return sum(len(p.events) for p in self.providers)


def read_embedded(memory: Memory, resources: Iterable[ResourceEntry], source: str = "") -> EmbeddedManifest:
    """Decode every WEVT_TEMPLATE and RT_MESSAGETABLE leaf (all languages)."""
    result = EmbeddedManifest(source=source)
    for entry in resources:
        if entry.type not in (WEVT_TEMPLATE, RT_MESSAGETABLE):
            continue
        what = f"{'WEVT_TEMPLATE' if entry.type == WEVT_TEMPLATE else 'RT_MESSAGETABLE'} {entry.name}/{entry.language}"
        size = min(entry.size, MAX_RESOURCE)
        data = memory.read(entry.rva, size)
        if len(data) < entry.size:
            result.warnings.append(f"{what}: {entry.size} bytes declared at RVA {entry.rva:#x}, {len(data)} readable")
        if entry.type == WEVT_TEMPLATE:
            from .wevt import decode_wevt

            decoded = decode_wevt(data)
            known = {p.guid for p in result.providers}
            for provider in decoded.providers:  # one WEVT_TEMPLATE per language may repeat a provider
                if provider.guid in known:
                    result.warnings.append(f"{what}: provider {provider.guid} defined again; first kept")
                    continue
                known.add(provider.guid)
                result.providers.append(provider)
            result.warnings.extend(f"{what}: {w}" for w in decoded.warnings)
        else:
            from .messagetable import decode_messagetable

            table = decode_messagetable(data, entry.codepage)
            target = result.messages.setdefault(entry.language, {})
            for message_id, text in table.messages.items():
                target.setdefault(message_id, text)
            result.warnings.extend(f"{what}: {w}" for w in table.warnings)
    return result


# ------------------------------------------------------------------------------------------------ XML


def _culture(lang: int) -> str:
    name = locale.windows_locale.get(lang)
    return name.replace("_", "-") if name else f"x-lcid-{lang}"


def _string_id(message_id: int) -> str:
    return f"msg_{message_id:08X}"


def _by_value(items: Iterable[Named]) -> dict[int, Named]:
    out: dict[int, Named] = {}
    for item in items:
        out.setdefault(item.value, item)
    return out


def _channel_type(name: str) -> str:
    suffix = name.rsplit("/", 1)[-1]
    return suffix if suffix in _CHANNEL_TYPES else "Operational"


def to_xml(manifest: EmbeddedManifest, file_name: str = "") -> str:
    """The manifest as instrumentation manifest XML (mc.exe's schema), strings from every language.

    What the binary does not hold is left out or derived the documented way: event symbols (the XML
    reader builds them from task and opcode), template ids (``T<n>``), channel chids (the name) and
    channel types (the ``/Type`` suffix of the channel name, else Operational).
    """
    from xml.sax.saxutils import quoteattr  # here, not at the top: it loads urllib.request and OpenSSL

    from .manifest import STANDARD_CHANNELS, STANDARD_KEYWORDS, STANDARD_LEVELS, STANDARD_OPCODES
    from .wevt import NO_MESSAGE

    used: set[int] = set()
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<instrumentationManifest xmlns="http://schemas.microsoft.com/win/2004/08/events"'
           ' xmlns:win="http://manifests.microsoft.com/win/2004/08/windows/events"'
           ' xmlns:xs="http://www.w3.org/2001/XMLSchema">',
           "  <instrumentation>", "    <events>"]

    def attr(name: str, value: object) -> str:
        return f" {name}={quoteattr(str(value))}"

    def message(message_id: int) -> str:
        if message_id == NO_MESSAGE or not manifest.message(message_id):
            return ""
        used.add(message_id)
        return attr("message", f"$(string.{_string_id(message_id)})")

    def named(tag: str, child: str, items: list[Named], indent: int) -> None:
        """``<levels>``/``<opcodes>``: one ``<child name value message/>`` per item, when there are any."""
        if items:
            pad = " " * indent
            out.append(f"{pad}<{tag}>")
            out.extend(f"{pad}  <{child}{attr('name', i.name)}{attr('value', i.value)}{message(i.message_id)}/>"
                       for i in items)
            out.append(f"{pad}</{tag}>")

    for p in manifest.providers:
        name = manifest.provider_name(p)
        files = attr("resourceFileName", file_name) + attr("messageFileName", file_name) if file_name else ""
        out.append(f"      <provider{attr('name', name)}{attr('guid', '{' + p.guid + '}')}{files}"
                   f"{message(p.message_id)}>")
        channels = _by_value(p.channels)
        if p.channels:
            out.append("        <channels>")
            for c in p.channels:
                if c.name in STANDARD_CHANNELS:
                    out.append(f"          <importChannel{attr('name', c.name)}{attr('chid', c.name)}/>")
                else:
                    out.append(f"          <channel{attr('name', c.name)}{attr('chid', c.name)}"
                               f"{attr('type', _channel_type(c.name))}{attr('value', c.value)}{message(c.message_id)}/>")
            out.append("        </channels>")
        named("levels", "level", [lv for lv in p.levels if lv.name and lv.name not in STANDARD_LEVELS], 8)
        own_opcodes = [o for o in p.opcodes if o.name and o.name not in STANDARD_OPCODES]
        if p.tasks:
            out.append("        <tasks>")
            for t in p.tasks:
                if not t.name:
                    continue
                guid = attr("eventGUID", "{" + t.guid + "}") if t.guid and t.guid.strip("0-") else ""
                scoped = [o for o in own_opcodes if o.scope == t.value and o.scope]
                head = f"          <task{attr('name', t.name)}{attr('value', t.value)}{guid}{message(t.message_id)}"
                if scoped:
                    out.append(head + ">")
                    named("opcodes", "opcode", scoped, 12)
                    out.append("          </task>")
                else:
                    out.append(head + "/>")
            out.append("        </tasks>")
        named("opcodes", "opcode", [o for o in own_opcodes if not o.scope], 8)
        own_keywords = [k for k in p.keywords if k.name and k.name not in STANDARD_KEYWORDS]
        if own_keywords:
            out.append("        <keywords>")
            out += [f"          <keyword{attr('name', k.name)}{attr('mask', f'0x{k.value:x}')}{message(k.message_id)}/>"
                    for k in own_keywords]
            out.append("        </keywords>")
        if p.maps:
            out.append("        <maps>")
            for m in p.maps:
                tag = "bitMap" if m.kind == "BMAP" else "valueMap"
                out.append(f"          <{tag}{attr('name', m.name)}>")
                out += [f"            <map{attr('value', f'0x{v:x}' if tag == 'bitMap' else v)}{message(mid)}/>"
                        for v, mid in m.entries]
                out.append(f"          </{tag}>")
            out.append("        </maps>")
        if p.templates:
            out.append("        <templates>")
            for i, template in enumerate(p.templates):
                if not template.fields:
                    out.append(f"          <template{attr('tid', f'T{i}')}/>")
                    continue
                out.append(f"          <template{attr('tid', f'T{i}')}>")
                for f in template.fields:
                    outtype = attr("outType", f.out_type_name) if f.out_type else ""
                    out.append(f"            <data{attr('name', f.name)}{attr('inType', f.in_type_name)}{outtype}/>")
                out.append("          </template>")
            out.append("        </templates>")
        if p.events:
            out.append("        <events>")
            levels, tasks = _by_value(p.levels), _by_value(p.tasks)
            keyword_names = {k.value: k.name for k in p.keywords}
            for e in p.events:
                parts = [attr("value", e.id), attr("version", e.version)]
                if e.channel and e.channel in channels:
                    parts.append(attr("channel", channels[e.channel].name))
                level = levels.get(e.level)
                level_name = level.name if level else _standard_names()[0].get(e.level, "")
                if level_name:
                    parts.append(attr("level", level_name))
                if e.task and e.task in tasks:
                    parts.append(attr("task", tasks[e.task].name))
                opcode = _opcode_name(p, e.opcode, e.task)
                if opcode:
                    parts.append(attr("opcode", opcode))
                names = [keyword_names[m] for m in e.keywords if keyword_names.get(m)]
                if names:
                    parts.append(attr("keywords", " ".join(names)))
                if e.template is not None:
                    parts.append(attr("template", f"T{e.template}"))
                parts.append(message(e.message_id))
                out.append(f"          <event{''.join(parts)}/>")
            out.append("        </events>")
        out.append("      </provider>")
    out += ["    </events>", "  </instrumentation>"]
    if used:
        out.append("  <localization>")
        for lang in manifest.languages():
            table = manifest.messages[lang]
            out.append(f"    <resources{attr('culture', _culture(lang))}>")
            out.append("      <stringTable>")
            out += [f"        <string{attr('id', _string_id(mid))}{attr('value', table[mid])}/>"
                    for mid in sorted(used) if mid in table]
            out.append("      </stringTable>")
            out.append("    </resources>")
        out.append("  </localization>")
    out.append("</instrumentationManifest>")
    return "\n".join(out) + "\n"


@functools.lru_cache(maxsize=1)
def _standard_names() -> tuple[dict[int, str], dict[int, str]]:
    """Value -> name of the standard levels (but win:Always) and opcodes, for events that name none."""
    from .manifest import STANDARD_LEVELS, STANDARD_OPCODES

    return ({v: k for k, v in STANDARD_LEVELS.items() if k != "win:Always"},
            {v: k for k, v in STANDARD_OPCODES.items()})


def _opcode_name(provider: WevtProvider, value: int, task: int) -> str:
    fallback = ""
    for o in provider.opcodes:
        if o.value == value and o.name:
            if o.scope == task:
                return o.name
            if not o.scope:
                fallback = o.name
    return fallback or ("" if value == 0 else _standard_names()[1].get(value, ""))


def to_index(manifest: EmbeddedManifest, file_name: str = "") -> ManifestIndex:
    """The manifest as an index for naming rows (through the XML reader: one set of naming rules)."""
    from .manifest import ManifestIndex

    index = ManifestIndex()
    if manifest.providers:
        index.load_xml(to_xml(manifest, file_name).encode("utf-8"), f"{file_name or 'binary'}:WEVT_TEMPLATE")
    return index


def provider_names(manifest: EmbeddedManifest) -> dict[str, str]:
    """GUID -> provider name, for every provider of the manifest."""
    return {p.guid: manifest.provider_name(p) for p in manifest.providers}


def find_provider(manifest: EmbeddedManifest, guid: str) -> Optional[WevtProvider]:
    return next((p for p in manifest.providers if p.guid == guid), None)




#: The columns of the one-line-per-event manifest TSVs (as EtwExplorer-style dumps publish them).
TSV_COLUMNS = ("provider", "event_id", "version", "event(fields)", "opcode", "keywords", "task", "level",
               "evtlog_channel", "evtlog_message")


def _bare(name: str) -> str:
    return name[4:] if name.startswith("win:") else name


def tsv_rows(index: ManifestIndex) -> list[dict[str, object]]:
    """One row per event in the TSV manifests' columns (standard names without ``win:``)."""
    rows: list[dict[str, object]] = []
    for provider in index.providers():
        for e in provider.events:
            fields = ", ".join(f"{t} {n}" for t, n in zip(e.template_types, e.template_fields))
            rows.append({
                "provider": provider.name, "event_id": e.id, "version": e.version,
                "event(fields)": f"{e.symbol}({fields})", "opcode": _bare(e.opcode_name) if e.opcode else "",
                "keywords": " ".join(_bare(k) for k in e.keyword_names), "task": _bare(e.task_name),
                "level": _bare(e.level_name), "evtlog_channel": e.channel_name, "evtlog_message": e.message,
            })
    return rows


__all__ = ["TSV_COLUMNS", "EmbeddedManifest", "find_provider", "provider_names", "read_embedded", "to_index",
           "to_xml", "tsv_rows"]
