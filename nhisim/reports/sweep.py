"""The report of a sweep: what was swept, heat maps, the trade-off, sensitivity, every point, provenance.

``write_sweep_report("sweeps/ttl", "sweeps/ttl/report.html")`` reads a sweep's results
folder (:func:`~nhisim.experiments.store.read_runs`: its ``manifest.json`` and the parts of
``runs.parquet``) and writes one self-contained HTML page, or Markdown with its figures
beside it (or embedded). It holds:

- the sweep in brief: scenario, parameters and their values or bounds, strategies, runs;
- heat maps of the headline metrics over the swept values (two parameters, or one
  against the strategies), when the sweep has a grid to draw;
- security against utility at every point;
- sensitivity indices (Sobol or Morris) of each headline metric when the sweep was
  sampled for them, with the warnings that say when an index cannot be trusted;
- the mean of each headline metric at every point, one table per strategy;
- provenance: versions, seeds, the sample design, the fingerprint and every session.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from nhisim.errors import InputError, shown
from nhisim.files import write_whole
from nhisim.reports.content import FigureSpec, utility_metric
from nhisim.reports.document import figure_png, png_data_uri, report_format, report_target
from nhisim.reports.format import fmt, label, param_text

MAX_POINT_ROWS = 100  # rows of a points table; params.csv and runs.parquet hold them all
SECURITY_METRICS = ("blast_radius", "exposure_window_s", "time_to_revoke_s")


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    numeric: list[bool]  # right-aligned columns
    caption: str = ""


@dataclass
class Facts:
    items: list[tuple[str, str]]


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Any] = field(default_factory=list)  # str (a paragraph), list[str] (bullets), Facts, Table, FigureSpec


@dataclass
class SweepReport:
    title: str
    subtitle: str
    sections: list[Section]


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}" + ("" if n == 1 else "s")


def _scenario_text(folder: Path | None, manifest: dict) -> tuple[str, str]:
    """The swept scenario's title and description, from the effective scenario the folder keeps."""
    from nhisim.experiments.store import SCENARIO
    from nhisim.scenario.loader import read_yaml

    if folder is None:
        return "", ""
    try:
        data, _ = read_yaml(folder / manifest.get("scenario", {}).get("effective", SCENARIO))
    except InputError:  # a folder without its scenario still has results to report
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    return str(data.get("title") or ""), str(data.get("description") or "")


def _parameter_text(p: dict) -> str:
    if p.get("kind") == "grid":
        return "grid: " + ", ".join(param_text(v) for v in p.get("values", []))
    low, high = p.get("bounds", [None, None])
    unit = p.get("unit", "")
    return (f"sampled between {param_text(low, unit)} and {param_text(high, unit)}"
            + (" (whole numbers)" if p.get("integer") else ""))


def _brief(runs: pd.DataFrame, manifest: dict, title: str, description: str) -> Section:
    failed = int(runs["error"].notna().sum()) if "error" in runs.columns else 0
    scenario = manifest.get("scenario", {})
    items = [("scenario", scenario.get("name", ""))]
    items += [("title", title)] if title else []
    items += [("description", description)] if description else []
    items += [(f"parameter {p['path']}", _parameter_text(p)) for p in manifest.get("parameters", [])]
    sample = manifest.get("sample") or {}
    if sample:
        items.append(("sample", f"{sample.get('method')}, n = {sample.get('n')}, seed {sample.get('seed')}"))
    items += [
        ("strategies", ", ".join(manifest.get("strategies", []))),
        ("runs", f"{_count(int(manifest.get('n_points', 0)), 'point')} × {len(manifest.get('strategies', []))} "
                 f"strategies × {manifest.get('replications')} replications = {manifest.get('n_runs', 0):,} runs; "
                 f"{len(runs):,} recorded, {failed:,} failed"),
    ]
    blocks: list[Any] = [Facts(items)]
    if len(runs) < int(manifest.get("n_runs", 0)):
        blocks.append("The sweep is not finished: the tables and figures use the runs recorded so far. Run the "
                      "same nhisim sweep command again to finish it.")
    if failed:
        errors = sorted(set(runs.loc[runs["error"].notna(), "error"].astype(str)))
        blocks.append(f"{_count(failed, 'run')} raised an error (recorded in the error column, metrics NaN):")
        blocks.append([text[:300] for text in errors[:5]])
    return Section("sweep", "Sweep", blocks)


def _heatmap_axes(params: list[dict]) -> tuple[str, str] | None:
    """The two columns a heat map spreads over: two grid parameters, or the one against the strategies.

    Sampled values are never an axis: each point has its own, so there is no grid to draw.
    """
    grid = [p["path"] for p in params if p.get("kind") == "grid"]
    if len(grid) >= 2:
        return grid[0], grid[1]
    if len(grid) == 1:
        return grid[0], "strategy"
    return None


