"""Executors: where the runs of a comparison or a sweep execute (SPEC §6).

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
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from nhisim.errors import InputError, did_you_mean

EXECUTORS = ("serial", "processes", "dask")
#: test-only hook: "strategy/replication,..." (or "point/strategy/replication") runs that
#: raise; "exit:strategy/replication" kills the worker process that runs it (never this one)
FAIL_RUNS_ENV = "NHISIM_FAIL_RUNS"
MAX_ERROR_CHARS = 2000
WAIT_FOR_WORKERS_S = 30.0  # how long a Dask executor with no worker waits for one to join


class ExecutorError(RuntimeError):
    """The executor itself failed (a worker process died, the cluster went away)."""


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


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
    keep_events: bool = False
    capture_errors: bool = True


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
    events: pd.DataFrame | None = None
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
            result = simulate(model, spec.strategy, spec.seed, spec.replication, keep_events=shared.keep_events,
                              name=spec.strategy, engine=shared.engine)
            outcomes.append(RunOutcome(spec, result.scenario, result.metrics, result.events))
        except Exception as exc:
            if not shared.capture_errors:
                raise
            outcomes.append(RunOutcome(spec, name, None, None, _describe(exc)))
    return outcomes


# --------------------------------------------------------------------------- executors


class Executor:
    """Runs ``fn(shared, task)`` for many tasks and yields ``(index, result)`` as each finishes.

    Use as a context manager, or call :meth:`start` and :meth:`close`. :meth:`terminate`
    stops at once (what an interrupt does): work in flight is dropped.
    """

    name = "serial"
    #: chunks per worker in a default chunking: a chunk's round trip costs the serial and
    #: process executors a fraction of a millisecond, so many small chunks balance best
    chunks_per_worker = 8

    def __init__(self, workers: int | None = None) -> None:
        self.workers = 1 if workers is None else int(workers)

    def start(self) -> Executor:
        return self

    def imap_unordered(self, fn: Callable[[Any, Any], Any], tasks: Iterable[Any],
                       shared: Any = None) -> Iterator[tuple[int, Any]]:
        for i, task in enumerate(tasks):
            yield i, fn(shared, task)

    def cancel(self) -> None:
        """Drop the work not yet started (the executor stays usable)."""

    def close(self) -> None:
        """Release the workers after the work in flight is done."""

    def terminate(self) -> None:
        """Stop now: drop queued work and stop the workers."""
        self.close()

    def __enter__(self) -> Executor:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.terminate()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workers={self.workers})"


class SerialExecutor(Executor):
    """In this process, one task after another."""

    name = "serial"

    def __init__(self, workers: int | None = None) -> None:
        super().__init__(1)


def _init_worker(parent: int) -> None:
    """A process-pool worker: ignore Ctrl-C (the parent decides), fresh stdio, die with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a fork copies the locks held by the parent's other threads (a progress bar writing to
    # stderr); give this process stdio objects of its own so a warning can never block on them
    for name, fd in (("stdout", 1), ("stderr", 2)):
        with contextlib.suppress(OSError, ValueError):
            setattr(sys, name, open(os.dup(fd), "w", buffering=1, closefd=True))

    def watch() -> None:
        import time

        while True:
            time.sleep(0.5)
            if os.getppid() != parent:  # the parent was killed (kill -9): stop, do not linger
                os._exit(1)

    threading.Thread(target=watch, name="nhisim-parent-watch", daemon=True).start()


def _ping(_shared: Any = None, _task: Any = None) -> int:
    return os.getpid()


