"""Commands on the estate graph: ``graph`` (draw or export) and ``analyze`` (static analysis)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from nhisim.cli.common import (
    JSON_OPTION,
    app,
    is_stdio,
    load_scenario_arg,
    make_console,
    messages_console,
    output_file,
    output_target,
    parse_sets,
    plain,
)
from nhisim.cli.envelope import emit
from nhisim.errors import InputError, did_you_mean
from nhisim.strategies import preset_names

console = make_console()
FORMATS = ("png", "svg", "graphml", "opengraph")
DRAWN_WITHOUT = ("credential",)  # a picture leaves the credentials out: they would crowd every column


def _check_strategy(scenario, strategy: str | None) -> None:
    if strategy is not None and strategy not in scenario.strategies and strategy not in preset_names():
        raise InputError.single(f"unknown strategy {strategy!r}", location="--strategy",
                                suggestion=did_you_mean(strategy, [*scenario.strategies, *preset_names()],
                                                        "strategies"))


@app.command(epilog="Example: nhisim graph scenarios/leaked_key.yaml --format opengraph --strategy zsp "
                     "--out estate.json --extension nhisim-extension.json --overlay attack.json")
def graph(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="scenario file (`-`: standard input)"),
    format: str = typer.Option(None, "--format", "-f", help="png | svg | graphml | opengraph (default: from --out)"),
    out: Path = typer.Option(..., "--out", help="file to write (`-`: stdout)"),
    strategy: str = typer.Option(None, "--strategy", "-s",
                                 help="draw the estate as this strategy runs it (default: standing static keys, "
                                      "shared accounts held)"),
    extension: Path = typer.Option(None, "--extension", help="opengraph: also write the extension definition "
                                                             "(node and edge kinds, traversability) to this file"),
    overlay: Path = typer.Option(None, "--overlay", help="opengraph: also run the scenario under --strategy "
                                                         "(default rbac) and write its attack overlay here"),
    seed: int = typer.Option(None, "--seed", help="seed of the --overlay run (default: the scenario's run.seed)"),
    set_: list[str] = typer.Option(None, "--set", help="override a value by dotted path"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Draw the estate graph (PNG/SVG) or export it (GraphML, BloodHound OpenGraph JSON with its
    extension definition and a run's attack overlay)."""
    from nhisim.world.analysis import strategy_of
    from nhisim.world.export import draw, to_graphml
    from nhisim.world.graph import build_graph
    from nhisim.world.opengraph import attack_overlay, opengraph_extension, to_opengraph, write_payload

    fmt = (format or ("" if is_stdio(out) else out.suffix.lstrip(".").replace("json", "opengraph"))).lower()
    if fmt not in FORMATS:
        raise InputError.single(f"unknown format {fmt!r}" if fmt else "give --format: `--out -` has no suffix to "
                                "tell it", location="--format", suggestion=did_you_mean(fmt, FORMATS, "formats"))
    extras = {"--extension": extension, "--overlay": overlay}
    for option, path in extras.items():
        if path is not None and fmt != "opengraph":
            raise InputError.single(f"{option} goes with --format opengraph (BloodHound), not {fmt}", location=option,
                                    suggestion="add --format opengraph and an --out ending in .json")
    if seed is not None and overlay is None:
        raise InputError.single("--seed is the seed of the --overlay run", location="--seed",
                                suggestion="add --overlay attack.json, or leave --seed out")
    if sum(is_stdio(p) for p in (out, extension, overlay)) > 1:
        raise InputError.single("only one output can go to standard output (`-`)", location="--out",
                                suggestion="give the others file names")
    scenario = load_scenario_arg(file, parse_sets(set_))
    _check_strategy(scenario, strategy)
    for option, path, what in (("--overlay", overlay, "attack overlay"), ("--extension", extension,
                                                                          "extension definition")):
        if path is not None and not is_stdio(path):
            output_file(path, option, what)  # before the --overlay run, as --out is
    g = build_graph(scenario, strategy=strategy_of(scenario, strategy))
    written: dict[str, dict] = {}
    with output_target(out, what="graph", suffix=f".{'json' if fmt == 'opengraph' else fmt}", binary=fmt == "png",
                       as_json=as_json) as target:
        if fmt == "opengraph":
            payload = to_opengraph(g)
            write_payload(payload, target)
            payloads = [payload]
            counts = {"nodes": len(payload["graph"]["nodes"]), "edges": len(payload["graph"]["edges"])}
        elif fmt == "graphml":
            to_graphml(g, target)
            counts = {"nodes": g.number_of_nodes(), "edges": g.number_of_edges()}
        else:
            draw(g, target, format=fmt, title=scenario.title or scenario.name, hide=DRAWN_WITHOUT)
            shown = g.subgraph(n for n, t in g.nodes(data="type") if t not in DRAWN_WITHOUT)
            counts = {"nodes": shown.number_of_nodes(), "edges": shown.number_of_edges()}
    written[str(out)] = {"what": fmt, **counts}
    if overlay is not None:
        from nhisim.experiments import run as run_once

        run_strategy = strategy or "rbac"
        with output_target(overlay, "--overlay", "attack overlay", suffix=".json", as_json=as_json) as target:
            result = run_once(scenario, strategy=run_strategy, seed=seed)
            layer = attack_overlay(g, result)
            write_payload(layer, target)
        payloads.append(layer)
        written[str(overlay)] = {"what": "attack overlay", "strategy": run_strategy, "seed": result.seed,
                                 "nodes": len(layer["graph"]["nodes"]), "edges": len(layer["graph"]["edges"])}
    if extension is not None:
        with output_target(extension, "--extension", "extension definition", suffix=".json",
                           as_json=as_json) as target:
            definition = opengraph_extension(payloads)
            write_payload(definition, target)
        written[str(extension)] = {"what": "extension definition", "version": definition["schema"]["version"],
                                   "node_kinds": len(definition["node_kinds"]),
                                   "edge_kinds": len(definition["relationship_kinds"])}
    if as_json:
        emit(ctx, {"format": fmt, "strategy": strategy, "files": [{"file": k, **v} for k, v in written.items()]},
             outputs=list(written))
        return
    say = messages_console(any(is_stdio(p) for p in (out, extension, overlay)))
    for path, info in written.items():
        shown = "standard output" if is_stdio(path) else path
        say.print(f"wrote {plain(shown)} ({_describe(info)})")


