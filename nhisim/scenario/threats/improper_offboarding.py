"""Scenario model of the ``improper_offboarding`` threat: a retired agent's credential outlives it.

The engine's mechanism is :mod:`nhisim.sim.threats.improper_offboarding`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from nhisim.scenario.base import Id
from nhisim.scenario.threats.base import ThreatModel
from nhisim.scenario.units import Distribution

ORDER = 60  # place in the ``Threat`` union, the JSON Schema and the docs


class ImproperOffboarding(ThreatModel):
    """An agent is retired but its credential stays valid, then leaks."""

    LABEL: ClassVar[str] = "an orphaned credential leaking"
    RETIRES_AGENT: ClassVar[bool] = True
    REFERENCES: ClassVar[dict[str, str]] = {"agent": "agents"}

    kind: Literal["improper_offboarding"] = Field(
        description="improper_offboarding: a retired agent's credential outlives it and leaks")
    agent: Id = Field(description="the agent that is retired")
    retired_at: Distribution = Field(description="when the agent is retired")
    leak_after: Distribution = Field(description="time from retirement until its credential leaks")
    attacker_delay: Distribution = Field(default_factory=lambda: {"fixed": 600},
                                         description="time from the leak until the attacker first uses it")
