"""Call-path graphs for the report: every path to one event merged into one graph, laid out by Graphviz.

Graphviz's ``dot`` does the layout (one process for all graphs, ``-Tsvg``); its SVG is then rebuilt
from a short list of elements and attributes (shapes, paths, text), so whatever a hostile binary
names its functions ends up as escaped text, never as markup, script or a link. Without ``dot`` the
report is written without drawings, after one warning.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from html import escape
from typing import Callable, Optional

from .report_model import EventPaths, ReportData

log = logging.getLogger("api_to_etw.render")

#: Paths drawn per event; the shortest are kept, the page's table lists them all.
MAX_PATHS = 40
#: Characters of a function name shown in a node (the full name is its tooltip).
MAX_LABEL = 48
#: Seconds ``dot`` may take for all graphs of one report.
DOT_TIMEOUT = 300

_SVG = "{http://www.w3.org/2000/svg}"
_NUMBERS = re.compile(r"-?\d+(?:\.\d+)?")
_PATH_DATA = re.compile(r"^[MCLZmclz0-9.,\s-]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def find_dot() -> Optional[str]:
    return shutil.which("dot")


def _label(name: str) -> str:
    name = _CONTROL.sub("?", name)
    return name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1] + "\u2026"


def _dot_string(text: str) -> str:
    """A DOT quoted string that shows ``text`` literally (no ``\\N``/``\\l`` escapes, no HTML labels)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot_source(paths: EventPaths, string_index: Callable[[str], int]) -> str:
    """One event's merged graph: API nodes, functions, the EventSite, the ETW write function."""
    chosen = sorted(paths.paths, key=lambda p: (len(p), p))[:MAX_PATHS]
    nodes: dict[str, int] = {}
    edges: set[tuple[int, int]] = set()
    apis = {p[0] for p in chosen}
    for path in chosen:
        ids = []
        for position, name in enumerate(path):
            key = ("w:" if position == len(path) - 1 and name in paths.writers else "f:") + name
            ids.append(nodes.setdefault(key, len(nodes)))
        edges.update(zip(ids, ids[1:]))
    lines = ["digraph g {", 'rankdir=LR; nodesep=0.15; ranksep=0.3;',
             'node [shape=box, fontname=Helvetica, fontsize=10, height=0.25, margin="0.06,0.02"]; edge [arrowsize=0.6];']
    for key, number in nodes.items():
        name = key[2:]
        kind = "write" if key.startswith("w:") else "site" if name in paths.sites else "api" if name in apis else "fn"
        shape = ", shape=ellipse" if kind == "write" else ""
        label = _dot_string(_label(name))
        entries = sorted(paths.entries.get(name, ())) if kind == "api" else []
        if entries:  # a second line: how the API is reached (IRP_MJ_DEVICE_CONTROL 0x..., callback:...)
            label = label[:-1] + "\\n" + _dot_string(_label(", ".join(entries)))[1:]
        lines.append(f"n{number} [label={label}, class={kind}{shape}, id=s{string_index(name)}];")
    lines.extend(f"n{a} -> n{b};" for a, b in sorted(edges))
    if len(paths.paths) > len(chosen):
        lines.append(f'label="{len(chosen)} of {len(paths.paths)} paths shown (the shortest)"; fontname=Helvetica; fontsize=9;')
    lines.append("}")
    return "\n".join(lines) + "\n"


