"""DTDP benchmark runner: a hand-made GraphML instance with a known optimum, and unreadable input."""

from __future__ import annotations

import gzip
import json

import pytest

from benchmarks import dtdp, dtdp_starts

GRAPHML_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="d0" for="node" attr.name="x" attr.type="double"/>
  <key id="d1" for="node" attr.name="y" attr.type="double"/>
  <key id="d2" for="node" attr.name="workload" attr.type="double"/>
  <key id="d3" for="node" attr.name="demand" attr.type="double"/>
  <key id="d4" for="node" attr.name="n_customers" attr.type="double"/>
  <key id="d5" for="edge" attr.name="distance" attr.type="double"/>
  <graph edgedefault="undirected">
"""


def strip_graphml(count: int) -> str:
    """Return ``count`` nodes in a row, one of each activity per node, edges of length 1."""
    nodes = "".join(f'    <node id="n{i}"><data key="d0">{i}</data><data key="d1">0</data><data key="d2">1</data>'
                    f'<data key="d3">1</data><data key="d4">1</data></node>\n' for i in range(count))
    edges = "".join(f'    <edge source="n{i}" target="n{i + 1}"><data key="d5">1</data></edge>\n'
                    for i in range(count - 1))
    return GRAPHML_HEAD + nodes + edges + "  </graph>\n</graphml>\n"


def test_strip_of_twenty_pairs_up(tmp_path, capsys):
    # 20 nodes and 10 territories within 5 % of 2 of each activity: every territory is two
    # neighbouring nodes, 1 apart, so the dispersion is 1.
    path = tmp_path / "strip.graphml.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(strip_graphml(20))

    assert dtdp.main([str(path), "--time-limit", "4", "--json"]) == 0

    result = json.loads(capsys.readouterr().out)
    assert result["dispersion"] == 1.0
    assert result["feasible"] is True
    territory = result["territory"]
    assert sorted(territory) == sorted(f"n{i}" for i in range(20))
    for i in range(0, 20, 2):
        assert territory[f"n{i}"] == territory[f"n{i + 1}"]
    assert len(set(territory.values())) == 10


@pytest.mark.parametrize(("content", "message"), [
    (None, "file not found"),
    ("not xml at all", "not a readable GraphML file"),
    ("<graphml/>", "no <graph> element"),
    (strip_graphml(20).replace('<data key="d3">1</data>', "", 1), "node n0 has no attribute demand"),
    (strip_graphml(20).replace('target="n1"', 'target="n99"', 1), "edge n0-n99 refers to node n99"),
    (strip_graphml(20).replace('<data key="d5">1</data>', "", 1), "edge n0-n1 has no distance"),
])
def test_unreadable_instance_exits_with_message(tmp_path, capsys, content, message):
    path = tmp_path / "instance.graphml"
    if content is not None:
        path.write_text(content)

    assert dtdp.main([str(path), "--time-limit", "2"]) == 2

    error = capsys.readouterr().err
    assert message in error
    assert str(path) in error
    assert "Traceback" not in error


def test_starts_tool_pairs_up_strip(tmp_path, capsys):
    # The tabu search alone, from two starts, on the strip above: each start pairs the nodes up.
    path = tmp_path / "strip.graphml"
    path.write_text(strip_graphml(20))

    assert dtdp_starts.main([str(path), "--starts", "2", "--seconds", "0.5", "--tenure", "15,40"]) == 0

    out = capsys.readouterr().out
    assert "strip: best 1.000, mean 1.000" in out
    assert "tenure (15, 40)" in out
