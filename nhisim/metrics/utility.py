"""Work that got done, and the friction controls put on it."""

from __future__ import annotations

import math

import numpy as np

from nhisim.metrics.digest import LogDigest

COLUMNS = ("overreach_attempts", "overreach_allowed", "overreach_agents_share", "needed_denied", "redeclarations",
           "legit_denied", "approval_wait_s", "collateral_denials", "tasks_completed", "task_success_rate",
           "task_latency_p95_s")


def compute(log: LogDigest) -> dict[str, float]:
    # collateral is the innocent's failed work: not the quarantined (steered) agent's, nor the
    # compromised holder's whose copy of the credential was stolen
    at_fault = set(log.of("quarantine")["principal"]) | set(log.of("compromise")["principal"])
    collateral = sum(1 for presenter in log.revoked_response_presenters if presenter not in at_fault)
    latencies = log.ok_latencies
    # agents that worked (started a task) and acted beyond intent at least once
    workers = log.task_starters
    beyond = log.overreach_allowed_presenters & workers
    # a needed discovery: the request its task then made for the operation it discovered
    needed_ops = log.needed_discoveries
    return {
        "overreach_attempts": float(log.overreach_attempts),
        "overreach_allowed": float(log.overreach_allowed),
        "overreach_agents_share": len(beyond) / len(workers) if workers else math.nan,
        "needed_denied": float(sum(n for key, n in log.overreach_denied_ops.items() if key in needed_ops)),
        "redeclarations": float(log.benign_redeclarations),
        "legit_denied": float(log.benign_denied + log.benign_issue_refusals),
        "approval_wait_s": float(log.benign_wait_total + log.approval_wait_total),
        "collateral_denials": float(collateral),
        "tasks_completed": float(log.root_tasks_ok),
        "task_success_rate": log.root_tasks_ok / log.root_tasks if log.root_tasks else math.nan,
        "task_latency_p95_s": float(np.percentile(latencies, 95)) if len(latencies) else math.nan,
    }
