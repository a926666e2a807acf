"""Migration planning: which principals to move from one strategy to another first.

A real estate moves from its controls of today (strategy ``S``) towards a target (``T``)
one agent, department or shared account at a time. :func:`plan` answers "which first?":

1. **Candidates.** With ``by="agent"``, every principal whose controls differ between S
   and T: each agent, and each shared account (moving an account alone changes its key,
   e.g. retires it, while its holders keep their own controls). With ``by="tag"`` or
   ``by="environment"``, the agents sharing a tag (or an environment) move together;
   shared accounts stay candidates of their own.
2. **Ranking.** Each candidate is moved alone: S with the candidate's principals under
   their T controls, on the same paired seeds as S itself (common random numbers). It is
   ranked by the paired reduction of the ``objective`` (default: time-weighted exposure,
   which weighs what the attacker reaches by how long), most reduction first; equal
   reductions by the smaller utility cost (task success lost, then legitimate requests
   denied). Each reduction comes with its 95% confidence interval, and with how stable
   its rank is: the share of bootstrap resamples of the replications in which the
   candidate keeps its rank, and in which it stays among the first ``steps``.
3. **Steps.** The first ``steps`` candidates, in rank order, moved cumulatively: step k
   is S with the first k moved, each step's paired reduction (and utility cost) against
   S. One-at-a-time ranking then cumulative steps is the plan's model choice: it reads the
   marginal value of each move and shows, through the steps, how moves interact.

The threats are the scenario's own (``assume="scenario"``): a move that changes nothing
any threat touches reduces nothing. ``assume="each-leaks"`` adds, for planning, one
leak of every candidate agent's credential at a time drawn over the run (each to an
attacker of its own): the question then is how much each move would reduce the
exposure whichever agent leaks.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nhisim import vocabulary
from nhisim.errors import InputError, did_you_mean
from nhisim.experiments.compare import compare, mean_ci
from nhisim.experiments.progress import Progress
from nhisim.experiments.run import as_scenario
from nhisim.metrics import METRIC_COLUMNS
from nhisim.scenario.loader import with_overrides
from nhisim.scenario.models import Scenario
from nhisim.scenario.strategy import scenario_strategy
from nhisim.strategies import Strategy

GROUPINGS = ("agent", "tag", "environment")
ASSUMPTIONS = ("scenario", "each-leaks")
UTILITY = ("task_success_rate", "legit_denied", "approval_wait_s")
BOOTSTRAP_RESAMPLES = 400


@dataclass(frozen=True)
class Candidate:
    """One move: a name, and the principals (agents and shared accounts) it moves."""

    name: str
    principals: tuple[str, ...]


@dataclass
class MigrationPlan:
    """The ranking of candidate moves and the cumulative steps (see the module docstring).

    ``ranking``: one row per candidate, in rank order: ``rank``, ``candidate``,
    ``principals``, the ``objective`` reduction (``reduction``, ``ci_low``, ``ci_high``: S
    minus S-with-it-moved, so positive is better), its ``relative`` share of S's mean, the
    paired change of each utility metric (``<metric>_change``), ``rank_stability`` and
    ``top_share``. ``steps``: step 0 (S itself) to ``len(steps) - 1``, with what was moved
    so far, the objective's mean, its reduction and CI, and the utility changes.
    """

    scenario: Scenario
    source: str
    target: str
    objective: str
    by: str
    assume: str
    replications: int
    seed: int
    ranking: pd.DataFrame
    steps: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def candidates(scenario: Scenario, source: Strategy, target: Strategy, by: str = "agent") -> list[Candidate]:
    """The moves from ``source`` to ``target``: principals whose controls differ, alone or grouped."""
    if by not in GROUPINGS:
        raise InputError.single(f"unknown grouping {by!r}", location="--by",
                                suggestion=did_you_mean(by, GROUPINGS, "groupings"))
    differs = {p for p in [a.id for a in scenario.agents] + [sa.id for sa in scenario.shared_accounts]
               if _knobs(source.of(p)) != _knobs(target.of(p))}
    accounts = [Candidate(f"account:{sa.id}", (sa.id,)) for sa in scenario.shared_accounts if sa.id in differs]
    if by == "agent":
        return [Candidate(a.id, (a.id,)) for a in scenario.agents if a.id in differs] + accounts
    groups: dict[str, list[str]] = {}
    for agent in scenario.agents:
        if agent.id not in differs:
            continue
        keys = agent.tags if by == "tag" else [agent.environment]
        for key in keys or ["(untagged)"]:
            groups.setdefault(key, []).append(agent.id)
    return [Candidate(f"{by}:{key}", tuple(members)) for key, members in sorted(groups.items())] + accounts


def _knobs(strategy: Strategy) -> dict[str, Any]:
    return strategy.knobs()


def moved(source: Strategy, target: Strategy, principals: Sequence[str], name: str) -> Strategy:
    """``source`` with ``principals`` under their ``target`` controls, named ``name``."""
    own = dict(source.principals)
    for principal in principals:
        theirs = target.of(principal)
        own[principal] = dataclasses.replace(theirs, principals=())  # a group's own knobs, not its map
    return dataclasses.replace(source, name=name, principals=tuple(sorted(own.items())))


def plan(scenario: Scenario | str | os.PathLike, source: str, target: str, *, steps: int | None = None,
         by: str = "agent", objective: str = "time_weighted_exposure", assume: str = "scenario",
         replications: int | None = None, seed: int | None = None, executor: str | None = "serial",
         workers: int | None = None, progress: Progress = "auto", overrides: dict[str, Any] | None = None
         ) -> MigrationPlan:
    """Rank the moves from strategy ``source`` to ``target`` and evaluate the first ``steps`` cumulatively
    (``overrides``: values changed by dotted path first, as ``--set`` does)."""
    model = as_scenario(scenario, overrides)
    if objective not in METRIC_COLUMNS:
        raise InputError.single(f"unknown metric {objective!r}", location="--objective",
                                suggestion=did_you_mean(objective, METRIC_COLUMNS, "metrics"))
    if vocabulary.direction(objective) != "lower":
        raise InputError.single(f"{objective} is not a metric to reduce", location="--objective",
                                suggestion="choose one where lower is better, e.g. time_weighted_exposure, "
                                           "blast_radius, exposure_window_s")
    if assume not in ASSUMPTIONS:
        raise InputError.single(f"unknown assumption {assume!r}", location="--assume",
                                suggestion=did_you_mean(assume, ASSUMPTIONS, "assumptions"))
    for name, where in ((source, "--from"), (target, "--to")):
        if name not in model.strategies:
            raise InputError.single(f"unknown strategy {name!r}", location=where,
                                    suggestion=did_you_mean(name, model.strategies, "strategies"))
    if source == target:
        raise InputError.single("--from and --to name the same strategy: there is nothing to move",
                                location="--to")
    s, t = scenario_strategy(model, source), scenario_strategy(model, target)
    moves = candidates(model, s, t, by)
    if not moves:
        raise InputError.single(f"{source} and {target} give every principal the same controls: nothing to move",
                                location="--to")
    steps = min(len(moves), 5 if steps is None else int(steps))
    if steps < 1:
        raise InputError.single("steps must be at least 1", location="--steps")
    notes: list[str] = []
    if assume == "each-leaks":
        model = _each_leaks(model, moves)
        notes.append("planned against one leak of every candidate agent's credential (assume=each-leaks), "
                     "besides the scenario's own threats")
    replications = model.run.replications if replications is None else int(replications)
    seed = model.run.seed if seed is None else int(seed)
    run = dict(replications=replications, seed=seed, keep_events=False, executor=executor, workers=workers,
               progress=progress)

    alone = [moved(s, t, c.principals, f"move {c.name}") for c in moves]
    first = compare(model, [source, *alone], baseline=source, **run)
    ranking = _rank(first, source, moves, alone, objective, steps)
    inert = ranking["candidate"][ranking["no_effect"]].tolist()
    if inert:
        notes.append(f"{len(inert)} of the {len(ranking)} moves change {objective} in no replication (no threat "
                     f"touches what they change): they are ranked last, by utility cost")
    if not ranking["reduction"].notna().any():
        notes.append(f"{objective} has no value in these runs (nothing was compromised): the ranking follows "
                     "the utility cost only")
    order = [moves[i] for i in ranking["index"]]
    cumulative = []
    for k in range(1, steps + 1):
        principals = [p for c in order[:k] for p in c.principals]
        cumulative.append(moved(s, t, principals, f"step {k}"))
    second = compare(model, [source, *cumulative], baseline=source, **run)
    table = _steps(second, source, order[:steps], objective)
    return MigrationPlan(model, source, target, objective, by, assume, replications, seed,
                         ranking.drop(columns=["index"]), table, notes)


def _each_leaks(model: Scenario, moves: list[Candidate]) -> Scenario:
    """The scenario with one leak of each candidate agent's credential over the first 80% of the run."""
    agents = {a.id for a in model.agents}
    threats = [t.model_dump(mode="json", exclude_unset=True) for t in model.threats]
    horizon = model.run.horizon
    for principal in dict.fromkeys(p for c in moves for p in c.principals):
        if principal in agents:
            threats.append({"id": f"plan-leak-{principal}", "kind": "secret_leak", "principal": principal,
                            "at": {"uniform": [0.0, 0.8 * horizon]}, "attacker_delay": "10m",
                            "description": "a leak assumed for planning"})
    return with_overrides(model, {"threats": threats}, name=f"<{model.name} with a leak of every candidate>")


