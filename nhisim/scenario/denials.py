"""Requests a strategy will deny every time, found before any run.

A task's tool call runs with the credential the strategy gives it: a static key (its
agent's roles, or a shared account's), a JIT token (the agent's roles, ∩ the task's
intent when tokens are scoped to intent), a token exchanged at each delegation hop (the
delegator's scope ∩ the sub-task's intent: RFC 8693), a credential passed down the
chain, or for a task run on its requester's credential, that human's key or session (or a
token exchanged from it), beside the agent's own. Whatever the random draws, a call whose operation that credential cannot carry,
or that the intent check refuses, is denied in every run, and its task (and every task
that delegated to it) fails: ``nhisim validate`` warns about it.

The walk follows the engine: the credential a step presents is the one the engine
would pick, and the decision is the enforcement point's, leaving out what only time
decides (expiry, revocation, quarantine, the risk posture). A request a human may
approve (``out_of_intent: escalate``) is not always denied and is not reported.

:func:`scope_sentence` words a scope denial, here and in the event log of a run
(:func:`nhisim.sim.decisions.scope_denial`): one sentence, naming the operation, how the
scope was derived and the delegation chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from nhisim.errors import Problem, path_text
from nhisim.scenario.models import SENSITIVITY_LEVELS, CallStep, DelegateStep, Scenario, exchange_blocked
from nhisim.scenario.strategy import account_users, scenario_strategy
from nhisim.strategies import Strategy

Op = tuple[str, str, str]  # tool, action, resource
MAX_DEPTH = 16  # the engine starts no sub-task deeper than this
MAX_WALKS = 100_000  # distinct task walks per strategy: a fan-out of chains is cut short, not walked forever
MESSAGE_LIMIT = 1000  # a warning names a whole delegation chain: let it be read to its end


def scope_sentence(operation: str, kind: str, terms: Sequence[str], chain: Sequence[str] = (),
                   lacking: str = "") -> str:
    """``mailer:send:mail is outside the delegated token's scope (orchestrator's roles ∩
    month-end-brief's intent, chain orchestrator>notifier): month-end-brief's intent lacks it``."""
    scope = " ∩ ".join(terms)
    if len(chain) > 1:
        scope += f", chain {'>'.join(chain)}"
    text = f"{operation} is outside the {kind}'s scope ({scope})"
    return text + (f": {lacking} lacks it" if lacking and len(terms) > 1 else "")


@dataclass(frozen=True)
class Held:
    """A credential a step can present, as the scope and intent checks see it."""

    kind: str  # how the sentence names it: "static key", "shared key", "JIT token", "delegated token"
    subject: str  # the agent (or shared account) the credential acts as
    terms: tuple[tuple[str, frozenset[Op]], ...]  # the scope is the intersection of these named sets
    intent_of: str | None = None  # the task whose intent binds it (None: the task it serves)
    passed: bool = False  # handed down by a delegator (pass-through), not the presenter's own

    @property
    def scope(self) -> frozenset[Op]:
        sets = [ops for _, ops in self.terms]
        return frozenset.intersection(*sets) if sets else frozenset()

    def narrowed(self, name: str, ops: frozenset[Op], kind: str, subject: str, intent_of: str) -> Held:
        return Held(kind, subject, self.terms + ((name, ops),), intent_of)


@dataclass(frozen=True)
class Denial:
    """A call that a strategy denies in every run."""

    strategy: str
    chain: tuple[str, ...]  # agents from the root task's to the one that calls
    tasks: tuple[str, ...]  # the task each of them runs
    location: str  # the call step, as a dotted path
    operation: str
    code: str  # the decision code (nhisim.sim.decisions): scope, intent_operation, ...
    reason: str
    suggestion: str


@dataclass
class _Estate:
    """The scenario's scopes and intents as sets of operations."""

    scenario: Scenario
    roles: dict[str, frozenset[Op]] = field(default_factory=dict)
    account_roles: dict[str, frozenset[Op]] = field(default_factory=dict)  # each account's own roles
    memberships: dict[str, list[str]] = field(default_factory=dict)
    intents: dict[str, frozenset[Op]] = field(default_factory=dict)
    levels: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = self.scenario
        role_ops = {r.id: frozenset(g.key for g in r.grants) for r in s.roles}
        for agent in s.agents:
            self.roles[agent.id] = frozenset().union(*(role_ops.get(r, frozenset()) for r in agent.roles))
        for human in s.humans:
            if human.roles:
                self.roles[human.id] = frozenset().union(*(role_ops.get(r, frozenset()) for r in human.roles))
        for account in s.shared_accounts:
            self.account_roles[account.id] = frozenset().union(*(role_ops.get(r, frozenset()) for r in account.roles))
            for holder in account.holders:
                self.memberships.setdefault(holder, []).append(account.id)
        self.intents = {t.id: frozenset(g.key for g in t.intent.operations) for t in s.tasks}
        self.levels = {r.id: SENSITIVITY_LEVELS.index(r.sensitivity) for r in s.resources}


