"""Commands about scenario files: ``validate``, ``schema``, ``generate``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from nhisim.cli.common import (
    JSON_OPTION,
    STDIN_NAME,
    app,
    err_console,
    is_stdio,
    make_console,
    messages_console,
    output_target,
    parse_sets,
    plain,
    read_stdin,
    report_input_error,
    stdin_once,
)
from nhisim.cli.envelope import emit, error_of
from nhisim.errors import InputError
from nhisim.files import write_whole

console = make_console()


def _counts(scenario) -> dict[str, int]:
    return {"agents": len(scenario.agents), "tools": len(scenario.tools), "resources": len(scenario.resources),
            "threats": len(scenario.threats), "strategies": len(scenario.strategies)}


@app.command(epilog="Example: nhisim validate scenarios/leaked_key.yaml --set strategies.zsp.ttl=1h")
def validate(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="scenario files to check (`-`: read one from standard input)"),
    set_: list[str] = typer.Option(None, "--set", help="override a value by dotted path, e.g. strategies.zsp.ttl=1h"),
    strict: bool = typer.Option(False, "--strict", help="exit 1 when there are warnings"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Check scenario files: syntax, types, every cross-reference; warn about knobs with no effect and
    calls a strategy denies in every run."""
    from nhisim.scenario.loader import load_with_warnings

    stdin_once(files)
    overrides = parse_sets(set_)
    checked, first_error, warned = [], None, 0
    for file in files:
        name = STDIN_NAME if is_stdio(file) else str(file)
        try:
            text = read_stdin() if is_stdio(file) else None
            scenario, warnings = load_with_warnings(name if text is not None else file, overrides=overrides,
                                                    text=text)
        except InputError as exc:
            first_error = first_error or exc
            report_input_error(exc)
            checked.append({"file": name, "ok": False, "error": error_of(exc)})
            continue
        counts = _counts(scenario)
        notes = [problem.render(name) for problem in warnings]
        checked.append({"file": name, "ok": True, "scenario": scenario.name, **counts, "warnings": notes})
        warned += bool(warnings)
        if not as_json:
            console.print(f"[green]ok[/] {STDIN_NAME if is_stdio(file) else plain(file)}: " + ", ".join(f"{n} {what}" for what, n in counts.items())
                          + (f", [yellow]{len(warnings)} warning(s)[/]" if warnings else ""))
            for note in notes:
                err_console.print("[yellow]warning:[/] " + plain(note))
    if as_json:
        emit(ctx, checked, error=error_of(first_error) if first_error else None)
    if first_error:
        raise typer.Exit(2)
    if strict and warned:
        raise typer.Exit(1)


@app.command(epilog="Example: nhisim schema > nhisim.schema.json")
def schema(
    ctx: typer.Context,
    out: Path = typer.Option(None, "--out", help="write to this file instead of stdout (`-`: stdout)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Print the JSON Schema of the scenario language (for editors and CI)."""
    from nhisim.scenario.schema import scenario_json_schema

    document = scenario_json_schema()
    text = json.dumps(document, indent=2, allow_nan=False)  # strict JSON: editors reject NaN
    if not as_json and (out is None or is_stdio(out)):
        typer.echo(text)
        return
    if out is not None:
        with output_target(out, what="schema", suffix=".json", as_json=as_json) as target:
            write_whole(target, text + "\n")
    if as_json:  # the schema itself is the result (a file given holds the same)
        emit(ctx, document, outputs=[out] if out is not None else [])


@app.command(epilog="Example: nhisim generate --agents 200 --depth 4 --out big.yaml")
def generate(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="scenario file to write (.yaml; `-`: stdout)"),
    agents: int = typer.Option(50, min=1, max=100_000, help="number of agents"),
    tools: int = typer.Option(10, min=1, max=100_000, help="number of tools"),
    resources: int = typer.Option(20, min=1, max=100_000, help="number of resources"),
    fanout: int = typer.Option(2, min=0, max=100, help="delegation fan-out of an orchestrator"),
    depth: int = typer.Option(3, min=0, max=100, help="delegation chain depth"),
    shared_share: float = typer.Option(0.2, min=0.0, max=1.0, help="share of agents on shared accounts"),
    seed: int = typer.Option(0, help="random seed"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write a synthetic estate generated from a few numbers."""
    from nhisim.scenario.generate import estate_to_yaml, generate_estate

    with output_target(out, what="scenario file", suffix=".yaml", as_json=as_json) as target:
        scenario = generate_estate(agents=agents, tools=tools, resources=resources, fanout=fanout, depth=depth,
                                   shared_share=shared_share, seed=seed)
        write_whole(target, estate_to_yaml(scenario))
    counts = {"agents": scenario.agents, "tools": scenario.tools, "resources": scenario.resources,
              "roles": scenario.roles, "shared accounts": scenario.shared_accounts, "tasks": scenario.tasks}
    if as_json:
        emit(ctx, {"scenario": scenario.name, **{k.replace(" ", "_"): len(v) for k, v in counts.items()}},
             outputs=[out])
        return
    table = Table(title=f"wrote {plain('standard output' if is_stdio(out) else out)}")
    for col in counts:
        table.add_column(col, justify="right")
    table.add_row(*(str(len(x)) for x in counts.values()))
    messages_console(is_stdio(out)).print(table)
