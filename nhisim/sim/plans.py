"""What is random about the workload, drawn a block at a time: task arrivals and task plans.

Each root stream (an agent serving a task template at a rate) has one NumPy generator
of its own, keyed by (seed, ``workload``, ``agent/template``) (:func:`~nhisim.sim.rng.block_generator`).
Each task takes one row of uniform numbers from it: the first gives the gap since the
stream's previous arrival, the others its plan. The template's :class:`Program` says
which number is what (a service time per call step, a reviewer's time and an approval
die per step that needs approval, the discovery dice, the first round trip to the token
issuer, the review of an escalated call), for the task and for every sub-task it
delegates (depth first, down to 16 hops), and turns each by its distribution's inverse
CDF (:meth:`~nhisim.scenario.units.Distribution.quantiles`).

A row's numbers depend only on the seed, the stream and the task's number in it: not on
how many rows are drawn at once, nor on what other streams did. So the engine, reading
one task at a time, and any path that reads a window of tasks at once see the same work.

Arguments, needed discoveries and goal switches draw from a second, Python stream of the
same name (``plan-extras``), made only for the streams whose templates use them, in the
order the task's plan reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass, field
from random import Random
from typing import Any

import numpy as np

from nhisim.sim.compiled import CompiledTask, CompiledWorld
from nhisim.sim.rng import block_generator, stream
from nhisim.sim.state import StepPlan, TaskPlan

MAX_DEPTH = 16  # delegation deeper than this never starts
BLOCK = 16  # tasks drawn at once per stream (the numbers do not depend on it)
CALL, DELEGATE, TOO_DEEP = range(3)  # kinds of step in a plan layout


@dataclass(eq=False)
class PlanNode:
    """One task of a template's delegation tree, and which numbers of a plan row are its own."""

    agent: str
    template: CompiledTask
    depth: int
    # per step: (CALL, duration column, review column or -1, approval-die column or -1, argument drawer)
    #        or (DELEGATE, the sub-task's node) or (TOO_DEEP,)
    steps: list[tuple] = field(default_factory=list)
    discovery: float = 0.0  # the agent's chance per task of trying an operation outside the intent
    needed_share: float = 0.0  # ... that the task needs
    switch_probability: float = 0.0  # the chance that the requester redirects the task (root tasks only)
    roll: int = -1  # discovery die
    where: int = -1  # at which step
    which: int = -1  # which operation
    latency: int = -1  # first round trip to the token issuer
    review: int = -1  # a reviewer's time for an escalated call
    approve: int = -1  # ... and its approval die


