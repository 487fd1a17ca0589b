"""The self-contained HTML report: one file, no network, no external assets, opened from disk.

Jinja2 (autoescape on) renders the page's frame: title, counts, notes and the filter choices. The
data (``report_model.ReportData``) is embedded once as gzip-compressed, base64-encoded JSON, so a
whole kernel's report stays small enough to mail and no name from the binary can close the script
element that carries it; the page's own script (templates/report.js) decompresses it with the
browser's DecompressionStream and builds the views, putting every name in as text.
"""

from __future__ import annotations

import base64
import gzip
import json
from importlib import resources
from typing import Any

from ..errors import MissingDependencyError
from .report_model import EVENT_FIELDS, PROVIDER_FIELDS, ROW_FIELDS, ReportData, provider_label

TEMPLATE = "report.html.j2"


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


def payload(data: ReportData) -> str:
    """The embedded data: compact JSON, gzip (mtime 0, so equal inputs give equal files), base64."""
    text = json.dumps(data.as_json(), separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)).decode("ascii")


def _choices(data: ReportData) -> dict[str, Any]:
    """The filter menus, rendered on the server: providers, kinds and entry types present in the data."""
    items = data.strings.items
    pf, kind = {f: i for i, f in enumerate(PROVIDER_FIELDS)}, EVENT_FIELDS.index("Kind")
    providers = sorted(((provider_label(items[p[pf["ProviderGuid"]]], items[p[pf["ProviderSymbol"]]],
                                        items[p[pf["ProviderName"]]]), i) for i, p in enumerate(data.providers)),
                       key=lambda item: item[0].lower())
    kinds = sorted({items[e[kind]] for e in data.events if items[e[kind]]})
    entry_types = sorted({t for r in data.rows for t in items[r[ROW_FIELDS.index("T")]].split()})
    return {"providers": providers, "kinds": kinds, "entry_types": entry_types}


def render_report(data: ReportData) -> str:
    """The report page as one HTML string."""
    try:
        import jinja2
        from markupsafe import Markup
    except ImportError:
        raise MissingDependencyError("the report needs Jinja2: pip install 'api-to-etw[report]'") from None
    script, style = _asset("report.js"), _asset("report.css")
    if "</script" in script.lower() or "</style" in style.lower():  # our own assets, checked all the same
        raise ValueError("report assets must not close their element")
    env = jinja2.Environment(loader=jinja2.FunctionLoader(lambda name: _asset(name)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    apis = {r[0] for r in data.rows}
    return env.get_template(TEMPLATE).render(
        data=data, counts={"rows": len(data.rows), "events": len(data.events), "providers": len(data.providers),
                           "apis": len(apis), "graphs": len(data.graphs)},
        choices=_choices(data), payload=payload(data), script=Markup(script), style=Markup(style),
        has_entry="Entry" in data.columns)
