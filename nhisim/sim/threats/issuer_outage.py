"""Issuer outage: the token issuer is down for a window.

No JIT token or workload identity can be issued meanwhile; agents retry a few times,
then their tasks fail. Static keys do not need the issuer: this is the availability
cost of zero standing privileges.
"""

from __future__ import annotations

from collections.abc import Generator

from nhisim.sim.engine import Simulation
from nhisim.sim.rng import stream

KIND = "issuer_outage"


def install(sim: Simulation, threat, threat_id: str) -> None:
    rng = stream(sim.seed, "threat", threat_id)
    start = threat.window.start.sample(rng)
    duration = threat.window.duration.sample(rng)
    sim.outages.append((start, start + duration))
    sim.env.process(_outage(sim, threat_id, start, duration))


def _outage(sim: Simulation, threat_id: str, start: float, duration: float) -> Generator:
    yield sim.env.timeout(start)
    sim.log.add(sim.env.now, "outage", code="start", reason=f"the token issuer is down for {duration:g} s",
                incident=threat_id, until=start + duration)
    yield sim.env.timeout(duration)
    sim.log.add(sim.env.now, "outage", code="end", reason="the token issuer is back", incident=threat_id)
