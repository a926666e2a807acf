"""Formatting metric values for people: durations in s/min/h/d, counts, shares."""

from __future__ import annotations

import math

from nhisim.metrics import SHARES
from nhisim.scenario.units import format_duration

HEADLINE = ("blast_radius", "exposure_window_s", "time_to_revoke_s", "malicious_allowed", "collateral_denials",
            "legit_denied", "task_success_rate", "attribution")

LABELS = {
    "blast_radius": "blast radius",
    "potential_blast_radius": "potential blast radius",
    "time_weighted_exposure": "time-weighted exposure",
    "records_exposed": "records exposed",
    "malicious_allowed": "malicious allowed",
    "malicious_denied": "malicious denied",
    "exposure_window_s": "exposure window",
    "time_to_detect_s": "time to detect",
    "time_to_revoke_s": "time to revoke",
    "time_to_contain_s": "time to contain",
    "standing_privilege": "standing privilege",
    "overreach_attempts": "overreach attempts",
    "overreach_allowed": "overreach allowed",
    "legit_denied": "legit denied",
    "approval_wait_s": "approval wait",
    "collateral_denials": "collateral denials",
    "tasks_completed": "tasks completed",
    "task_success_rate": "task success",
    "task_latency_p95_s": "task latency p95",
    "attribution": "attribution",
    "credentials_issued": "credentials issued",
    "policy_evaluations": "policy evaluations",
}


def label(metric: str) -> str:
    return LABELS.get(metric, metric.replace("_", " "))


def fmt(metric: str, value: float) -> str:
    """One value of ``metric`` in the unit a person expects."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if metric.endswith("_s"):
        sign = "-" if value < 0 else ""
        return sign + format_duration(abs(value))
    if metric in SHARES:
        return f"{value:.0%}"
    for size, suffix in ((1e12, " T"), (1e9, " G"), (1e6, " M")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def fmt_ci(metric: str, mean: float, low: float, high: float) -> str:
    """``mean (low–high)``, or just the mean when the interval is empty or undefined."""
    text = fmt(metric, mean)
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)) or low == high:
        return text
    return f"{text} ({fmt(metric, low)}–{fmt(metric, high)})"
