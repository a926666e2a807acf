"""Bad input through the real command line: exit code 2, one screen on stderr naming the
file (and the line, where the parser gives one), never a traceback; the Python API raises
:class:`InputError` with the same text.

The bad-input cases (``CLI_CASES``) run ``python -m nhisim validate ...``
in a subprocess (once per module, as many at a time as there are CPUs). The extra cases
(``EXTRA_CASES``) run the same entry point, ``nhisim.cli.app.main``, in this process:
as strict, much faster.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nhisim.errors import InputError
from nhisim.scenario.loader import MAX_BYTES_ENV, load_scenario, parse_override

BASE = """\
name: base
resources:
  - {id: db, sensitivity: high, records: 10}
tools:
  - id: api
    operations:
      - {action: read, resource: db}
roles:
  - {id: reader, grants: ["api:read:db"]}
humans:
  - {id: alice}
agents:
  - {id: bot, owner: alice, roles: [reader], tasks: [t]}
tasks:
  - id: t
    arrival_rate: 6/h
    intent: {operations: ["api:read:db"]}
    steps:
      - {call: "api:read:db", duration: 10s}
threats:
  - {kind: secret_leak, principal: bot, at: 2h}
"""

MARKER = "pwned-marker"


@dataclass
class Case:
    files: dict[str, str | bytes | None]  # None: a directory
    target: str  # the file given on the command line
    expect: list[str]  # text the message must contain
    named: str = ""  # the file the message must name (default: target)
    line: int | None = None  # the line the message must give
    sets: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


def _child(text: str) -> dict[str, str]:
    return {"base.yaml": BASE, "bad.yaml": "extends: base.yaml\n" + text}


CLI_CASES: dict[str, Case] = {
    "yaml_syntax": Case(
        {"bad.yaml": "name: x\nagents:\n  - id: a\n   owner: b\n"}, "bad.yaml",
        ["YAML syntax error", "hint: check indentation"], line=4),
    "empty_file": Case({"bad.yaml": ""}, "bad.yaml", ["the file is empty"]),
    "missing_file": Case({}, "nowhere.yaml", ["file not found"]),
    "directory": Case({"adir": None, "adir/x.yaml": BASE}, "adir",
                      ["is a directory, not a scenario file", "adir/x.yaml"]),
    "unknown_top_level_key": Case(
        _child("name: c\nagnets: []\n"), "bad.yaml", ["unknown key 'agnets'", "did you mean 'agents'?"], line=3),
    "unknown_reference": Case(
        _child("agents:\n  - id: bot\n    owner: alise\n"), "bad.yaml",
        ["unknown human 'alise'", "agents.0.owner", "did you mean 'alice'?"], line=4),
    "wrong_type": Case(_child("run:\n  replications: lots\n"), "bad.yaml",
                       ["run.replications", "valid integer", "'lots'"], line=3),
    "negative_duration": Case(_child("run:\n  horizon: -5h\n"), "bad.yaml",
                              ["run.horizon", "a duration cannot be negative", "'-5h'"], line=3),
    "negative_rate": Case(_child("tasks:\n  - id: t\n    arrival_rate: -3/h\n"), "bad.yaml",
                          ["arrival_rate", "a rate cannot be negative", "'-3/h'"], line=4),
    "probability_above_1": Case(_child("detection:\n  alert_detection_probability: 1.5\n"), "bad.yaml",
                                ["detection.alert_detection_probability", "less than or equal to 1", "1.5"], line=3),
    "cyclic_extends": Case({"a.yaml": "name: a\nextends: b.yaml\n", "b.yaml": "name: b\nextends: a.yaml\n"},
                           "a.yaml", ["cyclic extends: a.yaml -> b.yaml -> a.yaml"], named="b.yaml", line=2),
    "python_tag": Case(
        {"bad.yaml": f"name: x\ntitle: !!python/object/apply:os.system ['touch {MARKER}']\n"}, "bad.yaml",
        ["refused YAML tag", "python/object/apply:os.system"], line=2),
    "over_size_limit": Case({"bad.yaml": BASE}, "bad.yaml", ["over the 200-byte limit", MAX_BYTES_ENV],
                            env={MAX_BYTES_ENV: "200"}),
    "unknown_threat_kind": Case(
        _child("threats:\n  - {kind: secret_leek, principal: bot, at: 1h}\n"), "bad.yaml",
        ["unknown threat kind 'secret_leek'", "did you mean 'secret_leak'?"], line=3),
    "bad_set_unknown_path": Case({"base.yaml": BASE}, "base.yaml",
                                 ["unknown path 'strategies.zsp.tll'", "did you mean 'ttl'?"],
                                 sets=["strategies.zsp.tll=1h"]),
    "bad_set_no_equals": Case({"base.yaml": BASE}, "base.yaml", ["has no '='", "PATH=VALUE"],
                              named="--set", sets=["strategies.zsp.ttl"]),
}

EXTRA_CASES: dict[str, Case] = {
    "yaml_unclosed_bracket": Case(
        {"bad.yaml": "name: x\nexpectations: [a, b\nrun: {}\n"}, "bad.yaml", ["YAML syntax error"], line=3),
    "comments_only": Case({"bad.yaml": "# nothing here\n\n"}, "bad.yaml", ["the file is empty"]),
    "not_a_mapping": Case({"bad.yaml": "- a\n- b\n"}, "bad.yaml", ["must be a mapping"], line=1),
    "not_utf8": Case({"bad.yaml": b"name: \xff\xfe\n"}, "bad.yaml", ["cannot read the file", "utf-8"]),
    "missing_name": Case({"bad.yaml": "nmae: x\n"}, "bad.yaml",
                         ["missing required key 'name'", "unknown key 'nmae'", "did you mean 'name'?"], line=1),
    "unknown_grant": Case(
        _child("roles:\n  - id: reader\n    grants: ['api:raed:db']\n"), "bad.yaml",
        ["exposes no operation raed", "did you mean 'api:read:db'?"], line=4),
    "python_tag_in_parent": Case(
        {"parent.yaml": f"name: !!python/object/new:os.system ['touch {MARKER}']\n",
         "bad.yaml": "extends: parent.yaml\n"}, "bad.yaml", ["refused YAML tag"], named="parent.yaml", line=1),
    "python_name_tag": Case({"bad.yaml": "name: x\ntitle: !!python/name:os.system\n"}, "bad.yaml",
                            ["refused YAML tag"], line=2),
    "parent_over_size_limit": Case({"base.yaml": BASE + "#" * 500, "bad.yaml": "extends: base.yaml\n"},
                                   "bad.yaml", ["over the 600-byte limit"], named="base.yaml",
                                   env={MAX_BYTES_ENV: "600"}),
    "bad_set_unknown_item": Case({"base.yaml": BASE}, "base.yaml", ["no item 'robot' in agents", "did you mean 'bot'?"],
                                 sets=["agents.robot.behaviour.discovery_probability=0.1"]),
    "bad_set_value": Case({"base.yaml": BASE}, "base.yaml", ["run.replications", "greater than or equal to 1"],
                          sets=["run.replications=0"]),
    "deeply_nested": Case({"bad.yaml": "name: " + "[" * 700 + "]" * 700 + "\n"}, "bad.yaml",
                          ["nested too deeply"]),
    "many_problems": Case(
        _child("agents:\n" + "".join(f"  - {{id: a{i}, owner: nobody{i}, roles: [r{i}]}}\n" for i in range(40))),
        "bad.yaml", ["unknown human 'nobody0'", "more problem(s)"], line=3),
    "huge_value": Case(_child("run:\n  horizon: '" + "9x" * 50_000 + "'\n"), "bad.yaml",
                       ["is not a duration"], line=3),
    "billion_laughs": Case(
        {"bad.yaml": "name: x\n" + "l0: &l0 [x, x, x, x, x, x, x, x, x]\n"
         + "".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 10))},
        "bad.yaml", ["unknown key 'l0'"], line=2),
}
CASES = {**CLI_CASES, **EXTRA_CASES}


def _materialise(root: Path, case: Case) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, content in case.files.items():
        path = root / name
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def _args(case: Case) -> list[str]:
    args = ["validate", case.target]
    for s in case.sets:
        args += ["--set", s]
    return args


@dataclass
class Result:
    root: Path
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory) -> dict[str, Result]:
    """Run every CLI case's subprocess, as many at a time as there are CPUs."""
    base_env = {k: v for k, v in os.environ.items() if k != MAX_BYTES_ENV}

    def run(name: str, case: Case, root: Path) -> Result:
        try:
            done = subprocess.run([sys.executable, "-m", "nhisim", *_args(case)], cwd=root,
                                  env={**base_env, **case.env}, text=True, capture_output=True, timeout=300)
        except subprocess.TimeoutExpired as exc:
            return Result(root, -1, str(exc.stdout or ""), str(exc.stderr or "") + "\n<timed out>")
        return Result(root, done.returncode, done.stdout, done.stderr)

    roots = {}
    for name, case in CLI_CASES.items():
        roots[name] = tmp_path_factory.mktemp(name)
        _materialise(roots[name], case)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {name: pool.submit(run, name, case, roots[name]) for name, case in CLI_CASES.items()}
        return {name: future.result() for name, future in futures.items()}


