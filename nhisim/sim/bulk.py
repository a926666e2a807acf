"""Quiet work computed in bulk: the same rows as call by call, without a generator per task.

Most of a run is background work that nothing else reads: a task arrives, makes its
calls on its agent's static key, and ends. Run call by call, each such task costs a
generator, an agenda round trip per call, a decision and a row tuple per event. Here the
tasks of every *quiet* stream arriving in a window of time are computed together with
array operations, from the same plan rows (:mod:`nhisim.sim.plans`), and their rows go
to the log as columns (:class:`BulkRows`, merged into the log in time order as they fall
due): the same rows, with the same times, ids and reasons as the call-by-call path
writes. Only the order of rows logged at the very same time may differ.
``Simulation(..., bulk=False)`` runs everything call by call; ``tests/test_bulk.py``
compares the two.

When a stream is quiet (:func:`quiet_streams`). Its agents are involved in no threat
(:meth:`~nhisim.scenario.threats.base.ThreatModel.involved`, closed over shared accounts,
over the agents that may delegate to an involved one, and over every principal whose
key a resource holds), and the run's evaluator is the native one, so a decision depends
on the credential, and under a check of intent on the agent's risk posture, never on
quarantine. Its template and the sub-tasks it delegates make calls only: no step that
needs approval, no arguments, no goal switch, not on a requester's behalf. Every agent of
the tree presents static keys, or every one JIT tokens (and then no threat may take the
issuer down); every delegator hands work on the same way, passing its credentials
through, or (JIT tokens) by token exchange. Under behavioural analytics, every call must
be in its principal's usual pattern. Under a check of intent, a request outside its
intent must be denied (not escalated, monitored or re-declared), a delegator must
exchange tokens, and whether a discovery is needed must not be drawn.

What a task of a quiet stream does, as :class:`_Program` lists it: calls (deadline
checked first), sub-tasks started and ended, a failure ending the failing task and each
of its delegators, a runtime discovery's request. Keys: the key in service when the call
is made (rotations are known in advance: :class:`KeyTimeline`), a delegator's handed on
first. Tokens: issued at a node's first call on its own after the plan's round trip,
renewed when expired (the round trip then drawn from the task's own issuer stream),
revoked at its end; a delegate tries its delegators' live tokens first, or, under token
exchange, works on the token its delegator exchanged for it (the sub-task plan's round
trip; never renewed, so denied once expired; revoked at the delegator's end). Risk
postures: each window is checked against the alerts the run and the window raise
(:class:`RiskPostures`); a task the check cannot vouch for moves call by call from its
arrival. Still run call by call, from their arrival: a task whose discovery draws whether
it is needed (or rolls behavioural analytics' dice), and a task of a tree handing keys on
during which one of them is rotated. Identity documents of agents no threat involves are
renewed here too (:class:`IdentityRenewals`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from nhisim.sim.credentials import ISSUE_REASONS, PROPAGATIONS, Credential, propagation_delays
from nhisim.sim.decisions import EXPIRED, INTENT_CODES
from nhisim.sim.eventlog import COLUMNS, NUMBER_COLUMNS, TEXT_COLUMNS, FreshValues, code_dtype, get_all
from nhisim.sim.ordering import stable_argsort
from nhisim.sim.pep import RISK_WINDOW, NativeEvaluator
from nhisim.sim.plans import DELEGATE, Stream
from nhisim.sim.rng import uniform_at

if TYPE_CHECKING:
    from nhisim.sim.compiled import CompiledTask

Simulation = Any  # the engine's Simulation (nhisim.sim.engine imports this module, not the other way)

TASKS_PER_WINDOW = 80_000  # about how many tasks a window computes at once (bounds its memory)
MIN_WINDOW, MAX_WINDOW = 60.0, 6 * 3600.0  # seconds
DONE = "all steps done"


# --------------------------------------------------------------------------- which streams are quiet


def involved_principals(sim: Simulation) -> set[str]:
    """The agents whose state a threat may read or change while the run goes, with everyone that shares
    their keys or may hand them work, and every principal whose key a resource holds (a harvest)."""
    world = sim.world
    named: set[str] = set()
    for threat in sim.scenario.threats:
        named.update(threat.involved())
    if sim.scenario.threats:  # an attacker reading a resource takes the keys kept there
        for secrets in world.op_secrets:
            named.update(secrets)
    delegators: dict[str, set[str]] = {}  # delegate -> agents that may hand it their credentials
    for agent in world.agents.values():
        for template_id in agent.tasks:
            for step in world.tasks[template_id].steps:
                if step.delegate_to is not None:
                    delegators.setdefault(step.delegate_to, set()).add(agent.id)
    pending = []
    for name in named:
        if name in world.accounts:
            pending.extend(world.accounts[name].holders)
        elif name in world.agents:
            pending.append(name)
    found: set[str] = set()
    while pending:
        agent = pending.pop()
        if agent in found:
            continue
        found.add(agent)
        for account in world.agents[agent].shared_accounts:
            pending.extend(world.accounts[account].holders)
        pending.extend(delegators.get(agent, ()))
    return found | named


def quiet_streams(sim: Simulation) -> dict[tuple[str, str], _Program]:
    """The (agent, template) streams whose every task :class:`BulkExecutor` can compute (module docstring),
    each with its program."""
    sim.bulk_involved = involved_principals(sim)
    if type(sim.pep) is not NativeEvaluator:
        return {}
    if sim.pep.checks_intent and sim.pep.strategy.out_of_intent != "deny":
        return {}  # a request outside its intent is escalated, monitored or re-declared: call by call
    world = sim.world
    quiet = {}
    for agent in world.agents.values():
        if agent.id in sim.bulk_involved or agent.goal_switch_probability > 0:
            continue
        for template_id in agent.tasks:
            template = world.tasks[template_id]
            if template.on_behalf or template.rate * agent.rate_multiplier <= 0:
                continue
            try:
                quiet[(agent.id, template_id)] = _Program(sim, agent.id, template, sim.program(agent.id, template_id))
            except _NotQuiet:
                continue
    return quiet


def identities_to_renew(sim: Simulation) -> list[str]:
    """The agents whose identity documents :class:`BulkExecutor` renews (after :func:`quiet_streams`): those
    under JIT controls that no threat involves, while nothing can take the issuer down."""
    if any(threat.EVIDENCE == "outage" for threat in sim.scenario.threats):
        return []
    return [agent for agent in sim.world.agents if agent not in sim.bulk_involved
            and sim.controls(agent).credential == "jit_token" and sim.identity_docs.get(agent) is not None]


class _NotQuiet(Exception):
    """A stream the bulk path cannot compute (its tasks run call by call)."""


CALL_STEP, START, END = range(3)  # instructions of a stream's program (a call, a sub-task's start, a task's end)


@dataclass(eq=False)
class _Node:
    """One task of a stream's delegation tree."""

    agent: str
    template: CompiledTask
    chain: str  # the actor chain a task-start row shows
    suffix: str  # its task id after its root's (``>delegate/template`` ...)
    parent: _Node | None
    passed: list[str]  # the subjects of the keys its delegators hand it, in the order it tries them
    index: int = 0
    layout: Any = None  # its plan layout (nhisim.sim.plans.PlanNode): where its dice are in a plan row
    candidates: list[int] = field(default_factory=list)  # the operations a runtime discovery picks from
    token: Credential | None = None  # under JIT controls: its task's token as the engine issues it
    token_value: float = 0.0  # ... and the value of its scope
    exchanged: bool = False  # it works on a token its delegator exchanged for it (its only credential)

    def ancestors(self) -> list[_Node]:
        """Its delegators, nearest first."""
        found, node = [], self.parent
        while node is not None:
            found.append(node)
            node = node.parent
        return found


