"""Replica kernel: the Windows 11 kernel as the original API-To-ETW script's published output saw it.

``python -m samples.synth replica [--csv PATH] --out DIR [--levels O2,Os]`` reads the published table
(``../shared/reference/api-to-etw-ntoskrnl.exe.csv`` beside the repository, or ``--csv``), builds a model with
the generator's own entities and statements, and writes, builds and (with ``--verify``) checks it like any other
sample:

* every function on every published ``CallPath`` calls the next one (the call graph is the union of the paths);
* every containing function performs the writes of its rows: manifest rows through a GUID global named like
  ``ProviderSymbol``, a REGHANDLE global named like ``ReghandleSymbol`` (registered by ``EtwpInitialize``) and an
  EVENT_DESCRIPTOR global named like ``EventDescriptorSymbol`` with the row's field values (built on the stack
  where the row has fields but no symbol); TraceLogging rows through ``_tlgProvider_t`` objects and ETW0 event
  blobs carrying the provider name, GUID, event name, channel, level, opcode and keyword; legacy rows through
  ``EtwTraceKernelEvent`` with the group mask and hook id that the names denote in ``api_to_etw/etw/ntwmi.py``
  (or the hex value a ``PERF_0x...`` / ``PERFINFO_LOG_TYPE_0x...`` placeholder carries);
* rows the original script could not resolve are left out, each with a reason (``REASONS``).

``replica.json`` beside the sources lists every published row with its fate and holds the replica's ground
truth, computed by the generator's ``compute_truth`` from the model (not from the published table).

The published table is reference data: it is read at generation time and never copied into the repository.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from api_to_etw.etw import ntwmi
from samples import toolchain
from samples.synth import build as synthbuild
from samples.synth import constants, emit, spec, verify
from samples.synth import model as lang
from samples.synth import truth as synthtruth
from samples.synth.write import write_sources

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

CSV_NAME = "api-to-etw-ntoskrnl.exe.csv"
REPLICA_FORMAT = 1
LEGACY_GUID = "Windows Kernel Trace"
DESCRIPTOR_FIELDS = ("Id", "Version", "Channel", "Level", "Opcode", "Task", "Keyword")
# Published WriteFunction of a TraceLogging row -> the helper symbol the replica calls (the analyzer names
# ``_tlgWriteTransfer_EtwWriteTransfer`` ``_tlgWriteTransfer``, as the original script did).
TLG_WRITER_SYMBOLS = {
    "_tlgWriteTransfer": "_tlgWriteTransfer_EtwWriteTransfer",
    "_tlgWriteEx": "_tlgWriteEx_EtwWriteEx",
    "_tlgWriteAgg": "_tlgWriteAgg",
}
REASONS = {
    "provider_unknown": "ProviderGuid is ??? (or not a GUID): the original script did not recover the provider, "
                        "so there is no GUID to register",
    "event_unknown": "no EventDescriptorSymbol and no descriptor fields (manifest), or no event name "
                     "(TraceLogging): the original script did not recover the event",
    "legacy_unknown": "legacy row with an empty WriteFunction, group mask or hook name: the original script did "
                      "not recover the EtwTraceKernelEvent arguments",
    "legacy_name_unknown": "a group mask or hook name that is neither in api_to_etw/etw/ntwmi.py nor a hex "
                           "placeholder (PERF_0x..., PERFINFO_LOG_TYPE_0x...)",
    "reghandle_unknown": "manifest row without a ReghandleSymbol (a local handle): not modelled",
    "writer_unknown": "a WriteFunction the generator's ETW API does not implement",
    "not_c_identifier": "a manifest ProviderSymbol, ReghandleSymbol or EventDescriptorSymbol that cannot name a C "
                        "global, or a TraceLogging provider name that cannot be a plain C string",
}
# File of a function, by name prefix (everything else goes to ke.c).
FILE_PREFIXES = (
    ("nt.c", ("Nt",)),
    ("mm.c", ("Mi", "Mm", "Pf")),
    ("cm.c", ("Cm", "Hv")),
    ("po.c", ("Po", "Ttm", "Ppm")),
    ("etw.c", ("Etw",)),
    ("io.c", ("Io", "Pnp", "Bapd", "Dbgk")),
)
FILE_DOCS = {
    "init.c": "DriverEntry, provider registration and the system service table",
    "nt.c": "the published syscalls (Nt*), none exported",
    "mm.c": "memory manager functions on the published call paths",
    "cm.c": "configuration manager and hive functions on the published call paths",
    "po.c": "power manager functions on the published call paths",
    "etw.c": "ETW logging helpers on the published call paths",
    "io.c": "I/O, PnP, boot and debugger functions on the published call paths",
    "ke.c": "kernel, executive, process, object and security functions on the published call paths",
}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_C_STRING = re.compile(r'^[ !#-\[\]-~]+$')  # printable ASCII without '"' and '\\' (a TraceLogging provider name)
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_HEX_MASK = re.compile(r"^PERF_0x([0-9A-Fa-f]+)$")
_HEX_HOOK = re.compile(r"^PERFINFO_LOG_TYPE_0x([0-9A-Fa-f]+)$")


# Names -> values, from the project's own ntwmi.h tables (a name without prefix is unique in each table).
_MASK_BY_NAME = {name: value for value, name in ntwmi.GROUP_MASKS.items()}
_MASK_BY_NAME.update({alias: value for value, aliases in ntwmi.GROUP_MASK_ALIASES.items() for alias in aliases})
_HOOK_BY_NAME = {name: value for value, name in ntwmi.HOOK_IDS.items()}


def default_csv() -> Path:
    """``../shared/reference/<csv>`` beside the repository (``API_TO_ETW_SHARED`` overrides ``../shared``)."""
    shared = os.environ.get("API_TO_ETW_SHARED")
    return (Path(shared) if shared else REPO.parent / "shared") / "reference" / CSV_NAME


@dataclass(frozen=True)
class ReplicaHook(lang.Hook):
    """A hook id named from the project's ntwmi tables (any EVENT_TRACE_GROUP, unnamed values in hex)."""

    label: str = ""
    group_label: str = ""

    @property
    def name(self) -> str:
        return self.label

    @property
    def group(self) -> str:
        return self.group_label


