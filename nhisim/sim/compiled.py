"""The scenario compiled for the engine: integers and frozensets, no pydantic in the hot loop.

(Not to be confused with the world *graph* of :mod:`nhisim.world`, used for static analysis.)

Operations are numbered; scopes and intents are frozensets of operation numbers; each
operation carries its value (sensitivity weight × action damage), records and
sensitivity level. Built once per run from a validated :class:`Scenario`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random

from nhisim.scenario.models import (
    SENSITIVITY_LEVELS,
    CallStep,
    RuntimeDiscovery,
    Scenario,
)
from nhisim.scenario.units import Fixed


@dataclass(slots=True)
class CompiledStep:
    """One step of a task template: a call (``op`` set) or a delegation (``delegate_to`` set)."""

    op: int | None
    draw_duration: Callable[[Random], float]  # the step's service time distribution, as a plain function
    destination: str
    approval: bool
    delegate_to: str | None = None
    sub_task: str | None = None


@dataclass(slots=True)
class CompiledTask:
    id: str
    human: str | None
    rate: float
    intent: frozenset[int]
    ceiling: int
    destinations: frozenset[str]
    steps: tuple[CompiledStep, ...]
    deadline: float


@dataclass(slots=True)
class CompiledAgent:
    id: str
    owner: str
    role_scope: frozenset[int]
    tool_ops: frozenset[int]
    tasks: tuple[str, ...]
    may_delegate_to: frozenset[str]
    environment: str
    discovery_probability: float
    rate_multiplier: float
    shared_accounts: tuple[str, ...] = ()


@dataclass(slots=True)
class CompiledAccount:
    id: str
    holders: tuple[str, ...]
    scope: frozenset[int]


@dataclass
class CompiledWorld:
    """Everything the engine reads, by number."""

    op_keys: list[tuple[str, str, str]] = field(default_factory=list)
    op_index: dict[tuple[str, str, str], int] = field(default_factory=dict)
    op_value: list[float] = field(default_factory=list)
    op_records: list[int] = field(default_factory=list)
    op_level: list[int] = field(default_factory=list)
    resource_records: dict[str, int] = field(default_factory=dict)
    agents: dict[str, CompiledAgent] = field(default_factory=dict)
    accounts: dict[str, CompiledAccount] = field(default_factory=dict)
    tasks: dict[str, CompiledTask] = field(default_factory=dict)
    humans: set[str] = field(default_factory=set)

    def value(self, ops: frozenset[int] | set[int]) -> float:
        """Blast-radius value of a set of operations, counting each (action, resource) once."""
        seen: dict[tuple[str, str], float] = {}
        for op in ops:
            _, action, resource = self.op_keys[op]
            seen[(action, resource)] = self.op_value[op]
        return sum(seen.values())

    def label(self, op: int) -> str:
        tool, action, resource = self.op_keys[op]
        return f"{tool}:{action}:{resource}"

    def describe_scope(self, ops: frozenset[int] | set[int]) -> str:
        """``action:resource=value|...`` (the event log's ``scope`` column)."""
        pairs = {}
        for op in ops:
            _, action, resource = self.op_keys[op]
            pairs[f"{action}:{resource}"] = self.op_value[op]
        return "|".join(f"{k}={v:g}" for k, v in sorted(pairs.items()))


def compile_world(scenario: Scenario) -> CompiledWorld:
    """Number the operations of a validated scenario and precompute scopes and intents."""
    world = CompiledWorld()
    ix = scenario.index()
    sensitivity = scenario.weights.sensitivity
    damage = scenario.weights.action_damage
    for tool in scenario.tools:
        for op in tool.operations:
            key = (tool.id, op.action, op.resource)
            if key in world.op_index:
                continue
            resource = ix.resources[op.resource]
            world.op_index[key] = len(world.op_keys)
            world.op_keys.append(key)
            world.op_value.append(sensitivity[resource.sensitivity] * damage[op.action])
            world.op_records.append(resource.records)
            world.op_level.append(SENSITIVITY_LEVELS.index(resource.sensitivity))
    world.resource_records = {r.id: r.records for r in scenario.resources}
    world.humans = set(ix.humans)

    def ops_of(grants) -> frozenset[int]:
        return frozenset(world.op_index[g.key] for g in grants if g.key in world.op_index)

    role_ops = {role.id: ops_of(role.grants) for role in scenario.roles}
    discovery = {a.id: a.behaviour.discovery_probability for a in scenario.agents}
    for threat in scenario.threats:
        if isinstance(threat, RuntimeDiscovery):
            for agent_id in threat.agents or list(discovery):
                discovery[agent_id] = max(discovery[agent_id], threat.probability)
    memberships: dict[str, list[str]] = {}
    for account in scenario.shared_accounts:
        for holder in account.holders:
            memberships.setdefault(holder, []).append(account.id)
    ops_by_tool: dict[str, set[int]] = {}
    for i, key in enumerate(world.op_keys):
        ops_by_tool.setdefault(key[0], set()).add(i)
    for agent in scenario.agents:
        scope = frozenset().union(*(role_ops[r] for r in agent.roles)) if agent.roles else frozenset()
        tool_ops = frozenset().union(*(ops_by_tool.get(t, set()) for t in agent.tools)) if agent.tools else frozenset()
        world.agents[agent.id] = CompiledAgent(
            id=agent.id, owner=agent.owner, role_scope=scope, tool_ops=tool_ops, tasks=tuple(agent.tasks),
            may_delegate_to=frozenset(agent.may_delegate_to), environment=agent.environment,
            discovery_probability=discovery[agent.id], rate_multiplier=agent.behaviour.task_rate_multiplier,
            shared_accounts=tuple(memberships.get(agent.id, ())),
        )
    for account in scenario.shared_accounts:
        scope = frozenset().union(*(role_ops[r] for r in account.roles)) if account.roles else frozenset()
        for holder in account.holders:
            scope |= world.agents[holder].role_scope
        world.accounts[account.id] = CompiledAccount(account.id, tuple(account.holders), scope)
    for task in scenario.tasks:
        steps = []
        for step in task.steps:
            if isinstance(step, CallStep):
                steps.append(CompiledStep(world.op_index[step.call.key], step.duration.sampler(), step.destination,
                                          step.approval))
            else:
                steps.append(CompiledStep(None, Fixed(fixed=0).sampler(), "internal", False,
                                          step.delegate.agent, step.delegate.task))
        world.tasks[task.id] = CompiledTask(
            id=task.id, human=task.requested_by, rate=task.arrival_rate, intent=ops_of(task.intent.operations),
            ceiling=SENSITIVITY_LEVELS.index(task.intent.sensitivity_ceiling),
            destinations=frozenset(task.intent.destinations), steps=tuple(steps), deadline=task.deadline,
        )
    return world
