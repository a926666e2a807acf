"""Secret leak: a credential leaks through a channel (logs, a repository, a prompt, a
vendor's token store); the attacker starts using it after a delay.

What leaks depends on the strategy: a static key (valid until rotated or revoked), the
agent's latest JIT token (dies at its TTL or at task end), or, with
``credential: minting``, the credential that mints tokens; a human's key or session. A
sender-constrained credential is useless to the attacker. A leak of an agent's access
credential leaks its context too: the keys it had read in resources (harvested copies).

A **republished** leak (``republish: true``) is a secret written into the same place
again after each rotation: every key (or identity document) the leaked principal is
issued afterwards, by rotation or by the response's re-provisioning, goes to the attacker
when it is issued. Rotation alone does not end such an exposure; JIT tokens are never
written back, so under JIT access only the leaked tokens are exposed.
"""

from __future__ import annotations

from typing import Any

from nhisim.sim.credentials import Credential
from nhisim.sim.state import Incident
from nhisim.sim.surface import EngineSurface
from nhisim.sim.threats.common import leak_at, leaked_credentials

KIND = "secret_leak"
REPUBLISHED = ("static_key", "shared_key", "workload_identity")  # what is written to a file and written again


def install(sim: EngineSurface, threat: Any, threat_id: str) -> None:
    holder = threat.principal if threat.principal in sim.world.agents else None
    opened = leak_at(sim, threat, threat_id, KIND,
                     lambda: leaked_credentials(sim, threat.principal, threat.credential), holder,
                     copies_of=holder if threat.credential == "access" else None)
    if threat.republish:
        opened.append(lambda incident, leaked: _republish(sim, threat, incident, leaked))


def _republish(sim: EngineSurface, threat: Any, incident: Incident, leaked: list[Credential]) -> None:
    """Every later credential of the kinds that leaked, of the same subjects, goes to the attacker."""
    def written_again(cred: Credential) -> None:
        sim.acquire(incident, cred, via="republished",
                    how=f"{cred.subject}'s new {cred.kind.replace('_', ' ')} was written into the same place "
                        f"again ({threat.channel}), where the attacker reads it")

    for subject, kind in dict.fromkeys((c.subject, c.kind) for c in leaked if c.kind in REPUBLISHED):
        sim.watch_reissues(subject, kind, written_again)
