"""Units of the scenario language: durations, rates, probabilities, distributions.

Every quantity is stored in SI base units so the engine never parses text:

- a **duration** is seconds (``float``); written ``15m``, ``2h``, ``90d``, ``500ms``,
  ``1w``, a bare number of seconds, or ``never`` / ``inf`` for no end;
- a **rate** is events per second; written ``12/h``, ``1/min``, ``0.5/d`` (a bare
  number is per second);
- a **distribution** is a small typed object with a ``sample(rng)`` method, its inverse
  CDF (``quantile(u)`` for one uniform number, ``quantiles(u)`` for an array: what the
  workload's block draws use) and a ``mean`` property. Written as a duration (fixed), or
  one of::

      {fixed: 30s}
      {exponential: 30s}                    # mean
      {uniform: [10s, 1m]}
      {lognormal: {median: 2h, sigma: 1.0}}
      {empirical: [10s, 20s, 1m]}           # equally likely values
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from random import Random
from statistics import NormalDist
from typing import Annotated, Any

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
)

_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}
_DURATION_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|sec|s|min|m|h|d|w)?\s*$")
_RATE_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*(ms|sec|s|min|m|h|d|w)\s*$")
_INFINITE_WORDS = {"never", "inf", "infinite", "forever"}
# the longest finite duration: about 31 million years, far past any horizon; longer is a
# typo or an attempt to say "never", which has its own word
MAX_SECONDS = 1e15
# the fastest rate: a million events a second is already far past what one run can simulate
MAX_RATE = 1e6


def _number(text: str, value: Any) -> float:
    """``float(text)``, with the overflow of a huge number told as bad input."""
    try:
        number = float(text)
    except OverflowError:
        raise ValueError(f"{value!r} is too large a number") from None
    return number


def parse_duration(value: Any) -> float:
    """Return a duration in seconds from ``15m``, ``2h``, ``90d``, a number, or ``never``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 15m or 2h, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = _number(value, value)
    elif isinstance(value, str):
        if value.strip().lower() in _INFINITE_WORDS:
            return math.inf
        match = _DURATION_RE.match(value)
        if not match:
            raise ValueError(
                f"{value!r} is not a duration; write a number and a unit, e.g. 30s, 15m, 2h, 90d"
            )
        seconds = _number(match.group(1), value) * _UNIT_SECONDS[match.group(2) or "s"]
    else:
        raise ValueError(f"expected a duration such as 15m or 2h, got {value!r}")
    if seconds < 0 or math.isnan(seconds):
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    if math.isinf(seconds):
        return seconds  # YAML's .inf: the same as never
    if seconds > MAX_SECONDS:
        raise ValueError(f"{value!r} is over the longest duration, {MAX_SECONDS:g} s; write never for no end")
    return seconds


def parse_rate(value: Any) -> float:
    """Return a rate in events per second from ``12/h``, ``1/min``, ``3/2h`` or a number."""
    if isinstance(value, bool):
        raise ValueError(f"expected a rate such as 12/h, got {value!r}")
    if isinstance(value, (int, float)):
        rate = _number(value, value)
    elif isinstance(value, str):
        match = _RATE_RE.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a rate; write events per unit, e.g. 12/h, 1/min, 0.5/d")
        per = _number(match.group(2) or 1.0, value) * _UNIT_SECONDS[match.group(3)]
        if per == 0:
            raise ValueError(f"{value!r} is per no time at all; write a period above zero, e.g. 1/h or 3/2h")
        rate = _number(match.group(1), value) / per
    else:
        raise ValueError(f"expected a rate such as 12/h, got {value!r}")
    if rate < 0 or math.isnan(rate):
        raise ValueError(f"a rate cannot be negative, got {value!r}")
    if rate > MAX_RATE:  # inf included
        raise ValueError(f"{value!r} is over the fastest rate, {MAX_RATE:g} events per second")
    return rate


