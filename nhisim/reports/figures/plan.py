"""A migration plan: which moves reduce the objective most, and the benefit step by step."""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from nhisim.reports.figures.style import (
    DEFENCE,
    OKABE_ITO,
    STYLE,
    axis_label,
    finite_max,
    in_unit,
    metric_scale,
    new_figure,
)
from nhisim.reports.format import label

SHOWN_CANDIDATES = 15


def migration_plan(plan) -> Figure:
    """Left: each candidate move's paired reduction of the objective, with its 95% CI, in rank order
    (the first ``SHOWN_CANDIDATES``). Right: the objective as the first k moves are made cumulatively,
    with the 95% CI of the reduction so far, and the change in task success at each step."""
    ranking, steps, metric = plan.ranking, plan.steps, plan.objective
    shown = ranking.head(SHOWN_CANDIDATES)
    largest = finite_max(list(shown["ci_high"]) + list(steps[metric]))
    divisor, unit = metric_scale(metric, largest)
    with matplotlib.rc_context(STYLE):
        fig = new_figure(16.0, max(5.5, 0.45 * len(shown) + 2.5))
        left, right = fig.subplots(1, 2, width_ratios=[1.0, 1.1])
        y = np.arange(len(shown))[::-1]
        means = shown["reduction"].to_numpy(dtype=float) / divisor
        lo = shown["ci_low"].to_numpy(dtype=float) / divisor
        hi = shown["ci_high"].to_numpy(dtype=float) / divisor
        err = np.vstack([np.where(np.isfinite(lo), means - lo, 0.0), np.where(np.isfinite(hi), hi - means, 0.0)])
        left.barh(y, np.nan_to_num(means), xerr=np.clip(err, 0.0, None), color=DEFENCE, alpha=0.85,
                  error_kw={"capsize": 4, "elinewidth": 1.6})
        left.set_yticks(y, [f"{r}. {c}" for r, c in zip(shown["rank"], shown["candidate"], strict=True)])
        left.axvline(0, color="black", linewidth=1.0)
        left.set_xlabel(f"reduction of {label(metric)} ({unit}), moved alone")
        left.set_title(f"each move alone: {plan.source} → {plan.target}")
        k = steps["step"].to_numpy()
        value = steps[metric].to_numpy(dtype=float) / divisor
        base = value[0]
        low = base - steps["ci_high"].to_numpy(dtype=float) / divisor
        high = base - steps["ci_low"].to_numpy(dtype=float) / divisor
        right.plot(k, value, marker="o", color=DEFENCE, linewidth=2.4, markersize=9, label=label(metric))
        right.fill_between(k, np.nan_to_num(low, nan=base), np.nan_to_num(high, nan=base), color=DEFENCE,
                           alpha=0.18, label="95% CI of the reduction")
        right.set_xticks(k, ["today"] + [f"+{m}" for m in steps["moved"].iloc[1:]], rotation=30, ha="right")
        right.set_ylabel(axis_label(metric, largest))
        right.set_ylim(bottom=0)
        right.set_title("moves made one after another")
        success = steps["task_success_rate_change"].to_numpy(dtype=float) * 100
        twin = right.twinx()
        twin.bar(k, success, width=0.35, color=OKABE_ITO["orange"], alpha=0.6, label="task success change")
        twin.set_ylabel("task success change (points)")
        twin.axhline(0, color=OKABE_ITO["orange"], linewidth=0.8)
        right.set_zorder(twin.get_zorder() + 1)  # the line over the bars
        right.patch.set_visible(False)
        handles = right.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        right.legend(handles=handles, loc="upper right", frameon=False)
        total = steps["reduction"].iloc[-1]
        fig.suptitle(f"{plan.scenario.name}: migration plan by {plan.by} ({plan.replications} paired replications); "
                     f"{len(steps) - 1} moves cut {label(metric)} by {in_unit(total, (divisor, unit))}"
                     + ("" if unit in ("%", "s", "min", "h", "d") else f" {unit}"))
    return fig