def read_published(path: Path) -> list[dict]:
    """The published rows, with their CSV line number."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        rows = []
        for row in reader:
            row = {k: (v or "").strip() for k, v in row.items()}
            row["line"] = reader.line_num
            rows.append(row)
    if not rows or "CallPath" not in rows[0]:
        raise lang.ModelError(f"{path.name}: not the published table (no CallPath column)")
    return rows


def call_path(row: dict) -> list[str]:
    text = row["CallPath"].strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    path = [p.strip() for p in text.split("->") if p.strip()]
    if not path or path[0] != row["Function"] or path[-1] != row["ContainingFunction"]:
        raise lang.ModelError(f"line {row['line']}: CallPath does not run from Function to ContainingFunction")
    return path


def _mask_value(name: str) -> Optional[int]:
    """Invert a published group-mask name (``MEMINFO``, ``A|B``, ``PERF_0x20400001``) with the ntwmi tables."""
    m = _HEX_MASK.match(name)
    if m:
        return int(m.group(1), 16)
    value = 0
    for part in name.split("|"):
        if re.fullmatch(r"0x[0-9A-Fa-f]+", part):
            value |= int(part, 16)
        elif part in _MASK_BY_NAME:
            value |= _MASK_BY_NAME[part]
        else:
            return None
    return value


def _hook_value(name: str) -> Optional[int]:
    m = _HEX_HOOK.match(name)
    if m:
        return int(m.group(1), 16)
    return _HOOK_BY_NAME.get(name)


def _placeholder(name: str) -> bool:
    return bool(_HEX_MASK.match(name) or _HEX_HOOK.match(name))


def classify(row: dict) -> dict:
    """The fate of one published row: {"fate", "reason"} plus, for legacy rows, the recovered values."""
    guid, writer = row["ProviderGuid"], row["WriteFunction"]
    event = row["EventDescriptorSymbol"]
    if guid == LEGACY_GUID:
        if not writer or not row["ProviderSymbol"] or not event:
            return {"fate": "left_out", "reason": "legacy_unknown"}
        if writer != constants.LEGACY_WRITER:
            return {"fate": "left_out", "reason": "writer_unknown"}
        mask, hook = _mask_value(row["ProviderSymbol"]), _hook_value(event)
        if mask is None or hook is None:
            return {"fate": "left_out", "reason": "legacy_name_unknown"}
        return {"fate": "reproduced", "kind": "legacy", "GroupMask": mask, "HookId": hook,
                "by_value": _placeholder(row["ProviderSymbol"]) or _placeholder(event)}
    if not _GUID.match(guid):
        return {"fate": "left_out", "reason": "provider_unknown"}
    fields = [row[f] for f in DESCRIPTOR_FIELDS]
    if writer.startswith("_tlg"):
        if not row["ProviderSymbol"]:
            return {"fate": "left_out", "reason": "provider_unknown"}
        if not event or any(row[f] in ("", "-") for f in ("Channel", "Level", "Opcode", "Keyword")):
            return {"fate": "left_out", "reason": "event_unknown"}
        if writer not in TLG_WRITER_SYMBOLS:
            return {"fate": "left_out", "reason": "writer_unknown"}
        if not _C_STRING.match(row["ProviderSymbol"]):
            return {"fate": "left_out", "reason": "not_c_identifier"}
        return {"fate": "reproduced", "kind": "tracelogging", "by_value": False}
    if any(f in ("", "-") for f in fields):  # no symbol and no fields, or a symbol without its fields
        return {"fate": "left_out", "reason": "event_unknown"}
    if writer not in constants.MANIFEST_WRITERS:
        return {"fate": "left_out", "reason": "writer_unknown"}
    if not row["ReghandleSymbol"]:
        return {"fate": "left_out", "reason": "reghandle_unknown"}
    names = [row["ProviderSymbol"], row["ReghandleSymbol"]] + ([event] if event else [])
    if not all(_IDENT.match(n) for n in names):
        return {"fate": "left_out", "reason": "not_c_identifier"}
    return {"fate": "reproduced", "kind": "manifest", "by_value": False}


def _file_of(name: str) -> str:
    for fname, prefixes in FILE_PREFIXES:
        if name.startswith(prefixes):
            return fname
    return "ke.c"


class _Entities:
    """The replica's providers, handles, descriptors, TraceLogging objects and legacy values, one per name."""

    def __init__(self) -> None:
        self.guids: dict[str, lang.Guid] = {}
        self.handles: dict[str, lang.Handle] = {}
        self.descs: dict[str, lang.Desc] = {}
        self.tlg_providers: dict[str, lang.TlgProvider] = {}
        self.tlg_events: dict[tuple, lang.TlgEvent] = {}
        self.masks: dict[int, lang.Mask] = {}
        self.hooks: dict[int, ReplicaHook] = {}

    def guid(self, sym: str, value: str) -> lang.Guid:
        g = self.guids.setdefault(sym, lang.Guid(sym, value, sym))
        if g.value != value:
            raise lang.ModelError(f"{sym} names two GUIDs ({g.value}, {value})")
        return g

    def handle(self, sym: str, guid: lang.Guid) -> lang.Handle:
        h = self.handles.setdefault(sym, lang.Handle(sym, sym, sym, guid))
        if h.guid != guid:
            raise lang.ModelError(f"{sym} is registered for two providers ({h.guid.sym}, {guid.sym})")
        return h

    def desc(self, row: dict) -> lang.Desc:
        vals = [int(row[f], 16) if f == "Keyword" else int(row[f]) for f in DESCRIPTOR_FIELDS]
        id_, version, channel, level, opcode, task, keyword = vals
        sym = row["EventDescriptorSymbol"]
        if not sym:  # fields but no symbol: a descriptor built on the stack of the containing function
            return lang.mk_desc("", id_, version, channel, level, opcode, task, keyword,
                                key=f"{row['ContainingFunction']}:{':'.join(map(str, vals))}")
        d = self.descs.setdefault(sym, lang.mk_desc(sym, id_, version, channel, level, opcode, task, keyword))
        if [d.id, d.version, d.channel, d.level, d.opcode, d.task, d.keyword] != vals:
            raise lang.ModelError(f"descriptor {sym} has two sets of field values")
        return d

    def tlg_provider(self, name: str, guid: str) -> lang.TlgProvider:
        if name not in self.tlg_providers:
            n = len(self.tlg_providers)
            stem = emit.c_escape_name(name)
            self.tlg_providers[name] = lang.TlgProvider(f"_tlgProv{n:02d}_{stem}", f"TlgProv{n:02d}_{stem}", name,
                                                       guid)
        p = self.tlg_providers[name]
        if p.guid != guid:
            raise lang.ModelError(f"TraceLogging provider {name} has two GUIDs ({p.guid}, {guid})")
        return p

    def tlg_event(self, row: dict, provider: lang.TlgProvider) -> lang.TlgEvent:
        channel, level, opcode = int(row["Channel"]), int(row["Level"]), int(row["Opcode"])
        keyword = int(row["Keyword"], 16)
        key = (provider.name, row["EventDescriptorSymbol"], channel, level, opcode, keyword)
        if key not in self.tlg_events:
            n = len(self.tlg_events)
            sym = f"_tlgEvent{n:03d}_{emit.c_escape_name(row['EventDescriptorSymbol'])}"
            self.tlg_events[key] = lang.TlgEvent(sym, provider, row["EventDescriptorSymbol"], level, keyword,
                                                opcode=opcode, channel=channel)
        return self.tlg_events[key]

    def mask(self, value: int) -> lang.Mask:
        return self.masks.setdefault(value, lang.Mask(value, ntwmi.group_mask_name(value), f"0x{value:08x}"))

    def hook(self, value: int) -> ReplicaHook:
        return self.hooks.setdefault(value, ReplicaHook(value, f"0x{value:04x}", ntwmi.hook_name(value),
                                                        ntwmi.hook_group_name(value)))


