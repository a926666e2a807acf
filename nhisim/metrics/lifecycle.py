"""Shared reading of an event log: credential lifetimes, incidents, attacker holdings.

:class:`RunLog` reads a whole log (a DataFrame, or ``EventLog.columns()``) column by column
as NumPy arrays, for the reports that tell a run's story (pandas' fixed cost per operation,
near a millisecond a filter, would outweigh the arithmetic); the metrics read a
:class:`~nhisim.metrics.digest.LogDigest` instead. Both build incidents with
:func:`incident_views`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from nhisim.scenario.threats import threat_models
from nhisim.sim.eventlog import NUMBER_COLUMNS

# threat kinds whose attacker steers an agent: it holds the agent itself, not a stolen credential
STEERING = tuple(kind for kind, model in threat_models().items() if model.STEERS_AGENT)


@dataclass
class Holding:
    credential: str
    start: float
    end: float
    scope: dict[str, float]


@dataclass
class IncidentView:
    id: str
    kind: str
    start: float
    potential: float
    scope: dict[str, float] = field(default_factory=dict)
    detected: float = math.inf
    last_success: float = math.nan
    stopped: float = math.inf  # when the attacker gave up or lost control (inf: still at work at the horizon)
    holdings: list[Holding] = field(default_factory=list)

    @property
    def end(self) -> float:
        """When everything the attacker held became unusable."""
        return max((h.end for h in self.holdings), default=self.start)


def parse_scope(text: object) -> dict[str, float]:
    if not isinstance(text, str) or not text:
        return {}
    out = {}
    for item in text.split("|"):
        key, _, value = item.rpartition("=")
        out[key] = float(value)
    return out


KINDS = ("request", "issue", "revoke", "compromise", "acquire", "detect", "release", "give_up", "run_end",
         "task_start", "task_end", "approval", "quarantine", "discover", "redeclare")


class Rows:
    """Some rows of an event log, read column by column as NumPy arrays.

    Text columns are object arrays, missing values None (or NaN, read from a DataFrame
    with pandas' ``str`` dtype); ``t`` and the other numbers are floats; ``malicious`` is
    bool. A column is gathered on first use and kept.
    """

    __slots__ = ("_cache", "_column", "_index")

    def __init__(self, column: Callable[[str], np.ndarray], index: slice | np.ndarray) -> None:
        self._column = column
        self._index = index
        self._cache: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        values = self._cache.get(name)
        if values is None:
            values = self._cache[name] = self._column(name)[self._index]
        return values

    def __len__(self) -> int:
        index = self._index
        return index.stop - index.start if isinstance(index, slice) else len(index)

    def where(self, mask: np.ndarray) -> Rows:
        """The rows where ``mask`` (a bool array over these rows) is true, in the same order."""
        index = self._index
        positions = np.arange(index.start, index.stop) if isinstance(index, slice) else index
        return Rows(self._column, positions[mask])

    def tuples(self, *names: str) -> Iterator[tuple]:
        """The rows of a few columns as tuples."""
        return zip(*(self[name] for name in names), strict=True)


def present(values: np.ndarray) -> np.ndarray:
    """True where a value is there (neither None nor NaN)."""
    return ~pd.isna(values)


def first_per_incident(rows: Rows, pick: Callable[[float, float], float] = min) -> dict[str, float]:
    """The earliest ``t`` of the rows of each incident (``pick=max``: the latest)."""
    out: dict[str, float] = {}
    for incident, t in rows.tuples("incident", "t"):
        if isinstance(incident, str):
            out[incident] = pick(out[incident], t) if incident in out else t
    return out


def incident_views(compromises: Rows, acquires: Rows, releases: Rows, give_ups: Rows, detects: Rows,
                   successes: Rows, credential_end: Callable[[str], float]) -> dict[str, IncidentView]:
    """Every incident of a run, from its rows of each kind (in time order) and when each credential died.

    ``successes`` are the allowed malicious requests.
    """
    out: dict[str, IncidentView] = {}
    if not len(compromises):
        return out
    release = first_per_incident(releases)
    for incident, code, t, value, scope, until in compromises.tuples("incident", "code", "t", "value", "scope",
                                                                    "until"):
        view = IncidentView(incident, code, t, value, scope=parse_scope(scope))
        if code in STEERING:
            end = release.get(incident, until if not np.isnan(until) else math.inf)
            view.holdings.append(Holding("(steered agent)", t, end, view.scope))
        out[incident] = view
    for incident, credential, t, scope, until in acquires.tuples("incident", "credential", "t", "scope", "until"):
        view = out.get(incident)
        if view is None:
            continue
        end = credential_end(credential)
        if not np.isnan(until):
            end = min(end, until)
        if view.kind in STEERING and incident in release:
            end = min(end, release[incident])
        view.holdings.append(Holding(credential, t, max(end, t), parse_scope(scope)))
    stops = first_per_incident(give_ups)
    for incident, t in release.items():
        stops[incident] = min(t, stops.get(incident, t))
    for incident, t in stops.items():
        if incident in out:
            out[incident].stopped = t
    for incident, t in first_per_incident(detects).items():
        if incident in out:
            out[incident].detected = t
    for incident, t in first_per_incident(successes, max).items():
        if incident in out:
            out[incident].last_success = t
    return out


def log_column(events: pd.DataFrame | Mapping[str, np.ndarray], name: str) -> np.ndarray:
    """One column of a whole log, typed as ``EventLog.columns()`` gives it whatever a frame's dtypes:
    numbers float, ``malicious`` bool, the rest objects."""
    values = events[name]
    if isinstance(values, pd.Series):
        if name in NUMBER_COLUMNS:
            return values.to_numpy(dtype=float)
        if name == "malicious":
            return values.to_numpy(dtype=bool)
        return values.to_numpy(dtype=object)
    return np.asarray(values)


class RunLog:
    """An event log with the derived views the metric families share.

    ``events`` is a run's log as a DataFrame, or as columns of NumPy arrays in time order
    (:meth:`nhisim.sim.eventlog.EventLog.columns`, what a run hands the metrics directly).
    The metrics give the same values from either.
    """

    def __init__(self, events: pd.DataFrame | Mapping[str, np.ndarray]) -> None:
        self.events = events
        self._grouped: dict[str, np.ndarray] = {}
        # one reordering of the log by kind (stable: time order kept within a kind); each
        # kind is then a slice, and a column is gathered once, when first read
        kinds = self._source_column("event")
        self._order = np.argsort(kinds, kind="stable")
        sorted_kinds = kinds[self._order]
        self._by_event: dict[str, Rows] = {}
        for kind in KINDS:
            start = int(np.searchsorted(sorted_kinds, kind, side="left"))
            end = int(np.searchsorted(sorted_kinds, kind, side="right"))
            self._by_event[kind] = Rows(self._grouped_column, slice(start, end))
        run_end = self._by_event["run_end"]["t"]
        t = self._source_column("t")
        self.horizon = float(run_end[-1]) if len(run_end) else float(t.max()) if len(t) else math.nan

    def _source_column(self, name: str) -> np.ndarray:
        return log_column(self.events, name)

    def _grouped_column(self, name: str) -> np.ndarray:
        values = self._grouped.get(name)
        if values is None:
            values = self._grouped[name] = self._source_column(name)[self._order]
        return values

    def of(self, kind: str) -> Rows:
        """The rows of one event kind, in time order."""
        return self._by_event[kind]

    @property
    def requests(self) -> Rows:
        return self._by_event["request"]

    @cached_property
    def credential_end(self) -> dict[str, float]:
        """When each credential became unusable: expiry, or revocation effective everywhere."""
        issues = self.of("issue")
        issued = issues.where(issues["decision"] == "allow")
        ends = {cred: math.inf if np.isnan(until) else until for cred, until in issued.tuples("credential", "until")}
        for cred, until in self.of("revoke").tuples("credential", "until"):
            if cred in ends and not np.isnan(until):
                ends[cred] = min(ends[cred], until)
        return ends

    @cached_property
    def incidents(self) -> dict[str, IncidentView]:
        req = self.requests
        ends = self.credential_end
        return incident_views(self.of("compromise"), self.of("acquire"), self.of("release"), self.of("give_up"),
                              self.of("detect"), req.where(req["malicious"] & (req["decision"] == "allow")),
                              lambda credential: ends.get(credential, math.inf))

    @property
    def compromised(self) -> bool:
        return bool(self.incidents)
