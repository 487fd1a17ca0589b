"""Build the embedded-manifest fixture: DLLs whose WEVT_TEMPLATE and message tables come from our model.

``python -m samples.wevt.build [--check]``. :data:`PROVIDERS` and :data:`MESSAGES` are a manifest model
(the decoder's own record types); this script encodes them in the compiled-manifest layout
(``encode_wevt``: CRIM / WEVT / CHAN LEVL OPCO TASK KEYW MAPS TTBL EVNT PRVA) and as RT_MESSAGETABLEs
(en-US in UTF-16 entries, de-DE in ANSI entries), writes ``gadget.rc`` for llvm-rc, fills
``gadget.c.in`` into ``gadget.c`` (registers both providers, writes some of their events through advapi32 and leaves the
others unwritten) and links two DLLs with lld-link (``/Brepro``): ``gadget.dll`` (code + resources,
with its PDB) and ``gadget_res.dll`` (resources only, like a provider's resource file). The DLLs, the
PDB and ``gadget.c`` are committed; ``--check`` rebuilds in a temporary folder and compares bytes.
Truth for the tests is the model itself (decoding the resource must give it back exactly).
"""

from __future__ import annotations

import struct
from pathlib import Path

from api_to_etw.etw.wevt import (
    ELEMENT_TYPES,
    NO_MESSAGE,
    Named,
    Template,
    TemplateField,
    ValueMap,
    WevtEvent,
    WevtProvider,
)
from samples import ctemplate, driver, toolchain
from samples.guid import guid_bytes, guid_initializer

HERE = Path(__file__).resolve().parent
OUTPUTS = ("gadget.c", "gadget.dll", "gadget.pdb", "gadget_res.dll")
#: gadget.c with ``${name}`` where the model fills in (samples/ctemplate.py).
TEMPLATE = HERE / "gadget.c.in"
CRIM_VERSION = (5, 1)
PRVA_NAME = 0x10000001
#: A minimal BinXML fragment (fragment header token, end of stream): the template body is opaque to us.
BINXML = bytes([0x0F, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00])

GADGET = "6f1c2d3e-4b5a-4c6d-8e9f-a0b1c2d3e4f5"
STORAGE = "0a1b2c3d-4e5f-4061-8273-8495a6b7c8d9"

PROVIDERS = (
    WevtProvider(
        guid=GADGET, name="Contoso-Gadget", message_id=0x90000001,
        attributes=((PRVA_NAME, "Contoso-Gadget"),),
        channels=(Named(16, "Contoso-Gadget/Operational", 0x90000002, scope=0),
                  Named(17, "Contoso-Gadget/Debug", NO_MESSAGE, scope=1)),
        levels=(Named(2, "win:Error", 0x50000002), Named(4, "win:Informational", 0x50000004),
                Named(16, "Chatty", 0x90000003)),
        opcodes=(Named(1, "win:Start", 0x30000001), Named(10, "Handshake", 0x30010001, scope=1),
                 Named(11, "Retry", 0x3000000B)),
        tasks=(Named(1, "Connect", 0x70000001, guid="11111111-2222-4333-8444-555555555555"),
               Named(2, "Store", 0x70000002, guid="00000000-0000-0000-0000-000000000000")),
        keywords=(Named(0x1, "Network", 0x10000001), Named(0x2, "Disk", 0x10000002)),
        maps=(ValueMap("VMAP", "StateMap", ((0, 0x90000010), (1, 0x90000011))),
              ValueMap("BMAP", "FlagsMap", ((1, 0x90000012), (2, 0x90000013)))),
        templates=(
            Template("a0a0a0a0-0001-4000-8000-000000000001",
                     (TemplateField("Peer", 1, 1), TemplateField("Port", 6, 22), TemplateField("Handle", 21, 0),
                      TemplateField("When", 17, 0)), BINXML),
            Template("a0a0a0a0-0002-4000-8000-000000000002", (TemplateField("Status", 7, 32),), BINXML),
        ),
        events=(
            WevtEvent(1, 0, 16, 4, 1, 1, 0x8000000000000001, 0xB0000001, 0, (0x1,)),
            WevtEvent(1, 1, 16, 4, 1, 1, 0x8000000000000001, 0xB0010001, 0, (0x1,)),
            WevtEvent(2, 0, 17, 16, 10, 1, 0x4000000000000001, 0xB0000002, None, (0x1,)),
            WevtEvent(3, 0, 16, 2, 11, 2, 0x8000000000000002, 0xB0000003, 1, (0x2,)),
            WevtEvent(4, 0, 16, 2, 0, 2, 0x8000000000000003, 0xB0000004, 1, (0x1, 0x2)),
        ),
        order=("CHAN", "TTBL", "PRVA", "OPCO", "LEVL", "TASK", "KEYW", "MAPS", "EVNT"),
    ),
    WevtProvider(
        guid=STORAGE, name="Contoso-Gadget-Storage", message_id=0x90000020,
        attributes=((PRVA_NAME, "Contoso-Gadget-Storage"),),
        levels=(Named(3, "win:Warning", 0x50000003),),
        templates=(Template("a0a0a0a0-0003-4000-8000-000000000003", (TemplateField("Bytes", 10, 0),), BINXML),),
        events=(WevtEvent(7, 0, 0, 3, 0, 0, 0, 0xB0000007, 0),
                WevtEvent(8, 2, 0, 3, 0, 0, 0, NO_MESSAGE, None)),
        order=("TTBL", "PRVA", "OPCO", "LEVL", "TASK", "KEYW", "EVNT"),
    ),
)

