"""``analyze --graph FILE``: the call graph the walk searched, as GraphML read back with networkx.

Checked against the synthetic kernel's truth (its generator's own list of calls), not against our rows alone.
"""

from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET

import networkx as nx
import pytest
from conftest import load_truth, synth_exe

from api_to_etw.errors import ExitCode
from api_to_etw.render.callgraph import _xml_safe


def _analyze(cli, tmp_path, *extra: str):
    table, graph = tmp_path / "rows.tsv", tmp_path / "calls.graphml"
    done = cli("analyze", synth_exe(), "-o", table, "--graph", graph, "-q", *extra)
    assert done.code == ExitCode.OK, done.stderr
    rows = [line.split("\t") for line in table.read_text(encoding="utf-8").splitlines()]
    header, body = rows[0], rows[1:]
    return [dict(zip(header, r)) for r in body], nx.read_graphml(graph)


def test_graph_edges_are_true_calls_and_hold_every_row(cli, tmp_path):
    rows, graph = _analyze(cli, tmp_path)
    truth = {tuple(e) for e in load_truth()["edges"]}
    name = nx.get_node_attributes(graph, "name")
    api = nx.get_node_attributes(graph, "etw_api")
    walked = {(name[a], name[b]) for a, b in graph.edges if not api[b]}
    assert walked and walked <= truth, sorted(walked - truth)[:3]
    # The ETW APIs are the graph's sinks: a write site's function calls them, they call nothing walked.
    assert any(api.values()) and all(graph.out_degree(n) == 0 for n, flag in api.items() if flag)
    # Flagged as the analysis recognised them: every API in the graph a row writes through (a TraceLogging
    # row found from its metadata starts at the referencing function), and no function the truth has call.
    flagged = {name[n] for n, flag in api.items() if flag}
    assert {row["WriteFunction"] for row in rows} & set(name.values()) <= flagged
    assert not flagged & {caller for caller, _callee in truth}
    by_name = {(name[a], name[b]) for a, b in graph.edges}
    for row in rows:
        path = row["CallPath"].strip("[]").split("->")
        for a, b in zip(path, path[1:]):
            assert (a, b) in by_name, f"{a}->{b} of {path} is not in the graph"
    roots = {name[n] for n, flag in nx.get_node_attributes(graph, "root").items() if flag}
    assert {row["Function"] for row in rows} <= roots | {row["ContainingFunction"] for row in rows}
    for node, data in graph.nodes(data=True):
        assert data["rva"] == node and int(node, 16) > 0 and data["root"] in (0, 1) and data["etw_api"] in (0, 1)


def test_graph_and_rows_cannot_share_stdout(cli, tmp_path):
    done = cli("analyze", synth_exe(), "-o", "-", "--graph", "-")
    assert done.code == ExitCode.USAGE and "stdout" in done.stderr and done.stdout == ""


def test_graph_refuses_a_fifo_before_the_analysis(cli, tmp_path):
    fifo = tmp_path / "graph.fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    done = cli("analyze", synth_exe(), "-o", tmp_path / "rows.tsv", "--graph", fifo, "-q")
    assert done.code == ExitCode.OUTPUT_ERROR and "regular file" in done.stderr
    assert not (tmp_path / "rows.tsv").exists() and time.monotonic() - started < 5


@pytest.mark.parametrize("name", ["a\x00b", "bad\x1b[31m", "half\ud800", "ok_Name::op<>&\"'"])
def test_hostile_names_stay_well_formed_xml(name):
    safe = _xml_safe(name)
    element = ET.fromstring(f"<n>{_escape(safe)}</n>")  # parses: nothing XML 1.0 forbids is left
    assert element.text == safe and (safe == name) == (name.isprintable() and "\ud800" not in name)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
