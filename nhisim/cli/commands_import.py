"""Bringing a real estate in: ``import mcp``, ``import otel`` and ``replay-trace``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from nhisim.cli.common import app, output_file, parse_sets, plain
from nhisim.errors import InputError

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

import_app = typer.Typer(help="Bring your own estate: MCP client configurations and GenAI traces as scenarios.",
                         no_args_is_help=True,
                         epilog="Example: nhisim import mcp claude_desktop_config.json --out estate.yaml")
app.add_typer(import_app, name="import")


def _target(out: Path | None, overwrite: bool) -> None:
    """Refuse, before any work, to write over a file (it may hold what the user filled in)."""
    if out is None:
        return
    if out.exists() and not out.is_dir() and not overwrite:
        raise InputError.single("already exists; it may hold what you filled in", file=str(out), location="--out",
                                suggestion="give a new file name, or --overwrite to replace it")
    output_file(out, what="scenario file")


def _table(title: str, rows: list[dict], limit: int = 40) -> Table:
    table = Table(title=title, title_justify="left")
    columns = list(rows[0]) if rows else []
    for column in columns:
        table.add_column(column.replace("_", " "))
    for row in rows[:limit]:
        table.add_row(*(plain(row[c]) for c in columns))
    if len(rows) > limit:
        table.caption = f"... and {len(rows) - limit} more (--json lists them all)"
    return table


def _show_report(imported, out: Path | None, as_json: bool) -> None:
    """The YAML (to --out, else stdout) and the report (stdout after --out, else stderr; or JSON)."""
    report = imported.report
    if out is not None:
        imported.write(out, overwrite=True)  # _target refused an existing file already
    if as_json:
        payload = {"out": str(out) if out else None, "report": report.to_dict()}
        if out is None:
            payload["yaml"] = imported.text
        typer.echo(json.dumps(payload, indent=2))
        return
    if out is None:
        typer.echo(imported.text, nl=False)
    show = console if out is not None else err
    for line in report.imported:
        show.print(f"[bold]imported[/] {plain(line)}")
    for name, rows in report.tables.items():
        if rows:
            show.print(_table(name.replace("_", " ").capitalize(), rows))
    if report.guessed:
        show.print(_table("Guessed (check these)", [n.to_dict() for n in report.guessed]))
    if report.todo:
        show.print(_table("Fill in (marked TODO in the YAML)", [n.to_dict() for n in report.todo]))
    for warning in report.warnings:
        show.print(f"[yellow]note:[/] {plain(warning)}")
    if out is not None:
        show.print(f"wrote {plain(out)}: {len(imported.scenario.agents)} agents, {len(imported.scenario.tools)} "
                   f"tools, {len(imported.scenario.tasks)} task templates; next: nhisim compare {plain(out)}")


@import_app.command("mcp", epilog="Example: nhisim import mcp claude_desktop_config.json --out estate.yaml")
def import_mcp_command(
    configs: list[Path] = typer.Argument(..., help="MCP client configurations (claude_desktop_config.json, "
                                                   ".vscode/mcp.json, ~/.cursor/mcp.json, ...)"),
    out: Path = typer.Option(None, "--out", help="scenario file to write (default: print the YAML)"),
    rate: str = typer.Option("4/h", "--rate", help="assumed arrival rate of each server's task"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing --out file"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
) -> None:
    """An MCP client configuration as a scenario: servers, their secrets (never their values), what to fill in."""
    from nhisim.importers.mcp import import_mcp
    from nhisim.scenario.units import parse_rate

    try:
        parse_rate(rate)
    except ValueError as exc:
        raise InputError.single(str(exc), location="--rate", suggestion="e.g. --rate 4/h") from None
    _target(out, overwrite)
    _show_report(import_mcp(configs, rate=rate), out, as_json)


@import_app.command("otel", epilog="Example: nhisim import otel traces.jsonl --out estate.yaml")
def import_otel_command(
    traces: Path = typer.Argument(..., help="OpenTelemetry spans: OTLP/JSON (one request per line) or one span "
                                            "per line"),
    out: Path = typer.Option(None, "--out", help="scenario file to write (default: print the YAML)"),
    calibrate: Path = typer.Option(None, "--calibrate", help="fit rates, service times and delegations into "
                                                              "this scenario instead of building a new one"),
    window: str = typer.Option(None, "--window", help="the period the traces cover (e.g. 24h): rates are runs "
                                                      "over it (default: from the first to the last run)"),
    fit: str = typer.Option("auto", "--fit", help="service times: auto (lognormal from 20 samples, else the "
                                                  "samples), lognormal or empirical"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing --out file"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
) -> None:
    """GenAI traces as a scenario (agents, tools, templates, fitted rates and times), or fitted into one."""
    from nhisim.importers.otel_estate import calibrate as calibrate_scenario
    from nhisim.importers.otel_estate import import_otel
    from nhisim.scenario.units import parse_duration

    seconds = None
    if window is not None:
        try:
            seconds = parse_duration(window)
        except ValueError as exc:
            raise InputError.single(str(exc), location="--window", suggestion="e.g. --window 24h") from None
        if not 0 < seconds < math.inf:
            raise InputError.single(f"{window!r} is not a period the traces can cover", location="--window",
                                    suggestion="give a duration above zero, e.g. --window 24h")
    _target(out, overwrite)
    if calibrate is not None:
        imported = calibrate_scenario(traces, calibrate, window=seconds, fit=fit)
    else:
        imported = import_otel(traces, window=seconds, fit=fit)
    _show_report(imported, out, as_json)


def _split(values: str | None) -> list[str] | None:
    return [v.strip() for v in values.split(",") if v.strip()] if values else None


@app.command("replay-trace",
             epilog="Example: nhisim replay-trace traces.jsonl --scenario estate.yaml --strategy rbac,intent")
def replay_trace_command(
    traces: Path = typer.Argument(..., help="OpenTelemetry GenAI spans (as for nhisim import otel)"),
    scenario: Path = typer.Option(..., "--scenario", help="the scenario the traced agents and tools belong to"),
    strategy: str = typer.Option(None, "--strategy", "-s", help="strategy, or several comma-separated "
                                                                "(default: every strategy of the scenario)"),
    out: Path = typer.Option(None, "--out", help="write every call's decision to this .csv or .parquet file "
                                                 "(and each credential's exposure beside it, -credentials)"),
    top: int = typer.Option(15, "--top", min=1, help="rows of blocked calls shown per strategy"),
    engine: str = typer.Option(None, "--engine", help="decision engine: native or cedar (default: each "
                                                      "strategy's engine, else native)"),
    set_: list[str] = typer.Option(None, "--set", help="override a scenario value by dotted path"),
    as_json: bool = typer.Option(False, "--json", help="print the summary, calls and credentials as JSON"),
) -> None:
    """Each traced tool call decided by a strategy: what it would deny or escalate, and how long credentials live."""
    from nhisim.experiments.replay_trace import replay_trace
    from nhisim.scenario.loader import load_scenario
    from nhisim.scenario.units import format_duration

    if out is not None:
        if out.suffix not in (".csv", ".parquet"):
            raise InputError.single(f"unknown table format {out.suffix or '(none)'!r}", file=str(out),
                                    location="--out", suggestion="end the file name in .csv or .parquet")
        output_file(out, what="table")
    loaded = load_scenario(scenario, overrides=parse_sets(set_))
    result = replay_trace(traces, loaded, _split(strategy), engine=engine)
    summary = result.summary()
    if out is not None:
        beside = out.with_name(f"{out.stem}-credentials{out.suffix}")
        for frame, path in ((result.calls, out), (result.credentials, beside)):
            frame.to_csv(path, index=False) if out.suffix == ".csv" else frame.to_parquet(path, index=False)
    if as_json:
        typer.echo(json.dumps({"scenario": result.scenario, "traces": result.traces, "window_s": result.window_s,
                               "summary": summary.to_dict("records"),
                               "calls": result.calls.to_dict("records"),
                               "credentials": result.credentials.to_dict("records")}, default=str))
        return
    table = Table(title=f"{plain(result.scenario)}: {len(result.calls) // max(len(result.strategies), 1)} traced "
                        f"calls in {result.runs} runs over {format_duration(result.window_s)}, decided by each "
                        "strategy", title_justify="left")
    for column in ("strategy", "allow", "escalate", "deny", "unmapped", "credentials", "standing", "exposure",
                   "longest"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for row in summary.itertuples():
        table.add_row(plain(row.strategy), str(row.allow), str(row.escalate), str(row.deny), str(row.unmapped),
                      str(row.credentials), str(row.standing), format_duration(row.exposure_s),
                      format_duration(row.longest_exposure_s))
    console.print(table)
    for name in result.strategies:
        blocked = result.blocked(name)
        if not blocked.empty:
            console.print(_table(f"{name}: denied or escalated calls", blocked.to_dict("records"), limit=top))
    unmapped = result.calls[result.calls["decision"] == "unmapped"]
    if not unmapped.empty:
        reasons = unmapped.drop_duplicates("tool").head(5)
        for row in reasons.itertuples():
            err.print(f"note: {row.tool!r} unmapped: {row.reason}", markup=False)
    if result.unmatched_runs:
        err.print(f"note: {result.unmatched_runs} traced run(s) match no task template of their agent: they "
                  "carry no intent", markup=False)
    if out is not None:
        console.print(f"wrote {plain(out)} and {plain(out.with_name(f'{out.stem}-credentials{out.suffix}'))}")
