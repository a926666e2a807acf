"""The scenario compiled for the engine: integers and frozensets, no pydantic in the hot loop.

(Not to be confused with the world *graph* of :mod:`nhisim.world`, used for static analysis.)

Operations are numbered; scopes and intents are frozensets of operation numbers; each
operation carries its value (sensitivity weight × action damage), records and
sensitivity level. Built once per run from a validated :class:`Scenario`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random

from nhisim.scenario.arguments import Constraint, parse_constraint
from nhisim.scenario.models import (
    READ_ACTIONS,
    SENSITIVITY_LEVELS,
    CallStep,
    RuntimeDiscovery,
    Scenario,
)
from nhisim.scenario.units import Distribution, Fixed

#: an argument as a request carries it: a number in ten-thousandths, or text
ArgValue = int | str


@dataclass(slots=True)
class CompiledStep:
    """One step of a task template: a call (``op`` set) or a delegation (``delegate_to`` set)."""

    op: int | None
    duration: Distribution  # the step's service time
    destination: str
    approval: bool
    delegate_to: str | None = None
    sub_task: str | None = None
    draw_args: Callable[[Random], tuple[ArgValue, ...]] | None = None  # the call's arguments, when it takes some


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
    # op -> its argument constraints, each with the index of the parameter it reads
    constraints: dict[int, tuple[tuple[int, Constraint], ...]] = field(default_factory=dict)
    redeclared: frozenset[int] = frozenset()  # operations a re-declaration added to the template's intent
    template: str = ""  # the template a re-declared or switched intent was made from (its own id otherwise)
    on_behalf: bool = False  # a root task runs on its requester's credential

    def arguments_hold(self, op: int, args: tuple[ArgValue, ...] | None) -> bool:
        """Whether a request's arguments satisfy this intent's constraints on ``op``."""
        rules = self.constraints.get(op)
        if not rules:
            return True
        if args is None:
            return False
        return all(c.holds(args[i]) for i, c in rules)


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
    needed_share: float = 0.0
    goal_switch_probability: float = 0.0
    domain: str = "corp"
    token_exchange: bool = True
    pattern: frozenset[int] = frozenset()  # operations its task templates call: its usual pattern


@dataclass(slots=True)
class CompiledAccount:
    id: str
    holders: tuple[str, ...]
    scope: frozenset[int]  # its roles and every holder's: its key's scope when every holder uses it
    role_scope: frozenset[int] = frozenset()  # its own roles only


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
    human_scope: dict[str, frozenset[int]] = field(default_factory=dict)  # humans holding a credential: its scope
    # per operation, the principals whose secrets a successful request hands over (a read, list or export of
    # a resource that lists secrets), else (); and the resources of kind vault
    op_secrets: list[tuple[str, ...]] = field(default_factory=list)
    vaults: frozenset[str] = frozenset()
    op_params: list[tuple[str, ...]] = field(default_factory=list)  # parameter names of each operation
    op_default_args: list[tuple | None] = field(default_factory=list)  # None: the operation takes none
    op_attacker_args: list[tuple | None] = field(default_factory=list)
    parameter_types: dict[str, str] = field(default_factory=dict)  # parameter name -> number | text
    patterns: dict[str, frozenset[int]] = field(default_factory=dict)  # principal -> its usual operations
    # every intent a request may be bound to, by id: the templates', and those re-declared during runs
    # (a re-declared intent's id is made from its content, so runs sharing this world agree on it)
    intents: dict[str, CompiledTask] = field(default_factory=dict)

    def declared_intent(self, base: CompiledTask, ops: frozenset[int], ceiling: int, destinations: frozenset[str],
                        constraints: dict, redeclared: frozenset[int]) -> CompiledTask:
        """The intent ``base`` becomes when re-declared (one object per distinct content)."""
        template = base.template or base.id
        content = "|".join((template, ",".join(map(str, sorted(ops))), str(ceiling), ",".join(sorted(destinations)),
                            ",".join(map(str, sorted(constraints))), ",".join(map(str, sorted(redeclared)))))
        key = f"{template}~{hashlib.sha1(content.encode()).hexdigest()[:12]}"
        found = self.intents.get(key)
        if found is None:
            found = self.intents[key] = dataclasses.replace(
                base, id=key, intent=ops, ceiling=ceiling, destinations=destinations, constraints=constraints,
                redeclared=redeclared, template=template)
        return found

    def args_text(self, op: int, args: tuple | None) -> str:
        """``amount=120.5, recipient=a@corp.example`` (for reasons and narration)."""
        if not args:
            return ""
        from nhisim.scenario.arguments import ticks_number

        return ", ".join(f"{name}={ticks_number(v):g}" if isinstance(v, int) else f"{name}={v}"
                         for name, v in zip(self.op_params[op], args, strict=True))

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
            world.op_secrets.append(tuple(dict.fromkeys(resource.secrets)) if op.action in READ_ACTIONS else ())
            names = tuple(op.parameters)
            world.op_params.append(names)
            world.op_default_args.append(tuple(p.default_value() for p in op.parameters.values()) or None)
            world.op_attacker_args.append(tuple(p.attacker_value() for p in op.parameters.values()) or None)
            for name, p in op.parameters.items():
                world.parameter_types.setdefault(name, p.type)
    world.resource_records = {r.id: r.records for r in scenario.resources}
    world.humans = set(ix.humans)
    world.vaults = frozenset(r.id for r in scenario.resources if r.kind == "vault")

    def ops_of(grants) -> frozenset[int]:
        return frozenset(world.op_index[g.key] for g in grants if g.key in world.op_index)

    role_ops = {role.id: ops_of(role.grants) for role in scenario.roles}
    world.human_scope = {h.id: frozenset().union(*(role_ops[r] for r in h.roles)) for h in scenario.humans if h.roles}
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
    needed = {a.id: a.behaviour.needed_share for a in scenario.agents}
    for threat in scenario.threats:
        if isinstance(threat, RuntimeDiscovery):
            for agent_id in threat.agents or list(needed):
                needed[agent_id] = max(needed[agent_id], threat.needed_share)
    calls_of = {t.id: frozenset(world.op_index[s.call.key] for s in t.steps if isinstance(s, CallStep))
                for t in scenario.tasks}
    for agent in scenario.agents:
        scope = frozenset().union(*(role_ops[r] for r in agent.roles)) if agent.roles else frozenset()
        tool_ops = frozenset().union(*(ops_by_tool.get(t, set()) for t in agent.tools)) if agent.tools else frozenset()
        world.agents[agent.id] = CompiledAgent(
            id=agent.id, owner=agent.owner, role_scope=scope, tool_ops=tool_ops, tasks=tuple(agent.tasks),
            may_delegate_to=frozenset(agent.may_delegate_to), environment=agent.environment,
            discovery_probability=discovery[agent.id], rate_multiplier=agent.behaviour.task_rate_multiplier,
            shared_accounts=tuple(memberships.get(agent.id, ())), needed_share=needed[agent.id],
            goal_switch_probability=agent.behaviour.goal_switch_probability, domain=agent.domain,
            token_exchange=agent.token_exchange,
            pattern=frozenset().union(*(calls_of.get(t, frozenset()) for t in agent.tasks)),
        )
        world.patterns[agent.id] = world.agents[agent.id].pattern
    for account in scenario.shared_accounts:
        own = frozenset().union(*(role_ops[r] for r in account.roles)) if account.roles else frozenset()
        scope = own.union(*(world.agents[holder].role_scope for holder in account.holders))
        world.accounts[account.id] = CompiledAccount(account.id, tuple(account.holders), scope, own)
        world.patterns[account.id] = frozenset().union(*(world.patterns[h] for h in account.holders))
    for task in scenario.tasks:
        steps = []
        for step in task.steps:
            if isinstance(step, CallStep):
                op = world.op_index[step.call.key]
                steps.append(CompiledStep(op, step.duration, step.destination, step.approval,
                                          draw_args=_argument_drawer(scenario, step, world.op_params[op])))
            else:
                steps.append(CompiledStep(None, Fixed(fixed=0), "internal", False,
                                          step.delegate.agent, step.delegate.task))
        constraints = {}
        for key, texts in task.intent.constraints.items():
            op = world.op_index[tuple(key.split(":"))]
            names = world.op_params[op]
            types = {n: world.parameter_types[n] for n in names}
            rules = tuple(parse_constraint(text, types) for text in texts)
            constraints[op] = tuple((names.index(c.parameter), c) for c in rules)
        world.tasks[task.id] = CompiledTask(
            id=task.id, human=task.requested_by, rate=task.arrival_rate, intent=ops_of(task.intent.operations),
            ceiling=SENSITIVITY_LEVELS.index(task.intent.sensitivity_ceiling),
            destinations=frozenset(task.intent.destinations), steps=tuple(steps), deadline=task.deadline,
            constraints=constraints, template=task.id, on_behalf=task.on_behalf_of_requester,
        )
    world.intents = dict(world.tasks)
    return world


def _argument_drawer(scenario: Scenario, step: CallStep, names: tuple[str, ...]
                     ) -> Callable[[Random], tuple[ArgValue, ...]] | None:
    """A function drawing the call's arguments (in the operation's parameter order); None if it takes none."""
    if not names:
        return None
    tool = next(t for t in scenario.tools if t.id == step.call.tool)
    op = next(o for o in tool.operations if (o.action, o.resource) == (step.call.action, step.call.resource))
    draws = []
    for name in names:
        given = step.arguments.get(name)
        if given is None:
            value = op.parameters[name].default_value()
            draws.append(lambda rng, value=value: value)
        else:
            draws.append(given.sampler())
    draws = tuple(draws)
    return lambda rng: tuple(draw(rng) for draw in draws)
