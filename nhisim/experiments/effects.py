"""Changes that moved nothing: say so, and why.

A what-if, a sweep and a comparison ask their runs the same question: did changing this
value (or this strategy for another) move a metric in any paired run (same seed, only
that differs)? Where it did not, a note says so, with the reason where the model tells one:

- the rules of :mod:`nhisim.scenario.knob_effects` (``rotation`` cannot matter to a JIT
  strategy, ``cache_ttl`` only matters when revocations propagate through a cache, ...),
  checked for the strategy as every compared setting resolves it;
- a knob of another strategy (``strategies.zsp.ttl`` cannot change a run of ``rbac``);
- read from the runs: tokens revoked at task end, tasks shorter than every TTL compared.

A sweep also says, for an axis that moved some metrics, which metrics it left unchanged
(or which few it moved). An axis that no paired runs compare (each point of a random
sample is its own) gets only the reasons the rules give.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from nhisim.errors import InputError, clip, split_path
from nhisim.metrics import METRIC_COLUMNS
from nhisim.scenario.knob_effects import Estate, strategy_knob, tokens_outlive_tasks, why_flat
from nhisim.scenario.loader import apply_overrides, set_path, validate_data
from nhisim.scenario.models import Scenario
from nhisim.scenario.strategy import resolve_strategy, scenario_strategy
from nhisim.scenario.units import format_quantity
from nhisim.strategies import Strategy
from nhisim.vocabulary import label

NO_EFFECT = "has no effect on"  # the words every no-effect note carries (notebooks look for them)
SHOWN_METRICS = 6


def flat_metrics(runs: pd.DataFrame, axis: str, pair_by: Sequence[str],
                 metrics: Sequence[str] = METRIC_COLUMNS) -> list[str] | None:
    """The metrics that are the same at every value of ``axis`` within each group of paired runs
    (``pair_by``: the replication and every other value that varies); NaN equals NaN.

    None when no group holds two values of ``axis`` (nothing compares them). Runs that
    raised are left out.
    """
    ok = runs[runs["error"].isna()] if "error" in runs.columns else runs
    if ok.empty:
        return None
    keys = list(pair_by)
    spread = ok.groupby(keys, dropna=False, sort=False)[axis].transform("nunique", dropna=False) \
        if keys else pd.Series(ok[axis].nunique(dropna=False), index=ok.index)
    compared = ok[spread >= 2]
    if compared.empty:
        return None
    if not keys:
        return [m for m in metrics if compared[m].nunique(dropna=False) <= 1]
    distinct = compared.groupby(keys, dropna=False, sort=False)[list(metrics)].nunique(dropna=False)
    return [m for m in metrics if (distinct[m] <= 1).all()]


def other_strategy(path: str, strategy: str) -> str:
    """Why ``path`` cannot change a run of ``strategy``: it sets a knob (or all) of another strategy."""
    parts = split_path(path)
    if len(parts) >= 2 and parts[0] == "strategies" and parts[1] != strategy:
        return f"{path} sets {'a knob of ' if len(parts) > 2 else ''}strategy {parts[1]} only"
    return ""


def reason(path: str, strategy: str, variants: Sequence[tuple[Strategy, Estate]],
           task_latency_p95: float | None = None) -> str:
    """Why changing ``path`` cannot move a run of ``strategy`` (its ``variants``: the strategy
    and estate under each compared setting), or ``""`` when the model does not tell.

    ``task_latency_p95`` (the runs' longest p95 task latency) lets a TTL change be explained
    by tokens revoked at task end."""
    why = other_strategy(path, strategy)
    if why:
        return why
    knob = strategy_knob(path)
    if knob is None or knob[0] != strategy or not variants:
        return ""
    why = why_flat(knob[1], variants)
    if not why and knob[1] == "ttl" and task_latency_p95 is not None:
        why = tokens_outlive_tasks([s for s, _ in variants], task_latency_p95)
    return why


def no_effect_note(change: str, strategy: str, why: str, values: Sequence[Any] = ()) -> str:
    """``"<change> has no effect on <strategy> in these runs: every metric is the same in every paired run
    (at 5m, 1h): <why>"``."""
    at = f" (at {', '.join(map(clip, values))})" if values else ""  # a value as long as a file: its ends
    return (f"{clip(change, 200)} {NO_EFFECT} {strategy} in these runs: every metric is the same in every paired run{at}"
            + (f": {why}" if why else ""))


def _longest_p95(runs: pd.DataFrame) -> float:
    values = runs["task_latency_p95_s"].astype(float)
    return float(values.max()) if values.notna().any() else float("nan")


# --------------------------------------------------------------------------- what-if


def whatif_notes(before: pd.DataFrame, after: pd.DataFrame, strategies: Sequence[str], change: Sequence[str],
                 before_scenario: Scenario, after_scenario: Scenario, set: Mapping[str, Any]) -> list[str]:
    """A note for each strategy on which no metric moved in any paired run of a what-if, with why."""
    runs = pd.concat([before.assign(variant="before"), after.assign(variant="after")], ignore_index=True)
    estates = (Estate.of(before_scenario), Estate.of(after_scenario))
    notes = []
    for strategy in strategies:
        own = runs[runs["strategy"] == strategy]
        flat = flat_metrics(own, "variant", ["replication"])
        if flat is None or len(flat) < len(METRIC_COLUMNS):
            continue
        variants = [(scenario_strategy(s, strategy), estate)
                    for s, estate in zip((before_scenario, after_scenario), estates, strict=True)]
        whys = [reason(path, strategy, variants, _longest_p95(own[own["variant"] == "before"])) for path in set]
        why = "; ".join(w for w in whys if w) if set and all(whys) else ""
        notes.append(no_effect_note("; ".join(change), strategy, why))
    return notes


# --------------------------------------------------------------------------- comparisons


def comparison_notes(runs: pd.DataFrame, scenario: Scenario, strategies: Sequence[str],
                     given: Mapping[str, Strategy] | None = None) -> list[str]:
    """A note for each pair of compared strategies whose paired runs are the same in every metric,
    with why where the knobs they differ in are inert by the rules (``given``: strategies passed as
    objects, by name)."""
    estate = Estate.of(scenario)
    given = given or {}
    resolved = {name: given.get(name) or scenario_strategy(scenario, name) for name in strategies}
    notes = []
    for i, first in enumerate(strategies):
        for second in strategies[i + 1:]:
            pair = runs[runs["strategy"].isin((first, second))]
            flat = flat_metrics(pair, "strategy", ["replication"])
            if flat is None or len(flat) < len(METRIC_COLUMNS):
                continue
            a, b = resolved[first], resolved[second]
            differ = [k for k, v in a.knobs().items() if b.knobs()[k] != v]
            whys = [why_flat(k, [(a, estate), (b, estate)])
                    or (tokens_outlive_tasks([a, b], _longest_p95(pair)) if k == "ttl" else "") for k in differ]
            why = ""
            if differ and all(whys):
                why = f": they differ only in {' and '.join(differ)}: " + "; ".join(whys)
            notes.append(f"{first} and {second} give the same runs: every metric is the same in every paired run"
                         + why)
    return notes


# --------------------------------------------------------------------------- sweeps


def _point_values(manifest: Mapping[str, Any], runs: pd.DataFrame) -> list[dict[str, Any]]:
    """Each point's values as the sweep set them (a grid value as listed, not its text in the results)."""
    import json

    params = manifest.get("parameters", [])
    firsts = runs.drop_duplicates("point").sort_values("point")
    points = []
    for _, row in firsts.iterrows():
        point = {}
        for p in params:
            shown = row.get(p["path"])
            if p.get("kind") == "grid":
                listed = {json.dumps(v, sort_keys=True, separators=(",", ":"), default=str): v
                          for v in p.get("values", [])}
                shown = next((v for v in p.get("values", []) if v == shown), listed.get(shown, shown))
            point[p["path"]] = shown.item() if hasattr(shown, "item") else shown
        points.append(point)
    return points


def _changes_estate(path: str) -> bool:
    """Whether setting ``path`` can change an estate fact the knob rules read (threat kinds, delegating
    steps, shared accounts, whether detection is on)."""
    parts = split_path(path)
    section = parts[0] if parts else ""
    if section == "detection":
        return len(parts) == 1 or parts[1] == "enabled"
    if section in ("threats", "shared_accounts"):
        return len(parts) <= 2 or parts[-1] == "kind"
    return section == "tasks" and (len(parts) <= 2 or "steps" in parts)


def _variants(base: Mapping[str, Any], scenario: Scenario, points: Iterable[dict[str, Any]], strategy: str
              ) -> list[tuple[Strategy, Estate]]:
    """``strategy`` and the estate facts at each distinct point (points that do not validate are left out).

    A point's strategy is resolved from the strategy section alone; the estate is validated again
    only for the values that can change its facts, once per distinct combination of them.
    """
    estates: dict[str, Estate | None] = {"[]": Estate.of(scenario)}
    seen: dict[str, tuple[Strategy, Estate]] = {}
    for point in points:
        key = repr(sorted(point.items()))
        if key in seen:
            continue
        shaping = {path: value for path, value in point.items() if _changes_estate(path)}
        shaping_key = repr(sorted(shaping.items()))
        try:
            if shaping_key not in estates:
                estates[shaping_key] = None
                changed = validate_data(apply_overrides(dict(base), shaping, source="parameters"), file="<sweep>")
                estates[shaping_key] = Estate.of(changed)
            estate = estates[shaping_key]
            section = {"strategies": copy.deepcopy(base["strategies"])} if "strategies" in base else {}
            for path, value in point.items():
                if split_path(path)[0] == "strategies":
                    set_path(section, path, value, source="parameters")
            spec = section.get("strategies", {}).get(strategy)
            # overrides select agents of the estate: the base scenario's (a point changes knobs, not agents)
            resolved = resolve_strategy(spec if spec is not None else strategy, name=strategy, scenario=scenario)
        except (InputError, ValueError):  # an invalid point: its runs are recorded with the error
            continue
        if estate is not None:
            seen[key] = (resolved, estate)
    return list(seen.values())


def _metric_list(names: Sequence[str]) -> str:
    shown = [label(m) for m in names[:SHOWN_METRICS]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def sweep_notes(runs: pd.DataFrame, scenario: Scenario, base: Mapping[str, Any] | None = None) -> list[str]:
    """Notes on a sweep's axes: each (axis, strategy) along which no metric moved in any paired run,
    and why where the model tells; which metrics an axis left unchanged where it moved others;
    the rules' reasons for axes no paired runs compare (a sample's).

    ``runs`` is a sweep's results (``runs.attrs["sweep"]`` its manifest); ``scenario`` its base
    scenario and ``base`` the base's data (default: the scenario's own).
    """
    manifest = runs.attrs.get("sweep") or {}
    params = [p["path"] for p in manifest.get("parameters", []) if p.get("path") in runs.columns]
    if not params or runs.empty:
        return []
    if base is None:
        base = scenario.model_dump(mode="json", by_alias=True, exclude_unset=True, warnings=False)
    points = _point_values(manifest, runs)
    units = {p["path"]: p.get("unit", "") for p in manifest.get("parameters", [])}
    notes: list[str] = []
    bystanders: dict[str, list[str]] = {}  # axis -> strategies it cannot touch, told in one note
    for strategy in manifest.get("strategies") or list(dict.fromkeys(runs["strategy"])):
        own = runs[runs["strategy"] == strategy]
        if own.empty:
            continue
        variants = None
        for axis in params:
            values = list(dict.fromkeys(own[axis].dropna().tolist()))
            if len(values) < 2:
                continue
            shown = [format_quantity(v, units.get(axis, "")) for v in values] if len(values) <= 8 else []
            flat = flat_metrics(own, axis, [p for p in params if p != axis] + ["replication"])
            if other_strategy(axis, strategy) and (flat is None or len(flat) == len(METRIC_COLUMNS)):
                bystanders.setdefault(axis, []).append(strategy)
                continue
            if variants is None:
                variants = _variants(base, scenario, points, strategy)
            why = reason(axis, strategy, variants, _longest_p95(own))
            if flat is None:  # no paired runs compare the values: only the rules can tell
                if why:
                    notes.append(f"{axis} cannot change a run of {strategy}: {why}")
            elif len(flat) == len(METRIC_COLUMNS):
                notes.append(no_effect_note(axis, strategy, why, shown))
            else:
                unchanged = [m for m in flat if own[m].notna().any()]  # a metric with no meaning here says nothing
                if unchanged:
                    moved = len(METRIC_COLUMNS) - len(flat)
                    notes.append(f"{axis} leaves {_metric_list(unchanged)} of {strategy} the same in every paired "
                                 f"run (it moves {moved} other metric{'s' if moved > 1 else ''})")
    for axis, strategies in bystanders.items():
        owner = split_path(axis)[1]
        names = ", ".join(strategies[:-1]) + (" and " if len(strategies) > 1 else "") + strategies[-1]
        notes.append(f"{axis} sets strategy {owner} only: it {NO_EFFECT} {names}")
    return notes


__all__ = ["NO_EFFECT", "comparison_notes", "flat_metrics", "no_effect_note", "reason", "sweep_notes", "whatif_notes"]
