"""The scenario language: an agent estate and what happens to it.

The grammar. A scenario is made of

- **resources** (systems, datasets) with a sensitivity (low / medium / high / critical,
  each weighted by ``weights.sensitivity``), a number of records and an environment;
- **tools** that expose **operations**: an *action* (read, write, export, ...; each
  weighted by ``weights.action_damage``) on a resource;
- **grants**, written ``tool:action:resource``: permission for one operation;
- **roles**: named sets of grants; **humans**: owners, requesters, approvers;
- **agents**: autonomous workloads with an owner, roles, declared tools, the task
  templates they serve, the agents they may delegate to, and behaviour parameters;
- **shared accounts**: one service identity whose key several agents hold;
- **task templates**: units of work with a declared **intent** (operations, a
  sensitivity ceiling, destinations), steps (tool calls with service times, human
  approvals, delegated sub-tasks) and an arrival rate per serving agent.

The value of an operation is ``sensitivity weight of its resource × damage weight of
its action``; blast radius is a sum of such values over distinct operations.

A scenario also declares what the engine reads: **threats** (one entry per attack, by
``kind``; the kinds are the registry :mod:`nhisim.scenario.threats`), **detection** and
response, the credential **issuer**, human **approval** capacity, the **attacker**
playbook, the **strategies** to compare (a preset name, or a base preset plus knob
overrides; ``docs/strategies.md`` describes the knobs), **run** settings and self-check
**expectations**.

Credentials are not declared: the engine creates them during a run, as the strategy
dictates.
"""

from __future__ import annotations

import functools
import math
import operator
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from nhisim.scenario.base import Id as Id
from nhisim.scenario.base import Model as Model
from nhisim.scenario.threats import threat_models

# the threat models, re-exported for existing imports (a new kind needs no line here)
from nhisim.scenario.threats.agent_hijack import AgentHijack as AgentHijack
from nhisim.scenario.threats.delegation_abuse import DelegationAbuse as DelegationAbuse
from nhisim.scenario.threats.improper_offboarding import ImproperOffboarding as ImproperOffboarding
from nhisim.scenario.threats.issuer_outage import IssuerOutage as IssuerOutage
from nhisim.scenario.threats.runtime_discovery import RuntimeDiscovery as RuntimeDiscovery
from nhisim.scenario.threats.secret_leak import SecretLeak as SecretLeak
from nhisim.scenario.threats.shared_credential_compromise import (
    SharedCredentialCompromise as SharedCredentialCompromise,
)
from nhisim.scenario.units import Distribution, Duration, PositiveDuration, Probability, Rate
from nhisim.strategies import preset_names

SENSITIVITY_LEVELS = ("low", "medium", "high", "critical")
Sensitivity = Literal["low", "medium", "high", "critical"]
Environment = Literal["dev", "test", "staging", "prod"]

DEFAULT_SENSITIVITY_WEIGHTS = {"low": 1.0, "medium": 3.0, "high": 10.0, "critical": 30.0}
DEFAULT_ACTION_DAMAGE = {
    "read": 1.0,
    "list": 0.5,
    "write": 2.0,
    "send": 2.0,
    "execute": 3.0,
    "delete": 4.0,
    "export": 5.0,
    "admin": 8.0,
}


# --------------------------------------------------------------------------- world


class Operation(Model):
    """An action on a resource, as a tool exposes it."""

    action: Id
    resource: Id


def _grant_from_text(value: Any) -> Any:
    if isinstance(value, str):
        parts = value.split(":")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"{value!r} is not a grant; write tool:action:resource, e.g. crm-api:read:crm-db")
        return {"tool": parts[0], "action": parts[1], "resource": parts[2]}
    return value


class _GrantFields(Model):
    tool: Id
    action: Id
    resource: Id

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.tool, self.action, self.resource)

    def __str__(self) -> str:
        return f"{self.tool}:{self.action}:{self.resource}"


Grant = Annotated[_GrantFields, BeforeValidator(_grant_from_text)]