def run_in_process(case: Case, root: Path, monkeypatch, capsys) -> Result:
    """``nhisim.cli.app.main`` in this process, in ``root``, with the case's environment."""
    from nhisim.cli.app import main

    _materialise(root, case)
    monkeypatch.chdir(root)
    monkeypatch.delenv(MAX_BYTES_ENV, raising=False)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(_args(case))
    out, err = capsys.readouterr()
    return Result(root, info.value.code, out, err)


@pytest.fixture
def result_of(cli_runs, tmp_path, monkeypatch, capsys):
    def get(name: str) -> Result:
        if name in cli_runs:
            return cli_runs[name]
        return run_in_process(EXTRA_CASES[name], tmp_path, monkeypatch, capsys)

    return get


@pytest.mark.parametrize("name", list(CASES))
def test_cli_reports_bad_input_on_one_screen(name, result_of):
    case = CASES[name]
    result = result_of(name)
    output = result.stdout + result.stderr
    assert "<timed out>" not in result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == 2, output
    assert result.stdout == ""  # nothing claims success
    lines = result.stderr.splitlines()
    assert 2 <= len(lines) < 25, result.stderr
    assert all(len(line) < 600 for line in lines), "a line runs off the screen"
    assert lines[0] == "error: invalid input"
    named = case.named or case.target
    assert named in result.stderr
    if case.line is not None:
        assert f"{named}:{case.line}" in result.stderr, result.stderr
    for text in case.expect:
        assert text in result.stderr, f"{text!r} not in:\n{result.stderr}"
    assert not (result.root / MARKER).exists(), "a YAML tag was executed"


