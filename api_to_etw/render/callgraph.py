"""The call graph the walk searched, as GraphML (``analyze --graph FILE``).

The rows give one shortest path per (entry, event, function); the graph gives every call the walk read
on the way from the ETW write sites up to the entry points, so a researcher can ask networkx, Gephi or
yEd for the other paths, the choke points, or what else a function reaches. Nodes are named by RVA
(``0x...``) and carry the function's name, whether it is an analysis root (syscall, export, ``--roots``)
and whether it is an ETW API; edges run caller -> callee.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..analysis.pipeline import AnalysisResult

#: What XML 1.0 cannot hold (a hostile PDB's names may carry it): written as ``\\xNN``.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def callgraph_graphml(result: AnalysisResult) -> str:
    """GraphML text of ``result.call_graph()`` with each node's name, RVA, and root and ETW API flags (1 or 0)."""
    import networkx as nx

    graph = result.call_graph()
    functions = result.facts.functions
    out = nx.DiGraph()
    for rva in sorted(graph.nodes):
        func = functions.get(rva)
        name = func.name if func is not None else f"sub_{rva:x}"
        # 0/1 rather than Python booleans: networkx writes those as "True"/"False", which XML Schema's boolean
        # (what GraphML's attr.type="boolean" means) does not accept.
        out.add_node(f"0x{rva:x}", name=_xml_safe(name), rva=f"0x{rva:x}", root=int(name in result.root_names),
                     etw_api=int(rva in result.etw_apis))
    out.add_edges_from((f"0x{a:x}", f"0x{b:x}") for a, b in sorted(graph.edges))
    return "\n".join(nx.generate_graphml(out)) + "\n"
