"""The columnar event log: what goes in comes out, in time order, with the documented types."""

from __future__ import annotations

import gc
import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nhisim.metrics import compute_metrics
from nhisim.scenario.generate import generate_estate
from nhisim.scenario.loader import load_scenario
from nhisim.sim import eventlog
from nhisim.sim.engine import Simulation
from nhisim.sim.eventlog import COLUMNS, EventLog


def _request(t: float, i: int, *, value: float | None = 1.0) -> tuple:
    row = dict.fromkeys(COLUMNS)
    row.update(t=t, event="request", principal=f"agent-{i}", malicious=i % 3 == 0, in_intent=None if i % 2 else True,
               decision="allow", code="allowed", reason="operation in the credential's scope", value=value)
    return tuple(row[c] for c in COLUMNS)


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=0, max_size=60))
@settings(max_examples=60, deadline=None)
def test_frame_is_sorted_by_time_and_stable_for_ties(times):
    log = EventLog()
    for i, t in enumerate(times):
        log.append(_request(t, i))
    frame = log.to_frame()
    assert len(frame) == len(log) == len(times)
    expected = sorted(range(len(times)), key=lambda i: times[i])  # sorted() is stable
    assert frame["principal"].tolist() == [f"agent-{i}" for i in expected]


def test_many_rows_across_flushes_keep_their_order_and_types(monkeypatch):
    monkeypatch.setattr(eventlog, "_FLUSH_EVERY", 7)  # many chunks
    log = EventLog(meta={"strategy": "rbac"})
    for i in range(50):
        log.append(_request(float(i), i, value=None if i == 4 else float(i)))
    log.add(25.5, "revoke", credential="key-1", reason="task ended")
    assert len(log) == 51
    assert log.column("event").count("request") == 50
    frame = log.to_frame()
    assert frame.attrs["strategy"] == "rbac"
    assert frame["t"].is_monotonic_increasing
    assert frame.loc[frame["event"] == "revoke", "t"].item() == 25.5
    assert frame["t"].dtype == float and frame["value"].dtype == float and frame["malicious"].dtype == bool
    assert math.isnan(frame.loc[frame["principal"] == "agent-4", "value"].item())  # None becomes NaN
    assert not frame.loc[frame["event"] == "revoke", "malicious"].item()  # add() fills malicious
    assert frame["in_intent"].tolist()[:3] == [True, None, True]
    assert log.to_frame().equals(frame)  # reading twice gives the same frame


def test_stored_columns_are_invisible_to_the_garbage_collector():
    log = EventLog()
    for i in range(eventlog._FLUSH_EVERY + 1):
        log.append(_request(float(i), i))
    log.to_frame()
    tracked = [chunk for column in log._chunks for chunk in column if gc.is_tracked(chunk)]
    assert tracked == []


@pytest.mark.parametrize("strategy", ["shared_account", "zsp", "intent"])
def test_metrics_are_the_same_from_the_log_columns_or_any_frame(strategy, tmp_path):
    scenario = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "enterprise.yaml")
    log = Simulation(scenario, strategy, seed=2).run()
    columns = log.columns()
    as_str = log.to_frame()
    as_object = pd.DataFrame({name: pd.Series(values, dtype=object) if values.dtype == object else values
                              for name, values in columns.items()})
    assert str(as_str["event"].dtype) == "str" and as_object["event"].dtype == object
    assert as_object["credential"].isna().sum() == as_str["credential"].isna().sum() > 0
    as_str.to_parquet(tmp_path / "events.parquet")  # what `compare --out` writes and `replay` reads back
    metrics = compute_metrics(columns)  # what a run computes: no DataFrame at all
    assert metrics["malicious_allowed"] + metrics["malicious_denied"] > 0  # the run has an attack to measure
    # a frame whose every column is of object dtype (built by hand, or concatenated) reads alike
    for frame in (as_str, as_object, as_str.astype(object), pd.read_parquet(tmp_path / "events.parquet")):
        again = compute_metrics(frame)
        assert all(metrics[k] == again[k] or (math.isnan(metrics[k]) and math.isnan(again[k])) for k in metrics)


# ---------------------------------------------------------------- typed storage: values come back exactly

_TEXT_VALUES = [None, "", "agent-1", "agent-1", "ünïcødé ✓ 日本語 🤖", "x" * 100_000, "a\x00b", "\ud800 lone surrogate",
                " leading and trailing ", "None"]
_NUMBER_VALUES = [None, math.nan, math.inf, -math.inf, 0.0, -0.0, 1, 5e-324, 1.7976931348623157e308, -2.5, 0.1]


