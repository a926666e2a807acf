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

from pydantic import BeforeValidator, Field, PrivateAttr, model_validator

from nhisim.scenario.arguments import Argument, Parameter
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

#: the actions that read what a resource holds: they count its records as exposed, and hand
#: over the secrets written in it
READ_ACTIONS = ("read", "export", "list")

# --------------------------------------------------------------------------- world


class Operation(Model):
    """An action on a resource, as a tool exposes it (and the parameters it takes)."""

    action: Id
    resource: Id
    parameters: dict[Id, Parameter] = Field(
        default_factory=dict,
        description="parameters every request for the operation passes (an amount, a recipient, a path); "
                    "intents may constrain them")


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
        default_factory=lambda: dict(DEFAULT_SENSITIVITY_WEIGHTS),
        description="weight of each sensitivity level; levels left out keep their defaults",
    )
    action_damage: dict[Id, Weight] = Field(
        default_factory=lambda: dict(DEFAULT_ACTION_DAMAGE),
        description="damage weight of each action (read, write, export, ...)",
    )

    @model_validator(mode="after")
    def _complete(self) -> Weights:
        for level, weight in DEFAULT_SENSITIVITY_WEIGHTS.items():
            self.sensitivity.setdefault(level, weight)
        return self


class Resource(Model):
    """A system or dataset an agent can act on."""

    id: Id
    kind: str = Field("system", description="what sort of resource (system, dataset, mailbox, ...): a label")
    sensitivity: Sensitivity = Field("medium", description="how much harm acting on it does, weighted by weights.sensitivity")
    records: Annotated[int, Field(ge=0, le=MAX_RECORDS)] = Field(
        0, description="number of records it holds (reported as records within reach)")
    environment: Environment = Field("prod", description="the environment it lives in")
    secrets: list[Id] = Field(
        default_factory=list,
        description="principals (agents, shared accounts, humans) whose key is written in it (a repository, a "
                    "ticket, a config file; or, for kind: vault, a vault): a read, list or export of it by the "
                    "attacker obtains the key, where the principal's secret_storage keeps it here")
    description: str = Field("", description="free text shown in reports and the world graph")


class Tool(Model):
    """An interface an agent calls (API, MCP server, CLI) and the operations it exposes."""

    id: Id
    kind: str = Field("api", description="what sort of interface (api, mcp, cli, ...): a label")
    operations: list[Operation] = Field(default_factory=list, description="the action-on-resource pairs it exposes")
    description: str = Field("", description="free text shown in reports and the world graph")


class Role(Model):
    """A named set of grants: what RBAC hands out."""

    id: Id
    grants: list[Grant] = Field(default_factory=list, description="the operations it permits, each tool:action:resource")
    description: str = Field("", description="free text shown in reports and the world graph")


class Human(Model):
    """A person: owner of agents, source of task intents, approver."""

    id: Id
    title: str = Field("", description="job title, shown in reports")
    approver: bool = Field(False, description="marks the person as an approver (queue capacity is approval.reviewers)")
    roles: list[Id] = Field(
        default_factory=list,
        description="roles of the person's own credential (a developer's cloud key): a human with roles holds a "
                    "standing key, or signs in per task under JIT controls; tasks on its behalf run on it")


class Behaviour(Model):
    """How a benign agent behaves at run time."""

    discovery_probability: Probability = Field(
        0.0,
        description="chance per task that the agent discovers and tries one operation outside the task's intent",
    )
    task_rate_multiplier: Annotated[float, Field(ge=0, le=MAX_MULTIPLIER)] = Field(
        1.0, description="scales the arrival rate of every task this agent serves")
    needed_share: Probability = Field(
        0.0, description="share of the agent's runtime discoveries that its task needs: denying one fails the task")
    goal_switch_probability: Probability = Field(
        0.0, description="chance per task that its requester redirects it, midway, to another task the agent serves")


class Agent(Model):
    """An autonomous workload."""

    id: Id
    owner: Id
    roles: list[Id] = Field(default_factory=list, description="roles assigned to the agent's own identity")
    tools: list[Id] = Field(default_factory=list, description="tools the agent declares it uses")
    tasks: list[Id] = Field(default_factory=list, description="task templates the agent serves")
    may_delegate_to: list[Id] = Field(default_factory=list, description="agents it may hand sub-tasks to")
    environment: Environment = Field("prod", description="the environment it runs in")
    tags: list[Id] = Field(default_factory=list,
                           description="labels (department, team, system): a strategy's overrides select agents by them")
    domain: Id = Field("corp", description="its trust domain: tokens are exchanged only within one domain")
    token_exchange: bool = Field(
        True, description="false: the agent cannot take part in token exchange (a legacy or third-party agent)")
    behaviour: Behaviour = Field(default_factory=Behaviour, description="how the agent behaves at run time")
    description: str = Field("", description="free text shown in reports and the world graph")


