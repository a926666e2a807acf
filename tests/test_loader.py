"""Loading scenarios: extends (deep merge, by-id lists, several parents, relative paths),
overrides by dotted path, ``--set`` text, and the what-if helper ``with_overrides``."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest

from nhisim.errors import InputError
from nhisim.scenario.loader import (
    MAX_BYTES_ENV,
    MAX_FILE_BYTES,
    apply_overrides,
    deep_merge,
    load_scenario,
    max_file_bytes,
    parse_override,
    parse_yaml,
    set_path,
    validate_data,
    with_overrides,
)
from nhisim.scenario.models import PRESET_NAMES
from nhisim.scenario.units import Fixed

ROOT = Path(__file__).resolve().parents[1]
LEAKED_KEY = ROOT / "scenarios" / "leaked_key.yaml"

BASE = """\
name: base
resources:
  - {id: db, sensitivity: high, records: 10}
  - {id: wiki, sensitivity: low}
tools:
  - id: api
    operations:
      - {action: read, resource: db}
      - {action: write, resource: db}
      - {action: read, resource: wiki}
roles:
  - {id: reader, grants: ["api:read:db", "api:read:wiki"]}
humans:
  - {id: alice}
  - {id: bob}
agents:
  - id: bot
    owner: alice
    roles: [reader]
    tasks: [t]
    behaviour: {discovery_probability: 0.05, task_rate_multiplier: 2}
tasks:
  - id: t
    arrival_rate: 6/h
    steps:
      - {call: "api:read:db", duration: {exponential: 10s}}
threats:
  - {id: leak, kind: secret_leak, principal: bot, at: 2h}
run:
  horizon: 1d
  replications: 5
expectations: ["intent < rbac on blast_radius"]
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return write(tmp_path / "base.yaml", BASE)


# --------------------------------------------------------------------------- deep_merge


def test_deep_merge_dicts_recursively():
    merged = deep_merge({"a": {"x": 1, "y": 2}, "b": 1}, {"a": {"y": 3, "z": 4}, "c": 5})
    assert merged == {"a": {"x": 1, "y": 3, "z": 4}, "b": 1, "c": 5}


def test_deep_merge_id_lists_by_id_keeping_order():
    base = [{"id": "a", "v": 1, "w": 1}, {"id": "b", "v": 2}]
    over = [{"id": "b", "v": 20}, {"id": "c", "v": 3}, {"id": "a", "w": 10}]
    assert deep_merge(base, over) == [{"id": "a", "v": 1, "w": 10}, {"id": "b", "v": 20}, {"id": "c", "v": 3}]


def test_deep_merge_other_lists_and_scalars_replace():
    assert deep_merge({"l": [1, 2, 3]}, {"l": [4]}) == {"l": [4]}
    assert deep_merge({"l": [{"id": "a"}]}, {"l": []}) == {"l": []}
    assert deep_merge({"a": {"x": 1}}, {"a": "zsp"}) == {"a": "zsp"}


def test_deep_merge_does_not_alias_inputs():
    base = {"a": {"x": [1]}}
    over = {"b": {"y": [2]}}
    merged = deep_merge(base, over)
    merged["b"]["y"].append(3)
    assert over == {"b": {"y": [2]}}


# --------------------------------------------------------------------------- extends


def test_extends_deep_merges_sections(tmp_path, base):
    child = write(tmp_path / "child.yaml", """\
        extends: base.yaml
        name: child
        run: {replications: 9}
        """)
    s = load_scenario(child)
    assert s.name == "child"
    assert s.run.replications == 9
    assert s.run.horizon == 86400.0  # kept from the parent
    assert [a.id for a in s.agents] == ["bot"]
    assert s.expectations == ["intent < rbac on blast_radius"]


def test_extends_merges_id_lists_by_id(tmp_path, base):
    child = write(tmp_path / "child.yaml", """\
        extends: base.yaml
        name: child
        agents:
          - id: bot
            behaviour: {discovery_probability: 0.5}
          - {id: bot2, owner: bob, roles: [reader]}
        resources:
          - {id: db, sensitivity: critical}
        expectations: []
        """)
    s = load_scenario(child)
    bot, bot2 = s.agents
    assert (bot.id, bot2.id) == ("bot", "bot2")
    assert bot.owner == "alice" and bot.roles == ["reader"] and bot.tasks == ["t"]  # merged, not replaced
    assert bot.behaviour.discovery_probability == 0.5
    assert bot.behaviour.task_rate_multiplier == 2  # nested dict merged too
    assert bot2.owner == "bob"
    db = s.index().resources["db"]
    assert db.sensitivity == "critical" and db.records == 10
    assert [r.id for r in s.resources] == ["db", "wiki"]
    assert s.expectations == []  # a plain list is replaced


