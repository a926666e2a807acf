"""The decision vocabulary: every code a decision or an issuer refusal can carry, once.

A decision is a triple ``(decision, code, reason)``: ``decision`` is ``allow``, ``deny``
or ``escalate``; ``code`` is short and machine-readable (the event log's ``code``
column); ``reason`` is the sentence the event log records. The native evaluator, the
Cedar policies generated from a strategy (their ``@code``/``@reason`` annotations), the
issuer's refusals and the narration of a run all read the rows below, so a code means
the same thing wherever it appears.

Each :class:`Code` also has ``told``: the same fact as a clause for a story told after
the event ("DENIED (the credential had expired)"); empty where the logged reason itself
is the story (a policy's own error message).
"""

from __future__ import annotations

from typing import NamedTuple


class Code(NamedTuple):
    """One row of the vocabulary."""

    code: str
    reason: str  # what the event log says, at the moment of the decision
    told: str  # the same, as narration tells it afterwards


_ROWS = (
    # decisions of the enforcement point
    Code("allowed", "operation in the credential's scope", "allowed"),
    Code("expired", "the credential has expired (or was rotated away)", "the credential had expired"),
    Code("revoked", "the credential was revoked and the revocation has reached the enforcement point",
         "the credential had been revoked"),
    Code("revoked_response", "the credential was revoked by the incident response aimed at the attacker",
         "the response had revoked the credential"),
    Code("quarantined", "the presenting agent is quarantined", "the agent is quarantined"),
    Code("sender_constraint", "the credential is sender-constrained and the presenter is not its subject",
         "the credential is sender-constrained and the attacker is not its subject"),
    Code("scope", "the operation is outside the credential's scope", "outside the credential's scope"),
    Code("no_intent", "no human-originated task intent is bound to this request",
         "no human-originated task intent"),
    Code("intent_operation", "the operation is not in the task's declared intent",
         "not in the task's declared intent"),
    Code("intent_sensitivity", "the resource is more sensitive than the task's intent allows",
         "more sensitive than the task's intent allows"),
    Code("intent_destination", "the destination is not one the task's intent allows",
         "the destination is not one the task's intent allows"),
    Code("intent_argument", "the arguments are outside what the task's intent allows",
         "its arguments were outside what the task's intent allows"),
    Code("monitored", "outside the task's declared intent: allowed, and an alert raised (monitor mode)",
         "allowed outside the task's intent, with an alert"),
    Code("redeclared", "allowed once the task's re-declared intent was approved",
         "allowed once the task's re-declared intent was approved"),
    Code("redeclare_rejected", "the task's re-declared intent was refused",
         "its re-declared intent was refused"),
    Code("risk", "the agent's risk posture is elevated: sensitive operations need a human's approval",
         "the agent's risk posture called for a human's approval"),
    Code("approved", "a human approved it", "a human approved it"),
    Code("rejected", "a human rejected it", "a human rejected it"),
    Code("no_permit", "no policy permits this request", "no policy permits it"),
    Code("policy_error", "a policy could not be evaluated", ""),  # narration tells the logged error itself
    # refusals of the token issuer
    Code("issuer_down", "the token issuer is unavailable", "the token issuer is down"),
    Code("retired", "the agent has been offboarded", "the agent had been offboarded"),
    Code("identity_unusable", "the workload identity is expired or revoked",
         "the workload identity was expired or revoked"),
    Code("no_delegator_token", "the delegator has no task token to exchange",
         "the delegator had no task token to exchange"),
    Code("lossy_hop", "token exchange cannot reach the delegate (another trust domain, or an agent that cannot "
                      "exchange tokens)", "token exchange could not reach the delegate"),
)

CODES: dict[str, Code] = {row.code: row for row in _ROWS}
INTENT_CODES = frozenset(("intent_operation", "intent_sensitivity", "intent_destination", "intent_argument"))
#: what the strategy's ``out_of_intent`` does with a request outside its task's intent
DRIFT_MODES = ("deny", "escalate", "monitor", "redeclare")
LIVENESS_CODES = frozenset(("expired", "revoked", "revoked_response", "quarantined"))


def outcome(decision: str, code: str, reason: str | None = None) -> tuple[str, str, str]:
    """A decision triple with the vocabulary's reason for ``code`` (or a more specific one)."""
    return (decision, code, CODES[code].reason if reason is None else reason)


def told(code: str, fallback: str = "") -> str:
    """How narration tells ``code`` (``fallback`` for a code of a user's own policy)."""
    row = CODES.get(code)
    return (row.told if row is not None and row.told else fallback) or code.replace("_", " ")


# the outcomes of the enforcement point, as the native evaluator returns them
ALLOW = outcome("allow", "allowed")
ALLOW_INTENT = outcome("allow", "allowed", "operation in scope and in the task's declared intent")
EXPIRED = outcome("deny", "expired")
REVOKED = outcome("deny", "revoked")
REVOKED_RESPONSE = outcome("deny", "revoked_response")
QUARANTINED = outcome("deny", "quarantined")
SENDER = outcome("deny", "sender_constraint")
SCOPE = outcome("deny", "scope")
NO_INTENT = outcome("deny", "no_intent")
NO_PERMIT = outcome("deny", "no_permit")
RISK = outcome("escalate", "risk")
# intent failures: (code, reason); the strategy decides whether they are denied or escalated
INTENT_OP = ("intent_operation", CODES["intent_operation"].reason)
INTENT_SENS = ("intent_sensitivity", CODES["intent_sensitivity"].reason)
INTENT_DEST = ("intent_destination", CODES["intent_destination"].reason)
INTENT_ARG = ("intent_argument", CODES["intent_argument"].reason)


def drift(mode: str, failure: tuple[str, str]) -> tuple[str, str, str]:
    """What ``out_of_intent: mode`` makes of a request outside its intent (``failure``: code, reason).

    ``deny`` and ``escalate`` keep the failure's code; ``monitor`` allows it under the code
    ``monitored``, the failure told in the reason (the engine raises the alert);
    ``redeclare`` asks the engine to have the task re-declare its intent.
    """
    code, reason = failure
    if mode == "monitor":
        return ("allow", "monitored", f"{reason}: allowed, and an alert raised (monitor mode)")
    return (mode, code, reason)