def write_statement(row: dict, fate: dict, ents: _Entities) -> tuple[tuple, lang.Stmt]:
    """(identity, statement) of the write a reproduced row stands for."""
    kind = fate["kind"]
    if kind == "legacy":
        m, k = ents.mask(fate["GroupMask"]), ents.hook(fate["HookId"])
        return ("legacy", m.value, k.value), lang.Legacy(lang.E(m), lang.E(k))
    if kind == "tracelogging":
        p = ents.tlg_provider(row["ProviderSymbol"], row["ProviderGuid"])
        e = ents.tlg_event(row, p)
        writer = TLG_WRITER_SYMBOLS[row["WriteFunction"]]
        return ("tracelogging", writer, e.sym), lang.Tlg(writer, lang.E(p), lang.E(e))
    g = ents.guid(row["ProviderSymbol"], row["ProviderGuid"])
    h = ents.handle(row["ReghandleSymbol"], g)
    d = ents.desc(row)
    desc_expr = lang.E(d) if d.sym else lang.StackDesc(d)
    return ("manifest", row["WriteFunction"], h.key, d), lang.Write(row["WriteFunction"], lang.E(h), desc_expr)


def _reserved_identifiers() -> set[str]:
    """Identifiers the emitted sources already use (types, macros, the ETW API, init globals)."""
    text = "".join(emit.template(n) for n in ("kernel_types.h", "kernel_api.h", "etwapi.c"))
    names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    names |= {"PERF_" + n for n in constants.PERF_MASKS} | {"EVENT_TRACE_GROUP_" + n for n in constants.EVENT_TRACE_GROUPS.values()}
    names |= {"KiSyntheticCounter", "KeServiceTableBase", "KeServiceTableLimit", "EtwpScenarioActivityId",
              "KiServiceTable", "DriverEntry", "EtwpInitialize", "_TraceLoggingMetadata", "_TraceLoggingMetadataEnd"}
    return names


