"""Self-check of scenarios: the expectation grammar, the statistics, and ``nhisim check``."""

from __future__ import annotations

import json
import math

import pytest
from cli_helpers import run_cli

from nhisim.errors import InputError
from nhisim.experiments.check import check, failures, paired_test, threshold_test
from nhisim.metrics import METRIC_COLUMNS
from nhisim.scenario.expectations import METRIC_NAMES, ClaimError, parse_claim
from nhisim.scenario.loader import load_scenario

SMALL = """\
name: small-leak
resources:
  - {{id: crm, sensitivity: critical, records: 1000}}
  - {{id: kb, sensitivity: low, records: 10}}
tools:
  - id: crm-api
    operations:
      - {{action: read, resource: crm}}
      - {{action: export, resource: crm}}
  - id: kb-api
    operations:
      - {{action: read, resource: kb}}
roles:
  - {{id: support, grants: ["crm-api:read:crm", "crm-api:export:crm", "kb-api:read:kb"]}}
humans:
  - {{id: alice}}
agents:
  - {{id: bot, owner: alice, roles: [support], tools: [crm-api, kb-api], tasks: [answer]}}
tasks:
  - id: answer
    requested_by: alice
    arrival_rate: 12/h
    intent: {{operations: ["kb-api:read:kb", "crm-api:read:crm"]}}
    steps:
      - {{call: "kb-api:read:kb", duration: 10s}}
      - {{call: "crm-api:read:crm", duration: 10s}}
threats:
  - {{id: leak, kind: secret_leak, principal: bot, at: {leak_at}, attacker_delay: 1m}}
strategies:
  rbac: rbac
  intent: intent
expectations:
{expectations}
run:
  horizon: 3h
"""


def write(tmp_path, expectations=("intent < rbac on blast_radius",), leak_at="1h", name="s.yaml"):
    lines = "\n".join(f'  - "{e}"' for e in expectations) if expectations else "  []"
    path = tmp_path / name
    path.write_text(SMALL.format(expectations=lines, leak_at=leak_at))
    return path



# --------------------------------------------------------------------------- grammar


def test_metric_names_match_the_metrics_layer():
    assert METRIC_NAMES == METRIC_COLUMNS


def test_parse_comparison():
    c = parse_claim("intent < rbac on blast_radius", ["rbac", "intent"])
    assert (c.kind, c.strategies, c.op, c.other, c.metric) == ("comparison", ("intent",), "<", "rbac", "blast_radius")
    assert parse_claim("rbac == shared_account on blast_radius").op == "=="
    assert parse_claim("a>=b on legit_denied").op == ">="


@pytest.mark.parametrize("text, value", [
    ("zsp exposure_window_s <= 15m", 900.0),
    ("zsp exposure_window_s < 2h", 7200.0),
    ("zsp exposure_window_s <= 90", 90.0),
    ("rbac task_success_rate >= 95%", 0.95),
    ("rbac task_success_rate >= 0.95", 0.95),
    ("shared_account collateral_denials > 0", 0.0),
    ("rbac time_weighted_exposure < inf", math.inf),
])
def test_parse_threshold(text, value):
    c = parse_claim(text)
    assert c.kind == "threshold" and c.value == pytest.approx(value)


def test_parse_strategy_list():
    c = parse_claim("zsp, intent legit_denied == 0", ["zsp", "intent"])
    assert c.strategies == ("zsp", "intent") and c.value == 0


@pytest.mark.parametrize("text, message, hint", [
    ("intent < rbac on blast_raduis", "unknown metric 'blast_raduis'", "did you mean 'blast_radius'?"),
    ("intent < rbca on blast_radius", "unknown strategy 'rbca'", "did you mean 'rbac'?"),
    ("intent = rbac on blast_radius", "unknown operator '='", "'=='"),
    ("intent != rbac on blast_radius", "'!=' is not supported", ""),
    ("zsp exposure_window_s <= soon", "'soon' is not a duration", "15m"),
    ("rbac blast_radius <= 15m", "'15m' is not a number", "time metrics"),
    ("rbac blast_radius <= 50%", "a percentage makes no sense", ""),
    ("rbac < rbac on blast_radius", "compares 'rbac' with itself", ""),
    ("intent is better than rbac", "cannot parse expectation", "A < B on METRIC"),
    ("", "an empty expectation", ""),
])
def test_parse_errors(text, message, hint):
    with pytest.raises(ClaimError) as info:
        parse_claim(text, ["rbac", "intent", "zsp"])
    assert message in info.value.message
    assert hint in info.value.suggestion