def _heatmaps(runs: pd.DataFrame, params: list[dict], metrics: Sequence[str]) -> Section:
    from nhisim.reports.figures import sweep_heatmap

    section = Section("heatmaps", "Heat maps")
    axes = _heatmap_axes(params)
    if axes is None:
        section.blocks.append("No heat map: the swept values are a sample, not a grid (see the trade-off and the "
                              "sensitivity indices).")
        return section
    x, y = axes
    if y == "strategy":  # one parameter: the strategies are the rows of one panel
        frame = runs.rename(columns={"strategy": "control strategy"})
        y = "control strategy"
    else:
        frame = runs
    others = [p["path"] for p in params if p["path"] not in (x, y)]
    if others:
        section.blocks.append(f"Each cell is averaged over the other swept values ({', '.join(others)}).")
    for metric in metrics:
        section.blocks.append(FigureSpec(
            f"heatmap_{metric}", f"{label(metric)} by {x} × {y}",
            f"Mean {label(metric)} over the replications of each cell; grey: no run had a meaningful value (n/a).",
            lambda metric=metric: sweep_heatmap(frame, x, y, metric)))
    return section


def _tradeoff(runs: pd.DataFrame, utility: str) -> Section:
    from nhisim.reports.figures import sweep_tradeoff

    spec = FigureSpec("tradeoff", "Security vs utility", f"Blast radius against {label(utility)} at every point: "
                      "one marker per point and strategy (mean over its replications). Controls that cut the "
                      "attacker's reach should not stop legitimate work.",
                      lambda: sweep_tradeoff(runs, "blast_radius", utility))
    return Section("tradeoff", "Security vs utility", [spec])


def _index_text(value: float, conf: float | None = None) -> str:
    if math.isnan(value):
        return "n/a"
    text = f"{value:.3g}"
    if conf is not None and not math.isnan(conf):
        text += f" ± {conf:.2g}"
    return text


def _sensitivity(runs: pd.DataFrame, manifest: dict, metrics: Sequence[str]) -> Section:
    from nhisim.experiments.sensitivity import METHODS, sensitivity, sensitivity_figure

    section = Section("sensitivity", "Sensitivity")
    method = (manifest.get("sample") or {}).get("method")
    if method not in METHODS:
        section.blocks.append("No sensitivity indices: they need a sweep sampled with --sample sobol (Sobol "
                              "indices) or --sample morris (elementary effects).")
        return section
    heads = [("S1", "S1_conf"), ("ST", "ST_conf")] if method == "sobol" else \
        [("mu_star", "mu_star_conf"), ("mu", None), ("sigma", None)]
    section.blocks.append(
        "Sobol indices: S1 is the share of the metric's variance a parameter explains alone, ST with all its "
        "interactions (shares: between 0 and 1); ± is the 95% confidence interval."
        if method == "sobol" else
        "Morris elementary effects: mu* is the mean absolute effect of a parameter, sigma their spread (a sign "
        "of non-linearity or interactions); ± is the 95% confidence interval.")
    for metric in metrics:
        table = sensitivity(runs, metric)
        grid = table.attrs["sensitivity"]["grid"]
        rows = [[str(r["strategy"]), *(str(r[g]) for g in grid), str(r["parameter"]),
                 *(_index_text(r[col], r[conf] if conf else None) for col, conf in heads), str(r["note"])]
                for _, r in table.iterrows()]
        header = ["strategy", *grid, "parameter", *(col for col, _ in heads), "warning or note"]
        numeric = [False] * (2 + len(grid)) + [True] * len(heads) + [False]
        section.blocks.append(Table(header, rows, numeric, caption=f"{label(metric)}"))
        notes = sorted({w for note in table["note"] for w in str(note).split("; ") if w})
        if notes:
            section.blocks.append(f"Warnings and notes on the indices of {label(metric)}:")
            section.blocks.append(notes)
        if (table[heads[0][0]].notna() & (table["note"] != "constant")).any():  # something worth drawing
            section.blocks.append(FigureSpec(
                f"sensitivity_{metric}", f"Sensitivity of {label(metric)}",
                "The indices of the table above, with their intervals.",
                lambda table=table, metric=metric: sensitivity_figure(table, metric)))
    return section


