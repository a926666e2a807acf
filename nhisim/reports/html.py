"""A self-contained HTML report of a comparison.

One file, nothing fetched: figures are embedded as base64 PNG, the style sheet is inline,
and no script is needed (the narrated replays fold with ``<details>``). It holds the
scenario in brief with its threat tags, the key findings (``id="findings"``), the
results table (every metric: mean, 95% CI, significance against the baseline), the
figures, a replay of one replication per strategy, and method notes.

>>> write_report(comparison, "reports/leak.html")          # or format="md"
PosixPath('reports/leak.html')
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from html import escape
from pathlib import Path

from nhisim.files import write_whole
from nhisim.reports.content import ReportContent, build_content
from nhisim.reports.document import FORMATS, figure_png, png_data_uri, report_format, report_target
from nhisim.reports.findings import grouped
from nhisim.reports.markdown import write_markdown
from nhisim.reports.narrate import MAJOR, clock

CSS = """
:root { --fg: #1a1a1a; --muted: #555; --line: #d0d0d0; --bg: #ffffff; --soft: #f4f6f8;
        --better: #0072B2; --worse: #D55E00; --accent: #009E73; }
* { box-sizing: border-box; }
html { font-size: 18px; }
body { margin: 0; color: var(--fg); background: var(--bg); line-height: 1.5;
       font-family: "Segoe UI", "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
main { max-width: 1500px; margin: 0 auto; padding: 1.5rem 2rem 4rem; }
header.top { border-bottom: 4px solid var(--accent); margin-bottom: 1.5rem; padding-bottom: .8rem; }
h1 { font-size: 2.1rem; margin: .2rem 0; }
h2 { font-size: 1.6rem; margin: 2.4rem 0 .8rem; border-bottom: 1px solid var(--line); padding-bottom: .3rem; }
h3 { font-size: 1.25rem; margin: 1.6rem 0 .5rem; }
.subtitle { color: var(--muted); font-size: 1.1rem; margin: 0; }
nav.toc { background: var(--soft); padding: .6rem 1rem; border-radius: 6px; font-size: .95rem; }
nav.toc a { margin-right: 1.2rem; color: var(--better); text-decoration: none; }
dl.brief { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1.2rem; margin: 0; }
dl.brief dt { font-weight: 600; color: var(--muted); }
dl.brief dd { margin: 0; }
pre.header { background: var(--soft); padding: .8rem 1rem; border-radius: 6px; white-space: pre-wrap;
             font-size: .9rem; }
.tags { display: flex; flex-wrap: wrap; gap: .4rem; margin: .5rem 0; }
.tag { display: inline-block; border: 1px solid var(--line); border-radius: 999px; padding: .15rem .7rem;
       background: var(--soft); font-size: .9rem; }
.tag b { color: var(--better); }
section#findings ul { padding-left: 1.3rem; }
section#findings li { margin: .45rem 0; }
section#findings > ul > li { font-weight: 500; }
section#findings li ul { font-weight: normal; margin-top: .2rem; }
section#findings li.note, section#findings li.no_difference { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: .6rem 0 1rem; font-size: .95rem; }
th, td { border-bottom: 1px solid var(--line); padding: .45rem .6rem; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
thead th { background: var(--soft); position: sticky; top: 0; }
tbody tr:nth-child(even) { background: #fafafa; }
td .ci { display: block; color: var(--muted); font-size: .8rem; }
td.better { color: var(--better); font-weight: 600; }
td.worse { color: var(--worse); font-weight: 600; }
td .mark { font-size: .85rem; }
td.metric .dir { display: block; color: var(--muted); font-size: .78rem; font-weight: normal; }
.legend { color: var(--muted); font-size: .9rem; }
figure { margin: 1.4rem 0 2rem; }
figure img { max-width: 100%; height: auto; display: block; border: 1px solid var(--line); border-radius: 4px; }
figcaption { color: var(--muted); font-size: .95rem; margin-top: .4rem; }
figcaption b { color: var(--fg); }
details { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .9rem; margin: .6rem 0; }
details summary { cursor: pointer; font-weight: 600; }
ol.story { list-style: none; padding-left: 0; margin: .5rem 0; font-size: .95rem; }
ol.story li { padding: .15rem 0 .15rem .5rem; border-left: 4px solid transparent; }
ol.story li.major { border-left-color: var(--worse); }
ol.story li.defence { border-left-color: var(--better); }
ol.story time { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; color: var(--muted);
                margin-right: .6rem; }
.knobs td, .knobs th { text-align: left; }
.note { color: var(--muted); font-style: italic; }
footer { margin-top: 3rem; color: var(--muted); font-size: .85rem; }
@media print { nav.toc { display: none; } figure { break-inside: avoid; } }
"""

DEFENCE_KINDS = frozenset({"detect", "revoke", "propagated", "expired", "quarantine", "release", "give_up"})


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _table(content: ReportContent) -> str:
    head = "".join(f"<th scope='col'>{_e(s)}{' <small>(baseline)</small>' if s == content.baseline else ''}</th>"
                   for s in content.strategies)
    rows = []
    for metric, name, direction, cells in content.table:
        tds = []
        for cell in cells:
            mark = {"better": " <span class='mark'>▲ better</span>", "worse": " <span class='mark'>▼ worse</span>"
                    }.get(cell.verdict, "")
            interval = f"<span class='ci'>{_e(cell.interval)}</span>" if cell.interval else ""
            title = f" title='{_e(cell.diff)}'" if cell.diff else ""
            cls = f" class='{cell.verdict}'" if cell.verdict in ("better", "worse") else ""
            tds.append(f"<td{cls}{title}>{_e(cell.text)}{mark}{interval}</td>")
        rows.append(f"<tr id='metric-{_e(metric)}'><td class='metric'>{_e(name)}<span class='dir'>{_e(direction)}"
                    f"</span></td>{''.join(tds)}</tr>")
    return (f"<table class='results'><thead><tr><th scope='col'>metric</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _knobs(content: ReportContent) -> str:
    frame = content.knobs
    head = "".join(f"<th scope='col'>{_e(c)}</th>" for c in frame.columns)
    rows = "".join(f"<tr><td>{_e(str(k).replace('_', ' '))}</td>"
                   + "".join(f"<td>{_e(v)}</td>" for v in frame.loc[k]) + "</tr>" for k in frame.index)
    descriptions = frame.attrs.get("descriptions", {})
    notes = "".join(f"<li><b>{_e(s)}</b>: {_e(d)}</li>" for s, d in descriptions.items() if d)
    return (f"<table class='knobs'><thead><tr><th scope='col'>knob</th>{head}</tr></thead><tbody>{rows}</tbody>"
            f"</table>" + (f"<ul>{notes}</ul>" if notes else ""))


def _story(story) -> str:
    items = []
    for t, text, kind in story:
        cls = "defence" if kind in DEFENCE_KINDS else ("major" if kind in MAJOR else "")
        items.append(f"<li class='{cls} {_e(kind)}'><time>{_e(clock(t))}</time>{_e(text)}</li>")
    return f"<ol class='story'>{''.join(items)}</ol>"


def render_html(content: ReportContent, dpi: int = 100) -> str:
    """The report as one HTML page (figures drawn and embedded now)."""
    from nhisim._version import __version__

    sc = content.scenario
    parts = [
        "<!DOCTYPE html>", "<html lang='en'>", "<head>", "<meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<link rel='icon' href='data:,'>",
        f"<meta name='generator' content='nhisim {_e(__version__)}'>",
        f"<title>{_e(content.title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>", "<main>",
        "<header class='top'>", f"<h1>{_e(content.title)}</h1>",
        f"<p class='subtitle'>{_e(sc.name)} · strategies {_e(', '.join(content.strategies))} · baseline "
        f"{_e(content.baseline)}</p>", "</header>",
        "<nav class='toc'><a href='#scenario'>Scenario</a><a href='#findings'>Key findings</a>"
        "<a href='#results'>Results</a><a href='#figures'>Figures</a>"
        + ("<a href='#replay'>Replay</a>" if content.replays else "") + "<a href='#method'>Method</a></nav>",
        "<section id='scenario'><h2>Scenario</h2><dl class='brief'>",
    ]
    parts += [f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in content.brief]
    parts.append("</dl>")
    if content.header_comment:
        parts.append(f"<pre class='header'>{_e(content.header_comment)}</pre>")
    if content.threats:
        parts.append("<h3>Threats</h3><ul>" + "".join(
            f"<li><b>{_e(tid)}</b> ({_e(kind)}){': ' + _e(text) if text else ''}</li>"
            for tid, kind, text in content.threats) + "</ul>")
    parts.append("<h3>Threat tags</h3>")
    if content.tags:
        parts.append("<div class='tags'>" + "".join(
            f"<span class='tag' title='{_e(framework)}'>{_e(framework)} <b>{_e(tag)}</b>"
            f"{' — ' + _e(title) if title else ''}</span>" for framework, tag, title in content.tags) + "</div>")
    else:
        parts.append("<p class='note'>This scenario names no threat tags.</p>")
    parts.append("</section>")

    parts.append("<section id='findings'><h2>Key findings</h2><ul>")
    for head, details in grouped(content.findings):
        sub = "".join(f"<li class='{_e(f.kind)}'>{_e(f.text)}</li>" for f in details)
        parts.append(f"<li class='{_e(head.kind)}'>{_e(head.text)}{'<ul>' + sub + '</ul>' if sub else ''}</li>")
    parts.append("</ul></section>")

    parts.append("<section id='results'><h2>Results</h2>"
                 "<p class='legend'>Mean over replications, with its 95% confidence interval below it. "
                 f"▲ better / ▼ worse: the paired difference against the baseline {_e(content.baseline)} is "
                 "significant at 95% (hover a cell for the difference and its interval). n/a: no run had a "
                 "meaningful value (e.g. no compromise).</p>")
    parts.append(_table(content))
    parts.append("</section>")

    parts.append("<section id='figures'><h2>Figures</h2>")
    for note in content.notes:
        parts.append(f"<p class='note'>{_e(note)}</p>")
    for spec in content.figures:
        fig = spec.draw()
        data = png_data_uri(figure_png(fig, dpi))
        width, height = (int(round(v * dpi)) for v in fig.get_size_inches())
        parts.append(f"<figure id='fig-{_e(spec.name)}'><img src='{data}' "
                     f"width='{width}' height='{height}' alt='{_e(spec.title)}: {_e(spec.caption)}'>"
                     f"<figcaption><b>{_e(spec.title)}.</b> {_e(spec.caption)}</figcaption></figure>")
        fig.clear()
    parts.append("</section>")

    if content.replays:
        parts.append(f"<section id='replay'><h2>Replay (replication {content.replay_replication})</h2>"
                     "<p class='legend'>The same run under each strategy, told at its key moments (the first "
                     "time the attacker tries each operation; repeats are counted). "
                     "<code>nhisim replay FILE --strategy S --narrate</code> tells it in a terminal.</p>")
        for i, (strategy, story) in enumerate(content.replays.items()):
            open_ = " open" if i == 0 else ""
            parts.append(f"<details{open_}><summary>{_e(strategy)} ({len(story)} moments)</summary>"
                         f"{_story(story)}</details>")
        parts.append("</section>")

    parts.append("<section id='method'><h2>Method</h2><dl class='brief'>")
    parts += [f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in content.method]
    parts.append("</dl><h3>Strategies' knobs</h3>")
    parts.append(_knobs(content))
    parts.append("</section>")
    parts.append(f"<footer>Made by nhisim {_e(__version__)}: a discrete-event laboratory for the identities "
                 "of AI agents. This page is self-contained: it loads nothing from the network.</footer>")
    parts += ["</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def write_report(comparison, path: str | os.PathLike, format: str | None = None,
                 scenario_file: str | os.PathLike | None = None, title: str | None = None, dpi: int = 100,
                 replication: int = 0, figures: Sequence[str] | None = None, embed: bool = False) -> Path:
    """Write the report of ``comparison`` to ``path`` and return the path written.

    ``format`` is ``"html"`` (one self-contained page) or ``"md"`` (Markdown, figures as
    PNG files in a folder beside it); default: from the suffix of ``path``, else html. A
    folder as ``path`` gets ``report.html`` (or ``report.md``) inside it.
    ``scenario_file`` adds the scenario file's header comment (what it shows, what to
    expect); ``replication`` picks the run drawn in the timelines, graph and replay;
    ``figures`` keeps only the figures so named (``comparison``, ``exposure_cdf``,
    ``tradeoff``, ``delegation_reach``, ``timeline`` or ``timeline_<strategy>``). ``embed``
    puts a Markdown report's figures inside it as ``data:`` URIs instead of files beside it.
    """
    format = report_format(path, format)
    target = report_target(path, format)
    content = build_content(comparison, scenario_file=scenario_file, title=title, replication=replication,
                            figures=figures)
    if format == "md":
        return write_markdown(content, target, dpi=dpi, embed=embed)
    write_whole(target, render_html(content, dpi=dpi))
    return target


__all__ = ["FORMATS", "figure_png", "render_html", "write_report"]