def _same(a, b) -> bool:
    """Equal, NaN equal to NaN, and the same sign of zero."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return type(a) is type(b) and a == b


def _number(value):
    return math.nan if value is None else float(value)


def test_every_kind_of_value_comes_back_exactly(monkeypatch):
    monkeypatch.setattr(eventlog, "_FLUSH_EVERY", 5)  # values cross chunk boundaries and tables
    log = EventLog()
    expected = []
    for i in range(3 * len(_TEXT_VALUES) * len(_NUMBER_VALUES)):
        text = _TEXT_VALUES[i % len(_TEXT_VALUES)]
        number = _NUMBER_VALUES[i % len(_NUMBER_VALUES)]
        row = dict.fromkeys(COLUMNS)
        row.update({name: text for name in COLUMNS if name not in eventlog.NUMBER_COLUMNS})
        row.update({name: number for name in eventlog.NUMBER_COLUMNS})
        row.update(t=float(i), malicious=i % 2 == 0, in_intent=(None, False, True)[i % 3])
        log.append(tuple(row[c] for c in COLUMNS))
        expected.append(row)
    columns = log.columns()
    for name in COLUMNS:
        got = columns[name].tolist()
        if name in eventlog.NUMBER_COLUMNS:
            assert columns[name].dtype == float
            want = [_number(row[name]) for row in expected]
        elif name == "malicious":
            assert columns[name].dtype == bool
            want = [row[name] for row in expected]
        else:
            assert columns[name].dtype == object
            want = [row[name] for row in expected]
        assert all(_same(g, w) for g, w in zip(got, want, strict=True)), name
        assert all(_same(g, w) for g, w in zip(log.column(name), want, strict=True)), name


def test_builders_give_the_rows_add_gives(monkeypatch):
    """The layouts the frequent builders push decode to the full rows :meth:`EventLog.add` writes."""
    monkeypatch.setattr(eventlog, "_FLUSH_EVERY", 3)
    fast, slow = EventLog(), EventLog()
    fast.request(1.0, principal="p", presenter="a", actor="a", credential="c", chain="a", tool="db", action="read",
                 resource="r", task="t1", audit_task=None, audit_human="h", malicious=False, in_intent=True,
                 decision="allow", code="allowed", reason="ok", value=2.5, records=10, wait=0.0)
    slow.add(1.0, "request", principal="p", presenter="a", actor="a", credential="c", chain="a", tool="db",
             action="read", resource="r", task="t1", audit_human="h", in_intent=True, decision="allow", code="allowed",
             reason="ok", value=2.5, records=10, wait=0.0)
    fast.issue(2.0, subject="a", actor="a", credential="tok-1", chain="a", task="t1", audit_human="h", malicious=True,
               kind="jit", reason="issued", value=3.0, until=62.0, incident="leak")
    slow.add(2.0, "issue", principal="a", presenter="a", actor="a", credential="tok-1", chain="a", task="t1",
             audit_task="t1", audit_human="h", malicious=True, decision="allow", code="jit", reason="issued", value=3.0,
             until=62.0, incident="leak")
    fast.revoke(3.0, subject="a", credential="tok-1", chain="a", by_response=True, reason="contained",
                effective_at=4.0, incident="leak")
    slow.add(3.0, "revoke", principal="a", credential="tok-1", chain="a", decision="revoke", code="response",
             reason="contained", until=4.0, incident="leak")
    fast.task_start(0.5, agent="a", chain="a", task="t1", human="h", how="arrival")
    slow.add(0.5, "task_start", principal="a", presenter="a", actor="a", chain="a", task="t1", audit_human="h",
             code="arrival")
    fast.task_end(5.0, agent="a", task="t1", human=None, ok=False, root=True, why="denied", latency=4.5)
    slow.add(5.0, "task_end", principal="a", presenter="a", actor="a", task="t1", decision="failed", code="root",
             reason="denied", latency=4.5)
    assert fast.to_frame().equals(slow.to_frame())
    assert fast.to_frame()["event"].tolist() == ["task_start", "request", "issue", "revoke", "task_end"]


@given(st.lists(st.tuples(st.sampled_from([0.0, 1.0, 2.0, math.inf]), st.text(max_size=8) | st.none()),
                max_size=80))
@settings(max_examples=60, deadline=None)
def test_interning_and_sorting_keep_values_and_tie_order(rows):
    """Ties in t keep the order they were logged in; interned values decode to what went in."""
    log = EventLog()
    for i, (t, text) in enumerate(rows):
        log.add(t, "threat", code=text, reason=f"row {i}", incident=text)
    columns = log.columns()
    expected = sorted(range(len(rows)), key=lambda i: rows[i][0])  # sorted() is stable
    assert columns["reason"].tolist() == [f"row {i}" for i in expected]
    assert columns["code"].tolist() == [rows[i][1] for i in expected]
    assert columns["incident"].tolist() == columns["code"].tolist()
    assert columns["t"].tolist() == [rows[i][0] for i in expected]


def test_text_columns_take_text_only():
    log = EventLog()
    log.add(1.0, "threat", code=7)
    with pytest.raises(TypeError, match="takes str or None"):
        log.columns()


def test_a_forgotten_value_that_comes_back_decodes_the_same(monkeypatch):
    """Values dropped from a table's live dict are coded again when they come back."""
    monkeypatch.setattr(eventlog, "_FLUSH_EVERY", 4)
    monkeypatch.setattr(eventlog, "_LIVE_VALUES", 8)
    log = EventLog()
    names = [f"task-{i % 50}" for i in range(400)]  # 50 values, each back long after it was dropped
    for i, name in enumerate(names):
        log.add(float(i), "threat", incident=name, reason=name)
    table = log._tables["incident"]
    assert len(table.live) < 50 < len(table)  # the dict forgot values; the archive holds them, some twice
    assert log.column("incident") == names
    assert log.columns()["reason"].tolist() == names


