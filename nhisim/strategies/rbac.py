"""RBAC with standing access: a static key per agent, scoped to the agent's roles.

The usual state of an enterprise today: per-agent identity (so audit logs name the
agent), but the key is long-lived (rotated every 90 days), a bearer secret, checked
only against role scope, and revoked by a ticket a person works.
"""

from nhisim.strategies.base import Strategy
from nhisim.strategies.shared_account import DAY

ORDER = 2  # its place in tables and in a scenario's default strategies

PRESET = Strategy(
    name="rbac",
    identity="per_agent",
    credential="static_key",
    ttl=900.0,
    rotation=90 * DAY,
    jit_scope="role",
    revoke_at_task_end=False,
    binding="bearer",
    runtime_check="scope",
    out_of_intent="deny",
    delegation="pass_through",
    revocation="manual",
    propagation="immediate",
    cache_ttl=0.0,
    identity_ttl=3600.0,
    offboarding_revokes=False,
    risk_escalation_alerts=None,
    description="static key per agent scoped to its roles, rotated every 90 days; manual revocation",
)
