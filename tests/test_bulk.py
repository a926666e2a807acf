"""Quiet work computed in bulk writes the rows the call-by-call engine writes (``nhisim.sim.bulk``)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from engine_fixtures import build, delegating_estate, draw_attacked_estate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhisim.metrics import compute_metrics
from nhisim.pack import pack_files
from nhisim.scenario.generate import generate_estate
from nhisim.scenario.loader import load_scenario
from nhisim.sim import bulk
from nhisim.sim.credentials import PROPAGATIONS, propagation_delay, propagation_delays
from nhisim.sim.engine import Simulation


def both_ways(scenario, strategy: str, seed: int) -> tuple[dict, dict, Simulation]:
    """The log's columns call by call, and with quiet work in bulk (and the bulk run)."""
    alone = Simulation(scenario, strategy, seed=seed, bulk=False).run().columns()
    sim = Simulation(scenario, strategy, seed=seed, bulk=True)
    return alone, sim.run().columns(), sim


def assert_same_rows(expected: dict, got: dict) -> None:
    """Row for row, in time order."""
    assert len(expected["t"]) == len(got["t"])
    for name, column in expected.items():
        if column.dtype.kind == "f":
            assert np.array_equal(column, got[name], equal_nan=True), name
        else:
            assert column.tolist() == got[name].tolist(), name


def assert_same_up_to_ties(expected: dict, got: dict) -> None:
    """The same rows (rows logged at one time may come in another order) and the same metrics."""
    def canonical(columns: dict) -> pd.DataFrame:
        frame = pd.DataFrame(columns).astype(str)
        return frame.sort_values(list(frame.columns)).reset_index(drop=True)

    pd.testing.assert_frame_equal(canonical(expected), canonical(got))
    mine, theirs = compute_metrics(expected), compute_metrics(got)
    for name, value in mine.items():
        other = theirs[name]
        assert value == other or (isinstance(value, float) and math.isnan(value) and math.isnan(other)), name


def bulk_tasks(sim: Simulation, columns: dict) -> int:
    """How many root tasks of the run came from quiet streams."""
    quiet = {f"{agent}/{template}" for agent, template in bulk.quiet_streams(sim)}
    starts = columns["task"][columns["event"] == "task_start"]
    return sum(task.split("#")[0] in quiet for task in starts.tolist())


def test_every_pack_run_is_the_same_with_quiet_work_in_bulk():
    used = 0
    for path in pack_files():
        scenario = load_scenario(path)
        for strategy in scenario.strategies:
            alone, together, sim = both_ways(scenario, strategy, 0)
            assert_same_rows(alone, together)
            used += bulk_tasks(sim, together) > 0
    assert used >= 8  # the pack's larger estates have quiet streams under static keys


def rotating_estate() -> dict:
    """A generated estate whose keys rotate every 2 h (so calls of one task may present two keys), with a
    template that always runs past its deadline and a role that lacks an operation its template calls."""
    scenario = generate_estate(agents=40, tools=6, resources=10, fanout=2, depth=2, shared_share=0.3, seed=11)
    data = scenario.model_dump(mode="json", exclude_unset=True)
    data["strategies"] = {"rbac": {"base": "rbac", "rotation": "2h"},
                          "shared_account": {"base": "shared_account", "rotation": "2h"}}
    data["run"] = {"horizon": "8h"}
    tasks = {task["id"]: task for task in data["tasks"]}
    calls = [task for task in data["tasks"] if all("call" in step for step in task["steps"])
             and task.get("arrival_rate") not in (None, 0, "0")]
    calls[0]["deadline"] = "1s"  # its second call comes after the deadline
    calls[0]["steps"] = [{"call": calls[0]["steps"][0]["call"], "duration": "2s"}] * 3
    denied = calls[1]
    denied_call = denied["steps"][-1]["call"]
    for role in data["roles"]:
        role["grants"] = [grant for grant in role["grants"] if grant != denied_call]
    assert tasks  # the estate has templates
    return data