def exchange_blocked(delegator: Any, delegate: Any) -> str | None:
    """Why token exchange cannot reach ``delegate`` from ``delegator`` (a lossy hop), or None.

    Tokens are exchanged within one trust domain, between agents that take part in token
    exchange. Reads ``id``, ``domain`` and ``token_exchange`` (an :class:`Agent`, or the
    engine's compiled agent).
    """
    if delegator.domain != delegate.domain:
        return (f"{delegate.id} is in trust domain {delegate.domain!r}, {delegator.id} in "
                f"{delegator.domain!r}")
    if not delegate.token_exchange:
        return f"{delegate.id} cannot take part in token exchange"
    if not delegator.token_exchange:
        return f"{delegator.id} cannot take part in token exchange"
    return None


class SharedAccount(Model):
    """One service identity whose key several agents hold (OWASP NHI9: NHI reuse)."""

    id: Id
    holders: Annotated[list[Id], Field(min_length=1)] = Field(description="agents that hold the account's key")
    roles: list[Id] = Field(default_factory=list, description="roles assigned to the account")
    environments: list[Environment] = Field(default_factory=list,
                                            description="environments the one key is used in")
    description: str = Field("", description="free text shown in reports and the world graph")


class Intent(Model):
    """What a task is declared to need: the contract intent-based authorization checks."""

    operations: list[Grant] = Field(default_factory=list, description="operations the task may perform, tool:action:resource")
    sensitivity_ceiling: Sensitivity = Field("critical", description="most sensitive resource level the task may touch")
    destinations: list[str] = Field(default_factory=lambda: ["internal"],
                                    description="where the task's output may go (internal, external, ...)")
    constraints: dict[str, list[str]] = Field(
        default_factory=dict,
        description="per declared operation (tool:action:resource), constraints on its arguments, "
                    "e.g. ['amount <= 500', 'recipient like *@corp.example']")


class CallStep(Model):
    """A tool call: one operation, its service time, where its output goes."""

    call: Grant = Field(description="the operation called, tool:action:resource")
    duration: Distribution = Field(default_factory=lambda: {"exponential": 5}, description="service time of the call")
    destination: str = Field("internal", description="where the call's output goes (checked against the intent)")
    approval: bool = Field(False, description="a human must approve this call before it runs")
    arguments: dict[Id, Argument] = Field(
        default_factory=dict,
        description="values of the operation's parameters: a number, a text, or a draw "
                    "({lognormal: {median: 120}}, {one_of: {a@corp.example: 0.9, b@x.example: 0.1}}); "
                    "parameters left out take their default")


class Delegation(Model):
    """Which agent runs which sub-task."""

    agent: Id = Field(description="the agent the sub-task is handed to")
    task: Id = Field(description="the task template it runs")


class DelegateStep(Model):
    """Hand a sub-task to another agent and wait for it."""

    delegate: Delegation = Field(description="the agent and sub-task handed over")


Step = CallStep | DelegateStep


class TaskTemplate(Model):
    """A unit of work with a declared intent."""

    id: Id
    requested_by: Id | None = Field(None, description="the human whose intent this task carries")
    arrival_rate: Rate = Field(0.0, description="arrivals per serving agent; 0 for sub-tasks only reached by delegation")
    intent: Intent = Field(default_factory=Intent, description="what the task is declared to need")
    steps: Annotated[list[Step], Field(min_length=1)] = Field(description="tool calls and delegations, in order")
    deadline: Duration = Field(math.inf, description="a task not finished by then fails")
    on_behalf_of_requester: bool = Field(
        False, description="the task runs on its requester's credential (requested_by, a human with roles): the "
                           "agent presents it (delegation: pass_through) or a token exchanged from it")
    description: str = Field("", description="free text shown in reports and the world graph")


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
    """What one monitoring level detects without alerts."""

    baseline_delay: Distribution = Field(description="time from a compromise until monitoring notices it unaided")


DEFAULT_MONITORING = {
    "none": {"baseline_delay": "never"},
    "basic": {"baseline_delay": {"lognormal": {"median": "7d", "sigma": 1.0}}},
    "standard": {"baseline_delay": {"lognormal": {"median": "1d", "sigma": 1.0}}},
    "advanced": {"baseline_delay": {"lognormal": {"median": "1h", "sigma": 0.8}}},
}


