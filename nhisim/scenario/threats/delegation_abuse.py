"""Scenario model of the ``delegation_abuse`` threat: a confused deputy.

The engine's mechanism is :mod:`nhisim.sim.threats.delegation_abuse`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from nhisim.scenario.base import Id
from nhisim.scenario.threats.base import ThreatModel
from nhisim.scenario.units import Window

ORDER = 50  # place in the ``Threat`` union, the JSON Schema and the docs


class DelegationAbuse(ThreatModel):
    """A compromised low-privilege agent gets a higher-privilege agent to act for it."""

    LABEL: ClassVar[str] = "delegation abuse (confused deputy)"
    STEERS_AGENT: ClassVar[bool] = True
    USES_DELEGATION: ClassVar[bool] = True
    REFERENCES: ClassVar[dict[str, str]] = {"agent": "agents", "deputy": "agents", "task": "tasks"}

    kind: Literal["delegation_abuse"] = Field(description="delegation_abuse: a compromised agent has a deputy act for it")
    agent: Id = Field(description="the compromised (low-privilege) agent")
    deputy: Id = Field(description="the agent it has act for it")
    task: Id = Field(description="the sub-task it asks the deputy to run")
    window: Window = Field(description="when the abuse starts and how long it lasts")
