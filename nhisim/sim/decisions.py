"""The decision vocabulary: every code a decision or an issuer refusal can carry, once.

A decision is a triple ``(decision, code, reason)``: ``decision`` is ``allow``, ``deny``
or ``escalate``; ``code`` is short and machine-readable (the event log's ``code``
column); ``reason`` is the sentence the event log records. The native evaluator, the
Cedar policies generated from a strategy (their ``@code``/``@reason`` annotations), the
issuer's refusals and the narration of a run all read the rows below, so a code means
the same thing wherever it appears.

Each :class:`Code` also has ``told``: the same fact as a clause for a story told after
the event ("DENIED (the credential had expired)"); empty where the logged reason itself
is the story (a policy's own error message, a scope denial's own sentence).

A scope denial's reason is made specific by :func:`scope_denial`, which both evaluators
call when they deny on scope with the vocabulary's sentence: it names the operation, how
the credential's scope was derived (whose roles, which task intents) and the delegation
chain. The sentence is built only on a denial, so allowed requests pay nothing for it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from nhisim.scenario.denials import scope_sentence


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
    Code("mfa_required", "the credential needs a second factor (MFA) and the presenter has not passed it",
         "the credential needs MFA, which the attacker could not pass"),
    Code("scope", "the operation is outside the credential's scope", ""),  # told as scope_denial wrote it
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
    Code("requester_unusable", "the requester's credential, which the task runs on, is expired or revoked",
         "the requester's credential was expired or revoked"),
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
MFA = outcome("deny", "mfa_required")
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


# --------------------------------------------------------------------------- scope denials, told specifically

# how a scope sentence names each kind of credential (as the static check names them)
_KIND_NAMES = {"static_key": "static key", "shared_key": "shared key", "jit_token": "JIT token",
               "delegated_token": "delegated token", "workload_identity": "workload identity"}


def scope_terms(world: Any, jit_intent: bool, cred: Any) -> list[tuple[str, frozenset[int] | None]]:
    """How ``cred``'s scope was derived, as named sets whose intersection it is.

    A static key carries its subject's roles (a shared key, its account's and its holders'
    roles); a JIT token its agent's roles, ∩ its task's intent when tokens are scoped to
    intent (``jit_intent``); a delegated token its delegator's scope ∩ its sub-task's
    intent (RFC 8693 token exchange). A set is None where only its name is known.
    """
    kind, subject, intent = cred.kind, cred.subject, cred.intent
    if kind == "delegated_token":
        parent = cred.parent
        if parent is not None:
            terms = scope_terms(world, jit_intent, parent)
        else:  # exchanged from the delegator's static keys
            delegator = cred.chain[-2] if len(cred.chain) > 1 else subject
            terms = [(f"{delegator}'s keys", None)]
        return terms + ([(f"{intent.id}'s intent", intent.intent)] if intent is not None else [])
    if kind == "shared_key":
        account = world.accounts.get(subject)
        return [(f"the roles of shared account {subject} and its holders", account.scope if account else None)]
    agent = world.agents.get(subject)
    terms = [(f"{subject}'s roles", agent.role_scope if agent is not None else None)]
    if kind == "jit_token" and jit_intent and intent is not None:
        terms.append((f"{intent.id}'s intent", intent.intent))
    return terms


def scope_denial(world: Any, jit_intent: bool, cred: Any, op: int) -> tuple[str, str, str]:
    """The scope denial of ``op`` under ``cred``, its reason naming the scope and the chain:

    ``mailer:send:mail is outside the delegated token's scope (orchestrator's roles ∩
    month-end-brief's intent ∩ notify's intent, chain orchestrator>notifier):
    month-end-brief's intent lacks it`` (worded by
    :func:`nhisim.scenario.denials.scope_sentence`, as validation words the denials it
    predicts).

    The credential's id is in the event log's ``credential`` column; leaving it out of the
    sentence keeps the reasons of one chain's tokens one interned text.
    """
    terms = scope_terms(world, jit_intent, cred)
    lacking = next((name for name, ops in terms if ops is not None and op not in ops), "")
    kind = _KIND_NAMES.get(cred.kind, cred.kind.replace("_", " "))
    return ("deny", "scope", scope_sentence(world.label(op), kind, [name for name, _ in terms], cred.chain, lacking))
