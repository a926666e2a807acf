"""Policy as code: ``nhisim policy export`` and ``nhisim policy validate`` (Cedar)."""

from __future__ import annotations

from pathlib import Path

import typer

from nhisim.cli.common import (
    JSON_OPTION,
    STDIN_NAME,
    app,
    is_stdio,
    load_scenario_arg,
    make_console,
    output_target,
    parse_sets,
    plain,
    read_stdin,
    report_input_error,
    stdin_once,
)
from nhisim.cli.envelope import emit, error_of
from nhisim.errors import InputError
from nhisim.files import whole_files

console = make_console()

policy_app = typer.Typer(help="Policy as code: the enforcement point of a strategy as Cedar policies.",
                         no_args_is_help=True, epilog="Example: nhisim policy export scenarios/leaked_key.yaml --strategy intent --out cedar")
app.add_typer(policy_app, name="policy")


def _strategy_names(scenario, strategy: str | None) -> list[str]:
    from nhisim.errors import did_you_mean
    from nhisim.strategies import presets

    if strategy is None:
        return list(scenario.strategies)
    known = list(scenario.strategies) + [p for p in presets() if p not in scenario.strategies]
    if strategy not in known:
        raise InputError.single(f"unknown strategy {strategy!r}", location="--strategy",
                                suggestion=did_you_mean(strategy, known, "strategies"))
    return [strategy]


@policy_app.command("export", epilog="Example: nhisim policy export scenarios/leaked_key.yaml --strategy intent --out cedar")
def export(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="scenario file (`-`: standard input)"),
    strategy: str = typer.Option(..., "--strategy", "-s", help="strategy name (scenario's or a preset)"),
    out: Path = typer.Option(..., "--out", help="folder to write the Cedar files to (`-`: every file on stdout, "
                                                "each after a '==> name <==' line)"),
    set_: list[str] = typer.Option(None, "--set", help="override a value by dotted path"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write the Cedar policies, schema and entities that express STRATEGY on a scenario.

    The folder then holds <strategy>.cedar, schema.cedarschema (and its JSON form),
    entities.json and example-request.json: everything `cedar validate` and
    `cedar authorize` need. Types and actions are in the namespace Nhisim, so the schema
    loads into an AWS Verified Permissions policy store as it is. `--out -` prints the
    files one after the other, each after a line `==> name <==` (as `head` prints
    several files), for reading or review; the Cedar tools read the folder.
    """
    from nhisim.cli.commands_sim import output_dir
    from nhisim.sim.cedar import policy_bundle

    scenario = load_scenario_arg(file, parse_sets(set_))
    (name,) = _strategy_names(scenario, strategy)
    if is_stdio(out):
        with output_target(out, what="policy files", suffix=".txt", as_json=as_json) as target:
            bundle = policy_bundle(scenario, name)
            target.write_text("\n".join(f"==> {filename} <==\n{text.rstrip()}\n" for filename, text in bundle.items()),
                              encoding="utf-8")
        return
    bundle = policy_bundle(scenario, name)
    output_dir(out)
    with whole_files(*(out / filename for filename in bundle)) as temps:
        for temp, text in zip(temps, bundle.values(), strict=True):
            temp.write_bytes(text.encode("utf-8"))
    if as_json:
        emit(ctx, {"strategy": name, "files": list(bundle)}, outputs=[out / f for f in bundle])
        return
    console.print(f"wrote {len(bundle)} files to {plain(out)}: {', '.join(bundle)}")
    console.print(f"try: cedar authorize --policies {plain(out / f'{name}.cedar')} --schema "
                  f"{plain(out / 'schema.cedarschema')} --entities {plain(out / 'entities.json')} --request-json "
                  f"{plain(out / 'example-request.json')}")


def _policy_files(paths: list[Path]):
    """``--policies`` files, ``-`` read from standard input."""
    from nhisim.sim.cedar import PolicySource, read_policy_files

    stdin_once(paths, "policy files")
    return [PolicySource(STDIN_NAME, read_stdin("Cedar policies")) if is_stdio(p) else read_policy_files([p])[0]
            for p in paths]


@policy_app.command("validate", epilog="Example: nhisim policy validate scenarios/leaked_key.yaml --strategy intent")
def validate(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="scenario file (`-`: standard input)"),
    strategy: str = typer.Option(None, "--strategy", "-s", help="only this strategy (default: every one)"),
    policies: list[Path] = typer.Option(None, "--policies", "-p",
                                        help="check these .cedar files against the scenario's schema instead "
                                             "(`-`: standard input)"),
    set_: list[str] = typer.Option(None, "--set", help="override a value by dotted path"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Check the Cedar policies that decide for a scenario's strategies (or given files)."""
    from nhisim.sim.cedar import compile_policies, policy_sources, scenario_strategy
    from nhisim.sim.cedar_export import schema_json
    from nhisim.sim.compiled import compile_world

    if policies and is_stdio(file):
        raise InputError.single("the scenario and --policies cannot both come from standard input",
                                location="--policies", suggestion="name one of them by file")
    scenario = load_scenario_arg(file, parse_sets(set_))
    schema = schema_json(compile_world(scenario))
    if policies:
        compiled = compile_policies(_policy_files(policies), schema)
        if as_json:
            emit(ctx, [{"policies": [str(p) for p in policies], "ok": True, "count": len(compiled.info)}])
            return
        console.print(f"[green]ok[/] {len(compiled.info)} policies in {', '.join(plain(p) for p in policies)} "
                      f"match the schema of {plain(scenario.name)}")
        return
    checked, first_error = [], None
    for name in _strategy_names(scenario, strategy):
        strat, files = scenario_strategy(scenario, name)
        try:
            compiled = compile_policies(policy_sources(strat, files, scenario_name=scenario.name), schema)
        except InputError as exc:
            first_error = first_error or exc
            report_input_error(exc)
            checked.append({"strategy": name, "ok": False, "error": error_of(exc)})
            continue
        checked.append({"strategy": name, "ok": True, "count": len(compiled.info), "files": list(files)})
        if not as_json:
            origin = ", ".join(map(plain, files)) if files else "generated from its knobs"
            console.print(f"[green]ok[/] {name}: {len(compiled.info)} Cedar policies ({origin})")
    if as_json:
        emit(ctx, checked, error=error_of(first_error) if first_error else None)
    if first_error:
        raise typer.Exit(2)