# Bounds on numbers. Each is far past any real estate and keeps the arithmetic finite: a
# weight × weight × records product stays a float, a record count fits the event log's
# float columns, and a count the engine loops over cannot run for ever.
MAX_WEIGHT = 1e6
MAX_RECORDS = 10**15
MAX_MULTIPLIER = 1e6
MAX_COUNT = 10**6  # reviewers, give-up counts, alert thresholds
MAX_RETRIES = 1000
MAX_REPLICATIONS = 1_000_000
MAX_SEED = 2**63 - 1
Weight = Annotated[float, Field(ge=0, le=MAX_WEIGHT)]


class Weights(Model):
    """Numeric weights behind blast radius: resource sensitivity × action damage."""

    sensitivity: dict[Sensitivity, Weight] = Field(
        default_factory=lambda: dict(DEFAULT_SENSITIVITY_WEIGHTS)
    )
    action_damage: dict[Id, Weight] = Field(
        default_factory=lambda: dict(DEFAULT_ACTION_DAMAGE)
    )

    @model_validator(mode="after")
    def _complete(self) -> Weights:
        for level, weight in DEFAULT_SENSITIVITY_WEIGHTS.items():
            self.sensitivity.setdefault(level, weight)
        return self


class Resource(Model):
    """A system or dataset an agent can act on."""

    id: Id
    kind: str = "system"
    sensitivity: Sensitivity = "medium"
    records: Annotated[int, Field(ge=0, le=MAX_RECORDS)] = 0
    environment: Environment = "prod"
    description: str = ""


class Tool(Model):
    """An interface an agent calls (API, MCP server, CLI) and the operations it exposes."""

    id: Id
    kind: str = "api"
    operations: list[Operation] = Field(default_factory=list)
    description: str = ""


class Role(Model):
    """A named set of grants: what RBAC hands out."""

    id: Id
    grants: list[Grant] = Field(default_factory=list)
    description: str = ""


class Human(Model):
    """A person: owner of agents, source of task intents, approver."""

    id: Id
    title: str = ""
    approver: bool = False


class Behaviour(Model):
    """How a benign agent behaves at run time."""

    discovery_probability: Probability = Field(
        0.0,
        description="chance per task that the agent discovers and tries one operation outside the task's intent",
    )
    task_rate_multiplier: Annotated[float, Field(ge=0, le=MAX_MULTIPLIER)] = 1.0


class Agent(Model):
    """An autonomous workload."""

    id: Id
    owner: Id
    roles: list[Id] = Field(default_factory=list)
    tools: list[Id] = Field(default_factory=list, description="tools the agent declares it uses")
    tasks: list[Id] = Field(default_factory=list, description="task templates the agent serves")
    may_delegate_to: list[Id] = Field(default_factory=list)
    environment: Environment = "prod"
    behaviour: Behaviour = Field(default_factory=Behaviour)
    description: str = ""


class SharedAccount(Model):
    """One service identity whose key several agents hold (OWASP NHI9: NHI reuse)."""

    id: Id
    holders: Annotated[list[Id], Field(min_length=1)]
    roles: list[Id] = Field(default_factory=list)
    environments: list[Environment] = Field(default_factory=list)
    description: str = ""


class Intent(Model):
    """What a task is declared to need: the contract intent-based authorization checks."""

    operations: list[Grant] = Field(default_factory=list)
    sensitivity_ceiling: Sensitivity = "critical"
    destinations: list[str] = Field(default_factory=lambda: ["internal"])


class CallStep(Model):
    """A tool call: one operation, its service time, where its output goes."""

    call: Grant
    duration: Distribution = Field(default_factory=lambda: {"exponential": 5})
    destination: str = "internal"
    approval: bool = Field(False, description="a human must approve this call before it runs")


class Delegation(Model):
    agent: Id
    task: Id


class DelegateStep(Model):
    """Hand a sub-task to another agent and wait for it."""

    delegate: Delegation


Step = CallStep | DelegateStep


class TaskTemplate(Model):
    """A unit of work with a declared intent."""

    id: Id
    requested_by: Id | None = Field(None, description="the human whose intent this task carries")
    arrival_rate: Rate = Field(0.0, description="arrivals per serving agent; 0 for sub-tasks only reached by delegation")
    intent: Intent = Field(default_factory=Intent)
    steps: Annotated[list[Step], Field(min_length=1)]
    deadline: Duration = Field(math.inf, description="a task not finished by then fails")
    description: str = ""


# --------------------------------------------------------------------------- threats

