"""Exports and pictures: BloodHound OpenGraph JSON, GraphML round trip, PNG and SVG drawings."""

from __future__ import annotations

import json

import networkx as nx
import pytest
from test_world_graph import demo_scenario

from nhisim.errors import InputError
from nhisim.world import blast_radius, build_graph, draw, exposure, to_graphml, to_opengraph, write_opengraph
from nhisim.world.export import EDGE_KINDS, NODE_KINDS


@pytest.fixture(scope="module")
def graph():
    return build_graph(demo_scenario())


def _primitive(value):
    if isinstance(value, (str, bool, int, float)):
        return True
    return isinstance(value, list) and len({type(v) for v in value}) <= 1 and all(
        isinstance(v, (str, bool, int, float)) for v in value)


def test_opengraph_payload_shape(graph):
    og = to_opengraph(graph)
    assert og["metadata"] == {"source_kind": "nhisim"}
    nodes, edges = og["graph"]["nodes"], og["graph"]["edges"]
    assert len(nodes) == graph.number_of_nodes()
    ids = {n["id"] for n in nodes}
    for n in nodes:
        assert n["id"].startswith("nhisim/demo/") and ":" not in n["id"]
        assert 1 <= len(n["kinds"]) <= 2 and all(k.startswith("NHI_") for k in n["kinds"])
        assert "objectid" not in n["properties"]  # reserved: BloodHound maps id to it
        assert all(_primitive(v) for v in n["properties"].values()), n
    assert {n["kinds"][0] for n in nodes} == set(NODE_KINDS.values())
    agent = next(n for n in nodes if n["id"] == "nhisim/demo/agent/support-bot")
    assert agent["kinds"] == ["NHI_Agent", "NHI_Principal"]
    assert agent["properties"]["name"] == "support-bot"
    assert agent["properties"]["nhi_node"] == "agent:support-bot"
    key = next(n for n in nodes if n["id"] == "nhisim/demo/credential/key/support-bot")
    assert key["properties"]["subject"] == agent["id"]
    for e in edges:
        assert e["kind"].removesuffix("Inert") in EDGE_KINDS.values()
        assert e["start"]["match_by"] == e["end"]["match_by"] == "id"
        assert e["start"]["value"] in ids and e["end"]["value"] in ids
        assert e["properties"]["reason"]
        assert all(_primitive(v) for v in e["properties"].values()), e
    assert {e["kind"].removesuffix("Inert") for e in edges} == set(EDGE_KINDS.values())
    json.dumps(og, allow_nan=False)  # strict JSON


def test_opengraph_merges_parallel_edges(graph):
    og = to_opengraph(graph, id_prefix="")
    grants = [e for e in og["graph"]["edges"] if e["kind"] == "NHI_Grants"
              and e["start"]["value"] == "role/crm-exporter" and e["end"]["value"] == "resource/crm-db"]
    assert len(grants) == 1
    props = grants[0]["properties"]
    assert props["count"] == 2
    assert sorted(props["action"]) == ["export", "read"]
    assert props["tool"] == "crm-api"  # equal values stay scalar
    assert sorted(props["value"]) == [10.0, 50.0]


def test_write_opengraph(graph, tmp_path):
    path = write_opengraph(graph, tmp_path / "demo.json", source_kind="NHISim")
    loaded = json.loads(path.read_text())
    assert loaded["metadata"]["source_kind"] == "NHISim"
    assert len(loaded["graph"]["edges"]) > 0


def test_graphml_round_trip(graph, tmp_path):
    path = to_graphml(graph, tmp_path / "demo.graphml")
    back = nx.read_graphml(path)
    assert set(back.nodes) == set(graph.nodes)
    assert back.number_of_edges() == graph.number_of_edges()
    assert back.nodes["resource:crm-db"]["records"] == 10000
    assert back.nodes["agent:loner"]["type"] == "agent"
    reasons = {d["reason"] for *_, d in back.edges(data=True)}
    assert reasons == {d["reason"] for *_, d in graph.edges(data=True)}
    grant = next(d for u, v, d in back.edges(data=True) if d["type"] == "grants" and d["action"] == "export")
    assert grant["value"] == 50.0 and grant["tool"] == "crm-api"


def test_graphml_stringifies_non_scalar_attributes(tmp_path):
    g = nx.MultiDiGraph(scenario="x", tags=["a", "b"])
    g.add_node("agent:a", type="agent", label="a", roles=["r1", "r2"], extra={"k": 1}, nothing=None)
    g.add_node("agent:b", type="agent", label="b", weight=2)
    g.add_node("agent:c", type="agent", label="c", weight=2.5)
    g.add_edge("agent:a", "agent:b", key="may_delegate_to", type="may_delegate_to", reason="r")
    back = nx.read_graphml(to_graphml(g, tmp_path / "x.graphml"))
    assert json.loads(back.nodes["agent:a"]["roles"]) == ["r1", "r2"]
    assert json.loads(back.nodes["agent:a"]["extra"]) == {"k": 1}
    assert back.nodes["agent:b"]["weight"] == 2.0 and back.nodes["agent:c"]["weight"] == 2.5
    assert json.loads(back.graph["tags"]) == ["a", "b"]


@pytest.mark.parametrize("fmt, magic", [("png", b"\x89PNG"), ("svg", b"<svg")])
def test_draw_writes_a_picture(graph, tmp_path, fmt, magic):
    path = tmp_path / f"demo.{fmt}"
    fig = draw(graph, path)
    data = path.read_bytes()
    assert len(data) > 5000 and magic in data[:4000]
    assert fig.axes  # the Figure is returned for notebooks


def test_draw_highlights_reach_and_checks_the_format(graph, tmp_path):
    draw(graph, tmp_path / "reach", format="png", highlight=blast_radius(graph, "loner"), title="what loner reaches")
    assert (tmp_path / "reach").read_bytes()[:4] == b"\x89PNG"
    draw(graph, tmp_path / "exposure.svg", highlight=exposure(graph, "billing"))
    fig = draw(graph, tmp_path / "nodes.png", highlight=["agent:loner", "resource:kb"], hide=("credential", "tool"))
    columns = {t.get_text() for t in fig.axes[0].texts}
    assert "agents" in columns and "credentials" not in columns and "tools" not in columns
    with pytest.raises(InputError, match="cannot draw"):
        draw(graph, tmp_path / "x.gif", format="gif")
