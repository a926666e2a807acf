"""The base of every threat model, and the metadata each kind declares about itself.

Other layers read these class attributes instead of keeping their own lists of kinds:
validation reads ``REFERENCES`` (and ``HOLDER_OF``), ``nhisim check`` reads ``EVIDENCE``,
metrics and narration read ``STEERS_AGENT`` and ``LABEL``, the knob rules
(:mod:`nhisim.scenario.knob_effects`) read ``RETIRES_AGENT`` and ``USES_DELEGATION``.
"""

from __future__ import annotations

import typing
from typing import ClassVar, Literal

from pydantic import Field

from nhisim.scenario.base import Id, Model
from nhisim.scenario.units import Distribution

#: what a ``REFERENCES`` value may name: a section of the scenario, or ``principals``
#: (an agent, a shared account, or a human holding a credential)
REFERENCE_POOLS = ("agents", "accounts", "principals", "tasks")
#: what ``EVIDENCE`` may be: a ``compromise`` or ``outage`` event of the threat's incident,
#: or ``overreach`` (benign requests outside their task's intent, by the threat's agents)
EVIDENCE_KINDS = ("compromise", "outage", "overreach")


class ThreatDetection(Model):
    """How this threat's incident is detected, where it differs from the scenario's ``detection``."""

    baseline_delay: Distribution | None = Field(
        None, description="time until monitoring notices this incident unaided, in place of the monitoring "
                          "level's (from the compromise, or from the attacker's first use: clock)")
    clock: Literal["compromise", "first_use"] = Field(
        "compromise", description="where the baseline delay starts: at the compromise, or at the attacker's "
                                  "first request (a leak nobody uses is invisible)")
    shared_with: Id | None = Field(
        None, description="the id of another threat of the same breach: when either incident is detected, the "
                          "other is detected at the same moment, and both are responded to")


class ThreatModel(Model):
    """One attack (or disruption) a scenario declares, by ``kind``.

    A subclass lives in ``nhisim/scenario/threats/<kind>.py``, declares the field
    ``kind: Literal["<kind>"]`` and sets the class attributes below; the engine's mechanism
    for the kind is ``nhisim/sim/threats/<kind>.py``.
    """

    id: Id | None = Field(None, description="names this threat in results and self-checks (default: <kind>-<position>)")
    description: str = Field("", description="free text: what this attack is in the story")
    detection: ThreatDetection | None = Field(
        None, description="this incident's own detection: a baseline delay, when its clock starts, a detection "
                          "shared with another threat (threats that open an incident only)")

    #: a noun phrase for narration: "a secret leak"
    LABEL: ClassVar[str]
    #: the attacker steers an agent (acting with its live authority) rather than holding
    #: stolen credentials
    STEERS_AGENT: ClassVar[bool] = False
    #: the threat offboards an agent (so whether offboarding revokes its credentials matters)
    RETIRES_AGENT: ClassVar[bool] = False
    #: the threat has one agent act for another (so how delegation passes authority matters)
    USES_DELEGATION: ClassVar[bool] = False
    #: what in the run's log shows the threat happened (one of EVIDENCE_KINDS)
    EVIDENCE: ClassVar[str] = "compromise"
    #: field -> the pool of ids it names (one of REFERENCE_POOLS); a list field names
    #: one id per item
    REFERENCES: ClassVar[dict[str, str]] = {}
    #: field -> field naming a shared account: the first must name one of that account's
    #: holders (and is checked only when the account exists)
    HOLDER_OF: ClassVar[dict[str, str]] = {}
    #: whether the principals the threat names (its ``REFERENCES`` to agents, accounts and
    #: principals) have their credentials or state read or changed while the run goes: the
    #: engine then runs their work call by call (False for a threat that only shapes the work)
    INVOLVES_NAMED: ClassVar[bool] = True

    def involved(self) -> list[str]:
        """The ids of the principals whose run-time state this threat reads or changes."""
        if not self.INVOLVES_NAMED:
            return []
        found: list[str] = []
        for name, pool in self.REFERENCES.items():
            if pool == "tasks":
                continue
            value = getattr(self, name)
            if isinstance(value, str):
                found.append(value)
            elif isinstance(value, list | tuple):
                found.extend(v for v in value if isinstance(v, str))
        return found

    def effective_id(self, index: int) -> str:
        """The id the threat goes by in results and the event log: its own, or ``<kind>-<index>``."""
        return self.id or f"{self.kind}-{index}"

    @classmethod
    def kind_name(cls) -> str:
        """The ``kind:`` this model is chosen by (the value of its ``kind`` literal)."""
        (kind,) = typing.get_args(cls.model_fields["kind"].annotation)
        return kind