class _Program:
    """A quiet stream's tasks as a straight list of instructions, each with what it writes.

    An instruction is (kind, node, ...): ``CALL_STEP`` (the node's deadline checked, then a
    call: its operation, duration column, the key's subject, the decision), ``START`` (the
    parent's deadline checked, then the child starts, handed the parent's keys) or ``END``
    (the node ends ``ok``). Raises :class:`_NotQuiet` for what the bulk path leaves call by call.
    """

    def __init__(self, sim: Simulation, agent: str, template: CompiledTask, plan_program: Any) -> None:
        self.sim = sim
        self.involved = sim.bulk_involved
        self.nodes: list[_Node] = []
        self.instructions: list[tuple] = []
        self.subjects: set[str] = set()
        self.handed: list[tuple[str, list[str]]] = []  # per START: (delegate, subjects of the keys handed)
        self.discoveries_in_bulk = sim.anomaly_probability == 0  # a discovery's alert dice are drawn call by call
        self.jit = sim.controls(agent).credential == "jit_token"  # a token per task and sub-task
        self.delegation = sim.controls(agent).delegation  # how every delegator of the tree hands work on
        self.checks_intent = sim.pep.checks_intent
        self.human = template.human
        if self.jit and any(threat.EVIDENCE == "outage" for threat in sim.scenario.threats):
            raise _NotQuiet(agent)  # whether the issuer answers depends on the time
        layout = plan_program.root if plan_program is not None else None
        root = _Node(agent, template, agent, "", None, [])
        self._walk(root, layout)
        self.instructions.append((END, root))
        if self.checks_intent and not self.discoveries_in_bulk:
            raise _NotQuiet(agent)  # the alerts of its discoveries feed risk postures the bulk path reads

    def _keys_of(self, agent: str) -> list[Any]:
        sim = self.sim
        if agent in self.involved:
            raise _NotQuiet(agent)
        if (sim.controls(agent).credential == "jit_token") != self.jit:
            raise _NotQuiet(agent)  # static keys and tokens in one tree: left call by call
        if self.jit:
            return []
        if sim.controls(agent).credential != "static_key":
            raise _NotQuiet(agent)
        keys = sim.static_keys_of(agent)
        if not keys or any(key.subject in self.involved for key in keys):
            raise _NotQuiet(agent)
        return keys

    def _walk(self, node: _Node, layout: Any) -> None:
        sim, world = self.sim, self.sim.world
        node.index = len(self.nodes)
        node.layout = layout
        self.nodes.append(node)
        own_keys = self._keys_of(node.agent)
        profile = world.agents[node.agent]
        if self.jit and node.token is None:  # the token the engine would issue it (its calls are decided on it)
            controls = sim.controls(node.agent)
            scope = sim.task_token_scope(node.agent, node.template)
            node.token = Credential(id="", kind="jit_token", subject=node.agent, holders={node.agent}, scope=scope,
                                    issued_at=0.0, expires_at=math.inf, binding=controls.binding, task="",
                                    human=self.human, intent=node.template)
            node.token_value = world.value(scope)
        if profile.discovery_probability > 0:
            if profile.needed_share > 0:  # whether it is needed is drawn from the stream's extras, in order
                self.discoveries_in_bulk = False
            node.candidates = sorted(profile.tool_ops - node.template.intent)  # as the engine lists them
            self.subjects.update(node.passed)  # the keys it may present for one: handed, or its own
            self.subjects.update(key.subject for key in own_keys)
        delegations = 0
        for position, step in enumerate(node.template.steps):
            if step.approval or step.draw_args is not None:
                raise _NotQuiet(node.template.id)
            plan_step = layout.steps[position] if layout is not None else None
            if step.delegate_to is not None:
                if plan_step is not None and plan_step[0] != DELEGATE:
                    raise _NotQuiet(step.sub_task)  # past 16 hops: the sub-task never starts
                exchange = self._hands_on(node.agent, step.delegate_to)
                delegations += 1
                suffix = f"{node.suffix}>{step.delegate_to}/{step.sub_task}" + (
                    f"#{delegations}" if delegations > 1 else "")
                passed = [] if exchange else node.passed + [key.subject for key in own_keys]
                child = _Node(step.delegate_to, world.tasks[step.sub_task], f"{node.chain}>{step.delegate_to}",
                              suffix, node, passed)
                if exchange:
                    self._exchanged_token(node, child)
                self.subjects.update(passed)
                self.instructions.append((START, node, child, position))
                if not self.jit:
                    self.handed.append((child.agent, passed))
                self._walk(child, plan_step[1] if plan_step is not None else None)
                self.instructions.append((END, child))
                continue
            key = self._key_for(node, step.op)
            if not self.jit:
                self.subjects.add(key.subject)
            if sim.anomaly_probability > 0 and sim.out_of_pattern(key, step.op):
                raise _NotQuiet(node.agent)
            decision = self._decide(node, key, step.op, step.destination, None)
            if decision[0] not in ("allow", "deny"):
                raise _NotQuiet(node.template.id)  # escalated or re-declared: a human's queue
            duration = plan_step[1] if plan_step is not None else -1
            # under JIT controls a delegate first tries its delegators' tokens (nearest first) that cover the call
            handed = [(step.op in up.token.scope, self._decide(node, up.token, step.op, step.destination, None))
                      for up in node.ancestors()] if self.jit and self.delegation == "pass_through" else []
            self.instructions.append((CALL_STEP, node, step.op, duration, key.subject, decision, position, handed))

    def discovered(self, node: _Node, choice: int) -> tuple[int, str, tuple[str, str, str], str, list]:
        """A runtime discovery's ``choice``-th candidate: its operation, key subject, decision, the discovery's
        reason, and (under JIT controls) whether each delegator's token covers it, with the decision on it."""
        world = self.sim.world
        op = node.candidates[choice]
        key = self._key_for(node, op)
        args = world.op_default_args[op]
        decision = self._decide(node, key, op, "internal", args)
        handed = [(op in up.token.scope, self._decide(node, up.token, op, "internal", args))
                  for up in node.ancestors()] if self.jit and self.delegation == "pass_through" else []
        reason = f"{node.agent} discovered {world.label(op)} at run time; its task does not need it"
        return op, key.subject, decision, reason, handed

    def _hands_on(self, delegator: str, delegate: str) -> bool:
        """Whether ``delegator`` hands work to ``delegate`` by token exchange (else it passes its credentials
        through); raises :class:`_NotQuiet` for hand-offs the bulk path leaves call by call."""
        sim = self.sim
        mode = sim.controls(delegator).delegation
        if mode != self.delegation:
            raise _NotQuiet(delegator)  # both ways in one tree
        if mode == "pass_through":
            if self.checks_intent:
                raise _NotQuiet(delegator)  # a delegate's calls would read its delegator's risk posture
            return False
        if mode != "token_exchange" or not self.jit or sim.lossy_hop(delegator, delegate) is not None \
                or sim.cascades:
            raise _NotQuiet(delegator)
        return True

    def _exchanged_token(self, node: _Node, child: _Node) -> None:
        """The token ``node`` exchanges for its sub-task ``child`` as the engine issues it (RFC 8693: the
        delegator's scope ∩ the sub-task's intent, the actor chain kept), for deciding its calls."""
        sim = self.sim
        scope = node.token.scope & child.template.intent
        child.token = Credential(id="", kind="delegated_token", subject=child.agent, holders={child.agent},
                                 scope=scope, issued_at=0.0, expires_at=math.inf,
                                 binding=sim.controls(child.agent).binding, task="", human=self.human,
                                 intent=child.template, chain=tuple(child.chain.split(">")), parent=node.token)
        child.token_value = sim.world.value(scope)
        child.exchanged = True

    def _decide(self, node: _Node, key: Any, op: int, destination: str, args: tuple | None) -> tuple[str, str, str]:
        """The decision on ``node``'s agent presenting ``key`` for ``op`` (the same at any time, for a quiet key)."""
        if key.subject != node.agent and key.subject in node.passed and node.agent not in key.holders:
            key = copy.copy(key)  # decided as the engine decides it: the delegate holds it by then
            key.holders = set(key.holders) | {node.agent}
        return self.sim.pep.decide(self.sim.env.now, node.agent, key, op, destination, node.template, args)

    def _key_for(self, node: _Node, op: int) -> Any:
        """The key the node's agent presents for ``op``: the first one handed to it that covers it, else its own
        (under JIT controls: the task's token)."""
        if node.token is not None:
            return node.token
        sim = self.sim
        for subject in node.passed:
            key = sim.current_key(subject)
            if op in key.scope:
                return key
        key = sim.static_credential(node.agent, op)
        if key is None:
            raise _NotQuiet(node.agent)
        return key


# --------------------------------------------------------------------------- keys in time


class KeyTimeline:
    """The keys a quiet subject will have in service: each one's id and the moment it is rotated away.

    Mirrors the engine: a key issued at ``s`` to expire at ``e`` is rotated when SimPy's
    timeout of ``e - s`` from ``s`` fires, and its successor, issued then, lives one
    rotation period.
    """

    __slots__ = ("_generation", "_prefix", "_rotation", "ends", "ids")

    def __init__(self, key: Any, rotation: float) -> None:
        self._prefix, generation = key.id.rsplit("#", 1)
        self._generation = int(generation)
        self._rotation = rotation
        self.ids = [key.id]
        self.ends = [key.issued_at + (key.expires_at - key.issued_at) if math.isfinite(key.expires_at) else math.inf]

    def cover(self, until: float) -> None:
        """Know the keys in service up to ``until``."""
        while self.ends[-1] <= until:
            issued = self.ends[-1]
            self._generation += 1
            self.ids.append(f"{self._prefix}#{self._generation}")
            self.ends.append(issued + ((issued + self._rotation) - issued))


# --------------------------------------------------------------------------- rows held until due


_WINDOW_CODES = 1 << 24  # text codes from here on are a window's own values; below, the run's


class _Vocabulary:
    """Text values as int codes: the run's (agents, operations, reasons, key ids), kept for the whole run,
    and a window's own (its task ids), dropped with it."""

    __slots__ = ("_codes", "_first", "values")

    def __init__(self, first: int = 0) -> None:
        self.values: list[str | None] = []
        self._codes: dict[str | None, int] = {}
        self._first = first

    def code(self, value: str | None) -> int:
        found = self._codes.get(value)
        if found is None:
            found = self._codes[value] = self._first + len(self.values)
            self.values.append(value)
        return found

    def fresh(self, values: list[str]) -> np.ndarray:
        """Codes for values known to be new and distinct (a window's task ids), without looking them up."""
        first = self._first + len(self.values)
        self.values.extend(values)
        return np.arange(first, first + len(values), dtype=np.int32)


_COLUMN_DTYPE = tuple(np.dtype(float) if name in NUMBER_COLUMNS else np.dtype(bool) if name == "malicious"
                      else np.dtype(np.int8) if name == "in_intent" else np.dtype(np.int32) for name in COLUMNS)
_TEXT_INDEXES = tuple(COLUMNS.index(name) for name in TEXT_COLUMNS)


@dataclass
class _Batch:
    """Rows of one window, sorted by time: per column an array of codes (text: below
    :data:`_WINDOW_CODES` into the run's vocabulary, from it into the window's), floats
    (numbers), or bools and int8 (malicious, in_intent).

    The window's own values (ids and reasons, each new) go to the log as blocks
    (:meth:`~nhisim.sim.eventlog._Table.reserve`), one per log table whose columns use
    them, when the first rows fall due: ``fresh`` holds, per table, the block and each
    window code's code in it (-1: not in that table's columns).
    """

    t: np.ndarray
    columns: list[np.ndarray]
    run_values: list[str | None]
    window_values: Sequence[str | None]
    taken: int = 0
    fresh: dict[int, tuple[Any, FreshValues, np.ndarray]] | None = None

    def value(self, code: int) -> str | None:
        return self.run_values[code] if code < _WINDOW_CODES else self.window_values[code - _WINDOW_CODES]

    def reserve(self, tables: Mapping[str, Any]) -> None:
        """Code the window's values in the log's tables (as blocks: none is looked up there)."""
        used: dict[int, tuple[Any, np.ndarray]] = {}
        for index in _TEXT_INDEXES:
            table = tables[COLUMNS[index]]
            codes = self.columns[index]
            if _holds_window_values(codes):
                if id(table) not in used:
                    used[id(table)] = (table, np.zeros(len(self.window_values), dtype=bool))
                used[id(table)][1][codes[codes >= _WINDOW_CODES] - _WINDOW_CODES] = True
        self.fresh = {}
        for key, (table, marked) in used.items():
            positions = np.flatnonzero(marked)
            block = table.reserve(self.window_values if len(positions) == len(marked)
                                  else get_all(self.window_values, positions.tolist()))
            log_codes = np.full(len(self.window_values), -1, dtype=code_dtype(len(table)))
            log_codes[positions] = block.codes
            self.fresh[key] = (table, block, log_codes)

    def done(self) -> None:
        """No row is left to take: the blocks may go once the log is through with them."""
        for _, block, _ in (self.fresh or {}).values():
            block.done = True

    def compact(self) -> None:
        """Drop the rows taken, and the window's values only they used."""
        start = self.taken
        self.t = self.t[start:].copy()
        columns = [column[start:].copy() for column in self.columns]
        used = np.zeros(len(self.window_values), dtype=bool)
        window_columns = [index for index in _TEXT_INDEXES if _holds_window_values(columns[index])]
        for index in window_columns:
            codes = columns[index]
            used[codes[codes >= _WINDOW_CODES] - _WINDOW_CODES] = True
        kept = np.flatnonzero(used)
        renumber = np.zeros(len(self.window_values), dtype=np.int32)
        renumber[kept] = np.arange(len(kept), dtype=np.int32) + _WINDOW_CODES
        for index in window_columns:
            codes = columns[index]
            window = codes >= _WINDOW_CODES
            codes[window] = renumber[codes[window] - _WINDOW_CODES]
        self.window_values = get_all(self.window_values, kept.tolist())
        if self.fresh is not None:
            for key, (table, block, log_codes) in self.fresh.items():
                log_codes = log_codes[kept]
                still = log_codes[log_codes >= 0]
                self.fresh[key] = (table, table.keep_of(block, block.find(still)), log_codes)
        self.columns = columns
        self.taken = 0


