"""Policy as code: ``nhisim policy export`` and ``nhisim policy validate`` (Cedar)."""

from __future__ import annotations

from pathlib import Path

import typer

from nhisim.cli.common import app, make_console, parse_sets, plain, report_input_error
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
    file: Path = typer.Argument(..., help="scenario file"),
    strategy: str = typer.Option(..., "--strategy", "-s", help="strategy name (scenario's or a preset)"),
    out: Path = typer.Option(..., "--out", help="folder to write the Cedar files to"),
    set_: list[str] = typer.Option(None, "--set", help="override a value by dotted path"),
) -> None:
    """Write the Cedar policies, schema and entities that express STRATEGY on a scenario.

    The folder then holds <strategy>.cedar, schema.cedarschema (and its JSON form),
    entities.json and example-request.json: everything `cedar validate` and
    `cedar authorize` need. Types and actions are in the namespace Nhisim, so the schema
    loads into an AWS Verified Permissions policy store as it is.
    """
    from nhisim.cli.commands_sim import output_dir
    from nhisim.scenario.loader import load_scenario
    from nhisim.sim.cedar import policy_bundle

    scenario = load_scenario(file, overrides=parse_sets(set_))
    (name,) = _strategy_names(scenario, strategy)
    bundle = policy_bundle(scenario, name)
    output_dir(out)
    with whole_files(*(out / filename for filename in bundle)) as temps:
        for temp, text in zip(temps, bundle.values(), strict=True):
            temp.write_bytes(text.encode("utf-8"))
    console.print(f"wrote {len(bundle)} files to {plain(out)}: {', '.join(bundle)}")
    console.print(f"try: cedar authorize --policies {plain(out / f'{name}.cedar')} "
                  f"--schema {plain(out / 'schema.cedarschema')} --entities {plain(out / 'entities.json')} "
                  f"--request-json {plain(out / 'example-request.json')}")


@policy_app.command("validate", epilog="Example: nhisim policy validate scenarios/leaked_key.yaml --strategy intent")
def validate(
    file: Path = typer.Argument(..., help="scenario file"),
    strategy: str = typer.Option(None, "--strategy", "-s", help="only this strategy (default: every one)"),
    policies: list[Path] = typer.Option(None, "--policies", "-p",
                                        help="check these .cedar files against the scenario's schema instead"),
    set_: list[str] = typer.Option(None, "--set", help="override a value by dotted path"),
) -> None:
    """Check the Cedar policies that decide for a scenario's strategies (or given files)."""
    from nhisim.scenario.loader import load_scenario
    from nhisim.sim.cedar import compile_policies, policy_sources, read_policy_files, scenario_strategy
    from nhisim.sim.cedar_export import schema_json
    from nhisim.sim.compiled import compile_world

    scenario = load_scenario(file, overrides=parse_sets(set_))
    schema = schema_json(compile_world(scenario))
    if policies:
        compiled = compile_policies(read_policy_files(policies), schema)
        console.print(f"[green]ok[/] {len(compiled.info)} policies in {', '.join(map(plain, policies))} "
                      f"match the schema of {scenario.name}")
        return
    failed = 0
    for name in _strategy_names(scenario, strategy):
        strat, files = scenario_strategy(scenario, name)
        try:
            compiled = compile_policies(policy_sources(strat, files, scenario_name=scenario.name), schema)
        except InputError as exc:
            failed += 1
            report_input_error(exc)
            continue
        origin = ", ".join(map(plain, files)) if files else "generated from its knobs"
        console.print(f"[green]ok[/] {name}: {len(compiled.info)} Cedar policies ({origin})")
    if failed:
        raise typer.Exit(2)
