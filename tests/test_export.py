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
    # every kind but a stored secret, which needs a resource holding keys (the demo estate has none)
    assert {e["kind"].removesuffix("Inert") for e in edges} == set(EDGE_KINDS.values()) - {"NHI_StoresSecret"}
    json.dumps(og, allow_nan=False)  # strict JSON


def test_opengraph_writes_stored_secrets():
    from nhisim.scenario.loader import load_scenario
    from nhisim.world.graph import build_graph

    scenario = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "harvest_pivot.yaml")
    edges = to_opengraph(build_graph(scenario), id_prefix="")["graph"]["edges"]
    stored = [e for e in edges if e["kind"] == "NHI_StoresSecret"]
    assert {(e["start"]["value"], e["end"]["value"]) for e in stored} == {
        ("resource/tickets", "credential/key/svc-deploy"), ("resource/config-repo", "credential/key/svc-deploy"),
        ("resource/secrets-vault", "credential/key/svc-deploy")}


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


# --------------------------------------------------------------------------- against BloodHound's published schemas
# tests/data/README.md says where each schema comes from. The payload wrapper has no schema
# file of its own: the docs (graph-data) require a top-level "graph" with "nodes" and "edges"
# arrays and an optional "metadata"; OPENGRAPH_PAYLOAD composes it from the published files.

import glob  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

import jsonschema  # noqa: E402

import nhisim  # noqa: E402
from nhisim.scenario.strategy import resolve_strategy, scenario_strategy  # noqa: E402
from nhisim.world.opengraph import (  # noqa: E402
    NAMESPACE,
    RESERVED_PROPERTIES,
    attack_overlay,
    opengraph_extension,
    opengraph_id,
    write_attack_overlay,
    write_opengraph_extension,
)

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
SCENARIOS = sorted(glob.glob(str(ROOT / "scenarios" / "*.yaml")))


def _schema(name):
    return json.loads((DATA / f"opengraph-{name}.schema.json").read_text())


NODE_SCHEMA, EDGE_SCHEMA, METADATA_SCHEMA = _schema("node"), _schema("edge"), _schema("metadata")
EXTENSION_SCHEMA = _schema("extension")
OPENGRAPH_PAYLOAD = {  # each published schema embedded under its own $id, so its "#/$defs/..." refs resolve in it
    "type": "object",
    "properties": {
        "metadata": METADATA_SCHEMA,
        "graph": {"type": "object", "required": ["nodes", "edges"],
                  "properties": {"nodes": {"type": "array", "items": {**NODE_SCHEMA, "$id": "urn:opengraph:node"}},
                                 "edges": {"type": "array", "items": {**EDGE_SCHEMA, "$id": "urn:opengraph:edge"}}}},
    },
    "required": ["graph"],
}
_KIND = re.compile(r"^[A-Za-z0-9_]+$")


def _validate(payload, *, known_ids=frozenset()):
    """Every published rule a payload must keep; returns its node ids."""
    json.dumps(payload, allow_nan=False)  # strict JSON: no NaN or infinity
    jsonschema.validate(payload, OPENGRAPH_PAYLOAD)
    for n in payload["graph"]["nodes"]:
        jsonschema.validate(n, NODE_SCHEMA)  # again alone: a clearer message on failure
    for e in payload["graph"]["edges"]:
        jsonschema.validate(e, EDGE_SCHEMA)
    nodes = payload["graph"]["nodes"]
    ids = [n["id"] for n in nodes]
    assert len(ids) == len(set(ids)), "node ids must be unique"
    assert not set(ids) & set(known_ids), "an overlay must not redefine estate nodes"
    source_kind = payload.get("metadata", {}).get("source_kind")
    for n in nodes:
        assert ":" not in n["id"], n["id"]  # BloodHound does not fully support colons in ids
        assert len(n["kinds"]) + (source_kind not in n["kinds"]) <= 3  # BloodHound appends source_kind
        assert not set(n["properties"]) & RESERVED_PROPERTIES, n
        assert all(k == k.lower() for k in n["properties"]), n
        for k in n["kinds"]:
            assert k.startswith(f"{NAMESPACE}_") and not k.lower().startswith("tag_"), k
        assert None not in n["properties"].values()
    every = set(ids) | set(known_ids)
    for e in payload["graph"]["edges"]:
        assert _KIND.match(e["kind"]) and e["kind"].startswith(f"{NAMESPACE}_"), e["kind"]
        assert e["start"]["match_by"] == e["end"]["match_by"] == "id"
        assert e["start"]["value"] in every and e["end"]["value"] in every, e
        assert all(k == k.lower() for k in e["properties"]) and None not in e["properties"].values(), e
        assert e["properties"]["reason"], e
    return set(ids)


