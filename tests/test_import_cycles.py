"""The module-level imports of the package (and of the samples/ package) form no cycle.

A cycle makes the result of an import depend on which module is imported first (a name read from a half-run
module, a work-around such as a stand-in class). The graph is built from the source with ``ast``: one node per
module of api_to_etw/, one edge per import that runs when the module is loaded (module level, including
``try``/``if`` blocks, but not ``if TYPE_CHECKING:`` nor imports inside functions), to the imported module and
the packages it is imported through (their ``__init__`` runs first).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "api_to_etw"


def _module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(package: Path) -> dict[str, Path]:
    return {_module_name(p, package): p for p in sorted(package.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _load_time_imports(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    """Import statements that run when the module body runs (nested blocks included, functions and classes not)."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                found += _load_time_imports(node.body)
            found += _load_time_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                found += _load_time_imports(block)
        elif isinstance(node, (ast.With, ast.For, ast.While)):
            found += _load_time_imports(node.body)
    return found


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    """The package modules an import statement loads: the module named, the packages on the way (but not the
    importer's own packages, already loading before it runs), the submodules ``from package import a, b`` names,
    and the package itself when it takes a name from the package's ``__init__``."""
    parts = module.split(".")
    own = {".".join(parts[:i]) for i in range(1, len(parts) + (1 if path.name == "__init__.py" else 0))}
    if isinstance(node, ast.Import):
        bases, names_from_init = [alias.name for alias in node.names], False
    else:
        base = node.module or ""
        if node.level:
            anchor = parts if path.name == "__init__.py" else parts[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join(anchor + ([base] if base else []))
        subs = [f"{base}.{alias.name}" for alias in node.names]
        bases = [base] + [s for s in subs if s in known]
        names_from_init = any(s not in known for s in subs)
    out: set[str] = set()
    for name in bases:
        pieces = name.split(".")
        for i in range(1, len(pieces) + 1):
            prefix = ".".join(pieces[:i])
            if prefix in known and prefix not in own:
                out.add(prefix)
    if isinstance(node, ast.ImportFrom) and names_from_init and bases[0] in known:
        out.add(bases[0])
    return out


def import_graph(package: Path = PACKAGE) -> nx.DiGraph:
    modules = _modules(package)
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _load_time_imports(tree.body):
            for target in _targets(module, path, node, set(modules)):
                if target != module:
                    graph.add_edge(module, target)
    return graph


def test_the_graph_is_the_package():
    graph = import_graph()
    assert "api_to_etw.cli" in graph and "api_to_etw.analysis.pipeline" in graph
    assert graph.number_of_edges() > graph.number_of_nodes(), "the parser found the imports"
    assert graph.has_edge("api_to_etw.analysis.pipeline", "api_to_etw.engine.base")
    assert graph.has_edge("api_to_etw.analysis.pipeline", "api_to_etw.engine"), "a package on the way is an edge"
    assert graph.has_edge("api_to_etw.analysis.pipeline", "api_to_etw.analysis.records")


def test_relative_and_nested_imports_are_resolved():
    """The resolver itself, on a small source: relative imports, packages on the way, TYPE_CHECKING left out."""
    source = ("from __future__ import annotations\nfrom typing import TYPE_CHECKING\nfrom . import sibling\n"
              "from ..engine import native\ntry:\n    import api_to_etw.render.tables\nexcept ImportError:\n"
              "    pass\nif TYPE_CHECKING:\n    from api_to_etw import store\ndef f():\n    import api_to_etw.diff\n")
    known = {"api_to_etw", "api_to_etw.analysis", "api_to_etw.analysis.sibling", "api_to_etw.engine",
             "api_to_etw.engine.native", "api_to_etw.render", "api_to_etw.render.tables", "api_to_etw.store",
             "api_to_etw.diff"}
    path = PACKAGE / "analysis" / "here.py"
    targets: set[str] = set()
    for node in _load_time_imports(ast.parse(source).body):
        targets |= _targets("api_to_etw.analysis.here", path, node, known)
    # api_to_etw and api_to_etw.analysis are the importer's own packages: already loading, not edges
    assert targets == {"api_to_etw.analysis.sibling", "api_to_etw.engine", "api_to_etw.engine.native",
                       "api_to_etw.render", "api_to_etw.render.tables"}


def test_a_cycle_is_found(tmp_path):
    """Two modules importing each other (one through a name of the package's __init__) are a cycle."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .a import VALUE\n")
    (pkg / "a.py").write_text("from pkg import b\nVALUE = 1\n")
    (pkg / "b.py").write_text("import os\n\ndef later():\n    from . import a\n")
    (pkg / "c.py").write_text("from pkg import VALUE\n")
    graph = import_graph(pkg)
    assert not list(nx.simple_cycles(graph)), "an import inside a function is not a load-time edge"
    (pkg / "b.py").write_text("from . import a\n")
    assert sorted(map(sorted, nx.simple_cycles(import_graph(pkg)))) == [["pkg.a", "pkg.b"]]
    assert import_graph(pkg).has_edge("pkg.c", "pkg"), "a name from the package's __init__ depends on it"


@pytest.mark.parametrize("package", [PACKAGE, PACKAGE.parent / "samples"], ids=["api_to_etw", "samples"])
def test_no_import_cycles(package):
    cycles = sorted(c[c.index(min(c)):] + c[:c.index(min(c))] for c in nx.simple_cycles(import_graph(package)))
    if cycles:
        shown = "\n".join(" -> ".join(c + c[:1]) for c in cycles[:20])
        pytest.fail(f"{len(cycles)} import cycles among {package.name}'s modules, e.g.:\n{shown}")
