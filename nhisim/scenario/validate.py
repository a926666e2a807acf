"""Cross-reference checks: every id a scenario mentions must exist; and warnings.

Pydantic checks each value on its own; this module checks the scenario as a whole
(owners are humans, roles exist, grants name an operation a tool really exposes, a
delegated sub-task is served by its delegate, ...), that every tag is an id of the
threat catalog (:mod:`nhisim.scenario.catalog`) and that every expectation parses
(:mod:`nhisim.scenario.expectations`). Each problem names its location as a path
(``agents.2.roles.0``, ``tags.owasp_asi.0``, ``expectations.1``: the dotted paths ``--set`` takes) and suggests the
nearest valid name.

:func:`scenario_warnings` finds what is valid but cannot do what it seems to: a knob a
strategy sets where its other knobs make it inert (:mod:`nhisim.scenario.knob_effects`),
a call a strategy denies in every run (:mod:`nhisim.scenario.denials`). Warnings do not
stop a run.
"""

from __future__ import annotations

from collections.abc import Collection

import networkx as nx

from nhisim.errors import Problem, did_you_mean
from nhisim.scenario.catalog import check_tags
from nhisim.scenario.denials import denial_warnings
from nhisim.scenario.expectations import ClaimError, parse_claim
from nhisim.scenario.knob_effects import knob_warnings
from nhisim.scenario.models import CallStep, DelegateStep, Scenario
from nhisim.scenario.validate_credentials import check_credentials
from nhisim.scenario.validate_intent import check_intents