class Program:
    """The plan layout of a template served by an agent: its delegation tree, one column per number.

    Column 0 of a row is the arrival gap's uniform number; the plan's columns follow.
    """

    def __init__(self, world: CompiledWorld, agent: str, template: CompiledTask, *, review: Any,
                 issuer_latency: Any, depth: int = 0) -> None:
        self.world = world
        self.width = 1  # column 0: the arrival gap
        self._review = review
        self._issuer_latency = issuer_latency
        self._columns: dict[type, tuple[list[Any], list[int]]] = {}  # kind -> (distributions, their columns)
        self.uses_extras = False  # whether a plan draws from the extras stream
        self.root = self._node(agent, template, depth)
        self._groups = [(kind.column_quantiles(found), np.array(cols)) for kind, (found, cols) in self._columns.items()]

    def _column(self, distribution: Any = None) -> int:
        column = self.width
        self.width += 1
        if distribution is not None:
            found, columns = self._columns.setdefault(type(distribution), ([], []))
            found.append(distribution)
            columns.append(column)
        return column

    def _node(self, agent: str, template: CompiledTask, depth: int) -> PlanNode:
        profile = self.world.agents[agent]
        node = PlanNode(agent, template, depth, discovery=profile.discovery_probability,
                        needed_share=profile.needed_share,
                        switch_probability=profile.goal_switch_probability if depth == 0 else 0.0)
        for step in template.steps:
            if step.delegate_to is not None:
                if depth < MAX_DEPTH:
                    node.steps.append((DELEGATE, self._node(step.delegate_to, self.world.tasks[step.sub_task],
                                                            depth + 1)))
                else:
                    node.steps.append((TOO_DEEP,))
            elif step.approval:
                node.steps.append((CALL, self._column(step.duration), self._column(self._review), self._column(),
                                   step.draw_args))
            else:
                node.steps.append((CALL, self._column(step.duration), -1, -1, step.draw_args))
            if step.draw_args is not None:
                self.uses_extras = True
        node.roll, node.where, node.which = self._column(), self._column(), self._column()
        node.latency = self._column(self._issuer_latency)
        node.review, node.approve = self._column(self._review), self._column()
        if (node.discovery > 0 and node.needed_share > 0) or node.switch_probability > 0:
            self.uses_extras = True
        return node

    def values(self, uniforms: np.ndarray) -> np.ndarray:
        """Rows of values from rows of uniform numbers: each distribution's column by its inverse CDF
        (one array operation per kind of distribution)."""
        values = uniforms.copy()
        _turn(self._groups, values)
        return values

    def some_values(self, columns: Collection[int]) -> tuple[Hashable, Callable[[np.ndarray], None]]:
        """A function turning ``columns`` of rows of uniform numbers into values, in place (the other
        columns stay as drawn), element by element what :meth:`values` gives; and a key, equal for
        layouts whose function is the same (so their rows may be turned in one call)."""
        wanted = set(columns)
        groups, key = [], [self.width]
        for kind, (found, all_columns) in self._columns.items():
            picked = [(distribution, column) for distribution, column in zip(found, all_columns, strict=True)
                      if column in wanted]
            if picked:
                distributions, picked_columns = zip(*picked, strict=True)
                groups.append((kind.column_quantiles(list(distributions)), np.array(picked_columns)))
                key.append((kind, tuple(map(_hashable, distributions)), picked_columns))
        return tuple(key), lambda rows: _turn(groups, rows)

    def plan(self, row: list[float], extras: Callable[[], Random],
             switch_program: Callable[[str, str], Program]) -> TaskPlan:
        """The plan of one task (and its sub-tasks) from its row of values.

        ``extras()`` gives the stream arguments, needed discoveries and goal switches draw
        from; ``switch_program(agent, template)`` the layout of a goal switch's new objective.
        """
        return self._plan(self.root, row, extras, switch_program)

    def _plan(self, node: PlanNode, row: list[float], extras: Callable[[], Random],
              switch_program: Callable[[str, str], Program]) -> TaskPlan:
        steps: list[StepPlan | TaskPlan | None] = []
        for step in node.steps:
            kind = step[0]
            if kind == CALL:
                _, duration, review, approve, draw_args = step
                args = draw_args(extras()) if draw_args is not None else None
                if review >= 0:
                    steps.append(StepPlan(row[duration], row[review], row[approve], args))
                else:
                    steps.append(StepPlan(row[duration], 0.0, 1.0, args))
            elif kind == DELEGATE:
                steps.append(self._plan(step[1], row, extras, switch_program))
            else:
                steps.append(None)
        overreach = ((int(row[node.where] * len(node.steps)), row[node.which]) if row[node.roll] < node.discovery
                     else None)
        needed = overreach is not None and node.needed_share > 0 and extras().random() < node.needed_share
        switch = None
        if node.switch_probability > 0:
            rng = extras()
            if rng.random() < node.switch_probability:
                switch = self._switch(node, rng, extras, switch_program)
        return TaskPlan(tuple(steps), overreach, row[node.latency], row[node.review], row[node.approve], needed,
                        switch)

    def _switch(self, node: PlanNode, rng: Random, extras: Callable[[], Random],
                switch_program: Callable[[str, str], Program]) -> tuple[int, str, TaskPlan] | None:
        """A goal switch: after how many steps, to which of the agent's other templates, with the new plan."""
        after = 1 + int(rng.random() * len(node.steps))  # after 1 .. all of its steps
        others = sorted(set(self.world.agents[node.agent].tasks) - {node.template.id})
        target = others[int(rng.random() * len(others))]
        program = switch_program(node.agent, target)
        uniforms = np.array([[rng.random() for _ in range(program.width)]])
        row = program.values(uniforms)[0].tolist()
        return after, target, program.plan(row, extras, switch_program)


