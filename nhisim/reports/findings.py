"""Key findings of a comparison, as sentences with numbers and intervals.

Every sentence is computed from :meth:`Comparison.summary`, and claims only what the
data supports: a strategy "cuts" or "raises" a metric against the baseline only when
the paired confidence interval of the difference excludes zero; otherwise the sentence
says there is no significant difference, and shows the interval. A metric that has no
meaning in any run (no compromise) is said to be undefined, never zero. With a single
replication there is no interval and no claim of significance.

>>> for finding in key_findings(comparison):
...     print(finding.text)
Exposure window: under rbac the attacker's access stayed usable for 1.6 d (95% CI 14.7 h–2.6 d); ...
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from nhisim import vocabulary
from nhisim.reports.format import fmt, label

# the order findings are told in, and how each metric reads in a sentence
SECURITY = ("exposure_window_s", "blast_radius", "records_exposed", "malicious_allowed", "time_to_detect_s",
            "time_to_revoke_s", "time_weighted_exposure")
UTILITY = ("task_success_rate", "legit_denied", "collateral_denials", "approval_wait_s", "overreach_allowed",
           "attribution")
DEFAULT_METRICS = SECURITY[:4] + ("time_to_revoke_s",) + UTILITY

PHRASES = {
    "exposure_window_s": "the attacker's access stayed usable for {v}",
    "blast_radius": "the attacker's realised blast radius was {v}",
    "records_exposed": "{v} records were exposed",
    "malicious_allowed": "{v} malicious requests were allowed",
    "time_to_detect_s": "the compromise was detected after {v}",
    "time_to_revoke_s": "revocation took effect everywhere {v} after detection",
    "time_weighted_exposure": "the time-weighted exposure was {v} (value × s)",
    "task_success_rate": "{v} of tasks succeeded",
    "legit_denied": "{v} legitimate requests were denied",
    "collateral_denials": "{v} legitimate requests failed because of the response to the attack (collateral)",
    "approval_wait_s": "legitimate work waited {v} for human approval",
    "overreach_allowed": "{v} out-of-intent (overreach) attempts were allowed",
    "attribution": "{v} of malicious actions were attributable to one agent, task and human",
}
SECURITY_SET = set(SECURITY)


@dataclass(frozen=True)
class Finding:
    """One key finding: the sentence and what it is about."""

    text: str
    metric: str
    kind: str  # headline | difference | utility | no_difference | note
    strategies: tuple[str, ...] = ()


def _nan(v: float) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _ci_text(metric: str, mean: float, lo: float, hi: float, level: float, paired: bool = False) -> str:
    """``1.6 d (95% CI 14.7 h–2.6 d)``; just the value when there is no interval."""
    text = fmt(metric, mean)
    if _nan(lo) or _nan(hi) or not (math.isfinite(lo) and math.isfinite(hi)) or lo == hi:
        return text
    if vocabulary.kind(metric) == "share":
        lo, hi = max(lo, 0.0), min(hi, 1.0) if not paired else hi
    kind = "paired " if paired else ""
    return f"{text} ({kind}{level:.0%} CI {fmt(metric, lo)}–{fmt(metric, hi)})"


def _value_sentence(metric: str, row: pd.Series, level: float) -> str:
    if _nan(row["mean"]):
        return "undefined (no compromise)"
    return _ci_text(metric, row["mean"], row["ci_low"], row["ci_high"], level)


def _magnitude(metric: str, diff: float, lo: float, hi: float, level: float) -> str:
    """``by 1.6 d (paired 95% CI 14.7 h–2.6 d)`` with the sign folded into the verb."""
    a, b = sorted((abs(lo), abs(hi)))
    if vocabulary.kind(metric) == "share":
        text = f"by {abs(diff) * 100:.0f} percentage points"
        if math.isfinite(a) and math.isfinite(b) and a != b:
            text += f" (paired {level:.0%} CI {a * 100:.0f}–{b * 100:.0f})"
    else:
        text = f"by {fmt(metric, abs(diff))}"
        if math.isfinite(a) and math.isfinite(b) and a != b:
            text += f" (paired {level:.0%} CI {fmt(metric, a)}–{fmt(metric, b)})"
    if a == b and math.isfinite(a):
        text += " in every replication"
    return text


def _and(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def key_findings(comparison, metrics: Sequence[str] | None = None, level: float = 0.95) -> list[Finding]:
    """The key findings of ``comparison``, most important first."""
    metrics = list(metrics or DEFAULT_METRICS)
    summary = comparison.summary(metrics, level=level)
    strategies = list(comparison.strategies)
    base = comparison.baseline
    n_reps = comparison.replications
    out: list[Finding] = []
    quiet: list[str] = []

    for metric in metrics:
        rows = summary[summary["metric"] == metric].set_index("strategy").reindex(strategies)
        means = rows["mean"].astype(float)
        if means.isna().all():
            if metric in SECURITY_SET:
                out.append(Finding(f"{label(metric).capitalize()}: undefined under every strategy — no run had a "
                                   "compromise.", metric, "note"))
            continue
        verdicts = {s: ("" if vocabulary.direction(metric) == "neutral" else rows.loc[s, "better"]) for s in strategies if s != base}
        differs = [s for s, v in verdicts.items() if v in ("better", "worse")]
        finite_means = means.dropna()
        all_equal = finite_means.nunique() <= 1 and len(finite_means) == len(strategies)
        if not differs and all_equal and metric not in ("exposure_window_s", "blast_radius"):
            quiet.append(f"{label(metric)} ({fmt(metric, float(finite_means.iloc[0]))} under every strategy)")
            continue
        if metric in SECURITY_SET or differs:
            phrase = PHRASES.get(metric, label(metric) + " was {v}")
            parts = []
            for i, s in enumerate(strategies):
                value = _value_sentence(metric, rows.loc[s], level)
                if i == 0:
                    parts.append(f"under {s} " + phrase.format(v=value))
                else:
                    parts.append(f"under {s} {value}")
            kind = "headline" if metric in SECURITY_SET else "utility"
            out.append(Finding(f"{label(metric).capitalize()}: " + "; ".join(parts) + ".", metric, kind,
                               tuple(strategies)))
        if n_reps < 2:
            continue
        claims, same = [], []
        for s in strategies:
            if s == base:
                continue
            r = rows.loc[s]
            verdict = verdicts[s]
            if verdict in ("better", "worse"):
                lower = r["diff"] < 0
                verb = "cuts" if lower else "raises"
                judgement = "better" if verdict == "better" else "worse"
                claims.append(f"{s} {verb} it {_magnitude(metric, r['diff'], r['diff_ci_low'], r['diff_ci_high'], level)}"
                              f" ({judgement})")
            elif verdict == "same":
                same.append(s)
        if claims:
            text = f"Against the baseline {base}, on {label(metric)}: " + "; ".join(claims)
            if same:
                text += f"; {_and(same)} show{'s' if len(same) == 1 else ''} no significant difference"
            out.append(Finding(text + ".", metric, "difference", tuple(differs)))
        elif same and metric in SECURITY_SET:
            out.append(Finding(f"On {label(metric)}, no strategy differs significantly from {base} "
                               f"({level:.0%} paired CI of every difference includes 0).", metric, "no_difference",
                               tuple(same)))
    if quiet:
        out.append(Finding("No difference between strategies on " + "; ".join(quiet) + ".", "", "no_difference"))
    if n_reps < 2:
        out.append(Finding(f"Only {n_reps} replication: no confidence interval, so no difference is claimed "
                           "significant. Run more replications.", "", "note"))
    out.extend(_best(comparison, summary, level))
    return out


def _best(comparison, summary: pd.DataFrame, level: float) -> list[Finding]:
    """One sentence on the strategy that does best on blast radius and exposure window, if it is clear."""
    out = []
    for metric in ("blast_radius", "exposure_window_s"):
        rows = summary[summary["metric"] == metric].set_index("strategy").reindex(comparison.strategies)
        if rows["mean"].isna().all() or vocabulary.direction(metric) != "lower":
            continue
        best = rows["mean"].astype(float).idxmin()
        if best == comparison.baseline or rows.loc[best, "better"] != "better":
            continue
        ties = [s for s in comparison.strategies if rows.loc[s, "mean"] == rows.loc[best, "mean"]]
        who = _and(ties)
        out.append(Finding(f"Lowest {label(metric)}: {who} ({fmt(metric, rows.loc[best, 'mean'])}), significantly "
                           f"below the baseline {comparison.baseline} at {level:.0%}.", metric, "headline",
                           tuple(ties)))
    return out


def grouped(findings: Sequence[Finding]) -> list[tuple[Finding, list[Finding]]]:
    """Each metric's headline with the findings that qualify it (its differences against the baseline)."""
    out: list[tuple[Finding, list[Finding]]] = []
    for f in findings:
        if out and f.metric and f.metric == out[-1][0].metric and f.kind in ("difference", "no_difference"):
            out[-1][1].append(f)
        else:
            out.append((f, []))
    return out


def findings_text(comparison, metrics: Sequence[str] | None = None, level: float = 0.95) -> list[str]:
    """The key findings as plain sentences."""
    return [f.text for f in key_findings(comparison, metrics, level)]


__all__ = ["Finding", "findings_text", "grouped", "key_findings"]
