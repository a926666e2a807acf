"""Shared-credential compromise: one holder of a shared account's key is compromised.

Under a shared identity the attacker holds the account's key, whose scope is the union
of every holder's roles; revoking it breaks every other holder's work until they are
re-provisioned (collateral), and audit records name the account, not an agent. Under
per-agent identities the same compromise yields only the holder's own credential.
"""

from __future__ import annotations

from typing import Any

from nhisim.sim.credentials import Credential
from nhisim.sim.surface import EngineSurface
from nhisim.sim.threats.common import leak_at, leaked_credentials

KIND = "shared_credential_compromise"


def install(sim: EngineSurface, threat: Any, threat_id: str) -> None:
    def what_leaks() -> tuple[list[Credential], list[Credential]]:
        key = sim.current_key(threat.account)  # a key only while the account is in use, by holders that use it
        if key is not None and threat.via in key.holders:
            return [key], []
        return leaked_credentials(sim, threat.via, "access")

    leak_at(sim, threat, threat_id, KIND, what_leaks, holder=threat.via)