def _describe(info: dict) -> str:
    if info["what"] == "extension definition":
        return f"OpenGraph extension {info['version']}: {info['node_kinds']} node kinds, {info['edge_kinds']} edge kinds"
    count = f"{info['nodes']} nodes, {info['edges']} edges"
    if info["what"] == "attack overlay":
        return f"attack overlay of a {info['strategy']} run, seed {info['seed']}: {count}"
    if info["what"] == "opengraph":
        return f"opengraph: {count}, parallel edges merged"
    if info["what"] in ("png", "svg"):
        return f"{info['what']}: {count} drawn; credentials left out"
    return f"{info['what']}: {count}"


@app.command(epilog="Example: nhisim analyze scenarios/leaked_key.yaml --principal support-bot --strategy zsp")
def analyze(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="scenario file (`-`: standard input)"),
    principal: str = typer.Option(None, "--principal", "-p", help="agent, shared account or credential id"),
    resource: str = typer.Option(None, "--resource", "-r", help="resource id: who can reach it"),
    max_paths: int = typer.Option(3, "--max-paths", min=0, help="paths shown per operation"),
    top: int = typer.Option(20, "--top", min=1, help="rows of the estate-wide table"),
    as_json: bool = JSON_OPTION,
    set_: list[str] = typer.Option(None, "--set", help="override a value by dotted path"),
    strategy: str = typer.Option(None, "--strategy", "-s",
                                 help="analyse the estate as this strategy runs it (a scenario strategy or a "
                                      "preset; default: standing static keys, shared accounts held)"),
) -> None:
    """Static blast radius of a principal, exposure of a resource, or every agent's blast radius."""
    from nhisim.world.analysis import all_blast_radii, blast_radius, exposure

    if principal and resource:
        raise InputError.single("give --principal or --resource, not both", location="analyze")
    scenario = load_scenario_arg(file, parse_sets(set_))
    _check_strategy(scenario, strategy)
    if principal or resource:
        if principal:
            result = blast_radius(scenario, principal, max_paths=max(max_paths, 1), strategy=strategy)
        else:
            result = exposure(scenario, resource, max_paths=max(max_paths, 1), strategy=strategy)
        if as_json:
            emit(ctx, {"analysis": "blast_radius" if principal else "exposure", "of": principal or resource,
                       "strategy": strategy, "rows": result.to_frame(paths=True)})
        else:
            console.print(result.explain(max_paths=max_paths), markup=False)
        return
    frame = all_blast_radii(scenario, strategy=strategy)
    if as_json:
        emit(ctx, {"analysis": "every_agent", "of": None, "strategy": strategy, "rows": frame})
        return
    under = f" under {strategy}" if strategy else ""
    table = Table(title=f"{scenario.name}: static blast radius of every agent{under} (top {min(top, len(frame))})")
    for column in frame.columns:
        table.add_column(column.replace("_", " "), justify="left" if column == "agent" else "right")
    for row in frame.head(top).itertuples(index=False):
        table.add_row(*(f"{v:,.0f}" if isinstance(v, float) else str(v) for v in row))
    console.print(table)
