"""Attribution: can the audit trail tie each malicious action to who really did it?

A malicious action is attributed when its record names an agent that is also the one
that presented the credential (not a shared account, not a stolen copy replayed from
elsewhere), and the credential binds a task and an originating human.
"""

from __future__ import annotations

import math

from nhisim.metrics.digest import LogDigest
from nhisim.metrics.lifecycle import present

COLUMNS = ("attribution",)


def compute(log: LogDigest) -> dict[str, float]:
    malicious = log.malicious_requests
    allowed = malicious.where(malicious["decision"] == "allow")
    if not len(allowed):
        return {"attribution": math.nan}
    principal = allowed["principal"]
    attributed = ((principal == allowed["presenter"]) & present(principal) & present(allowed["audit_task"])
                  & present(allowed["audit_human"]))
    return {"attribution": float(attributed.mean())}
