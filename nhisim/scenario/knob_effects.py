"""Which strategy knobs can change a run: the rules, in one place.

A knob matters only where the engine reads it, and the engine reads most knobs only
under some values of others: ``rotation`` paces static keys, so it cannot change a run of
a strategy that uses JIT tokens; ``cache_ttl`` is read only when revocations propagate
through a cache; ``out_of_intent`` only when the enforcement point checks intent. Some
knobs also need something in the estate: ``offboarding_revokes`` needs an agent that is
offboarded, ``delegation`` a task that delegates.

:data:`RULES` says, for each knob, which knobs and estate facts it depends on and when it
is inert, in words. What-if and sweeps read it to explain why a change moved nothing;
validation reads it to warn about a knob a strategy sets where it cannot apply. One more
explanation needs the runs themselves (:func:`tokens_outlive_tasks`): under
``revoke_at_task_end`` a token's TTL matters only if tasks outlast it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from nhisim.errors import Problem, path_text, split_path
from nhisim.scenario.models import DelegateStep, Knobs, Scenario
from nhisim.scenario.units import format_duration
from nhisim.strategies import Strategy

#: the kinds of principal a strategy's controls apply to
PRINCIPAL_KINDS = frozenset(("agent", "account", "human"))


@dataclass(frozen=True)
class Estate:
    """What in a scenario decides whether some knobs can matter."""

    delegates: bool  # a task hands a sub-task to another agent (or runs on its requester's credential), or a
    # threat has an agent act for another
    offboards: bool  # a threat offboards an agent
    shared_accounts: bool  # the estate has shared accounts
    detects: bool  # detection is enabled (revocation by the response needs a detection)
    secrets: bool = False  # a resource holds principals' secrets (harvesting)
    human_credentials: bool = False  # a human holds a credential of its own (roles)

    @classmethod
    def of(cls, scenario: Scenario) -> Estate:
        return cls(
            delegates=any(isinstance(step, DelegateStep) for task in scenario.tasks for step in task.steps)
            or any(threat.USES_DELEGATION for threat in scenario.threats)
            or any(task.on_behalf_of_requester for task in scenario.tasks),
            offboards=any(threat.RETIRES_AGENT for threat in scenario.threats),
            shared_accounts=bool(scenario.shared_accounts),
            detects=scenario.detection.enabled,
            secrets=any(resource.secrets for resource in scenario.resources),
            human_credentials=any(human.roles for human in scenario.humans),
        )


@dataclass(frozen=True)
class Rule:
    """When ``knob`` cannot change a run: ``inert(strategy, estate)`` says why, or returns ``""``."""

    knob: str
    depends_on: tuple[str, ...]  # the knobs and estate facts (``estate.<fact>``) it reads
    inert: Callable[[Strategy, Estate], str]
    acts_on: frozenset[str] = PRINCIPAL_KINDS  # the kinds of principal whose controls it can change anything for


def _static_passing(s: Strategy, e: Estate) -> bool:
    """Static keys and no exchanged tokens: no token with a lifetime of its own exists."""
    return s.credential == "static_key" and (s.delegation == "pass_through" or not e.delegates)


RULES: tuple[Rule, ...] = (
    Rule("rotation", ("credential",), lambda s, e: (
        f"rotation paces static keys and {s.name} uses JIT tokens (credential: jit_token)"
        if s.credential != "static_key" else "")),
    Rule("ttl", ("credential", "delegation", "estate.delegates"), lambda s, e: (
        f"ttl is the lifetime of JIT and exchanged tokens and {s.name} uses static keys (credential: static_key)"
        + (" and passes them on (delegation: pass_through)" if e.delegates else " in an estate where no task delegates")
        if _static_passing(s, e) else "")),
    Rule("jit_scope", ("credential",), lambda s, e: (
        f"jit_scope shapes JIT tokens and {s.name} uses static keys (credential: static_key)"
        if s.credential != "jit_token" else "")),
    Rule("identity_ttl", ("credential",), lambda s, e: (
        f"identity_ttl is the lifetime of the workload identity that mints JIT tokens and {s.name} uses static keys "
        "(credential: static_key)" if s.credential != "jit_token" else "")),
    Rule("revoke_at_task_end", ("credential", "delegation", "estate.delegates"), lambda s, e: (
        f"revoke_at_task_end revokes task tokens and {s.name} uses static keys (credential: static_key) with no "
        "exchanged tokens" if _static_passing(s, e) else "")),
    Rule("out_of_intent", ("runtime_check",), lambda s, e: (
        f"out_of_intent decides requests the intent check flags and {s.name} checks scope only "
        "(runtime_check: scope)" if s.runtime_check != "intent" else "")),
    Rule("risk_escalation_alerts", ("runtime_check",), lambda s, e: (
        f"risk_escalation_alerts is part of the intent check and {s.name} checks scope only (runtime_check: scope)"
        if s.runtime_check != "intent" else "")),
    Rule("cache_ttl", ("propagation",), lambda s, e: (
        f"cache_ttl delays revocations that propagate through a cache and {s.name}'s propagate "
        f"{'at once' if s.propagation == 'immediate' else 'at expiry'} (propagation: {s.propagation})"
        if s.propagation != "cache" else "")),
    Rule("identity", ("credential", "estate.shared_accounts"), lambda s, e: (
        f"identity decides which static key an agent presents and {s.name} uses JIT tokens (credential: jit_token)"
        if s.credential != "static_key" else
        "identity: shared differs from per_agent only where shared accounts exist, and this estate has none"
        if not e.shared_accounts else "")),
    Rule("offboarding_revokes", ("estate.offboards",), lambda s, e: (
        "no agent is offboarded in this scenario (no threat retires one)" if not e.offboards else "")),
    Rule("delegation", ("estate.delegates",), lambda s, e: (
        "no task delegates a sub-task or runs on its requester's credential, and no threat has an agent act for "
        "another" if not e.delegates else "")),
    Rule("revocation", ("estate.detects",), lambda s, e: (
        "revocation is how the response revokes after a detection, and detection is disabled "
        "(detection.enabled: false)" if not e.detects else "")),
    Rule("secret_storage", ("credential", "estate.secrets"), lambda s, e: (
        "secret_storage decides which resources hold a principal's key, and no resource lists secrets"
        if not e.secrets else
        f"secret_storage decides where a static key is kept and {s.name} uses JIT tokens, which are never at rest "
        "(credential: jit_token)" if s.credential != "static_key" else "")),
    Rule("cascade_revocation", ("delegation", "estate.delegates"), lambda s, e: (
        "cascade_revocation revokes exchanged tokens, and no task delegates or runs on its requester's credential"
        if not e.delegates else
        f"cascade_revocation revokes exchanged tokens and {s.name} passes credentials through "
        "(delegation: pass_through): nothing is exchanged" if s.delegation != "token_exchange" else "")),
    Rule("mfa", ("credential", "estate.human_credentials"), lambda s, e: (
        "mfa protects humans' standing keys, and no human holds a credential (humans have no roles)"
        if not e.human_credentials else
        f"mfa protects standing keys and under {s.name} a human signs in per task (credential: jit_token): "
        "a stolen session token is what MFA already produced" if s.credential != "static_key" else ""),
         acts_on=frozenset(("human",))),
)
BY_KNOB: dict[str, Rule] = {rule.knob: rule for rule in RULES}

#: values of a knob that the engine tells apart (``identity``: only ``shared`` changes what a run does)
ENGINE_CLASSES: dict[str, Callable[[object], object]] = {"identity": lambda value: value == "shared"}


def depends_on(knob: str) -> tuple[str, ...]:
    """The knobs and estate facts whose values decide whether ``knob`` can matter (``()``: always)."""
    rule = BY_KNOB.get(knob)
    return rule.depends_on if rule is not None else ()


def inert_reason(knob: str, strategy: Strategy, estate: Estate, kind: str | None = None) -> str:
    """Why ``knob`` cannot change any run of ``strategy`` in this estate, or ``""``; with ``kind`` (agent,
    account or human), for a principal of that kind."""
    rule = BY_KNOB.get(knob)
    if rule is None:
        return ""
    if kind is not None and kind not in rule.acts_on:
        return f"{knob} acts on the credentials of {' and '.join(sorted(rule.acts_on))}s, not of {kind}s"
    return rule.inert(strategy, estate)


def strategy_knob(path: str) -> tuple[str, str] | None:
    """``("zsp", "ttl")`` for the path ``strategies.zsp.ttl``; None for a path that sets no knob."""
    parts = split_path(path)
    if len(parts) == 3 and parts[0] == "strategies" and parts[2] in Knobs.model_fields:
        return parts[1], parts[2]
    return None


def same_to_engine(knob: str, values: Iterable[object]) -> str:
    """Why the engine cannot tell these values of ``knob`` apart, or ``""``."""
    classify = ENGINE_CLASSES.get(knob)
    values = list(dict.fromkeys(values))
    if classify is None or len(values) < 2 or len({classify(v) for v in values}) > 1:
        return ""
    return f"the engine treats {knob} {' and '.join(map(str, values))} alike (only shared changes which key is used)"


def why_flat(knob: str, variants: Sequence[tuple[Strategy, Estate]]) -> str:
    """Why changing ``knob`` across ``variants`` (one strategy and its estate, as each compared
    setting resolves them) cannot change a run: a rule that holds for every variant, or values
    the engine treats alike; ``""`` when the rules do not tell."""
    reasons = [inert_reason(knob, strategy, estate) for strategy, estate in variants]
    if reasons and all(reasons):
        return reasons[0]
    return same_to_engine(knob, [getattr(strategy, knob) for strategy, _ in variants])


def tokens_outlive_tasks(variants: Sequence[Strategy], task_latency_p95: float) -> str:
    """Why a TTL change moved nothing, read from the runs: each task's token is revoked when the
    task ends, and (95% of) tasks end before any of the TTLs compared; ``""`` otherwise."""
    if not variants or not all(v.jit and v.revoke_at_task_end for v in variants):
        return ""
    shortest = min(v.ttl for v in variants)
    if not (math.isfinite(task_latency_p95) and task_latency_p95 < shortest):
        return ""
    name = variants[0].name
    return (f"{name} revokes each task's token when the task ends, and 95% of its tasks end within "
            f"{format_duration(task_latency_p95)}, less than the shortest TTL compared "
            f"({format_duration(shortest)}): tokens are revoked before they could expire")


def knob_warnings(scenario: Scenario) -> list[Problem]:
    """A warning for each knob a strategy of ``scenario`` sets itself where it cannot change a run: a
    default knob inert for every control group, an override's knob inert for every principal it selects."""
    from nhisim.scenario.strategy import override_label, scenario_strategy, selected

    estate = Estate.of(scenario)
    problems = []

    def warn(knob: str, why: str, where: str, whose: str) -> None:
        knobs = [d for d in depends_on(knob) if not d.startswith("estate.")]
        fix = (f"drop it, or change {' or '.join(knobs)} for it to apply" if knobs
               else "drop it: the scenario gives it nothing to act on")
        problems.append(Problem(f"{knob} has no effect on {whose}: {why}", where, suggestion=fix))

    for name, spec in scenario.strategies.items():
        strategy = scenario_strategy(scenario, name)
        groups = [group for group, _ in strategy.groups().values()]
        for knob in (k for k in Knobs.model_fields if getattr(spec, k) is not None):
            whys = [inert_reason(knob, group, estate) for group in groups]
            if all(whys):
                warn(knob, whys[0], path_text("strategies", name, knob), f"strategy {name}")
        for i, override in enumerate(spec.overrides):
            agents, accounts, humans = selected(override, scenario)
            members = [(strategy.of(p), kind) for kind, chosen in (("agent", agents), ("account", accounts),
                                                                   ("human", humans)) for p in sorted(chosen)]
            for knob in (k for k in Knobs.model_fields if getattr(override, k) is not None):
                whys = [inert_reason(knob, member, estate, kind) for member, kind in members]
                if members and all(whys):
                    warn(knob, whys[0], path_text("strategies", name, "overrides", i, knob),
                         f"override {override_label(override, i)} of strategy {name}")
    return problems


__all__ = ["BY_KNOB", "PRINCIPAL_KINDS", "ENGINE_CLASSES", "RULES", "Estate", "Rule", "depends_on", "inert_reason", "knob_warnings",
           "same_to_engine", "strategy_knob", "tokens_outlive_tasks", "why_flat"]
