"""The decision engine behind the enforcement point, chosen by name.

``native`` is :class:`~nhisim.sim.pep.NativeEvaluator` (plain Python); ``cedar`` is
:class:`~nhisim.sim.cedar.CedarEvaluator` (the strategy, or the user's policies, as
Cedar). Both answer ``decide`` and ``still_valid`` with the same decision triples.
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
        return NativeEvaluator(strategy, world, quarantined, alerts)
    if engine == "cedar":
        from nhisim.sim.cedar import CedarEvaluator

        return CedarEvaluator(strategy, world, quarantined, alerts, scenario=scenario, policies=policies or [])
    raise InputError.single(f"unknown engine {engine!r}", location="--engine",
                            suggestion=did_you_mean(engine, ENGINES, "engines"))
