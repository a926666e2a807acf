"""Results folders: what ``nhisim compare --out DIR`` writes, read back as Comparisons.

A results folder holds ``runs.parquet`` (one row per run), ``events.parquet`` (every
run's event log, with ``scenario``, ``strategy`` and ``replication`` columns) and
``comparison.json``, which says how to rebuild each comparison::

    {"format": "nhisim-comparison/1", "nhisim": "0.1.0",
     "comparisons": [{"scenario_name": ..., "scenario_file": ..., "scenario": {...effective scenario...},
                      "strategies": [...], "baseline": ..., "seed": 1, "replications": 20}]}

The effective scenario (after ``--set`` overrides) is stored whole, so a report can be
made after the scenario file changed or moved. A folder written before a metric existed
reads NaN (``n/a`` in a report) for it. Reading the events keeps only the
replication a report draws (``replication``), so a large folder stays cheap to report on.
"""

from __future__ import annotations

import functools
import json
import operator
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from nhisim.errors import InputError, did_you_mean
from nhisim.files import write_whole
from nhisim.metrics import METRIC_COLUMNS, with_metric_types
from nhisim.metrics.lifecycle import log_column
from nhisim.metrics.story import (
    SELECTING,
    STORY,
    check_event_rows,
    credentials_in,
    lifecycle_filter,
    story_rows,
    unroutine_filter,
)

META_FILE = "comparison.json"
FORMAT = "nhisim-comparison/1"
ID_EVENT_COLUMNS = ("scenario", "strategy", "replication")


def comparison_meta(comparison, file: str | os.PathLike | None = None) -> dict[str, Any]:
    """What rebuilds ``comparison`` from its runs: scenario, strategies, baseline, seed, replications."""
    return {
        "scenario_name": comparison.scenario.name,
        "scenario_file": str(Path(file).resolve()) if file is not None else None,
        "strategies": list(comparison.strategies),
        "baseline": comparison.baseline,
        "seed": int(comparison.seed),
        "replications": int(comparison.replications),
        "scenario": comparison.scenario.model_dump(mode="json", exclude_unset=True),
    }


def comparison_meta_json(comparisons, files=None) -> str:
    """The text of ``comparison.json`` for ``comparisons`` (``files``: their scenario files, if any)."""
    from nhisim._version import __version__

    files = list(files or [])
    entries = [comparison_meta(c, files[i] if i < len(files) else None) for i, c in enumerate(comparisons)]
    return json.dumps({"format": FORMAT, "nhisim": __version__, "comparisons": entries}, indent=1,
                      allow_nan=False) + "\n"


def write_comparison_meta(out: str | os.PathLike, comparisons, files=None) -> Path:
    """Write ``comparison.json`` into the results folder ``out``."""
    return write_whole(Path(out) / META_FILE, comparison_meta_json(comparisons, files))


def _bad(folder: Path, message: str, suggestion: str) -> InputError:
    return InputError.single(message, file=str(folder), suggestion=suggestion, title="not a usable results folder")