def _points(runs: pd.DataFrame, manifest: dict, metrics: Sequence[str]) -> Section:
    params = [p for p in manifest.get("parameters", []) if p["path"] in runs.columns]
    section = Section("points", "Every point",
                      [f"Mean over each point's replications ({manifest.get('replications')} per point and "
                       "strategy). params.csv lists every point's values; runs.parquet holds every run."])
    means = runs.groupby(["strategy", "point"], sort=False)[list(metrics)].mean()
    first = runs.drop_duplicates("point").set_index("point").sort_index()
    listed = list(first.index)[:MAX_POINT_ROWS]
    for strategy in manifest.get("strategies", []):
        rows = []
        for point in listed:
            values = [param_text(first.loc[point, p["path"]], p.get("unit", "")) for p in params]
            cells = [fmt(m, float(means.loc[(strategy, point), m])) if (strategy, point) in means.index else "n/a"
                     for m in metrics]
            rows.append([str(point), *values, *cells])
        hidden = len(first) - len(listed)
        caption = strategy + (f" (the first {len(listed)} points; {hidden} more in params.csv)" if hidden else "")
        section.blocks.append(Table(["point", *(p["path"] for p in params), *(label(m) for m in metrics)], rows,
                                    [True] + [False] * len(params) + [True] * len(metrics), caption))
    return section


def _provenance(manifest: dict) -> Section:
    seeds = manifest.get("replication_seeds", [])
    scenario = manifest.get("scenario", {})
    items = [
        ("scenario file", shown(scenario["source"]) if scenario.get("source")
         else "(a scenario given in Python or on standard input)"),
        ("effective scenario", f"{scenario.get('effective', '')} in this folder (after extends: and --set)"),
        ("base seed", str(manifest.get("seed"))),
        ("replication seeds", ", ".join(map(str, seeds[:12])) + (f", … ({len(seeds)} in all)" if len(seeds) > 12
                                                                 else "")),
        ("engine", manifest.get("engine") or "each strategy's (native unless it names cedar)"),
        ("nhisim", str(manifest.get("nhisim_version", ""))),
        ("Python", f"{manifest.get('python', '')} on {manifest.get('platform', '')}"),
        ("created", str(manifest.get("created", ""))),
        ("fingerprint", ", ".join(f"{k} {v}" for k, v in manifest.get("fingerprint", {}).items())),
    ]
    sample = manifest.get("sample") or {}
    if sample:
        bounds = "; ".join(f"{n} in [{lo:g}, {hi:g}]" for n, (lo, hi) in zip(sample.get("names", []),
                                                                            sample.get("bounds", []), strict=False))
        items.append(("sample design", f"{sample.get('method')}, n = {sample.get('n')}, seed {sample.get('seed')}: "
                                       f"{bounds}"))
    rows = []
    for session in manifest.get("sessions", []):
        cli = session.get("cli") or {}
        given = [f"{k}={v}" for k, v in cli.items() if k != "command" and v not in (None, False, [], "")]
        rows.append([str(session.get("started", "")), str(session.get("executor", "")),
                     str(session.get("workers") or "default"), " ".join(given) or "(Python)"])
    blocks: list[Any] = [Facts(items)]
    if rows:
        blocks.append(Table(["session started", "executor", "workers", "options"], rows, [False, False, True, False],
                            caption="sessions (a resumed sweep has several)"))
    return Section("provenance", "Provenance", blocks)


def sweep_report(runs: pd.DataFrame, folder: str | os.PathLike | None = None,
                 metrics: Sequence[str] | None = None) -> SweepReport:
    """What a sweep report says about ``runs`` (a sweep's runs, its manifest in ``attrs["sweep"]``)."""
    manifest = runs.attrs.get("sweep") or {}
    if not manifest:
        raise InputError.single("these runs carry no sweep manifest", location="sweep_report",
                                suggestion="read them with nhisim.experiments.store.read_runs(folder)")
    utility = utility_metric(runs) if len(runs) else "task_success_rate"
    metrics = list(metrics or (*SECURITY_METRICS, utility))
    title, description = _scenario_text(Path(folder) if folder is not None else None, manifest)
    name = manifest.get("scenario", {}).get("name", "")
    params = manifest.get("parameters", [])
    sections = [_brief(runs, manifest, title, description)]
    if len(runs):
        sections += [_heatmaps(runs, params, metrics), _tradeoff(runs, utility),
                     _sensitivity(runs, manifest, metrics), _points(runs, manifest, metrics)]
    sections.append(_provenance(manifest))
    subtitle = (f"{name} · {', '.join(p['path'] for p in params)} · strategies "
                f"{', '.join(manifest.get('strategies', []))}")
    return SweepReport(f"nhisim sweep report: {title or name}", subtitle, sections)


