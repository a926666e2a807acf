"""The metric vocabulary: one row per result column, and every reader agrees with it."""

from __future__ import annotations

import re
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import report_fixtures as R

from nhisim import metrics, vocabulary
from nhisim.experiments import Comparison
from nhisim.reports.content import results_table
from nhisim.reports.figures import metric_scale, strategy_comparison
from nhisim.reports.format import fmt, label
from nhisim.scenario.expectations import METRIC_NAMES, SHARE_METRICS, parse_claim

DOCS = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


def test_families_compute_exactly_the_vocabulary():
    columns = [c for family in metrics.FAMILIES for c in family.COLUMNS]
    assert len(columns) == len(set(columns)), "a metric computed by two families"
    assert set(columns) == set(vocabulary.NAMES), "a metric without a row, or a row without a family"
    for family in metrics.FAMILIES:
        for column in family.COLUMNS:
            assert vocabulary.BY_NAME[column].family == metrics.family_name(family)


def test_families_are_discovered_not_listed():
    names = {metrics.family_name(f) for f in metrics.discover_families()}
    assert names >= {"attack", "exposure", "utility", "accountability", "cost"}
    assert "lifecycle" not in names  # it reads the log for the families and computes no metric
    assert metrics.discover_families() == metrics.FAMILIES


def _family(name: str, columns: tuple[str, ...]) -> types.ModuleType:
    module = types.ModuleType(f"nhisim.metrics.{name}")
    module.COLUMNS = columns
    module.compute = lambda log: {}
    return module


def test_a_family_out_of_step_with_the_vocabulary_is_refused():
    families = metrics.FAMILIES
    with pytest.raises(RuntimeError, match="computed but not in nhisim.vocabulary: new_metric"):
        metrics.check_families((*families, _family("extra", ("new_metric",))))
    with pytest.raises(RuntimeError, match="computed by two families: attribution"):
        metrics.check_families((*families, _family("accountability", ("attribution",))))
    without_cost = tuple(f for f in families if not f.__name__.endswith(".cost"))
    with pytest.raises(RuntimeError, match="computed by no family: standing_privilege"):
        metrics.check_families(without_cost)
    without_accountability = tuple(f for f in families if not f.__name__.endswith(".accountability"))
    with pytest.raises(RuntimeError, match="another family than the vocabulary's: attribution"):
        metrics.check_families((*without_accountability, _family("audit", ("attribution",))))
    metrics.check_families(families)


def test_columns_keep_their_order_and_every_alias_is_the_vocabulary():
    assert metrics.METRIC_COLUMNS == METRIC_NAMES == vocabulary.NAMES
    # today's columns keep their relative order (a new metric may take any place among them)
    known = ("blast_radius", "potential_blast_radius", "time_weighted_exposure", "records_exposed",
             "malicious_allowed", "malicious_denied", "exposure_window_s", "time_to_detect_s", "time_to_revoke_s",
             "time_to_contain_s", "standing_privilege", "overreach_attempts", "overreach_allowed", "legit_denied",
             "approval_wait_s", "collateral_denials", "tasks_completed", "task_success_rate", "task_latency_p95_s",
             "attribution", "credentials_issued", "policy_evaluations")
    assert [c for c in metrics.METRIC_COLUMNS if c in known] == list(known)
    assert set(SHARE_METRICS) == metrics.SHARES >= {"task_success_rate", "attribution"}
    assert metrics.NEUTRAL >= {"malicious_denied", "overreach_attempts"} and "tasks_completed" not in metrics.NEUTRAL
    assert not metrics.LOWER_IS_BETTER & metrics.NEUTRAL
    for metric in vocabulary.METRICS:
        assert metric.direction in ("lower", "higher", "neutral")
        assert metric.kind in ("seconds", "share", "count", "value", "value_time")
        assert (metric.kind == "seconds") == metric.name.endswith("_s")
        assert metric.label and metric.unit and metric.meaning


def test_every_row_is_documented_in_docs_metrics():
    text = DOCS.read_text(encoding="utf-8")
    documented = {name for cell in re.findall(r"^\| (`[^|]+`) \|", text, flags=re.M)
                  for name in re.findall(r"`([a-z0-9_]+)`", cell)}
    assert documented == set(vocabulary.NAMES)


def _paired(metric: str, values: dict[str, list[float]]) -> Comparison:
    rows = []
    for strategy, vals in values.items():
        for r, v in enumerate(vals):
            row = dict.fromkeys(metrics.METRIC_COLUMNS, np.nan)
            row.update({"scenario": "s", "strategy": strategy, "seed": r, "replication": r, metric: v})
            rows.append(row)
    return Comparison(R.estate(), list(values), "rbac", 1, len(next(iter(values.values()))), pd.DataFrame(rows), {})


def test_tasks_completed_is_higher_is_better_for_every_reader():
    c = _paired("tasks_completed", {"rbac": [10, 11, 12, 10], "intent": [20, 22, 21, 23]})
    summary = c.summary(["tasks_completed"]).set_index("strategy")
    assert summary.loc["intent", "better"] == "better"  # more work done on the same arrivals
    (row,) = results_table(c, ["tasks_completed"])
    assert row[2] == "higher is better" and row[3][1].verdict == "better"
    fig = strategy_comparison(c, ["tasks_completed"])
    ax = next(a for a in fig.axes if a.get_visible())
    assert ax.get_title().endswith("↑")
    assert any(t.get_text().endswith(" *") for t in ax.texts)


def test_neutral_metrics_get_no_verdict_anywhere():
    c = _paired("malicious_denied", {"rbac": [1, 1, 2, 1], "intent": [9, 8, 9, 10]})
    assert c.summary(["malicious_denied"]).set_index("strategy").loc["intent", "better"] == ""
    (row,) = results_table(c, ["malicious_denied"])
    assert row[2] == "context: no better direction" and row[3][1].verdict == ""
    ax = next(a for a in strategy_comparison(c, ["malicious_denied"]).axes if a.get_visible())
    assert not ax.get_title().endswith(("↑", "↓"))


def test_formatting_reads_kind_label_and_unit():
    assert label("task_success_rate") == "task success" and label("not_a_metric") == "not a metric"
    assert fmt("task_success_rate", 0.5) == "50%"
    assert fmt("exposure_window_s", 90.0) == fmt("some_new_delay_s", 90.0)
    assert metric_scale("time_weighted_exposure") == (3600.0, "value × h")
    assert metric_scale("blast_radius") == (1.0, "Σ sensitivity × damage")
    assert metric_scale("tasks_completed") == (1.0, "tasks")
    assert metric_scale("attribution") == (0.01, "%")
    assert metric_scale("unknown_count") == (1.0, "per run")
    assert parse_claim("zsp approval_wait_s <= 15m").value == 900.0
    assert parse_claim("zsp attribution >= 95%").value == pytest.approx(0.95)
