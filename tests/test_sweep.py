"""Sweeps: tidy results, sampling designs, common random numbers, recorded errors, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run_cli
from sweep_helpers import ATTACKED, CLI_SMALL, FAST, SCENARIO, STRATEGIES, small_sweep

from nhisim.errors import InputError
from nhisim.experiments import compare, read_runs, run, sensitivity
from nhisim.experiments.executors import FAIL_RUNS_ENV
from nhisim.experiments.run import replication_seed
from nhisim.experiments.sweep import parse_bounds, parse_grid, plan_sweep, split_values
from nhisim.metrics import COUNT_COLUMNS, METRIC_COLUMNS
from nhisim.scenario.loader import load_scenario


@pytest.fixture(scope="module")
def grid_runs():
    return small_sweep()


def test_grid_sweep_is_one_tidy_row_per_run(grid_runs):
    runs = grid_runs
    assert len(runs) == 4 * 2 * 2
    params = ["strategies.zsp.ttl", "detection.monitoring"]
    # a duration written as text has its numeric twin in seconds beside it, so grouping sorts right
    assert list(runs.columns) == ["point", params[0], "strategies.zsp.ttl_s", params[1], "scenario", "strategy",
                                  "seed", "replication", *METRIC_COLUMNS, "error"]
    assert runs.groupby("strategies.zsp.ttl_s")["strategies.zsp.ttl"].first().tolist() == ["5m", "1h"]
    # counts are whole numbers, <NA> where a run gives them no meaning (no compromise within 2 h)
    assert all(str(runs[m].dtype) == "Int64" for m in COUNT_COLUMNS) and runs["blast_radius"].dtype == "float64"
    assert runs["malicious_allowed"].isna().all() and runs["tasks_completed"].notna().all()
    assert runs["error"].isna().all()
    assert not runs.duplicated(["point", "strategy", "replication"]).any()
    points = runs.drop_duplicates("point")[["point", *params]]
    assert points.values.tolist() == [[0, "5m", "basic"], [1, "5m", "advanced"], [2, "1h", "basic"],
                                      [3, "1h", "advanced"]]
    assert set(runs["strategy"]) == set(STRATEGIES) and set(runs["scenario"]) == {"leaked-key"}


def test_common_random_numbers_across_points_and_strategies(grid_runs):
    for r, seeds in grid_runs.groupby("replication")["seed"]:
        assert set(seeds) == {replication_seed(7, r)}


def test_each_row_is_the_run_of_its_point(grid_runs):
    row = grid_runs[(grid_runs["point"] == 3) & (grid_runs["strategy"] == "zsp")
                    & (grid_runs["replication"] == 1)].iloc[0]
    direct = run(SCENARIO, "zsp", seed=int(row["seed"]),
                 overrides={**FAST, "strategies.zsp.ttl": "1h", "detection.monitoring": "advanced"})
    for metric in METRIC_COLUMNS:
        a, b = row[metric], direct.metrics[metric]
        assert (pd.isna(a) and math.isnan(b)) or a == b, metric


def test_a_sweep_without_parameters_is_a_comparison():
    runs = small_sweep(grid=None, strategies=["rbac", "zsp", "intent"])
    comparison = compare(SCENARIO, strategies=["rbac", "zsp", "intent"], replications=2, seed=7, overrides=FAST,
                         keep_events=False)
    expected = comparison.runs
    got = runs[list(expected.columns)].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_values_are_parsed_like_set():
    assert parse_grid("strategies.zsp.ttl=5m, 1h,90") == ("strategies.zsp.ttl", ["5m", "1h", 90])
    assert parse_grid("x=true,[1, 2],{a: 1}") == ("x", [True, [1, 2], {"a": 1}])
    assert split_values("a,'b,c',[d,e]") == ["a", "'b,c'", "[d,e]"]
    assert parse_bounds("strategies.zsp.ttl=5m:2h") == ("strategies.zsp.ttl", ("5m", "2h"))


@pytest.mark.parametrize("method,n,points", [("random", 5, 5), ("lhs", 6, 6), ("sobol", 4, 4 * (3 + 2)),
                                             ("morris", 3, 3 * (3 + 1))])
def test_sample_designs(method, n, points):
    bounds = {"strategies.zsp.ttl": "5m:2h", "attacker.rate": ("1/h", "60/h"),
              "resources.crm-db.records": (100, 200)}
    plan = plan_sweep(SCENARIO, sample=method, n=n, bounds=bounds, strategies=["zsp"], replications=1,
                      overrides=FAST)
    assert len(plan.points) == points
    table = plan.point_table()
    assert table["strategies.zsp.ttl"].between(300, 7200).all()
    assert table["attacker.rate"].between(1 / 3600, 60 / 3600).all()
    records = table["resources.crm-db.records"]
    assert records.dtype == "int64" and records.between(100, 200).all()
    again = plan_sweep(SCENARIO, sample=method, n=n, bounds=bounds, strategies=["zsp"], replications=1,
                       overrides=FAST)
    assert again.points == plan.points and again.fingerprint() == plan.fingerprint()
    other_seed = plan_sweep(SCENARIO, sample=method, n=n, bounds=bounds, strategies=["zsp"], replications=1,
                            overrides=FAST, seed=99)
    assert other_seed.points != plan.points
    load_scenario(SCENARIO, overrides={**FAST, **plan.points[0]})  # every point is a valid scenario


def test_grid_and_sample_combine_as_a_product():
    plan = plan_sweep(SCENARIO, {"detection.monitoring": ["basic", "advanced"]}, sample="lhs", n=3,
                      bounds={"strategies.zsp.ttl": "5m:2h"}, strategies=STRATEGIES, replications=2)
    assert len(plan.points) == 6 and plan.n_runs == 6 * 2 * 2
    assert [p["detection.monitoring"] for p in plan.points] == ["basic"] * 3 + ["advanced"] * 3
    assert [p["strategies.zsp.ttl"] for p in plan.points[:3]] == [p["strategies.zsp.ttl"] for p in plan.points[3:]]


def test_sensitivity_indices_find_the_parameter_that_matters():
    """The plumbing (point order, per strategy, per grid value) on a known function."""
    plan = plan_sweep(SCENARIO, {"detection.monitoring": ["basic", "advanced"]}, sample="sobol", n=64,
                      bounds={"strategies.zsp.ttl": "0:1", "attacker.rate": "0:1"}, strategies=["zsp"],
                      replications=1)
    table = plan.point_table()
    y = 10 * table["strategies.zsp.ttl"] + 0.5 * table["attacker.rate"]
    runs = pd.DataFrame({"point": table["point"], "detection.monitoring": table["detection.monitoring"],
                         "strategy": "zsp", "replication": 0, "blast_radius": y})
    runs.attrs["sweep"] = plan.manifest()
    result = sensitivity(runs, "blast_radius")
    assert len(result) == 2 * 2
    for _, group in result.groupby("detection.monitoring"):
        s1 = group.set_index("parameter")["S1"]
        assert s1["strategies.zsp.ttl"] > 0.9 and s1["attacker.rate"] < 0.1
    morris_plan = plan_sweep(SCENARIO, sample="morris", n=8, bounds={"strategies.zsp.ttl": "0:1", "attacker.rate":
                                                                     "0:1"}, strategies=["zsp"], replications=1)
    table = morris_plan.point_table()
    runs = pd.DataFrame({"point": table["point"], "strategy": "zsp", "replication": 0,
                         "blast_radius": 10 * table["strategies.zsp.ttl"] + 0.5 * table["attacker.rate"]})
    runs.attrs["sweep"] = morris_plan.manifest()
    mu = sensitivity(runs, "blast_radius").set_index("parameter")["mu_star"]
    assert mu["strategies.zsp.ttl"] == pytest.approx(10) and mu["attacker.rate"] == pytest.approx(0.5)


def test_sensitivity_warns_when_indices_cannot_be_trusted():
    # a noisy output on a tiny sample gives indices outside [0, 1] or wider than themselves: say so
    plan = plan_sweep(SCENARIO, sample="sobol", n=4, bounds={"strategies.zsp.ttl": "0:1", "attacker.rate": "0:1"},
                      strategies=["zsp"], replications=1)
    table = plan.point_table()
    noise = np.random.default_rng(3).normal(size=len(table))
    runs = pd.DataFrame({"point": table["point"], "strategy": "zsp", "replication": 0,
                         "blast_radius": 0.1 * table["strategies.zsp.ttl"] + noise})
    runs.attrs["sweep"] = plan.manifest()
    result = sensitivity(runs, "blast_radius")
    assert result["note"].str.contains("raise --n").all(), result[["S1", "S1_conf", "ST", "note"]]
    # a clean signal on a large sample gives none
    plan = plan_sweep(SCENARIO, sample="sobol", n=256, bounds={"strategies.zsp.ttl": "0:1", "attacker.rate": "0:1"},
                      strategies=["zsp"], replications=1)
    table = plan.point_table()
    runs = pd.DataFrame({"point": table["point"], "strategy": "zsp", "replication": 0,
                         "blast_radius": 10 * table["strategies.zsp.ttl"] + 4 * table["attacker.rate"]})
    runs.attrs["sweep"] = plan.manifest()
    assert (sensitivity(runs, "blast_radius")["note"] == "").all()
    # a metric that barely varies: the indices describe noise
    runs["blast_radius"] = 1000.0 + 1e-9 * table["strategies.zsp.ttl"]
    assert sensitivity(runs, "blast_radius")["note"].str.contains("barely varies").all()


def test_sensitivity_needs_a_sobol_or_morris_sample(grid_runs):
    with pytest.raises(InputError, match="sample sobol or --sample morris"):
        sensitivity(grid_runs, "blast_radius")
    with pytest.raises(InputError, match="did you mean 'blast_radius'"):
        sensitivity(grid_runs, "blast_radius_x")


def test_cli_sweep_with_sensitivity(tmp_path, capsys):
    out = tmp_path / "sobol"
    code, stdout, stderr = run_cli(["sweep", str(SCENARIO), "--set", "run.horizon=2h", "--set", "threats.0.at=20m",
                                    "--sample", "sobol", "--n", "2", "--bounds", "attacker.rate=1/h:60/h",
                                    "--bounds", "strategies.zsp.ttl=5m:1h", "--strategies", "rbac", "-r", "1",
                                    "--sensitivity", "malicious_allowed", "--executor", "serial", "--out", str(out)],
                                   capsys)
    assert code == 0, stderr
    assert "Sobol indices" in stdout and "attacker.rate" in stdout
    table = pd.read_csv(out / "sensitivity-malicious_allowed.csv")
    assert list(table["parameter"]) == ["attacker.rate", "strategies.zsp.ttl"]
    assert {"S1", "S1_conf", "ST", "ST_conf"} <= set(table.columns)
    assert (out / "sensitivity-malicious_allowed.png").read_bytes()[:4] == b"\x89PNG"
    assert len(pd.read_parquet(out / "runs.parquet")) == 2 * (2 + 2)


def test_cli_writes_provenance(tmp_path, capsys):
    out = tmp_path / "grid"
    code, stdout, stderr = run_cli([*CLI_SMALL, "--executor", "serial", "--out", str(out), "--json"], capsys)
    assert code == 0, stderr
    summary = json.loads(stdout)["result"]
    assert summary["runs"] == summary["ran"] == 16 and summary["failed"] == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n_runs"] == 16 and manifest["strategies"] == STRATEGIES and manifest["seed"] == 7
    assert manifest["replication_seeds"] == [replication_seed(7, 0), replication_seed(7, 1)]
    assert manifest["nhisim_version"] and manifest["sessions"][0]["cli"]["grid"] == ["strategies.zsp.ttl=5m,1h",
                                                                             "detection.monitoring=basic,advanced"]
    assert [p["path"] for p in manifest["parameters"]] == ["strategies.zsp.ttl", "detection.monitoring"]
    effective = load_scenario(out / "scenario.yaml")
    assert effective.run.horizon == 7200
    params = pd.read_csv(out / "params.csv")
    assert list(params.columns) == ["point", "strategies.zsp.ttl", "strategies.zsp.ttl_s", "detection.monitoring"]
    assert params["strategies.zsp.ttl_s"].tolist() == [300.0, 300.0, 3600.0, 3600.0]
    assert manifest["derived"] == {"strategies.zsp.ttl_s": "strategies.zsp.ttl"}
    runs = pd.read_parquet(out / "runs.parquet")
    assert str(runs["tasks_completed"].dtype) in ("int64", "Int64")  # stored as integers, not floats
    pd.testing.assert_frame_equal(read_runs(out), small_sweep(), check_like=False)
    assert len(runs) == 16


def test_a_run_that_raises_is_recorded_not_fatal(monkeypatch):
    monkeypatch.setenv(FAIL_RUNS_ENV, "zsp/1,2/rbac/0")
    runs = small_sweep()
    failed = runs[runs["error"].notna()]
    expected = {(p, "zsp", 1) for p in range(4)} | {(2, "rbac", 0)}
    assert set(zip(failed["point"], failed["strategy"], failed["replication"], strict=True)) == expected
    assert failed["error"].str.contains("RuntimeError: injected failure").all()
    assert failed[list(METRIC_COLUMNS)].isna().all().all()
    assert runs[runs["error"].isna()]["tasks_completed"].notna().all()


def test_a_run_that_raises_in_a_worker_process_is_recorded(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(FAIL_RUNS_ENV, "rbac/0")
    code, stdout, stderr = run_cli([*CLI_SMALL, "--executor", "processes", "--workers", "2",
                                    "--out", str(tmp_path / "o")], capsys)
    assert code == 0, stderr
    assert "4 run(s) raised" in stderr and "injected failure" in stderr and "Traceback" not in stderr
    assert read_runs(tmp_path / "o")["error"].notna().sum() == 4


def test_points_invalid_only_in_combination_are_recorded():
    # every value is valid with some other value, so the sweep runs; the invalid points are recorded
    humans = {**FAST, "humans": [{"id": "alice"}, {"id": "bob"}], "agents.support-bot.owner": "bob"}
    runs = small_sweep(grid={"humans.bob.id": ["bob", "carol"], "agents.support-bot.owner": ["bob", "carol"]},
                       overrides=humans, strategies=["rbac"], replications=1)
    assert len(runs) == 4
    bad = runs[runs["error"].notna()]
    assert sorted(bad["point"]) == [1, 2]
    assert bad["error"].str.contains("InputError").all() and bad["error"].str.contains("owner").any()
    assert runs[runs["error"].isna()]["tasks_completed"].notna().all()


# --------------------------------------------------------------------------- bad input


BAD = {
    "unknown_path": (["--grid", "strategies.zsp.tll=5m,1h"], ["unknown path", "did you mean 'ttl'"]),
    "unknown_section": (["--grid", "detecton.monitoring=basic"], ["unknown path", "did you mean 'detection'"]),
    "unknown_item": (["--grid", "threats.lek.attacker_delay=5m"], ["no item 'lek'", "did you mean 'leak'"]),
    "bad_value": (["--grid", "detection.monitoring=basic,loud"], ["detection.monitoring=loud", "invalid"]),
    "bounds_reversed": (["--sample", "lhs", "--n", "4", "--bounds", "strategies.zsp.ttl=2h:5m"],
                        ["not below high bound"]),
    "bounds_equal": (["--sample", "lhs", "--n", "4", "--bounds", "attacker.rate=1:1"], ["not below"]),
    "bounds_text": (["--sample", "lhs", "--n", "4", "--bounds", "strategies.zsp.ttl=soon:2h"],
                    ["'soon' is not a number, a duration or a rate"]),
    "bounds_shape": (["--sample", "lhs", "--n", "4", "--bounds", "strategies.zsp.ttl=5m"], ["not PATH=LO:HI"]),
    "bounds_infinite": (["--sample", "lhs", "--n", "4", "--bounds", "strategies.zsp.ttl=5m:never"], ["finite"]),
    "bounds_out_of_range": (["--sample", "lhs", "--n", "4", "--bounds", "attacker.rate=-1:1"], ["invalid"]),
    "no_n": (["--sample", "lhs", "--bounds", "strategies.zsp.ttl=5m:2h"], ["needs --n"]),
    "sobol_n": (["--sample", "sobol", "--n", "6", "--bounds", "strategies.zsp.ttl=5m:2h"], ["power of 2", "--n 4"]),
    "bad_sample": (["--sample", "lhc", "--n", "4", "--bounds", "strategies.zsp.ttl=5m:2h"], ["did you mean 'lhs'"]),
    "bounds_without_sample": (["--bounds", "strategies.zsp.ttl=5m:2h"], ["needs --sample"]),
    "sensitivity_on_grid": (["--grid", "strategies.zsp.ttl=5m,1h", "--sensitivity", "blast_radius"],
                            ["--sample sobol"]),
    "sensitivity_metric": (["--sample", "sobol", "--n", "2", "--bounds", "strategies.zsp.ttl=5m:2h",
                            "--sensitivity", "blast_radios"], ["did you mean 'blast_radius'"]),
    "bad_executor": (["--grid", "strategies.zsp.ttl=5m", "--executor", "threads"], ["unknown executor"]),
    "bad_strategy": (["--grid", "strategies.zsp.ttl=5m", "--strategies", "rbak"], ["did you mean 'rbac'"]),
    "grid_no_equals": (["--grid", "strategies.zsp.ttl"], ["no '='"]),
    "grid_empty_value": (["--grid", "strategies.zsp.ttl=5m,,1h"], ["empty value"]),
    "results_column": (["--grid", "error=1,2"], ["results column"]),
    "bad_engine": (["--grid", "strategies.zsp.ttl=5m", "--engine", "ceder"], ["did you mean 'cedar'"]),
}


def _bad(tmp_path, capsys, args, out=None):
    out = out or tmp_path / "out"
    return run_cli(["sweep", str(SCENARIO), "--set", "run.horizon=2h", "--strategies", "rbac", "-r", "1",
                    "--executor", "serial", *args, "--out", str(out)], capsys)


def _assert_one_screen(code, stdout, stderr, expect):
    assert "Traceback" not in stdout + stderr
    assert code == 2, stdout + stderr
    assert stderr.startswith("error:"), stderr
    assert len(stderr.splitlines()) < 25
    for text in expect:
        assert text in stderr, f"{text!r} not in {stderr}"


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_is_one_clear_screen(name, tmp_path, capsys):
    args, expect = BAD[name]
    code, stdout, stderr = _bad(tmp_path, capsys, args)
    _assert_one_screen(code, stdout, stderr, expect)
    assert not (tmp_path / "out" / "runs.parquet").exists()  # refused before anything was written


def test_bad_input_through_the_python_api():
    with pytest.raises(InputError, match="did you mean 'ttl'"):
        plan_sweep(SCENARIO, {"strategies.zsp.tll": ["5m"]})
    with pytest.raises(InputError, match="not below high bound"):
        plan_sweep(SCENARIO, sample="lhs", n=4, bounds={"attacker.rate": (2, 1)})
    with pytest.raises(InputError, match="not a number"):
        plan_sweep(SCENARIO, sample="lhs", n=4, bounds={"attacker.rate": ("x", 1)})


def test_out_is_a_file(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("mine")
    code, stdout, stderr = _bad(tmp_path, capsys, ["--grid", "strategies.zsp.ttl=5m"], out=target)
    _assert_one_screen(code, stdout, stderr, ["is a file, not a folder"])
    assert target.read_text() == "mine"


def test_out_cannot_be_created(tmp_path, capsys):
    (tmp_path / "file.txt").write_text("mine")
    code, stdout, stderr = _bad(tmp_path, capsys, ["--grid", "strategies.zsp.ttl=5m"],
                                out=tmp_path / "file.txt" / "sub")
    _assert_one_screen(code, stdout, stderr, ["cannot create this folder"])


def test_out_holding_other_files_is_refused(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code, stdout, stderr = _bad(tmp_path, capsys, ["--grid", "strategies.zsp.ttl=5m"], out=out)
    _assert_one_screen(code, stdout, stderr, ["not empty and holds no nhisim sweep", "notes.txt"])
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_unreadable_manifest_is_refused(tmp_path, capsys):
    out = tmp_path / "broken"
    out.mkdir()
    (out / "manifest.json").write_text("{not json")
    code, stdout, stderr = _bad(tmp_path, capsys, ["--grid", "strategies.zsp.ttl=5m"], out=out)
    _assert_one_screen(code, stdout, stderr, ["manifest.json is not valid JSON"])
    assert (out / "manifest.json").read_text() == "{not json"


def test_attacked_metrics_vary_with_the_attacker_rate():
    runs = small_sweep(grid={"attacker.rate": ["6/h", "60/h"]}, strategies=["rbac"], replications=1,
                       overrides=ATTACKED)
    allowed = runs.set_index("attacker.rate")["malicious_allowed"]
    assert allowed["60/h"] > allowed["6/h"] > 0
    assert np.isfinite(runs["exposure_window_s"]).all()


def test_a_bracket_path_is_swept_under_its_dotted_name():
    assert parse_grid("threats[0].attacker_delay=1m,5m")[0] == "threats.0.attacker_delay"
    assert parse_bounds("threats[0].attacker_delay=1m:5m")[0] == "threats.0.attacker_delay"
    plan = plan_sweep(SCENARIO, {"threats[0].attacker_delay": ["1m", "5m"]}, strategies=["rbac"], replications=1,
                      overrides=FAST)
    assert plan.paths == ["threats.0.attacker_delay"] and "threats.0.attacker_delay_s" in plan.columns()