# one model per kind, discovered in nhisim/scenario/threats/ (the registry)
Threat = Annotated[
    functools.reduce(operator.or_, threat_models().values()),
    Field(discriminator="kind"),
]


class Tags(Model):
    """Threat taxonomy tags, checked against the threat catalog (``nhisim catalog`` lists the IDs)."""

    maestro: list[str] = Field(
        default_factory=list,
        description="CSA MAESTRO: a layer L1..L7, a layer's threat L<n>:<slug> (L7:agent-identity-attack), "
                    "or a cross-layer threat cross:<slug> (cross:privilege-escalation)")
    owasp_agentic: list[str] = Field(default_factory=list,
                                     description="OWASP Agentic AI Threats & Mitigations T1..T17")
    owasp_asi: list[str] = Field(default_factory=list,
                                 description="OWASP Top 10 for Agentic Applications 2026 ASI01..ASI10")
    owasp_nhi: list[str] = Field(default_factory=list, description="OWASP Non-Human Identities Top 10 NHI1..NHI10")


# --------------------------------------------------------------------------- operations


class MonitoringLevel(Model):
    baseline_delay: Distribution


DEFAULT_MONITORING = {
    "none": {"baseline_delay": "never"},
    "basic": {"baseline_delay": {"lognormal": {"median": "7d", "sigma": 1.0}}},
    "standard": {"baseline_delay": {"lognormal": {"median": "1d", "sigma": 1.0}}},
    "advanced": {"baseline_delay": {"lognormal": {"median": "1h", "sigma": 0.8}}},
}


class Detection(Model):
    """How compromises are detected and how the responder reacts."""

    enabled: bool = True
    monitoring: Literal["none", "basic", "standard", "advanced"] = "standard"
    levels: dict[str, MonitoringLevel] = Field(
        default_factory=lambda: {k: MonitoringLevel.model_validate(v) for k, v in DEFAULT_MONITORING.items()}
    )
    alert_detection_probability: Probability = Field(
        0.2, description="chance that one alert (a denied or anomalous request) leads to detection"
    )
    alert_triage_delay: Distribution = Field(default_factory=lambda: {"exponential": "15m"})
    manual_revocation_latency: Distribution = Field(
        default_factory=lambda: {"lognormal": {"median": "8h", "sigma": 1.0}},
        description="a revocation ticket worked by a person",
    )
    automated_revocation_latency: Distribution = Field(default_factory=lambda: {"fixed": "5s"})
    shared_reprovision_delay: Distribution = Field(
        default_factory=lambda: {"lognormal": {"median": "4h", "sigma": 0.7}},
        description="after a shared key is revoked, time until each other holder has a new one",
    )
    quarantine_hijacked: bool = True
    quarantine_duration: Duration = Field(
        4 * 3600.0, description="how long a steered agent stays quarantined before it is rebuilt and reinstated")


class Issuer(Model):
    """The token issuer (STS / workload API) behind JIT credentials."""

    latency: Distribution = Field(default_factory=lambda: {"exponential": 0.2})
    retry_after: PositiveDuration = 30.0
    max_retries: Annotated[int, Field(ge=0, le=MAX_RETRIES)] = 3


class Approval(Model):
    """Human-in-the-loop approval: a queue of reviewers."""

    reviewers: Annotated[int, Field(ge=1, le=MAX_COUNT)] = 2
    review_time: Distribution = Field(default_factory=lambda: {"lognormal": {"median": "5m", "sigma": 0.8}})
    approval_probability: Probability = 0.9
    attacker_approval_probability: Probability = Field(
        0.05, description="chance a reviewer approves a malicious escalation"
    )


class Attacker(Model):
    """The attacker's playbook: highest-value operations first, at a rate, until stopped."""

    rate: Rate = Field(1 / 60, description="attempts per second (default 1/min)")
    give_up_after: Annotated[int, Field(ge=1, le=MAX_COUNT)] = 10
    destination: str = "external"


# --------------------------------------------------------------------------- strategies

PRESET_NAMES = preset_names()  # discovered: a new preset file is a new name here
PresetName = Literal[PRESET_NAMES]  # type: ignore[valid-type]


