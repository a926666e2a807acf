"""What a report says, independent of its format (HTML or Markdown).

:func:`build_content` gathers, from a :class:`~nhisim.experiments.Comparison`: the
scenario in brief and its threat tags, the results table (every metric, mean and CI,
significance against the baseline), the figures (as callables, so a format renders
them its own way), the key findings, a narrated replay of one replication per strategy,
and method notes (seeds, replications, baseline, versions, every strategy's knobs).
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from nhisim import vocabulary
from nhisim.errors import shown
from nhisim.metrics import METRIC_COLUMNS
from nhisim.reports.findings import Finding, key_findings
from nhisim.reports.format import HEADLINE, fmt, label
from nhisim.scenario.units import format_duration

FRAMEWORK_NAMES = {"maestro": "MAESTRO", "owasp_agentic": "OWASP Agentic T&M", "owasp_asi": "OWASP ASI Top 10",
                   "owasp_nhi": "OWASP NHI Top 10"}
DURATION_KNOBS = ("ttl", "rotation", "cache_ttl", "identity_ttl")
DIRECTION_TEXT = {"lower": "lower is better", "higher": "higher is better", "neutral": "context: no better direction"}


@dataclass
class FigureSpec:
    """A figure of the report: a stable name, a caption, and how to draw it."""

    name: str
    title: str
    caption: str
    draw: Callable[[], Any]


@dataclass
class Cell:
    text: str
    interval: str = ""
    verdict: str = ""  # better | worse | same | ""
    diff: str = ""


@dataclass
class ReportContent:
    title: str
    scenario: Any
    brief: list[tuple[str, str]]
    header_comment: str
    threats: list[tuple[str, str, str]]
    tags: list[tuple[str, str, str]]  # framework label, id, title
    strategies: list[str]
    baseline: str
    table: list[tuple[str, str, str, list[Cell]]]  # metric, label, direction, cells
    figures: list[FigureSpec]
    findings: list[Finding]
    method: list[tuple[str, str]]
    knobs: pd.DataFrame
    replays: dict[str, list[tuple[float, str, str]]] = field(default_factory=dict)
    replay_replication: int = 0
    notes: list[str] = field(default_factory=list)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def header_comment(path: str | os.PathLike | None) -> str:
    """The comment block at the top of a scenario file (what it shows, what to expect)."""
    if path is None:
        return ""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            out.append(stripped[1:][1:] if stripped[1:2] == " " else stripped[1:])
        elif stripped == "" and out:
            out.append("")
        elif stripped == "":
            continue
        else:
            break
    return "\n".join(out).strip()


def _tag_rows(scenario) -> list[tuple[str, str, str]]:
    try:
        from nhisim.scenario.catalog import lookup
    except ImportError:  # pragma: no cover - the catalog is optional for reports
        lookup = None
    rows = []
    for framework, name in FRAMEWORK_NAMES.items():
        for tag in getattr(scenario.tags, framework, []) or []:
            title = ""
            if lookup is not None:
                try:
                    item = lookup(tag, framework)
                except Exception:  # a broken catalog must not break a report
                    item = None
                title = item.title if item is not None else ""
            rows.append((name, tag, title))
    return rows


def _threat_rows(scenario) -> list[tuple[str, str, str]]:
    rows = []
    for i, threat in enumerate(scenario.threats):
        tid = threat.id or f"{threat.kind}-{i}"
        details = []
        for key in ("principal", "agent", "account", "via", "deputy", "channel"):
            value = getattr(threat, key, None)
            if value:
                details.append(f"{key} {value}")
        text = threat.description or ", ".join(details)
        rows.append((tid, threat.kind.replace("_", " "), text))
    return rows


def strategy_knobs(comparison) -> pd.DataFrame:
    """Every knob of every compared strategy: one row per knob, one column per strategy, and one per
    control group of a mixed strategy (``name/override``, its description naming its principals)."""
    from nhisim.scenario.strategy import scenario_strategy

    columns = {}
    descriptions = {}
    for name in comparison.strategies:
        strategy = scenario_strategy(comparison.scenario, name)
        for group_name, (group, members) in strategy.groups().items():
            columns[group_name] = {k: _knob_text(k, v) for k, v in group.knobs().items()}
            who = f" (for {', '.join(members)})" if members else (" (everyone else)" if strategy.mixed else "")
            descriptions[group_name] = group.description + who
    frame = pd.DataFrame(columns)
    frame.index.name = "knob"
    frame.attrs["descriptions"] = descriptions
    return frame


def _knob_text(knob: str, value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if knob in DURATION_KNOBS and isinstance(value, (int, float)):
        return "never" if math.isinf(value) else format_duration(float(value))
    return str(value).replace("_", " ")


def results_table(comparison, metrics=None, level: float = 0.95) -> list[tuple[str, str, str, list[Cell]]]:
    """Every metric: mean, CI and the verdict of the paired difference against the baseline."""
    metrics = list(metrics or METRIC_COLUMNS)
    summary = comparison.summary(metrics, level=level).set_index(["strategy", "metric"])
    rows = []
    for metric in metrics:
        direction = vocabulary.direction(metric)
        cells = []
        for s in comparison.strategies:
            r = summary.loc[(s, metric)]
            lo, hi = r["ci_low"], r["ci_high"]
            if vocabulary.kind(metric) == "share" and not any(math.isnan(v) for v in (lo, hi)):
                lo, hi = max(lo, 0.0), min(hi, 1.0)
            interval = "" if (math.isnan(lo) or math.isnan(hi) or lo == hi) else f"{fmt(metric, lo)}–{fmt(metric, hi)}"
            diff = ""
            if s != comparison.baseline and not math.isnan(r["diff"]):
                diff = f"vs {comparison.baseline}: {'+' if r['diff'] > 0 else ''}{fmt(metric, r['diff'])}"
                if not (math.isnan(r["diff_ci_low"]) or r["diff_ci_low"] == r["diff_ci_high"]):
                    diff += f" (paired {level:.0%} CI {fmt(metric, r['diff_ci_low'])} to {fmt(metric, r['diff_ci_high'])})"
            verdict = r["better"] if s != comparison.baseline and direction != "neutral" else ""
            cells.append(Cell(fmt(metric, r["mean"]), interval, verdict, diff))
        rows.append((metric, label(metric), DIRECTION_TEXT[direction], cells))
    return rows


def utility_metric(runs: pd.DataFrame) -> str:
    """The utility metric a trade-off draws: legitimate requests denied, or task success when none were."""
    return "legit_denied" if (runs["legit_denied"] > 0).any() else "task_success_rate"


def security_metric(runs: pd.DataFrame) -> str:
    """The security metric a trade-off draws: blast radius, or, when nothing was compromised (no blast
    radius) but agents overreached, the overreach allowed."""
    if not runs["blast_radius"].notna().any() and (runs["overreach_attempts"] > 0).any():
        return "overreach_allowed"
    return "blast_radius"


def figure_specs(comparison, replication: int = 0) -> tuple[list[FigureSpec], list[str]]:
    """The figures of a comparison report (and notes on those left out)."""
    from nhisim.reports import figures as F

    specs = [
        FigureSpec("comparison", "Strategies compared", "Mean of each headline metric per strategy, with its 95% "
                   "confidence interval over paired replications (hatched bar: the baseline; * a paired "
                   "difference against it that is significant at 95%).",
                   lambda: F.strategy_comparison(comparison, HEADLINE)),
        FigureSpec("exposure_cdf", "Exposure window distribution", "Share of runs (with a compromise) whose "
                   "exposure window — compromise to the moment nothing the attacker holds still works — was at "
                   "most x. Log time axis; the dotted line is the simulated horizon (later values are projected "
                   "from the run's own draws).", lambda: F.exposure_cdf(comparison)),
    ]
    utility = utility_metric(comparison.runs)
    security = security_metric(comparison.runs)
    what = ("controls that cut the attacker's reach should not stop legitimate work" if security == "blast_radius"
            else "controls that stop agents acting beyond their tasks' intent should not stop the work they need")
    specs.append(FigureSpec("tradeoff", "Security vs utility", f"{label(security).capitalize()} against "
                            f"{label(utility)}: {what}. Bars are 95% confidence intervals.",
                            lambda: F.tradeoff(comparison, security, utility)))
    notes = []
    have = all((s, replication) in comparison.run_events for s in comparison.strategies)
    if have:
        specs.append(FigureSpec("delegation_reach", "Delegation graph and the attacker's reach",
                                f"Replication {replication} of each strategy: who may delegate to whom, what each "
                                "identity's roles reach (grey), and what the attacker reached (vermillion) or "
                                "tried and was denied (black ring).",
                                lambda: F.delegation_reach(comparison.scenario, comparison, replication)))
        for s in comparison.strategies:
            specs.append(FigureSpec(f"timeline_{s}", f"Attack timeline under {s}",
                                    f"Replication {replication} under {s}: each credential the attacker held, its "
                                    "lifetime, the part the attacker could use, its malicious requests, detection, "
                                    "revocation and propagation.",
                                    lambda s=s: F.attack_timeline(comparison.run_events[(s, replication)])))
    else:
        notes.append(f"The event logs of replication {replication} are not available, so the attack timelines and "
                     "the delegation graph with the attacker's reach are left out.")
    return specs, notes


def _versions() -> str:
    import matplotlib
    import numpy
    import simpy

    from nhisim._version import __version__

    return (f"nhisim {__version__}; Python {platform.python_version()}; numpy {numpy.__version__}; "
            f"pandas {pd.__version__}; SimPy {simpy.__version__}; matplotlib {matplotlib.__version__}")


def method_notes(comparison, level: float = 0.95) -> list[tuple[str, str]]:
    from nhisim.experiments.run import replication_seed

    seeds = [replication_seed(comparison.seed, r) for r in range(comparison.replications)]
    shown = ", ".join(str(s) for s in seeds[:12]) + (f", … ({len(seeds)} in all)" if len(seeds) > 12 else "")
    scenario = comparison.scenario
    return [
        ("replications", f"{comparison.replications} per strategy, paired: replication r runs every strategy with "
                         "the same seed (common random numbers), so every strategy sees the same task arrivals, "
                         "attack times and detection draws"),
        ("base seed", str(comparison.seed)),
        ("run seeds", shown),
        ("baseline", comparison.baseline),
        ("strategies", ", ".join(comparison.strategies)),
        ("horizon", f"{format_duration(float(scenario.run.horizon))} of simulated time per run"),
        ("intervals", f"{level:.0%} Student-t confidence interval of the mean over replications; differences "
                      "against the baseline are paired by replication, and called significant when their "
                      f"{level:.0%} interval excludes 0. A metric with no meaning in a run (no compromise) is "
                      "left out of its mean (n/a), never counted as 0."),
        ("versions", _versions()),
    ]


def build_content(comparison, scenario_file: str | os.PathLike | None = None, title: str | None = None,
                  replication: int = 0, level: float = 0.95, replay: bool = True,
                  figures: Sequence[str] | None = None) -> ReportContent:
    """Everything a report says about ``comparison``; ``figures`` keeps only the figures so named."""
    from nhisim.reports.narrate import narrate

    scenario = comparison.scenario
    brief = [("scenario", scenario.name)]
    if scenario.title:
        brief.append(("title", scenario.title))
    if scenario.description:
        brief.append(("description", scenario.description))
    if scenario_file is not None:
        brief.append(("file", shown(scenario_file)))
    brief.append(("estate", ", ".join(_count(len(items), what) for items, what in (
        (scenario.agents, "agent"), (scenario.humans, "human"), (scenario.shared_accounts, "shared account"),
        (scenario.tools, "tool"), (scenario.resources, "resource"), (scenario.roles, "role"),
        (scenario.tasks, "task template")))))
    brief.append(("detection", f"monitoring {scenario.detection.monitoring}"
                  + ("" if scenario.detection.enabled else " (disabled)")))
    specs, notes = figure_specs(comparison, replication)
    if figures is not None:
        wanted = set(figures)
        specs = [f for f in specs if f.name in wanted or f.name.split("_")[0] in wanted]
    replays = {}
    if replay:
        for s in comparison.strategies:
            events = comparison.run_events.get((s, replication))
            if events is not None:
                replays[s] = narrate(events, scenario, s)
    return ReportContent(
        title=title or f"nhisim report: {scenario.title or scenario.name}",
        scenario=scenario, brief=brief, header_comment=header_comment(scenario_file),
        threats=_threat_rows(scenario), tags=_tag_rows(scenario), strategies=list(comparison.strategies),
        baseline=comparison.baseline, table=results_table(comparison, level=level), figures=specs,
        findings=key_findings(comparison, level=level), method=method_notes(comparison, level),
        knobs=strategy_knobs(comparison), replays=replays, replay_replication=replication, notes=notes,
    )
