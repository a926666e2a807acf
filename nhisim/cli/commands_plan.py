"""``nhisim plan``: which agents (or groups, or shared accounts) to move from one strategy to another first."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from nhisim.cli.commands_sim import output_dir
from nhisim.cli.common import (
    JSON_OPTION,
    app,
    err_console,
    force_if,
    no_stdio_folder,
    parse_sets,
    plain,
    runs_bar,
    scenario_arg,
)
from nhisim.cli.envelope import emit
from nhisim.files import whole_files
from nhisim.reports.format import fmt, label

console = Console(highlight=False)


@app.command(epilog="Example: nhisim plan scenarios/mixed_estate.yaml --from today --to target --by tag "
                    "--steps 4 -r 10 --out plan")
def plan(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="scenario file (`-`: read it from standard input)"),
    source: str = typer.Option(..., "--from", help="the strategy the estate is under now"),
    target: str = typer.Option(..., "--to", help="the strategy it is moving to"),
    steps: int = typer.Option(None, "--steps", min=1, max=1000, help="moves to make cumulatively (default 5)"),
    by: str = typer.Option("agent", "--by", help="move each agent (agent), or agents by tag or environment "
                                                 "together; shared accounts move on their own"),
    objective: str = typer.Option("time_weighted_exposure", "--objective",
                                  help="the metric to reduce (lower is better)"),
    assume: str = typer.Option("scenario", "--assume", help="scenario: the scenario's threats; each-leaks: "
                                                           "also a leak of every candidate agent's credential"),
    replications: int = typer.Option(None, "--replications", "-r", min=1, max=100_000,
                                     help="paired replications per move"),
    seed: int = typer.Option(None, "--seed", help="base seed"),
    set_: list[str] = typer.Option(None, "--set", help="override a value by dotted path"),
    out: Path = typer.Option(None, "--out", help="folder for ranking.csv, steps.csv and plan.png"),
    executor: str = typer.Option("processes", "--executor", help="serial, processes (one per core) or dask"),
    workers: int = typer.Option(None, "--workers", min=1, max=1024, help="worker processes (default: one per core)"),
    as_json: bool = JSON_OPTION,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
    force: bool = typer.Option(False, "--force", help="run even when the work estimate is over the limit "
                                                      "(each comparison of the plan is estimated first)"),
) -> None:
    """Rank the moves from one strategy to another (each move alone, paired runs, 95% CIs, rank stability)
    and show the benefit of making the first ones one after another."""
    from nhisim.experiments.plan import plan as make_plan

    force_if(force)
    if out is not None:
        no_stdio_folder(out, "--out")
        output_dir(out)
    source_model, rest = scenario_arg(file, parse_sets(set_))
    with runs_bar(quiet or as_json) as track:
        result = make_plan(source_model, source, target, steps=steps, by=by, objective=objective, assume=assume,
                           replications=replications, seed=seed, executor=executor, workers=workers,
                           progress=track("plan"), overrides=rest)
    written = _write(out, result) if out is not None else []
    if as_json:
        emit(ctx, {"scenario": result.scenario.name, "from": source, "to": target, "by": by,
                   "objective": objective, "replications": result.replications, "seed": result.seed,
                   "ranking": result.ranking, "steps": result.steps}, notes=result.notes, outputs=written)
        return
    console.print(_ranking_table(result))
    console.print(_steps_table(result))
    for note in result.notes:
        err_console.print(f"note: {plain(note)}", markup=False)
    if written:
        console.print(f"wrote {', '.join(plain(p) for p in written)}")


def _write(out: Path, result) -> list[Path]:
    from nhisim.reports.figures import migration_plan

    targets = [out / "ranking.csv", out / "steps.csv", out / "plan.png"]
    with whole_files(*targets) as (ranking, steps, figure):  # all three in place together, or none
        result.ranking.to_csv(ranking, index=False)
        result.steps.to_csv(steps, index=False)
        migration_plan(result).savefig(figure, dpi=110, format="png")
    return targets


def _change(metric: str, value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value == 0:
        return "—"
    sign = "+" if value > 0 else "-"
    return sign + fmt(metric, abs(value))


def _ranking_table(result) -> Table:
    metric = result.objective
    table = Table(title=f"moves from {result.source} to {result.target}, each alone: reduction of {label(metric)} "
                        f"({result.replications} paired replications)")
    for column, justify in (("rank", "right"), ("move", "left"), ("reduction (95% CI)", "right"),
                            ("share", "right"), ("task success", "right"), ("legit denied", "right"),
                            ("rank kept", "right")):
        table.add_column(column, justify=justify)
    for row in result.ranking.itertuples(index=False):
        ci = "" if math.isnan(row.ci_low) else f" ({fmt(metric, row.ci_low)} – {fmt(metric, row.ci_high)})"
        table.add_row(str(row.rank), plain(row.candidate), fmt(metric, row.reduction) + ci,
                      "n/a" if math.isnan(row.relative) else f"{row.relative:.0%}",
                      _change("task_success_rate", row.task_success_rate_change),
                      _change("legit_denied", row.legit_denied_change),
                      "n/a" if math.isnan(row.rank_stability) else f"{row.rank_stability:.0%}")
    table.caption = ("reduction: today minus with the move made (paired); rank kept: share of bootstrap "
                     "resamples of the replications in which the move keeps its rank")
    return table


def _steps_table(result) -> Table:
    metric = result.objective
    table = Table(title="the first moves, made one after another")
    for column in ("step", "moved", label(metric), "reduction so far (95% CI)", "task success"):
        table.add_column(column, justify="left" if column == "moved" else "right")
    for row in result.steps.itertuples(index=False):
        ci = "" if row.step == 0 or math.isnan(row.ci_low) else \
            f" ({fmt(metric, row.ci_low)} – {fmt(metric, row.ci_high)})"
        table.add_row(str(row.step), plain(row.moved) or "(none)", fmt(metric, getattr(row, metric)),
                      fmt(metric, row.reduction) + ci, _change("task_success_rate", row.task_success_rate_change))
    return table
