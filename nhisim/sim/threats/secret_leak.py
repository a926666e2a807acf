"""Secret leak: a credential leaks through a channel (logs, a repository, a prompt, a
vendor's token store); the attacker starts using it after a delay.

What leaks depends on the strategy: a static key (valid until rotated or revoked), the
agent's latest JIT token (dies at its TTL or at task end), or, with
``credential: minting``, the credential that mints tokens. A sender-constrained
credential is useless to the attacker.
"""

from __future__ import annotations

from collections.abc import Generator

from nhisim.sim.engine import Incident, Simulation
from nhisim.sim.rng import stream
from nhisim.sim.threats.leaks import leaked_credentials

KIND = "secret_leak"


def install(sim: Simulation, threat, threat_id: str) -> None:
    rng = stream(sim.seed, "threat", threat_id)
    at = threat.at.sample(rng)
    delay = threat.attacker_delay.sample(rng)
    sim.env.process(_leak(sim, threat, threat_id, at, delay))


def _leak(sim: Simulation, threat, threat_id: str, at: float, delay: float) -> Generator:
    yield sim.env.timeout(at)
    stolen, minting = leaked_credentials(sim, threat.principal, threat.credential)
    incident = Incident(threat_id, KIND, sim.env.now, f"attacker:{threat_id}", start_delay=delay)
    sim.open_incident(incident, stolen, minting)
