"""Self-check of scenarios: every attack happens, every strategy is exercised, every claim holds.

For each scenario, every declared strategy runs on ``seeds`` paired replications (the
seeds ``nhisim compare`` uses for the same scenario, so the two agree), and three kinds
of checks are made:

threat
    each declared threat actually happens in **every** run: its id appears in the event
    log as a ``compromise`` row (leaks, hijacks, confused deputy, offboarding, shared
    credential), an ``outage`` start (issuer outage), or, for ``runtime_discovery``, the
    agents it names make out-of-intent attempts (overreach attempts > 0). An attack must
    also be carried out: across all runs the attacker makes at least one request.
strategy
    each declared strategy ran without error and its enforcement point decided requests
    (policy evaluations > 0) in every run.
expectation
    each claim of the scenario's ``expectations:`` (grammar in
    :mod:`nhisim.scenario.expectations`) holds over the paired seeds, by the rules below.

Statistical rules (``alpha`` = 0.05 by default; each claim is tested on its own, with
no correction across claims; the seeds are fixed, so a check gives the same verdict on
every machine):

``A < B on M`` (and ``>``)
    one-sided Wilcoxon signed-rank test on the paired differences ``d = A − B``
    (``scipy.stats.wilcoxon``, zero differences dropped, exact null distribution for
    small samples). Holds when p < alpha. If every difference is zero the claim fails
    (p = 1: no evidence of a difference). If all differences are equal and non-zero the
    test still applies (with 8 seeds, p = 1/256). The smallest p on k non-zero pairs is
    2^-k, so at least 5 are needed for p to go below 0.05: :func:`check` refuses fewer
    seeds than :func:`seeds_needed` (alpha), and a claim left with too few non-zero
    pairs says so. Infinite values are ranked above every finite one.
``A <= B on M`` (and ``>=``)
    non-inferiority: holds when the mean paired difference is on the claimed side (or
    zero) and the one-sided Wilcoxon test of the opposite strict claim (``A > B``) is not
    significant (its p, reported, is ≥ alpha). Every difference zero: holds.
``A == B on M``
    exact: every paired difference is zero (relative tolerance 1e-9). With common random
    numbers this is a deterministic claim (e.g. two strategies that do not differ on
    what the scenario exercises). No p-value.
``S M < v`` (and ``<=``, ``>``, ``>=``)
    about S's runs: holds when either the mean is on the claimed side of v by a
    one-sided one-sample t-test, or most runs are by a one-sided sign test (runs equal
    to v count for a non-strict claim and against a strict one); the smaller p is
    doubled (Bonferroni, for using two tests) and compared with alpha. With zero
    variance (every run equal) or infinite values, the t-test is replaced by the claim
    evaluated on the mean (p = 0 if it holds, 1 if not). With 8 seeds, a claim true in
    every run has p = 2/256.
``S M == v``
    exact: every run equals v.

Runs where a metric is undefined (NaN, e.g. no compromise) are left out; a claim with
no defined run fails. A comma list ``zsp,intent M <= v`` is checked for each strategy.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from nhisim import interrupt
from nhisim.errors import InputError, shown
from nhisim.experiments.run import replication_seed
from nhisim.metrics import FAMILIES
from nhisim.metrics.lifecycle import RunLog
from nhisim.scenario.expectations import Claim, parse_claim
from nhisim.scenario.loader import load_scenario
from nhisim.scenario.models import Scenario
from nhisim.sim.engine import Simulation
from nhisim.sim.threats import threat_id

ALPHA = 0.05
DEFAULT_SEEDS = 8
TOLERANCE = 1e-9
COLUMNS = ("scenario", "file", "check", "item", "strategy", "holds", "detail", "test", "metric", "op", "other",
           "value", "mean", "other_mean", "diff_mean", "p_value", "n")


# --------------------------------------------------------------------------- running


@dataclass
class _Job:
    index: int  # scenario index
    strategy: str
    replication: int
    seed: int


_WORKER_SCENARIOS: list[Scenario] = []
_WORKER_NEEDS: list[tuple[str, ...]] = []


def _init_worker(scenarios: list[Scenario], needs: list[tuple[str, ...]]) -> None:
    global _WORKER_SCENARIOS, _WORKER_NEEDS
    _WORKER_SCENARIOS = scenarios
    _WORKER_NEEDS = needs


def _init_pool_worker(scenarios: list[Scenario], needs: list[tuple[str, ...]]) -> None:
    interrupt.worker_defaults()  # Ctrl-C and SIGTERM are the parent's to tell, not each worker's
    _init_worker(scenarios, needs)


def _run_job(job: _Job) -> dict[str, Any]:
    return run_evidence(_WORKER_SCENARIOS[job.index], job.strategy, job.seed, _WORKER_NEEDS[job.index])


def run_evidence(scenario: Scenario, strategy: str, seed: int, metrics: Sequence[str] = ()) -> dict[str, Any]:
    """One run, reduced to what the checks need: the metrics named, and which threats fired."""
    out: dict[str, Any] = {"strategy": strategy, "seed": seed, "error": None, "metrics": {}, "fired": {},
                           "attacks": {}, "overreach": {}, "requests": 0}
    needed = set(metrics)
    try:
        events = Simulation(scenario, strategy, seed=seed).run().to_frame()
        if needed:  # only the metric families the claims use: the check runs hundreds of runs
            log = RunLog(events)
            for family in FAMILIES:
                if needed & set(family.COLUMNS):
                    values = family.compute(log)
                    out["metrics"].update({k: float(values[k]) for k in family.COLUMNS if k in needed})
    except Exception as exc:  # a run that raises is a failed check, not a crash of the whole check
        out["error"] = f"{type(exc).__name__}: {exc}"
        return out
    event = events["event"].astype(str)
    requests = events[event == "request"]
    out["requests"] = int(len(requests))
    compromised = set(events.loc[event == "compromise", "incident"].dropna())
    outages = set(events.loc[(event == "outage") & (events["code"].astype(str) == "start"), "incident"].dropna())
    malicious = requests[requests["malicious"]]
    attacks = malicious.groupby("incident").size().to_dict() if len(malicious) else {}
    benign_off = requests[~requests["malicious"] & (requests["in_intent"] == False)]  # noqa: E712 (object column)
    for index, threat in enumerate(scenario.threats):
        tid = threat_id(threat, index)
        if threat.EVIDENCE == "overreach":  # each threat kind names the event that shows it happened
            who = benign_off if not threat.agents else benign_off[benign_off["presenter"].isin(threat.agents)]
            out["overreach"][tid] = int(len(who))
            out["fired"][tid] = len(who) > 0
        elif threat.EVIDENCE == "outage":
            out["fired"][tid] = tid in outages
        else:
            out["fired"][tid] = tid in compromised
            out["attacks"][tid] = int(attacks.get(tid, 0))
    return out


def _needed_metrics(claims: list[Claim]) -> tuple[str, ...]:
    return tuple(sorted({c.metric for c in claims}))


# --------------------------------------------------------------------------- statistics


def _safe_mean(x: np.ndarray) -> float:
    if len(x) == 0:
        return math.nan
    with np.errstate(invalid="ignore"):
        return float(np.mean(x))


def _differences(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a − b, with equal values (infinite included) giving exactly 0 and tiny differences rounded to 0."""
    d = np.zeros(len(a))
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x == y or (math.isfinite(x) and math.isfinite(y) and abs(x - y) <= TOLERANCE * max(1.0, abs(x), abs(y))):
            d[i] = 0.0
        else:
            d[i] = x - y
    return d


