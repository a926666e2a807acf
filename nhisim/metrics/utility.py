"""Work that got done, and the friction controls put on it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from nhisim.metrics.lifecycle import RunLog

COLUMNS = ("overreach_attempts", "overreach_allowed", "legit_denied", "approval_wait_s", "collateral_denials",
           "tasks_completed", "task_success_rate", "task_latency_p95_s")


def compute(log: RunLog) -> dict[str, float]:
    requests = log.requests[~log.requests["malicious"]]
    issues = log.of("issue")
    overreach = requests[requests["in_intent"] == False]  # noqa: E712  (object column: None means no task)
    denied_issues = issues[~issues["malicious"] & (issues["decision"] == "deny")]
    denied = (requests["decision"] == "deny").sum() + len(denied_issues)
    quarantined = set(log.of("quarantine")["principal"])
    collateral = requests[(requests["code"] == "revoked_response") & ~requests["presenter"].isin(quarantined)]
    ends = log.of("task_end")
    roots = ends[~ends["malicious"] & (ends["code"] == "root")]
    waits = pd.concat([requests["wait"], log.of("approval")["wait"]])
    ok = roots[roots["decision"] == "ok"]
    return {
        "overreach_attempts": float(len(overreach)),
        "overreach_allowed": float((overreach["decision"] == "allow").sum()),
        "legit_denied": float(denied),
        "approval_wait_s": float(waits.fillna(0).sum()),
        "collateral_denials": float(len(collateral)),
        "tasks_completed": float(len(ok)),
        "task_success_rate": float(len(ok) / len(roots)) if len(roots) else math.nan,
        "task_latency_p95_s": float(np.percentile(ok["latency"], 95)) if len(ok) else math.nan,
    }
