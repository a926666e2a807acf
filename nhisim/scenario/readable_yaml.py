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

from nhisim.memory import without_collector
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


_MAP, _SEQ, _STR, _INT, _BOOL, _NULL = (f"tag:yaml.org,2002:{t}" for t in ("map", "seq", "str", "int", "bool", "null"))


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """The safe dumper for plain data (dicts, lists, text, numbers, booleans, None), without its per-node lookups.

    A generated estate has half a million scalars: the safe representer's generic path
    (its type lookup and alias bookkeeping per node, two resolver calls per scalar) takes
    most of the time of writing it. The nodes built here are the ones it builds.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tags: dict[tuple[str, tuple[bool, bool]], str] = {}

    def represent_data(self, data: Any) -> yaml.Node:
        kind = data.__class__
        if kind is str:
            return yaml.ScalarNode(_STR, data)
        if kind is dict or kind is _Flow:
            flow = True if kind is _Flow else self.default_flow_style
            pairs = [(self.represent_data(key), self.represent_data(value)) for key, value in data.items()]
            return yaml.MappingNode(_MAP, pairs, flow_style=flow)
        if kind is list:
            return yaml.SequenceNode(_SEQ, [self.represent_data(item) for item in data],
                                     flow_style=self.default_flow_style)
        if kind is bool:
            return yaml.ScalarNode(_BOOL, "true" if data else "false")
        if kind is int:
            return yaml.ScalarNode(_INT, str(data))
        if data is None:
            return yaml.ScalarNode(_NULL, "null")
        return super().represent_data(data)  # floats and anything else: the safe representer's way

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)
        tag = self._tags.get((value, implicit))
        if tag is None:  # the same few values recur thousands of times
            tag = self._tags[(value, implicit)] = super().resolve(kind, value, implicit)
        return tag


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


@without_collector
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
