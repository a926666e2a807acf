"""Intent at run time: what each drift mode does with an out-of-intent request, needed
discoveries, argument constraints, goal switches, lossy delegation hops and anomaly alerts.

Each knob is shown to change the outcome it should, on a small estate where the effect
is certain (probabilities of 0 or 1, fixed durations).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from engine_fixtures import build, chain_estate, payments_estate

from nhisim.errors import InputError
from nhisim.metrics import compute_metrics
from nhisim.sim.engine import Simulation

TIME_EPSILON = 1e-6  # a wait is a difference of two clock readings: 60 s may read 59.99999999999999


def run(data: dict, strategy: str, seed: int = 1) -> tuple[pd.DataFrame, dict]:
    log = Simulation(build(data), strategy, seed=seed).run()
    return log.to_frame(), compute_metrics(log.columns())


def benign_requests(events: pd.DataFrame) -> pd.DataFrame:
    return events[(events.event == "request") & ~events.malicious.astype(bool)]


def discovering(needed: float, **strategies) -> dict:
    """Every task discovers the vendor export (its roles grant it) and, with ``needed``, needs it."""
    return payments_estate(threats=[{"id": "d", "kind": "runtime_discovery", "probability": 1.0,
                                     "needed_share": needed}],
                           strategies={"rbac": "rbac", "intent": "intent", **strategies})


# --------------------------------------------------------------------------- needed discoveries


def test_deny_mode_fails_every_task_whose_needed_discovery_it_denies():
    events, m = run(discovering(1.0), "intent")
    ends = events[events.event == "task_end"]
    assert len(ends) > 5 and (ends.decision == "failed").all()
    assert set(ends.reason) == {"an operation the task needed, found at run time, was denied"}
    assert m["needed_denied"] == len(ends) and m["task_success_rate"] == 0.0
    # rbac allows the export (the role grants it): nothing needed is denied
    events, m = run(discovering(1.0), "rbac")
    assert m["needed_denied"] == 0 and m["task_success_rate"] == 1.0
    assert m["overreach_allowed"] == m["overreach_attempts"] > 5


def test_a_discovery_the_task_does_not_need_is_a_side_trip():
    # every denial raises an alert: alerts enough would make sensitive calls wait for a human (risk posture)
    events, m = run(discovering(0.0, calm={"base": "intent", "risk_escalation_alerts": 1000}), "calm")
    assert m["overreach_attempts"] > 5 and m["overreach_allowed"] == 0
    assert m["needed_denied"] == 0 and m["task_success_rate"] == 1.0
    assert set(events.loc[events.event == "discover", "code"]) == {"optional"}


def test_needed_share_draws_from_its_own_stream_so_other_dice_do_not_move():
    """Changing the needed share changes which discoveries are needed, not the work itself."""
    low, _ = run(discovering(0.0), "rbac")
    high, _ = run(discovering(1.0), "rbac")
    for events in (low, high):
        assert (events.event == "discover").sum() > 5
    keep = ["t", "event", "task", "tool", "action", "resource", "decision"]
    pd.testing.assert_frame_equal(low[keep], high[keep])


# --------------------------------------------------------------------------- the drift modes


def test_escalate_sends_the_needed_call_to_a_human_who_approves_it():
    data = discovering(1.0, escalate={"base": "intent", "out_of_intent": "escalate"})
    data["approval"] = {"approval_probability": 1.0, "review_time": "1m"}
    events, m = run(data, "escalate")
    overreach = benign_requests(events)[benign_requests(events).in_intent == False]  # noqa: E712
    assert (overreach.code == "approved").all() and (overreach.wait >= 60 - TIME_EPSILON).all()
    assert m["needed_denied"] == 0 and m["task_success_rate"] == 1.0


def test_monitor_allows_what_the_roles_grant_and_raises_an_alert():
    data = discovering(1.0, monitor={"base": "intent", "out_of_intent": "monitor", "risk_escalation_alerts": 1})
    data["approval"] = {"approval_probability": 1.0, "review_time": "1m"}
    events, m = run(data, "monitor")
    requests = benign_requests(events)
    overreach = requests[requests.in_intent == False]  # noqa: E712
    assert set(overreach.code) == {"monitored"} and (overreach.decision == "allow").all()
    assert overreach.reason.str.endswith("allowed, and an alert raised (monitor mode)").all()
    assert m["overreach_allowed"] == m["overreach_attempts"] and m["needed_denied"] == 0
    # the alert is real: with one alert enough, the next sensitive call needs a human (risk posture)
    assert (requests.code == "approved").any() and m["approval_wait_s"] > 0
    quiet = discovering(1.0, monitor={"base": "intent", "out_of_intent": "monitor", "risk_escalation_alerts": 1000})
    _, m_quiet = run(quiet, "monitor")
    assert m_quiet["approval_wait_s"] == 0


def test_monitor_never_allows_what_the_roles_do_not_grant():
    data = discovering(1.0, monitor={"base": "intent", "out_of_intent": "monitor"})
    data["roles"][0]["grants"] = ["docs:read:invoices", "pay:send:bank"]  # nothing of the erp tool
    events, m = run(data, "monitor")
    overreach = benign_requests(events)[benign_requests(events).in_intent == False]  # noqa: E712
    assert len(overreach) > 5 and (overreach.decision == "deny").all()
    assert set(overreach.code) == {"intent_operation"}


def test_redeclare_by_policy_waits_for_the_policy_then_allows_under_the_wider_intent():
    data = discovering(1.0, redeclare={"base": "intent", "out_of_intent": "redeclare"})
    data["redeclaration"] = {"policy_latency": "7s"}
    events, m = run(data, "redeclare")
    redeclares = events[events.event == "redeclare"]
    assert len(redeclares) > 5 and (redeclares.decision == "allow").all() and ((redeclares.wait - 7).abs() < TIME_EPSILON).all()
    overreach = benign_requests(events)[benign_requests(events).in_intent == False]  # noqa: E712
    assert set(overreach.code) == {"redeclared"} and (overreach.decision == "allow").all()
    # each discovery waited for the policy: the request comes 7 s (and an issuer round-trip) after it
    discovered = events[events.event == "discover"].set_index("task").t
    assert ((overreach.set_index("task").t - discovered[overreach.task].values) >= 7).all()
    # the token was re-issued for the wider intent (two JIT tokens per task)
    issued = events[(events.event == "issue") & (events.code == "jit_token")]
    assert issued.groupby("task").size().min() == 2
    assert m["redeclarations"] == len(redeclares) and m["task_success_rate"] == 1.0 and m["approval_wait_s"] == 0


def test_redeclare_by_policy_refuses_resources_above_its_sensitivity():
    data = discovering(1.0, redeclare={"base": "intent", "out_of_intent": "redeclare"})
    data["redeclaration"] = {"policy_max_sensitivity": "medium"}  # the vendor list is high
    events, m = run(data, "redeclare")
    assert (events.loc[events.event == "redeclare", "decision"] == "deny").all()
    overreach = benign_requests(events)[benign_requests(events).in_intent == False]  # noqa: E712
    assert set(overreach.code) == {"redeclare_rejected"}
    assert overreach.reason.str.contains("more sensitive than a policy may approve").all()
    assert m["needed_denied"] == len(overreach) and m["task_success_rate"] == 0.0


@pytest.mark.parametrize("chance, success", [(1.0, 1.0), (0.0, 0.0)])
def test_redeclare_by_a_human_waits_in_the_queue_then_succeeds_or_fails_by_the_dice(chance, success):
    data = discovering(1.0, human={"base": "intent", "out_of_intent": "redeclare", "redeclare_approver": "human"})
    data["redeclaration"] = {"approval_probability": chance}
    data["approval"] = {"review_time": "2m"}
    events, m = run(data, "human")
    redeclares = events[events.event == "redeclare"]
    assert len(redeclares) > 5 and (redeclares.wait >= 120 - TIME_EPSILON).all()
    assert (redeclares.decision == ("allow" if chance else "deny")).all()
    assert m["task_success_rate"] == success and m["approval_wait_s"] >= 120 * len(redeclares) - TIME_EPSILON


def test_a_task_may_redeclare_only_so_many_times():
    data = payments_estate(strategies={"redeclare": {"base": "intent", "out_of_intent": "redeclare"}},
                           redeclaration={"max_per_task": 1})
    # the task's steps go beyond its declared intent twice (two operations it never declared)
    data["tasks"][0]["steps"] += [{"call": "erp:read:vendors", "duration": "5s"},
                                  {"call": "erp:export:vendors", "duration": "5s"}]
    events, m = run(data, "redeclare")
    ended = set(events.loc[events.event == "task_end", "task"])
    redeclares = events[(events.event == "redeclare") & events.task.isin(ended)]
    per_task = redeclares.groupby("task").decision.apply(list)
    assert len(per_task) > 5 and (per_task.apply(lambda d: d == ["allow", "deny"])).all()
    assert redeclares[redeclares.decision == "deny"].reason.str.contains("1 times already").all()
    assert m["task_success_rate"] == 0.0


# --------------------------------------------------------------------------- argument constraints


def test_arguments_beyond_the_intent_are_out_of_intent_and_only_intent_checks_them():
    data = payments_estate(amount=900, limit=500, strategies={"rbac": "rbac", "intent": "intent"})
    events, m = run(data, "intent")
    sends = benign_requests(events)[benign_requests(events).action == "send"]
    assert len(sends) > 5 and set(sends.code) == {"intent_argument"} and not sends.in_intent.any()
    assert m["task_success_rate"] == 0.0
    events, m = run(data, "rbac")
    sends = benign_requests(events)[benign_requests(events).action == "send"]
    assert (sends.decision == "allow").all()
    assert m["overreach_allowed"] == len(sends)  # allowed, but beyond what the task declared


def test_arguments_within_the_intent_pass_and_a_drawn_amount_is_checked_call_by_call():
    data = payments_estate(amount={"uniform": [0, 1000]}, limit=500,
                           strategies={"intent": {"base": "intent", "risk_escalation_alerts": 1000}})
    events, _ = run(data, "intent")
    sends = benign_requests(events)[benign_requests(events).action == "send"]
    codes = set(sends.code)
    assert codes == {"allowed", "intent_argument"}  # some draws under the limit, some over


def test_the_attacker_passes_its_own_arguments_and_intent_constraints_stop_them():
    hijack = [{"id": "hijack", "kind": "agent_hijack", "agent": "bot", "window": {"start": "1h", "duration": "30m"}}]
    data = payments_estate(threats=hijack, strategies={"rbac": "rbac", "intent": "intent"})
    data["tasks"][0]["arrival_rate"] = "60/h"
    data["tasks"][0]["steps"][0]["duration"] = "5m"  # the agent is always at work on a task
    data["attacker"] = {"destination": "internal"}  # so the arguments are what the intent checks fail on
    for strategy, decision, code in (("intent", "deny", "intent_argument"), ("rbac", "allow", "allowed")):
        events, _ = run(data, strategy)
        sends = events[(events.event == "request") & events.malicious.astype(bool) & (events.action == "send")]
        assert len(sends) >= 1, strategy
        assert sends.iloc[0].decision == decision and sends.iloc[0].code == code, strategy


def test_a_redeclared_intent_frees_the_arguments_it_was_redeclared_for():
    data = payments_estate(amount=900, limit=500,
                           strategies={"redeclare": {"base": "intent", "out_of_intent": "redeclare"}},
                           redeclaration={"policy_max_sensitivity": "critical"})
    events, m = run(data, "redeclare")
    sends = benign_requests(events)[benign_requests(events).action == "send"]
    assert set(sends.code) == {"redeclared"} and m["task_success_rate"] == 1.0


# --------------------------------------------------------------------------- goal switches


def _switching(follows: bool) -> dict:
    data = payments_estate(strategies={"intent": {"base": "intent", "intent_follows_switch": follows}})
    data["agents"][0]["tasks"].append("vendor-check")
    data["agents"][0]["behaviour"] = {"goal_switch_probability": 1.0}
    data["tasks"].append({"id": "vendor-check", "requested_by": "controller",
                          "intent": {"operations": ["erp:read:vendors"]},
                          "steps": [{"call": "erp:read:vendors", "duration": "5s"}]})
    return data


def test_a_switched_task_runs_its_new_objective_and_its_intent_follows():
    events, m = run(_switching(True), "intent")
    switches = events[events.event == "switch"]
    assert len(switches) > 5 and set(switches.code) == {"vendor-check"}
    assert switches.reason.str.endswith("its intent follows the new objective").all()
    reads = benign_requests(events)[benign_requests(events).action == "read"]
    assert (reads[reads.resource == "vendors"].decision == "allow").all()
    assert m["task_success_rate"] == 1.0
    # a new token, bound to the new objective, for each switched task
    tokens = events[(events.event == "issue") & (events.code == "jit_token")].groupby("task").size()
    assert (tokens[switches.task] == 2).all()


def test_when_intent_does_not_follow_the_switch_the_new_objective_is_out_of_intent():
    events, m = run(_switching(False), "intent")
    reads = benign_requests(events)[(benign_requests(events).resource == "vendors")]
    assert len(reads) > 5 and set(reads.code) == {"intent_operation"}
    assert reads.in_intent.all()  # the work is what the requester declared; the token's intent is stale
    assert m["task_success_rate"] == 0.0 and m["legit_denied"] >= len(reads)


# --------------------------------------------------------------------------- lossy delegation hops


def _cross_domain(mode: str) -> dict:
    """a0 hands a read of db1 to a1 (which its own role and intent cover, so exchange can narrow to it)."""
    data = chain_estate(1, strategies={"s": {"base": "intent", "lossy_hop": mode}})
    data["agents"][1]["domain"] = "partner"
    data["roles"][0]["grants"].append("api:read:db1")
    data["tasks"][0]["intent"]["operations"].append("api:read:db1")
    del data["tasks"][1]["requested_by"]  # the sub-task has no human of its own
    return data


def test_a_hop_token_exchange_cannot_make_fails_the_sub_task():
    events, m = run(_cross_domain("fail"), "s")
    refusals = events[(events.event == "issue") & (events.code == "lossy_hop")]
    assert len(refusals) > 5 and refusals.reason.str.contains("trust domain 'partner'").all()
    assert m["task_success_rate"] == 0.0


def test_a_lossy_hop_on_own_authority_loses_the_chain_and_the_originating_human():
    events, m = run(_cross_domain("own_authority"), "s")
    assert m["task_success_rate"] == 1.0
    starts = events[(events.event == "task_start") & (events.principal == "a1")]
    assert set(starts.code) == {"detached"} and set(starts.chain) == {"a1"}
    sub = benign_requests(events)[benign_requests(events).presenter == "a1"]
    assert len(sub) > 5 and sub.audit_human.isna().all()  # the originating human is lost
    root = benign_requests(events)[benign_requests(events).presenter == "a0"]
    assert (root.audit_human == "h").all()


def test_the_same_domain_hop_is_exchanged_whatever_the_lossy_hop_knob():
    for mode in ("fail", "own_authority"):
        data = _cross_domain(mode)
        data["agents"][1]["domain"] = "corp"
        events, m = run(data, "s")
        assert m["task_success_rate"] == 1.0
        assert set(events.loc[(events.event == "task_start") & (events.principal == "a1"), "code"]) == {"exchanged"}


def test_an_agent_that_cannot_exchange_makes_its_hops_lossy():
    data = _cross_domain("fail")
    data["agents"][1]["domain"] = "corp"
    data["agents"][1]["token_exchange"] = False
    events, _ = run(data, "s")
    refusals = events[(events.event == "issue") & (events.code == "lossy_hop")]
    assert len(refusals) > 5 and refusals.reason.str.contains("cannot take part in token exchange").all()


# --------------------------------------------------------------------------- allowed but anomalous


def _hijacked(p: float) -> dict:
    data = payments_estate(threats=[{"id": "hijack", "kind": "agent_hijack", "agent": "bot",
                                     "window": {"start": "1h", "duration": "2h"}}],
                           strategies={"rbac": "rbac"})
    data["tasks"][0]["steps"] = [{"call": "docs:read:invoices", "duration": "10s"}]  # its usual pattern
    data["detection"] = {"monitoring": "none", "alert_detection_probability": 1.0,
                         "alert_triage_delay": "5m", "anomaly_alert_probability": p}
    return data


def test_allowed_requests_outside_the_usual_pattern_feed_detection():
    _, quiet = run(_hijacked(0.0), "rbac")
    assert quiet["malicious_allowed"] > 0 and math.isinf(quiet["time_to_detect_s"])
    events, watched = run(_hijacked(1.0), "rbac")
    assert watched["time_to_detect_s"] == pytest.approx(300.0)  # the first out-of-pattern request, triaged
    detect = events[events.event == "detect"].iloc[0]
    assert "outside the usual pattern of bot" in detect.reason


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("change, message", [
    (lambda d: d["tasks"][0]["intent"]["constraints"].update({"pay:send:bank": ["fee <= 3"]}),
     "has no parameter 'fee'"),
    (lambda d: d["tasks"][0]["intent"]["constraints"].update({"pay:send:bank": ["recipient <= 3"]}),
     "'recipient' is text"),
    (lambda d: d["tasks"][0]["intent"]["constraints"].update({"pay:send:bank": ["amount like 3*"]}),
     "'amount' is a number"),
    (lambda d: d["tasks"][0]["intent"]["constraints"].update({"erp:read:vendors": ["amount <= 3"]}),
     "not an operation this intent declares"),
    (lambda d: d["tasks"][0]["steps"][1]["arguments"].update({"amount": "lots"}), "is number, but the step gives text"),
    (lambda d: d["tasks"][0]["steps"][1]["arguments"].update({"fee": 3}), "takes no parameter 'fee'"),
    (lambda d: d["agents"][0].update(behaviour={"needed_share": 0.5}), "never discovers anything"),
    (lambda d: d["agents"][0].update(behaviour={"goal_switch_probability": 0.5}), "no other objective"),
    (lambda d: d["tools"][2]["operations"][0].update(parameters={"amount": {"type": "text"}}),
     "parameter 'amount' is text here but number"),
    (lambda d: d["tools"][1]["operations"][0]["parameters"]["amount"].update(default="x"),
     "must be a number"),
    (lambda d: d["tasks"][0]["steps"][1]["arguments"].update({"amount": {"uniform": [5, 1]}}), "low <= high"),
    (lambda d: d["tasks"][0]["steps"][1]["arguments"].update({"amount": 1e300}), "less than or equal"),
])
def test_what_cannot_apply_is_a_validation_error(change, message):
    data = payments_estate()
    change(data)
    with pytest.raises(InputError) as err:
        build(data)
    assert message in str(err.value)


# --------------------------------------------------------------------------- the metrics, closed form


def test_the_new_metrics_count_exactly_what_docs_metrics_says():
    from nhisim.sim.eventlog import EventLog

    log = EventLog()
    for agent in ("a", "b", "c", "d"):
        log.task_start(0.0, agent=agent, chain=agent, task=f"{agent}/t#1", human="h", how="arrival")

    def request(agent, action, resource, in_intent, decision, malicious=False):
        log.request(1.0, principal=agent, presenter=agent, actor=agent, credential="k", chain="", tool="api",
                    action=action, resource=resource, task=f"{agent}/t#1", audit_task=None, audit_human=None,
                    malicious=malicious, in_intent=in_intent, decision=decision, code="x", reason="x", value=1.0,
                    records=0.0, wait=float("nan"))

    log.discover(1.0, agent="a", task="a/t#1", tool="api", action="export", resource="db", needed=True, reason="x")
    request("a", "export", "db", False, "deny")  # a needed discovery, denied: counted
    request("a", "write", "db", False, "deny")  # out of intent (its arguments), not the discovery: not counted
    log.discover(1.0, agent="b", task="b/t#1", tool="api", action="delete", resource="db", needed=True, reason="x")
    request("b", "delete", "db", False, "allow")  # needed and allowed: b acted beyond intent
    log.discover(1.0, agent="c", task="c/t#1", tool="api", action="admin", resource="db", needed=False, reason="x")
    request("c", "admin", "db", False, "deny")  # optional and denied: neither
    request("d", "read", "db", True, "allow")  # in intent
    request("e", "admin", "db", False, "allow")  # e never started a task: not in the share
    request("a", "admin", "db", False, "allow", malicious=True)  # the attacker's: not benign overreach
    for approved, malicious in ((True, False), (False, False), (True, True)):
        log.redeclare(2.0, agent="a", actor="a", task="a/t#1", op=("api", "read", "db"), approved=approved, wait=0.0,
                      malicious=malicious, incident=None, reason="x")
    log.run_end(10.0, reason="end")
    m = compute_metrics(log.columns())
    assert m["needed_denied"] == 1
    assert m["overreach_agents_share"] == 1 / 4  # b, of a, b, c and d
    assert m["overreach_attempts"] == 5 and m["overreach_allowed"] == 2  # b and e
    assert m["redeclarations"] == 2


def test_no_agent_at_work_makes_the_share_meaningless():
    from nhisim.sim.eventlog import EventLog

    log = EventLog()
    log.run_end(10.0, reason="end")
    assert math.isnan(compute_metrics(log.columns())["overreach_agents_share"])


@pytest.mark.parametrize("mode", ["fail", "own_authority"])
def test_static_analysis_follows_a_lossy_hop_as_the_engine_does(mode):
    from nhisim.world.analysis import blast_radius, threat_potential

    data = _cross_domain(mode)
    data["strategies"]["s"] = {"base": "zsp", "delegation": "token_exchange", "lossy_hop": mode}
    data["threats"] = [{"id": "deputy", "kind": "delegation_abuse", "agent": "a0", "deputy": "a1", "task": "t1",
                        "window": {"start": "30m", "duration": "1h"}}]
    scenario = build(data)
    static = threat_potential(scenario, scenario.threats[0], "s")
    events = Simulation(scenario, "s", seed=3).run().to_frame()
    simulated = events[events.event == "compromise"].value.iloc[0]
    assert simulated <= static + 1e-9
    reach = blast_radius(scenario, "a0", max_paths=0, strategy="s")
    if mode == "own_authority":  # a1 acts for a0 on its own authority: a0 reaches db1's export too
        assert simulated == static > 0 and reach.value > reach.own_value
        malicious = events[(events.event == "request") & events.malicious.astype(bool)]
        assert (malicious.principal == "a1").any()
    else:  # the hand-off fails: nothing through a1
        assert static == 0 and reach.value == reach.own_value
        assert (events[events.event == "issue"].code == "lossy_hop").any()


def test_the_tool_discovery_tradeoff_shows_the_four_drift_modes_apart():
    """On the pack's tool_discovery scenario, each pair of drift modes is apart on security (overreach
    allowed) or utility (legitimate requests denied): their 95% intervals do not overlap on one axis."""
    from pathlib import Path

    import nhisim
    from nhisim.reports import figures

    path = Path(__file__).resolve().parent.parent / "scenarios" / "tool_discovery.yaml"
    modes = ["intent", "intent_escalate", "intent_monitor", "intent_redeclare"]
    comparison = nhisim.compare(path, strategies=modes, replications=12, keep_events=False)
    summary = comparison.summary(["overreach_allowed", "legit_denied"]).set_index(["strategy", "metric"])
    for i, a in enumerate(modes):
        for b in modes[i + 1:]:
            apart = [m for m in ("overreach_allowed", "legit_denied")
                     if summary.loc[(a, m), "ci_high"] < summary.loc[(b, m), "ci_low"]
                     or summary.loc[(b, m), "ci_high"] < summary.loc[(a, m), "ci_low"]]
            assert apart, (a, b)
    figure = figures.tradeoff(comparison, "overreach_allowed", "legit_denied")
    drawn = {text.get_text() for text in figure.axes[0].texts}
    assert drawn == set(modes)  # four points, each labelled on its own
