"""Shared reading of an event log: credential lifetimes, incidents, attacker holdings."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

STEERING = ("agent_hijack", "delegation_abuse")


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


def _rows(frame: pd.DataFrame, *columns: str):
    """The rows of a few columns as tuples (itertuples would build every column)."""
    return zip(*(frame[name].to_numpy() for name in columns), strict=True)


class RunLog:
    """An event log with the derived views the metric families share."""

    def __init__(self, events: pd.DataFrame) -> None:
        self.events = events
        # one reordering of the log by kind (stable: time order kept within a kind), then each
        # kind is a slice of it: one gather per column instead of one per column and kind
        kinds = events["event"].to_numpy(dtype=object)
        order = np.argsort(kinds, kind="stable")
        grouped = events.take(order)
        grouped.attrs = {}  # pandas deep-copies attrs into every frame derived from this one
        sorted_kinds = kinds[order]
        self._by_event = {}
        for kind in ("request", "issue", "revoke", "compromise", "acquire", "detect", "release", "run_end",
                     "task_end", "approval", "quarantine"):
            start = np.searchsorted(sorted_kinds, kind, side="left")
            end = np.searchsorted(sorted_kinds, kind, side="right")
            self._by_event[kind] = grouped.iloc[start:end]
        run_end = self._by_event["run_end"]["t"]
        self.horizon = float(run_end.iloc[-1]) if len(run_end) else float(events["t"].max())

    def of(self, *kinds: str) -> pd.DataFrame:
        """Rows of the given event kinds (computed once per kind)."""
        if len(kinds) == 1:
            return self._by_event[kinds[0]]
        return pd.concat([self._by_event[k] for k in kinds])

    @property
    def requests(self) -> pd.DataFrame:
        return self._by_event["request"]

    @cached_property
    def credential_end(self) -> dict[str, float]:
        """When each credential became unusable: expiry, or revocation effective everywhere."""
        issues = self.of("issue")
        issued = issues[issues["decision"] == "allow"]
        ends = dict(zip(issued["credential"], issued["until"].fillna(math.inf), strict=True))
        revoked = self.of("revoke")
        for cred, until in zip(revoked["credential"], revoked["until"], strict=True):
            if cred in ends and not np.isnan(until):
                ends[cred] = min(ends[cred], until)
        return ends

    @cached_property
    def incidents(self) -> dict[str, IncidentView]:
        out: dict[str, IncidentView] = {}
        compromises = self.of("compromise")
        if not len(compromises):
            return out
        release = self.of("release").groupby("incident")["t"].min().to_dict()
        for incident, code, t, value, scope, until in _rows(compromises, "incident", "code", "t", "value", "scope",
                                                           "until"):
            view = IncidentView(incident, code, t, value, scope=parse_scope(scope))
            if code in STEERING:
                end = release.get(incident, until if not np.isnan(until) else math.inf)
                view.holdings.append(Holding("(steered agent)", t, end, view.scope))
            out[incident] = view
        for incident, credential, t, scope, until in _rows(self.of("acquire"), "incident", "credential", "t", "scope",
                                                           "until"):
            view = out.get(incident)
            if view is None:
                continue
            end = self.credential_end.get(credential, math.inf)
            if not np.isnan(until):
                end = min(end, until)
            if view.kind in STEERING and incident in release:
                end = min(end, release[incident])
            view.holdings.append(Holding(credential, t, max(end, t), parse_scope(scope)))
        for incident, t in self.of("detect").groupby("incident")["t"].min().items():
            if incident in out:
                out[incident].detected = t
        req = self.requests
        mal = req[req["malicious"].to_numpy() & (req["decision"] == "allow").to_numpy()]
        for incident, t in mal.groupby("incident")["t"].max().items():
            if incident in out:
                out[incident].last_success = t
        return out

    @property
    def compromised(self) -> bool:
        return bool(self.incidents)