def test_extends_list_of_parents_later_wins(tmp_path, base):
    write(tmp_path / "ops.yaml", """\
        run: {replications: 3, seed: 42}
        detection: {monitoring: advanced}
        agents:
          - {id: bot, owner: bob}
        """)
    child = write(tmp_path / "child.yaml", """\
        extends: [base.yaml, ops.yaml]
        name: child
        run: {seed: 7}
        """)
    s = load_scenario(child)
    assert s.run.replications == 3  # ops.yaml over base.yaml
    assert s.run.seed == 7  # the child over both
    assert s.run.horizon == 86400.0  # base.yaml
    assert s.detection.monitoring == "advanced"
    assert s.agents[0].owner == "bob" and s.agents[0].tasks == ["t"]


def test_extends_paths_are_relative_to_each_file(tmp_path, base, monkeypatch):
    write(tmp_path / "lib" / "mid.yaml", """\
        extends: ../base.yaml
        run: {replications: 4}
        """)
    child = write(tmp_path / "deep" / "er" / "child.yaml", """\
        extends: ../../lib/mid.yaml
        name: child
        """)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(InputError, match="outside the scenario's folder"):  # lib/ is not under deep/er/
        load_scenario(child)
    s = load_scenario(child, allow_paths=[tmp_path])
    assert s.run.replications == 4 and s.name == "child" and [a.id for a in s.agents] == ["bot"]
    # relative to the current directory too
    monkeypatch.chdir(tmp_path / "deep")
    assert load_scenario(Path("er") / "child.yaml", allow_paths=[tmp_path]).run.replications == 4


def test_extends_diamond_is_not_a_cycle(tmp_path, base):
    write(tmp_path / "left.yaml", "extends: base.yaml\nrun: {seed: 1}\n")
    write(tmp_path / "right.yaml", "extends: base.yaml\nrun: {replications: 2}\n")
    child = write(tmp_path / "child.yaml", "extends: [left.yaml, right.yaml]\nname: child\n")
    s = load_scenario(child)
    assert (s.run.seed, s.run.replications) == (1, 2)


def test_extends_cycle_and_self(tmp_path):
    write(tmp_path / "a.yaml", "name: a\nextends: b.yaml\n")
    write(tmp_path / "b.yaml", "name: b\nextends: a.yaml\n")
    write(tmp_path / "me.yaml", "name: me\nextends: me.yaml\n")
    with pytest.raises(InputError, match="cyclic extends: a.yaml -> b.yaml -> a.yaml"):
        load_scenario(tmp_path / "a.yaml")
    with pytest.raises(InputError, match="cyclic extends"):
        load_scenario(tmp_path / "me.yaml")


def test_extends_missing_parent_and_bad_type(tmp_path):
    child = write(tmp_path / "child.yaml", "name: c\nextends: nowhere.yaml\n")
    with pytest.raises(InputError) as info:
        load_scenario(child)
    assert "nowhere.yaml" in str(info.value) and info.value.problems[0].line == 2
    bad = write(tmp_path / "bad.yaml", "name: c\nextends: 3\n")
    with pytest.raises(InputError, match="extends must be a file name"):
        load_scenario(bad)


def test_parent_errors_are_reported_in_the_parent(tmp_path):
    write(tmp_path / "parent.yaml", "name: p\nrun: {horizon: [\n")
    child = write(tmp_path / "child.yaml", "extends: parent.yaml\nname: c\n")
    with pytest.raises(InputError) as info:
        load_scenario(child)
    assert info.value.file.endswith("parent.yaml")


