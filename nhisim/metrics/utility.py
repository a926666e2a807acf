"""Work that got done, and the friction controls put on it."""

from __future__ import annotations

import math

import numpy as np

from nhisim.metrics.lifecycle import RunLog

COLUMNS = ("overreach_attempts", "overreach_allowed", "legit_denied", "approval_wait_s", "collateral_denials",
           "tasks_completed", "task_success_rate", "task_latency_p95_s")


def compute(log: RunLog) -> dict[str, float]:
    ev = log.events
    benign = ev[~ev["malicious"]]
    requests = benign[benign["event"] == "request"]
    overreach = requests[requests["in_intent"] == False]  # noqa: E712  (object column: None means no task)
    denied = benign[benign["event"].isin(("request", "issue")) & (benign["decision"] == "deny")]
    quarantined = set(ev.loc[ev["event"] == "quarantine", "principal"])
    collateral = requests[(requests["code"] == "revoked_response") & ~requests["presenter"].isin(quarantined)]
    roots = benign[(benign["event"] == "task_end") & (benign["code"] == "root")]
    ok = roots[roots["decision"] == "ok"]
    return {
        "overreach_attempts": float(len(overreach)),
        "overreach_allowed": float((overreach["decision"] == "allow").sum()),
        "legit_denied": float(len(denied)),
        "approval_wait_s": float(benign["wait"].fillna(0).sum()),
        "collateral_denials": float(len(collateral)),
        "tasks_completed": float(len(ok)),
        "task_success_rate": float(len(ok) / len(roots)) if len(roots) else math.nan,
        "task_latency_p95_s": float(np.percentile(ok["latency"], 95)) if len(ok) else math.nan,
    }
