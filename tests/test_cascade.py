"""Cascade revocation: revoking a credential revokes the tokens exchanged from it, down the chain,
and the exposure of an attacker holding such a token ends with it."""

from __future__ import annotations

import gc
import math

import pytest
from engine_fixtures import build, chain_estate, delegating_estate, support_estate

from nhisim.metrics import compute_metrics
from nhisim.scenario.validate import scenario_warnings
from nhisim.sim.engine import Simulation

EXCHANGE = {"base": "zsp", "delegation": "token_exchange", "ttl": "8h", "revoke_at_task_end": False,
            "revocation": "automated", "propagation": "immediate"}
DETECTION = {"monitoring": "none", "alert_detection_probability": 0.0,
             "automated_revocation_latency": {"fixed": "5s"}}


def exchanging_estate(**extra) -> dict:
    """``lead`` hands every ticket's CRM lookup to ``helper`` by token exchange; its tokens live 8 h."""
    return delegating_estate(detection=DETECTION, run={"horizon": "12h"}, **extra)


def leaks(delegate: str, delegator: str) -> list[dict]:
    """The delegate's tokens leak unnoticed; the delegator's leak a little later and are found in 10 min."""
    return [{"id": "delegate-leak", "kind": "secret_leak", "principal": delegate, "at": "3h", "attacker_delay": 0},
            {"id": "delegator-leak", "kind": "secret_leak", "principal": delegator, "at": "185m",
             "attacker_delay": 0, "detection": {"baseline_delay": "10m"}}]


def run(data: dict, strategy: str, seed: int = 1):
    log = Simulation(build(data), strategy, seed=seed).run()
    return log.to_frame(), compute_metrics(log.columns())


def exposure_of(events, incident: str) -> float:
    """The end of what one incident's attacker held, from the log (as the exposure metric reads it)."""
    from nhisim.metrics.lifecycle import RunLog

    view = RunLog(events).incidents[incident]
    live = [h for h in view.holdings if h.end > h.start and h.scope]
    return max((h.end for h in live), default=view.start) - view.start


@pytest.fixture(scope="module")
def both():
    data = exchanging_estate(threats=leaks("helper", "lead"),
                             strategies={"cascade": {**EXCHANGE, "cascade_revocation": True}, "plain": EXCHANGE})
    return run(data, "cascade"), run(data, "plain")


def test_revoking_the_delegators_token_revokes_the_tokens_exchanged_from_it(both):
    (events, _), _ = both
    cascaded = events[(events.event == "revoke") & events.reason.str.startswith("cascade: ")]
    assert len(cascaded) > 0
    assert set(cascaded.chain) == {"lead>helper"}
    assert (cascaded.code == "response").all()  # revoked by the response, in cascade
    assert set(cascaded.incident) == {"delegator-leak"}
    found = events[(events.event == "revoke") & (events.incident == "delegator-leak")
                   & ~events.reason.str.startswith("cascade: ")].t.min()
    assert (cascaded.t == found).all()


def test_the_delegates_stolen_token_dies_with_its_parent(both):
    (cascade_events, cascade), (plain_events, plain) = both
    with_cascade = exposure_of(cascade_events, "delegate-leak")
    without = exposure_of(plain_events, "delegate-leak")
    detected = cascade_events[cascade_events.event == "detect"].t.min()
    assert with_cascade == pytest.approx(detected + 5 - 3 * 3600)  # compromise -> the parent's revocation
    assert without > with_cascade + 3600  # without cascade the exchanged token lives out its TTL
    assert cascade["exposure_window_s"] < plain["exposure_window_s"]
    assert cascade["time_weighted_exposure"] < plain["time_weighted_exposure"]
    assert math.isinf(plain["time_to_detect_s"]) and math.isinf(cascade["time_to_detect_s"])  # one never found


def test_the_cascade_goes_down_the_whole_chain():
    data = chain_estate(2, threats=leaks("a2", "a0"), detection=DETECTION,
                        strategies={"cascade": {**EXCHANGE, "cascade_revocation": True}})
    reads = [f"api:read:db{i}" for i in range(3)]
    for i, (role, task) in enumerate(zip(data["roles"], data["tasks"], strict=True)):
        role["grants"] = reads  # every hop's token carries what the hops after it read
        task["intent"]["operations"] = reads[i:]
    events, _ = run(data, "cascade")
    cascaded = events[(events.event == "revoke") & events.reason.str.startswith("cascade: ")]
    assert {"a0>a1", "a0>a1>a2"} <= set(cascaded.chain)
    assert not cascaded.reason.str.contains("cascade: cascade:").any()


def test_cascade_revocation_warns_where_nothing_is_exchanged():
    passing = build(exchanging_estate(strategies={"p": {"base": "zsp", "cascade_revocation": True}}))
    assert any("cascade_revocation has no effect" in p.message and "pass_through" in p.message
               for p in scenario_warnings(passing))
    alone = build(support_estate(strategies={"x": {"base": "intent", "cascade_revocation": True}},
                                 run={"baseline": "x"}))
    assert any("no task delegates" in p.message for p in scenario_warnings(alone))
    exchanging = build(exchanging_estate(strategies={"x": {**EXCHANGE, "cascade_revocation": True}}))
    assert not [p for p in scenario_warnings(exchanging) if "cascade_revocation" in p.message]


def test_a_cascade_run_lets_the_collector_free_its_dead_credentials():
    """A credential and the tokens exchanged from it refer to each other: dead, they are cycles only
    the cyclic collector frees, so a cascade run keeps it on; a run without cascade makes no cycles
    and pauses it. Either way it is on again after the run."""
    data = exchanging_estate(strategies={"cascade": {**EXCHANGE, "cascade_revocation": True}, "plain": EXCHANGE})
    during = {}
    for name in ("cascade", "plain"):
        sim = Simulation(build(data), name, seed=1)

        def probe(env, name=name):
            during[name] = gc.isenabled()
            yield env.timeout(0)

        sim.env.process(probe(sim.env))
        sim.run()
        assert gc.isenabled()
    assert during == {"cascade": True, "plain": False}
