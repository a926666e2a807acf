"""Static analysis: blast radius, escalation paths, exposure, and the fast estate-wide pass."""

from __future__ import annotations

import copy
import random
import time

import pandas as pd
import pytest
from test_world_graph import DEMO, VALUE, demo_scenario

from nhisim.errors import InputError
from nhisim.scenario.models import Scenario
from nhisim.world import (
    CredentialDescriptor,
    all_blast_radii,
    blast_radius,
    build_graph,
    escalation_paths,
    exposure,
    standing_credentials,
)


def ops(radius):
    return {(op.action, op.resource) for op in radius.operations}


def agents_with(**overrides):
    """DEMO's agents with some fields replaced, e.g. ``agents_with(loner={"may_delegate_to": [...]})``."""
    agents = copy.deepcopy(DEMO["agents"])
    for a in agents:
        a.update(overrides.get(a["id"].replace("-", "_"), {}))
    return agents


def assert_path_is_explained(path, graph):
    hops = path.hops
    assert hops[0].source == path.principal
    assert hops[-1].target == f"resource:{path.resource}"
    assert hops[-1].type == "grants"
    for a, b in zip(hops, hops[1:], strict=False):
        assert a.target == b.source
    for hop in hops:
        assert hop.reason == graph.edges[hop.source, hop.target, hop.key]["reason"]
    nodes = [hops[0].source] + [h.target for h in hops]
    assert len(nodes) == len(set(nodes)), "paths are simple"
    text = path.explain()
    assert all(h.reason in text for h in hops)


# --------------------------------------------------------------------------- blast radius


def test_own_roles_only():
    s = demo_scenario(shared_accounts=[])
    r = blast_radius(s, "loner")
    assert r.principal == "agent:loner" and r.type == "agent"
    assert ops(r) == {("read", "kb")}
    assert r.value == 1.0 and r.own_value == 1.0 and r.escalation_value == 0.0


def test_shared_account_widens_blast_radius_by_exactly_its_operations():
    alone = blast_radius(demo_scenario(shared_accounts=[]), "loner")
    shared = blast_radius(demo_scenario(), "loner")
    account = blast_radius(demo_scenario(), "svc-int")
    assert account.type == "shared_account"
    assert account.value == VALUE[("export", "crm-db")] + VALUE[("read", "crm-db")] == 60.0
    assert shared.value == alone.value + account.value == 61.0
    assert ops(shared) == ops(alone) | ops(account)
    assert shared.own_value == 1.0 and shared.escalation_value == 60.0
    export = next(op for op in shared.operations if op.action == "export")
    assert not export.own and len(export.paths) == 1
    assert [h.type for h in export.paths[0].hops] == ["holds", "has_role", "grants"]
    assert export.paths[0].mechanisms == ("shared_account", "role")


def test_blast_radius_dedupes_on_action_and_resource_not_tool():
    data = copy.deepcopy(DEMO)
    data["tools"].append({"id": "crm-cli", "operations": [{"action": "read", "resource": "crm-db"}]})
    data["roles"].append({"id": "crm-cli-reader", "grants": ["crm-cli:read:crm-db"]})
    data["agents"][3]["roles"] = ["kb-reader", "crm-reader", "crm-cli-reader"]
    data["shared_accounts"] = []
    r = blast_radius(Scenario.model_validate(data), "loner")
    assert r.value == 1.0 + 10.0  # read crm-db counted once
    read_crm = next(op for op in r.operations if op.resource == "crm-db")
    assert read_crm.tools == ("crm-api", "crm-cli")
    assert len(read_crm.paths) == 2  # one per role, both explained


def test_delegation_adds_the_delegates_reach_transitively():
    s = demo_scenario(shared_accounts=[])
    pay, crm, support = (blast_radius(s, a) for a in ("pay-bot", "crm-bot", "support-bot"))
    assert ops(crm) == {("read", "crm-db")} | ops(pay)
    assert ops(support) == {("read", "kb")} | ops(crm)
    assert support.value == 1.0 + 10.0 + 60.0
    write = next(op for op in support.operations if op.action == "write")
    assert [h.type for h in write.paths[0].hops] == ["may_delegate_to", "may_delegate_to", "has_role", "grants"]
    assert write.paths[0].mechanisms == ("delegation", "role")
    assert "confused deputy" in write.paths[0].explain()