def check_references(scenario: Scenario) -> list[Problem]:
    """Every problem with the scenario's cross-references, in file order."""
    problems: list[Problem] = []
    ix = scenario.index()
    operations = {
        tool.id: {(op.action, op.resource) for op in tool.operations} for tool in scenario.tools
    }

    def ref(value: str, pool: Collection[str], what: str, location: str) -> bool:
        if value in pool:  # a dict or a set: one lookup (a 10,000-agent estate makes ~170,000 of them)
            return True
        plural = what[:-1] + "ies" if what.endswith("y") else what + "s"
        problems.append(Problem(f"unknown {what} {value!r}", location,
                                suggestion=did_you_mean(value, list(pool), plural)))
        return False

    def grant(g, location: str) -> None:
        if not ref(g.tool, ix.tools, "tool", location):
            return
        if (g.action, g.resource) not in operations[g.tool]:
            offered = sorted(f"{g.tool}:{a}:{r}" for a, r in operations[g.tool])
            problems.append(
                Problem(
                    f"tool {g.tool!r} exposes no operation {g.action} on {g.resource!r}",
                    location,
                    suggestion=did_you_mean(str(g), offered, f"operations of {g.tool}"),
                )
            )

    for section in ("resources", "tools", "roles", "humans", "agents", "shared_accounts", "tasks"):
        seen: set[str] = set()
        for i, item in enumerate(getattr(scenario, section)):
            if item.id in seen:
                problems.append(Problem(f"duplicate id {item.id!r}", f"{section}.{i}.id",
                                        suggestion="every id must be unique within its section"))
            seen.add(item.id)
    for i, account in enumerate(scenario.shared_accounts):
        if account.id in ix.agents:
            problems.append(Problem(f"shared account {account.id!r} has the id of an agent", f"shared_accounts.{i}.id",
                                    suggestion="agents and shared accounts are both principals; give them distinct ids"))

    for i, tool in enumerate(scenario.tools):
        for j, op in enumerate(tool.operations):
            ref(op.action, scenario.weights.action_damage, "action", f"tools.{i}.operations.{j}.action")
            ref(op.resource, ix.resources, "resource", f"tools.{i}.operations.{j}.resource")
    for i, role in enumerate(scenario.roles):
        for j, g in enumerate(role.grants):
            grant(g, f"roles.{i}.grants.{j}")
    for i, agent in enumerate(scenario.agents):
        base = f"agents.{i}"
        ref(agent.owner, ix.humans, "human", f"{base}.owner")
        for j, r in enumerate(agent.roles):
            ref(r, ix.roles, "role", f"{base}.roles.{j}")
        for j, t in enumerate(agent.tools):
            ref(t, ix.tools, "tool", f"{base}.tools.{j}")
        for j, t in enumerate(agent.tasks):
            ref(t, ix.tasks, "task", f"{base}.tasks.{j}")
        for j, d in enumerate(agent.may_delegate_to):
            ref(d, ix.agents, "agent", f"{base}.may_delegate_to.{j}")
    for i, account in enumerate(scenario.shared_accounts):
        for j, h in enumerate(account.holders):
            ref(h, ix.agents, "agent", f"shared_accounts.{i}.holders.{j}")
        for j, r in enumerate(account.roles):
            ref(r, ix.roles, "role", f"shared_accounts.{i}.roles.{j}")

    servers: dict[str, list[str]] = {}
    for agent in scenario.agents:
        for t in agent.tasks:
            servers.setdefault(t, []).append(agent.id)
    task_graph = nx.DiGraph()
    for i, task in enumerate(scenario.tasks):
        base = f"tasks.{i}"
        task_graph.add_node(task.id)
        if task.requested_by is not None:
            ref(task.requested_by, ix.humans, "human", f"{base}.requested_by")
        for j, g in enumerate(task.intent.operations):
            grant(g, f"{base}.intent.operations.{j}")
        for j, step in enumerate(task.steps):
            if isinstance(step, CallStep):
                grant(step.call, f"{base}.steps.{j}.call")
            elif isinstance(step, DelegateStep):
                d = step.delegate
                loc = f"{base}.steps.{j}.delegate"
                ok_agent = ref(d.agent, ix.agents, "agent", f"{loc}.agent")
                ok_task = ref(d.task, ix.tasks, "task", f"{loc}.task")
                if ok_task:
                    task_graph.add_edge(task.id, d.task)
                if ok_agent and ok_task and d.task not in ix.agents[d.agent].tasks:
                    problems.append(Problem(f"agent {d.agent!r} does not serve task {d.task!r}", f"{loc}",
                                            suggestion=f"add {d.task!r} to the tasks of agent {d.agent!r}"))
                if ok_agent:
                    for server in servers.get(task.id, []):
                        if d.agent not in ix.agents[server].may_delegate_to and d.agent != server:
                            problems.append(Problem(
                                f"agent {server!r} serves task {task.id!r}, which delegates to {d.agent!r}, "
                                f"but {server!r} may not delegate to {d.agent!r}",
                                f"{loc}.agent",
                                suggestion=f"add {d.agent!r} to may_delegate_to of agent {server!r}"))
    for cycle in nx.simple_cycles(task_graph):
        problems.append(Problem("sub-tasks delegate to each other in a cycle: " + " -> ".join(cycle + cycle[:1]),
                                "tasks", suggestion="a delegated sub-task must not lead back to its parent task"))
        break

    # each threat kind declares which of its fields name which ids (ThreatModel.REFERENCES)
    pools = {
        "agents": (ix.agents, "agent"),
        "accounts": (ix.shared_accounts, "shared account"),
        "principals": (dict.fromkeys([*ix.agents, *ix.shared_accounts, *ix.humans]), "agent, shared account or human"),
        "tasks": (ix.tasks, "task"),
    }
    for i, threat in enumerate(scenario.threats):
        base = f"threats.{i}"
        known: dict[str, bool] = {}  # field -> whether the id it names exists
        for field, pool_name in threat.REFERENCES.items():
            value = getattr(threat, field)
            account_field = threat.HOLDER_OF.get(field)
            if account_field is not None:
                if not known.get(account_field):  # an unknown account has no holders to check against
                    continue
                account = getattr(threat, account_field)
                pool, what = ix.shared_accounts[account].holders, f"holder of {account}"
            else:
                pool, what = pools[pool_name]
            if isinstance(value, list):
                for j, item in enumerate(value):
                    ref(item, pool, what, f"{base}.{field}.{j}")
            elif value is not None:
                known[field] = ref(value, pool, what, f"{base}.{field}")
    threat_ids = [t.id for t in scenario.threats if t.id]
    for tid in {t for t in threat_ids if threat_ids.count(t) > 1}:
        problems.append(Problem(f"duplicate threat id {tid!r}", "threats"))

    for name, spec in scenario.strategies.items():
        if spec.policies and spec.engine != "cedar":
            problems.append(Problem(f"strategy {name!r} names policy files but does not use the Cedar engine",
                                    f"strategies.{name}.policies",
                                    suggestion=f"add 'engine: cedar' to strategy {name!r}, or drop 'policies'"))
        problems.extend(check_overrides(scenario, name, spec, ref))
    if scenario.run.baseline is not None:
        ref(scenario.run.baseline, scenario.strategies, "strategy", "run.baseline")

    if not problems:  # arguments and constraints are read through ids that must exist
        problems.extend(check_intents(scenario))
    problems.extend(check_credentials(scenario))
    problems.extend(check_tags(scenario.tags))
    for i, text in enumerate(scenario.expectations):
        try:
            parse_claim(text, scenario.strategies)
        except ClaimError as exc:
            problems.append(Problem(exc.message, f"expectations.{i}", suggestion=exc.suggestion))
    return problems


