"""Scenario model of the ``runtime_discovery`` threat: benign agents overreach.

The engine's mechanism is :mod:`nhisim.sim.threats.runtime_discovery`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from nhisim.scenario.base import Id
from nhisim.scenario.threats.base import ThreatModel
from nhisim.scenario.units import Probability

ORDER = 40  # place in the ``Threat`` union, the JSON Schema and the docs


class RuntimeDiscovery(ThreatModel):
    """Benign agents try operations outside their task's intent (overreach)."""

    LABEL: ClassVar[str] = "runtime discovery (overreach)"
    EVIDENCE: ClassVar[str] = "overreach"
    REFERENCES: ClassVar[dict[str, str]] = {"agents": "agents"}
    INVOLVES_NAMED: ClassVar[bool] = False  # it sets how often tasks overreach; the work itself shows it

    kind: Literal["runtime_discovery"] = Field(
        description="runtime_discovery: benign agents try operations outside their task's intent")
    agents: list[Id] = Field(default_factory=list, description="empty: every agent")
    probability: Probability = Field(description="chance per task of one out-of-intent attempt")
    needed_share: Probability = Field(
        0.0, description="share of the discovered operations the task needs: denying one fails the task")
