"""The JSON Schema of the scenario language, generated from the models.

Pydantic describes what the models hold after validation; a scenario file may also use
the shorthand forms the validators accept, so they are added here: a grant written
``tool:action:resource``, a bare duration where a distribution is expected (a fixed
one), and a strategy given as a preset name.

The output is strict JSON, so editors and validators that reject ``Infinity`` accept it:
an infinite default (a task's ``deadline``) is written as the scenario language's own
``never``. Every property carries a one-line description (editors show them on hover);
most come from the models' ``Field(description=...)``, the few of the distribution types
in :mod:`nhisim.scenario.units` are added here.
"""

from __future__ import annotations

import math
import re
from typing import Any

from nhisim._version import __version__
from nhisim.scenario.models import PRESET_NAMES, Scenario
from nhisim.scenario.units import _duration_json

_DISTRIBUTIONS = {f"#/$defs/{name}" for name in ("Fixed", "Exponential", "Uniform", "Lognormal", "Empirical")}
_GRANT_TEXT = {
    "type": "string",
    "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.\-]*:[A-Za-z0-9][A-Za-z0-9_.\-]*:[A-Za-z0-9][A-Za-z0-9_.\-]*$",
    "description": "a grant: tool:action:resource",
}
_SHORTHANDS = {
    "#/$defs/_GrantFields": _GRANT_TEXT,
    "#/$defs/StrategySpec": {"enum": list(PRESET_NAMES), "description": "a preset strategy, unchanged"},
}


#: a URN, not a URL: it names the schema (and its version) without promising a download
SCHEMA_ID = f"urn:nhisim:schema:scenario:{__version__}"
NEVER = "never"  # how a scenario file writes an infinite duration
# (definition, property) -> description, for models that live in units.py
_UNIT_DESCRIPTIONS = {
    ("Uniform", "uniform"): "[low, high]: every duration between the two equally likely",
    ("Lognormal", "lognormal"): "median and spread sigma of a right-skewed duration",
    ("LognormalParams", "sigma"): "spread: 0 is always the median, 1 is wide",
    ("Empirical", "empirical"): "observed durations, each equally likely",
    ("Window", "start"): "when the window opens",
    ("Window", "duration"): "how long the window stays open",
}


def _with_shorthands(node: Any) -> Any:
    if isinstance(node, list):
        return [_with_shorthands(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: _with_shorthands(v) for k, v in node.items()}
    ref = node.get("$ref")
    if ref in _SHORTHANDS:
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**rest, "anyOf": [_SHORTHANDS[ref], {"$ref": ref}]}
    options = node.get("anyOf")
    if isinstance(options, list) and {o.get("$ref") for o in options if isinstance(o, dict)} == _DISTRIBUTIONS:
        fixed = _duration_json("a fixed duration")
        node["anyOf"] = fixed["anyOf"] + options
    return node


def _accepts_never(node: dict[str, Any]) -> bool:
    options = node.get("anyOf", [node])
    return any(o.get("type") == "string" and re.search(o.get("pattern", "(?!)"), NEVER) for o in options)


def _finite_defaults(node: Any) -> Any:
    """Replace non-finite defaults, which JSON cannot hold, by ``never`` (or say so)."""
    if isinstance(node, list):
        return [_finite_defaults(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: _finite_defaults(v) for k, v in node.items()}
    default = node.get("default")
    if isinstance(default, float) and not math.isfinite(default):
        if default > 0 and _accepts_never(node):
            node["default"] = NEVER
        else:  # nothing in the language spells it: drop it, and tell the reader
            del node["default"]
            unbounded = "unlimited" if default > 0 else "minus infinity" if default < 0 else "not a number"
            node["description"] = f"{node.get('description', '')} (default: {unbounded})".strip()
    return node


def _unit_descriptions(schema: dict[str, Any]) -> None:
    for (definition, prop), text in _UNIT_DESCRIPTIONS.items():
        # a renamed model must not break `nhisim schema`; the description test notices the gap
        node = schema.get("$defs", {}).get(definition, {}).get("properties", {}).get(prop)
        if node is not None:
            node.setdefault("description", text)


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) that every scenario file validates against."""
    schema = _finite_defaults(_with_shorthands(Scenario.model_json_schema(mode="validation")))
    _unit_descriptions(schema)
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
    schema["title"] = "nhisim scenario"
    schema.setdefault("properties", {})["extends"] = {
        "description": "scenario file(s) this one inherits from, deep-merged",
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    }
    return schema
