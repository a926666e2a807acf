"""Figures of experiment results, readable on a projector.

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
- :func:`sweep_tradeoff`: security against utility at every point of a sweep;
- :func:`tradeoff`: security against utility across strategies, with CI bars;
- :func:`migration_plan`: a migration plan's ranked moves and its cumulative steps.

One module per kind of figure (:mod:`.comparison`, :mod:`.timeline`, :mod:`.reach`,
:mod:`.sweep`) and what they share (:mod:`.style`); every public name is importable from
here.
"""

from __future__ import annotations

from nhisim.reports.figures.comparison import exposure_cdf, strategy_comparison, tradeoff
from nhisim.reports.figures.plan import migration_plan
from nhisim.reports.figures.reach import attacker_reach, delegation_reach
from nhisim.reports.figures.style import (
    ATTACK,
    DEFAULT_METRICS,
    DEFENCE,
    HELD,
    OKABE_ITO,
    STRATEGY_COLOURS,
    STYLE,
    axis_label,
    metric_scale,
    strategy_style,
    time_unit,
)
from nhisim.reports.figures.sweep import sweep_heatmap, sweep_tradeoff
from nhisim.reports.figures.timeline import attack_timeline

__all__ = [
    "ATTACK", "DEFAULT_METRICS", "DEFENCE", "HELD", "OKABE_ITO", "STRATEGY_COLOURS", "STYLE", "attack_timeline",
    "attacker_reach", "axis_label", "delegation_reach", "exposure_cdf", "metric_scale", "migration_plan",
    "strategy_comparison",
    "strategy_style", "sweep_heatmap", "sweep_tradeoff", "time_unit", "tradeoff",
]