class Detection(Model):
    """How compromises are detected and how the responder reacts."""

    enabled: bool = Field(True, description="false: compromises are never detected")
    monitoring: Literal["none", "basic", "standard", "advanced"] = Field(
        "standard", description="the monitoring level in force (one of levels)")
    levels: dict[str, MonitoringLevel] = Field(
        default_factory=lambda: {k: MonitoringLevel.model_validate(v) for k, v in DEFAULT_MONITORING.items()},
        description="what each monitoring level detects",
    )
    alert_detection_probability: Probability = Field(
        0.2, description="chance that one alert (a denied or anomalous request) leads to detection"
    )
    alert_triage_delay: Distribution = Field(default_factory=lambda: {"exponential": "15m"},
                                             description="time from an alert until someone looks at it")
    anomaly_alert_probability: Probability = Field(
        0.0, description="chance that an allowed request outside its principal's usual pattern (operations its "
                         "tasks never call) raises an alert, as behavioural analytics would")
    manual_revocation_latency: Distribution = Field(
        default_factory=lambda: {"lognormal": {"median": "8h", "sigma": 1.0}},
        description="a revocation ticket worked by a person",
    )
    automated_revocation_latency: Distribution = Field(default_factory=lambda: {"fixed": "5s"},
                                                       description="a revocation done by automation")
    shared_reprovision_delay: Distribution = Field(
        default_factory=lambda: {"lognormal": {"median": "4h", "sigma": 0.7}},
        description="after a shared key is revoked, time until each other holder has a new one",
    )
    quarantine_hijacked: bool = Field(True, description="a detected steered agent is quarantined")
    quarantine_duration: Duration = Field(
        4 * 3600.0, description="how long a steered agent stays quarantined before it is rebuilt and reinstated")


class Issuer(Model):
    """The token issuer (STS / workload API) behind JIT credentials."""

    latency: Distribution = Field(default_factory=lambda: {"exponential": 0.2}, description="time to issue one token")
    retry_after: PositiveDuration = Field(30.0, description="wait before retrying a failed issuance")
    max_retries: Annotated[int, Field(ge=0, le=MAX_RETRIES)] = Field(
        3, description="retries before a request fails for want of a token")


class Approval(Model):
    """Human-in-the-loop approval: a queue of reviewers."""

    reviewers: Annotated[int, Field(ge=1, le=MAX_COUNT)] = Field(
        2, description="reviewers working the approval queue in parallel")
    review_time: Distribution = Field(default_factory=lambda: {"lognormal": {"median": "5m", "sigma": 0.8}},
                                      description="time one review takes")
    approval_probability: Probability = Field(0.9, description="chance a reviewer approves a legitimate request")
    attacker_approval_probability: Probability = Field(
        0.05, description="chance a reviewer approves a malicious escalation"
    )


class Redeclaration(Model):
    """How a re-declared task intent is approved (strategies with ``out_of_intent: redeclare``).

    An agent whose request falls outside its task's intent declares a wider intent (the
    task's, plus that operation, its resource's sensitivity and its destination) and asks
    for it to be approved: by a policy (``redeclare_approver: policy``), after
    ``policy_latency``, when the operation is within the agent's entitlements (its roles)
    and its resource no more sensitive than ``policy_max_sensitivity``; or by a human
    (``redeclare_approver: human``), who waits in the approval queue and approves with a
    probability. Once approved, the task's intent-scoped token is re-issued for the wider
    intent and the request goes on.
    """

    policy_latency: Distribution = Field(default_factory=lambda: {"fixed": "2s"},
                                         description="time a policy takes to approve or refuse")
    policy_max_sensitivity: Sensitivity = Field(
        "high", description="most sensitive resource a policy approves a re-declared intent for")
    approval_probability: Probability = Field(
        0.8, description="chance a human approves a benign agent's re-declared intent")
    attacker_approval_probability: Probability = Field(
        0.05, description="chance a human approves a re-declared intent of a steered (hijacked) agent")
    max_per_task: Annotated[int, Field(ge=1, le=MAX_RETRIES)] = Field(
        3, description="re-declarations one task may ask for; later ones are refused")


