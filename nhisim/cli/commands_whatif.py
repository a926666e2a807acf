"""``whatif``: one scenario before and after a change, every metric's paired change."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from nhisim.cli.common import (
    JSON_OPTION,
    app,
    force_if,
    is_stdio,
    messages_console,
    output_target,
    parse_sets,
    plain,
    scenario_arg,
)
from nhisim.cli.envelope import emit


@app.command(epilog="Example: nhisim whatif scenarios/leaked_key.yaml --set strategies.zsp.ttl=1h -r 30 "
                     "--report diff.html")
def whatif(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="scenario file (`-`: standard input)"),
    set_: list[str] = typer.Option(None, "--set", help="the change: a value by dotted path, PATH=VALUE (repeat)"),
    remove: list[str] = typer.Option(None, "--remove",
                                     help="the change: an estate edit, e.g. delegation:A->B, role:AGENT:ROLE, "
                                          "holder:ACCOUNT:AGENT, grant:ROLE:TOOL:ACTION:RESOURCE (repeat)"),
    strategies: str = typer.Option(None, "--strategies", help="comma-separated strategies (default: all declared)"),
    replications: int = typer.Option(None, "--replications", "-r", min=1, help="paired replications"),
    seed: int = typer.Option(None, "--seed", help="base seed (default: the scenario's)"),
    report: Path = typer.Option(None, "--report", help="write the diff report (.html or .md; `-`: stdout, the "
                                                       "tables then on stderr)"),
    report_format: str = typer.Option(None, "--report-format", help="html or md (default: from --report's suffix, "
                                                                    "else html)"),
    metrics: str = typer.Option(None, "--metrics", help="comma-separated metrics shown (default: all)"),
    as_json: bool = JSON_OPTION,
    force: bool = typer.Option(False, "--force", help="run even when the work estimate is over the limit "
                                                      "(NHISIM_FORCE=1 does the same)"),
) -> None:
    """The same scenario before and after a change, paired on common random numbers."""
    from contextlib import nullcontext

    from nhisim.experiments.whatif import whatif as run_whatif
    from nhisim.reports.document import report_format as format_of
    from nhisim.reports.format import fmt, label
    from nhisim.reports.whatif import VERDICT_MARK, change_text, write_whatif_report

    force_if(force)
    names = [s.strip() for s in strategies.split(",") if s.strip()] if strategies else None
    kind = format_of("" if report is None or is_stdio(report) else report, report_format)
    writing = (output_target(report, "--report", "diff report", suffix=f".{kind}", as_json=as_json)
               if report is not None else nullcontext())
    with writing as target:
        source, _ = scenario_arg(file)
        result = run_whatif(source, set=parse_sets(set_), remove=list(remove or []), strategies=names,
                            replications=replications, seed=seed)
        if target is not None:
            write_whatif_report(result, target, format=kind)
    shown = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    summary = result.summary(shown)
    if as_json:
        emit(ctx, {"change": result.change, "strategies": result.strategies, "summary": summary},
             notes=result.notes, outputs=[report] if report is not None else [])
        return
    say = messages_console(is_stdio(report))
    for strategy in result.strategies:
        table = Table(title=f"{result.before.scenario.name} under {strategy}: " + "; ".join(map(plain, result.change)))
        for column in ("metric", "before", "after", "change (95% CI)", ""):
            table.add_column(column, justify="left" if column == "metric" else "right")
        for _, row in summary[summary["strategy"] == strategy].iterrows():
            metric = row["metric"]
            table.add_row(label(metric), fmt(metric, row["before"]), fmt(metric, row["after"]),
                          change_text(metric, row), VERDICT_MARK[row["verdict"]])
        say.print(table)
    for note in result.notes:
        say.print(f"note: {note}", markup=False)
    if report is not None and not is_stdio(report):
        say.print(f"diff report: {plain(report)}")