def _turn(groups: list[tuple[Callable[[np.ndarray], np.ndarray], np.ndarray]], rows: np.ndarray) -> None:
    """Turn rows of uniform numbers into values in place: per group (an inverse CDF, its columns), one
    array operation (the groups' columns are distinct)."""
    for transform, columns in groups:
        rows[:, columns] = transform(rows[:, columns])


def _hashable(distribution: Any) -> Hashable:
    """A distribution as a key, equal for equal distributions (an empirical one holds a list)."""
    try:
        hash(distribution)
    except TypeError:
        return type(distribution), repr(distribution)
    return distribution


class Stream:
    """The arrivals and plans of one root stream: an agent serving a template at a rate.

    :meth:`next` hands out the tasks in order: the gap since the one before, and its plan
    row. The stream draws :data:`BLOCK` rows at a time; the numbers do not depend on it.
    """

    __slots__ = ("_block", "_draws", "_extras", "_gaps", "_last", "_next", "_rows", "_seed", "_times", "key",
                 "program", "rate", "taken")

    def __init__(self, seed: int, key: str, rate: float, program: Program) -> None:
        self.key = key
        self.rate = rate
        self.program = program
        self._seed = seed
        self._draws = block_generator(seed, "workload", key)
        self._extras: Random | None = None
        self._block = np.empty((0, program.width))
        self._gaps: list[float] = []
        self._next = 0
        self.taken = 0  # tasks handed out so far (the next one is number taken + 1)
        self._last = 0.0  # the latest arrival drawn by :meth:`take`
        self._times = np.empty(0)  # arrivals drawn by :meth:`take`, not handed out yet
        self._rows = np.empty((0, program.width))  # ... and their plan rows (uniform numbers)

    def extras(self) -> Random:
        """The stream's Python stream for arguments, needed discoveries and goal switches (made when first read)."""
        if self._extras is None:
            self._extras = stream(self._seed, "plan-extras", self.key)
        return self._extras

    def draw(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``count`` tasks' arrival gaps and plan rows of values (not handed out by :meth:`next`)."""
        gaps, uniforms = self._draw_uniforms(count)
        return gaps, self.program.values(uniforms)

    def _draw_uniforms(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``count`` tasks' arrival gaps and plan rows of uniform numbers."""
        uniforms = self._draws.random((count, self.program.width))
        return -np.log1p(-uniforms[:, 0]) / self.rate, uniforms

    def next(self) -> tuple[float, list[float]]:
        """The next task: the gap since the one before, and its plan row."""
        i = self._next
        if i == len(self._gaps):
            gaps, self._block = self.draw(BLOCK)
            self._gaps = gaps.tolist()
            i = 0
        self._next = i + 1
        self.taken += 1
        return self._gaps[i], self._block[i].tolist()

    def take(self, until: float) -> tuple[np.ndarray, np.ndarray, int]:
        """Every task not handed out yet that arrives before ``until``: arrival times, plan rows of
        uniform numbers (:meth:`Program.values` turns them into what :meth:`next` hands out), and the
        first one's number (what :meth:`next` would have handed out one at a time; use one or the other).

        An arrival time is the previous one plus the gap, added in order, as the agenda adds them.
        """
        while self._last < until:
            count = int(min(4096, max(BLOCK, self.rate * (until - self._last) * 1.25 + 4)))
            gaps, rows = self._draw_uniforms(count)
            times = np.cumsum(np.concatenate(([self._last], gaps)))[1:]
            self._last = float(times[-1])
            self._times = np.concatenate((self._times, times))
            self._rows = np.concatenate((self._rows, rows))
        if not len(self._times) or self._times[0] >= until:  # a slow stream: no task this time
            return self._times[:0], self._rows[:0], self.taken + 1
        count = int(self._times.searchsorted(until, side="left"))
        times, rows = self._times[:count], self._rows[:count]
        self._times, self._rows = self._times[count:], self._rows[count:]
        first = self.taken + 1
        self.taken += count
        return times, rows, first