class Attacker(Model):
    """The attacker's playbook: highest-value operations first, at a rate, until stopped."""

    rate: Rate = Field(1 / 60, description="attempts per second (default 1/min)")
    give_up_after: Annotated[int, Field(ge=1, le=MAX_COUNT)] = Field(
        10, description="denied attempts in a row before the attacker stops")
    destination: str = Field("external", description="where the attacker sends what it takes")
    mfa_fatigue_probability: Probability = Field(
        0.0, description="chance that a human approves one of the attacker's push prompts for a stolen key that "
                         "needs MFA (MFA fatigue), which then works for the attacker")


# --------------------------------------------------------------------------- strategies

PRESET_NAMES = preset_names()  # discovered: a new preset file is a new name here
PresetName = Literal[PRESET_NAMES]  # type: ignore[valid-type]


class Knobs(Model):
    """The orthogonal control knobs a strategy is made of. ``None`` = keep the base.

    Standing access follows from ``credential``: a static key is standing access to the
    holder's role scope (the union of the holders' roles for a shared key); JIT tokens
    leave nothing standing between tasks.
    """

    identity: Literal["shared", "per_agent", "workload"] | None = Field(None, description="who the agent is to the resource: a shared account, its own identity, or an attested workload")
    credential: Literal["static_key", "jit_token"] | None = Field(None, description="a long-lived key (standing access) or a just-in-time token per task")
    ttl: Duration | None = Field(None, description="lifetime of a JIT token")
    rotation: PositiveDuration | None = Field(None, description="rotation period of a static key")
    jit_scope: Literal["role", "intent"] | None = Field(None, description="what a JIT token carries: the agent's role scope or only the task's intent")
    revoke_at_task_end: bool | None = Field(None, description="revoke a JIT token as soon as its task ends")
    binding: Literal["bearer", "sender_constrained"] | None = Field(None, description="bearer: any holder of a copy can use it; sender_constrained: only its owner")
    runtime_check: Literal["scope", "intent"] | None = Field(None, description="what the enforcement point checks each request against")
    out_of_intent: Literal["deny", "escalate", "monitor", "redeclare"] | None = Field(
        None, description="a request outside the task's intent: denied, escalated to a human, allowed with an alert "
                          "(monitor), or the agent re-declares its intent for approval (redeclare)")
    redeclare_approver: Literal["policy", "human"] | None = Field(
        None, description="who approves a re-declared intent (out_of_intent: redeclare): a policy or a human")
    intent_follows_switch: bool | None = Field(
        None, description="when a requester redirects a task to another objective, its intent (and token) follow "
                          "the newly declared task; false: the old intent stays bound")
    delegation: Literal["pass_through", "token_exchange"] | None = Field(None, description="a delegate reuses the caller's credential, or exchanges it for a narrowed one")
    lossy_hop: Literal["fail", "own_authority"] | None = Field(
        None, description="a hand-off token exchange cannot make (into another trust domain, or to an agent that "
                          "cannot exchange): the sub-task fails, or runs on the delegate's own authority, "
                          "the intent chain and the originating human lost")
    revocation: Literal["manual", "automated"] | None = Field(None, description="who revokes on detection: a person working a ticket, or automation")
    propagation: Literal["immediate", "cache", "at_expiry"] | None = Field(None, description="when a revocation takes effect: at once, after the cache TTL, or at expiry")
    cache_ttl: Duration | None = Field(None, description="how long a cached authorization outlives its revocation (propagation: cache)")
    identity_ttl: PositiveDuration | None = Field(None, description="lifetime of a workload identity document")
    offboarding_revokes: bool | None = Field(None, description="retiring an agent revokes its credentials")
    risk_escalation_alerts: Annotated[int, Field(ge=1, le=MAX_COUNT)] | None = Field(
        None, description="after this many alerts on an agent, its high-sensitivity requests need approval (intent)"
    )
    secret_storage: Literal["config", "vault", "broker"] | None = Field(
        None, description="where a principal's static key is kept at rest: written in the resources that list it "
                          "in secrets (config), only in vaults (resources of kind vault), or nowhere: a broker "
                          "injects it at call time (broker)")
    cascade_revocation: bool | None = Field(
        None, description="revoking a credential also revokes the tokens exchanged from it, down the chain")
    mfa: bool | None = Field(
        None, description="a human's standing key needs a second factor: a stolen copy is useless (unless "
                          "attacker.mfa_fatigue_probability lets it through)")


