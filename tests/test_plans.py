"""The workload's draws: a task's numbers depend only on (seed, stream, its number in the stream),
its name never on the order of events, and each distribution's inverse CDF is its own."""

from __future__ import annotations

import math

import numpy as np
import pytest
from engine_fixtures import build, delegating_estate

from nhisim.scenario.units import Empirical, Exponential, Fixed, Lognormal, Uniform
from nhisim.sim.compiled import compile_world
from nhisim.sim.engine import Simulation
from nhisim.sim.plans import BLOCK, Program, Stream
from nhisim.sim.state import template_of

DISTRIBUTIONS = [
    Fixed(fixed=30.0),
    Exponential(exponential=20.0),
    Uniform(uniform=(10.0, 70.0)),
    Lognormal(lognormal={"median": 600.0, "sigma": 1.0}),
    Empirical(empirical=[5.0, 10.0, 60.0]),
]


@pytest.mark.parametrize("distribution", DISTRIBUTIONS, ids=lambda d: type(d).__name__)
def test_one_draw_and_an_array_of_draws_agree(distribution):
    u = np.random.default_rng(3).random(200)
    many = distribution.quantiles(u)
    one = [distribution.quantile(float(x)) for x in u]
    assert many.shape == u.shape
    assert np.allclose(many, one, rtol=1e-12, atol=0)


def test_inverse_cdfs_against_their_closed_forms():
    assert Exponential(exponential=20.0).quantile(0.5) == pytest.approx(20.0 * math.log(2))
    assert Lognormal(lognormal={"median": 600.0, "sigma": 1.0}).quantile(0.5) == pytest.approx(600.0)
    # the normal's 97.5 % point is 1.959964: a lognormal's is its median times e to that times sigma
    assert Lognormal(lognormal={"median": 600.0, "sigma": 0.5}).quantile(0.975) == pytest.approx(
        600.0 * math.exp(0.5 * 1.959963985), rel=1e-8)
    assert Uniform(uniform=(10.0, 70.0)).quantile(0.25) == 25.0
    assert [Empirical(empirical=[5.0, 10.0, 60.0]).quantile(u) for u in (0.0, 0.34, 0.99)] == [5.0, 10.0, 60.0]
    assert Lognormal(lognormal={"median": 600.0, "sigma": 1.0}).quantile(0.0) == 0.0
    assert Exponential(exponential=math.inf).quantile(0.3) == math.inf


@pytest.mark.parametrize("distribution", DISTRIBUTIONS, ids=lambda d: type(d).__name__)
def test_draws_by_inverse_cdf_have_the_distributions_mean(distribution):
    u = np.random.default_rng(5).random(200_000)
    assert distribution.quantiles(u).mean() == pytest.approx(distribution.mean, rel=0.02)


def _stream(seed: int = 4, lookup: dict | None = None) -> Stream:
    scenario = build(delegating_estate(lookup=lookup or {"lognormal": {"median": "30s", "sigma": 1.0}}))
    world = compile_world(scenario)
    program = Program(world, "lead", world.tasks["ticket"], review=scenario.approval.review_time,
                      issuer_latency=scenario.issuer.latency)
    return Stream(seed, "lead/ticket", 12 / 3600, program)


def test_a_tasks_numbers_do_not_depend_on_how_many_are_drawn_at_once():
    count = 3 * BLOCK + 5
    stream = _stream()
    one_at_a_time = [stream.next() for _ in range(count)]
    gaps, rows = _stream().draw(count)
    assert [gap for gap, _ in one_at_a_time] == gaps.tolist()
    assert [row for _, row in one_at_a_time] == rows.tolist()
    halves = _stream()
    first, second = halves.draw(7), halves.draw(count - 7)
    assert np.concatenate([first[1], second[1]]).tolist() == rows.tolist()
    assert stream.taken == count


@pytest.mark.parametrize("lookup", [None, {"empirical": ["2s", "5s", "30s"]}], ids=["lognormal", "empirical"])
def test_take_hands_out_uniform_rows_that_some_columns_turn_into_the_values_next_gives(lookup):
    count = 2 * BLOCK + 3
    stream = _stream(lookup=lookup)
    one_at_a_time = [row for _, row in (stream.next() for _ in range(count))]
    _, uniforms, first = _stream(lookup=lookup).take(1e9)
    assert first == 1 and len(uniforms) >= count
    uniforms = uniforms[:count]
    program = stream.program
    every = list(range(1, program.width))
    for columns in ([], [1], every[::2], every):
        key, turn = program.some_values(columns)
        rows = uniforms.copy()
        turn(rows)
        for column in range(program.width):
            wanted = [row[column] for row in one_at_a_time] if column in columns else uniforms[:, column].tolist()
            assert rows[:, column].tolist() == wanted, (columns, column)
        assert key == _stream(lookup=lookup).program.some_values(columns)[0]  # another stream of this layout: one call
        hash(key)


def test_arrival_gaps_are_exponential_at_the_streams_rate():
    gaps, _ = _stream().draw(20_000)
    assert gaps.mean() == pytest.approx(3600 / 12, rel=0.03)
    assert np.median(gaps) == pytest.approx(3600 / 12 * math.log(2), rel=0.05)


def test_a_plan_reads_its_row():
    stream = _stream()
    _, row = stream.next()
    plan = stream.program.plan(row, stream.extras, lambda agent, template: None)
    lookup = plan.steps[1]  # the delegated sub-task's own plan, from the same row
    assert plan.steps[0].duration == 10.0 and lookup.steps[0].duration > 0
    assert plan.issuer_latency > 0 and lookup.issuer_latency > 0 and plan.issuer_latency != lookup.issuer_latency


def _with_a_neighbour() -> dict:
    """The delegating estate plus another agent that hands its own lookups to the same helper."""
    data = delegating_estate(rate="20/h", run={"horizon": "6h"})
    data["agents"].append({"id": "other", "owner": "alice", "roles": ["support"], "tools": ["crm", "tix"],
                           "tasks": ["ticket"], "may_delegate_to": ["helper"]})
    return data


@pytest.mark.parametrize("strategy", ["rbac", "zsp", {"base": "zsp", "delegation": "token_exchange"}, "intent"],
                         ids=str)
def test_an_agents_work_and_names_do_not_depend_on_a_neighbours(strategy):
    """What ``lead`` does (its tasks, their sub-tasks at the shared helper, every credential issued for
    them, with their ids and times) is the same whether or not another agent works beside it."""
    columns = ["t", "event", "principal", "task", "credential", "decision", "code", "reason"]

    def leads_rows(data: dict) -> list[tuple]:
        data["strategies"] = {"s": strategy}
        events = Simulation(build(data), "s", seed=2).run().to_frame()
        task = events.task.astype("string").fillna("")
        credential = events.credential.astype("string").fillna("")
        mine = task.str.startswith("lead/") | credential.str.contains("lead/")
        return [tuple(row) for row in events.loc[mine, columns].astype("string").fillna("").itertuples(index=False)]

    alone = leads_rows(delegating_estate(rate="20/h", run={"horizon": "6h"}))
    beside = leads_rows(_with_a_neighbour())
    assert len(alone) > 100
    assert alone == beside


def test_task_ids_name_their_template():
    assert template_of("lead/ticket#12") == "ticket"
    assert template_of("lead/ticket#12>helper/lookup") == "lookup"
    assert template_of("lead/ticket#12>helper/lookup#2>db-bot/query") == "query"
    assert template_of("deputy/export~3") == "export"
