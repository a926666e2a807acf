"""Standing privilege (attack surface at rest) and operational cost."""

from __future__ import annotations

from nhisim.metrics.lifecycle import RunLog

COLUMNS = ("standing_privilege", "credentials_issued", "policy_evaluations")


def compute(log: RunLog) -> dict[str, float]:
    issues = log.of("issue")
    issued = issues.where(issues["decision"] == "allow")
    ends = log.credential_end
    horizon = log.horizon
    standing = 0.0
    for cred, t, value in issued.tuples("credential", "t", "value"):
        end = min(ends.get(cred, horizon), horizon)
        if end > t and value > 0:
            standing += value * (end - t)
    evaluations = len(log.requests) + len(issues)
    return {
        "standing_privilege": standing,
        "credentials_issued": float(len(issued)),
        "policy_evaluations": float(evaluations),
    }