@pytest.mark.parametrize("strategy", ["rbac", "shared_account"])
def test_rotations_deadlines_and_denials_are_the_same_in_bulk(strategy):
    scenario = build(rotating_estate())
    alone, together, sim = both_ways(scenario, strategy, 5)
    assert_same_rows(alone, together)
    events = pd.DataFrame(together)
    starts = (events.event == "task_start").sum()
    assert bulk_tasks(sim, together) > starts / 2
    quiet = {f"{agent}/{template}" for agent, template in bulk.quiet_streams(sim)}
    events = events[events.task.astype(str).str.split("#").str[0].isin(quiet)]  # what the bulk path wrote
    ends = events[events.event == "task_end"]
    assert ends.reason.str.startswith("deadline of").any()
    assert ends.reason.str.endswith("was denied").any()
    keys_per_task = events[events.event == "request"].groupby("task").credential.nunique()
    assert (keys_per_task > 1).any()  # a rotation fell inside a task


@pytest.mark.parametrize("ttl", ["15m", "40s"])
def test_task_tokens_are_the_same_in_bulk(ttl):
    """Under JIT controls a task's token is issued after the plan's round trip, at its first call, and revoked
    at its end (if it still lives); a task that outlives its token (40 s) renews it call by call."""
    data = rotating_estate()
    data["strategies"] = {"zsp": {"base": "zsp", "ttl": ttl}, "zsp_kept": {"base": "zsp", "ttl": ttl,
                                                                           "revoke_at_task_end": False}}
    scenario = build(data)
    for strategy in data["strategies"]:
        alone, together, sim = both_ways(scenario, strategy, 5)
        assert_same_rows(alone, together)
        events = pd.DataFrame(together)
        quiet = {f"{agent}/{template}" for agent, template in bulk.quiet_streams(sim)}
        assert quiet
        mine = events[events.task.astype(str).str.split("#").str[0].isin(quiet)]
        issued = mine[(mine.event == "issue") & (mine.code == "jit_token")]
        assert len(issued) > 100
        revoked = events[(events.event == "revoke") & events.credential.isin(issued.credential)]
        assert (len(revoked) > 0) == (strategy == "zsp")
        if ttl == "40s":  # tasks outlived their tokens: renewed call by call, with the same rows
            assert issued.groupby("task").size().max() > 1
        delegated = mine[(mine.event == "request") & (mine.principal != mine.presenter)]
        assert len(delegated)  # delegates presented their delegators' tokens


def test_identity_documents_renewed_in_bulk_are_those_the_engine_issues():
    """The agents' identity documents are renewed in bulk: each task's token, in bulk or call by call, is still
    issued on the document in service."""
    data = rotating_estate()
    data["strategies"] = {"intent": "intent", "zsp": {"base": "zsp", "identity_ttl": "20m"}}
    scenario = build(data)
    for strategy in data["strategies"]:
        alone, together, sim = both_ways(scenario, strategy, 5)
        assert_same_rows(alone, together)
        assert sim.identities_in_bulk
        events = pd.DataFrame(together)
        renewals = events[(events.event == "issue") & (events.code == "workload_identity") & (events.t > 0)]
        assert len(renewals) > 2 * len(sim.identities_in_bulk)
        assert ((events.event == "issue") & (events.code == "jit_token") & (events.t > renewals.t.min())).any()
        assert not (events.code == "identity_unusable").any()


