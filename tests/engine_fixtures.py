"""Small scenarios built in Python for the engine's behaviour tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from nhisim.scenario.generate import generate_estate
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


def delegating_estate(lookup: str = "30s", rate: str = "12/h", **extra: Any) -> dict:
    """``lead`` hands every ticket's CRM lookup (``lookup`` long) to ``helper``; both roles reach the CRM."""
    return support_estate(
        agents=[{"id": "lead", "owner": "alice", "roles": ["support"], "tools": ["crm", "tix"], "tasks": ["ticket"],
                 "may_delegate_to": ["helper"]},
                {"id": "helper", "owner": "alice", "roles": ["support"], "tools": ["crm"], "tasks": ["lookup"]}],
        tasks=[{"id": "ticket", "requested_by": "alice", "arrival_rate": rate,
                "intent": {"operations": ["tix:read:tickets", "crm:read:crm-db"]},
                "steps": [{"call": "tix:read:tickets", "duration": "10s"},
                          {"delegate": {"agent": "helper", "task": "lookup"}}]},
               {"id": "lookup", "requested_by": "alice", "arrival_rate": 0,
                "intent": {"operations": ["crm:read:crm-db"]},
                "steps": [{"call": "crm:read:crm-db", "duration": lookup}]}],
        **extra)


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


def draw_attacked_estate(draw: st.DrawFn, *, agents: tuple[int, int], depth: tuple[int, int], latest: int,
                         max_delay: int, overreach: list[float]) -> tuple[dict, int]:
    """For hypothesis: a small generated estate under a leak, a hijack, overreach and (when it has
    a shared account) a shared-credential compromise, over 2 h; returns its data and seed.

    ``latest`` bounds when attacks start (seconds), ``max_delay`` the attacker's delay after a leak.
    """
    seed = draw(st.integers(0, 10_000))
    scenario = generate_estate(agents=draw(st.integers(*agents)), tools=3, resources=5, fanout=2,
                               depth=draw(st.integers(*depth)), shared_share=0.4, seed=seed)
    ids = [a.id for a in scenario.agents]
    threats = [
        {"id": "leak", "kind": "secret_leak", "principal": draw(st.sampled_from(ids)),
         "at": draw(st.integers(60, latest)), "attacker_delay": draw(st.integers(0, max_delay)),
         "credential": draw(st.sampled_from(["access", "minting"]))},
        {"id": "hijack", "kind": "agent_hijack", "agent": draw(st.sampled_from(ids)),
         "window": {"start": draw(st.integers(60, latest)), "duration": draw(st.integers(60, 3600))}},
        {"id": "overreach", "kind": "runtime_discovery", "probability": draw(st.sampled_from(overreach))},
    ]
    if scenario.shared_accounts:
        account = scenario.shared_accounts[0]
        threats.append({"id": "shared", "kind": "shared_credential_compromise", "account": account.id,
                        "via": account.holders[0], "at": draw(st.integers(60, latest))})
    data = scenario.model_dump(mode="json", exclude_unset=True)
    data.update(threats=threats, run={"horizon": "2h"},
                detection={"monitoring": draw(st.sampled_from(["none", "advanced"])),
                           "alert_detection_probability": 0.5})
    return data, seed


def payments_estate(amount: Any = 300, limit: float = 500, **extra: Any) -> dict:
    """One accounts-payable agent whose payments take an amount and a recipient, under an intent
    limit (``amount <= limit``, recipients at corp.example); it may also export the vendor list."""
    data: dict[str, Any] = {
        "name": "payments",
        "resources": [
            {"id": "invoices", "sensitivity": "medium", "records": 100},
            {"id": "bank", "sensitivity": "critical"},
            {"id": "vendors", "sensitivity": "high", "records": 50},
        ],
        "tools": [
            {"id": "docs", "operations": [{"action": "read", "resource": "invoices"}]},
            {"id": "pay", "operations": [{"action": "send", "resource": "bank", "parameters": {
                "amount": {"type": "number", "default": 0, "attacker": 250000},
                "recipient": {"type": "text", "default": "ap@corp.example", "attacker": "mule@evil.example"}}}]},
            {"id": "erp", "operations": [{"action": "read", "resource": "vendors"},
                                         {"action": "export", "resource": "vendors"}]},
        ],
        "roles": [{"id": "ap", "grants": ["docs:read:invoices", "pay:send:bank", "erp:read:vendors",
                                          "erp:export:vendors"]}],
        "humans": [{"id": "controller"}],
        "agents": [{"id": "bot", "owner": "controller", "roles": ["ap"], "tools": ["docs", "pay", "erp"],
                    "tasks": ["pay-invoice"]}],
        "tasks": [{
            "id": "pay-invoice", "requested_by": "controller", "arrival_rate": "6/h",
            "intent": {"operations": ["docs:read:invoices", "pay:send:bank"],
                       "constraints": {"pay:send:bank": [f"amount <= {limit}", "recipient like *@corp.example"]}},
            "steps": [{"call": "docs:read:invoices", "duration": "10s"},
                      {"call": "pay:send:bank", "duration": "10s",
                       "arguments": {"amount": amount, "recipient": "ap@corp.example"}}],
        }],
        "run": {"horizon": "4h"},
    }
    data.update(extra)
    return data
