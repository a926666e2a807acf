"""A sweep's heat map: two swept parameters → a metric's mean."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from nhisim.errors import InputError, did_you_mean
from nhisim.experiments.store import twin_columns
from nhisim.reports.figures.style import (
    STYLE,
    axis_label,
    better_corner,
    finite_max,
    in_unit,
    metric_scale,
    new_figure,
    strategy_style,
)
from nhisim.reports.format import label
from nhisim.scenario.units import format_duration, format_quantity

_DURATION_HINTS = ("ttl", "delay", "rotation", "horizon", "latency", "duration", "window", "time", "_s", "cache")


def _param_text(name: str, value: Any, unit: str | None) -> str:
    """A tick label: the value as the sweep wrote it, a number in its unit (from the sweep's manifest;
    a frame without one is read by the parameter's name)."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        v = float(value)
        if unit is None:
            unit = "duration" if any(hint in name.lower() for hint in _DURATION_HINTS) and v >= 0 else ""
        if math.isinf(v) and unit != "duration":
            return "∞"
        return format_duration(v) if unit == "duration" else format_quantity(v, unit)
    return str(value)


def _units(df: pd.DataFrame) -> dict[str, str]:
    """Each swept path's unit, from the manifest a sweep's results carry (``df.attrs["sweep"]``)."""
    return {p["path"]: p.get("unit", "") for p in (df.attrs.get("sweep") or {}).get("parameters", [])}


def sweep_heatmap(df: pd.DataFrame, x: str, y: str, metric: str, strategy: str | Sequence[str] | None = None,
                  annotate: bool = True, cmap: str = "viridis") -> Figure:
    """Mean of ``metric`` over a grid of two swept parameters, one panel per strategy.

    ``df`` is a sweep's runs table: parameter columns (``x`` and ``y``), ``strategy`` and
    metric columns, one row per run. Cells hold the mean over the runs that share the
    pair (and strategy); NaN cells (no run had a meaningful value) are grey and say
    ``n/a``; an infinite mean is drawn in the top colour and says ``∞``. All panels share
    one colour scale (viridis: ordered, colour-blind safe, readable in grey), and every cell
    is written in the unit of its colour bar, chosen once from the data.

    A parameter written as text (``5m``, ``1h``) is ordered by its numeric twin
    (``strategies.zsp.ttl_s``) when the results have one, else by the durations it reads as.
    """
    missing = [c for c in (x, y, metric) if c not in df.columns]
    if missing:
        raise InputError.single(f"column {missing[0]!r} is not in the sweep results", location="sweep_heatmap",
                                suggestion=did_you_mean(missing[0], df.columns, "columns"))
    frame = df
    if "strategy" in frame.columns:
        if strategy is None:
            names = list(dict.fromkeys(frame["strategy"]))
        else:
            names = [strategy] if isinstance(strategy, str) else list(strategy)
            for name in names:
                if name not in set(frame["strategy"]):
                    raise InputError.single(f"no runs of strategy {name!r}", location="sweep_heatmap",
                                            suggestion=did_you_mean(name, frame["strategy"].unique(), "strategies"))
    else:
        names = [None]
    xs = _axis_values(frame, x)
    ys = _axis_values(frame, y)
    units = _units(df)
    grids = {}
    for name in names:
        sub = frame if name is None else frame[frame["strategy"] == name]
        values = sub[metric].astype(float)
        means = values.groupby([sub[y], sub[x]]).mean()
        grid = np.full((len(ys), len(xs)), np.nan)
        for (yv, xv), m in means.items():
            grid[ys.index(yv), xs.index(xv)] = m
        grids[name] = grid
    finite = np.concatenate([g[np.isfinite(g)] for g in grids.values()]) if grids else np.array([])
    largest = float(finite.max()) if finite.size else math.nan
    scale = metric_scale(metric, largest)  # one unit for the colour bar and every cell
    div = scale[0]
    vmin = float(finite.min()) / div if finite.size else 0.0
    vmax = float(finite.max()) / div if finite.size else 1.0
    if vmax <= vmin:
        vmax = vmin + 1.0
    n = len(names)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    cell_w = max(0.9, min(1.6, 9.0 / max(len(xs), 1)))
    with matplotlib.rc_context(STYLE):
        fig = new_figure(max(6.5, cell_w * len(xs) + 3.0) * ncols, max(4.8, 0.75 * len(ys) + 2.6) * nrows)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        colormap = matplotlib.colormaps[cmap].with_extremes(bad="#D9D9D9")
        image = None
        for k, name in enumerate(names):
            ax = axes[k // ncols][k % ncols]
            grid = grids[name]
            shown = np.where(np.isinf(grid), vmax * div, grid) / div
            image = ax.imshow(np.ma.masked_invalid(shown), origin="lower", aspect="auto", cmap=colormap,
                              vmin=vmin, vmax=vmax)
            ax.set_xticks(range(len(xs)), [_param_text(x, v, units.get(x)) for v in xs],
                          rotation=30 if len(xs) > 5 else 0, ha="right" if len(xs) > 5 else "center")
            ax.set_yticks(range(len(ys)), [_param_text(y, v, units.get(y)) for v in ys])
            ax.set_xlabel(x)
            ax.set_ylabel(y)
            ax.set_title(name if name is not None else label(metric))
            if annotate and len(xs) * len(ys) <= 200:
                for i in range(len(ys)):
                    for j in range(len(xs)):
                        v = grid[i, j]
                        level = 0.5 if not math.isfinite(v) else (shown[i, j] - vmin) / (vmax - vmin)
                        colour = "black" if (math.isnan(v) or level > 0.55) else "white"
                        ax.text(j, i, in_unit(v, scale), ha="center", va="center", fontsize=13, color=colour)
        for k in range(n, nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        if image is not None:
            bar = fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.9)
            bar.set_label(f"{label(metric)} ({scale[1]})")
        fig.suptitle(f"{label(metric)} (mean) by {x} × {y}")
    return fig


def _axis_values(frame: pd.DataFrame, name: str) -> list[Any]:
    """A parameter's values in a sensible order: by its numeric twin when the results have one,
    numbers and durations ("5m" < "1h") ascending, other text in the order the sweep lists it."""
    values = list(dict.fromkeys(frame[name].dropna()))
    twins = {path: twin for twin, path in twin_columns((frame.attrs.get("sweep") or {}).get("parameters", [])).items()}
    twin = twins.get(name) or next((name + s for s in ("_s", "_per_s") if name + s in frame.columns), None)
    if twin is not None and twin in frame.columns:
        numbers = frame.drop_duplicates(name).set_index(name)[twin]
        keys: list[float | None] = [float(numbers[v]) if v in numbers.index else None for v in values]
    else:
        keys = [_numeric(v) for v in values]
    if all(k is not None for k in keys):
        return [v for _, v in sorted(zip(keys, values, strict=True), key=lambda item: item[0])]
    return values


def _numeric(value: Any) -> float | None:
    from nhisim.scenario.units import parse_duration

    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(parse_duration(value))
        except Exception:  # not a duration: keep the sweep's order
            return None
    return None


def sweep_tradeoff(df: pd.DataFrame, security: str = "blast_radius", utility: str = "legit_denied") -> Figure:
    """Security against utility at every point of a sweep: one marker per point and strategy.

    Each marker is the mean over the point's replications; a strategy keeps its colour and
    marker, so the cloud of one strategy shows what the swept values buy it. Points whose
    mean is not a finite number are left out and counted in the legend.
    """
    missing = [c for c in (security, utility, "strategy") if c not in df.columns]
    if missing:
        raise InputError.single(f"column {missing[0]!r} is not in the sweep results", location="sweep_tradeoff",
                                suggestion=did_you_mean(missing[0], df.columns, "columns"))
    keys = ["strategy", "point"] if "point" in df.columns else ["strategy"]
    means = df.groupby(keys, sort=False)[[security, utility]].mean().reset_index()
    strategies = list(dict.fromkeys(df["strategy"]))
    styles = strategy_style(strategies)
    x_div, _ = metric_scale(utility, finite_max(means[utility].tolist()))
    y_div, _ = metric_scale(security, finite_max(means[security].tolist()))
    with matplotlib.rc_context(STYLE):
        fig = new_figure(12.5, 7.0)
        ax = fig.add_subplot()
        for strategy in strategies:
            own = means[means["strategy"] == strategy]
            finite = own[np.isfinite(own[security].astype(float)) & np.isfinite(own[utility].astype(float))]
            left_out = len(own) - len(finite)
            style = styles[strategy]
            ax.plot(finite[utility] / x_div, finite[security] / y_div, marker=style["marker"], color=style["color"],
                    linestyle="", markersize=12, markeredgecolor="black", alpha=0.85,
                    label=strategy + (f" ({left_out} point{'s' if left_out > 1 else ''} n/a)" if left_out else ""))
        ax.set_xlabel(axis_label(utility, finite_max(means[utility].tolist())))
        ax.set_ylabel(axis_label(security, finite_max(means[security].tolist())))
        ax.grid(alpha=0.3)
        legend = ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                           title=better_corner(utility, security))
        legend.get_title().set_fontweight("bold")
        ax.set_title(f"security vs utility at each point\n({label(security)} against {label(utility)}; "
                     "mean over replications)")
    return fig
