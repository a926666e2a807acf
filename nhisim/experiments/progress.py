"""Progress of a comparison or a sweep: a callback, or a tqdm bar for notebooks and scripts.

``compare(..., progress=...)`` and ``sweep(..., progress=...)`` take:

- ``"auto"`` (the default): a bar in a Jupyter notebook (a widget), nothing elsewhere, so
  scripts, tests and logs stay quiet;
- ``True``: a bar wherever it runs (a widget in Jupyter, text on stderr in a terminal);
- ``False`` or ``None``: nothing;
- a callable ``progress(done, total)``: called as runs finish (the CLI draws its own bar so).

The bar starts at the first report, once the worker processes are up (a bar's thread must
not be copied into forked workers), and is removed when the work ends.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from nhisim.errors import InputError, printable

Progress = bool | str | Callable[[int, int], None] | None


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (IPython's ZMQ shell), without importing IPython."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return type(shell).__name__ == "ZMQInteractiveShell"


class _Bar:
    """A ``progress(done, total)`` callback drawing a tqdm.auto bar, made at its first call."""

    def __init__(self, description: str) -> None:
        self.description = printable(description, one_line=True)  # a scenario's name: shown, never obeyed
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=self.description, unit="run", leave=False, dynamic_ncols=True)
        self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextmanager
def reporting(progress: Progress, description: str) -> Iterator[Callable[[int, int], None] | None]:
    """The callback to report progress through, for the time of the work (see the module docstring)."""
    if callable(progress):
        yield progress
        return
    if progress == "auto":
        progress = in_notebook()
    if progress is None or progress is False:
        yield None
        return
    if progress is not True:
        raise InputError.single(f"progress={progress!r} is not a progress setting", location="progress",
                                suggestion="give True, False, 'auto' or a function progress(done, total)")
    bar = _Bar(description)
    try:
        yield bar
    finally:
        bar.close()


__all__ = ["Progress", "in_notebook", "reporting"]
