"""The JSON Schema of the scenario language, generated from the models.

Pydantic describes what the models hold after validation; a scenario file may also use
the shorthand forms the validators accept, so they are added here: a grant written
``tool:action:resource``, a bare duration where a distribution is expected (a fixed
one), and a strategy given as a preset name.
"""

from __future__ import annotations

from typing import Any

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


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) that every scenario file validates against."""
    schema = _with_shorthands(Scenario.model_json_schema(mode="validation"))
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "nhisim scenario"
    schema.setdefault("properties", {})["extends"] = {
        "description": "scenario file(s) this one inherits from, deep-merged",
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    }
    return schema
