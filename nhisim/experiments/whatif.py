"""What-if: the same scenario before and after one change, paired run by run.

::

    result = nhisim.whatif("scenarios/leaked_key.yaml", set={"strategies.zsp.ttl": "1h"}, replications=30)
    result.summary()          # per strategy and metric: before, after, the paired change and its 95% CI

The change is any mix of values set by dotted path (what ``--set`` takes) and edits of
the estate (:data:`EDIT_KINDS`: a delegation permission, a role of an agent, a holder of
a shared account, a grant of a role). Both variants run every strategy with the seeds of
``nhisim compare`` (replication ``r`` uses the same seed before and after), so they see
the same task arrivals, attack times and detection draws wherever the change leaves
them alone: the change's effect is measured on paired runs, not as the difference of two
noisy means.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from nhisim import vocabulary
from nhisim.errors import InputError, did_you_mean, normalise_path
from nhisim.experiments.compare import Comparison, compare, mean_ci
from nhisim.experiments.effects import whatif_notes
from nhisim.experiments.run import as_scenario
from nhisim.metrics import METRIC_COLUMNS
from nhisim.metrics.readable import ReadableFrame
from nhisim.scenario.loader import apply_overrides, validate_data
from nhisim.scenario.models import Scenario

EDIT_KINDS = {
    "delegation": "delegation:AGENT->DELEGATE  (AGENT may no longer delegate to DELEGATE; its tasks' steps "
                  "that did are dropped)",
    "role": "role:AGENT:ROLE  (AGENT loses ROLE)",
    "holder": "holder:ACCOUNT:AGENT  (AGENT no longer holds the shared account's key)",
    "grant": "grant:ROLE:TOOL:ACTION:RESOURCE  (ROLE loses one grant)",
}


def _pick(items: list[dict], key: str, value: str, what: str, where: str) -> dict:
    for item in items:
        if item.get(key) == value:
            return item
    raise InputError.single(f"no {what} {value!r}", location=where,
                            suggestion=did_you_mean(value, [i.get(key) for i in items], what + "s"))


def _drop(values: list, value: str, what: str, where: str) -> None:
    if value not in values:
        raise InputError.single(f"{value!r} is not {what}", location=where,
                                suggestion=did_you_mean(value, [str(v) for v in values], "values"))
    values.remove(value)


def remove_from_estate(data: dict, edit: str) -> None:
    """Apply one estate edit (see :data:`EDIT_KINDS`) to a raw scenario mapping, in place."""
    where = f"--remove {edit}"
    kind, _, rest = edit.partition(":")
    if kind not in EDIT_KINDS or not rest:
        raise InputError.single(f"cannot read the edit {edit!r}", location=where,
                                suggestion="write one of: " + "; ".join(EDIT_KINDS.values()))
    if kind == "delegation":
        agent, arrow, delegate = rest.partition("->")
        if not arrow:
            raise InputError.single(f"cannot read the edit {edit!r}", location=where,
                                    suggestion=EDIT_KINDS["delegation"])
        agent, delegate = agent.strip(), delegate.strip()
        entry = _pick(data.get("agents", []), "id", agent, "agent", where)
        _drop(entry.setdefault("may_delegate_to", []), delegate, f"a delegate of {agent}", where)
        # the work that delegated there no longer does: drop those steps from the tasks only this agent serves
        for task in data.get("tasks", []):
            if task.get("id") not in entry.get("tasks", []):
                continue
            steps = task.get("steps", [])
            kept = [st for st in steps if not (isinstance(st, dict) and (st.get("delegate") or {}).get("agent")
                                               == delegate)]
            if len(kept) == len(steps):
                continue
            others = [a["id"] for a in data.get("agents", []) if a is not entry and task["id"] in a.get("tasks", [])]
            if others:
                raise InputError.single(
                    f"task {task['id']!r} delegates to {delegate!r} and is also served by {', '.join(others)}",
                    location=where, suggestion=f"remove the delegation for every agent that serves {task['id']!r}")
            task["steps"] = kept
    elif kind == "role":
        agent, _, role = rest.partition(":")
        entry = _pick(data.get("agents", []), "id", agent, "agent", where)
        _drop(entry.setdefault("roles", []), role, f"a role of {agent}", where)
    elif kind == "holder":
        account, _, agent = rest.partition(":")
        entry = _pick(data.get("shared_accounts", []), "id", account, "shared account", where)
        _drop(entry.setdefault("holders", []), agent, f"a holder of {account}", where)
    else:
        role, _, grant = rest.partition(":")
        entry = _pick(data.get("roles", []), "id", role, "role", where)
        grants = entry.setdefault("grants", [])
        texts = [g if isinstance(g, str) else f"{g.get('tool')}:{g.get('action')}:{g.get('resource')}"
                 for g in grants]
        if grant not in texts:
            raise InputError.single(f"{grant!r} is not a grant of {role}", location=where,
                                    suggestion=did_you_mean(grant, texts, "grants"))
        del grants[texts.index(grant)]


def changed_scenario(scenario: Scenario, set: Mapping[str, Any] | None = None, remove: Sequence[str] = ()
                     ) -> Scenario:
    """``scenario`` with values set by dotted path and the estate edits applied, validated again."""
    data = scenario.model_dump(mode="json", by_alias=True, exclude_unset=True, warnings=False)
    data = apply_overrides(data, set, source="--set")
    for edit in remove:
        remove_from_estate(data, edit)
    return validate_data(data, file=f"<{scenario.name} after the change>")


def describe_change(set: Mapping[str, Any] | None, remove: Sequence[str]) -> list[str]:
    """The change as lines a person reads: ``strategies.zsp.ttl = 1h``, ``remove role:bot:admin``."""
    return [f"{path} = {value}" for path, value in (set or {}).items()] + [f"remove {edit}" for edit in remove]


@dataclass
class WhatIf:
    """The runs of one scenario before and after a change, paired by replication."""

    before: Comparison
    after: Comparison
    change: list[str]
    notes: list[str] = field(default_factory=list)  # e.g. why a change had no effect

    @property
    def strategies(self) -> list[str]:
        return self.before.strategies

    @property
    def runs(self) -> pd.DataFrame:
        """Every run of both variants, with a ``variant`` column (``before`` / ``after``)."""
        return pd.concat([self.before.runs.assign(variant="before"), self.after.runs.assign(variant="after")],
                         ignore_index=True)

    def summary(self, metrics: Sequence[str] | None = None, level: float = 0.95) -> ReadableFrame:
        """One row per (strategy, metric): both means, the mean paired change (after − before), its CI,
        and whether the change made it ``better``, ``worse`` or the ``same`` (CI includes 0). Numbers
        that print in their metrics' units (:class:`~nhisim.metrics.readable.ReadableFrame`)."""
        rows = []
        for strategy in self.strategies:
            a = self.before.runs[self.before.runs["strategy"] == strategy].set_index("replication")
            b = self.after.runs[self.after.runs["strategy"] == strategy].set_index("replication")
            for metric in metrics or METRIC_COLUMNS:
                before_mean = mean_ci(a[metric].tolist(), level)[0]
                after_mean = mean_ci(b[metric].tolist(), level)[0]
                diffs = (b[metric] - a[metric].reindex(b.index)).tolist()
                change, low, high, n = mean_ci(diffs, level)
                rows.append({"strategy": strategy, "metric": metric, "before": before_mean, "after": after_mean,
                             "change": change, "ci_low": low, "ci_high": high, "n": n,
                             "verdict": verdict(metric, change, low, high)})
        return ReadableFrame(pd.DataFrame(rows, columns=["strategy", "metric", "before", "after", "change", "ci_low",
                                                         "ci_high", "n", "verdict"]),
                             per_row=("before", "after", "change", "ci_low", "ci_high"))


