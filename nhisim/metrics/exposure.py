"""For how long the attacker held usable access, and how fast it was found and cut.

Per incident: the exposure window runs from the compromise to the moment every
credential the attacker holds is unusable (expired, or revoked and propagated; for a
steered agent, the end of the steering). A run with several incidents reports the
longest window and detection, the mean of the others' times.

Times past the horizon are projected the same way for every metric. Detection and the
response are projected from the run's own draws, so the exposure window is measured
even when it outlives the simulated time; time to contain is then projected too: an
attacker still at work at the horizon with access that outlives it goes on re-using
what works, so its last success is taken as the end of its exposure.
"""

from __future__ import annotations

import math

from nhisim.metrics.digest import LogDigest

COLUMNS = ("exposure_window_s", "time_weighted_exposure", "time_to_detect_s", "time_to_revoke_s",
           "time_to_contain_s")


def _union_integral(holdings) -> float:
    """∫ value(union of scopes held) dt: sweep over the change points."""
    points = sorted({h.start for h in holdings} | {h.end for h in holdings if math.isfinite(h.end)})
    if any(not math.isfinite(h.end) and h.scope for h in holdings):
        return math.inf
    total = 0.0
    for a, b in zip(points, points[1:], strict=False):
        scope: dict[str, float] = {}
        for h in holdings:
            if h.start <= a and h.end >= b:
                scope.update(h.scope)
        total += sum(scope.values()) * (b - a)
    return total


def compute(log: LogDigest) -> dict[str, float]:
    incidents = list(log.incidents.values())
    if not incidents:
        return dict.fromkeys(COLUMNS, math.nan)
    windows, weighted, detect, revoke, contain = [], [], [], [], []
    for incident in incidents:
        live = [h for h in incident.holdings if h.end > h.start and h.scope]
        end = max((h.end for h in live), default=incident.start)
        windows.append(end - incident.start)
        weighted.append(_union_integral(live))
        detect.append(incident.detected - incident.start)
        if math.isfinite(incident.detected):
            revoke.append(max(0.0, end - incident.detected))
        if math.isnan(incident.last_success):
            contain.append(0.0)
        elif not math.isfinite(incident.stopped) and end > log.horizon:  # censored at the horizon: project it
            contain.append(end - incident.start)
        else:
            contain.append(incident.last_success - incident.start)
    return {
        "exposure_window_s": max(windows),
        "time_weighted_exposure": sum(weighted),
        "time_to_detect_s": sum(detect) / len(detect),
        "time_to_revoke_s": sum(revoke) / len(revoke) if revoke else math.nan,
        "time_to_contain_s": max(contain),
    }