_EN = {
    0x90000001: "Contoso Gadget", 0x90000002: "Gadget operational log", 0x90000003: "Chatty",
    0x50000002: "Error", 0x50000003: "Warning", 0x50000004: "Information", 0x30000001: "Start",
    0x30010001: "Handshake", 0x3000000B: "Retry", 0x70000001: "Connect", 0x70000002: "Store",
    0x10000001: "Network", 0x10000002: "Disk", 0x90000010: "Idle", 0x90000011: "Busy", 0x90000012: "Cached",
    0x90000013: "Pinned", 0x90000020: "Contoso Gadget Storage",
    0xB0000001: "Connected to %1 port %2.", 0xB0010001: "Connected to %1 port %2 (handle %3).",
    0xB0000002: "Handshake in progress.", 0xB0000003: "Store failed with %1.", 0xB0000004: "Store retried: %1.",
    0xB0000007: "Wrote %1 bytes.",
}
_DE = {0x90000001: "Contoso-Gerät", 0xB0000001: "Verbunden mit %1 Port %2.", 0xB0000007: "%1 Bytes geschrieben."}
#: Language id -> message id -> text: en-US written as UTF-16 entries, de-DE as ANSI (code page 1252).
MESSAGES = {1033: _EN, 1031: _DE}
ANSI_LANGUAGES = {1031}

#: Events gadget.c writes, by (provider, id, version); the others are defined but never written.
WRITTEN = ((GADGET, 1, 0), (GADGET, 1, 1), (GADGET, 3, 0), (STORAGE, 7, 0))


# ---------------------------------------------------------------------------------------- encoding


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _sized(text: str) -> bytes:
    """A name record: UINT32 size (counting itself and the padding), UTF-16 text, NUL, padding to 4."""
    body = _pad4(b"\0" * 4 + text.encode("utf-16-le") + b"\0\0")[4:]
    return struct.pack("<I", len(body) + 4) + body

class _Layout:
    """Offsets of the entries events point at, filled while elements are laid out."""

    def __init__(self) -> None:
        self.levels: dict[int, int] = {}
        self.opcodes: dict[tuple[int, int], int] = {}
        self.tasks: dict[int, int] = {}
        self.keywords: dict[int, int] = {}
        self.templates: list[int] = []


