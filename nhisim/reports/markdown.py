"""A Markdown report of a comparison, with its figures saved beside it as PNG.

``write_report(comparison, "reports/leak.md")`` writes ``reports/leak.md`` and the folder
``reports/leak_files/`` holding one PNG per figure, linked by relative paths, so the pair
can be committed, rendered on a forge, or converted with pandoc. Same sections as the
HTML report; the key findings are under ``## Key findings``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from nhisim.errors import InputError
from nhisim.files import write_whole
from nhisim.reports.content import ReportContent, build_content
from nhisim.reports.document import figure_png, png_data_uri, report_format, report_target
from nhisim.reports.findings import grouped
from nhisim.reports.narrate import clock

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that can
# start a link or an image, emphasis, code, raw HTML, an entity, a table cell or a strike
# (lines here start with "- " or "# ", so line-start markers need nothing)
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~&])")


def literal(text: object) -> str:
    """Scenario text as literal Markdown on one line: what the author wrote, never markup or HTML."""
    return _MARKDOWN.sub(r"\\\1", " ".join(str(text).split()))


def code_span(text: object) -> str:
    """Text as an inline code span, shown exactly: inside one nothing is escaped (``&gt;`` would show
    as typed), so the span's backticks outnumber any run of backticks in the text."""
    text = " ".join(str(text).split())
    ticks = "`" * (_longest_backticks(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""  # CommonMark strips one space each side
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _longest_backticks(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text``, so the text cannot close it."""
    return "`" * max(3, _longest_backticks(text) + 1)


def render_markdown(content: ReportContent, figure_links: dict[str, str]) -> str:
    """The report as Markdown; ``figure_links`` maps a figure's name to its relative path."""
    from nhisim._version import __version__

    sc = content.scenario
    out = [f"# {literal(content.title)}", "",
           f"*{sc.name} · strategies {', '.join(content.strategies)} · baseline {content.baseline}*", "",
           "## Scenario", ""]
    out += [f"- **{k}**: {literal(v)}" for k, v in content.brief]
    out.append("")
    if content.header_comment:
        fence = _fence(content.header_comment)
        out += [f"{fence}text", content.header_comment, fence, ""]
    if content.threats:
        out += ["### Threats", ""]
        out += [f"- **{literal(tid)}** ({kind})" + (f": {literal(text)}" if text else "")
                for tid, kind, text in content.threats]
        out.append("")
    out += ["### Threat tags", ""]
    if content.tags:
        out += [f"- {framework} **{tag}**" + (f" — {title}" if title else "") for framework, tag, title in content.tags]
    else:
        out.append("This scenario names no threat tags.")
    out += ["", "## Key findings", ""]
    for head, details in grouped(content.findings):
        out.append(f"- {head.text}")
        out += [f"  - {f.text}" for f in details]
    out += ["", "## Results", "",
            f"Mean over replications with its 95% confidence interval. ▲ better / ▼ worse: the paired difference "
            f"against the baseline {content.baseline} is significant at 95%; n/a: no run had a meaningful value.", ""]
    header = ["metric"] + [s + (" (baseline)" if s == content.baseline else "") for s in content.strategies]
    out.append("| " + " | ".join(_cell(h) for h in header) + " |")
    out.append("|" + "---|" + "---:|" * len(content.strategies))
    for _metric, name, direction, cells in content.table:
        row = [f"{name} ({direction})"]
        for cell in cells:
            text = cell.text + {"better": " ▲", "worse": " ▼"}.get(cell.verdict, "")
            if cell.interval:
                text += f" ({cell.interval})"
            row.append(text)
        out.append("| " + " | ".join(_cell(c) for c in row) + " |")
    out += ["", "## Figures", ""]
    out += [f"*{note}*" for note in content.notes]
    for spec in content.figures:
        link = figure_links.get(spec.name)
        if link:
            out += [f"### {spec.title}", "", f"![{spec.title}]({link})", "", spec.caption, ""]
    if content.replays:
        out += [f"## Replay (replication {content.replay_replication})", ""]
        for strategy, story in content.replays.items():
            out += [f"### {strategy}", ""]
            out += [f"- `{clock(t)}` {literal(text)}" for t, text, _ in story]
            out.append("")
    out += ["## Method", ""]
    out += [f"- **{k}**: {v}" for k, v in content.method]
    out += ["", "### Strategies' knobs", ""]
    frame = content.knobs
    out.append("| knob | " + " | ".join(_cell(c) for c in frame.columns) + " |")
    out.append("|---|" + "---|" * len(frame.columns))
    for knob in frame.index:
        out.append(f"| {_cell(str(knob).replace('_', ' '))} | " + " | ".join(_cell(v) for v in frame.loc[knob]) + " |")
    descriptions = {s: d for s, d in frame.attrs.get("descriptions", {}).items() if d}
    if descriptions:
        out.append("")
        out += [f"- **{s}**: {literal(d)}" for s, d in descriptions.items()]
    out += ["", f"*Made by nhisim {__version__}.*", ""]
    return "\n".join(out)


def figure_links(figures: Sequence, target: Path, dpi: int = 100, embed: bool = False) -> dict[str, str]:
    """Draw each figure as PNG and return its link by name: a file in ``<stem>_files/`` beside
    ``target`` (a relative link), or with ``embed`` the image itself as a ``data:`` URI (one
    self-contained document, e.g. on standard output)."""
    folder = target.with_name(f"{target.stem}_files")
    links = {}
    for spec in figures:
        fig = spec.draw()
        png = figure_png(fig, dpi)
        fig.clear()
        if embed:
            links[spec.name] = png_data_uri(png)
            continue
        file = folder / f"{spec.name}.png"
        write_whole(file, png)  # its folder made as needed
        # a link is a URL: a name with spaces, brackets or undecodable bytes, percent-encoded
        links[spec.name] = quote(os.fsencode(f"{folder.name}/{file.name}"))
    return links


def write_markdown(content: ReportContent, path: str | os.PathLike, dpi: int = 100, embed: bool = False) -> Path:
    """Write ``path`` (Markdown) and ``<stem>_files/<figure>.png`` beside it (or the figures
    embedded, see :func:`figure_links`); return ``path``."""
    target = Path(path)
    write_whole(target, render_markdown(content, figure_links(content.figures, target, dpi, embed)))
    return target


def write_report(comparison, path: str | os.PathLike, format: str = "md",
                 scenario_file: str | os.PathLike | None = None, title: str | None = None, dpi: int = 100,
                 replication: int = 0, figures: Sequence[str] | None = None) -> Path:
    """The Markdown report of ``comparison`` (see :func:`nhisim.reports.html.write_report`, which writes either format).

    Only Markdown: writing HTML from here would make this module import the HTML one,
    which imports this one to write Markdown.
    """
    if report_format(path, format) != "md":
        raise InputError.single(f"nhisim.reports.markdown writes Markdown, not {format!r}", location="format",
                                suggestion="use nhisim.reports.html.write_report for an HTML report")
    content = build_content(comparison, scenario_file=scenario_file, title=title, replication=replication,
                            figures=figures)
    return write_markdown(content, report_target(path, "md"), dpi=dpi)


__all__ = ["code_span", "figure_links", "literal", "render_markdown", "write_markdown", "write_report"]