def format_duration(seconds: float) -> str:
    """Short human form of a duration: ``0 s``, ``45 s``, ``12.5 min``, ``3.2 h``, ``9.2 d``."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "n/a"
    if math.isinf(seconds):
        return "never"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def format_quantity(value: Any, unit: str = "") -> str:
    """A swept or set value as a person reads it: a duration (``unit="duration"``, seconds) as
    :func:`format_duration` writes it, a rate (``"rate"``, per second) per hour, a number to 4
    significant digits, anything else as it is."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if math.isnan(value):
        return "n/a"
    if unit == "duration":
        return format_duration(float(value))
    if unit == "rate":
        return f"{float(value) * 3600:.3g}/h"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _duration_json(description: str) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "number", "minimum": 0},
            {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|sec|s|min|m|h|d|w)?\s*$|^(never|inf|infinite|forever)$"},
        ],
        "description": description,
    }


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda v: "never" if math.isinf(v) else v, return_type=Any),
    WithJsonSchema(_duration_json("a duration: seconds, or text such as 30s, 15m, 2h, 90d, never")),
]

def _positive(seconds: float) -> float:
    if seconds <= 0:
        raise ValueError("must be longer than zero (a period of 0 would repeat for ever at one instant)")
    return seconds


# a period the engine repeats (a rotation, a renewal, a retry) or the length of a run
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
Rate = Annotated[
    float,
    BeforeValidator(parse_rate),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*/\s*(\d+(\.\d+)?)?\s*(ms|sec|s|min|m|h|d|w)\s*$"},
            ],
            "description": "a rate: events per second, or text such as 12/h, 1/min, 0.5/d",
        }
    ),
]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


_STANDARD_NORMAL = NormalDist()


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def sampler(self) -> Callable[[Random], float]:
        """A plain function drawing from this distribution: what a hot loop calls, once built."""
        raise NotImplementedError

    def sample(self, rng: Random) -> float:
        """One draw (the same as ``sampler()(rng)``)."""
        return self.sampler()(rng)

    def quantiles(self, u: np.ndarray) -> np.ndarray:
        """The inverse CDF of each uniform number in ``u`` (each in [0, 1)), as an array of the same shape."""
        return type(self).column_quantiles([self])(np.asarray(u, dtype=float)[..., None])[..., 0]

    @classmethod
    def column_quantiles(cls, distributions: list[Any]) -> Callable[[np.ndarray], np.ndarray]:
        """A function giving the inverse CDF of ``u[..., k]`` under ``distributions[k]`` (all of this class) in
        one array operation, its parameters made into arrays once.

        Element by element the same numbers as each distribution's own :meth:`quantiles`.
        """
        raise NotImplementedError

    def quantile(self, u: float) -> float:
        """The inverse CDF of one uniform number in [0, 1), in plain floating point (what a single draw uses)."""
        raise NotImplementedError


class Fixed(_Dist):
    """Always the same duration."""

    fixed: Duration

    @property
    def mean(self) -> float:
        return self.fixed

    def sampler(self) -> Callable[[Random], float]:
        value = self.fixed
        return lambda rng: value

    @classmethod
    def column_quantiles(cls, distributions: list[Any]) -> Callable[[np.ndarray], np.ndarray]:
        value = np.array([d.fixed for d in distributions], dtype=float)
        return lambda u: np.broadcast_to(value, np.shape(u)).copy()

    def quantile(self, u: float) -> float:
        return self.fixed


class Exponential(_Dist):
    """Memoryless duration with the given mean (e.g. time between independent events)."""

    exponential: Duration

    @property
    def mean(self) -> float:
        return self.exponential

    def sampler(self) -> Callable[[Random], float]:
        mean = self.exponential
        if mean == 0 or math.isinf(mean):
            return lambda rng: mean
        rate = 1.0 / mean
        return lambda rng: rng.expovariate(rate)

    @classmethod
    def column_quantiles(cls, distributions: list[Any]) -> Callable[[np.ndarray], np.ndarray]:
        mean = np.array([d.exponential for d in distributions], dtype=float)
        degenerate = (mean == 0) | np.isinf(mean)  # always the mean itself
        scale = -np.where(degenerate, 0.0, mean)
        if degenerate.any():
            return lambda u: np.where(degenerate, mean, scale * np.log1p(-u))
        return lambda u: scale * np.log1p(-u)

    def quantile(self, u: float) -> float:
        mean = self.exponential
        if mean == 0 or math.isinf(mean):
            return mean
        return -mean * math.log1p(-u)


