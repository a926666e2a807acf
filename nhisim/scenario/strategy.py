"""A scenario's strategy entry (a preset name, or a base preset plus knob overrides) as a
:class:`~nhisim.strategies.Strategy`, what the engine reads."""

from __future__ import annotations

from nhisim.scenario.models import Knobs, Scenario, StrategySpec
from nhisim.strategies import Strategy, preset


def resolve_strategy(spec: str | StrategySpec | Strategy | dict, name: str | None = None) -> Strategy:
    """A preset name, a user spec (base + overrides) or a Strategy, as a Strategy."""
    if isinstance(spec, Strategy):
        return spec if name is None else spec.with_knobs(name=name)
    if isinstance(spec, str):
        return preset(spec).with_knobs(name=name or spec)
    if isinstance(spec, dict):
        spec = StrategySpec.model_validate(spec)
    base = preset(spec.base)
    # the validated values themselves: a dump would turn an infinite duration into the text "never"
    overrides = {k: getattr(spec, k) for k in Knobs.model_fields if getattr(spec, k) is not None}
    return base.with_knobs(name=name or spec.base, description=spec.description or base.description, **overrides)


def scenario_strategy(scenario: Scenario, name: str) -> Strategy:
    """Strategy ``name`` as ``scenario`` declares it, else the preset of that name."""
    spec = scenario.strategies.get(name)
    return resolve_strategy(spec, name=name) if spec is not None else resolve_strategy(name)
