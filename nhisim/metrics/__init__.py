"""Metrics of one run, computed from its event log alone.

One module per family: ``attack`` (what the attacker did), ``exposure`` (for how long
and how fast it was cut), ``utility`` (work done and friction), ``accountability``
(attribution), ``cost`` (standing privilege and operational cost). A family is any
module of this package that defines ``COLUMNS`` and ``compute(log) -> dict`` (``log``
a :class:`~nhisim.metrics.digest.LogDigest`, what the metrics read of the log): it is
found by discovery, so adding one is a file here plus its rows in
:mod:`nhisim.vocabulary`. Where a metric has no meaning in a run (no compromise), it is
NaN, never 0.

In a table of runs (:func:`with_metric_types`), a count (the vocabulary's kind ``count``)
is a whole number, pandas' nullable ``Int64`` (``<NA>`` where it has no meaning); every
other metric is a float.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from types import ModuleType

import numpy as np
import pandas as pd

from nhisim import vocabulary
from nhisim.metrics.digest import LogDigest, digest_of

#: the result columns, in table order (defined in :mod:`nhisim.vocabulary`)
METRIC_COLUMNS: tuple[str, ...] = vocabulary.NAMES
# which way is better and which columns are shares (for callers that imported them from here)
LOWER_IS_BETTER = vocabulary.LOWER_IS_BETTER
NEUTRAL = vocabulary.NEUTRAL
SHARES = vocabulary.SHARES
#: the metric columns that count things (whole numbers)
COUNT_COLUMNS: tuple[str, ...] = tuple(m for m in METRIC_COLUMNS if vocabulary.kind(m) == "count")


def discover_families() -> tuple[ModuleType, ...]:
    """Every module of this package that defines ``COLUMNS`` and ``compute``, in vocabulary order."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "COLUMNS") and callable(getattr(module, "compute", None)):
            found.append(module)
    # a stable order, whatever the file system lists first: by the first column each family computes
    rank = {name: i for i, name in enumerate(METRIC_COLUMNS)}
    return tuple(sorted(found, key=lambda m: min((rank.get(c, len(rank)) for c in m.COLUMNS), default=len(rank))))


def family_name(family: ModuleType) -> str:
    """A family's name as the vocabulary writes it: its module's last part (``attack``)."""
    return family.__name__.rpartition(".")[2]


def check_families(families: tuple[ModuleType, ...]) -> None:
    """Raise if the families' columns are not exactly the vocabulary's names, each once, each in its family."""
    columns = [c for family in families for c in family.COLUMNS]
    misfiled = [f"{c} (in {family_name(f)}, the vocabulary says {vocabulary.BY_NAME[c].family})"
                for f in families for c in f.COLUMNS
                if c in vocabulary.BY_NAME and vocabulary.BY_NAME[c].family != family_name(f)]
    problems = {
        "computed by two families": sorted({c for c in columns if columns.count(c) > 1}),
        "computed but not in nhisim.vocabulary": sorted(set(columns) - set(METRIC_COLUMNS)),
        "in nhisim.vocabulary but computed by no family": [c for c in METRIC_COLUMNS if c not in columns],
        "computed by another family than the vocabulary's": sorted(misfiled),
    }
    found = [f"{what}: {', '.join(names)}" for what, names in problems.items() if names]
    if found:
        raise RuntimeError("nhisim.metrics: " + "; ".join(found))


FAMILIES = discover_families()
check_families(FAMILIES)


def compute_metrics(events: pd.DataFrame | Mapping[str, np.ndarray] | LogDigest) -> dict[str, float]:
    """Every metric column for one run's event log (a DataFrame, its columns, or its digest)."""
    log = digest_of(events)
    values: dict[str, float] = {}
    for family in FAMILIES:
        values.update(family.compute(log))
    return {name: values[name] for name in METRIC_COLUMNS}


def with_metric_types(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` (one row per run) with its count columns as nullable integers (``Int64``, ``<NA>``
    where a run gives the count no meaning) and its other metric columns as floats; in place."""
    for name in METRIC_COLUMNS:
        if name not in runs.columns:
            continue
        column = runs[name]
        if name in COUNT_COLUMNS:
            if column.dtype != "Int64":
                runs[name] = pd.to_numeric(column, errors="coerce").astype("float64").round().astype("Int64")
        elif column.dtype != "float64":
            runs[name] = pd.to_numeric(column, errors="coerce").astype("float64")
    return runs


__all__ = ["COUNT_COLUMNS", "FAMILIES", "LOWER_IS_BETTER", "METRIC_COLUMNS", "NEUTRAL", "SHARES", "LogDigest",
           "check_families", "compute_metrics", "digest_of", "discover_families", "family_name", "with_metric_types"]
