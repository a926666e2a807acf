"""The JSON Schema of the scenario language: printed by ``nhisim schema``, valid draft
2020-12, accepting every scenario of the pack and the shorthand forms the loader accepts,
rejecting what the loader rejects."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from nhisim.cli.app import main
from nhisim.scenario.builder import ScenarioBuilder
from nhisim.scenario.loader import load_data, load_scenario
from nhisim.scenario.schema import scenario_json_schema

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_FILES = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="module")
def schema() -> dict:
    return scenario_json_schema()


@pytest.fixture(scope="module")
def validator(schema) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator, data) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(data)]


def minimal(**extra) -> dict:
    return {"name": "x", **extra}


def test_cli_prints_valid_json(capsys, schema):
    with pytest.raises(SystemExit) as info:
        main(["schema"])
    assert info.value.code in (0, None)
    out = capsys.readouterr().out
    printed = json.loads(out)
    assert printed == json.loads(json.dumps(schema))
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(printed)


def test_cli_writes_schema_file(tmp_path, capsys):
    out = tmp_path / "scenario.schema.json"
    with pytest.raises(SystemExit) as info:
        main(["schema", "--out", str(out)])
    assert info.value.code in (0, None)
    assert json.loads(out.read_text())["title"] == "nhisim scenario"


def test_schema_describes_every_top_level_key(schema):
    props = schema["properties"]
    for key in ("name", "resources", "tools", "roles", "humans", "agents", "shared_accounts", "tasks", "threats",
                "detection", "issuer", "approval", "attacker", "strategies", "run", "expectations", "extends"):
        assert key in props
    assert schema["additionalProperties"] is False
    assert "name" in schema["required"]


def test_the_pack_is_not_empty():
    assert SCENARIO_FILES, "scenarios/*.yaml is empty"


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.name for p in SCENARIO_FILES])
def test_every_scenario_file_validates_against_the_schema(path, validator):
    data = load_data(path)  # extends resolved, raw as written
    assert errors(validator, data) == []
    load_scenario(path)  # and the loader agrees


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.name for p in SCENARIO_FILES])
def test_a_dumped_scenario_validates_against_the_schema(path, validator):
    dumped = load_scenario(path).model_dump(mode="json", exclude_unset=True, warnings=False)
    assert errors(validator, dumped) == []


def test_builder_output_validates_against_the_schema(validator):
    b = (ScenarioBuilder("demo")
         .resource("db", sensitivity="critical").tool("api", ops=["read:db"]).role("r", grants=["api:read:db"])
         .human("alice").agent("bot", owner="alice", roles=["r"], tasks=["t"])
         .task("t", rate="6/h", intent=["api:read:db"], steps=[("api:read:db", "20s")])
         .threat("secret_leak", principal="bot", at={"uniform": ["1h", "2h"]}).strategy("zsp_1h", base="zsp", ttl="1h"))
    assert errors(validator, b.to_dict()) == []


def test_unknown_top_level_key_rejected(validator):
    assert errors(validator, minimal()) == []
    problems = errors(validator, minimal(agnets=[]))
    assert problems and "agnets" in problems[0]


def test_missing_name_rejected(validator):
    assert errors(validator, {"title": "no name"})


def test_extends_allowed(validator):
    assert errors(validator, minimal(extends="base.yaml")) == []
    assert errors(validator, minimal(extends=["a.yaml", "b.yaml"])) == []
    assert errors(validator, minimal(extends=3))


@pytest.mark.parametrize(
    "fragment",
    [
        {"roles": [{"id": "r", "grants": ["api:read:db"]}]},  # grant as text
        {"roles": [{"id": "r", "grants": [{"tool": "api", "action": "read", "resource": "db"}]}]},
        {"threats": [{"kind": "secret_leak", "principal": "bot", "at": "2h"}]},  # bare duration: fixed
        {"threats": [{"kind": "secret_leak", "principal": "bot", "at": 7200}]},
        {"threats": [{"kind": "secret_leak", "principal": "bot", "at": {"lognormal": {"median": "1h"}}}]},
        {"threats": [{"kind": "issuer_outage", "window": {"start": "1h", "duration": {"exponential": "30m"}}}]},
        {"strategies": {"rbac": "rbac", "short": {"base": "zsp", "ttl": "5m"}}},  # preset by name
        {"run": {"horizon": "never"}},
        {"tasks": [{"id": "t", "arrival_rate": "3/2h", "steps": [{"delegate": {"agent": "a", "task": "u"}}]}]},
    ],
)
def test_shorthand_forms_accepted(validator, fragment):
    assert errors(validator, minimal(**fragment)) == []


@pytest.mark.parametrize(
    "fragment",
    [
        {"roles": [{"id": "r", "grants": ["api:read"]}]},
        {"threats": [{"kind": "secret_leek", "principal": "bot", "at": "2h"}]},
        {"threats": [{"kind": "secret_leak", "principal": "bot", "at": "-2h"}]},
        {"threats": [{"kind": "secret_leak", "principal": "bot", "at": {"gaussian": "2h"}}]},
        {"run": {"horizon": "-5h"}},
        {"run": {"replications": "lots"}},
        {"tasks": [{"id": "t", "arrival_rate": "-3/h", "steps": [{"call": "a:b:c"}]}]},
        {"tasks": [{"id": "t", "steps": []}]},
        {"detection": {"alert_detection_probability": 1.5}},
        {"strategies": {"mine": "strict"}},
        {"resources": [{"id": "db", "sensitivity": "secret"}]},
        {"resources": [{"id": "bad id!"}]},
        {"agents": [{"id": "a", "owner": "h", "colour": "red"}]},
    ],
)
def test_invalid_values_rejected(validator, fragment):
    assert errors(validator, minimal(**fragment))


def test_schema_is_stable_and_not_shared(schema):
    again = scenario_json_schema()
    assert again == schema
    again["properties"].pop("name")
    assert "name" in scenario_json_schema()["properties"]
    assert copy.deepcopy(schema) == schema


# -- interop: what editors (yaml-language-server) and strict JSON tools need


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _printed_schema(capsys) -> str:
    with pytest.raises(SystemExit) as info:
        main(["schema"])
    assert info.value.code in (0, None)
    return capsys.readouterr().out


def test_cli_output_is_strict_json(capsys):
    text = _printed_schema(capsys)
    # Python's json accepts Infinity/NaN by default; strict parsers (and YAML editors) do not
    printed = json.loads(text, parse_constant=_refuse_constant)
    assert printed["$id"].startswith("urn:nhisim:schema:scenario:")
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_infinite_default_is_written_as_never(schema, validator):
    deadline = schema["$defs"]["TaskTemplate"]["properties"]["deadline"]
    assert deadline["default"] == "never"
    task = {"id": "t", "steps": [{"call": "a:b:c"}], "deadline": deadline["default"]}
    assert errors(validator, minimal(tasks=[task])) == []  # the default is itself valid input


def test_a_non_finite_default_nothing_spells_is_dropped_and_said():
    from nhisim.scenario.schema import _finite_defaults

    node = _finite_defaults({"type": "number", "default": float("inf"), "description": "a cap"})
    assert "default" not in node and node["description"] == "a cap (default: unlimited)"
    assert "default" not in _finite_defaults({"type": "number", "default": float("nan")})


def _properties(node, path="#"):
    """Every (path, property schema) at every depth of a schema."""
    if isinstance(node, dict):
        for name, prop in (node.get("properties") or {}).items():
            yield f"{path}/properties/{name}", prop
        for key, value in node.items():
            yield from _properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _properties(value, f"{path}/{i}")


def test_every_property_at_every_depth_has_a_description(schema):
    found = list(_properties(schema))
    assert len(found) > 100  # the walk reaches into $defs
    missing = [path for path, prop in found if not str(prop.get("description", "")).strip()]
    assert missing == []


def test_docs_show_a_yaml_language_server_line_that_works(tmp_path, capsys):
    import re

    import yaml

    docs = (ROOT / "docs" / "scenarios.md").read_text()
    written = re.search(r"nhisim schema > (\S+)", docs)
    modeline = re.search(r"^# yaml-language-server: \$schema=(\S+)$", docs, re.MULTILINE)
    assert written and modeline, "docs/scenarios.md must show how to write the schema and point a file at it"
    # as documented: the schema written in the project folder, a scenario in scenarios/
    (tmp_path / written.group(1)).write_text(_printed_schema(capsys))
    scenario = tmp_path / "scenarios" / "mine.yaml"
    scenario.parent.mkdir()
    scenario.write_text(modeline.group(0) + "\n" + (ROOT / "scenarios" / "leaked_key.yaml").read_text())
    # what the language server does: resolve the path against the file, load, validate
    first = scenario.read_text().splitlines()[0]
    target = (scenario.parent / first.split("$schema=", 1)[1]).resolve()
    assert target.is_file(), f"{first} does not point at {written.group(1)}"
    validator = jsonschema.Draft202012Validator(json.loads(target.read_text(), parse_constant=_refuse_constant))
    assert errors(validator, yaml.safe_load(scenario.read_text())) == []
