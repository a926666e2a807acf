"""The metric vocabulary: every result column of a run, defined once.

One :class:`Metric` row per column, in the order of the results tables (the order of
``nhisim.metrics.METRIC_COLUMNS``). Everything that reads a metric's name, family,
better direction, kind, label or unit reads it here: the metric families (whose
``COLUMNS`` must together name exactly these rows), the comparison summary, the key
findings, the report tables and figures, value formatting and the scenario language's
expectations.

- ``direction``: which way is better. ``"lower"`` or ``"higher"``; ``"neutral"`` for a
  count that describes what was tried rather than how well a control did (more
  malicious requests denied may mean more attacks, not better control): it gets no
  better/worse verdict.
- ``kind``: how a value is read and shown. ``"seconds"`` a duration; ``"share"`` a
  fraction in [0, 1] (shown as a percentage); ``"count"`` a number of things (``unit``
  names them); ``"value"`` a sum of sensitivity × damage; ``"value_time"`` such a value
  integrated over time (value × s).

Adding a metric is a row here plus its computation in one metric family
(``nhisim/metrics/``). This module is at the base layer: it imports nothing of nhisim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["lower", "higher", "neutral"]
Kind = Literal["seconds", "share", "count", "value", "value_time"]


@dataclass(frozen=True)
class Metric:
    """One result column: what it is, how it reads, which way is better."""

    name: str
    family: str  # the module of nhisim/metrics/ that computes it
    direction: Direction
    kind: Kind
    label: str  # how a person reads its name in tables, figures and sentences
    unit: str  # the unit of a stored value (a count's noun; "s"; "share"; ...)
    meaning: str  # one line, as in docs/metrics.md


_VALUE = "Σ sensitivity × damage"

METRICS: tuple[Metric, ...] = (
    Metric("blast_radius", "attack", "lower", "value", "blast radius", _VALUE,
           "Σ over distinct (action, resource) pairs of allowed malicious requests of sensitivity weight × "
           "action damage"),
    Metric("potential_blast_radius", "attack", "lower", "value", "potential blast radius", _VALUE,
           "the same weighting over what the attacker could reach at compromise"),
    Metric("time_weighted_exposure", "exposure", "lower", "value_time", "time-weighted exposure", "value × s",
           "∫ over time of the value of the union of the scopes the attacker holds, until all are unusable"),
    Metric("records_exposed", "attack", "lower", "count", "records exposed", "records",
           "records of distinct resources read, listed or exported by allowed malicious requests"),
    Metric("malicious_allowed", "attack", "lower", "count", "malicious allowed", "requests",
           "malicious requests allowed"),
    Metric("malicious_denied", "attack", "neutral", "count", "malicious denied", "requests",
           "malicious requests denied, refused token requests included"),
    Metric("credentials_harvested", "attack", "lower", "count", "credentials harvested", "credentials",
           "distinct credentials the attacker obtained by reading a resource that held them"),
    Metric("exposure_window_s", "exposure", "lower", "seconds", "exposure window", "s",
           "compromise → every credential the attacker holds unusable"),
    Metric("time_to_detect_s", "exposure", "lower", "seconds", "time to detect", "s",
           "compromise → detection (∞ when nothing detects it)"),
    Metric("time_to_revoke_s", "exposure", "lower", "seconds", "time to revoke", "s",
           "detection → the attacker's last credential unusable"),
    Metric("time_to_contain_s", "exposure", "lower", "seconds", "time to contain", "s",
           "compromise → last allowed malicious request (0 when none)"),
    Metric("standing_privilege", "cost", "lower", "value_time", "standing privilege", "value × s",
           "Σ over every credential of its direct scope value × its usable lifetime within the horizon"),
    Metric("overreach_attempts", "utility", "neutral", "count", "overreach attempts", "requests",
           "benign requests outside their task's intent"),
    Metric("overreach_allowed", "utility", "lower", "count", "overreach allowed", "requests",
           "benign requests outside their task's intent that were allowed"),
    Metric("overreach_agents_share", "utility", "lower", "share", "agents acting beyond intent", "share",
           "share of the agents that started a task with at least one allowed benign request outside its "
           "task's intent"),
    Metric("needed_denied", "utility", "lower", "count", "needed discoveries denied", "requests",
           "benign out-of-intent requests for an operation the task needed (a runtime discovery) that ended "
           "denied, failing the task"),
    Metric("redeclarations", "utility", "neutral", "count", "intent re-declarations", "re-declarations",
           "times benign tasks re-declared a wider intent for approval (approved or not)"),
    Metric("legit_denied", "utility", "lower", "count", "legit denied", "requests",
           "benign requests and token requests denied"),
    Metric("approval_wait_s", "utility", "lower", "seconds", "approval wait", "s",
           "total time benign work waited for human approval"),
    Metric("collateral_denials", "utility", "lower", "count", "collateral denials", "requests",
           "benign requests denied because an incident response revoked their credential"),
    # runs are paired on identical task arrivals, so more root tasks completed is more work done
    Metric("tasks_completed", "utility", "higher", "count", "tasks completed", "tasks",
           "root tasks that ended ok"),
    Metric("task_success_rate", "utility", "higher", "share", "task success", "share",
           "root tasks ended ok / root tasks ended"),
    Metric("task_latency_p95_s", "utility", "lower", "seconds", "task latency p95", "s",
           "95th percentile of the latency of root tasks that ended ok"),
    Metric("attribution", "accountability", "higher", "share", "attribution", "share",
           "share of allowed malicious requests attributable to one agent, task and originating human"),
    Metric("credentials_issued", "cost", "lower", "count", "credentials issued", "credentials",
           "credentials issued"),
    Metric("policy_evaluations", "cost", "lower", "count", "policy evaluations", "decisions",
           "decisions made by the enforcement point and the issuer"),
)

BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}
#: every metric column, in table order
NAMES: tuple[str, ...] = tuple(BY_NAME)
SHARES: frozenset[str] = frozenset(m.name for m in METRICS if m.kind == "share")
LOWER_IS_BETTER: frozenset[str] = frozenset(m.name for m in METRICS if m.direction == "lower")
NEUTRAL: frozenset[str] = frozenset(m.name for m in METRICS if m.direction == "neutral")


def kind(name: str) -> Kind:
    """How ``name`` is read; a column outside the vocabulary is a duration if it ends in ``_s``, else a count."""
    metric = BY_NAME.get(name)
    if metric is not None:
        return metric.kind
    return "seconds" if name.endswith("_s") else "count"


def direction(name: str) -> Direction:
    """Which way is better for ``name``; a column outside the vocabulary reads as higher is better."""
    metric = BY_NAME.get(name)
    return metric.direction if metric is not None else "higher"


def label(name: str) -> str:
    """How a person reads ``name``: the vocabulary's label, else the name with spaces."""
    metric = BY_NAME.get(name)
    return metric.label if metric is not None else name.replace("_", " ")


if len(BY_NAME) != len(METRICS):  # pragma: no cover - a duplicated row is a typo in this file
    raise RuntimeError("nhisim.vocabulary: a metric name appears twice")


__all__ = ["BY_NAME", "LOWER_IS_BETTER", "METRICS", "NAMES", "NEUTRAL", "SHARES", "Direction", "Kind", "Metric",
           "direction", "kind", "label"]
