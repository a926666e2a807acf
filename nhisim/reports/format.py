"""Formatting metric values for people: durations in s/min/h/d, counts, shares."""

from __future__ import annotations

import math

from nhisim import vocabulary
from nhisim.scenario.units import format_duration

HEADLINE = ("blast_radius", "exposure_window_s", "time_to_revoke_s", "malicious_allowed", "collateral_denials",
            "legit_denied", "task_success_rate", "attribution")


def label(metric: str) -> str:
    """How a person reads a metric's name (the vocabulary's label)."""
    return vocabulary.label(metric)


def fmt(metric: str, value: float) -> str:
    """One value of ``metric`` in the unit a person expects."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    kind = vocabulary.kind(metric)
    if kind == "seconds":
        sign = "-" if value < 0 else ""
        return sign + format_duration(abs(value))
    if kind == "share":
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


def param_text(value: object, unit: str = "") -> str:
    """A swept parameter's value for people: ``unit`` is the sweep's (``duration`` in s, ``rate`` per s)."""
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if unit == "duration" and isinstance(value, (int, float)):
        return format_duration(float(value))
    if unit == "rate" and isinstance(value, (int, float)):
        return f"{float(value) * 3600:.3g}/h"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
