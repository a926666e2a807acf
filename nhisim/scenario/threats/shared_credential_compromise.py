"""Scenario model of the ``shared_credential_compromise`` threat: the key of a shared account is stolen.

The engine's mechanism is :mod:`nhisim.sim.threats.shared_credential_compromise`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from nhisim.scenario.base import Id
from nhisim.scenario.threats.base import ThreatModel
from nhisim.scenario.units import Distribution

ORDER = 30  # place in the ``Threat`` union, the JSON Schema and the docs


class SharedCredentialCompromise(ThreatModel):
    """One holder of a shared account's key is compromised; the attacker holds its scope."""

    LABEL: ClassVar[str] = "a shared-credential compromise"
    REFERENCES: ClassVar[dict[str, str]] = {"account": "accounts", "via": "agents"}
    HOLDER_OF: ClassVar[dict[str, str]] = {"via": "account"}

    kind: Literal["shared_credential_compromise"] = Field(
        description="shared_credential_compromise: a shared account's key is stolen through one holder")
    account: Id = Field(description="the shared account whose key is stolen")
    via: Id = Field(description="the holder agent through which the key is stolen")
    at: Distribution = Field(description="when the key is stolen")
    attacker_delay: Distribution = Field(default_factory=lambda: {"fixed": 600},
                                         description="time from the theft until the attacker first uses it")