def _table(sig: str, base: int, entries: list[bytes], names: list[str], name_slot: int, entry_size: int) -> bytes:
    """A table element whose entries hold one name offset each at ``name_slot``."""
    if not entries:
        return sig.encode() + struct.pack("<II", 0, 0)
    at = base + 12 + entry_size * len(entries)
    fixed, blobs = [], []
    for entry, name in zip(entries, names):
        blob = _sized(name)
        fixed.append(entry[:name_slot] + struct.pack("<I", at) + entry[name_slot + 4:])
        blobs.append(blob)
        at += len(blob)
    body = b"".join(fixed) + b"".join(blobs)
    return sig.encode() + struct.pack("<II", 12 + len(body), len(entries)) + body


def _offsets(into: dict, keys: list, base: int, entry_size: int) -> None:
    """Record where each entry of a table element at ``base`` lies, by key: events refer to them by offset."""
    for i, key in enumerate(keys):
        into[key] = base + 12 + entry_size * i


def _element(sig: str, p: WevtProvider, base: int, lay: _Layout) -> bytes:
    if sig == "CHAN":
        return _table(sig, base, [struct.pack("<IIII", c.scope, 0, c.value, c.message_id) for c in p.channels],
                      [c.name for c in p.channels], 4, 16)
    if sig == "LEVL":
        _offsets(lay.levels, [lv.value for lv in p.levels], base, 12)
        return _table(sig, base, [struct.pack("<III", lv.value, lv.message_id, 0) for lv in p.levels],
                      [lv.name for lv in p.levels], 8, 12)
    if sig == "OPCO":
        _offsets(lay.opcodes, [(o.value, o.scope) for o in p.opcodes], base, 12)
        return _table(sig, base, [struct.pack("<III", o.value << 16 | o.scope, o.message_id, 0) for o in p.opcodes],
                      [o.name for o in p.opcodes], 8, 12)
    if sig == "TASK":
        _offsets(lay.tasks, [t.value for t in p.tasks], base, 28)
        return _table(sig, base, [struct.pack("<II", t.value, t.message_id) + guid_bytes(t.guid) + b"\0" * 4
                                  for t in p.tasks], [t.name for t in p.tasks], 24, 28)
    if sig == "KEYW":
        _offsets(lay.keywords, [k.value for k in p.keywords], base, 16)
        return _table(sig, base, [struct.pack("<QII", k.value, k.message_id, 0) for k in p.keywords],
                      [k.name for k in p.keywords], 12, 16)
    if sig == "PRVA":
        at = base + 12 + 8 * len(p.attributes)
        heads, texts = [], []
        for kind, text in p.attributes:
            raw = _pad4(text.encode("utf-16-le") + b"\0\0")
            heads.append(struct.pack("<II", kind, at))
            texts.append(raw)
            at += len(raw)
        body = b"".join(heads) + b"".join(texts)
        return b"PRVA" + struct.pack("<II", 12 + len(body), len(p.attributes)) + body
    if sig == "MAPS":
        n = len(p.maps)
        at = base + 12 + 4 * (n - 1)
        maps, starts = [], []
        for m in p.maps:
            starts.append(at)
            raw = m.kind.encode() + struct.pack("<III", 16 + 8 * len(m.entries), 0, len(m.entries))
            raw += b"".join(struct.pack("<II", v, mid) for v, mid in m.entries)
            maps.append(raw)
            at += len(raw)
        names = []
        for i, m in enumerate(p.maps):
            maps[i] = maps[i][:8] + struct.pack("<I", at) + maps[i][12:]
            blob = _sized(m.name)
            names.append(blob)
            at += len(blob)
        body = b"".join(struct.pack("<I", s) for s in starts[1:]) + b"".join(maps) + b"".join(names)
        return b"MAPS" + struct.pack("<II", 12 + len(body), n) + body
    if sig == "TTBL":
        at = base + 12
        temps = []
        lay.templates = []
        for tpl in p.templates:
            lay.templates.append(at)
            items_at = at + 40 + len(tpl.binxml)
            name_at = items_at + 20 * len(tpl.fields)
            items, names = [], []
            for f in tpl.fields:
                items.append(struct.pack("<IBB10sI", f.head, f.in_type, f.out_type, f.extra, name_at))
                blob = _sized(f.name)
                names.append(blob)
                name_at += len(blob)
            body = tpl.binxml + b"".join(items) + b"".join(names)
            head = b"TEMP" + struct.pack("<IIIII", 40 + len(body), len(tpl.fields), len(tpl.fields),
                                         items_at if tpl.fields else 0, tpl.flags) + guid_bytes(tpl.guid)
            temps.append(head + body)
            at += 40 + len(body)
        body = b"".join(temps)
        return b"TTBL" + struct.pack("<II", 12 + len(body), len(p.templates)) + body
    if sig == "EVNT":
        at = base + 16 + 48 * len(p.events)
        fixed, lists = [], []
        for e in p.events:
            refs = b"".join(struct.pack("<I", lay.keywords.get(m, 0)) for m in e.keywords)
            template = lay.templates[e.template] if e.template is not None and lay.templates else 0
            opcode = lay.opcodes.get((e.opcode, e.task), lay.opcodes.get((e.opcode, 0), 0))
            fixed.append(struct.pack("<HBBBBHQIIIIIIII", e.id, e.version, e.channel, e.level, e.opcode, e.task,
                                     e.keyword, e.message_id, template, opcode, lay.levels.get(e.level, 0),
                                     lay.tasks.get(e.task, 0), len(e.keywords), at if refs else 0, e.flags))
            lists.append(refs)
            at += len(refs)
        body = b"".join(fixed) + b"".join(lists)
        return b"EVNT" + struct.pack("<III", 16 + len(body), len(p.events), 0) + body
    raise ValueError(sig)


