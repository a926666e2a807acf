"""The Cedar engine: schema, entities, generated and user policies, export, errors, cache, CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import cedarpy
import pandas as pd
import pytest
from engine_fixtures import build, support_estate

from nhisim.errors import InputError
from nhisim.scenario.generate import generate_estate
from nhisim.scenario.loader import load_scenario
from nhisim.sim import pep
from nhisim.sim.cedar import (
    MAX_NESTING,
    CedarEvaluator,
    PolicySource,
    clear_caches,
    compile_policies,
    policy_bundle,
    split_statements,
)
from nhisim.sim.cedar_export import entities_json, schema_json, schema_text, strategy_policies
from nhisim.sim.compiled import compile_world
from nhisim.sim.credentials import Credential
from nhisim.sim.engine import Simulation
from nhisim.strategies import preset

ROOT = Path(__file__).resolve().parents[1]
LEAKED_KEY = ROOT / "scenarios" / "leaked_key.yaml"
PRESETS = ["shared_account", "rbac", "zsp", "intent"]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nhisim", *args], cwd=cwd or ROOT, capture_output=True, text=True,
                          timeout=300)


# --------------------------------------------------------------------------- schema and entities


@pytest.mark.parametrize("scenario", [load_scenario(LEAKED_KEY), generate_estate(agents=12, seed=4)],
                         ids=["leaked_key", "estate"])
def test_schema_in_both_formats_and_entities_are_accepted_by_cedar(scenario):
    world = compile_world(scenario)
    schema = schema_json(world)
    cedarpy.Schema.from_json_str(json.dumps(schema))
    cedarpy.Schema.from_str(schema_text(world))
    entities = entities_json(scenario, world)
    handle = cedarpy.Entities.from_json_str(json.dumps(entities), schema=schema)
    assert len(handle) >= len(entities)  # Cedar adds the schema's actions
    kinds = {e["uid"]["type"] for e in entities}
    assert {f"Nhisim::{k}" for k in ("Agent", "Role", "Tool", "Resource", "Task", "Human")} <= kinds
    resource = next(e for e in entities if e["uid"]["type"] == "Nhisim::Resource")
    assert isinstance(resource["attrs"]["sensitivity"], int)


KNOB_VARIANTS = [{}, {"out_of_intent": "escalate"}, {"risk_escalation_alerts": None},
                 {"runtime_check": "intent"}, {"runtime_check": "scope"}]


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("knobs", KNOB_VARIANTS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "preset")
def test_generated_policies_validate_against_the_schema(name, knobs):
    world = compile_world(load_scenario(LEAKED_KEY))
    text = strategy_policies(preset(name).with_knobs(**knobs))
    for schema in (json.dumps(schema_json(world)), schema_text(world)):
        result = cedarpy.validate_policies(text, schema)
        assert result.validation_passed, [str(e) for e in result.errors]
    assert cedarpy.format_policies(text)  # well-formed for Cedar's formatter too


def test_generated_policies_carry_every_native_code_and_reason():
    text = strategy_policies(preset("intent").with_knobs(out_of_intent="escalate"))
    for outcome in (pep.EXPIRED, pep.REVOKED, pep.REVOKED_RESPONSE, pep.QUARANTINED, pep.SENDER, pep.SCOPE,
                    pep.NO_INTENT, pep.INTENT_OP, pep.INTENT_SENS, pep.INTENT_DEST, pep.RISK, pep.ALLOW_INTENT):
        assert f'@code("{outcome[-2]}")' in text and json.dumps(outcome[-1]) in text
    assert '@effect("escalate")' in text
    assert "// 1. The credential must be alive" in text  # written for a person
    scope_only = strategy_policies(preset("rbac"))
    assert "intent" not in scope_only.split("// How to read it")[1].replace("task intent", "")


# --------------------------------------------------------------------------- export


@pytest.mark.parametrize("name", PRESETS)
def test_policy_export_writes_files_cedar_loads(tmp_path, name):
    done = cli("policy", "export", str(LEAKED_KEY), "--strategy", name, "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    files = {p.name for p in tmp_path.iterdir()}
    assert {f"{name}.cedar", "schema.cedarschema", "schema.cedarschema.json", "entities.json",
            "example-request.json"} <= files
    policies = (tmp_path / f"{name}.cedar").read_text()
    assert policies.lstrip().startswith("//")
    for schema_file in ("schema.cedarschema", "schema.cedarschema.json"):
        result = cedarpy.validate_policies(policies, (tmp_path / schema_file).read_text())
        assert result.validation_passed, [str(e) for e in result.errors]
    schema = (tmp_path / "schema.cedarschema").read_text()
    entities = cedarpy.Entities.from_json_str((tmp_path / "entities.json").read_text(), schema=schema)
    request = json.loads((tmp_path / "example-request.json").read_text())
    answer = cedarpy.is_authorized(request, policies, entities, schema=schema)
    assert answer.allowed, answer.diagnostics.errors


def test_export_of_a_strategy_with_user_policies_writes_those(tmp_path):
    policy = tmp_path / "mine.cedar"
    policy.write_text(NO_EXPORT)
    scenario = load_scenario(LEAKED_KEY, overrides={
        "strategies.mine": {"base": "rbac", "engine": "cedar", "policies": [str(policy)]}})
    bundle = policy_bundle(scenario, "mine")
    assert "no_export" in bundle["mine.cedar"] and str(policy) in bundle["mine.cedar"]


def test_export_of_an_unknown_strategy_is_a_clear_error(tmp_path):
    done = cli("policy", "export", str(LEAKED_KEY), "--strategy", "intnet", "--out", str(tmp_path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "intent" in done.stderr


# --------------------------------------------------------------------------- user policies

NO_EXPORT = """// everything in scope, but never an export
@code("allowed")
permit (principal, action, resource)
when { context.credential.scope.contains(context.operation) };

