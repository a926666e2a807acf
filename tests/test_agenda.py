"""The workload agenda keeps generators in step with SimPy's clock."""

from __future__ import annotations

import random

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from nhisim.sim.agenda import Agenda


def _run(plan_waits: list[list[float]], simpy_times: list[float], until: float) -> list[tuple[float, str]]:
    env = simpy.Environment()
    agenda = Agenda(env)
    seen: list[tuple[float, str]] = []

    def worker(name: str, waits: list[float]):
        for wait in waits:
            yield wait
            seen.append((env.now, name))

    def simpy_process(times: list[float]):
        last = 0.0
        for t in sorted(times):
            yield env.timeout(t - last)
            last = t
            seen.append((env.now, "simpy"))

    for i, waits in enumerate(plan_waits):
        agenda.start(worker(f"w{i}", waits))
    env.process(simpy_process(simpy_times))
    env.run(until=until)
    return seen


waits = st.lists(st.lists(st.integers(0, 20).map(float), max_size=6), max_size=5)
times = st.lists(st.integers(0, 60).map(float), max_size=8)


@given(waits, times)
@settings(max_examples=150, deadline=None)
def test_workload_and_simpy_events_interleave_in_time_order(plan_waits, simpy_times):
    until = 50.0
    seen = _run(plan_waits, simpy_times, until)
    stamps = [t for t, _ in seen]
    assert stamps == sorted(stamps)
    # every wait that falls before the horizon happened exactly at its time; none at or after it
    expected = sorted(t for ws in plan_waits for t in _cumulative(ws) if t < until)
    assert sorted(t for t, who in seen if who != "simpy") == expected
    assert sorted(t for t, who in seen if who == "simpy") == sorted(t for t in simpy_times if t < until)


def _cumulative(ws: list[float]) -> list[float]:
    out, total = [], 0.0
    for w in ws:
        total += w
        out.append(total)
    return out


def test_at_equal_times_simpy_events_come_first_then_the_agenda_in_scheduling_order():
    seen = _run([[5.0], [5.0]], [5.0], until=10.0)
    assert seen == [(5.0, "simpy"), (5.0, "w0"), (5.0, "w1")]


def test_a_generator_waits_for_a_simpy_event_and_receives_its_value():
    env = simpy.Environment()
    agenda = Agenda(env)
    reviewers = simpy.Resource(env, capacity=1)
    log = []

    def review(name: str, seconds: float):
        yield 1.0
        with reviewers.request() as slot:
            yield slot
            start = env.now
            yield seconds
        log.append((name, start, env.now))

    agenda.start(review("a", 10.0))
    agenda.start(review("b", 3.0))
    env.run(until=100)
    assert log == [("a", 1.0, 11.0), ("b", 11.0, 14.0)]

    def receive():
        event = env.timeout(2, value="done")
        value = yield event
        log.append(value)

    agenda.start(receive())
    env.run(until=200)
    assert log[-1] == "done"


def test_work_started_from_a_simpy_process_between_agenda_entries_runs_on_time():
    """A SimPy callback may schedule workload earlier than the agenda's next wake-up."""
    env = simpy.Environment()
    agenda = Agenda(env)
    seen = []

    def late():
        yield 100.0
        seen.append(("late", env.now))

    def early():
        yield 5.0
        seen.append(("early", env.now))

    def kick():
        yield env.timeout(10)
        agenda.start(early())

    agenda.start(late())
    env.process(kick())
    env.run(until=200)
    assert seen == [("early", 15.0), ("late", 100.0)]


def test_same_inputs_same_order():
    rng = random.Random(3)
    plan = [[float(rng.randint(0, 9)) for _ in range(20)] for _ in range(30)]
    assert _run(plan, [3.0, 7.0, 7.0], 120.0) == _run(plan, [3.0, 7.0, 7.0], 120.0)


def test_close_stops_work_still_in_flight():
    env = simpy.Environment()
    agenda = Agenda(env)
    reviewers = simpy.Resource(env, capacity=1)
    stopped = []

    def worker(name: str):
        try:
            with reviewers.request() as slot:
                yield slot
                yield 100.0  # still reviewing at the horizon
        finally:
            stopped.append(name)

    agenda.start(worker("a"))
    agenda.start(worker("b"))  # waits for the slot a holds
    env.run(until=10)
    assert stopped == [] and reviewers.count == 1
    agenda.close()
    assert sorted(stopped) == ["a", "b"] and len(agenda) == 0