class ProcessExecutor(Executor):
    """A local pool of worker processes (default: one per core).

    On Linux workers are forked, so they start at once with every module imported and the
    first chunk pays no import time. Elsewhere the platform's default start method is used.
    """

    name = "processes"

    def __init__(self, workers: int | None = None, context: str | None = None, window: int = 2) -> None:
        super().__init__(default_workers() if workers is None else workers)
        if self.workers < 1:
            raise InputError.single("workers must be at least 1", location="--workers")
        if context is None:
            context = "fork" if sys.platform.startswith("linux") else None
        self.context = context
        self.window = max(1, window)
        self._pool: ProcessPoolExecutor | None = None
        self._pending: dict[Future, int] = {}

    def start(self) -> ProcessExecutor:
        if self._pool is None:
            ctx = multiprocessing.get_context(self.context) if self.context else None
            with _sigint_ignored():
                self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                                 initializer=_init_worker, initargs=(os.getpid(),))
                # start every worker now (before a progress bar starts a thread), and check they answer
                pings = [self._pool.submit(_ping) for _ in range(self.workers)]
            for f in pings:
                f.result()
        return self

    def imap_unordered(self, fn, tasks, shared=None):
        from concurrent.futures.process import BrokenProcessPool

        pool = self.start()._pool
        assert pool is not None
        items = iter(enumerate(tasks))
        pending = self._pending
        limit = self.workers * self.window

        def fill() -> None:
            while len(pending) < limit:
                try:
                    i, task = next(items)
                except StopIteration:
                    return
                pending[pool.submit(fn, shared, task)] = i

        try:
            fill()
            while pending:
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: pending[f]):
                    i = pending.pop(future)
                    yield i, future.result()
                fill()
        except BrokenProcessPool as exc:
            raise ExecutorError(f"a worker process died ({exc}); finished work is kept") from None
        finally:
            self.cancel()

    def cancel(self) -> None:
        for future in list(self._pending):
            future.cancel()
        self._pending.clear()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def terminate(self) -> None:
        self.cancel()
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values() or [])
        for p in processes:
            with contextlib.suppress(Exception):
                p.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            with contextlib.suppress(Exception):
                p.join(timeout=2)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore Ctrl-C while starting worker processes, so they inherit that and leave it to us.

    A terminal sends Ctrl-C to the whole process group; the workers must not die with a
    traceback each: the driver stops them.
    """
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to do
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _require_dask() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise InputError.single(
            "the dask executor needs Dask distributed, which is not installed", location="--executor",
            suggestion="pip install 'nhisim[dask]' (or 'dask[distributed]'), or use --executor processes",
        ) from None


#: Dask settings for a LocalCluster, whose scheduler, nannies and comms share this
#: machine's cores with the workers: every millisecond they spend is taken from the runs.
#: At Dask's defaults an idle 2-worker cluster used 6 % of a core in the driver and 5 %
#: in the workers; with these, 1 % and 0.7 %.
LOCAL_CLUSTER_CONFIG: dict[str, Any] = {
    # runs are CPU-bound pure Python on one thread per worker: the sampling profiler (100
    # stack walks a second, each taking the GIL from the run) only slows them down
    "distributed.worker.profile.enabled": False,
    # the event-loop health check, 50 times a second in every server (only feeds warnings)
    "distributed.admin.tick.interval": "500ms",
    # memory polling of each worker by itself and its nanny: a run's memory moves slowly
    "distributed.worker.memory.monitor-interval": "1s",
    # the dashboard's CPU, disk and network figures (no dashboard here)
    "distributed.admin.system-monitor.interval": "5s",
}


@dataclass
class ChunkFailed:
    """A chunk's own error, returned as a value by :class:`ChunkRunner` (see there)."""

    error: BaseException


def _warm_up() -> None:
    """Run each preset once on a tiny generated estate, so that a fresh worker's first chunk
    does not pay for first imports and first calls (about 50 ms a worker; 30 ms here, while
    the cluster starts). A worker from a fork server has Dask and pandas imported, not nhisim.
    """
    from nhisim.experiments.run import simulate
    from nhisim.scenario.generate import generate_estate
    from nhisim.scenario.loader import validate_data
    from nhisim.strategies import presets

    data = generate_estate(agents=4, tools=2, resources=3, name="warm-up").model_dump(mode="json", exclude_unset=True)
    data.setdefault("run", {})["horizon"] = "10m"
    scenario = validate_data(data)
    for name in presets():
        simulate(scenario, name, 1, 0)


class ChunkRunner:
    """A Dask actor, one per worker: runs the chunks the driver sends it, one at a time.

    The driver sends the shared scenario pickled once per experiment (bytes); the runner
    unpickles it when it changes, not for every chunk. A chunk's own error comes back as a
    :class:`ChunkFailed` value, so that an error raised by Dask itself always means the
    worker could not be reached.
    """

    def __init__(self) -> None:
        self._blob: bytes | None = None
        self._shared: Any = None
        _warm_up()

    def run(self, fn: Callable[[Any, Any], Any], blob: bytes, task: Any) -> Any:
        if blob != self._blob:
            self._shared, self._blob = pickle.loads(blob), blob
        try:
            return fn(self._shared, task)
        except Exception as exc:
            return ChunkFailed(exc)