@id("no-export") @code("no_export") @reason("exports are forbidden here")
forbid (principal, action == Nhisim::Action::"export", resource);
"""


def _with_policies(paths: list[str], base: str = "rbac"):
    return load_scenario(LEAKED_KEY, overrides={
        "strategies.mine": {"base": base, "engine": "cedar", "policies": paths}})


def test_user_policies_decide(tmp_path):
    policy = tmp_path / "mine.cedar"
    policy.write_text(NO_EXPORT)
    scenario = _with_policies([str(policy)])  # an absolute path
    events = Simulation(scenario, "mine", seed=3).run().to_frame()
    requests = events[events.event == "request"]
    exports = requests[requests.action == "export"]
    assert len(exports) and (exports.decision == "deny").all()
    assert set(exports.code) == {"no_export"} and set(exports.reason) == {"exports are forbidden here"}
    assert (requests[requests.action != "export"].decision == "allow").any()
    native = Simulation(scenario, "rbac", seed=3).run().to_frame()
    assert (native[(native.event == "request") & (native.action == "export")].decision == "allow").any()


def test_relative_policy_paths_are_read_from_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "mine.cedar").write_text(NO_EXPORT)
    monkeypatch.chdir(tmp_path)
    scenario = _with_policies(["rules/mine.cedar"])
    sim = Simulation(scenario, "mine", seed=3)
    assert "no_export" in sim.pep.policy_text


def test_engine_cedar_in_the_scenario_without_policies_uses_the_generated_ones():
    scenario = load_scenario(LEAKED_KEY, overrides={"strategies.intent_cedar": {"base": "intent", "engine": "cedar"}})
    sim = Simulation(scenario, "intent_cedar", seed=2)
    assert sim.engine == "cedar" and "intent-operation" in sim.pep.policy_text
    cedar = sim.run().to_frame()
    native = Simulation(scenario, "intent_cedar", seed=2, engine="native").run().to_frame()
    pd.testing.assert_frame_equal(cedar, native)


def test_escalate_effect_sends_a_request_to_a_human(tmp_path):
    policy = tmp_path / "mine.cedar"
    policy.write_text(NO_EXPORT.replace('@reason("exports are forbidden here")',
                                        '@reason("exports need a human") @effect("escalate")'))
    events = Simulation(_with_policies([str(policy)]), "mine", seed=3).run().to_frame()
    exports = events[(events.event == "request") & (events.action == "export")]
    assert len(exports) and set(exports.code) <= {"approved", "rejected"}
    assert exports.reason.str.contains("exports need a human").all()


def _evaluator(text: str, strategy: str = "intent"):
    scenario = build(support_estate())
    world = compile_world(scenario)
    sources = [PolicySource("t.cedar", text)]
    evaluator = CedarEvaluator(preset(strategy), world, {}, {}, scenario=scenario)
    evaluator.compiled = compile_policies(sources, schema_json(world))
    evaluator.use_features(evaluator.compiled.features)
    return evaluator, world


def _token(world, **kw) -> Credential:
    fields = dict(id="t", kind="jit_token", subject="bot", holders={"bot"}, scope=frozenset(range(len(world.op_keys))),
                  issued_at=0.0, expires_at=math.inf, binding="bearer", intent=world.tasks["ticket"])
    fields.update(kw)
    return Credential(**fields)


def test_nothing_permitted_is_no_permit_and_an_evaluation_error_is_policy_error():
    evaluator, world = _evaluator("permit (principal, action, resource) when { context.now * 9223372036854775807 > 1 };")
    cred = _token(world)
    assert evaluator.decide(0.0, "bot", cred, 0, "internal", None) == ("deny", "no_permit",
                                                                       "no policy permits this request")
    code = evaluator.decide(10.0, "bot", cred, 0, "internal", None)
    assert code[:2] == ("deny", "policy_error") and "overflow" in code[2]


def test_time_read_by_a_policy_enters_the_cache_key():
    evaluator, world = _evaluator("""
        @code("allowed") permit (principal, action, resource);
        @code("after_hours") forbid (principal, action, resource) when { context.now >= 3600 };""")
    cred = _token(world)
    assert evaluator.decide(10.0, "bot", cred, 0, "internal", None)[1] == "allowed"
    assert evaluator.decide(4000.0, "bot", cred, 0, "internal", None)[1] == "after_hours"
    assert evaluator.compiled.features == {"now"} and evaluator.features == ("now",)


def test_decisions_are_cached_and_liveness_is_in_the_key():
    clear_caches()
    scenario = build(support_estate())
    world = compile_world(scenario)
    quarantined: dict[str, float] = {}
    evaluator = CedarEvaluator(preset("zsp"), world, quarantined, {}, scenario=scenario)
    cred = _token(world, expires_at=100.0)
    assert evaluator.decide(10.0, "bot", cred, 0, "internal", None)[1] == "allowed"
    assert evaluator.decide(20.0, "bot", cred, 0, "internal", None)[1] == "allowed"
    assert evaluator.cedar_calls == 1  # the second answer came from the cache
    assert evaluator.key(20.0, "bot", cred, 0, "internal", None) in evaluator._cache  # decide's key is key()
    assert evaluator.decide(100.0, "bot", cred, 0, "internal", None)[1] == "expired"
    quarantined["bot"] = 50.0
    assert evaluator.decide(60.0, "bot", cred, 0, "internal", None)[1] == "quarantined"
    assert evaluator.still_valid(60.0, "bot", cred) == pep.QUARANTINED
    assert evaluator.still_valid(40.0, "bot", cred) is None
    assert evaluator.cedar_calls == 3  # three distinct requests; the rest were the same as one of them


def test_split_statements_ignores_semicolons_in_strings_and_comments():
    text = '// a; comment\npermit (principal, action, resource)\nwhen { context.destination == "a;b" };\n\n' \
           '@reason("x;y")\nforbid (principal, action, resource);\nforbid (principal'
    parts = split_statements(text)
    assert [line for line, _ in parts] == [2, 5, 7]


# --------------------------------------------------------------------------- invalid policies


def _error(text: str) -> InputError:
    with pytest.raises(InputError) as info:
        compile_policies([PolicySource("bad.cedar", text)], schema_json(compile_world(load_scenario(LEAKED_KEY))))
    return info.value


def test_a_parse_error_names_the_file_and_line():
    err = _error('permit (principal, action, resource);\n\n// next\nforbid (principal, action, resource)\n'
                 'when {\n  context.destination == \n};\n')
    assert err.file == "bad.cedar" and err.problems[0].line == 7
    assert "unexpected token" in err.problems[0].message  # Cedar's own words


def test_a_schema_error_names_the_line_and_the_nearest_name():
    err = _error('permit (principal, action, resource);\n\nforbid (principal, action, resource)\n'
                 'when {\n  context.credential.expired ||\n  resource.sensitivty > 2\n};\n')
    problem = err.problems[0]
    assert problem.line == 6 and "sensitivty" in problem.message and "sensitivity" in problem.suggestion


@pytest.mark.parametrize("text, words", [
    ('@effect("maybe") forbid (principal, action, resource);', "maybe"),
    ('@effect("escalate") permit (principal, action, resource);', "forbid policies only"),
    ("permit (principal == ?principal, action, resource);", "template"),
    ("permit (principal, action, resource) when {" + "(" * (MAX_NESTING + 5) + "true" + ")" * (MAX_NESTING + 5)
     + "};", "too complex"),
    ("permit (principal, action, resource) when {" + " && ".join(["true"] * 30000) + "};", "too complex"),
])
def test_other_policy_mistakes_are_input_errors(text, words):
    assert words in _error(text).render()


def test_policies_from_several_files_decide_in_order_and_errors_name_their_file(tmp_path):
    (tmp_path / "a.cedar").write_text(NO_EXPORT)
    (tmp_path / "b.cedar").write_text('// second\n@code("late") forbid (principal, action, resource);\n')
    scenario = _with_policies([str(tmp_path / "a.cedar"), str(tmp_path / "b.cedar")])
    events = Simulation(scenario, "mine", seed=3).run().to_frame()
    requests = events[events.event == "request"]
    assert set(requests.code) == {"no_export", "late"}  # the first forbid in file order names the denial
    assert set(requests[requests.action == "export"].code) == {"no_export"}
    (tmp_path / "b.cedar").write_text('// second\n\npermit (principal, action, resource)\nwhen { context.nope };\n')
    with pytest.raises(InputError) as info:
        Simulation(_with_policies([str(tmp_path / "a.cedar"), str(tmp_path / "b.cedar")]), "mine", seed=3)
    assert info.value.file.endswith("b.cedar") and info.value.problems[0].line == 4
    assert "policy 1" in info.value.problems[0].location


def test_cli_reports_an_invalid_user_policy_with_exit_2_and_no_traceback(tmp_path):
    (tmp_path / "bad.cedar").write_text("permit (principal, action, resource)\nwhen { context.nope };\n")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"extends: {LEAKED_KEY}\nstrategies:\n  mine: {{base: rbac, engine: cedar, "
                        f"policies: [bad.cedar]}}\n")
    for args in (["run", str(scenario), "--strategy", "mine"], ["compare", str(scenario), "-r", "1"],
                 ["policy", "validate", str(scenario)]):
        done = cli(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert "bad.cedar:2" in done.stderr and "nope" in done.stderr, done.stderr
    (tmp_path / "bad.cedar").unlink()
    done = cli("run", str(scenario), "--strategy", "mine", cwd=tmp_path)
    assert done.returncode == 2 and "policy file not found" in done.stderr and "Traceback" not in done.stderr


def test_cli_rejects_an_unknown_engine():
    done = cli("run", str(LEAKED_KEY), "--engine", "cedr")
    assert done.returncode == 2 and "cedar" in done.stderr and "Traceback" not in done.stderr


def test_policy_validate_checks_given_files(tmp_path):
    (tmp_path / "ok.cedar").write_text(NO_EXPORT)
    done = cli("policy", "validate", str(LEAKED_KEY), "--policies", str(tmp_path / "ok.cedar"))
    assert done.returncode == 0 and "ok" in done.stdout


# --------------------------------------------------------------------------- compare with either engine


def test_compare_gives_the_same_results_with_either_engine(tmp_path):
    folders = {}
    for engine in ("native", "cedar"):
        folders[engine] = tmp_path / engine
        done = cli("compare", str(LEAKED_KEY), "--engine", engine, "-r", "4", "--out", str(folders[engine]))
        assert done.returncode == 0, done.stderr
    runs = {e: pd.read_parquet(f / "runs.parquet") for e, f in folders.items()}
    pd.testing.assert_frame_equal(runs["native"], runs["cedar"])
    assert len(runs["cedar"]) == 4 * runs["cedar"].strategy.nunique()
    events = {e: pd.read_parquet(f / "events.parquet") for e, f in folders.items()}
    pd.testing.assert_frame_equal(events["native"], events["cedar"])


# --------------------------------------------------------------------------- namespace and policy ids
# AWS Verified Permissions takes a schema only in a named namespace; a policy store, the
# Cedar CLI and nhisim then agree on what every type, action and policy is called.


def _entity_refs(value):
    if isinstance(value, dict):
        if "__entity" in value:
            yield value["__entity"]["type"]
        for v in value.values():
            yield from _entity_refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from _entity_refs(v)


def test_schema_entities_and_requests_are_in_the_nhisim_namespace(tmp_path):
    scenario = load_scenario(LEAKED_KEY)
    world = compile_world(scenario)
    assert list(schema_json(world)) == ["Nhisim"]
    text = schema_text(world)
    assert "namespace Nhisim {" in text and text.rstrip().endswith("}")
    entities = entities_json(scenario, world)
    types = {e["uid"]["type"] for e in entities} | {p["type"] for e in entities for p in e["parents"]}
    types |= set(_entity_refs([e["attrs"] for e in entities]))
    assert types and all(t.startswith("Nhisim::") for t in types), types
    bundle = policy_bundle(scenario, "intent")
    request = json.loads(bundle["example-request.json"])
    assert request["principal"] == 'Nhisim::Agent::"support-bot"'
    assert request["action"].startswith('Nhisim::Action::"') and request["resource"].startswith("Nhisim::Resource::")
    assert all(t.startswith("Nhisim::") for t in _entity_refs(request["context"]))
    # and Cedar, given only the exported files, allows it under the namespaced schema
    answer = cedarpy.is_authorized(request, bundle["intent.cedar"], bundle["entities.json"],
                                   schema=bundle["schema.cedarschema"])
    assert answer.allowed, answer.diagnostics.errors


@pytest.mark.parametrize("name", PRESETS)
def test_policy_ids_are_the_policies_at_ids(name):
    world = compile_world(load_scenario(LEAKED_KEY))
    text = strategy_policies(preset(name))
    compiled = compile_policies([PolicySource("gen", text)], schema_json(world))
    written = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]
    assert set(compiled.info) == {p["annotations"]["id"] for p in written.values()}
    assert all(info.id == info.name for info in compiled.info.values())
    # Cedar itself reports the determining policy by that id
    evaluator, world = _evaluator(text, name)
    cred = _token(world, kind="static_key", intent=None)
    key = evaluator.reduce(evaluator.key(0.0, "bot", cred, 0, "internal", world.tasks["ticket"]))
    result = cedarpy.is_authorized(evaluator.request(key), evaluator.compiled.policy_set, evaluator.entities)
    assert result.diagnostics.reasons and set(result.diagnostics.reasons) <= set(compiled.info)


def test_policies_without_an_at_id_keep_cedars_ids_and_duplicates_fall_back_to_them():
    world = compile_world(load_scenario(LEAKED_KEY))
    schema = schema_json(world)
    mixed = compile_policies([PolicySource("m.cedar", '@id("base") permit (principal, action, resource);\n'
                                                      "forbid (principal, action, resource) when { false };")], schema)
    assert set(mixed.info) == {"base", "policy1"}
    twice = '@id("same") permit (principal, action, resource);\n@id("same") forbid (principal, action, resource) ' \
            "when { false };"
    clash = compile_policies([PolicySource("d.cedar", twice)], schema)
    assert set(clash.info) == {"policy0", "policy1"}  # two policies may not share an id
    assert [i.name for i in sorted(clash.info.values(), key=lambda i: i.index)] == ["same", "same"]


@pytest.mark.parametrize("written, qualified", [
    ('forbid (principal, action == Action::"export", resource);', 'Nhisim::Action::"export"'),
    ("forbid (principal is Agent, action, resource);", "Nhisim::Agent"),
])
def test_a_policy_without_the_namespace_is_told_how_to_write_it(written, qualified):
    world = compile_world(load_scenario(LEAKED_KEY))
    with pytest.raises(InputError) as info:
        compile_policies([PolicySource("old.cedar", "permit (principal, action, resource);\n" + written)],
                         schema_json(world))
    assert any(qualified in p.suggestion for p in info.value.problems)