def _rank(comparison, source: str, moves: list[Candidate], alone: list[Strategy], objective: str,
          steps: int) -> pd.DataFrame:
    base_mean = mean_ci(comparison.runs.loc[comparison.runs["strategy"] == source, objective].tolist())[0]
    rows = []
    diffs = []
    for i, (c, strategy) in enumerate(zip(moves, alone, strict=True)):
        d = -comparison.paired(strategy.name, objective)  # positive: the move lowers it
        diffs.append(d)
        mean, lo, hi, n = mean_ci(list(d))
        row = {"index": i, "candidate": c.name, "principals": ", ".join(c.principals), "reduction": mean,
               "ci_low": lo, "ci_high": hi, "n": n, "no_effect": bool(n) and bool(np.all(d[~np.isnan(d)] == 0)),
               "relative": mean / base_mean if base_mean and math.isfinite(base_mean) else math.nan}
        for metric in UTILITY:  # the move's paired change of each utility metric (moved minus source)
            change = comparison.paired(strategy.name, metric)
            row[f"{metric}_change"] = float(np.nanmean(change)) if np.isfinite(change).any() else math.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    key = _order_key(table)
    table = table.iloc[key].reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    stability, top = _stability(np.array(diffs), table["index"].to_numpy(), steps)
    table["rank_stability"] = stability
    table["top_share"] = top
    return table