def test_memory_per_row_stays_bounded():
    """A run's log holds typed arrays: a loose bound on its bytes per row (the old object
    arrays alone cost 200 B/row before the values they point to)."""
    scenario = generate_estate(agents=150, tools=10, resources=20, seed=7)
    log = Simulation(scenario, "zsp", seed=1, horizon=6 * 3600).run()
    log.columns()  # flushes the buffer
    assert len(log) > 5 * eventlog._FLUSH_EVERY
    arrays = sum(chunk.nbytes for chunks in log._chunks for chunk in chunks)
    assert arrays / len(log) < 60  # the codes and floats, about 40 B/row
    assert log.nbytes() / len(log) < 250  # with the tables and the text they archive
    assert all(chunk.dtype != object for chunks in log._chunks for chunk in chunks)


def _pieces_in_time_order(log: EventLog, end: float) -> tuple[list[dict], eventlog.InTimeOrder]:
    pieces: list[dict] = []
    ordered = eventlog.InTimeOrder(pieces.append, end)
    log.stream_to(ordered.add)
    return pieces, ordered


def _joined(pieces: list[dict]) -> dict[str, list]:
    import numpy as np

    return {name: np.concatenate([p[name] for p in pieces]).tolist() if pieces else [] for name in COLUMNS}


def _same_columns(a: dict[str, list], b: dict[str, list]) -> bool:
    """Equal column by column, NaN equal to NaN."""
    return all(len(a[c]) == len(b[c]) and all(x == y or (x != x and y != y) for x, y in zip(a[c], b[c], strict=True))
               for c in COLUMNS)


@given(st.lists(st.floats(0, 100, allow_nan=False), max_size=60),
       st.lists(st.floats(0, 50, allow_nan=False), max_size=20), st.integers(1, 9))
@settings(max_examples=80, deadline=None)
def test_a_log_streamed_in_time_order_is_its_sorted_columns(steps, tail, flush_every):
    """What ``nhisim run --events`` writes as the run goes is, row for row, the log sorted by time:
    rows logged as time passes, then rows logged after the run for its end or later, in any order."""
    import itertools

    eventlog_flush = eventlog._FLUSH_EVERY
    eventlog._FLUSH_EVERY = flush_every
    try:
        times = list(itertools.accumulate(steps))  # the clock only moves on
        end = math.nextafter(times[-1], math.inf) if times else 0.0  # the horizon: after every row of the run
        log = EventLog()
        pieces, ordered = _pieces_in_time_order(log, end)
        for i, t in enumerate(times + [end + later for later in tail]):
            log.add(t, "threat", code=f"c{i % 4}", reason=f"row {i}", value=float(i) if i % 3 else None)
        log.flush()
        ordered.finish()
    finally:
        eventlog._FLUSH_EVERY = eventlog_flush
    assert _same_columns(_joined(pieces), {name: values.tolist() for name, values in log.columns().items()})
    assert all((p["t"][1:] >= p["t"][:-1]).all() for p in pieces)


def test_a_row_older_than_what_was_handed_on_is_refused(monkeypatch):
    monkeypatch.setattr(eventlog, "_FLUSH_EVERY", 2)
    log = EventLog()
    pieces, _ = _pieces_in_time_order(log, 10.0)
    for t in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0):
        log.add(t, "threat", reason="on time")
    assert pieces  # the first chunks went on
    log.add(0.5, "threat", reason="late")
    with pytest.raises(RuntimeError, match="out of time order"):
        log.add(7.0, "threat", reason="flushes the late row")


def test_every_pack_run_streams_its_log_in_time_order(monkeypatch):
    """The engine logs in time order but for the rows written after its run: on every pack scenario
    and strategy the streamed pieces are the log, sorted."""
    from nhisim.pack import pack_files

    monkeypatch.setattr(eventlog, "_FLUSH_EVERY", 64)  # many chunks, a tail split across them
    for path in pack_files():
        scenario = load_scenario(path)
        for strategy in scenario.strategies:
            sim = Simulation(scenario, strategy, seed=0)
            pieces, ordered = _pieces_in_time_order(sim.log, sim.horizon)
            sim.run().flush()
            ordered.finish()
            expected = {name: values.tolist() for name, values in sim.log.columns().items()}
            assert _same_columns(_joined(pieces), expected), (path.name, strategy)
