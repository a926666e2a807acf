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

When a stream is quiet (:func:`quiet_streams`). Its agent is involved in no threat
(:meth:`~nhisim.scenario.threats.base.ThreatModel.involved`, closed over shared accounts,
over the agents that may delegate to an involved one, and over every principal whose
key a resource holds), presents static keys (``credential: static_key``), and the run's
evaluator is the native one without a check of intent (so a decision depends on the
key's scope alone, never on the time, alerts or quarantine); its template makes calls
only (no delegation, no step that needs approval, no arguments, no goal switch, not on
its requester's behalf); under behavioural analytics, every call is in its principal's
usual pattern. A task of a quiet stream that will try an operation outside its intent (a
runtime discovery) runs call by call from its arrival, with its plan.

Keys. A call presents the key in service when it is made; a quiet key changes only by
rotation, at times known in advance (:class:`KeyTimeline`), so the key each call shows
is known when the window is computed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nhisim.sim.eventlog import COLUMNS, NUMBER_COLUMNS
from nhisim.sim.pep import NativeEvaluator
from nhisim.sim.plans import CALL, Stream

if TYPE_CHECKING:
    from nhisim.sim.compiled import CompiledTask

Simulation = Any  # the engine's Simulation (nhisim.sim.engine imports this module, not the other way)

TASKS_PER_WINDOW = 40_000  # about how many tasks a window computes at once (bounds its memory)
MIN_WINDOW, MAX_WINDOW = 60.0, 6 * 3600.0  # seconds
DONE = "all steps done"
_INDEX = {name: i for i, name in enumerate(COLUMNS)}


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


def quiet_streams(sim: Simulation) -> set[tuple[str, str]]:
    """The (agent, template) streams whose every task :class:`BulkExecutor` can compute (module docstring)."""
    if type(sim.pep) is not NativeEvaluator or sim.pep.checks_intent:
        return set()
    world = sim.world
    involved = involved_principals(sim)
    quiet = set()
    for agent in world.agents.values():
        if agent.id in involved or sim.controls(agent.id).credential != "static_key":
            continue
        if agent.goal_switch_probability > 0:
            continue
        keys = sim.static_keys_of(agent.id)
        if not keys or any(key.subject in involved for key in keys):
            continue
        for template_id in agent.tasks:
            template = world.tasks[template_id]
            if template.on_behalf or template.rate * agent.rate_multiplier <= 0:
                continue
            if any(step.delegate_to is not None or step.approval or step.draw_args is not None
                   for step in template.steps):
                continue
            if sim.anomaly_probability > 0 and any(
                    sim.out_of_pattern(sim.static_credential(agent.id, step.op), step.op) for step in template.steps):
                continue
            quiet.add((agent.id, template_id))
    return quiet


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


@dataclass
class _Batch:
    """Rows of one window, sorted by time: per column an array of codes (text: below
    :data:`_WINDOW_CODES` into the run's vocabulary, from it into the window's), floats
    (numbers), or bools and int8 (malicious, in_intent)."""

    t: np.ndarray
    columns: list[np.ndarray]
    run_values: list[str | None]
    window_values: list[str | None]
    taken: int = 0

    def value(self, code: int) -> str | None:
        return self.run_values[code] if code < _WINDOW_CODES else self.window_values[code - _WINDOW_CODES]


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

    def take(self, encode_text: Callable[[str, tuple], np.ndarray]) -> list[np.ndarray] | None:
        due = self.clock()
        pieces: list[list[np.ndarray]] = []
        for batch in self._batches:
            end = int(np.searchsorted(batch.t, due, side="right"))
            if end > batch.taken:
                pieces.append(self._piece(batch, batch.taken, end, encode_text))
                batch.taken = end
        self._batches = [batch for batch in self._batches if batch.taken < len(batch.t)]
        if not pieces:
            return None
        if len(pieces) == 1:
            return pieces[0]
        columns = [np.concatenate(parts) for parts in zip(*pieces, strict=True)]
        order = np.argsort(columns[0], kind="stable")
        return [column[order] for column in columns]

    @staticmethod
    def _piece(batch: _Batch, start: int, end: int, encode_text: Callable[[str, tuple], np.ndarray]
               ) -> list[np.ndarray]:
        out = []
        for index, name in enumerate(COLUMNS):
            values = batch.columns[index][start:end]
            if name in NUMBER_COLUMNS or name in ("malicious", "in_intent"):
                out.append(values)
                continue
            distinct, inverse = np.unique(values, return_inverse=True)
            codes = encode_text(name, tuple(map(batch.value, distinct.tolist())))
            out.append(codes.astype(np.intp)[inverse.reshape(-1)])
        return out


class _Rows:
    """Rows of a window being built, a group of rows at a time (every column given for each group)."""

    def __init__(self, run: _Vocabulary) -> None:
        self.run = run
        self.window = _Vocabulary(_WINDOW_CODES)
        self._none = run.code(None)
        self._groups: list[list[np.ndarray]] = []

    def add(self, rows: int, **columns: Any) -> None:
        """A group of ``rows`` rows: each column an array, or one value for every row (text as codes)."""
        group = []
        for name in COLUMNS:
            value = columns.get(name)
            if isinstance(value, np.ndarray):
                group.append(value)
            elif name in NUMBER_COLUMNS:
                group.append(np.full(rows, math.nan if value is None else value))
            elif name == "malicious":
                group.append(np.zeros(rows, dtype=bool))
            elif name == "in_intent":
                group.append(np.full(rows, -1 if value is None else int(value), dtype=np.int8))
            else:
                group.append(np.full(rows, value if value is not None else self._none, dtype=np.int32))
        self._groups.append(group)

    def batch(self, horizon: float) -> _Batch:
        """The rows before ``horizon`` (the run never reaches it), sorted by time (stable)."""
        if not self._groups:
            return _Batch(np.empty(0), [], self.run.values, self.window.values)
        columns = [np.concatenate(parts) for parts in zip(*self._groups, strict=True)]
        t = columns[0]
        keep = t < horizon
        if not keep.all():
            columns = [column[keep] for column in columns]
            t = columns[0]
        order = np.argsort(t, kind="stable")
        columns = [column[order] for column in columns]
        return _Batch(columns[0], columns, self.run.values, self.window.values)


# --------------------------------------------------------------------------- the executor


class _Quiet:
    """One quiet stream: its draws, and what each of its calls is."""

    def __init__(self, sim: Simulation, agent: str, template: CompiledTask, rate: float) -> None:
        self.agent = agent
        self.template = template
        self.key = f"{agent}/{template.id}"
        self.stream = Stream(sim.seed, self.key, rate, sim.program(agent, template.id))
        node = self.stream.program.root
        if not all(step[0] == CALL for step in node.steps):
            raise ValueError(f"{self.key} delegates: not a quiet stream")
        self.durations = [step[1] for step in node.steps]
        self.roll = node.roll
        self.discovery = node.discovery
        self.ops = [step.op for step in template.steps]
        keys = [sim.static_credential(agent, op) for op in self.ops]
        self.subjects = [key.subject for key in keys]
        self.decisions = [sim.pep.decide(sim.env.now, agent, key, op, step.destination, template)
                          for key, op, step in zip(keys, self.ops, template.steps, strict=True)]


class BulkExecutor:
    """Computes the quiet streams' tasks a window at a time, one window ahead of the clock."""

    def __init__(self, sim: Simulation, streams: list[tuple[str, CompiledTask, float]]) -> None:
        self.sim = sim
        self.rows = BulkRows(lambda: sim.env.now)
        self.quiet = [_Quiet(sim, agent, template, rate) for agent, template, rate in streams]
        total_rate = sum(rate for _, _, rate in streams)
        self.window = min(MAX_WINDOW, max(MIN_WINDOW, TASKS_PER_WINDOW / total_rate if total_rate > 0 else MAX_WINDOW))
        self.vocabulary = _Vocabulary()
        self.vocabulary.code(None)
        subjects = sorted({subject for q in self.quiet for subject in q.subjects})
        self.subject_index = {subject: i for i, subject in enumerate(subjects)}
        self.timelines = [KeyTimeline(sim.current_key(subject), sim.controls(subject).rotation) for subject in subjects]
        self._in_service = np.zeros(len(subjects), dtype=np.intp)  # each subject's key in service at a window's start
        self._key_end = np.zeros(len(subjects))  # ... when it is rotated away
        self._key_code = np.zeros(len(subjects), dtype=np.int32)  # ... and its id's code
        self._tables = self._step_tables()
        self._computed_until = 0.0
        sim.log.merge_from(self.rows)

    def run(self):
        """The executor on the agenda: each window computed while the one before runs."""
        horizon = self.sim.horizon
        self._compute(0.0, min(self.window, horizon))
        while self._computed_until < horizon:
            start = self._computed_until
            self._compute(start, min(start + self.window, horizon))
            yield start - self.sim.env.now  # wake when the window computed last time begins
            self.sim.log.flush()  # the rows due by now go to the log: pending rows stay about two windows

    def finish(self) -> None:
        """The run is over: every row held is due."""
        self.rows.clock = lambda: math.inf

    # ------------------------------------------------------------------ what the streams share

    def _step_tables(self) -> list[dict[str, np.ndarray]]:
        """Per step number, per stream: what its call at that step is and how it is decided."""
        world = self.sim.world
        code = self.vocabulary.code
        width = max((len(q.ops) for q in self.quiet), default=0)
        tables = []
        for step in range(width):
            columns: dict[str, list] = {name: [] for name in (
                "op", "subject", "principal", "tool", "action", "resource", "decision", "code", "reason", "allowed",
                "why")}
            for q in self.quiet:
                if step < len(q.ops):
                    op = q.ops[step]
                    decision, short, reason = q.decisions[step]
                    subject = q.subjects[step]
                    tool, action, resource = world.op_keys[op]
                    values = (op, self.subject_index[subject], code(subject), code(tool), code(action),
                              code(resource), code(decision), code(short), code(reason), decision == "allow",
                              code(f"{world.label(op)} was denied"))
                else:
                    values = (0, 0, 0, 0, 0, 0, 0, 0, 0, True, 0)
                for name, value in zip(columns, values, strict=True):
                    columns[name].append(value)
            table = {name: np.array(values, dtype=bool if name == "allowed" else np.intp if name in ("op", "subject")
                                    else np.int32) for name, values in columns.items()}
            table["value"] = np.asarray(world.op_value, dtype=float)[table["op"]]
            table["records"] = np.asarray(world.op_records, dtype=float)[table["op"]]
            tables.append(table)
        code = self.vocabulary.code
        self._agent = np.array([code(q.agent) for q in self.quiet], dtype=np.int32)
        self._human = np.array([code(q.template.human) for q in self.quiet], dtype=np.int32)
        self._steps = np.array([len(q.ops) for q in self.quiet], dtype=np.intp)
        self._deadline = np.array([q.template.deadline for q in self.quiet])
        self._late = np.array([code(f"deadline of {q.template.deadline:g} s passed") for q in self.quiet],
                              dtype=np.int32)
        self._words = {word: code(word) for word in ("task_start", "request", "task_end", "arrival", "root", "ok",
                                                     "failed", "", DONE)}
        return tables

    # ------------------------------------------------------------------ one window

    def _compute(self, start: float, end: float) -> None:
        self._computed_until = end
        rows = _Rows(self.vocabulary)
        arrivals, streams, numbers, durations = [], [], [], []
        width = len(self._tables)
        for index, q in enumerate(self.quiet):
            times, values, first = q.stream.take(end)
            if not len(times):
                continue
            number = np.arange(first, first + len(times))
            if q.discovery > 0:
                overreach = values[:, q.roll] < q.discovery
                if overreach.any():
                    for at, row, n in zip(times[overreach], values[overreach], number[overreach], strict=True):
                        self._call_by_call(q, float(at), row.tolist(), int(n))
                    keep = ~overreach
                    times, values, number = times[keep], values[keep], number[keep]
                    if not len(times):
                        continue
            arrivals.append(times)
            streams.append(np.full(len(times), index, dtype=np.intp))
            numbers.append(number)
            padded = np.zeros((len(times), width))
            padded[:, :len(q.durations)] = values[:, q.durations]
            durations.append(padded)
        if arrivals:
            self._keys_at(start)
            self._lockstep(rows, np.concatenate(arrivals), np.concatenate(streams), np.concatenate(numbers),
                           np.concatenate(durations))
        self.rows.add(rows.batch(self.sim.horizon))

    def _call_by_call(self, q: _Quiet, at: float, row: list[float], number: int) -> None:
        sim = self.sim
        plan = q.stream.program.plan(row, q.stream.extras, sim.switch_program)
        sim.agenda.at(at, sim.task_process(q.agent, q.template, plan, f"{q.key}#{number}"))

    def _lockstep(self, rows: _Rows, arrivals: np.ndarray, streams: np.ndarray, numbers: np.ndarray,
                  durations: np.ndarray) -> None:
        """Run every task of the window at once, a step at a time, and write their rows."""
        words = self._words
        count = len(arrivals)
        keys = [q.key for q in self.quiet]
        window_code = rows.window.code
        tasks = np.array([window_code(f"{keys[s]}#{n}") for s, n in zip(streams.tolist(), numbers.tolist(),
                                                                         strict=True)], dtype=np.int32)
        agents = self._agent[streams]
        humans = self._human[streams]
        rows.add(count, t=arrivals, event=words["task_start"], principal=agents, presenter=agents, actor=agents,
                 chain=agents, task=tasks, audit_human=humans, code=words["arrival"])
        ends = _Ends(rows, arrivals, agents, tasks, humans, words)
        t = arrivals.copy()
        running = np.ones(count, dtype=bool)
        steps = self._steps[streams]
        deadline = self._deadline[streams]
        for step, table in enumerate(self._tables):
            has = running & (steps > step)
            late = has & (t - arrivals > deadline)
            if late.any():
                ends.add(np.flatnonzero(late), t, False, self._late[streams])
                running &= ~late
                has &= ~late
            which = np.flatnonzero(has)
            if not len(which):
                if not running.any():
                    break
                continue
            on = streams[which]
            at = t[which]
            rows.add(len(which), t=at, event=words["request"], principal=table["principal"][on],
                     presenter=agents[which], actor=agents[which],
                     credential=self._credentials(rows, table["subject"][on], at), chain=words[""],
                     tool=table["tool"][on], action=table["action"][on], resource=table["resource"][on],
                     task=tasks[which], in_intent=True, decision=table["decision"][on], code=table["code"][on],
                     reason=table["reason"][on], value=table["value"][on], records=table["records"][on], wait=0.0)
            allowed = table["allowed"][on]
            if not allowed.all():
                denied = which[~allowed]
                ends.add(denied, t, False, table["why"][streams])
                running[denied] = False
            going = which[allowed]
            t[going] = t[going] + durations[going, step]
        ends.add(np.flatnonzero(running), t, True, np.full(count, words[DONE], dtype=np.int32))

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

    def _credentials(self, rows: _Rows, subjects: np.ndarray, at: np.ndarray) -> np.ndarray:
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


class _Ends:
    """Writes the task_end rows of a window's tasks."""

    def __init__(self, rows: _Rows, arrivals: np.ndarray, agents: np.ndarray, tasks: np.ndarray,
                 humans: np.ndarray, words: dict[str, int]) -> None:
        self.rows, self.arrivals, self.agents, self.tasks, self.humans, self.words = (
            rows, arrivals, agents, tasks, humans, words)

    def add(self, which: np.ndarray, t: np.ndarray, ok: bool, why: np.ndarray) -> None:
        if not len(which):
            return
        at = t[which]
        agents = self.agents[which]
        self.rows.add(len(which), t=at, event=self.words["task_end"], principal=agents, presenter=agents,
                      actor=agents, task=self.tasks[which], audit_human=self.humans[which],
                      decision=self.words["ok" if ok else "failed"], code=self.words["root"], reason=why[which],
                      latency=at - self.arrivals[which])
