"""Improper offboarding: an agent is retired but its credential stays valid, then leaks.

Strategies with ``offboarding_revokes`` revoke a retired agent's credentials (and stop
renewing its workload identity); the others leave an orphaned static key behind, which
the attacker finds later.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from nhisim.sim.surface import EngineSurface
from nhisim.sim.threats.common import leaked_credentials, open_leak, threat_stream

KIND = "improper_offboarding"


def install(sim: EngineSurface, threat: Any, threat_id: str) -> None:
    rng = threat_stream(sim, threat_id)
    retired_at = threat.retired_at.sample(rng)
    leak_after = threat.leak_after.sample(rng)
    delay = threat.attacker_delay.sample(rng)
    sim.env.process(_offboard(sim, threat, threat_id, retired_at, leak_after, delay))


def _offboard(sim: EngineSurface, threat: Any, threat_id: str, retired_at: float, leak_after: float,
              delay: float) -> Generator:
    yield sim.env.timeout(retired_at)
    sim.retire(threat.agent)
    yield sim.env.timeout(leak_after)
    stolen, _ = leaked_credentials(sim, threat.agent, "access")
    _, minting = leaked_credentials(sim, threat.agent, "minting")
    open_leak(sim, threat_id, KIND, delay, (stolen, minting), holder=threat.agent, copies_of=threat.agent)
