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
    REFERENCES: ClassVar[dict[str, str]] = {"agent": "agents"}

    kind: Literal["improper_offboarding"]
    agent: Id
    retired_at: Distribution
    leak_after: Distribution
    attacker_delay: Distribution = Field(default_factory=lambda: {"fixed": 600})