def _order_key(table: pd.DataFrame) -> np.ndarray:
    """Most reduction first (no value last); then the smaller loss of task success, then fewer denials."""
    reduction = table["reduction"].fillna(-math.inf).to_numpy()
    success = table["task_success_rate_change"].fillna(0.0).to_numpy()
    denied = table["legit_denied_change"].fillna(0.0).to_numpy()
    return np.lexsort((denied, -success, -reduction))


def _stability(diffs: np.ndarray, order: np.ndarray, steps: int) -> tuple[list[float], list[float]]:
    """For each candidate (in rank order): the share of bootstrap resamples of the replications in which
    it keeps its rank, and in which it stays among the first ``steps``."""
    if diffs.size == 0 or diffs.shape[1] < 2:
        return [math.nan] * len(order), [math.nan] * len(order)
    rng = np.random.default_rng(0)  # fixed: the same runs give the same stability
    n = diffs.shape[1]
    keep = np.zeros(len(order))
    top = np.zeros(len(order))
    filled = np.where(np.isnan(diffs), -np.inf, diffs)
    place = np.empty(len(order), dtype=int)
    place[order] = np.arange(len(order))  # ties keep the ranking's own order (by utility cost)
    for _ in range(BOOTSTRAP_RESAMPLES):
        sample = filled[:, rng.integers(0, n, n)]
        with np.errstate(invalid="ignore"):
            means = sample.mean(axis=1)
        ranked = np.lexsort((place, -means))
        position = np.empty(len(ranked), dtype=int)
        position[ranked] = np.arange(len(ranked))
        for rank, candidate in enumerate(order):
            keep[rank] += position[candidate] == rank
            top[rank] += position[candidate] < steps
    return list(keep / BOOTSTRAP_RESAMPLES), list(top / BOOTSTRAP_RESAMPLES)


def _steps(comparison, source: str, order: list[Candidate], objective: str) -> pd.DataFrame:
    rows = []
    names = [source] + [f"step {k}" for k in range(1, len(order) + 1)]
    for k, name in enumerate(names):
        own = comparison.runs.loc[comparison.runs["strategy"] == name, objective].astype(float).tolist()
        mean, _, _, _ = mean_ci(own)
        d = -comparison.paired(name, objective)
        reduction, lo, hi, _ = mean_ci(list(d)) if k else (0.0, 0.0, 0.0, len(d))
        row = {"step": k, "moved": order[k - 1].name if k else "", "principals_moved":
               sum(len(c.principals) for c in order[:k]), objective: mean, "reduction": reduction,
               "ci_low": lo, "ci_high": hi}
        for metric in UTILITY:
            change = comparison.paired(name, metric)
            row[f"{metric}_change"] = float(np.nanmean(change)) if k and np.isfinite(change).any() else 0.0
        rows.append(row)
    return pd.DataFrame(rows)


__all__ = ["ASSUMPTIONS", "GROUPINGS", "Candidate", "MigrationPlan", "candidates", "moved", "plan"]
