"""Agent hijack / goal manipulation: the attacker steers an agent for a window.

The steered agent acts with its own live authority: it presents what it holds, can ask
the issuer for tokens as itself, and can delegate. Intent checks confine it to its
current task's intent; its off-intent attempts are denied and raise alerts.
"""

from __future__ import annotations

from collections.abc import Generator

from nhisim.sim.engine import Incident, Simulation
from nhisim.sim.rng import stream

KIND = "agent_hijack"


def install(sim: Simulation, threat, threat_id: str) -> None:
    rng = stream(sim.seed, "threat", threat_id)
    start = threat.window.start.sample(rng)
    duration = threat.window.duration.sample(rng)
    sim.env.process(_hijack(sim, threat, threat_id, start, duration))


def _hijack(sim: Simulation, threat, threat_id: str, start: float, duration: float) -> Generator:
    yield sim.env.timeout(start)
    agent = threat.agent
    incident = Incident(threat_id, KIND, sim.env.now, agent, host=agent, window_end=sim.env.now + duration,
                        can_mint_as=agent if sim.strategy.credential == "jit_token" else None,
                        targets_from_host=True)
    sim.open_incident(incident, sim.usable_holdings(agent))
    yield sim.env.timeout(duration)
    sim.release(incident, f"the hijack of {agent} ended")
