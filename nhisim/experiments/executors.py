"""Executors: where the runs of a comparison or a sweep execute.

Three executors run the same unit of work, :func:`run_chunk` (a batch of runs of one
scenario), and give identical results, because every run is deterministic given its
scenario, strategy and seed:

- ``serial``: in this process, one chunk after another;
- ``processes``: a local process pool, one worker per core (forked on Linux, so workers
  start in milliseconds with every module already imported);
- ``dask``: Dask distributed, on a LocalCluster, or on a real cluster through a
  scheduler address (``pip install 'nhisim[dask]'``): a runner (a Dask actor) on each
  worker, to which the driver deals chunks as the pool does.

Runs are batched into chunks so that the cost of shipping work stays small next to the
work itself; a chunk carries the scenario once (as its JSON data, or the validated model)
and each worker validates it once per chunk, not once per run. Chunk sizes are guided
(:func:`chunk_sizes`): steady chunks, then smaller ones so the workers finish together;
an executor whose round trip costs more (Dask) gets fewer, larger chunks. At most a few
chunks per worker are in flight at a time (one each near the end), so memory stays flat,
no worker idles while another has work queued, and an interrupt loses little.

The pieces live in their own modules, and every public name is importable from here:
:mod:`~nhisim.experiments.chunks` (the unit of work, chunk sizes),
:mod:`~nhisim.experiments.local_executors` (the interface, serial, processes) and
:mod:`~nhisim.experiments.dask_executor`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from nhisim import interrupt
from nhisim.errors import InputError, did_you_mean
from nhisim.experiments.chunks import (
    FAIL_RUNS_ENV,
    MAX_ERROR_CHARS,
    ChunkJob,
    RunOutcome,
    RunSpec,
    SharedScenario,
    chunk_size_for,
    chunk_sizes,
    chunked,
    run_chunk,
)
from nhisim.experiments.dask_executor import (
    LOCAL_CLUSTER_CONFIG,
    WAIT_FOR_WORKERS_S,
    ChunkFailed,
    ChunkRunner,
    DaskExecutor,
)
from nhisim.experiments.local_executors import (
    Executor,
    ExecutorError,
    ProcessExecutor,
    SerialExecutor,
    default_workers,
)

EXECUTORS = ("serial", "processes", "dask")


def make_executor(kind: str | Executor | None = "serial", workers: int | None = None,
                  scheduler: str | None = None) -> Executor:
    """An executor by name: ``serial``, ``processes`` or ``dask`` (or the instance given)."""
    if isinstance(kind, Executor):
        return kind
    kind = (kind or "serial").strip().lower()
    if workers is not None and int(workers) < 1:
        raise InputError.single(f"workers must be at least 1, got {workers}", location="--workers")
    if scheduler and kind != "dask":
        raise InputError.single("--scheduler is for the dask executor", location="--scheduler",
                                suggestion="add --executor dask")
    if kind == "serial":
        return SerialExecutor()
    if kind == "processes":
        return ProcessExecutor(workers)
    if kind == "dask":
        return DaskExecutor(workers, scheduler)
    raise InputError.single(f"unknown executor {kind!r}", location="--executor",
                            suggestion=did_you_mean(kind, EXECUTORS, "executors"))


@contextlib.contextmanager
def using_executor(kind: str | Executor | None, workers: int | None = None, scheduler: str | None = None,
                   owned: bool | None = None) -> Iterator[Executor]:
    """An executor for one experiment: started, then closed (or stopped at once on an error or Ctrl-C).

    An instance passed in belongs to the caller (unless ``owned``): it is started but not
    closed, and on an error only its queued work is dropped.
    """
    if owned is None:
        owned = not isinstance(kind, Executor)
    executor = make_executor(kind, workers, scheduler)
    try:
        executor.start()
        yield executor
    except BaseException:
        if owned:
            executor.terminate()
        else:
            executor.cancel()
        raise
    if owned:
        executor.close()


@contextlib.contextmanager
def interrupted_as(interrupted: Callable[[], interrupt.Interrupted]) -> Iterator[None]:
    """Ctrl-C or SIGTERM in the block raises ``interrupted()``, which says what was kept.

    A worker killed by the same SIGTERM (sent to the process group) is the interruption,
    not a failure of the executor.
    """
    try:
        yield
    except KeyboardInterrupt:
        raise interrupted() from None
    except ExecutorError:
        if interrupt.received():
            raise interrupted() from None
        raise


def plan_chunks(specs: Sequence[RunSpec], executor: Executor, chunk_size: int | None = None) -> list[list[RunSpec]]:
    """``specs`` in chunks: of ``chunk_size`` runs, or guided sizes fit for ``executor``."""
    if chunk_size:
        return chunked(list(specs), int(chunk_size))
    return chunked(list(specs), chunk_sizes(len(specs), executor.workers, executor.chunks_per_worker))


def run_specs(executor: Executor, shared: SharedScenario, specs: Sequence[RunSpec],
              overrides: Mapping[int, Mapping[str, Any]] | None = None, chunk_size: int | None = None,
              on_chunk: Callable[[list[RunOutcome]], None] | None = None, keep: bool = True) -> list[RunOutcome]:
    """Run ``specs`` in chunks on ``executor``; call ``on_chunk`` as each chunk completes.

    Returns every outcome in the order of ``specs``, whatever order the chunks finished in;
    with ``keep=False`` nothing (``on_chunk`` has them all, and memory stays one chunk deep).
    """
    jobs = []
    for batch in plan_chunks(specs, executor, chunk_size):
        points = {spec.point for spec in batch}
        jobs.append(ChunkJob(batch, {p: dict(overrides[p]) for p in points if overrides and overrides.get(p)}))
    by_chunk: dict[int, list[RunOutcome]] = {}
    for i, outcomes in executor.imap_unordered(run_chunk, jobs, shared):
        if keep:
            by_chunk[i] = outcomes
        if on_chunk is not None:
            on_chunk(outcomes)
    return [outcome for i in range(len(jobs)) for outcome in by_chunk.get(i, [])]


__all__ = ["EXECUTORS", "FAIL_RUNS_ENV", "LOCAL_CLUSTER_CONFIG", "MAX_ERROR_CHARS", "WAIT_FOR_WORKERS_S", "ChunkFailed",
           "ChunkJob", "ChunkRunner", "DaskExecutor", "Executor", "ExecutorError", "ProcessExecutor", "RunOutcome",
           "RunSpec", "SerialExecutor", "SharedScenario", "chunk_size_for", "chunk_sizes", "chunked", "default_workers",
           "interrupted_as", "make_executor", "plan_chunks", "run_chunk", "run_specs", "using_executor"]
