"""Humans with credentials: a developer's own key (or per-task session), tasks that run on it, MFA and
MFA fatigue, and leaks that republish every new key; what validation and the knob rules refuse."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from engine_fixtures import build, support_estate

from nhisim.errors import InputError
from nhisim.metrics import compute_metrics
from nhisim.scenario.validate import scenario_warnings
from nhisim.sim.cedar import clear_caches
from nhisim.sim.engine import Simulation
from nhisim.world.analysis import blast_radius, threat_potential

NO_DETECTION = {"enabled": False}
FAST = {"monitoring": "none", "alert_detection_probability": 0.0, "automated_revocation_latency": {"fixed": "5s"}}
MFA = {"humans": ["dev"], "mfa": True}


def dev_estate(threats: list[dict] | None = None, strategies: dict | None = None, **extra) -> dict:
    """A developer (dev) whose own key admins the cloud account; a coding agent fixes things on her behalf."""
    data = support_estate(**{"detection": NO_DETECTION, "run": {"horizon": "8h"}, **extra},
                          strategies=strategies or {"rbac": "rbac"}, threats=threats or [])
    data["resources"].append({"id": "cloud", "sensitivity": "critical", "records": 100})
    data["tools"].append({"id": "cloud-api", "operations": [{"action": "admin", "resource": "cloud"},
                                                            {"action": "read", "resource": "cloud"}]})
    data["roles"].append({"id": "cloud-admin", "grants": ["cloud-api:admin:cloud", "cloud-api:read:cloud"]})
    data["humans"].append({"id": "dev", "title": "developer", "roles": ["cloud-admin"]})
    data["agents"].append({"id": "coder", "owner": "dev", "roles": ["support"], "tools": ["cloud-api", "tix"],
                           "tasks": ["fix"]})
    data["tasks"].append({"id": "fix", "requested_by": "dev", "on_behalf_of_requester": True, "arrival_rate": "6/h",
                          "intent": {"operations": ["cloud-api:read:cloud", "tix:read:tickets"]},
                          "steps": [{"call": "cloud-api:read:cloud", "duration": "20s"},
                                    {"call": "tix:read:tickets", "duration": "20s"}]})
    return data


def dev_leak(**kw) -> dict:
    return {"id": "leak", "kind": "secret_leak", "principal": "dev", "at": "2h", "attacker_delay": 0, **kw}


def run(data: dict, strategy: str, seed: int = 1, engine: str = "native"):
    log = Simulation(build(data), strategy, seed=seed, engine=engine).run()
    return log.to_frame(), compute_metrics(log.columns())


def issued(events, principal: str):
    return events[(events.event == "issue") & (events.decision == "allow") & (events.principal == principal)]


# --------------------------------------------------------------------------- the credential and tasks on it


def test_a_human_with_roles_holds_a_standing_key_or_signs_in_per_task():
    events, _ = run(dev_estate(strategies={"rbac": "rbac", "zsp": "zsp"}), "rbac")
    assert set(issued(events, "dev").code) == {"static_key"}
    events, _ = run(dev_estate(strategies={"rbac": "rbac", "zsp": "zsp"}), "zsp")
    sessions = issued(events, "dev")
    assert set(sessions.code) == {"jit_token"} and len(sessions) > 5  # one per task on her behalf
    assert sessions.reason.str.contains("signed in for task coder/fix#").all()
    revoked = events[(events.event == "revoke") & (events.principal == "dev")]
    assert set(revoked.credential) == set(sessions.credential)  # zsp revokes each at its task's end


def test_pass_through_hands_the_agent_the_humans_key_beside_its_own():
    events, metrics = run(dev_estate(), "rbac")
    key = issued(events, "dev").credential.iloc[0]
    calls = events[(events.event == "request") & (events.presenter == "coder")]
    cloud, tickets = calls[calls.resource == "cloud"], calls[calls.resource == "tickets"]
    assert (cloud.credential == key).all() and (cloud.principal == "dev").all() and (cloud.decision == "allow").all()
    assert (tickets.principal == "coder").all()  # its own key for what hers does not cover
    assert metrics["task_success_rate"] == 1.0


def test_token_exchange_hands_the_agent_a_narrowed_token():
    strategies = {"x": {"base": "rbac", "overrides": [{"humans": ["dev"], "delegation": "token_exchange",
                                                        "ttl": "10m"}]}}
    events, metrics = run(dev_estate(strategies=strategies), "x")
    tokens = events[(events.event == "issue") & (events.code == "delegated_token")]
    assert len(tokens) > 5 and set(tokens.chain) == {"dev>coder"}
    assert (tokens["until"] - tokens.t <= 600 + 1e-6).all()
    assert set(tokens.value) == {30.0}  # her scope ∩ the task's intent: read cloud only, not admin
    cloud = events[(events.event == "request") & (events.resource == "cloud")]
    assert (cloud.chain == "dev>coder").all() and metrics["task_success_rate"] == 1.0


def test_tasks_on_her_behalf_go_on_with_her_re_provisioned_key():
    data = dev_estate(threats=[dev_leak(detection={"baseline_delay": "1m"})], detection=FAST,
                      strategies={"s": {"base": "rbac", "revocation": "automated"}})
    events, metrics = run(data, "s")
    keys = issued(events, "dev")
    assert len(keys) == 2  # the response revoked her key and issued a new one
    later = events[(events.event == "request") & (events.presenter == "coder") & (events.resource == "cloud")
                   & (events.t > keys.t.iloc[1])]
    assert len(later) > 0 and (later.credential == keys.credential.iloc[1]).all()
    assert metrics["task_success_rate"] == 1.0


# --------------------------------------------------------------------------- MFA


def test_a_stolen_key_that_needs_mfa_is_useless_unless_mfa_fatigue_lets_the_attacker_in():
    strategies = {"rbac": "rbac", "mfa": {"base": "rbac", "overrides": [MFA]}}
    _, bare = run(dev_estate(threats=[dev_leak()], strategies=strategies), "rbac")
    events, guarded = run(dev_estate(threats=[dev_leak()], strategies=strategies), "mfa")
    assert bare["blast_radius"] > 0 and guarded["blast_radius"] == 0
    assert guarded["potential_blast_radius"] == 0
    assert "needs a second factor (MFA)" in events[events.event == "acquire"].reason.iloc[0]
    tired = dev_estate(threats=[dev_leak()], strategies=strategies, attacker={"mfa_fatigue_probability": 1.0})
    events, fatigued = run(tired, "mfa")
    assert fatigued["blast_radius"] == bare["blast_radius"]
    assert "MFA fatigue" in events[events.event == "acquire"].reason.iloc[0]


def test_mfa_fatigue_succeeds_about_as_often_as_its_probability():
    data = dev_estate(threats=[dev_leak()], strategies={"mfa": {"base": "rbac", "overrides": [MFA]}},
                      attacker={"mfa_fatigue_probability": 0.3}, run={"horizon": "3h"})
    scenario = build(data)
    wins = sum(compute_metrics(Simulation(scenario, "mfa", seed=s).run().columns())["blast_radius"] > 0
               for s in range(200))
    assert 40 <= wins <= 80  # binomial(200, 0.3): mean 60, sd 6.5


def test_an_agent_the_key_was_handed_to_is_past_mfa():
    hijack = {"id": "hijack", "kind": "agent_hijack", "agent": "coder", "window": {"start": "2h", "duration": "1h"}}
    events, metrics = run(dev_estate(threats=[hijack], strategies={"mfa": {"base": "rbac", "overrides": [MFA]}}),
                          "mfa")
    used = events[(events.event == "request") & events.malicious & (events.principal == "dev")]
    assert (used.decision == "allow").any()  # the steered agent rides her signed-in session


def test_cedar_decides_mfa_as_the_native_evaluator_does():
    data = dev_estate(threats=[dev_leak()], strategies={"mfa": {"base": "rbac", "overrides": [MFA]}},
                      attacker={"mfa_fatigue_probability": 0.5}, run={"horizon": "4h"})
    codes: set[str] = set()
    for seed in (1, 2, 3):
        clear_caches()
        native, _ = run(data, "mfa", seed)
        cedar, _ = run(data, "mfa", seed, engine="cedar")
        pd.testing.assert_frame_equal(native, cedar)
        codes.update(native.loc[native.event == "request", "code"])
    assert {"mfa_required", "allowed"} <= codes  # both ways of the MFA check were decided


# --------------------------------------------------------------------------- republished leaks


def test_a_republished_leak_outlives_the_responses_rotation():
    strategies = {"s": {"base": "rbac", "revocation": "automated"}}
    plain = dev_estate(threats=[dev_leak(detection={"baseline_delay": "30m"})], detection=FAST,
                       strategies=strategies)
    again = dev_estate(threats=[dev_leak(republish=True, detection={"baseline_delay": "30m"})], detection=FAST,
                       strategies=strategies)
    _, rotated = run(plain, "s")
    events, republished = run(again, "s")
    assert rotated["exposure_window_s"] == pytest.approx(1805.0)  # found in 30 min, revoked 5 s later
    rows = events[(events.event == "acquire") & (events.decision == "republished")]
    assert len(rows) == 1 and "written into the same place again (logs)" in rows.reason.iloc[0]
    assert rows.t.iloc[0] == pytest.approx(7200 + 1805)  # the re-provisioned key, at once
    assert republished["exposure_window_s"] > 30 * 86400  # until the new key's own rotation
    assert republished["blast_radius"] >= rotated["blast_radius"]


# --------------------------------------------------------------------------- static analysis


def test_static_potential_of_a_humans_leak_and_of_an_agent_working_on_her_key():
    strategies = {"rbac": "rbac", "mfa": {"base": "rbac", "overrides": [MFA]}}
    hijack = {"id": "hijack", "kind": "agent_hijack", "agent": "coder", "window": {"start": "2h", "duration": "1h"}}
    scenario = build(dev_estate(threats=[dev_leak(), hijack], strategies=strategies))
    assert threat_potential(scenario, scenario.threats[0], "rbac") == 240 + 30  # admin and read the cloud
    assert threat_potential(scenario, scenario.threats[0], "mfa") == 0
    assert blast_radius(scenario, "key:dev", strategy="rbac").value == 270
    coder = blast_radius(scenario, "coder", strategy="rbac")
    assert {"cloud"} <= {op.resource for op in coder.operations}  # it holds her key under pass-through
    events, _ = run(dev_estate(threats=[dev_leak(), hijack], strategies=strategies), "rbac")
    for row in events[events.event == "compromise"].itertuples():
        assert row.value <= threat_potential(scenario, scenario.threats[0 if row.incident == "leak" else 1],
                                             "rbac") + 1e-9


# --------------------------------------------------------------------------- validation and knob rules


def _refused(data: dict) -> str:
    with pytest.raises(InputError) as info:
        build(data)
    return info.value.render()


def test_tasks_on_a_requesters_credential_need_a_requester_with_one():
    data = dev_estate()
    data["tasks"][-1]["requested_by"] = None
    assert "names no requester" in _refused(data)
    data = dev_estate()
    data["humans"][-1]["roles"] = []
    assert "human 'dev' holds no credential, so task 'fix' cannot run on its credential" in _refused(data)


def test_a_human_leak_needs_a_credential_and_mints_nothing():
    data = dev_estate(threats=[dev_leak(principal="alice")])
    assert "human 'alice' holds no credential, so nothing of it can leak" in _refused(data)
    assert "mints no credential" in _refused(dev_estate(threats=[dev_leak(credential="minting")]))


def test_mfa_fatigue_needs_a_key_that_needs_mfa():
    text = _refused(dev_estate(attacker={"mfa_fatigue_probability": 0.2}))
    assert "attacker.mfa_fatigue_probability" in text and "no strategy gives a human's standing key MFA" in text
    build(dev_estate(attacker={"mfa_fatigue_probability": 0.2},
                     strategies={"mfa": {"base": "rbac", "overrides": [MFA]}}))


def test_a_human_holding_a_key_cannot_share_an_agents_id():
    data = dev_estate()
    data["humans"][-1]["id"] = "bot"
    data["agents"][-1]["owner"] = "bot"
    data["tasks"][-1]["requested_by"] = "bot"
    assert "has the id of an agent or shared account" in _refused(data)


@pytest.mark.parametrize("human, message", [("deb", "unknown human 'deb'"),
                                            ("alice", "human 'alice' holds no credential")])
def test_an_override_for_humans_names_humans_with_credentials(human, message):
    data = dev_estate(strategies={"s": {"base": "rbac", "overrides": [{"humans": [human], "mfa": True}]}})
    assert message in _refused(data)


def test_mfa_warns_where_it_cannot_apply():
    def warnings(strategies: dict, **extra) -> list[str]:
        return [p.message for p in scenario_warnings(build(dev_estate(strategies=strategies, **extra)))]

    assert not [m for m in warnings({"s": {"base": "rbac", "overrides": [MFA]}}) if "mfa" in m]
    on_agents = warnings({"s": {"base": "rbac", "overrides": [{"agents": ["coder"], "mfa": True}]}})
    assert any("mfa acts on the credentials of humans, not of agents" in m for m in on_agents)
    under_jit = warnings({"s": {"base": "zsp", "mfa": True}})
    assert any("signs in per task" in m for m in under_jit)
    nobody = support_estate(strategies={"s": {"base": "rbac", "mfa": True}}, run={"baseline": "s"})
    assert any("no human holds a credential" in p.message for p in scenario_warnings(build(nobody)))


def test_no_human_key_means_no_change():
    """A scenario whose humans hold no roles runs as before: no key, no session for them."""
    events, _ = run(support_estate(run={"horizon": "2h"}, strategies={"rbac": "rbac"}), "rbac")
    assert not (events.principal == "alice").any()
    assert math.isnan(compute_metrics(events)["credentials_harvested"])
