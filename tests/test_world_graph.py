"""The world graph: typed nodes and edges, reasons, values, standing and runtime credentials."""

from __future__ import annotations

import copy

import pytest

from nhisim.errors import InputError
from nhisim.scenario.models import Scenario
from nhisim.world import EDGE_TYPES, NODE_TYPES, CredentialDescriptor, build_graph, node_id, standing_credentials

DEMO = {
    "name": "demo",
    "resources": [
        {"id": "crm-db", "sensitivity": "high", "records": 10000},
        {"id": "kb", "sensitivity": "low", "records": 50},
        {"id": "billing", "sensitivity": "critical", "records": 2000},
    ],
    "tools": [
        {"id": "crm-api", "operations": [{"action": "read", "resource": "crm-db"},
                                         {"action": "export", "resource": "crm-db"}]},
        {"id": "kb-api", "operations": [{"action": "read", "resource": "kb"}]},
        {"id": "pay-api", "operations": [{"action": "write", "resource": "billing"},
                                         {"action": "read", "resource": "billing"}]},
    ],
    "roles": [
        {"id": "kb-reader", "grants": ["kb-api:read:kb"]},
        {"id": "crm-reader", "grants": ["crm-api:read:crm-db"]},
        {"id": "crm-exporter", "grants": ["crm-api:export:crm-db", "crm-api:read:crm-db"]},
        {"id": "payer", "grants": ["pay-api:write:billing"]},
    ],
    "humans": [{"id": "alice"}, {"id": "bob"}],
    "agents": [
        {"id": "support-bot", "owner": "alice", "roles": ["kb-reader"], "may_delegate_to": ["crm-bot"]},
        {"id": "crm-bot", "owner": "alice", "roles": ["crm-reader"], "may_delegate_to": ["pay-bot"]},
        {"id": "pay-bot", "owner": "bob", "roles": ["payer"]},
        {"id": "loner", "owner": "bob", "roles": ["kb-reader"]},
    ],
    "shared_accounts": [{"id": "svc-int", "holders": ["support-bot", "loner"], "roles": ["crm-exporter"]}],
}

# default weights: low 1, medium 3, high 10, critical 30; read 1, write 2, export 5
VALUE = {("read", "kb"): 1.0, ("read", "crm-db"): 10.0, ("export", "crm-db"): 50.0, ("write", "billing"): 60.0}


def demo_scenario(**changes) -> Scenario:
    """The demo estate, with top-level sections replaced by ``changes``."""
    data = copy.deepcopy(DEMO)
    data.update(changes)
    return Scenario.model_validate(data)


def edges_of(g, type_):
    return [(u, v, d) for u, v, d in g.edges(data=True) if d["type"] == type_]


def test_node_id_is_prefixed_by_type():
    assert node_id("agent", "support-bot") == "agent:support-bot"
    assert node_id("credential", "key:svc-int") == "credential:key:svc-int"
    with pytest.raises(ValueError):
        node_id("robot", "x")


def test_nodes_and_edges_are_typed_and_every_edge_has_a_reason():
    # the demo estate, with support-bot's key written in its first resource (a stored secret)
    resources = [{**r, "secrets": ["support-bot"]} if i == 0 else r for i, r in enumerate(DEMO["resources"])]
    g = build_graph(demo_scenario(resources=resources))
    assert {d for _, d in g.nodes(data="type")} == set(NODE_TYPES)
    assert {d["type"] for *_, d in g.edges(data=True)} == set(EDGE_TYPES)
    for n, d in g.nodes(data=True):
        assert n == node_id(d["type"], d["label"])
    for u, v, d in g.edges(data=True):
        assert isinstance(d["reason"], str) and len(d["reason"]) > 10, (u, v, d)


def test_structure_of_the_demo_estate():
    g = build_graph(demo_scenario())
    pairs = lambda t: {(u, v) for u, v, _ in edges_of(g, t)}  # noqa: E731
    assert ("human:alice", "agent:support-bot") in pairs("owns")
    assert ("human:bob", "agent:loner") in pairs("owns")
    assert pairs("may_delegate_to") == {("agent:support-bot", "agent:crm-bot"), ("agent:crm-bot", "agent:pay-bot")}
    assert ("agent:loner", "role:kb-reader") in pairs("has_role")
    assert ("shared_account:svc-int", "role:crm-exporter") in pairs("has_role")
    assert {("agent:support-bot", "shared_account:svc-int"), ("agent:loner", "shared_account:svc-int")} <= pairs("holds")
    holds = g.edges["agent:support-bot", "shared_account:svc-int", "holds"]
    assert holds["reason"] == "support-bot holds the key of shared account svc-int, so it can act as svc-int"


