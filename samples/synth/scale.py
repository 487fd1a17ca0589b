"""A large seeded random kernel for benchmarks (the same statement kinds; truth computed the same way)."""

from __future__ import annotations

import random

from samples.synth.constants import HOOKS, MANIFEST_WRITERS, PERF_MASKS, TLG_IN, TLG_WRITERS
from samples.synth.model import (
    T_D,
    T_H,
    T_P,
    T_TE,
    T_U,
    Call,
    E,
    Expr,
    Func,
    Guid,
    Handle,
    If,
    IfEnabled,
    Legacy,
    Model,
    P,
    Raw,
    Sel,
    StackDesc,
    Stmt,
    StructGlobal,
    Tlg,
    TlgEvent,
    TlgField,
    TlgProvider,
    Vol,
    Write,
    WriteString,
    hook,
    mask,
    mk_desc,
)

# ---------------------------------------------------------------------------------------------------------------
# A large random kernel for benchmarks (same statement kinds, seeded, truth computed the same way).
# ---------------------------------------------------------------------------------------------------------------

_WORDS = ("Process", "Thread", "Section", "Token", "Key", "Value", "File", "Device", "Port", "Timer", "Event",
          "Mutant", "Job", "Partition", "Session", "Worker", "Object", "Handle", "Memory", "Page", "Pool", "Image",
          "Driver", "Power", "Registry", "Hive", "Callback", "Context", "Apc", "Dpc", "Queue", "Buffer", "Mdl",
          "Vad", "Cache", "Volume", "Channel", "Transaction", "Enlistment", "Resource", "Profile", "Debug")
_VERBS = ("Query", "Set", "Create", "Open", "Close", "Delete", "Map", "Unmap", "Lock", "Unlock", "Flush", "Read",
          "Write", "Allocate", "Free", "Notify", "Wait", "Signal", "Insert", "Remove", "Reference", "Capture",
          "Validate", "Enumerate", "Trace", "Log", "Update", "Initialize", "Rundown", "Acquire", "Release")
_INTERNAL_PREFIXES = ("Psp", "Mi", "Iop", "Obp", "Cmp", "Exp", "Ki", "Etwp", "Pop", "Sep", "Alpcp", "Wnfp", "Pfp")
_EXPORT_PREFIXES = ("Ps", "Mm", "Io", "Ob", "Ke", "Se", "Ex", "Cm", "Po")


