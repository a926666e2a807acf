"""Standing privilege (attack surface at rest) and operational cost."""

from __future__ import annotations

import numpy as np

from nhisim.metrics.digest import LogDigest

COLUMNS = ("standing_privilege", "credentials_issued", "policy_evaluations")


def compute(log: LogDigest) -> dict[str, float]:
    issued = log.issued  # in time order: when each credential was issued, its value, when it died
    t, value = issued["t"], issued["value"]
    end = np.minimum(issued["end"], log.horizon)  # its usable lifetime within the horizon
    counts = (end > t) & (value > 0)
    standing = np.cumsum(np.where(counts, value * (end - t), 0.0))  # a running sum: the terms in time order
    return {
        "standing_privilege": float(standing[-1]) if len(standing) else 0.0,
        "credentials_issued": float(log.credentials_issued),
        "policy_evaluations": float(log.requests + log.issues),
    }