def _rank_safe(d: np.ndarray) -> np.ndarray:
    """Infinite differences replaced by finite ones that keep every rank (Wilcoxon uses ranks only)."""
    finite = np.abs(d[np.isfinite(d)])
    big = 1.0 + 2.0 * (finite.max() if len(finite) else 1.0)
    return np.where(np.isinf(d), np.sign(d) * big, d)


def _wilcoxon(d: np.ndarray, alternative: str) -> float:
    if not np.any(d != 0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.wilcoxon(_rank_safe(d), alternative=alternative, zero_method="wilcox").pvalue)


def _holds(x: float, op: str, v: float) -> bool:
    return {"<": x < v, "<=": x <= v, ">": x > v, ">=": x >= v, "==": x == v}[op]


def smallest_p(pairs: int) -> float:
    """The smallest p a one-sided signed-rank test can give on ``pairs`` non-zero differences: 2^-pairs."""
    return 0.5 ** pairs


def seeds_needed(alpha: float) -> int:
    """The fewest paired seeds with which a strict claim (``A < B on M``) can hold at ``alpha``."""
    return max(1, math.floor(math.log2(1.0 / alpha)) + 1)


def paired_test(a: Sequence[float], b: Sequence[float], op: str, alpha: float = ALPHA) -> dict[str, Any]:
    """Test ``A op B`` on paired runs (see the module docstring)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    n = int(len(a))
    out = {"n": n, "mean": _safe_mean(a), "other_mean": _safe_mean(b), "diff_mean": math.nan,
           "p_value": math.nan, "holds": False, "test": "", "note": ""}
    if n == 0:
        out["note"] = "undefined (NaN) in every paired run, e.g. nothing was compromised"
        return out
    d = _differences(a, b)
    out["diff_mean"] = _safe_mean(d)
    differ = int(np.count_nonzero(d))
    if op == "==":
        out.update(test="exact", holds=differ == 0)
        out["note"] = "equal in every run" if differ == 0 else (
            f"differ in {differ}/{n} runs (largest |difference| {np.max(np.abs(d)):.4g})")
        return out
    less = op in ("<", "<=")
    claimed, opposite = ("less", "greater") if less else ("greater", "less")
    with_claim = int(np.count_nonzero(d < 0 if less else d > 0))
    sides = f"{with_claim}/{n} runs on the claimed side, {differ - with_claim} on the other, {n - differ} equal"
    if op in ("<", ">"):
        p = _wilcoxon(d, claimed)
        out.update(test="Wilcoxon signed-rank, one-sided", p_value=p, holds=p < alpha)
        out["note"] = "equal in every run: no evidence of a difference" if differ == 0 else sides
        if 0 < differ and smallest_p(differ) >= alpha:
            out["note"] += (f"; with {differ} non-zero pairs p cannot go below {smallest_p(differ):.4g}, "
                            f"so this claim cannot hold at alpha {alpha:g}: run more seeds")
        return out
    p_opp = _wilcoxon(d, opposite)
    mean_d = out["diff_mean"]
    right_side = math.isnan(mean_d) or (mean_d <= 0 if less else mean_d >= 0)
    out.update(test=f"non-inferiority: Wilcoxon of the opposite ({'>' if less else '<'}) claim", p_value=p_opp,
               holds=bool(right_side and p_opp >= alpha))
    out["note"] = "equal in every run" if differ == 0 else (
        f"mean difference on the wrong side; {sides}" if not right_side else
        (f"the opposite claim is significant; {sides}" if p_opp < alpha else sides))
    return out


def threshold_test(x: Sequence[float], op: str, value: float, alpha: float = ALPHA) -> dict[str, Any]:
    """Test ``S M op v`` on one strategy's runs (see the module docstring)."""
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    n = int(len(x))
    out = {"n": n, "mean": _safe_mean(x), "other_mean": math.nan, "diff_mean": math.nan, "p_value": math.nan,
           "holds": False, "test": "", "note": ""}
    if n == 0:
        out["note"] = "undefined (NaN) in every run, e.g. nothing was compromised"
        return out
    if op == "==":
        equal = sum(1 for v in x if v == value or (math.isfinite(v) and math.isfinite(value)
                                                   and abs(v - value) <= TOLERANCE * max(1.0, abs(value))))
        out.update(test="exact", holds=equal == n, note=f"equal in {equal}/{n} runs")
        return out
    k = sum(1 for v in x if _holds(v, op, value))
    p_sign = float(stats.binom.sf(k - 1, n, 0.5)) if k > 0 else 1.0
    mean = out["mean"]
    if np.all(np.isfinite(x)) and float(np.std(x)) > 0:
        alternative = "less" if op in ("<", "<=") else "greater"
        p_t = float(stats.ttest_1samp(x, value, alternative=alternative).pvalue)
    else:  # every run equal, or infinite values: the mean decides
        p_t = 0.0 if (not math.isnan(mean) and _holds(mean, op, value)) else 1.0
    p = min(1.0, 2.0 * min(p_t, p_sign))
    out.update(test="one-sided t-test or sign test (Bonferroni)", p_value=p, holds=p < alpha,
               note=f"{k}/{n} runs satisfy it")
    return out