def test_delegation_cycles():
    s = demo_scenario(shared_accounts=[], agents=agents_with(pay_bot={"may_delegate_to": ["support-bot"]}))
    radii = {a: blast_radius(s, a) for a in ("support-bot", "crm-bot", "pay-bot")}
    everything = {("read", "kb"), ("read", "crm-db"), ("write", "billing")}
    for a, r in radii.items():
        assert ops(r) == everything, a
        assert r.value == 71.0
        for op in r.operations:
            assert op.paths and not op.truncated
    frame = all_blast_radii(s).set_index("agent")
    assert frame.loc[["support-bot", "crm-bot", "pay-bot"], "blast_radius"].tolist() == [71.0] * 3
    assert frame.loc["loner", "blast_radius"] == 1.0


def test_every_escalation_path_is_reported_and_explained():
    s = demo_scenario()
    g = build_graph(s)
    r = blast_radius(g, "support-bot")
    read_crm = next(op for op in r.operations if (op.action, op.resource) == ("read", "crm-db"))
    kinds = sorted(tuple(h.type for h in p.hops) for p in read_crm.paths)
    assert kinds == [("holds", "has_role", "grants"), ("may_delegate_to", "has_role", "grants")]
    for op in r.operations:
        for p in op.paths:
            assert_path_is_explained(p, g)
    text = r.explain()
    assert "support-bot holds the key of shared account svc-int, so it can act as svc-int" in text
    assert text.startswith("agent support-bot: blast radius 121")


def diamond(width: int) -> Scenario:
    """a delegates to b0..b{width-1}, each delegates to c, which alone holds a role."""
    data = copy.deepcopy(DEMO)
    bs = [f"b{i}" for i in range(width)]
    data["agents"] = (
        [{"id": "a", "owner": "alice", "may_delegate_to": bs}]
        + [{"id": b, "owner": "alice", "may_delegate_to": ["c"]} for b in bs]
        + [{"id": "c", "owner": "alice", "roles": ["payer"]}]
    )
    data["shared_accounts"] = []
    return Scenario.model_validate(data)


def test_all_paths_up_to_max_paths_with_truncated_flag():
    s = diamond(4)
    full = blast_radius(s, "a")
    (op,) = full.operations
    assert len(op.paths) == 4 and not op.truncated
    assert {p.hops[0].target for p in op.paths} == {f"agent:b{i}" for i in range(4)}
    capped = blast_radius(s, "a", max_paths=2)
    (op,) = capped.operations
    assert len(op.paths) == 2 and op.truncated
    assert capped.value == full.value == 60.0


def test_paths_come_shortest_first_and_the_shortest_is_kept_when_capped():
    data = copy.deepcopy(diamond(3).model_dump(mode="json", exclude_defaults=True))
    data["agents"][0]["may_delegate_to"].append("c")  # a direct route, shorter than the three via b*
    s = Scenario.model_validate(data)
    (op,) = blast_radius(s, "a", max_paths=1).operations
    assert [h.target for h in op.paths[0].hops][:1] == ["agent:c"] and op.truncated
    (op,) = blast_radius(s, "a").operations
    assert [p.length for p in op.paths] == [3, 4, 4, 4]


def test_credentials_are_principals():
    g = build_graph(demo_scenario())
    key = blast_radius(g, "key:svc-int")
    assert key.principal == "credential:key:svc-int" and key.type == "credential"
    assert key.value == 60.0 and key.escalation_value == 0.0
    # a leaked agent key gives that agent's roles, not its delegates nor the keys it holds
    own = blast_radius(g, "credential:key:support-bot")
    assert ops(own) == {("read", "kb")}
    path = own.operations[0].paths[0]
    assert [h.type for h in path.hops] == ["acts_for", "has_role", "grants"]


