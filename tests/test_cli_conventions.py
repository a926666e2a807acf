"""What users expect of any command line: ``--version``, an example in every command's
``--help`` (one that parses, naming files that exist), shell completion, ``-q``."""

from __future__ import annotations

import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import typer

from nhisim._version import __version__
from nhisim.cli.app import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def _root():
    from nhisim.cli.app import app

    # the command modules register themselves (in --help order) when main() runs: run it once
    try:
        main(["--version"])
    except SystemExit:
        pass
    return typer.main.get_command(app)


def _commands(group, path: tuple[str, ...] = ()):
    """(path, command) of every command and group under the root, depth first."""
    # duck-typed: Typer ships its own copy of click, so click.Group is not its group class
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))


COMMAND_PATHS = sorted(" ".join(p) for p, _ in _commands(_root()))


def test_version_prints_the_package_version(capsys):
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0
    assert out.strip() == f"nhisim {__version__}"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == __version__  # the version the wheel is built with
    assert run_cli(["-V"], capsys)[1] == out


def test_version_works_in_a_fresh_process():
    done = subprocess.run([sys.executable, "-m", "nhisim", "--version"], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"nhisim {__version__}"


def test_every_command_is_listed():
    assert {"demo", "compare", "schema", "check", "catalog", "policy export", "policy validate"} <= set(COMMAND_PATHS)


@pytest.mark.parametrize("command", COMMAND_PATHS)
def test_every_command_help_shows_an_example_that_parses(command, capsys):
    path = command.split()
    code, out, err = run_cli([*path, "--help"], capsys)
    assert code == 0, err
    flat = " ".join(out.split())  # the help is wrapped to the terminal
    assert f"Example: nhisim {command}" in flat, f"nhisim {command} --help has no example"
    # the example itself, as the epilog holds it, must be accepted by the command's parser
    found = dict(_commands(_root()))[tuple(path)]
    example = found.epilog.removeprefix("Example: ")
    words = shlex.split(example.split(" > ")[0])  # a shell redirection is not an argument
    assert words[: 1 + len(path)] == ["nhisim", *path]
    args = words[1 + len(path):]
    if not hasattr(found, "commands"):
        found.make_context(f"nhisim {command}", list(args))  # raises on an unknown option or a bad value
    for word in args:
        if word.startswith("scenarios/"):
            assert (ROOT / word).is_file(), f"the example of nhisim {command} names a missing file {word}"


def test_shell_completion_is_available(capsys, monkeypatch):
    code, out, _ = run_cli(["--help"], capsys)
    assert code == 0
    assert "--install-completion" in out and "--show-completion" in out
    # the shell is detected from the processes above this one (none may be a shell here): say it is bash
    monkeypatch.setattr("typer.completion._get_shell_name", lambda: "bash")
    code, script, err = run_cli(["--show-completion"], capsys)
    assert code == 0, err
    assert "_NHISIM_COMPLETE" in script  # completion for the installed command's name


def test_compare_quiet_hides_the_progress_bar_only(tmp_path, capsys, monkeypatch):
    from nhisim.cli import commands_sim

    seen: list[bool] = []
    real = commands_sim.run_comparisons

    def spy(*args, **kwargs):
        seen.append(kwargs["quiet"])
        return real(*args, **kwargs)

    monkeypatch.setattr(commands_sim, "run_comparisons", spy)
    file = str(ROOT / "scenarios" / "leaked_key.yaml")
    code, out, err = run_cli(["compare", file, "--strategies", "rbac,zsp", "-r", "2", "-q", "--executor", "serial"],
                             capsys)
    assert code == 0, err
    assert seen == [True]
    assert "paired replications" in out  # the result is still printed
    code, out, err = run_cli(["compare", file, "--strategies", "rbac,zsp", "-r", "2", "--executor", "serial"], capsys)
    assert code == 0, err
    assert seen == [True, False]