def test_error_lines_follow_items_merged_by_id(tmp_path, base):
    # the child's second item is the parent's first: the error must point at the child's line 5
    child = write(tmp_path / "child.yaml", """\
        extends: base.yaml
        agents:
          - id: newbie
            owner: alice
          - id: bot
            roles: [raeder]
        """)
    with pytest.raises(InputError) as info:
        load_scenario(child)
    (problem,) = info.value.problems
    assert problem.location == "agents.0.roles.0"
    assert problem.line == 6
    assert "did you mean 'reader'" in problem.suggestion


def test_the_example_scenario_loads():
    s = load_scenario(LEAKED_KEY)
    assert s.name == "leaked-key" and s.agents and s.threats and s.strategies


# --------------------------------------------------------------------------- overrides


def test_override_strategy_on_a_file_without_strategies(base):
    s = load_scenario(base, {"strategies.zsp.ttl": "1h"})
    assert set(s.strategies) == set(PRESET_NAMES)  # the presets are kept
    assert s.strategies["zsp"].ttl == 3600.0
    assert s.strategies["zsp"].base == "zsp"
    assert s.strategies["rbac"].ttl is None


def test_override_strategy_given_as_preset_name(tmp_path, base):
    child = write(tmp_path / "child.yaml", "extends: base.yaml\nstrategies: {fast: zsp, rbac: rbac}\nexpectations: []\n")
    s = load_scenario(child, {"strategies.fast.ttl": "5m"})
    assert set(s.strategies) == {"fast", "rbac"}
    assert (s.strategies["fast"].base, s.strategies["fast"].ttl) == ("zsp", 300.0)


def test_override_a_new_strategy(base):
    s = load_scenario(base, {"strategies.zsp_1h": {"base": "zsp", "ttl": "1h"}})
    assert s.strategies["zsp_1h"].ttl == 3600.0 and "zsp" in s.strategies


def test_override_agent_by_id(base):
    s = load_scenario(base, {"agents.bot.behaviour.discovery_probability": 0.3})
    assert s.agents[0].behaviour.discovery_probability == 0.3
    assert s.agents[0].behaviour.task_rate_multiplier == 2


def test_override_list_by_index_and_by_id(base):
    s = load_scenario(base, {"threats.0.at": "3h"})
    assert isinstance(s.threats[0].at, Fixed) and s.threats[0].at.mean == 10800.0
    s = load_scenario(base, {"threats.leak.at": {"uniform": ["1h", "2h"]}, "threats.-1.channel": "repository"})
    assert s.threats[0].at.mean == 5400.0 and s.threats[0].channel == "repository"


def test_the_bracket_form_of_a_path_is_the_dotted_one(base):
    # one notation: --set takes threats[0].at as threats.0.at, and messages write the dotted form
    assert parse_override("threats[0].at=3h") == ("threats.0.at", "3h")
    s = load_scenario(base, {"threats[0].at": "3h", "agents[bot].behaviour.discovery_probability": 0.3})
    assert s.threats[0].at.mean == 10800.0 and s.agents[0].behaviour.discovery_probability == 0.3
    with pytest.raises(InputError) as info:
        load_scenario(base, dict([parse_override("threats[0].principal=nobody")]))
    text = str(info.value)
    assert "at threats.0.principal" in text and "[" not in text.split(":", 2)[1]


def test_override_several_and_top_level(base):
    s = load_scenario(base, {"run.horizon": "never", "detection.monitoring": "none", "title": "what if"})
    assert math.isinf(s.run.horizon) and s.detection.monitoring == "none" and s.title == "what if"


def test_override_unknown_path_suggests_nearest_key(base):
    with pytest.raises(InputError) as info:
        load_scenario(base, {"strategies.zsp.tll": "1h"})
    assert "unknown path 'strategies.zsp.tll'" in str(info.value)
    assert "did you mean 'ttl'?" in str(info.value)
    assert info.value.file == str(base)
    with pytest.raises(InputError, match="did you mean 'strategies'"):
        load_scenario(base, {"strategy.zsp.ttl": "1h"})
    with pytest.raises(InputError, match="did you mean 'discovery_probability'"):
        load_scenario(base, {"agents.bot.behaviour.discovery_probabilty": 0.1})


def test_override_unknown_item(base):
    with pytest.raises(InputError, match="no item 'robot' in agents") as info:
        load_scenario(base, {"agents.robot.owner": "bob"})
    assert "did you mean 'bot'" in str(info.value)
    with pytest.raises(InputError, match="no item '5' in threats"):
        load_scenario(base, {"threats.5.at": "1h"})