@pytest.mark.parametrize("strategy", ["intent", "intent_40s", "intent_wary"])
def test_token_exchange_and_risk_postures_are_the_same_in_bulk(strategy):
    """Under intent controls the bulk path exchanges tokens for sub-tasks (denied once expired: at 40 s, some
    before the sub-task's last call, some before a hand-off) and counts each agent's alerts; a task with a
    call the agent's risk posture would escalate, or whose agents' alerts are not all known, moves call by
    call from its arrival (the agents of a moved task that waits for a review, from when it ends). Same rows
    either way."""
    data = rotating_estate()
    data["strategies"] = {"intent": "intent", "intent_40s": {"base": "intent", "ttl": "40s"},
                          "intent_wary": {"base": "intent", "risk_escalation_alerts": 1}}
    data["threats"] = [{"kind": "runtime_discovery", "probability": 0.3}]  # alerts, and so risk postures
    alone, together, sim = both_ways(build(data), strategy, 5)
    assert_same_rows(alone, together)
    written = sim.bulk_executor.written  # rows the bulk path wrote, by (event, code)
    assert written[("task_start", "exchanged")] > 100
    assert written[("issue", "delegated_token")] == written[("task_start", "exchanged")]
    assert written[("request", "intent_operation")] > 100  # discoveries denied: alerts
    assert written[("request", "expired")] > 0  # an exchanged token is never renewed
    events = pd.DataFrame(together)
    escalated = events[(events.event == "request") & events.reason.astype(str).str.contains("risk posture")]
    assert len(escalated) > 50
    moved = sim.bulk_executor.postures.moved_tasks
    assert 0 < moved < written[("task_start", "arrival")]  # most root tasks are still written in bulk
    assert sim.bulk_executor.postures.reviews_waited  # a window began while a moved task waited for a review
    if strategy == "intent_40s":  # a delegate's token outlived: its own hand-off fails, no sub-task starts
        ends = events[(events.event == "task_end") & events.reason.astype(str).str.startswith("sub-task")]
        started = set(events.task[events.event == "task_start"])
        assert any(not any(task.startswith(f"{parent}>{delegate}/{sub}") for task in started)
                   for parent, (sub, delegate) in zip(ends.task, ends.reason.str.extract(
                       r"sub-task (\S+) delegated to (\S+) failed").itertuples(index=False), strict=True))


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_tasks_moved_call_by_call_count_on_later_windows(monkeypatch, seed):
    """Two-minute windows: tasks moved call by call are still running (most of them waiting for a review) as
    many windows begin, and their later alerts escalate other tasks of their agents. Same rows either way
    (seed 6 tells apart counting their agents hot from the review's end, or an hour late, or never)."""
    monkeypatch.setattr(bulk, "MIN_WINDOW", 120.0)
    monkeypatch.setattr(bulk, "MAX_WINDOW", 120.0)
    data = rotating_estate()
    data["strategies"] = {"intent_wary": {"base": "intent", "risk_escalation_alerts": 1}}
    data["threats"] = [{"kind": "runtime_discovery", "probability": 0.3}]
    alone, together, sim = both_ways(build(data), "intent_wary", seed)
    assert_same_rows(alone, together)
    postures = sim.bulk_executor.postures
    assert postures.moved_tasks > 300
    assert postures.reviews_waited > 5000


@pytest.mark.parametrize("seed", [3, 6])
def test_a_discovery_before_a_moved_tasks_first_flagged_call_may_alert_after_it(monkeypatch, seed):
    """40-second tokens: a discovery's denied request waits for a renewed token, so it may come after the
    task's first flagged call though the discovery came before it, and after the window's end. That alert
    is not known to the next window: the agent must count as hot there (seeds 3 and 6 told it apart)."""
    monkeypatch.setattr(bulk, "MIN_WINDOW", 120.0)
    monkeypatch.setattr(bulk, "MAX_WINDOW", 120.0)
    data = rotating_estate()
    data["strategies"] = {"intent_wary": {"base": "intent", "risk_escalation_alerts": 1, "ttl": "40s"}}
    data["threats"] = [{"kind": "runtime_discovery", "probability": 0.3}]
    alone, together, sim = both_ways(build(data), "intent_wary", seed)
    assert_same_rows(alone, together)
    assert sim.bulk_executor.postures.moved_tasks > 100


@pytest.mark.parametrize("controls", [{"ttl": "15m"}, {"ttl": "40s", "revoke_at_task_end": False}])
def test_token_exchange_without_an_intent_check_is_the_same_in_bulk(controls):
    """zsp with token exchange for delegation: sub-tasks work on exchanged tokens, in bulk."""
    data = rotating_estate()
    data["strategies"] = {"zsp_exchange": {"base": "zsp", "delegation": "token_exchange", **controls}}
    alone, together, sim = both_ways(build(data), "zsp_exchange", 5)
    assert_same_rows(alone, together)
    written = sim.bulk_executor.written
    assert written[("task_start", "exchanged")] > 100
    assert written[("issue", "delegated_token")] == written[("task_start", "exchanged")]
    assert sim.bulk_executor.postures is None  # no intent check: no risk posture to count


