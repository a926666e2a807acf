"""The policy enforcement point: the ONE place every privileged request is decided.

Benign or malicious, every tool call goes through :meth:`NativeEvaluator.decide`, which
returns a decision (``allow``, ``deny`` or ``escalate``), a short code and a reason in
words. Checks, in order:

1. the credential is not expired (or rotated away);
2. no revocation of it is in force at the enforcement point;
3. the presenter is not quarantined;
4. a sender-constrained credential is presented by its subject;
5. the operation is in the credential's scope;
6. with ``runtime_check: intent``: the operation is in the task's intent, the resource's
   sensitivity is within the intent's ceiling, the destination is allowed, and the
   agent's risk posture does not call for step-up approval. An operation outside an
   intent-scoped token is an out-of-intent request: denied, or escalated to a human
   when the strategy says so and the subject's roles entitle it.
"""

from __future__ import annotations

from nhisim.sim.compiled import CompiledTask, CompiledWorld
from nhisim.sim.credentials import Credential
from nhisim.sim.decisions import (  # the one decision vocabulary; re-exported as pep.EXPIRED, ...
    ALLOW,
    ALLOW_INTENT,
    EXPIRED,
    INTENT_DEST,
    INTENT_OP,
    INTENT_SENS,
    NO_INTENT,
    QUARANTINED,
    REVOKED,
    REVOKED_RESPONSE,
    RISK,
    SCOPE,
    SENDER,
    scope_denial,
)
from nhisim.strategies import Strategy

__all__ = ["ALLOW", "ALLOW_INTENT", "EXPIRED", "INTENT_DEST", "INTENT_OP", "INTENT_SENS", "NO_INTENT", "QUARANTINED",
           "REVOKED", "REVOKED_RESPONSE", "RISK", "SCOPE", "SENDER", "NativeEvaluator"]

class NativeEvaluator:
    """The strategy's rules in plain Python (fast path)."""

    __slots__ = ("strategy", "world", "quarantined", "alerts", "_intent", "_escalate", "_risk_after", "_jit_intent")

    def __init__(self, strategy: Strategy, world: CompiledWorld, quarantined: dict[str, float],
                 alerts: dict[str, int]) -> None:
        self.strategy = strategy
        self.world = world
        self.quarantined = quarantined
        self.alerts = alerts
        self._intent = strategy.runtime_check == "intent"
        self._escalate = strategy.out_of_intent == "escalate"
        self._risk_after = strategy.risk_escalation_alerts
        self._jit_intent = strategy.jit_scope == "intent"

    def still_valid(self, now: float, presenter: str, cred: Credential, op: int | None = None,
                    destination: str | None = None, intent: CompiledTask | None = None
                    ) -> tuple[str, str, str] | None:
        """After a wait for approval: the denial if the credential or presenter died meanwhile.

        The request (``op``, ``destination``, ``intent``) is passed for evaluators that need
        it; the native checks do not depend on it.
        """
        return self._dead(now, presenter, cred)

    def _dead(self, now: float, presenter: str, cred: Credential) -> tuple[str, str, str] | None:
        """The denial when the credential has expired or been revoked, or the presenter is quarantined."""
        if now >= cred.expires_at:
            return EXPIRED
        if now >= cred.effective_at:
            return REVOKED_RESPONSE if cred.revoked_by_response else REVOKED
        quarantined_at = self.quarantined.get(presenter)
        if quarantined_at is not None and now >= quarantined_at:
            return QUARANTINED
        return None

    def decide(self, now: float, presenter: str, cred: Credential, op: int, destination: str,
               intent: CompiledTask | None) -> tuple[str, str, str]:
        """Decide one request. ``intent`` is the task the request claims to serve, if any."""
        dead = self._dead(now, presenter, cred)
        if dead is not None:
            return dead
        if cred.binding == "sender_constrained" and not cred.bound_to(presenter):
            return SENDER
        if not self._intent:
            return ALLOW if op in cred.scope else scope_denial(self.world, self._jit_intent, cred, op)
        bound = cred.intent if cred.intent is not None else intent
        if op not in cred.scope:
            if bound is None or op in bound.intent:
                return scope_denial(self.world, self._jit_intent, cred, op)
            # outside an intent-scoped token: an out-of-intent request; a human may step it up,
            # but never beyond what the subject is entitled to
            subject = self.world.agents.get(cred.chain[-1] if cred.chain else cred.subject)
            if self._escalate and subject is not None and op in subject.role_scope:
                return ("escalate", INTENT_OP[0], INTENT_OP[1])
            return ("deny", INTENT_OP[0], INTENT_OP[1])
        if bound is None:
            return NO_INTENT
        failure = None
        if op not in bound.intent:
            failure = INTENT_OP
        elif self.world.op_level[op] > bound.ceiling:
            failure = INTENT_SENS
        elif destination not in bound.destinations:
            failure = INTENT_DEST
        if failure is not None:
            return ("escalate" if self._escalate else "deny", failure[0], failure[1])
        if self._risk_after is not None and self.world.op_level[op] >= 2:
            subject = cred.chain[-1] if cred.chain else cred.subject
            if self.alerts.get(subject, 0) >= self._risk_after:
                return RISK
        return ALLOW_INTENT

