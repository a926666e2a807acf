"""Commands on the estate graph: ``graph`` (draw or export) and ``analyze`` (static analysis)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from nhisim.cli.common import app, make_console, output_file, parse_sets, plain
from nhisim.errors import InputError, did_you_mean
from nhisim.strategies import preset_names

console = make_console()
FORMATS = ("png", "svg", "graphml", "opengraph")


@app.command(epilog="Example: nhisim graph scenarios/leaked_key.yaml --out estate.svg")
def graph(
    file: Path = typer.Argument(..., help="scenario file"),
    format: str = typer.Option(None, "--format", "-f", help="png | svg | graphml | opengraph (default: from --out)"),
    out: Path = typer.Option(..., "--out", help="file to write"),
    set_: list[str] = typer.Option(None, "--set", help="override a value by dotted path"),
) -> None:
    """Draw the estate graph (PNG/SVG) or export it (GraphML, BloodHound OpenGraph JSON)."""
    from nhisim.scenario.loader import load_scenario
    from nhisim.world.export import draw, to_graphml, write_opengraph
    from nhisim.world.graph import build_graph

    fmt = (format or out.suffix.lstrip(".").replace("json", "opengraph")).lower()
    if fmt not in FORMATS:
        raise InputError.single(f"unknown format {fmt!r}", location="--format",
                                suggestion=did_you_mean(fmt, FORMATS, "formats"))
    scenario = load_scenario(file, overrides=parse_sets(set_))
    g = build_graph(scenario)
    output_file(out, what="graph")
    if fmt == "graphml":
        to_graphml(g, out)
    elif fmt == "opengraph":
        write_opengraph(g, out)
    else:
        draw(g, out, format=fmt, title=scenario.title or scenario.name, hide=("credential",))
    console.print(f"wrote {plain(out)} ({fmt}: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges)")


@app.command(epilog="Example: nhisim analyze scenarios/leaked_key.yaml --principal support-bot --strategy zsp")
def analyze(
    file: Path = typer.Argument(..., help="scenario file"),
    principal: str = typer.Option(None, "--principal", "-p", help="agent, shared account or credential id"),
    resource: str = typer.Option(None, "--resource", "-r", help="resource id: who can reach it"),
    max_paths: int = typer.Option(3, "--max-paths", min=0, help="paths shown per operation"),
    top: int = typer.Option(20, "--top", min=1, help="rows of the estate-wide table"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    set_: list[str] = typer.Option(None, "--set", help="override a value by dotted path"),
    strategy: str = typer.Option(None, "--strategy", "-s",
                                 help="analyse the estate as this strategy runs it (a scenario strategy or a "
                                      "preset; default: standing static keys, shared accounts held)"),
) -> None:
    """Static blast radius of a principal, exposure of a resource, or every agent's blast radius."""
    from nhisim.scenario.loader import load_scenario
    from nhisim.world.analysis import all_blast_radii, blast_radius, exposure

    if principal and resource:
        raise InputError.single("give --principal or --resource, not both", location="analyze")
    scenario = load_scenario(file, overrides=parse_sets(set_))
    if strategy is not None and strategy not in scenario.strategies and strategy not in preset_names():
        raise InputError.single(f"unknown strategy {strategy!r}", location="--strategy",
                                suggestion=did_you_mean(strategy, [*scenario.strategies, *preset_names()],
                                                        "strategies"))
    if principal or resource:
        if principal:
            result = blast_radius(scenario, principal, max_paths=max(max_paths, 1), strategy=strategy)
        else:
            result = exposure(scenario, resource, max_paths=max(max_paths, 1), strategy=strategy)
        if as_json:
            typer.echo(result.to_frame(paths=True).to_json(orient="records"))
        else:
            console.print(result.explain(max_paths=max_paths), markup=False)
        return
    frame = all_blast_radii(scenario, strategy=strategy)
    if as_json:
        typer.echo(json.dumps(frame.to_dict("records")))
        return
    under = f" under {strategy}" if strategy else ""
    table = Table(title=f"{scenario.name}: static blast radius of every agent{under} (top {min(top, len(frame))})")
    for column in frame.columns:
        table.add_column(column.replace("_", " "), justify="left" if column == "agent" else "right")
    for row in frame.head(top).itertuples(index=False):
        table.add_row(*(f"{v:,.0f}" if isinstance(v, float) else str(v) for v in row))
    console.print(table)
