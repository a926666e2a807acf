"""Commands that tell results to people: ``report``, ``demo`` and ``replay``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from nhisim.cli.common import app, live, make_console, output_file, parse_sets, plain, status
from nhisim.errors import InputError, printable

console = make_console()
err = make_console(stderr=True)

DEMO_REPLICATIONS = 20  # at most: the scenario's own run.replications if lower
SCENARIO_SUFFIXES = (".yaml", ".yml")


def _split(values: str | None) -> list[str] | None:
    return [v.strip() for v in values.split(",") if v.strip()] if values else None


def _workers(workers: int | None) -> int:
    from nhisim.experiments.executors import default_workers

    return workers or default_workers()


def compare_with_progress(source, strategies: list[str] | None = None, replications: int | None = None,
                          seed: int | None = None, baseline: str | None = None, overrides: dict | None = None,
                          workers: int | None = None, quiet: bool = False):
    """Compare on a process pool (results identical to serial runs) with a progress bar."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from nhisim.experiments import compare

    workers = _workers(workers)
    executor = "processes" if workers > 1 else "serial"
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} runs"),
                  TimeElapsedColumn(), console=err, disable=not live(quiet, err), transient=True) as progress:
        name = getattr(source, "name", None) if not isinstance(source, (str, Path)) else Path(source).name
        task = progress.add_task(f"{plain(name)} ({workers} worker{'s' if workers > 1 else ''})", total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return compare(source, strategies=strategies, replications=replications, seed=seed, baseline=baseline,
                       overrides=overrides or None, progress=tick, executor=executor, workers=workers)


def _default_out(kind: str, fmt: str, source: Path, name: str) -> Path:
    if kind == "folder":
        return source / f"report.{fmt}"
    return Path("reports") / f"{name}.{fmt}"


def _format(fmt: str | None, out: Path | None) -> str:
    from nhisim.errors import did_you_mean
    from nhisim.reports.html import FORMATS

    if fmt is None:
        suffix = out.suffix.lower().lstrip(".") if out is not None else ""
        fmt = "md" if suffix in ("md", "markdown") else "html"
    fmt = "md" if fmt.lower() == "markdown" else fmt.lower()
    if fmt not in FORMATS:
        raise InputError.single(f"unknown report format {fmt!r}", location="--format",
                                suggestion=did_you_mean(fmt, FORMATS, "formats"))
    return fmt


def _check_out(out: Path, fmt: str = "html") -> Path:
    if out.is_dir():
        raise InputError.single("is a folder; give the report's file name", file=str(out), location="--out",
                                suggestion=f"e.g. --out {out / f'report.{fmt}'}")
    return output_file(out, "--out", "report")


@app.command(epilog="Example: nhisim report scenarios/leaked_key.yaml -r 10 --out reports/leak.html")
def report(
    source: Path = typer.Argument(..., help="a results folder (from `nhisim compare --out DIR`) or a scenario file"),
    fmt: str = typer.Option(None, "--format", "-f", help="html (one self-contained page) or md (Markdown + PNGs); "
                                                          "default: from --out, else html"),
    out: Path = typer.Option(None, "--out", "-o", help="report file (default: DIR/report.html for a results "
                                                       "folder, reports/<scenario>.html for a scenario file)"),
    scenario: str = typer.Option(None, "--scenario", help="which comparison, when a results folder holds several"),
    replication: int = typer.Option(0, "--replication", min=0, help="replication drawn in timelines and replays"),
    replications: int = typer.Option(None, "--replications", "-r", min=1, max=1_000_000,
                                     help="scenario file: paired replications (default: the scenario's)"),
    strategies: str = typer.Option(None, "--strategies", help="scenario file: comma-separated strategies"),
    seed: int = typer.Option(None, "--seed", help="scenario file: base seed"),
    baseline: str = typer.Option(None, "--baseline", help="scenario file: the strategy compared against"),
    set_: list[str] = typer.Option(None, "--set", help="scenario file: override a value by dotted path"),
    workers: int = typer.Option(None, "--workers", min=1, max=1024, help="scenario file: worker processes (default: one "
                                                               "per core)"),
) -> None:
    """Write an HTML or Markdown report (figures, key findings, method) of a comparison."""
    from nhisim.reports.html import write_report
    from nhisim.reports.results import load_results

    fmt = _format(fmt, out)
    if source.is_dir():
        comparison, scenario_file = load_results(source, scenario=scenario, replication=replication)
        if replication >= comparison.replications:
            raise InputError.single(f"replication {replication} does not exist (the comparison has "
                                    f"{comparison.replications})", location="--replication")
        target = out or _default_out("folder", fmt, source, comparison.scenario.name)
    elif source.is_file():
        if source.suffix.lower() not in SCENARIO_SUFFIXES:
            raise InputError.single("not a results folder nor a scenario file", file=str(source),
                                    suggestion="give a folder written by `nhisim compare FILE --out DIR`, or a "
                                               "scenario .yaml file")
        # before the runs (the default name waits for the scenario's name: its folder is what can fail)
        _check_out(out or _default_out("file", fmt, source, source.stem), fmt)
        comparison = compare_with_progress(source, _split(strategies), replications, seed, baseline,
                                           parse_sets(set_), workers)
        if replication >= comparison.replications:
            raise InputError.single(f"replication {replication} does not exist (the comparison has "
                                    f"{comparison.replications})", location="--replication")
        scenario_file = source
        target = out or _default_out("file", fmt, source, comparison.scenario.name)
    else:
        raise InputError.single("no such file or folder", file=str(source),
                                suggestion="give a results folder (from `nhisim compare --out DIR`) or a scenario "
                                           "file")
    target = _check_out(target, fmt)
    with status(err, "drawing the figures and writing the report"):
        path = write_report(comparison, target, format=fmt, scenario_file=scenario_file, replication=replication)
    console.print(f"wrote {plain(path)}", soft_wrap=True)


# --------------------------------------------------------------------------- demo


def find_demo_scenario() -> Path:
    """The bundled enterprise estate, wherever nhisim is installed (see :mod:`nhisim.pack`)."""
    from nhisim.pack import demo_scenario

    return demo_scenario()


@app.command(epilog="Example: nhisim demo -r 5 --out reports")
def demo(
    out: Path = typer.Option(None, "--out", help="folder for demo.html (default: reports/)"),
    replications: int = typer.Option(None, "--replications", "-r", min=1, max=1_000_000,
                                     help=f"paired replications per strategy (default: the scenario's, at most "
                                          f"{DEMO_REPLICATIONS})"),
    scenario: Path = typer.Option(None, "--scenario", help="another scenario file (default: the bundled "
                                                           "enterprise estate, enterprise.yaml)"),
    workers: int = typer.Option(None, "--workers", min=1, max=1024, help="worker processes (default: one per core)"),
) -> None:
    """Compare every strategy on the enterprise estate, print the summary, write reports/demo.html."""
    import time

    from nhisim.cli.commands_sim import comparison_table
    from nhisim.reports.findings import key_findings
    from nhisim.reports.html import write_report

    start = time.perf_counter()
    file = scenario if scenario is not None else find_demo_scenario()
    if not file.is_file():
        raise InputError.single("file not found", file=str(file), location="--scenario")
    folder = out if out is not None else Path("reports")
    if folder.exists() and not folder.is_dir():
        raise InputError.single("is a file, not a folder", file=str(folder), location="--out",
                                suggestion="give a folder for demo.html")
    _check_out(folder / "demo.html")  # before the runs: a folder we cannot write fails now, not in minutes
    from nhisim.experiments.compare import resolve_names
    from nhisim.experiments.run import as_scenario

    model = as_scenario(file)
    names = resolve_names(model, None)
    from nhisim.strategies import preset_names

    for preset in preset_names():
        if preset not in names:
            names.append(preset)
    if replications is None:
        replications = min(model.run.replications, DEMO_REPLICATIONS)
    comparison = compare_with_progress(model, names, replications, None, None, None, workers)
    console.print(comparison_table(comparison))
    findings = [f for f in key_findings(comparison) if f.kind in ("headline", "difference", "utility")]
    if findings:
        console.print("[bold]Key findings[/]")
        for f in findings[:8]:
            console.print(Text(printable(f"• {f.text}")))
    with status(err, "drawing the figures and writing the report"):
        path = write_report(comparison, folder / "demo.html", format="html", scenario_file=file)
    console.print(f"report: {plain(path)}  ({time.perf_counter() - start:.0f} s)", soft_wrap=True)


# --------------------------------------------------------------------------- replay

KIND_STYLE = {
    "compromise": "bold red", "malicious_allowed": "red", "malicious_denied": "green", "malicious_repeats": "red",
    "acquire": "red", "detect": "bold blue", "revoke": "bold blue", "propagated": "blue", "expired": "blue",
    "quarantine": "bold magenta", "release": "blue", "give_up": "green", "collateral": "yellow",
    "overreach": "yellow", "legit_denied": "yellow", "task_failed": "yellow", "outage": "bold yellow",
    "retire": "yellow", "summary": "bold",
}


def _pause(enabled: list[bool]) -> None:
    """Wait for Enter (q + Enter, or the end of input, stops pausing)."""
    if not enabled[0]:
        return
    console.print("[dim]  ⏎ next · q ⏎ stop pausing[/]", end="")
    console.file.flush()
    line = sys.stdin.readline()
    console.print()
    if line == "" or line.strip().lower() in ("q", "quit"):
        enabled[0] = False


def _story_for(scenario, strategy: str, seed: int, limit: int):
    from nhisim.experiments.run import simulate
    from nhisim.reports.narrate import narrate

    result = simulate(scenario, strategy, seed, name=strategy)
    return narrate(result.events, scenario, strategy, limit=limit), result


@app.command(epilog="Example: nhisim replay scenarios/leaked_key.yaml --strategy rbac --vs intent --narrate")
def replay(
    file: Path = typer.Argument(..., help="scenario file"),
    strategy: str = typer.Option("rbac", "--strategy", "-s", help="strategy to replay"),
    vs: str = typer.Option(None, "--vs", help="a second strategy, told side by side on the same random draws"),
    seed: int = typer.Option(None, "--seed", help="run seed (default: the scenario's run.seed)"),
    replication: int = typer.Option(None, "--replication", min=0,
                                    help="replay replication R of `nhisim compare` (seeded from --seed or the "
                                         "scenario's seed, as compare does)"),
    narrate_: bool = typer.Option(False, "--narrate", help="tell it in plain sentences (for teaching)"),
    pause: bool = typer.Option(False, "--pause", help="wait for Enter at each key moment"),
    limit: int = typer.Option(4, "--limit", min=0, help="how many of each minor moment to tell before counting"),
    set_: list[str] = typer.Option(None, "--set", help="override a value by dotted path"),
    as_json: bool = typer.Option(False, "--json", help="print the moments as JSON"),
) -> None:
    """Replay one run at its key moments: compromise, attacks, detection, revocation, collateral."""
    from nhisim.experiments.compare import resolve_names
    from nhisim.experiments.run import as_scenario, replication_seed
    from nhisim.reports.narrate import MAJOR, clock

    model = as_scenario(file, parse_sets(set_) or None)
    names = [strategy] + ([vs] if vs else [])
    resolve_names(model, names)
    base_seed = model.run.seed if seed is None else seed
    run_seed = replication_seed(base_seed, replication) if replication is not None else base_seed
    stories = {name: _story_for(model, name, run_seed, limit)[0] for name in dict.fromkeys(names)}
    if as_json:
        typer.echo(json.dumps([{"strategy": name, "t": t, "clock": clock(t), "kind": kind, "text": text}
                               for name, story in stories.items() for t, text, kind in story], indent=1))
        return
    which = f"replication {replication}, seed {run_seed}" if replication is not None else f"seed {run_seed}"
    console.print(f"[bold]{plain(model.title or model.name)}[/] · {' vs '.join(stories)} · {which}")
    pausing = [pause]
    if vs is None:
        story = stories[strategy]
        if not narrate_:
            table = Table(show_lines=False)
            table.add_column("time")
            table.add_column("moment")
            table.add_column("what happened")
            for t, text, kind in story:
                table.add_row(clock(t)[2:], kind.replace("_", " "), Text(printable(text), style=KIND_STYLE.get(kind, "")))
            console.print(table)
            return
        for t, text, kind in story:
            line = Text(f"{clock(t)} ", style="dim")
            line.append(printable(text), style=KIND_STYLE.get(kind, ""))
            console.print(line)
            if kind in MAJOR:
                _pause(pausing)
        return
    _side_by_side(stories, narrate_, pausing)


def _side_by_side(stories: dict, narrate_: bool, pausing: list[bool]) -> None:
    """Two strategies' moments in columns, aligned on the clock (same minute, same row)."""
    from nhisim.reports.narrate import MAJOR, clock

    names = list(stories)
    rows: dict[str, dict[str, list]] = {}
    order: list[tuple[float, str]] = []
    for name in names:
        for t, text, kind in stories[name]:
            key = clock(t)
            if key not in rows:
                rows[key] = {n: [] for n in names}
                order.append((t, key))
            rows[key][name].append((text, kind))
    order.sort(key=lambda item: item[0])
    width = max(console.width, 60)
    col = (width - 14) // 2

    def grid() -> Table:
        g = Table.grid(padding=(0, 1))
        g.add_column(width=10, no_wrap=True)
        g.add_column(width=col)
        g.add_column(width=col)
        return g

    head = grid()
    head.add_row(Text("time", style="bold"), Text(names[0], style="bold underline"),
                 Text(names[1], style="bold underline"))
    console.print(head)
    for _, key in order:
        cells = []
        major = False
        for name in names:
            text = Text()
            for i, (sentence, kind) in enumerate(rows[key][name]):
                if i:
                    text.append("\n")
                prefix = "" if narrate_ else f"[{kind.replace('_', ' ')}] "
                text.append(printable(prefix + sentence), style=KIND_STYLE.get(kind, ""))
                major = major or kind in MAJOR
            cells.append(text)
        g = grid()
        g.add_row(Text(key[2:], style="dim"), *cells)
        console.print(g)
        if major:
            _pause(pausing)