def test_holding_a_scoped_runtime_credential_is_an_escalation():
    s = demo_scenario(shared_accounts=[])
    jit = CredentialDescriptor(id="jit-1", subject="pay-bot", holders=("pay-bot", "loner"),
                               grants=("pay-api:read:billing",), kind="jit_token")
    g = build_graph(s, credentials=standing_credentials(s) + [jit])
    cred = blast_radius(g, "jit-1")
    assert ops(cred) == {("read", "billing")} and cred.value == 30.0
    loner = blast_radius(g, "loner")
    assert loner.value == 1.0 + 30.0
    (path,) = escalation_paths(g, "loner")
    assert [h.type for h in path.hops] == ["holds", "grants"]
    assert path.mechanisms == ("credential",)


def test_principals_resolve_by_bare_or_prefixed_id_and_unknown_ones_suggest():
    g = build_graph(demo_scenario())
    assert blast_radius(g, "agent:loner").principal == blast_radius(g, "loner").principal
    with pytest.raises(InputError) as err:
        blast_radius(g, "suport-bot")
    assert "unknown principal 'suport-bot'" in str(err.value)
    assert "did you mean 'support-bot'?" in str(err.value)
    with pytest.raises(InputError, match="unknown principal"):
        blast_radius(g, "role:payer")  # roles are not principals
    with pytest.raises(TypeError):
        blast_radius({"name": "x"}, "loner")  # type: ignore[arg-type]


def test_to_frame_is_tidy():
    r = blast_radius(demo_scenario(), "support-bot")
    frame = r.to_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) == len(r.operations) == 4
    assert {"principal", "action", "resource", "value", "records", "own", "paths", "truncated"} <= set(frame.columns)
    assert frame["value"].sum() == pytest.approx(r.value)
    assert frame.loc[frame["own"], "value"].sum() == pytest.approx(r.own_value)
    hops = r.to_frame(paths=True)
    assert len(hops) == sum(p.length for op in r.operations for p in op.paths)
    assert set(hops["edge"]) <= {"holds", "has_role", "grants", "may_delegate_to", "acts_for"}


# --------------------------------------------------------------------------- escalation


def test_escalation_paths_only_reach_beyond_own_roles():
    paths = escalation_paths(demo_scenario(), "support-bot")
    assert paths, "support-bot escalates through svc-int and delegation"
    assert ("read", "kb") not in {(p.action, p.resource) for p in paths}
    assert {(p.action, p.resource) for p in paths} == {("write", "billing"), ("export", "crm-db"), ("read", "crm-db")}
    assert paths[0].value == 60.0  # highest value first
    assert all(set(p.mechanisms) & {"shared_account", "delegation", "credential"} for p in paths)
    assert escalation_paths(demo_scenario(), "pay-bot") == []


# --------------------------------------------------------------------------- exposure


def test_exposure_lists_every_principal_that_reaches_a_resource():
    g = build_graph(demo_scenario())
    ex = exposure(g, "billing")
    assert ex.resource == "billing" and ex.node == "resource:billing"
    assert {p.principal for p in ex.principals} == {
        "agent:pay-bot", "agent:crm-bot", "agent:support-bot", "credential:key:pay-bot"}
    for p in ex.principals:
        assert p.actions == ("write",) and p.value == 60.0
        for op in p.operations:
            for path in op.paths:
                assert_path_is_explained(path, g)
    crm = exposure(g, "resource:crm-db")
    names = {p.principal for p in crm.principals}
    assert {"agent:loner", "shared_account:svc-int", "credential:key:svc-int", "credential:key:crm-bot"} <= names
    assert "agent:pay-bot" not in names
    loner = next(p for p in crm.principals if p.principal == "agent:loner")
    assert loner.value == 60.0 and set(loner.actions) == {"export", "read"}
    agents_only = exposure(g, "crm-db", types=["agent"])
    assert {p.type for p in agents_only.principals} == {"agent"}
    frame = crm.to_frame()
    assert len(frame) == sum(len(p.operations) for p in crm.principals)
    assert "loner" in crm.explain()
    with pytest.raises(InputError, match="did you mean 'billing'"):
        exposure(g, "biling")


def test_exposure_of_an_unreachable_resource_is_empty():
    data = copy.deepcopy(DEMO)
    data["resources"].append({"id": "vault", "sensitivity": "critical"})
    ex = exposure(Scenario.model_validate(data), "vault")
    assert ex.principals == [] and ex.to_frame().empty


