"""Behaviour of the engine that users rely on (issue: Simulation engine)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from engine_fixtures import build, chain_estate, draw_attacked_estate, shared_estate, support_estate
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from nhisim.metrics import compute_metrics
from nhisim.sim.engine import Simulation
from nhisim.strategies import preset

PRESETS = ("shared_account", "rbac", "zsp", "intent")
NO_DETECTION = {"enabled": False}


def run(scenario, strategy, seed=1):
    events = Simulation(scenario, strategy, seed=seed).run().to_frame()
    return events, compute_metrics(events)


def credential_end(events: pd.DataFrame) -> dict[str, float]:
    """When each credential stopped being usable: expiry, or revocation effective everywhere."""
    issued = events[(events.event == "issue") & (events.decision == "allow")]
    ends = dict(zip(issued.credential, issued["until"], strict=True))
    for cred, until in zip(events.loc[events.event == "revoke", "credential"],
                           events.loc[events.event == "revoke", "until"], strict=True):
        ends[cred] = min(ends[cred], until)
    return ends


def leak(at="3h", delay="5m", principal="bot", **kw):
    return {"id": "leak", "kind": "secret_leak", "principal": principal, "at": at, "attacker_delay": delay, **kw}


# --------------------------------------------------------------------------- invariants


@st.composite
def estates_with_attacks(draw):
    data, seed = draw_attacked_estate(draw, agents=(4, 10), depth=(1, 3), latest=7000, max_delay=900,
                                      overreach=[0.3])
    return build(data), draw(st.sampled_from(PRESETS)), seed


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estates_with_attacks())
def test_no_request_is_allowed_on_an_expired_or_revoked_credential(case):
    scenario, strategy, seed = case
    events, _ = run(scenario, strategy, seed)
    ends = credential_end(events)
    allowed = events[(events.event == "request") & (events.decision == "allow")]
    assume(len(allowed) > 0)  # an estate whose few tasks all failed says nothing about the invariant
    for cred, t in zip(allowed.credential, allowed.t, strict=True):
        assert t < ends[cred], f"{cred} used at {t} after it became unusable at {ends[cred]}"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estates_with_attacks())
def test_intent_strategy_never_allows_an_out_of_intent_request(case):
    scenario, _, seed = case
    events, metrics = run(scenario, "intent", seed)
    requests = events[events.event == "request"]
    assert not ((requests.decision == "allow") & (requests.in_intent == False)).any()  # noqa: E712
    assert metrics["overreach_allowed"] == 0


# --------------------------------------------------------------------------- leaks


def test_leak_without_detection_lasts_until_rotation_under_rbac():
    scenario = build(support_estate(threats=[leak()], detection=NO_DETECTION))
    events, metrics = run(scenario, "rbac")
    key = events[(events.event == "acquire")].credential.iloc[0]
    expiry = events[(events.event == "issue") & (events.credential == key)]["until"].iloc[0]
    compromise = events[events.event == "compromise"].t.iloc[0]
    assert metrics["exposure_window_s"] == pytest.approx(expiry - compromise)
    assert metrics["exposure_window_s"] > scenario.run.horizon  # outlives the simulated day: measured, not cut
    assert metrics["blast_radius"] > 0 and math.isinf(metrics["time_to_detect_s"])


@pytest.mark.parametrize("seed", range(6))
def test_leak_without_detection_is_bounded_by_ttl_under_zsp(seed):
    scenario = build(support_estate(threats=[leak(at={"uniform": ["1h", "10h"]}, delay=0)],
                                    detection=NO_DETECTION))
    events, metrics = run(scenario, "zsp", seed)
    assert metrics["exposure_window_s"] <= preset("zsp").ttl + 1e-9
    # with revoke-at-task-end each stolen token dies with its task (plus the 5-minute cache)
    stolen = set(events.loc[events.event == "acquire", "credential"])
    revoked = events[(events.event == "revoke") & events.credential.isin(stolen)]
    if stolen and len(revoked) == len(stolen):
        leaked_at = events[events.event == "compromise"].t.iloc[0]
        assert metrics["exposure_window_s"] <= max(0.0, revoked["until"].max() - leaked_at) + 1e-9


def test_a_stolen_token_is_refused_once_it_expires():
    """Only expiry stops the attacker here: no revocation at task end, no detection."""
    scenario = build(support_estate(threats=[leak(at="2h", delay=0)], detection=NO_DETECTION,
                                    strategies={"rbac": {"base": "rbac"},
                                                "ttl_only": {"base": "zsp", "revoke_at_task_end": False}}))
    events, _ = run(scenario, "ttl_only", seed=1)
    ends = credential_end(events)
    malicious = events[(events.event == "request") & events.malicious]
    late = malicious[malicious.t >= malicious.credential.map(ends)]
    assert len(late) > 0, "the attacker should try the token after it expired"
    assert set(late.decision) == {"deny"} and set(late.code) == {"expired"}


def test_leaked_sender_constrained_credential_gives_the_attacker_nothing():
    scenario = build(support_estate(threats=[leak(at="3h", delay=0, credential="minting")],
                                    strategies={"zsp_bound": {"base": "zsp", "binding": "sender_constrained"},
                                                "intent": "intent", "rbac": "rbac"}))
    for strategy in ("intent", "zsp_bound"):
        events, metrics = run(scenario, strategy, seed=4)
        assert metrics["malicious_allowed"] == 0
        assert metrics["blast_radius"] == 0
        attempts = events[events.event.isin(["request", "issue"]) & events.malicious]
        assert set(attempts.code) <= {"sender_constraint"}
        if strategy == "zsp_bound":
            assert len(attempts) > 0  # it tries to mint role-scoped tokens, and is refused every time


def test_leaked_minting_credential_outlives_the_token_ttl_unless_bound():
    threats = [leak(at="2h", delay=0, credential="minting")]
    scenario = build(support_estate(threats=threats, detection=NO_DETECTION))
    _, zsp = run(scenario, "zsp")
    _, intent = run(scenario, "intent")
    assert zsp["malicious_allowed"] > 0  # mints fresh role-scoped tokens until the identity document dies
    assert zsp["exposure_window_s"] > preset("zsp").ttl
    assert intent["malicious_allowed"] == 0


# --------------------------------------------------------------------------- shared accounts


def test_revoking_a_shared_key_denies_the_other_holders_but_per_agent_keys_do_not():
    threats = [{"id": "sa", "kind": "shared_credential_compromise", "account": "svc-int", "via": "agent0",
                "at": "1h", "attacker_delay": "1m"}]
    detection = {"monitoring": "advanced", "manual_revocation_latency": "30m"}
    scenario = build(shared_estate(threats=threats, detection=detection))
    _, shared = run(scenario, "shared_account")
    _, rbac = run(scenario, "rbac")
    assert shared["collateral_denials"] > 0
    assert rbac["collateral_denials"] == 0
    assert shared["potential_blast_radius"] > rbac["potential_blast_radius"]  # union of every holder's scope
    assert shared["attribution"] == 0  # records name the account, not an agent


# --------------------------------------------------------------------------- delegation


def test_pass_through_blast_radius_grows_with_depth_and_exchange_stays_within_intent():
    radius = {"rbac": [], "intent": []}
    for depth in (1, 2, 3, 4):
        leaf = f"a{depth}"
        data = chain_estate(depth, detection=NO_DETECTION, threats=[
            {"id": "hj", "kind": "agent_hijack", "agent": leaf, "window": {"start": "3h", "duration": "1h"}}])
        scenario = build(data)
        for strategy in radius:
            _, metrics = run(scenario, strategy)
            radius[strategy].append(metrics["potential_blast_radius"])
        sub_intent_value = 10.0  # read (1) on a high (10) database: the leaf's sub-task intent
        assert radius["intent"][-1] <= sub_intent_value
    assert radius["rbac"] == sorted(radius["rbac"]) and radius["rbac"][0] < radius["rbac"][-1]
    assert all(b > a for a, b in zip(radius["rbac"], radius["rbac"][1:], strict=False))


def test_confused_deputy_reaches_the_deputy_scope_only_under_pass_through():
    data = chain_estate(1, detection=NO_DETECTION, threats=[
        {"id": "cd", "kind": "delegation_abuse", "agent": "a0", "deputy": "a1", "task": "t1",
         "window": {"start": "1h", "duration": "1h"}}])
    scenario = build(data)
    events_rbac, rbac = run(scenario, "rbac")
    _, intent = run(scenario, "intent")
    deputy_only = events_rbac[(events_rbac.event == "request") & events_rbac.malicious
                              & (events_rbac.decision == "allow") & (events_rbac.resource == "db1")]
    assert len(deputy_only) > 0 and (deputy_only.presenter == "a1").all()
    assert intent["blast_radius"] == 0


# --------------------------------------------------------------------------- outages, offboarding, overreach


def test_issuer_outage_fails_jit_work_but_not_static_keys():
    scenario = build(support_estate(threats=[{"id": "down", "kind": "issuer_outage",
                                              "window": {"start": "2h", "duration": "2h"}}]))
    _, rbac = run(scenario, "rbac")
    _, zsp = run(scenario, "zsp")
    assert rbac["legit_denied"] == 0 and rbac["task_success_rate"] == 1
    assert zsp["legit_denied"] > 0 and zsp["task_success_rate"] < 1


def test_orphaned_key_after_offboarding_is_usable_only_without_lifecycle_revocation():
    threats = [{"id": "orphan", "kind": "improper_offboarding", "agent": "bot", "retired_at": "2h",
                "leak_after": "3h", "attacker_delay": "1m"}]
    scenario = build(support_estate(threats=threats, detection=NO_DETECTION))
    _, rbac = run(scenario, "rbac")
    _, zsp = run(scenario, "zsp")
    assert rbac["malicious_allowed"] > 0
    assert zsp["malicious_allowed"] == 0 and zsp["exposure_window_s"] == 0


def test_overreach_is_allowed_in_scope_and_denied_by_intent():
    scenario = build(support_estate(threats=[{"id": "disc", "kind": "runtime_discovery", "probability": 0.5}]))
    _, rbac = run(scenario, "rbac")
    _, zsp = run(scenario, "zsp")
    _, intent = run(scenario, "intent")
    assert rbac["overreach_attempts"] > 0 and rbac["overreach_allowed"] == rbac["overreach_attempts"]
    assert zsp["overreach_attempts"] == rbac["overreach_attempts"]  # same dice under every strategy
    assert intent["overreach_attempts"] > 0 and intent["overreach_allowed"] == 0


def test_escalation_waits_for_a_human():
    strategies = {"rbac": "rbac", "intent_ask": {"base": "intent", "out_of_intent": "escalate"}}
    scenario = build(support_estate(threats=[{"id": "disc", "kind": "runtime_discovery", "probability": 0.5}],
                                    strategies=strategies, approval={"approval_probability": 1.0}))
    _, metrics = run(scenario, "intent_ask")
    assert metrics["approval_wait_s"] > 0
    assert metrics["overreach_allowed"] == metrics["overreach_attempts"] > 0


def test_metrics_are_nan_not_zero_without_a_compromise():
    _, metrics = run(build(support_estate()), "rbac")
    for name in ("blast_radius", "exposure_window_s", "time_to_detect_s", "attribution", "malicious_allowed"):
        assert math.isnan(metrics[name]), name
    assert metrics["tasks_completed"] > 0 and metrics["standing_privilege"] > 0


# --------------------------------------------------------------------------- determinism and common random numbers


def _with_everything():
    return build(support_estate(threats=[leak(at={"uniform": ["1h", "6h"]}),
                                         {"id": "disc", "kind": "runtime_discovery", "probability": 0.2}]))


@pytest.mark.parametrize("strategy", PRESETS)
def test_same_seed_same_event_log(strategy):
    scenario = _with_everything()
    first, _ = run(scenario, strategy, seed=11)
    second, _ = run(scenario, strategy, seed=11)
    pd.testing.assert_frame_equal(first, second)
    other, _ = run(scenario, strategy, seed=12)
    assert not first["t"].equals(other["t"])


def test_every_strategy_sees_the_same_arrivals_and_attack_times():
    scenario = _with_everything()
    arrivals, attacks = {}, {}
    for strategy in PRESETS:
        events, _ = run(scenario, strategy, seed=5)
        roots = events[(events.event == "task_start") & ~events.chain.str.contains(">", na=False)]
        arrivals[strategy] = roots.t.round(9).tolist()
        attacks[strategy] = events[events.event == "compromise"].t.tolist()
    assert len({tuple(v) for v in arrivals.values()}) == 1
    assert len({tuple(v) for v in attacks.values()}) == 1
