"""The ``dask`` executor: Dask distributed, on a LocalCluster or a real cluster.

A runner (a Dask actor) on each worker runs the chunks the driver deals it, as the
process pool does; a Dask round trip costs more, so it gets fewer, larger chunks
(``pip install 'nhisim[dask]'``).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import pickle
import queue
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from nhisim.errors import InputError
from nhisim.experiments.local_executors import Executor, ExecutorError, default_workers

WAIT_FOR_WORKERS_S = 30.0  # how long a Dask executor with no worker waits for one to join


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


__all__ = ["LOCAL_CLUSTER_CONFIG", "WAIT_FOR_WORKERS_S", "ChunkFailed", "ChunkRunner", "DaskExecutor"]