def build_replica(rows: list[dict], name: str = "replica") -> tuple[lang.Model, list[dict]]:
    """The replica model and, per published row, its fate."""
    fates = [classify(r) for r in rows]
    edges: dict[str, set[str]] = {}
    first_seen: dict[str, int] = {}
    for r in rows:
        path = call_path(r)
        if len(set(path)) != len(path):
            raise lang.ModelError(f"line {r['line']}: CallPath is not simple")
        for f in path:
            edges.setdefault(f, set())
            first_seen.setdefault(f, r["line"])
        for a, b in zip(path, path[1:]):
            edges[a].add(b)
    bad = sorted(set(edges) & (constants.ETW_API | {"DriverEntry", "EtwpInitialize"}))
    if bad:
        raise lang.ModelError(f"published call paths name functions the replica defines itself: {bad}")

    ents = _Entities()
    writes: dict[str, dict[tuple, lang.Stmt]] = {f: {} for f in edges}
    for r, fate in zip(rows, fates):
        if fate["fate"] == "reproduced":
            ident, stmt = write_statement(r, fate, ents)
            writes[r["ContainingFunction"]].setdefault(ident, stmt)

    funcs = []
    for idx, fname in enumerate(sorted(edges)):
        body: list[lang.Stmt] = [lang.Raw(f"KiSyntheticCounter += (LONG)(ULONG_PTR)Object + {idx + 1};")]
        body += list(writes[fname].values())
        body += [lang.Call(callee, [lang.P("Object")]) for callee in sorted(edges[fname])]
        doc = (f"calls {len(edges[fname])} function(s) and writes {len(writes[fname])} event(s) "
               f"(first on published CSV line {first_seen[fname]})")
        funcs.append(lang.Func(fname, [(lang.T_P, "Object")], body, _file_of(fname), doc=doc))

    handles = sorted(ents.handles.values(), key=lambda h: h.c)
    model = lang.Model(
        name=name,
        guids=sorted(ents.guids.values(), key=lambda g: g.sym),
        handles=handles,
        structs=[],
        descs=sorted(ents.descs.values(), key=lambda d: d.sym),
        tlg_providers=list(ents.tlg_providers.values()),
        tlg_events=list(ents.tlg_events.values()),
        masks=sorted(ents.masks.values(), key=lambda m: m.value),
        hooks=[],  # values are written as hex literals; kernel.h defines no per-hook macros
        funcs=funcs,
        files=["init.c"] + [f for f, _ in FILE_PREFIXES] + ["ke.c"],
        registrations=[(h.guid, h, "NULL") for h in handles],
        file_docs=dict(FILE_DOCS),
    )
    spec.add_init_funcs(model)

    globals_ = ([g.sym for g in model.guids] + [h.c for h in model.handles] + [d.sym for d in model.descs]
                + [p.sym for p in model.tlg_providers] + [p.handle_var for p in model.tlg_providers]
                + [e.sym for e in model.tlg_events])
    clash = (set(globals_) & set(edges)) | (set(globals_ + list(edges)) & _reserved_identifiers())
    dup = {g for g in globals_ if globals_.count(g) > 1}
    if clash or dup:
        raise lang.ModelError(f"replica names clash: {sorted(clash | dup)[:10]}")
    return model, fates