class BulkRows:
    """Rows computed ahead of time, handed to the log as they fall due (``clock()`` says up to when)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._batches: list[_Batch] = []

    def __len__(self) -> int:
        return sum(len(batch.t) - batch.taken for batch in self._batches)

    def add(self, batch: _Batch) -> None:
        if len(batch.t):
            self._batches.append(batch)

    def take(self, tables: Mapping[str, Any]) -> list[list[np.ndarray]]:
        due = self.clock()
        pieces: list[list[np.ndarray]] = []
        for batch in self._batches:
            end = int(np.searchsorted(batch.t, due, side="right"))
            if end > batch.taken:
                pieces.append(self._piece(batch, batch.taken, end, tables))
                batch.taken = end
                if end == len(batch.t):
                    batch.done()
                elif end > len(batch.t) // 2:
                    batch.compact()  # a few long tasks' last rows should not hold the whole window
        self._batches = [batch for batch in self._batches if batch.taken < len(batch.t)]
        return pieces  # the log merges them (with its own rows), in one sort

    @staticmethod
    def _piece(batch: _Batch, start: int, end: int, tables: Mapping[str, Any]) -> list[np.ndarray]:
        if batch.fresh is None:
            batch.reserve(tables)
        out = [column[start:end] for column in batch.columns]
        for index in _TEXT_INDEXES:
            table = tables[COLUMNS[index]]
            fresh = batch.fresh.get(id(table))
            out[index] = _recode(out[index], batch.run_values, table, None if fresh is None else fresh[2])
        return out


def _holds_window_values(codes: np.ndarray) -> bool:
    """Whether a text column's codes hold any of the window's own values (most columns hold none: told by
    the largest code, not by a mask)."""
    return len(codes) > 0 and codes.max() >= _WINDOW_CODES


def _recode(values: np.ndarray, run_values: list[str | None], table: Any, fresh: np.ndarray | None) -> np.ndarray:
    """A text column's codes in a batch as the log's table codes: the window's values through their
    block (``fresh``, per window code), the run's looked up (each distinct value once).

    Run codes are small integers, so the distinct ones are found by marking, not by sorting.
    """
    some_window = _holds_window_values(values)
    window = values >= _WINDOW_CODES if some_window else None
    if some_window and window.all():
        return fresh[values - _WINDOW_CODES]
    local = values[~window] if some_window else values
    seen = np.zeros(len(run_values), dtype=bool)
    seen[local] = True
    distinct = np.flatnonzero(seen)
    codes = table.encode(list(map(run_values.__getitem__, distinct.tolist())), len(distinct))
    remap = np.empty(len(run_values), dtype=code_dtype(len(table)))  # as narrow as the log will keep them
    remap[distinct] = codes
    if some_window:
        out = np.empty(len(values), dtype=np.result_type(remap, fresh))
        out[window] = fresh[values[window] - _WINDOW_CODES]
        out[~window] = remap[local]
        return out
    return remap[local]


class _Rows:
    """Rows of a window being built, a group of rows at a time (every column given for each group)."""

    def __init__(self, run: _Vocabulary) -> None:
        self.run = run
        self.window = _Vocabulary(_WINDOW_CODES)
        self._none = run.code(None)
        self._groups: list[list[Any]] = []
        self._sizes: list[int] = []  # rows of each group
        self._who: list[np.ndarray] = []

    def add(self, rows: int, who: np.ndarray | None, **columns: Any) -> None:
        """A group of ``rows`` rows of the tasks ``who`` (positions in the window; None: rows of no task):
        each column an array, or one value for every row (text as codes)."""
        self._who.append(np.full(rows, -1, dtype=np.intp) if who is None else who)
        group: list[Any] = []  # per column, an array, or the value of every row (filled in by batch)
        for name in COLUMNS:
            value = columns.get(name)
            if isinstance(value, np.ndarray):
                group.append(value)
            elif name in NUMBER_COLUMNS:
                group.append(math.nan if value is None else float(value))
            elif name == "malicious":
                group.append(False)
            elif name == "in_intent":
                group.append(-1 if value is None else int(value))
            else:
                group.append(value if value is not None else self._none)
        self._sizes.append(rows)
        self._groups.append(group)

    def _column(self, parts: list[Any], index: int) -> np.ndarray:
        """Column ``index`` of every group (``parts``, one per group; an array in at least one), one
        group after the other."""
        if all(isinstance(part, np.ndarray) for part in parts):
            return np.concatenate(parts)
        base = _COLUMN_DTYPE[index]
        dtype = np.result_type(base, *{part.dtype for part in parts if isinstance(part, np.ndarray)})
        column = np.empty(sum(self._sizes), dtype=dtype)
        start = 0
        for part, size in zip(parts, self._sizes, strict=True):
            column[start:start + size] = part
            start += size
        return column

    def batch(self, horizon: float, drop: np.ndarray | None = None) -> _Batch:
        """The rows before ``horizon`` (the run never reaches it), but those of the tasks ``drop`` marks,
        sorted by time (stable)."""
        if not self._groups:
            return _Batch(np.empty(0), [], self.run.values, self.window.values)
        t = self._column([group[0] for group in self._groups], 0)
        order = stable_argsort(t)  # then the rows kept, in that order: one gather per column
        order = order[:int(np.searchsorted(t[order], horizon, side="left"))]
        if drop is not None and drop.any():
            who = np.concatenate(self._who)[order]
            order = order[(who < 0) | ~drop[np.maximum(who, 0)]]
        columns = [t[order]]
        group_of_row = None  # the group of each row kept, for the columns whose groups each give one value
        for index in range(1, len(COLUMNS)):
            parts = [group[index] for group in self._groups]
            if any(isinstance(part, np.ndarray) for part in parts):
                columns.append(self._column(parts, index)[order])
                continue
            values = np.array(parts, dtype=_COLUMN_DTYPE[index])
            bits = values.view(f"u{values.itemsize}")  # bits, so that NaN equals NaN
            if (bits == bits[0]).all():
                columns.append(np.full(len(order), values[0]))
                continue
            if group_of_row is None:
                group_of_row = np.repeat(np.arange(len(parts), dtype=np.int32), self._sizes)[order]
            columns.append(values[group_of_row])
        return _Batch(columns[0], columns, self.run.values, self.window.values)


# --------------------------------------------------------------------------- the executor


class _Quiet:
    """One quiet stream: its draws and its program."""

    def __init__(self, sim: Simulation, agent: str, template: CompiledTask, rate: float, program: _Program) -> None:
        self.agent = agent
        self.template = template
        self.key = f"{agent}/{template.id}"
        self.stream = Stream(sim.seed, self.key, rate, sim.program(agent, template.id))
        self.program = program
        layout = self.stream.program
        self.rolls = [(node.roll, node.discovery) for node in _layout_nodes(layout.root) if node.discovery > 0]


def _layout_nodes(node: Any) -> list[Any]:
    """A plan layout's nodes, depth first."""
    found = [node]
    for step in node.steps:
        if step[0] == DELEGATE:
            found.extend(_layout_nodes(step[1]))
    return found


