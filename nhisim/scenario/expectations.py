"""Self-check claims a scenario makes about its own results (``expectations:``).

Grammar (one claim per string; strategies are names from the scenario's ``strategies``,
metrics are the result columns of :mod:`nhisim.vocabulary`)::

    claim       := comparison | threshold
    comparison  := STRATEGY OP STRATEGY "on" METRIC        e.g.  intent < rbac on blast_radius
    threshold   := STRATEGIES METRIC OP VALUE              e.g.  zsp exposure_window_s <= 15m
    STRATEGIES  := STRATEGY ("," STRATEGY)*                e.g.  zsp,intent legit_denied == 0
    OP          := "<" | "<=" | ">" | ">=" | "=="
    VALUE       := a number (1200, 0.5, inf), a duration for *_s metrics (15m, 2h),
                   or a percentage for shares (95%)

What each claim means and how it is tested over paired seeds is documented in
:mod:`nhisim.experiments.check`. Parsing happens when a scenario is validated, so a
malformed claim is reported like any other error: file, line, what is wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from nhisim import vocabulary
from nhisim.errors import did_you_mean
from nhisim.scenario.units import parse_duration

#: the result columns, in order (``nhisim.metrics.METRIC_COLUMNS`` is this tuple)
METRIC_NAMES = vocabulary.NAMES
SHARE_METRICS = tuple(name for name in METRIC_NAMES if vocabulary.kind(name) == "share")
OPS = ("<", "<=", ">", ">=", "==")

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_OP = r"<=|>=|==|!=|=<|=>|<|>|="
_COMPARISON = re.compile(rf"^\s*(?P<a>{_NAME})\s*(?P<op>{_OP})\s*(?P<b>{_NAME})\s+on\s+(?P<metric>\S+)\s*$")
_THRESHOLD = re.compile(
    rf"^\s*(?P<s>{_NAME}(?:\s*,\s*{_NAME})*)\s+(?P<metric>[A-Za-z0-9_]+)\s*(?P<op>{_OP})\s*(?P<value>\S+)\s*$")
_OP_FIX = {"=": "==", "=<": "<=", "=>": ">="}


class ClaimError(ValueError):
    """A claim that does not parse, or names an unknown strategy or metric."""

    def __init__(self, message: str, suggestion: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.suggestion = suggestion


@dataclass(frozen=True)
class Claim:
    """One parsed expectation."""

    text: str
    kind: str  # "comparison" | "threshold"
    op: str
    metric: str
    strategies: tuple[str, ...]  # comparison: (left,); threshold: the strategies it is about
    other: str | None = None  # comparison: the right-hand strategy
    value: float | None = None  # threshold: the bound, in the metric's unit (seconds, share, count)

    @property
    def involved(self) -> tuple[str, ...]:
        return self.strategies + ((self.other,) if self.other else ())


def parse_value(metric: str, raw: str) -> float:
    """A threshold in the metric's unit: seconds for durations, a share for shares, else a number."""
    text = raw.strip()
    if vocabulary.kind(metric) == "seconds":
        try:
            return parse_duration(text)
        except ValueError:
            raise ClaimError(f"{raw!r} is not a duration", "write e.g. 15m, 2h, 30s or a number of seconds") from None
    if text.endswith("%"):
        if metric not in SHARE_METRICS:
            raise ClaimError(f"a percentage makes no sense for {metric}", f"percentages fit {', '.join(SHARE_METRICS)}")
        try:
            return float(text[:-1]) / 100.0
        except ValueError:
            raise ClaimError(f"{raw!r} is not a percentage", "write e.g. 95%") from None
    if text.lower() in ("inf", "infinity", "never"):
        return math.inf
    try:
        return float(text)
    except ValueError:
        hint = "durations such as 15m only fit time metrics (*_s)" if re.match(r"^\d", text) else "write a number"
        raise ClaimError(f"{raw!r} is not a number", hint) from None


def parse_claim(text: str, strategies: Iterable[str] | None = None) -> Claim:
    """Parse one expectation; with ``strategies``, also check the names it uses."""
    if not isinstance(text, str) or not text.strip():
        raise ClaimError("an empty expectation", "write e.g. 'intent < rbac on blast_radius'")
    known = list(strategies) if strategies is not None else None
    match = _COMPARISON.match(text)
    if match:
        op = _check_op(match["op"])
        claim = Claim(text, "comparison", op, _check_metric(match["metric"]), (match["a"],), other=match["b"])
        if claim.strategies[0] == claim.other:
            raise ClaimError(f"compares {claim.other!r} with itself", "compare two different strategies")
    else:
        match = _THRESHOLD.match(text)
        if not match:
            raise ClaimError(
                f"cannot parse expectation {text!r}",
                "write 'A < B on METRIC' (compare two strategies) or 'STRATEGY METRIC <= VALUE' (a bound)")
        op = _check_op(match["op"])
        metric = _check_metric(match["metric"])
        names = tuple(s.strip() for s in match["s"].split(","))
        claim = Claim(text, "threshold", op, metric, names, value=parse_value(metric, match["value"]))
    if known is not None:
        for name in claim.involved:
            if name not in known:
                raise ClaimError(f"unknown strategy {name!r} in expectation",
                                 did_you_mean(name, known, "strategies of this scenario"))
    return claim


def _check_op(op: str) -> str:
    if op == "!=":
        raise ClaimError("'!=' is not supported", "claim a direction with < or >, or equality with ==")
    if op in _OP_FIX:
        raise ClaimError(f"unknown operator {op!r}", f"did you mean {_OP_FIX[op]!r}?")
    return op


def _check_metric(metric: str) -> str:
    if metric not in METRIC_NAMES:
        raise ClaimError(f"unknown metric {metric!r}", did_you_mean(metric, METRIC_NAMES, "metrics"))
    return metric
