"""Real traced tool calls decided by a strategy: what would have been denied, and for how long
credentials would have been exposed.

Each ``execute_tool`` span of a trace file (read by :mod:`nhisim.importers.otel`) is one
call of its agent at its real time. The call is resolved to a scenario operation
(:mod:`nhisim.importers.matching`); each agent run is bound to the scenario template it
serves best (its intent). Credentials are issued as the strategy would issue them, at the
real times:

- static keys (``credential: static_key``): one per identity, standing from the start of
  the traces (a shared account's key under ``identity: shared``), as the engine issues them;
- JIT tokens: one per run, obtained at its first call (scope: the agent's roles, or their
  intersection with the run's intent under ``jit_scope: intent``), renewed when it
  expires mid-run, revoked when the run ends if the strategy says so (effective after
  the strategy's propagation);
- a run nested in another agent's run receives the caller's credentials (``pass_through``,
  falling back on its own authority) or exchanges them for a token narrowed to its
  template's intent, no longer-lived than the caller's (``token_exchange``).

Every call then goes through the simulation's own enforcement point (the evaluator the
strategy's engine uses), so a decision, its code and its reason mean what they mean in a
run (``nhisim/sim/decisions.py``). ``escalate`` means a human would have been asked; the
replay does not guess the answer. A call the scenario cannot place (an unknown agent or
tool, an ambiguous operation) is ``unmapped``, with the reason. A call by an agent the scenario
does not have (the assistant of an MCP client) is made by the one scenario agent that
declares the call's tool (the MCP server imported by ``nhisim import mcp``), in a run of
its own over the caller's run.

Exposure of a credential is from its issue to the moment it became unusable (expired, or
revoked and propagated); a standing key is counted over the whole replayed window (it
lives on until rotation). Workload identity documents (JIT strategies mint tokens with
them; no secret at rest) are not listed.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from nhisim.errors import InputError, did_you_mean
from nhisim.importers.common import Source
from nhisim.importers.matching import OperationResolver, best_template, served_templates, template_operations
from nhisim.importers.otel import Invocation, invocations, read_spans
from nhisim.scenario.models import Scenario
from nhisim.scenario.strategy import scenario_strategy
from nhisim.sim.compiled import CompiledTask, CompiledWorld, compile_world
from nhisim.sim.credentials import Credential, propagation_delay
from nhisim.sim.decisions import INTENT_CODES, outcome
from nhisim.sim.enforcement import make_evaluator
from nhisim.sim.pep import RISK_WINDOW
from nhisim.strategies import Strategy, preset_names

CALL_COLUMNS = ("strategy", "trace", "run", "agent", "template", "tool", "operation", "at_s", "decision", "code",
                "reason", "credential", "credential_kind")
CREDENTIAL_COLUMNS = ("strategy", "credential", "kind", "subject", "holders", "issued_s", "unusable_s",
                      "exposure_s", "standing", "ends", "scope_value", "value_seconds", "calls")
DECISIONS = ("allow", "escalate", "deny", "unmapped")


@dataclass
class TraceReplay:
    """The replay of a trace file under one or more strategies."""

    scenario: str
    traces: str
    strategies: list[str]
    calls: pd.DataFrame
    credentials: pd.DataFrame
    window_s: float  # from the first traced run's start to the last one's end
    runs: int
    unmatched_runs: int  # runs bound to no template (no intent)

    def summary(self) -> pd.DataFrame:
        """One row per strategy: calls by decision, credentials issued, and their exposure."""
        rows = []
        for strategy in self.strategies:
            calls = self.calls[self.calls["strategy"] == strategy]
            creds = self.credentials[self.credentials["strategy"] == strategy]
            counts = calls["decision"].value_counts()
            rows.append({"strategy": strategy, "calls": len(calls),
                         **{d: int(counts.get(d, 0)) for d in DECISIONS},
                         "credentials": len(creds), "standing": int(creds["standing"].sum()),
                         "exposure_s": float(creds["exposure_s"].sum()),
                         "longest_exposure_s": float(creds["exposure_s"].max()) if len(creds) else 0.0,
                         "value_seconds": float(creds["value_seconds"].sum())})
        return pd.DataFrame(rows)

    def blocked(self, strategy: str) -> pd.DataFrame:
        """The calls a strategy would have denied or escalated, grouped: how many, and why."""
        calls = self.calls[(self.calls["strategy"] == strategy) & self.calls["decision"].isin(["deny", "escalate"])]
        if calls.empty:
            return pd.DataFrame(columns=["agent", "operation", "decision", "code", "calls", "reason"])
        grouped = calls.groupby(["agent", "operation", "decision", "code"], sort=False)
        return (grouped.agg(calls=("reason", "size"), reason=("reason", "first")).reset_index()
                .sort_values("calls", ascending=False, kind="stable").reset_index(drop=True))


@dataclass
class _Run:
    """One traced agent run, as the replay tracks it."""

    invocation: Invocation
    template: CompiledTask | None
    chain: tuple[str, ...]
    parent: _Run | None = None
    token: Credential | None = None
    passed: list[Credential] = field(default_factory=list)
    own: list[Credential] = field(default_factory=list)
    exchanged: bool = False
    refusal: tuple[str, str] | None = None  # why the run has no credential at all (issuer refusal)

    @property
    def agent(self) -> str:
        return self.invocation.agent

    @property
    def name(self) -> str:
        return f"{self.agent}/{self.invocation.trace[:8]}/{self.invocation.span[:8]}"


def replay_trace(traces: Source, scenario: Scenario, strategies: list[str] | None = None, *,
                 engine: str | None = None) -> TraceReplay:
    """Decide every traced tool call under each strategy (default: the scenario's strategies)."""
    names = list(strategies or scenario.strategies)
    known = [*scenario.strategies, *(p for p in preset_names() if p not in scenario.strategies)]
    for name in names:
        if name not in known:
            raise InputError.single(f"unknown strategy {name!r}", location="--strategy",
                                    suggestion=did_you_mean(name, known, "strategies"))
    read = read_spans(traces)
    found, _ = invocations(read.spans)
    if not found:
        raise InputError.single(f"no GenAI agent or tool span among {len(read.spans):,} spans", file=str(traces),
                                suggestion="spans need gen_ai.operation.name invoke_agent or execute_tool")
    world = compile_world(scenario)
    binding = _Binding(scenario, world, found)
    calls: list[dict[str, Any]] = []
    credentials: list[dict[str, Any]] = []
    for name in names:
        spec = scenario.strategies.get(name)
        strategy = scenario_strategy(scenario, name)
        chosen = engine or (spec.engine if spec is not None and spec.engine else "native")
        _Replayer(strategy, world, binding, scenario, chosen, list(spec.policies) if spec else []).run(calls,
                                                                                                         credentials)
    return TraceReplay(scenario.name, str(traces), names, pd.DataFrame(calls, columns=list(CALL_COLUMNS)),
                       pd.DataFrame(credentials, columns=list(CREDENTIAL_COLUMNS)), binding.t1 - binding.t0,
                       len(binding.invocations),
                       sum(1 for inv in binding.invocations if binding.template[id(inv)] is None))


class _Binding:
    """What does not depend on the strategy: each call's operation, each run's template."""

    def __init__(self, scenario: Scenario, world: CompiledWorld, found: list[Invocation]) -> None:
        self.t0 = min(inv.start for inv in found)
        self.t1 = max(inv.end for inv in found)
        resolver = OperationResolver(scenario)
        operations = template_operations(scenario)
        self.op: dict[int, tuple[int | None, str]] = {}  # id(step) -> (operation number, why not)
        self.template: dict[int, CompiledTask | None] = {}
        agents = set(world.agents)
        holders: dict[str, list[str]] = {}  # tool -> the agents that declare it
        for agent in scenario.agents:
            for tool in agent.tools:
                holders.setdefault(tool, []).append(agent.id)
        keys: dict[int, tuple[str, str, str] | None] = {}
        self.attributed = 0
        self.invocations: list[Invocation] = []
        for inv in found:
            owners: dict[str, list] = {}
            for step in inv.steps:
                if step.kind != "call":
                    continue
                key, why = resolver.resolve(step.label or step.name)
                keys[id(step)] = key
                if inv.agent in agents:
                    self.op[id(step)] = (None, why) if key is None else (world.op_index[key], "")
                elif key is not None and len(holders.get(key[0], ())) == 1:
                    owners.setdefault(holders[key[0]][0], []).append(step)
                    self.op[id(step)] = (world.op_index[key], "")
                else:
                    self.op[id(step)] = (None, why if key is None else f"agent {inv.agent!r} is not in the "
                                         f"scenario and {len(holders.get(key[0], ()))} agents declare tool {key[0]!r}")
            if inv.agent in agents or not owners:
                self.invocations.append(inv)
                continue
            # an agent the scenario does not have (the assistant of an MCP client) had the agents that hold
            # the tools (the MCP servers) act: one run of each, over the assistant's run
            rest = [s for s in inv.steps if not any(s in group for group in owners.values())]
            if rest:
                self.invocations.append(Invocation(inv.agent, inv.trace, inv.span, inv.start, inv.end, steps=rest))
            for agent, steps in owners.items():
                self.invocations.append(Invocation(agent, inv.trace, f"{inv.span}>{agent}", inv.start, inv.end,
                                                   steps=steps))
                self.attributed += len(steps)
        for inv in self.invocations:
            task = None
            if inv.agent in agents:
                resolved = {keys[id(s)] for s in inv.tree_calls() if keys[id(s)] is not None}
                task, _ = best_template(served_templates(scenario, inv.agent), operations, resolved)
            self.template[id(inv)] = world.tasks[task] if task is not None else None


class _Replayer:
    """One strategy's credentials and decisions over the traced runs, in time order."""

    def __init__(self, strategy: Strategy, world: CompiledWorld, binding: _Binding, scenario: Scenario,
                 engine: str, policies: list[str]) -> None:
        self.strategy = strategy
        self.world = world
        self.binding = binding
        self.alerts: dict[str, int] = {}
        self.alert_times: dict[str, deque] = {}
        self.pep = make_evaluator(engine, strategy, world, {}, self.alerts, scenario=scenario, policies=policies)
        self.issued: list[Credential] = []
        self.used: dict[str, int] = {}
        self.keys: dict[str, Credential] = {}
        self.t0 = binding.t0

    # ------------------------------------------------------------------ credentials

    def _new(self, kind: str, subject: str, holders: set[str], scope: frozenset[int], now: float, lifetime: float,
             *, intent: CompiledTask | None = None, chain: tuple[str, ...] = ()) -> Credential:
        cred = Credential(id=f"{kind[:3]}-{len(self.issued) + 1}", kind=kind, subject=subject, holders=holders,
                          scope=scope, issued_at=now, expires_at=now + lifetime, binding=self.strategy.binding,
                          intent=intent, chain=chain)
        self.issued.append(cred)
        return cred

    def _standing_keys(self) -> None:
        """Static keys as the engine issues them: a shared account's under a shared identity, else the agent's."""
        if self.strategy.credential != "static_key":
            return
        covered: set[str] = set()
        if self.strategy.identity == "shared":
            for account in self.world.accounts.values():
                self.keys[account.id] = self._new("shared_key", account.id, set(account.holders), account.scope,
                                                  self.t0, math.inf)
                covered.update(account.holders)
        for agent in self.world.agents.values():
            if agent.id not in covered:
                self.keys[agent.id] = self._new("static_key", agent.id, {agent.id}, agent.role_scope, self.t0,
                                                math.inf)

    def _static_keys_of(self, agent: str) -> list[Credential]:
        keys = [self.keys[a] for a in self.world.agents[agent].shared_accounts
                if self.strategy.identity == "shared" and a in self.keys]
        return keys + ([self.keys[agent]] if agent in self.keys else [])

    def _task_token(self, run: _Run, now: float) -> Credential | None:
        """The run's own JIT token, obtained or renewed now; None (and ``run.refusal``) when refused."""
        token = run.token
        if token is not None and now < token.expires_at and now < token.effective_at:
            return token
        if self.strategy.jit_scope == "intent" and run.template is None:
            run.refusal = ("no_intent", "intent-scoped tokens need a task intent; this run matches no template")
            return None
        scope = self.world.agents[run.agent].role_scope
        if self.strategy.jit_scope == "intent":
            scope = scope & run.template.intent
        token = self._new("jit_token", run.agent, {run.agent}, scope, now, self.strategy.ttl, intent=run.template)
        run.token = token
        run.own.append(token)
        return token

    def _credential_for(self, run: _Run, op: int, now: float) -> Credential | None:
        if run.exchanged:
            return run.token
        for cred in run.passed:
            if op in cred.scope and cred.usable(now):
                return cred
        if self.strategy.credential == "static_key":
            keys = self._static_keys_of(run.agent)
            return next((k for k in keys if op in k.scope), keys[0] if keys else None)
        return self._task_token(run, now)

    def _delegate(self, run: _Run, now: float) -> None:
        parent = run.parent
        if self.strategy.delegation == "pass_through":
            passed = ([parent.token] if parent.token is not None else []) + list(parent.passed)
            if self.strategy.credential == "static_key":
                passed += [c for c in self._static_keys_of(parent.agent) if c not in passed]
            for cred in passed:
                cred.holders.add(run.agent)
            run.passed = passed
            return
        run.exchanged = True
        if self.strategy.credential == "jit_token" and not parent.exchanged and self._task_token(parent, now) is None:
            run.refusal = ("no_delegator_token", parent.refusal[1] if parent.refusal else "")
            return
        creds = ([parent.token] if parent.token is not None else []) + parent.passed
        if not creds and self.strategy.credential == "static_key":
            creds = self._static_keys_of(parent.agent)
        usable = [c for c in creds if c.usable(now)]
        scope = frozenset().union(*(c.scope for c in usable)) if usable else frozenset()
        lifetime = min(self.strategy.ttl, max((c.unusable_at for c in usable), default=now) - now)
        if lifetime <= 0:
            run.refusal = ("no_delegator_token", "the caller holds no live credential to exchange")
            return
        intent = run.template.intent if run.template is not None else frozenset()
        run.token = self._new("delegated_token", run.agent, {run.agent}, scope & intent, now, lifetime,
                              intent=run.template, chain=run.chain)
        parent.own.append(run.token)

    def _revoke(self, cred: Credential, now: float) -> None:
        if cred.revoked_at <= now or now >= cred.expires_at:
            return
        cred.revoked_at = now
        cred.effective_at = propagation_delay(self.strategy.propagation, self.strategy.cache_ttl, now, cred.expires_at)
        cred.revoke_reason = "task end"

    # ------------------------------------------------------------------ the replay

    def run(self, calls: list[dict], credentials: list[dict]) -> None:
        self._standing_keys()
        runs: dict[int, _Run] = {}
        events: list[tuple[float, int, int, Invocation, Any]] = []  # (time, start/call/end, order, run, step)
        for n, inv in enumerate(self.binding.invocations):
            events.append((inv.start, 0, n, inv, None))
            events.extend((step.start, 1, n, inv, step) for step in inv.steps if step.kind == "call")
            events.append((inv.end, 2, n, inv, None))
        events.sort(key=lambda e: e[:3])
        for now, kind, _, inv, step in events:
            if kind == 0:
                parent = runs.get(id(inv.parent)) if inv.parent is not None else None
                run = runs[id(inv)] = _Run(inv, self.binding.template[id(inv)],
                                           (parent.chain if parent else ()) + (inv.agent,), parent)
                if parent is not None and inv.agent in self.world.agents:
                    self._delegate(run, now)
            elif kind == 1:
                calls.append(self._call(runs[id(inv)], step, now))
            elif self.strategy.revoke_at_task_end:
                for cred in runs[id(inv)].own:
                    self._revoke(cred, now)
        for cred in self.issued:
            credentials.append(self._exposure(cred))

    def _call(self, run: _Run, step, now: float) -> dict[str, Any]:
        op, why = self.binding.op[id(step)]
        row = {"strategy": self.strategy.name, "trace": run.invocation.trace, "run": run.name, "agent": run.agent,
               "template": run.template.id if run.template is not None else "", "tool": step.label or step.name,
               "operation": self.world.label(op) if op is not None else "", "at_s": now - self.t0,
               "credential": "", "credential_kind": ""}
        if op is None:
            return {**row, "decision": "unmapped", "code": "unmapped", "reason": why}
        cred = self._credential_for(run, op, now)
        if cred is None:
            code, reason = run.refusal or ("no_delegator_token", "")
            return {**row, **dict(zip(("decision", "code", "reason"), outcome("deny", code, reason or None),
                                      strict=True))}
        self._forget_alerts(run.agent, now)
        decision, code, reason = self.pep.decide(now, run.agent, cred, op, "internal", run.template)
        if decision == "deny" and code in INTENT_CODES:
            self.alert_times.setdefault(run.agent, deque()).append(now)
            self.alerts[run.agent] = len(self.alert_times[run.agent])
        self.used[cred.id] = self.used.get(cred.id, 0) + 1
        return {**row, "decision": decision, "code": code, "reason": reason, "credential": cred.id,
                "credential_kind": cred.kind}

    def _forget_alerts(self, agent: str, now: float) -> None:
        """An agent's risk posture counts the alerts of the last hour, as in a run."""
        times = self.alert_times.get(agent)
        while times and times[0] <= now - RISK_WINDOW:
            times.popleft()
        if times is not None:
            self.alerts[agent] = len(times)

    def _exposure(self, cred: Credential) -> dict[str, Any]:
        standing = math.isinf(cred.unusable_at)
        end = self.binding.t1 if standing else cred.unusable_at
        if standing:
            ends = f"standing: rotated every {self.strategy.rotation / 86400:g} d" \
                if math.isfinite(self.strategy.rotation) else "standing: never rotated"
        elif cred.effective_at < cred.expires_at:
            ends = f"revoked at task end (effective {cred.effective_at - cred.revoked_at:g} s later)"
        else:
            ends = "expired"
        exposure = max(end - cred.issued_at, 0.0)
        value = self.world.value(cred.scope)
        return {"strategy": self.strategy.name, "credential": cred.id, "kind": cred.kind, "subject": cred.subject,
                "holders": ",".join(sorted(cred.holders)), "issued_s": cred.issued_at - self.t0,
                "unusable_s": end - self.t0, "exposure_s": exposure, "standing": standing, "ends": ends,
                "scope_value": value, "value_seconds": value * exposure, "calls": self.used.get(cred.id, 0)}