class BulkExecutor:
    """Computes the quiet streams' tasks a window at a time, as each window begins (the run before it is known)."""

    def __init__(self, sim: Simulation, streams: list[tuple[str, CompiledTask, float, _Program]],
                 renewed: list[str] = ()) -> None:
        self.sim = sim
        self.rows = BulkRows(lambda: sim.env.now)
        self.quiet = [_Quiet(sim, agent, template, rate, program) for agent, template, rate, program in streams]
        self.vocabulary = _Vocabulary()
        self.vocabulary.code(None)
        self.identities = IdentityRenewals(sim, list(renewed), self.vocabulary)
        sim.identities_in_bulk = set(renewed)
        total_rate = sum(stream[2] for stream in streams)
        self.window = min(MAX_WINDOW, max(MIN_WINDOW, TASKS_PER_WINDOW / total_rate if total_rate > 0 else MAX_WINDOW))
        subjects = sorted({subject for q in self.quiet for subject in q.program.subjects})
        self.subject_index = {subject: i for i, subject in enumerate(subjects)}
        self.timelines = [KeyTimeline(sim.current_key(subject), sim.controls(subject).rotation) for subject in subjects]
        self._in_service = np.zeros(len(subjects), dtype=np.intp)  # each subject's key in service at a window's start
        self._key_end = np.zeros(len(subjects))  # ... when it is rotated away
        self._key_code = np.zeros(len(subjects), dtype=np.int32)  # ... and its id's code
        self._holders_added: set[tuple[str, str]] = set()  # (delegate, subject): handed that key once already
        if self.quiet:
            self._tables()
        self._computed_until = 0.0
        self.written: dict[tuple[str | None, str | None], int] = {}  # rows written here, by (event, code)
        self.postures = RiskPostures(self) if self.quiet and RiskPostures.needed(sim) else None
        sim.log.merge_from(self.rows)

    def run(self):
        """The executor on the agenda: each window computed as it begins (what the run did before it is known)."""
        horizon = self.sim.horizon
        while self._computed_until < horizon:
            start = self._computed_until
            self._compute(start, min(start + self.window, horizon))
            yield self._computed_until - self.sim.env.now  # wake when the window ends
            self.sim.log.flush()  # the rows due by now go to the log: pending rows stay about one window

    def finish(self) -> None:
        """The run is over: every row held is due."""
        self.rows.clock = lambda: math.inf

    # ------------------------------------------------------------------ the programs as tables

    def _tables(self) -> None:
        """Per stream and instruction slot (padded), what the instruction does and writes; per stream and
        node, what its task rows show."""
        world = self.sim.world
        code = self.vocabulary.code
        programs = [q.program for q in self.quiet]
        streams = len(programs)
        slots = max(len(p.instructions) for p in programs)
        nodes = max(len(p.nodes) for p in programs)
        self.depth = 1 + max(_depth(node) for p in programs for node in p.nodes)
        self.slots, self.node_count = slots, nodes
        i32 = np.int32
        kind = np.full((streams, slots), -1, dtype=np.int8)
        node = np.zeros((streams, slots), dtype=i32)
        child = np.zeros((streams, slots), dtype=i32)
        op = np.zeros((streams, slots), dtype=i32)
        duration = np.zeros((streams, slots), dtype=i32)
        subject = np.zeros((streams, slots), dtype=i32)
        allowed = np.ones((streams, slots), dtype=bool)
        text = {name: np.zeros((streams, slots), dtype=i32) for name in (
            "principal", "tool", "action", "resource", "decision", "code", "reason", "why")}
        position = np.full((streams, slots), -2, dtype=i32)  # the step a CALL_STEP or START is in its node
        parent = np.full((streams, nodes), -1, dtype=i32)  # a failure ends the node, then its delegators
        upward = np.zeros((streams, nodes), dtype=i32)  # why a node's delegator fails when it does
        agent = np.zeros((streams, nodes), dtype=i32)
        chain = np.zeros((streams, nodes), dtype=i32)
        dice = np.zeros((streams, nodes, 3), dtype=i32)  # plan-row columns of a node's discovery dice
        discovery = np.zeros((streams, nodes))
        node_steps = np.ones((streams, nodes))
        choices = np.zeros((streams, nodes))
        first_choice = np.zeros((streams, nodes), dtype=np.int64)  # where a node's candidates start, flat
        total = sum(len(n.candidates) for p in programs for n in p.nodes)
        candidate = {name: np.zeros(max(total, 1), dtype=i32) for name in (
            "op", "subject", "principal", "tool", "action", "resource", "decision", "code", "reason", "found")}
        self._candidate_of = np.zeros((max(total, 1), 3), dtype=i32)  # flat candidate -> (stream, node, choice)
        self.candidate_option_base = np.zeros(max(total, 1), dtype=np.int64)  # its delegators' tokens to try
        self.candidate_option_count = np.zeros(max(total, 1), dtype=i32)
        filled = 0
        deadline = np.zeros((streams, nodes))
        late = np.zeros((streams, nodes), dtype=i32)
        # under JIT controls, per node: its token's round trip (plan column), TTL, value, revocation at its end
        latency_column = np.zeros((streams, nodes), dtype=i32)
        ttl = np.zeros((streams, nodes))
        token_value = np.zeros((streams, nodes))
        revokes = np.zeros((streams, nodes), dtype=bool)
        exchanged = np.zeros((streams, nodes), dtype=bool)  # ... whether it works on an exchanged token
        token_chain = np.full((streams, nodes), code(""), dtype=i32)  # ... the chain its token's rows show
        widest = max([1] + [sum(child.parent is n and child.exchanged for child in p.nodes) for p in programs
                            for n in p.nodes])
        exchange_children = np.full((streams, nodes, widest), -1, dtype=i32)  # ... the tokens it exchanged
        # ... how a revocation of its token propagates (an index into PROPAGATIONS), and its cache's TTL
        propagation = np.zeros((streams, nodes), dtype=np.int8)
        cache_ttl = np.zeros((streams, nodes))
        # ... and per call, the delegators' tokens it tries first (flat: base + level - 1, nearest first)
        option_base = np.zeros((streams, slots), dtype=np.int64)
        option_count = np.zeros((streams, slots), dtype=i32)
        self._option_lists = {name: [] for name in ("covered", "allowed", "node", "principal", "decision", "code",
                                                    "reason")}
        self.options: dict[str, np.ndarray] | None = None
        self.suffixes: list[list[str]] = []
        for s, program in enumerate(programs):
            self.suffixes.append([n.suffix for n in program.nodes])
            for n in program.nodes:
                controls = self.sim.controls(n.agent)
                propagation[s, n.index] = PROPAGATIONS.index(controls.propagation)
                cache_ttl[s, n.index] = controls.cache_ttl
                if program.jit:
                    latency_column[s, n.index] = n.layout.latency
                    ttl[s, n.index] = controls.ttl
                    token_value[s, n.index] = n.token_value
                    revokes[s, n.index] = controls.revoke_at_task_end
                    if n.exchanged:
                        exchanged[s, n.index] = True
                        token_chain[s, n.index] = code(n.chain)
                        siblings = exchange_children[s, n.parent.index]
                        siblings[int(np.count_nonzero(siblings >= 0))] = n.index
                agent[s, n.index] = code(n.agent)
                chain[s, n.index] = code(n.chain)
                deadline[s, n.index] = n.template.deadline
                late[s, n.index] = code(f"deadline of {n.template.deadline:g} s passed")
                if n.parent is not None:
                    parent[s, n.index] = n.parent.index
                    upward[s, n.index] = code(f"sub-task {n.template.id} delegated to {n.agent} failed")
                if n.candidates and n.layout is not None:
                    dice[s, n.index] = (n.layout.roll, n.layout.where, n.layout.which)
                    discovery[s, n.index] = n.layout.discovery
                    node_steps[s, n.index] = len(n.template.steps)
                    choices[s, n.index] = len(n.candidates)
                    first_choice[s, n.index] = filled
                    self._candidate_of[filled:filled + len(n.candidates)] = [
                        (s, n.index, c) for c in range(len(n.candidates))]
                    filled += len(n.candidates)
            for j, instruction in enumerate(program.instructions):
                kind[s, j] = instruction[0]
                node[s, j] = instruction[1].index
                if instruction[0] == START:
                    child[s, j] = instruction[2].index
                    position[s, j] = instruction[3]
                elif instruction[0] == CALL_STEP:
                    _, _, the_op, column, the_subject, (decision, short, reason), position[s, j], handed = instruction
                    if handed:
                        option_base[s, j], option_count[s, j] = self._add_options(instruction[1].ancestors(), handed)
                    tool, action, resource = world.op_keys[the_op]
                    op[s, j], duration[s, j] = the_op, column
                    subject[s, j] = -1 if program.jit else self.subject_index[the_subject]
                    allowed[s, j] = decision == "allow"
                    for name, value in zip(text, (the_subject, tool, action, resource, decision, short, reason,
                                                  f"{world.label(the_op)} was denied"), strict=True):
                        text[name][s, j] = code(value)
        self.kind, self.node, self.child, self.op = kind, node, child, op
        self.duration, self.subject = duration, subject
        self.allowed, self.text, self.parent, self.upward = allowed, text, parent, upward
        self.agent, self.chain, self.deadline, self.late = agent, chain, deadline, late
        self.position, self.dice, self.discovery, self.node_steps = position, dice, discovery, node_steps
        self.choices, self.candidate, self.first_choice = choices, candidate, first_choice
        self._resolved = np.zeros(candidate["op"].shape, dtype=bool)  # candidates decided so far (when first picked)
        self.human = np.array([code(q.template.human) for q in self.quiet], dtype=i32)
        self.value = np.asarray(world.op_value, dtype=float)
        self.records = np.asarray(world.op_records, dtype=float)
        self.words = {word: code(word) for word in ("task_start", "request", "task_end", "arrival", "delegated",
                                                    "root", "sub", "ok", "failed", "", DONE, "discover", "optional",
                                                    "issue", "allow", "jit_token", ISSUE_REASONS["jit_token"],
                                                    "delegated_token", ISSUE_REASONS["delegated_token"], "exchanged",
                                                    "revoke", "lifecycle")}
        self.expired = tuple(code(value) for value in EXPIRED)  # an exchanged token used after it expired
        self.handed = [program.handed for program in programs]
        self.node_count_of = np.array([len(program.nodes) for program in programs])
        # JIT streams: a token per task, issued at its first call after the plan's round trip to the issuer
        self.jit = np.array([program.jit for program in programs])
        self.latency_column, self.ttl, self.token_value, self.revokes = latency_column, ttl, token_value, revokes
        self.exchanged, self.token_chain, self.exchange_children = exchanged, token_chain, exchange_children
        self.propagation, self.cache_ttl = propagation, cache_ttl
        self.option_base, self.option_count = option_base, option_count
        self._freeze_options()
        # the plan columns a window reads as values (durations, issuer round trips), and the function making
        # them: one per layout, whatever streams share it (their rows are turned in one call)
        layouts: dict[Any, int] = {}
        self._plan_turns: list[Callable[[np.ndarray], None]] = []
        self.plan_layout = np.zeros(streams, dtype=np.intp)
        self.plan_width = np.array([q.stream.program.width for q in self.quiet], dtype=np.intp)
        for s, q in enumerate(self.quiet):
            read = set(duration[s][kind[s] == CALL_STEP].tolist())
            if programs[s].jit:
                read.update(latency_column[s, :len(programs[s].nodes)].tolist())
            key, turn = q.stream.program.some_values(read)
            if key not in layouts:
                layouts[key] = len(self._plan_turns)
                self._plan_turns.append(turn)
            self.plan_layout[s] = layouts[key]
        self.words_none = code(None)
        self.program_length = np.array([len(program.instructions) for program in programs])
        self._handed_all = np.zeros((streams, slots), dtype=bool)  # a START whose keys every delegate holds now
        # per subject: the streams that hand keys on, this subject's among them
        handing: dict[str, list[int]] = {}
        for index, program in enumerate(programs):
            if program.handed:
                for subject in program.subjects:
                    handing.setdefault(subject, []).append(index)
        self._handing = [np.array(handing.get(subject, []), dtype=np.intp) for subject in self.subject_index]

    def _freeze_options(self) -> None:
        """The delegators' tokens calls may try, as arrays (with room to add those of discovery candidates)."""
        lists = self._option_lists
        size = len(lists["node"])
        self._options_used = size
        self.options = {}
        for name, values in lists.items():
            array = np.zeros(max(2 * size, 64), dtype=bool if name in ("covered", "allowed") else np.int32)
            array[:size] = values
            self.options[name] = array
        self._option_lists = {name: [] for name in lists}  # from now on, added straight to the arrays

    def _add_options(self, up_nodes: list[_Node], handed: list) -> tuple[int, int]:
        """Add the options of one call (the delegators ``up_nodes``, nearest first); its (base, count)."""
        code = self.vocabulary.code
        rows = [(covered, decision == "allow", up.index, code(up.agent), code(decision), code(short), code(reason))
                for up, (covered, (decision, short, reason)) in zip(up_nodes, handed, strict=True)]
        if self.options is None:  # still building the tables: lists
            base = len(self._option_lists["node"])
            for row in rows:
                for name, value in zip(self._option_lists, row, strict=True):
                    self._option_lists[name].append(value)
            return base, len(rows)
        base = self._options_used
        end = base + len(rows)
        if end > len(self.options["node"]):
            self.options = {name: np.concatenate((array, np.zeros_like(array))) for name, array in
                            self.options.items()}
        for name, values in zip(self.options, zip(*rows, strict=True), strict=True):
            self.options[name][base:end] = values
        self._options_used = end
        return base, len(rows)

    # ------------------------------------------------------------------ one window

    def _compute(self, start: float, end: float) -> None:
        self._computed_until = end
        rows = _Rows(self.vocabulary)
        # per stream with tasks in the window: its index, arrivals, rows of uniform numbers, first task's number
        indexes, arrivals, drawn, firsts = [], [], [], []
        skipped: dict[int, np.ndarray] = {}  # ... and, of those that run some tasks call by call, the others' numbers
        for index, q in enumerate(self.quiet):
            times, uniforms, first = q.stream.take(end)
            if not len(times):
                continue
            if q.rolls and not q.program.discoveries_in_bulk:
                overreach = np.zeros(len(times), dtype=bool)
                for roll, chance in q.rolls:  # dice: uniform numbers as drawn
                    overreach |= uniforms[:, roll] < chance
                if overreach.any():
                    number = np.arange(first, first + len(times))
                    values = q.stream.program.values(uniforms[overreach])
                    for at, row, n in zip(times[overreach], values, number[overreach], strict=True):
                        self._call_by_call(q, float(at), row.tolist(), int(n))
                    keep = ~overreach
                    times, uniforms = times[keep], uniforms[keep]
                    if not len(times):
                        continue
                    skipped[len(indexes)] = number[keep]
            indexes.append(index)
            arrivals.append(times)
            drawn.append(uniforms)
            firsts.append(first)
        drop = None
        self.identities.rows(rows, end)
        if indexes:
            self._keys_at(start)
            counts = np.array([len(times) for times in arrivals])
            starts = np.cumsum(counts) - counts  # each stream's first task in the window
            within = np.arange(int(counts.sum())) - np.repeat(starts, counts)  # a task's place in its stream's
            streams = np.repeat(np.array(indexes, dtype=np.intp), counts)
            numbers = np.repeat(np.array(firsts), counts) + within
            for position, kept in skipped.items():
                numbers[starts[position]:starts[position] + counts[position]] = kept
            longest_first = np.argsort(-self.program_length[streams], kind="stable")  # slot j: a prefix still runs
            plans = self._plan_rows(np.array(indexes), counts, within, drawn)
            plans.base = plans.base[longest_first]
            arrivals = np.concatenate(arrivals)[longest_first]
            streams, numbers = streams[longest_first], numbers[longest_first]
            w = self._lockstep(rows, arrivals, streams, numbers, plans)
            drop = self._across_rotations(arrivals, w.t, streams)
            moved: dict[int, np.ndarray] = {}
            if self.postures is not None:
                # no quiet stream hands static keys under an intent check: the check need not know of these
                assert not drop.any(), "tasks across a key rotation under a risk-posture check"
                ejected, moved = self.postures.window(w, start, end)
                drop |= ejected
            for k in np.flatnonzero(drop).tolist():
                q = self.quiet[streams[k]]
                row = q.stream.program.values(plans.uniforms_of(k, q.stream.program.width))[0]
                ended = self.postures.track(moved[k], f"{q.key}#{int(numbers[k])}") if k in moved else None
                self._call_by_call(q, float(arrivals[k]), row.tolist(), int(numbers[k]), ended)
        batch = rows.batch(self.sim.horizon, drop)
        self._count(batch)
        self.rows.add(batch)

    def _plan_rows(self, indexes: np.ndarray, counts: np.ndarray, within: np.ndarray,
                   drawn: list[np.ndarray]) -> _PlanRows:
        """The window's plan rows (``drawn``: the rows of uniform numbers of the streams ``indexes``, ``counts``
        of them; ``within``: each task's place among its stream's), the columns it reads as values turned
        a layout at a time: the streams whose layouts turn alike, one after the other, in one call.
        ``base`` comes in the order of the streams' tasks."""
        layouts = self.plan_layout[indexes]
        by_layout = np.argsort(layouts, kind="stable")
        widths = self.plan_width[indexes]
        sizes = counts * widths
        offsets = np.empty_like(sizes)
        offsets[by_layout] = np.cumsum(sizes[by_layout]) - sizes[by_layout]
        uniforms = np.concatenate([drawn[i] for i in by_layout.tolist()], axis=None)
        values = uniforms.copy()
        sorted_layouts = layouts[by_layout]
        bounds = np.concatenate(([0], np.flatnonzero(sorted_layouts[1:] != sorted_layouts[:-1]) + 1, [len(layouts)]))
        for first, last in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):  # one layout's streams
            head, tail = by_layout[first], by_layout[last - 1]
            rows = values[offsets[head]:offsets[tail] + sizes[tail]].reshape(-1, widths[head])
            self._plan_turns[layouts[head]](rows)
        base = np.repeat(offsets, counts) + within * np.repeat(widths, counts)
        return _PlanRows(values, base, uniforms)

    def _count(self, batch: _Batch) -> None:
        """Tally the rows a window wrote by event and code (:attr:`written`)."""
        if not len(batch.t):
            return
        event, code = batch.columns[COLUMNS.index("event")], batch.columns[COLUMNS.index("code")]
        # counted, not sorted: events are a handful of words, codes words of the run's vocabulary
        for e in np.flatnonzero(np.bincount(event)).tolist():
            codes = code[event == e]
            counts = np.bincount(codes[codes < _WINDOW_CODES])
            for c in np.flatnonzero(counts).tolist():
                key = (batch.value(e), batch.value(c))
                self.written[key] = self.written.get(key, 0) + int(counts[c])

    def _across_rotations(self, arrivals: np.ndarray, ended: np.ndarray, streams: np.ndarray) -> np.ndarray:
        """The tasks of streams that hand keys on during which one of their keys is rotated: the keys a
        delegate tries then depend on which it was handed when, so they run call by call."""
        drop = np.zeros(len(arrivals), dtype=bool)
        if not len(arrivals):
            return drop
        latest = float(ended.max())
        for index, timeline in enumerate(self.timelines):
            if self._key_end[index] > latest or not len(self._handing[index]):
                continue
            timeline.cover(latest)
            for rotation in timeline.ends[self._in_service[index]:]:
                if rotation > latest:
                    break
                spanning = (arrivals < rotation) & (rotation <= ended) & np.isin(streams, self._handing[index])
                drop |= spanning
        return drop

    def _call_by_call(self, q: _Quiet, at: float, row: list[float], number: int,
                      ended: Callable[[], None] | None = None) -> None:
        """Run a task of a quiet stream call by call from its arrival (``ended()`` is called when it ends)."""
        sim = self.sim
        plan = q.stream.program.plan(row, q.stream.extras, sim.switch_program)
        process = sim.task_process(q.agent, q.template, plan, f"{q.key}#{number}")
        sim.agenda.at(at, process if ended is None else _then(process, ended))

    def _keys_at(self, start: float) -> None:
        """Note each subject's key in service at ``start`` (a window's calls come no earlier)."""
        code = self.vocabulary.code
        for index, timeline in enumerate(self.timelines):
            timeline.cover(start)
            generation = self._in_service[index]
            while timeline.ends[generation] <= start:
                generation += 1
            self._in_service[index] = generation
            self._key_end[index] = timeline.ends[generation]
            self._key_code[index] = code(timeline.ids[generation])

    def _lockstep(self, rows: _Rows, arrivals: np.ndarray, streams: np.ndarray, numbers: np.ndarray,
                  plans: _PlanRows) -> _Window:
        """Run every task of the window at once, an instruction at a time, and write their rows; returns
        the window (``t``: when each task ended). The tasks come longest program first: at slot ``j``
        only a prefix of them has an instruction left."""
        words = self.words
        count = len(arrivals)
        w = _Window(rows, streams, plans, arrivals, self.node_count)
        # each task's id, and its sub-tasks' (root id + the node's suffix)
        keys = [q.key for q in self.quiet]
        roots = [f"{keys[s]}#{n}" for s, n in zip(streams.tolist(), numbers.tolist(), strict=True)]
        w.task[:, 0] = rows.window.fresh(roots)
        suffixes = self.suffixes
        for k in np.flatnonzero(self.node_count_of[streams] > 1).tolist():  # sub-tasks: the root's id, then theirs
            root = roots[k]
            names = suffixes[streams[k]]
            w.task[k, 1:len(names)] = rows.window.fresh([root + suffix for suffix in names[1:]])
        w.humans = self.human[streams]
        agents0 = self.agent[streams, 0]
        everyone = np.arange(count)
        rows.add(count, who=everyone, t=arrivals, event=words["task_start"], principal=agents0, presenter=agents0,
                 actor=agents0, chain=self.chain[streams, 0], task=w.task[:, 0], audit_human=w.humans,
                 code=words["arrival"])
        found_at, found_which = self._discoveries(streams, plans)
        w.found = found_at
        length = self.program_length[streams]
        t, began, running = w.t, w.began, w.running
        for j in range(self.slots):
            n = int(np.searchsorted(-length, -j, side="left"))  # the tasks whose program has an instruction j
            if not n:
                break
            mine = streams[:n]
            kinds = self.kind[mine, j]
            nodes = self.node[mine, j]
            alive = running[:n]
            checking = alive & ((kinds == CALL_STEP) | (kinds == START))
            late = checking & (t[:n] - began[everyone[:n], nodes] > self.deadline[mine, nodes])
            if late.any():
                which = np.flatnonzero(late)
                self._unwind(w, which, j, self.late[streams[which], nodes[which]])
            if found_at is not None:
                stepping = alive & ((kinds == CALL_STEP) | (kinds == START))
                discovering = np.flatnonzero(stepping & (found_at[everyone[:n], nodes] == self.position[mine, j]))
                if len(discovering):
                    self._discover(w, discovering, nodes[discovering], found_which[discovering, nodes[discovering]])
            calls = np.flatnonzero(alive & (kinds == CALL_STEP))
            if len(calls):
                self._calls(w, calls, j)
            starts = np.flatnonzero(alive & (kinds == START))
            if len(starts):
                starts = self._exchange(w, starts, j)
            if len(starts):
                on = streams[starts]
                child = self.child[on, j]
                began[starts, child] = t[starts]
                agents = self.agent[on, child]
                how = np.where(self.exchanged[on, child], words["exchanged"], words["delegated"]).astype(np.int32)
                rows.add(len(starts), who=starts, t=t[starts], event=words["task_start"], principal=agents,
                         presenter=agents, actor=agents, chain=self.chain[on, child], task=w.task[starts, child],
                         audit_human=w.humans[starts], code=how)
                static = starts[~self.jit[on]]
                if len(static):
                    self._hand_keys(static, j, t, streams)
            ends = np.flatnonzero(alive & (kinds == END))
            if len(ends):
                on = streams[ends]
                ended = self.node[on, j]
                root = ended == 0
                self._revoke_tokens(w, ends, ended)
                at = t[ends]
                agents = self.agent[on, ended]
                w.ended[ends, ended] = at
                rows.add(len(ends), who=ends, t=at, event=words["task_end"], principal=agents, presenter=agents,
                         actor=agents, task=w.task[ends, ended], audit_human=w.humans[ends], decision=words["ok"],
                         code=np.where(root, words["root"], words["sub"]).astype(np.int32), reason=words[DONE],
                         latency=at - began[ends, ended])
                running[ends[root]] = False
        return w

    def _resolve(self, pick: np.ndarray) -> None:
        """Decide the discovery candidates picked for the first time (most never are)."""
        world, code, candidate = self.sim.world, self.vocabulary.code, self.candidate
        flats = np.unique(pick[~self._resolved[pick]])
        resolved = []  # per candidate, its value of each of candidate's columns
        for flat, (s, n, c) in zip(flats.tolist(), self._candidate_of[flats].tolist(), strict=True):
            program = self.quiet[s].program
            node = program.nodes[n]
            the_op, the_subject, (decision, short, reason), found, handed = program.discovered(node, c)
            if handed:
                self.candidate_option_base[flat], self.candidate_option_count[flat] = self._add_options(
                    node.ancestors(), handed)
            tool, action, resource = world.op_keys[the_op]
            resolved.append((the_op, -1 if program.jit else self.subject_index[the_subject], code(the_subject),
                             code(tool), code(action), code(resource), code(decision), code(short), code(reason),
                             code(found)))
        for name, values in zip(candidate, zip(*resolved, strict=True), strict=True):
            candidate[name][flats] = values
        self._resolved[flats] = True

    def _discoveries(self, streams: np.ndarray, plans: _PlanRows) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Per task and node: at which step it tries an operation outside its intent (-1: none), and which."""
        if not self.discovery.any():
            return None, None
        everyone = np.arange(len(streams))
        found = plans.at(everyone[:, None], self.dice[streams, :, 0]) < self.discovery[streams]  # (tasks, nodes)
        tasks, nodes = np.nonzero(found)  # few: where and which are read for these only
        on = streams[tasks]
        at = np.full(found.shape, -1, dtype=np.intp)
        at[tasks, nodes] = (plans.at(tasks, self.dice[on, nodes, 1]) * self.node_steps[on, nodes]).astype(np.intp)
        choice = np.zeros(found.shape, dtype=np.intp)  # read only where at >= 0
        choice[tasks, nodes] = (plans.at(tasks, self.dice[on, nodes, 2]) * self.choices[on, nodes]).astype(np.intp)
        return at, choice

    def _discover(self, w: _Window, which: np.ndarray, nodes: np.ndarray, choice: np.ndarray) -> None:
        """Tasks trying an operation outside their intent now: the discovery, then the request."""
        words, candidate = self.words, self.candidate
        on = w.streams[which]
        agents = self.agent[on, nodes]
        tasks = w.task[which, nodes]
        pick = self.first_choice[on, nodes] + choice
        if not self._resolved[pick].all():
            self._resolve(pick)
        w.rows.add(len(which), who=which, t=w.t[which], event=words["discover"], principal=agents, presenter=agents,
                   actor=agents, task=tasks, tool=candidate["tool"][pick], action=candidate["action"][pick],
                   resource=candidate["resource"][pick], in_intent=False, code=words["optional"],
                   reason=candidate["found"][pick])
        ops = candidate["op"][pick]
        presented, principal, decision, code, reason, _ = self._present(
            w, which, nodes, self.candidate_option_base[pick], self.candidate_option_count[pick],
            candidate["principal"][pick], candidate["decision"][pick], candidate["code"][pick],
            candidate["reason"][pick], None)
        w.asked_at[which, nodes] = w.t[which]  # the request, once the token in hand is renewed if need be
        w.asked_batch[which, nodes] = w.notes
        self._requests(w, which, nodes, presented, self._keys(w, which, presented, candidate["subject"][pick]),
                       principal, candidate["tool"][pick], candidate["action"][pick], candidate["resource"][pick],
                       False, decision, code, reason, ops)

    def _calls(self, w: _Window, calls: np.ndarray, j: int) -> None:
        """The calls of instruction slot ``j``: their rows; a denial ends the task (and its delegators)."""
        text = self.text
        on = w.streams[calls]
        nodes = self.node[on, j]
        presented, principal, decision, code, reason, allowed = self._present(
            w, calls, nodes, self.option_base[on, j], self.option_count[on, j], text["principal"][on, j],
            text["decision"][on, j], text["code"][on, j], text["reason"][on, j], self.allowed[on, j])
        self._requests(w, calls, nodes, presented, self._keys(w, calls, presented, self.subject[on, j]), principal,
                       text["tool"][on, j], text["action"][on, j], text["resource"][on, j], True, decision, code,
                       reason, self.op[on, j])
        if not allowed.all():
            denied = calls[~allowed]
            self._unwind(w, denied, j, text["why"][w.streams[denied], j])
        going = calls[allowed]
        w.t[going] = w.t[going] + w.plans.at(going, self.duration[w.streams[going], j])

    def _present(self, w: _Window, which: np.ndarray, nodes: np.ndarray, base: np.ndarray, count: np.ndarray,
                 principal: np.ndarray, decision: np.ndarray, code: np.ndarray, reason: np.ndarray,
                 allowed: np.ndarray | None) -> tuple[np.ndarray, ...]:
        """What the tasks ``which`` (at ``nodes``) present for a call now, and how it is decided: their key, or
        under JIT controls the first delegator's token that covers it and still lives (options ``base`` ..
        ``base + count``), else their node's own token (issued now if it has none). The given arrays are
        the own credential's; returns (node whose token is presented, principal, decision, code, reason,
        allowed)."""
        presented = nodes
        jit = self.jit[w.streams[which]]
        if not jit.any():
            return presented, principal, decision, code, reason, allowed
        chosen = self._handed_token(w, which, base, count)
        handed = chosen >= 0
        if handed.any():
            pick = chosen[handed]
            presented = nodes.copy()
            presented[handed] = self.options["node"][pick]
            principal, decision, code, reason = principal.copy(), decision.copy(), code.copy(), reason.copy()
            for target, name in ((principal, "principal"), (decision, "decision"), (code, "code"), (reason, "reason")):
                target[handed] = self.options[name][pick]
            if allowed is not None:
                allowed = allowed.copy()
                allowed[handed] = self.options["allowed"][pick]
        exchanged = self.exchanged[w.streams[which], nodes]
        own = jit & ~handed & ~exchanged
        self._obtain_tokens(w, which[own], nodes[own])
        if exchanged.any():  # its only credential, never renewed: after it expires, every call is denied
            expired = exchanged & (w.t[which] >= w.expires[which, nodes])
            if expired.any():
                decision, code, reason = decision.copy(), code.copy(), reason.copy()
                decision[expired], code[expired], reason[expired] = self.expired
                if allowed is not None:
                    allowed = allowed.copy()
                    allowed[expired] = False
        return presented, principal, decision, code, reason, allowed

    def _exchange(self, w: _Window, starts: np.ndarray, j: int) -> np.ndarray:
        """Sub-tasks starting now whose delegator hands work on by token exchange: the delegator's own token
        (obtained or renewed if it works on its own), then the exchange's round trip (the sub-task plan's)
        and the delegated token, for the delegator's scope ∩ the sub-task's intent and at most the
        delegator's TTL and remaining life; with no life left the hand-off fails. Returns the starts that go on."""
        on = w.streams[starts]
        child = self.child[on, j]
        exchange = self.exchanged[on, child]
        if not exchange.any():
            return starts
        which, on, child = starts[exchange], on[exchange], child[exchange]
        delegator = self.node[on, j]
        own = ~self.exchanged[on, delegator]
        if own.any():
            self._obtain_tokens(w, which[own], delegator[own])
        lifetime = np.minimum(self.ttl[on, delegator], w.expires[which, delegator] - w.t[which])
        going = lifetime > 0
        if not going.all():
            self._unwind(w, which[~going], j, self.upward[on[~going], child[~going]])
            which, on, child, lifetime = which[going], on[going], child[going], lifetime[going]
        w.t[which] = w.t[which] + w.plans.at(which, self.latency_column[on, child])
        at = w.t[which]
        w.expires[which, child] = at + lifetime
        w.got[which, child] = at
        w.token[which, child] = w.rows.window.fresh([f"del-{task}" for task in self._node_ids(w, which, child)])
        words = self.words
        agents = self.agent[on, child]
        tasks = w.task[which, child]
        w.rows.add(len(which), who=which, t=at, event=words["issue"], principal=agents, presenter=agents,
                   actor=agents, credential=w.token[which, child], chain=self.chain[on, child], task=tasks,
                   audit_task=tasks, audit_human=w.humans[which], decision=words["allow"],
                   code=words["delegated_token"], reason=words[ISSUE_REASONS["delegated_token"]],
                   value=self.token_value[on, child], until=w.expires[which, child])
        return np.sort(np.concatenate((starts[~exchange], which)))

    def _handed_token(self, w: _Window, which: np.ndarray, base: np.ndarray, count: np.ndarray) -> np.ndarray:
        """Per task: the option (flat index) of the first delegator's token that covers the call and still
        lives, nearest delegator first; -1: none, the call presents its own node's token."""
        chosen = np.full(len(which), -1, dtype=np.int64)
        if not count.any():
            return chosen
        calls = which
        t = w.t[calls]
        for level in range(int(count.max())):
            open_ = (chosen < 0) & (level < count)
            if not open_.any():
                break
            option = base + level
            option[~open_] = 0
            up = self.options["node"][option]
            until = w.expires[calls, up]
            usable = open_ & self.options["covered"][option] & (t < until)  # NaN: it had no token
            chosen[usable] = option[usable]
        return chosen

    def _keys(self, w: _Window, which: np.ndarray, presented: np.ndarray, subjects: np.ndarray) -> np.ndarray:
        """The credential codes the tasks ``which`` present now: a token of the node ``presented`` (JIT), or the
        key in service of ``subjects``."""
        jit = self.jit[w.streams[which]]
        if jit.all():
            return w.token[which, presented]
        credential = self._credentials(np.maximum(subjects, 0), w.t[which])
        if jit.any():
            credential[jit] = w.token[which[jit], presented[jit]]
        return credential

    def _requests(self, w: _Window, which: np.ndarray, nodes: np.ndarray, presented: np.ndarray,
                  credential: np.ndarray, principal: np.ndarray, tool: np.ndarray, action: np.ndarray,
                  resource: np.ndarray, in_intent: bool, decision: np.ndarray, code: np.ndarray, reason: np.ndarray,
                  ops: np.ndarray) -> None:
        """Request rows of the tasks ``which`` (at their ``nodes``) now, presenting ``credential``: a key in
        service, or the token of the node ``presented`` (which the audit trail names)."""
        at = w.t[which]
        on = w.streams[which]
        agents = self.agent[on, nodes]
        jit = self.jit[on]
        none = self.words_none
        if jit.any():
            audit_task = np.where(jit, w.task[which, presented], none).astype(np.int32)
            audit_human = np.where(jit, w.humans[which], none).astype(np.int32)
        else:
            audit_task = audit_human = None
        if self.postures is not None:
            self.postures.note(w, which, at, on, nodes, decision, code, ops)
        w.rows.add(len(which), who=which, t=at, event=self.words["request"], principal=principal, presenter=agents,
                   actor=agents, credential=credential, chain=self.token_chain[on, presented], tool=tool, action=action,
                   resource=resource, task=w.task[which, nodes], audit_task=audit_task, audit_human=audit_human,
                   in_intent=in_intent, decision=decision, code=code, reason=reason, value=self.value[ops],
                   records=self.records[ops], wait=0.0)

    def _node_ids(self, w: _Window, which: np.ndarray, nodes: np.ndarray) -> Sequence[str]:
        """The task ids of the nodes ``nodes`` of the tasks ``which``."""
        return get_all(w.rows.window.values, (w.task[which, nodes] - _WINDOW_CODES).tolist())

    def _obtain_tokens(self, w: _Window, which: np.ndarray, nodes: np.ndarray) -> None:
        """Tasks under JIT controls whose node calls on its own token now and has none that lives: a round trip
        to the issuer (for its first token, the node's plan; for a renewal, the n-th draw of the task's own
        issuer stream), then the token (``jit-<task>``, then ``.2``, ``.3``)."""
        words = self.words
        on = w.streams[which]
        until = w.expires[which, nodes]
        first = np.isnan(until)
        needed = self.jit[on] & (first | (w.t[which] >= until))
        if not needed.any():
            return
        which, nodes, on, first = which[needed], nodes[needed], on[needed], first[needed]
        latency = self.latency_column[on, nodes]
        wait = w.plans.at(which, latency)
        ids = self._node_ids(w, which, nodes)
        if not first.all():  # renewals: drawn as the engine draws them (rng.uniform_at), one at a time
            sim = self.sim
            issuer = sim.scenario.issuer.latency
            for row in np.flatnonzero(~first).tolist():
                k, n = int(which[row]), int(nodes[row])
                w.draws[k, n] += 1
                wait[row] = issuer.quantile(uniform_at(sim.seed, "issuer", ids[row], int(w.draws[k, n])))
        w.t[which] = w.t[which] + wait
        at = w.t[which]
        w.expires[which, nodes] = at + self.ttl[on, nodes]
        w.got[which, nodes] = at
        w.issued[which, nodes] += 1
        issued = w.issued[which, nodes].tolist()
        w.token[which, nodes] = w.rows.window.fresh([f"jit-{task}" if count == 1 else f"jit-{task}.{count}"
                                                     for task, count in zip(ids, issued, strict=True)])
        agents = self.agent[on, nodes]
        tasks = w.task[which, nodes]
        w.rows.add(len(which), who=which, t=at, event=words["issue"], principal=agents, presenter=agents,
                   actor=agents, credential=w.token[which, nodes], chain=words[""], task=tasks, audit_task=tasks,
                   audit_human=w.humans[which], decision=words["allow"], code=words["jit_token"],
                   reason=words[ISSUE_REASONS["jit_token"]], value=self.token_value[on, nodes],
                   until=w.expires[which, nodes])

    def _revoke_tokens(self, w: _Window, which: np.ndarray, nodes: np.ndarray) -> None:
        """Tasks whose node ``nodes`` ends now: if its controls say so, the tokens it obtained that still live
        are revoked, in the order it obtained them: its own, and those it exchanged for its sub-tasks."""
        if not len(which):
            return
        on = w.streams[which]
        at = w.t[which]
        keep = self.revokes[on, nodes]
        if not keep.any():
            return
        which, nodes, on, at = which[keep], nodes[keep], on[keep], at[keep]
        # the node's own token, then each exchanged one (column 0: its own)
        held = np.concatenate((np.where(self.exchanged[on, nodes], -1, nodes)[:, None],
                               self.exchange_children[on, nodes]), axis=1)
        rows, columns = np.nonzero(held >= 0)
        token_node = held[rows, columns]
        live = at[rows] < w.expires[which[rows], token_node]  # NaN: none obtained
        rows, token_node = rows[live], token_node[live]
        if not len(rows):
            return
        order = np.lexsort((w.got[which[rows], token_node], rows))  # per task, in the order obtained
        rows, token_node = rows[order], token_node[order]
        tasks, streams, now = which[rows], on[rows], at[rows]
        until = w.expires[tasks, token_node]
        effective = propagation_delays(self.propagation[streams, token_node], self.cache_ttl[streams, token_node],
                                        now, until)
        reasons = w.rows.window.fresh([f"task {task} ended" for task in self._node_ids(w, tasks, nodes[rows])])
        w.rows.add(len(rows), who=tasks, t=now, event=self.words["revoke"], principal=self.agent[streams, token_node],
                   credential=w.token[tasks, token_node], chain=self.token_chain[streams, token_node],
                   decision=self.words["revoke"], code=self.words["lifecycle"], reason=reasons, until=effective)

    def _unwind(self, w: _Window, which: np.ndarray, j: int, why: np.ndarray) -> None:
        """Tasks failing at slot ``j``: the failing task ends with ``why``, then each of its delegators."""
        on = w.streams[which]
        at = w.t[which]
        nodes = self.node[on, j]
        reasons = why
        for _ in range(self.depth):
            here = nodes >= 0
            if not here.any():
                break
            rows_here = which[here]
            ended = nodes[here]
            self._revoke_tokens(w, rows_here, ended)
            agents = self.agent[on[here], ended]
            reason = reasons[here]
            w.ended[rows_here, ended] = at[here]
            w.rows.add(len(rows_here), who=rows_here, t=at[here], event=self.words["task_end"], principal=agents,
                       presenter=agents, actor=agents, task=w.task[rows_here, ended], audit_human=w.humans[rows_here],
                       decision=self.words["failed"],
                       code=np.where(ended == 0, self.words["root"], self.words["sub"]).astype(np.int32),
                       reason=reason, latency=at[here] - w.began[rows_here, ended])
            reasons = np.zeros(len(which), dtype=np.int32)
            reasons[here] = self.upward[on[here], ended]  # its delegator fails because it did
            nodes = np.where(here, self.parent[on, np.maximum(nodes, 0)], -1)
        w.running[which] = False

    def _hand_keys(self, starts: np.ndarray, j: int, t: np.ndarray, streams: np.ndarray) -> None:
        """A delegator hands its keys to its delegate, which then holds them: at the first hand-off of each
        key to each delegate, add it as the key's holder at that moment, as the engine does."""
        sim = self.sim
        on = streams[starts]
        fresh = ~self._handed_all[on, j]
        if not fresh.any():
            return
        starts, on = starts[fresh], on[fresh]
        order = np.lexsort((t[starts], on))  # by stream, then time: each stream's first hand-off here
        first = np.ones(len(order), dtype=bool)
        first[1:] = on[order][1:] != on[order][:-1]
        for k in starts[order][first].tolist():
            s = int(streams[k])
            self._handed_all[s, j] = True
            delegate, subjects = self.handed[s][int(np.count_nonzero(self.kind[s, :j] == START))]
            for subject in subjects:
                if (delegate, subject) in self._holders_added:
                    continue
                self._holders_added.add((delegate, subject))
                if delegate not in sim.current_key(subject).holders:
                    sim.agenda.at(float(t[k]), _hand_over(sim, delegate, subject))

    def _credentials(self, subjects: np.ndarray, at: np.ndarray) -> np.ndarray:
        """The code of the key each call presents: its subject's key in service at the call's time."""
        timelines = self.timelines
        code = self.vocabulary.code
        out = self._key_code[subjects]
        for row in np.flatnonzero(at >= self._key_end[subjects]).tolist():  # rotated before the call: a later key
            timeline = timelines[subjects[row]]
            timeline.cover(float(at[row]))
            generation = int(np.searchsorted(np.array(timeline.ends), at[row], side="right"))
            out[row] = code(timeline.ids[generation])
        return out