def _kinds_used(*payloads):
    nodes = {k for p in payloads for n in p["graph"]["nodes"] for k in n["kinds"]}
    edges = {e["kind"] for p in payloads for e in p["graph"]["edges"]}
    return nodes, edges


def _check_extension(extension, *payloads):
    """Valid against the published extension schema, the documented naming rules, and covering every kind used."""
    jsonschema.validate(extension, EXTENSION_SCHEMA)
    schema = extension["schema"]
    assert set(schema) == {"name", "display_name", "version", "namespace"}
    assert re.fullmatch(r"v\d+\.\d+\.\d+", schema["version"])
    namespace = schema["namespace"]
    assert not namespace.lower().startswith("tag")
    names = [k["name"] for k in extension["node_kinds"]] + [k["name"] for k in extension["relationship_kinds"]]
    assert len(names) == len(set(names)), "names must be unique within the extension"
    for name in names:
        assert name.startswith(f"{namespace}_") and len(name) > len(namespace) + 1, name
    for k in extension["node_kinds"]:
        assert k["display_name"]
        if "color" in k:
            assert re.fullmatch(r"#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})", k["color"])
        for section in k.get("info", {}):
            assert re.fullmatch(r"[a-z0-9_-]{1,128}", section)
    for k in extension["relationship_kinds"]:
        assert isinstance(k["is_traversable"], bool) and _KIND.match(k["name"])
    node_kinds, edge_kinds = _kinds_used(*payloads)
    defined_nodes = {k["name"] for k in extension["node_kinds"]}
    defined_edges = {k["name"] for k in extension["relationship_kinds"]}
    assert node_kinds <= defined_nodes, node_kinds - defined_nodes
    assert edge_kinds <= defined_edges, edge_kinds - defined_edges


def test_the_published_schemas_are_the_ones_expected():
    # A guard against a truncated or swapped copy: the node schema forbids objectid and
    # caps kinds at three; the edge schema pins the kind pattern.
    assert NODE_SCHEMA["$defs"]["property_map"]["not"] == {"required": ["objectid"]}
    assert NODE_SCHEMA["properties"]["kinds"]["maxItems"] == 3
    assert EDGE_SCHEMA["properties"]["kind"]["pattern"] == "^[A-Za-z0-9_]+$"
    with pytest.raises(jsonschema.ValidationError):  # the old export's reserved property is refused
        jsonschema.validate({"id": "a", "kinds": ["NHI_Agent"], "properties": {"objectid": "a"}}, NODE_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):  # nested objects are refused
        jsonschema.validate({"id": "a", "kinds": ["NHI_Agent"], "properties": {"x": {"y": 1}}}, NODE_SCHEMA)
    for key in ("node_kinds", "relationship_kinds", "schema"):
        assert key in EXTENSION_SCHEMA["properties"]


def _strategies(scenario):
    """The bundled scenario's own strategies, as Strategy objects (estates drawn as each runs them)."""
    return [scenario_strategy(scenario, name) for name in scenario.strategies]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: Path(p).stem)
def test_every_bundled_scenario_exports_a_valid_payload(path):
    scenario = nhisim.load(path)
    payloads = [to_opengraph(build_graph(scenario))]
    payloads += [to_opengraph(build_graph(scenario, strategy=s), id_prefix=f"nhisim/{Path(path).stem}/{s.name}/")
                 for s in _strategies(scenario)]
    for payload in payloads:
        _validate(payload)
    _check_extension(opengraph_extension(), *payloads)


def test_ids_are_one_to_one_and_colon_free():
    nodes = ["agent:a", "credential:key:a", "credential:key/a", "agent:a/b", "agent:a%2Fb", "agent:a:b"]
    ids = [opengraph_id(n, "nhisim/x/") for n in nodes]
    assert len(set(ids)) == len(ids) and not any(":" in i for i in ids)
    assert opengraph_id("credential:key:a") == "credential/key/a"
    with pytest.raises(InputError, match="colon"):
        to_opengraph(nx.MultiDiGraph(), id_prefix="nhisim:x:")


