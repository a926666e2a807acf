"""Units of the scenario language: durations, rates, probabilities, distributions."""

from __future__ import annotations

import math
import statistics
from random import Random

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from nhisim.scenario.units import (
    Distribution,
    Duration,
    Empirical,
    Exponential,
    Fixed,
    Lognormal,
    Probability,
    Rate,
    Uniform,
    Window,
    exponential,
    fixed,
    format_duration,
    parse_duration,
    parse_rate,
)


class Holder(BaseModel):
    model_config = ConfigDict(validate_default=True)

    d: Duration = 0.0
    r: Rate = 0.0
    p: Probability = 0.0
    dist: Distribution = 0.0


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("15m", 900.0),
        ("2h", 7200.0),
        ("90d", 90 * 86400.0),
        ("500ms", 0.5),
        ("30s", 30.0),
        ("1w", 604800.0),
        ("2min", 120.0),
        ("10sec", 10.0),
        ("1.5h", 5400.0),
        (" 15 m ", 900.0),
        ("0", 0.0),
        ("42", 42.0),
        (42, 42.0),
        (2.5, 2.5),
        (0, 0.0),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("word", ["never", "inf", "Never", "forever", "infinite"])
def test_never_is_infinite(word):
    assert math.isinf(parse_duration(word))


@pytest.mark.parametrize("bad", ["-5m", -1, -0.001, "-1h", "abc", "15 parsecs", "h", "", "1h30m", True, None, [1]])
def test_bad_durations_rejected(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_negative_duration_message_says_negative():
    with pytest.raises(ValueError, match="negative"):
        parse_duration("-5m")


def test_duration_field_parses_and_dumps_never():
    h = Holder(d="2h")
    assert h.d == 7200.0
    assert Holder(d="never").model_dump()["d"] == "never"
    with pytest.raises(ValidationError, match="negative"):
        Holder(d="-2h")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (45, "45 s"), (750, "12.5 min"), (3.2 * 3600, "3.2 h"), (9.2 * 86400, "9.2 d"),
     (math.inf, "never"), (float("nan"), "n/a")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


# --------------------------------------------------------------------------- rates


@pytest.mark.parametrize(
    ("text", "per_second"),
    [
        ("12/h", 12 / 3600),
        ("1/min", 1 / 60),
        ("3/2h", 3 / 7200),
        ("0.5/d", 0.5 / 86400),
        ("6 / h", 6 / 3600),
        ("10/s", 10.0),
        ("1/1.5h", 1 / 5400),
        (2, 2.0),
        (0.25, 0.25),
        ("0/h", 0.0),
    ],
)
def test_parse_rate(text, per_second):
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("bad", ["-3/h", -1, "-0.5/min", "12", "12/", "/h", "twelve/h", "12/parsec", True, None])
def test_bad_rates_rejected(bad):
    with pytest.raises(ValueError):
        parse_rate(bad)


def test_negative_rate_message_says_negative():
    with pytest.raises(ValueError, match="negative"):
        parse_rate("-3/h")


def test_rate_field():
    assert Holder(r="6/h").r == pytest.approx(6 / 3600)
    with pytest.raises(ValidationError):
        Holder(r="-6/h")


# --------------------------------------------------------------------------- probabilities


@pytest.mark.parametrize("ok", [0, 0.0, 0.5, 1, 1.0])
def test_probability_bounds_ok(ok):
    assert Holder(p=ok).p == ok


@pytest.mark.parametrize("bad", [1.5, -0.1, 1.0000001])
def test_probability_out_of_range(bad):
    with pytest.raises(ValidationError):
        Holder(p=bad)


# --------------------------------------------------------------------------- distributions

N = 20_000


def _samples(dist, seed: int = 7, n: int = N) -> list[float]:
    rng = Random(seed)
    return [dist.sample(rng) for _ in range(n)]


def test_bare_duration_is_fixed():
    dist = Holder(dist="30s").dist
    assert isinstance(dist, Fixed)
    assert dist.mean == 30.0
    assert set(_samples(dist, n=100)) == {30.0}
    assert isinstance(Holder(dist=12).dist, Fixed)


def test_fixed():
    dist = Holder(dist={"fixed": "2m"}).dist
    assert isinstance(dist, Fixed) and dist.mean == 120.0
    assert set(_samples(dist, n=50)) == {120.0}


def test_exponential_mean_and_spread():
    dist = Holder(dist={"exponential": "30s"}).dist
    assert isinstance(dist, Exponential) and dist.mean == 30.0
    xs = _samples(dist)
    assert min(xs) >= 0
    assert statistics.fmean(xs) == pytest.approx(30.0, rel=0.03)
    # memoryless: standard deviation equals the mean
    assert statistics.pstdev(xs) == pytest.approx(30.0, rel=0.05)


def test_exponential_degenerate_cases():
    assert _samples(Holder(dist={"exponential": 0}).dist, n=10) == [0] * 10
    assert all(math.isinf(x) for x in _samples(Holder(dist={"exponential": "never"}).dist, n=10))


def test_uniform_mean_and_bounds():
    dist = Holder(dist={"uniform": ["10s", "1m"]}).dist
    assert isinstance(dist, Uniform) and dist.mean == 35.0
    xs = _samples(dist)
    assert min(xs) >= 10 and max(xs) <= 60
    assert statistics.fmean(xs) == pytest.approx(35.0, rel=0.02)


def test_uniform_bounds_must_be_ordered():
    with pytest.raises(ValidationError, match="low <= high"):
        Holder(dist={"uniform": ["1m", "10s"]})


def test_lognormal_median_and_mean():
    dist = Holder(dist={"lognormal": {"median": "2h", "sigma": 0.5}}).dist
    assert isinstance(dist, Lognormal)
    assert dist.mean == pytest.approx(7200 * math.exp(0.125))
    xs = _samples(dist)
    assert min(xs) > 0
    assert statistics.median(xs) == pytest.approx(7200, rel=0.03)
    assert statistics.fmean(xs) == pytest.approx(dist.mean, rel=0.03)


def test_lognormal_default_sigma_and_zero_median():
    assert Holder(dist={"lognormal": {"median": "1h"}}).dist.lognormal.sigma == 1.0
    assert _samples(Holder(dist={"lognormal": {"median": 0}}).dist, n=5) == [0.0] * 5


def test_empirical_values_equally_likely():
    dist = Holder(dist={"empirical": ["10s", "20s", "1m"]}).dist
    assert isinstance(dist, Empirical) and dist.mean == pytest.approx(30.0)
    xs = _samples(dist)
    assert set(xs) == {10.0, 20.0, 60.0}
    for value in (10.0, 20.0, 60.0):
        assert xs.count(value) / N == pytest.approx(1 / 3, abs=0.02)
    assert statistics.fmean(xs) == pytest.approx(30.0, rel=0.03)


def test_sampling_is_reproducible_by_seed():
    dist = Holder(dist={"lognormal": {"median": "1h", "sigma": 1}}).dist
    assert _samples(dist, seed=3, n=100) == _samples(dist, seed=3, n=100)
    assert _samples(dist, seed=3, n=100) != _samples(dist, seed=4, n=100)


@pytest.mark.parametrize(
    "bad",
    [
        {"fixed": "-1s"},
        {"exponential": "-30s"},
        {"uniform": ["-1m", "1m"]},
        {"lognormal": {"median": "-1h"}},
        {"lognormal": {"median": "1h", "sigma": -1}},
        {"empirical": ["10s", "-5s"]},
        {"empirical": []},
        {"gaussian": "1h"},
        {"fixed": "1h", "exponential": "1h"},
        "-5m",
        -3,
        "soon",
    ],
)
def test_bad_distributions_rejected(bad):
    with pytest.raises(ValidationError):
        Holder(dist=bad)


def test_python_helpers():
    assert fixed("1m").mean == 60.0
    assert exponential("2h").mean == 7200.0
    assert Holder(dist=exponential("1m")).dist == Exponential(exponential=60)


def test_window():
    w = Window(start="1h", duration={"exponential": "30m"})
    assert w.start.mean == 3600 and w.duration.mean == 1800
    with pytest.raises(ValidationError):
        Window(start="1h")
