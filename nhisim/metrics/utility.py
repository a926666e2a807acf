"""Work that got done, and the friction controls put on it."""

from __future__ import annotations

import math

import numpy as np

from nhisim.metrics.lifecycle import RunLog

COLUMNS = ("overreach_attempts", "overreach_allowed", "legit_denied", "approval_wait_s", "collateral_denials",
           "tasks_completed", "task_success_rate", "task_latency_p95_s")


def compute(log: RunLog) -> dict[str, float]:
    req = log.requests
    benign = ~req["malicious"]
    decision = req["decision"][benign]
    overreach = req["in_intent"][benign] == False  # noqa: E712  (None: a request outside any task)
    issues = log.of("issue")
    denied_issues = (~issues["malicious"] & (issues["decision"] == "deny")).sum()
    # collateral is the innocent's failed work: not the quarantined (steered) agent's, nor the
    # compromised holder's whose copy of the credential was stolen
    at_fault = set(log.of("quarantine")["principal"]) | set(log.of("compromise")["principal"])
    collateral = sum(1 for code, presenter in zip(req["code"][benign], req["presenter"][benign], strict=True)
                     if code == "revoked_response" and presenter not in at_fault)
    ends = log.of("task_end")
    roots = ~ends["malicious"] & (ends["code"] == "root")
    ok = roots & (ends["decision"] == "ok")
    latencies = ends["latency"][ok]
    waits = np.nansum(req["wait"][benign]) + np.nansum(log.of("approval")["wait"])
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
