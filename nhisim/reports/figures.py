"""Figures of experiment results (SPEC §8), readable on a projector.

Every function returns a :class:`matplotlib.figure.Figure` drawn on the Agg canvas (no
pyplot state, nothing shown): save it with ``fig.savefig(...)``, or let a notebook
display it. Colours are the Okabe-Ito palette (distinguishable with every common
colour-vision deficiency) and each strategy also has its own marker and line style, so
nothing relies on colour alone. Fonts are large; axes carry units.

- :func:`strategy_comparison`: mean and 95% CI per strategy, one panel per metric;
- :func:`exposure_cdf`: distribution of the exposure window per strategy (log time axis);
- :func:`attack_timeline`: one run's attack, credential by credential;
- :func:`delegation_reach`: the delegation graph with the attacker's reach, one panel per strategy;
- :func:`sweep_heatmap`: two swept parameters → a metric's mean;
- :func:`tradeoff`: security against utility across strategies, with CI bars.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MultipleLocator

from nhisim import vocabulary
from nhisim.errors import InputError, did_you_mean
from nhisim.reports.format import HEADLINE, fmt, label
from nhisim.scenario.units import format_duration

# Okabe-Ito (Wong 2011, Nature Methods 8:441)
OKABE_ITO = {
    "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73", "yellow": "#F0E442",
    "blue": "#0072B2", "vermillion": "#D55E00", "reddish_purple": "#CC79A7", "black": "#000000",
    "grey": "#999999",
}
STRATEGY_COLOURS = {"shared_account": "#D55E00", "rbac": "#E69F00", "zsp": "#56B4E9", "intent": "#009E73"}
_EXTRA_COLOURS = ("#0072B2", "#CC79A7", "#000000", "#F0E442", "#999999")
_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "h")
_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1)))
_PRESET_ORDER = ("shared_account", "rbac", "zsp", "intent")

ATTACK = OKABE_ITO["vermillion"]
HELD = OKABE_ITO["orange"]
DEFENCE = OKABE_ITO["blue"]

STYLE = {
    "font.size": 14,
    "axes.titlesize": 16,
    "axes.labelsize": 14,
    "xtick.labelsize": 13,
    "ytick.labelsize": 13,
    "legend.fontsize": 13,
    "figure.titlesize": 18,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "svg.fonttype": "none",
}

DEFAULT_METRICS = HEADLINE
_TIME_UNITS = ((1.0, "s"), (60.0, "min"), (3600.0, "h"), (86400.0, "d"))


# --------------------------------------------------------------------------- helpers


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def strategy_style(strategies: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Colour, marker and line style of each strategy (presets keep theirs whatever the order)."""
    out: dict[str, dict[str, Any]] = {}
    extra = 0
    for i, name in enumerate(strategies):
        if name in STRATEGY_COLOURS:
            colour = STRATEGY_COLOURS[name]
            k = _PRESET_ORDER.index(name)
        else:
            colour = _EXTRA_COLOURS[extra % len(_EXTRA_COLOURS)]
            extra += 1
            k = 4 + i
        out[name] = {"color": colour, "marker": _MARKERS[k % len(_MARKERS)],
                     "linestyle": _LINESTYLES[k % len(_LINESTYLES)]}
    return out


def time_unit(seconds: float) -> tuple[float, str]:
    """A readable unit for durations up to ``seconds``: (divisor, name)."""
    if not math.isfinite(seconds) or seconds <= 120:
        return _TIME_UNITS[0]
    if seconds <= 2 * 3600:
        return _TIME_UNITS[1]
    if seconds <= 3 * 86400:
        return _TIME_UNITS[2]
    return _TIME_UNITS[3]


def metric_scale(metric: str, largest: float = math.nan) -> tuple[float, str]:
    """Divisor and unit text for plotting ``metric`` whose largest value is ``largest``."""
    kind = vocabulary.kind(metric)
    if kind == "seconds":
        return time_unit(largest if math.isfinite(largest) else 0.0)
    if kind == "share":
        return 0.01, "%"
    if kind == "value_time":  # stored in value × s; hours read better on an axis
        return 3600.0, "value × h"
    known = vocabulary.BY_NAME.get(metric)
    return 1.0, known.unit if known is not None else "per run"


def axis_label(metric: str, largest: float = math.nan) -> str:
    """``"exposure window (h)"``: the metric's name with the unit it is drawn in."""
    return f"{label(metric)} ({metric_scale(metric, largest)[1]})"


def _finite_max(values: Sequence[float]) -> float:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return max(finite) if finite else math.nan


def _check_metrics(metrics: Sequence[str], available: Sequence[str]) -> None:
    for m in metrics:
        if m not in available:
            raise InputError.single(f"unknown metric {m!r}", location="metrics",
                                    suggestion=did_you_mean(m, available, "metrics"))


def _clock(seconds: float, with_seconds: bool = False) -> str:
    """``"06:04"`` or ``"1d 02:10"``: time in the run as a clock."""
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(int(round(seconds)), 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    text = f"{h:02d}:{m:02d}" + (f":{s:02d}" if with_seconds else "")
    return sign + (f"{days}d {text}" if days else text)


_CLOCK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
                2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400)