def published_record(row: dict, fate: dict) -> dict:
    out = {"line": row["line"]}
    out.update({k: v for k, v in row.items() if k != "line"})
    out["fate"] = fate["fate"]
    out["reason"] = fate.get("reason")
    if fate["fate"] == "reproduced":
        out["by_value"] = fate["by_value"]
        if fate["kind"] == "legacy":
            out["GroupMask"] = fate["GroupMask"]
            out["HookId"] = fate["HookId"]
    return out


def summarize_fates(records: list[dict]) -> dict:
    reasons: dict[str, int] = {}
    for r in records:
        if r["fate"] == "left_out":
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    reproduced = [r for r in records if r["fate"] == "reproduced"]
    return {"published": len(records), "reproduced": len(reproduced),
            "reproduced_by_value": sum(1 for r in reproduced if r["by_value"]),
            "left_out": sum(reasons.values()), "left_out_by_reason": dict(sorted(reasons.items()))}


def write_replica(csv_path: Path, out: Path, seed: int = constants.DEFAULT_SEED) -> tuple[lang.Model, dict]:
    """Write the replica's sources and replica.json into ``out``; returns the model and the replica.json data."""
    rows = read_published(csv_path)
    model, fates = build_replica(rows, out.name)
    truth = synthtruth.compute_truth(model)
    digest = hashlib.sha256(csv_path.read_bytes()).hexdigest()
    truth["generator"] = {"kind": "replica", "csv": csv_path.name, "csv_sha256": digest}
    write_sources(model, out, seed)
    records = [published_record(r, f) for r, f in zip(rows, fates)]
    data = {
        "format": REPLICA_FORMAT,
        "sample": out.name,
        "csv": {"name": csv_path.name, "sha256": digest, "rows": len(rows)},
        "reasons": REASONS,
        "counts": summarize_fates(records),
        "published": records,
        "truth": truth,
    }
    lines = ["{"]
    for k in ("format", "sample", "csv", "reasons", "counts"):
        lines.append(f"  {json.dumps(k)}: {json.dumps(data[k])},")
    lines.append('  "published": [')
    lines.append(",\n".join("    " + json.dumps(r) for r in records))
    lines.append("  ],")
    lines.append('  "truth": {')
    tkeys = list(truth)
    for i, k in enumerate(tkeys):
        sep = "," if i < len(tkeys) - 1 else ""
        if isinstance(truth[k], list) and k != "generator":
            items = ",\n".join("      " + json.dumps(x) for x in truth[k])
            lines.append(f"    {json.dumps(k)}: [\n{items}\n    ]{sep}" if items else f"    {json.dumps(k)}: []{sep}")
        else:
            lines.append(f"    {json.dumps(k)}: {json.dumps(truth[k])}{sep}")
    lines.append("  }")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)
    (out / "replica.json").write_text(text, newline="\n")
    return model, data