def test_override_through_a_value(base):
    with pytest.raises(InputError, match="run.horizon is a value, not a section"):
        load_scenario(base, {"run.horizon.x": 1})


def test_override_with_an_invalid_value_fails_validation(base):
    with pytest.raises(InputError, match="run.replications"):
        load_scenario(base, {"run.replications": 0})
    with pytest.raises(InputError, match="negative"):
        load_scenario(base, {"strategies.zsp.ttl": "-1h"})


def test_apply_overrides_does_not_mutate_and_set_path_in_place():
    data = {"name": "x", "run": {"seed": 1}}
    out = apply_overrides(data, {"run.seed": 2})
    assert data["run"]["seed"] == 1 and out["run"]["seed"] == 2
    assert apply_overrides(data, None) is data
    set_path(data, "run.replications", 3)
    assert data["run"] == {"seed": 1, "replications": 3}
    with pytest.raises(InputError, match="empty override path"):
        set_path(data, "", 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("strategies.zsp.ttl=1h", ("strategies.zsp.ttl", "1h")),
        ("agents.bot.behaviour.discovery_probability=0.1", ("agents.bot.behaviour.discovery_probability", 0.1)),
        ("run.replications=50", ("run.replications", 50)),
        ("detection.enabled=false", ("detection.enabled", False)),
        ("expectations=[a, b]", ("expectations", ["a", "b"])),
        ("threats.0.at={uniform: [1h, 2h]}", ("threats.0.at", {"uniform": ["1h", "2h"]})),
        (" title = a=b ", ("title", "a=b")),
        ("title=", ("title", "")),
        ("title={oops", ("title", "{oops")),  # not YAML: kept as text
        ("run.horizon=never", ("run.horizon", "never")),
    ],
)
def test_parse_override(text, expected):
    assert parse_override(text) == expected


def test_parse_override_needs_equals():
    with pytest.raises(InputError, match="has no '='") as info:
        parse_override("strategies.zsp.ttl")
    assert "PATH=VALUE" in str(info.value)


def test_parse_override_never_builds_objects(tmp_path):
    marker = tmp_path / "marker"
    path, value = parse_override(f"title=!!python/object/apply:os.system ['touch {marker}']")
    assert path == "title" and isinstance(value, str)
    assert not marker.exists()


# --------------------------------------------------------------------------- with_overrides


def test_with_overrides_is_a_one_line_what_if(base):
    s = load_scenario(base)
    t = with_overrides(s, {"strategies.zsp.ttl": "1h", "agents.bot.behaviour.discovery_probability": 0.2})
    assert t.strategies["zsp"].ttl == 3600.0 and t.agents[0].behaviour.discovery_probability == 0.2
    assert s.strategies["zsp"].ttl is None and s.agents[0].behaviour.discovery_probability == 0.05  # untouched
    # everything else survives the round trip
    # everything else survives the round trip: undoing the two changes gives the original back
    assert with_overrides(t, {"strategies.zsp.ttl": None, "agents.bot.behaviour.discovery_probability": 0.05}) == s
    assert with_overrides(s, {}) == s and with_overrides(s, None) is not s


def test_distribution_defaults_are_distributions(base):
    # defaults written as plain data (e.g. {"fixed": 600}) must be validated into distributions
    s = load_scenario(base)
    for dist in (s.threats[0].attacker_delay, s.issuer.latency, s.approval.review_time,
                 s.detection.alert_triage_delay, s.detection.manual_revocation_latency):
        assert hasattr(dist, "sample"), dist


def test_with_overrides_round_trips_infinite_durations(base):
    s = with_overrides(load_scenario(base), {"run.horizon": "never"})
    again = with_overrides(s, {"run.seed": 3})
    assert math.isinf(again.run.horizon) and math.isinf(again.tasks[0].deadline) and again.run.seed == 3


def test_with_overrides_errors(base):
    s = load_scenario(base)
    with pytest.raises(InputError, match="did you mean 'ttl'"):
        with_overrides(s, {"strategies.zsp.tll": "1h"})
    with pytest.raises(InputError, match="unknown human 'carol'"):
        with_overrides(s, {"agents.bot.owner": "carol"})


