"""The policy enforcement point: the ONE place every privileged request is decided.

Benign or malicious, every tool call goes through :meth:`NativeEvaluator.decide`, which
returns a decision (``allow``, ``deny`` or ``escalate``), a short code and a reason in
words. Checks, in order:

1. the credential is not expired (or rotated away);
2. no revocation of it is in force at the enforcement point;
3. the presenter is not quarantined;
4. a sender-constrained credential is presented by its subject, and one that needs a second
   factor (a human's key under ``mfa``) by a presenter that passed it;
5. the operation is in the credential's scope;
6. with ``runtime_check: intent``: the operation is in the task's intent, the resource's
   sensitivity is within the intent's ceiling, the destination is allowed, the arguments
   meet the intent's constraints, and the agent's risk posture does not call for step-up
   approval.

A request that fails a check of 6 is out of intent, and the strategy's ``out_of_intent``
says what happens to it (:func:`~nhisim.sim.decisions.drift`): ``deny``; ``escalate`` to
a human; ``monitor``: allow it, and the engine raises an alert; ``redeclare``: the engine
has the task re-declare a wider intent for approval and asks again. An operation outside
an intent-scoped token is out of intent too, but only an operation the acting agent's
roles entitle it to may be escalated, monitored or re-declared; any other is denied.
"""

from __future__ import annotations

from nhisim.sim.compiled import CompiledTask, CompiledWorld
from nhisim.sim.credentials import Credential
from nhisim.sim.decisions import (  # the one decision vocabulary; re-exported as pep.EXPIRED, ...
    ALLOW,
    ALLOW_INTENT,
    EXPIRED,
    INTENT_ARG,
    INTENT_DEST,
    INTENT_OP,
    INTENT_SENS,
    MFA,
    NO_INTENT,
    QUARANTINED,
    REVOKED,
    REVOKED_RESPONSE,
    RISK,
    SCOPE,
    SENDER,
    drift,
    scope_denial,
)
from nhisim.strategies import Strategy

__all__ = ["RISK_WINDOW", "ALLOW", "ALLOW_INTENT", "EXPIRED", "INTENT_ARG", "INTENT_DEST", "INTENT_OP", "INTENT_SENS",
           "MFA", "NO_INTENT", "QUARANTINED", "REVOKED", "REVOKED_RESPONSE", "RISK", "SCOPE", "SENDER",
           "NativeEvaluator"]

RISK_WINDOW = 3600.0  # an agent's risk posture counts the alerts raised on it in the last hour


class NativeEvaluator:
    """The strategy's rules in plain Python (fast path)."""

    __slots__ = ("strategy", "world", "quarantined", "alerts", "_intent", "_mode", "_risk_after", "_jit_intent")

    def __init__(self, strategy: Strategy, world: CompiledWorld, quarantined: dict[str, float],
                 alerts: dict[str, int]) -> None:
        self.strategy = strategy
        self.world = world
        self.quarantined = quarantined
        self.alerts = alerts
        self._intent = strategy.runtime_check == "intent"
        self._mode = strategy.out_of_intent
        self._risk_after = strategy.risk_escalation_alerts
        self._jit_intent = strategy.jit_scope == "intent"

    @property
    def checks_intent(self) -> bool:
        """Whether it checks requests against their task's intent (and the agent's risk posture)."""
        return self._intent

    def still_valid(self, now: float, presenter: str, cred: Credential, op: int | None = None,
                    destination: str | None = None, intent: CompiledTask | None = None, args: tuple | None = None
                    ) -> tuple[str, str, str] | None:
        """After a wait for approval: the denial if the credential or presenter died meanwhile.

        The request (``op``, ``destination``, ``intent``, ``args``) is passed for evaluators
        that need it; the native checks do not depend on it.
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
               intent: CompiledTask | None, args: tuple | None = None) -> tuple[str, str, str]:
        """Decide one request. ``intent`` is the task the request claims to serve, if any; ``args``
        the request's arguments (in the operation's parameter order), when it takes some."""
        dead = self._dead(now, presenter, cred)
        if dead is not None:
            return dead
        if cred.binding == "sender_constrained" and not cred.bound_to(presenter):
            return SENDER
        if cred.mfa and not cred.mfa_ok(presenter):
            return MFA
        if not self._intent:
            return ALLOW if op in cred.scope else scope_denial(self.world, self._jit_intent, cred, op)
        bound = cred.intent if cred.intent is not None else intent
        if op not in cred.scope:
            if bound is None or op in bound.intent:
                return scope_denial(self.world, self._jit_intent, cred, op)
            # outside an intent-scoped token: out of intent; it may be stepped up, monitored or
            # re-declared, but never beyond what the acting agent's roles entitle it to
            subject = self.world.agents.get(cred.chain[-1] if cred.chain else cred.subject)
            if subject is not None and op in subject.role_scope:
                return drift(self._mode, INTENT_OP)
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
        elif bound.constraints and not bound.arguments_hold(op, args):
            failure = INTENT_ARG
        if failure is not None:
            return drift(self._mode, failure)
        if self._risk_after is not None and self.world.op_level[op] >= 2:
            subject = cred.chain[-1] if cred.chain else cred.subject
            if self.alerts.get(subject, 0) >= self._risk_after:
                return RISK
        return ALLOW_INTENT

