"""`nhisim replay-trace`: every traced call decided by a strategy's own enforcement point, with its
credentials issued at the real times, and how long each credential was exposed."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run_cli
from test_import_otel import agent, tool, write_spans

from nhisim.experiments.replay_trace import replay_trace
from nhisim.scenario.loader import load_scenario, with_overrides
from nhisim.scenario.strategy import resolve_strategy
from nhisim.sim.decisions import CODES

DATA = Path(__file__).parent / "data"
TRACES = DATA / "otel" / "support_traces.otlp.jsonl"
ESTATE = DATA / "otel" / "support_estate.yaml"


@pytest.fixture(scope="module")
def replay():
    return replay_trace(TRACES, load_scenario(ESTATE))


def test_intent_denies_what_the_humans_did_not_declare(replay):
    calls = replay.calls
    assert set(replay.strategies) == {"shared_account", "rbac", "zsp", "intent"}
    assert (calls.groupby("strategy").size() == len(calls) // 4).all()  # every call, under every strategy
    for strategy in ("shared_account", "rbac", "zsp"):  # scope only: the support role allows all of it
        assert (calls[calls["strategy"] == strategy]["decision"] == "allow").all()
    blocked = replay.blocked("intent")
    assert set(zip(blocked["operation"], blocked["code"], blocked["calls"], strict=True)) == {
        ("issue-refund:write:refunds", "intent_operation", 4),
        ("export-customers:export:customers", "intent_operation", 3)}
    assert (blocked["reason"] == CODES["intent_operation"].reason).all()  # the vocabulary's own sentence
    summary = replay.summary().set_index("strategy")
    assert summary.loc["intent", "deny"] == 7 and summary.loc["intent", "allow"] == len(calls) // 4 - 7


def test_out_of_intent_escalates_when_the_strategy_says_so():
    scenario = with_overrides(load_scenario(ESTATE), {"strategies.intent": {"base": "intent",
                                                                            "out_of_intent": "escalate"}})
    result = replay_trace(TRACES, scenario, ["intent"])
    # both agents' roles entitle them to the operation, so a human would be asked
    assert result.summary().loc[0, "escalate"] == 7 and result.summary().loc[0, "deny"] == 0


def test_credentials_live_as_each_strategy_issues_them(replay):
    creds = replay.credentials
    scenario = load_scenario(ESTATE)
    for strategy in ("shared_account", "rbac"):  # one standing key per agent, the whole window
        keys = creds[creds["strategy"] == strategy]
        assert len(keys) == 3 and keys["standing"].all()
        assert keys["exposure_s"].tolist() == pytest.approx([replay.window_s] * 3)
    for strategy in ("zsp", "intent"):
        ttl = resolve_strategy(scenario.strategies[strategy], name=strategy).ttl
        tokens = creds[creds["strategy"] == strategy]
        assert not tokens["standing"].any() and (tokens["exposure_s"] <= ttl + 1e-6).all()
    tokens = creds.groupby("strategy").size()
    # intent: one token per run (41 traces, and each of the 13 billing runs exchanges its own); zsp passes
    # the triage token through, and a billing run takes its own only for what it does not cover (4 refunds)
    assert (tokens["intent"], tokens["zsp"]) == (replay.runs, 41 + 4) and replay.runs == 54
    total = replay.summary().set_index("strategy")["exposure_s"]
    assert total["intent"] < total["zsp"] < total["rbac"]
    # intent exchanges a token for each delegation: the billing runs hold delegated tokens
    assert (creds[(creds["strategy"] == "intent") & (creds["kind"] == "delegated_token")]["subject"]
            == "billing-agent").all()


def test_cedar_decides_as_the_native_evaluator(replay):
    cedar = replay_trace(TRACES, load_scenario(ESTATE), ["rbac", "intent"], engine="cedar")
    native = replay.calls[replay.calls["strategy"].isin(["rbac", "intent"])].reset_index(drop=True)
    pd.testing.assert_series_equal(cedar.calls["decision"], native["decision"])
    pd.testing.assert_series_equal(cedar.calls["code"], native["code"])


def test_calls_the_scenario_cannot_place_are_unmapped(tmp_path):
    spans = [agent("1", "1", None, "triage-agent", 0, 10), tool("1", "2", "1", "search_tickets", 1, 2),
             tool("1", "3", "1", "frobnicate", 3, 4), agent("2", "1", None, "stranger", 20, 30),
             tool("2", "2", "1", "search_tickets", 21, 22)]
    result = replay_trace(write_spans(tmp_path, spans), load_scenario(ESTATE), ["rbac"])
    rows = sorted(zip(result.calls["trace"].str[-1], result.calls["tool"], result.calls["agent"],
                      result.calls["decision"], strict=True))
    # the stranger's call is made by the one scenario agent that declares the tool
    assert rows == [("1", "frobnicate", "triage-agent", "unmapped"), ("1", "search_tickets", "triage-agent", "allow"),
                    ("2", "search_tickets", "triage-agent", "allow")]
    reason = result.calls.set_index("tool").loc["frobnicate", "reason"]
    assert "no tool 'frobnicate'" in reason


def test_an_assistant_s_mcp_calls_are_made_by_the_server_agents(tmp_path):
    from nhisim.importers.mcp import import_mcp

    estate = import_mcp(DATA / "mcp" / "claude_desktop_config.json").scenario
    spans = [agent("1", "1", None, "claude-code", 0, 30), tool("1", "2", "1", "mcp__github__search_issues", 1, 3),
             tool("1", "3", "1", "mcp__slack__post_message", 4, 5), tool("1", "4", "1", "mcp__github__delete_file", 6, 7)]
    result = replay_trace(write_spans(tmp_path, spans), estate, ["rbac", "intent"])
    rbac = result.calls[result.calls["strategy"] == "rbac"].set_index("tool")
    assert rbac.loc["mcp__github__search_issues", "operation"] == "github:read:github-issues"
    assert rbac.loc["mcp__slack__post_message", "agent"] == "slack-server"
    assert (rbac["decision"] == "allow").all()
    intent = result.calls[result.calls["strategy"] == "intent"].set_index("tool")
    # deleting files is not a routine GitHub operation: outside the task's intent
    assert intent.loc["mcp__github__delete_file", "code"] == "intent_operation"


def test_cli_tables_json_and_files(tmp_path, capsys):
    code, out, err = run_cli(["replay-trace", str(TRACES), "--scenario", str(ESTATE), "-s", "rbac,intent"], capsys)
    assert code == 0, err
    assert "intent: denied or escalated calls" in out and "rbac: denied" not in out
    code, out, _ = run_cli(["replay-trace", str(TRACES), "--scenario", str(ESTATE), "-s", "intent", "--json"], capsys)
    payload = json.loads(out)["result"]
    assert payload["summary"][0]["deny"] == 7 and len(payload["calls"]) == payload["summary"][0]["calls"]
    for suffix in (".csv", ".parquet"):
        target = tmp_path / f"calls{suffix}"
        code, _, err = run_cli(["replay-trace", str(TRACES), "--scenario", str(ESTATE), "-s", "zsp", "--out",
                                str(target)], capsys)
        assert code == 0, err
        read = pd.read_csv if suffix == ".csv" else pd.read_parquet
        assert len(read(target)) == payload["summary"][0]["calls"]
        assert "exposure_s" in read(tmp_path / f"calls-credentials{suffix}").columns


@pytest.mark.parametrize(("args", "message"), [
    (["-s", "nope"], "unknown strategy 'nope'"),
    (["--out", "calls.txt"], "end the file name in .csv or .parquet"),
    (["--engine", "prolog"], "unknown engine"),
])
def test_cli_bad_options(capsys, args, message):
    code, _, err = run_cli(["replay-trace", str(TRACES), "--scenario", str(ESTATE), *args], capsys)
    assert code == 2 and message in err and "Traceback" not in err, err