class _Walk:
    """One strategy's walk of every root task down its delegation chains."""

    def __init__(self, estate: _Estate, strategy: Strategy) -> None:
        self.e = estate
        self.s = strategy
        self.ix = estate.scenario.index()
        self.task_index = {t.id: i for i, t in enumerate(estate.scenario.tasks)}
        self.found: list[Denial] = []
        # the shared accounts in use, the holders that use each, and their keys' scopes (each principal's controls)
        self.users = {sa.id: account_users(strategy, sa.id, sa.holders) for sa in estate.scenario.shared_accounts}
        self.account_scope = {acct: estate.account_roles[acct].union(*(estate.roles[h] for h in users))
                              for acct, users in self.users.items()}
        # a walk depends only on these: the same sub-task handed off twice the same way is walked once
        self.walked: dict[tuple, bool] = {}

    def keys(self, agent: str) -> list[Held]:
        """The static keys an agent presents, in the engine's order."""
        used = [acct for acct in self.e.memberships.get(agent, []) if agent in self.users[acct]]
        if used:
            return [Held("shared key", acct, ((f"the roles of shared account {acct} and its holders",
                                               self.account_scope[acct]),))
                    for acct in used]
        return [Held("static key", agent, ((f"{agent}'s roles", self.e.roles[agent]),))]

    def own_token(self, agent: str, task: str) -> Held:
        terms = ((f"{agent}'s roles", self.e.roles[agent]),)
        if self.s.of(agent).jit_scope == "intent":
            terms += ((f"{task}'s intent", self.e.intents[task]),)
        return Held("JIT token", agent, terms, intent_of=task)

    def run(self) -> list[Denial]:
        for agent in self.e.scenario.agents:
            if agent.behaviour.task_rate_multiplier <= 0:
                continue
            for task_id in agent.tasks:
                task = self.ix.tasks.get(task_id)
                if task is not None and task.arrival_rate > 0:
                    self.task((agent.id,), (task_id,), passed=self.requester_credential(agent.id, task),
                              exchanged=None)
        return self.found

    def requester_credential(self, agent: str, task) -> list[Held]:
        """What a root task run on its requester's credential holds beside the agent's own: the human's key
        or session (pass-through), or a token exchanged from it (∩ the task's intent)."""
        human = task.requested_by
        if not task.on_behalf_of_requester or human not in self.e.roles:
            return []
        controls = self.s.of(human)
        terms = ((f"{human}'s roles", self.e.roles[human]),)
        kind = "static key" if controls.credential == "static_key" else "JIT token"
        if kind == "JIT token" and controls.jit_scope == "intent":
            terms += ((f"{task.id}'s intent", self.e.intents[task.id]),)
        if controls.delegation == "token_exchange":
            return [Held("delegated token", agent, terms + ((f"{task.id}'s intent", self.e.intents[task.id]),),
                         task.id)]
        return [Held(kind, human, terms, task.id, passed=True)]

    def task(self, chain: tuple[str, ...], tasks: tuple[str, ...], passed: list[Held], exchanged: Held | None
             ) -> bool:
        """Walk one task; False when it always fails (a call always denied, here or down a chain).

        Each distinct walk is made once, and at most :data:`MAX_WALKS` of them per strategy:
        past that (a fan-out of delegation chains) nothing more is said, as of a task never
        started.
        """
        key = (chain, tasks, tuple(passed), exchanged)
        if key not in self.walked:
            self.walked[key] = self._walk(chain, tasks, passed, exchanged) if len(self.walked) < MAX_WALKS else True
        return self.walked[key]

    def _walk(self, chain: tuple[str, ...], tasks: tuple[str, ...], passed: list[Held], exchanged: Held | None
              ) -> bool:
        agent, task_id = chain[-1], tasks[-1]
        task = self.ix.tasks[task_id]
        has_token = False  # a JIT task holds its own token once a call needed it
        mine = self.s.of(agent)  # the agent's controls: how it obtains credentials and hands work on
        for j, step in enumerate(task.steps):
            if isinstance(step, DelegateStep):
                if len(chain) > MAX_DEPTH:
                    return True  # never started: nothing to say about it
                sub_chain, sub_tasks = chain + (step.delegate.agent,), tasks + (step.delegate.task,)
                if mine.delegation == "pass_through":
                    own = [self.own_token(agent, task_id)] if mine.jit and has_token else []
                    handed = own + passed + ([k for k in self.keys(agent)] if not mine.jit else [])
                    ok = self.task(sub_chain, sub_tasks, [Held(h.kind, h.subject, h.terms, h.intent_of, True)
                                                         for h in handed], None)
                elif (lost := exchange_blocked(self.ix.agents[agent], self.ix.agents[step.delegate.agent])):
                    if mine.lossy_hop == "fail":  # the issuer refuses the exchange: the hand-off always fails
                        where = path_text("tasks", self.task_index[task_id], "steps", j, "delegate")
                        self.found.append(Denial(
                            self.s.name, sub_chain, sub_tasks, where, f"{agent}>{step.delegate.agent}", "lossy_hop",
                            f"token exchange cannot reach {step.delegate.agent}: {lost}",
                            "lossy_hop: own_authority has the delegate work on its own authority; or keep both "
                            "agents in one trust domain"))
                        return False
                    ok = self.task(sub_chain, sub_tasks, [], None)  # on the delegate's own authority
                else:
                    delegator = exchanged or (self.own_token(agent, task_id) if mine.jit else self._key_union(agent))
                    sub = step.delegate.task
                    token = delegator.narrowed(f"{sub}'s intent", self.e.intents[sub], "delegated token",
                                               step.delegate.agent, sub)
                    ok = self.task(sub_chain, sub_tasks, [], token)
                if not ok:
                    return False
                continue
            assert isinstance(step, CallStep)
            op = step.call.key
            candidates = self.credentials(agent, task_id, op, passed, exchanged)
            has_token = has_token or candidates[0].kind == "JIT token" and not candidates[0].passed
            denials = [self.decide(cred, chain, task_id, op, step.destination) for cred in candidates]
            denial = denials[0] if all(d is not None for d in denials) else None
            if denial is not None:
                code, reason, suggestion = denial
                where = path_text("tasks", self.task_index[task_id], "steps", j, "call")
                self.found.append(Denial(self.s.name, chain, tasks, where, str(step.call), code, reason, suggestion))
                return False
        return True

    def _key_union(self, agent: str) -> Held:
        keys = self.keys(agent)
        ops = frozenset().union(*(k.scope for k in keys))
        return Held("static key", agent, ((f"{agent}'s keys", ops),))

    def credentials(self, agent: str, task: str, op: Op, passed: list[Held], exchanged: Held | None
                    ) -> list[Held]:
        """What the engine presents for ``op``, first to last: a passed credential that covers it is
        presented while it lives, the agent's own afterwards (so both must be denied for the call to be)."""
        if exchanged is not None:
            return [exchanged]
        own = self.keys(agent) if not self.s.of(agent).jit else [self.own_token(agent, task)]
        fallback = next((k for k in own if op in k.scope), own[0])
        carrier = next((held for held in passed if op in held.scope), None)
        return [carrier, fallback] if carrier is not None else [fallback]

    def decide(self, cred: Held, chain: tuple[str, ...], task: str, op: Op, destination: str
               ) -> tuple[str, str, str] | None:
        """(code, reason, suggestion) when the enforcement point denies this call in every run."""
        label, presenter = ":".join(op), chain[-1]
        controls = self.s.of(cred.subject)  # a request is decided under its credential's subject's controls
        if controls.binding == "sender_constrained" and cred.passed and cred.kind != "shared key":
            return ("sender_constraint",
                    f"{label} is presented with {cred.subject}'s {cred.kind}, passed down to {presenter}, and the "
                    "credential is sender-constrained",
                    "use delegation: token_exchange, or binding: bearer, for this strategy")
        bound = cred.intent_of or task
        intent = self.e.intents[bound]
        escalates = controls.out_of_intent != "deny"  # a human, a policy or monitoring may let it through
        if op not in cred.scope:
            if controls.runtime_check == "intent" and op not in intent:
                if escalates and op in self.e.roles.get(cred.subject, frozenset()):
                    return None  # a human may approve it
                return ("intent_operation", f"{label} is not in {bound}'s intent",
                        f"add {label} to the intent of task {bound} ({self._intent_path(bound)}.operations)")
            lacking = next((name for name, ops in cred.terms if op not in ops), "")
            reason = scope_sentence(label, cred.kind, [name for name, _ in cred.terms],
                                    chain if cred.kind == "delegated token" else (), lacking)
            return ("scope", reason, self._scope_fix(label, lacking, cred))
        if controls.runtime_check != "intent" or escalates:
            return None
        task_model = self.ix.tasks[bound]
        level = self.e.levels[op[2]]
        if op not in intent:
            return ("intent_operation", f"{label} is not in {bound}'s intent",
                    f"add {label} to the intent of task {bound} ({self._intent_path(bound)}.operations)")
        if level > SENSITIVITY_LEVELS.index(task_model.intent.sensitivity_ceiling):
            return ("intent_sensitivity",
                    f"{op[2]} is {SENSITIVITY_LEVELS[level]}, above the {task_model.intent.sensitivity_ceiling} "
                    f"ceiling of {bound}'s intent",
                    f"raise the sensitivity_ceiling of task {bound} to {SENSITIVITY_LEVELS[level]} "
                    f"({self._intent_path(bound)}.sensitivity_ceiling)")
        if destination not in task_model.intent.destinations:
            return ("intent_destination", f"{label} sends to {destination}, not a destination of {bound}'s intent",
                    f"add {destination} to the destinations of task {bound} "
                    f"({self._intent_path(bound)}.destinations)")
        return None

    def _intent_path(self, task: str) -> str:
        return path_text("tasks", self.task_index[task], "intent")

    def _scope_fix(self, label: str, lacking: str, cred: Held) -> str:
        if lacking.endswith("'s intent"):
            task = lacking[: -len("'s intent")]
            return f"add {label} to the intent of task {task} ({self._intent_path(task)}.operations)"
        if lacking.startswith("the roles of shared account "):
            return f"grant {label} to a role of the shared account {cred.subject} or of one of its holders"
        owner = lacking.split("'s ")[0] if "'s " in lacking else cred.subject
        return f"grant {label} to a role of {owner}"


