"""What a leak of a principal's credential hands the attacker, under the strategy in force.

Shared by the secret-leak, shared-credential and offboarding threats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nhisim.sim.credentials import Credential

if TYPE_CHECKING:
    from nhisim.sim.engine import Simulation


def leaked_credentials(sim: Simulation, principal: str, which: str = "access") -> tuple[list[Credential],
                                                                                         list[Credential]]:
    """(credentials used directly, minting credentials) that leak from ``principal``.

    Static keys are both. Under JIT strategies, ``access`` is the principal's most
    recent task token (possibly already dead), ``minting`` its workload identity
    document. A shared account under per-agent identity has no key of its own: the
    first holder's credential leaks instead.
    """
    world = sim.world
    if principal in world.accounts:
        account = world.accounts[principal]
        if sim.strategy.identity == "shared" and principal in sim.keys:
            return [sim.keys[principal]], []
        principal = account.holders[0]
    if sim.strategy.credential == "static_key":
        return sim._static_keys_of(principal), []
    if which == "minting":
        doc = sim.identity_docs.get(principal)
        return [], [doc] if doc is not None else []
    token = sim.last_token.get(principal)
    return ([token] if token is not None else []), []
