"""A scenario as YAML a person can read, which loads back to an equal scenario.

Grants are written ``tool:action:resource``, rates ``4/h``, operations, distributions and
delegations on one line; a header comment says what the scenario is. Used for generated
estates (:mod:`nhisim.scenario.generate`, ``nhisim generate``), but any scenario can be
written this way.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable
from typing import Any

import yaml

from nhisim.scenario.models import Scenario
from nhisim.scenario.units import parse_rate

_GRANT_KEYS = ("tool", "action", "resource")


def _grant_text(value: Any) -> Any:
    if isinstance(value, dict) and tuple(value) == _GRANT_KEYS:
        return ":".join(value[k] for k in _GRANT_KEYS)
    return value


_RATE_UNITS = (("h", 3600), ("min", 60), ("d", 86400), ("s", 1))


def rate_text(rate: Any) -> Any:
    """``4/h`` for 4/3600 (or ``3.96/h``) if that text parses back to exactly the same number, else the number."""
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 < rate < math.inf:
        return rate
    for unit, seconds in _RATE_UNITS:
        n = rate * seconds
        whole = round(n)
        if whole >= 1 and abs(n - whole) < 1e-9 * n:
            text = f"{whole}/{unit}"
            if parse_rate(text) == rate:
                return text
    for digits in range(2, 7):  # a few significant digits, as a fitted rate is written
        for unit, seconds in _RATE_UNITS:
            number = f"{rate * seconds:.{digits}g}"
            if "e" not in number and parse_rate(f"{number}/{unit}") == rate:
                return f"{number}/{unit}"
    return rate


class _Flow(dict):
    """A small mapping written on one line: ``{action: read, resource: crm}``."""


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    pass


_Dumper.add_representer(
    _Flow, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)
)


def _readable(data: dict[str, Any], scenario: Scenario) -> dict[str, Any]:
    """Shorter forms the loader reads back to the same values.

    Grants as ``tool:action:resource``, rates as ``n/unit``, operations, distributions and
    delegations on one line, and every resource's kind, sensitivity, records and
    environment shown even when they are the defaults.
    """
    if "resources" in data:
        rows = []
        for res, row in zip(scenario.resources, data["resources"], strict=True):
            full = {"id": res.id, "kind": res.kind, "sensitivity": res.sensitivity, "records": res.records,
                    "environment": res.environment}
            full.update(row)
            rows.append(full)
        data["resources"] = rows
    for tool in data.get("tools", []):
        if "operations" in tool:
            tool["operations"] = [_Flow(op) for op in tool["operations"]]
    for role in data.get("roles", []):
        if "grants" in role:
            role["grants"] = [_grant_text(g) for g in role["grants"]]
    for task in data.get("tasks", []):
        if "arrival_rate" in task:
            task["arrival_rate"] = rate_text(task["arrival_rate"])
        intent = task.get("intent", {})
        if "operations" in intent:
            intent["operations"] = [_grant_text(g) for g in intent["operations"]]
        for step in task.get("steps", []):
            if "call" in step:
                step["call"] = _grant_text(step["call"])
            if isinstance(step.get("delegate"), dict):
                step["delegate"] = _Flow(step["delegate"])
    attacker = data.get("attacker", {})
    if "rate" in attacker:
        attacker["rate"] = rate_text(attacker["rate"])
    return _flow_distributions(data)


_DISTRIBUTION_KEYS = frozenset({"fixed", "exponential", "uniform", "lognormal", "empirical"})


def _flow_distributions(value: Any) -> Any:
    """Write every distribution (``{exponential: 20.0}``, ...) on one line, wherever it is."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in _DISTRIBUTION_KEYS:
            return _Flow(value)
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                value[key] = _flow_distributions(item)
        return value
    if isinstance(value, list):
        return [_flow_distributions(item) if isinstance(item, (dict, list)) else item for item in value]
    return value


def comment(lines: Iterable[str], indent: str = "") -> str:
    """``lines`` as YAML comments, wrapped at 100 columns (continuations indented), one per line."""
    out = []
    for line in lines:
        for part in textwrap.wrap(line, 100 - len(indent), subsequent_indent="    ") or [""]:
            out.append(f"{indent}# {part}".rstrip())
    return "\n".join(out) + "\n"


def readable_body(scenario: Scenario) -> str:
    """The scenario's YAML, without a header: fields left at their defaults omitted."""
    data = _readable(scenario.model_dump(mode="json", exclude_defaults=True), scenario)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)


def estate_to_yaml(scenario: Scenario) -> str:
    """The scenario as human-readable YAML, with a header saying what it is and how it was made.

    Grants are written ``tool:action:resource``, rates ``4/h``, durations in seconds and
    ``never`` for no end; fields left at their defaults are omitted. Loading the text
    back (``Scenario.model_validate(yaml.safe_load(text))``) gives an equal scenario.
    """
    counts = ", ".join(
        f"{section.replace('_', ' ')}: {len(getattr(scenario, section))}"
        for section in ("agents", "humans", "roles", "tools", "resources", "tasks", "shared_accounts", "threats")
    )
    header = [scenario.title or scenario.name]
    if scenario.description:
        header.append(scenario.description)
    header += [
        f"Contents: {counts}.",
        "Durations are in seconds; arrival rates are per serving agent; defaults are omitted.",
    ]
    return comment(header) + readable_body(scenario)
