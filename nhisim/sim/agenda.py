"""The workload's calendar: tasks and attackers as generators, resumed without a SimPy event per step.

A SimPy event costs about as much Python as a tool call's whole decision, and tool calls
are most of what a run does. So the engine's workload (task arrivals, tasks with their
calls and sub-tasks, issuer round-trips, attackers) runs as plain generators on an
:class:`Agenda`: a heap of ``(time, order, generator)`` beside SimPy's own queue.

A workload generator yields either

- a number: wait that many seconds (the common case: a service time, an issuer latency), or
- a SimPy event: wait for it and receive its value (a human reviewer's slot from a
  :class:`simpy.Resource`, a timeout of the attacker's own, ...).

The agenda never runs ahead of SimPy: it resumes its next generator only when no SimPy
event is due earlier or at the same time (at a tie, SimPy's events come first), jumping
SimPy's clock forward to it; otherwise it asks SimPy for the clock back at that time.
Rotation, detection,
response, outages and the run's horizon stay ordinary SimPy processes and events, so
they interleave with the workload exactly in time. Same inputs, same order: runs are
deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from functools import partial
from heapq import heappop, heappush
from itertools import count
from typing import Any

import simpy
from simpy.events import Event, Timeout


class Agenda:
    """Generators waiting for a time, kept in step with a SimPy environment."""

    __slots__ = ("env", "_heap", "_order", "_armed_at", "_wake_up", "_draining", "_waiting")

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self._heap: list[tuple[float, int, Generator]] = []
        self._order = count()  # ties in time resume in the order they were scheduled
        self._armed_at = math.inf  # when the next wake-up from SimPy is due
        self._wake_up: Timeout | None = None  # that wake-up (earlier ones it replaced are ignored)
        self._draining = False
        self._waiting: set[Generator] = set()  # generators waiting for a SimPy event

    def __len__(self) -> int:
        return len(self._heap)

    def start(self, process: Generator) -> None:
        """Run ``process`` now, up to its first wait."""
        self._resume(process, None)

    def at(self, time: float, process: Generator) -> None:
        """Start ``process`` at ``time`` exactly (not now plus a wait, which may round), up to its first wait."""
        heappush(self._heap, (time, next(self._order), process))
        if not self._draining and time < self._armed_at:
            self._arm(time)

    def _resume(self, process: Generator, value: Any) -> None:
        try:
            wait = process.send(value)
        except StopIteration:
            return
        if isinstance(wait, Event):
            if wait.callbacks is None:  # already processed: go on at once
                self._resume(process, wait._value)
            else:
                self._waiting.add(process)
                wait.callbacks.append(partial(self._on_event, process))
            return
        at = self.env._now + wait
        if at < math.inf:
            heappush(self._heap, (at, next(self._order), process))
            if not self._draining and at < self._armed_at:
                self._arm(at)

    def _on_event(self, process: Generator, event: Event) -> None:
        self._waiting.discard(process)
        self._resume(process, event._value)

    def close(self) -> None:
        """Close every generator still waiting (at the end of a run), latest wake-up first.

        Their cleanup then runs here, in a known order, not whenever the garbage collector
        (or interpreter exit, in any order) gets to them.
        """
        pending = [entry[2] for entry in sorted(self._heap, reverse=True)] + list(self._waiting)
        self._heap.clear()
        self._waiting.clear()
        for process in pending:
            process.close()

    def _arm(self, at: float) -> None:
        """Ask SimPy to hand over the clock at ``at``."""
        self._armed_at = at
        self._wake_up = Timeout(self.env, at - self.env._now)
        self._wake_up.callbacks.append(self._drain)

    def _drain(self, wake_up: Event) -> None:
        """Resume every due generator, jumping the clock while no SimPy event comes first."""
        if wake_up is not self._wake_up:
            return  # replaced by an earlier wake-up
        self._wake_up = None
        self._armed_at = math.inf
        env = self.env
        heap = self._heap
        queue = env._queue
        resume = self._resume
        self._draining = True
        try:
            while heap:
                at = heap[0][0]
                if queue and queue[0][0] <= at:
                    break  # SimPy has an event due first (or at the same time): it goes first
                env._now = at  # nothing in SimPy's queue is due before: time moves on to it
                resume(heappop(heap)[2], None)
        finally:
            self._draining = False
        if heap and heap[0][0] < self._armed_at:
            self._arm(heap[0][0])
