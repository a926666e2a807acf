"""The simulation engine: agents at work, credentials in time, attacks, detection, response.

One :class:`Simulation` is one scenario × one strategy × one seed. ``run()`` returns the
:class:`~nhisim.sim.eventlog.EventLog`.

Workload. Each agent receives tasks of each template it serves as a Poisson process.
A task's whole plan (service times, approval dice, discovery dice, sub-task plans) is
drawn at its arrival from the stream of (agent, template) (:mod:`nhisim.sim.plans`), so
every strategy sees the same work. Task and credential ids never depend on the order of
events elsewhere in the run (:func:`~nhisim.sim.state.template_of`, :meth:`Simulation.new_credential`). A task obtains credentials as the strategy says, runs its steps (tool calls
through the enforcement point, human approvals, delegated sub-tasks) and ends ``ok``
or ``failed`` (a denied call fails the task).

Credentials. Static-key strategies issue one key per identity at time 0 (with a random
age, so rotations fall anywhere in the rotation period); JIT strategies give each agent
a workload identity document (renewed at expiry, when the issuer is up) and issue a
token per task, renewed when it expires mid-task, revoked at task end if the strategy
says so. Delegation either passes the delegator's credentials through (the delegate
then holds them, and falls back on its own authority for what they do not cover), or
exchanges them for a token scoped to the delegator's scope ∩ the sub-task's intent,
no longer-lived than the delegator's, with the actor chain kept.

Threats plug in from ``nhisim.sim.threats`` (one file each); an attack becomes an
:class:`~nhisim.sim.state.Incident` that the attacker playbook and the detection process
work on. Plug-ins see the run through :class:`~nhisim.sim.surface.EngineSurface`, the
public methods below, and never its private state.

Time. Arrivals, tasks (with their sub-tasks inline), issuer round-trips, attackers and
baseline detection are generators on the :class:`~nhisim.sim.agenda.Agenda`: they yield
a number of seconds to wait, or a SimPy event (a reviewer's slot). Rotation, identity
renewal, outages, triage and response are SimPy processes.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Generator
from random import Random
from typing import Any

import simpy

from nhisim.memory import collector_paused, without_collector
from nhisim.scenario import workload
from nhisim.scenario.models import SENSITIVITY_LEVELS, Scenario, exchange_blocked
from nhisim.scenario.strategy import account_users, resolve_strategy, scenario_strategy
from nhisim.sim import attacker, bulk, detection, threats
from nhisim.sim.agenda import Agenda
from nhisim.sim.compiled import CompiledTask, CompiledWorld, compile_world
from nhisim.sim.credentials import ISSUE_REASONS, Credential, propagation_delay
from nhisim.sim.decisions import INTENT_CODES, outcome
from nhisim.sim.enforcement import make_evaluator
from nhisim.sim.eventlog import EventLog
from nhisim.sim.pep import RISK_WINDOW
from nhisim.sim.plans import Program, Stream
from nhisim.sim.rng import stream, uniform_at
from nhisim.sim.state import Incident, TaskPlan, TaskRun
from nhisim.strategies import Strategy

__all__ = ["Incident", "Simulation", "TaskRun"]

SESSION_REASON = "session of {human} signed in for task {task}, which runs on its credential"
PROGRESS_STEPS = 100  # a run watched through ``progress`` reports each hundredth of its horizon


class _ReviewQueue(list):
    """The requests waiting for a reviewer. At the run's end they are dropped all at once: a
    request closed then has nothing to leave (SimPy removes each by a scan of the queue)."""

    def remove(self, request: Any) -> None:
        if self:
            super().remove(request)


class _Reviewers(simpy.Resource):
    """The approvers' queue: a SimPy resource whose waiting requests can be dropped at once."""

    PutQueue = _ReviewQueue


