"""Delegation abuse / confused deputy: a compromised low-privilege agent has a
higher-privilege agent act for it.

Under pass-through delegation the deputy falls back on its own authority for what the
delegator's credentials do not cover, so the attacker reaches the deputy's scope.
Under token exchange the deputy holds only the delegator's scope ∩ the sub-task's
intent, so the deputy's own privileges are out of reach.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from nhisim.sim.state import Incident
from nhisim.sim.surface import EngineSurface
from nhisim.sim.threats.common import draw_window

KIND = "delegation_abuse"


def install(sim: EngineSurface, threat: Any, threat_id: str) -> None:
    start, duration = draw_window(sim, threat, threat_id)
    sim.env.process(_abuse(sim, threat, threat_id, start, duration))


def _abuse(sim: EngineSurface, threat: Any, threat_id: str, start: float, duration: float) -> Generator:
    yield sim.env.timeout(start)
    incident = Incident(threat_id, KIND, sim.env.now, threat.agent, host=threat.agent, deputy=threat.deputy,
                        window_end=sim.env.now + duration, sub_task=threat.task, steers=True)
    sim.open_incident(incident, sim.usable_holdings(threat.agent))
    yield sim.env.timeout(duration)
    sim.release(incident, f"the compromise of {threat.agent} ended")
