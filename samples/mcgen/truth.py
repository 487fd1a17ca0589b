"""The rows the analyzer must report on an mc.exe-style image, computed from its model alone.

The event site of a write is the function whose code names the descriptor (the ``EventWrite<Event>`` macro's
caller); its call path ends with the template and McGenEventWrite. API roots are the exports. A (provider,
event, event site) reached by an API root within ``--max-depth`` 5 gets one row per such root (``Entry`` =
``export``); otherwise one row per outermost entry point reaching the site within the depth (``Function`` =
that entry point, ``Entry`` = its kinds), else one row with ``Function`` = the event site and ``Entry`` =
``unreached``. ``Ioctl``: for an IRP_MJ_DEVICE_CONTROL routine, the IOCTL codes of the switch cases whose code
leads to the event. (README.md's output section documents these columns.)
"""

from __future__ import annotations

from collections import deque
from typing import Optional

from samples.mcgen.model import LEVELS, Func, Image

MAX_DEPTH = 5
TRUTH_FORMAT = 1


def truth(image: Image) -> dict:
    """The rows the analyzer must report, from the model (see the module docstring for the rules)."""
    funcs = {f.name: f for f in image.functions}
    callers: dict[str, list[str]] = {}
    for func in image.functions:
        for callee in func.calls:
            callers.setdefault(callee, []).append(func.name)
    events = {e.symbol: e for e in image.events}
    rows = []
    for site in image.functions:
        for symbol in site.writes:
            event = events[symbol]
            suffix = 3 if event.args else 2  # site -> [template ->] McGenEventWrite
            budget = MAX_DEPTH - suffix
            dist: dict[str, int] = {site.name: 0}
            nxt: dict[str, Optional[str]] = {site.name: None}
            queue = deque([site.name])
            while queue:
                node = queue.popleft()
                if dist[node] >= budget:
                    continue
                for caller in sorted(callers.get(node, [])):
                    if caller not in dist:
                        dist[caller], nxt[caller] = dist[node] + 1, node
                        queue.append(caller)
            roots = [r for r in dist if funcs[r].exported]
            if not roots:
                reaching = [r for r in dist if funcs[r].entries]
                inner = {r for r in reaching for other in reaching if other != r and _reaches(funcs, other, r)}
                roots = [r for r in reaching if r not in inner]
            for root in sorted(roots):
                rows.append({"Function": root, "Entry": sorted(funcs[root].entries), "EventSite": site.name,
                             "Ioctl": _ioctl_along(funcs, root, nxt, symbol),
                             "ProviderGuid": image.guid, "EventDescriptorSymbol": symbol, "Id": event.id})
            if not roots:
                rows.append({"Function": site.name, "Entry": ["unreached"], "EventSite": site.name, "Ioctl": "",
                             "ProviderGuid": image.guid, "EventDescriptorSymbol": symbol, "Id": event.id})
    rows.sort(key=lambda r: (r["Function"], r["Id"], r["EventSite"]))
    return {
        "format": TRUTH_FORMAT, "sample": image.name, "file": image.file, "mode": image.mode,
        "max_depth": MAX_DEPTH, "levels": list(LEVELS),
        "provider": {"name": image.provider, "guid": image.guid, "symbol": image.symbol},
        "events": [{"symbol": e.symbol, "id": e.id, "version": e.version, "channel": e.channel, "level": e.level,
                    "opcode": e.opcode, "task": e.task, "keyword": e.keyword, "template": e.args,
                    **({"patched_level": e.patched_level} if e.patched_level is not None else {})}
                   for e in image.events],
        "functions": [{"name": f.name, "exported": f.exported, "entries": f.entries, "calls": f.calls,
                       "writes": f.writes} for f in image.functions],
        "rows": rows,
    }


def _reaches(funcs: dict[str, Func], start: str, goal: str) -> bool:
    seen, stack = {start}, [start]
    while stack:
        for callee in funcs[stack.pop()].calls:
            if callee == goal:
                return True
            if callee not in seen:
                seen.add(callee)
                stack.append(callee)
    return False


def _ioctl_along(funcs: dict[str, Func], root: str, nxt: dict[str, Optional[str]], symbol: str) -> str:
    """The cases of the first function on the path from a DEVICE_CONTROL routine whose switch leads on."""
    if not any(k in IOCTL_ENTRIES for k in funcs[root].entries):
        return ""
    func: Optional[str] = root
    while func is not None:
        hop = nxt[func] or symbol
        if hop in funcs[func].cases:
            return _ioctl_text(funcs[func].cases[hop])
        func = nxt[func]
    return ""


#: Entry kinds whose routine receives an IOCTL code (the IRP's, or a KMDF queue callback's IoControlCode).
IOCTL_ENTRIES = ("IRP_MJ_DEVICE_CONTROL", "IRP_MJ_INTERNAL_DEVICE_CONTROL",
                 "callback:WdfIoQueueCreate.EvtIoDeviceControl", "callback:WdfIoQueueCreate.EvtIoInternalDeviceControl")


def _ioctl_text(cases: Optional[list[Optional[int]]]) -> str:
    if not cases:
        return ""
    named = [f"0x{c:x}" for c in sorted(c for c in cases if c is not None)]
    return ",".join(named + (["default"] if None in cases else []))

