"""Agent hijack / goal manipulation: the attacker steers an agent for a window.

The steered agent acts with its own live authority: it presents what it holds, can ask
the issuer for tokens as itself, and can delegate. Intent checks confine it to its
current task's intent; its off-intent attempts are denied and raise alerts. The keys the
agent read in resources (copies in its context) are the attacker's too.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from nhisim.sim.state import Incident
from nhisim.sim.surface import EngineSurface
from nhisim.sim.threats.common import draw_window

KIND = "agent_hijack"


def install(sim: EngineSurface, threat: Any, threat_id: str) -> None:
    start, duration = draw_window(sim, threat, threat_id)
    sim.env.process(_hijack(sim, threat, threat_id, start, duration))


def _hijack(sim: EngineSurface, threat: Any, threat_id: str, start: float, duration: float) -> Generator:
    yield sim.env.timeout(start)
    agent = threat.agent
    incident = Incident(threat_id, KIND, sim.env.now, agent, host=agent, window_end=sim.env.now + duration,
                        can_mint_as=agent if sim.controls(agent).credential == "jit_token" else None,
                        targets_from_host=True, steers=True, follows_host=True, copies_of=agent)
    sim.open_incident(incident, sim.usable_holdings(agent))
    yield sim.env.timeout(duration)
    sim.release(incident, f"the hijack of {agent} ended")
