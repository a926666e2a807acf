"""The executor interface, and the executors of this machine: serial and a process pool.

An :class:`Executor` runs ``fn(shared, task)`` for many tasks and yields results as each
finishes. ``serial`` runs them in this process; ``processes`` in a local process pool,
one worker per core (forked on Linux, so workers start in milliseconds with every module
already imported), with at most a few tasks per worker in flight.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from nhisim import interrupt
from nhisim.errors import InputError


class ExecutorError(RuntimeError):
    """The executor itself failed (a worker process died, the cluster went away)."""


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


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
    """A process-pool worker: ignore Ctrl-C (the parent decides), die quietly on SIGTERM, fresh stdio,
    die with the parent."""
    interrupt.worker_defaults()
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
            with interrupt.blocked():
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
        # After Ctrl-C or SIGTERM the workers may be dying with the command (a signal to its process
        # group). A task cancelled here while the pool finds a worker dead stops the pool's own thread
        # (it marks every waiting task failed, and a cancelled one cannot be) before that thread closes
        # its pipe to the workers: the process would then never exit. The owner stops the pool next
        # (``terminate``), which drops the waiting tasks itself.
        if not interrupt.received():
            for future in list(self._pending):
                future.cancel()
        self._pending.clear()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def terminate(self) -> None:
        self._pending.clear()  # not cancelled one by one (see cancel): the pool drops them itself
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values() or [])
        manager = getattr(pool, "_executor_manager_thread", None)
        pool.shutdown(wait=False, cancel_futures=True)  # before the workers go, so the pool's thread hears it first
        for p in processes:
            with contextlib.suppress(Exception):
                p.terminate()
        for p in processes:
            with contextlib.suppress(Exception):
                p.join(timeout=2)
        # A worker stopped halfway through sending a result leaves half a message in the results
        # pipe: the pool's thread waits for the rest, for ever (this process holds the pipe's write
        # end, so no end of file comes), and the interpreter waits for that thread at exit. With
        # the workers gone, nothing writes there any more: closing our end lets the thread read
        # the end of the file, find the pool broken, and stop.
        results = getattr(manager, "result_queue", None)
        with contextlib.suppress(Exception):
            results._writer.close()


__all__ = ["Executor", "ExecutorError", "ProcessExecutor", "SerialExecutor", "default_workers"]
