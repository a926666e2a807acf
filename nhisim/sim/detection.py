"""Detection and response.

Detection is a process: from the compromise, a baseline delay drawn from the
distribution of the scenario's monitoring level (or of the threat's own ``detection``,
whose clock may start at the attacker's first request instead); each alert (a denied or anomalous
malicious request) leads to detection after a triage delay with some probability,
whichever comes first. On detection the responder acts after the strategy's revocation
latency (a ticket a person works, or automation): it revokes every credential the
attacker holds, quarantines a steered agent, and re-provisions legitimate holders: a
per-agent key is rotated in place at once; a shared key reaches its other holders only
after a redeploy delay, and their work fails meanwhile (collateral).

A response does not stop the attacker by itself: a revocation bites only once it has
propagated (a cache TTL, or the token's expiry), and until then a stolen credential
still works, so the attacker goes on trying. Only a quarantined steered agent is taken
from the attacker at once.

Several incidents may be one breach (a threat's ``detection.shared_with``): when one of
them is detected, the others are detected at the same moment (one that opens later is
detected when it opens), and each is responded to.

Times beyond the horizon are projected from the same draws, so an exposure window that
outlives the simulated day is still measured, not cut off.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING

import networkx as nx

from nhisim.scenario.models import Scenario
from nhisim.sim.rng import stream
from nhisim.sim.state import Incident

if TYPE_CHECKING:
    from nhisim.sim.surface import EngineSurface as Simulation


def shared_groups(scenario: Scenario) -> dict[str, tuple[str, ...]]:
    """For each threat id, the other threats it shares one detection with (``detection.shared_with``,
    both ways, transitively: one breach)."""
    links = nx.Graph()
    for i, threat in enumerate(scenario.threats):
        if threat.detection is not None and threat.detection.shared_with is not None:
            links.add_edge(threat.effective_id(i), threat.detection.shared_with)
    return {member: tuple(sorted(group - {member})) for group in nx.connected_components(links) for member in group}


def detection_process(sim: Simulation, incident: Incident) -> Generator:
    """Baseline detection of one incident (a workload generator on the agenda)."""
    detection = sim.scenario.detection
    own = sim.threat_detection.get(incident.id)
    how = f"baseline monitoring ({detection.monitoring})"
    origin = incident.start
    if not detection.enabled:
        baseline = math.inf
    elif own is not None and own.baseline_delay is not None:
        baseline = own.baseline_delay.sample(incident.rng_detection)
        how = "this incident's own monitoring"
    else:
        level = detection.levels.get(detection.monitoring)
        baseline = level.baseline_delay.sample(incident.rng_detection) if level else math.inf
    if own is not None and own.clock == "first_use":  # the attacker first acts right after its delay
        origin += incident.start_delay
        how += ", from the attacker's first use"
    incident.pending_detection = min(incident.pending_detection, origin + baseline)
    if math.isfinite(baseline):
        yield origin - sim.env.now + baseline
        detect(sim, incident, how)


def on_alert(sim: Simulation, incident: Incident, why: str) -> None:
    detection = sim.scenario.detection
    if not detection.enabled or math.isfinite(incident.detected_at):
        return
    rng = incident.rng_detection
    if rng.random() < detection.alert_detection_probability:
        delay = detection.alert_triage_delay.sample(rng)
        incident.pending_detection = min(incident.pending_detection, sim.env.now + delay)
        sim.env.process(_detect_later(sim, incident, delay, f"a triaged alert: {why}"))


def _detect_later(sim: Simulation, incident: Incident, delay: float, how: str) -> Generator:
    yield sim.env.timeout(delay)
    detect(sim, incident, how)


def _responder(sim: Simulation, incident: Incident):
    """The controls the response to ``incident`` follows: those of the compromised principal (the steered
    agent, the holder whose copy was stolen, or the subject of the first credential the attacker got)."""
    principal = incident.host or incident.holder
    if principal is None and incident.acquired:
        principal = next(iter(incident.acquired.values())).subject
    return sim.controls(principal)


def _response_latency(sim: Simulation, incident: Incident) -> float:
    detection = sim.scenario.detection
    rng = stream(sim.seed, "response", incident.id)
    manual = detection.manual_revocation_latency.sample(rng)
    automated = detection.automated_revocation_latency.sample(rng)
    return manual if _responder(sim, incident).revocation == "manual" else automated


def detect(sim: Simulation, incident: Incident, how: str, at: float | None = None) -> None:
    if math.isfinite(incident.detected_at):
        return
    now = sim.env.now if at is None else at
    incident.detected_at = now
    latency = _response_latency(sim, incident)
    incident.response_at = now + latency
    projected = " (projected beyond the horizon)" if now > sim.horizon else ""
    sim.log.detect(now, presenter=incident.presenter, actor=incident.actor, projected=bool(projected),
                   reason=f"detected by {how}{projected}", incident=incident.id, response_at=incident.response_at)
    if at is None:
        sim.env.process(_respond_later(sim, incident, latency))
    partners = sim.detection_partners.get(incident.id)
    if partners:
        for other in sim.incidents:
            if other.id in partners:
                detect(sim, other, f"the detection of incident {incident.id} (one breach, found once)", at=at)


def on_open(sim: Simulation, incident: Incident) -> None:
    """An incident opens: if a breach it is part of was found already, it is detected now."""
    partners = sim.detection_partners.get(incident.id)
    if partners:
        found = [other for other in sim.incidents if other.id in partners and math.isfinite(other.detected_at)]
        if found:
            detect(sim, incident, f"the detection of incident {found[0].id} earlier (one breach, found once)")


def _respond_later(sim: Simulation, incident: Incident, latency: float) -> Generator:
    yield sim.env.timeout(latency)
    respond(sim, incident)


def respond(sim: Simulation, incident: Incident, at: float | None = None) -> None:
    """Revoke what the attacker holds, quarantine a steered agent, re-provision the innocent."""
    if incident.responded:
        return
    incident.responded = True
    now = sim.env.now if at is None else at
    mode = "a revocation ticket" if _responder(sim, incident).revocation == "manual" else "automated response"
    reason = f"{mode} for incident {incident.id}"
    live = [c for c in incident.acquired.values() if now < c.unusable_at]
    for cred in live:
        sim.revoke(cred, reason, by_response=True, incident=incident.id, at=now)
    steered = [a for a in (incident.host, incident.deputy if incident.steers else None) if a]
    quarantines = incident.steers and sim.scenario.detection.quarantine_hijacked
    if quarantines:
        host = incident.host
        sim.quarantine(host, now)
        sim.log.quarantine(now, agent=host, reason=f"{host} quarantined ({reason})", incident=incident.id)
        if at is None:
            for cred in sim.usable_holdings(host):
                sim.revoke(cred, f"{host} quarantined", by_response=True, incident=incident.id)
            sim.env.process(_reinstate(sim, host, sim.scenario.detection.quarantine_duration))
    if at is None:
        if quarantines:
            sim.release(incident, f"contained: {reason}")
        _reprovision(sim, incident, live, excluded=set(steered))


def _reinstate(sim: Simulation, agent: str, after: float) -> Generator:
    """A quarantined agent is rebuilt and gets fresh credentials after ``after`` seconds."""
    if not math.isfinite(after):
        return
    yield sim.env.timeout(after)
    sim.end_quarantine(agent)
    sim.log.reinstate(sim.env.now, agent=agent, reason=f"{agent} rebuilt and reinstated after quarantine")
    if sim.controls(agent).credential == "static_key":
        key = sim.current_key(agent)
        if key is not None:
            sim.reissue_key(key)
    elif not sim.is_retired(agent):
        sim.issue_identity(agent)


def _reprovision(sim: Simulation, incident: Incident, revoked: list, excluded: set[str]) -> None:
    rng = stream(sim.seed, "reprovision", incident.id)
    for cred in revoked:
        if sim.current_key(cred.subject) is cred:
            if cred.kind == "shared_key":
                delay = sim.scenario.detection.shared_reprovision_delay.sample(rng)
                sim.env.process(_reissue_later(sim, cred, delay))
            elif cred.subject not in excluded:
                sim.reissue_key(cred)
        elif sim.identity_of(cred.subject) is cred and cred.subject not in excluded:
            sim.issue_identity(cred.subject)


def _reissue_later(sim: Simulation, cred, delay: float) -> Generator:
    yield sim.env.timeout(delay)
    sim.reissue_key(cred)


def finalize_incidents(sim: Simulation) -> None:
    """At the horizon: project detection and revocation that fall after it (earliest first, so a shared
    detection reaches the other incidents of a breach at its own time)."""
    incidents = sorted(sim.incidents, key=lambda i: i.pending_detection) if sim.detection_partners else sim.incidents
    for incident in incidents:
        if not math.isfinite(incident.detected_at) and math.isfinite(incident.pending_detection):
            detect(sim, incident, "baseline monitoring", at=incident.pending_detection)
        if math.isfinite(incident.detected_at) and not incident.responded and math.isfinite(incident.response_at):
            respond(sim, incident, at=incident.response_at)
