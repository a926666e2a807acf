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


class RunLog:
    """An event log with the derived views the metric families share."""

    def __init__(self, events: pd.DataFrame) -> None:
        self.events = events
        run_end = events.loc[events["event"] == "run_end", "t"]
        self.horizon = float(run_end.iloc[-1]) if len(run_end) else float(events["t"].max())

    @cached_property
    def requests(self) -> pd.DataFrame:
        return self.events[self.events["event"] == "request"]

    @cached_property
    def credential_end(self) -> dict[str, float]:
        """When each credential became unusable: expiry, or revocation effective everywhere."""
        ev = self.events
        issued = ev[(ev["event"] == "issue") & (ev["decision"] == "allow")]
        ends = dict(zip(issued["credential"], issued["until"].fillna(math.inf), strict=True))
        revoked = ev[ev["event"] == "revoke"]
        for cred, until in zip(revoked["credential"], revoked["until"], strict=True):
            if cred in ends and not np.isnan(until):
                ends[cred] = min(ends[cred], until)
        return ends

    @cached_property
    def incidents(self) -> dict[str, IncidentView]:
        ev = self.events
        out: dict[str, IncidentView] = {}
        for row in ev[ev["event"] == "compromise"].itertuples(index=False):
            view = IncidentView(row.incident, row.code, row.t, row.value)
            if row.code in STEERING:
                releases = ev[(ev["event"] == "release") & (ev["incident"] == row.incident)]["t"]
                end = float(releases.min()) if len(releases) else (row.until if not np.isnan(row.until) else math.inf)
                view.holdings.append(Holding("(steered agent)", row.t, end, parse_scope(row.scope)))
            out[row.incident] = view
        if not out:
            return out
        release = ev[ev["event"] == "release"].groupby("incident")["t"].min().to_dict()
        for row in ev[ev["event"] == "acquire"].itertuples(index=False):
            view = out.get(row.incident)
            if view is None:
                continue
            end = self.credential_end.get(row.credential, math.inf)
            if not np.isnan(row.until):
                end = min(end, row.until)
            if view.kind in STEERING and row.incident in release:
                end = min(end, release[row.incident])
            view.holdings.append(Holding(row.credential, row.t, max(end, row.t), parse_scope(row.scope)))
        for row in ev[ev["event"] == "detect"].itertuples(index=False):
            if row.incident in out:
                out[row.incident].detected = min(out[row.incident].detected, row.t)
        mal = self.requests[self.requests["malicious"] & (self.requests["decision"] == "allow")]
        for incident, t in mal.groupby("incident")["t"].max().items():
            if incident in out:
                out[incident].last_success = t
        return out

    @property
    def compromised(self) -> bool:
        return bool(self.incidents)