def test_a_run_in_bulk_that_keeps_no_rows_streams_the_call_by_call_log(monkeypatch):
    """A sweep's run keeps no rows: its consumers decode each chunk as it is flushed, the ids and reasons of
    the tasks written in bulk through the blocks they came in (some windows' blocks cut down as their rows
    are taken). The pieces are the call-by-call log, the metrics its metrics, and no block outlives the run."""
    from nhisim.metrics.digest import LogDigest, digest_of
    from nhisim.sim import eventlog

    monkeypatch.setattr(eventlog, "_FLUSH_EVERY", 512)  # many chunks, each window's rows taken in pieces
    cut_down = []
    keep_of = eventlog._Table.keep_of
    monkeypatch.setattr(eventlog._Table, "keep_of", lambda table, *args: cut_down.append(1) or keep_of(table, *args))
    data = rotating_estate()
    data["strategies"] = {"zsp": {"base": "zsp", "ttl": "40s", "delegation": "token_exchange"}}
    scenario = build(data)
    alone = Simulation(scenario, "zsp", seed=5, bulk=False).run().columns()
    sim = Simulation(scenario, "zsp", seed=5, bulk=True)
    pieces: list[dict] = []
    ordered = eventlog.InTimeOrder(pieces.append, sim.horizon)
    digest = LogDigest()
    sim.log.stream_to(digest.add, keep=False)
    sim.log.stream_to(ordered.add, keep=False)
    sim.run().flush()
    ordered.finish()
    assert_same_rows(alone, {name: np.concatenate([piece[name] for piece in pieces]) for name in alone})
    assert compute_metrics(digest) == pytest.approx(compute_metrics(digest_of(alone)), nan_ok=True)
    assert cut_down
    assert not any(table._fresh for table in sim.log._distinct_tables)


@st.composite
def attacked_estates(draw):
    data, seed = draw_attacked_estate(draw, agents=(6, 16), depth=(1, 3), latest=7000, max_delay=900,
                                      overreach=[0.0, 0.3])
    return build(data), draw(st.sampled_from(["shared_account", "rbac", "zsp", "intent"])), seed


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attacked_estates())
def test_bulk_and_call_by_call_agree_on_attacked_estates(case):
    scenario, strategy, seed = case
    alone, together, _ = both_ways(scenario, strategy, seed)
    assert_same_up_to_ties(alone, together)


_times = st.floats(min_value=0, max_value=1e7, allow_nan=False)


@given(st.lists(st.tuples(st.sampled_from(PROPAGATIONS), _times, _times, _times | st.just(math.inf)),
                min_size=1, max_size=20))
def test_revocations_in_bulk_take_effect_when_the_engine_says(cases):
    """The bulk path's delays (arrays) are the engine's propagation_delay, element by element."""
    kinds, ttls, nows, expiries = zip(*cases, strict=True)
    got = propagation_delays(np.array([PROPAGATIONS.index(kind) for kind in kinds]), np.array(ttls), np.array(nows),
                             np.array(expiries))
    assert got.tolist() == [propagation_delay(*case) for case in cases]


@pytest.mark.parametrize("strategy", ["rbac", "zsp"])
def test_measured_durations_are_the_same_in_bulk(strategy):
    """Durations given as measured samples (an empirical distribution, as ``nhisim import otel`` writes)
    are turned from the plan's numbers in bulk as call by call."""
    scenario = build(delegating_estate(lookup={"empirical": ["2s", "5s", "30s", "2m"]}, rate="120/h",
                                       run={"horizon": "6h"}))
    alone, together, sim = both_ways(scenario, strategy, 3)
    assert bulk.quiet_streams(sim)
    assert_same_rows(alone, together)
    ends = pd.DataFrame(together).query("event == 'task_end' and code == 'sub'")
    assert set(ends.latency.round(6)) >= {2.0, 5.0, 30.0}  # helpers' lookups took the measured times