class RiskPostures:
    """The agents' risk postures under a check of intent, for the tasks computed in bulk.

    The enforcement point escalates an agent's sensitive in-intent call (level 2 and up)
    once ``risk_escalation_alerts`` alerts were raised on it in the last hour (by its own
    requests denied as outside their intent). An escalation waits in the approvers' queue,
    which only the call-by-call path runs. So a window is computed as if no call were
    escalated, then checked: each sensitive call is counted the alerts raised on its agent
    in the hour before it: those the run raised before the window (call by call, or from
    earlier windows), and those of every task computed in bulk.

    A task of the window runs call by call instead, from its arrival, if it has a call that
    would have been escalated, a sensitive call of a *hot* agent at or after the moment that
    agent became hot (its alerts from then on are not all known), or any sensitive call
    after the window's end (the next window's alerts are not known yet). An agent is hot
    from the window's start if it also works in tasks run call by call that may still
    raise alerts on it in the window (tasks of streams that are not quiet; tasks moved call
    by call before that have not ended, from when the review they wait for ends, if they
    wait for one: :attr:`~nhisim.sim.engine.Simulation.in_review`); and, when a task moves
    call by call, if one of its sub-tasks still running or yet to run at that task's first
    such call may raise an alert on it after that call (a discovery, or a step denied as
    outside its intent), as that alert may come at another time: from when the window had
    that discovery's request, if after that call (call by call, the task has only waited
    longer by then), else from that first call (until nothing changes): a request, not the
    discovery, as it may wait for a renewed token. The alerts of the tasks kept are raised
    in the run at their times (:meth:`~nhisim.sim.engine.Simulation.note_alert`) for the
    calls made call by call, which also see their own; a moved task's alerts before its
    first such call come as computed, and later windows count them as they count the kept
    tasks' alerts.
    """

    @staticmethod
    def needed(sim: Simulation) -> bool:
        return sim.pep.checks_intent and sim.pep.strategy.risk_escalation_alerts is not None

    def __init__(self, executor: BulkExecutor) -> None:
        sim = executor.sim
        world = sim.world
        self.sim = sim
        self.threshold = sim.pep.strategy.risk_escalation_alerts
        self.names = list(world.agents)
        self.index = {name: i for i, name in enumerate(self.names)}
        code_to_index = {executor.vocabulary.code(name): i for name, i in self.index.items()}
        self.agent_index = np.vectorize(lambda c: code_to_index.get(int(c), -1), otypes=[np.intp])(executor.agent)
        self.node_count_of = executor.node_count_of
        self.level = np.asarray(world.op_level)
        vocabulary = executor.vocabulary
        self.allow, self.deny = vocabulary.code("allow"), vocabulary.code("deny")
        self.intent_codes = np.array(sorted(vocabulary.code(c) for c in INTENT_CODES), dtype=np.int32)
        # per stream and node: whether one of its steps is denied as outside its intent (an alert each time)
        self.alerting = np.zeros(executor.agent.shape, dtype=bool)
        steps = (executor.kind == CALL_STEP) & (executor.text["decision"] == self.deny) & np.isin(
            executor.text["code"], self.intent_codes)
        rows, slots = np.nonzero(steps)
        self.alerting[rows, executor.node[rows, slots]] = True
        quiet = {(q.agent, q.template.id) for q in executor.quiet}
        always: set[str] = set()  # agents in tasks of streams that are not quiet
        for agent in world.agents.values():
            involved = agent.id in sim.bulk_involved
            for template_id in agent.tasks:
                if involved or (world.tasks[template_id].rate * agent.rate_multiplier > 0
                                and (agent.id, template_id) not in quiet):
                    always |= _tree_agents(world, agent.id, template_id)
        self.always = np.array(sorted(self.index[name] for name in always), dtype=np.intp)
        # tasks moved call by call, not ended: their ids and agents that may alert
        self.moved: dict[int, tuple[str, np.ndarray]] = {}
        self.moved_tasks = 0  # tasks moved call by call in all
        self.reviews_waited = 0  # times a window began while a moved task waited for a review
        self._moves = 0
        self.raised: list[tuple[float, str]] = []  # alerts the run raised since the last window
        sim.alert_log = self.raised
        self.recent_agent, self.recent_t = np.empty(0, dtype=np.intp), np.empty(0)  # raised, the last hour
        self.pending_agent, self.pending_t = np.empty(0, dtype=np.intp), np.empty(0)  # computed, not raised yet

    def note(self, w: _Window, which: np.ndarray, at: np.ndarray, streams: np.ndarray, nodes: np.ndarray,
             decision: np.ndarray, code: np.ndarray, ops: np.ndarray) -> None:
        """Requests written: those that raise an alert on their agent, and the sensitive ones allowed."""
        alert = (decision == self.deny) & np.isin(code, self.intent_codes)
        risky = (decision == self.allow) & (self.level[ops] >= 2)
        keep = alert | risky
        batch = w.notes  # within a task, a later batch is a later request
        w.notes += 1
        if keep.any():
            w.postures.append((which[keep], at[keep], self.agent_index[streams[keep], nodes[keep]], alert[keep],
                               np.full(int(keep.sum()), batch)))

    def window(self, w: _Window, start: float, end: float) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """The window ``start``..``end`` is computed (the run is at ``start``): the tasks to run call by call
        (see the class), with the agents of each that may raise alerts after it moved. The alerts of the
        others are raised in the run at their times."""
        count = len(w.t)
        ejected = np.zeros(count, dtype=bool)
        moved: dict[int, np.ndarray] = {}
        self._known(start)
        if not w.postures:
            return ejected, moved
        which, at, agent, alert, batch = (np.concatenate(parts) for parts in zip(*w.postures, strict=True))
        hot = np.full(len(self.names), math.inf)
        hot[self.always] = start
        in_review = self.sim.in_review
        for task, agents in self.moved.values():  # a tree waiting for a review makes no call until it ends
            review_ends = in_review.get(task, start)
            self.reviews_waited += review_ends > start
            hot[agents] = np.minimum(hot[agents], max(start, review_ends))
        alerts_agent = np.concatenate((self.recent_agent, self.pending_agent, agent[alert]))
        alerts_t = np.concatenate((self.recent_t, self.pending_t, at[alert]))
        risky = ~alert
        r_which, r_t, r_agent, r_batch = which[risky], at[risky], agent[risky], batch[risky]
        # the calls that would have been escalated
        order = np.lexsort((alerts_t, alerts_agent))
        alerts_agent, alerts_t = alerts_agent[order], alerts_t[order]
        escalated = np.zeros(len(r_t), dtype=bool)
        enough = (np.searchsorted(alerts_agent, r_agent, side="right")
                  - np.searchsorted(alerts_agent, r_agent, side="left")) >= self.threshold
        for a in np.unique(r_agent[enough]).tolist():
            lo, hi = int(np.searchsorted(alerts_agent, a, "left")), int(np.searchsorted(alerts_agent, a, "right"))
            times = alerts_t[lo:hi]
            mine = np.flatnonzero(r_agent == a)
            calls = r_t[mine]
            raised = np.searchsorted(times, calls, side="right")  # alerts raised by then
            forgotten = np.searchsorted(times + RISK_WINDOW, calls, side="right")  # ... and forgotten since
            escalated[mine[raised - forgotten >= self.threshold]] = True
        # tasks with such a call, a sensitive call of a hot agent, or one after the window; from its first, the
        # agents of the task that may raise alerts after it are hot
        streams = w.streams
        since = np.full(count, math.inf)
        since_batch = np.full(count, np.iinfo(np.int64).max)  # ... and its request's batch (its place in the task)
        width = w.ended.shape[1]
        while True:
            flagged = escalated | (r_t >= np.minimum(hot[r_agent], end))
            first = np.full(count, np.iinfo(np.int64).max)
            np.minimum.at(first, r_which[flagged], r_batch[flagged])  # a task's first is its earliest batch
            tasks = np.flatnonzero(first < since_batch)
            if not len(tasks):
                break
            since_batch[tasks] = first[tasks]
            np.minimum.at(since, r_which[flagged], r_t[flagged])  # ... and its earliest time
            on, at_since, after = streams[tasks], since[tasks][:, None], since_batch[tasks][:, None]
            # their nodes not ended by then that may still raise an alert, and from when: a discovery whose
            # request the window had after that call comes no earlier call by call (the task only waits
            # more), one it never had from then; one before it is as computed (counted below)
            going = (w.ended[tasks] >= at_since) & (np.arange(width) < self.node_count_of[on][:, None])
            when = np.where(self.alerting[on, :width], at_since, math.inf)
            if w.found is not None:
                reached, asked = w.asked_at[tasks], w.asked_batch[tasks]
                discovery = (w.found[tasks] >= 0) & ((asked > after) | (asked < 0)) & going
                when = np.minimum(when, np.where(discovery, np.where(reached < math.inf, reached, at_since),
                                                 math.inf))
            alerts = going & (when < math.inf)
            agents = self.agent_index[on, :width]
            for k, mine, theirs in zip(tasks.tolist(), alerts, agents, strict=True):
                moved[k] = theirs[mine]
            agents, when = agents[alerts], when[alerts]
            lower = hot[agents] > when
            if not lower.any():
                break
            np.minimum.at(hot, agents[lower], when[lower])
        ejected[list(moved)] = True
        self.moved_tasks += len(moved)
        kept = alert & ~ejected[which]
        self._raise(agent[kept], at[kept])
        # a moved task's alerts before its first flagged call come as computed: it raises them itself, and
        # later windows count them (those after this window's end are not raised yet when the next begins)
        before = alert & ejected[which] & (batch < since_batch[which])
        self._pend(agent[before], at[before])
        return ejected, moved

    def track(self, agents: np.ndarray, task: str) -> Callable[[], None] | None:
        """Task ``task`` moved call by call, whose ``agents`` may raise alerts: they are hot until it ends
        (call the returned function then), but while it waits for a review."""
        if not len(agents):
            return None
        self._moves += 1
        number = self._moves
        self.moved[number] = (task, agents)

        def ended() -> None:
            del self.moved[number]
        return ended

    def _known(self, start: float) -> None:
        """At a window's start: the alerts raised in the last hour, and those computed not raised yet."""
        if self.raised:
            at = np.array([t for t, _ in self.raised])
            agents = np.array([self.index[name] for _, name in self.raised], dtype=np.intp)
            self.raised.clear()
            self.recent_agent = np.concatenate((self.recent_agent, agents))
            self.recent_t = np.concatenate((self.recent_t, at))
        live = self.recent_t + RISK_WINDOW > start
        self.recent_agent, self.recent_t = self.recent_agent[live], self.recent_t[live]
        waiting = self.pending_t > start
        self.pending_agent, self.pending_t = self.pending_agent[waiting], self.pending_t[waiting]

    def _raise(self, agents: np.ndarray, at: np.ndarray) -> None:
        sim = self.sim
        for a, t in zip(agents.tolist(), at.tolist(), strict=True):
            sim.agenda.at(t, _alert(sim, self.names[a]))
        self._pend(agents, at)

    def _pend(self, agents: np.ndarray, at: np.ndarray) -> None:
        """Alerts computed, to be raised at their times: later windows count them."""
        self.pending_agent = np.concatenate((self.pending_agent, agents))
        self.pending_t = np.concatenate((self.pending_t, at))