def test_a_bad_expectation_is_a_validation_error_with_file_and_line(tmp_path):
    path = write(tmp_path, ["intent < rbac on blast_radius", "intent < rbca on blast_radius"])
    with pytest.raises(InputError) as info:
        load_scenario(path)
    text = info.value.render()
    line = path.read_text().splitlines().index('  - "intent < rbca on blast_radius"') + 1
    assert f"{path}:{line} at expectations.1: unknown strategy 'rbca' in expectation" in text
    assert "did you mean 'rbac'?" in text


def test_cli_check_reports_bad_expectations_as_bad_input(tmp_path, capsys):
    path = write(tmp_path, ["intent < rbac on blast"])
    code, _, err = run_cli(["check", str(path)], capsys)
    assert code == 2
    assert "expectations.0" in err and "unknown metric 'blast'" in err and "Traceback" not in err


# --------------------------------------------------------------------------- statistics


def test_paired_strict_claims():
    assert paired_test([1, 2, 3, 4, 5, 6], [2, 3, 4, 5, 6, 7], "<")["holds"]
    assert not paired_test([1, 2, 3, 4], [2, 3, 4, 5], "<")["holds"]  # 4 pairs can never reach p < 0.05
    assert not paired_test([2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6], "<")["holds"]
    assert paired_test([9, 9, 9, 9, 9, 9], [1, 1, 1, 1, 1, 1], ">")["p_value"] == pytest.approx(1 / 64)


def test_paired_all_differences_zero():
    same = ([5, 5, 5, 5, 5, 5], [5, 5, 5, 5, 5, 5])
    strict = paired_test(*same, "<")
    assert not strict["holds"] and strict["p_value"] == 1.0
    assert paired_test(*same, "<=")["holds"]
    assert paired_test(*same, "==")["holds"]
    assert not paired_test([5, 5, 5, 5, 5, 6], [5, 5, 5, 5, 5, 5], "==")["holds"]


def test_paired_non_inferiority():
    assert paired_test([1, 1, 1, 1, 1, 2], [1, 1, 1, 1, 1, 1], "<=")["holds"] is False  # wrong side on average
    assert paired_test([1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1], "<=")["holds"]
    assert not paired_test([3, 4, 5, 6, 7, 8], [1, 1, 1, 1, 1, 1], "<=")["holds"]


def test_paired_nan_and_infinity():
    result = paired_test([math.nan, 1, 1, 1, 1, 1, 1], [0, 5, 5, 5, 5, 5, 5], "<")
    assert result["n"] == 6 and result["holds"]
    assert paired_test([1, 2, 3, 4, 5, 6], [math.inf] * 6, "<")["holds"]
    assert paired_test([math.inf] * 6, [math.inf] * 6, "==")["holds"]
    undefined = paired_test([math.nan] * 4, [1, 2, 3, 4], "<")
    assert not undefined["holds"] and "undefined" in undefined["note"]


def test_threshold_claims():
    assert threshold_test([0, 0, 0, 0], "<=", 0)["holds"]  # zero variance: the mean decides
    assert not threshold_test([0, 0, 0, 0], "<", 0)["holds"]
    assert threshold_test([100, 200, 300, 250, 120, 80, 60, 700], "<=", 900)["holds"]
    assert not threshold_test([800, 1000, 900, 950], "<=", 900)["holds"]
    assert threshold_test([1, 1, 1, 1, 1, 1, 1, 400], ">", 0)["holds"]  # every run > 0: the sign test
    assert not threshold_test([0, 0, 0, 0, 0, 0, 0, 4], ">", 0)["holds"]
    assert threshold_test([3, 3, 3], "==", 3)["holds"]
    assert not threshold_test([3, 3, 4], "==", 3)["holds"]
    assert threshold_test([math.inf, 5], ">", 1e9)["holds"]
    assert not threshold_test([math.nan, math.nan], "<", 1)["holds"]


