"""`nhisim import mcp`: client configurations become scenarios that validate and run, secrets are
found (and shared ones recognised) without their values ever being written, and bad files are
told in one screen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cli_helpers import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhisim.importers.mcp import import_mcp, match_server
from nhisim.importers.mcp_config import classify, read_config
from nhisim.scenario.loader import load_scenario

DATA = Path(__file__).parent / "data" / "mcp"
CLAUDE = DATA / "claude_desktop_config.json"
VSCODE = DATA / "vscode_mcp.json"


def _write(tmp_path: Path, data, name: str = "claude_desktop_config.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_claude_desktop_config_becomes_a_scenario_that_validates(tmp_path):
    imported = import_mcp(CLAUDE)
    out = tmp_path / "estate.yaml"
    imported.write(out)
    loaded = load_scenario(out)  # the file itself, comments and all, validates
    assert loaded == imported.scenario
    assert {t.id for t in loaded.tools} == {"github", "pr-reviewer", "slack", "filesystem", "postgres", "sentry"}
    assert {a.id for a in loaded.agents} == {f"{t}-server" for t in ("github", "pr-reviewer", "slack",
                                                                     "filesystem", "postgres", "sentry")}
    # the same GitHub token under two variable names: one shared account of both servers
    (account,) = loaded.shared_accounts
    assert sorted(account.holders) == ["github-server", "pr-reviewer-server"]
    # the leak threat is on the most exposed secret: the shared one, written in the file
    leak = next(t for t in loaded.threats if t.kind == "secret_leak")
    assert leak.principal == account.id and leak.channel == "repository"
    secrets = imported.report.tables["secrets"]
    assert len({row["secret"] for row in secrets}) == 4
    assert {row["server"] for row in secrets} == {"github", "pr-reviewer", "slack", "postgres", "sentry"}
    assert any("connection URL password" in row["carried_in"] for row in secrets)
    assert any(row["carried_in"].startswith("header Authorization") for row in secrets)


def test_header_says_what_was_imported_and_todos_mark_what_to_fill_in():
    text = import_mcp(CLAUDE).text
    comments = " ".join(line.strip().lstrip("#").strip() for line in text.splitlines() if line.strip().startswith("#"))
    assert comments.startswith("Imported by `nhisim import mcp`") and "claude_desktop_config.json" in comments
    assert "No secret value is copied" in comments
    assert "one strategy runs the whole estate" in comments.lower()
    rows = text.splitlines()
    item = rows.index("- id: pr-reviewer")  # the unknown server's TODO sits right above its tool
    assert rows[item - 2].startswith("# TODO: unknown server 'pr-reviewer'") and rows[item - 1].startswith("#")
    todos = comments.split("TODO:")[1:]
    assert any("unknown server 'pr-reviewer'" in t for t in todos)
    assert any("sensitivit" in t for t in todos) and any("threats below are assumptions" in t for t in todos)
    report = import_mcp(CLAUDE).report
    assert any("pr-reviewer" in note.item for note in report.todo)
    assert any(note.item == "tool github" for note in report.guessed)


def test_no_secret_value_reaches_the_yaml_the_report_or_the_terminal(tmp_path, capsys):
    """Every secret in the samples holds the word FAKE; it must appear nowhere we write."""
    for config in (CLAUDE, VSCODE):
        assert "FAKE" in config.read_text() or config == VSCODE
        imported = import_mcp(config)
        assert "FAKE" not in imported.text
        assert "FAKE" not in json.dumps(imported.report.to_dict())
        code, out, err = run_cli(["import", "mcp", str(config), "--out", str(tmp_path / f"{config.stem}.yaml")],
                                 capsys)
        assert code == 0, err
        assert "FAKE" not in out + err
        code, out, err = run_cli(["import", "mcp", str(config), "--json"], capsys)
        assert code == 0 and "FAKE" not in out + err


def test_vscode_inputs_env_references_and_comments(tmp_path):
    imported = import_mcp(VSCODE)
    scenario = imported.scenario
    # the same ${input:github-pat} in a header and in an env: one secret, shared
    (account,) = scenario.shared_accounts
    assert sorted(account.holders) == ["github-local-server", "github-server"]
    rows = imported.report.tables["secrets"]
    supplied = {row["server"]: row["supplied"] for row in rows}
    assert "VS Code prompt (github-pat)" in supplied["github"]
    assert "environment variable KB_API_KEY" in supplied["internal-kb"]
    assert any("envFile" in w for w in imported.report.warnings)  # not read: said so
    tools = {t.id: t for t in scenario.tools}
    assert any(op.resource == "stripe-payments" for op in tools["stripe"].operations)
    assert "Browser" in tools["playwright"].description


def test_secrets_are_shared_across_clients_and_ids_say_which_client(tmp_path):
    token = "ghp_" + "A1b2" * 9
    desktop = _write(tmp_path, {"mcpServers": {"github": {"command": "npx", "args": ["@modelcontextprotocol/server-github"],
                                                          "env": {"GITHUB_TOKEN": token}}}})
    cursor_dir = tmp_path / ".cursor"
    cursor_dir.mkdir()
    cursor = _write(cursor_dir, {"mcpServers": {"gh": {"url": "https://api.githubcopilot.com/mcp/",
                                                       "headers": {"Authorization": f"Bearer {token}"}}}}, "mcp.json")
    imported = import_mcp([desktop, cursor])
    assert {t.id for t in imported.scenario.tools} == {"claude-desktop-github", "cursor-gh"}
    (account,) = imported.scenario.shared_accounts
    assert len(account.holders) == 2
    assert token not in imported.text


@pytest.mark.parametrize(("name", "value", "source", "shape"), [
    ("GITHUB_PERSONAL_ACCESS_TOKEN", "ghp_" + "x" * 36, "plaintext", "GitHub token"),
    ("SLACK_BOT_TOKEN", "xoxb-1-2-abc", "plaintext", "Slack token"),
    ("OPENAI_API_KEY", "${env:OPENAI_API_KEY}", "env", ""),
    ("API_KEY", "${API_KEY:-none}", "env", ""),
    ("Authorization", "Bearer ${input:token}", "input", ""),
    ("STRIPE_SECRET_KEY", "<your-stripe-key>", "placeholder", ""),
    ("DB", "postgres://u:pw@h/db", "plaintext", "password in a connection URL"),
    ("GOOGLE_APPLICATION_CREDENTIALS", "/home/a/key.json", "file", "a key file"),
    ("AWS_ACCESS_KEY_ID", "AKIAABCDEFGHIJKLMNOP", "plaintext", "AWS access key id"),
])
def test_secrets_are_recognised_by_name_shape_and_reference(name, value, source, shape):
    from nhisim.importers.mcp_config import secret_name

    secret = classify("s", name, "env", value, by_name=secret_name(name), scope="f")
    assert secret is not None and (secret.source, secret.looks_like) == (source, shape)
    if source in ("plaintext", "placeholder"):  # a value is not kept, only a fingerprint (never shown)
        assert value not in repr(secret) and "pw" not in repr(secret)


@pytest.mark.parametrize(("name", "value"), [("SLACK_TEAM_ID", "T012"), ("LOG_LEVEL", "debug"),
                                             ("DATABASE_URL", "postgres://h/db"), ("ROOT", "${workspaceFolder}")])
def test_settings_are_not_secrets(name, value):
    from nhisim.importers.mcp_config import secret_name

    assert classify("s", name, "env", value, by_name=secret_name(name), scope="f") is None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.text(alphabet="abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=16,
                               max_size=40), min_size=1, max_size=4),
       reuse=st.booleans())
def test_any_secret_value_stays_out_and_equal_values_are_shared(tmp_path, values, reuse):
    """Whatever the values: none is written, and servers holding the same value share one account."""
    if reuse:
        values = values[:1] * len(values)
    servers = {f"srv{i}": {"command": "node", "args": [f"server{i}.js"], "env": {"SERVICE_TOKEN": v}}
               for i, v in enumerate(values)}
    imported = import_mcp(_write(tmp_path, {"mcpServers": servers}))
    for value in values:
        assert value not in imported.text and value not in json.dumps(imported.report.to_dict())
    distinct = len(set(values))
    holders = sorted(len(a.holders) for a in imported.scenario.shared_accounts)
    groups = [values.count(v) for v in set(values) if values.count(v) > 1]
    assert holders == sorted(groups)
    assert len({row["secret"] for row in imported.report.tables["secrets"]}) == distinct


def test_known_servers_are_recognised_by_command_or_url(tmp_path):
    config = _write(tmp_path, {"mcpServers": {
        "a": {"command": "uvx", "args": ["mcp-server-fetch"]},
        "b": {"command": "npx", "args": ["-y", "@notionhq/notion-mcp-server"]},
        "c": {"url": "https://mcp.linear.app/sse"},
        "d": {"command": "python", "args": ["my_tool.py"]}}})
    entries = {s.name: match_server(s)[0] for s in read_config(config).servers}
    assert {k: e.id if e else None for k, e in entries.items()} == {"a": "fetch", "b": "notion", "c": "linear",
                                                                    "d": None}


def test_imported_estate_runs_a_comparison_end_to_end(tmp_path, capsys):
    out = tmp_path / "estate.yaml"
    assert run_cli(["import", "mcp", str(CLAUDE), "--out", str(out)], capsys)[0] == 0
    code, stdout, err = run_cli(["compare", str(out), "-r", "2", "--executor", "serial", "-q", "--json"], capsys)
    assert code == 0, err
    runs = json.loads(stdout)["result"]["runs"]
    mean = {s: sum(r["blast_radius"] for r in runs if r["strategy"] == s) / 2
            for s in ("shared_account", "rbac", "zsp", "intent")}
    # the shared GitHub token leaks: the attacker reaches both servers' scope under the shared account
    assert mean["shared_account"] > mean["rbac"] > mean["intent"] == 0
    assert all(r["tasks_completed"] > 0 for r in runs)


def test_stdout_gets_the_yaml_and_stderr_the_report(capsys):
    code, out, err = run_cli(["import", "mcp", str(CLAUDE)], capsys)
    assert code == 0
    assert yaml.safe_load(out)["name"] == "imported-mcp-estate"
    assert "Secrets" in err and "Fill in" in err


def test_an_existing_file_is_kept_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "estate.yaml"
    out.write_text("# filled in by hand\n")
    code, _, err = run_cli(["import", "mcp", str(CLAUDE), "--out", str(out)], capsys)
    assert code == 2 and "already exists" in err
    assert out.read_text() == "# filled in by hand\n"
    assert run_cli(["import", "mcp", str(CLAUDE), "--out", str(out), "--overwrite"], capsys)[0] == 0
    assert "imported-mcp-estate" in out.read_text()


def test_json_report(capsys):
    code, out, _ = run_cli(["import", "mcp", str(CLAUDE), "--json"], capsys)
    assert code == 0
    envelope = json.loads(out)
    payload = envelope["result"]
    assert envelope["command"] == "import mcp" and envelope["outputs"] == []
    assert payload["yaml"].startswith("# Imported by") and payload["agents"] == len(yaml.safe_load(payload["yaml"])
                                                                                   ["agents"])
    assert {"guessed", "todo", "tables", "warnings"} <= set(payload["report"])
    assert envelope["notes"] == payload["report"]["warnings"]


BAD = [
    ("not JSON", "{mcpServers: nope", "not valid JSON"),
    ("a list", "[1, 2]", "is a JSON object, not a list"),
    ("no servers key", '{"globalShortcut": "x"}', "no MCP servers"),
    ("servers not an object", '{"mcpServers": ["a"]}', "must be an object of servers"),
    ("a server as a string", '{"mcpServers": {"a": "npx x"}}', "is an object with command or url"),
    ("neither command nor url", '{"mcpServers": {"a": {"args": ["x"]}}}', "neither command"),
    ("args not a list", '{"mcpServers": {"a": {"command": "x", "args": "y"}}}', "args must be a list"),
    ("env value an object", '{"mcpServers": {"a": {"command": "x", "env": {"K": {"v": 1}}}}}', "env values are strings"),
    ("no servers at all", '{"mcpServers": {}}', "lists no MCP servers"),
    ("only whitespace", "  \n ", "the file is empty"),
    ("too deep", "[" * 100_000, "nested too deeply"),
    ("two documents", '{"mcpServers": {}} {"mcpServers": {}}', "2 JSON documents"),
    ("huge number", '{"mcpServers": {"a": {"command": "x", "args": [' + "9" * 5000 + "]}}}", "cannot be read"),
]


@pytest.mark.parametrize(("case", "text", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_configurations_are_told_in_one_screen(tmp_path, capsys, case, text, message):
    path = _write(tmp_path, text)
    code, out, err = run_cli(["import", "mcp", str(path), "--out", str(tmp_path / "x.yaml")], capsys)
    assert code == 2, (case, err)
    assert message in err, err
    assert str(path) in err and "Traceback" not in err and len(err.splitlines()) <= 20
    assert not (tmp_path / "x.yaml").exists()


def test_binary_utf16_missing_huge_and_folder_inputs(tmp_path, capsys, monkeypatch):
    cases = {"binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00", "utf16": '{"mcpServers": {}}'.encode("utf-16"),
             "latin1": '{"mcpServers": {"caf\xe9": {}}}'.encode("latin-1")}
    expected = {"binary": "binary", "utf16": "UTF-16", "latin1": "not UTF-8"}
    for name, data in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_bytes(data)
        code, _, err = run_cli(["import", "mcp", str(path)], capsys)
        assert code == 2 and expected[name] in err and "Traceback" not in err, err
    code, _, err = run_cli(["import", "mcp", str(tmp_path / "missing.json")], capsys)
    assert code == 2 and "file not found" in err
    code, _, err = run_cli(["import", "mcp", str(tmp_path)], capsys)
    assert code == 2 and "is a folder" in err
    monkeypatch.setenv("NHISIM_MAX_IMPORT_BYTES", "100")
    code, _, err = run_cli(["import", "mcp", str(CLAUDE)], capsys)
    assert code == 2 and "over the 100-byte limit" in err
    code, _, err = run_cli(["import", "mcp", str(CLAUDE), "--rate", "fast"], capsys)
    assert code == 2 and "--rate" in err


def test_the_catalogue_of_known_servers_is_well_formed():
    """Every entry names real actions and levels, and its operations name its own resources (a flow
    mapping with an unquoted comma would silently lose a description: keys are checked too)."""
    from nhisim.importers.mcp import catalogue
    from nhisim.scenario.models import DEFAULT_ACTION_DAMAGE, SENSITIVITY_LEVELS

    ids = [entry.id for entry in catalogue()]
    assert len(ids) == len(set(ids)) >= 15
    for entry in catalogue():
        resources = {r["id"] for r in entry.resources}
        assert all(set(r) <= {"id", "kind", "sensitivity", "description"} for r in entry.resources), entry.id
        assert all(r["sensitivity"] in SENSITIVITY_LEVELS for r in entry.resources), entry.id
        assert all(set(op) <= {"action", "resource", "routine"} for op in entry.operations), entry.id
        assert all(op["action"] in DEFAULT_ACTION_DAMAGE and op["resource"] in resources for op in entry.operations)
        assert any(op.get("routine") for op in entry.operations), entry.id


def test_hostile_names_are_made_safe(tmp_path):
    """Control characters, lone surrogates and 5,000-character names: the scenario still validates,
    no escape reaches it, and a secret in a URL's query is found (and not written)."""
    config = {"mcpServers": {"\x1b[2Jevil": {"command": "npx\x07", "args": ["@x/\x1bserver", "\ud800"],
                                             "env": {"MY\x1b_TOKEN": "abc\x00def"}},
                             "a" * 5000: {"url": "https://x.example/mcp?api_key=QUERYVALUE123", "type": "odd\x1b"},
                             "???": {"command": "node"}, "GitHub": {"command": "npx"}, "github": {"command": "npx"}}}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    imported = import_mcp(path)
    assert [t.id for t in imported.scenario.tools][2:] == ["server", "github", "github-2"]
    assert not any(c in imported.text for c in "\x1b\x07\x00") and "QUERYVALUE123" not in imported.text
    assert any("(URL query)" in row["carried_in"] for row in imported.report.tables["secrets"])
