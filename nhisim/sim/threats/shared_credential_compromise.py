"""Shared-credential compromise: one holder of a shared account's key is compromised.

Under a shared identity the attacker holds the account's key, whose scope is the union
of every holder's roles; revoking it breaks every other holder's work until they are
re-provisioned (collateral), and audit records name the account, not an agent. Under
per-agent identities the same compromise yields only the holder's own credential.
"""

from __future__ import annotations

from collections.abc import Generator

from nhisim.sim.engine import Incident, Simulation
from nhisim.sim.rng import stream
from nhisim.sim.threats.leaks import leaked_credentials

KIND = "shared_credential_compromise"


def install(sim: Simulation, threat, threat_id: str) -> None:
    rng = stream(sim.seed, "threat", threat_id)
    at = threat.at.sample(rng)
    delay = threat.attacker_delay.sample(rng)
    sim.env.process(_compromise(sim, threat, threat_id, at, delay))


def _compromise(sim: Simulation, threat, threat_id: str, at: float, delay: float) -> Generator:
    yield sim.env.timeout(at)
    if sim.strategy.identity == "shared" and threat.account in sim.keys:
        stolen, minting = [sim.keys[threat.account]], []
    else:
        stolen, minting = leaked_credentials(sim, threat.via, "access")
    incident = Incident(threat_id, KIND, sim.env.now, f"attacker:{threat_id}", start_delay=delay)
    sim.open_incident(incident, stolen, minting)