def _clock_axis(ax, start: float, end: float, target_ticks: int = 7) -> None:
    span = max(end - start, 1.0)
    step = next((s for s in _CLOCK_STEPS if span / s <= target_ticks), _CLOCK_STEPS[-1])
    ax.xaxis.set_major_locator(MultipleLocator(step))
    with_seconds = step < 60
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _clock(v, with_seconds)))


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
    _check_metrics(metrics, METRIC_COLUMNS)
    summary = comparison.summary(metrics, level=level)
    strategies = list(comparison.strategies)
    styles = strategy_style(strategies)
    n = len(metrics)
    ncols = ncols or min(4, n)
    nrows = math.ceil(n / ncols)
    width_per = max(4.2, 0.95 * len(strategies) + 1.6)
    with matplotlib.rc_context(STYLE):
        fig = _figure(width_per * ncols, 4.3 * nrows + 1.0)
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
    largest = _finite_max(list(means) + list(highs))
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

    _check_metrics([metric], METRIC_COLUMNS)
    if not metric.endswith("_s"):
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
        fig = _figure(15, 6.5)
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


# --------------------------------------------------------------------------- attack timeline


def _one_run(events: Any) -> pd.DataFrame:
    frame = getattr(events, "events", events)
    if frame is None:
        raise InputError.single("this run kept no event log", suggestion="run it with keep_events=True")
    if not isinstance(frame, pd.DataFrame):
        raise InputError.single("expected one run's event log (a DataFrame or a RunResult)")
    for col in ("strategy", "replication", "scenario"):
        if col in frame.columns and frame[col].nunique(dropna=True) > 1:
            raise InputError.single(f"these events hold several runs ({col} takes "
                                    f"{frame[col].nunique()} values)",
                                    suggestion="pass one run: comparison.run_events[(strategy, replication)]")
    return frame.reset_index(drop=True)


def _run_meta(ev: pd.DataFrame) -> dict[str, Any]:
    meta = dict(ev.attrs)
    for col in ("strategy", "scenario", "replication"):
        if col not in meta and col in ev.columns and len(ev):
            meta[col] = ev[col].iloc[0]
    return meta


def _short_kind(kind: str) -> str:
    return str(kind).replace("_", " ")