def layout(sources: Sequence[str], names: Sequence[str], dot: Optional[str] = None) -> Optional[list[str]]:
    """The sanitized SVG of each DOT source (one ``dot`` process), or None without Graphviz.

    ``names`` is the string table the sources' node ids (``s<index>``) refer to: each node's full name
    becomes its tooltip.
    """
    if not sources:
        return []
    dot = dot or find_dot()
    if dot is None:
        log.warning("Graphviz 'dot' not found: the report has no call-path drawings "
                    "(install Graphviz, e.g. 'apt-get install graphviz')")
        return None
    try:
        done = subprocess.run([dot, "-Tsvg"], input="".join(sources).encode("utf-8"), capture_output=True,
                              timeout=DOT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("Graphviz 'dot' failed (%s): the report has no call-path drawings", exc)
        return None
    if done.returncode != 0:
        first = done.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        log.warning("Graphviz 'dot' failed (%s): the report has no call-path drawings", first[0] if first else
                    f"exit code {done.returncode}")
        return None
    documents = [d for d in re.split(rb"(?=<\?xml )", done.stdout) if d.strip()]
    if len(documents) != len(sources):
        log.warning("Graphviz 'dot' returned %d drawings for %d graphs: no call-path drawings",
                    len(documents), len(sources))
        return None
    return [sanitize_svg(d, names) for d in documents]


def _rectangle(points: str) -> str:
    """A box node's closed 5-point polygon as the shorter ``<rect>``; empty if it is no such box."""
    try:
        xy = [tuple(int(v) for v in p.split(",")) for p in points.split()]
    except ValueError:
        return ""
    if len(xy) != 5 or xy[0] != xy[4] or any(len(p) != 2 for p in xy):
        return ""
    xs, ys = {p[0] for p in xy}, {p[1] for p in xy}
    if len(xs) != 2 or len(ys) != 2 or any(a[0] != b[0] and a[1] != b[1] for a, b in zip(xy, xy[1:])):
        return ""
    return f'<rect x="{min(xs)}" y="{min(ys)}" width="{max(xs) - min(xs)}" height="{max(ys) - min(ys)}"/>'


def _round(text: str) -> str:
    return _NUMBERS.sub(lambda m: str(round(float(m.group(0)))), text)


def _shape(element: ET.Element) -> str:
    tag = element.tag.replace(_SVG, "")
    if tag in ("polygon", "polyline"):
        points = element.get("points", "")
        if not _PATH_DATA.match(points):
            return ""
        box = _rectangle(_round(points))
        return box or f'<{tag} points="{_round(points)}"/>'
    if tag == "path":
        data = element.get("d", "")
        return f'<path d="{_round(data)}"/>' if _PATH_DATA.match(data) else ""
    if tag == "ellipse":
        values = [element.get(a, "0") for a in ("cx", "cy", "rx", "ry")]
        if all(_NUMBERS.fullmatch(v) for v in values):
            return '<ellipse cx="{}" cy="{}" rx="{}" ry="{}"/>'.format(*(_round(v) for v in values))
    if tag == "text":
        x, y = element.get("x", "0"), element.get("y", "0")
        if _NUMBERS.fullmatch(x) and _NUMBERS.fullmatch(y):
            return f'<text x="{_round(x)}" y="{_round(y)}">{escape(element.text or "", quote=False)}</text>'
    return ""


def sanitize_svg(document: bytes, names: Sequence[str] = ()) -> str:
    """Rebuild Graphviz's SVG from what a drawing needs: numbers, shapes, escaped text, node classes."""
    root = ET.fromstring(re.sub(rb"<!DOCTYPE[^>]*>", b"", document))
    view = root.get("viewBox", "")
    width, height = _round(root.get("width", "0")), _round(root.get("height", "0"))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{_round(view)}" width="{width}" height="{height}">']
    graph = root.find(f"{_SVG}g")
    if graph is None:
        return ""
    transform = graph.get("transform", "")
    safe_transform = transform if re.fullmatch(r"[a-z()0-9. -]*", transform) else ""
    out.append(f'<g transform="{_round(safe_transform)}">')
    for group in graph:
        kind = group.get("class", "")
        if group.tag != f"{_SVG}g":
            if group.tag == f"{_SVG}text":  # the graph's own label ("N of M paths shown")
                out.append(_shape(group))
            continue
        classes = [c for c in kind.split() if c in ("node", "edge", "api", "fn", "site", "write")]
        attrs = f' class="{" ".join(classes)}"'
        ident = group.get("id", "")
        inner = []
        if "node" in classes and re.fullmatch(r"s\d+", ident):
            attrs += f' data-s="{ident[1:]}"'
            index = int(ident[1:])
            if index < len(names) and len(names[index]) > MAX_LABEL:  # the label is cut: the tooltip has it all
                inner.append(f"<title>{escape(_CONTROL.sub('?', names[index]), quote=False)}</title>")
        first_text = True
        for child in group.iter():
            if child is group:
                continue
            tag = child.tag.replace(_SVG, "")
            if tag == "polygon" and "edge" in classes:
                continue  # the arrowhead: one shared marker in the page draws it
            shape = _shape(child)
            if tag == "text" and first_text and "data-s" in attrs:
                first_text = False
                index = int(ident[1:])
                if index < len(names) and (child.text or "") == names[index]:
                    # the label is the name itself: the page fills it from its string table (as text)
                    shape = re.sub(r">[^<]*</text>$", ' data-t=""></text>', shape)
            inner.append(shape)
        out.append(f"<g{attrs}>{''.join(inner)}</g>")
    out.append("</g></svg>")
    return "".join(out)


def draw_events(data: ReportData, dot: Optional[str] = None) -> bool:
    """Lay out each event's merged call paths and attach the SVGs; events with equal paths share one.

    False (and a note on the page) when Graphviz is unavailable: the report is then written without
    drawings.
    """
    shared: dict[tuple, int] = {}
    sources: list[str] = []
    graph_of_event: list[int] = []
    for paths in data.event_paths:
        if len(paths.paths) == 1 and len(next(iter(paths.paths))) <= 2:
            graph_of_event.append(-1)  # one function calling the writer: the path table says it all
            continue
        key = (frozenset(paths.paths), frozenset(paths.writers), frozenset(paths.sites),
               frozenset((k, frozenset(v)) for k, v in paths.entries.items()))
        number = shared.get(key)
        if number is None:
            number = shared[key] = len(sources)
            sources.append(dot_source(paths, data.strings))
        graph_of_event.append(number)
    svgs = layout(sources, data.strings.items, dot)
    if svgs is None:
        data.notes.append("No call-path drawings: Graphviz's dot was not available when this report was made.")
        data.attach_graphs([-1] * len(graph_of_event), [])
        return False
    data.attach_graphs(graph_of_event, svgs)
    return True
