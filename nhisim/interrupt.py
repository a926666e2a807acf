"""Ctrl-C and SIGTERM: a clean stop at any moment, saying what was kept.

:func:`install` (the ``nhisim`` command calls it before anything else) makes both signals
raise :class:`Interrupted`, a :class:`KeyboardInterrupt`, in the main thread: the code
that keeps finished work on Ctrl-C (a sweep saves its chunks) keeps it on SIGTERM too.
The command then exits with :func:`exit_code` (130 after SIGINT, 143 after SIGTERM: 128
plus the signal number, as a shell reports a process killed by it) and one line saying
what was kept.

While files are put in place (:func:`held`) a signal waits until they are: results are
never left half-replaced. After the first signal a second one is ignored while the
command stops; a third stops the process at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any

SIGNALS = tuple(s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None)) if s is not None)
NAMES = {signal.SIGINT: "Ctrl-C", getattr(signal, "SIGTERM", -1): "SIGTERM"}

_received: list[int] = []  # the signals met, in order
_holding = 0
_pending: int | None = None
_last: list[Interrupted] = []  # the latest interruption made: a caller that drops it (Typer) can find it


class Interrupted(KeyboardInterrupt):
    """The command was interrupted; ``kept`` says what it kept ("" when it wrote nothing)."""

    def __init__(self, kept: str = "", signum: int | None = None) -> None:
        self.kept = kept
        self.signum = signum if signum is not None else first_signal()
        super().__init__(kept or f"interrupted by {NAMES.get(self.signum, 'a signal')}")
        _last[:] = [self]


def last() -> Interrupted | None:
    """The latest :class:`Interrupted` made in this process (None before any)."""
    return _last[0] if _last else None


def first_signal() -> int:
    """The signal that stopped the command (SIGINT when none was met: a KeyboardInterrupt raised by hand)."""
    return _received[0] if _received else signal.SIGINT


def received() -> bool:
    """Whether SIGINT or SIGTERM has arrived since :func:`install`."""
    return bool(_received)


def exit_code() -> int:
    """128 + the first signal's number: 130 for Ctrl-C, 143 for SIGTERM."""
    return 128 + int(first_signal())


def _handler(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001  (a signal handler's signature)
    global _pending
    _received.append(signum)
    if len(_received) >= 3:  # asked three times: stop now, whatever was being cleaned up
        os._exit(exit_code())
    if len(_received) > 1:  # the first is being acted on: let the command finish stopping
        return
    if _holding:
        _pending = signum
        return
    raise Interrupted(signum=signum)


def install() -> dict[int, Any]:
    """Make SIGINT and SIGTERM raise :class:`Interrupted` (from the main thread only; elsewhere a no-op).

    Returns the handlers it replaced, for :func:`restore`; the signals met before are forgotten.
    """
    global _pending
    _received.clear()
    _last.clear()
    _pending = None
    previous: dict[int, Any] = {}
    with contextlib.suppress(ValueError, OSError):  # not the main thread, or a platform without the signal
        for signum in SIGNALS:
            previous[signum] = signal.signal(signum, _handler)
    return previous


def restore(previous: dict[int, Any]) -> None:
    """Put back the handlers :func:`install` replaced."""
    with contextlib.suppress(ValueError, OSError, TypeError):
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def ignore() -> None:
    """Ignore both signals from now on (the command is saying its last line)."""
    with contextlib.suppress(ValueError, OSError):
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_IGN)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold a signal (when :func:`install` is in effect) until the block is done, then raise it."""
    global _holding, _pending
    _holding += 1
    try:
        yield
    finally:
        _holding -= 1
    if not _holding and _pending is not None:
        signum, _pending = _pending, None
        raise Interrupted(signum=signum)


@contextlib.contextmanager
def blocked() -> Iterator[None]:
    """Block both signals in this thread while worker processes are started (they inherit the block).

    A signal sent meanwhile waits: a worker sets its own handling (:func:`worker_defaults`)
    before it unblocks, so it never runs the parent's handler; the parent gets the signal
    when the block ends.
    """
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not POSIX
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def worker_defaults() -> None:
    """In a worker process: the parent decides on Ctrl-C (ignored here); SIGTERM ends the worker
    silently (no traceback); then the signals :func:`blocked` held are let through."""
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if hasattr(signal, "SIGTERM"):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)


__all__ = ["Interrupted", "blocked", "exit_code", "first_signal", "held", "ignore", "install", "last", "received",
           "restore", "worker_defaults"]
