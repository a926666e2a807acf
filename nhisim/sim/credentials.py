"""Credentials as events in time: issue, use, rotate, expire, revoke, propagate.

A credential names a **subject** (an agent or a shared account; for a delegated token
the current actor), is held by one or more agents, carries a **scope** (operation
numbers), lives from ``issued_at`` to ``expires_at`` (infinite for a static key until
it is rotated), has a **binding** (bearer, or sender-constrained so only its subject
can present it) and may be **revoked**. A revocation is effective at the enforcement
points only after it propagates: at once, after a cache TTL, or only at expiry for
self-contained tokens that resource servers do not introspect.

Kinds: ``static_key``, ``shared_key``, ``jit_token``, ``delegated_token`` (token
exchange, with an actor chain), ``workload_identity`` (mints JIT tokens; no direct
scope). Some credentials **mint** others (``mint_scope``): whoever holds a workload
identity document can ask the issuer for tokens until the document dies.

A human's standing key may need a second factor (``mfa``): only its holders (the human,
and the agents it handed the key to, working in its signed-in session) pass it, and
whoever an MFA prompt was approved for (``mfa_passed``: a tired human accepting an
attacker's push). A credential keeps the tokens exchanged from it (``children``) when its
subject's controls revoke them in cascade.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

INF = math.inf
#: what an issue row says of a credential, by kind (unless the issuer says more)
ISSUE_REASONS = {
    "jit_token": "just-in-time token issued for a task",
    "delegated_token": "token exchanged for a delegated sub-task (scope narrowed, actor chain kept)",
    "workload_identity": "workload identity document issued (attested, no secret at rest)",
    "static_key": "static key issued",
    "shared_key": "shared account key issued",
}


@dataclass(slots=True, eq=False)
class Credential:
    id: str
    kind: str
    subject: str
    holders: set[str]
    scope: frozenset[int]
    issued_at: float
    expires_at: float
    binding: str
    mint_scope: frozenset[int] = frozenset()
    task: str | None = None
    human: str | None = None
    intent: object | None = None  # CompiledTask whose intent the credential is bound to
    chain: tuple[str, ...] = ()
    parent: Credential | None = None  # the delegator's token a delegated token was exchanged from
    revoked_at: float = INF
    effective_at: float = INF
    revoked_by_response: bool = False
    revoke_reason: str = ""
    mfa: bool = False  # a human's key that needs a second factor
    mfa_passed: set[str] | None = None  # presenters (not holders) for whom an MFA prompt was approved
    children: list[Credential] | None = None  # tokens exchanged from it, kept for a cascade revocation

    def usable(self, now: float) -> bool:
        """Not expired and no revocation in force at the enforcement points."""
        return now < self.expires_at and now < self.effective_at

    @property
    def unusable_at(self) -> float:
        return min(self.expires_at, self.effective_at)

    def bound_to(self, presenter: str) -> bool:
        """Whether ``presenter`` may present it (always for bearer credentials)."""
        if self.binding != "sender_constrained":
            return True
        current_actor = self.chain[-1] if self.chain else self.subject
        return presenter == current_actor or (presenter in self.holders and self.kind == "shared_key")

    def mfa_ok(self, presenter: str) -> bool:
        """Whether ``presenter`` gets past the credential's second factor (always, when it needs none)."""
        if not self.mfa or presenter in self.holders:
            return True
        return self.mfa_passed is not None and presenter in self.mfa_passed

    @property
    def chain_text(self) -> str:
        return ">".join(self.chain)


PROPAGATIONS = ("immediate", "cache", "at_expiry")


def propagation_delay(propagation: str, cache_ttl: float, now: float, expires_at: float) -> float:
    """When a revocation made at ``now`` is effective at every enforcement point."""
    if propagation == "immediate":
        return now
    if propagation == "cache":
        return min(now + cache_ttl, expires_at)
    if propagation == "at_expiry":
        # a self-contained token is honoured until it expires; a key with no expiry is looked up
        return expires_at if math.isfinite(expires_at) else now
    raise ValueError(f"unknown propagation {propagation!r}")


def propagation_delays(propagation: np.ndarray, cache_ttl: np.ndarray, now: np.ndarray,
                       expires_at: np.ndarray) -> np.ndarray:
    """:func:`propagation_delay` of arrays, element by element (``propagation``: indexes into
    :data:`PROPAGATIONS`)."""
    at_expiry = np.where(np.isfinite(expires_at), expires_at, now)
    cached = np.minimum(now + cache_ttl, expires_at)
    return np.select([propagation == 0, propagation == 1], [now, cached], at_expiry)
