"""Replay: a run told at its key moments, alone, side by side, and paused for a class."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
import report_fixtures as R
from cli_helpers import run_cli

from nhisim.experiments import run
from nhisim.reports.narrate import KINDS, MAJOR, clock, lines, narrate


@pytest.fixture(scope="module")
def leak(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replay")
    return R.write_estate(folder)


@pytest.fixture(scope="module")
def rbac_run():
    return run(R.estate(), "rbac")


def stolen_credential(result) -> str:
    events = result.events
    return str(events.loc[events["event"] == "acquire", "credential"].iloc[0])


def test_narration_of_a_leak_under_rbac(rbac_run):
    story = narrate(rbac_run.events, R.estate(), "rbac")
    assert story == sorted(story, key=lambda m: m[0])  # in time order
    assert {kind for _, _, kind in story} <= set(KINDS)
    cred = stolen_credential(rbac_run)
    kinds = [kind for _, _, kind in story]
    first = story[kinds.index("compromise")]
    assert first[1].startswith("COMPROMISE (a secret leak, incident leak)") and cred in first[1]
    allowed = [text for _, text, kind in story if kind == "malicious_allowed"]
    assert allowed and all(cred in text and "ALLOWED under rbac" in text for text in allowed)
    assert any("export crm-db (critical)" in text for text in allowed)
    # repeats are counted, not told one by one
    malicious = rbac_run.events.query("event == 'request' and malicious")
    told = len(allowed) + sum(int(text.split(" more time")[0].rsplit(" ", 1)[1]) for _, text, kind in story
                              if kind == "malicious_repeats")
    assert told == len(malicious)
    assert "detect" in kinds and "revoke" in kinds
    assert story[-1][2] == "summary" and story[-1][1].startswith("END under rbac: blast radius 190")
    assert lines(story)[0].startswith(clock(story[0][0]) + " ")


def test_narration_under_intent_and_of_overreach():
    result = run(R.estate(), "intent")
    story = narrate(result, R.estate())  # a RunResult; the strategy comes with it
    texts = [text for _, text, _ in story]
    assert any("DENIED under intent" in t for t in texts)
    assert not any("ALLOWED under intent" in t and t.startswith("the attacker") for t in texts)
    overreach = [t for _, t, kind in story if kind == "overreach"]
    assert overreach and all("outside its task's intent" in t and "DENIED under intent" in t for t in overreach)
    assert len(overreach) <= 4  # the first few; the rest is counted in the summary


def test_clock():
    assert clock(0) == "t=00:00"
    assert clock(2 * 3600 + 14 * 60 + 5) == "t=02:14"
    assert clock(86400 + 3600) == "t=1d 01:00"


def test_replay_narrate_command(leak, rbac_run, capsys):
    code, out, err = run_cli(["replay", str(leak), "--strategy", "rbac", "--narrate"], capsys)
    assert code == 0, err
    cred = stolen_credential(rbac_run)
    assert "COMPROMISE" in out and cred in out and "ALLOWED under rbac" in out
    assert "t=02:00" in out


def test_replay_table_and_json(leak, capsys):
    code, out, _ = run_cli(["replay", str(leak), "-s", "zsp"], capsys)
    assert code == 0 and "what happened" in out and "compromise" in out
    code, out, _ = run_cli(["replay", str(leak), "-s", "rbac", "--vs", "intent", "--json"], capsys)
    moments = json.loads(out)["result"]["moments"]
    assert {m["strategy"] for m in moments} == {"rbac", "intent"}
    assert all(set(m) == {"strategy", "t", "clock", "kind", "text"} for m in moments)


def test_replay_vs_tells_both_side_by_side(leak, capsys):
    code, out, err = run_cli(["replay", str(leak), "--strategy", "rbac", "--vs", "intent", "--narrate"], capsys)
    assert code == 0, err
    header = next(line for line in out.splitlines() if "rbac" in line and "intent" in line)
    assert header.index("rbac") < header.index("intent")
    assert "ALLOWED under rbac" in out and "DENIED under intent" in out
    # aligned by time: the compromise happens at the same moment under both (same random draws)
    row = next(line for line in out.splitlines() if "COMPROMISE" in line)
    assert row.count("COMPROMISE") == 2


def test_replay_pause_waits_for_enter(leak, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n" * 200))
    code, out, _ = run_cli(["replay", str(leak), "-s", "rbac", "--narrate", "--pause"], capsys)
    assert code == 0
    story = narrate(run(R.estate(), "rbac").events, R.estate(), "rbac")
    assert out.count("⏎ next") == sum(1 for _, _, kind in story if kind in MAJOR)
    monkeypatch.setattr(sys, "stdin", io.StringIO("q\n"))  # q stops pausing: the rest runs through
    code, out, _ = run_cli(["replay", str(leak), "-s", "rbac", "--vs", "intent", "--pause"], capsys)
    assert code == 0 and out.count("⏎ next") == 1 and "END under intent" in out


def test_replay_pause_with_input_piped_to_the_real_command(leak):
    done = subprocess.run([sys.executable, "-m", "nhisim", "replay", str(leak), "-s", "intent", "--narrate",
                           "--pause"], input="\n\n\n", text=True, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("⏎ next") == 4  # three Enters, then the end of input stops pausing
    assert "END under intent" in done.stdout


def test_replay_bad_strategy_exits_2(leak, capsys):
    code, _, err = run_cli(["replay", str(leak), "--strategy", "rbca"], capsys)
    assert code == 2 and "unknown strategy 'rbca'" in err and "did you mean 'rbac'" in err