def read_meta(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """The comparisons a results folder describes (clear errors for anything missing or broken)."""
    folder = Path(folder)
    if not (folder / "runs.parquet").is_file():
        what = ("runs.parquet here is a folder of a sweep's results, not a comparison's file"
                if (folder / "runs.parquet").is_dir() else "no runs.parquet here")
        raise _bad(folder, what, "give a folder written by `nhisim compare FILE --out DIR` or "
                                 "`nhisim sweep FILE ... --out DIR`, or a scenario file")
    path = folder / META_FILE
    if not path.is_file():
        raise _bad(folder, f"no {META_FILE} here, so the comparison cannot be rebuilt",
                   "re-run `nhisim compare FILE --out DIR` (it writes comparison.json), or report on the "
                   "scenario file directly")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["comparisons"]
        if not isinstance(entries, list) or not entries:
            raise ValueError("no comparisons listed")
        for entry in entries:
            for key in ("scenario_name", "strategies", "baseline", "seed", "replications"):
                if key not in entry:
                    raise ValueError(f"missing {key!r}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError.single(f"cannot read {META_FILE}: {exc}", file=str(path),
                                suggestion="re-run `nhisim compare FILE --out DIR`") from None
    return entries


def _scenario(entry: dict[str, Any], folder: Path):
    from nhisim.scenario.loader import load_scenario, validate_data

    if entry.get("scenario"):
        return validate_data(entry["scenario"], file=str(folder / META_FILE))
    file = entry.get("scenario_file")
    if file and Path(file).is_file():
        return load_scenario(file)
    raise _bad(folder, f"the scenario of {entry['scenario_name']!r} is neither stored nor found"
                       + (f" at {file}" if file else ""), "re-run `nhisim compare FILE --out DIR`")


def _read_events(path: Path, read: Callable[[Any], pd.DataFrame]) -> pd.DataFrame:
    """``read(file)`` of events.parquet, any failure told as bad input."""
    try:
        with open(path, "rb") as fh:  # opened here: Arrow cannot open a name that is not UTF-8
            return read(fh)
    except Exception as exc:  # a truncated or foreign file: report without events rather than fail
        raise InputError.single(f"cannot read events.parquet: {exc}", file=str(path),
                                suggestion="re-run `nhisim compare FILE --out DIR`") from None


def _events(folder: Path, scenario: str, replication: int | None, event_rows: str = "all",
            runs: pd.DataFrame | None = None) -> dict[tuple[str, int], pd.DataFrame]:
    """The event logs of ``replication`` (every one with None), whole or (``event_rows="story"``)
    their stories, read from the file with a filter so the routine rows are never held."""
    import pyarrow.compute as pc

    path = folder / "events.parquet"
    if not path.is_file():
        return {}
    ids: dict[str, Any] = {"scenario": scenario}
    if replication is not None:
        ids["replication"] = int(replication)
    filters = functools.reduce(operator.and_, (pc.field(name) == value for name, value in ids.items()))
    metrics = {}  # a story's run's metrics, from runs.parquet
    if event_rows == STORY:
        frame = _read_events(path, lambda fh: _read_stories(fh, filters, ids))
        if runs is not None:
            metrics = dict(zip(zip(runs["strategy"], runs["replication"], strict=True),
                               runs[list(METRIC_COLUMNS)].astype("float64").to_dict("records"), strict=True))
    else:
        frame = _read_events(path, lambda fh: pd.read_parquet(fh, filters=filters))
    out = {}
    for (strategy, rep), group in frame.groupby(["strategy", "replication"], sort=False):
        events = group.drop(columns=[c for c in ID_EVENT_COLUMNS if c in group.columns]).reset_index(drop=True)
        if "in_intent" in events.columns:
            events["in_intent"] = events["in_intent"].astype(object).where(events["in_intent"].notna(), None)
        if event_rows == STORY:  # a credential another run's story names is no part of this one's
            events = events[story_rows({name: log_column(events, name) for name in SELECTING})].reset_index(drop=True)
            events.attrs.update(rows=STORY, metrics=metrics.get((str(strategy), int(rep)), {}))
        out[(str(strategy), int(rep))] = events
    return out


STORY_KEYS = ("scenario", "replication", "strategy", "event", "malicious", "decision", "code", "in_intent",
              "credential")  # the columns that say which rows a story keeps


def _read_stories(fh: Any, runs: Any, ids: dict[str, Any]) -> pd.DataFrame:
    """The rows of the runs ``runs`` (a filter on the ids; ``ids`` their values by column) that
    their stories may keep, read column by column: a large run is one row group of millions of
    rows, and decoding all its columns at once would hold them all. The lifecycle rows kept are
    those of credentials some run's story names (the caller keeps, run by run, those of its own)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pq.ParquetFile(fh)
    wanted = runs & unroutine_filter()
    position = {name: source.schema_arrow.get_field_index(name) for name in ids}
    picked = []  # (row group, its rows a story may keep: the key columns and each row's position)
    for group in range(source.num_row_groups):
        if not all(_may_hold(source.metadata.row_group(group).column(position[name]).statistics, value)
                   for name, value in ids.items()):
            continue  # another run's: skipped on the file's statistics, unread
        keys = source.read_row_group(group, columns=list(STORY_KEYS))
        keys = keys.append_column("row", pa.array(np.arange(keys.num_rows)))
        rows = keys.filter(wanted)
        if rows.num_rows:
            picked.append((group, rows))
    named = credentials_in(value for _, rows in picked
                           for value in rows.filter(lifecycle_filter(()))["credential"].to_pylist())
    pieces = []
    for group, rows in picked:
        taken = rows.filter(lifecycle_filter(named))["row"]
        pieces.append(pa.table([source.read_row_group(group, columns=[name]).column(0).take(taken)
                                for name in source.schema_arrow.names], schema=source.schema_arrow))
    table = pa.concat_tables(pieces) if pieces else source.schema_arrow.empty_table()
    return table.to_pandas()


def _may_hold(statistics: Any, value: Any) -> bool:
    """Whether a row group whose column has these statistics may hold ``value``."""
    if statistics is None or not statistics.has_min_max:
        return True
    return statistics.min <= value <= statistics.max


def with_every_metric(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with a NaN column for each metric it was written without, in metric order, and the
    metric types of today (counts as ``Int64`` in a folder that stored them as floats)."""
    if not all(m in runs.columns for m in METRIC_COLUMNS):
        first = next((i for i, c in enumerate(runs.columns) if c in METRIC_COLUMNS), len(runs.columns))
        after = [c for c in runs.columns[first:] if c not in METRIC_COLUMNS]
        runs = runs.reindex(columns=[*runs.columns[:first], *METRIC_COLUMNS, *after])
    return with_metric_types(runs)


def load_results(folder: str | os.PathLike, scenario: str | None = None, replication: int | None = 0,
                 event_rows: str = "all"):
    """Rebuild a :class:`~nhisim.experiments.Comparison` from a results folder.

    ``scenario`` names the comparison when the folder holds several (one per scenario
    file given to ``compare``). Only the event logs of ``replication`` are read (all of
    them with ``None``); ``event_rows="story"`` reads only their stories
    (:mod:`nhisim.metrics.story`: what a report draws). Returns ``(comparison,
    scenario_file or None)``.
    """
    check_event_rows(event_rows)
    from nhisim.experiments.compare import Comparison

    folder = Path(folder)
    entries = read_meta(folder)
    names = [e["scenario_name"] for e in entries]
    if scenario is None:
        if len(entries) > 1:
            raise InputError.single(f"this folder holds {len(entries)} comparisons: {', '.join(names)}",
                                    file=str(folder), location="--scenario",
                                    suggestion="pick one with --scenario NAME")
        entry = entries[0]
    else:
        if scenario not in names:
            raise InputError.single(f"no comparison of scenario {scenario!r} here", file=str(folder),
                                    location="--scenario", suggestion=did_you_mean(scenario, names, "scenarios"))
        entry = entries[names.index(scenario)]
    model = _scenario(entry, folder)
    try:
        with open(folder / "runs.parquet", "rb") as fh:
            runs = pd.read_parquet(fh)
    except Exception as exc:
        raise InputError.single(f"cannot read runs.parquet: {exc}", file=str(folder / "runs.parquet"),
                                suggestion="re-run `nhisim compare FILE --out DIR`") from None
    runs = with_every_metric(runs)
    strategies = list(entry["strategies"])
    runs = runs[runs["scenario"] == entry["scenario_name"]]
    missing = [s for s in strategies if s not in set(runs["strategy"])]
    if runs.empty or missing:
        raise _bad(folder, f"runs.parquet has no runs of {', '.join(missing) or entry['scenario_name']}",
                   "re-run `nhisim compare FILE --out DIR`")
    order = {s: i for i, s in enumerate(strategies)}
    runs = runs[runs["strategy"].isin(order)].sort_values(
        ["replication", "strategy"], key=lambda col: col.map(order) if col.name == "strategy" else col,
        kind="stable").reset_index(drop=True)
    events = _events(folder, entry["scenario_name"], replication, event_rows, runs)
    horizon = float(model.run.horizon)
    seeds = dict(zip(zip(runs["strategy"], runs["replication"], strict=True), runs["seed"], strict=True))
    for (strategy, rep), frame in events.items():
        frame.attrs.update({"scenario": model.name, "strategy": strategy, "horizon": horizon,
                            "seed": int(seeds.get((strategy, rep), 0))})
    comparison = Comparison(model, strategies, entry["baseline"], int(entry["seed"]), int(entry["replications"]),
                            runs, events)
    return comparison, entry.get("scenario_file")


__all__ = ["META_FILE", "comparison_meta", "comparison_meta_json", "load_results", "read_meta", "write_comparison_meta"]
