"""Commands that tell results to people: ``report``, ``demo`` and ``replay``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from nhisim.cli.common import (
    JSON_OPTION,
    app,
    is_stdio,
    load_scenario_arg,
    make_console,
    no_stdio_folder,
    output_file,
    output_target,
    parse_sets,
    plain,
    runs_bar,
    scenario_arg,
    status,
)
from nhisim.cli.envelope import emit
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
                          workers: int | None = None, quiet: bool = False, replication: int = 0):
    """Compare on a process pool (results identical to serial runs) with a progress bar, keeping the
    stories of ``replication``'s event logs only: what the report draws (timelines, reach, replays)."""
    from nhisim.experiments import compare

    workers = _workers(workers)
    executor = "processes" if workers > 1 else "serial"
    with runs_bar(quiet, on=err, elapsed=True) as track:
        name = getattr(source, "name", None) if not isinstance(source, (str, Path)) else Path(source).name
        tick = track(f"{plain(name)} ({workers} worker{'s' if workers > 1 else ''})")
        return compare(source, strategies=strategies, replications=replications, seed=seed, baseline=baseline,
                       overrides=overrides or None, progress=tick, executor=executor, workers=workers,
                       keep_events={replication}, event_rows="story")


def _default_out(kind: str, fmt: str, source: Path, name: str) -> Path:
    if kind == "folder":
        return source / f"report.{fmt}"
    return Path("reports") / f"{name}.{fmt}"


def _format(fmt: str | None, out: Path | None) -> str:
    from nhisim.reports.document import report_format

    return report_format("" if out is None or is_stdio(out) else out, fmt)


def _check_out(out: Path, fmt: str = "html") -> Path:
    """A report file we may write (``-``, standard output, always can), checked before the work."""
    if is_stdio(out):
        return out
    if out.is_dir():
        raise InputError.single("is a folder; give the report's file name", file=str(out), location="--out",
                                suggestion=f"e.g. --out {out / f'report.{fmt}'}")
    return output_file(out, "--out", "report")


def _check_replication(replication: int, comparison) -> None:
    if replication >= comparison.replications:
        raise InputError.single(f"replication {replication} does not exist (the comparison has "
                                f"{comparison.replications})", location="--replication")


@app.command(epilog="Example: nhisim report scenarios/leaked_key.yaml -r 10 --out reports/leak.html")
def report(
    ctx: typer.Context,
    source: Path = typer.Argument(..., help="a results folder (from `nhisim compare --out DIR` or `nhisim sweep "
                                            "--out DIR`) or a scenario file (`-`: a scenario on standard input)"),
    fmt: str = typer.Option(None, "--format", "-f", help="html (one self-contained page) or md (Markdown + PNGs); "
                                                          "default: from --out, else html"),
    out: Path = typer.Option(None, "--out", "-o", help="report file (default: DIR/report.html for a results "
                                                       "folder, reports/<scenario>.html for a scenario file; `-`: "
                                                       "stdout, figures inside)"),
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
    as_json: bool = JSON_OPTION,
) -> None:
    """Write an HTML or Markdown report of a comparison (figures, key findings, method) or of a sweep
    (heat maps, trade-off, sensitivity, every point, provenance)."""
    from nhisim.experiments.store import MANIFEST
    from nhisim.reports.html import write_report
    from nhisim.reports.results import load_results
    from nhisim.reports.sweep import write_sweep_report

    fmt = _format(fmt, out)
    embed = is_stdio(out)  # one self-contained document on stdout: Markdown's figures go inside it
    if out is not None:
        _check_out(out, fmt)  # a folder given for the file is told with a file name of this format
    if not is_stdio(source) and source.is_dir() and (source / MANIFEST).is_file():  # a sweep's folder
        target = out or _default_out("folder", fmt, source, "")
        with output_target(target, "--out", "report", suffix=f".{fmt}", as_json=as_json) as path:
            with status(err, "drawing the figures and writing the sweep report"):
                write_sweep_report(source, path, format=fmt, embed=embed)
        _report_written(ctx, as_json, target, {"of": "sweep", "format": fmt})
        return
    if is_stdio(source) or source.is_file():
        if not is_stdio(source) and source.suffix.lower() not in SCENARIO_SUFFIXES:
            raise InputError.single("not a results folder nor a scenario file", file=str(source),
                                    suggestion="give a folder written by `nhisim compare FILE --out DIR` or "
                                               "`nhisim sweep ... --out DIR`, or a scenario .yaml file")
        if out is None:  # before the runs: the default name waits for the scenario's, its folder is what can fail
            _check_out(_default_out("file", fmt, source, "stdin" if is_stdio(source) else source.stem), fmt)
        given, overrides = scenario_arg(source, parse_sets(set_))  # a file stays a path: messages name it

        def run_comparison():
            made = compare_with_progress(given, _split(strategies), replications, seed, baseline, overrides,
                                         workers, quiet=as_json, replication=replication)
            _check_replication(replication, made)
            return made

        scenario_file = None if is_stdio(source) else source
        comparison = None if out is not None else run_comparison()  # the default file is named after it
        target = out or _default_out("file", fmt, source, comparison.scenario.name)
    elif source.is_dir():
        comparison, scenario_file = load_results(source, scenario=scenario, replication=replication,
                                                 event_rows="story")
        _check_replication(replication, comparison)
        target = out or _default_out("folder", fmt, source, comparison.scenario.name)
    else:
        raise InputError.single("no such file or folder", file=str(source),
                                suggestion="give a results folder (from `nhisim compare --out DIR` or `nhisim sweep "
                                           "--out DIR`) or a scenario file")
    with output_target(target, "--out", "report", suffix=f".{fmt}", as_json=as_json) as path:  # checked first
        if comparison is None:
            comparison = run_comparison()
        with status(err, "drawing the figures and writing the report"):
            write_report(comparison, path, format=fmt, scenario_file=scenario_file, replication=replication,
                         embed=embed)
    _report_written(ctx, as_json, target, {"of": "comparison", "format": fmt, "scenario": comparison.scenario.name,
                                           "strategies": comparison.strategies, "baseline": comparison.baseline,
                                           "replications": comparison.replications})