def test_property_values_are_primitives_without_nulls():
    g = nx.MultiDiGraph(scenario="x")
    g.add_node("agent:a", type="agent", label="a", roles=["r1", "r2"], extra={"k": 1}, nothing=None, nan=float("nan"),
               big=float("inf"), mixed=[1, "a"], empty=[], Upper="u", objectid="no", lastseen="no")
    g.add_node("agent:b", type="agent", label="b")
    g.add_edge("agent:a", "agent:b", key="may_delegate_to", type="may_delegate_to", reason="r", passes_authority=False)
    og = to_opengraph(g)
    props = og["graph"]["nodes"][0]["properties"]
    assert props["roles"] == ["r1", "r2"] and json.loads(props["extra"]) == {"k": 1}
    assert props["big"] == "inf" and props["mixed"] == ["1", "a"] and props["upper"] == "u"
    assert not {"nothing", "nan", "empty", "objectid", "lastseen"} & set(props)
    assert og["graph"]["edges"][0]["kind"] == "NHI_MayDelegateToInert"  # token exchange: not traversable
    _validate(og)
    _check_extension(opengraph_extension([og]), og)


def test_the_extension_makes_the_attack_edges_traversable(tmp_path):
    ext = opengraph_extension()
    traversable = {k["name"]: k["is_traversable"] for k in ext["relationship_kinds"]}
    for kind in ("NHI_HasRole", "NHI_Holds", "NHI_ActsFor", "NHI_Grants", "NHI_MayDelegateTo", "NHI_Compromised",
                 "NHI_Acquired", "NHI_Performed"):
        assert traversable[kind] is True, kind
    for kind in ("NHI_Owns", "NHI_Exposes", "NHI_HasRoleInert", "NHI_MayDelegateToInert", "NHI_HoldsInert"):
        assert traversable[kind] is False, kind
    display = [k for k in ext["node_kinds"] if k["is_display_kind"]]
    assert all(k.get("icon") and k.get("color") for k in display)
    assert json.loads(write_opengraph_extension(tmp_path / "ext.json").read_text()) == ext


# --------------------------------------------------------------------------- attack overlays of real runs

OVERLAY_RUNS = [("leaked_key", "rbac"), ("confused_deputy", "rbac"), ("shared_account", "shared_account"),
                ("enterprise", "zsp"), ("memory_cached_credential", "zsp_refresh_30d"), ("issuer_outage", "rbac")]


@pytest.mark.parametrize("name, strategy", OVERLAY_RUNS, ids=[f"{n}-{s}" for n, s in OVERLAY_RUNS])
def test_attack_overlay_of_a_run_layers_on_the_estate(name, strategy):
    scenario = nhisim.load(ROOT / "scenarios" / f"{name}.yaml")
    graph = build_graph(scenario)
    estate = to_opengraph(graph)
    result = nhisim.run(scenario, strategy=strategy)
    overlay = attack_overlay(graph, result)
    estate_ids = _validate(estate)
    _validate(overlay, known_ids=estate_ids)
    _check_extension(opengraph_extension(), estate, overlay)

    ev = result.events
    bad = ev[ev.malicious.fillna(False).astype(bool)]
    allowed = bad[(bad.event == "request") & (bad.decision == "allow")]
    edges = overlay["graph"]["edges"]
    by_kind = {k: [e for e in edges if e["kind"] == k] for k in {e["kind"] for e in edges}}
    assert len(by_kind.get("NHI_Compromised", [])) == int((bad.event == "compromise").sum())
    assert len(by_kind.get("NHI_Acquired", [])) == int((bad.event == "acquire").sum())
    performed = by_kind.get("NHI_Performed", [])
    assert sum(e["properties"]["count"] for e in performed) == len(allowed)  # every resource is in the estate
    for e in performed:
        assert e["end"]["value"] in estate_ids and e["end"]["value"].endswith("/resource/" + e["properties"]["resource"])
    attackers = [n for n in overlay["graph"]["nodes"] if n["kinds"] == ["NHI_Attacker"]]
    assert len(attackers) == bad.incident.dropna().nunique()
    for n in overlay["graph"]["nodes"]:
        assert n["id"].startswith(f"nhisim/{graph.graph['scenario']}/run/{strategy}-seed{result.seed}/")
    if strategy == "rbac" and len(allowed):  # static keys: the estate's own credential nodes are used
        assert all(e["start"]["value"] in estate_ids for e in performed)


