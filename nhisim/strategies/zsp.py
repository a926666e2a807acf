"""Zero standing privileges: a just-in-time token per task, nothing held at rest.

Each agent has a workload identity (no secret at rest, like a SPIFFE SVID, 1 h) with
which it asks the issuer for a token when a task starts: scope = the agent's roles, TTL
15 minutes, revoked when the task ends. Revocation is automated; resource servers cache
token validity for 5 minutes, so a revocation takes up to that long to bite.
"""

from nhisim.strategies.base import Strategy

ORDER = 3  # its place in tables and in a scenario's default strategies

PRESET = Strategy(
    name="zsp",
    identity="workload",
    credential="jit_token",
    ttl=900.0,
    rotation=float("inf"),
    jit_scope="role",
    revoke_at_task_end=True,
    binding="bearer",
    runtime_check="scope",
    out_of_intent="deny",
    redeclare_approver="policy",
    intent_follows_switch=True,
    delegation="pass_through",
    lossy_hop="fail",
    revocation="automated",
    propagation="cache",
    cache_ttl=300.0,
    identity_ttl=3600.0,
    offboarding_revokes=True,
    risk_escalation_alerts=None,
    secret_storage="config",
    cascade_revocation=False,
    mfa=False,
    description="JIT token per task (TTL 15 min, scope = roles), revoked at task end; automated revocation",
)