def _report_written(ctx: typer.Context, as_json: bool, target: Path, result: dict) -> None:
    if as_json:
        emit(ctx, result, outputs=[target])
    elif not is_stdio(target):
        console.print(f"wrote {plain(target)}", soft_wrap=True)


# --------------------------------------------------------------------------- demo


def find_demo_scenario() -> Path:
    """The bundled enterprise estate, wherever nhisim is installed (see :mod:`nhisim.pack`)."""
    from nhisim.pack import demo_scenario

    return demo_scenario()


@app.command(epilog="Example: nhisim demo -r 5 --out reports")
def demo(
    ctx: typer.Context,
    out: Path = typer.Option(None, "--out", help="folder for demo.html (default: reports/)"),
    replications: int = typer.Option(None, "--replications", "-r", min=1, max=1_000_000,
                                     help=f"paired replications per strategy (default: the scenario's, at most "
                                          f"{DEMO_REPLICATIONS})"),
    scenario: Path = typer.Option(None, "--scenario", help="another scenario file (default: the bundled "
                                                           "enterprise estate, enterprise.yaml; `-`: standard input)"),
    workers: int = typer.Option(None, "--workers", min=1, max=1024, help="worker processes (default: one per core)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Compare every strategy on the enterprise estate, print the summary, write reports/demo.html."""
    import time

    from nhisim.cli.commands_sim import comparison_result, comparison_table
    from nhisim.reports.findings import key_findings
    from nhisim.reports.html import write_report

    start = time.perf_counter()
    file = scenario if scenario is not None else find_demo_scenario()
    if not is_stdio(file) and not file.is_file():
        raise InputError.single("file not found", file=str(file), location="--scenario")
    no_stdio_folder(out, "--out", "report")
    folder = out if out is not None else Path("reports")
    if folder.exists() and not folder.is_dir():
        raise InputError.single("is a file, not a folder", file=str(folder), location="--out",
                                suggestion="give a folder for demo.html")
    _check_out(folder / "demo.html")  # before the runs: a folder we cannot write fails now, not in minutes
    from nhisim.experiments.compare import resolve_names

    model = load_scenario_arg(file)
    names = resolve_names(model, None)
    from nhisim.strategies import preset_names

    for preset in preset_names():
        if preset not in names:
            names.append(preset)
    if replications is None:
        replications = min(model.run.replications, DEMO_REPLICATIONS)
    comparison = compare_with_progress(model, names, replications, None, None, None, workers, quiet=as_json)
    findings = [f for f in key_findings(comparison) if f.kind in ("headline", "difference", "utility")]
    if not as_json:
        console.print(comparison_table(comparison))
        if findings:
            console.print("[bold]Key findings[/]")
            for f in findings[:8]:
                console.print(Text(printable(f"• {f.text}")))
    with status(err, "drawing the figures and writing the report"):
        path = write_report(comparison, folder / "demo.html", format="html",
                            scenario_file=None if is_stdio(file) else file)
    if as_json:
        emit(ctx, {**comparison_result(comparison), "findings": [f.text for f in findings]}, outputs=[path])
        return
    console.print(f"report: {plain(path)}  ({time.perf_counter() - start:.0f} s)", soft_wrap=True)


# --------------------------------------------------------------------------- replay

KIND_STYLE = {
    "compromise": "bold red", "malicious_allowed": "red", "malicious_denied": "green", "malicious_repeats": "red",
    "acquire": "red", "detect": "bold blue", "revoke": "bold blue", "propagated": "blue", "expired": "blue",
    "quarantine": "bold magenta", "release": "blue", "give_up": "green", "collateral": "yellow",
    "overreach": "yellow", "discover": "cyan", "redeclare": "cyan", "switch": "cyan", "legit_denied": "yellow", "task_failed": "yellow", "outage": "bold yellow",
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

    result = simulate(scenario, strategy, seed, name=strategy, event_rows="story")  # all a replay tells
    return narrate(result.events, scenario, strategy, limit=limit), result


@app.command(epilog="Example: nhisim replay scenarios/leaked_key.yaml --strategy rbac --vs intent --narrate")
def replay(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="scenario file (`-`: standard input; --pause then has no keyboard)"),
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
    as_json: bool = JSON_OPTION,
) -> None:
    """Replay one run at its key moments: compromise, attacks, detection, revocation, collateral."""
    from nhisim.experiments.compare import resolve_names
    from nhisim.experiments.run import replication_seed
    from nhisim.reports.narrate import MAJOR, clock

    model = load_scenario_arg(file, parse_sets(set_) or None)
    names = [strategy] + ([vs] if vs else [])
    resolve_names(model, names)
    base_seed = model.run.seed if seed is None else seed
    run_seed = replication_seed(base_seed, replication) if replication is not None else base_seed
    stories = {name: _story_for(model, name, run_seed, limit)[0] for name in dict.fromkeys(names)}
    if as_json:
        emit(ctx, {"scenario": model.name, "seed": run_seed, "replication": replication, "strategies": list(stories),
                   "moments": [{"strategy": name, "t": t, "clock": clock(t), "kind": kind, "text": text}
                               for name, story in stories.items() for t, text, kind in story]})
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
