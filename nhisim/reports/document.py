"""What the HTML and the Markdown report share: their formats, where a report goes, figures as PNG.

:mod:`nhisim.reports.html` (which also writes Markdown through
:mod:`nhisim.reports.markdown`) and :mod:`nhisim.reports.markdown` both import this
module, and neither imports the other back.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

from nhisim.errors import InputError, did_you_mean

FORMATS = ("html", "md")


def figure_png(fig, dpi: int = 100) -> bytes:
    """A figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def png_data_uri(png: bytes) -> str:
    """PNG bytes as a ``data:`` URI: an image a page or a Markdown file holds itself."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def report_format(path: str | os.PathLike, format: str | None) -> str:
    """``html`` or ``md``: ``format`` if given (``markdown`` is ``md``), else from the suffix of ``path``, else html."""
    if format is None:
        suffix = Path(path).suffix.lower().lstrip(".")
        format = "md" if suffix in ("md", "markdown") else "html"
    format = format.lower()
    if format == "markdown":
        format = "md"
    if format not in FORMATS:
        raise InputError.single(f"unknown report format {format!r}", location="--format",
                                suggestion=did_you_mean(format, FORMATS, "formats"))
    return format


def report_target(path: str | os.PathLike, format: str) -> Path:
    """The file a report is written to: ``path``, or ``report.<format>`` inside it when it is a folder."""
    target = Path(path)
    if target.is_dir() or str(path).endswith(os.sep):
        target = target / f"report.{format}"
    return target


__all__ = ["FORMATS", "figure_png", "png_data_uri", "report_format", "report_target"]
