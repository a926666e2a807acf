"""Every preset strategy (one file each in ``nhisim/strategies/``) is a name the scenario
language accepts: as ``base:``, in the JSON Schema, and resolved to the preset itself; and
no module of the scenario layer or the CLI keeps its own list of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from registry_helpers import literal_collections

from nhisim.scenario.loader import validate_data
from nhisim.scenario.models import PRESET_NAMES, Scenario, StrategySpec
from nhisim.scenario.schema import scenario_json_schema
from nhisim.scenario.strategy import resolve_strategy
from nhisim.strategies import preset, preset_names

ROOT = Path(__file__).resolve().parents[1]
PRESETS = preset_names()


def test_the_scenario_language_reads_the_registry():
    assert PRESET_NAMES == PRESETS
    assert list(Scenario(name="x").strategies) == list(PRESETS)  # the default comparison


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_validates_as_base(name):
    scenario = validate_data({"name": "x", "strategies": {"mine": {"base": name, "ttl": "1h"}, "bare": name}})
    assert scenario.strategies["mine"].base == name
    assert scenario.strategies["bare"] == StrategySpec(base=name)


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_is_in_the_schema(name):
    schema = scenario_json_schema()
    assert name in schema["$defs"]["StrategySpec"]["properties"]["base"]["enum"]
    (entry,) = schema["properties"]["strategies"]["patternProperties"].values()
    shorthand = next(o for o in entry["anyOf"] if "enum" in o)
    assert name in shorthand["enum"]


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_resolves_to_itself(name):
    expected = preset(name)
    for spec in (name, StrategySpec(base=name), {"base": name}):
        strategy = resolve_strategy(spec)
        assert strategy.name == name
        assert strategy.knobs() == expected.knobs()
    assert resolve_strategy(name, name="renamed").name == "renamed"


def test_no_layer_above_the_presets_keeps_its_own_list_of_them():
    folders = ("scenario", "world", "sim", "metrics", "experiments", "reports", "cli")
    paths = [p for folder in folders for p in sorted((ROOT / "nhisim" / folder).rglob("*.py"))]
    found = literal_collections(paths, set(PRESETS))
    assert not found, "read nhisim.strategies.preset_names() instead:\n" + "\n".join(found)
