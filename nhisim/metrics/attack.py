"""What the attacker did: realized and potential blast radius, records, requests."""

from __future__ import annotations

import math

from nhisim.metrics.lifecycle import RunLog

COLUMNS = ("blast_radius", "potential_blast_radius", "records_exposed", "malicious_allowed", "malicious_denied")
DATA_ACTIONS = ("read", "export", "list")


def compute(log: RunLog) -> dict[str, float]:
    if not log.compromised:
        return dict.fromkeys(COLUMNS, math.nan)
    req = log.requests
    malicious = req[req["malicious"]]
    allowed = malicious[malicious["decision"] == "allow"]
    pairs = allowed.drop_duplicates(["action", "resource"])
    data = allowed[allowed["action"].isin(DATA_ACTIONS)].drop_duplicates("resource")
    issue_refusals = log.events[(log.events["event"] == "issue") & log.events["malicious"]
                                & (log.events["decision"] == "deny")]
    return {
        "blast_radius": float(pairs["value"].sum()),
        "potential_blast_radius": float(sum(i.potential for i in log.incidents.values())),
        "records_exposed": float(data["records"].sum()),
        "malicious_allowed": float(len(allowed)),
        "malicious_denied": float((malicious["decision"] != "allow").sum() + len(issue_refusals)),
    }