# --------------------------------------------------------------------------- HTML


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _html_block(block: Any, dpi: int) -> str:
    if isinstance(block, str):
        return f"<p>{_e(block)}</p>"
    if isinstance(block, list):
        return "<ul>" + "".join(f"<li>{_e(item)}</li>" for item in block) + "</ul>"
    if isinstance(block, Facts):
        return "<dl class='brief'>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in block.items) + "</dl>"
    if isinstance(block, Table):
        head = "".join(f"<th scope='col'>{_e(h)}</th>" for h in block.header)
        rows = "".join("<tr>" + "".join(f"<td style='text-align:{'right' if n else 'left'}'>{_e(c)}</td>"
                                        for c, n in zip(row, block.numeric, strict=False)) + "</tr>"
                       for row in block.rows)
        caption = f"<caption>{_e(block.caption)}</caption>" if block.caption else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    fig = block.draw()
    width, height = (int(round(v * dpi)) for v in fig.get_size_inches())
    data = png_data_uri(figure_png(fig, dpi))
    fig.clear()
    return (f"<figure id='fig-{_e(block.name)}'><img src='{data}' width='{width}' height='{height}' "
            f"alt='{_e(block.title)}: {_e(block.caption)}'><figcaption><b>{_e(block.title)}.</b> "
            f"{_e(block.caption)}</figcaption></figure>")


def render_sweep_html(report: SweepReport, dpi: int = 100) -> str:
    """The sweep report as one self-contained HTML page (figures drawn and embedded now)."""
    from nhisim._version import __version__
    from nhisim.reports.html import CSS

    parts = ["<!DOCTYPE html>", "<html lang='en'>", "<head>", "<meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>", "<link rel='icon' href='data:,'>",
             f"<meta name='generator' content='nhisim {_e(__version__)}'>", f"<title>{_e(report.title)}</title>",
             f"<style>{CSS} caption {{ text-align: left; font-weight: 600; padding: .3rem 0; }}</style>", "</head>",
             "<body>", "<main>", "<header class='top'>", f"<h1>{_e(report.title)}</h1>",
             f"<p class='subtitle'>{_e(report.subtitle)}</p>", "</header>",
             "<nav class='toc'>" + "".join(f"<a href='#{s.id}'>{_e(s.title)}</a>" for s in report.sections) + "</nav>"]
    for section in report.sections:
        parts.append(f"<section id='{section.id}'><h2>{_e(section.title)}</h2>")
        parts += [_html_block(block, dpi) for block in section.blocks]
        parts.append("</section>")
    parts.append(f"<footer>Made by nhisim {_e(__version__)}. This page is self-contained: it loads nothing from the "
                 "network.</footer>")
    parts += ["</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- Markdown


def render_sweep_markdown(report: SweepReport, figure_links: dict[str, str]) -> str:
    """The sweep report as Markdown; ``figure_links`` maps a figure's name to its link."""
    from nhisim._version import __version__
    from nhisim.reports.markdown import literal

    out = [f"# {literal(report.title)}", "", f"*{literal(report.subtitle)}*", ""]
    for section in report.sections:
        out += [f"## {literal(section.title)}", ""]
        for block in section.blocks:
            if isinstance(block, str):
                out += [literal(block), ""]
            elif isinstance(block, list):
                out += [f"- {literal(item)}" for item in block] + [""]
            elif isinstance(block, Facts):
                out += [f"- **{literal(k)}**: {literal(v)}" for k, v in block.items] + [""]
            elif isinstance(block, Table):
                if block.caption:
                    out += [f"**{literal(block.caption)}**", ""]
                out.append("| " + " | ".join(literal(h) for h in block.header) + " |")
                out.append("|" + "".join("---:|" if n else "---|" for n in block.numeric))
                out += ["| " + " | ".join(literal(c) for c in row) + " |" for row in block.rows]
                out.append("")
            elif block.name in figure_links:
                out += [f"### {literal(block.title)}", "", f"![{literal(block.title)}]({figure_links[block.name]})",
                        "", literal(block.caption), ""]
    out += [f"*Made by nhisim {__version__}.*", ""]
    return "\n".join(out)


def write_sweep_report(folder: str | os.PathLike, path: str | os.PathLike, format: str | None = None,
                       dpi: int = 100, embed: bool = False, metrics: Sequence[str] | None = None) -> Path:
    """Write the report of the sweep in ``folder`` to ``path`` and return the path written.

    ``format`` is ``html`` (one self-contained page) or ``md`` (Markdown, figures as PNG in
    a folder beside it, or inside it as ``data:`` URIs with ``embed``); default: from the
    suffix of ``path``, else html. ``metrics`` replaces the headline metrics reported
    (blast radius, exposure window, time to revoke and a utility metric).
    """
    from nhisim.experiments.store import read_runs
    from nhisim.reports.markdown import figure_links

    fmt_ = report_format(path, format)
    target = report_target(path, fmt_)
    report = sweep_report(read_runs(folder), folder, metrics)
    if fmt_ == "md":
        figures = [b for s in report.sections for b in s.blocks if isinstance(b, FigureSpec)]
        write_whole(target, render_sweep_markdown(report, figure_links(figures, target, dpi, embed)))
    else:
        write_whole(target, render_sweep_html(report, dpi))
    return target


__all__ = ["render_sweep_html", "render_sweep_markdown", "sweep_report", "write_sweep_report"]
