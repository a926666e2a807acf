"""The synthetic estate generator: valid, deterministic, shaped by its knobs, round-trips as YAML."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

import pytest
import yaml

from nhisim.scenario.generate import estate_to_yaml, generate_estate
from nhisim.scenario.models import CallStep, DelegateStep, Scenario

try:  # the project's own cross-reference checker, when present
    from nhisim.scenario.validate import check_references
except ImportError:  # pragma: no cover - the module is written elsewhere
    check_references = None


# --------------------------------------------------------------------------- helpers


def reference_problems(s: Scenario) -> list[str]:
    """Every dangling reference or broken delegation contract in the scenario, as text."""
    problems: list[str] = []
    ix = s.index()
    ops = {(t.id, op.action, op.resource) for t in s.tools for op in t.operations}
    for section in ("resources", "tools", "roles", "humans", "agents", "shared_accounts", "tasks"):
        ids = [item.id for item in getattr(s, section)]
        if len(ids) != len(set(ids)):
            problems.append(f"duplicate ids in {section}")
    for t in s.tools:
        for op in t.operations:
            if op.resource not in ix.resources:
                problems.append(f"tool {t.id} operates on unknown resource {op.resource}")
            if op.action not in s.weights.action_damage:
                problems.append(f"tool {t.id} exposes unknown action {op.action}")

    def grant(g, where: str) -> None:
        if g.key not in ops:
            problems.append(f"{where}: {g} is not an operation a tool exposes")

    for r in s.roles:
        for g in r.grants:
            grant(g, f"role {r.id}")
    for a in s.agents:
        if a.owner not in ix.humans:
            problems.append(f"agent {a.id}: unknown owner {a.owner}")
        for ref, pool in ((a.roles, ix.roles), (a.tools, ix.tools), (a.tasks, ix.tasks), (a.may_delegate_to, ix.agents)):
            problems += [f"agent {a.id}: unknown {x}" for x in ref if x not in pool]
    for acc in s.shared_accounts:
        problems += [f"account {acc.id}: unknown holder {h}" for h in acc.holders if h not in ix.agents]
        problems += [f"account {acc.id}: unknown role {r}" for r in acc.roles if r not in ix.roles]
    servers: dict[str, list[str]] = {}
    for a in s.agents:
        for t in a.tasks:
            servers.setdefault(t, []).append(a.id)
    for t in s.tasks:
        if t.requested_by is not None and t.requested_by not in ix.humans:
            problems.append(f"task {t.id}: unknown requester {t.requested_by}")
        for g in t.intent.operations:
            grant(g, f"task {t.id} intent")
        for step in t.steps:
            if isinstance(step, CallStep):
                grant(step.call, f"task {t.id} step")
            else:
                d = step.delegate
                if d.agent not in ix.agents or d.task not in ix.tasks:
                    problems.append(f"task {t.id}: delegates to unknown {d.agent}/{d.task}")
                    continue
                if d.task not in ix.agents[d.agent].tasks:
                    problems.append(f"task {t.id}: {d.agent} does not serve {d.task}")
                for server in servers.get(t.id, []):
                    if d.agent not in ix.agents[server].may_delegate_to:
                        problems.append(f"task {t.id}: {server} may not delegate to {d.agent}")
    if check_references is not None:
        problems += [p.render() for p in check_references(s)]
    return problems


def longest_chain(s: Scenario) -> int:
    """Number of hops in the longest may_delegate_to chain."""
    ix = s.index()
    memo: dict[str, int] = {}

    def depth(a: str, seen: frozenset[str] = frozenset()) -> int:
        assert a not in seen, "delegation cycle"
        if a not in memo:
            memo[a] = max((1 + depth(c, seen | {a}) for c in ix.agents[a].may_delegate_to), default=0)
        return memo[a]

    return max((depth(a) for a in ix.agents), default=0)


def scope_and_needs(s: Scenario) -> dict[str, tuple[set[tuple], set[tuple]]]:
    ix = s.index()
    out = {}
    for a in s.agents:
        scope = {g.key for r in a.roles for g in ix.roles[r].grants}
        needs = {g.key for t in a.tasks for g in ix.tasks[t].intent.operations}
        out[a.id] = (scope, needs)
    return out


@pytest.fixture(scope="module")
def estate() -> Scenario:
    return generate_estate()


# --------------------------------------------------------------------------- validity


def test_default_estate_is_valid_and_plausible(estate):
    assert reference_problems(estate) == []
    assert (len(estate.agents), len(estate.tools), len(estate.resources)) == (50, 10, 20)
    assert {r.sensitivity for r in estate.resources} == {"low", "medium", "high", "critical"}
    prod = sum(r.environment == "prod" for r in estate.resources)
    assert len(estate.resources) / 2 < prod < len(estate.resources)
    assert all(len(t.operations) >= 2 for t in estate.tools)
    assert any(h.approver for h in estate.humans)
    assert all(1 <= len(a.tasks) <= 2 and a.roles for a in estate.agents)
    assert all(a.behaviour.discovery_probability == 0.02 for a in estate.agents)
    assert estate.threats == []
    ix = estate.index()
    for t in estate.tasks:
        for step in t.steps:
            if isinstance(step, CallStep):
                assert 0 < step.duration.mean < 3600
    served = {t for a in estate.agents for t in a.tasks}
    assert served == set(ix.tasks)  # no orphan templates
    top_level = [t for t in estate.tasks if t.arrival_rate > 0]
    assert top_level and all(1 / 86400 <= t.arrival_rate <= 1 / 60 for t in top_level)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(agents=1),
        dict(agents=0),
        dict(agents=7, tools=1, resources=1),
        dict(agents=120, tools=40, resources=6, fanout=3, depth=4, shared_share=0.5),
        dict(agents=30, fanout=10, depth=8, over_privilege=5.0),
    ],
)
def test_edge_shapes_are_valid_and_counts_honoured(kwargs):
    s = generate_estate(**kwargs)
    assert reference_problems(s) == []
    assert len(s.agents) == kwargs["agents"]
    assert len(s.tools) == kwargs.get("tools", 10)
    assert len(s.resources) == kwargs.get("resources", 20)


def test_sweep_values_from_numpy_are_accepted():
    np = pytest.importorskip("numpy")
    s = generate_estate(agents=np.int64(12), seed=np.int64(2), over_privilege=np.float64(1.5))
    assert s == generate_estate(agents=12, seed=2, over_privilege=1.5)


def test_bad_parameters_are_refused():
    for kwargs in (dict(agents=-1), dict(tools=0), dict(resources=0), dict(shared_share=1.5), dict(agents="5"),
                   dict(over_privilege=0.5), dict(discovery_probability=2), dict(depth=-1), dict(seed=1.5)):
        with pytest.raises(ValueError):
            generate_estate(**kwargs)


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_estate_other_seed_other_estate(estate):
    again = generate_estate()
    assert again == estate
    assert again.model_dump(mode="json", exclude_defaults=True) == estate.model_dump(mode="json", exclude_defaults=True)
    assert generate_estate(seed=1) != estate


def test_same_seed_same_yaml_in_another_process():
    code = "from nhisim.scenario.generate import *; print(estate_to_yaml(generate_estate(agents=40, seed=3)))"
    outputs = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        outputs.add(run.stdout)
    assert outputs == {estate_to_yaml(generate_estate(agents=40, seed=3)) + "\n"}


# --------------------------------------------------------------------------- knobs


@pytest.mark.parametrize("fanout, depth", [(2, 3), (1, 5), (3, 2), (4, 1), (2, 6)])
def test_delegation_depth_and_fanout_honoured(fanout, depth):
    s = generate_estate(agents=60, fanout=fanout, depth=depth)
    assert longest_chain(s) == depth
    assert max(len(a.may_delegate_to) for a in s.agents) == fanout
    assert reference_problems(s) == []


def test_delegation_is_off_at_depth_zero_and_short_when_agents_are_few():
    assert longest_chain(generate_estate(agents=20, depth=0)) == 0
    assert longest_chain(generate_estate(agents=20, fanout=0)) == 0
    assert longest_chain(generate_estate(agents=3, fanout=1, depth=5)) == 2


def test_delegated_sub_tasks_are_served_and_allowed(estate):
    ix = estate.index()
    delegations = [(t, step.delegate) for t in estate.tasks for step in t.steps if isinstance(step, DelegateStep)]
    assert delegations
    for _, d in delegations:
        sub = ix.tasks[d.task]
        assert sub.arrival_rate == 0
        delegate = ix.agents[d.agent]
        assert d.task in delegate.tasks
        scope = {g.key for r in delegate.roles for g in ix.roles[r].grants}
        assert {g.key for g in sub.intent.operations} <= scope
    for a in estate.agents:  # an orchestrator's may_delegate_to is exactly whom its tasks delegate to
        targets = {st.delegate.agent for t in a.tasks for st in ix.tasks[t].steps if isinstance(st, DelegateStep)}
        assert targets == set(a.may_delegate_to)


@pytest.mark.parametrize("share", [0.0, 0.2, 0.5, 1.0])
def test_shared_share_honoured(share):
    s = generate_estate(agents=200, shared_share=share)
    holders = [h for acc in s.shared_accounts for h in acc.holders]
    assert len(holders) == len(set(holders))  # an agent holds at most one shared account
    assert len(holders) / len(s.agents) == pytest.approx(share, abs=0.01)
    ix = s.index()
    for acc in s.shared_accounts:
        assert 2 <= len(acc.holders) <= 6
        for h in acc.holders:
            assert set(ix.agents[h].roles) <= set(acc.roles)
            assert ix.agents[h].environment in acc.environments


@pytest.mark.parametrize("over_privilege", [1.0, 1.5, 2.0, 3.0])
def test_intents_within_roles_and_over_privilege(over_privilege):
    s = generate_estate(agents=200, tools=20, resources=40, over_privilege=over_privilege)
    ratios = []
    for scope, needs in scope_and_needs(s).values():
        assert needs and needs <= scope  # benign work is allowed under RBAC
        if over_privilege == 1.0:
            assert scope == needs
        else:
            assert scope > needs
        ratios.append(len(scope) / len(needs))
    assert statistics.mean(ratios) == pytest.approx(over_privilege, rel=0.15)


def test_agents_declare_the_tools_their_tasks_call(estate):
    ix = estate.index()
    for a in estate.agents:
        called = {st.call.tool for t in a.tasks for st in ix.tasks[t].steps if isinstance(st, CallStep)}
        assert called == set(a.tools)


def test_threats_pass_through():
    agent = generate_estate(agents=10).agents[0].id
    threats = [{"kind": "secret_leak", "principal": agent, "at": "2h"},
               {"kind": "runtime_discovery", "probability": 0.05}]
    s = generate_estate(agents=10, threats=threats)
    assert [t.kind for t in s.threats] == ["secret_leak", "runtime_discovery"]
    assert s.threats[0].at.mean == 7200
    assert reference_problems(s) == []


# --------------------------------------------------------------------------- YAML


def test_yaml_round_trips_and_says_how_it_was_made(estate):
    text = estate_to_yaml(estate)
    assert Scenario.model_validate(yaml.safe_load(text)) == estate
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert "generate_estate(" in " ".join(header) and "seed=0" in " ".join(header)
    assert "call: " in text and "arrival_rate: " in text
    assert "tool:" not in text  # grants are written tool:action:resource


def test_yaml_round_trips_with_threats_and_non_default_settings():
    agent = generate_estate(agents=12).agents[0].id
    threats = [{"kind": "agent_hijack", "agent": agent,
                "window": {"start": "1h", "duration": {"lognormal": {"median": "30m", "sigma": 0.5}}}}]
    s = generate_estate(agents=12, seed=5, over_privilege=1.0, discovery_probability=0.0, threats=threats)
    s = s.model_copy(update={"run": s.run.model_copy(update={"horizon": float("inf")})})
    assert Scenario.model_validate(yaml.safe_load(estate_to_yaml(s))) == s


def test_two_thousand_agents(tmp_path):
    s = generate_estate(agents=2000, tools=60, resources=120, seed=11)
    assert len(s.agents) == 2000
    assert longest_chain(s) == 3
    assert reference_problems(s) == []