def attack_timeline(events: Any, benign: bool = False, max_benign: int = 12, incident: str | None = None,
                    title: str | None = None) -> Figure:
    """One run's attack, told credential by credential.

    ``events`` is one run's event log (``RunResult.events``, or
    ``comparison.run_events[(strategy, replication)]``). One row per credential the
    attacker held: its whole lifetime (issue → expiry or revocation effective) in grey,
    the part the attacker could use in orange; malicious requests on it as ▲ (allowed)
    and ✕ (denied); vertical lines for the compromise and the detection; ◆ where the
    response revoked it (grey ◆: revoked by its own lifecycle, e.g. at task end) and | where
    that revocation had reached every enforcement point. A hijacked agent's steering
    window is a row of its own. ``benign=True`` adds up to ``max_benign`` other
    credentials alive during the attack; ``incident`` keeps one incident of several.
    """
    from nhisim.metrics.lifecycle import RunLog

    ev = _one_run(events)
    meta = _run_meta(ev)
    log = RunLog(ev)
    horizon = float(meta.get("horizon", log.horizon))
    issued = ev[(ev["event"] == "issue") & (ev["decision"].astype(str) == "allow")]
    issue_info = {c: (t, str(k), s) for c, t, k, s in zip(issued["credential"], issued["t"], issued["code"],
                                                           issued["principal"], strict=True)}
    ends = log.credential_end
    incidents = log.incidents
    acquires = ev[ev["event"] == "acquire"]
    requests = ev[(ev["event"] == "request") & ev["malicious"].astype(bool)]
    detects = ev[ev["event"] == "detect"]
    revokes = ev[ev["event"] == "revoke"]
    quarantines = ev[ev["event"] == "quarantine"]
    if incident is not None:
        if incident not in incidents:
            raise InputError.single(f"no incident {incident!r} in this run", location="incident",
                                    suggestion=did_you_mean(incident, incidents, "incidents"))
        incidents = {incident: incidents[incident]}
        acquires, requests, detects, quarantines = (frame[frame["incident"] == incident] for frame in
                                                    (acquires, requests, detects, quarantines))

    rows: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for incident in incidents.values():
        for h in incident.holdings:
            if h.credential == "(steered agent)":
                key = f"steer:{incident.id}"
                host = ev.loc[(ev["event"] == "compromise") & (ev["incident"] == incident.id), "principal"]
                who = host.iloc[0] if len(host) else incident.id
                rows.append({"key": key, "label": f"{who} steered ({incident.kind.replace('_', ' ')})",
                             "life": (h.start, h.end), "held": (h.start, h.end), "useful": True, "attack": True})
                index[key] = len(rows) - 1
    for row in acquires.itertuples(index=False):
        cred = row.credential
        if cred in index:
            continue
        t0, kind, subject = issue_info.get(cred, (row.t, str(row.code), row.principal))
        end = ends.get(cred, math.inf)
        holding = next((h for i in incidents.values() for h in i.holdings if h.credential == cred), None)
        held_end = holding.end if holding is not None else end
        useful = bool(row.value and row.value > 0)
        rows.append({"key": cred, "label": f"{cred} · {_short_kind(kind)} of {subject}", "life": (t0, end),
                     "held": (row.t, held_end), "useful": useful, "attack": True,
                     "why": "" if useful else _useless_reason(str(row.reason))})
        index[cred] = len(rows) - 1
    for cred in requests["credential"].dropna().unique():
        if cred not in index:
            t0, kind, subject = issue_info.get(cred, (float(requests["t"].min()), "credential", "?"))
            rows.append({"key": cred, "label": f"{cred} · {_short_kind(kind)} of {subject}",
                         "life": (t0, ends.get(cred, math.inf)), "held": None, "useful": True, "attack": True})
            index[cred] = len(rows) - 1

    marks = [t for i in incidents.values() for t in (i.start, i.detected)] + list(revokes.loc[
        revokes["credential"].isin(index), "until"].dropna()) + list(quarantines["t"])
    attack_ends = [r["held"][1] for r in rows if r["held"] is not None]
    finite_marks = [t for t in marks + attack_ends if math.isfinite(t)]
    if rows:
        starts = [r["life"][0] for r in rows] + [i.start for i in incidents.values()]
        lo = min(starts)
        cap = max(horizon, *(finite_marks or [horizon]))
        cap = min(cap, max(7 * horizon, lo + 1))
        hi = max([t for t in finite_marks if t <= cap] + [lo + 60.0])
        if lo > 0 and lo < 0.25 * (hi - lo):
            lo = 0.0
    else:
        lo, hi = 0.0, horizon

    if benign:
        alive = [(c, info) for c, info in issue_info.items() if c not in index and info[0] <= hi
                 and ends.get(c, math.inf) >= lo and info[1] != "workload_identity"]
        alive.sort(key=lambda item: (-(min(ends.get(item[0], math.inf), hi) - max(item[1][0], lo)), item[0]))
        for cred, (t0, kind, subject) in alive[:max_benign]:
            rows.append({"key": cred, "label": f"{cred} · {_short_kind(kind)} of {subject}",
                         "life": (t0, ends.get(cred, math.inf)), "held": None, "useful": False, "attack": False})
            index[cred] = len(rows) - 1

    span = max(hi - lo, 1.0)
    left, right = lo - 0.03 * span, hi + 0.06 * span
    min_width = 0.004 * (right - left)  # a 5-minute token stays visible on a two-day axis
    n = max(len(rows), 1)
    present: dict[str, Any] = {}
    with matplotlib.rc_context(STYLE):
        fig = _figure(14, 3.2 + 0.62 * n + 1.2)
        ax = fig.add_subplot()
        for y, r in enumerate(rows):
            a, b = r["life"]
            b_draw = min(b, right)
            ax.barh(y, max(b_draw - max(a, left), min_width), left=max(a, left), height=0.56, color="#DDDDDD",
                    edgecolor="#888888", linewidth=0.8)
            present["life"] = Patch(facecolor="#DDDDDD", edgecolor="#888888", label="credential lifetime")
            if b > right:
                ax.annotate(f"→ {'never expires' if math.isinf(b) else 'until ' + _clock(b)}",
                            (right, y), xytext=(-4, 14), textcoords="offset points", ha="right", va="center",
                            fontsize=11, color="#444444")
            if r["held"] is not None and r["useful"]:
                ha, hb = r["held"]
                hb_draw = min(hb, right)
                if hb_draw >= ha:
                    ax.barh(y, max(hb_draw - ha, min_width), left=ha, height=0.56, color=HELD, alpha=0.75, edgecolor=ATTACK,
                            linewidth=1.2)
                    present["held"] = Patch(facecolor=HELD, alpha=0.75, edgecolor=ATTACK,
                                            label="usable by the attacker")
                    if hb > right:
                        ax.annotate("usable " + ("forever" if math.isinf(hb) else f"until {_clock(hb)}") + " →",
                                    (right, y), xytext=(-4, -14), textcoords="offset points", ha="right",
                                    va="center", fontsize=11, color=ATTACK)
            elif r["held"] is not None:
                ax.plot([r["held"][0]], [y], marker="o", markersize=10, markerfacecolor="white",
                        markeredgecolor=ATTACK, markeredgewidth=2, linestyle="")
                ax.annotate(f"stolen, but {r.get('why') or 'it grants no access by itself'}", (r["held"][0], y),
                            xytext=(10, 12), textcoords="offset points", fontsize=11, color=ATTACK)
                present["useless"] = Line2D([], [], marker="o", markersize=10, markerfacecolor="white",
                                            markeredgecolor=ATTACK, markeredgewidth=2, linestyle="",
                                            label="stolen but useless")
        # malicious requests
        for decision, marker, colour, text in (("allow", "^", ATTACK, "malicious request allowed"),
                                               ("deny", "x", "black", "malicious request denied")):
            sel = requests[(requests["decision"].astype(str) == decision) if decision == "allow"
                           else (requests["decision"].astype(str) != "allow")]
            sel = sel[sel["credential"].isin(index)]
            if len(sel):
                ys = [index[c] + (0.0 if decision == "allow" else 0.0) for c in sel["credential"]]
                ax.scatter(sel["t"], ys, marker=marker, s=70, color=colour, zorder=5, linewidths=2)
                present[decision] = Line2D([], [], marker=marker, color=colour, linestyle="", markersize=9,
                                           markeredgewidth=2, label=f"{text} ({len(sel)})")
        # response: revocations and their propagation
        mine = revokes[revokes["credential"].isin(index)]
        for row in mine.itertuples(index=False):
            y = index[row.credential]
            eff = row.until if not (isinstance(row.until, float) and math.isnan(row.until)) else row.t
            response = str(row.code) == "response"
            colour = DEFENCE if response else "#555555"
            ax.plot([row.t, eff], [y, y], color=colour, linewidth=2.5, zorder=6)
            ax.plot([row.t], [y], marker="D", color=colour, markersize=10, zorder=7, linestyle="")
            ax.plot([eff], [y], marker="|", color=DEFENCE, markersize=26, markeredgewidth=3.5, zorder=7,
                    linestyle="")
            key = "revoke" if response else "revoke_lifecycle"
            present[key] = Line2D([], [], marker="D", color=colour, linestyle="", markersize=9,
                                  label="revoked by the response" if response else "revoked (lifecycle, e.g. task end)")
            present["effective"] = Line2D([], [], marker="|", color=DEFENCE, linestyle="", markersize=18,
                                          markeredgewidth=3, label="revocation effective everywhere")
        top_labels, bottom_labels = [], []
        for i in incidents.values():
            ax.axvline(i.start, color=ATTACK, linewidth=2.5)
            top_labels.append((i.start, f"compromise ({i.id})"))
            present["compromise"] = Line2D([], [], color=ATTACK, linewidth=2.5, label="compromise")
        for row in detects.itertuples(index=False):
            if row.t <= right:
                ax.axvline(row.t, color=DEFENCE, linewidth=2.5, linestyle="--")
                bottom_labels.append((row.t, f"detected ({row.incident})"))
                present["detect"] = Line2D([], [], color=DEFENCE, linewidth=2.5, linestyle="--",
                                           label="detection" + (" (projected)" if str(row.code) == "projected"
                                                                else ""))
        for row in quarantines.itertuples(index=False):
            ax.axvline(row.t, color=OKABE_ITO["reddish_purple"], linewidth=2.5, linestyle="-.")
            present["quarantine"] = Line2D([], [], color=OKABE_ITO["reddish_purple"], linewidth=2.5,
                                           linestyle="-.", label="quarantine")
        _staggered(ax, top_labels, left, right, ATTACK, top=True)
        _staggered(ax, bottom_labels, left, right, DEFENCE, top=False)
        if left <= horizon <= right:
            ax.axvline(horizon, color="#555555", linewidth=1.8, linestyle=":")
            present["horizon"] = Line2D([], [], color="#555555", linewidth=1.8, linestyle=":",
                                        label="end of simulated time (beyond: projected)")
        ax.set_yticks(range(len(rows)), [r["label"] for r in rows])
        ax.set_ylim(len(rows) - 0.4 if rows else 0.6, -0.8)
        ax.set_xlim(left, right)
        _clock_axis(ax, left, right)
        ax.set_xlabel("time in the run (day hh:mm)")
        ax.set_ylabel("credential")
        ax.grid(axis="x", alpha=0.3)
        if not incidents:
            ax.text(0.5, 0.5, "no compromise in this run", transform=ax.transAxes, ha="center", va="center",
                    fontsize=16, color="#555555")
        if present:
            fig.legend(handles=list(present.values()), loc="outside lower center", ncols=min(3, len(present)),
                       frameon=False, fontsize=12)
        strategy = meta.get("strategy", "")
        who = f" under {strategy}" if strategy else ""
        seed = meta.get("seed")
        fig.suptitle(title or f"Attack timeline: {meta.get('scenario', '')}{who}"
                     + (f" (seed {seed})" if seed is not None else ""))
    return fig