class _Window:
    """What the tasks of one window are doing while it is computed (per task, in window order)."""

    def __init__(self, rows: _Rows, streams: np.ndarray, plans: _PlanRows, arrivals: np.ndarray, nodes: int) -> None:
        count = len(arrivals)
        self.rows, self.streams, self.plans = rows, streams, plans
        self.t = arrivals.copy()  # each task's clock
        self.began = np.zeros((count, nodes))  # when each of a task's nodes started
        self.began[:, 0] = arrivals
        self.running = np.ones(count, dtype=bool)
        self.task = np.zeros((count, nodes), dtype=np.int32)  # the codes of its nodes' task ids
        self.token = np.zeros((count, nodes), dtype=np.int32)  # under JIT controls: each node's token id
        self.expires = np.full((count, nodes), math.nan)  # ... and when it expires (NaN: none issued yet)
        self.issued = np.zeros((count, nodes), dtype=np.int32)  # tokens issued for each node so far
        self.draws = np.zeros((count, nodes), dtype=np.int32)  # ... and round trips drawn for it (renewals)
        self.got = np.zeros((count, nodes))  # ... when its token in hand was issued
        self.postures: list[tuple[np.ndarray, ...]] = []  # requests that raise an alert or read a risk posture
        self.ended = np.full((count, nodes), math.inf)  # when each of a task's nodes ended (inf: it never did)
        self.found: np.ndarray | None = None  # at which step each node tries an operation outside its intent
        self.asked_at = np.full((count, nodes), math.inf)  # ... when that discovery's request came (inf: never)
        self.asked_batch = np.full((count, nodes), -1, dtype=np.int64)  # ... and its batch of requests (-1: none)
        self.notes = 0  # batches of requests noted for risk postures so far, in the order the tasks made them
        self.humans = np.zeros(count, dtype=np.int32)


