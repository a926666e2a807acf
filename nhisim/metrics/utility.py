"""Work that got done, and the friction controls put on it."""

from __future__ import annotations

import math

import numpy as np

from nhisim.metrics.lifecycle import RunLog

COLUMNS = ("overreach_attempts", "overreach_allowed", "overreach_agents_share", "needed_denied", "redeclarations",
           "legit_denied", "approval_wait_s", "collateral_denials", "tasks_completed", "task_success_rate",
           "task_latency_p95_s")


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
    overreach_allowed = overreach & (decision == "allow")
    # agents that worked (started a task) and acted beyond intent at least once
    starts = log.of("task_start")
    workers = set(starts["principal"])
    beyond = set(req["presenter"][benign][overreach_allowed]) & workers
    # a needed discovery: the request its task then made for the operation it discovered
    discoveries = log.of("discover")
    needed = discoveries["code"] == "needed"
    needed_ops = set(zip(*(discoveries[c][needed] for c in ("task", "tool", "action", "resource")), strict=True))
    denied = overreach & (decision == "deny")
    denied_ops = zip(*(req[c][benign][denied] for c in ("task", "tool", "action", "resource")), strict=True)
    redeclares = log.of("redeclare")
    return {
        "overreach_attempts": float(overreach.sum()),
        "overreach_allowed": float(overreach_allowed.sum()),
        "overreach_agents_share": len(beyond) / len(workers) if workers else math.nan,
        "needed_denied": float(sum(1 for key in denied_ops if key in needed_ops)),
        "redeclarations": float((~redeclares["malicious"]).sum()),
        "legit_denied": float((decision == "deny").sum() + denied_issues),
        "approval_wait_s": float(waits),
        "collateral_denials": float(collateral),
        "tasks_completed": float(ok.sum()),
        "task_success_rate": float(ok.sum() / roots.sum()) if roots.any() else math.nan,
        "task_latency_p95_s": float(np.percentile(latencies, 95)) if len(latencies) else math.nan,
    }
