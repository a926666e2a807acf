"""Small scenarios built in Python for the engine's behaviour tests."""

from __future__ import annotations

from typing import Any

from nhisim.scenario.loader import validate_data
from nhisim.scenario.models import Scenario


def support_estate(**extra: Any) -> dict:
    """One support agent with a CRM; the base of the leak tests."""
    data: dict[str, Any] = {
        "name": "support",
        "resources": [
            {"id": "crm-db", "sensitivity": "critical", "records": 1000},
            {"id": "tickets", "sensitivity": "medium", "records": 500},
        ],
        "tools": [
            {"id": "crm", "operations": [{"action": "read", "resource": "crm-db"},
                                         {"action": "export", "resource": "crm-db"}]},
            {"id": "tix", "operations": [{"action": "read", "resource": "tickets"},
                                         {"action": "write", "resource": "tickets"}]},
        ],
        "roles": [{"id": "support", "grants": ["crm:read:crm-db", "crm:export:crm-db", "tix:read:tickets",
                                               "tix:write:tickets"]}],
        "humans": [{"id": "alice"}],
        "agents": [{"id": "bot", "owner": "alice", "roles": ["support"], "tools": ["crm", "tix"],
                    "tasks": ["ticket"]}],
        "tasks": [{
            "id": "ticket", "requested_by": "alice", "arrival_rate": "12/h",
            "intent": {"operations": ["tix:read:tickets", "crm:read:crm-db", "tix:write:tickets"]},
            "steps": [{"call": "tix:read:tickets", "duration": {"exponential": "20s"}},
                      {"call": "crm:read:crm-db", "duration": {"exponential": "20s"}},
                      {"call": "tix:write:tickets", "duration": {"exponential": "20s"}}],
        }],
        "run": {"horizon": "12h", "replications": 3, "baseline": "rbac"},
    }
    data.update(extra)
    return data


def shared_estate(holders: int = 3, **extra: Any) -> dict:
    """``holders`` agents sharing one integration account, each doing its own work."""
    agents, tasks, roles = [], [], []
    for i in range(holders):
        roles.append({"id": f"role{i}", "grants": [f"api:read:db{i}", f"api:write:db{i}"]})
        agents.append({"id": f"agent{i}", "owner": "owner", "roles": [f"role{i}"], "tools": ["api"],
                       "tasks": [f"work{i}"]})
        tasks.append({"id": f"work{i}", "requested_by": "owner", "arrival_rate": "30/h",
                      "intent": {"operations": [f"api:read:db{i}", f"api:write:db{i}"]},
                      "steps": [{"call": f"api:read:db{i}", "duration": "10s"},
                                {"call": f"api:write:db{i}", "duration": "10s"}]})
    data: dict[str, Any] = {
        "name": "shared",
        "resources": [{"id": f"db{i}", "sensitivity": "high", "records": 100} for i in range(holders)],
        "tools": [{"id": "api", "operations": [op for i in range(holders) for op in (
            {"action": "read", "resource": f"db{i}"}, {"action": "write", "resource": f"db{i}"})]}],
        "roles": roles,
        "humans": [{"id": "owner"}],
        "agents": agents,
        "shared_accounts": [{"id": "svc-int", "holders": [a["id"] for a in agents]}],
        "tasks": tasks,
        "run": {"horizon": "1d", "baseline": "rbac"},
    }
    data.update(extra)
    return data


def chain_estate(depth: int, **extra: Any) -> dict:
    """A delegation chain a0 → a1 → ... → a<depth>; each agent reaches its own database only."""
    agents, tasks, roles, resources, ops = [], [], [], [], []
    for i in range(depth + 1):
        resources.append({"id": f"db{i}", "sensitivity": "high", "records": 10})
        ops += [{"action": "read", "resource": f"db{i}"}, {"action": "export", "resource": f"db{i}"}]
        roles.append({"id": f"r{i}", "grants": [f"api:read:db{i}", f"api:export:db{i}"]})
        steps: list[dict] = [{"call": f"api:read:db{i}", "duration": "5s"}]
        if i < depth:
            steps.append({"delegate": {"agent": f"a{i + 1}", "task": f"t{i + 1}"}})
        tasks.append({"id": f"t{i}", "requested_by": "h", "arrival_rate": "20/h" if i == 0 else 0,
                      "intent": {"operations": [f"api:read:db{i}"]}, "steps": steps})
        agents.append({"id": f"a{i}", "owner": "h", "roles": [f"r{i}"], "tools": ["api"], "tasks": [f"t{i}"],
                       "may_delegate_to": [f"a{i + 1}"] if i < depth else []})
    data: dict[str, Any] = {
        "name": f"chain-{depth}", "resources": resources, "tools": [{"id": "api", "operations": ops}],
        "roles": roles, "humans": [{"id": "h"}], "agents": agents, "tasks": tasks,
        "run": {"horizon": "6h"},
    }
    data.update(extra)
    return data


def build(data: dict) -> Scenario:
    return validate_data(data, file="<test>")
