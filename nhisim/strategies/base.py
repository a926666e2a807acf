"""A control strategy: a resolved set of knobs, and the registry of presets.

Presets live one per file beside this one (``rbac.py``, ``zsp.py``, ...); each defines a
module-level ``PRESET``, and :func:`presets` discovers them, so adding a preset is adding
a file. A user strategy names a preset as ``base`` and overrides knobs;
:func:`nhisim.scenario.strategy.resolve_strategy` turns either into a :class:`Strategy`,
what the engine reads.

A real estate is mixed: a strategy's knobs are its *default*, and ``principals`` gives
the agents, shared accounts and humans whose controls differ, each with its own resolved
:class:`Strategy` (a *control group*, named after the override that made it).
:meth:`Strategy.of` answers "under which knobs does this principal work?".
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from bisect import bisect_left
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from nhisim.errors import InputError, did_you_mean

_FIRST = itemgetter(0)


@dataclass(frozen=True, slots=True)
class Strategy:
    """Every knob the engine honours. Times are seconds."""

    name: str
    identity: str  # shared | per_agent | workload
    credential: str  # static_key | jit_token
    ttl: float  # JIT token lifetime
    rotation: float  # static key rotation period
    jit_scope: str  # role | intent
    revoke_at_task_end: bool
    binding: str  # bearer | sender_constrained
    runtime_check: str  # scope | intent
    out_of_intent: str  # deny | escalate | monitor | redeclare
    redeclare_approver: str  # policy | human (out_of_intent: redeclare)
    intent_follows_switch: bool  # a redirected task's intent follows its new objective
    delegation: str  # pass_through | token_exchange
    lossy_hop: str  # fail | own_authority: a hand-off token exchange cannot make
    revocation: str  # manual | automated
    propagation: str  # immediate | cache | at_expiry
    cache_ttl: float
    identity_ttl: float  # workload identity document lifetime
    offboarding_revokes: bool
    risk_escalation_alerts: int | None
    secret_storage: str  # config | vault | broker: where a principal's static key is kept at rest
    cascade_revocation: bool  # revoking a credential revokes the tokens exchanged from it, down the chain
    mfa: bool  # a human's standing key needs a second factor: a stolen copy is useless
    description: str = ""
    # the principals (agent or shared account ids) whose controls differ from these, sorted by id
    principals: tuple[tuple[str, Strategy], ...] = ()

    @property
    def jit(self) -> bool:
        return self.credential == "jit_token"

    def of(self, principal: str | None) -> Strategy:
        """The knobs ``principal`` (an agent, shared account or human id) works under: its own, or the default."""
        principals = self.principals
        if principals and principal is not None:
            i = bisect_left(principals, principal, key=_FIRST)  # sorted by id
            if i < len(principals) and principals[i][0] == principal:
                return principals[i][1]
        return self

    @property
    def mixed(self) -> bool:
        """Whether some principals work under other knobs than the default."""
        return bool(self.principals)

    def groups(self) -> dict[str, tuple[Strategy, tuple[str, ...]]]:
        """Control groups by name: the default (``name``) and each distinct set of principal knobs, with
        their principals (the default's: none listed, it is everyone else)."""
        out: dict[str, tuple[Strategy, tuple[str, ...]]] = {self.name: (self, ())}
        for principal, strategy in self.principals:
            known, members = out.get(strategy.name, (strategy, ()))
            out[strategy.name] = (known, (*members, principal))
        return out

    def with_knobs(self, name: str | None = None, **knobs: Any) -> Strategy:
        """A copy with some knobs changed (unknown knob names are an error).

        On a mixed strategy only the default changes: principals with knobs of their own keep them.
        """
        fields = {f.name for f in dataclasses.fields(self)} - {"principals"}
        unknown = [k for k in knobs if k not in fields]
        if unknown:
            raise InputError.single(f"unknown strategy knob {unknown[0]!r}", location="strategy",
                                    suggestion=did_you_mean(unknown[0], fields - {"name"}, "knobs"))
        return dataclasses.replace(self, name=name or self.name, **knobs)

    def knobs(self) -> dict[str, Any]:
        """The default knobs by name (not the name, description or the principals' own)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in ("name", "description", "principals")}


def presets() -> dict[str, Strategy]:
    """The built-in presets, one module each in this package, in their ``ORDER`` (then by name).

    A preset module defines ``PRESET`` (a :class:`Strategy`) and may define ``ORDER``, its
    place in tables and in a scenario's default list of strategies.
    """
    found: list[tuple[int, str, Strategy]] = []
    package = importlib.import_module(__package__)
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{__package__}.{info.name}")
        preset = getattr(module, "PRESET", None)
        if isinstance(preset, Strategy):
            found.append((getattr(module, "ORDER", 100), preset.name, preset))
    return {name: strategy for _, name, strategy in sorted(found, key=lambda f: f[:2])}


_PRESETS: dict[str, Strategy] | None = None


def preset(name: str) -> Strategy:
    """A built-in preset by name."""
    global _PRESETS
    if _PRESETS is None:
        _PRESETS = presets()
    if name not in _PRESETS:
        raise InputError.single(f"unknown strategy preset {name!r}", location="strategy",
                                suggestion=did_you_mean(name, _PRESETS, "presets"))
    return _PRESETS[name]


def preset_names() -> tuple[str, ...]:
    """The names of the built-in presets, in their order."""
    global _PRESETS
    if _PRESETS is None:
        _PRESETS = presets()
    return tuple(_PRESETS)