def encode_wevt(providers: tuple[WevtProvider, ...] = PROVIDERS, version: tuple[int, int] = CRIM_VERSION) -> bytes:
    """The CRIM blob of ``providers``: elements in each provider's ``order``, events laid out last."""
    blocks = []
    at = 16 + 20 * len(providers)
    for p in providers:
        # Sizes never depend on cross references: a first pass places the elements and records the
        # entry offsets events point at, the second encodes every element with them.
        lay = _Layout()
        offsets: dict[str, int] = {}
        pos = at + 16 + 8 * len(p.order)
        for sig in p.order:
            offsets[sig] = pos
            pos += len(_element(sig, p, pos, lay))
        elements = {sig: _element(sig, p, offsets[sig], lay) for sig in p.order}
        descriptors = b"".join(struct.pack("<II", ELEMENT_TYPES[s], offsets[s]) for s in p.order)
        body = descriptors + b"".join(elements[s] for s in p.order)
        block = b"WEVT" + struct.pack("<III", 16 + len(body), p.message_id, len(p.order)) + body
        blocks.append((p.guid, at, block))
        at += len(block)
    head = b"".join(guid_bytes(g) + struct.pack("<I", offset) for g, offset, _ in blocks)
    out = head + b"".join(block for _, _, block in blocks)
    return b"CRIM" + struct.pack("<IHHI", 16 + len(out), version[0], version[1], len(providers)) + out


def encode_messagetable(messages: dict[int, str], unicode: bool = True) -> bytes:
    """MESSAGE_RESOURCE_DATA the way mc.exe lays it out: one block per run of consecutive ids."""
    runs: list[list[int]] = []
    for message_id in sorted(messages):
        if runs and runs[-1][-1] + 1 == message_id:
            runs[-1].append(message_id)
        else:
            runs.append([message_id])
    entries, offsets = b"", []
    start = 4 + 12 * len(runs)
    for run in runs:
        offsets.append(start + len(entries))
        for message_id in run:
            text = messages[message_id] + "\r\n"
            raw = _pad4(text.encode("utf-16-le") + b"\0\0" if unicode else text.encode("cp1252") + b"\0")
            entries += struct.pack("<HH", len(raw) + 4, 1 if unicode else 0) + raw
    head = struct.pack("<I", len(runs)) + b"".join(struct.pack("<III", r[0], r[-1], o) for r, o in zip(runs, offsets))
    return head + entries


