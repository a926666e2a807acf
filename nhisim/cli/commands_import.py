"""Bringing a real estate in: ``import mcp``, ``import otel`` and ``replay-trace``."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import typer
from rich.table import Table

from nhisim.cli.common import (
    JSON_OPTION,
    STDIN_NAME,
    app,
    err_console,
    is_stdio,
    load_scenario_arg,
    messages_console,
    output_file,
    output_target,
    parse_sets,
    plain,
    stdin_bytes,
    stdin_once,
)
from nhisim.cli.envelope import emit
from nhisim.errors import InputError
from nhisim.files import whole_file, write_whole

import_app = typer.Typer(help="Bring your own estate: MCP client configurations and GenAI traces as scenarios.",
                         no_args_is_help=True,
                         epilog="Example: nhisim import mcp claude_desktop_config.json --out estate.yaml")
app.add_typer(import_app, name="import")

MCP_EXAMPLE = "cat claude_desktop_config.json | nhisim import mcp -"
TRACES_EXAMPLE = "cat traces.jsonl | nhisim import otel -"


def _input(path: Path, what: str, example: str):
    """A file argument as the importers take it: the path, or for ``-`` the bytes piped in, named ``<stdin>``."""
    if not is_stdio(path):
        return path
    from nhisim.importers.common import InputBytes, max_input_bytes

    return InputBytes(STDIN_NAME, stdin_bytes(max_input_bytes(), what, example))


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


def _import(ctx: typer.Context, build: Callable, out: Path | None, overwrite: bool, as_json: bool) -> None:
    """Build the scenario and write its YAML to ``--out`` (a file, or ``-`` and by default standard
    output; with ``--json`` and no ``--out``, into the envelope), then the report."""
    if out is not None and not is_stdio(out) and out.exists() and not out.is_dir() and not overwrite:
        # refused before any work: the file may hold what the user filled in
        raise InputError.single("already exists; it may hold what you filled in", file=str(out), location="--out",
                                suggestion="give a new file name, or --overwrite to replace it")
    target = out if out is not None or as_json else Path("-")
    if target is None:
        imported = build()
    else:
        with output_target(target, what="scenario file", suffix=".yaml", as_json=as_json) as path:
            imported = build()
            write_whole(path, imported.text)
    report, scenario = imported.report, imported.scenario
    if as_json:
        emit(ctx, {"scenario": scenario.name, "agents": len(scenario.agents), "tools": len(scenario.tools),
                   "resources": len(scenario.resources), "tasks": len(scenario.tasks), "report": report.to_dict(),
                   "yaml": imported.text if out is None else None},
             notes=report.warnings, outputs=[out] if out is not None else [])
        return
    show = messages_console(is_stdio(target))
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
    if not is_stdio(target):
        show.print(f"wrote {plain(out)}: {len(scenario.agents)} agents, {len(scenario.tools)} tools, "
                   f"{len(scenario.tasks)} task templates; next: nhisim compare {plain(out)}")


@import_app.command("mcp", epilog="Example: nhisim import mcp claude_desktop_config.json --out estate.yaml")
def import_mcp_command(
    ctx: typer.Context,
    configs: list[Path] = typer.Argument(..., help="MCP client configurations (claude_desktop_config.json, "
                                                   ".vscode/mcp.json, ~/.cursor/mcp.json, ...; `-`: read one "
                                                   "from standard input)"),
    out: Path = typer.Option(None, "--out", help="scenario file to write (default or `-`: print the YAML on "
                                                 "stdout, the report on stderr)"),
    rate: str = typer.Option("4/h", "--rate", help="assumed arrival rate of each server's task"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing --out file"),
    as_json: bool = JSON_OPTION,
) -> None:
    """An MCP client configuration as a scenario: servers, their secrets (never their values), what to fill in."""
    from nhisim.importers.mcp import import_mcp
    from nhisim.scenario.units import parse_rate

    try:
        parse_rate(rate)
    except ValueError as exc:
        raise InputError.single(str(exc), location="--rate", suggestion="e.g. --rate 4/h") from None
    stdin_once(configs, "MCP configurations")

    def build():
        return import_mcp([_input(c, "MCP client configuration", MCP_EXAMPLE) for c in configs], rate=rate)

    _import(ctx, build, out, overwrite, as_json)


@import_app.command("otel", epilog="Example: nhisim import otel traces.jsonl --out estate.yaml")
def import_otel_command(
    ctx: typer.Context,
    traces: Path = typer.Argument(..., help="OpenTelemetry spans: OTLP/JSON (one request per line) or one span "
                                            "per line (`-`: read them from standard input)"),
    out: Path = typer.Option(None, "--out", help="scenario file to write (default or `-`: print the YAML on "
                                                 "stdout, the report on stderr)"),
    calibrate: Path = typer.Option(None, "--calibrate", help="fit rates, service times and delegations into "
                                                              "this scenario instead of building a new one "
                                                              "(`-`: read it from standard input)"),
    window: str = typer.Option(None, "--window", help="the period the traces cover (e.g. 24h): rates are runs "
                                                      "over it (default: from the first to the last run)"),
    fit: str = typer.Option("auto", "--fit", help="service times: auto (lognormal from 20 samples, else the "
                                                  "samples), lognormal or empirical"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing --out file"),
    as_json: bool = JSON_OPTION,
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
    stdin_once([traces, *([calibrate] if calibrate is not None else [])], "trace file and --calibrate scenario")

    def build():
        if calibrate is None:
            return import_otel(_input(traces, "trace file", TRACES_EXAMPLE), window=seconds, fit=fit)
        scenario = load_scenario_arg(calibrate)
        return calibrate_scenario(_input(traces, "trace file", TRACES_EXAMPLE), scenario, window=seconds, fit=fit)

    _import(ctx, build, out, overwrite, as_json)


def _split(values: str | None) -> list[str] | None:
    return [v.strip() for v in values.split(",") if v.strip()] if values else None


@app.command("replay-trace",
             epilog="Example: nhisim replay-trace traces.jsonl --scenario estate.yaml --strategy rbac,intent")
def replay_trace_command(
    ctx: typer.Context,
    traces: Path = typer.Argument(..., help="OpenTelemetry GenAI spans, as for nhisim import otel (`-`: read "
                                            "them from standard input)"),
    scenario: Path = typer.Option(..., "--scenario", help="the scenario the traced agents and tools belong to "
                                                          "(`-`: read it from standard input)"),
    strategy: str = typer.Option(None, "--strategy", "-s", help="strategy, or several comma-separated "
                                                                "(default: every strategy of the scenario)"),
    out: Path = typer.Option(None, "--out", help="write every call's decision to this .csv or .parquet file "
                                                 "(and each credential's exposure beside it, -credentials; `-`: "
                                                 "the calls as CSV on stdout)"),
    top: int = typer.Option(15, "--top", min=1, help="rows of blocked calls shown per strategy"),
    engine: str = typer.Option(None, "--engine", help="decision engine: native or cedar (default: each "
                                                      "strategy's engine, else native)"),
    set_: list[str] = typer.Option(None, "--set", help="override a scenario value by dotted path"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Each traced tool call decided by a strategy: what it would deny or escalate, and how long credentials live."""
    from contextlib import nullcontext

    from nhisim.experiments.replay_trace import replay_trace
    from nhisim.scenario.units import format_duration

    if out is not None and not is_stdio(out) and out.suffix not in (".csv", ".parquet"):
        raise InputError.single(f"unknown table format {out.suffix or '(none)'!r}", file=str(out),
                                location="--out", suggestion="end the file name in .csv or .parquet")
    stdin_once([traces, scenario], "trace file and --scenario")
    beside = None if out is None or is_stdio(out) else out.with_name(f"{out.stem}-credentials{out.suffix}")
    if beside is not None:  # before the work, as --out is
        output_file(beside, "--out", "credentials table")
    target = nullcontext() if out is None else output_target(out, what="table", suffix=".csv", as_json=as_json)
    with target as path:
        loaded = load_scenario_arg(scenario, parse_sets(set_))
        result = replay_trace(_input(traces, "trace file", TRACES_EXAMPLE), loaded, _split(strategy), engine=engine)
        summary = result.summary()
        for frame, where in ((result.calls, path), (result.credentials, beside)):
            if where is None:
                continue
            with whole_file(where) as temp, open(temp, "wb") as fh:  # opened here: Arrow cannot open every name
                if where.suffix == ".parquet":
                    frame.to_parquet(fh, index=False)
                else:
                    frame.to_csv(fh, index=False)
    notes = []
    unmapped = result.calls[result.calls["decision"] == "unmapped"]
    for row in unmapped.drop_duplicates("tool").head(5).itertuples():
        notes.append(f"{row.tool!r} unmapped: {row.reason}")
    if result.unmatched_runs:
        notes.append(f"{result.unmatched_runs} traced run(s) match no task template of their agent: they carry no "
                     "intent")
    if as_json:
        emit(ctx, {"scenario": result.scenario, "traces": result.traces, "strategies": result.strategies,
                   "runs": result.runs, "unmatched_runs": result.unmatched_runs, "window_s": result.window_s,
                   "summary": summary, "calls": result.calls, "credentials": result.credentials},
             notes=notes, outputs=[p for p in (out, beside) if p is not None])
        return
    show = messages_console(is_stdio(out))
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
    show.print(table)
    for name in result.strategies:
        blocked = result.blocked(name)
        if not blocked.empty:
            show.print(_table(f"{name}: denied or escalated calls", blocked.to_dict("records"), limit=top))
    for note in notes:
        err_console.print(f"note: {note}", markup=False)
    if beside is not None:
        show.print(f"wrote {plain(out)} and {plain(beside)}")
