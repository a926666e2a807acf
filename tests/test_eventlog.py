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
