"""Intent-based runtime authorization on top of zero standing privileges.

The JIT token is scoped to the task's declared intent (the operations the originating
human asked for), lives 5 minutes, and is sender-constrained (only its subject can
present it, so a leaked copy is useless). At every call the enforcement point checks
the operation, the data sensitivity ceiling, the destination and the agent's risk
posture against the intent; out-of-intent requests are denied. Delegation is a token
exchange (RFC 8693): the delegate's token is the delegator's scope ∩ the sub-task's
intent, no longer-lived than the delegator's, with the actor chain kept.
"""

from nhisim.strategies.base import Strategy

ORDER = 4  # its place in tables and in a scenario's default strategies

PRESET = Strategy(
    name="intent",
    identity="workload",
    credential="jit_token",
    ttl=300.0,
    rotation=float("inf"),
    jit_scope="intent",
    revoke_at_task_end=True,
    binding="sender_constrained",
    runtime_check="intent",
    out_of_intent="deny",
    redeclare_approver="policy",
    intent_follows_switch=True,
    delegation="token_exchange",
    lossy_hop="fail",
    revocation="automated",
    propagation="immediate",
    cache_ttl=0.0,
    identity_ttl=3600.0,
    offboarding_revokes=True,
    risk_escalation_alerts=3,
    secret_storage="config",
    cascade_revocation=False,
    mfa=False,
    description="JIT token per task scoped to its intent (TTL 5 min), sender-constrained, intent checked at each call",
)
