"""What scripts rely on: every command's ``--json`` is one strict JSON envelope, and ``-`` reads
standard input or writes standard output wherever a file is read or written (never a file named ``-``)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from cli_helpers import run_cli
from test_cli_conventions import COMMAND_PATHS as PATHS

from nhisim.cli.envelope import KEYS
from nhisim.errors import MAX_PATH, clip

ROOT = Path(__file__).resolve().parents[1]
LEAK = str(ROOT / "scenarios" / "leaked_key.yaml")
MCP = str(ROOT / "tests" / "data" / "mcp" / "claude_desktop_config.json")
TRACES = str(ROOT / "tests" / "data" / "otel" / "support_traces.otlp.jsonl")
ESTATE = str(ROOT / "tests" / "data" / "otel" / "support_estate.yaml")
# every command, not the groups (policy, import) that hold some
COMMAND_PATHS = [p for p in PATHS if not any(q.startswith(f"{p} ") for q in PATHS)]


def strict_json(text: str):
    """``json.loads`` that refuses NaN and Infinity, as a strict parser (jq, JavaScript's JSON.parse) does."""
    def refuse(constant: str):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def pipe(monkeypatch, text: str | bytes) -> None:
    """What ``cat FILE | nhisim ...`` gives the command on standard input."""
    data = text.encode() if isinstance(text, str) else text
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def every_command(tmp: Path) -> dict[str, list[str]]:
    """A small, quick invocation of every command."""
    return {
        "validate": ["validate", LEAK],
        "schema": ["schema"],
        "generate": ["generate", "--agents", "3", "--tools", "2", "--resources", "2", "--out", str(tmp / "g.yaml")],
        "graph": ["graph", LEAK, "--out", str(tmp / "estate.json")],
        "analyze": ["analyze", LEAK, "--principal", "support-bot"],
        "run": ["run", LEAK, "-s", "zsp"],
        "compare": ["compare", LEAK, "--strategies", "rbac,zsp", "-r", "2", "--executor", "serial"],
        "whatif": ["whatif", LEAK, "--set", "strategies.rbac.rotation=7d", "-r", "2", "--strategies", "rbac"],
        "sweep": ["sweep", LEAK, "--grid", "strategies.zsp.ttl=5m,1h", "--strategies", "zsp", "-r", "1",
                  "--executor", "serial", "--set", "run.horizon=6h", "--out", str(tmp / "sweep")],
        "report": ["report", LEAK, "-r", "2", "--strategies", "rbac,zsp", "--workers", "1", "--set",
                   "run.horizon=6h", "--out", str(tmp / "r.md")],
        "demo": ["demo", "--scenario", LEAK, "-r", "2", "--workers", "1", "--out", str(tmp / "demo")],
        "replay": ["replay", LEAK, "-s", "zsp"],
        "catalog": ["catalog", "--framework", "owasp_nhi"],
        "check": ["check", LEAK, "--seeds", "6", "--jobs", "1"],
        "policy export": ["policy", "export", LEAK, "-s", "intent", "--out", str(tmp / "cedar")],
        "policy validate": ["policy", "validate", LEAK],
        "import mcp": ["import", "mcp", MCP, "--out", str(tmp / "mcp.yaml")],
        "import otel": ["import", "otel", TRACES, "--calibrate", ESTATE],
        "replay-trace": ["replay-trace", TRACES, "--scenario", ESTATE, "-s", "intent", "--out", str(tmp / "c.csv")],
        "plan": ["plan", LEAK, "--from", "rbac", "--to", "zsp", "-r", "2", "--steps", "1", "--executor", "serial",
                 "--set", "run.horizon=6h"],
    }


def test_every_command_is_covered():
    assert set(every_command(Path("x"))) == set(COMMAND_PATHS)


def _envelope(out: str, command: str, code: int) -> dict:
    envelope = strict_json(out)  # the whole of stdout is one JSON document
    assert list(envelope) == list(KEYS)
    assert envelope["command"] == command
    assert envelope["ok"] is (code == 0)
    assert (envelope["error"] is None) is envelope["ok"]
    assert isinstance(envelope["inputs"], dict) and "json" not in envelope["inputs"]
    assert isinstance(envelope["notes"], list) and isinstance(envelope["outputs"], list)
    return envelope


@pytest.mark.parametrize("command", COMMAND_PATHS)
def test_json_is_one_strict_envelope(command, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = every_command(tmp_path)[command]
    code, out, err = run_cli([*argv, "--json"], capsys)
    assert code in (0, 1), err  # check exits 1 when a claim does not hold: told in the envelope too
    envelope = _envelope(out, command, code)
    for path in envelope["outputs"]:
        assert Path(path).exists(), path
    assert not (tmp_path / "-").exists()


def test_json_envelopes_carry_the_results(tmp_path, capsys):
    code, out, _ = run_cli(["run", LEAK, "-s", "zsp", "--seed", "3", "--json"], capsys)
    run = strict_json(out)
    assert code == 0 and run["inputs"]["strategy"] == "zsp" and run["inputs"]["seed"] == 3
    assert run["result"]["seed"] == 3 and "blast_radius" in run["result"]["metrics"]
    code, out, _ = run_cli(["compare", LEAK, "--strategies", "zsp,rbac", "-r", "2", "--executor", "serial", "--json"],
                           capsys)
    compared = strict_json(out)["result"]
    assert compared["comparisons"][0]["baseline"] == "rbac"  # the scenario's baseline, though listed second
    assert len(compared["runs"]) == 4
    rows = compared["comparisons"][0]["summary"]
    assert {r["strategy"] for r in rows} == {"zsp", "rbac"} and all("ci_low" in r for r in rows)
    code, out, _ = run_cli(["graph", LEAK, "--out", str(tmp_path / "e.json"), "--json"], capsys)
    graph = strict_json(out)
    payload = json.loads((tmp_path / "e.json").read_text())
    assert graph["outputs"] == [str(tmp_path / "e.json")]
    assert graph["result"]["files"][0]["edges"] == len(payload["graph"]["edges"])


def test_no_nan_or_infinity_reaches_the_json(capsys):
    # zsp allows no malicious request here, so attribution (a share of the allowed ones) is NaN
    code, out, _ = run_cli(["run", LEAK, "-s", "zsp", "--json"], capsys)
    metrics = strict_json(out)["result"]["metrics"]
    assert code == 0 and None in metrics.values()


BAD = "name: bad\nagents:\n  - id: a\n    rolez: [x]\n"


def every_bad_input(tmp: Path) -> dict[str, list[str]]:
    bad = str(tmp / "bad.yaml")
    (tmp / "bad.yaml").write_text(BAD)
    (tmp / "folder").mkdir()
    return {
        "validate": ["validate", bad], "schema": ["schema", "--out", str(tmp / "folder")],
        "generate": ["generate", "--agents", "0", "--out", str(tmp / "g.yaml")],
        "graph": ["graph", bad, "--out", str(tmp / "e.json")], "analyze": ["analyze", bad],
        "run": ["run", bad], "compare": ["compare", bad], "whatif": ["whatif", bad, "--set", "run.seed=2"],
        "sweep": ["sweep", bad, "--grid", "run.seed=1,2", "--out", str(tmp / "s")],
        "report": ["report", bad], "demo": ["demo", "--scenario", bad, "--out", str(tmp / "d")],
        "replay": ["replay", bad], "catalog": ["catalog", "--framework", "owasp_nhj"], "check": ["check", bad],
        "policy export": ["policy", "export", bad, "-s", "rbac", "--out", str(tmp / "c")],
        "policy validate": ["policy", "validate", bad],
        "import mcp": ["import", "mcp", str(tmp / "folder")],
        "import otel": ["import", "otel", TRACES, "--calibrate", bad],
        "replay-trace": ["replay-trace", TRACES, "--scenario", bad],
        "plan": ["plan", bad, "--from", "rbac", "--to", "zsp"],
    }


@pytest.mark.parametrize("command", COMMAND_PATHS)
def test_bad_input_with_json_is_ok_false_and_exit_2(command, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli([*every_bad_input(tmp_path)[command], "--json"], capsys)
    assert code == 2, err
    envelope = _envelope(out, command, code)
    error = envelope["error"]
    assert {"title", "file", "location", "line", "message", "suggestion", "problems"} <= set(error)
    assert error["message"] and "Traceback" not in out + err
    if command not in ("schema", "generate", "catalog", "import mcp"):
        assert error["file"].endswith("bad.yaml") and error["line"] == 3
        assert error["suggestion"] == "did you mean 'roles'?" or any(
            p["suggestion"] == "did you mean 'roles'?" for p in error["problems"])
    assert "error" in err  # people still read it on stderr


# --------------------------------------------------------------------------- reading standard input


def test_a_scenario_is_read_from_standard_input(capsys, monkeypatch):
    pipe(monkeypatch, Path(LEAK).read_text())
    code, out, err = run_cli(["run", "-", "-s", "zsp", "--seed", "3", "--json"], capsys)
    assert code == 0, err
    piped = strict_json(out)["result"]
    code, out, _ = run_cli(["run", LEAK, "-s", "zsp", "--seed", "3", "--json"], capsys)
    assert piped == strict_json(out)["result"]  # same scenario, same seed, same run


@pytest.mark.parametrize("argv", [["validate", "-"], ["graph", "-", "--out", "e.graphml"], ["analyze", "-"],
                                  ["replay", "-"], ["policy", "validate", "-"], ["run", "-"],
                                  ["compare", "-", "-r", "1", "--executor", "serial"],
                                  ["whatif", "-", "--set", "run.seed=2", "-r", "1"], ["report", "-", "-r", "1"],
                                  ["check", "-"], ["policy", "export", "-", "-s", "rbac", "--out", "c"],
                                  ["demo", "--scenario", "-"],
                                  ["sweep", "-", "--grid", "run.seed=1,2", "--out", "s", "-q"],
                                  ["import", "otel", TRACES, "--calibrate", "-"],
                                  ["replay-trace", TRACES, "--scenario", "-"]],
                         ids=lambda argv: " ".join(argv[:2]))
def test_every_reader_names_standard_input_in_its_messages(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pipe(monkeypatch, BAD)
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and "<stdin>:4 at agents.0.rolez (a): unknown key 'rolez'" in err, err
    assert not any(tmp_path.iterdir())  # nothing written, and never a file named "-"


def test_extends_is_relative_to_the_current_folder(tmp_path, capsys, monkeypatch):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "leak.yaml").write_text(Path(LEAK).read_text())
    monkeypatch.chdir(tmp_path)
    pipe(monkeypatch, "extends: base/leak.yaml\nname: piped\n")
    code, out, err = run_cli(["validate", "-", "--json"], capsys)
    assert code == 0, err
    assert strict_json(out)["result"][0]["scenario"] == "piped"
    pipe(monkeypatch, "extends: leak.yaml\nname: piped\n")
    code, _, err = run_cli(["validate", "-"], capsys)
    assert code == 2 and "<stdin>" in err and "extends a file that does not exist: leak.yaml" in err
    assert f"paths are relative to {clip(Path.cwd(), MAX_PATH)}" in err  # the folder itself, not "."



def test_a_piped_scenario_reads_only_the_current_folder_tree(tmp_path, capsys, monkeypatch):
    """``-`` is read as a file of the current folder would be: extends: and policies: stay in its tree."""
    (tmp_path / "leak.yaml").write_text(Path(LEAK).read_text())
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    pipe(monkeypatch, "extends: ../leak.yaml\nname: piped\n")
    code, _, err = run_cli(["validate", "-"], capsys)
    assert code == 2 and "<stdin>" in err and "outside the scenario's folder tree" in err, err
    pipe(monkeypatch, "extends: ../leak.yaml\nname: piped\n")
    monkeypatch.setenv("NHISIM_ALLOW_PATHS", "")  # --allow-path sets it for the process: restored after the test
    code, _, err = run_cli(["--allow-path", str(tmp_path), "validate", "-"], capsys)
    assert code == 0, err

@pytest.mark.parametrize("argv", [["run", "-"], ["compare", "-", "-r", "1", "--executor", "serial"],
                                  ["whatif", "-", "--set", "run.seed=2", "-r", "1"], ["report", "-", "-r", "1"],
                                  ["replay", "-"], ["demo", "--scenario", "-"],
                                  ["sweep", "-", "--grid", "run.seed=1,2", "--out", "s", "-q"]],
                         ids=lambda argv: argv[0])
def test_a_run_too_large_names_standard_input(argv, tmp_path, capsys, monkeypatch):
    """The work estimate refuses before the first run: its message names the scenario's source."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NHISIM_MAX_EVENTS", "10")
    pipe(monkeypatch, Path(LEAK).read_text())
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "run too large" in err and "<stdin>" in err, err
    assert "<leaked-key>" not in err


def test_standard_input_is_read_once_and_must_be_piped(capsys, monkeypatch):
    pipe(monkeypatch, Path(LEAK).read_text())
    code, _, err = run_cli(["compare", "-", "-", "-r", "1"], capsys)
    assert code == 2 and "more than once" in err

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    code, _, err = run_cli(["validate", "-"], capsys)
    assert code == 2 and "nothing is piped in" in err and "cat scenarios/leaked_key.yaml | nhisim validate -" in err


def test_over_long_or_binary_standard_input_is_refused(capsys, monkeypatch):
    monkeypatch.setenv("NHISIM_MAX_SCENARIO_BYTES", "100")
    pipe(monkeypatch, "name: x\n" + "#" * 200)
    code, _, err = run_cli(["validate", "-"], capsys)
    assert code == 2 and "over the 100-byte limit" in err
    monkeypatch.delenv("NHISIM_MAX_SCENARIO_BYTES")
    pipe(monkeypatch, b"name: \xff\xfe\n")
    code, _, err = run_cli(["validate", "-"], capsys)
    assert code == 2 and "not UTF-8" in err


def test_policies_are_read_from_standard_input(capsys, monkeypatch):
    pipe(monkeypatch, 'permit (principal, action, resource) when { context.nonsense };\n')
    code, _, err = run_cli(["policy", "validate", LEAK, "--policies", "-"], capsys)
    assert code == 2 and "<stdin>" in err


def test_imports_read_their_files_from_standard_input(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pipe(monkeypatch, Path(MCP).read_bytes())
    code, out, err = run_cli(["import", "mcp", "-", "--out", "piped.yaml", "--json"], capsys)
    assert code == 0, err
    envelope = strict_json(out)
    assert envelope["inputs"]["configs"] == ["-"] and envelope["outputs"] == ["piped.yaml"]
    assert envelope["result"]["report"]["sources"] == ["<stdin>"] and envelope["result"]["yaml"] is None
    run_cli(["import", "mcp", MCP, "--out", "file.yaml"], capsys)
    piped, named = (yaml.safe_load(Path(f).read_text()) for f in ("piped.yaml", "file.yaml"))
    # the same servers and secrets; only the client, which a file's name tells, is unknown
    for section in ("tools", "agents", "shared_accounts", "resources"):
        assert [(i["id"], i.get("holders")) for i in piped[section]] == [(i["id"], i.get("holders"))
                                                                       for i in named[section]]

    pipe(monkeypatch, Path(TRACES).read_bytes())
    code, out, err = run_cli(["replay-trace", "-", "--scenario", ESTATE, "-s", "intent", "--json"], capsys)
    assert code == 0, err
    piped = strict_json(out)["result"]
    code, out, _ = run_cli(["replay-trace", TRACES, "--scenario", ESTATE, "-s", "intent", "--json"], capsys)
    assert piped["traces"] == "<stdin>" and piped["calls"] == strict_json(out)["result"]["calls"]

    pipe(monkeypatch, Path(TRACES).read_bytes())
    code, out, err = run_cli(["import", "otel", "-", "--calibrate", ESTATE, "--json"], capsys)
    assert code == 0 and strict_json(out)["result"]["report"]["tables"]["changes"], err


@pytest.mark.parametrize("argv", [["import", "mcp", "-"], ["import", "otel", "-"],
                                  ["replay-trace", "-", "--scenario", ESTATE]], ids=lambda argv: argv[1])
def test_a_bad_imported_file_on_standard_input_is_named(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pipe(monkeypatch, '{"a": 1}\n{"resourceSpans": [\n')
    code, out, err = run_cli([*argv, "--json"], capsys)
    error = strict_json(out)["error"]
    assert code == 2 and error["file"] == "<stdin>" and error["message"], err
    assert "<stdin>" in err and not any(tmp_path.iterdir())
    pipe(monkeypatch, b"\x00\x01binary")
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "<stdin>: the input is binary" in err


def test_an_imported_file_on_standard_input_has_the_import_limit(capsys, monkeypatch):
    monkeypatch.setenv("NHISIM_MAX_IMPORT_BYTES", "100")
    pipe(monkeypatch, Path(MCP).read_bytes())
    code, _, err = run_cli(["import", "mcp", "-"], capsys)
    assert code == 2 and "over the 100-byte limit for imported files" in err


@pytest.mark.parametrize("argv", [["import", "otel", "-", "--calibrate", "-"], ["replay-trace", "-", "--scenario", "-"],
                                  ["import", "mcp", "-", MCP, "-"]], ids=lambda argv: argv[1])
def test_an_import_reads_standard_input_once(argv, capsys, monkeypatch):
    pipe(monkeypatch, Path(TRACES).read_bytes())
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "more than once" in err


# --------------------------------------------------------------------------- writing standard output


def test_graph_generate_and_schema_write_standard_output(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["graph", LEAK, "--format", "opengraph", "--out", "-"], capsys)
    assert code == 0, err
    run_cli(["graph", LEAK, "--out", "e.json"], capsys)
    assert json.loads(out) == json.loads(Path("e.json").read_text())
    assert "wrote standard output" in err  # the message moves to stderr

    code, out, err = run_cli(["generate", "--agents", "4", "--seed", "2", "--out", "-"], capsys)
    assert code == 0 and len(yaml.safe_load(out)["agents"]) == 4 and "agents" in err
    code, out, _ = run_cli(["schema", "--out", "-"], capsys)
    assert code == 0 and strict_json(out)["$schema"]
    assert not Path("-").exists()


def test_a_binary_output_to_a_terminal_is_refused(tmp_path, capsysbinary, monkeypatch):
    from nhisim.cli.app import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["graph", LEAK, "--format", "png", "--out", "-"])
    out, _ = capsysbinary.readouterr()
    assert info.value.code in (0, None) and out.startswith(b"\x89PNG")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    with pytest.raises(SystemExit) as info:
        main(["graph", LEAK, "--format", "png", "--out", "-"])
    _, err = capsysbinary.readouterr()
    assert info.value.code == 2 and b"binary and standard output is a terminal" in err


def test_run_events_to_standard_output_are_csv(tmp_path, capsys):
    code, out, err = run_cli(["run", LEAK, "-s", "zsp", "--events", "-"], capsys)
    assert code == 0, err
    run_cli(["run", LEAK, "-s", "zsp", "--events", str(tmp_path / "e.csv")], capsys)
    assert out == (tmp_path / "e.csv").read_text() and out.startswith("t,event,")
    assert "blast radius" in err  # the metrics table goes to stderr


def test_run_events_files_are_the_run_s_log_written_as_it_goes(tmp_path, capsys, monkeypatch):
    """--events writes the log while the run goes, never holding it whole (a large estate's day is
    millions of rows): the files are the log nhisim.run keeps, row for row."""
    import pyarrow.parquet as pq

    import nhisim
    from nhisim.sim.eventlog import COLUMNS, NUMBER_COLUMNS, EventLog

    kept = nhisim.run(LEAK, "zsp").events

    def refuse(self):
        raise AssertionError("the command built the whole log")

    monkeypatch.setattr(EventLog, "to_frame", refuse)
    for name in ("e.csv", "e.parquet"):
        code, _, err = run_cli(["run", LEAK, "-s", "zsp", "--events", str(tmp_path / name), "-q"], capsys)
        assert code == 0, err
    assert (tmp_path / "e.csv").read_text() == kept.to_csv(index=False)
    back = pd.read_parquet(tmp_path / "e.parquet")
    assert back.attrs == kept.attrs and list(back.columns) == list(COLUMNS) and len(back) == len(kept)
    for column in COLUMNS:
        assert back[column].isna().tolist() == kept[column].isna().tolist(), column
        present = kept[column].notna()
        assert back.loc[present, column].tolist() == kept.loc[present, column].tolist(), column
    schema = pq.read_schema(tmp_path / "e.parquet")  # the same types whatever the run holds
    types = {column: str(schema.field(column).type) for column in COLUMNS}
    assert types == {column: "double" if column in NUMBER_COLUMNS else "bool" if column in ("malicious", "in_intent")
                     else "string" for column in COLUMNS}


def test_reports_go_to_standard_output_self_contained(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["report", LEAK, "-r", "2", "--strategies", "rbac,zsp", "--workers", "1", "--set",
                              "run.horizon=6h", "--format", "md", "--out", "-"], capsys)
    assert code == 0, err
    assert out.startswith("# nhisim report") and "](data:image/png;base64," in out
    assert not any(tmp_path.iterdir())  # no figure folder beside a file that does not exist
    code, out, err = run_cli(["whatif", LEAK, "--set", "strategies.rbac.rotation=7d", "-r", "2", "--strategies",
                              "rbac", "--report", "-", "--report-format", "md"], capsys)
    assert code == 0 and out.startswith("# What if") and "exposure window" in err
    code, out, _ = run_cli(["policy", "export", LEAK, "-s", "intent", "--out", "-"], capsys)
    assert code == 0 and "==> intent.cedar <==" in out and "==> schema.cedarschema <==" in out


def test_imports_write_standard_output(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["import", "mcp", MCP, "--out", "-"], capsys)
    assert code == 0, err
    assert out.startswith("# Imported by") and "Secrets" in err and "Fill in" in err  # the report on stderr
    run_cli(["import", "mcp", MCP, "--out", "estate.yaml"], capsys)
    assert yaml.safe_load(out) == yaml.safe_load(Path("estate.yaml").read_text())
    code, out, err = run_cli(["replay-trace", TRACES, "--scenario", ESTATE, "-s", "intent", "--out", "-"], capsys)
    assert code == 0, err
    assert "intent: denied or escalated calls" in err  # the tables go to stderr
    run_cli(["replay-trace", TRACES, "--scenario", ESTATE, "-s", "intent", "--out", "calls.csv"], capsys)
    assert out == Path("calls.csv").read_text() and out.startswith("strategy,trace,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calls-credentials.csv", "calls.csv", "estate.yaml"]
    code, out, _ = run_cli(["import", "otel", TRACES, "--out", "-", "--json"], capsys)
    assert code == 2 and "JSON envelope" in strict_json(out)["error"]["message"]


@pytest.mark.parametrize("argv", [["compare", LEAK, "--out", "-"], ["sweep", LEAK, "--grid", "run.seed=1,2",
                                                                   "--out", "-"], ["demo", "--out", "-"],
                                  ["catalog", "--scenarios", "-"]], ids=lambda argv: argv[0])
def test_a_folder_cannot_be_standard_output(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "cannot be one" in err
    assert not any(tmp_path.iterdir())


def test_json_and_standard_output_do_not_mix(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(["graph", LEAK, "--out", "-", "--format", "svg", "--json"], capsys)
    assert code == 2 and "JSON envelope" in strict_json(out)["error"]["message"]
    assert not any(tmp_path.iterdir())


def test_compare_keeps_the_runs_event_logs_only_for_its_results_folder(tmp_path, capsys):
    """Without --out the table and the envelope come from the runs' metrics alone: the same as with
    every event log kept, which only --out writes (events.parquet)."""
    from nhisim.cli.commands_sim import run_comparisons

    files = [Path(LEAK)]
    kept, lean = (run_comparisons(files, ["rbac", "zsp"], 3, None, None, {}, quiet=True, keep_events=keep)
                  for keep in (True, False))
    assert kept[0].runs.equals(lean[0].runs) and kept[0].summary().equals(lean[0].summary())
    assert len(kept[0].events) and not len(lean[0].events)
    code, out, _ = run_cli(["compare", LEAK, "--strategies", "rbac,zsp", "-r", "3", "--json"], capsys)
    assert code == 0 and json.loads(out)["result"]["runs"]
    code, _, _ = run_cli(["compare", LEAK, "--strategies", "rbac,zsp", "-r", "3", "--out", str(tmp_path / "r")],
                         capsys)
    assert code == 0 and len(pd.read_parquet(tmp_path / "r" / "events.parquet")) > 0


def test_compare_writes_each_runs_event_log_as_it_finishes(tmp_path, capsys):
    """--out writes events.parquet run by run (a large estate's logs never sit in memory together):
    the file holds what a comparison keeping every log holds, in the order of the runs."""
    from nhisim.experiments import compare

    out = tmp_path / "results"
    code, _, _ = run_cli(["compare", LEAK, "--strategies", "rbac,zsp", "-r", "3", "--executor", "processes",
                          "--workers", "2", "--out", str(out)], capsys)
    assert code == 0 and sorted(p.name for p in out.iterdir()) == [".nhisim.lock", "comparison.json",
                                                                     "events.parquet", "runs.parquet"]
    kept = compare(LEAK, strategies=["rbac", "zsp"], replications=3)
    expected = kept.events.assign(scenario=kept.scenario.name)
    expected["in_intent"] = expected["in_intent"].astype("boolean")
    expected.to_parquet(tmp_path / "expected.parquet", index=False)
    assert pd.read_parquet(out / "events.parquet").equals(pd.read_parquet(tmp_path / "expected.parquet"))
    handed: list[tuple[str, int]] = []
    lean = compare(LEAK, strategies=["rbac", "zsp"], replications=3, executor="processes", workers=2,
                   events_to=lambda strategy, replication, frame: handed.append((strategy, replication)))
    assert handed == [(s, r) for r in range(3) for s in ("rbac", "zsp")] and not lean.run_events


def test_a_comparison_can_have_its_workers_write_the_logs_to_files(tmp_path):
    """compare(events_to=f, log_folder=D): each worker writes its run's log to a file of D as the run
    goes (no log crosses between processes whole), and f receives the file: the same log, with the
    run's ids, as a comparison keeping every log holds."""
    from nhisim.errors import InputError
    from nhisim.experiments import compare
    from nhisim.experiments.logfiles import LogFile

    kept = compare(LEAK, strategies=["rbac", "zsp"], replications=2)
    handed: dict = {}
    lean = compare(LEAK, strategies=["rbac", "zsp"], replications=2, executor="processes", workers=2,
                   events_to=lambda strategy, replication, file: handed.setdefault((strategy, replication), file),
                   log_folder=tmp_path)
    assert list(handed) == [(s, r) for r in range(2) for s in ("rbac", "zsp")] and not lean.run_events
    assert lean.runs.equals(kept.runs)
    for (strategy, replication), file in handed.items():
        assert isinstance(file, LogFile) and Path(file.path).parent == tmp_path
        frame = pd.read_parquet(file.path)
        expected = kept.run_events[(strategy, replication)]
        assert file.rows == len(frame) == len(expected)
        assert (frame["strategy"] == strategy).all() and (frame["replication"] == replication).all()
        assert (frame["scenario"] == kept.scenario.name).all()
        pd.testing.assert_frame_equal(frame[list(expected.columns)].astype(object).where(frame.notna(), None),
                                      expected.astype(object).where(expected.notna(), None))
    with pytest.raises(InputError, match="log_folder"):
        compare(LEAK, strategies=["rbac"], replications=1, log_folder=tmp_path)


def test_a_comparison_refuses_to_keep_more_logs_than_memory_holds(monkeypatch):
    """compare() keeps every run's log by default: where that would take more than half the machine's
    memory it is refused before any run, with the ways out; the metrics alone, one replication's
    stories, or NHISIM_FORCE run."""
    from nhisim.errors import InputError
    from nhisim.experiments import compare

    monkeypatch.setattr(sys.modules["nhisim.experiments.compare"], "physical_memory", lambda: 2**20)  # 1 MiB
    with pytest.raises(InputError, match="event logs would hold") as info:
        compare(LEAK, strategies=["rbac", "zsp"], replications=3)
    assert "keep_events={0}" in info.value.render() and "NHISIM_FORCE" in info.value.render()
    assert not compare(LEAK, strategies=["rbac", "zsp"], replications=3, keep_events=False).run_events
    assert compare(LEAK, strategies=["rbac"], replications=3, keep_events={0}, event_rows="story").run_events
    monkeypatch.setenv("NHISIM_FORCE", "1")
    assert len(compare(LEAK, strategies=["rbac"], replications=1).run_events) == 1


def test_a_comparison_that_fails_leaves_no_event_log_behind(tmp_path, capsys, monkeypatch):
    from nhisim.experiments.executors import FAIL_RUNS_ENV

    monkeypatch.setenv(FAIL_RUNS_ENV, "exit:zsp/2")  # the worker running zsp's third replication dies
    out = tmp_path / "results"
    code, _, err = run_cli(["compare", LEAK, "--strategies", "rbac,zsp", "-r", "3", "--executor", "processes",
                            "--workers", "2", "--out", str(out)], capsys)
    assert code == 1 and "a worker process died" in err
    assert sorted(p.name for p in out.iterdir()) == [".nhisim.lock"]  # no results, no partial file