# --------------------------------------------------------------------------- estate-wide


def random_estate(agents: int, seed: int, fanout: int = 2) -> Scenario:
    rng = random.Random(seed)
    resources = [{"id": f"r{i}", "sensitivity": rng.choice(["low", "medium", "high", "critical"])} for i in range(15)]
    tools = [{"id": "api", "operations": [{"action": a, "resource": r["id"]} for r in resources
                                          for a in ("read", "write", "export")]}]
    all_ops = [f"api:{a}:r{i}" for i in range(15) for a in ("read", "write", "export")]
    roles = [{"id": f"role{i}", "grants": rng.sample(all_ops, 2)} for i in range(agents // 2 + 1)]
    agent_list = [{"id": f"a{i}", "owner": "h", "roles": [f"role{rng.randrange(len(roles))}"],
                   "may_delegate_to": [f"a{j}" for j in rng.sample(range(agents), rng.randrange(fanout + 1))
                                       if j != i]} for i in range(agents)]
    shared = [{"id": f"svc{i}", "holders": [f"a{j}" for j in rng.sample(range(agents), 3)],
               "roles": [f"role{rng.randrange(len(roles))}"]} for i in range(agents // 10)]
    return Scenario.model_validate({"name": "random", "resources": resources, "tools": tools, "roles": roles,
                                    "humans": [{"id": "h"}], "agents": agent_list, "shared_accounts": shared})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_all_blast_radii_agrees_with_blast_radius(seed):
    s = random_estate(40, seed)
    g = build_graph(s)
    frame = all_blast_radii(g)
    assert list(frame.columns)[:3] == ["agent", "blast_radius", "operations"]
    assert sorted(frame["agent"]) == sorted(a.id for a in s.agents)
    assert frame["blast_radius"].is_monotonic_decreasing
    assert frame.equals(all_blast_radii(s))
    for row in frame.itertuples():
        r = blast_radius(g, row.agent, max_paths=2)
        assert row.blast_radius == pytest.approx(r.value)
        assert row.operations == len(r.operations)
        assert row.own_blast_radius == pytest.approx(r.own_value)
        assert all(op.paths for op in r.operations)


def test_a_long_delegation_ring():
    n = 120
    data = copy.deepcopy(DEMO)
    data["resources"] = [{"id": f"r{i}", "sensitivity": "low"} for i in range(n)]
    data["tools"] = [{"id": "api", "operations": [{"action": "read", "resource": f"r{i}"} for i in range(n)]}]
    data["roles"] = [{"id": f"role{i}", "grants": [f"api:read:r{i}"]} for i in range(n)]
    data["agents"] = [{"id": f"a{i}", "owner": "alice", "roles": [f"role{i}"], "may_delegate_to": [f"a{(i + 1) % n}"]}
                      for i in range(n)]
    data["shared_accounts"] = []
    s = Scenario.model_validate(data)
    frame = all_blast_radii(s)
    assert (frame["blast_radius"] == float(n)).all() and (frame["operations"] == n).all()
    r = blast_radius(s, "a0")
    assert r.value == n
    by_resource = {op.resource: op for op in r.operations}
    assert by_resource["r0"].paths[0].length == 2
    assert by_resource["r5"].paths[0].length == 5 + 2
    assert all(len(op.paths) == 1 and not op.truncated for op in r.operations)
    # a tiny search budget: every operation still gets its shortest path, flagged truncated
    cut = blast_radius(s, "a0", search_limit=10)
    assert cut.value == n and all(len(op.paths) == 1 for op in cut.operations)
    far = {op.resource: op for op in cut.operations}["r100"]
    assert far.truncated and far.paths[0].length == 100 + 2


def test_all_blast_radii_is_fast():
    s = random_estate(3000, seed=9)
    started = time.perf_counter()
    frame = all_blast_radii(s)
    assert len(frame) == 3000
    assert time.perf_counter() - started < 20  # ~0.5 s on a laptop; generous for CI


def test_max_paths_zero_skips_the_path_search():
    r = blast_radius(demo_scenario(), "support-bot", max_paths=0)
    assert r.value == 121.0 and len(r.operations) == 4
    assert all(op.paths == [] and op.truncated for op in r.operations)