# --------------------------------------------------------------------------- checks


def _row(scenario: Scenario, file: str, check: str, item: str, holds: bool, detail: str, **extra: Any
         ) -> dict[str, Any]:
    row = dict.fromkeys(COLUMNS)
    row.update(scenario=scenario.name, file=file, check=check, item=item, holds=bool(holds), detail=detail)
    row.update(extra)
    return row


def _evaluate(scenario: Scenario, file: str, runs: list[dict[str, Any]], alpha: float,
              claims: list[Claim]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    by_strategy: dict[str, list[dict[str, Any]]] = {s: [] for s in scenario.strategies}
    for run in runs:
        by_strategy[run["strategy"]].append(run)
    for runs_of in by_strategy.values():
        runs_of.sort(key=lambda r: r["replication"])
    ok_runs = [r for r in runs if r["error"] is None]

    for index, threat in enumerate(scenario.threats):
        tid = threat_id(threat, index)
        fired = sum(1 for r in ok_runs if r["fired"].get(tid))
        total = len(ok_runs)
        if threat.EVIDENCE == "overreach":
            attempts = [r["overreach"].get(tid, 0) for r in ok_runs]
            detail = (f"overreach attempts in {fired}/{total} runs "
                      f"(mean {np.mean(attempts) if attempts else 0:.1f} per run)")
            holds = total > 0 and fired == total
        elif threat.EVIDENCE == "outage":
            detail = f"issuer outage in {fired}/{total} runs"
            holds = total > 0 and fired == total
        else:
            requests = sum(r["attacks"].get(tid, 0) for r in ok_runs)
            detail = f"compromise in {fired}/{total} runs; {requests:,} attacker requests in all"
            holds = total > 0 and fired == total and requests > 0
            if fired == total and requests == 0:
                detail += " (the attacker never acted)"
        if fired < total:
            detail += " (does not happen in every run: check its time against run.horizon)"
        rows.append(_row(scenario, file, "threat", f"{tid} ({threat.kind})", holds, detail, n=total))

    for name, runs_of in by_strategy.items():
        errors = [r["error"] for r in runs_of if r["error"]]
        evaluated = [r["requests"] for r in runs_of if r["error"] is None]
        if errors:
            holds, detail = False, f"{len(errors)}/{len(runs_of)} runs raised: {errors[0]}"
        elif not runs_of:
            holds, detail = False, "never ran"
        else:
            idle = sum(1 for e in evaluated if e == 0)
            holds = idle == 0
            detail = (f"{len(runs_of)} runs, mean {np.mean(evaluated):,.0f} policy decisions per run"
                      + (f"; {idle} runs made none" if idle else ""))
        rows.append(_row(scenario, file, "strategy", name, holds, detail, strategy=name, n=len(runs_of)))

    def series(strategy: str, metric: str) -> list[float]:
        return [r["metrics"].get(metric, math.nan) if r["error"] is None else math.nan
                for r in by_strategy.get(strategy, [])]

    for claim in claims:

        if claim.kind == "comparison":
            left, right = claim.strategies[0], claim.other
            result = paired_test(series(left, claim.metric), series(right, claim.metric), claim.op, alpha)
            rows.append(_row(scenario, file, "expectation", claim.text, result["holds"], result["note"],
                             strategy=left, other=right, test=result["test"], metric=claim.metric, op=claim.op,
                             mean=result["mean"], other_mean=result["other_mean"], diff_mean=result["diff_mean"],
                             p_value=result["p_value"], n=result["n"]))
        else:
            for strategy in claim.strategies:
                result = threshold_test(series(strategy, claim.metric), claim.op, claim.value, alpha)
                rows.append(_row(scenario, file, "expectation", claim.text, result["holds"], result["note"],
                                 strategy=strategy, test=result["test"], metric=claim.metric, op=claim.op,
                                 value=claim.value, mean=result["mean"], p_value=result["p_value"],
                                 n=result["n"]))
    return rows


def default_files(directory: str | os.PathLike | None = None) -> list[Path]:
    """The scenario files of a folder (default: the bundled pack, :mod:`nhisim.pack`), sorted by name."""
    from nhisim.pack import pack_folder

    folder = pack_folder() if directory is None else Path(directory)
    if not folder.is_dir():
        raise InputError.single("no such folder", file=str(folder), location="--scenarios",
                                suggestion="give a folder of *.yaml scenario files, or name the files")
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise InputError.single("no *.yaml scenario files in this folder", file=str(folder))
    return files


def check(scenarios: Sequence[Scenario | str | os.PathLike] | None = None, seeds: int = DEFAULT_SEEDS,
          alpha: float = ALPHA, jobs: int | None = 1,
          progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Self-check scenarios (files or models; default every file of the bundled pack).

    Returns a tidy DataFrame, one row per check (columns :data:`COLUMNS`): ``check`` is
    ``threat``, ``strategy`` or ``expectation``; ``holds`` says whether it passed;
    ``detail`` says why in words. ``jobs`` > 1 runs in that many processes (None: one
    per core); the verdicts do not depend on it.
    """
    if seeds < 1:
        raise InputError.single("seeds must be at least 1", location="--seeds")
    if not 0 < alpha < 1:
        raise InputError.single("alpha must be between 0 and 1", location="--alpha")
    items = list(scenarios) if scenarios is not None else list(default_files())
    models: list[Scenario] = []
    files: list[str] = []
    for item in items:
        if isinstance(item, Scenario):
            models.append(item)
            files.append("")
        else:
            models.append(load_scenario(item))
            files.append(shown(item))
    claims = [[parse_claim(text, m.strategies) for text in m.expectations] for m in models]
    if seeds < seeds_needed(alpha):  # a strict comparison could never pass: say so rather than fail it
        strict = [(m, c) for m, cs in zip(models, claims, strict=True) for c in cs
                  if c.kind == "comparison" and c.op in ("<", ">")]
        if strict:
            model, claim = strict[0]
            raise InputError.single(
                f"with {seeds} paired seeds the claim {claim.text!r} can never hold at alpha {alpha:g}: the "
                f"one-sided signed-rank test cannot give p below {smallest_p(seeds):.4g}",
                location=f"{model.name}: expectations", suggestion=f"use --seeds {seeds_needed(alpha)} or more "
                f"(or a larger --alpha); {len(strict)} strict claim(s) are affected")
    needs = [_needed_metrics(c) for c in claims]
    jobs_list = [_Job(i, name, r, replication_seed(m.run.seed, r))
                 for i, m in enumerate(models) for r in range(seeds) for name in m.strategies]
    total = len(jobs_list)
    results: list[dict[str, Any]] = []
    workers = (os.cpu_count() or 1) if jobs is None else max(1, int(jobs))
    workers = min(workers, total) if total else 1
    started = time.perf_counter()
    if workers <= 1:
        _init_worker(models, needs)
        for job in jobs_list:
            results.append(_run_job(job))
            if progress:
                progress(len(results), total)
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_pool_worker,
                                 initargs=(models, needs)) as pool:
            with interrupt.blocked():  # the workers start at the first submit
                answers = pool.map(_run_job, jobs_list, chunksize=max(1, total // (workers * 8)))
            for result in answers:
                results.append(result)
                if progress:
                    progress(len(results), total)
    for job, result in zip(jobs_list, results, strict=True):
        result["index"] = job.index
        result["replication"] = job.replication
    rows: list[dict[str, Any]] = []
    for i, model in enumerate(models):
        mine = [r for r in results if r["index"] == i]
        rows.extend(_evaluate(model, files[i], mine, alpha, claims[i]))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame.attrs.update(seeds=seeds, alpha=alpha, runs=total, seconds=time.perf_counter() - started)
    return frame


def failures(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a check result that did not hold."""
    return frame[~frame["holds"].astype(bool)]
