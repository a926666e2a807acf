"""The threat catalog: data shipped in the package, tag checks, and ``nhisim catalog``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli

from nhisim.errors import InputError
from nhisim.scenario.catalog import FRAMEWORKS, check_tags, load_catalog, lookup, slugify
from nhisim.scenario.loader import load_scenario
from nhisim.scenario.models import Tags

ROOT = Path(__file__).resolve().parents[1]

# what the scenario pack must cover between its files (issue #4)
REQUIRED = {
    "owasp_asi": ["ASI01", "ASI02", "ASI03", "ASI07", "ASI08", "ASI10"],
    "owasp_nhi": ["NHI1", "NHI2", "NHI4", "NHI5", "NHI7", "NHI8", "NHI9", "NHI10"],
    "owasp_agentic": ["T2", "T3", "T6", "T9", "T13", "T14"],
    "maestro": ["L7", "cross:privilege-escalation", "cross:lateral-movement"],
}

MINIMAL = """\
name: tagged
tags:
  maestro: {maestro}
  owasp_asi: {asi}
  owasp_nhi: [NHI2]
resources:
  - {{id: db}}
tools:
  - id: api
    operations:
      - {{action: read, resource: db}}
humans:
  - {{id: alice}}
agents:
  - {{id: bot, owner: alice, tasks: [t]}}
tasks:
  - id: t
    arrival_rate: 1/h
    steps:
      - {{call: "api:read:db"}}
