"""``whatif``: one scenario before and after a change, every metric's paired change."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich.table import Table

from nhisim.cli.common import app, force_if, make_console, output_file, parse_sets, plain

console = make_console()


@app.command(epilog="Example: nhisim whatif scenarios/leaked_key.yaml --set strategies.zsp.ttl=1h -r 30 "
                     "--report diff.html")
def whatif(
    file: Path = typer.Argument(..., help="scenario file"),
    set_: list[str] = typer.Option(None, "--set", help="the change: a value by dotted path, PATH=VALUE (repeat)"),
    remove: list[str] = typer.Option(None, "--remove",
                                     help="the change: an estate edit, e.g. delegation:A->B, role:AGENT:ROLE, "
                                          "holder:ACCOUNT:AGENT, grant:ROLE:TOOL:ACTION:RESOURCE (repeat)"),
    strategies: str = typer.Option(None, "--strategies", help="comma-separated strategies (default: all declared)"),
    replications: int = typer.Option(None, "--replications", "-r", min=1, help="paired replications"),
    seed: int = typer.Option(None, "--seed", help="base seed (default: the scenario's)"),
    report: Path = typer.Option(None, "--report", help="write the diff report (.html or .md)"),
    metrics: str = typer.Option(None, "--metrics", help="comma-separated metrics shown (default: all)"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    force: bool = typer.Option(False, "--force", help="run even when the work estimate is over the limit "
                                                      "(NHISIM_FORCE=1 does the same)"),
) -> None:
    """The same scenario before and after a change, paired on common random numbers."""
    from nhisim.experiments.whatif import whatif as run_whatif
    from nhisim.reports.document import report_format, report_target
    from nhisim.reports.format import fmt, label
    from nhisim.reports.whatif import VERDICT_MARK, change_text, write_whatif_report

    force_if(force)
    if report is not None:  # before the runs: a path we cannot write fails now, not at the end
        output_file(report_target(report, report_format(report, None)), "--report", "report")
    names = [s.strip() for s in strategies.split(",") if s.strip()] if strategies else None
    result = run_whatif(file, set=parse_sets(set_), remove=list(remove or []), strategies=names,
                        replications=replications, seed=seed)
    shown = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    summary = result.summary(shown)
    if report is not None:
        written = write_whatif_report(result, report)
    if as_json:
        records = summary.to_dict("records")
        for r in records:
            for k, v in r.items():
                if isinstance(v, float) and not math.isfinite(v):
                    r[k] = None if math.isnan(v) else ("inf" if v > 0 else "-inf")
        typer.echo(json.dumps({"change": result.change, "notes": result.notes, "summary": records}))
        return
    for strategy in result.strategies:
        table = Table(title=f"{result.before.scenario.name} under {strategy}: " + "; ".join(map(plain, result.change)))
        for column in ("metric", "before", "after", "change (95% CI)", ""):
            table.add_column(column, justify="left" if column == "metric" else "right")
        for _, row in summary[summary["strategy"] == strategy].iterrows():
            metric = row["metric"]
            table.add_row(label(metric), fmt(metric, row["before"]), fmt(metric, row["after"]),
                          change_text(metric, row), VERDICT_MARK[row["verdict"]])
        console.print(table)
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    if report is not None:
        console.print(f"diff report: {plain(written)}")