class Knobs(Model):
    """The orthogonal control knobs a strategy is made of. ``None`` = keep the base.

    Standing access follows from ``credential``: a static key is standing access to the
    holder's role scope (the union of the holders' roles for a shared key); JIT tokens
    leave nothing standing between tasks.
    """

    identity: Literal["shared", "per_agent", "workload"] | None = None
    credential: Literal["static_key", "jit_token"] | None = None
    ttl: Duration | None = Field(None, description="lifetime of a JIT token")
    rotation: PositiveDuration | None = Field(None, description="rotation period of a static key")
    jit_scope: Literal["role", "intent"] | None = None
    revoke_at_task_end: bool | None = None
    binding: Literal["bearer", "sender_constrained"] | None = None
    runtime_check: Literal["scope", "intent"] | None = None
    out_of_intent: Literal["deny", "escalate"] | None = None
    delegation: Literal["pass_through", "token_exchange"] | None = None
    revocation: Literal["manual", "automated"] | None = None
    propagation: Literal["immediate", "cache", "at_expiry"] | None = None
    cache_ttl: Duration | None = None
    identity_ttl: PositiveDuration | None = Field(None, description="lifetime of a workload identity document")
    offboarding_revokes: bool | None = None
    risk_escalation_alerts: Annotated[int, Field(ge=1, le=MAX_COUNT)] | None = Field(
        None, description="after this many alerts on an agent, its high-sensitivity requests need approval (intent)"
    )


class StrategySpec(Knobs):
    """A user strategy: a preset to start from, plus knob overrides."""

    base: PresetName
    description: str = ""
    engine: Literal["native", "cedar"] | None = Field(
        None, description="decision engine behind the enforcement point (default native)")
    policies: list[str] = Field(
        default_factory=list, description="Cedar policy files (relative to the scenario file) used with engine: cedar")


def _strategy_from_text(value: Any) -> Any:
    if isinstance(value, str):
        return {"base": value}
    return value


StrategyEntry = Annotated[StrategySpec, BeforeValidator(_strategy_from_text)]


class Run(Model):
    horizon: PositiveDuration = 86400.0
    seed: Annotated[int, Field(ge=-MAX_SEED, le=MAX_SEED)] = 1
    replications: Annotated[int, Field(ge=1, le=MAX_REPLICATIONS)] = 10

    baseline: str | None = Field(None, description="strategy the others are compared against")


class Scenario(Model):
    """A whole scenario file."""

    name: Id
    title: str = ""
    description: str = ""
    tags: Tags = Field(default_factory=Tags)
    weights: Weights = Field(default_factory=Weights)
    resources: list[Resource] = Field(default_factory=list)
    tools: list[Tool] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=list)
    humans: list[Human] = Field(default_factory=list)
    agents: list[Agent] = Field(default_factory=list)
    shared_accounts: list[SharedAccount] = Field(default_factory=list)
    tasks: list[TaskTemplate] = Field(default_factory=list)
    threats: list[Threat] = Field(default_factory=list)
    detection: Detection = Field(default_factory=Detection)
    issuer: Issuer = Field(default_factory=Issuer)
    approval: Approval = Field(default_factory=Approval)
    attacker: Attacker = Field(default_factory=Attacker)
    strategies: dict[Id, StrategyEntry] = Field(
        default_factory=lambda: {name: StrategySpec(base=name) for name in PRESET_NAMES}
    )
    run: Run = Field(default_factory=Run)
    expectations: list[str] = Field(
        default_factory=list,
        description="self-check claims, e.g. 'intent < rbac on blast_radius', 'zsp exposure_window_s <= 15m'",
    )

    # -- lookups used by the graph and the engine; cheap, built on demand
    def index(self) -> ScenarioIndex:
        return ScenarioIndex(self)


class ScenarioIndex:
    """Dictionaries by id for every section of a scenario."""

    def __init__(self, scenario: Scenario) -> None:
        self.resources = {r.id: r for r in scenario.resources}
        self.tools = {t.id: t for t in scenario.tools}
        self.roles = {r.id: r for r in scenario.roles}
        self.humans = {h.id: h for h in scenario.humans}
        self.agents = {a.id: a for a in scenario.agents}
        self.shared_accounts = {s.id: s for s in scenario.shared_accounts}
        self.tasks = {t.id: t for t in scenario.tasks}