def cmd_replica(args: argparse.Namespace) -> int:
    csv_path = Path(args.csv) if args.csv else default_csv()
    if not csv_path.is_file():
        print(f"error: {csv_path} not found (the published table; pass --csv PATH)", file=sys.stderr)
        return 2
    out = Path(args.out)
    where = out.resolve()
    if where.is_relative_to(REPO) and not where.is_relative_to(REPO / "benchmarks" / "scratch"):
        print("error: the replica is built from reference data and stays out of the repository: use a temp dir "
              "or benchmarks/scratch/ (git-ignored)", file=sys.stderr)
        return 2
    levels = tuple(x for x in args.levels.split(",") if x)
    unknown = [lv for lv in levels if lv not in constants.OPT_LEVELS]
    if unknown:
        print(f"error: unknown levels {unknown} (choose from {', '.join(constants.OPT_LEVELS)})", file=sys.stderr)
        return 2
    start = time.monotonic()
    model, data = write_replica(csv_path, out)
    c = data["counts"]
    print(f"wrote {out} in {time.monotonic() - start:.1f}s: {c['published']} published rows, {c['reproduced']} "
          f"reproduced ({c['reproduced_by_value']} by value), {c['left_out']} left out {c['left_out_by_reason']}")
    print(f"  replica: {synthtruth.summarize(data['truth'])}")
    if args.no_build or not levels:
        return 0
    missing = toolchain.missing()
    if missing:
        print(f"error: {', '.join(missing)} not found on PATH", file=sys.stderr)
        return 2
    secs = synthbuild.build_sample(out, levels, args.jobs)
    print(f"built {out.name} ({', '.join(levels)}) in {secs:.1f}s")
    if not args.verify:
        return 0
    errors, _ = verify.verify_sample(out, model, data["truth"], levels, patterns=False)
    for e in errors:
        print("error:", e, file=sys.stderr)
    print(f"{out.name}: {len(errors)} edge/API/value mismatches ({', '.join(levels)})")
    return 1 if errors else 0

