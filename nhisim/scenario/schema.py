"""The JSON Schema of the scenario language, generated from the models."""

from __future__ import annotations

from typing import Any

from nhisim.scenario.models import Scenario


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) that every scenario file validates against."""
    schema = Scenario.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "nhisim scenario"
    schema.setdefault("properties", {})["extends"] = {
        "description": "scenario file(s) this one inherits from, deep-merged",
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    }
    return schema
