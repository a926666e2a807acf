"""Controls per principal: a strategy's overrides for some agents, groups or shared accounts, and
the engine, the enforcement point (native and Cedar), static analysis and validation honouring them."""

from __future__ import annotations

import pandas as pd
import pytest
from engine_fixtures import build, shared_estate, support_estate

from nhisim.errors import InputError
from nhisim.metrics import compute_metrics
from nhisim.scenario.strategy import scenario_strategy
from nhisim.sim.cedar import clear_caches
from nhisim.sim.cedar_export import strategy_policies
from nhisim.sim.compiled import compile_world
from nhisim.sim.engine import Simulation
from nhisim.world.analysis import blast_radius


def run(scenario, strategy: str, seed: int = 1, engine: str = "native") -> tuple[pd.DataFrame, dict]:
    log = Simulation(scenario, strategy, seed=seed, engine=engine).run()
    return log.to_frame(), compute_metrics(log.columns())


def estate(**strategies) -> dict:
    """Three agents sharing one integration account, tagged by team; one of them in staging."""
    data = shared_estate(holders=3, strategies={"rbac": "rbac", "zsp": "zsp", "shared_account": "shared_account",
                                                **strategies})
    data["agents"][0]["tags"] = ["finance"]
    data["agents"][1]["tags"] = ["finance", "legacy"]
    data["agents"][2]["environment"] = "staging"
    return data


# --------------------------------------------------------------------------- resolution


def test_overrides_select_by_id_tag_environment_and_account_and_later_ones_win():
    scenario = build(estate(mixed={"base": "rbac", "overrides": [
        {"name": "fin", "tags": ["finance"], "base": "zsp"},
        {"name": "stage", "environments": ["staging"], "ttl": "5m", "base": "zsp"},
        {"name": "short", "agents": ["agent0"], "ttl": "2m"},
    ]}))
    s = scenario_strategy(scenario, "mixed")
    assert s.mixed and s.credential == "static_key"  # the default
    assert s.of("agent0").name == "mixed/fin+short" and s.of("agent0").credential == "jit_token"
    assert s.of("agent0").ttl == 120  # a later override without a base adds to the earlier one
    assert s.of("agent1").name == "mixed/fin" and s.of("agent1").ttl == 900
    assert s.of("agent2").name == "mixed/stage" and s.of("agent2").ttl == 300
    assert s.of("svc-int") is s and s.of("nobody") is s
    groups = s.groups()
    assert list(groups) == ["mixed", "mixed/fin+short", "mixed/fin", "mixed/stage"]
    assert groups["mixed/fin"][1] == ("agent1",)


def test_an_override_on_a_shared_account_applies_to_its_holders_too():
    scenario = build(estate(mixed={"base": "rbac", "overrides": [{"accounts": ["svc-int"], "base": "shared_account"}]}))
    s = scenario_strategy(scenario, "mixed")
    assert {p for p, _ in s.principals} == {"svc-int", "agent0", "agent1", "agent2"}


def test_moving_everyone_is_the_target_strategy():
    scenario = build(estate(moved={"base": "rbac", "overrides": [{"tags": ["finance"], "base": "zsp"},
                                                                  {"environments": ["staging"], "base": "zsp"}]}))
    for seed in (1, 2):
        moved, target = run(scenario, "moved", seed)[1], run(scenario, "zsp", seed)[1]
        assert moved == target


# --------------------------------------------------------------------------- the engine


def test_each_agent_gets_the_credentials_its_own_controls_say():
    scenario = build(estate(mixed={"base": "rbac", "overrides": [{"agents": ["agent1"], "base": "zsp"}]}))
    events, _ = run(scenario, "mixed")
    issued = events[(events.event == "issue") & (events.decision == "allow")]
    kinds = issued.groupby("principal").code.agg(set)
    assert kinds["agent0"] == {"static_key"} and kinds["agent2"] == {"static_key"}
    assert kinds["agent1"] == {"workload_identity", "jit_token"}
    revoked = events[events.event == "revoke"]
    assert set(revoked.principal) == {"agent1"}  # only zsp revokes a task's token at its end


def test_a_shared_account_is_used_only_by_holders_under_a_shared_identity():
    legacy = {"base": "rbac", "overrides": [{"accounts": ["svc-int"], "base": "shared_account"}]}
    moving = {"base": "rbac", "overrides": [{"accounts": ["svc-int"], "base": "shared_account"},
                                            {"agents": ["agent0"], "base": "zsp"}]}
    scenario = build(estate(legacy=legacy, moving=moving))
    for strategy, users in (("legacy", {"agent0", "agent1", "agent2"}), ("moving", {"agent1", "agent2"}),
                            ("rbac", set())):
        events, _ = run(scenario, strategy)
        keys = events[(events.event == "issue") & (events.code == "shared_key")]
        if not users:
            assert keys.empty, strategy
            continue
        first = keys.iloc[0]
        assert set(first.reason.split("held by ")[1].split(", ")) == users, strategy
        # the key carries the roles of the holders that use it: db0 leaves with agent0
        world = compile_world(scenario)
        expected = world.accounts["svc-int"].role_scope.union(*(world.agents[h].role_scope for h in users))
        assert first.value == world.value(expected), strategy
        requests = events[(events.event == "request") & (events.principal == "svc-int")]
        assert set(requests.presenter) == users, strategy