def scenario_warnings(scenario: Scenario) -> list[Problem]:
    """What is valid in ``scenario`` but cannot do what it seems to: knobs set where they have no
    effect, calls denied in every run (with the chain, the scope they are missing from, a fix)."""
    return knob_warnings(scenario) + denial_warnings(scenario)


def check_overrides(scenario: Scenario, name: str, spec, ref) -> list[Problem]:
    """A strategy's overrides: every id they name exists, and each selects someone and changes something."""
    from nhisim.scenario.models import Knobs
    from nhisim.scenario.strategy import override_label, selected

    problems: list[Problem] = []
    tags = {t for a in scenario.agents for t in a.tags}
    agents = dict.fromkeys(a.id for a in scenario.agents)
    accounts = dict.fromkeys(a.id for a in scenario.shared_accounts)
    humans = dict.fromkeys(h.id for h in scenario.humans)
    for i, override in enumerate(spec.overrides):
        where = f"strategies.{name}.overrides.{i}"
        label = override_label(override, i)
        for j, agent in enumerate(override.agents):
            ref(agent, agents, "agent", f"{where}.agents.{j}")
        for j, account in enumerate(override.accounts):
            ref(account, accounts, "shared account", f"{where}.accounts.{j}")
        for j, human in enumerate(override.humans):
            if ref(human, humans, "human", f"{where}.humans.{j}") and not scenario.index().humans[human].roles:
                problems.append(Problem(f"human {human!r} holds no credential, so no control applies to it",
                                        f"{where}.humans.{j}",
                                        suggestion=f"give {human!r} roles, or drop it from the override"))
        for j, tag in enumerate(override.tags):
            if tag not in tags:
                problems.append(Problem(f"no agent has tag {tag!r}", f"{where}.tags.{j}",
                                        suggestion=did_you_mean(tag, tags, "tags") or "give agents tags: [...]"))
        knobs = [k for k in Knobs.model_fields if getattr(override, k) is not None]
        if override.base is None and not knobs:
            problems.append(Problem(f"override {label!r} changes nothing: it names no base and no knob", where,
                                    suggestion="add base: <preset>, or knobs such as ttl: 5m"))
        chosen_agents, chosen_accounts, chosen_humans = selected(override, scenario)
        if not (override.agents or override.accounts or override.tags or override.environments or override.humans):
            problems.append(Problem(f"override {label!r} selects no one", where,
                                    suggestion="name agents, accounts, humans, tags or environments"))
        elif not chosen_agents and not chosen_accounts and not chosen_humans:
            problems.append(Problem(f"override {label!r} selects no agent, shared account or human", where,
                                    suggestion="check its tags and environments against the agents'"))
    return problems