class DaskExecutor(Executor):
    """Dask distributed: a LocalCluster of worker processes, or a scheduler's address.

    Each worker holds a :class:`ChunkRunner` actor, and the driver deals chunks to them
    as the process pool does: ``window`` chunks per worker in flight, the next one sent as
    one finishes. A chunk is then one direct call to its worker, not a task through the
    scheduler's state machine: on a 2-worker LocalCluster that costs 2-3 ms of CPU, where
    a task cost 6 (scheduler, client and worker together), all taken from the cores that
    run the simulations. If a worker is lost, its chunks go to the others; if every worker
    is lost the sweep stops with :class:`ExecutorError` (finished work is kept).

    A worker runs one chunk at a time: runs are pure Python and hold the GIL, so a
    worker's extra threads would not run them faster; start workers with one thread each
    and one per core (``dask worker ADDRESS --nthreads 1 --nworkers auto``). Workers that
    join (or come back) mid-experiment are used from the next one on. Workers need nhisim
    installed (the same version as here). A LocalCluster starts with
    :data:`LOCAL_CLUSTER_CONFIG`; extra keyword arguments go to ``LocalCluster``
    (``multiprocessing_method="spawn"`` to start its workers afresh rather than from a fork
    server). As with any Dask LocalCluster, a script that starts one needs the
    ``if __name__ == "__main__":`` guard.
    """

    name = "dask"
    #: a chunk costs a Dask round trip (2-3 ms of CPU on a 2-core LocalCluster, taken from
    #: the workers' cores): fewer, larger chunks than the process pool
    chunks_per_worker = 4

    def __init__(self, workers: int | None = None, scheduler: str | None = None, window: int = 2,
                 **cluster_options: Any) -> None:
        super().__init__(default_workers() if workers is None else workers)
        if self.workers < 1:
            raise InputError.single("workers must be at least 1", location="--workers")
        _require_dask()
        self.scheduler = scheduler
        self.window = max(1, window)
        self.cluster_options = cluster_options
        self.client: Any = None
        self.cluster: Any = None
        self._runner_futures: list[Any] = []
        self._runners: dict[str, Any] = {}
        self._cancelled = False

    def start(self) -> DaskExecutor:
        if self.client is not None:
            return self
        _require_dask()
        from distributed import Client, LocalCluster

        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise InputError.single(f"cannot reach the Dask scheduler at {self.scheduler!r}: {exc}",
                                        location="--scheduler",
                                        suggestion="give the address the scheduler prints, e.g. "
                                                   "tcp://10.0.0.5:8786") from None
        else:
            import dask

            # no dashboard; the scheduler's own HTTP server on a free loopback port, not 8787
            options = {"n_workers": self.workers, "threads_per_worker": 1, "processes": True,
                       "dashboard_address": None, "host": "127.0.0.1", "silence_logs": logging.ERROR,
                       "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"}}
            options.update(self.cluster_options)
            # not forked from this process: the nannies start their workers from Dask's event
            # loop while other threads run (the other nannies' pipes, the client), and a child
            # forked while one of them holds a lock deadlocks (it happened: a cluster that
            # never started, one that never closed). A fork server forks them from a clean
            # process with Dask and pandas imported: about 2 s to start, against 0.15 s forked
            method = options.pop("multiprocessing_method", "forkserver" if os.name == "posix" else None)
            config = {"distributed.worker.multiprocessing-method": method} if method else {}
            config.update(LOCAL_CLUSTER_CONFIG)
            # only while the cluster starts: a nanny restarting a dead worker later starts it
            # with Dask's defaults
            with dask.config.set(config), _sigint_ignored():
                self.cluster = LocalCluster(**options)
                # the workers are on this machine: call them directly, not through the scheduler
                self.client = Client(self.cluster, direct_to_workers=True)
        try:
            self._start_runners()
        except BaseException:
            self.close()
            raise
        return self

    def _start_runners(self) -> None:
        """A :class:`ChunkRunner` on every worker that has none (all of them, at start)."""
        addresses = sorted(self.client.scheduler_info(n_workers=-1)["workers"])
        if not addresses:  # e.g. every worker is restarting: give them a moment, as Dask would
            with contextlib.suppress(TimeoutError):
                self.client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS_S)
            addresses = sorted(self.client.scheduler_info(n_workers=-1)["workers"])
        self._runners = {a: r for a, r in self._runners.items() if a in addresses}
        missing = [a for a in addresses if a not in self._runners]
        if missing:
            # a runner may move if its worker dies (so that Dask never waits on it forever);
            # it is placed by preference, and where it landed is asked, not assumed
            futures = [self.client.submit(ChunkRunner, actor=True, workers=[a], allow_other_workers=True, pure=False)
                       for a in missing]
            actors = [f.result() for f in futures]
            placed = self.client.who_has(futures)
            for future, actor in zip(futures, actors, strict=True):
                where = (placed.get(future.key) or [None])[0]
                if where is not None and where not in self._runners:
                    self._runners[where] = actor
                    self._runner_futures.append(future)
        if not self._runners:
            where = f"the Dask cluster at {self.scheduler!r}" if self.scheduler else "the Dask LocalCluster"
            raise ExecutorError(f"{where} has no workers to run on (waited {WAIT_FOR_WORKERS_S:g} s)")
        self.workers = len(self._runners)

    def imap_unordered(self, fn, tasks, shared=None):
        client = self.start().client
        if not self._runners or len(self._runners) < len(client.scheduler_info(n_workers=-1)["workers"]):
            self._start_runners()  # workers joined or came back since the last experiment
        blob = pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL)
        finished: queue.SimpleQueue = queue.SimpleQueue()
        tasks = list(tasks)
        items = iter(enumerate(tasks))
        unsent = len(tasks)  # chunks not sent yet, those to send again included
        retry: collections.deque = collections.deque()
        live = dict(self._runners)
        in_flight = dict.fromkeys(live, 0)
        self._cancelled = False

        def lost(address: str, item: tuple[int, Any], why: BaseException) -> None:
            """The worker is gone: its chunks go to the others."""
            live.pop(address, None)
            self._runners.pop(address, None)
            self.workers = max(1, len(self._runners))
            nonlocal unsent
            retry.append(item)
            unsent += 1
            if not live:
                raise ExecutorError(f"every Dask worker was lost ({why}); finished work is kept")

        def send(address: str) -> bool:
            nonlocal unsent
            item = retry.popleft() if retry else next(items, None)
            if item is None:
                return False
            unsent -= 1
            try:
                call = live[address].run(fn, blob, item[1])
            except RuntimeError as exc:  # Dask already knows the worker was lost
                lost(address, item, exc)
                return True

            async def deliver() -> None:
                try:
                    finished.put((address, item, await call, None))
                except Exception as exc:
                    finished.put((address, item, None, exc))

            client.loop.add_callback(deliver)
            in_flight[address] += 1
            return True

        def fill() -> None:
            for address in list(live):
                while address in live and not self._cancelled and in_flight[address] < window() and send(address):
                    pass

        def window() -> int:
            # a chunk sent is bound to its worker: near the end, one at a time each, so that
            # no worker sits idle while another still has a chunk queued
            return self.window if unsent >= self.window * len(live) else 1

        fill()
        while any(in_flight.values()):
            address, item, result, error = finished.get()
            in_flight[address] -= 1
            if isinstance(error, OSError):
                lost(address, item, error)
            elif error is not None:
                raise error
            elif isinstance(result, ChunkFailed):
                raise result.error
            else:
                yield item[0], result
            fill()

    def cancel(self) -> None:
        """Send no more chunks; those in flight finish on their workers and are dropped."""
        self._cancelled = True

    def close(self) -> None:
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        self._runners, self._runner_futures = {}, []
        for thing in (client, cluster):
            if thing is not None:
                with contextlib.suppress(Exception):
                    thing.close()

    def terminate(self) -> None:
        self.cancel()
        self.close()


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


