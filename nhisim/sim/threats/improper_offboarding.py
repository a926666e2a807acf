"""Improper offboarding: an agent is retired but its credential stays valid, then leaks.

Strategies with ``offboarding_revokes`` revoke a retired agent's credentials (and stop
renewing its workload identity); the others leave an orphaned static key behind, which
the attacker finds later.
"""

from __future__ import annotations

from collections.abc import Generator

from nhisim.sim.engine import Incident, Simulation
from nhisim.sim.rng import stream
from nhisim.sim.threats.leaks import leaked_credentials

KIND = "improper_offboarding"


def install(sim: Simulation, threat, threat_id: str) -> None:
    rng = stream(sim.seed, "threat", threat_id)
    retired_at = threat.retired_at.sample(rng)
    leak_after = threat.leak_after.sample(rng)
    delay = threat.attacker_delay.sample(rng)
    sim.env.process(_offboard(sim, threat, threat_id, retired_at, leak_after, delay))


def _offboard(sim: Simulation, threat, threat_id: str, retired_at: float, leak_after: float,
              delay: float) -> Generator:
    yield sim.env.timeout(retired_at)
    sim.retire(threat.agent)
    yield sim.env.timeout(leak_after)
    stolen, _ = leaked_credentials(sim, threat.agent, "access")
    _, minting = leaked_credentials(sim, threat.agent, "minting")
    incident = Incident(threat_id, KIND, sim.env.now, f"attacker:{threat_id}", start_delay=delay)
    sim.open_incident(incident, stolen, minting)
