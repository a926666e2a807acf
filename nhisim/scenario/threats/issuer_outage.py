"""Scenario model of the ``issuer_outage`` threat: the token issuer is down.

The engine's mechanism is :mod:`nhisim.sim.threats.issuer_outage`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from nhisim.scenario.threats.base import ThreatModel
from nhisim.scenario.units import Window

ORDER = 70  # place in the ``Threat`` union, the JSON Schema and the docs


class IssuerOutage(ThreatModel):
    """The token issuer is down for a window: no JIT credential can be issued."""

    LABEL: ClassVar[str] = "an issuer outage"
    EVIDENCE: ClassVar[str] = "outage"

    kind: Literal["issuer_outage"] = Field(description="issuer_outage: the token issuer is unavailable for a window")
    window: Window = Field(description="when the outage starts and how long it lasts")