class IdentityRenewals:
    """The identity documents of agents no threat involves, renewed at their expiry in bulk.

    The engine renews a document when its SimPy timeout fires, at ``issued + (expires - issued)``,
    with a document of ``identity_ttl``, while the issuer is up; for these agents it always is,
    and nothing else replaces their documents. So every renewal's row is known in advance and
    written here; the document itself is made when something reads it
    (:meth:`~nhisim.sim.engine.Simulation.identity_of`), as the engine would have made it.
    """

    def __init__(self, sim: Simulation, agents: list[str], vocabulary: _Vocabulary) -> None:
        self.agents = agents
        docs = [sim.identity_docs[agent] for agent in agents]
        self._next = np.array([doc.issued_at + max(doc.expires_at - doc.issued_at, 0.0) for doc in docs])
        self._ttl = np.array([sim.controls(agent).identity_ttl for agent in agents])
        self._generation = np.array([int(doc.id.rsplit("#", 1)[1]) for doc in docs], dtype=np.int64)
        code = vocabulary.code
        self._agent = np.array([code(agent) for agent in agents], dtype=np.int32)
        self._reason = np.array([code(f"workload identity document of {agent} (attested, no secret at rest)")
                                 for agent in agents], dtype=np.int32)
        self._words = {word: code(word) for word in ("issue", "allow", "workload_identity", "")}
        self._value = sim.world.value(frozenset())

    def rows(self, rows: _Rows, end: float) -> None:
        """The renewals due before ``end`` (the window's end; those before were written already)."""
        words = self._words
        while True:
            due = np.flatnonzero(self._next < end)
            if not len(due):
                return
            at = self._next[due]
            until = at + self._ttl[due]
            self._generation[due] += 1
            ids = rows.window.fresh([f"wor-{self.agents[i]}#{g}" for i, g in zip(
                due.tolist(), self._generation[due].tolist(), strict=True)])
            agents = self._agent[due]
            rows.add(len(due), who=None, t=at, event=words["issue"], principal=agents, presenter=agents, actor=agents,
                     credential=ids, chain=words[""], decision=words["allow"], code=words["workload_identity"],
                     reason=self._reason[due], value=self._value, until=until)
            self._next[due] = at + np.maximum(until - at, 0.0)


