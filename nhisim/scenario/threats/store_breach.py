"""Scenario model of the ``store_breach`` threat: a store holding many principals' credentials is copied.

The engine's mechanism is :mod:`nhisim.sim.threats.store_breach`.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from nhisim.scenario.base import Id
from nhisim.scenario.threats.base import ThreatModel
from nhisim.scenario.units import Distribution

ORDER = 80  # place in the ``Threat`` union, the JSON Schema and the docs


class StoreBreach(ThreatModel):
    """One theft of many principals: a store holding their credentials (a vendor's token store of many
    tenants' grants, a support system holding many agents' secrets) is copied by one attacker."""

    LABEL: ClassVar[str] = "a credential store breach"
    REFERENCES: ClassVar[dict[str, str]] = {"principals": "principals"}

    kind: Literal["store_breach"] = Field(
        description="store_breach: a store of many principals' credentials is copied; one attacker holds them all")
    store: str = Field("", description="what the store is, told in reports (a vendor's token store, ...)")
    principals: Annotated[list[Id], Field(min_length=1)] = Field(
        description="agents, shared accounts or humans (with roles) whose credentials the store holds")
    at: Distribution = Field(description="when the store is copied")
    channel: Literal["logs", "repository", "prompt", "vendor_store", "memory", "other"] = Field(
        "vendor_store", description="where the credentials leak to (told in reports)")
    credential: Literal["access", "minting"] = Field(
        "access", description="which credential of each principal the store holds: the one it uses for calls "
                              "(access), or the one it obtains others with (minting)")
    attacker_delay: Distribution = Field(default_factory=lambda: {"fixed": 600},
                                         description="time from the theft until the attacker first uses it")
