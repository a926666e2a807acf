"""Reports: tables, figures and documents made from experiment results (the last layer before the CLI).

- :mod:`nhisim.reports.figures`: matplotlib figures (strategy comparison, exposure CDF, attack
  timeline, delegation graph with the attacker's reach, sweep heat map, security/utility trade-off);
- :mod:`nhisim.reports.findings`: key findings as sentences with numbers and intervals;
- :mod:`nhisim.reports.narrate`: a run told at its key moments (``nhisim replay --narrate``);
- :mod:`nhisim.reports.html` / :mod:`nhisim.reports.markdown`: ``write_report(comparison, path)``
  (what both formats share is in :mod:`nhisim.reports.document`);
- :mod:`nhisim.reports.results`: results folders of ``nhisim compare --out`` read back.
"""

from __future__ import annotations

_LAZY = {
    "write_report": "nhisim.reports.html",
    "key_findings": "nhisim.reports.findings",
    "findings_text": "nhisim.reports.findings",
    "narrate": "nhisim.reports.narrate",
    "load_results": "nhisim.reports.results",
}


def __getattr__(name: str):  # matplotlib is only imported when a report is asked for
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nhisim.reports' has no attribute {name!r}")


__all__ = sorted(_LAZY)
