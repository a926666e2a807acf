"""Scenario model of the ``secret_leak`` threat: a credential leaks and the attacker uses it.

The engine's mechanism is :mod:`nhisim.sim.threats.secret_leak`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from nhisim.scenario.base import Id
from nhisim.scenario.threats.base import ThreatModel
from nhisim.scenario.units import Distribution

ORDER = 10  # place in the ``Threat`` union, the JSON Schema and the docs


class SecretLeak(ThreatModel):
    """A credential leaks through a channel; the attacker uses it after a delay."""

    LABEL: ClassVar[str] = "a secret leak"
    REFERENCES: ClassVar[dict[str, str]] = {"principal": "principals"}

    kind: Literal["secret_leak"] = Field(description="secret_leak: a credential leaks and the attacker uses it")
    principal: Id = Field(description="agent, shared account or human (with roles) whose credential leaks")
    at: Distribution = Field(description="when the credential leaks")
    channel: Literal["logs", "repository", "prompt", "vendor_store", "memory", "other"] = Field(
        "logs", description="where the credential leaks to (told in reports)")
    credential: Literal["access", "minting"] = Field(
        "access",
        description="access: the credential the principal uses for calls; minting: the one it uses to obtain others",
    )
    attacker_delay: Distribution = Field(default_factory=lambda: {"fixed": 600},
                                         description="time from the leak until the attacker first uses it")
    republish: bool = Field(
        False, description="the secret is written into the same place again after each rotation: every new key "
                           "(or identity document) of the principal goes to the attacker when it is issued")
