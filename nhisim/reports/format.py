"""Formatting metric values for people: the headline metrics, and the formatters of
:mod:`nhisim.metrics.readable` (durations in s/min/h/d, counts, shares) under their report names."""

from __future__ import annotations

from nhisim.metrics.readable import fmt, fmt_ci, label

HEADLINE = ("blast_radius", "exposure_window_s", "time_to_revoke_s", "malicious_allowed", "collateral_denials",
            "legit_denied", "task_success_rate", "attribution")

__all__ = ["HEADLINE", "fmt", "fmt_ci", "label"]
