"""What every figure shares: the palette, the style, units and labels of metrics, the run clock.

Colours are the Okabe-Ito palette (distinguishable with every common colour-vision
deficiency) and each strategy also has its own marker and line style, so nothing relies
on colour alone. Fonts are large; axes carry units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MultipleLocator

from nhisim import vocabulary
from nhisim.errors import InputError, did_you_mean
from nhisim.reports.format import HEADLINE, label
from nhisim.strategies import preset_names

# Okabe-Ito (Wong 2011, Nature Methods 8:441)
OKABE_ITO = {
    "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73", "yellow": "#F0E442",
    "blue": "#0072B2", "vermillion": "#D55E00", "reddish_purple": "#CC79A7", "black": "#000000",
    "grey": "#999999",
}
# presets take these in their registry order (from most to least standing access: red to green),
# so a preset keeps its colour in every figure; other strategies take the extra colours
_PRESET_COLOURS = ("#D55E00", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#CC79A7")
STRATEGY_COLOURS = dict(zip(preset_names(), _PRESET_COLOURS, strict=False))
_PRESET_ORDER = tuple(STRATEGY_COLOURS)
_EXTRA_COLOURS = tuple(c for c in ("#0072B2", "#CC79A7", "#000000", "#F0E442", "#999999")
                       if c not in STRATEGY_COLOURS.values()) or ("#999999",)
_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "h")
_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1)))

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


def new_figure(width: float, height: float) -> Figure:
    """An empty figure on the Agg canvas: no pyplot state, nothing shown."""
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
            k = len(_PRESET_ORDER) + i
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


_SUFFIXED = {"%": "%", "s": " s", "min": " min", "h": " h", "d": " d"}  # units short enough to follow a number


def in_unit(value: float, scale: tuple[float, str]) -> str:
    """``value`` written in a figure's unit (``scale``, from :func:`metric_scale`): ``"0.25 h"``,
    ``"45%"``, ``"1,250"``; ``∞`` and ``n/a`` as they are. A figure picks its unit once, from its
    data, and uses it for every label and its axis or colour bar."""
    if value is None or math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    divisor, unit = scale
    x = value / divisor
    number = f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"
    return number + _SUFFIXED.get(unit, "")


def axis_label(metric: str, largest: float = math.nan) -> str:
    """``"exposure window (h)"``: the metric's name with the unit it is drawn in."""
    return f"{label(metric)} ({metric_scale(metric, largest)[1]})"


def better_corner(x_metric: str, y_metric: str) -> str:
    """Where the better results sit on an ``x_metric`` × ``y_metric`` plot, e.g. ``better: lower left ↙``."""
    x = "left" if vocabulary.direction(x_metric) == "lower" else "right"
    y = "lower" if vocabulary.direction(y_metric) == "lower" else "upper"
    arrow = {("left", "lower"): "↙", ("right", "lower"): "↘", ("left", "upper"): "↖", ("right", "upper"): "↗"}
    return f"better: {y} {x} {arrow[(x, y)]}"


def finite_max(values: Sequence[float]) -> float:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return max(finite) if finite else math.nan


def check_metrics(metrics: Sequence[str], available: Sequence[str]) -> None:
    for m in metrics:
        if m not in available:
            raise InputError.single(f"unknown metric {m!r}", location="metrics",
                                    suggestion=did_you_mean(m, available, "metrics"))


def run_clock(seconds: float, with_seconds: bool = False) -> str:
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


def clock_axis(ax, start: float, end: float, target_ticks: int = 7) -> None:
    span = max(end - start, 1.0)
    step = next((s for s in _CLOCK_STEPS if span / s <= target_ticks), _CLOCK_STEPS[-1])
    ax.xaxis.set_major_locator(MultipleLocator(step))
    with_seconds = step < 60
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: run_clock(v, with_seconds)))


def one_run(events: Any) -> pd.DataFrame:
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
