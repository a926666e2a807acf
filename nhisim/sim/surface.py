"""What the engine offers its plug-ins: the one surface threats, the attacker and detection use.

Plug-ins (``nhisim.sim.threats``, :mod:`nhisim.sim.attacker`, :mod:`nhisim.sim.detection`)
name :class:`EngineSurface` and the plain state objects of :mod:`nhisim.sim.state`, never
the engine module itself, so the engine imports them and not the other way round. The
:class:`~nhisim.sim.engine.Simulation` is the one implementation.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol

import simpy

from nhisim.scenario.models import Scenario
from nhisim.sim.compiled import CompiledTask, CompiledWorld
from nhisim.sim.credentials import Credential
from nhisim.sim.eventlog import EventLog
from nhisim.sim.state import Incident, TaskRun
from nhisim.strategies import Strategy


class Evaluator(Protocol):
    """The decision engine behind the enforcement point (native or Cedar)."""

    def decide(self, now: float, presenter: str, cred: Credential, op: int, destination: str,
               intent: CompiledTask | None, args: tuple | None = None) -> tuple[str, str, str]: ...

    def still_valid(self, now: float, presenter: str, cred: Credential, op: int | None = None,
                    destination: str | None = None, intent: CompiledTask | None = None, args: tuple | None = None
                    ) -> tuple[str, str, str] | None: ...


class EngineSurface(Protocol):
    """The run as a plug-in sees it: its inputs, its clock, its log and what it may ask of it."""

    env: simpy.Environment
    seed: int
    horizon: float
    scenario: Scenario
    strategy: Strategy
    world: CompiledWorld
    log: EventLog
    pep: Evaluator
    incidents: list[Incident]
    current_task: dict[str, TaskRun]  # the task each agent is working on now
    threat_detection: dict[str, Any]  # incident id -> its threat's own detection settings (or None)
    detection_partners: dict[str, tuple[str, ...]]  # incident id -> the incidents it shares one detection with

    def controls(self, principal: str | None) -> Strategy:
        """The knobs ``principal`` (an agent or shared account) works under (the strategy's, or its own)."""

    # ---- what credentials exist
    def current_key(self, subject: str) -> Credential | None:
        """The static (or shared) key in service for an agent or shared account."""

    def static_keys_of(self, agent: str) -> list[Credential]:
        """The static keys an agent presents: its shared accounts' first, then its own."""

    def identity_of(self, agent: str) -> Credential | None:
        """An agent's current workload identity document."""

    def latest_token(self, agent: str) -> Credential | None:
        """The last task token an agent obtained (possibly dead by now)."""

    def usable_holdings(self, agent: str) -> list[Credential]:
        """Every credential an agent holds that still works now."""

    def harvestable_key(self, principal: str, resource: str) -> Credential | None:
        """The key of ``principal`` that ``resource`` holds now (None where its controls keep none there)."""

    def is_retired(self, agent: str) -> bool: ...

    def issuer_up(self, now: float) -> bool: ...

    # ---- lifecycle
    def reissue_key(self, key: Credential) -> Credential:
        """A fresh key for ``key``'s subject (same kind, holders, scope)."""

    def issue_identity(self, agent: str) -> Credential:
        """A fresh workload identity document for ``agent``."""

    def watch_reissues(self, subject: str, kind: str, callback: Any) -> None:
        """Call ``callback(credential)`` for every ``kind`` credential ``subject`` is issued from now on."""

    def revoke(self, cred: Credential, reason: str, *, by_response: bool = False, incident: str = "",
               at: float | None = None) -> None: ...

    def retire(self, agent: str) -> None: ...

    def add_outage(self, start: float, end: float) -> None:
        """The issuer is down from ``start`` to ``end``."""

    def quarantine(self, agent: str, at: float) -> None: ...

    def end_quarantine(self, agent: str) -> None: ...

    # ---- requests and tokens (generators: ``yield from`` them)
    def obtain_token(self, agent: str, scope: frozenset[int], ctx: TaskRun | None, *, presenter: str | None = None,
                     identity: Credential | None = None, malicious: bool = False, incident: Incident | None = None,
                     kind: str = "jit_token", lifetime: float | None = None, chain: tuple[str, ...] = (),
                     parent: Credential | None = None, intent: CompiledTask | None = None,
                     latency: float | None = None) -> Generator[Any, Any, Credential | None]: ...

    def exchange_token(self, ctx: TaskRun, delegate: str, sub: CompiledTask, sub_id: str, *,
                       malicious: bool = False, incident: Incident | None = None
                       ) -> Generator[Any, Any, Credential | None]: ...

    def approval(self, review_time: float, approve: bool) -> Generator[Any, Any, tuple[bool, float]]:
        """Wait for a reviewer's slot and their review; (approved, seconds waited)."""

    def log_refusal(self, agent: str, presenter: str, ctx: TaskRun | None, refusal: tuple[str, str],
                    malicious: bool, incident: Incident | None) -> None: ...

    def redeclare(self, ctx: TaskRun, cred: Credential, op: int, destination: str, args: tuple | None,
                  why: str, *, incident: Incident | None = None
                  ) -> Generator[Any, Any, tuple[Credential, str, str, str, float]]:
        """Task ``ctx`` re-declares a wider intent for approval: (credential, decision, code, reason, wait)."""

    def lossy_hop(self, delegator: str, delegate: str) -> str | None:
        """Why token exchange cannot reach ``delegate`` from ``delegator`` (None when it can)."""

    def out_of_pattern(self, cred: Credential, op: int) -> bool:
        """Whether ``op`` is outside the usual pattern of the principal ``cred`` names."""

    def next_task_id(self, agent: str, template: CompiledTask) -> str: ...

    # ---- incidents
    def open_incident(self, incident: Incident, stolen: list[Credential], minting: list[Credential] = ()) -> None:
        """A compromise starts: the attacker holds ``stolen`` (and may mint with ``minting``)."""

    def acquire(self, incident: Incident, cred: Credential, *, how: str = "", via: str | None = None,
                resource: str | None = None) -> None:
        """The attacker now holds ``cred`` (``how`` it got it, in words; ``via``: harvested (read in
        ``resource``) or republished)."""

    def take_copies(self, incident: Incident) -> None:
        """The keys ``incident.copies_of`` read in resources (copies in its context) are the attacker's."""

    def harvest(self, incident: Incident, op: int) -> None:
        """The attacker's allowed ``op`` read a resource: it obtains the keys kept there."""

    def release(self, incident: Incident, reason: str) -> None: ...

    def raise_alert(self, agent: str | None, incident: Incident | None, why: str) -> None: ...