class _PlanRows:
    """A window's plan rows (of several widths) one after the other: task ``k``'s column ``c`` is
    ``values[base[k] + c]``. The columns the window reads as values (call durations, round trips to
    the token issuer) are values; the others are the uniform numbers drawn (the dice are read as
    such), as ``uniforms`` holds every column."""

    __slots__ = ("base", "uniforms", "values")

    def __init__(self, values: np.ndarray, base: np.ndarray, uniforms: np.ndarray) -> None:
        self.values = values
        self.base = base
        self.uniforms = uniforms

    def at(self, tasks: np.ndarray, columns: np.ndarray) -> np.ndarray:
        return self.values[self.base[tasks] + columns]

    def uniforms_of(self, task: int, width: int) -> np.ndarray:
        """Task ``task``'s row of uniform numbers (one row of ``width`` columns)."""
        start = int(self.base[task])
        return self.uniforms[start:start + width][None, :]


def _depth(node: _Node) -> int:
    depth = 0
    while node.parent is not None:
        node, depth = node.parent, depth + 1
    return depth


def _tree_agents(world: Any, agent: str, template_id: str) -> set[str]:
    """The agents a task of ``template_id`` at ``agent`` may involve: it and its delegates, down the tree."""
    found, pending = set(), [(agent, template_id)]
    while pending:
        who, template = pending.pop()
        if (who, template) in found:
            continue
        found.add((who, template))
        pending.extend((step.delegate_to, step.sub_task) for step in world.tasks[template].steps
                       if step.delegate_to is not None)
    return {who for who, _ in found}


def _then(process: Any, ended: Callable[[], None]):
    """``process``, then ``ended()``."""
    try:
        result = yield from process
    finally:
        ended()
    return result


def _alert(sim: Simulation, agent: str):
    """At an alert's moment: it counts on ``agent``'s risk posture for the next hour (a process on the agenda)."""
    sim.note_alert(agent)
    return
    yield  # a generator: the agenda starts it at its time


def _hand_over(sim: Simulation, delegate: str, subject: str):
    """At a hand-off's moment: the delegate holds the subject's key in service (a process on the agenda)."""
    key = sim.current_key(subject)
    if delegate not in key.holders:
        sim.hold(delegate, key)
    return
    yield  # a generator: the agenda starts it at its time