def _staggered(ax, labels: list[tuple[float, str]], left: float, right: float, colour: str, top: bool) -> None:
    """Labels of vertical lines, each on the first level where it overlaps no other (about 7.5 px a character).

    A label that would run past the right edge is put on the left of its line.
    """
    width_px = max(ax.get_window_extent().width, 1.0)
    per_char = 7.5 / width_px * (right - left)
    levels: list[list[tuple[float, float]]] = []
    for x, text in sorted(labels):
        width = per_char * (len(text) + 2)
        a, b, ha = (x, x + width, "left") if x + width <= right else (x - width, x, "right")
        level = next((k for k, spans in enumerate(levels) if all(b < s0 or a > s1 for s0, s1 in spans)), len(levels))
        if level == len(levels):
            levels.append([])
        levels[level].append((a, b))
        y = (1.0 + 0.075 * level) if top else (0.01 + 0.075 * level)
        ax.text(x, y, f" {text} " if ha == "left" else f"{text} ", transform=ax.get_xaxis_transform(), ha=ha,
                va="bottom", fontsize=11, color=colour, clip_on=False,
                bbox={"boxstyle": "square,pad=0.05", "fc": "white", "ec": "none", "alpha": 0.8})


def _useless_reason(reason: str) -> str:
    if "sender" in reason:
        return "sender-constrained: useless to the attacker"
    if "already" in reason:
        return "already expired or revoked"
    return "it grants no access by itself"


# --------------------------------------------------------------------------- delegation graph + reach


