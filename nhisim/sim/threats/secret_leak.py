"""Secret leak: a credential leaks through a channel (logs, a repository, a prompt, a
vendor's token store); the attacker starts using it after a delay.

What leaks depends on the strategy: a static key (valid until rotated or revoked), the
agent's latest JIT token (dies at its TTL or at task end), or, with
``credential: minting``, the credential that mints tokens. A sender-constrained
credential is useless to the attacker.
"""

from __future__ import annotations

from typing import Any

from nhisim.sim.surface import EngineSurface
from nhisim.sim.threats.common import leak_at, leaked_credentials

KIND = "secret_leak"


def install(sim: EngineSurface, threat: Any, threat_id: str) -> None:
    holder = threat.principal if threat.principal in sim.world.agents else None
    leak_at(sim, threat, threat_id, KIND, lambda: leaked_credentials(sim, threat.principal, threat.credential),
            holder)
