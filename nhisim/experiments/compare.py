"""Compare strategies on one scenario with common random numbers.

Replication ``r`` runs every strategy with the same seed, so every strategy sees the
same task arrivals, service times, attack times and detection draws: differences are
paired. :meth:`Comparison.summary` gives each metric's mean with a 95% confidence
interval (Student t over replications) and the paired difference against a baseline
strategy with its own interval.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from nhisim import interrupt, vocabulary
from nhisim.errors import InputError, did_you_mean
from nhisim.experiments.effects import comparison_notes
from nhisim.experiments.executors import (
    Executor,
    RunSpec,
    SharedScenario,
    interrupted_as,
    run_specs,
    using_executor,
)
from nhisim.experiments.logfiles import LogFile
from nhisim.experiments.progress import Progress, reporting
from nhisim.experiments.run import ID_COLUMNS, RunResult, as_scenario, replication_seed
from nhisim.metrics import METRIC_COLUMNS, with_metric_types
from nhisim.metrics.readable import ReadableFrame
from nhisim.metrics.story import check_event_rows
from nhisim.scenario import workload
from nhisim.scenario.models import Scenario
from nhisim.scenario.strategy import scenario_strategy
from nhisim.strategies import Strategy


def mean_ci(values: Sequence[float], level: float = 0.95, floor: float = -math.inf, ceiling: float = math.inf
            ) -> tuple[float, float, float, int]:
    """Mean and a Student-t confidence interval (not below ``floor``).

    NaNs and ``<NA>`` (runs where the metric has no meaning) are ignored; an infinite value
    makes the mean infinite.
    """
    x = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    if not np.all(np.isfinite(x)):
        m = float(np.mean(x)) if not (np.any(x == np.inf) and np.any(x == -np.inf)) else math.nan
        return m, m, m, n
    m = float(x.mean())
    if n < 2:
        return m, math.nan, math.nan, n
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return m, max(m - half, floor), min(m + half, ceiling), n


def paired_difference(own: pd.Series, base: pd.Series) -> np.ndarray:
    """``own - base`` replication by replication (both indexed by replication, in ``base``'s order), as
    floats; NaN where either has no value, or both are infinite alike."""
    with np.errstate(invalid="ignore"):
        return (own.astype(float).reindex(base.index) - base.astype(float)).to_numpy()


@dataclass
class Comparison:
    """Runs of several strategies on one scenario, paired by replication."""

    scenario: Scenario
    strategies: list[str]
    baseline: str
    seed: int
    replications: int
    runs: pd.DataFrame
    run_events: dict[tuple[str, int], pd.DataFrame] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)  # what the comparison decided for the user, in words

    @property
    def events(self) -> pd.DataFrame:
        """Every run's event log, with ``strategy`` and ``replication`` columns."""
        frames = []
        for (strategy, replication), frame in self.run_events.items():
            frames.append(frame.assign(strategy=strategy, replication=replication))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def summary(self, metrics: Sequence[str] | None = None, level: float = 0.95) -> ReadableFrame:
        """Tidy table: one row per (strategy, metric) with mean, CI, and paired difference vs baseline.

        The values are numbers (seconds, shares, counts); printed, they read in their units
        (``15.0 min``, ``45%``, ``26.1 M``): :class:`~nhisim.metrics.readable.ReadableFrame`.
        """
        metrics = list(metrics or METRIC_COLUMNS)
        rows = []
        base = self.runs[self.runs["strategy"] == self.baseline].set_index("replication")
        for strategy in self.strategies:
            own = self.runs[self.runs["strategy"] == strategy].set_index("replication")
            for metric in metrics:
                mean, lo, hi, n = mean_ci(own[metric].tolist(), level, floor=0.0,
                                          ceiling=1.0 if vocabulary.kind(metric) == "share" else math.inf)
                diffs = paired_difference(own[metric], base[metric])
                with np.errstate(invalid="ignore"):
                    d_mean, d_lo, d_hi, _ = mean_ci(diffs, level)
                rows.append({"strategy": strategy, "metric": metric, "mean": mean, "ci_low": lo, "ci_high": hi,
                             "n": n, "baseline": self.baseline, "diff": d_mean, "diff_ci_low": d_lo,
                             "diff_ci_high": d_hi, "better": _better(metric, d_lo, d_hi)})
        return ReadableFrame(pd.DataFrame(rows, columns=SUMMARY_COLUMNS), per_row=SUMMARY_VALUES)

    def paired(self, strategy: str, metric: str) -> np.ndarray:
        """Per replication of the baseline: ``strategy``'s ``metric`` minus the baseline's (the paired
        difference; NaN where either run has no value)."""
        runs = self.runs.set_index("replication")
        return paired_difference(runs.loc[runs["strategy"] == strategy, metric],
                                 runs.loc[runs["strategy"] == self.baseline, metric])

    def table(self, metrics: Sequence[str] | None = None) -> ReadableFrame:
        """Wide table of means: one row per strategy, one column per metric (numbers that print in units)."""
        s = pd.DataFrame(self.summary(metrics))
        wide = s.pivot(index="strategy", columns="metric", values="mean").reindex(self.strategies)[
            list(metrics or METRIC_COLUMNS)]
        wide.columns.name = None
        return ReadableFrame(wide)


SUMMARY_COLUMNS = ("strategy", "metric", "mean", "ci_low", "ci_high", "n", "baseline", "diff", "diff_ci_low",
                   "diff_ci_high", "better")
SUMMARY_VALUES = ("mean", "ci_low", "ci_high", "diff", "diff_ci_low", "diff_ci_high")  # read in the metric's unit


def _better(metric: str, lo: float, hi: float) -> str:
    """Whether the paired difference vs baseline is significantly better, worse, or neither."""
    direction = vocabulary.direction(metric)
    if direction == "neutral" or any(isinstance(v, float) and math.isnan(v) for v in (lo, hi)):
        return ""
    if lo > 0 or hi < 0:
        good = (hi < 0) if direction == "lower" else (lo > 0)
        return "better" if good else "worse"
    return "same"


def resolve_names(scenario: Scenario, strategies: Sequence[str | Strategy] | None) -> list[str]:
    """Strategy names to run: those asked for (checked; a Strategy object stands for itself), else every
    strategy the scenario declares."""
    from nhisim.strategies import presets

    known = list(scenario.strategies) + [p for p in presets() if p not in scenario.strategies]
    known += [s.name for s in strategies or () if isinstance(s, Strategy)]
    names = [s.name if isinstance(s, Strategy) else s for s in strategies] if strategies else list(scenario.strategies)
    if len(set(names)) < len(names):
        raise InputError.single("a strategy is given twice", location="--strategies",
                                suggestion="give each strategy once")
    for name in names:
        if name not in known:
            raise InputError.single(f"unknown strategy {name!r}", location="--strategies",
                                    suggestion=did_you_mean(name, known, "strategies"))
    return names


BYTES_PER_EVENT = 1000  # a kept log as a frame: about 450 bytes a row, one to two rows per event estimated


def physical_memory() -> int | None:
    """This machine's memory in bytes (None where it cannot be told)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_kept_logs(events: float, *, file: str = "") -> None:
    """Refuse (unless forced) a comparison whose kept event logs, ``events`` estimated in all, would
    take more than half of this machine's memory: it would be killed, or swap, long after it began."""
    memory = physical_memory()
    held = events * BYTES_PER_EVENT
    if memory is None or held <= memory / 2 or workload.forced():
        return
    raise InputError.single(
        f"keeping these runs' event logs would hold about {held / 2**30:,.1f} GiB, more than half of this "
        f"machine's {memory / 2**30:,.1f} GiB",
        file=file, location="keep_events",
        suggestion="keep_events=False for the metrics alone, keep_events={0} for one replication's logs, "
                   "event_rows='story' for what a report tells, or events_to=f to take each log as its run "
                   f"finishes; {workload.FORCE_ENV}=1 runs it anyway", title="too much to hold")


def compare(scenario: Scenario | str | os.PathLike, strategies: Sequence[str | Strategy] | None = None,
            replications: int | None = None, seed: int | None = None, baseline: str | None = None,
            overrides: Mapping[str, Any] | None = None, keep_events: bool | Collection[int] = True,
            progress: Progress = "auto", engine: str | None = None,
            executor: str | Executor | None = "serial", workers: int | None = None,
            scheduler: str | None = None,
            events_to: Callable[[str, int, pd.DataFrame | LogFile], None] | None = None,
            event_rows: str = "all", log_folder: str | os.PathLike | None = None) -> Comparison:
    """Run every strategy ``replications`` times with paired seeds and return a :class:`Comparison`.

    ``strategies`` are names of the scenario's strategies or presets, or
    :class:`~nhisim.strategies.Strategy` objects (run under their own names).

    ``executor`` (``serial``, ``processes``, ``dask`` or an
    :class:`~nhisim.experiments.executors.Executor`) says where the runs execute; the
    results are identical whichever runs them. ``progress`` is ``"auto"`` (a bar in a
    Jupyter notebook, nothing elsewhere), ``True`` (a tqdm bar anywhere), ``False``, or a
    function ``progress(done, total)`` (see :mod:`nhisim.experiments.progress`).
    ``keep_events`` keeps every run's event log (True), none (False: the metrics are the
    same), or those of the replications it lists (what a report draws: ``{0}``). With
    ``events_to``, each kept log is handed to ``events_to(strategy, replication, frame)`` as
    its run finishes and is not held by the comparison (a large estate's logs, written as
    they come, would not fit in memory together). With ``log_folder`` too (a folder of this
    machine), each kept log is written there by the worker running it, as the run goes, and
    ``events_to`` receives a :class:`~nhisim.experiments.logfiles.LogFile` naming the file,
    which it then owns: no log is held or sent between processes whole (the serial and process
    executors). ``event_rows="story"`` keeps of each log
    only the rows that tell the attack and its effects (:mod:`nhisim.metrics.story`), all
    that a report draws: a large estate's report then holds no routine work.
    """
    model = as_scenario(scenario, overrides)
    names = resolve_names(model, strategies)
    replications = model.run.replications if replications is None else int(replications)
    if replications < 1:
        raise InputError.single("replications must be at least 1", location="--replications")
    seed = model.run.seed if seed is None else int(seed)
    notes = []
    if baseline is None and model.run.baseline and model.run.baseline not in names:
        # the scenario's own baseline was left out of --strategies: compare against the first one asked for
        notes.append(f"the scenario's baseline {model.run.baseline!r} is not among the compared strategies; "
                     f"differences are against {names[0]!r}")
        baseline = names[0]
    baseline = baseline or model.run.baseline or names[0]
    if baseline not in names:
        raise InputError.single(f"baseline {baseline!r} is not among the compared strategies",
                                location="--baseline", suggestion=did_you_mean(baseline, names, "strategies"))
    check_event_rows(event_rows)
    if log_folder is not None and (events_to is None or event_rows != "all"):
        raise InputError.single("log_folder writes whole logs for events_to to take", location="log_folder",
                                suggestion="give events_to too, and keep event_rows='all'")
    if log_folder is not None and (scheduler is not None or getattr(executor, "scheduler", None)):
        raise InputError.single("log_folder is a folder of this machine; a Dask scheduler's workers may run elsewhere",
                                location="log_folder", suggestion="leave log_folder out: the logs then come back "
                                                                  "from the workers whole")
    # refused before the run list is built: a billion replications must not fill memory first
    objects = {s.name: s for s in strategies or () if isinstance(s, Strategy)}
    file = "" if isinstance(scenario, Scenario) else str(scenario)
    total = workload.check_job(model, [objects.get(n) or scenario_strategy(model, n) for n in names], replications,
                               file=file)
    if events_to is None and event_rows == "all":
        kept_share = (1.0 if keep_events else 0.0) if isinstance(keep_events, bool) else \
            len({int(r) for r in keep_events} & set(range(replications))) / replications
        check_kept_logs(total * kept_share, file=file)
    specs = [RunSpec(0, name, replication_seed(seed, r), r) for r in range(replications) for name in names]
    kept = keep_events if isinstance(keep_events, bool) else frozenset(int(r) for r in keep_events)
    shared = SharedScenario(model=model, engine=engine, keep_events=kept, event_rows=event_rows,
                            capture_errors=False, strategies=objects,
                            log_folder=None if log_folder is None else os.fspath(log_folder))
    done = [0]

    def stopped() -> interrupt.Interrupted:
        return interrupt.Interrupted(f"nothing was saved ({done[0]} of {len(specs)} runs had finished; a "
                                     "comparison is saved only when all its runs are done)")

    with (reporting(progress, f"compare {model.name}") as report, interrupted_as(stopped),
          using_executor(executor, workers, scheduler) as ex):

        position = {(spec.strategy, spec.replication): i for i, spec in enumerate(specs)}
        early: dict[int, Any] = {}  # runs done before one listed ahead of them
        handed = [0]  # the runs whose logs went to events_to, in the order of specs

        def tick(outcomes: list) -> None:
            done[0] += len(outcomes)
            if events_to is not None:  # in the order of the runs, whichever finished first
                early.update((position[(o.spec.strategy, o.spec.replication)], o) for o in outcomes)
                while handed[0] in early:
                    outcome = early.pop(handed[0])
                    handed[0] += 1
                    if outcome.events is not None:
                        events_to(outcome.spec.strategy, outcome.spec.replication, outcome.events)
                        outcome.events = None
            if report:
                report(done[0], len(specs))

        # serially, progress after every run; logs handed on as they come travel one run at a time
        size = 1 if ex.name == "serial" or events_to is not None else None
        outcomes = run_specs(ex, shared, specs, None, size, tick)
    results = [RunResult(o.scenario, o.spec.strategy, o.spec.seed, o.spec.replication, o.metrics or {}, o.events)
               for o in outcomes]
    runs = with_metric_types(pd.DataFrame([res.row for res in results], columns=[*ID_COLUMNS, *METRIC_COLUMNS]))
    events = {(res.strategy, res.replication): res.events for res in results if res.events is not None}
    notes.extend(comparison_notes(runs, model, names, objects))  # strategies that gave the same runs, and why
    return Comparison(model, names, baseline, seed, replications, runs, events, notes)
