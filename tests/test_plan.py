"""The migration planner: which principals to move from one strategy to another first."""

from __future__ import annotations

import json

import pytest
import yaml
from cli_helpers import run_cli
from engine_fixtures import build, shared_estate

import nhisim
from nhisim.errors import InputError
from nhisim.experiments.plan import candidates, moved, plan
from nhisim.scenario.strategy import scenario_strategy


def estate(**extra) -> dict:
    """Three agents on a shared integration key today; the key of agent0 leaks. The target: JIT tokens."""
    data = shared_estate(holders=3, strategies={
        "today": {"base": "rbac", "overrides": [{"name": "legacy", "accounts": ["svc-int"], "base": "shared_account"}]},
        "target": "zsp", "rbac": "rbac"})
    data["agents"][0]["tags"] = ["blue"]
    data["agents"][1]["tags"] = ["blue"]
    data["agents"][2]["tags"] = ["red"]
    data["threats"] = [{"id": "leak", "kind": "secret_leak", "principal": "agent2", "at": "2h", "attacker_delay": 0}]
    data["detection"] = {"monitoring": "basic"}
    data["run"] = {"horizon": "8h", "replications": 6, "baseline": "today"}
    data.update(extra)
    return data


def test_candidates_are_the_principals_whose_controls_differ():
    scenario = build(estate())
    s, t = scenario_strategy(scenario, "today"), scenario_strategy(scenario, "target")
    assert [c.name for c in candidates(scenario, s, t)] == ["agent0", "agent1", "agent2", "account:svc-int"]
    assert [(c.name, c.principals) for c in candidates(scenario, s, t, by="tag")] == [
        ("tag:blue", ("agent0", "agent1")), ("tag:red", ("agent2",)), ("account:svc-int", ("svc-int",))]
    same = moved(s, t, ["agent0", "agent1", "agent2", "svc-int"], "all")
    assert all(same.of(p).knobs() == t.of(p).knobs() for p in ("agent0", "agent1", "agent2", "svc-int"))
    assert moved(s, t, ["agent0"], "one").of("agent1") == s.of("agent1")


def test_the_plan_ranks_the_move_that_cuts_the_threat_first_and_its_steps_end_at_the_target():
    scenario = build(estate())
    result = plan(scenario, "today", "target", steps=4)
    first = result.ranking.iloc[0]
    # the leak is agent2's copy of the shared key: moving agent2 off it, or retiring the account, cuts it
    # most; moving another holder off only takes its roles out of the stolen key
    assert first["candidate"] in ("agent2", "account:svc-int") and first["ci_low"] > 0
    by_name = result.ranking.set_index("candidate")["reduction"]
    assert 0 < by_name["agent0"] < by_name["agent2"]
    # every move made: the target itself, run for run (paired seeds)
    target = nhisim.compare(scenario, ["target"], replications=6).runs
    last = result.steps.iloc[-1]
    assert last["principals_moved"] == 4
    assert last["time_weighted_exposure"] == pytest.approx(target["time_weighted_exposure"].mean())
    # step 1 is the best move alone, on the same seeds
    assert result.steps.iloc[1]["reduction"] == pytest.approx(first["reduction"])
    assert list(result.steps["step"]) == [0, 1, 2, 3, 4]


def test_the_ranking_is_the_same_on_other_seeds_and_its_stability_says_so():
    scenario = build(estate())
    tops = {plan(scenario, "today", "target", seed=seed, by="tag").ranking.iloc[0]["candidate"] for seed in (1, 99)}
    assert len(tops) == 1
    result = plan(scenario, "today", "target", by="tag")
    assert 0.5 < result.ranking.iloc[0]["rank_stability"] <= 1.0


def test_assuming_a_leak_of_every_agent_makes_every_move_count():
    scenario = build(estate(threats=[]))
    quiet = plan(scenario, "today", "target")
    assert quiet.ranking["reduction"].isna().all() and any("has no value in these runs" in n for n in quiet.notes)
    loud = plan(scenario, "today", "target", assume="each-leaks")
    agents = loud.ranking[~loud.ranking["candidate"].str.startswith("account:")]
    assert (agents["reduction"] > 0).all()


@pytest.mark.parametrize("kwargs, message", [
    ({"source": "nowhere"}, "unknown strategy 'nowhere'"),
    ({"target": "today"}, "nothing to move"),
    ({"objective": "task_success_rate"}, "not a metric to reduce"),
    ({"objective": "speed"}, "unknown metric 'speed'"),
    ({"by": "colour"}, "unknown grouping 'colour'"),
    ({"assume": "nothing"}, "unknown assumption"),
])
def test_a_plan_that_cannot_be_made_is_bad_input(kwargs, message):
    scenario = build(estate())
    args = {"source": "today", "target": "target", **kwargs}
    with pytest.raises(InputError) as err:
        plan(scenario, args.pop("source"), args.pop("target"), **args)
    assert message in str(err.value)


def test_the_same_controls_everywhere_leave_nothing_to_move():
    data = estate()
    data["strategies"]["rbac_too"] = "rbac"
    with pytest.raises(InputError, match="every principal the same controls"):
        plan(build(data), "rbac", "rbac_too")


def test_nhisim_plan_prints_writes_and_answers_json(tmp_path, capsys):
    path = tmp_path / "estate.yaml"
    path.write_text(yaml.safe_dump(estate(), sort_keys=False))
    code, out, err = run_cli(["plan", str(path), "--from", "today", "--to", "target", "--by", "tag", "-r", "4",
                              "--executor", "serial", "--out", str(tmp_path / "p"), "-q"], capsys)
    assert code == 0, err
    assert "moves from today to target" in out and "made one after another" in out
    for name in ("ranking.csv", "steps.csv", "plan.png"):
        assert (tmp_path / "p" / name).stat().st_size > 0
    code, out, _ = run_cli(["plan", str(path), "--from", "today", "--to", "target", "-r", "3", "--executor",
                            "serial", "--json"], capsys)
    envelope = json.loads(out, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert code == 0 and envelope["ok"] and envelope["command"] == "plan"
    assert envelope["result"]["ranking"][0]["rank"] == 1
    code, _, err = run_cli(["plan", str(path), "--from", "today", "--to", "nowhere"], capsys)
    assert code == 2 and "unknown strategy 'nowhere'" in err and "Traceback" not in err
