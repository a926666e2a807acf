"""What the attacker did: realized and potential blast radius, records, requests, keys harvested."""

from __future__ import annotations

import math

import numpy as np

from nhisim.metrics.digest import LogDigest
from nhisim.metrics.lifecycle import Rows
from nhisim.scenario.models import READ_ACTIONS

COLUMNS = ("blast_radius", "potential_blast_radius", "records_exposed", "malicious_allowed", "malicious_denied",
           "credentials_harvested")
DATA_ACTIONS = READ_ACTIONS


def _union_value(log: LogDigest) -> float:
    """Value of everything any incident could reach at its compromise, each operation once."""
    reach: dict[str, float] = {}
    for incident in log.incidents.values():
        reach.update(incident.scope)
    return float(sum(reach.values()))


def _sum_first(rows: Rows, key: tuple[str, ...], column: str) -> float:
    """Σ ``column`` over the first row of each distinct ``key`` (a later repeat adds nothing)."""
    first: dict[tuple, float] = {}
    for *k, value in rows.tuples(*key, column):
        first.setdefault(tuple(k), value)
    return float(np.nansum(np.fromiter(first.values(), dtype=float, count=len(first))))


def compute(log: LogDigest) -> dict[str, float]:
    if not log.compromised:
        return dict.fromkeys(COLUMNS, math.nan)
    malicious = log.malicious_requests
    allowed = malicious.where(malicious["decision"] == "allow")
    data = allowed.where(np.fromiter((action in DATA_ACTIONS for action in allowed["action"]), dtype=bool,
                                     count=len(allowed)))
    return {
        "blast_radius": _sum_first(allowed, ("action", "resource"), "value"),
        "potential_blast_radius": _union_value(log),
        "records_exposed": _sum_first(data, ("resource",), "records"),
        "malicious_allowed": float(len(allowed)),
        "malicious_denied": float(len(malicious) - len(allowed) + log.malicious_issue_refusals),
        "credentials_harvested": float(len(_harvested(log))),
    }


def _harvested(log: LogDigest) -> set[str]:
    """Credentials the attacker obtained by reading a resource that held them (``harvested`` acquire rows)."""
    acquired = log.of("acquire")
    return set(acquired.where(acquired["decision"] == "harvested")["credential"])