def verdict(metric: str, change: float, low: float, high: float) -> str:
    """``better``/``worse`` when the change's CI excludes 0 (by the metric's direction), ``same`` when
    every paired run is unchanged or the CI includes 0, ``""`` for a metric with no better direction."""
    if any(isinstance(v, float) and math.isnan(v) for v in (change, low, high)):
        return "same" if change == 0 else ""
    direction = vocabulary.direction(metric)
    if direction == "neutral":
        return ""
    if low > 0 or high < 0:
        return "better" if (high < 0) == (direction == "lower") else "worse"
    return "same"


def whatif(scenario: Scenario | str | os.PathLike, set: Mapping[str, Any] | None = None,
           remove: Sequence[str] = (), strategies: Sequence[str] | None = None, replications: int | None = None,
           seed: int | None = None, engine: str | None = None, executor: str | None = "serial",
           workers: int | None = None) -> WhatIf:
    """Run ``scenario`` before and after a change (values ``set`` by dotted path, estate edits in
    ``remove``) on the same paired seeds, and return a :class:`WhatIf`."""
    if not set and not remove:
        raise InputError.single("nothing to change", location="whatif",
                                suggestion="give --set PATH=VALUE and/or --remove EDIT")
    set = {normalise_path(str(path)): value for path, value in (set or {}).items()}  # threats[0].x: threats.0.x
    before_model = as_scenario(scenario)
    after_model = changed_scenario(before_model, set, remove)
    names = list(strategies) if strategies else [s for s in before_model.strategies if s in after_model.strategies]
    options = dict(strategies=names, replications=replications, seed=seed, keep_events=False, engine=engine,
                   executor=executor, workers=workers, baseline=names[0] if names else None)
    before = compare(before_model, **options)
    after = compare(after_model, **options)
    result = WhatIf(before, after, describe_change(set, remove))
    # why a change moved nothing is told for values set, not for estate edits
    result.notes = whatif_notes(before.runs, after.runs, result.strategies, result.change, before_model,
                                after_model, {} if remove else set)
    return result
