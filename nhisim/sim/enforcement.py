"""The decision engine behind the enforcement point, chosen by name.

``native`` is :class:`~nhisim.sim.pep.NativeEvaluator` (plain Python); ``cedar`` is
:class:`~nhisim.sim.cedar.CedarEvaluator` (the strategy, or the user's policies, as
Cedar). Both answer ``decide`` and ``still_valid`` with the same decision triples.

In a mixed estate a request is decided under the controls of its credential's subject
(an agent, or a shared account for its key; the current actor for a delegated token):
natively by one evaluator per control group (:class:`PerSubject`), in Cedar by one
policy set whose policies each apply to one group.
"""

from __future__ import annotations

from nhisim.errors import InputError, did_you_mean
from nhisim.sim.compiled import CompiledWorld
from nhisim.sim.pep import NativeEvaluator
from nhisim.strategies import Strategy

ENGINES = ("native", "cedar")


def make_evaluator(engine: str, strategy: Strategy, world: CompiledWorld, quarantined: dict[str, float],
                   alerts: dict[str, int], *, scenario=None, policies: list[str] | None = None):
    """The decision engine behind the enforcement point: ``native`` (plain Python) or ``cedar``."""
    if engine == "native":
        if strategy.mixed:
            return PerSubject(strategy, {name: NativeEvaluator(group, world, quarantined, alerts)
                                         for name, (group, _) in strategy.groups().items()})
        return NativeEvaluator(strategy, world, quarantined, alerts)
    if engine == "cedar":
        from nhisim.sim.cedar import CedarEvaluator

        return CedarEvaluator(strategy, world, quarantined, alerts, scenario=scenario, policies=policies or [])
    raise InputError.single(f"unknown engine {engine!r}", location="--engine",
                            suggestion=did_you_mean(engine, ENGINES, "engines"))


class PerSubject:
    """Decides each request with the evaluator of its credential's subject's control group."""

    __slots__ = ("_by_subject", "_default", "strategy")

    def __init__(self, strategy: Strategy, by_group: dict) -> None:
        self.strategy = strategy
        self._default = by_group[strategy.name]
        self._by_subject = {principal: by_group[group.name] for principal, group in strategy.principals}

    def decide(self, now, presenter, cred, op, destination, intent, args=None):
        return self._by_subject.get(cred.subject, self._default).decide(now, presenter, cred, op, destination,
                                                                         intent, args)

    def still_valid(self, now, presenter, cred, op=None, destination=None, intent=None, args=None):
        return self._by_subject.get(cred.subject, self._default).still_valid(now, presenter, cred, op,
                                                                              destination, intent, args)
