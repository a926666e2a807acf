"""One theft of many principals: a store holding their credentials is copied.

A vendor's token store holds many tenants' grants; a support system holds many agents'
secrets. When it is copied, ONE attacker (one incident) holds every listed principal's
credential at once, each as a leak of that principal would hand it over
(:func:`~nhisim.sim.threats.common.leaked_credentials`: a static key, the tokens it holds,
or with ``credential: minting`` what it mints tokens with). What the attacker reaches is
the union; one detection and one response cover them all.
"""

from __future__ import annotations

from typing import Any

from nhisim.sim.credentials import Credential
from nhisim.sim.surface import EngineSurface
from nhisim.sim.threats.common import leak_at, leaked_credentials

KIND = "store_breach"


def install(sim: EngineSurface, threat: Any, threat_id: str) -> None:
    def what_leaks() -> tuple[list[Credential], list[Credential]]:
        direct: dict[str, Credential] = {}
        minting: dict[str, Credential] = {}
        for principal in threat.principals:
            used, mints = leaked_credentials(sim, principal, threat.credential)
            direct.update((c.id, c) for c in used)
            minting.update((c.id, c) for c in mints)
        return list(direct.values()), list(minting.values())

    leak_at(sim, threat, threat_id, KIND, what_leaks, holder=None)
