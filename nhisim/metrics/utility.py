"""Work that got done, and the friction controls put on it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from nhisim.metrics.lifecycle import RunLog

COLUMNS = ("overreach_attempts", "overreach_allowed", "legit_denied", "approval_wait_s", "collateral_denials",
           "tasks_completed", "task_success_rate", "task_latency_p95_s")


def _column(frame: pd.DataFrame, name: str, dtype: type = object) -> np.ndarray:
    return frame[name].to_numpy(dtype=dtype)


def compute(log: RunLog) -> dict[str, float]:
    # masks over single columns: filtering whole frames would copy every column each time
    req = log.requests
    benign = ~_column(req, "malicious", bool)
    decision = _column(req, "decision")[benign]
    overreach = _column(req, "in_intent")[benign] == False  # noqa: E712  (None: a request outside any task)
    issues = log.of("issue")
    denied_issues = (~_column(issues, "malicious", bool) & (_column(issues, "decision") == "deny")).sum()
    quarantined = set(log.of("quarantine")["principal"])
    collateral = sum(1 for code, presenter in zip(_column(req, "code")[benign], _column(req, "presenter")[benign],
                                                  strict=True)
                     if code == "revoked_response" and presenter not in quarantined)
    ends = log.of("task_end")
    roots = ~_column(ends, "malicious", bool) & (_column(ends, "code") == "root")
    ok = roots & (_column(ends, "decision") == "ok")
    latencies = _column(ends, "latency", float)[ok]
    waits = np.nansum(_column(req, "wait", float)[benign]) + np.nansum(_column(log.of("approval"), "wait", float))
    return {
        "overreach_attempts": float(overreach.sum()),
        "overreach_allowed": float((decision[overreach] == "allow").sum()),
        "legit_denied": float((decision == "deny").sum() + denied_issues),
        "approval_wait_s": float(waits),
        "collateral_denials": float(collateral),
        "tasks_completed": float(ok.sum()),
        "task_success_rate": float(ok.sum() / roots.sum()) if roots.any() else math.nan,
        "task_latency_p95_s": float(np.percentile(latencies, 95)) if len(latencies) else math.nan,
    }