def _rand_guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def build_scale(n_funcs: int, n_writes: int, seed: int, per_file: int) -> Model:
    """A seeded random kernel with n_funcs functions and n_writes write statements."""
    rng = random.Random(seed)
    n_guids = 24
    guids = [Guid(f"SynthProvider{i:02d}Guid", _rand_guid(rng), f"Synthetic-Provider-{i:02d}") for i in range(n_guids)]
    handles = [Handle(f"h{i}", f"EtwpSynth{i:02d}RegHandle", f"EtwpSynth{i:02d}RegHandle", guids[i])
               for i in range(n_guids - 2)]
    h_mem = Handle("mem", "EtwpState.MemoryRegHandle", "EtwpState+0x8", guids[-2])
    h_gen = Handle("gen", "EtwpState.GeneralRegHandle", "EtwpState+0x10", guids[-1])
    state = StructGlobal("EtwpState", "ETWP_STATE", (("MemoryRegHandle", h_mem), ("GeneralRegHandle", h_gen)))
    all_handles = handles + [h_mem, h_gen]
    registrations = [(h.guid, h, "NULL") for h in all_handles]
    descs = []
    for i in range(max(8, n_writes // 4)):
        descs.append(mk_desc(f"SYNTH_EVENT_{i:05d}", rng.randrange(1, 4000), rng.randrange(0, 4),
                             rng.choice((0, 0x08, 0x10, 0x11)), rng.randrange(1, 6), rng.choice((0, 0, 1, 2, 10)),
                             rng.randrange(0, 300), rng.getrandbits(16) | rng.choice((0, 1 << 63, 1 << 62))))
    masks = [mask(n) for n in PERF_MASKS] + [mask("MEMORY", "SESSION")]
    hooks = [hook(n) for n in HOOKS]
    tlg_providers = [TlgProvider(f"_TlgSynth{i}Prov", f"TlgSynth{i}Provider", f"Synthetic.TraceLogging.Provider{i}",
                                 _rand_guid(rng), group=_rand_guid(rng) if i == 0 else "") for i in range(6)]
    tlg_events = []
    for i in range(max(6, n_writes // 25)):
        prov = tlg_providers[i % len(tlg_providers)]
        fields = tuple(TlgField(f"Field{j}", rng.choice((TLG_IN["UINT32"], TLG_IN["UINT64"], TLG_IN["HEXINT32"],
                                                         TLG_IN["UNICODESTRING"], TLG_IN["ANSISTRING"])))
                       for j in range(rng.randrange(0, 4)))
        tlg_events.append(TlgEvent(f"_tlgEvent_Synth{i:04d}", prov, f"SynthEvent{i:04d}", rng.randrange(1, 6),
                                   rng.getrandbits(48), tags=rng.choice((0, 0, 0x2000000, 0x0123457)),
                                   fields=fields))
    events_of = {p: [e for e in tlg_events if e.provider is p] for p in tlg_providers}

    # Function skeletons: level 0 = roots; calls go to deeper levels (plus a few back edges for cycles).
    n_body = n_funcs - 2  # DriverEntry and EtwpInitialize are added by add_init_funcs
    n_roots = max(2, n_body // 10)
    names: set = set()

    def unique(prefix: str) -> str:
        while True:
            name = f"{prefix}{rng.choice(_VERBS)}{rng.choice(_WORDS)}{len(names):05d}"
            if name not in names:
                names.add(name)
                return name

    std_params = [(T_P, "Object"), (T_U, "Flags")]
    specs = []  # (name, level, kind, exported)
    for i in range(n_roots):
        if i % 8 == 7:
            specs.append((unique(rng.choice(_EXPORT_PREFIXES)), 0, "normal", True))
        else:
            specs.append((unique("Nt"), 0, "normal", i % 8 == 3))
    level_weights = (20, 20, 18, 15, 12, 8, 7)
    for _ in range(n_body - n_roots):
        level = rng.choices(range(1, 8), weights=level_weights)[0]
        kind = "normal"
        if level >= 3 and rng.random() < 0.05:
            kind = rng.choice(("desc", "desc", "stackdesc", "hook", "tlg"))
        specs.append((unique(rng.choice(_INTERNAL_PREFIXES)), level, kind, False))
    by_level: dict[tuple[int, str], list[str]] = {}
    for name, level, kind, _ in specs:
        by_level.setdefault((level, kind), []).append(name)
    wrapper_info: dict[str, tuple[str, object]] = {}  # wrapper -> (kind, fixed handle / mask / provider)

    def wrapper_params(kind: str) -> list[tuple[str, str]]:
        if kind == "desc":
            return std_params + [(T_D, "Descriptor")]
        if kind == "stackdesc":
            return std_params + [(T_U, "Spare1"), (T_U, "Spare2"), (T_H, "RegHandle"), (T_D, "Descriptor")]
        if kind == "hook":
            return std_params + [("USHORT", "HookId")]
        return std_params + [(T_TE, "EventMetadata")]

    def wrapper_args(kind: str, target: str, forward: bool) -> list[Expr]:
        base: list[Expr] = [P("Object"), P("Flags")]
        fixed = wrapper_info[target][1]
        if kind == "desc":
            return base + [P("Descriptor") if forward else
                           (Sel("Flags & 1", E(rng.choice(descs)), E(rng.choice(descs))) if rng.random() < 0.2
                            else E(rng.choice(descs)))]
        if kind == "stackdesc":
            if forward:
                return base + [E(0), E(1), P("RegHandle"), P("Descriptor")]
            return base + [E(0), E(1), E(rng.choice(all_handles)), E(rng.choice(descs))]
        if kind == "hook":
            return base + [P("HookId") if forward else E(rng.choice(hooks))]
        assert isinstance(fixed, TlgProvider)
        return base + [P("EventMetadata") if forward else E(rng.choice(events_of[fixed]))]

    for name, _level, kind, _ in specs:
        if kind in ("desc", "stackdesc"):
            wrapper_info[name] = (kind, rng.choice(all_handles))
        elif kind == "hook":
            wrapper_info[name] = (kind, rng.choice(masks))
        elif kind == "tlg":
            wrapper_info[name] = (kind, rng.choice(tlg_providers))

    pools: dict[tuple, list[str]] = {}  # wrapper pools by (first level, kind[, fixed]): rebuilt per call they were quadratic

    def wrappers_from(first: int, kind: str, fixed: object = None) -> list[str]:
        key = (first, kind, id(fixed))
        pool = pools.get(key)
        if pool is None:
            pool = pools[key] = [w for lv in range(first, 8) for w in by_level.get((lv, kind), [])
                                 if fixed is None or wrapper_info[w][1] == fixed]
        return pool

    funcs: list[Func] = []
    for idx, (name, level, kind, exported) in enumerate(specs):
        body: list[Stmt] = [Raw(f"KiSyntheticCounter += (LONG)Flags + {idx};")]
        params = std_params if kind == "normal" else wrapper_params(kind)
        if kind == "normal" and level < 7:
            for _ in range(rng.choices((0, 1, 2, 3), weights=(15, 35, 35, 15))[0]):
                pool = by_level.get((min(7, level + rng.choice((1, 1, 2))), "normal"))
                if pool:
                    body.append(Call(rng.choice(pool), [P("Object"), P("Flags")]))
            if rng.random() < 0.25:
                wkind = rng.choice(("desc", "desc", "stackdesc", "hook", "tlg"))
                pool = wrappers_from(max(3, level + 1), wkind)
                if pool:
                    target = rng.choice(pool)
                    body.append(Call(target, wrapper_args(wkind, target, False)))
            if level > 1 and rng.random() < 0.02:  # back edge: recursion / cycles
                pool = by_level.get((rng.randrange(1, level), "normal"))
                if pool:
                    body.append(If("Flags & 0x100", [Call(rng.choice(pool), [P("Object"), E("Flags >> 1")])]))
        elif kind != "normal":
            fixed = wrapper_info[name][1]
            if kind == "desc":
                body.append(Write(rng.choice(("EtwWrite", "EtwWriteEx", "EtwWriteTransfer")), E(fixed),
                                  P("Descriptor")))
            elif kind == "stackdesc":
                body.append(Write("EtwWriteTransfer", P("RegHandle"), P("Descriptor")))
            elif kind == "hook":
                body.append(Legacy(E(fixed), P("HookId")))
            else:
                body.append(Tlg("_tlgWriteTransfer_EtwWriteTransfer", E(fixed), P("EventMetadata")))
            pool = wrappers_from(level + 1, kind, fixed if kind in ("hook", "tlg") else None)
            if pool and rng.random() < 0.3:  # 2-level wrapper: forward the parameter
                target = rng.choice(pool)
                body.append(Call(target, wrapper_args(kind, target, True)))
        f = Func(name, list(params), body, "", exported, "NTSTATUS", [], "")
        funcs.append(f)

    # Distribute the remaining write statements over ordinary functions (roots included: depth-1 writes).
    normal = [f for f, (_, _, kind, _) in zip(funcs, specs) if kind == "normal"]
    n_direct = max(0, n_writes - sum(1 for f in funcs for _ in f.writes()))
    for _ in range(n_direct):
        f = rng.choice(normal)
        r = rng.random()
        if r < 0.55:
            writer = rng.choices(MANIFEST_WRITERS, weights=(50, 20, 20, 5, 5))[0]
            h: Expr = E(rng.choice(all_handles))
            dsc: Expr = E(rng.choice(descs))
            r2 = rng.random()
            if r2 < 0.15:
                dsc = Sel("Flags & 2", E(rng.choice(descs)), E(rng.choice(descs)))
            elif r2 < 0.25:
                h = Vol(h, T_H)
            elif r2 < 0.3:
                d0 = rng.choice(descs)
                dsc = StackDesc(mk_desc("", d0.id, d0.version, d0.channel, d0.level, d0.opcode, d0.task, d0.keyword,
                                        key=f"stack{len(f.body)}_{f.name}"))
            st: Stmt = Write(writer, h, dsc)
            if rng.random() < 0.2:
                st = IfEnabled(h, dsc, [st])
        elif r < 0.75:
            st = Legacy(E(rng.choice(masks)), E(rng.choice(hooks)))
        elif r < 0.93:
            prov = rng.choice(tlg_providers)
            st = Tlg(rng.choice(TLG_WRITERS), E(prov, via_var=rng.random() < 0.3), E(rng.choice(events_of[prov])))
        else:
            st = WriteString(E(rng.choice(all_handles)), rng.randrange(1, 6), rng.getrandbits(20), "SynthString")
        f.body.insert(rng.randrange(1, len(f.body) + 1), st)

    order = list(range(len(funcs)))
    rng.shuffle(order)
    files: list[str] = []
    for n, i in enumerate(order):
        fname = f"synth{n // per_file:03d}.c"
        funcs[i].file = fname
        if not files or files[-1] != fname:
            files.append(fname)
    files = ["init.c"] + sorted(set(files))
    model = Model("scalekernel", guids, handles, [state], descs, tlg_providers, tlg_events, masks, hooks, funcs,
                  files, registrations, {}, single_header=False)
    return model

