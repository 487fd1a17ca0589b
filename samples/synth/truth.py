"""Ground truth from a model alone: every (root, provider, event, containing function) within the depth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from samples.synth.constants import ETW_API, ETW_API_EXPORTED, LEGACY_WRITER, MAX_DEPTH, STRING_WRITER, TRUTH_FORMAT
from samples.synth.model import (
    Call,
    Desc,
    Env,
    Func,
    Handle,
    Hook,
    Legacy,
    Mask,
    Model,
    ModelError,
    Stmt,
    Tlg,
    TlgEvent,
    TlgProvider,
    Write,
    WriteString,
)

# ---------------------------------------------------------------------------------------------------------------
# Ground truth.
# ---------------------------------------------------------------------------------------------------------------

ROW_KEYS = ("Function", "Kind", "ProviderGuid", "ProviderSymbol", "ProviderName", "ReghandleSymbol", "WriteFunction",
            "EventDescriptorSymbol", "Id", "Version", "Channel", "Level", "Opcode", "Task", "Keyword", "GroupMask",
            "HookId", "ContainingFunction", "CallDepth", "CallPath")
EVENT_KEYS = ROW_KEYS[1:17]


T = TypeVar("T")


def base_row(kind: str, writer: str) -> dict:
    return {"Kind": kind, "ProviderGuid": "", "ProviderSymbol": "", "ProviderName": "", "ReghandleSymbol": "",
            "WriteFunction": writer, "EventDescriptorSymbol": "", "Id": None, "Version": None, "Channel": None,
            "Level": None, "Opcode": None, "Task": None, "Keyword": None, "GroupMask": None, "HookId": None}


def only(values: frozenset[object], kind: type[T], what: str, func: Func) -> list[T]:
    """The values, sorted, each of ``kind`` (anything else is a model error)."""
    out: list[T] = []
    for v in sorted(values, key=repr):
        if not isinstance(v, kind):
            raise ModelError(f"{func.name}: {what} evaluates to {v!r}, not a {kind.__name__}")
        out.append(v)
    return out


def write_rows(st: Stmt, env: Env, func: Func) -> list[dict]:
    """The (provider, event) rows one write statement yields under a parameter environment."""
    rows = []
    if isinstance(st, Write):
        for h in only(st.handle.ev(env, func), Handle, "handle", func):
            for dsc in only(st.desc.ev(env, func), Desc, "descriptor", func):
                r = base_row("manifest", st.writer)
                r.update(ProviderGuid=h.guid.value, ProviderSymbol=h.guid.sym, ReghandleSymbol=h.symbol,
                         EventDescriptorSymbol=dsc.sym, Id=dsc.id, Version=dsc.version, Channel=dsc.channel,
                         Level=dsc.level, Opcode=dsc.opcode, Task=dsc.task, Keyword=dsc.keyword)
                rows.append(r)
    elif isinstance(st, WriteString):
        for h in only(st.handle.ev(env, func), Handle, "handle", func):
            r = base_row("manifest", STRING_WRITER)
            r.update(ProviderGuid=h.guid.value, ProviderSymbol=h.guid.sym, ReghandleSymbol=h.symbol,
                     Level=st.level, Keyword=st.keyword)
            rows.append(r)
    elif isinstance(st, Legacy):
        for m in only(st.mask.ev(env, func), Mask, "group mask", func):
            for k in only(st.hook.ev(env, func), Hook, "hook id", func):
                r = base_row("legacy", LEGACY_WRITER)
                r.update(ProviderGuid="Windows Kernel Trace", ProviderSymbol=m.name, ReghandleSymbol=k.group,
                         EventDescriptorSymbol=k.name, GroupMask=m.value, HookId=k.value)
                rows.append(r)
    elif isinstance(st, Tlg):
        provs = only(st.provider.ev(env, func), TlgProvider, "TraceLogging provider", func)
        for e in only(st.event.ev(env, func), TlgEvent, "TraceLogging event", func):
            if e.provider not in provs:
                raise ModelError(f"{func.name}: event {e.name} written through another provider")
            r = base_row("tracelogging", st.writer)
            r.update(ProviderGuid=e.provider.guid, ProviderSymbol=e.provider.name, ProviderName=e.provider.name,
                     EventDescriptorSymbol=e.name, Channel=e.channel, Level=e.level, Opcode=e.opcode,
                     Keyword=e.keyword)
            rows.append(r)
    return rows


def bind(callee: Func, call: Call, env: Env, caller: Func) -> Env:
    if len(call.args) != len(callee.params):
        raise ModelError(f"{caller.name} calls {callee.name} with {len(call.args)} arguments, "
                         f"expected {len(callee.params)}")
    out: Env = {}
    for (_, pname), arg in zip(callee.params, call.args):
        try:
            out[pname] = arg.ev(env, caller)
        except ModelError:
            out[pname] = None  # unbound: an error only if a write depends on it
    return out


def compute_truth(model: Model, max_depth: int = MAX_DEPTH, beyond: int = 0) -> dict:
    """Rows for every (root, provider, event, containing function) reachable in at most max_depth functions.

    With beyond > max_depth, rows whose shortest path is longer than max_depth but at most `beyond` are listed
    separately under rows_beyond_max_depth (they must not appear with the default depth)."""
    funcs = {f.name: f for f in model.funcs}
    if len(funcs) != len(model.funcs):
        raise ModelError("duplicate function names")
    # Each function's statements walked once (a visit per call path re-walked them: most of a scale kernel's truth).
    calls_of = {f.name: f.calls() for f in model.funcs}
    writes_of = {f.name: f.writes() for f in model.funcs}
    edges = set()
    for f in model.funcs:
        for c in calls_of[f.name]:
            if c.callee in ETW_API:
                raise ModelError(f"{f.name}: call {c.callee} through a write statement, not Call")
            if c.callee not in funcs:
                raise ModelError(f"{f.name} calls unknown {c.callee}")
            edges.add((f.name, c.callee))
    best: dict[tuple, tuple[int, list[str]]] = {}
    roots = sorted(f.name for f in model.funcs if f.is_root)

    def visit(root: str, func: Func, env: Env, path: list[str]) -> None:
        depth = len(path)
        for st in writes_of[func.name]:
            for r in write_rows(st, env, func):
                key = (root,) + tuple(r[k] for k in EVENT_KEYS) + (func.name,)
                cand = (depth, list(path))
                if key not in best or cand < best[key]:
                    best[key] = cand
        if depth >= limit:
            return
        for c in calls_of[func.name]:
            if c.callee in path:
                continue  # call paths are simple; recursion adds no shorter path
            callee = funcs[c.callee]
            visit(root, callee, bind(callee, c, env, func), path + [c.callee])

    limit = max(max_depth, beyond)
    for root in roots:
        visit(root, funcs[root], {}, [root])

    rows = []
    for key, (depth, path) in best.items():
        r = {"Function": key[0]}
        r.update(zip(EVENT_KEYS, key[1:-1]))
        r["ContainingFunction"] = key[-1]
        r["CallDepth"] = depth
        r["CallPath"] = path
        rows.append({k: r[k] for k in ROW_KEYS})
    rows.sort(key=row_sort_key)
    deep = [r for r in rows if r["CallDepth"] > max_depth]
    rows = [r for r in rows if r["CallDepth"] <= max_depth]
    api = [{"name": n, "exported": n in ETW_API_EXPORTED, "root": False, "etw_api": True} for n in ETW_API]
    functions = [{"name": f.name, "exported": f.exported, "root": f.is_root, "etw_api": False} for f in model.funcs]
    return {
        "format": TRUTH_FORMAT,
        "max_depth": max_depth,
        "sample": model.name,
        "functions": sorted(functions + api, key=lambda x: x["name"]),
        "edges": sorted([a, b] for a, b in edges),
        "rows": rows,
        "rows_beyond_max_depth": deep,
        "beyond_depth": limit,
        "tracelogging": {
            "providers": [{"guid": p.guid, "name": p.name, "group_guid": p.group or None,
                           "symbol": p.sym} for p in sorted(model.tlg_providers, key=lambda p: p.name)],
            "events": [{"provider_guid": e.provider.guid, "provider": e.provider.name, "name": e.name,
                        "channel": e.channel, "level": e.level, "opcode": e.opcode, "keyword": e.keyword,
                        "tags": e.tags,
                        "fields": [{"name": f.name, "in_type": f.in_type, "out_type": f.out_type, "tags": f.tags,
                                    "count": f.count} for f in e.fields]}
                       for e in sorted(model.tlg_events, key=lambda e: (e.provider.name, e.name))],
        },
    }


def row_sort_key(r: dict) -> tuple:
    return tuple("" if r[k] is None else (str(r[k]) if not isinstance(r[k], int) else f"{r[k]:020d}")
                 for k in ROW_KEYS)


def write_truth(truth: dict, path: Path) -> None:
    """One row per line keeps the file reviewable and diffs small."""
    lines = ["{"]
    lists = ("functions", "edges", "rows", "rows_beyond_max_depth")
    keys = [k for k in truth if k not in lists + ("tracelogging",)]
    for k in keys:
        lines.append(f"  {json.dumps(k)}: {json.dumps(truth[k])},")
    for k in lists:
        lines.append(f"  {json.dumps(k)}: [")
        items = [("    " + json.dumps(x)) for x in truth[k]]
        lines.append(",\n".join(items))
        lines.append("  ],")
    lines.append('  "tracelogging": ' + json.dumps(truth["tracelogging"], indent=2).replace("\n", "\n  "))
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)
    path.write_text(text, newline="\n")



def summarize(truth: dict) -> str:
    funcs = [f for f in truth["functions"] if not f["etw_api"]]
    roots = [f for f in funcs if f["root"]]
    kinds: dict[str, int] = {}
    writers: dict[str, int] = {}
    for r in truth["rows"]:
        kinds[r["Kind"]] = kinds.get(r["Kind"], 0) + 1
        writers[r["WriteFunction"]] = writers.get(r["WriteFunction"], 0) + 1
    depth = max((r["CallDepth"] for r in truth["rows"]), default=0)
    return (f"{len(funcs)} functions ({len(roots)} roots, {sum(f['exported'] for f in funcs)} exported), "
            f"{len(truth['edges'])} edges, {len(truth['rows'])} rows {dict(sorted(kinds.items()))}, "
            f"max depth {depth}, writers {dict(sorted(writers.items()))}")

