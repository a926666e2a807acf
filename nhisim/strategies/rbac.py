"""RBAC with standing access: a static key per agent, scoped to the agent's roles.

The usual state of an enterprise today: per-agent identity (so audit logs name the
agent), but the key is long-lived (rotated every 90 days), a bearer secret, checked
only against role scope, and revoked by a ticket a person works.
"""

from nhisim.strategies.shared_account import PRESET as SHARED_ACCOUNT

ORDER = 2  # its place in tables and in a scenario's default strategies

# the shared account's controls exactly, but one identity (and one key) per agent
PRESET = SHARED_ACCOUNT.with_knobs(
    name="rbac",
    identity="per_agent",
    description="static key per agent scoped to its roles, rotated every 90 days; manual revocation",
)