class ControlOverride(Knobs):
    """Other controls for some principals of the estate: who (any selector matches) and what
    (a preset to start from, then knobs).

    An override selects an agent named in ``agents``, one with a tag in ``tags``, one in an
    environment of ``environments``, or a holder of an account named in ``accounts``; and
    selects the shared accounts named in ``accounts`` and the humans named in ``humans`` (for
    their own credentials). Overrides apply in order, so a later one wins over an earlier one
    for the principals both select.
    """

    name: Id | None = Field(None, description="names this control group in results and Cedar policies "
                                              "(default: override-<position>)")
    agents: list[Id] = Field(default_factory=list, description="agents it applies to, by id")
    accounts: list[Id] = Field(default_factory=list,
                               description="shared accounts it applies to (and their holders), by id")
    tags: list[Id] = Field(default_factory=list, description="it applies to agents with any of these tags")
    environments: list[Environment] = Field(default_factory=list,
                                            description="it applies to agents in these environments")
    humans: list[Id] = Field(default_factory=list,
                             description="humans it applies to (their own credentials), by id")
    base: PresetName | None = Field(None, description="the preset its principals start from (default: the "
                                                      "strategy's own knobs)")
    description: str = Field("", description="free text: what this group's controls are, shown in reports")


class StrategySpec(Knobs):
    """A user strategy: a preset to start from, plus knob overrides."""

    base: PresetName = Field(description="the preset this strategy starts from")
    description: str = Field("", description="free text: what this strategy is, shown in reports")
    overrides: list[ControlOverride] = Field(
        default_factory=list, description="other controls for some agents, groups of agents or shared accounts "
                                          "(a mixed estate); later overrides win")
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
    horizon: PositiveDuration = Field(86400.0, description="simulated time of one run")
    seed: Annotated[int, Field(ge=-MAX_SEED, le=MAX_SEED)] = Field(
        1, description="base seed: replication i runs every strategy on the same seed (paired runs)")
    replications: Annotated[int, Field(ge=1, le=MAX_REPLICATIONS)] = Field(10, description="paired runs per strategy")
    baseline: str | None = Field(None, description="strategy the others are compared against")


class Scenario(Model):
    """A whole scenario file."""

    name: Id
    title: str = Field("", description="a one-line title for reports")
    description: str = Field("", description="free text: the story the scenario tells")
    tags: Tags = Field(default_factory=Tags, description="threat taxonomy IDs the scenario covers")
    weights: Weights = Field(default_factory=Weights, description="weights behind blast radius")
    resources: list[Resource] = Field(default_factory=list, description="systems and datasets agents act on")
    tools: list[Tool] = Field(default_factory=list, description="interfaces agents call and the operations they expose")
    roles: list[Role] = Field(default_factory=list, description="named sets of grants")
    humans: list[Human] = Field(default_factory=list, description="owners, requesters and approvers")
    agents: list[Agent] = Field(default_factory=list, description="the autonomous workloads")
    shared_accounts: list[SharedAccount] = Field(default_factory=list,
                                                 description="service identities whose key several agents hold")
    tasks: list[TaskTemplate] = Field(default_factory=list, description="task templates: units of work with an intent")
    threats: list[Threat] = Field(default_factory=list, description="the attacks and disruptions, one entry each by kind")
    detection: Detection = Field(default_factory=Detection, description="detection and response")
    issuer: Issuer = Field(default_factory=Issuer, description="the token issuer behind JIT credentials")
    approval: Approval = Field(default_factory=Approval, description="human-in-the-loop approval capacity")
    redeclaration: Redeclaration = Field(default_factory=Redeclaration,
                                         description="how a re-declared task intent is approved")
    attacker: Attacker = Field(default_factory=Attacker, description="the attacker's playbook")
    strategies: dict[Id, StrategyEntry] = Field(
        default_factory=lambda: {name: StrategySpec(base=name) for name in PRESET_NAMES},
        description="strategies to compare, by name: a preset name or a base preset plus knob overrides (default: every preset)",
    )
    run: Run = Field(default_factory=Run, description="horizon, seed and replications")
    expectations: list[str] = Field(
        default_factory=list,
        description="self-check claims, e.g. 'intent < rbac on blast_radius', 'zsp exposure_window_s <= 15m'",
    )

    # where it was read from, so that a refusal met later (the work estimate's) names it
    _source: str = PrivateAttr("")

    @property
    def source(self) -> str:
        """The file the scenario was read from (``<stdin>`` for standard input), or "" when built in Python."""
        return self._source

    def __eq__(self, other: object) -> bool:
        # the same content is the same scenario, wherever each was read from
        if not isinstance(other, Scenario):
            return NotImplemented
        return self.__dict__ == other.__dict__

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
