"""One run: a scenario × a strategy × a seed → metrics and the event log."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nhisim.metrics import METRIC_COLUMNS, LogDigest, compute_metrics, with_metric_types
from nhisim.metrics.story import EVENT_ROWS, STORY, keep_story, story_frame
from nhisim.scenario import workload
from nhisim.scenario.loader import load_scenario, with_overrides
from nhisim.scenario.models import Scenario
from nhisim.scenario.strategy import resolve_strategy, scenario_strategy
from nhisim.sim.engine import Simulation
from nhisim.sim.eventlog import InTimeOrder
from nhisim.sim.rng import stream_seed
from nhisim.strategies import Strategy

ID_COLUMNS = ("scenario", "strategy", "seed", "replication")
LogPieces = Callable[[dict[str, np.ndarray], dict[str, Any]], None]  # (a piece of a log by column, the run's ids)


def as_scenario(scenario: Scenario | str | os.PathLike, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """A Scenario from a model or a file path, with overrides applied."""
    if isinstance(scenario, Scenario):
        return with_overrides(scenario, overrides) if overrides else scenario
    return load_scenario(scenario, overrides=overrides)


def replication_seed(seed: int, replication: int) -> int:
    """The seed of replication ``r`` of a comparison seeded ``seed`` (same for every strategy)."""
    return stream_seed(seed, "replication", str(replication)) % (2**31 - 1)


@dataclass
class RunResult:
    """The outcome of one run."""

    scenario: str
    strategy: str
    seed: int
    replication: int
    metrics: dict[str, float]
    events: pd.DataFrame | None

    @property
    def row(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "strategy": self.strategy, "seed": self.seed,
                "replication": self.replication, **self.metrics}

    @property
    def runs(self) -> pd.DataFrame:
        """One row: the ids and the metric columns (:data:`~nhisim.metrics.METRIC_COLUMNS`)."""
        return with_metric_types(pd.DataFrame([self.row], columns=[*ID_COLUMNS, *METRIC_COLUMNS]))


def simulate(scenario: Scenario, strategy: str | Strategy, seed: int, replication: int = 0,
             keep_events: bool = True, name: str | None = None, engine: str | None = None,
             progress: Callable[[float, float], None] | None = None,
             events_to: LogPieces | None = None, event_rows: str = "all") -> RunResult:
    """Run the engine once and compute the metrics (the unit of work every executor runs).

    The metrics are gathered as the log is written (a :class:`~nhisim.metrics.LogDigest`
    reads each chunk as it is flushed); without ``keep_events`` the log keeps no rows, so
    a run's memory does not grow with its log. ``progress(now, horizon)`` is told the
    simulated time as it passes each hundredth of the horizon (the results are the same).
    ``events_to(columns, meta)``, if given, receives the log as the run writes it, in pieces
    sorted by time whose concatenation is the ``events`` frame: ``columns`` maps each column
    to a NumPy array (as :meth:`~nhisim.sim.eventlog.EventLog.columns` gives them;
    ``pandas.DataFrame(columns)`` is the piece as a frame), ``meta`` holds the run's ids (the
    frame's ``attrs``). With ``keep_events=False`` too, a large run goes to a file without
    being held. ``event_rows="story"`` keeps only the rows that tell the attack and its
    effects (:mod:`nhisim.metrics.story`: what a report draws), and holds no more while the
    run goes; the metrics are those of the whole log.
    """
    if event_rows not in EVENT_ROWS:
        raise ValueError(f"event_rows is one of {', '.join(EVENT_ROWS)}, not {event_rows!r}")
    sim = Simulation(scenario, strategy, seed=seed, engine=engine)
    digest = LogDigest()
    sim.log.stream_to(digest.add, keep=keep_events)
    if keep_events and event_rows == STORY:
        keep_story(sim.log)
    ordered = None
    if events_to is not None:
        meta = sim.log.meta
        ordered = InTimeOrder(lambda columns: events_to(columns, meta), sim.horizon)
        sim.log.stream_to(ordered.add, keep=keep_events)
    log = sim.run(progress)
    log.flush()
    if ordered is not None:
        ordered.finish()
    metrics = compute_metrics(digest)
    events = None
    if keep_events:
        events = story_frame(log, metrics) if event_rows == STORY else log.to_frame()
    return RunResult(scenario.name, name or sim.strategy.name, seed, replication, metrics, events)


def run(scenario: Scenario | str | os.PathLike, strategy: str | Strategy = "rbac", seed: int | None = None,
        overrides: Mapping[str, Any] | None = None, engine: str | None = None,
        progress: Callable[[float, float], None] | None = None,
        events_to: LogPieces | None = None, keep_events: bool = True) -> RunResult:
    """Run one scenario under one strategy with one seed.

    ``strategy`` is a name from the scenario's ``strategies`` (or a preset), or a
    :class:`~nhisim.strategies.Strategy`. Same inputs and seed, same event log.
    ``progress(now, horizon)``, if given, is told the simulated time as the run goes.
    ``events_to(columns, meta)``, if given, receives the event log as it is written, in
    pieces sorted by time (see :func:`simulate`); the result then holds no ``events`` (a
    large estate's day is millions of rows: written this way, the run's memory does not grow
    with them). ``keep_events=False`` keeps none either, for a run whose metrics are all
    that is wanted.
    """
    model = as_scenario(scenario, overrides)
    if not isinstance(scenario, Scenario):  # refused here, where the message can name the file
        resolved = (scenario_strategy(model, strategy) if isinstance(strategy, str)
                    else resolve_strategy(strategy, scenario=model))
        workload.check_run(model, resolved, file=str(scenario))
    return simulate(model, strategy, model.run.seed if seed is None else seed, engine=engine, progress=progress,
                    keep_events=keep_events and events_to is None, events_to=events_to)
