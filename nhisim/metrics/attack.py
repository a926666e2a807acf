"""What the attacker did: realized and potential blast radius, records, requests."""

from __future__ import annotations

import math

from nhisim.metrics.lifecycle import RunLog

COLUMNS = ("blast_radius", "potential_blast_radius", "records_exposed", "malicious_allowed", "malicious_denied")
DATA_ACTIONS = ("read", "export", "list")


def _union_value(log: RunLog) -> float:
    """Value of everything any incident could reach at its compromise, each operation once."""
    reach: dict[str, float] = {}
    for incident in log.incidents.values():
        reach.update(incident.scope)
    return float(sum(reach.values()))


def compute(log: RunLog) -> dict[str, float]:
    if not log.compromised:
        return dict.fromkeys(COLUMNS, math.nan)
    req = log.requests
    malicious = req[req["malicious"]]
    allowed = malicious[malicious["decision"] == "allow"]
    pairs = allowed.drop_duplicates(["action", "resource"])
    data = allowed[allowed["action"].isin(DATA_ACTIONS)].drop_duplicates("resource")
    issues = log.of("issue")
    issue_refusals = issues[issues["malicious"] & (issues["decision"] == "deny")]
    return {
        "blast_radius": float(pairs["value"].sum()),
        "potential_blast_radius": _union_value(log),
        "records_exposed": float(data["records"].sum()),
        "malicious_allowed": float(len(allowed)),
        "malicious_denied": float((malicious["decision"] != "allow").sum() + len(issue_refusals)),
    }
