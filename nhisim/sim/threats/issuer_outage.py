"""Issuer outage: the token issuer is down for a window.

No JIT token or workload identity can be issued meanwhile; agents retry a few times,
then their tasks fail. Static keys do not need the issuer: this is the availability
cost of zero standing privileges.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from nhisim.sim.surface import EngineSurface
from nhisim.sim.threats.common import draw_window

KIND = "issuer_outage"


def install(sim: EngineSurface, threat: Any, threat_id: str) -> None:
    start, duration = draw_window(sim, threat, threat_id)
    sim.add_outage(start, start + duration)
    sim.env.process(_outage(sim, threat_id, start, duration))


def _outage(sim: EngineSurface, threat_id: str, start: float, duration: float) -> Generator:
    yield sim.env.timeout(start)
    sim.log.outage(sim.env.now, starts=True, reason=f"the token issuer is down for {duration:g} s",
                   incident=threat_id, until=start + duration)
    yield sim.env.timeout(duration)
    sim.log.outage(sim.env.now, starts=False, reason="the token issuer is back", incident=threat_id)
