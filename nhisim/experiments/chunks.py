"""The unit of work of every executor: a chunk of runs, and how runs are cut into chunks.

:func:`run_chunk` runs a batch of runs of one scenario (a :class:`ChunkJob` of
:class:`RunSpec`); every executor runs exactly it, so results do not depend on which one
ran them. Runs are batched so the cost of shipping work stays small next to the work
itself; a chunk carries the scenario once and each worker validates it once per chunk.
:func:`chunk_sizes` guides the sizes: steady chunks, then smaller ones so the workers
finish together.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from nhisim.errors import InputError

#: test-only hook: "strategy/replication,..." (or "point/strategy/replication") runs that
#: raise; "exit:strategy/replication" kills the worker process that runs it (never this one)
FAIL_RUNS_ENV = "NHISIM_FAIL_RUNS"
MAX_ERROR_CHARS = 2000


def chunk_size_for(n_runs: int, workers: int, per_worker: int = 8, largest: int = 32) -> int:
    """Runs per chunk: about ``per_worker`` chunks per worker (load balance, fine resume), at most ``largest``."""
    if n_runs <= 0:
        return 1
    return max(1, min(largest, math.ceil(n_runs / (max(1, workers) * per_worker))))


def chunk_sizes(n_runs: int, workers: int, per_worker: int = 8, largest: int = 32) -> list[int]:
    """Guided chunk sizes adding up to ``n_runs``: steady chunks first, then smaller ones.

    The steady size is :func:`chunk_size_for`'s. Once fewer runs remain than two steady
    chunks per worker, each chunk takes the remaining runs ÷ (2 × workers), but at least an
    eighth of the steady size: the workers finish together, since the last chunks are
    small, without many more chunks (each costs the executor a round trip).
    """
    steady = chunk_size_for(n_runs, workers, per_worker, largest)
    smallest = max(1, steady // 8)
    sizes: list[int] = []
    remaining = max(0, int(n_runs))
    while remaining:
        size = min(steady, max(smallest, math.ceil(remaining / (2 * max(1, workers)))), remaining)
        sizes.append(size)
        remaining -= size
    return sizes


def chunked(items: Sequence[Any], size: int | Sequence[int]) -> list[list[Any]]:
    """Consecutive slices: of at most ``size`` items, or of the given sizes in turn."""
    if isinstance(size, int):
        size = max(1, int(size))
        return [list(items[i:i + size]) for i in range(0, len(items), size)]
    slices, start = [], 0
    for n in size:
        slices.append(list(items[start:start + n]))
        start += n
    if start < len(items):
        raise ValueError(f"chunk sizes add up to {start}, short of {len(items)} items")
    return slices


# --------------------------------------------------------------------------- the unit of work


@dataclass(frozen=True)
class RunSpec:
    """One run: a parameter point (0 when there is none) × a strategy × a replication's seed."""

    point: int
    strategy: str
    seed: int
    replication: int

    @property
    def key(self) -> tuple[int, str, int]:
        return (self.point, self.strategy, self.replication)


@dataclass
class SharedScenario:
    """What every chunk of one experiment shares: the scenario and how to run it.

    ``data`` is the effective scenario as JSON-able data (what a sweep sends, so any worker
    on any machine can rebuild it); ``model`` a validated scenario object (what a comparison
    sends, so its runs are exactly those of the serial API). One of the two is set.
    """

    data: dict | None = None
    model: Any = None
    engine: str | None = None
    keep_events: bool | frozenset[int] = False  # every run's event log, none, or those of these replications
    event_rows: str = "all"  # what a kept log holds: every row, or its story (nhisim.metrics.story)
    # a folder (of this machine) where each kept log is written as its run goes (a LogFile is handed
    # back, not the log): a large estate's log then never crosses between processes
    log_folder: str | None = None
    capture_errors: bool = True
    # strategies given as objects rather than named in the scenario (what a migration plan compares)
    strategies: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChunkJob:
    """A batch of runs, and the overrides of each parameter point they touch."""

    specs: list[RunSpec]
    overrides: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass
class RunOutcome:
    """What one run gave: its metrics and (if kept) its event log, or the error it raised."""

    spec: RunSpec
    scenario: str
    metrics: dict[str, float] | None
    events: pd.DataFrame | Any | None = None  # the log, or the LogFile it was written to (log_folder)
    error: str | None = None


def _describe(exc: BaseException) -> str:
    text = exc.render() if isinstance(exc, InputError) else str(exc)
    text = " | ".join(line.strip() for line in text.splitlines() if line.strip())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def _failing_runs() -> set[str]:
    raw = os.environ.get(FAIL_RUNS_ENV, "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def run_chunk(shared: SharedScenario, job: ChunkJob) -> list[RunOutcome]:
    """Run a batch of runs; every executor runs exactly this.

    The base scenario is validated once per chunk and each parameter point's scenario
    once per chunk. With ``capture_errors`` a run that raises becomes an outcome with its
    error and no metrics, and the batch goes on; without it the error propagates.
    """
    from nhisim.experiments.run import simulate
    from nhisim.scenario.loader import apply_overrides, validate_data

    failing = _failing_runs()
    scenarios: dict[int, Any] = {}
    base: Any = shared.model
    outcomes: list[RunOutcome] = []
    for spec in job.specs:
        name = ""
        try:
            model = scenarios.get(spec.point)
            if model is None:
                overrides = job.overrides.get(spec.point)
                if overrides:
                    if shared.data is not None:
                        data = apply_overrides(shared.data, overrides, source="parameters")
                    else:
                        data = apply_overrides(base.model_dump(mode="json", exclude_unset=True), overrides,
                                               source="parameters")
                    model = validate_data(data, file=f"<point {spec.point}>")
                else:
                    if base is None:
                        base = validate_data(shared.data, file="<scenario>")
                    model = base
                scenarios[spec.point] = model
            name = model.name
            if failing:
                ids = (f"{spec.strategy}/{spec.replication}", f"{spec.point}/{spec.strategy}/{spec.replication}")
                if multiprocessing.parent_process() is not None and any(f"exit:{i}" in failing for i in ids):
                    os._exit(1)
                if any(i in failing for i in ids):
                    raise RuntimeError(f"injected failure ({FAIL_RUNS_ENV})")
            keep = shared.keep_events
            keeps = keep if isinstance(keep, bool) else spec.replication in keep
            strategy = shared.strategies.get(spec.strategy, spec.strategy)
            if keeps and shared.log_folder is not None:
                result = _simulate_to_file(shared, model, strategy, spec)
            else:
                result = simulate(model, strategy, spec.seed, spec.replication, keep_events=keeps, name=spec.strategy,
                                  engine=shared.engine, event_rows=shared.event_rows)
            outcomes.append(RunOutcome(spec, result.scenario, result.metrics, result.events))
        except Exception as exc:
            if not shared.capture_errors:
                raise
            outcomes.append(RunOutcome(spec, name, None, None, _describe(exc)))
    return outcomes


def _simulate_to_file(shared: SharedScenario, model: Any, strategy: Any, spec: RunSpec) -> Any:
    """Run ``spec`` writing its log to a new file of ``shared.log_folder`` as it goes; its result's
    ``events`` is the :class:`~nhisim.experiments.logfiles.LogFile` (a file half written, the run
    failing, is removed)."""
    import uuid

    from nhisim.experiments.logfiles import LogFile, LogParquet, events_schema
    from nhisim.experiments.run import simulate
    from nhisim.files import naming

    path = os.path.join(shared.log_folder, f"run-{uuid.uuid4().hex}.parquet")
    try:
        with open(path, "wb") as fh, LogParquet(fh, events_schema(), {
                "strategy": spec.strategy, "replication": spec.replication, "scenario": model.name}) as log:
            result = simulate(model, strategy, spec.seed, spec.replication, keep_events=False, name=spec.strategy,
                              engine=shared.engine, events_to=log.add)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(path)
        if isinstance(exc, OSError) and exc.filename is None:  # written through a file object: name the file
            raise naming(exc, path) from None
        raise
    result.events = LogFile(path, log.rows)
    return result


__all__ = ["FAIL_RUNS_ENV", "ChunkJob", "RunOutcome", "RunSpec", "SharedScenario", "chunk_size_for", "chunk_sizes",
           "chunked", "run_chunk"]
