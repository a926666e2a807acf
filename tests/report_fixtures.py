"""A small attacked estate and its comparison, shared by the figure, report and replay tests.

Two agents: ``triage-bot`` delegates lookups to ``support-bot``; both hold the shared
integration account ``svc-int``. ``support-bot``'s credential leaks into logs at 2 h;
agents overreach now and then. Half a day, a few replications: fast, and every figure
has something to show (a compromise, malicious requests allowed and denied, detection,
revocation, delegation).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = ("shared_account", "rbac", "zsp", "intent")

ESTATE = {
    "name": "report-estate",
    "title": "A leaked support key (report tests)",
    "tags": {"maestro": ["L7"], "owasp_agentic": ["T9"], "owasp_nhi": ["NHI2"]},
    "resources": [
        {"id": "crm-db", "sensitivity": "critical", "records": 1000},
        {"id": "tickets", "sensitivity": "medium", "records": 500},
        {"id": "kb", "sensitivity": "low", "records": 50},
    ],
    "tools": [
        {"id": "crm", "operations": [{"action": "read", "resource": "crm-db"},
                                     {"action": "export", "resource": "crm-db"}]},
        {"id": "tix", "operations": [{"action": "read", "resource": "tickets"},
                                     {"action": "write", "resource": "tickets"},
                                     {"action": "read", "resource": "kb"}]},
    ],
    "roles": [
        {"id": "support", "grants": ["crm:read:crm-db", "crm:export:crm-db", "tix:read:tickets",
                                     "tix:write:tickets", "tix:read:kb"]},
        {"id": "triage", "grants": ["tix:read:tickets", "tix:read:kb", "crm:read:crm-db"]},
    ],
    "humans": [{"id": "alice"}],
    "agents": [
        {"id": "triage-bot", "owner": "alice", "roles": ["triage"], "tools": ["tix", "crm"], "tasks": ["triage"],
         "may_delegate_to": ["support-bot"]},
        {"id": "support-bot", "owner": "alice", "roles": ["support"], "tools": ["crm", "tix"],
         "tasks": ["answer", "lookup"]},
    ],
    "shared_accounts": [{"id": "svc-int", "holders": ["triage-bot", "support-bot"], "roles": ["support"]}],
    "tasks": [
        {"id": "triage", "requested_by": "alice", "arrival_rate": "4/h",
         "intent": {"operations": ["tix:read:tickets", "crm:read:crm-db"]},
         "steps": [{"call": "tix:read:tickets", "duration": "20s"},
                   {"delegate": {"agent": "support-bot", "task": "lookup"}}]},
        {"id": "lookup", "requested_by": "alice",
         "intent": {"operations": ["crm:read:crm-db"]},
         "steps": [{"call": "crm:read:crm-db", "duration": "10s"}]},
        {"id": "answer", "requested_by": "alice", "arrival_rate": "8/h",
         "intent": {"operations": ["tix:read:tickets", "crm:read:crm-db", "tix:write:tickets"]},
         "steps": [{"call": "tix:read:tickets", "duration": {"exponential": "20s"}},
                   {"call": "crm:read:crm-db", "duration": {"exponential": "15s"}},
                   {"call": "tix:write:tickets", "duration": {"exponential": "30s"}}]},
    ],
    "threats": [
        {"id": "leak", "kind": "secret_leak", "principal": "support-bot", "channel": "logs", "at": "2h",
         "attacker_delay": "10m"},
        {"id": "overreach", "kind": "runtime_discovery", "probability": 0.15},
    ],
    "detection": {"monitoring": "standard"},
    "run": {"horizon": "6h", "replications": 3, "baseline": "rbac", "seed": 3},
}

HEADER = """\
# Report estate: a leaked support key (test scenario)
#
# What it shows: support-bot's key leaks into logs at 2 h.
# Expected result: blast radius rbac > intent.
"""


def estate_data(**changes) -> dict:
    import copy

    data = copy.deepcopy(ESTATE)
    data.update(changes)
    return data


def write_estate(folder: Path, name: str = "estate.yaml", **changes) -> Path:
    """The estate as a scenario file (with a header comment) in ``folder``."""
    path = Path(folder) / name
    path.write_text(HEADER + yaml.safe_dump(estate_data(**changes), sort_keys=False), encoding="utf-8")
    return path


def estate():
    from nhisim.scenario.loader import validate_data

    return validate_data(estate_data(), file="<report estate>")


@cache
def comparison(replications: int = 3):
    """Every preset on the estate, ``replications`` paired replications (computed once per process)."""
    from nhisim.experiments import compare

    return compare(estate(), strategies=list(STRATEGIES), replications=replications)


@cache
def quiet_comparison():
    """The estate without any attack: every security metric is NaN."""
    from nhisim.experiments import compare
    from nhisim.scenario.loader import validate_data

    model = validate_data(estate_data(threats=[]), file="<quiet estate>")
    return compare(model, strategies=["rbac", "intent"], replications=2)
