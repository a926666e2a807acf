"""Results read in their units when shown, and stay numbers for code; counts are whole numbers."""

from __future__ import annotations

import csv
import json
import math

import pandas as pd
import pytest
from cli_helpers import run_cli
from engine_fixtures import build, support_estate
from sweep_helpers import FAST, SCENARIO

import nhisim
from nhisim.experiments import summarize, sweep
from nhisim.metrics import COUNT_COLUMNS, METRIC_COLUMNS
from nhisim.metrics.readable import ReadableFrame, fmt


@pytest.fixture(scope="module")
def comparison():
    estate = build(support_estate(threats=[{"id": "leak", "kind": "secret_leak", "principal": "bot", "at": "1h"}],
                                  run={"horizon": "6h", "baseline": "rbac"}))
    return nhisim.compare(estate, strategies=["rbac", "zsp"], replications=3, seed=2)


def test_a_summary_prints_units_and_computes_with_numbers(comparison):
    summary = comparison.summary(["exposure_window_s", "standing_privilege", "task_success_rate"])
    assert isinstance(summary, ReadableFrame)
    text = repr(summary)
    rbac = summary[(summary["strategy"] == "rbac") & (summary["metric"] == "exposure_window_s")].iloc[0]
    assert fmt("exposure_window_s", rbac["mean"]) in text and "e+" not in text  # no 2.605863e+07
    assert rbac["mean"] > 0 and isinstance(rbac["mean"], float)  # the value itself is seconds
    assert summary["mean"].dtype == "float64" and (summary["n"] == 3).all()
    readable = summary.readable()
    shares = readable[readable["metric"] == "task_success_rate"]["mean"]
    assert all(v.endswith("%") for v in shares)
    assert "e+" not in summary.to_string() and "e+" in summary.to_string(readable=False)
    assert "<td>" in summary._repr_html_()
    table = comparison.table(["standing_privilege", "exposure_window_s"])
    assert list(table.index) == ["rbac", "zsp"] and table.loc["rbac", "standing_privilege"] > 1e6
    assert "M" in repr(table) and type(table.loc[["zsp"]]) is pd.DataFrame  # derived tables are plain


def test_counts_are_integers_with_na_where_they_have_no_meaning(comparison, tmp_path):
    runs = comparison.runs
    assert all(str(runs[m].dtype) == "Int64" for m in COUNT_COLUMNS)
    assert all(runs[m].dtype == "float64" for m in METRIC_COLUMNS if m not in COUNT_COLUMNS)
    no_leak = nhisim.compare(build(support_estate(run={"horizon": "1h", "baseline": "rbac"})), strategies=["rbac"],
                             replications=2, seed=1)
    assert no_leak.runs["malicious_allowed"].isna().all()  # no compromise: <NA>, never 0
    row = no_leak.summary(["malicious_allowed", "tasks_completed"]).set_index("metric")
    assert math.isnan(row.loc["malicious_allowed", "mean"]) and row.loc["malicious_allowed", "n"] == 0
    assert row.loc["tasks_completed", "mean"] == no_leak.runs["tasks_completed"].mean()
    # Parquet and CSV keep them whole
    no_leak.runs.to_parquet(tmp_path / "runs.parquet")
    assert str(pd.read_parquet(tmp_path / "runs.parquet")["tasks_completed"].dtype) == "Int64"
    no_leak.runs.to_csv(tmp_path / "runs.csv", index=False)
    with open(tmp_path / "runs.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {row["malicious_allowed"] for row in rows} == {""}
    assert all(row["tasks_completed"].isdigit() for row in rows)


def test_a_whatif_summary_reads_in_units():
    result = nhisim.whatif(SCENARIO, set={"strategies.rbac.rotation": "2h"}, strategies=["rbac"], replications=2,
                           seed=1)
    summary = result.summary(["exposure_window_s"])
    assert isinstance(summary, ReadableFrame) and summary["before"].dtype == "float64"
    assert fmt("exposure_window_s", summary["before"].iloc[0]) in repr(summary)


def test_a_sweep_summary_is_one_row_per_point_strategy_and_metric():
    runs = sweep(SCENARIO, {"strategies.zsp.ttl": ["1h", "5m"]}, strategies=["zsp"], replications=3, seed=4,
                 overrides=FAST)
    summary = summarize(runs, ["tasks_completed", "task_latency_p95_s"])
    assert list(summary.columns) == ["point", "strategies.zsp.ttl", "strategies.zsp.ttl_s", "strategy", "metric",
                                     "mean", "ci_low", "ci_high", "n"]
    assert len(summary) == 2 * 2 and (summary["n"] == 3).all()
    one = summary[(summary["point"] == 1) & (summary["metric"] == "tasks_completed")].iloc[0]
    own = runs[(runs["point"] == 1)]["tasks_completed"]
    assert one["mean"] == pytest.approx(own.mean()) and one["strategies.zsp.ttl"] == "5m"
    assert one["ci_low"] <= one["mean"] <= one["ci_high"]
    assert summary.sort_values("strategies.zsp.ttl_s")["strategies.zsp.ttl"].iloc[0] == "5m"
    assert " min" in repr(summary) or " s" in repr(summary)  # latency in its unit


def test_compare_json_writes_a_count_with_no_meaning_as_null(capsys):
    code, out, _ = run_cli(["compare", str(SCENARIO), "--set", "run.horizon=1h", "-r", "1", "--strategies", "rbac",
                            "--executor", "serial", "--json"], capsys)
    (row,) = json.loads(out)["result"]["runs"]
    assert code == 0 and row["malicious_allowed"] is None and isinstance(row["tasks_completed"], int)
