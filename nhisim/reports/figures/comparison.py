"""Figures of a comparison's results: strategies compared, the exposure CDF, security against utility."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from nhisim import vocabulary
from nhisim.errors import InputError
from nhisim.reports.figures.style import (
    DEFAULT_METRICS,
    STYLE,
    axis_label,
    better_corner,
    check_metrics,
    finite_max,
    metric_scale,
    new_figure,
    strategy_style,
)
from nhisim.reports.format import fmt, label
from nhisim.scenario.units import format_duration

# --------------------------------------------------------------------------- strategy comparison


def strategy_comparison(comparison, metrics: Sequence[str] | None = None, level: float = 0.95,
                        ncols: int | None = None) -> Figure:
    """Mean and confidence interval of each metric per strategy: one panel per metric.

    Bars are means over replications; error bars the ``level`` Student-t interval. A
    ``*`` above a bar marks a paired difference against the baseline that is significant
    at that level. A metric with no meaning in any run (no compromise) says ``n/a``; an
    infinite mean is drawn to the top of its panel and labelled ``∞``.
    """
    from nhisim.metrics import METRIC_COLUMNS

    metrics = list(metrics or DEFAULT_METRICS)
    check_metrics(metrics, METRIC_COLUMNS)
    summary = comparison.summary(metrics, level=level)
    strategies = list(comparison.strategies)
    styles = strategy_style(strategies)
    n = len(metrics)
    ncols = ncols or min(4, n)
    nrows = math.ceil(n / ncols)
    width_per = max(4.2, 0.95 * len(strategies) + 1.6)
    with matplotlib.rc_context(STYLE):
        fig = new_figure(width_per * ncols, 4.3 * nrows + 1.0)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for k, metric in enumerate(metrics):
            ax = axes[k // ncols][k % ncols]
            rows = summary[summary["metric"] == metric].set_index("strategy").reindex(strategies)
            _comparison_panel(ax, metric, rows, strategies, styles, comparison.baseline)
        for k in range(n, nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        fig.suptitle(f"{comparison.scenario.name}: strategies compared ({comparison.replications} paired "
                     f"replications, mean and {level:.0%} CI)")
        fig.text(0.5, 0.0, f"* significantly different from the baseline {comparison.baseline} "
                           f"(paired {level:.0%} CI of the difference excludes 0)",
                 ha="center", va="bottom", fontsize=12, color="#444444")
        fig.get_layout_engine().set(h_pad=0.25)
    return fig


def _comparison_panel(ax, metric: str, rows: pd.DataFrame, strategies: list[str], styles, baseline: str) -> None:
    means = rows["mean"].astype(float).to_numpy()
    lows = rows["ci_low"].astype(float).to_numpy()
    highs = rows["ci_high"].astype(float).to_numpy()
    largest = finite_max(list(means) + list(highs))
    div, unit = metric_scale(metric, largest)
    x = np.arange(len(strategies))
    top_data = largest / div if math.isfinite(largest) else 1.0
    share = vocabulary.kind(metric) == "share"
    direction = vocabulary.direction(metric)
    if share:
        top_data = 100.0
    top = top_data * 1.22 if top_data > 0 else 1.0
    for i, strategy in enumerate(strategies):
        style = styles[strategy]
        mean, lo, hi = means[i], lows[i], highs[i]
        if math.isnan(mean):
            ax.text(i, top * 0.04, "n/a", ha="center", va="bottom", fontsize=13, color="#555555")
            continue
        hatch = "//" if strategy == baseline else None
        if math.isinf(mean):
            ax.bar(i, top * 0.92, color=style["color"], edgecolor="black", hatch="xx", alpha=0.6)
            ax.text(i, top * 0.93, "∞", ha="center", va="bottom", fontsize=16)
            continue
        height = mean / div
        ax.bar(i, height, color=style["color"], edgecolor="black", linewidth=0.8, hatch=hatch)
        if not (math.isnan(lo) or math.isnan(hi)) and hi > lo:
            lo_c, hi_c = lo, hi
            if share:
                lo_c, hi_c = max(lo, 0.0), min(hi, 1.0)
            ax.errorbar(i, height, yerr=[[max(height - lo_c / div, 0)], [max(hi_c / div - height, 0)]],
                        color="black", capsize=6, linewidth=1.6, capthick=1.6)
            text_y = hi_c / div
        else:
            text_y = height
        mark = " *" if rows["better"].iloc[i] in ("better", "worse") and strategy != baseline else ""
        mark = "" if direction == "neutral" else mark
        ax.text(i, text_y + top * 0.02, fmt(metric, mean) + mark, ha="center", va="bottom", fontsize=12)
    ax.set_xticks(x, [s + ("\n(baseline)" if s == baseline else "") for s in strategies],
                  rotation=30 if len(strategies) > 3 else 0, ha="right" if len(strategies) > 3 else "center",
                  rotation_mode="anchor")
    ax.set_ylim(0, top)
    ax.set_xlim(-0.6, len(strategies) - 0.4)
    ax.set_title(label(metric) + {"neutral": "", "lower": " ↓", "higher": " ↑"}[direction])
    ax.set_ylabel(unit)
    ax.grid(axis="y", alpha=0.3)


# --------------------------------------------------------------------------- exposure CDF

_CDF_TICKS = ((1, "≤1 s"), (60, "1 min"), (3600, "1 h"), (86400, "1 d"), (7 * 86400, "1 w"),
              (30 * 86400, "30 d"), (365 * 86400, "1 y"))


def exposure_cdf(comparison, metric: str = "exposure_window_s", floor: float = 1.0) -> Figure:
    """Empirical CDF of the exposure window over replications, one step line per strategy.

    The time axis is logarithmic. Windows shorter than ``floor`` (including 0 s: the
    attacker never held anything usable) are drawn at the floor, labelled ``≤1 s``. Runs
    without a compromise (NaN) are left out and counted in the legend; runs whose window
    never closed (∞) keep the curve below 1 and are counted too. The dotted line is the
    simulated horizon: values beyond it are projected from the run's own draws.
    """
    from nhisim.metrics import METRIC_COLUMNS

    check_metrics([metric], METRIC_COLUMNS)
    if vocabulary.kind(metric) != "seconds":
        raise InputError.single(f"{metric!r} is not a duration", location="metric",
                                suggestion="use exposure_window_s, time_to_detect_s, time_to_revoke_s or "
                                           "time_to_contain_s")
    strategies = list(comparison.strategies)
    styles = strategy_style(strategies)
    runs = comparison.runs
    horizon = float(comparison.scenario.run.horizon)
    all_finite = runs[metric].replace([np.inf], np.nan).dropna()
    right = max(float(all_finite.max()) if len(all_finite) else 0.0, horizon) * 3.0
    right = max(right, floor * 100)
    with matplotlib.rc_context(STYLE):
        fig = new_figure(15, 6.5)
        ax = fig.add_subplot()
        any_data = False
        for strategy in strategies:
            style = styles[strategy]
            values = runs.loc[runs["strategy"] == strategy, metric].astype(float).to_numpy()
            valid = values[~np.isnan(values)]
            n, n_inf = len(valid), int(np.isinf(valid).sum())
            if n == 0:
                ax.plot([], [], color=style["color"], linestyle=style["linestyle"], linewidth=3,
                        label=f"{strategy}: no compromise in any run")
                continue
            any_data = True
            steps, counts = np.unique(np.clip(valid[np.isfinite(valid)], floor, None), return_counts=True)
            reached = np.cumsum(counts) / n
            xs = np.concatenate([[floor], steps, [right]])
            ys = np.concatenate([[0.0], reached, [reached[-1] if len(reached) else 0.0]])
            text = f"{strategy} (n={n})" + (f", {n_inf} never closed (∞)" if n_inf else "")
            ax.step(xs, ys, where="post", color=style["color"], linestyle=style["linestyle"], linewidth=3,
                    label=text, marker=style["marker"], markevery=list(range(1, len(xs) - 1)),
                    markersize=7)
        ax.axvline(horizon, color="#555555", linestyle=":", linewidth=2,
                   label=f"simulated horizon ({format_duration(horizon)}); beyond: projected")
        ax.set_xscale("log")
        ax.set_xlim(floor * 0.8, right)
        ax.set_ylim(-0.02, 1.05)
        ticks = [(v, t) for v, t in _CDF_TICKS if floor <= v <= right]
        ax.set_xticks([v for v, _ in ticks], [t for _, t in ticks])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlabel(f"{label(metric)} (log scale)")
        ax.set_ylabel("share of runs with a compromise")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0%}"))
        ax.grid(alpha=0.3)
        if not any_data:
            ax.text(0.5, 0.5, "no compromise in any run:\nthe exposure window is undefined", transform=ax.transAxes,
                    ha="center", va="center", fontsize=15, color="#555555")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        ax.set_title(f"{comparison.scenario.name}: how long the attacker's access stayed usable "
                     f"({label(metric)}, CDF)")
    return fig


# --------------------------------------------------------------------------- security vs utility


def tradeoff(comparison, security: str = "blast_radius", utility: str = "legit_denied", level: float = 0.95) -> Figure:
    """Security against utility across strategies: one point per strategy with CI bars.

    ``security`` (y) and ``utility`` (x) are metric columns, e.g. blast radius against
    legitimate requests denied (friction), or against task success rate. The arrow in the
    corner points to where the better strategies sit. Strategies whose points coincide
    share one label.
    """
    from nhisim.metrics import METRIC_COLUMNS

    check_metrics([security, utility], METRIC_COLUMNS)
    summary = comparison.summary([security, utility], level=level).set_index(["strategy", "metric"])
    strategies = list(comparison.strategies)
    styles = strategy_style(strategies)
    xs_all = [summary.loc[(s, utility)] for s in strategies]
    ys_all = [summary.loc[(s, security)] for s in strategies]
    x_div, _ = metric_scale(utility, finite_max([r["ci_high"] for r in xs_all] + [r["mean"] for r in xs_all]))
    y_div, _ = metric_scale(security, finite_max([r["ci_high"] for r in ys_all] + [r["mean"] for r in ys_all]))
    with matplotlib.rc_context(STYLE):
        fig = new_figure(12.5, 7.0)
        ax = fig.add_subplot()
        placed: dict[tuple[float, float], list[str]] = {}
        extents: dict[str, list[float]] = {"x": [], "y": []}
        for strategy, xr, yr in zip(strategies, xs_all, ys_all, strict=True):
            style = styles[strategy]
            xm, ym = float(xr["mean"]), float(yr["mean"])
            if not (math.isfinite(xm) and math.isfinite(ym)):
                why = "∞" if (math.isinf(xm) or math.isinf(ym)) else "n/a"
                ax.plot([], [], marker=style["marker"], color=style["color"], linestyle="", markersize=13,
                        label=f"{strategy} ({why}: not drawn)")
                continue
            xerr = _err(xr, xm, utility)
            yerr = _err(yr, ym, security)
            ax.errorbar(xm / x_div, ym / y_div,
                        xerr=None if xerr is None else [[xerr[0] / x_div], [xerr[1] / x_div]],
                        yerr=None if yerr is None else [[yerr[0] / y_div], [yerr[1] / y_div]],
                        marker=style["marker"], color=style["color"], markersize=15, markeredgecolor="black",
                        capsize=7, linewidth=2.2, elinewidth=2.2, linestyle="", label=strategy)
            placed.setdefault((round(xm / x_div, 9), round(ym / y_div, 9)), []).append(strategy)
            extents["x"].append((xm + (xerr[1] if xerr else 0.0)) / x_div)
            extents["y"].append((ym + (yerr[1] if yerr else 0.0)) / y_div)
        for (x, y), names in _merge_close(placed, extents).items():
            ax.annotate(", ".join(names), (x, y), xytext=(12, 10), textcoords="offset points", fontsize=14,
                        fontweight="bold")
        ax.set_xlabel(axis_label(utility, finite_max([r["ci_high"] for r in xs_all] + [r["mean"] for r in xs_all])))
        ax.set_ylabel(axis_label(security, finite_max([r["ci_high"] for r in ys_all] + [r["mean"] for r in ys_all])))
        _pad_limits(ax, extents, {"x": vocabulary.kind(utility) == "share", "y": vocabulary.kind(security) == "share"})
        ax.grid(alpha=0.3)
        legend = ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                           title=better_corner(utility, security))
        legend.get_title().set_fontweight("bold")
        ax.set_title(f"{comparison.scenario.name}: security vs utility\n({label(security)} against {label(utility)}; "
                     f"mean and {level:.0%} CI)")
    return fig


def _merge_close(placed: dict[tuple[float, float], list[str]], extents: dict[str, list[float]],
                 within: float = 0.03) -> dict[tuple[float, float], list[str]]:
    """Points closer than ``within`` of each axis's span share one label (their names joined), so
    labels of near-coincident strategies do not print over each other."""
    spans = {axis: (max(values, default=0.0) or 1.0) for axis, values in extents.items()}
    merged: dict[tuple[float, float], list[str]] = {}
    for (x, y), names in placed.items():
        for (mx, my), into in merged.items():
            if abs(mx - x) <= within * spans["x"] and abs(my - y) <= within * spans["y"]:
                into.extend(names)
                break
        else:
            merged[(x, y)] = list(names)
    return merged


def _err(row: pd.Series, mean: float, metric: str) -> tuple[float, float] | None:
    lo, hi = float(row["ci_low"]), float(row["ci_high"])
    if math.isnan(lo) or math.isnan(hi) or not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    if vocabulary.kind(metric) == "share":
        lo, hi = max(lo, 0.0), min(hi, 1.0)
    return max(mean - lo, 0.0), max(hi - mean, 0.0)


def _pad_limits(ax, extents: dict[str, list[float]], shares: dict[str, bool]) -> None:
    """Axes from 0 (every metric here is non-negative) to a little beyond the largest bar end."""
    for axis, set_ in (("x", ax.set_xlim), ("y", ax.set_ylim)):
        values = [v for v in extents[axis] if math.isfinite(v)]
        top = max(values, default=0.0)
        if shares[axis]:
            set_(-8.0, 108.0)
            continue
        span = top if top > 0 else 1.0
        set_(-0.08 * span, top + 0.22 * span)
