"""Calls a strategy denies in every run: found by validation before any run, and told at run time
with the scope they are missing from and the delegation chain."""

from __future__ import annotations

from pathlib import Path

import yaml
from cli_helpers import run_cli
from engine_fixtures import build, chain_estate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nhisim
from nhisim.scenario.denials import always_denied
from nhisim.scenario.generate import generate_estate
from nhisim.scenario.loader import load_data, load_with_warnings, validate_data
from nhisim.scenario.validate import scenario_warnings

ROOT = Path(__file__).resolve().parents[1]
DEPTH = ROOT / "scenarios" / "delegation_depth.yaml"
LACKING = ("mailer:send:mail is outside the delegated token's scope (orchestrator's roles ∩ month-end-brief's intent "
           "∩ research's intent ∩ summarize's intent ∩ notify's intent, chain orchestrator>worker-1>worker-2>notifier)"
           ": month-end-brief's intent lacks it")


def brief_without_mail() -> dict:
    """delegation_depth.yaml, the root task no longer declaring the mail its last hop sends."""
    data = load_data(DEPTH)
    data["tasks"][0]["intent"]["operations"].remove("mailer:send:mail")
    return data


def test_validate_warns_about_a_delegation_token_exchange_always_denies(tmp_path, capsys):
    path = tmp_path / "brief.yaml"
    path.write_text(yaml.safe_dump(brief_without_mail(), sort_keys=False))
    _, warnings = load_with_warnings(path)
    (warning,) = warnings
    assert warning.location == "tasks.3.steps.1.call" and warning.line is not None
    assert warning.message.startswith("under intent, task notify (so month-end-brief fails) is denied in every run")
    assert warning.message.endswith(LACKING)
    assert "add mailer:send:mail to the intent of task month-end-brief (tasks.0.intent.operations)" in \
        warning.suggestion
    # a warning, not an error: validate says ok and exits 0 unless --strict
    code, out, err = run_cli(["validate", str(path)], capsys)
    assert code == 0 and "ok" in out and "1 warning" in out
    assert "warning:" in err and "month-end-brief's intent lacks it" in " ".join(err.split())
    assert run_cli(["validate", str(path), "--strict"], capsys)[0] == 1
    assert run_cli(["validate", str(DEPTH), "--strict"], capsys)[0] == 0


def test_the_run_fails_as_validation_said_and_its_denials_name_the_scope_and_the_chain():
    scenario = validate_data(brief_without_mail())
    native = nhisim.run(scenario, "intent", seed=3)
    cedar = nhisim.run(scenario, "intent", seed=3, engine="cedar")
    assert native.metrics["task_success_rate"] == 0.0
    events = native.events
    denied = events[(events["event"] == "request") & (events["decision"] == "deny") & ~events["malicious"]]
    assert set(denied["reason"]) == {LACKING} and set(denied["code"]) == {"scope"}
    assert events["reason"].tolist() == cedar.events["reason"].tolist()  # one sentence, whichever engine decides
    # zsp_exchange scopes the root token to the orchestrator's roles, which grant the mail: nothing to warn about
    assert {d.strategy for d in always_denied(scenario)} == {"intent"}
    assert nhisim.run(scenario, "zsp_exchange", seed=3).metrics["task_success_rate"] == 1.0


def test_a_scope_denial_outside_delegation_names_whose_roles():
    estate = build(chain_estate(1))
    estate.tasks[0].steps.insert(0, estate.tasks[1].steps[0])  # a0 calls a1's database: a0's roles lack it
    (denial,) = [d for d in always_denied(estate, ["rbac"])]
    assert denial.reason == "api:read:db1 is outside the static key's scope (a0's roles)"
    assert denial.suggestion == "grant api:read:db1 to a role of a0"
    run = nhisim.run(estate, "rbac", seed=1).events
    assert set(run.loc[run["code"] == "scope", "reason"]) == {denial.reason}


# the pack's warnings are the ones its stories are about (each file's header says so)
EXPECTED_WARNINGS = {
    "payment_limits.yaml": ["tasks.2.steps.1.delegate: under intent, intent_escalate, task convert (so foreign-invoice "
                            "fails) is denied in every run: token exchange cannot reach fx-partner: fx-partner is in "
                            "trust domain 'partner', ap-agent in 'corp'"],
}


def test_every_bundled_scenario_validates_without_warnings_but_those_its_story_expects():
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        found = [f"{w.location}: {w.message}" for w in load_with_warnings(path)[1]]
        assert found == EXPECTED_WARNINGS.get(path.name, []), path.name


def test_a_hand_off_token_exchange_cannot_make_is_reported_only_when_it_fails():
    data = chain_estate(1, strategies={"fail": {"base": "intent"},
                                       "own": {"base": "intent", "lossy_hop": "own_authority"}})
    data["agents"][1]["domain"] = "partner"
    denials = always_denied(build(data))
    assert [(d.strategy, d.code) for d in denials] == [("fail", "lossy_hop")]


KNOBS = st.fixed_dictionaries({
    "base": st.sampled_from(["shared_account", "rbac", "zsp", "intent"]),
    "delegation": st.sampled_from(["pass_through", "token_exchange"]),
    "jit_scope": st.sampled_from(["role", "intent"]),
    "runtime_check": st.sampled_from(["scope", "intent"]),
    "out_of_intent": st.sampled_from(["deny", "escalate"]),
    "binding": st.sampled_from(["bearer", "sender_constrained"]),
})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 5000), knobs=KNOBS, cuts=st.lists(st.integers(0, 10_000), max_size=4))
def test_a_call_validation_says_is_always_denied_is_never_allowed(seed, knobs, cuts):
    """Sound: every root task the static check says always fails ends failed in a run, whatever the draws."""
    scenario = generate_estate(agents=8, tools=3, resources=5, fanout=2, depth=3, shared_share=0.3, seed=seed)
    data = scenario.model_dump(mode="json", exclude_unset=True)
    for cut in cuts:  # narrow some intents, so exchanged scopes lose operations their chains need
        task = data["tasks"][cut % len(data["tasks"])]
        operations = task["intent"]["operations"]
        if len(operations) > 1:
            del operations[cut % len(operations)]
    data.update(strategies={"s": knobs}, run={"horizon": "3h"}, threats=[])
    scenario = validate_data(data)
    roots = {(d.chain[0], d.tasks[0]) for d in always_denied(scenario)}
    events = nhisim.run(scenario, "s", seed=seed).events
    ended = events[(events["event"] == "task_end") & (events["code"] == "root") & (events["decision"] == "ok")]
    finished = {tuple(task.split("#")[0].split("/")) for task in ended["task"]}
    assert not roots & finished
    assert all(p.location.startswith(("tasks.", "strategies.")) for p in scenario_warnings(scenario))
