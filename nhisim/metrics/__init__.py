"""Metrics of one run (SPEC §5), computed from its event log alone.

One module per family: ``attack`` (what the attacker did), ``exposure`` (for how long
and how fast it was cut), ``utility`` (work done and friction), ``accountability``
(attribution), ``cost`` (standing privilege and operational cost). Each defines
``COLUMNS`` and ``compute(log) -> dict``. Where a metric has no meaning in a run (no
compromise), it is NaN, never 0.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from nhisim.metrics import accountability, attack, cost, exposure, utility
from nhisim.metrics.lifecycle import RunLog
from nhisim.scenario.expectations import METRIC_NAMES, SHARE_METRICS

FAMILIES = (attack, exposure, utility, accountability, cost)

# the result columns of SPEC §5; named in the scenario layer, where expectations refer to them
METRIC_COLUMNS = METRIC_NAMES

# which way is better, for summaries and figures
LOWER_IS_BETTER = {
    "blast_radius", "potential_blast_radius", "time_weighted_exposure", "records_exposed", "malicious_allowed",
    "exposure_window_s", "time_to_detect_s", "time_to_revoke_s", "time_to_contain_s", "standing_privilege",
    "overreach_allowed", "legit_denied", "approval_wait_s", "collateral_denials", "task_latency_p95_s",
    "credentials_issued", "policy_evaluations",
}


# counts with no better direction: more denials may mean more attacks, not better control
NEUTRAL = {"malicious_denied", "overreach_attempts", "tasks_completed"}
SHARES = set(SHARE_METRICS)


def compute_metrics(events: pd.DataFrame | Mapping[str, np.ndarray]) -> dict[str, float]:
    """Every metric column of SPEC §5 for one run's event log (a DataFrame, or its columns)."""
    log = RunLog(events)
    values: dict[str, float] = {}
    for family in FAMILIES:
        values.update(family.compute(log))
    return {name: values[name] for name in METRIC_COLUMNS}


__all__ = ["METRIC_COLUMNS", "LOWER_IS_BETTER", "NEUTRAL", "SHARES", "compute_metrics"]
