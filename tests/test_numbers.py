"""The numbers must be right: closed-form and exact checks of what the engine measures.

Each test pins one behaviour that once gave wrong numbers with no warning: the value is
exact where the model fixes it, and a confidence interval over many replications where
it is random.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest
from engine_fixtures import build, chain_estate, delegating_estate, shared_estate, support_estate

from nhisim.metrics import compute_metrics
from nhisim.scenario.loader import load_scenario
from nhisim.sim.engine import Simulation
from nhisim.sim.threats import threat_id
from nhisim.strategies import preset
from nhisim.world.analysis import blast_radius, threat_potential

FAST_DETECTION = {  # detected exactly 1 h after the compromise, revoked 5 s later; alerts never detect
    "monitoring": "advanced",
    "levels": {"advanced": {"baseline_delay": {"fixed": "1h"}}},
    "alert_detection_probability": 0.0,
    "automated_revocation_latency": {"fixed": "5s"},
}
NO_DETECTION = {"enabled": False}


def run(scenario, strategy, seed=1):
    events = Simulation(scenario, strategy, seed=seed).run().to_frame()
    return events, compute_metrics(events)


def mean_ci(values: list[float]) -> tuple[float, float, float]:
    """Mean and its 95 % confidence interval (normal approximation, n >= 200)."""
    mean = statistics.fmean(values)
    half = 1.96 * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def leak(**kw):
    return {"id": "leak", "kind": "secret_leak", "principal": "bot", "at": "1h", "attacker_delay": 0, **kw}


# --------------------------------------------------------------------------- 1. the attacker after the response


def cached_rbac_estate(cache_ttl: str = "30m"):
    return build(support_estate(
        threats=[leak()], detection=FAST_DETECTION, run={"horizon": "4h"},
        strategies={"rbac_cached": {"base": "rbac", "revocation": "automated", "propagation": "cache",
                                    "cache_ttl": cache_ttl}}))


def test_the_attacker_goes_on_while_a_revoked_key_is_still_honoured_by_caches():
    scenario = cached_rbac_estate()
    events, metrics = run(scenario, "rbac_cached")
    compromise = events[events.event == "compromise"].t.iloc[0]
    response = events[(events.event == "revoke") & (events.code == "response")]
    assert len(response) == 1
    revoked_at, effective_at = response.t.iloc[0], response["until"].iloc[0]
    assert (revoked_at - compromise) == pytest.approx(3605.0)  # 1 h to detect, 5 s to revoke
    assert (effective_at - revoked_at) == pytest.approx(1800.0)  # the cache honours it for 30 min more
    malicious = events[(events.event == "request") & events.malicious]
    after = malicious[malicious.t > revoked_at]
    # the attacker kept using the key while the caches still honoured it, and was refused after
    assert (after[after.t < effective_at].decision == "allow").sum() > 10
    assert not (after[after.t >= effective_at].decision == "allow").any()
    assert metrics["time_to_contain_s"] > revoked_at - compromise
    assert metrics["time_to_contain_s"] < metrics["exposure_window_s"] == pytest.approx(effective_at - compromise)


def test_last_success_trails_the_end_of_exposure_by_one_attack_interval_on_average():
    # The attacker's attempts are a Poisson process (rate 1/min) and every attempt succeeds
    # until the revocation is effective: the gap from the last success to that moment is the
    # backward recurrence time of the process, exponential with mean 1/rate = 60 s.
    scenario = cached_rbac_estate()
    gaps = []
    for seed in range(200):
        _, metrics = run(scenario, "rbac_cached", seed)
        gaps.append(metrics["exposure_window_s"] - metrics["time_to_contain_s"])
    mean, low, high = mean_ci(gaps)
    assert low <= 60.0 <= high, f"mean gap {mean:.1f} s, 95% CI [{low:.1f}, {high:.1f}]"


def test_the_attacker_stops_once_nothing_it_holds_works():
    events, _ = run(cached_rbac_estate(), "rbac_cached")
    release = events[events.event == "release"]
    assert len(release) == 1 and "nothing the attacker holds works" in release.reason.iloc[0]
    effective_at = events[(events.event == "revoke") & (events.code == "response")]["until"].iloc[0]
    assert release.t.iloc[0] >= effective_at
    assert not ((events.event == "request") & events.malicious & (events.t > release.t.iloc[0])).any()


# --------------------------------------------------------------------------- 2. sender constraint on static keys


@pytest.mark.parametrize("strategy, estate", [("rbac", support_estate), ("shared_account", shared_estate)])
def test_a_sender_constrained_static_key_is_useless_to_a_thief(strategy, estate):
    principal = "bot" if estate is support_estate else "svc-int"
    data = estate(threats=[leak(principal=principal)], detection=NO_DETECTION, run={"horizon": "6h"},
                  strategies={"pinned": {"base": strategy, "binding": "sender_constrained"}, strategy: strategy})
    scenario = build(data)
    pinned_events, pinned = run(scenario, "pinned")
    _, bearer = run(scenario, strategy)
    assert bearer["blast_radius"] > 0 and bearer["malicious_allowed"] > 0
    assert pinned["blast_radius"] == 0 and pinned["malicious_allowed"] == 0
    assert pinned["exposure_window_s"] == 0 and pinned["time_weighted_exposure"] == 0
    acquired = pinned_events[pinned_events.event == "acquire"]
    assert acquired.reason.str.contains("sender-constrained").all()
    # the holders themselves still work with it: the constraint costs no utility
    assert pinned["task_success_rate"] == bearer["task_success_rate"] == 1.0


# --------------------------------------------------------------------------- 3. orphaned minting credentials


def offboarding_estate(revokes: bool):
    return build(support_estate(
        # the leak comes after the last task token's TTL: the thief holds only the identity document
        threats=[{"id": "orphan", "kind": "improper_offboarding", "agent": "bot", "retired_at": "1h",
                  "leak_after": "20m", "attacker_delay": 0}],
        detection=NO_DETECTION, run={"horizon": "6h"},
        strategies={"zsp_orphans": {"base": "zsp", "offboarding_revokes": revokes, "identity_ttl": "2h"}}))


def test_an_orphaned_identity_keeps_minting_for_a_thief_until_it_expires():
    events, metrics = run(offboarding_estate(revokes=False), "zsp_orphans")
    refusals = events[(events.event == "issue") & (events.decision == "deny")]
    assert "retired" not in set(refusals.code)
    minted = events[(events.event == "issue") & (events.decision == "allow") & events.malicious]
    assert len(minted) > 0 and metrics["malicious_allowed"] > 0
    doc = events[(events.event == "acquire") & (events.code == "workload_identity")]
    assert len(doc) == 1
    doc_expiry = events[(events.event == "issue") & (events.credential == doc.credential.iloc[0])]["until"].iloc[0]
    compromise = events[events.event == "compromise"].t.iloc[0]
    # exposure lasts exactly until the orphaned document expires (the last minted token may outlive it a little)
    assert metrics["exposure_window_s"] >= doc_expiry - compromise
    assert metrics["exposure_window_s"] <= doc_expiry - compromise + 900.0  # zsp's token TTL


def test_offboarding_that_revokes_leaves_the_thief_nothing():
    events, metrics = run(offboarding_estate(revokes=True), "zsp_orphans")
    assert metrics["malicious_allowed"] == 0 and metrics["blast_radius"] == 0
    assert events[(events.event == "retire")].code.iloc[0] == "revoked"


# --------------------------------------------------------------------------- 4. "never" in duration knobs


@pytest.mark.parametrize("knob, base", [("rotation", "rbac"), ("ttl", "zsp"), ("identity_ttl", "zsp"),
                                        ("cache_ttl", "zsp"), ("ttl", "intent")])
def test_never_in_a_duration_knob_runs(knob, base):
    scenario = build(support_estate(threats=[leak()], strategies={"forever": {"base": base, knob: "never"}},
                                    run={"horizon": "3h"}))
    sim = Simulation(scenario, "forever", seed=1)
    assert math.isinf(getattr(sim.strategy, knob))
    metrics = compute_metrics(sim.run().to_frame())
    assert metrics["tasks_completed"] > 0


# --------------------------------------------------------------------------- 5. a delegate's leak


def delegate_estate(strategy: dict):
    """``lead`` hands every ticket's CRM lookup to ``helper`` (a 10-minute step, two a minute, so it always
    holds a fresh delegated credential); both roles reach the CRM."""
    data = delegating_estate(
        lookup="10m", rate="120/h",
        threats=[leak(principal="helper", at="3h")], detection=NO_DETECTION, run={"horizon": "5h"},
        strategies={"s": strategy})
    return build(data)


@pytest.mark.parametrize("strategy", [{"base": "zsp"}, {"base": "zsp", "delegation": "token_exchange"},
                                      {"base": "intent", "binding": "bearer"}])
def test_a_delegate_leaks_the_credentials_it_holds(strategy):
    events, metrics = run(delegate_estate(strategy), "s")
    acquired = events[(events.event == "acquire")]
    assert len(acquired) >= 1
    assert (acquired["value"] > 0).any(), "the helper held a live delegated credential when it leaked"
    assert metrics["potential_blast_radius"] > 0
    if strategy["base"] == "zsp":  # (intent's destination check still stops the exfiltration)
        assert metrics["blast_radius"] > 0
    assert "no credential" not in events[events.event == "compromise"].reason.iloc[0]


# --------------------------------------------------------------------------- 6. collateral


def shared_compromise(strategy: str):
    scenario = build(shared_estate(
        threats=[{"id": "breach", "kind": "shared_credential_compromise", "account": "svc-int", "via": "agent0",
                  "at": "1h", "attacker_delay": 0}],
        detection=FAST_DETECTION, run={"horizon": "8h"}))
    return run(scenario, strategy)


def test_collateral_counts_the_other_holders_failed_work_only():
    events, metrics = shared_compromise("shared_account")
    assert events[events.event == "compromise"].principal.iloc[0] == "agent0"
    refused = events[(events.event == "request") & ~events.malicious & (events.code == "revoked_response")]
    others = refused[refused.presenter != "agent0"]
    assert len(others) > 0 and (refused.presenter == "agent0").any()
    assert metrics["collateral_denials"] == len(others)


def test_per_agent_keys_cause_no_collateral():
    _, metrics = shared_compromise("rbac")
    assert metrics["collateral_denials"] == 0


# --------------------------------------------------------------------------- 8. the compromise names what leaked


def test_a_stolen_minting_credential_is_named_in_the_compromise():
    scenario = build(support_estate(threats=[leak(credential="minting")], detection=NO_DETECTION,
                                    run={"horizon": "3h"}))
    events, metrics = run(scenario, "zsp")
    row = events[events.event == "compromise"].iloc[0]
    doc = events[(events.event == "acquire")].credential.iloc[0]
    assert row.principal == "bot" and row.credential == doc
    assert doc in row.reason and "mints tokens" in row.reason
    assert metrics["malicious_allowed"] > 0


# --------------------------------------------------------------------------- 7. censoring at the horizon


def test_time_to_contain_is_projected_like_the_exposure_window():
    # No detection: the key works until its rotation, long after the 4 h horizon. Both times are
    # projected past the horizon the same way: the attacker goes on re-using what works until then.
    scenario = build(support_estate(threats=[leak()], detection=NO_DETECTION, run={"horizon": "4h"}))
    events, metrics = run(scenario, "rbac")
    compromise = events[events.event == "compromise"].t.iloc[0]
    key = events[events.event == "acquire"].credential.iloc[0]
    rotation = events[(events.event == "issue") & (events.credential == key)]["until"].iloc[0]
    assert rotation > 4 * 3600
    assert metrics["exposure_window_s"] == pytest.approx(rotation - compromise)
    assert metrics["time_to_contain_s"] == metrics["exposure_window_s"]


def test_an_attacker_that_stopped_before_the_horizon_is_not_projected():
    # detected and cut within the horizon: the last success is the one observed
    _, metrics = run(cached_rbac_estate(), "rbac_cached")
    assert metrics["time_to_contain_s"] < metrics["exposure_window_s"] < 3 * 3600


# --------------------------------------------------------------------------- 9. static analysis under the strategy

PACK = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))
LEAKS = ("secret_leak", "shared_credential_compromise", "improper_offboarding", "store_breach")


def leaking_principals(threat) -> list[str]:
    """The principals whose own controls decide what a leak hands over."""
    return list(getattr(threat, "principals", None) or [getattr(threat, "principal", None)
                                                          or getattr(threat, "via", None) or threat.agent])


@pytest.mark.parametrize("path", PACK, ids=[p.stem for p in PACK])
def test_static_potential_blast_radius_agrees_with_the_simulation(path):
    scenario = load_scenario(path)
    threats = {threat_id(t, i): t for i, t in enumerate(scenario.threats)}
    compared = 0
    for name in scenario.strategies:
        strategy = Simulation(scenario, name).strategy
        static = {i: threat_potential(scenario, t, name) for i, t in threats.items()}
        for seed in range(3):
            events = Simulation(scenario, name, seed=seed).run().to_frame()
            for row in events[events.event == "compromise"].itertuples():
                bound = static[row.incident]
                assert row.value <= bound + 1e-9, (name, seed, row.incident, row.value, bound)
                threat = threats[row.incident]
                if threat.kind in LEAKS and all(strategy.of(p).credential == "static_key"
                                                for p in leaking_principals(threat)):
                    assert row.value == pytest.approx(bound), (name, seed, row.incident)  # a standing key: exact
                compared += 1
    assert compared > 0 or not any(t.kind in LEAKS + ("agent_hijack", "delegation_abuse")
                                   for t in scenario.threats)


def test_analysis_follows_the_strategy_in_force():
    shared = build(shared_estate())
    # under a shared identity agent0 holds the account's key, which carries every holder's roles;
    # under per-agent identities it has its own key only
    assert blast_radius(shared, "agent0", max_paths=0, strategy="shared_account").value == \
        3 * blast_radius(shared, "agent0", max_paths=0, strategy="rbac").value
    assert blast_radius(shared, "agent0", max_paths=0, strategy="rbac").value == \
        blast_radius(shared, "key:agent0", max_paths=0, strategy="rbac").value
    chain = build(chain_estate(3))
    passing = blast_radius(chain, "a0", max_paths=0, strategy="zsp").value
    exchanging = blast_radius(chain, "a0", max_paths=0, strategy=preset("zsp").with_knobs(
        delegation="token_exchange")).value
    own = blast_radius(chain, "a0", max_paths=0, strategy="rbac").own_value
    assert passing == 4 * exchanging and exchanging == own  # pass-through reaches a1..a3's databases too
