"""Metric values for people: durations in s/min/h/d, shares in %, big values in k/M/G.

:func:`fmt` writes one value in the unit its metric is read in (the vocabulary's
``kind``). :class:`ReadableFrame` is a table of numbers that prints that way: what
``Comparison.summary()``, ``table()``, ``WhatIf.summary()`` and a sweep's summary return,
so a notebook shows ``15.0 min`` and ``26.1 M`` where the numbers are 900 and 2.6e7,
while code computes with the numbers themselves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from nhisim import vocabulary
from nhisim.scenario.units import format_duration


def label(metric: str) -> str:
    """How a person reads a metric's name (the vocabulary's label)."""
    return vocabulary.label(metric)


def fmt(metric: str, value: Any) -> str:
    """One value of ``metric`` in the unit a person expects."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    kind = vocabulary.kind(metric)
    if kind == "seconds":
        sign = "-" if value < 0 else ""
        return sign + format_duration(abs(value))
    if kind == "share":
        return f"{value:.0%}"
    for size, suffix in ((1e12, " T"), (1e9, " G"), (1e6, " M")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def fmt_ci(metric: str, mean: float, low: float, high: float) -> str:
    """``mean (low–high)``, or just the mean when the interval is empty or undefined."""
    text = fmt(metric, mean)
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)) or low == high:
        return text
    return f"{text} ({fmt(metric, low)}–{fmt(metric, high)})"


class ReadableFrame(pd.DataFrame):
    """A DataFrame of numbers that prints them in their metrics' units.

    Its values are numbers: index, filter and compute with it as with any DataFrame (what
    an operation returns is a plain DataFrame). Printed, or shown in a notebook, each value
    of a metric is written as :func:`fmt` writes it; :meth:`readable` gives that text as a
    DataFrame of strings. Which metric a value belongs to: its column's name (a wide table,
    one column per metric), or the row's ``metric`` column for the columns named in
    ``per_row`` (a tidy table: one row per metric).
    """

    _metadata = ["per_row"]

    def __init__(self, data: Any = None, *args: Any, per_row: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(data, *args, **kwargs)
        self.per_row = tuple(per_row)

    @property
    def _constructor(self):  # derived frames are plain DataFrames: only this table prints in units
        return pd.DataFrame

    def readable(self) -> pd.DataFrame:
        """The table as text, each metric value in its unit (``15.0 min``, ``26.1 M``, ``45%``)."""
        out = pd.DataFrame(self, copy=True)
        per_row = [c for c in getattr(self, "per_row", ()) if c in out.columns]
        if per_row and "metric" in out.columns:
            metrics = out["metric"].tolist()
            for column in per_row:
                out[column] = [fmt(m, v) for m, v in zip(metrics, out[column].tolist(), strict=True)]
        for column in out.columns:
            if column in vocabulary.BY_NAME:
                out[column] = [fmt(column, v) for v in out[column].tolist()]
        return out

    def __repr__(self) -> str:
        return repr(self.readable())

    __str__ = __repr__

    def _repr_html_(self) -> str | None:
        return self.readable()._repr_html_()

    def to_string(self, *args: Any, readable: bool = True, **kwargs: Any) -> str:
        """The table as text; ``readable=False`` writes the raw numbers."""
        return (self.readable() if readable else pd.DataFrame(self)).to_string(*args, **kwargs)


__all__ = ["ReadableFrame", "fmt", "fmt_ci", "label"]
