"""Keeping Python's cyclic garbage collector out of bulk work.

Loading a large estate, generating one, writing it as YAML and running a long
simulation each create hundreds of thousands of containers that live until the work
is done. The collector, triggered by the allocations, walks every one of them again at
each full collection and finds nothing to free: on a 10,000-agent estate that is more
than half of the time. :func:`collector_paused` keeps it still for the duration of such
work (reference counting still frees what is dropped; only reference cycles wait).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def collector_paused(pause: bool = True) -> Iterator[None]:
    """No cyclic collection inside the block (the collector's state is restored after it); with
    ``pause`` false, the block runs as it would without this."""
    was_enabled = gc.isenabled()
    if pause:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def without_collector(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` run under :func:`collector_paused`."""

    @wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with collector_paused():
            return function(*args, **kwargs)

    return run