# ---------------------------------------------------------------------------------------- sources

def c_source() -> str:
    """gadget.c: ``gadget.c.in`` with each provider registered and the WRITTEN events written from one exported
    function each."""
    providers, descriptors, writers = [], [], []
    for n, p in enumerate(PROVIDERS):
        providers += [f"const GUID ProviderGuid{n} = {guid_initializer(p.guid)};", f"REGHANDLE RegHandle{n};"]
        for e in p.events:
            if (p.guid, e.id, e.version) in WRITTEN:
                descriptors.append(f"const EVENT_DESCRIPTOR Event{n}_{e.id}_v{e.version} = {{{e.id}, {e.version}, "
                                   f"{e.channel}, {e.level}, {e.opcode}, {e.task}, 0x{e.keyword:x}ULL}};")
                writers += ["", f"__declspec(dllexport) UINT32 GadgetLog{n}_{e.id}_v{e.version}(void)", "{",
                            f"    return EventWrite(RegHandle{n}, &Event{n}_{e.id}_v{e.version}, 0, 0);", "}"]
    registrations = [f"    status |= EventRegister(&ProviderGuid{n}, 0, 0, &RegHandle{n});" for n in range(len(PROVIDERS))]
    return ctemplate.fill(TEMPLATE, providers="\n".join(providers), descriptors="\n".join(descriptors),
                          registrations="\n".join(registrations), writers="\n".join(writers))


def rc_source() -> str:
    out = ["LANGUAGE 9, 1", '1 WEVT_TEMPLATE "gadget.wevt"']
    for lang in sorted(MESSAGES):
        out.append(f"LANGUAGE {lang & 0x3FF}, {lang >> 10}")
        out.append(f'1 11 "gadget.{lang}.msg"')
    return "\n".join(out) + "\n"


CFLAGS = (f"--target={toolchain.TARGET}", "-O2", *toolchain.DEBUG_FLAGS)
LINK = ("/nologo", "/dll", "/noentry", "/nodefaultlib", "/machine:x64", "/Brepro")


def build(out: Path) -> None:
    (out / "gadget.c").write_bytes(c_source().encode())
    (out / "gadget.rc").write_bytes(rc_source().encode())
    (out / "gadget.wevt").write_bytes(encode_wevt())
    for lang, messages in MESSAGES.items():
        (out / f"gadget.{lang}.msg").write_bytes(encode_messagetable(messages, unicode=lang not in ANSI_LANGUAGES))
    (out / "advapi32.def").write_bytes(b"LIBRARY advapi32.dll\nEXPORTS\nEventRegister\nEventWrite\n")
    toolchain.resources(["/fo", "gadget.res", "gadget.rc"], out)
    toolchain.import_library("advapi32.def", "advapi32.lib", out)
    toolchain.compile_c("gadget.c", "gadget.obj", out, CFLAGS, coverage_first=True)
    toolchain.link([*LINK, "/debug", "/pdbaltpath:gadget.pdb", "/pdbsourcepath:.", "/opt:ref", "/opt:noicf",
                    "/out:gadget.dll", "/pdb:gadget.pdb", "gadget.obj", "gadget.res", "advapi32.lib"], out)
    toolchain.link([*LINK, "/out:gadget_res.dll", "gadget.res"], out)
    for leftover in out.iterdir():
        if leftover.name.startswith(("gadget", "advapi32")) and leftover.name not in OUTPUTS:
            leftover.unlink()


FIXTURES = (driver.Fixture("wevt", HERE, OUTPUTS, build,
                           tools=(*toolchain.BUILD_TOOLS, "llvm-dlltool", "llvm-rc"), sources=None),)

if __name__ == "__main__":
    raise SystemExit(driver.main(FIXTURES, __doc__.splitlines()[0]))
