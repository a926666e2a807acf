"""The ``sweep`` command: a grid or a sample over scenario values, in parallel, resumable."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from nhisim.cli.common import (
    JSON_OPTION,
    app,
    force_if,
    live,
    make_console,
    no_stdio_folder,
    parse_sets,
    plain,
    scenario_arg,
)
from nhisim.cli.envelope import emit, error_of
from nhisim.errors import clip

console = make_console()
err = make_console(stderr=True, soft_wrap=True)
SHOWN_POINTS = 12


class _Bar:
    """A Rich progress bar with ETA, started at the first report (after the workers are up)."""

    def __init__(self, title: str, quiet: bool) -> None:
        self.title = title
        self.quiet = quiet
        self.progress: Progress | None = None
        self.task = None

    def __call__(self, done: int, total: int) -> None:
        if not live(self.quiet, err):
            return
        if self.progress is None:
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                     TextColumn("{task.completed}/{task.total} runs"), TimeElapsedColumn(),
                                     TextColumn("eta"), TimeRemainingColumn(), console=err, transient=True)
            self.progress.start()
            self.task = self.progress.add_task(self.title, total=total, completed=done)
            return
        self.progress.update(self.task, completed=done, total=total)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _split(values: str | None) -> list[str] | None:
    return [v.strip() for v in values.split(",") if v.strip()] if values else None


def points_table(runs, manifest: dict, metric: str) -> Table:
    """Mean of ``metric`` per point and strategy (the first points)."""
    from nhisim.reports.format import fmt, label, param_text

    params = manifest.get("parameters", [])
    strategies = manifest.get("strategies", [])
    table = Table(title=f"mean {label(metric)} per point ({manifest.get('replications')} replications each)")
    table.add_column("point", justify="right")
    for p in params:
        table.add_column(plain(p["path"]))
    for s in strategies:
        table.add_column(s, justify="right")
    means = runs.groupby(["point", "strategy"])[metric].mean().astype(float)  # a count's <NA>: NaN
    first = runs.drop_duplicates("point").set_index("point")
    for point in list(first.index)[:SHOWN_POINTS]:
        # a cell, not a page: a long text value shows its start, end and length
        cells = [str(point)] + [plain(clip(param_text(first.loc[point, p["path"]], p.get("unit", "")))) for p in params]
        cells += [fmt(metric, float(means.get((point, s), math.nan))) for s in strategies]
        table.add_row(*cells)
    hidden = len(first) - SHOWN_POINTS
    if hidden > 0:
        table.caption = f"... and {hidden} more points"
    return table


def sensitivity_table(table, metric: str) -> Table:
    from nhisim.reports.format import label

    meta = table.attrs.get("sensitivity", {})
    method = meta.get("method", "sobol")
    grid = meta.get("grid", [])
    out = Table(title=f"{'Sobol indices' if method == 'sobol' else 'Morris elementary effects'} of {label(metric)}")
    for col in ["strategy", *grid, "parameter"]:
        out.add_column(col, overflow="fold")
    if method == "sobol":
        heads = [("S1", "S1_conf"), ("ST", "ST_conf")]
    else:
        heads = [("mu_star", "mu_star_conf"), ("mu", None), ("sigma", None)]
    for col, _ in heads:
        out.add_column(col, justify="right")
    out.add_column("note")
    for _, r in table.iterrows():
        cells = [plain(r["strategy"]), *(plain(clip(r[g])) for g in grid), plain(r["parameter"])]
        for col, conf in heads:
            v = r[col]
            text = "n/a" if math.isnan(v) else f"{v:.3g}"
            if conf and not math.isnan(r[conf]) and not math.isnan(v):
                text += f" ± {r[conf]:.2g}"
            cells.append(text)
        cells.append(str(r["note"]))
        out.add_row(*cells)
    return out


@app.command(epilog="Example: nhisim sweep scenarios/leaked_key.yaml --grid strategies.zsp.ttl=5m,15m,1h -r 10 --out sweeps/ttl")
def sweep(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="scenario file (`-`: standard input)"),
    grid: list[str] = typer.Option(None, "--grid", help="PATH=V1,V2,... values of a scenario value by dotted path "
                                                       "(repeat for a product), e.g. strategies.zsp.ttl=5m,15m,1h"),
    sample: str = typer.Option(None, "--sample", help="draw points between --bounds: random, lhs, sobol or morris"),
    n: int = typer.Option(None, "--n", min=1, max=2**20, help="sample size: points (random, lhs), base samples, a power of 2 "
                                            "(sobol: n·(D+2) points), trajectories (morris: n·(D+1) points)"),
    bounds: list[str] = typer.Option(None, "--bounds", help="PATH=LO:HI numeric bounds to sample (repeatable); "
                                                           "durations (5m:2h) and rates (1/h:10/h) allowed"),
    strategies: str = typer.Option(None, "--strategies", help="comma-separated strategy names (default: all)"),
    replications: int = typer.Option(None, "--replications", "-r", min=1, max=1_000_000,
                                     help="replications per point and strategy (default: the scenario's)"),
    seed: int = typer.Option(None, "--seed", help="base seed (default: the scenario's run.seed)"),
    set_: list[str] = typer.Option(None, "--set", help="override a value of the base scenario by dotted path"),
    out: Path = typer.Option(..., "--out", help="results folder (created; rerun the same command to resume)"),
    executor: str = typer.Option("processes", "--executor", help="serial, processes (one per core) or dask"),
    workers: int = typer.Option(None, "--workers", min=1, max=1024, help="worker processes (default: one per core)"),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address (default: a LocalCluster)"),
    chunk_size: int = typer.Option(None, "--chunk-size", min=1, max=10**9, help="runs per chunk (default: automatic)"),
    sensitivity: str = typer.Option(None, "--sensitivity", metavar="METRIC",
                                    help="Sobol (--sample sobol) or Morris (--sample morris) indices of METRIC"),
    engine: str = typer.Option(None, "--engine", help="decision engine: native or cedar (default: each strategy's "
                                                      "engine, else native)"),
    retry_errors: bool = typer.Option(False, "--retry-errors", help="also rerun runs recorded with an error"),
    as_json: bool = JSON_OPTION,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
    force: bool = typer.Option(False, "--force", help="run even when the work estimate is over the limit "
                                                      "(NHISIM_FORCE=1 does the same)"),
) -> None:
    """Sweep scenario values (grid or sample) × strategies × replications into a resumable results folder."""
    force_if(force)
    from nhisim.errors import InputError
    from nhisim.experiments.executors import ExecutorError
    from nhisim.experiments.sensitivity import save_sensitivity
    from nhisim.experiments.sensitivity import sensitivity as indices
    from nhisim.experiments.sweep import execute_plan, plan_sweep
    from nhisim.metrics import METRIC_COLUMNS

    if sensitivity is not None:
        from nhisim.errors import did_you_mean

        if sensitivity not in METRIC_COLUMNS:
            raise InputError.single(f"unknown metric {sensitivity!r}", location="--sensitivity",
                                    suggestion=did_you_mean(sensitivity, METRIC_COLUMNS, "metrics"))
        if (sample or "").lower() not in ("sobol", "morris"):
            raise InputError.single("--sensitivity needs --sample sobol (Sobol indices) or --sample morris "
                                    "(elementary effects)", location="--sensitivity",
                                    suggestion="e.g. --sample sobol --n 16 --bounds strategies.zsp.ttl=5m:2h")
    no_stdio_folder(out, "--out")
    source, overrides = scenario_arg(file, parse_sets(set_))
    plan = plan_sweep(source, grid or None, sample=sample, n=n, bounds=bounds or None, strategies=_split(strategies),
                      replications=replications, seed=seed, overrides=overrides, engine=engine)
    bar = _Bar(f"sweep {plan.scenario.name}", quiet or as_json)
    try:
        runs = execute_plan(plan, out=out, executor=executor, workers=workers, scheduler=scheduler,
                            chunk_size=chunk_size, retry_errors=retry_errors,
                            progress=bar,
                            invocation={"command": "sweep", **{k: (str(v) if isinstance(v, Path) else v)
                                                                for k, v in ctx.params.items()}})
    except ExecutorError as exc:
        bar.stop()
        err.print(f"[bold red]error:[/] {plain(exc)}")
        err.print(f"finished chunks are kept in {out}; run the same command again to go on", markup=False)
        if as_json:
            emit(ctx, outputs=[out], error=error_of(exc))
        raise typer.Exit(1) from None
    finally:
        bar.stop()
    session = runs.attrs["session"]
    manifest = runs.attrs["sweep"]
    failed = runs[runs["error"].notna()]
    table = None
    files = []
    if sensitivity is not None:
        table = indices(runs, sensitivity)
        files = [str(p) for p in save_sensitivity(table, out, sensitivity)]
    every_run_failed = bool(len(runs)) and len(failed) == len(runs)
    if as_json:
        summary = {"folder": str(out), "points": manifest["n_points"], "runs": len(runs), "ran": session["ran"],
                   "skipped": session["skipped"], "failed": len(failed), "elapsed_s": session["elapsed_s"],
                   "executor": session["executor"], "workers": session["workers"],
                   "errors": sorted(set(failed["error"]))[:5], "sensitivity": table}
        error = error_of(RuntimeError(f"every one of the {len(runs)} runs raised")) if every_run_failed else None
        emit(ctx, summary, notes=[*session["notes"], *runs.attrs.get("notes", [])], outputs=[out, *files],
             error=error)
    else:
        for note in session["notes"]:
            err.print(f"[yellow]note:[/] {plain(note)}", markup=True)
        rate = session["ran"] / session["elapsed_s"] if session["elapsed_s"] > 0 and session["ran"] else 0.0
        headline = (f"sweep [bold]{plan.scenario.name}[/]: {manifest['n_points']} points × "
                    f"{len(plan.strategies)} strategies × {plan.replications} replications = {len(runs)} runs; "
                    f"ran {session['ran']}, {session['skipped']} already done, {len(failed)} failed; "
                    f"{session['elapsed_s']:.1f} s ({rate:.1f} runs/s, {session['executor']}, "
                    f"{session['workers']} workers)")
        console.print(headline, soft_wrap=True)
        console.print(points_table(runs, manifest, sensitivity or "blast_radius"))
        for note in runs.attrs.get("notes", []):
            console.print(f"note: {note}", markup=False, soft_wrap=True)
        if table is not None:
            console.print(sensitivity_table(table, sensitivity))
        console.print(f"results: {plain(out / 'runs.parquet')} (pandas.read_parquet), with manifest.json, scenario.yaml, "
                      f"params.csv" + (f"; sensitivity: {', '.join(Path(f).name for f in files)}" if files else ""),
                      soft_wrap=True)
        if len(failed):
            err.print(f"[yellow]{len(failed)} run(s) raised; they are recorded in the error column[/]:")
            for text in sorted(set(failed["error"]))[:3]:
                err.print(f"  {text[:300]}", markup=False)
    if every_run_failed:
        raise typer.Exit(1)