def plan_chunks(specs: Sequence[RunSpec], executor: Executor, chunk_size: int | None = None) -> list[list[RunSpec]]:
    """``specs`` in chunks: of ``chunk_size`` runs, or guided sizes fit for ``executor``."""
    if chunk_size:
        return chunked(list(specs), int(chunk_size))
    return chunked(list(specs), chunk_sizes(len(specs), executor.workers, executor.chunks_per_worker))


def run_specs(executor: Executor, shared: SharedScenario, specs: Sequence[RunSpec],
              overrides: Mapping[int, Mapping[str, Any]] | None = None, chunk_size: int | None = None,
              on_chunk: Callable[[list[RunOutcome]], None] | None = None) -> list[RunOutcome]:
    """Run ``specs`` in chunks on ``executor``; call ``on_chunk`` as each chunk completes.

    Returns every outcome in the order of ``specs``, whatever order the chunks finished in.
    """
    jobs = []
    for batch in plan_chunks(specs, executor, chunk_size):
        points = {spec.point for spec in batch}
        jobs.append(ChunkJob(batch, {p: dict(overrides[p]) for p in points if overrides and overrides.get(p)}))
    by_chunk: dict[int, list[RunOutcome]] = {}
    for i, outcomes in executor.imap_unordered(run_chunk, jobs, shared):
        by_chunk[i] = outcomes
        if on_chunk is not None:
            on_chunk(outcomes)
    return [outcome for i in range(len(jobs)) for outcome in by_chunk.get(i, [])]
