"""Commands about scenario files: ``validate``, ``schema``, ``generate``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from nhisim.cli.common import app, make_console, output_file, parse_sets, plain, report_input_error
from nhisim.errors import InputError
from nhisim.files import write_whole

console = make_console()


@app.command(epilog="Example: nhisim validate scenarios/leaked_key.yaml --set strategies.zsp.ttl=1h")
def validate(
    files: list[Path] = typer.Argument(..., help="scenario files to check"),
    set_: list[str] = typer.Option(None, "--set", help="override a value by dotted path, e.g. strategies.zsp.ttl=1h"),
) -> None:
    """Check scenario files: syntax, types, and every cross-reference."""
    from nhisim.scenario.loader import load_scenario

    failed = 0
    overrides = parse_sets(set_)
    for file in files:
        try:
            scenario = load_scenario(file, overrides=overrides)
        except InputError as exc:
            failed += 1
            report_input_error(exc)
            continue
        console.print(
            f"[green]ok[/] {plain(file)}: {len(scenario.agents)} agents, {len(scenario.tools)} tools, "
            f"{len(scenario.resources)} resources, {len(scenario.threats)} threats, "
            f"{len(scenario.strategies)} strategies"
        )
    if failed:
        raise typer.Exit(2)


@app.command(epilog="Example: nhisim schema > nhisim.schema.json")
def schema(out: Path = typer.Option(None, "--out", help="write to this file instead of stdout")) -> None:
    """Print the JSON Schema of the scenario language (for editors and CI)."""
    from nhisim.scenario.schema import scenario_json_schema

    if out:
        output_file(out, what="schema")
    text = json.dumps(scenario_json_schema(), indent=2, allow_nan=False)  # strict JSON: editors reject NaN
    if out:
        write_whole(out, text + "\n")
    else:
        typer.echo(text)


@app.command(epilog="Example: nhisim generate --agents 200 --depth 4 --out big.yaml")
def generate(
    out: Path = typer.Option(..., "--out", help="scenario file to write (.yaml)"),
    agents: int = typer.Option(50, min=1, max=100_000, help="number of agents"),
    tools: int = typer.Option(10, min=1, max=100_000, help="number of tools"),
    resources: int = typer.Option(20, min=1, max=100_000, help="number of resources"),
    fanout: int = typer.Option(2, min=0, max=100, help="delegation fan-out of an orchestrator"),
    depth: int = typer.Option(3, min=0, max=100, help="delegation chain depth"),
    shared_share: float = typer.Option(0.2, min=0.0, max=1.0, help="share of agents on shared accounts"),
    seed: int = typer.Option(0, help="random seed"),
) -> None:
    """Write a synthetic estate generated from a few numbers."""
    from nhisim.scenario.generate import estate_to_yaml, generate_estate

    output_file(out, what="scenario file")
    scenario = generate_estate(agents=agents, tools=tools, resources=resources, fanout=fanout, depth=depth,
                               shared_share=shared_share, seed=seed)
    write_whole(out, estate_to_yaml(scenario))
    table = Table(title=f"wrote {plain(out)}")
    for col in ("agents", "tools", "resources", "roles", "shared accounts", "tasks"):
        table.add_column(col, justify="right")
    table.add_row(*(str(len(x)) for x in (scenario.agents, scenario.tools, scenario.resources, scenario.roles,
                                          scenario.shared_accounts, scenario.tasks)))
    console.print(table)