"""



def test_catalog_loads_every_framework():
    cat = load_catalog()
    assert set(cat.frameworks) == set(FRAMEWORKS)
    assert cat.ids("owasp_agentic") == [f"T{i}" for i in range(1, 18)]
    assert cat.ids("owasp_asi") == [f"ASI{i:02d}" for i in range(1, 11)]
    assert cat.ids("owasp_nhi") == [f"NHI{i}" for i in range(1, 11)]
    layers = [i for i in cat.items if i.kind == "layer"]
    assert [i.id for i in layers] == [f"L{i}" for i in range(1, 8)]
    for item in cat.items:
        assert item.title and item.description, item
        if item.kind == "layer threat":
            assert item.id.startswith(item.layer + ":")
            assert item.id.split(":", 1)[1] == slugify(item.title)
        if item.kind == "cross-layer threat":
            assert item.id == "cross:" + slugify(item.title)


def test_official_names():
    cat = load_catalog()
    names = {i.id: i.title for i in cat.items if i.framework == "maestro" and i.kind == "layer"}
    assert names == {"L1": "Foundation Models", "L2": "Data Operations", "L3": "Agent Frameworks",
                     "L4": "Deployment and Infrastructure", "L5": "Evaluation and Observability",
                     "L6": "Security and Compliance (Vertical Layer)", "L7": "Agent Ecosystem"}
    assert lookup("ASI03").title == "Identity and Privilege Abuse"
    assert lookup("NHI9").title == "NHI Reuse"
    assert lookup("T9").title == "Identity Spoofing & Impersonation"
    assert lookup("L7:agent-identity-attack").title == "Agent Identity Attack"
    assert lookup("cross:lateral-movement", "maestro").kind == "cross-layer threat"
    assert lookup("L4:lateral-movement").layer == "L4"
    assert lookup("ASI11") is None


def test_required_ids_exist():
    cat = load_catalog()
    for framework, ids in REQUIRED.items():
        for item_id in ids:
            assert cat.get(framework, item_id) is not None, (framework, item_id)


def test_a_layer_threat_covers_its_layer():
    cat = load_catalog()
    covered = cat.covered(Tags(maestro=["L4:lateral-movement"], owasp_asi=["ASI03"]))
    assert covered == {("maestro", "L4:lateral-movement"), ("maestro", "L4"), ("owasp_asi", "ASI03")}


@pytest.mark.parametrize("framework, tag, hint", [
    ("owasp_asi", "ASI3", "did you mean 'ASI03'?"),
    ("owasp_asi", "ASI03:2026", "did you mean 'ASI03'?"),
    ("owasp_nhi", "NHI01", "did you mean 'NHI1'?"),
    ("owasp_agentic", "t14", "did you mean 'T14'?"),
    ("owasp_asi", "T9", "put it under tags.owasp_agentic"),
    ("maestro", "l7:Agent Identity Attack", "did you mean 'L7:agent-identity-attack'?"),
    ("maestro", "agent-goal-manipulation", "'L7:agent-goal-manipulation'"),
    ("maestro", "lateral-movement", "'L4:lateral-movement' or 'cross:lateral-movement'"),
    ("maestro", "cross:privilege-escalaton", "'cross:privilege-escalation'"),
])
def test_unknown_tags_get_the_nearest_valid_id(framework, tag, hint):
    problems = check_tags(Tags(**{framework: [tag]}))
    assert len(problems) == 1
    assert problems[0].location == f"tags.{framework}.0"
    assert hint in problems[0].suggestion


def test_valid_tags_pass_and_duplicates_do_not():
    assert check_tags(Tags(maestro=["L7", "cross:privilege-escalation"], owasp_asi=["ASI01"],
                           owasp_nhi=["NHI10"], owasp_agentic=["T17"])) == []
    problems = check_tags(Tags(owasp_asi=["ASI01", "ASI01"]))
    assert [p.location for p in problems] == ["tags.owasp_asi.1"]


def test_unknown_tag_is_a_validation_error_with_file_line_and_suggestion(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(MINIMAL.format(maestro="[L7, cross:lateral-movment]", asi="[ASI03, ASI3]"))
    with pytest.raises(InputError) as info:
        load_scenario(path)
    text = info.value.render()
    assert f"{path}:3 at tags.maestro.1" in text and "did you mean 'cross:lateral-movement'?" in text
    assert f"{path}:4 at tags.owasp_asi.1" in text and "did you mean 'ASI03'?" in text


def test_unknown_tag_through_the_cli(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(MINIMAL.format(maestro="[L7]", asi="[ASI99]"))
    code, _, err = run_cli(["validate", str(path)], capsys)
    assert code == 2
    assert "tags.owasp_asi.0" in err and "unknown OWASP ASI id 'ASI99'" in err
    assert "Traceback" not in err


def test_catalog_json_shape_and_pack_coverage(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, out, _ = run_cli(["catalog", "--json"], capsys)
    assert code == 0
    items = json.loads(out)["result"]
    assert isinstance(items, list) and len(items) == len(load_catalog())
    for item in items:
        assert {"framework", "id", "title", "scenarios"} <= set(item)
        assert item["framework"] in FRAMEWORKS
        assert isinstance(item["scenarios"], list)
    by_key = {(i["framework"], i["id"]): i for i in items}
    missing = [key for framework, ids in REQUIRED.items() for key in ((framework, i) for i in ids)
               if not by_key[key]["scenarios"]]
    assert missing == [], f"not covered by any scenario: {missing}"
    assert "leaked_key.yaml" in by_key[("owasp_nhi", "NHI2")]["scenarios"]


def test_catalog_table_lists_uncovered_ids(tmp_path, capsys):
    (tmp_path / "one.yaml").write_text(MINIMAL.format(maestro="[L7:agent-identity-attack]", asi="[ASI03]"))
    code, out, _ = run_cli(["catalog", "--scenarios", str(tmp_path), "--framework", "owasp_asi"], capsys)
    assert code == 0
    assert "ASI03" in out and "one" in out
    assert "1/10 covered" in out
    assert "not covered by any scenario: ASI01, ASI02" in out


def test_catalog_unknown_framework(capsys):
    code, _, err = run_cli(["catalog", "--framework", "owasp_nh"], capsys)
    assert code == 2 and "did you mean 'owasp_nhi'?" in err
