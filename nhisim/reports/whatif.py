"""The what-if diff report: one scenario before and after a change, every metric's paired change.

HTML (self-contained, one table per strategy) or Markdown. Scenario text is escaped in
both: a title or an id never becomes markup.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path

import pandas as pd

from nhisim._version import __version__
from nhisim.experiments.whatif import WhatIf
from nhisim.files import write_whole
from nhisim.reports.document import report_format, report_target
from nhisim.reports.format import fmt, label
from nhisim.reports.markdown import code_span, literal

VERDICT_MARK = {"better": "▲ better", "worse": "▼ worse", "same": "= same", "": ""}


def change_text(metric: str, row: pd.Series) -> str:
    """``+2.5 h (1.1 h–3.9 h)``: the mean paired change and its CI, in the metric's unit."""
    change = row["change"]
    if isinstance(change, float) and math.isnan(change):
        return "n/a"
    if fmt(metric, abs(change)) in ("0", "0 s", "0%"):  # a float's rounding noise is no change
        return fmt(metric, 0.0)
    sign = "+" if change > 0 else ""
    text = sign + fmt(metric, change)
    low, high = row["ci_low"], row["ci_high"]
    if not any(isinstance(v, float) and math.isnan(v) for v in (low, high)) and low != high:
        text += f" ({fmt(metric, low)} to {fmt(metric, high)})"
    return text


def _rows(result: WhatIf, strategy: str) -> list[tuple[str, str, str, str, str]]:
    summary = result.summary()
    out = []
    for _, row in summary[summary["strategy"] == strategy].iterrows():
        metric = row["metric"]
        out.append((label(metric), fmt(metric, row["before"]), fmt(metric, row["after"]), change_text(metric, row),
                    VERDICT_MARK[row["verdict"]]))
    return out


def markdown(result: WhatIf) -> str:
    """The diff as Markdown: text escaped as literal Markdown, each change shown as typed in a code span."""
    model = result.before.scenario
    name = model.title or model.name
    lines = [f"# What if: {literal(name)}", "", "Change:", ""]
    lines += [f"- {code_span(c)}" for c in result.change]
    lines += ["", f"{result.before.replications} paired replications per strategy (seed {result.before.seed}); "
              "change = after − before on the same seeds, with its 95% confidence interval.", ""]
    lines += [f"> {literal(note)}" for note in result.notes] + ([""] if result.notes else [])
    for strategy in result.strategies:
        lines += [f"## {literal(strategy)}", "", "| metric | before | after | change (95% CI) | |",
                  "|---|---:|---:|---:|---|"]
        lines += ["| " + " | ".join(literal(c) for c in row) + " |" for row in _rows(result, strategy)]
        lines.append("")
    lines.append(f"*Made by nhisim {__version__}.*")
    return "\n".join(lines) + "\n"


def html_page(result: WhatIf) -> str:
    """The diff as one self-contained HTML page."""
    e = html.escape
    name = result.before.scenario.title or result.before.scenario.name
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             f"<title>What if: {e(name)}</title>",
             "<style>body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}"
             "table{border-collapse:collapse;margin-bottom:2rem}td,th{padding:.3rem .7rem;border-bottom:1px solid #ddd}"
             "td.n{text-align:right}.better{color:#007a4d}.worse{color:#b3261e}</style></head><body>",
             f"<h1>What if: {e(name)}</h1><p>Change:</p><ul>",
             *(f"<li><code>{e(c)}</code></li>" for c in result.change),
             f"</ul><p>{result.before.replications} paired replications per strategy (seed {result.before.seed}); "
             "change = after − before on the same seeds, with its 95% confidence interval.</p>",
             *(f"<p class='note'>{e(note)}</p>" for note in result.notes)]
    for strategy in result.strategies:
        parts.append(f"<h2>{e(strategy)}</h2><table><thead><tr><th>metric</th><th>before</th><th>after</th>"
                     "<th>change (95% CI)</th><th></th></tr></thead><tbody>")
        for metric, before, after, change, mark in _rows(result, strategy):
            css = mark.split(" ")[-1] if mark else ""
            parts.append(f"<tr><td>{e(metric)}</td><td class='n'>{e(before)}</td><td class='n'>{e(after)}</td>"
                         f"<td class='n'>{e(change)}</td><td class='{css}'>{e(mark)}</td></tr>")
        parts.append("</tbody></table>")
    parts.append(f"<footer>Made by nhisim {e(__version__)}.</footer></body></html>")
    return "\n".join(parts)


def write_whatif_report(result: WhatIf, path: str | os.PathLike, format: str | None = None) -> Path:
    """Write the diff report (``format``: html or md, default from the suffix) and return its path."""
    fmt_ = report_format(path, format)
    target = report_target(path, fmt_)
    return write_whole(target, html_page(result) if fmt_ == "html" else markdown(result))