class Simulation:
    """One run: a scenario, a strategy, a seed."""

    @without_collector  # compiling a large estate makes hundreds of thousands of containers, none garbage
    def __init__(self, scenario: Scenario, strategy: str | Strategy | Any = "rbac", seed: int | None = None,
                 horizon: float | None = None, world: CompiledWorld | None = None, engine: str | None = None,
                 bulk: bool = True) -> None:
        self.scenario = scenario
        if isinstance(strategy, str):
            self.strategy = scenario_strategy(scenario, strategy)
        else:
            self.strategy = resolve_strategy(strategy, scenario=scenario)
        self.seed = scenario.run.seed if seed is None else int(seed)
        self.horizon = scenario.run.horizon if horizon is None else float(horizon)
        # a valid scenario can still describe a run that never ends: refuse it before starting
        workload.check_run(scenario, self.strategy, self.horizon)
        self.world = world or compile_world(scenario)
        self.bulk = bulk  # quiet work computed in bulk (nhisim.sim.bulk); False: everything call by call
        self.bulk_involved: set[str] = set()  # the principals whose work stays call by call (bulk.quiet_streams)
        self.identities_in_bulk: set[str] = set()  # agents whose identity documents are renewed in bulk
        self.env = simpy.Environment()
        self.agenda = Agenda(self.env)
        self.log = EventLog(meta={"scenario": scenario.name, "strategy": self.strategy.name, "seed": self.seed,
                                  "horizon": self.horizon})
        self.quarantined: dict[str, float] = {}
        self.alerts: dict[str, int] = {}
        self.bulk_executor: bulk.BulkExecutor | None = None  # what computes quiet work in bulk (once running)
        self.alert_log: list[tuple[float, str]] | None = None  # (time, agent) of each alert, for whoever reads it
        self.retired: set[str] = set()
        spec = scenario.strategies.get(self.strategy.name)
        self.engine = engine or (spec.engine if spec is not None and spec.engine else "native")
        self.pep = make_evaluator(self.engine, self.strategy, self.world, self.quarantined, self.alerts,
                                  scenario=scenario, policies=list(spec.policies) if spec is not None else [])
        self.keys: dict[str, Credential] = {}  # current static key of each identity
        self.identity_docs: dict[str, Credential] = {}
        # what each agent (and each human holding a credential) holds
        self.holdings: dict[str, list[Credential]] = {a: [] for a in (*self.world.agents, *self.world.human_scope)}
        self._hold_limit: dict[str, int] = {}  # holder -> length of its holdings that prompts a prune
        self.last_token: dict[str, Credential] = {}
        self.current_task: dict[str, TaskRun] = {}
        self.incidents: list[Incident] = []
        self.outages: list[tuple[float, float]] = []
        self.approvers = _Reviewers(self.env, capacity=scenario.approval.reviewers)
        # when each reviewer is next free once every review asked so far is done: reviews are served first
        # come, first served and none leaves the queue, so each one's end is known when it is asked for
        self._reviewers_free = [0.0] * scenario.approval.reviewers
        self.in_review: dict[str, float] = {}  # root task id -> when the review its tree waits for ends
        self._generations: dict[str, int] = {}  # "kind-subject" -> keys and identity documents issued so far
        # each principal's controls (the strategy's default, or its own in a mixed estate)
        self._controls: dict[str, Strategy] = {p: self.strategy.of(p) for p in (
            *self.world.agents, *self.world.accounts, *self.world.human_scope)}
        self._static = {a for a in self.world.agents if self._controls[a].credential == "static_key"}
        self._static_cache: dict[str, list[Credential]] = {}
        self._scope_values: dict[frozenset[int], float] = {}
        self._task_counter: dict[str, int] = {}  # agent/template -> tasks a plug-in started
        self._issuer_draws: dict[str, int] = {}  # agent -> issuer round trips drawn outside any task or incident
        self._programs: dict[tuple[str, str, int], Program] = {}
        self._issuer_latency = scenario.issuer.latency
        # the scenario's distributions as plain functions: no model lookups per draw
        self._draw_review_time = scenario.approval.review_time.sampler()
        self._draw_policy_latency = scenario.redeclaration.policy_latency.sampler()
        self._policy_max_level = SENSITIVITY_LEVELS.index(scenario.redeclaration.policy_max_sensitivity)
        self._redeclare_rngs: dict[str, Random] = {}
        self._anomaly_p = scenario.detection.anomaly_alert_probability
        self._anomaly_rngs: dict[str, Random] = {}
        # agent -> principal -> (the copy of its key the agent read, the resource it read it in)
        self.copies: dict[str, dict[str, tuple[Credential, str]]] = {}
        self._reissue_watchers: dict[tuple[str, str], list[Callable[[Credential], None]]] = {}
        # each threat's own detection settings, and the threats that share one detection, by incident id
        self.threat_detection = {t.effective_id(i): t.detection for i, t in enumerate(scenario.threats)}
        self.detection_partners = detection.shared_groups(scenario)
        self._cascades = any(group.cascade_revocation for group, _ in self.strategy.groups().values())
        self._op_secrets = self.world.op_secrets

    def controls(self, principal: str | None) -> Strategy:
        """The knobs ``principal`` (an agent or shared account) works under."""
        return self._controls.get(principal, self.strategy) if principal is not None else self.strategy

    # ------------------------------------------------------------------ running

    def run(self, progress: Callable[[float, float], None] | None = None) -> EventLog:
        """Simulate until the horizon and return the event log.

        ``progress(now, horizon)`` (optional) is called as simulated time passes each hundredth
        of a finite horizon. The run stops and resumes SimPy at those moments; a stop has no
        effect on the model (SimPy's events and the agenda's keep their order), so the event
        log is the same with or without it.
        """
        # A run makes no cyclic garbage as it goes (what it drops, reference counting frees), but
        # the collector, triggered by allocations, would walk every live task, plan and credential
        # at each full collection: a third of a long run, growing faster than the estate (and, on
        # a 10,000-agent estate, half a second of walks while the keys and arrival streams are
        # set up). Under cascade revocation a credential and the tokens exchanged from it refer to
        # each other: dead, they are cycles only the collector frees, so it runs.
        with collector_paused(not self._cascades):
            self._issue_standing_credentials()
            quiet = bulk.quiet_streams(self) if self.bulk else {}
            in_bulk = []
            for agent in self.world.agents.values():
                for template_id in agent.tasks:
                    template = self.world.tasks[template_id]
                    rate = template.rate * agent.rate_multiplier
                    if rate > 0:
                        if (agent.id, template_id) in quiet:
                            in_bulk.append((agent.id, template, rate, quiet[(agent.id, template_id)]))
                        else:
                            self.agenda.start(self._arrivals(agent.id, template, rate))
            renewed = bulk.identities_to_renew(self) if self.bulk else []
            executor = self.bulk_executor = bulk.BulkExecutor(self, in_bulk, renewed) if in_bulk or renewed else None
            if executor is not None:
                self.agenda.start(executor.run())
            threats.install_threats(self)
            try:
                if progress is None or not math.isfinite(self.horizon):
                    self.env.run(until=self.horizon)
                else:
                    for step in range(1, PROGRESS_STEPS + 1):
                        self.env.run(until=self.horizon * step / PROGRESS_STEPS)
                        progress(self.env.now, self.horizon)
            finally:
                self.approvers.put_queue.clear()  # the reviews still waiting go at once, not one scan each
                self.agenda.close()  # work still in flight at the horizon stops here
                if executor is not None:
                    executor.finish()
        detection.finalize_incidents(self)
        self.log.run_end(self.horizon, reason=f"horizon reached ({self.horizon:g} s)")
        return self.log

    # ------------------------------------------------------------------ credentials

    def new_credential(self, kind: str, subject: str, holders: set[str], scope: frozenset[int], lifetime: float,
                       *, binding: str | None = None, task: TaskRun | None = None, intent: CompiledTask | None = None,
                       chain: tuple[str, ...] = (), parent: Credential | None = None,
                       mint_scope: frozenset[int] = frozenset(), issued_at: float | None = None,
                       malicious: bool = False, actor: str | None = None, incident: str = "",
                       reason: str = "", named_by: Incident | None = None, log: bool = True) -> Credential:
        """Create a credential and log its issue (``log=False``: a row the bulk path wrote already).

        Its id never depends on the order of events elsewhere in the run: ``<kind>-<incident>#n``
        for the n-th credential an attacker obtains in incident ``named_by``; ``<kind>-<task>``
        for the first credential issued for ``task`` (``.2``, ``.3`` for its renewals and
        re-issues); ``<kind>-<subject>#g`` for the g-th key or identity document of ``subject``.
        """
        now = self.env.now if issued_at is None else issued_at
        cred = Credential(
            id=self._credential_id(kind[:3], subject, task, named_by), kind=kind, subject=subject, holders=holders,
            scope=scope,
            issued_at=now, expires_at=now + lifetime, binding=binding or self.controls(subject).binding,
            mint_scope=mint_scope, task=task.id if task else None, human=task.human if task else None,
            intent=intent, chain=chain, parent=parent,
        )
        for holder in holders:
            self._hold(holder, cred)
        if not log:
            return cred
        value = self._scope_values.get(scope)
        if value is None:
            value = self._scope_values[scope] = self.world.value(scope)
        self.log.issue(self.env.now, subject=subject, actor=actor or subject, credential=cred.id,
                       chain=cred.chain_text, task=cred.task, audit_human=cred.human, malicious=malicious, kind=kind,
                       reason=reason or ISSUE_REASONS.get(kind, kind), value=value, until=cred.expires_at,
                       incident=incident or None)
        return cred

    def _credential_id(self, prefix: str, subject: str, task: TaskRun | None, incident: Incident | None) -> str:
        if incident is not None:
            incident.issued += 1
            return f"{prefix}-{incident.id}#{incident.issued}"
        if task is not None:
            task.issued += 1
            return f"{prefix}-{task.id}" if task.issued == 1 else f"{prefix}-{task.id}.{task.issued}"
        key = f"{prefix}-{subject}"
        generation = self._generations[key] = self._generations.get(key, 0) + 1
        return f"{key}#{generation}"

    def _issuer_round_trip(self, agent: str, ctx: TaskRun | None, incident: Incident | None) -> float:
        """The time of a round trip to the token issuer that no plan drew: the n-th of the incident, else of
        the task, else of the agent (a draw of its own, so it does not depend on what other tasks did)."""
        owner: Incident | TaskRun | None = incident if incident is not None else ctx
        if owner is not None:
            owner.issuer_draws += 1
            key, n = owner.id, owner.issuer_draws
        else:
            key = agent
            n = self._issuer_draws[agent] = self._issuer_draws.get(agent, 0) + 1
        return self._issuer_latency.quantile(uniform_at(self.seed, "issuer", key, n))

    def hold(self, holder: str, cred: Credential) -> None:
        """``holder`` now holds ``cred`` too (a delegator handed it on)."""
        cred.holders.add(holder)
        self._hold(holder, cred)

    def _hold(self, holder: str, cred: Credential) -> None:
        """``holder`` now holds ``cred``. Dead credentials are dropped as they pile up (a dead one
        never works again, and every reader asks for usable ones), so a holder keeps about what it
        can still use, not its history: a prune each time the list doubles, at most."""
        held = self.holdings.get(holder)
        if held is None:
            return
        held.append(cred)
        if len(held) > self._hold_limit.get(holder, 8):
            now = self.env.now
            held[:] = [c for c in held if c.usable(now)]
            self._hold_limit[holder] = max(8, 2 * len(held))

    def revoke(self, cred: Credential, reason: str, *, by_response: bool = False, incident: str = "",
               at: float | None = None) -> None:
        """Revoke a credential; the revocation is effective after it propagates."""
        now = self.env.now if at is None else at
        if cred.revoked_at <= now or now >= cred.expires_at:
            return
        cred.revoked_at = now
        controls = self.controls(cred.subject)
        cred.effective_at = propagation_delay(controls.propagation, controls.cache_ttl, now, cred.expires_at)
        cred.revoked_by_response = by_response
        cred.revoke_reason = reason
        self.log.revoke(now, subject=cred.subject, credential=cred.id, chain=cred.chain_text, by_response=by_response,
                        reason=reason, effective_at=cred.effective_at, incident=incident or None)
        if cred.children and controls.cascade_revocation:  # down the chain of tokens exchanged from it
            why = reason if reason.startswith("cascade: ") else f"cascade: {reason}"
            for child in cred.children:
                self.revoke(child, why, by_response=by_response, incident=incident, at=at)

    def _exchanged_from(self, parents: list[Credential], token: Credential) -> None:
        """Remember that ``token`` was exchanged from ``parents``, for those whose subject revokes in cascade."""
        now = self.env.now
        for parent in parents:
            if self.controls(parent.subject).cascade_revocation:
                children = parent.children
                if children is None:
                    parent.children = [token]
                else:
                    if len(children) >= 32:  # forget dead tokens so memory stays flat over long runs
                        children[:] = [c for c in children if now < c.unusable_at]
                    children.append(token)

    def account_users(self, account: str) -> tuple[str, ...]:
        """The holders of a shared account that use its key (none when the account is not in use)."""
        return account_users(self.strategy, account, self.world.accounts[account].holders)

    def _issue_standing_credentials(self) -> None:
        world = self.world
        covered: set[str] = set()
        for account in world.accounts.values():
            users = self.account_users(account.id)
            if users:  # one key, carrying the account's roles and those of the holders that use it
                scope = account.role_scope.union(*(world.agents[h].role_scope for h in users))
                self._issue_key(account.id, "shared_key", set(users), scope)
                covered.update(users)
        for agent in world.agents.values():
            s = self._controls[agent.id]
            if s.credential == "static_key":
                if agent.id not in covered:
                    self._issue_key(agent.id, "static_key", {agent.id}, agent.role_scope)
            else:
                age = stream(self.seed, "identity-age", agent.id).uniform(0, min(s.identity_ttl, 1e9))
                self.issue_identity(agent.id, lifetime=max(s.identity_ttl - age, 1.0))
        for human, scope in world.human_scope.items():  # a human's own key (under JIT it signs in per task)
            if self._controls[human].credential == "static_key":
                self._issue_key(human, "static_key", {human}, scope)

    def _issue_key(self, subject: str, kind: str, holders: set[str], scope: frozenset[int],
                   fresh: bool = False) -> Credential:
        rotation = self.controls(subject).rotation
        if fresh or not math.isfinite(rotation):
            lifetime = rotation
        else:  # keys in service have random ages, so rotations fall anywhere in the period
            lifetime = rotation - stream(self.seed, "key-age", subject).uniform(0, rotation)
        cred = self.new_credential(kind, subject, holders, scope, lifetime,
                                   reason=f"{kind.replace('_', ' ')} of {subject}, held by {', '.join(sorted(holders))}")
        if subject in self.world.human_scope:
            cred.mfa = self.controls(subject).mfa
        self.keys[subject] = cred
        self._static_cache.clear()
        if math.isfinite(cred.expires_at):
            self.env.process(self._rotate(cred))
        self._reissued(cred)
        return cred

    def reissue_key(self, key: Credential) -> Credential:
        """A fresh key for ``key``'s subject (same kind, holders and scope), in service from now."""
        return self._issue_key(key.subject, key.kind, set(key.holders), key.scope, fresh=True)

    def current_key(self, subject: str) -> Credential | None:
        """The static (or shared) key in service for an agent or a shared account."""
        return self.keys.get(subject)

    def identity_of(self, agent: str) -> Credential | None:
        """An agent's current workload identity document.

        The documents of an agent renewed in bulk (:class:`~nhisim.sim.bulk.IdentityRenewals`)
        are made when read: each one the engine would have issued since, as it would have.
        """
        doc = self.identity_docs.get(agent)
        if doc is not None and agent in self.identities_in_bulk:
            now = self.env.now
            renewal = doc.issued_at + max(doc.expires_at - doc.issued_at, 0.0)  # when its renewal's timeout fires
            while renewal <= now:  # at a tie the renewal (a SimPy event) comes first
                doc = self._renewed_identity(agent, renewal)
                renewal = doc.issued_at + max(doc.expires_at - doc.issued_at, 0.0)
        return doc

    def _renewed_identity(self, agent: str, at: float) -> Credential:
        """The document ``issue_identity`` issues at ``at``, made without its row (the bulk path wrote it)."""
        return self._identity(agent, self.controls(agent).identity_ttl, issued_at=at, log=False)

    def latest_token(self, agent: str) -> Credential | None:
        """The last task token an agent obtained (possibly dead by now)."""
        return self.last_token.get(agent)

    def _rotate(self, cred: Credential) -> Generator:
        yield self.env.timeout(cred.expires_at - self.env.now)
        if self.keys.get(cred.subject) is cred and cred.effective_at > self.env.now:
            self.log.rotate(self.env.now, subject=cred.subject, credential=cred.id,
                            reason=f"scheduled rotation of {cred.id} "
                                   f"({self.controls(cred.subject).rotation / 86400:g}-day policy)")
            self.reissue_key(cred)

    def issue_identity(self, agent: str, lifetime: float | None = None) -> Credential:
        """A fresh workload identity document for ``agent`` (renewed at its expiry while the agent works)."""
        return self._identity(agent, self.controls(agent).identity_ttl if lifetime is None else lifetime)

    def _identity(self, agent: str, lifetime: float, *, issued_at: float | None = None, log: bool = True
                  ) -> Credential:
        """A workload identity document for ``agent``, now in service. ``log=False``: one the bulk path
        renewed (its row written, its successor made when read), else logged and renewed at its expiry."""
        s = self.controls(agent)
        mint_scope = self.world.agents[agent].role_scope if s.jit_scope == "role" else frozenset()
        doc = self.new_credential("workload_identity", agent, {agent}, frozenset(), lifetime, mint_scope=mint_scope,
                                  issued_at=issued_at, log=log,
                                  reason=f"workload identity document of {agent} (attested, no secret at rest)")
        self.identity_docs[agent] = doc
        if log:
            self.env.process(self._renew_identity(doc))
        self._reissued(doc)
        return doc

    def watch_reissues(self, subject: str, kind: str, callback: Callable[[Credential], None]) -> None:
        """Call ``callback`` with every ``kind`` credential (a key, an identity document) ``subject`` is issued
        from now on (a secret written into the same place again after each rotation)."""
        self._reissue_watchers.setdefault((subject, kind), []).append(callback)

    def _reissued(self, cred: Credential) -> None:
        if self._reissue_watchers:
            for callback in self._reissue_watchers.get((cred.subject, cred.kind), ()):
                callback(cred)

    def _renew_identity(self, doc: Credential) -> Generator:
        yield self.env.timeout(max(doc.expires_at - self.env.now, 0.0))
        agent = doc.subject
        if agent in self.identities_in_bulk:
            return  # renewed in bulk: the document is made when read (identity_of)
        while agent not in self.retired and agent not in self.quarantined:
            if self.identity_docs.get(agent) is not doc:
                return  # replaced meanwhile (re-provisioned): its successor renews itself
            if self.issuer_up(self.env.now):
                self.issue_identity(agent)
                return
            yield self.env.timeout(self.scenario.issuer.retry_after)

    def add_outage(self, start: float, end: float) -> None:
        """The token issuer is down from ``start`` to ``end``."""
        self.outages.append((start, end))

    def issuer_up(self, now: float) -> bool:
        for start, end in self.outages:
            if start <= now < end:
                return False
        return True

    def obtain_token(self, agent: str, scope: frozenset[int], ctx: TaskRun | None, *, presenter: str | None = None,
                     identity: Credential | None = None, malicious: bool = False, incident: Incident | None = None,
                     kind: str = "jit_token", lifetime: float | None = None, chain: tuple[str, ...] = (),
                     parent: Credential | None = None, intent: CompiledTask | None = None,
                     latency: float | None = None) -> Generator[Any, Any, Credential | None]:
        """Ask the issuer for a token (a SimPy sub-process); None when refused."""
        s = self.controls(agent)
        presenter = presenter or agent
        retries = self.scenario.issuer.max_retries
        attempt = 0
        while True:
            delay = latency if latency is not None and attempt == 0 else self._issuer_round_trip(agent, ctx, incident)
            yield delay
            now = self.env.now
            doc = identity or self.identity_of(agent)
            refusal = None
            if not self.issuer_up(now):
                refusal = ("issuer_down", "the token issuer is unavailable")
            elif agent in self.retired and s.offboarding_revokes:  # else its grants are orphaned, still valid
                refusal = ("retired", f"{agent} has been offboarded")
            elif agent in self.quarantined and now >= self.quarantined[agent]:
                refusal = ("quarantined", f"{agent} is quarantined")
            elif s.credential == "jit_token" and kind == "jit_token" and (doc is None or not doc.usable(now)):
                refusal = ("identity_unusable", f"the workload identity of {agent} is expired or revoked")
            elif doc is not None and kind == "jit_token" and not doc.bound_to(presenter):
                refusal = ("sender_constraint", "the identity document is bound to its workload; the presenter is not")
            elif s.jit_scope == "intent" and kind == "jit_token" and (intent is None or ctx is None):
                refusal = ("no_intent", "intent-scoped tokens need a human-originated task intent")
            if refusal is None:
                break
            attempt += 1
            if refusal[0] == "issuer_down" and attempt <= retries and not malicious:
                yield self.scenario.issuer.retry_after
                continue
            self.log_refusal(agent, presenter, ctx, refusal, malicious, incident)
            return None
        ttl = s.ttl if lifetime is None else lifetime
        actor = incident.actor if incident else agent
        return self.new_credential(kind, agent if not chain else chain[-1], {agent}, scope, ttl, task=ctx,
                                   intent=intent, chain=chain, parent=parent, malicious=malicious, actor=actor,
                                   incident=incident.id if incident else "", named_by=incident)

    def log_refusal(self, agent: str, presenter: str, ctx: TaskRun | None, refusal: tuple[str, str],
                    malicious: bool, incident: Incident | None) -> None:
        """Record that the issuer refused ``agent`` a token: ``refusal`` is (code, reason)."""
        self.log.issue_refused(self.env.now, agent=agent, presenter=presenter,
                               actor=incident.actor if incident else agent, task=ctx.id if ctx else None,
                               malicious=malicious, code=refusal[0], reason=refusal[1],
                               incident=incident.id if incident else None)

    # ------------------------------------------------------------------ workload

    def _arrivals(self, agent: str, template: CompiledTask, rate: float) -> Generator:
        """Tasks of ``template`` arriving at ``agent``: ``agent/template#n`` is the stream's n-th arrival."""
        key = f"{agent}/{template.id}"
        arrivals = Stream(self.seed, key, rate, self.program(agent, template.id))
        program, extras, switch_program = arrivals.program, arrivals.extras, self.switch_program
        while True:
            gap, row = arrivals.next()
            yield gap
            plan = program.plan(row, extras, switch_program)
            if agent in self.retired:
                continue
            self.agenda.start(self._task(agent, template, plan, None, task_id=f"{key}#{arrivals.taken}"))

    def program(self, agent: str, template_id: str, depth: int = 0) -> Program:
        """The plan layout of ``template_id`` served by ``agent`` (a goal switch's new objective starts at depth 1)."""
        found = self._programs.get((agent, template_id, depth))
        if found is None:
            found = self._programs[(agent, template_id, depth)] = Program(
                self.world, agent, self.world.tasks[template_id], review=self.scenario.approval.review_time,
                issuer_latency=self._issuer_latency, depth=depth)
        return found

    def switch_program(self, agent: str, template_id: str) -> Program:
        """The plan layout of a goal switch's new objective (it starts at depth 1)."""
        return self.program(agent, template_id, 1)

    def next_task_id(self, agent: str, template: CompiledTask) -> str:
        """A fresh id for a task a plug-in starts (an attacker's sub-task): ``agent/template~n``."""
        key = f"{agent}/{template.id}"
        n = self._task_counter.get(key, 0) + 1
        self._task_counter[key] = n
        return f"{key}~{n}"

    @staticmethod
    def sub_task_id(ctx: TaskRun, delegate: str, sub: CompiledTask) -> str:
        """The id of the sub-task ``ctx`` delegates next: ``<its id>>delegate/template`` (``#k`` for its k-th
        delegation, from the second on)."""
        ctx.delegations += 1
        name = f"{ctx.id}>{delegate}/{sub.id}"
        return name if ctx.delegations == 1 else f"{name}#{ctx.delegations}"

    def task_process(self, agent: str, template: CompiledTask, plan: TaskPlan, task_id: str) -> Generator:
        """A root task of ``template`` at ``agent`` with its plan, as a process to start on the agenda."""
        return self._task(agent, template, plan, None, task_id=task_id)

    @property
    def cascades(self) -> bool:
        """Whether some subject's controls revoke the tokens exchanged from its credentials in cascade."""
        return self._cascades

    @property
    def anomaly_probability(self) -> float:
        """The chance behavioural analytics flag a request outside its principal's usual pattern."""
        return self._anomaly_p

    def _task(self, agent: str, template: CompiledTask, plan: TaskPlan, parent: TaskRun | None,
              passed: list[Credential] | None = None, token: Credential | None = None,
              task_id: str | None = None, detached: bool = False) -> Generator[Any, Any, bool]:
        """One task instance; a sub-task receives passed-through credentials or an exchanged token.

        A ``detached`` sub-task (a hand-off token exchange could not make, run on the
        delegate's own authority) keeps its parent for accounting but neither its chain nor
        its originating human.
        """
        env = self.env
        human = template.human if parent is None or detached else parent.human
        chain = (parent.chain if parent and not detached else ()) + (agent,)
        ctx = TaskRun(task_id or self.next_task_id(agent, template), agent, template, human, plan, chain, parent,
                      env.now)
        if passed:
            ctx.creds = passed
        if token is not None:
            ctx.token = token
            ctx.exchanged = True
        how = "arrival" if parent is None else "exchanged" if token is not None else \
            "detached" if detached else "delegated"
        self.log.task_start(env.now, agent=agent, chain=">".join(chain), task=ctx.id, human=human, how=how)
        previous = self.current_task.get(agent)
        self.current_task[agent] = ctx
        if parent is None and template.on_behalf:
            ok, why, lent = yield from self._on_behalf(ctx)
            if ok:
                ok, why = yield from self._run_steps(ctx)
            if self._controls[human].revoke_at_task_end:  # the requester's controls end what it lent the task
                for cred in lent:
                    self.revoke(cred, f"task {ctx.id} ended")
        else:
            ok, why = yield from self._run_steps(ctx)
        if self.current_task.get(agent) is ctx:
            if previous is not None:
                self.current_task[agent] = previous
            else:
                del self.current_task[agent]
        if self._controls[agent].revoke_at_task_end:
            for cred in ctx.own:
                self.revoke(cred, f"task {ctx.id} ended")
        if ctx.redeclarations:
            self._redeclare_rngs.pop(ctx.id, None)
        self.log.task_end(env.now, agent=agent, task=ctx.id, human=human, ok=ok, root=parent is None, why=why,
                          latency=env.now - ctx.start)
        return ok

    def _on_behalf(self, ctx: TaskRun) -> Generator[Any, Any, tuple[bool, str, list[Credential]]]:
        """Task ``ctx`` runs on its requester's credential: the human's standing key, or (under JIT
        controls) a session it signs in for the task. The human's controls hand it on: the agent
        holds it (pass-through), or a token exchanged from it (scope ∩ the task's intent, TTL ≤
        the human's ``ttl`` and the credential's life, chain human>agent); either way it presents
        that for what it covers and its own authority for the rest. Returns (ok, why not, the
        credentials issued for the task: a session, a token exchanged), which the requester's
        controls revoke at the task's end (``revoke_at_task_end``)."""
        human = ctx.human
        controls = self._controls[human]
        lent: list[Credential] = []
        if controls.credential == "static_key":
            source = self.keys.get(human)
        else:
            source = yield from self._sign_in(ctx, human, controls)
            if source is None:
                return False, f"{human} could not sign in for the task (the token issuer refused)", lent
            lent.append(source)
        now = self.env.now
        exchange = controls.delegation == "token_exchange"
        lifetime = min(controls.ttl, source.unusable_at - now) if source is not None else 0.0
        if source is None or not source.usable(now) or (exchange and lifetime <= 0):
            self.log_refusal(ctx.agent, ctx.agent, ctx, outcome("deny", "requester_unusable")[1:], False, None)
            return False, f"{human}'s credential is expired or revoked", lent
        if not exchange:
            if ctx.agent not in source.holders:
                source.holders.add(ctx.agent)
                self._hold(ctx.agent, source)
            ctx.creds = [source]
            return True, "", lent
        chain = (human, ctx.agent)
        token = yield from self.obtain_token(ctx.agent, source.scope & ctx.intent.intent, ctx, kind="delegated_token",
                                             lifetime=lifetime, chain=chain, parent=source, intent=ctx.template)
        if token is None:
            return False, f"no token could be exchanged from {human}'s credential", lent
        ctx.creds = [token]
        lent.append(token)
        if self._cascades:
            self._exchanged_from([source], token)
        return True, "", lent

    def _sign_in(self, ctx: TaskRun, human: str, controls: Strategy) -> Generator[Any, Any, Credential | None]:
        """A session token for ``human`` for task ``ctx`` (its roles, ∩ the task's intent under intent
        scope; TTL ``ttl``), after an issuer round-trip; None when the issuer is down past the retries."""
        attempt = 0
        while True:
            yield self._issuer_round_trip(ctx.agent, ctx, None)
            if self.issuer_up(self.env.now):
                break
            attempt += 1
            if attempt > self.scenario.issuer.max_retries:
                self.log_refusal(ctx.agent, ctx.agent, ctx, outcome("deny", "issuer_down")[1:], False, None)
                return None
            yield self.scenario.issuer.retry_after
        scope = self.world.human_scope[human]
        intent = ctx.intent if controls.jit_scope == "intent" else None
        if intent is not None:
            scope = scope & intent.intent
        session = self.new_credential("jit_token", human, {human}, scope, controls.ttl, task=ctx, intent=intent,
                                      reason=SESSION_REASON.format(human=human, task=ctx.id))
        self.last_token[human] = session
        return session

    def _run_steps(self, ctx: TaskRun) -> Generator[Any, Any, tuple[bool, str]]:
        """The task's steps; if its requester redirects it midway, the new objective's steps after."""
        switch = ctx.plan.switch
        template = ctx.template
        if switch is None:
            return (yield from self._run_objective(ctx, template, ctx.plan, len(template.steps)))
        after, target_id, target_plan = switch
        ok, why = yield from self._run_objective(ctx, template, ctx.plan, after)
        if not ok:
            return ok, why
        target = self.world.tasks[target_id]
        self._switch_goal(ctx, target)
        return (yield from self._run_objective(ctx, target, target_plan, len(target.steps)))

    def _run_objective(self, ctx: TaskRun, template: CompiledTask, plan: TaskPlan, until: int
                       ) -> Generator[Any, Any, tuple[bool, str]]:
        """The first ``until`` steps of ``template`` for task ``ctx``, as ``plan`` drew them."""
        env = self.env
        start = env.now
        steps_plan, overreach = plan.steps, plan.overreach
        for index, step in enumerate(template.steps[:until]):
            if env.now - start > template.deadline:
                return False, f"deadline of {template.deadline:g} s passed"
            if overreach is not None and overreach[0] == index:
                done = yield from self._overreach(ctx, overreach[1], plan.needed)
                if not done:
                    return False, "an operation the task needed, found at run time, was denied"
            if step.delegate_to is not None:
                ok = yield from self._delegate(ctx, step.delegate_to, self.world.tasks[step.sub_task],
                                               steps_plan[index])
                if not ok:
                    return False, f"sub-task {step.sub_task} delegated to {step.delegate_to} failed"
                continue
            duration, review_time, approve_roll, args = steps_plan[index]
            if step.approval:
                approved, wait = yield from self.approval(review_time, approve_roll < self.scenario.approval
                                                          .approval_probability, ctx)
                self.log.approval(env.now, agent=ctx.agent, task=ctx.id, approved=approved, wait=wait,
                                  reason=f"a human {'approved' if approved else 'rejected'} "
                                    f"{self.world.label(step.op)} after {wait:.0f} s")
                if not approved:
                    return False, f"a human rejected {self.world.label(step.op)}"
            # a step is the task's own work; it is out of intent only if its arguments break the intent
            in_intent = args is None or template.arguments_hold(step.op, args)
            allowed = yield from self._call(ctx, step.op, step.destination, in_intent, args)
            if not allowed:
                return False, f"{self.world.label(step.op)} was denied"
            yield duration
        return True, "all steps done"

    def _switch_goal(self, ctx: TaskRun, target: CompiledTask) -> None:
        """The requester redirects task ``ctx`` to ``target``: its intent follows if the strategy says so."""
        controls = self._controls[ctx.agent]
        follows = controls.intent_follows_switch
        old = ctx.intent.template or ctx.template.id
        if follows:
            ctx.intent = target
            token = ctx.token
            if token is not None and token.intent is not None and not ctx.exchanged:
                # the token is bound to the old objective: the next call obtains one for the new
                if controls.revoke_at_task_end:
                    self.revoke(token, f"task {ctx.id} switched from {old} to {target.id}")
                ctx.token = None
        self.log.switch(self.env.now, agent=ctx.agent, task=ctx.id, to=target.id,
                        reason=f"the requester redirected task {ctx.id} from {old} to {target.id}; "
                               + ("its intent follows the new objective" if follows
                                  else f"its intent stays bound to {old}"))

    def _overreach(self, ctx: TaskRun, which: float, needed: bool) -> Generator[Any, Any, bool]:
        """A runtime discovery: one operation outside the intent; False if the task needed it and it was denied."""
        agent = self.world.agents[ctx.agent]
        candidates = sorted(agent.tool_ops - ctx.intent.intent)
        if not candidates:
            return True
        op = candidates[int(which * len(candidates))]
        tool, action, resource = self.world.op_keys[op]
        self.log.discover(self.env.now, agent=ctx.agent, task=ctx.id, tool=tool, action=action, resource=resource,
                          needed=needed, reason=f"{ctx.agent} discovered {self.world.label(op)} at run time"
                          + ("; its task needs it" if needed else "; its task does not need it"))
        allowed = yield from self._call(ctx, op, "internal", False, self.world.op_default_args[op])
        return allowed or not needed

    def approval(self, review_time: float, approve: bool, task: TaskRun | None = None
                 ) -> Generator[Any, Any, tuple[bool, float]]:
        """Wait for a reviewer's slot and their review; (``approve``, seconds waited).

        While it waits, :attr:`in_review` tells when the review of ``task``'s tree ends (a tree
        does one thing at a time: it makes no call before then).
        """
        start = self.env.now
        ends = max(start, heapq.heappop(self._reviewers_free)) + review_time
        heapq.heappush(self._reviewers_free, ends)
        root = task
        while root is not None and root.parent is not None:
            root = root.parent
        if root is not None:
            self.in_review[root.id] = ends
        try:
            with self.approvers.request() as slot:
                yield slot
                yield review_time
        finally:
            if root is not None:
                del self.in_review[root.id]
        assert self.env.now == ends, "a review ended other than first come, first served"
        return approve, self.env.now - start

    # ------------------------------------------------------------------ calls

    def credential_for(self, ctx: TaskRun, op: int) -> Generator[Any, Any, Credential | None]:
        """The credential a benign agent presents for ``op`` in task ``ctx``."""
        now = self.env.now
        if ctx.token is not None and ctx.exchanged:
            return ctx.token  # a delegate acting on an exchanged token has no other authority
        for cred in ctx.creds:  # passed through by the delegator
            if op in cred.scope and cred.usable(now):
                break
        else:
            cred = None
        if cred is not None:
            return cred
        if ctx.agent in self._static:
            return self.static_credential(ctx.agent, op)
        token = yield from self._task_token(ctx)
        return token

    @staticmethod
    def _keeps_token(token: Credential | None, now: float) -> bool:
        """Whether a task goes on presenting its own token rather than asking the issuer for one.

        A token revoked by an incident response is kept: the agent does not know, and its
        requests are denied (collateral) until it is re-provisioned.
        """
        return token is not None and now < token.expires_at and (now < token.effective_at
                                                                   or token.revoked_by_response)

    def task_token_scope(self, agent: str, intent: CompiledTask) -> frozenset[int]:
        """The scope of the token a task of ``agent`` asks for: its roles, ∩ the task's intent under intent scope."""
        scope = self.world.agents[agent].role_scope
        return scope & intent.intent if self._controls[agent].jit_scope == "intent" else scope

    def _task_token(self, ctx: TaskRun) -> Generator[Any, Any, Credential | None]:
        """This task's own JIT token: obtained from the issuer, or renewed when it has expired."""
        token = ctx.token
        if not self._keeps_token(token, self.env.now):
            latency = ctx.plan.issuer_latency if token is None else None
            token = yield from self.obtain_token(ctx.agent, self.task_token_scope(ctx.agent, ctx.intent), ctx,
                                                 intent=ctx.intent, latency=latency)
            if token is None:
                return None
            ctx.token = token
            ctx.own.append(token)
            self.last_token[ctx.agent] = token
        return token

    def static_credential(self, agent: str, op: int) -> Credential | None:
        """The static key an agent presents for ``op`` (its shared account's first, then its own)."""
        keys = self._static_cache.get(agent)
        if keys is None:
            keys = self._static_cache[agent] = self.static_keys_of(agent)
        for cred in keys:
            if op in cred.scope:
                return cred
        return keys[0] if keys else None

    def _call(self, ctx: TaskRun, op: int, destination: str, in_intent: bool, args: tuple | None = None
              ) -> Generator[Any, Any, bool]:
        if ctx.creds or ctx.exchanged:
            cred = yield from self.credential_for(ctx, op)
        elif ctx.agent in self._static:
            cred = self.static_credential(ctx.agent, op)
        elif self._keeps_token(ctx.token, self.env.now):
            cred = ctx.token  # what _task_token returns, without a generator round-trip
        else:
            cred = yield from self._task_token(ctx)
        if cred is None:
            return False  # the issuer refused; already logged
        env = self.env
        decision, code, reason = self.pep.decide(env.now, ctx.agent, cred, op, destination, ctx.intent, args)
        wait = 0.0
        if decision == "redeclare":
            cred, decision, code, reason, wait = yield from self.redeclare(ctx, cred, op, destination, args, reason)
        if decision == "escalate":
            approved, waited = yield from self.approval(ctx.plan.review_time, ctx.plan.approve_roll
                                                        < self.scenario.approval.approval_probability, ctx)
            wait += waited
            decision, code = ("allow", "approved") if approved else ("deny", "rejected")
            reason = f"escalated ({reason}); a human {'approved' if approved else 'rejected'} it"
            died = (self.pep.still_valid(env.now, ctx.agent, cred, op, destination, ctx.intent, args)
                    if approved else None)
            if died is not None and died[1] == "expired":  # the approval stands: renew the token and go on
                renewed = yield from self.credential_for(ctx, op)
                if renewed is not None and renewed.usable(env.now):
                    cred = renewed
                    died = self.pep.still_valid(env.now, ctx.agent, cred, op, destination, ctx.intent, args)
            if died is not None:
                decision, code, reason = died[0], died[1], f"approved, but meanwhile {died[2]}"
        elif code == "monitored" or (decision == "deny" and (code in INTENT_CODES or code == "redeclare_rejected")):
            self.note_alert(ctx.agent)
        if decision == "allow" and self._anomaly_p > 0 and self.out_of_pattern(cred, op):
            rng = self._anomaly_rngs.get(ctx.agent)
            if rng is None:
                rng = self._anomaly_rngs[ctx.agent] = stream(self.seed, "anomaly", ctx.agent)
            if rng.random() < self._anomaly_p:
                self.note_alert(ctx.agent)
        tool, action, resource = self.world.op_keys[op]
        principal = cred.chain[-1] if cred.chain else cred.subject
        self.log.request(env.now, principal=principal, presenter=ctx.agent, actor=ctx.agent, credential=cred.id,
                         chain=cred.chain_text, tool=tool, action=action, resource=resource, task=ctx.id,
                         audit_task=cred.task, audit_human=cred.human, malicious=False, in_intent=in_intent,
                         decision=decision, code=code, reason=reason, value=self.world.op_value[op],
                         records=self.world.op_records[op], wait=wait)
        if decision == "allow" and self._op_secrets[op]:
            self._copy_secrets(ctx.agent, op, resource)
        return decision == "allow"

    # ------------------------------------------------------------------ secrets kept in resources

    def harvestable_key(self, principal: str, resource: str) -> Credential | None:
        """The key of ``principal`` that ``resource`` holds now, if its controls keep it there: written in
        every resource that lists it (``secret_storage: config``), only in vaults (``vault``), or nowhere
        (``broker``, and JIT controls: a token is never at rest)."""
        key = self.keys.get(principal)
        if key is None:
            return None
        storage = self.controls(principal).secret_storage
        if storage == "config" or (storage == "vault" and resource in self.world.vaults):
            return key
        return None

    def _copy_secrets(self, agent: str, op: int, resource: str) -> None:
        """A benign read of a resource that holds keys: the agent now holds a copy of each (in its context
        or memory), which a later leak or hijack of the agent hands over."""
        for principal in self._op_secrets[op]:
            if principal != agent:
                key = self.harvestable_key(principal, resource)
                if key is not None:
                    self.copies.setdefault(agent, {})[principal] = (key, resource)

    def take_copies(self, incident: Incident) -> None:
        """The attacker has ``incident.copies_of``'s context: the keys that agent read in resources are its."""
        found = self.copies.get(incident.copies_of) if incident.copies_of is not None else None
        if found:
            for principal, (key, resource) in list(found.items()):
                if key.id not in incident.acquired:
                    self.acquire(incident, key, via="harvested", resource=resource,
                                 how=f"{incident.copies_of} had read {resource}, and the attacker took "
                                     f"{principal}'s key from its context")

    def harvest(self, incident: Incident, op: int) -> None:
        """The attacker's allowed ``op`` read a resource holding keys: it now holds each one kept there."""
        resource = self.world.op_keys[op][2]
        for principal in self._op_secrets[op]:
            key = self.harvestable_key(principal, resource)
            if key is not None and key.id not in incident.acquired:
                self.acquire(incident, key, how=f"the attacker read {resource} and obtained {principal}'s key",
                             via="harvested", resource=resource)

    def out_of_pattern(self, cred: Credential, op: int) -> bool:
        """Whether ``op`` is outside the usual pattern of the principal ``cred`` names (what behavioural
        analytics flag): no task template of that agent (or of the shared account's holders) calls it."""
        principal = cred.chain[-1] if cred.chain else cred.subject
        return op not in self.world.patterns.get(principal, frozenset())

    # ------------------------------------------------------------------ re-declared intent

    def redeclare(self, ctx: TaskRun, cred: Credential, op: int, destination: str, args: tuple | None,
                  why: str, *, incident: Incident | None = None
                  ) -> Generator[Any, Any, tuple[Credential, str, str, str, float]]:
        """Task ``ctx`` re-declares a wider intent (its own plus ``op``) and asks for it to be approved.

        Returns the credential to present, the decision on the request (decided again under
        the wider intent when approved), its code and reason, and the seconds a human made it
        wait. A policy approves what the agent's roles entitle it to on resources up to
        ``redeclaration.policy_max_sensitivity``; a human approves with a probability (that of
        a steered agent when ``incident`` is given).
        """
        env = self.env
        rules = self.scenario.redeclaration
        label = self.world.label(op)
        start = env.now
        ctx.redeclarations += 1
        approver = self._controls[ctx.agent].redeclare_approver
        agent = self.world.agents[ctx.agent]
        waited = 0.0
        if ctx.redeclarations > rules.max_per_task:
            approved, how = False, f"refused: the task has re-declared its intent {rules.max_per_task} times already"
        elif ctx.exchanged:
            approved, how = False, "refused: a delegated token's intent is its delegator's to widen, not its own"
        elif approver == "policy":
            yield self._draw_policy_latency(self._redeclare_rng(ctx, incident))
            level = self.world.op_level[op]
            if op not in agent.role_scope:
                approved, how = False, f"a policy refused it: {ctx.agent}'s roles do not grant {label}"
            elif level > self._policy_max_level:
                approved, how = False, (f"a policy refused it: {label} is more sensitive than a policy may approve "
                                        f"({rules.policy_max_sensitivity})")
            else:
                approved, how = True, f"a policy approved it ({ctx.agent}'s roles grant {label})"
        else:
            rng = self._redeclare_rng(ctx, incident)
            review, roll = self._draw_review_time(rng), rng.random()
            chance = rules.attacker_approval_probability if incident is not None else rules.approval_probability
            approved, waited = yield from self.approval(review, roll < chance, ctx)
            how = f"a human {'approved' if approved else 'refused'} it after {waited:.0f} s"
        self.log.redeclare(env.now, agent=ctx.agent, actor=incident.actor if incident else ctx.agent, task=ctx.id,
                           op=self.world.op_keys[op], approved=approved, wait=env.now - start,
                           malicious=incident is not None,
                           incident=incident.id if incident else None,
                           reason=f"{ctx.agent} re-declared the intent of task {ctx.id} to include {label} "
                                  f"({why}); {how}")
        if not approved:
            return cred, "deny", "redeclare_rejected", f"re-declared its intent to include {label}; {how}", waited
        ctx.intent = self.widened_intent(ctx.intent, op, destination)
        if cred.intent is not None:  # an intent-bound token: the issuer re-issues it for the wider intent
            intent_scoped = self._controls[ctx.agent].jit_scope == "intent"
            scope = agent.role_scope & ctx.intent.intent if intent_scoped else cred.scope
            token = yield from self.obtain_token(ctx.agent, scope, ctx, intent=ctx.intent,
                                                 malicious=incident is not None, incident=incident)
            if token is None:
                return cred, "deny", "redeclare_rejected", (f"re-declared its intent to include {label}; {how}, "
                                                            "but the issuer refused the new token"), waited
            ctx.token = token
            ctx.own.append(token)
            self.last_token[ctx.agent] = token
            cred = token
        decision, code, reason = self.pep.decide(env.now, ctx.agent, cred, op, destination, ctx.intent, args)
        if decision == "allow":
            code, reason = "redeclared", f"allowed once its re-declared intent was approved: {how}"
        elif decision == "redeclare":  # cannot happen: the wider intent holds the request
            decision, code = "deny", "redeclare_rejected"
        return cred, decision, code, reason, waited

    def widened_intent(self, intent: CompiledTask, op: int, destination: str) -> CompiledTask:
        """``intent`` plus ``op``: its resource's sensitivity and ``destination`` allowed, its arguments free."""
        ops = intent.intent | {op}
        ceiling = max(intent.ceiling, self.world.op_level[op])
        destinations = intent.destinations | {destination}
        constraints = {k: v for k, v in intent.constraints.items() if k != op}
        return self.world.declared_intent(intent, ops, ceiling, destinations, constraints,
                                          intent.redeclared | {op})

    def _redeclare_rng(self, ctx: TaskRun, incident: Incident | None) -> Random:
        if incident is not None:
            return incident.rng_attacker
        rng = self._redeclare_rngs.get(ctx.id)
        if rng is None:
            rng = self._redeclare_rngs[ctx.id] = stream(self.seed, "redeclare", ctx.id)
        return rng

    # ------------------------------------------------------------------ delegation

    def _delegate(self, ctx: TaskRun, delegate: str, sub: CompiledTask, plan: TaskPlan | None
                  ) -> Generator[Any, Any, bool]:
        if plan is None:  # delegation deeper than 16 hops: the sub-task never starts
            return False
        if delegate in self.retired:
            return False
        controls = self._controls[ctx.agent]  # the delegator's controls decide how it hands work on
        if controls.delegation == "pass_through":
            passed = ([ctx.token] if ctx.token is not None else []) + list(ctx.creds)
            if controls.credential == "static_key":
                passed += [c for c in self.static_keys_of(ctx.agent) if c not in passed]
            for cred in passed:
                if delegate not in cred.holders:
                    cred.holders.add(delegate)
                    self._hold(delegate, cred)
            ok = yield from self._task(delegate, sub, plan, ctx, passed=passed,
                                       task_id=self.sub_task_id(ctx, delegate, sub))
            return ok
        lost = self.lossy_hop(ctx.agent, delegate)
        if lost is not None:
            if controls.lossy_hop == "fail":
                self.log_refusal(delegate, ctx.agent, ctx, ("lossy_hop", f"token exchange cannot reach {delegate}: "
                                                                         f"{lost}"), False, None)
                return False
            # the delegate works on its own authority: the intent chain and the originating human are lost
            ok = yield from self._task(delegate, sub, plan, ctx, detached=True,
                                       task_id=self.sub_task_id(ctx, delegate, sub))
            return ok
        sub_id = self.sub_task_id(ctx, delegate, sub)
        token = yield from self.exchange_token(ctx, delegate, sub, sub_id, latency=plan.issuer_latency)
        if token is None:
            return False
        ok = yield from self._task(delegate, sub, plan, ctx, token=token, task_id=sub_id)
        return ok

    def lossy_hop(self, delegator: str, delegate: str) -> str | None:
        """Why token exchange cannot reach ``delegate`` from ``delegator`` (None when it can)."""
        return exchange_blocked(self.world.agents[delegator], self.world.agents[delegate])

    def static_keys_of(self, agent: str) -> list[Credential]:
        """The static keys an agent presents: its shared accounts' first (under a shared identity), then its own."""
        keys = [self.keys[a] for a in self.world.agents[agent].shared_accounts
                if self._controls[agent].identity == "shared" and a in self.keys and agent in self.keys[a].holders]
        if agent in self.keys:
            keys.append(self.keys[agent])
        return keys

    def delegator_credentials(self, ctx: TaskRun) -> tuple[list[Credential], frozenset[int], float]:
        """What a delegator's hand-off draws on: its usable credentials, what they let it hand on
        (scope) and until when (their lifetime)."""
        creds = ([ctx.token] if ctx.token is not None else []) + ctx.creds
        if not creds and ctx.agent in self._static:
            creds = self.static_keys_of(ctx.agent)
        now = self.env.now
        usable = [c for c in creds if c.usable(now)]
        scope = frozenset().union(*(c.scope for c in usable)) if usable else frozenset()
        until = max((c.unusable_at for c in usable), default=now)
        return usable, scope, until

    def exchange_token(self, ctx: TaskRun, delegate: str, sub: CompiledTask, sub_id: str, *,
                       malicious: bool = False, incident: Incident | None = None, latency: float | None = None
                       ) -> Generator[Any, Any, Credential | None]:
        """RFC 8693 token exchange: scope = delegator's ∩ sub-task intent, TTL ≤ delegator's, chain kept.

        ``latency`` is the exchange's round trip to the issuer, when the sub-task's plan drew it."""
        if ctx.agent not in self._static and not ctx.exchanged:
            own = yield from self._task_token(ctx)
            if own is None:
                return None
        parents, scope, until = self.delegator_credentials(ctx)
        lifetime = min(self._controls[ctx.agent].ttl, until - self.env.now)
        if lifetime <= 0:
            return None
        chain = ctx.chain + (delegate,)
        sub_ctx = TaskRun(sub_id, delegate, sub, ctx.human, None, chain, ctx, self.env.now)
        token = yield from self.obtain_token(
            delegate, scope & sub.intent, sub_ctx, kind="delegated_token", lifetime=lifetime, chain=chain,
            parent=ctx.token, intent=sub, malicious=malicious, incident=incident, latency=latency)
        if token is not None:
            ctx.own.append(token)
            if self._cascades:
                self._exchanged_from(parents, token)  # what its scope was drawn from
        return token

    # ------------------------------------------------------------------ incidents

    def usable_holdings(self, agent: str) -> list[Credential]:
        """Credentials an agent holds right now (pruning dead ones)."""
        now = self.env.now
        alive = [c for c in self.holdings[agent] if c.usable(now)]
        self.holdings[agent] = alive
        return alive

    def open_incident(self, incident: Incident, stolen: list[Credential], minting: list[Credential] = ()) -> None:
        """A compromise starts: log it, hand the attacker its credentials, start detection and the attacker."""
        incident.rng_attacker = stream(self.seed, "attacker", incident.id)
        incident.rng_detection = stream(self.seed, "detection", incident.id)
        self.incidents.append(incident)
        for cred in stolen:
            self.acquire(incident, cred)
        incident.minting.extend(minting)
        for cred in minting:
            self.acquire(incident, cred)
        self.take_copies(incident)
        scope = attacker.with_harvest(self, incident, attacker.potential_scope(self, incident))
        handed = [*stolen, *(c for c in minting if c not in stolen)]
        principal = incident.host or incident.holder or (handed[0].subject if handed else None)
        self.log.compromise(self.env.now, principal=principal, presenter=incident.presenter, actor=incident.actor,
                            credential="|".join(c.id for c in handed) or None, kind=incident.kind,
                            reason=self._compromise_sentence(incident, handed), value=self.world.value(scope),
                            incident=incident.id, scope=self.world.describe_scope(scope),
                            until=incident.window_end if math.isfinite(incident.window_end) else None)
        self.agenda.start(detection.detection_process(self, incident))  # draws its baseline before the attacker acts
        self.agenda.start(attacker.attacker_process(self, incident))
        detection.on_open(self, incident)

    def _compromise_sentence(self, incident: Incident, handed: list[Credential]) -> str:
        if incident.steers:
            return f"the attacker steers {incident.host}" + (f" and has {incident.deputy} act for it"
                                                              if incident.deputy else "")
        if not handed:
            return "the leak exposed no credential"
        now = self.env.now
        parts = []
        for c in handed:
            what = f"{c.id} ({c.kind.replace('_', ' ')} of {c.subject}"
            what += ", which mints tokens)" if c in incident.minting else ")"
            parts.append(what if c.usable(now) else what + " already unusable")
        return "the attacker obtained " + ", ".join(parts)

    def acquire(self, incident: Incident, cred: Credential, *, how: str = "", via: str | None = None,
                resource: str | None = None) -> None:
        """The attacker now holds ``cred``; log what it reaches with it. ``how`` says in words how it got it,
        ``via`` names the way (``harvested``: read in ``resource``; ``republished``: written again where
        it had leaked)."""
        if cred.id in incident.acquired:
            return
        incident.acquired[cred.id] = cred
        now = self.env.now
        presenter = incident.presenter
        fatigued = False
        if not cred.usable(now):
            scope, cap = frozenset(), now
            why = "already unusable (expired or revoked) when the attacker got it"
        elif not cred.bound_to(presenter):
            scope, cap = frozenset(), now
            why = "sender-constrained: useless to the attacker"
        elif not cred.mfa_ok(presenter) and not (fatigued := self._mfa_fatigue(incident, cred)):
            scope, cap = frozenset(), now
            why = "it needs a second factor (MFA) the attacker cannot pass: useless to it"
        else:
            scope = cred.scope | cred.mint_scope
            cap = incident.window_end if math.isfinite(incident.window_end) else None
            why = f"usable until {min(cred.unusable_at, incident.window_end):g} s unless revoked"
            if fatigued:
                why = f"it needs MFA, and the human approved one of the attacker's push prompts (MFA fatigue): {why}"
        if how:
            why = f"{how} ({cred.kind.replace('_', ' ')} {cred.id}): {why}"
        self.log.acquire(self.env.now, principal=cred.subject, presenter=presenter, actor=incident.actor,
                         credential=cred.id, chain=cred.chain_text, kind=cred.kind, reason=why,
                         value=self.world.value(scope), until=cap, incident=incident.id,
                         scope=self.world.describe_scope(scope), via=via, resource=resource)

    def _mfa_fatigue(self, incident: Incident, cred: Credential) -> bool:
        """The attacker pushes MFA prompts for a stolen key until the human approves one, or not
        (``attacker.mfa_fatigue_probability``, one draw per incident and key)."""
        chance = self.scenario.attacker.mfa_fatigue_probability
        if chance <= 0:
            return False
        if incident.rng_mfa is None:
            incident.rng_mfa = stream(self.seed, "mfa", incident.id)
        if incident.rng_mfa.random() >= chance:
            return False
        cred.mfa_passed = (cred.mfa_passed or set()) | {incident.presenter}
        return True

    def release(self, incident: Incident, reason: str) -> None:
        """The attacker loses control (hijack window over, or quarantine)."""
        if math.isfinite(incident.released_at):
            return
        incident.released_at = self.env.now
        self.log.release(self.env.now, presenter=incident.presenter, actor=incident.actor, reason=reason,
                         incident=incident.id)

    def raise_alert(self, agent: str | None, incident: Incident | None, why: str) -> None:
        """A denied or anomalous request raised an alert; it may speed detection."""
        if agent is not None:
            self.note_alert(agent)
        if incident is not None:
            detection.on_alert(self, incident, why)

    def note_alert(self, agent: str) -> None:
        """Count an alert on ``agent`` for its risk posture; alerts older than the window are forgotten."""
        self.alerts[agent] = self.alerts.get(agent, 0) + 1
        self.agenda.start(self._forget_alert(agent))
        if self.alert_log is not None:
            self.alert_log.append((self.env.now, agent))

    def _forget_alert(self, agent: str) -> Generator:
        yield RISK_WINDOW
        self.alerts[agent] -= 1

    def is_retired(self, agent: str) -> bool:
        return agent in self.retired

    def quarantine(self, agent: str, at: float) -> None:
        """``agent``'s identity is quarantined from ``at``: the enforcement point and the issuer refuse it."""
        self.quarantined[agent] = at

    def end_quarantine(self, agent: str) -> None:
        self.quarantined.pop(agent, None)

    def retire(self, agent: str) -> None:
        """Offboard an agent: it stops working; its credentials are revoked only if the strategy says so."""
        self.retired.add(agent)
        revoked = []
        if self._controls[agent].offboarding_revokes:
            for cred in self.usable_holdings(agent):
                if cred.subject == agent:
                    self.revoke(cred, f"{agent} offboarded")
                    revoked.append(cred.id)
        self.log.retire(self.env.now, agent=agent, orphaned=not revoked,
                        reason=f"{agent} retired; " + (f"revoked {', '.join(revoked)}" if revoked
                                                    else "its credentials stay valid (orphaned)"))