class Uniform(_Dist):
    """Equally likely anywhere between two durations."""

    uniform: tuple[Duration, Duration]

    @field_validator("uniform")
    @classmethod
    def _ordered(cls, bounds: tuple[float, float]) -> tuple[float, float]:
        if bounds[0] > bounds[1]:
            raise ValueError("uniform bounds must be [low, high] with low <= high")
        return bounds

    @property
    def mean(self) -> float:
        return (self.uniform[0] + self.uniform[1]) / 2

    def sampler(self) -> Callable[[Random], float]:
        low, high = self.uniform
        return lambda rng: rng.uniform(low, high)

    @classmethod
    def column_quantiles(cls, distributions: list[Any]) -> Callable[[np.ndarray], np.ndarray]:
        low = np.array([d.uniform[0] for d in distributions], dtype=float)
        width = np.array([d.uniform[1] for d in distributions], dtype=float) - low
        return lambda u: low + width * u

    def quantile(self, u: float) -> float:
        low, high = self.uniform
        return low + (high - low) * u


class LognormalParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    median: Duration
    sigma: Annotated[float, Field(ge=0.0, le=20.0)] = 1.0  # exp(sigma²/2), the mean, stays a float


class Lognormal(_Dist):
    """Right-skewed duration (human review, detection): a median and a spread ``sigma``."""

    lognormal: LognormalParams

    @property
    def mean(self) -> float:
        return self.lognormal.median * math.exp(self.lognormal.sigma**2 / 2)

    def sampler(self) -> Callable[[Random], float]:
        if self.lognormal.median == 0:
            return lambda rng: 0.0
        mu, sigma = math.log(self.lognormal.median), self.lognormal.sigma
        return lambda rng: rng.lognormvariate(mu, sigma)

    @classmethod
    def column_quantiles(cls, distributions: list[Any]) -> Callable[[np.ndarray], np.ndarray]:
        from scipy.special import ndtri  # the standard normal's inverse CDF, for arrays

        median = np.array([d.lognormal.median for d in distributions], dtype=float)
        mu = np.array([math.log(m) if m > 0 else 0.0 for m in median])
        sigma = np.array([d.lognormal.sigma for d in distributions], dtype=float)
        zero = median == 0
        if zero.any():
            return lambda u: np.where(zero, 0.0, np.exp(mu + sigma * ndtri(u)))
        return lambda u: np.exp(mu + sigma * ndtri(u))

    def quantile(self, u: float) -> float:
        if self.lognormal.median == 0:
            return 0.0
        if u <= 0.0:
            return 0.0  # the normal's inverse CDF is -inf there
        return math.exp(math.log(self.lognormal.median) + self.lognormal.sigma * _STANDARD_NORMAL.inv_cdf(u))


class Empirical(_Dist):
    """One of the listed durations, equally likely (observed data)."""

    empirical: Annotated[list[Duration], Field(min_length=1)]

    @property
    def mean(self) -> float:
        return sum(self.empirical) / len(self.empirical)

    def sampler(self) -> Callable[[Random], float]:
        values = tuple(self.empirical)
        count = len(values)
        return lambda rng: values[int(rng.random() * count)]

    @classmethod
    def column_quantiles(cls, distributions: list[Any]) -> Callable[[np.ndarray], np.ndarray]:
        tables = [np.array(d.empirical, dtype=float) for d in distributions]

        def transform(u: np.ndarray) -> np.ndarray:
            out = np.empty(np.shape(u))
            for k, values in enumerate(tables):  # lists of different lengths: a column at a time
                out[..., k] = values[np.minimum((u[..., k] * len(values)).astype(np.int64), len(values) - 1)]
            return out

        return transform

    def quantile(self, u: float) -> float:
        return self.empirical[min(int(u * len(self.empirical)), len(self.empirical) - 1)]


def _coerce_distribution(value: Any) -> Any:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return {"fixed": value}
    return value


Distribution = Annotated[
    Fixed | Exponential | Uniform | Lognormal | Empirical,
    BeforeValidator(_coerce_distribution),
]


def fixed(seconds: float | str) -> Fixed:
    """A fixed duration, for building scenarios in Python."""
    return Fixed(fixed=seconds)


def exponential(mean: float | str) -> Exponential:
    """An exponential duration with the given mean, for building scenarios in Python."""
    return Exponential(exponential=mean)


class Window(BaseModel):
    """A time window: when it starts and how long it lasts (both may be drawn)."""

    model_config = ConfigDict(extra="forbid")
    start: Distribution
    duration: Distribution