def _events_by_strategy(source: Any, replication: int, strategies: Sequence[str] | None) -> dict[str, pd.DataFrame]:
    if hasattr(source, "run_events") and hasattr(source, "strategies"):
        names = list(strategies or source.strategies)
        out = {}
        for name in names:
            frame = source.run_events.get((name, replication))
            if frame is None:
                raise InputError.single(f"no event log for {name!r}, replication {replication}",
                                        suggestion="compare with keep_events=True, or pick another replication")
            out[name] = frame
        return out
    if isinstance(source, Mapping):
        return {k: getattr(v, "events", v) for k, v in source.items() if not strategies or k in strategies}
    if isinstance(source, pd.DataFrame):
        frame = source
        if "replication" in frame.columns:
            frame = frame[frame["replication"] == replication]
        if "strategy" not in frame.columns:
            name = frame.attrs.get("strategy", "run")
            return {name: frame}
        names = list(strategies or dict.fromkeys(frame["strategy"]))
        return {name: frame[frame["strategy"] == name] for name in names}
    items = list(source) if isinstance(source, Sequence) else [source]
    out = {}
    for item in items:
        name = getattr(item, "strategy", None) or item.events.attrs.get("strategy", "run")
        if not strategies or name in strategies:
            out[name] = item.events
    return out


def _reach_graph(scenario):
    """Agents, shared accounts and resources; delegation, holding and role-reach edges."""
    import networkx as nx

    from nhisim.world import build_graph

    g = build_graph(scenario)
    h = nx.DiGraph()
    agents = [n for n, t in g.nodes(data="type") if t == "agent"]
    accounts = [n for n, t in g.nodes(data="type") if t == "shared_account"]
    resources = [n for n, t in g.nodes(data="type") if t == "resource"]
    for n in agents + accounts + resources:
        h.add_node(n, **{k: v for k, v in g.nodes[n].items() if isinstance(v, (str, int, float, bool))})
    for u, v, d in g.edges(data=True):
        t = d.get("type")
        if t == "may_delegate_to" and u in h and v in h:
            h.add_edge(u, v, type="delegate")
        elif t == "holds" and g.nodes[v].get("type") == "shared_account":
            h.add_edge(u, v, type="holds")
    for p in agents + accounts:
        reached = set()
        for _, role, d in g.out_edges(p, data=True):
            if d.get("type") != "has_role":
                continue
            for _, res, d2 in g.out_edges(role, data=True):
                if d2.get("type") == "grants":
                    reached.add(res)
        for res in sorted(reached):
            if not h.has_edge(p, res):
                h.add_edge(p, res, type="reach")
    return h, agents, accounts, resources


def _reach_layout(h, agents: list[str], accounts: list[str], resources: list[str]) -> dict[str, tuple[float, float]]:
    import networkx as nx

    delegation = nx.DiGraph((u, v) for u, v, d in h.edges(data=True) if d["type"] == "delegate")
    delegation.add_nodes_from(agents)
    depth = dict.fromkeys(agents, 0)
    if nx.is_directed_acyclic_graph(delegation):
        for node in nx.topological_sort(delegation):
            for succ in delegation.successors(node):
                depth[succ] = max(depth[succ], depth[node] + 1)
    columns: dict[int, list[str]] = {}
    for a in agents:
        columns.setdefault(depth[a], []).append(a)
    last = max(columns, default=-1)
    if accounts:
        last += 1
        columns[last] = list(accounts)
    columns[last + 1] = sorted(resources, key=lambda r: (-float(h.nodes[r].get("sensitivity_weight", 0)), r))
    pos: dict[str, tuple[float, float]] = {}
    for x, col in sorted(columns.items()):
        for i, node in enumerate(col):
            pos[node] = (float(x), 1.0 - (i + 1) / (len(col) + 1))
    for _ in range(3):  # order principals by the mean height of what they reach (fewer crossings)
        for x, col in sorted(columns.items()):
            if x == last + 1:
                continue

            def bary(n: str) -> float:
                ys = [pos[m][1] for m in h.successors(n)] + [pos[m][1] for m in h.predecessors(n)]
                return -sum(ys) / len(ys) if ys else 0.0

            col.sort(key=lambda n: (bary(n), n))
            for i, node in enumerate(col):
                pos[node] = (float(x), 1.0 - (i + 1) / (len(col) + 1))
    return pos


def _principal_node(name: Any, h) -> str | None:
    if not isinstance(name, str) or not name:
        return None
    for prefix in ("agent:", "shared_account:"):
        if prefix + name in h:
            return prefix + name
    return None


def attacker_reach(events: pd.DataFrame, h) -> dict[str, Any]:
    """What the attacker touched in one run: principals used, resources reached or attempted."""
    ev = events
    mal = ev[(ev["event"] == "request") & ev["malicious"].astype(bool)]
    allowed = mal[mal["decision"].astype(str) == "allow"]
    denied = mal[mal["decision"].astype(str) != "allow"]
    used: set[str] = set()
    for col in ("principal", "presenter"):
        for name in mal[col].dropna().unique():
            node = _principal_node(name, h)
            if node:
                used.add(node)
    compromised: set[str] = set()
    for name in ev.loc[ev["event"].isin(("compromise", "acquire")), "principal"].dropna().unique():
        node = _principal_node(name, h)
        if node:
            compromised.add(node)
    reached_edges = set()
    for p, pres, res in zip(allowed["principal"], allowed["presenter"], allowed["resource"], strict=True):
        node = _principal_node(p, h) or _principal_node(pres, h)
        if node and f"resource:{res}" in h:
            reached_edges.add((node, f"resource:{res}"))
    denied_edges = set()
    for p, pres, res in zip(denied["principal"], denied["presenter"], denied["resource"], strict=True):
        node = _principal_node(p, h) or _principal_node(pres, h)
        if node and f"resource:{res}" in h and (node, f"resource:{res}") not in reached_edges:
            denied_edges.add((node, f"resource:{res}"))
    reached = {f"resource:{r}" for r in allowed["resource"].dropna().unique() if f"resource:{r}" in h}
    attempted = {f"resource:{r}" for r in denied["resource"].dropna().unique() if f"resource:{r}" in h} - reached
    blast = float(allowed.drop_duplicates(["action", "resource"])["value"].sum()) if len(allowed) else 0.0
    return {"used": used, "compromised": compromised, "reached": reached, "attempted": attempted,
            "reached_edges": reached_edges, "denied_edges": denied_edges, "blast_radius": blast,
            "compromise": bool((ev["event"] == "compromise").any())}