def test_grants_and_exposes_carry_operation_values():
    g = build_graph(demo_scenario())
    grants = edges_of(g, "grants")
    assert len(grants) == 5  # one per role grant
    for u, v, d in grants:
        assert u.startswith("role:") and v.startswith("resource:")
        assert d["value"] == VALUE[(d["action"], g.nodes[v]["label"])]
        assert d["records"] == g.nodes[v]["records"]
        assert d["tool"] in {"crm-api", "kb-api", "pay-api"}
    export = g.edges["role:crm-exporter", "resource:crm-db", "grants:crm-api:export"]
    assert export["value"] == 50.0 and export["records"] == 10000
    exposes = edges_of(g, "exposes")
    assert len(exposes) == 5  # one per tool operation
    assert {(u, d["action"], v) for u, v, d in exposes} >= {("tool:pay-api", "read", "resource:billing")}


def test_weights_change_values():
    s = demo_scenario(weights={"sensitivity": {"critical": 100}, "action_damage": {"read": 1, "write": 3,
                                                                                    "export": 5}})
    g = build_graph(s)
    assert g.edges["role:payer", "resource:billing", "grants:pay-api:write"]["value"] == 300.0


def test_standing_credentials_one_key_per_agent_and_per_shared_account():
    s = demo_scenario()
    g = build_graph(s)
    creds = {n for n, t in g.nodes(data="type") if t == "credential"}
    assert creds == {f"credential:key:{a.id}" for a in s.agents} | {"credential:key:svc-int"}
    assert g.nodes["credential:key:svc-int"]["kind"] == "shared_account_key"
    assert g.nodes["credential:key:loner"]["kind"] == "static_key"
    acts = {(u, v): d for u, v, d in edges_of(g, "acts_for")}
    assert acts[("credential:key:svc-int", "shared_account:svc-int")]["inherits_scope"] is True
    assert acts[("credential:key:loner", "agent:loner")]["inherits_scope"] is True
    holders = {u for u, v, _ in edges_of(g, "holds") if v == "credential:key:svc-int"}
    assert holders == {"agent:support-bot", "agent:loner"}
    # standing keys have no grants of their own: their scope is their subject's roles
    assert not [u for u, _, _ in edges_of(g, "grants") if u.startswith("credential:")]
    # a key its holder's other edges already imply is marked, so paths are not reported twice
    assert g.edges["agent:loner", "credential:key:loner", "holds"]["implied"] is True
    assert g.edges["agent:loner", "credential:key:svc-int", "holds"]["implied"] is True
    assert len(standing_credentials(s)) == 5


def test_runtime_credentials_replace_the_standing_ones():
    s = demo_scenario()
    jit = CredentialDescriptor(id="jit-1", subject="pay-bot", holders=("pay-bot", "loner"),
                               grants=("pay-api:read:billing",), kind="jit_token", attributes={"expires_at": 900.0})
    g = build_graph(s, credentials=[jit])
    creds = [n for n, t in g.nodes(data="type") if t == "credential"]
    assert creds == ["credential:jit-1"]
    node = g.nodes["credential:jit-1"]
    assert node["scoped"] is True and node["subject"] == "agent:pay-bot" and node["expires_at"] == 900.0
    grant = g.edges["credential:jit-1", "resource:billing", "grants:pay-api:read"]
    assert grant["value"] == 30.0 and "scoped to read on billing" in grant["reason"]
    assert g.edges["credential:jit-1", "agent:pay-bot", "acts_for"]["inherits_scope"] is False
    assert g.edges["agent:loner", "credential:jit-1", "holds"]["implied"] is False
    assert not [n for n, t in build_graph(s, credentials=[]).nodes(data="type") if t == "credential"]
    both = build_graph(s, credentials=standing_credentials(s) + [jit])
    assert sum(1 for _, t in both.nodes(data="type") if t == "credential") == 6


def test_unknown_references_raise_input_error_with_a_suggestion():
    agents = copy.deepcopy(DEMO["agents"])
    agents[0]["roles"] = ["kb-reder"]
    with pytest.raises(InputError) as err:
        build_graph(demo_scenario(agents=agents))
    assert "unknown role 'kb-reder'" in str(err.value)
    assert "did you mean 'kb-reader'?" in str(err.value)
    with pytest.raises(InputError, match="unknown subject"):
        build_graph(demo_scenario(), credentials=[CredentialDescriptor(id="x", subject="nobody")])
    with pytest.raises(InputError, match="not a grant"):
        build_graph(demo_scenario(), credentials=[CredentialDescriptor(id="x", subject="loner", grants=("bad",))])


def test_graph_records_its_scenario_and_grammar():
    g = build_graph(demo_scenario())
    assert g.graph["scenario"] == "demo"
    assert g.graph["grammar"].startswith("nhisim-world/")
    assert g.is_directed() and g.is_multigraph()


def test_graph_of_a_loaded_scenario_file():
    from nhisim.scenario.loader import load_scenario

    scenario = load_scenario("scenarios/leaked_key.yaml")
    g = build_graph(scenario)
    assert "agent:support-bot" in g and g.nodes["agent:support-bot"]["type"] == "agent"
