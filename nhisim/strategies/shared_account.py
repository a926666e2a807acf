"""Shared account: several agents hold one service account's static key.

The anti-pattern OWASP calls NHI reuse (NHI9). The key's scope is the union of what its
holders need, it never expires (rotated every 90 days), it is a bearer secret, and
revoking it breaks every holder. Audit logs name the account, not the agent.
"""

from nhisim.strategies.base import Strategy

DAY = 86400.0

ORDER = 1  # its place in tables and in a scenario's default strategies

PRESET = Strategy(
    name="shared_account",
    identity="shared",
    credential="static_key",
    ttl=900.0,
    rotation=90 * DAY,
    jit_scope="role",
    revoke_at_task_end=False,
    binding="bearer",
    runtime_check="scope",
    out_of_intent="deny",
    redeclare_approver="policy",
    intent_follows_switch=True,
    delegation="pass_through",
    lossy_hop="fail",
    revocation="manual",
    propagation="immediate",
    cache_ttl=0.0,
    identity_ttl=3600.0,
    offboarding_revokes=False,
    risk_escalation_alerts=None,
    secret_storage="config",
    cascade_revocation=False,
    mfa=False,
    description="one shared service-account key, rotated every 90 days; manual revocation",
)