@pytest.mark.parametrize("name", list(CASES))
def test_python_api_raises_the_same_error(name, result_of, monkeypatch):
    case = CASES[name]
    result = result_of(name)
    monkeypatch.chdir(result.root)
    monkeypatch.delenv(MAX_BYTES_ENV, raising=False)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(InputError) as info:
        overrides = dict(parse_override(s) for s in case.sets)
        load_scenario(case.target, overrides)
    error = info.value
    assert error.exit_code == 2
    text = error.render()
    assert str(error) == text
    assert "error: invalid input\n" + text + "\n" == result.stderr  # the CLI prints exactly this
    for expected in case.expect:
        assert expected in text
    if case.line is not None:
        assert any(p.line == case.line for p in error.problems)
    assert not (result.root / MARKER).exists()


def test_python_tag_is_never_executed_wherever_it_is(tmp_path):
    marker = tmp_path / "marker"
    for text in (f"!!python/object/apply:os.system ['touch {marker}']\n",
                 f"name: x\n? !!python/object/apply:os.system ['touch {marker}']\n: 1\n",
                 f"name: x\nextends: !!python/object/apply:os.system ['touch {marker}']\n",
                 f"name: x\nrun: !!python/object/apply:subprocess.call [['touch', '{marker}']]\n"):
        path = tmp_path / "evil.yaml"
        path.write_text(text)
        with pytest.raises(InputError, match="refused YAML tag"):
            load_scenario(path)
    assert not marker.exists()


def test_bad_size_limit_variable_is_bad_input(tmp_path, monkeypatch, capsys):
    case = Case({"base.yaml": BASE}, "base.yaml", [], env={MAX_BYTES_ENV: "lots"})
    result = run_in_process(case, tmp_path, monkeypatch, capsys)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert MAX_BYTES_ENV in result.stderr and "positive whole number" in result.stderr


def test_good_file_still_validates(tmp_path, monkeypatch, capsys):
    case = Case({"base.yaml": BASE}, "base.yaml", [], sets=["strategies.zsp.ttl=1h"])
    result = run_in_process(case, tmp_path, monkeypatch, capsys)
    assert result.returncode in (0, None), result.stderr
    assert "ok base.yaml" in result.stdout and result.stderr == ""


def test_one_bad_file_among_good_ones(tmp_path, monkeypatch, capsys):
    case = Case({"base.yaml": BASE, "bad.yaml": "name: [\n"}, "base.yaml", [])
    _materialise(tmp_path, case)
    monkeypatch.chdir(tmp_path)
    from nhisim.cli.app import main

    with pytest.raises(SystemExit) as info:
        main(["validate", "base.yaml", "bad.yaml", "base.yaml"])
    out, err = capsys.readouterr()
    assert info.value.code == 2
    assert out.count("ok base.yaml") == 2 and "bad.yaml:" in err