def always_denied(scenario: Scenario, strategies: Sequence[str] | None = None) -> list[Denial]:
    """Every call a strategy of ``scenario`` denies in every run (the first of each task that fails)."""
    estate = _Estate(scenario)
    found: list[Denial] = []
    for name in strategies or list(scenario.strategies):
        found.extend(_Walk(estate, scenario_strategy(scenario, name)).run())
    return found


def denial_warnings(scenario: Scenario) -> list[Problem]:
    """:func:`always_denied` as validation warnings: one per call and reason, naming the strategies."""
    grouped: dict[tuple[str, str, str], list[Denial]] = {}
    for denial in always_denied(scenario):
        grouped.setdefault((denial.location, denial.code, denial.reason), []).append(denial)
    problems = []
    for (location, _, reason), denials in grouped.items():
        first = denials[0]
        names = ", ".join(dict.fromkeys(d.strategy for d in denials))
        roots = list(dict.fromkeys(d.tasks[0] for d in denials))
        fails = first.tasks[-1] + (f" (so {', '.join(roots)} fails)" if len(first.tasks) > 1 else "")
        problems.append(Problem(f"under {names}, task {fails} is denied in every run: {reason}", location,
                                suggestion=first.suggestion, limit=MESSAGE_LIMIT))
    return problems


__all__ = ["Denial", "Held", "always_denied", "denial_warnings", "scope_sentence"]
