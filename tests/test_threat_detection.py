"""Detection per threat: a baseline delay of its own, a clock that starts at the attacker's first use,
and one breach found once (a detection shared between incidents); and what validation refuses."""

from __future__ import annotations

import math

import pytest
from engine_fixtures import build, support_estate

from nhisim.errors import InputError
from nhisim.metrics import compute_metrics
from nhisim.sim.engine import Simulation

SILENT = {"monitoring": "none", "alert_detection_probability": 0.0,  # nothing detects unless a threat says so
          "automated_revocation_latency": {"fixed": "5s"}}


def leak(id: str = "leak", **kw) -> dict:
    return {"id": id, "kind": "secret_leak", "principal": "bot", "at": "1h", "attacker_delay": 0, **kw}


def estate(threats: list[dict], detection: dict | None = None) -> dict:
    """The support estate with a second support agent, ``bot2``, so that two leaks steal two keys."""
    data = support_estate(threats=threats, detection=detection or SILENT, run={"horizon": "12h"},
                          strategies={"rbac_auto": {"base": "rbac", "revocation": "automated"}})
    data["agents"].append({**data["agents"][0], "id": "bot2"})
    return data


def run(threats: list[dict], strategy: str = "rbac_auto", detection: dict | None = None, seed: int = 1):
    scenario = build(estate(threats, detection))
    log = Simulation(scenario, strategy, seed=seed).run()
    return log.to_frame(), compute_metrics(log.columns())


def detected_at(events, incident: str) -> float:
    rows = events[(events.event == "detect") & (events.incident == incident)]
    return float(rows.t.iloc[0]) if len(rows) else math.inf


# --------------------------------------------------------------------------- a baseline of its own


def test_a_threats_own_baseline_replaces_the_monitoring_levels():
    _, unseen = run([leak()])
    events, seen = run([leak(detection={"baseline_delay": "45m"})])
    assert math.isinf(unseen["time_to_detect_s"])  # monitoring "none": never detected
    assert seen["time_to_detect_s"] == pytest.approx(2700.0)
    assert "this incident's own monitoring" in events[events.event == "detect"].reason.iloc[0]
    assert seen["exposure_window_s"] < unseen["exposure_window_s"]  # the response revoked the key


def test_first_use_starts_the_clock_at_the_attackers_first_request():
    threat = leak(attacker_delay="2h")
    _, from_compromise = run([{**threat, "detection": {"baseline_delay": "30m"}}])
    events, from_first_use = run([{**threat, "detection": {"baseline_delay": "30m", "clock": "first_use"}}])
    first_request = events[(events.event == "request") & events.malicious].t.min()
    compromise = events[events.event == "compromise"].t.iloc[0]
    assert first_request - compromise == pytest.approx(7200.0)
    assert from_compromise["time_to_detect_s"] == pytest.approx(1800.0)
    # time to detect is still compromise -> detection: the attacker's delay is in it
    assert from_first_use["time_to_detect_s"] == pytest.approx(7200.0 + 1800.0)
    assert from_first_use["blast_radius"] > 0 and from_compromise["blast_radius"] == 0  # revoked before use


def test_a_leak_nobody_uses_is_never_detected_on_a_first_use_clock():
    threat = leak(attacker_delay="never", detection={"baseline_delay": "10m", "clock": "first_use"})
    events, metrics = run([threat])
    assert math.isinf(metrics["time_to_detect_s"])
    assert not (events.event == "detect").any()


# --------------------------------------------------------------------------- one breach, found once


def test_a_shared_detection_finds_both_incidents_at_once_and_responds_to_both():
    found = leak("found", at="1h", detection={"baseline_delay": "20m", "shared_with": "hidden"})
    hidden = leak("hidden", at="1h", principal="bot2")
    events, metrics = run([found, hidden])
    assert detected_at(events, "hidden") == detected_at(events, "found") == pytest.approx(3600 + 1200)
    reason = events[(events.event == "detect") & (events.incident == "hidden")].reason.iloc[0]
    assert "the detection of incident found (one breach, found once)" in reason
    responded = set(events[(events.event == "revoke") & (events.code == "response")].incident)
    assert responded == {"found", "hidden"}
    _, alone = run([{**found, "detection": {"baseline_delay": "20m"}}, hidden])
    assert math.isinf(alone["time_to_detect_s"]) and math.isfinite(metrics["time_to_detect_s"])


def test_an_incident_of_a_breach_already_found_is_detected_when_it_opens():
    found = leak("found", at="1h", detection={"baseline_delay": "10m"})
    later = leak("later", at="3h", principal="bot2", detection={"shared_with": "found"})
    events, _ = run([found, later])
    assert detected_at(events, "found") == pytest.approx(4200.0)
    assert detected_at(events, "later") == pytest.approx(10800.0)  # at its compromise
    assert "earlier (one breach, found once)" in events[(events.event == "detect")
                                                        & (events.incident == "later")].reason.iloc[0]


def test_a_shared_detection_projected_past_the_horizon_keeps_the_earliest_time():
    slow = leak("slow", at="1h", detection={"baseline_delay": "40h", "shared_with": "fast"})
    fast = leak("fast", at="2h", principal="bot2", detection={"baseline_delay": "20h"})
    events, _ = run([slow, fast])
    assert detected_at(events, "fast") == detected_at(events, "slow") == pytest.approx(22 * 3600.0)


# --------------------------------------------------------------------------- validation


def _refused(threats: list[dict], detection: dict | None = None) -> str:
    with pytest.raises(InputError) as info:
        build(estate(threats, detection))
    return info.value.render()


@pytest.mark.parametrize("shared_with, message", [
    ("leak", "shares its detection with itself"),
    ("lek", "unknown threat 'lek'"),
    ("overreach", "opens no incident to detect"),
])
def test_a_shared_detection_must_name_another_incident(shared_with, message):
    threats = [leak(detection={"baseline_delay": "1h", "shared_with": shared_with}),
               {"id": "overreach", "kind": "runtime_discovery", "probability": 0.1}]
    assert message in _refused(threats)


def test_detection_on_a_threat_that_opens_no_incident_is_refused():
    text = _refused([{"id": "down", "kind": "issuer_outage", "window": {"start": "1h", "duration": "10m"},
                      "detection": {"baseline_delay": "1h"}}])
    assert "issuer_outage opens no incident" in text and "threats.0.detection" in text


def test_a_threats_detection_is_refused_when_detection_is_disabled():
    assert "detection is disabled" in _refused([leak(detection={"baseline_delay": "1h"})], {"enabled": False})


def test_a_shared_detection_that_can_never_fire_is_refused():
    threats = [leak("a", detection={"shared_with": "b"}), leak("b", detection={"baseline_delay": "never"})]
    assert "can never fire" in _refused(threats)
    # an alert may still detect one of them: then it can fire
    build(estate(threats, {**SILENT, "alert_detection_probability": 0.5}))


def test_default_threat_ids_can_be_shared_with():
    scenario = build(estate([
        {"kind": "secret_leak", "principal": "bot", "at": "1h", "detection": {"shared_with": "secret_leak-1"}},
        {"kind": "secret_leak", "principal": "bot2", "at": "2h", "detection": {"baseline_delay": "1h"}}]))
    assert scenario.threats[0].detection.shared_with == "secret_leak-1"
