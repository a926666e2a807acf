"""Formatting metric values for people: the headline metrics, and the formatters of
:mod:`nhisim.metrics.readable` (durations in s/min/h/d, counts, shares) under their report names."""

from __future__ import annotations

from nhisim.metrics.readable import fmt, fmt_ci, label
from nhisim.scenario.units import format_quantity

HEADLINE = ("blast_radius", "exposure_window_s", "time_to_revoke_s", "malicious_allowed", "collateral_denials",
            "legit_denied", "task_success_rate", "attribution")


def param_text(value: object, unit: str = "") -> str:
    """A swept parameter's value for people: ``unit`` is the sweep's (``duration`` in s, ``rate`` per s)."""
    return format_quantity(value.item() if hasattr(value, "item") else value, unit)


__all__ = ["HEADLINE", "fmt", "fmt_ci", "label", "param_text"]
