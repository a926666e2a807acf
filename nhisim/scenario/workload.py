"""How much work a run will be, estimated before it starts, and the refusal of what cannot finish.

A scenario can be valid and still describe a run that would take days or fill memory: a
horizon of 1e12 s, an arrival rate of 1e6/s, a key rotated every millisecond. The engine
cannot tell it from a long run, so it is estimated up front from the scenario alone:

- **tool calls**: Σ over agents and their tasks of ``arrival_rate × task_rate_multiplier
  × horizon × steps`` (each step is a tool call or a hand-off; a hand-off adds the steps
  of the sub-task it delegates, so a delegation chain multiplies; an agent that may switch
  goals adds that chance × the steps of its longest other task);
- **attacker attempts**: ``attacker.rate × horizon`` per threat;
- **key rotations**: static keys × ``horizon / rotation``;
- **identity renewals**: workload identities × ``horizon / identity_ttl``;
- **issuer retries**: with an issuer outage, identities × ``horizon / issuer.retry_after``.

A run whose estimate is over :data:`MAX_RUN_EVENTS` (``$NHISIM_MAX_EVENTS``), or a
comparison or sweep whose runs together are over ten times that, is refused with the
estimate in the message; ``--force`` (or ``NHISIM_FORCE=1``) runs it anyway.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from nhisim.errors import InputError

# about a minute of engine time per run on one core (the engine does ~100k events/s)
MAX_RUN_EVENTS = 10_000_000
# a whole comparison or sweep: about ten minutes of engine time on one core
JOB_FACTOR = 10
MAX_EVENTS_ENV = "NHISIM_MAX_EVENTS"
FORCE_ENV = "NHISIM_FORCE"


@dataclass(frozen=True)
class Estimate:
    """Expected counts of the work one run does (floats: an infinite horizon gives inf)."""

    tool_calls: float
    attacker_attempts: float
    rotations: float
    identity_renewals: float
    issuer_retries: float

    @property
    def total(self) -> float:
        return self.tool_calls + self.attacker_attempts + self.rotations + self.identity_renewals + self.issuer_retries

    def largest(self) -> tuple[str, float]:
        """The biggest part, by name: what the message tells the user to change."""
        parts = {"tool calls": self.tool_calls, "attacker attempts": self.attacker_attempts,
                 "key rotations": self.rotations, "identity renewals": self.identity_renewals,
                 "issuer retries": self.issuer_retries}
        name = max(parts, key=lambda k: parts[k])
        return name, parts[name]


def _per(horizon: float, period: float) -> float:
    if not math.isfinite(period):
        return 0.0
    return math.inf if period <= 0 else horizon / period


def _times(rate: float, horizon: float) -> float:
    """``rate × horizon``, where nothing happening over an endless run is still nothing (not NaN)."""
    return 0.0 if rate == 0 else rate * horizon


def steps_per_arrival(tasks: dict) -> dict[str, float]:
    """Steps one arrival of each task template runs, the sub-tasks it delegates included.

    A hand-off adds the steps of the sub-task it delegates, so a chain multiplies (a chain
    of N templates each delegating twice is 2**N steps: a float, inf past 1e308). Each
    template is computed once, depth first without recursion, so a long or wide chain
    costs its size, not its number of paths; a cycle ends where the engine stops it (a
    template already on the path adds nothing).
    """
    done: dict[str, float] = {}
    for root in tasks:
        if root in done:
            continue
        path = [root]  # the templates being summed, each with its running total and next step
        total = {root: 0.0}
        position = {root: 0}
        while path:
            task_id = path[-1]
            steps = tasks[task_id].steps
            i = position[task_id]
            if i == len(steps):
                path.pop()
                done[task_id] = total.pop(task_id)
                del position[task_id]
                if path:
                    total[path[-1]] += done[task_id]
                continue
            position[task_id] = i + 1
            total[task_id] += 1.0
            delegate = getattr(steps[i], "delegate", None)
            child = delegate.task if delegate is not None else None
            if child is None or child not in tasks or child in position:  # no hand-off, unknown, or a cycle
                continue
            if child in done:
                total[task_id] += done[child]
            else:
                path.append(child)
                total[child] = 0.0
                position[child] = 0
    return done


def estimate_run(scenario, strategy, horizon: float | None = None) -> Estimate:
    """The expected work of one run of ``scenario`` under the resolved ``strategy``."""
    horizon = scenario.run.horizon if horizon is None else horizon
    tasks = {t.id: t for t in scenario.tasks}
    steps = steps_per_arrival(tasks)
    calls = 0.0
    for agent in scenario.agents:
        switch = agent.behaviour.goal_switch_probability
        # the two longest of the agent's tasks: the longest other than any one task is among them
        longest = sorted(((steps[t], t) for t in set(agent.tasks) if t in tasks), reverse=True)[:2]
        for task_id in agent.tasks:
            task = tasks.get(task_id)
            if task is not None:
                arrivals = _times(task.arrival_rate * agent.behaviour.task_rate_multiplier, horizon)
                if not arrivals:  # no arrival, no work: even of an endless chain (0 × inf would be NaN)
                    continue
                per_arrival = steps[task_id]
                other = next((n for n, t in longest if t != task_id), None)
                if switch > 0 and other is not None:  # a redirected task also runs (at most) a whole other objective
                    per_arrival += switch * other
                calls += arrivals * per_arrival
    attempts = _times(scenario.attacker.rate, horizon) * len(scenario.threats)
    identities = len(scenario.agents)
    rotations = renewals = 0.0
    for principal, is_agent in [(a.id, True) for a in scenario.agents] + [(sa.id, False)
                                                                         for sa in scenario.shared_accounts]:
        own = strategy.of(principal)  # each principal's controls (a mixed estate differs per principal)
        if own.credential == "static_key":
            rotations += _per(horizon, own.rotation)
        elif is_agent:  # a JIT agent's workload identity is renewed
            renewals += _per(horizon, own.identity_ttl)
    outage = any(getattr(t, "kind", "") == "issuer_outage" for t in scenario.threats)
    retries = identities * _per(horizon, scenario.issuer.retry_after) if outage and identities else 0.0
    return Estimate(calls, attempts, rotations, renewals, retries)


def forced() -> bool:
    """True when the user asked to run whatever the estimate (``--force`` or ``NHISIM_FORCE=1``)."""
    return os.environ.get(FORCE_ENV, "").strip().lower() in {"1", "true", "yes"}


def force() -> None:
    """Run whatever the estimate, in this process and in the worker processes it starts."""
    os.environ[FORCE_ENV] = "1"


def max_run_events() -> int:
    raw = os.environ.get(MAX_EVENTS_ENV, "").strip()
    if not raw:
        return MAX_RUN_EVENTS
    try:
        value = int(raw)
        if value <= 0:
            raise ValueError
    except ValueError:
        raise InputError.single(f"{MAX_EVENTS_ENV}={raw!r} is not a positive whole number",
                                location=MAX_EVENTS_ENV, suggestion=f"unset it, or give e.g. {MAX_RUN_EVENTS}") from None
    return value


def _count(value: float) -> str:
    if math.isinf(value):
        return "more than 1e308"
    return f"about {value:,.0f}" if value < 1e15 else f"about {value:.1e}"


def _name(scenario, file: str) -> str:
    """The file a refusal names: ``file``, else the one the scenario was read from (``<stdin>``), else its name."""
    return file or getattr(scenario, "source", "") or f"<{scenario.name}>"


def check_run(scenario, strategy, horizon: float | None = None, *, file: str = "") -> Estimate:
    """Refuse one run whose estimate is over the limit (unless forced); return the estimate."""
    estimate = estimate_run(scenario, strategy, horizon)
    limit = max_run_events()
    endless = math.isinf(scenario.run.horizon if horizon is None else horizon)
    if endless and math.isinf(estimate.total):  # no --force: it would never end, on any machine
        part, _ = estimate.largest()
        raise InputError.single(
            f"one run of strategy {strategy.name!r} would never end: the horizon is never and {part} "
            f"go on for ever",
            file=_name(scenario, file), location="run.horizon",
            suggestion="give the run an end, e.g. run.horizon: 8h or 30d", title="run too large")
    if estimate.total > limit and not forced():
        part, value = estimate.largest()
        raise InputError.single(
            f"one run of strategy {strategy.name!r} would take {_count(estimate.total)} events "
            f"({_count(value)} {part}), over the limit of {limit:,} per run",
            file=_name(scenario, file), location="run",
            suggestion=f"shorten run.horizon or lower the rates/periods behind the {part}; "
                       f"--force (or {FORCE_ENV}=1) runs it anyway, {MAX_EVENTS_ENV} sets the limit",
            title="run too large")
    return estimate


def check_job(scenario, strategies: list, runs_per_strategy: int, *, file: str = "", what: str = "comparison") -> float:
    """Refuse a comparison or sweep (``runs_per_strategy`` runs of each strategy) over the job limit."""
    total = sum(check_run(scenario, s, file=file).total for s in strategies) * runs_per_strategy
    limit = max_run_events() * JOB_FACTOR
    if total > limit and not forced():
        raise InputError.single(
            f"this {what} ({runs_per_strategy:,} replications × {len(strategies)} strategies) would take "
            f"{_count(total)} events, over the limit of {limit:,} per {what}",
            file=_name(scenario, file), location="run.replications",
            suggestion=f"use fewer replications or a shorter horizon; --force (or {FORCE_ENV}=1) runs it anyway, "
                       f"{MAX_EVENTS_ENV} sets the per-run limit (the {what} limit is {JOB_FACTOR}×)",
            title="run too large")
    return total
