"""Sensitivity indices of a sampled sweep, through SALib.

A sweep sampled with ``sobol`` gives Sobol indices (first order ``S1``: the share of the
metric's variance one parameter explains alone; total ``ST``: with all its interactions);
one sampled with ``morris`` gives Morris elementary effects (``mu_star``: mean absolute
effect, ``sigma``: spread, a sign of non-linearity or interactions). The model output of a
point is the metric's mean over its replications (common random numbers, so noise is
shared across points). Indices are computed per strategy, and per combination of grid
values when a grid was crossed with the sample.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nhisim.errors import InputError, did_you_mean
from nhisim.metrics import METRIC_COLUMNS

METHODS = ("sobol", "morris")
INDEX_COLUMNS = {"sobol": ("S1", "S1_conf", "ST", "ST_conf"), "morris": ("mu", "mu_star", "mu_star_conf", "sigma")}


def _sweep_info(runs: pd.DataFrame, sample: Mapping[str, Any] | None) -> tuple[dict, list[str]]:
    manifest = runs.attrs.get("sweep") or {}
    info = dict(sample or manifest.get("sample") or {})
    if not info:
        raise InputError.single("sensitivity needs a sweep sampled with --sample sobol or --sample morris",
                                location="--sensitivity", suggestion="add --sample sobol --n 16 --bounds PATH=LO:HI")
    if info.get("method") not in METHODS:
        raise InputError.single(f"sensitivity indices need a sobol or morris sample, not {info.get('method')!r}",
                                location="--sensitivity",
                                suggestion="use --sample sobol (Sobol indices) or --sample morris (elementary effects)")
    grid = [p["path"] for p in manifest.get("parameters", []) if p.get("kind") == "grid"]
    return info, grid


def design_matrix(info: Mapping[str, Any]) -> np.ndarray:
    """The sample design of a sweep (regenerated from its method, size, seed and bounds)."""
    from nhisim.experiments.sweep import Parameter, _sample_matrix

    params = [Parameter(name, "sample", low=lo, high=hi) for name, (lo, hi) in zip(info["names"], info["bounds"],
                                                                                   strict=True)]
    return np.asarray(_sample_matrix(info["method"], int(info["n"]), params, int(info["seed"])), dtype=float)


def sensitivity(runs: pd.DataFrame, metric: str, *, sample: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Sensitivity indices of ``metric`` for each strategy (and grid combination) of a sampled sweep.

    ``runs`` is what :func:`~nhisim.experiments.sweep.sweep` (or
    :func:`~nhisim.experiments.store.read_runs`) returned; its ``attrs["sweep"]`` says how
    it was sampled (or pass ``sample``: method, n, seed, names, bounds). Returns one row per
    (strategy, parameter) with ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (Sobol) or ``mu``,
    ``mu_star``, ``mu_star_conf``, ``sigma`` (Morris), and a ``note``: ``NaN at k/m points``
    where the indices cannot be computed (the metric has no meaning at some points, e.g. no
    compromise, or their runs failed), ``constant`` where they are zero because the metric
    does not vary across the sample, and a warning where the indices cannot be trusted
    (:func:`index_warnings`: a Sobol index outside [0, 1] or with an interval wider than
    itself, a metric that barely varies).
    """
    if metric not in METRIC_COLUMNS:
        raise InputError.single(f"unknown metric {metric!r}", location="--sensitivity",
                                suggestion=did_you_mean(metric, METRIC_COLUMNS, "metrics"))
    info, grid = _sweep_info(runs, sample)
    method = info["method"]
    names = list(info["names"])
    problem = {"num_vars": len(names), "names": names, "bounds": [list(b) for b in info["bounds"]]}
    X = design_matrix(info)
    m = len(X)
    rows: list[dict[str, Any]] = []
    strategies = list(dict.fromkeys(runs["strategy"])) if len(runs) else []
    groups = runs.groupby(grid, sort=False, dropna=False) if grid else [((), runs)]
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        labels = dict(zip(grid, key, strict=True))
        for strategy in strategies:
            own = group[group["strategy"] == strategy]
            means = own.groupby("point")[metric].mean()
            base = (int(means.index.min()) // m) * m if len(means) else 0
            y = means.reindex(range(base, base + m)).to_numpy(dtype=float, na_value=np.nan)
            rows.extend(_analyse(method, problem, X, y, strategy, labels, info))
    columns = ["strategy", *grid, "parameter", *INDEX_COLUMNS[method], "note"]
    table = pd.DataFrame(rows, columns=columns)
    table.attrs["sensitivity"] = {"metric": metric, "method": method, "grid": grid}
    return table


def _analyse(method: str, problem: dict, X: np.ndarray, y: np.ndarray, strategy: str, labels: dict,
             info: Mapping[str, Any]) -> list[dict[str, Any]]:
    names = problem["names"]
    base = {"strategy": strategy, **labels}
    missing = int(np.isnan(y).sum())
    if missing:
        note = f"NaN at {missing}/{len(y)} points"  # no meaning there (no compromise), or the runs failed
        return [{**base, "parameter": p, **dict.fromkeys(INDEX_COLUMNS[method], math.nan), "note": note}
                for p in names]
    if float(np.var(y)) == 0.0:
        note = "constant"  # the metric does not vary across the sample
        return [{**base, "parameter": p, **dict.fromkeys(INDEX_COLUMNS[method], 0.0), "note": note} for p in names]
    seed = int(info.get("seed", 0)) % (2**32)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if method == "sobol":
            from SALib.analyze import sobol

            result = sobol.analyze(problem, y, calc_second_order=bool(info.get("calc_second_order", False)),
                                   seed=seed)
        else:
            from SALib.analyze import morris

            result = morris.analyze(problem, X, y, num_levels=int(info.get("num_levels", 4)), seed=seed)
    near_constant = float(np.std(y)) <= 1e-6 * max(float(np.abs(y).max()), 1e-300)
    out = []
    for i, p in enumerate(names):
        values = {c: float(np.asarray(result[c])[i]) for c in INDEX_COLUMNS[method]}
        warnings_ = index_warnings(method, values)
        if near_constant:
            warnings_.insert(0, "the metric barely varies across the sample: the indices describe noise")
        out.append({**base, "parameter": p, **values, "note": "; ".join(warnings_)})
    return out


def index_warnings(method: str, values: Mapping[str, float]) -> list[str]:
    """What makes a row of indices untrustworthy, in words (empty when nothing does).

    Sobol indices are shares of variance, so an estimate outside [0, 1], or a confidence
    interval wider than the estimate itself, says the sample is too small (or the output
    too noisy) to estimate them; likewise a Morris ``mu_star`` whose interval is wider
    than itself.
    """
    out = []
    if method == "sobol":
        for index in ("S1", "ST"):
            value, conf = values[index], values[f"{index}_conf"]
            if math.isnan(value):
                continue
            if value > 1 or value < 0:
                out.append(f"{index} = {value:.2f} is outside [0, 1]")
            elif not math.isnan(conf) and conf > abs(value):
                out.append(f"{index}'s interval (±{conf:.2f}) is wider than {index} itself")
    else:
        mu_star, conf = values["mu_star"], values["mu_star_conf"]
        if not math.isnan(conf) and not math.isnan(mu_star) and conf > abs(mu_star):
            out.append(f"mu_star's interval (±{conf:.3g}) is wider than mu_star itself")
    if out:
        out.append("too few sample points for trustworthy indices: raise --n (or the replications)")
    return out


def sensitivity_figure(table: pd.DataFrame, metric: str | None = None):
    """A bar chart of the indices: Sobol S1 and ST side by side, or Morris mu* with its interval.

    Returns a :class:`matplotlib.figure.Figure` (no pyplot state is touched).
    """
    from matplotlib.figure import Figure

    meta = table.attrs.get("sensitivity", {})
    metric = metric or meta.get("metric", "")
    method = meta.get("method") or ("sobol" if "S1" in table.columns else "morris")
    grid = meta.get("grid", [])
    series = table.assign(series=table.apply(
        lambda r: " · ".join([str(r["strategy"]), *(f"{g}={r[g]}" for g in grid)]), axis=1))
    labels = list(dict.fromkeys(series["series"]))
    params = list(dict.fromkeys(series["parameter"]))
    panels = [("S1", "S1_conf", "first order S1"), ("ST", "ST_conf", "total ST")] if method == "sobol" else \
        [("mu_star", "mu_star_conf", "mu* (mean |elementary effect|)")]
    fig = Figure(figsize=(max(5.0, 1.6 + 1.2 * len(params) * max(1, len(labels)) / 2), 3.6 * len(panels)),
                 layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    width = 0.8 / max(1, len(labels))
    x = np.arange(len(params))
    for ax, (col, conf, title) in zip(axes, panels, strict=True):
        for j, label in enumerate(labels):
            part = series[series["series"] == label].set_index("parameter").reindex(params)
            values = part[col].to_numpy(dtype=float)
            errors = np.nan_to_num(part[conf].to_numpy(dtype=float))
            ax.bar(x + (j - (len(labels) - 1) / 2) * width, np.nan_to_num(values), width, yerr=errors,
                   capsize=2, label=label)
        ax.set_xticks(x, params, rotation=15, ha="right")
        ax.set_ylabel(title)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_title(f"{'Sobol' if method == 'sobol' else 'Morris'} sensitivity of {metric}", fontsize=10)
    if labels:
        axes[0].legend(fontsize=8, frameon=False)
    return fig


def save_sensitivity(table: pd.DataFrame, out: str | os.PathLike, metric: str | None = None) -> tuple[Path, Path]:
    """Write ``sensitivity-<metric>.csv`` and ``.png`` into ``out`` (atomically); return their paths."""
    from nhisim.files import write_whole

    metric = metric or table.attrs.get("sensitivity", {}).get("metric", "metric")
    out = Path(out)
    csv_path = out / f"sensitivity-{metric}.csv"
    png_path = out / f"sensitivity-{metric}.png"
    write_whole(csv_path, table.to_csv(index=False))
    import io

    buffer = io.BytesIO()
    sensitivity_figure(table, metric).savefig(buffer, format="png", dpi=120)
    write_whole(png_path, buffer.getvalue())
    return csv_path, png_path


__all__: Sequence[str] = ["design_matrix", "save_sensitivity", "sensitivity", "sensitivity_figure"]
