"""Knobs that cannot change a run: the rules hold in runs, validation warns, sweeps and what-ifs say why."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

from cli_helpers import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sweep_helpers import FAST, SCENARIO

import nhisim
from nhisim.experiments import read_runs, sweep
from nhisim.metrics import METRIC_COLUMNS
from nhisim.scenario.knob_effects import RULES, Estate, depends_on, inert_reason, strategy_knob
from nhisim.scenario.loader import load_scenario, load_with_warnings, with_overrides
from nhisim.scenario.models import Knobs
from nhisim.scenario.strategy import resolve_strategy
from nhisim.strategies import preset

ROOT = Path(__file__).resolve().parents[1]
PACK = sorted((ROOT / "scenarios").glob("*.yaml"))
# a value each knob can take that differs from any preset's
OTHER = {"rotation": lambda v: 3600.0, "ttl": lambda v: 60.0, "identity_ttl": lambda v: 300.0,
         "cache_ttl": lambda v: 7200.0, "risk_escalation_alerts": lambda v: 1,
         "jit_scope": lambda v: "role" if v == "intent" else "intent",
         "revoke_at_task_end": lambda v: not v, "offboarding_revokes": lambda v: not v,
         "out_of_intent": lambda v: "escalate" if v == "deny" else "deny",
         "identity": lambda v: "per_agent" if v == "shared" else "shared",
         "delegation": lambda v: "token_exchange" if v == "pass_through" else "pass_through",
         "revocation": lambda v: "manual" if v == "automated" else "automated",
         "secret_storage": lambda v: "broker" if v == "config" else "config",
         "cascade_revocation": lambda v: not v, "mfa": lambda v: not v}


@cache
def pack_scenario(index: int):
    return load_scenario(PACK[index])


def test_every_rule_names_a_knob_and_what_it_depends_on():
    assert {rule.knob for rule in RULES} <= set(Knobs.model_fields) and set(OTHER) == {r.knob for r in RULES}
    estate_facts = {f"estate.{name}" for name in Estate.__dataclass_fields__}
    for rule in RULES:
        assert rule.depends_on and set(rule.depends_on) <= set(Knobs.model_fields) | estate_facts, rule.knob
    assert depends_on("cache_ttl") == ("propagation",) and depends_on("binding") == ()
    assert strategy_knob("strategies[zsp].ttl") == ("zsp", "ttl") and strategy_knob("attacker.rate") is None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_knob_the_rules_call_inert_changes_no_metric_of_any_run(data):
    """Whatever the bundled scenario, strategy and seed: changing a knob a rule calls inert leaves every metric."""
    index = data.draw(st.integers(0, len(PACK) - 1), label="scenario")
    scenario = pack_scenario(index)
    name = data.draw(st.sampled_from(sorted(scenario.strategies)), label="strategy")
    strategy, estate = resolve_strategy(scenario.strategies[name], name=name, scenario=scenario), Estate.of(scenario)
    groups = [group for group, _ in strategy.groups().values()]  # a default knob may reach an override's group
    inert = [rule.knob for rule in RULES if all(rule.inert(group, estate) for group in groups)]
    knob = data.draw(st.sampled_from(inert), label="knob")
    seed = data.draw(st.integers(0, 50), label="seed")
    changed = with_overrides(scenario, {f"strategies.{name}.{knob}": OTHER[knob](getattr(strategy, knob))})
    before = nhisim.run(scenario, name, seed=seed).metrics
    after = nhisim.run(changed, name, seed=seed).metrics
    for metric in METRIC_COLUMNS:
        a, b = before[metric], after[metric]
        assert a == b or (math.isnan(a) and math.isnan(b)), (PACK[index].name, name, knob, metric)


def test_a_rule_applies_only_where_its_knobs_say():
    estate = Estate(delegates=True, offboards=False, shared_accounts=True, detects=True)
    assert "uses JIT tokens" in inert_reason("rotation", preset("zsp"), estate)
    assert inert_reason("rotation", preset("rbac"), estate) == ""
    assert "checks scope only" in inert_reason("out_of_intent", preset("zsp"), estate)
    assert inert_reason("out_of_intent", preset("intent"), estate) == ""
    # static keys exchanged at delegation hops have a lifetime: ttl applies to them
    exchanging = preset("rbac").with_knobs(delegation="token_exchange")
    assert inert_reason("ttl", exchanging, estate) == ""
    assert "no task delegates" in inert_reason("ttl", exchanging, Estate(False, False, True, True))


def test_validate_warns_about_a_knob_set_where_it_has_no_effect(capsys):
    overrides = {"strategies.rbac.ttl": "1h", "strategies.intent.cache_ttl": "1m"}
    _, warnings = load_with_warnings(SCENARIO, overrides)
    by_place = {w.location: w for w in warnings}
    assert set(by_place) == {"strategies.rbac.ttl", "strategies.intent.cache_ttl"}
    assert "rbac uses static keys" in by_place["strategies.rbac.ttl"].message
    assert by_place["strategies.intent.cache_ttl"].suggestion == "drop it, or change propagation for it to apply"
    code, out, err = run_cli(["validate", str(SCENARIO), "--set", "strategies.intent.cache_ttl=1m"], capsys)
    assert code == 0 and "1 warning" in out and "cache_ttl has no effect on strategy intent" in " ".join(err.split())


def test_a_whatif_says_a_knob_of_another_strategy_cannot_move_a_run():
    result = nhisim.whatif(SCENARIO, set={"strategies.zsp.ttl": "1h"}, strategies=["rbac"], replications=2,
                           seed=1)
    (note,) = result.notes
    assert note.startswith("strategies.zsp.ttl = 1h has no effect on rbac in these runs")
    assert note.endswith("strategies.zsp.ttl sets a knob of strategy zsp only")


def test_a_sweep_says_why_a_flat_axis_is_flat(tmp_path, capsys):
    grid = {"strategies.rbac.ttl": ["5m", "1h"], "strategies.intent.out_of_intent": ["deny", "escalate"]}
    runs = sweep(SCENARIO, grid, strategies=["rbac", "intent"], replications=2, seed=3,
                 overrides={**FAST, "strategies.intent.runtime_check": "scope"})
    notes = runs.attrs["notes"]
    assert ("strategies.rbac.ttl has no effect on rbac in these runs: every metric is the same in every paired run "
            "(at 5m, 1h): ttl is the lifetime of JIT and exchanged tokens and rbac uses static keys "
            "(credential: static_key) in an estate where no task delegates") in notes
    assert any(n.startswith("strategies.intent.out_of_intent has no effect on intent") and "checks scope only" in n
               for n in notes)
    assert "strategies.rbac.ttl sets strategy rbac only: it has no effect on intent" in notes
    # the CLI prints them, its JSON carries them, and a results folder read back says the same
    out = tmp_path / "sweep"
    code, text, _ = run_cli(["sweep", str(SCENARIO), "--set", "run.horizon=2h", "--grid", "strategies.rbac.ttl=5m,1h",
                             "--strategies", "rbac", "-r", "2", "--executor", "serial", "--out", str(out)], capsys)
    assert code == 0 and "note: strategies.rbac.ttl has no effect on rbac" in " ".join(text.split())
    assert any("has no effect on rbac" in n for n in read_runs(out).attrs["notes"])
    code, text, _ = run_cli(["sweep", str(SCENARIO), "--set", "run.horizon=2h", "--grid", "strategies.rbac.ttl=5m,1h",
                             "--strategies", "rbac", "-r", "2", "--executor", "serial", "--out", str(out), "--json"],
                            capsys)
    assert code == 0 and any("has no effect on rbac" in n for n in json.loads(text)["notes"])


def test_a_sweep_names_the_metrics_an_axis_left_unchanged():
    runs = sweep(SCENARIO, {"strategies.zsp.ttl": ["2m", "2h"]}, strategies=["zsp"], replications=2, seed=3,
                 overrides={"run.horizon": "6h", "threats.0.at": "1h", "threats.0.credential": "minting"})
    (note,) = [n for n in runs.attrs["notes"] if n.startswith("strategies.zsp.ttl")]
    assert note.startswith("strategies.zsp.ttl leaves ") and "of zsp the same in every paired run (it moves" in note


def test_a_sample_axis_gets_the_rules_reasons():
    runs = sweep(SCENARIO, sample="lhs", n=3, bounds={"strategies.rbac.ttl": ("5m", "1h"), "attacker.rate": (0.01, 0.1)},
                 strategies=["rbac"], replications=1, seed=2, overrides=FAST)
    assert "strategies.rbac.ttl cannot change a run of rbac: ttl is the lifetime of JIT and exchanged tokens and " \
           "rbac uses static keys (credential: static_key) in an estate where no task delegates" in runs.attrs["notes"]


def test_the_strategies_page_lists_every_rule():
    page = (ROOT / "docs" / "strategies.md").read_text().split("## When a knob has no effect")[1]
    listed = {line.split("`")[1] for line in page.splitlines() if line.startswith("| `")}
    assert listed == {rule.knob for rule in RULES}


def test_a_comparison_says_when_two_strategies_give_the_same_runs(capsys):
    extra = {"strategies.rbac_ttl": {"base": "rbac", "ttl": "5m"}}
    result = nhisim.compare(SCENARIO, strategies=["rbac", "rbac_ttl", "zsp"], replications=2, seed=1,
                            overrides={**FAST, **extra})
    (note,) = result.notes
    assert note == ("rbac and rbac_ttl give the same runs: every metric is the same in every paired run: they "
                    "differ only in ttl: ttl is the lifetime of JIT and exchanged tokens and rbac uses static keys "
                    "(credential: static_key) in an estate where no task delegates")
    code, _, err = run_cli(["compare", str(SCENARIO), "--strategies", "rbac,rbac_ttl", "-r", "2", "--executor",
                            "serial", "--set", "run.horizon=2h", "--set", "strategies.rbac_ttl.base=rbac",
                            "--set", "strategies.rbac_ttl.ttl=5m"], capsys)
    assert code == 0 and "rbac and rbac_ttl give the same runs" in " ".join(err.split())