# --------------------------------------------------------------------------- checks


def test_a_claim_that_holds_passes(tmp_path):
    path = write(tmp_path, ["intent < rbac on blast_radius", "intent blast_radius == 0",
                            "rbac malicious_allowed > 0", "rbac,intent task_success_rate >= 90%"])
    frame = check([path], seeds=6)
    assert list(frame.columns[:6]) == ["scenario", "file", "check", "item", "strategy", "holds"]
    assert failures(frame).empty, failures(frame)[["item", "detail"]]
    assert set(frame["check"]) == {"threat", "strategy", "expectation"}
    claim = frame[frame["item"] == "intent < rbac on blast_radius"].iloc[0]
    assert claim["p_value"] < 0.05 and claim["mean"] == 0 and claim["other_mean"] > 0
    assert frame.attrs["runs"] == 12


def test_a_false_claim_fails_with_exit_1(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    path = write(tmp_path, ["rbac < intent on blast_radius", "intent < rbac on blast_radius"])
    code, out, _ = run_cli(["check", str(path), "--seeds", "6", "--jobs", "1"], capsys)
    assert code == 1
    assert "what failed (1)" in out and "rbac < intent on blast_radius" in out
    assert "0/6 runs on the claimed side, 6 on the other" in out
    assert "FAIL" in out and "intent < rbac on blast_radius" not in out.split("what failed")[1]


def test_json_output(tmp_path, capsys):
    path = write(tmp_path, ["intent < rbac on blast_radius"])
    code, out, _ = run_cli(["check", str(path), "--seeds", "5", "--jobs", "1", "--json"], capsys)
    rows = json.loads(out)["result"]
    assert code == 0
    assert {r["check"] for r in rows} == {"threat", "strategy", "expectation"}
    assert all(r["holds"] for r in rows)


def test_a_threat_that_never_fires_is_reported(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    path = write(tmp_path, ["rbac task_success_rate == 1"], leak_at="2d")
    frame = check([path], seeds=3)
    threat = frame[frame["check"] == "threat"].iloc[0]
    assert not threat["holds"]
    assert "compromise in 0/6 runs" in threat["detail"]
    code, out, _ = run_cli(["check", str(path), "--seeds", "3", "--jobs", "1"], capsys)
    assert code == 1 and "leak (secret_leak)" in out


def test_runtime_discovery_must_produce_overreach(tmp_path):
    text = write(tmp_path).read_text().replace(
        "threats:\n", "threats:\n  - {id: wander, kind: runtime_discovery, probability: 0.0}\n")
    path = tmp_path / "d.yaml"
    path.write_text(text)
    frame = check([load_scenario(path)], seeds=2, alpha=0.3)  # 2 seeds can test strict claims only at alpha > 1/4
    row = frame[frame["item"] == "wander (runtime_discovery)"].iloc[0]
    assert not row["holds"] and "overreach attempts in 0/4 runs" in row["detail"]


def test_process_pool_gives_the_same_verdicts(tmp_path):
    path = write(tmp_path, ["intent < rbac on blast_radius", "rbac exposure_window_s > 1h"])
    serial = check([path], seeds=5, jobs=1)
    parallel = check([path], seeds=5, jobs=2)
    cols = ["check", "item", "strategy", "holds", "mean", "p_value"]
    assert serial[cols].equals(parallel[cols])


def test_too_few_seeds_for_a_strict_claim_is_refused_not_failed(tmp_path, capsys):
    # with 4 pairs the smallest one-sided signed-rank p is 1/16 = 0.0625 >= 0.05: the claim could never hold
    from nhisim.experiments.check import seeds_needed, smallest_p

    assert smallest_p(4) == 0.0625 and seeds_needed(0.05) == 5 and seeds_needed(0.01) == 7
    path = write(tmp_path, ["intent < rbac on blast_radius"])
    code, out, err = run_cli(["check", str(path), "--seeds", "4", "--jobs", "1"], capsys)
    assert code == 2 and "can never hold" in out + err and "--seeds 5" in out + err
    code, _, _ = run_cli(["check", str(path), "--seeds", "5", "--jobs", "1"], capsys)
    assert code == 0
