"""A scenario's strategy entry (a preset name, or a base preset plus knob overrides, plus
controls of its own for some principals) as a :class:`~nhisim.strategies.Strategy`, what
the engine reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nhisim.scenario.models import ControlOverride, Knobs, Scenario, StrategySpec
from nhisim.strategies import Strategy, preset


def resolve_strategy(spec: str | StrategySpec | Strategy | dict, name: str | None = None,
                     scenario: Scenario | None = None) -> Strategy:
    """A preset name, a user spec (base + knobs, + overrides) or a Strategy, as a Strategy.

    A spec with ``overrides`` selects principals of ``scenario``, which it then needs.
    """
    if isinstance(spec, Strategy):
        return spec if name is None else spec.with_knobs(name=name)
    if isinstance(spec, str):
        return preset(spec).with_knobs(name=name or spec)
    if isinstance(spec, dict):
        spec = StrategySpec.model_validate(spec)
    base = preset(spec.base)
    default = base.with_knobs(name=name or spec.base, description=spec.description or base.description,
                              **_knobs(spec))
    if not spec.overrides:
        return default
    if scenario is None:
        raise ValueError(f"strategy {default.name!r} has overrides: resolve it with its scenario")
    return _with_overrides(default, spec.overrides, scenario)


def scenario_strategy(scenario: Scenario, name: str) -> Strategy:
    """The scenario's strategy ``name`` (its overrides resolved), or the preset of that name."""
    spec = scenario.strategies.get(name)
    return resolve_strategy(spec if spec is not None else name, name=name, scenario=scenario)


def _knobs(spec: Knobs) -> dict[str, Any]:
    # the validated values themselves: a dump would turn an infinite duration into the text "never"
    return {k: getattr(spec, k) for k in Knobs.model_fields if getattr(spec, k) is not None}


def override_label(override: ControlOverride, index: int) -> str:
    """The name of an override's control group: its ``name``, else ``override-<position from 1>``."""
    return override.name or f"override-{index + 1}"


def selected(override: ControlOverride, scenario: Scenario) -> tuple[set[str], set[str], set[str]]:
    """(agents, shared accounts, humans) an override applies to (see :class:`ControlOverride`)."""
    accounts = set(override.accounts)
    holders = {h for sa in scenario.shared_accounts if sa.id in accounts for h in sa.holders}
    tags, environments, named = set(override.tags), set(override.environments), set(override.agents)
    agents = {a.id for a in scenario.agents
              if a.id in named or a.id in holders or tags & set(a.tags) or a.environment in environments}
    humans = set(override.humans) & {h.id for h in scenario.humans}
    return agents, accounts & {sa.id for sa in scenario.shared_accounts}, humans


def _with_overrides(default: Strategy, overrides: list[ControlOverride], scenario: Scenario) -> Strategy:
    """``default`` with each override's controls for the principals it selects, in order."""
    own: dict[str, Strategy] = {}
    labels: dict[str, list[str]] = {}
    for i, override in enumerate(overrides):
        label = override_label(override, i)
        agents, accounts, humans = selected(override, scenario)
        knobs = _knobs(override)
        start_from = preset(override.base) if override.base is not None else None
        for principal in sorted(agents | accounts | humans):
            current = start_from or own.get(principal, default)
            path = [*labels.get(principal, []), label] if start_from is None else [label]
            labels[principal] = path
            own[principal] = current.with_knobs(name=f"{default.name}/{'+'.join(path)}",
                                                description=override.description or current.description, **knobs)
    return Strategy(**{**{k: getattr(default, k) for k in default.knobs()}, "name": default.name,
                       "description": default.description,
                       "principals": tuple(sorted((p, s) for p, s in own.items()))})


def account_users(strategy: Strategy, account: str, holders: Sequence[str]) -> tuple[str, ...]:
    """The holders of a shared account that use its key under ``strategy``.

    An account is in use when its own controls keep it a shared static key; then its
    holders working under a shared identity use it (the others authenticate as
    themselves). Its key carries the account's roles and those of the holders that use it.
    Under the ``shared_account`` preset every holder uses every account; under the others,
    none does unless overrides say so.
    """
    own = strategy.of(account)
    if own.identity != "shared" or own.credential != "static_key":
        return ()
    return tuple(h for h in dict.fromkeys(holders) if strategy.of(h).identity == "shared")
