"""What several threats share: their random stream, attack windows, and what a leak hands over.

Not a threat itself (it defines no ``KIND``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from random import Random
from typing import Any

from nhisim.sim.credentials import Credential
from nhisim.sim.rng import stream
from nhisim.sim.state import Incident
from nhisim.sim.surface import EngineSurface


def threat_stream(sim: EngineSurface, threat_id: str) -> Random:
    """The threat's own random stream: its times are the same under every strategy."""
    return stream(sim.seed, "threat", threat_id)


def draw_window(sim: EngineSurface, threat: Any, threat_id: str) -> tuple[float, float]:
    """(start, duration) of a threat that acts over a window (hijack, deputy abuse, outage)."""
    rng = threat_stream(sim, threat_id)
    return threat.window.start.sample(rng), threat.window.duration.sample(rng)


def leaked_credentials(sim: EngineSurface, principal: str, which: str = "access") -> tuple[list[Credential],
                                                                                           list[Credential]]:
    """(credentials used directly, minting credentials) that leak from ``principal``.

    Static keys are both. Under JIT strategies, ``access`` is every token the principal
    holds at that moment (its own, exchanged for it, or passed through to it by a
    delegator), else its most recent token (already dead); ``minting`` is its workload
    identity document. A shared account not in use (no holder works under a shared
    identity) has no key: the first holder's credential leaks instead. A human's
    ``access`` credential is its standing key, or under JIT controls the sessions it has
    signed in (else its latest). (An agent's ``access`` leak also hands over the copies of
    keys it read in resources: :func:`open_leak` with ``copies_of``.)
    """
    world = sim.world
    if principal in world.accounts:
        account = world.accounts[principal]
        key = sim.current_key(principal)  # a key only while the account is in use
        if key is not None:
            return [key], []
        principal = account.holders[0]
    if sim.controls(principal).credential == "static_key":
        if principal in world.agents:
            return sim.static_keys_of(principal), []
        key = sim.current_key(principal)  # a human's standing key
        return ([key] if key is not None else []), []
    if which == "minting":
        doc = sim.identity_of(principal)
        return [], [doc] if doc is not None else []
    held = [c for c in sim.usable_holdings(principal) if not c.mint_scope and c.kind != "workload_identity"]
    if held:
        return held, []
    token = sim.latest_token(principal)
    return ([token] if token is not None else []), []


def open_leak(sim: EngineSurface, threat_id: str, kind: str, attacker_delay: float,
              leaked: tuple[list[Credential], list[Credential]], holder: str | None,
              copies_of: str | None = None) -> Incident:
    """An attacker now holds ``leaked`` (direct, minting) and starts using it after ``attacker_delay``.

    ``holder`` is the agent whose copy leaked (None when the leak is of no agent's copy);
    ``copies_of`` the agent whose context leaks with it, and so the keys it read in resources.
    """
    incident = Incident(threat_id, kind, sim.env.now, f"attacker:{threat_id}", start_delay=attacker_delay,
                        holder=holder, copies_of=copies_of)
    sim.open_incident(incident, *leaked)
    return incident


def leak_at(sim: EngineSurface, threat: Any, threat_id: str, kind: str,
            what_leaks: Callable[[], tuple[list[Credential], list[Credential]]], holder: str | None,
            copies_of: str | None = None) -> list[Callable[[Incident, list[Credential]], None]]:
    """Schedule a leak at ``threat.at``: what ``what_leaks()`` returns then goes to an attacker
    who starts using it after ``threat.attacker_delay`` (both drawn from the threat's stream).

    Returns a list the caller may add callbacks to: each is called with the incident and
    every credential that leaked, once the leak has happened.
    """
    rng = threat_stream(sim, threat_id)
    at = threat.at.sample(rng)
    delay = threat.attacker_delay.sample(rng)
    then: list[Callable[[Incident, list[Credential]], None]] = []

    def leak() -> Generator:
        yield sim.env.timeout(at)
        leaked = what_leaks()
        incident = open_leak(sim, threat_id, kind, delay, leaked, holder, copies_of)
        for callback in then:
            callback(incident, [*leaked[0], *leaked[1]])

    sim.env.process(leak())
    return then
