"""Commands about the scenario pack: ``catalog`` (threat IDs and their coverage) and ``check``."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from nhisim.cli.common import (
    JSON_OPTION,
    SafeConsole,
    app,
    is_stdio,
    load_scenario_arg,
    make_console,
    no_stdio_folder,
    report_input_error,
    runs_bar,
    stdin_once,
)
from nhisim.cli.envelope import emit, error_of
from nhisim.errors import InputError


def _consoles() -> tuple[SafeConsole, SafeConsole]:
    """Made per call, so the terminal width (``COLUMNS``) is read when the command runs."""
    return make_console(), make_console(stderr=True)


def _scenario_files(files: list[Path] | None, scenarios_dir: Path | None) -> list[Path]:
    """The files named, else every *.yaml of --scenarios DIR, else the bundled pack."""
    from nhisim.experiments.check import default_files

    if files:
        stdin_once(files)
        return list(files)
    no_stdio_folder(scenarios_dir, "--scenarios", "scenario files")
    return default_files(scenarios_dir)


def _coverage(files: list[Path]) -> tuple[dict[tuple[str, str], list[str]], list[InputError]]:
    """(framework, id) -> scenario file names covering it; and why files failed to load."""
    from nhisim.scenario.catalog import load_catalog
    from nhisim.scenario.loader import load_scenario

    catalog = load_catalog()
    covered: dict[tuple[str, str], list[str]] = {}
    bad: list[InputError] = []
    for file in files:
        try:
            scenario = load_scenario(file)
        except InputError as exc:
            bad.append(exc)
            report_input_error(exc)
            continue
        for key in sorted(catalog.covered(scenario.tags)):
            covered.setdefault(key, []).append(file.name)
    return covered, bad


@app.command(epilog="Example: nhisim catalog --framework owasp_nhi")
def catalog(
    ctx: typer.Context,
    scenarios_dir: Path = typer.Option(None, "--scenarios", help="folder of scenario files (default: the bundled pack)"),
    framework: str = typer.Option(None, "--framework", help="only this framework: maestro, owasp_agentic, "
                                                            "owasp_asi or owasp_nhi"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Threat IDs (MAESTRO, OWASP Agentic T&M, ASI Top 10, NHI Top 10) and the scenarios that cover them."""
    from nhisim.errors import did_you_mean
    from nhisim.scenario.catalog import FRAMEWORKS, SHORT_NAMES, load_catalog

    console, _ = _consoles()
    cat = load_catalog()
    if framework is not None and framework not in FRAMEWORKS:
        raise InputError.single(f"unknown framework {framework!r}", location="--framework",
                                suggestion=did_you_mean(framework, FRAMEWORKS, "frameworks"))
    files = _scenario_files(None, scenarios_dir)
    covered, bad = _coverage(files)
    chosen = [framework] if framework else list(FRAMEWORKS)
    items = [i for i in cat.items if i.framework in chosen]
    if as_json:
        emit(ctx, [{"framework": i.framework, "framework_title": cat.frameworks[i.framework].title, "id": i.id,
                    "title": i.title, "description": i.description, "kind": i.kind, "layer": i.layer,
                    "note": i.note, "scenarios": covered.get((i.framework, i.id), [])} for i in items],
             error=error_of(bad[0]) if bad else None)
        if bad:
            raise typer.Exit(2)
        return
    for key in chosen:
        info = cat.frameworks[key]
        table = Table(title=f"{info.title}  (tags.{key})", title_justify="left", show_lines=False)
        table.add_column("id", style="bold", ratio=3, overflow="fold")
        table.add_column("title", ratio=4)
        table.add_column("scenarios", ratio=4, overflow="fold")
        for item in (i for i in items if i.framework == key):
            names = covered.get((key, item.id), [])
            title = f"[bold]Layer: {escape(item.title)}[/]" if item.kind == "layer" else escape(item.title)
            if item.note:
                title += f" [dim]({escape(item.note)})[/]"
            cell = ", ".join(n.removesuffix(".yaml") for n in names) if names else "[dim]—[/]"
            table.add_row(item.id if names else f"[dim]{item.id}[/]", title, cell)
        console.print(table)
    console.print()
    for key in chosen:
        missing = [i.id for i in items if i.framework == key and (key, i.id) not in covered]
        total = sum(1 for i in items if i.framework == key)
        text = ", ".join(missing) if missing else "none"
        console.print(f"[bold]{SHORT_NAMES[key]}[/]: {total - len(missing)}/{total} covered; "
                      f"not covered by any scenario: {text}")
    if bad:
        raise typer.Exit(2)