def test_with_overrides_on_the_example():
    base = load_scenario(LEAKED_KEY)
    name = next(iter(base.strategies))
    s = with_overrides(base, {f"strategies.{name}.ttl": "1h", "run.seed": 99})
    assert s.strategies[name].ttl == 3600.0 and s.run.seed == 99
    assert s.agents == base.agents and s.threats == base.threats and s.tasks == base.tasks


# --------------------------------------------------------------------------- odds and ends


def test_validate_data_rejects_non_mapping():
    with pytest.raises(InputError, match="mapping"):
        validate_data(["a"])


def test_parse_yaml_records_lines():
    data, lines = parse_yaml("name: x\nagents:\n  - id: a\n    owner: b\n")
    assert data["agents"][0]["owner"] == "b"
    assert lines[("agents", 0, "owner")] == 4 and lines[("name",)] == 1


def test_yaml_aliases_are_not_expanded_when_recording_lines():
    # nine levels of nine-fold aliases: 387 million leaves if walked naively
    text = "l0: &l0 [x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 10):
        text += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n"
    data, lines = parse_yaml(text + "name: x\n")
    assert data["name"] == "x" and len(lines) < 200


def test_max_file_bytes_from_environment(monkeypatch):
    monkeypatch.delenv(MAX_BYTES_ENV, raising=False)
    assert max_file_bytes() == MAX_FILE_BYTES
    monkeypatch.setenv(MAX_BYTES_ENV, "1000")
    assert max_file_bytes() == 1000
    for bad in ("lots", "-5", "0"):
        monkeypatch.setenv(MAX_BYTES_ENV, bad)
        with pytest.raises(InputError, match=MAX_BYTES_ENV):
            max_file_bytes()


def test_max_bytes_argument_and_environment(monkeypatch, base):
    with pytest.raises(InputError, match="over the 100-byte limit"):
        load_scenario(base, max_bytes=100)
    monkeypatch.setenv(MAX_BYTES_ENV, "100")
    with pytest.raises(InputError, match="over the 100-byte limit"):
        load_scenario(base)
    assert load_scenario(base, max_bytes=10**6).name == "base"  # an explicit argument wins


def test_policy_files_are_relative_to_the_scenario_that_names_them(tmp_path, monkeypatch):
    from nhisim.scenario.loader import load_scenario

    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / "mine.cedar").write_text("permit(principal, action, resource);\n")
    (folder / "s.yaml").write_text("name: s\nstrategies:\n  mine: {base: rbac, engine: cedar, policies: [mine.cedar]}\n")
    monkeypatch.chdir(tmp_path)
    scenario = load_scenario("pack/s.yaml")
    assert scenario.strategies["mine"].policies == [str((folder / "mine.cedar").resolve())]


def test_policy_files_without_the_cedar_engine_are_an_error(tmp_path):
    from nhisim.errors import InputError
    from nhisim.scenario.loader import load_scenario

    path = tmp_path / "s.yaml"
    path.write_text("name: s\nstrategies:\n  mine: {base: rbac, policies: [mine.cedar]}\n")
    with pytest.raises(InputError, match="does not use the Cedar engine"):
        load_scenario(path)


def test_libyaml_and_pure_python_read_every_bundled_scenario_alike():
    from nhisim.scenario import loader

    if loader._FAST_LOADER is None:
        pytest.skip("PyYAML without libyaml: only the pure-Python parser runs")
    root = Path(__file__).resolve().parents[1]
    for path in sorted((root / "scenarios").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        fast = loader._parse_fast(text)
        assert fast is not None, f"{path.name}: libyaml should take a valid scenario"
        pure_loader = loader._FAST_LOADER
        try:
            loader._FAST_LOADER = None
            pure = loader.parse_yaml(text, path.name)
        finally:
            loader._FAST_LOADER = pure_loader
        assert fast == pure, f"{path.name}: data or line numbers differ between the parsers"


def test_a_file_nested_deeper_than_libyaml_may_go_is_left_to_python():
    from nhisim.scenario import loader

    deep = "a: " + "[" * (loader.MAX_FAST_DEPTH + 1) + "]" * (loader.MAX_FAST_DEPTH + 1) + "\n"
    assert loader._parse_fast(deep) is None
    data, _ = loader.parse_yaml(deep)  # still parsed, by the pure-Python parser
    assert isinstance(data["a"], list)