def test_a_request_is_decided_under_its_credential_subjects_controls():
    data = support_estate(threats=[{"id": "d", "kind": "runtime_discovery", "probability": 1.0}])
    data["agents"].append({**data["agents"][0], "id": "bot2", "tasks": ["ticket"]})
    data["strategies"] = {"rbac": "rbac",
                          "mixed": {"base": "zsp", "overrides": [{"agents": ["bot2"], "base": "intent"}]}}
    events, _ = run(build(data), "mixed")
    overreach = events[(events.event == "request") & (events.in_intent == False)]  # noqa: E712
    by_agent = overreach.groupby("presenter").decision.agg(set)
    assert by_agent["bot"] == {"allow"} and by_agent["bot2"] == {"deny"}


def test_the_response_follows_the_compromised_principals_controls():
    leak = {"id": "leak", "kind": "secret_leak", "principal": "agent1", "at": "1h", "attacker_delay": 0}
    data = estate(manual={"base": "rbac"},
                  automated_here={"base": "rbac", "overrides": [{"agents": ["agent1"], "revocation": "automated"}]},
                  automated_elsewhere={"base": "rbac", "overrides": [{"agents": ["agent0"], "revocation": "automated"}]})
    data.update(threats=[leak], detection={"monitoring": "advanced"})
    scenario = build(data)
    revoke = {name: run(scenario, name)[1]["time_to_revoke_s"] for name in ("manual", "automated_here",
                                                                              "automated_elsewhere")}
    assert revoke["automated_here"] < 60 < revoke["manual"] == revoke["automated_elsewhere"]


# --------------------------------------------------------------------------- Cedar, analysis


def test_cedar_decides_a_mixed_estate_as_natively_with_one_policy_set_per_group():
    data = support_estate(threats=[{"id": "d", "kind": "runtime_discovery", "probability": 0.5},
                                   {"id": "leak", "kind": "secret_leak", "principal": "bot", "at": "2h"}])
    data["agents"].append({**data["agents"][0], "id": "bot2", "tasks": ["ticket"], "tags": ["new"]})
    data["strategies"] = {"rbac": "rbac",
                          "mixed": {"base": "rbac", "overrides": [{"tags": ["new"], "base": "intent"}]}}
    scenario = build(data)
    clear_caches()
    native, _ = run(scenario, "mixed", seed=3)
    cedar, _ = run(scenario, "mixed", seed=3, engine="cedar")
    pd.testing.assert_frame_equal(native, cedar)
    text = strategy_policies(scenario_strategy(scenario, "mixed"), world=compile_world(scenario))
    assert '@id("mixed/override-1/intent-operation")' in text and '@id("mixed/in-scope")' in text
    assert 'when { context.credential.controls == "mixed/override-1" }' in text


def test_static_analysis_reads_each_agents_controls():
    data = estate(mixed={"base": "shared_account", "overrides": [{"agents": ["agent0"], "base": "zsp"}]})
    scenario = build(data)
    # agent1 still uses the shared key (which no longer carries agent0's roles); agent0 reaches its own
    shared = blast_radius(scenario, "agent1", max_paths=0, strategy="shared_account").value
    mixed = blast_radius(scenario, "agent1", max_paths=0, strategy="mixed").value
    assert mixed == shared * 2 / 3
    assert blast_radius(scenario, "agent0", max_paths=0, strategy="mixed").value == \
        blast_radius(scenario, "agent0", max_paths=0, strategy="zsp").value


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("override, message", [
    ({"agents": ["ghost"], "base": "zsp"}, "unknown agent 'ghost'"),
    ({"accounts": ["svc-nope"], "base": "zsp"}, "unknown shared account 'svc-nope'"),
    ({"tags": ["nope"], "base": "zsp"}, "no agent has tag 'nope'"),
    ({"agents": ["agent0"]}, "changes nothing"),
    ({"base": "zsp"}, "selects no one"),
    ({"environments": ["dev"], "base": "zsp"}, "selects no agent, shared account or human"),
    ({"agents": ["agent0"], "ttl": "-5m"}, "ttl"),
])
def test_an_override_that_cannot_apply_is_a_validation_error(override, message):
    with pytest.raises(InputError) as err:
        build(estate(mixed={"base": "rbac", "overrides": [override]}))
    assert message in str(err.value)