def _num(metric: str | None, value: object) -> str:
    from nhisim.reports.format import fmt

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return fmt(metric or "", float(value))


def _p(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.2g}" if value >= 0.001 else f"{value:.1e}"


def _observed(row) -> str:
    if row["check"] != "expectation":
        return ""
    metric = row["metric"]
    if isinstance(row["other"], str):
        return f"{_num(metric, row['mean'])} vs {_num(metric, row['other_mean'])}"
    return f"{_num(metric, row['mean'])} (bound {_num(metric, row['value'])})"


def _claims_table(frame, title: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=True)
    table.add_column("scenario", style="bold", ratio=1)
    table.add_column("claim (or what was checked)", ratio=3, overflow="fold")
    table.add_column("observed means", justify="right", ratio=2)
    table.add_column("p", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("why", ratio=2, overflow="fold")
    for _, row in frame.iterrows():
        mark = "[green]ok[/]" if row["holds"] else "[red]FAIL[/]"
        item = str(row["item"]) if row["check"] == "expectation" else f"{row['check']}: {row['item']}"
        table.add_row(escape(str(row["scenario"])), escape(item), _observed(row), _p(row["p_value"]), mark,
                      escape(str(row["detail"])))
    return table


def _summary_table(frame, seeds: int, alpha: float, seconds: float) -> Table:
    table = Table(title=f"nhisim check: {frame['scenario'].nunique()} scenarios × {seeds} paired seeds, "
                        f"alpha {alpha:g} ({seconds:.1f} s)", title_justify="left")
    width = max((len(str(n)) for n in frame["scenario"].unique()), default=8)
    table.add_column("scenario", style="bold", no_wrap=True, min_width=min(width, 32))
    table.add_column("threats happen", justify="right")
    table.add_column("strategies exercised", justify="right")
    table.add_column("expectations hold", justify="right")
    table.add_column("", no_wrap=True)
    for name, group in frame.groupby("scenario", sort=False):
        cells = []
        for check in ("threat", "strategy", "expectation"):
            part = group[group["check"] == check]
            ok = int(part["holds"].sum())
            text = f"{ok}/{len(part)}"
            cells.append(text if ok == len(part) else f"[red]{text}[/]")
        good = bool(group["holds"].all())
        table.add_row(escape(str(name)), *cells, "[green]ok[/]" if good else "[red]FAIL[/]")
    return table


@app.command(epilog="Example: nhisim check scenarios/leaked_key.yaml --seeds 8")
def check(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(None, help="scenario files (default: every file of the bundled pack; `-`: "
                                                  "one from standard input)"),
    seeds: int = typer.Option(8, "--seeds", "-n", min=1, help="paired seeds per strategy"),
    alpha: float = typer.Option(0.05, "--alpha", min=0.0, max=1.0, help="significance level of each claim"),
    jobs: int = typer.Option(None, "--jobs", "-j", min=1, help="worker processes (default: one per core)"),
    scenarios_dir: Path = typer.Option(None, "--scenarios", help="check every *.yaml in this folder"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="list every check, not only failures"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Self-check scenarios: every threat happens, every strategy is exercised, every expectation holds.

    Exit code 0 when everything holds, 1 when something does not, 2 on bad input.
    """
    from nhisim.experiments.check import check as run_check
    from nhisim.experiments.check import failures

    console, err = _consoles()
    paths = _scenario_files(files, scenarios_dir)
    models, bad = [], []
    for path in paths:  # validate everything first: a malformed claim is bad input, told like any other
        try:
            models.append((path, load_scenario_arg(path)))
        except InputError as exc:
            bad.append(exc)
            report_input_error(exc)
    if bad:
        if as_json:
            emit(ctx, error=error_of(bad[0]))
        raise typer.Exit(2)
    with runs_bar(as_json, on=err, elapsed=True) as track:
        frame = run_check([model if is_stdio(p) else p for p, model in models], seeds=seeds, alpha=alpha, jobs=jobs,
                          progress=track("checking"))
    failed = failures(frame)
    if as_json:
        emit(ctx, frame, error=error_of(RuntimeError(f"{len(failed)} of {len(frame)} checks do not hold"))
             if len(failed) else None)
        raise typer.Exit(1 if len(failed) else 0)
    console.print(_summary_table(frame, seeds, alpha, frame.attrs.get("seconds", math.nan)))
    if verbose:
        console.print(_claims_table(frame, "every check"))
    if len(failed):
        console.print(_claims_table(failed, f"what failed ({len(failed)})"))
        raise typer.Exit(1)
    console.print(f"[green]all {len(frame)} checks hold[/] ({frame.attrs.get('runs', 0)} runs)")
