"""Scenario model of the ``agent_hijack`` threat: the attacker steers an agent.

The engine's mechanism is :mod:`nhisim.sim.threats.agent_hijack`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from nhisim.scenario.base import Id
from nhisim.scenario.threats.base import ThreatModel
from nhisim.scenario.units import Window

ORDER = 20  # place in the ``Threat`` union, the JSON Schema and the docs


class AgentHijack(ThreatModel):
    """The attacker steers an agent for a window; it acts with its own live authority."""

    LABEL: ClassVar[str] = "an agent hijack"
    STEERS_AGENT: ClassVar[bool] = True
    REFERENCES: ClassVar[dict[str, str]] = {"agent": "agents"}

    kind: Literal["agent_hijack"] = Field(description="agent_hijack: the attacker steers an agent for a window")
    agent: Id = Field(description="the agent the attacker steers")
    window: Window = Field(description="when the steering starts and how long it lasts")
