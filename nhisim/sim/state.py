"""The engine's plain state objects: a task's plan, a task in flight, an incident.

They hold data and no behaviour, so the engine and its plug-ins (threats, the attacker,
detection) share them without importing each other.
"""

from __future__ import annotations

import math
from random import Random
from typing import TYPE_CHECKING, NamedTuple

from nhisim.sim.credentials import INF, Credential

if TYPE_CHECKING:
    from nhisim.sim.compiled import CompiledTask


class StepPlan(NamedTuple):
    """What is random about one call step, drawn when its task arrives."""

    duration: float  # service time of the call
    review_time: float  # a human reviewer's time, for a step that needs approval
    approve_roll: float  # approved when below the scenario's approval probability
    args: tuple | None = None  # the call's arguments, when its operation takes some


class TaskPlan(NamedTuple):
    """Everything random about one task, drawn at its arrival so every strategy sees the same."""

    steps: tuple[StepPlan | TaskPlan | None, ...]  # per step: a call's plan, a sub-task's plan, None past depth 16
    overreach: tuple[int, float] | None  # (step index, which operation) of a runtime discovery, if any
    issuer_latency: float  # the first round-trip to the token issuer
    review_time: float  # a reviewer's time, if an out-of-intent call is escalated
    approve_roll: float  # ... and its approval roll
    needed: bool = False  # the runtime discovery is of an operation the task needs
    switch: tuple[int, str, TaskPlan] | None = None  # (after how many steps, new objective, its plan)



def template_of(task_id: str) -> str:
    """The template a task id names (ids never contain ``/ # > ~``, so the grammar is unambiguous).

    A root task is ``agent/template#n`` (the n-th arrival of that stream), a sub-task
    ``<delegator's task>>delegate/template`` (``#k`` when it is its delegator's k-th
    delegation, from the second on), a task a plug-in starts ``agent/template~n``.
    """
    last = task_id.rsplit(">", 1)[-1]
    return last.split("/", 1)[-1].split("#", 1)[0].split("~", 1)[0]


class TaskRun:
    """One task instance in flight (see :func:`template_of` for how its id is made)."""

    __slots__ = ("id", "agent", "template", "human", "plan", "creds", "token", "own", "chain", "parent",
                 "start", "exchanged", "intent", "redeclarations", "issued", "issuer_draws", "delegations")

    def __init__(self, id: str, agent: str, template: CompiledTask, human: str | None, plan: TaskPlan | None,
                 chain: tuple[str, ...], parent: TaskRun | None, start: float) -> None:
        self.id = id
        self.agent = agent
        self.template = template
        self.human = human
        self.plan = plan
        self.creds: list[Credential] = []  # passed through from the delegator
        self.token: Credential | None = None  # this task's own JIT (or exchanged) token
        self.own: list[Credential] = []  # tokens this task obtained (revoked at its end)
        self.chain = chain
        self.parent = parent
        self.start = start
        self.exchanged = False
        self.intent = template  # the intent declared for it now (re-declared, or its new objective's)
        self.redeclarations = 0
        self.issued = 0  # credentials named after this task so far
        self.issuer_draws = 0  # round trips to the issuer drawn for it that its plan did not hold
        self.delegations = 0  # sub-tasks it has delegated so far


class Incident:
    """One compromise: what the attacker holds, from when, and what has been done about it.

    ``presenter`` is who presents the attacker's requests: ``attacker:<id>`` for stolen
    credentials, or the steered agent itself. ``steers`` marks an attack that steers an
    agent (a hijack, a confused deputy) rather than holding stolen credentials: the
    response quarantines that agent. ``holder`` is the agent whose copy of a credential
    was stolen (the compromised holder of a shared key), when there is one: its own
    failed work after the response is not collateral damage. ``follows_host`` makes the attacker pick up, before
    each attempt, whatever the steered agent holds at that moment.
    """

    def __init__(self, id: str, kind: str, start: float, presenter: str, *, host: str | None = None,
                 deputy: str | None = None, window_end: float = INF, can_mint_as: str | None = None,
                 targets_from_host: bool = False, sub_task: str | None = None, start_delay: float = 0.0,
                 steers: bool = False, follows_host: bool = False, holder: str | None = None,
                 copies_of: str | None = None) -> None:
        self.id = id
        self.kind = kind
        self.start = start
        self.presenter = presenter
        self.actor = f"attacker:{id}"
        self.host = host
        self.deputy = deputy
        self.sub_task = sub_task
        self.window_end = window_end
        self.start_delay = start_delay
        self.steers = steers
        self.follows_host = follows_host
        self.holder = holder
        self.copies_of = copies_of  # the agent whose context the attacker has: the keys it read in resources
        self.response_at = INF
        self.can_mint_as = can_mint_as
        self.targets_from_host = targets_from_host
        self.acquired: dict[str, Credential] = {}
        self.targets: tuple[int, list[int]] | None = None  # the attacker's list, for len(acquired)
        self.minting: list[Credential] = []
        self.detected_at = INF
        self.pending_detection = INF
        self.responded = False
        self.released_at = INF
        self.gave_up = False
        self.rng_attacker: Random | None = None
        self.rng_detection: Random | None = None
        self.rng_anomaly: Random | None = None  # behavioural analytics' dice, drawn only when they are on
        self.rng_mfa: Random | None = None  # MFA fatigue's dice, drawn only when a stolen key needs MFA
        self.issued = 0  # credentials the attacker obtained from an issuer in this incident so far
        self.issuer_draws = 0  # its round trips to the issuer so far

    @property
    def active(self) -> bool:
        return not self.gave_up and not math.isfinite(self.released_at)