def test_attack_overlay_accepts_the_event_frame_and_names_the_run(tmp_path):
    scenario = nhisim.load(ROOT / "scenarios" / "leaked_key.yaml")
    graph = build_graph(scenario)
    result = nhisim.run(scenario)
    from_result = attack_overlay(graph, result, run="r1")
    from_frame = attack_overlay(graph, result.events, run="r1")
    assert from_frame["graph"]["edges"] == [
        {**e, "properties": {k: v for k, v in e["properties"].items() if k not in ("strategy", "seed")}}
        for e in from_result["graph"]["edges"]]
    assert attack_overlay(graph, result.events)["graph"]["nodes"][0]["id"].startswith("nhisim/leaked-key/run/run/")
    path = write_attack_overlay(graph, result, tmp_path / "overlay.json", id_prefix="")
    loaded = json.loads(path.read_text())
    _validate(loaded, known_ids=_validate(to_opengraph(graph, id_prefix="")))
    with pytest.raises(InputError, match="event log"):
        attack_overlay(graph, {"not": "a log"})


def test_attack_overlay_of_a_simulation_log_on_an_estate_drawn_as_the_strategy_runs_it():
    from nhisim.sim.engine import Simulation

    scenario = nhisim.load(ROOT / "scenarios" / "goal_hijack.yaml")
    strategy = resolve_strategy(scenario.strategies["zsp"], "zsp")
    graph = build_graph(scenario, strategy=strategy)
    log = Simulation(scenario, strategy, seed=1).run()
    estate_ids = _validate(to_opengraph(graph))
    for events in (log, log.to_frame()):
        overlay = attack_overlay(graph, events, run="zsp-1")
        _validate(overlay, known_ids=estate_ids)
        acquired = {e["end"]["value"] for e in overlay["graph"]["edges"] if e["kind"] == "NHI_Acquired"}
        # the workload identity document is the estate's own node; the JIT tokens it mints are the run's
        assert any(v.startswith("nhisim/goal-hijack/credential/identity/") for v in acquired)
        assert any(v.startswith("nhisim/goal-hijack/run/zsp-1/credential/jit-") for v in acquired)


# --------------------------------------------------------------------------- the same from the command line


def test_the_graph_command_exports_the_estate_its_extension_and_an_overlay(tmp_path, capsys):
    from cli_helpers import run_cli

    scenario_file = str(ROOT / "scenarios" / "enterprise.yaml")
    files = {name: tmp_path / f"{name}.json" for name in ("estate", "extension", "overlay")}
    code, out, err = run_cli(["graph", scenario_file, "--format", "opengraph", "--strategy", "zsp",
                              "--out", str(files["estate"]), "--extension", str(files["extension"]),
                              "--overlay", str(files["overlay"]), "--seed", "3", "--json"], capsys)
    assert code == 0, err
    estate, extension, overlay = (json.loads(files[n].read_text()) for n in ("estate", "extension", "overlay"))
    _validate(overlay, known_ids=_validate(estate))
    _check_extension(extension, estate, overlay)

    scenario = nhisim.load(scenario_file)
    graph = build_graph(scenario, strategy=resolve_strategy(scenario.strategies["zsp"], "zsp"))
    assert estate == to_opengraph(graph)  # the estate as zsp runs it
    assert overlay == attack_overlay(graph, nhisim.run(scenario, strategy="zsp", seed=3))  # the run `nhisim run` makes
    assert overlay["graph"]["edges"], "the enterprise estate is attacked in this run"

    told = {f["file"]: f for f in json.loads(out)["result"]["files"]}  # the counts are what each file holds
    for name in ("estate", "overlay"):
        payload = {"estate": estate, "overlay": overlay}[name]
        assert told[str(files[name])]["nodes"] == len(payload["graph"]["nodes"])
        assert told[str(files[name])]["edges"] == len(payload["graph"]["edges"])
    code, out, _ = run_cli(["graph", scenario_file, "--out", str(files["estate"])], capsys)
    plain = to_opengraph(build_graph(scenario))
    assert code == 0 and f"{len(plain['graph']['nodes'])} nodes, {len(plain['graph']['edges'])} edges" in out
    assert len(plain["graph"]["edges"]) < build_graph(scenario).number_of_edges()  # merged parallel edges


@pytest.mark.parametrize("extra, message", [(["--extension", "x.json"], "--extension goes with --format opengraph"),
                                            (["--overlay", "o.json"], "--overlay goes with --format opengraph"),
                                            (["--seed", "3"], "--seed is the seed of the --overlay run")])
def test_the_graph_command_refuses_options_that_do_not_apply(extra, message, tmp_path, capsys):
    from cli_helpers import run_cli

    code, _, err = run_cli(["graph", str(ROOT / "scenarios" / "leaked_key.yaml"), "--out", str(tmp_path / "e.svg"),
                            *extra], capsys)
    assert code == 2 and message in " ".join(err.split())
    assert not any(tmp_path.iterdir())