def delegation_reach(scenario, source: Any, replication: int = 0, strategies: Sequence[str] | None = None,
                     ncols: int | None = None, labels: bool | None = None, max_agents: int | None = 16) -> Figure:
    """The delegation graph with the attacker's reach overlaid: one panel per strategy.

    Columns, left to right: agents by delegation depth, shared accounts, resources (most
    sensitive at the top). Grey lines are what each principal's roles reach; blue arrows
    ``may_delegate_to``; dashed lines an agent holding a shared account's key. Over that,
    for one replication of each strategy: the identities the attacker acted as (red ring),
    the resources it reached (filled vermillion, thick red line from the identity it used)
    and the ones it tried and was denied (black ring, dotted line).

    ``source`` is a :class:`~nhisim.experiments.Comparison`, a mapping
    ``{strategy: events or RunResult}``, a list of RunResults, or an events DataFrame with
    ``strategy`` (and ``replication``) columns. An estate with more than ``max_agents``
    agents is drawn around the attack: the agents the attacker acted as, in any panel,
    and their delegation neighbours (``max_agents=None`` draws every agent).
    """
    import networkx as nx

    runs = _events_by_strategy(source, replication, strategies)
    if not runs:
        raise InputError.single("no runs to draw", suggestion="pass a Comparison or {strategy: events}")
    h, agents, accounts, resources = _reach_graph(scenario)
    reaches = {name: attacker_reach(_one_run(events), h) for name, events in runs.items()}
    note = ""
    if max_agents is not None and len(agents) > max_agents:
        kept = _focus(h, agents, accounts, reaches, max_agents)
        if len(kept) < len(agents):
            note = (f" · {len(kept)} of {len(agents)} agents shown: those the attacker acted as and their "
                    "delegation links")
            h = h.subgraph(kept + accounts + resources).copy()
            agents = [a for a in agents if a in set(kept)]
    pos = _reach_layout(h, agents, accounts, resources)
    n = len(runs)
    ncols = ncols or min(2, n)
    nrows = math.ceil(n / ncols)
    tallest = max(sum(1 for p in pos.values() if p[0] == x) for x in {p[0] for p in pos.values()}) if pos else 1
    n_cols_graph = len({p[0] for p in pos.values()}) or 1
    labels = (h.number_of_nodes() <= 120) if labels is None else labels
    panel_w = max(7.0, 2.3 * n_cols_graph)
    panel_h = max(5.0, 0.42 * tallest + 1.8)
    font = 12 if tallest <= 14 else (10 if tallest <= 30 else 8)
    node_size = 520 if tallest <= 14 else (300 if tallest <= 30 else 140)
    with matplotlib.rc_context(STYLE):
        fig = _figure(panel_w * ncols, panel_h * nrows + 1.6)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for k, strategy in enumerate(runs):
            ax = axes[k // ncols][k % ncols]
            reach = reaches[strategy]
            _draw_reach(ax, nx, h, pos, agents, accounts, resources, reach, labels, font, node_size)
            n_res = len(resources)
            if reach["compromise"]:
                sub = (f"reached {len(reach['reached'])} of {n_res} resources · "
                       f"blast radius {fmt('blast_radius', reach['blast_radius'])}")
            else:
                sub = "no compromise in this run"
            ax.set_title(f"{strategy}\n{sub}", fontsize=15)
        for k in range(n, nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        handles = [
            Line2D([], [], marker="s", color=OKABE_ITO["sky_blue"], markeredgecolor="black", linestyle="",
                   markersize=12, label="agent"),
            Line2D([], [], marker="o", color="#E0E0E0", markeredgecolor="black", linestyle="", markersize=12,
                   label="resource"),
            Line2D([], [], marker="o", color=ATTACK, markeredgecolor="black", linestyle="", markersize=12,
                   label="reached by the attacker"),
            Line2D([], [], marker="o", color="#E0E0E0", markeredgecolor="black", markeredgewidth=3, linestyle="",
                   markersize=12, label="tried, denied"),
            Line2D([], [], marker="s", color=OKABE_ITO["sky_blue"], markeredgecolor=ATTACK, markeredgewidth=3.5,
                   linestyle="", markersize=12, label="identity the attacker used"),
            Line2D([], [], color=DEFENCE, linewidth=2.5, label="may delegate to"),
            Line2D([], [], color="#AAAAAA", linewidth=1.5, label="role grants access"),
            Line2D([], [], color=ATTACK, linewidth=4, label="attacker's successful access"),
        ]
        if accounts:
            handles.insert(1, Line2D([], [], marker="D", color=OKABE_ITO["reddish_purple"], markeredgecolor="black",
                                     linestyle="", markersize=12, label="shared account"))
            handles.insert(7, Line2D([], [], color="#666666", linewidth=1.8, linestyle="--",
                                     label="holds shared key"))
        fig.legend(handles=handles, loc="outside lower center", ncols=min(5, len(handles)), frameon=False,
                   fontsize=12)
        fig.suptitle(f"{scenario.name}: delegation graph and the attacker's reach (replication {replication})"
                     + ("\n" + note.strip(" ·") if note else ""))
    return fig


def _focus(h, agents: list[str], accounts: list[str], reaches: dict[str, dict], max_agents: int) -> list[str]:
    """The agents worth drawing in a big estate: those the attacker acted as, then their delegation neighbours."""
    involved: list[str] = []
    for reach in reaches.values():
        for node in sorted(reach["used"] | reach["compromised"]):
            if node in agents and node not in involved:
                involved.append(node)
    kept = list(involved)
    delegate = [(u, v) for u, v, d in h.edges(data=True) if d["type"] == "delegate"]
    for node in involved:
        for u, v in delegate:
            other = v if u == node else u if v == node else None
            if other is not None and other not in kept:
                kept.append(other)
    if not kept:  # no compromise anywhere: the delegating agents, then the rest
        kept = list(dict.fromkeys([u for u, _ in delegate] + [v for _, v in delegate] + agents))[:max_agents]
    return kept


def _draw_reach(ax, nx, h, pos, agents, accounts, resources, reach, labels, font, node_size) -> None:
    ax.set_axis_off()
    edges = {t: [(u, v) for u, v, d in h.edges(data=True) if d["type"] == t] for t in ("reach", "delegate", "holds")}
    nx.draw_networkx_edges(h, pos, edgelist=edges["reach"], ax=ax, edge_color="#BBBBBB", width=1.2, arrows=False,
                           alpha=0.7)
    nx.draw_networkx_edges(h, pos, edgelist=edges["holds"], ax=ax, edge_color="#666666", width=1.8, style="--",
                           arrows=False)
    nx.draw_networkx_edges(h, pos, edgelist=edges["delegate"], ax=ax, edge_color=DEFENCE, width=2.5, arrows=True,
                           arrowstyle="-|>", arrowsize=20, connectionstyle="arc3,rad=0.15", node_size=node_size)
    if reach["denied_edges"]:
        nx.draw_networkx_edges(h, pos, edgelist=sorted(reach["denied_edges"]), ax=ax, edge_color="black", width=1.8,
                               style=":", arrows=False)
    if reach["reached_edges"]:
        nx.draw_networkx_edges(h, pos, edgelist=sorted(reach["reached_edges"]), ax=ax, edge_color=ATTACK, width=4.0,
                               arrows=False)
    used = reach["used"] | reach["compromised"]
    for nodes, shape, colour in ((agents, "s", OKABE_ITO["sky_blue"]), (accounts, "D", OKABE_ITO["reddish_purple"])):
        if not nodes:
            continue
        nx.draw_networkx_nodes(h, pos, nodelist=nodes, ax=ax, node_shape=shape, node_color=colour,
                               node_size=node_size, edgecolors=[ATTACK if n in used else "black" for n in nodes],
                               linewidths=[3.5 if n in used else 0.8 for n in nodes])
    colours = [ATTACK if r in reach["reached"] else "#E0E0E0" for r in resources]
    widths = [3.0 if r in reach["attempted"] else 0.8 for r in resources]
    nx.draw_networkx_nodes(h, pos, nodelist=resources, ax=ax, node_shape="o", node_color=colours,
                           node_size=node_size, edgecolors="black", linewidths=widths)
    if labels:
        for node, (x, y) in pos.items():
            d = h.nodes[node]
            text = d.get("label", node.split(":", 1)[-1])
            if d.get("type") == "resource" and d.get("sensitivity"):
                text += f" ({d['sensitivity']})"
            bold = node in used or node in reach["reached"]
            right = d.get("type") == "resource"  # the last column: labels to the right, clear of the next node
            ax.annotate(text, (x, y), xytext=(12, 0) if right else (0, -14 if node_size >= 300 else -10),
                        textcoords="offset points", ha="left" if right else "center",
                        va="center" if right else "top", fontsize=font, fontweight="bold" if bold else "normal",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75})
    xs = [p[0] for p in pos.values()] or [0]
    ax.set_xlim(min(xs) - 0.45, max(xs) + (1.3 if labels else 0.45))
    ax.set_ylim(-0.04, 1.02)


# --------------------------------------------------------------------------- sweep heat map

_DURATION_HINTS = ("ttl", "delay", "rotation", "horizon", "latency", "duration", "window", "time", "_s", "cache")


def _param_text(name: str, value: Any) -> str:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        v = float(value)
        if any(hint in name.lower() for hint in _DURATION_HINTS) and math.isfinite(v) and v >= 0:
            return format_duration(v)
        return "∞" if math.isinf(v) else f"{v:g}"
    return str(value)


def sweep_heatmap(df: pd.DataFrame, x: str, y: str, metric: str, strategy: str | Sequence[str] | None = None,
                  annotate: bool = True, cmap: str = "viridis") -> Figure:
    """Mean of ``metric`` over a grid of two swept parameters, one panel per strategy.

    ``df`` is a sweep's runs table: parameter columns (``x`` and ``y``), ``strategy`` and
    metric columns, one row per run. Cells hold the mean over the runs that share the
    pair (and strategy); NaN cells (no run had a meaningful value) are grey and say
    ``n/a``; an infinite mean is drawn in the top colour and says ``∞``. All panels share
    one colour scale (viridis: ordered, colour-blind safe, readable in grey).
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
    xs = _axis_values(frame[x])
    ys = _axis_values(frame[y])
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
    div, unit = metric_scale(metric, largest)
    vmin = float(finite.min()) / div if finite.size else 0.0
    vmax = float(finite.max()) / div if finite.size else 1.0
    if vmax <= vmin:
        vmax = vmin + 1.0
    n = len(names)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    cell_w = max(0.9, min(1.6, 9.0 / max(len(xs), 1)))
    with matplotlib.rc_context(STYLE):
        fig = _figure(max(6.5, cell_w * len(xs) + 3.0) * ncols, max(4.8, 0.75 * len(ys) + 2.6) * nrows)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        colormap = matplotlib.colormaps[cmap].with_extremes(bad="#D9D9D9")
        image = None
        for k, name in enumerate(names):
            ax = axes[k // ncols][k % ncols]
            grid = grids[name]
            shown = np.where(np.isinf(grid), vmax * div, grid) / div
            image = ax.imshow(np.ma.masked_invalid(shown), origin="lower", aspect="auto", cmap=colormap,
                              vmin=vmin, vmax=vmax)
            ax.set_xticks(range(len(xs)), [_param_text(x, v) for v in xs],
                          rotation=30 if len(xs) > 5 else 0, ha="right" if len(xs) > 5 else "center")
            ax.set_yticks(range(len(ys)), [_param_text(y, v) for v in ys])
            ax.set_xlabel(x)
            ax.set_ylabel(y)
            ax.set_title(name if name is not None else label(metric))
            if annotate and len(xs) * len(ys) <= 200:
                for i in range(len(ys)):
                    for j in range(len(xs)):
                        v = grid[i, j]
                        level = 0.5 if not math.isfinite(v) else (shown[i, j] - vmin) / (vmax - vmin)
                        colour = "black" if (math.isnan(v) or level > 0.55) else "white"
                        ax.text(j, i, fmt(metric, v), ha="center", va="center", fontsize=13, color=colour)
        for k in range(n, nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        if image is not None:
            bar = fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.9)
            bar.set_label(axis_label(metric, largest))
        fig.suptitle(f"{label(metric)} (mean) by {x} × {y}")
    return fig


def _axis_values(column: pd.Series) -> list[Any]:
    """A parameter's values in a sensible order: numbers and durations ("5m" < "1h") ascending,
    other text in the order the sweep lists it (its grid order)."""
    values = list(dict.fromkeys(column.dropna()))
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


# --------------------------------------------------------------------------- security vs utility


def tradeoff(comparison, security: str = "blast_radius", utility: str = "legit_denied", level: float = 0.95) -> Figure:
    """Security against utility across strategies: one point per strategy with CI bars.

    ``security`` (y) and ``utility`` (x) are metric columns, e.g. blast radius against
    legitimate requests denied (friction), or against task success rate. The arrow in the
    corner points to where the better strategies sit. Strategies whose points coincide
    share one label.
    """
    from nhisim.metrics import METRIC_COLUMNS

    _check_metrics([security, utility], METRIC_COLUMNS)
    summary = comparison.summary([security, utility], level=level).set_index(["strategy", "metric"])
    strategies = list(comparison.strategies)
    styles = strategy_style(strategies)
    xs_all = [summary.loc[(s, utility)] for s in strategies]
    ys_all = [summary.loc[(s, security)] for s in strategies]
    x_div, _ = metric_scale(utility, _finite_max([r["ci_high"] for r in xs_all] + [r["mean"] for r in xs_all]))
    y_div, _ = metric_scale(security, _finite_max([r["ci_high"] for r in ys_all] + [r["mean"] for r in ys_all]))
    with matplotlib.rc_context(STYLE):
        fig = _figure(12.5, 7.0)
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
        for (x, y), names in placed.items():
            ax.annotate(", ".join(names), (x, y), xytext=(12, 10), textcoords="offset points", fontsize=14,
                        fontweight="bold")
        ax.set_xlabel(axis_label(utility, _finite_max([r["ci_high"] for r in xs_all] + [r["mean"] for r in xs_all])))
        ax.set_ylabel(axis_label(security, _finite_max([r["ci_high"] for r in ys_all] + [r["mean"] for r in ys_all])))
        _pad_limits(ax, extents, {"x": vocabulary.kind(utility) == "share", "y": vocabulary.kind(security) == "share"})
        better_x = "left" if vocabulary.direction(utility) == "lower" else "right"
        better_y = "lower" if vocabulary.direction(security) == "lower" else "upper"
        arrow = {("left", "lower"): "↙", ("right", "lower"): "↘", ("left", "upper"): "↖", ("right", "upper"): "↗"}
        ax.grid(alpha=0.3)
        legend = ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                           title=f"better: {better_y} {better_x} {arrow[(better_x, better_y)]}")
        legend.get_title().set_fontweight("bold")
        ax.set_title(f"{comparison.scenario.name}: security vs utility\n({label(security)} against {label(utility)}; "
                     f"mean and {level:.0%} CI)")
    return fig


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


__all__ = [
    "OKABE_ITO", "STRATEGY_COLOURS", "attack_timeline", "attacker_reach", "axis_label", "delegation_reach",
    "exposure_cdf", "metric_scale", "strategy_comparison", "strategy_style", "sweep_heatmap", "time_unit",
    "tradeoff",
]
