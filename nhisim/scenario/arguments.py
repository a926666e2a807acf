"""Operation parameters, the arguments calls pass, and constraints on them.

An operation a tool exposes may take **parameters** (an amount, a recipient, a path),
each a ``number`` or a ``text``::

    tools:
      - id: payments-api
        operations:
          - action: send
            resource: bank
            parameters:
              amount: {type: number, default: 100, attacker: 250000}
              recipient: {type: text, default: vendor@corp.example, attacker: mule@evil.example}

Every request for such an operation carries a value for every parameter: a task's call
step draws its **arguments** (``arguments: {amount: {lognormal: {median: 120, sigma:
1}}, recipient: {one_of: {a@corp.example: 0.9, b@other.example: 0.1}}}``; a parameter a
step leaves out takes its ``default``), a runtime discovery uses the defaults, and the
attacker uses the ``attacker`` values (default: the defaults).

A task's intent may **constrain** the arguments of the operations it declares::

    intent:
      operations: [payments-api:send:bank]
      constraints:
        payments-api:send:bank: ["amount <= 500", "recipient like *@corp.example"]

A constraint is ``<parameter> <operator> <value>``: for numbers ``<``, ``<=``, ``>``,
``>=``, ``==``, ``!=``; for text ``==``, ``!=``, ``like PATTERN`` (``*`` matches any run
of characters, ``\\*`` a star), and ``in [a, b, ...]`` (each item a value or a pattern;
``in *@corp.example`` is ``like``). A request whose arguments break any constraint of its
bound intent is out of intent (code ``intent_argument``), handled like any out-of-intent
request (the strategy's ``out_of_intent``).

Numbers are exact to four decimal places, the precision of Cedar's ``decimal`` type, and
lie within its range (about ±9.2 × 10^14): values are kept as whole ten-thousandths
(``ticks``), so the native evaluator and Cedar compare the same numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from nhisim.scenario.base import Model

TICKS = 10_000  # a number is stored as a whole count of ten-thousandths (Cedar's decimal precision)
MAX_NUMBER = 9.2e14  # inside Cedar's decimal range (±922337203685477.5807)
MAX_CHOICES = 1000
NUMBER_OPERATORS = ("<=", ">=", "==", "!=", "<", ">")
TEXT_OPERATORS = ("==", "!=", "like", "in")

Number = Annotated[float, Field(ge=-MAX_NUMBER, le=MAX_NUMBER, allow_inf_nan=False)]
Text = Annotated[str, Field(max_length=1000)]


def to_ticks(value: float) -> int:
    """A number as whole ten-thousandths (clamped to the range a number may take)."""
    value = min(max(float(value), -MAX_NUMBER), MAX_NUMBER)
    return round(value * TICKS)


def ticks_text(ticks: int) -> str:
    """Ten-thousandths as Cedar's decimal literal text: ``12345`` -> ``"1.2345"``."""
    sign = "-" if ticks < 0 else ""
    whole, frac = divmod(abs(ticks), TICKS)
    return f"{sign}{whole}.{frac:04d}"


def ticks_number(ticks: int) -> float:
    """Ten-thousandths back as a number (for reports)."""
    return ticks / TICKS


# --------------------------------------------------------------------------- parameters


class Parameter(Model):
    """One parameter an operation takes."""

    type: Literal["number", "text"] = Field(description="number (exact to 4 decimal places) or text")
    default: Number | Text | None = Field(
        None, description="the value a request passes when nothing else says (0 or empty text when left out)")
    attacker: Number | Text | None = Field(
        None, description="the value the attacker passes (default: the default): e.g. a large amount")
    description: str = Field("", description="free text: what the parameter means")

    @model_validator(mode="after")
    def _typed(self) -> Parameter:
        for name in ("default", "attacker"):
            value = getattr(self, name)
            if value is None:
                continue
            if self.type == "number" and isinstance(value, str):
                raise ValueError(f"{name} of a number parameter must be a number, not {value!r}")
            if self.type == "text" and not isinstance(value, str):
                raise ValueError(f"{name} of a text parameter must be text (quote it), not {value!r}")
        return self

    def default_value(self) -> int | str:
        """The default as a request carries it (ticks for a number)."""
        if self.type == "number":
            return to_ticks(self.default if self.default is not None else 0.0)
        return str(self.default) if self.default is not None else ""

    def attacker_value(self) -> int | str:
        """What the attacker passes (ticks for a number)."""
        if self.attacker is None:
            return self.default_value()
        return to_ticks(self.attacker) if self.type == "number" else str(self.attacker)


# --------------------------------------------------------------------------- argument values


class NumberLognormal(Model):
    """A right-skewed positive number (amounts): a median and a spread."""

    median: Annotated[float, Field(gt=0, le=MAX_NUMBER, allow_inf_nan=False)] = Field(
        description="half the draws are below it")
    sigma: Annotated[float, Field(ge=0.0, le=20.0)] = Field(1.0, description="the spread (of the log)")


class NumberValue(Model):
    """How a call step draws a number argument: exactly one of the keys."""

    fixed: Number | None = Field(None, description="always this number")
    uniform: tuple[Number, Number] | None = Field(None, description="equally likely anywhere in [low, high]")
    exponential: Annotated[float, Field(gt=0, le=MAX_NUMBER, allow_inf_nan=False)] | None = Field(
        None, description="an exponential draw with this mean")
    lognormal: NumberLognormal | None = Field(None, description="a right-skewed positive number")
    one_of: Annotated[list[Number], Field(min_length=1, max_length=MAX_CHOICES)] | None = Field(
        None, description="one of the listed numbers, equally likely")

    @model_validator(mode="after")
    def _one(self) -> NumberValue:
        given = [k for k in ("fixed", "uniform", "exponential", "lognormal", "one_of") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of fixed, uniform, exponential, lognormal, one_of"
                             + (f" (got {', '.join(given)})" if given else ""))
        if self.uniform is not None and self.uniform[0] > self.uniform[1]:
            raise ValueError("uniform bounds must be [low, high] with low <= high")
        return self

    def sampler(self) -> Callable[[Random], int]:
        """A plain function drawing the number, in ticks."""
        if self.fixed is not None:
            value = to_ticks(self.fixed)
            return lambda rng: value
        if self.uniform is not None:
            low, high = self.uniform
            return lambda rng: to_ticks(rng.uniform(low, high))
        if self.exponential is not None:
            rate = 1.0 / self.exponential
            return lambda rng: to_ticks(rng.expovariate(rate))
        if self.lognormal is not None:
            mu, sigma = math.log(self.lognormal.median), self.lognormal.sigma
            return lambda rng: to_ticks(rng.lognormvariate(mu, sigma))
        values = tuple(to_ticks(v) for v in self.one_of or ())
        return lambda rng: values[int(rng.random() * len(values))]


def _choices(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"one_of"} and isinstance(value["one_of"], list):
        return {"one_of": {str(v): 1.0 for v in value["one_of"]}}
    return value


class TextValue(Model):
    """How a call step draws a text argument: one of several values, with weights."""

    one_of: Annotated[dict[Text, Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)]],
                      Field(min_length=1, max_length=MAX_CHOICES)] = Field(
        description="value -> weight (a list: equally likely)")

    @field_validator("one_of")
    @classmethod
    def _weighted(cls, weights: dict[str, float]) -> dict[str, float]:
        if sum(weights.values()) <= 0:
            raise ValueError("at least one value needs a positive weight")
        return weights

    def sampler(self) -> Callable[[Random], str]:
        values = tuple(self.one_of)
        total = sum(self.one_of.values())
        bounds = []
        running = 0.0
        for weight in self.one_of.values():
            running += weight / total
            bounds.append(running)

        def draw(rng: Random) -> str:
            roll = rng.random()
            for value, bound in zip(values, bounds, strict=True):
                if roll < bound:
                    return value
            return values[-1]

        return draw


def _argument(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("an argument is a number, a text, or a distribution of them (not true/false)")
    if isinstance(value, (int, float)):
        return NumberValue(fixed=value)
    if isinstance(value, str):
        return TextValue(one_of={value: 1.0})
    if isinstance(value, dict):
        value = _choices(value)
        one_of = value.get("one_of") if set(value) == {"one_of"} else None
        if isinstance(one_of, dict) and one_of and all(isinstance(k, str) for k in one_of):
            return TextValue.model_validate(value)
        return NumberValue.model_validate(value)
    return value


# plain numbers and texts are turned into NumberValue / TextValue before validation; they stay in
# the union so the JSON Schema (what editors check scenario files against) accepts them too
Argument = Annotated[NumberValue | TextValue | Number | Text, BeforeValidator(_argument)]


# --------------------------------------------------------------------------- constraints


class ConstraintError(ValueError):
    """A constraint that does not parse, or does not fit its parameter."""


@dataclass(frozen=True)
class Constraint:
    """One parsed constraint: ``parameter operator value``."""

    parameter: str
    operator: str  # one of NUMBER_OPERATORS, or "like" (text; ``in`` becomes a list of patterns)
    value: int | str | tuple[str, ...]  # ticks, a text or pattern, or patterns for ``in``
    text: str  # as written

    def holds(self, arg: int | str) -> bool:
        """Whether the argument satisfies the constraint."""
        op, value = self.operator, self.value
        if op == "in":
            return any(_like(arg, pattern) for pattern in value)  # type: ignore[union-attr]
        if op == "like":
            return _like(arg, value)  # type: ignore[arg-type]
        if op == "==":
            return arg == value
        if op == "!=":
            return arg != value
        if op == "<=":
            return arg <= value  # type: ignore[operator]
        if op == "<":
            return arg < value  # type: ignore[operator]
        if op == ">=":
            return arg >= value  # type: ignore[operator]
        return arg > value  # type: ignore[operator]


_PATTERNS: dict[str, re.Pattern] = {}


def _like(text: Any, pattern: str) -> bool:
    """Cedar's ``like``: ``*`` matches any run of characters, ``\\*`` a literal star."""
    if not isinstance(text, str):
        return False
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        parts = re.split(r"(\\\*|\*)", pattern)
        regex = "".join(".*" if p == "*" else re.escape("*") if p == "\\*" else re.escape(p) for p in parts)
        compiled = _PATTERNS[pattern] = re.compile(regex, re.S)
    return compiled.fullmatch(text) is not None


_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|==|!=|<|>|\blike\b|\bin\b)\s*(.*?)\s*$", re.S)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def parse_constraint(text: str, parameters: dict[str, str]) -> Constraint:
    """Parse ``text`` against an operation's parameters (name -> ``number`` | ``text``)."""
    match = _CONSTRAINT.match(text)
    if match is None:
        raise ConstraintError(f"{text!r} is not a constraint; write <parameter> <operator> <value>, "
                              "e.g. 'amount <= 500' or 'recipient like *@corp.example'")
    name, operator, raw = match.groups()
    if name not in parameters:
        known = ", ".join(sorted(parameters)) or "none"
        raise ConstraintError(f"the operation has no parameter {name!r} (its parameters: {known})")
    if not raw:
        raise ConstraintError(f"{text!r} has no value after {operator!r}")
    if parameters[name] == "number":
        if operator not in NUMBER_OPERATORS:
            raise ConstraintError(f"{name!r} is a number: compare it with {', '.join(NUMBER_OPERATORS)}")
        try:
            number = float(_unquote(raw))
        except ValueError:
            raise ConstraintError(f"{raw!r} is not a number ({name!r} is a number parameter)") from None
        if not math.isfinite(number) or abs(number) > MAX_NUMBER:
            raise ConstraintError(f"{raw!r} is outside the numbers a parameter can take (±{MAX_NUMBER:g})")
        return Constraint(name, operator, to_ticks(number), text)
    if operator not in TEXT_OPERATORS:
        raise ConstraintError(f"{name!r} is text: compare it with ==, !=, like or in")
    if operator == "in":
        inner = raw.strip()
        if inner.startswith("[") and inner.endswith("]"):
            inner = inner[1:-1]
        items = tuple(_unquote(part) for part in inner.split(",") if part.strip())
        if not items:
            raise ConstraintError(f"{text!r}: 'in' needs at least one value")
        return Constraint(name, "in", items, text)
    value = _unquote(raw)
    return Constraint(name, operator, value, text)


def check_constraints(constraints: tuple[Constraint, ...], names: tuple[str, ...], args: tuple) -> bool:
    """Whether ``args`` (values in the order of ``names``) satisfy every constraint."""
    for c in constraints:
        if not c.holds(args[names.index(c.parameter)]):
            return False
    return True


# --------------------------------------------------------------------------- as Cedar


def cedar_condition(constraint: Constraint) -> str:
    """The constraint as a Cedar expression over ``context.args``."""
    arg = f"context.args.{constraint.parameter}"
    guard = f"context has args && context.args has {constraint.parameter}"
    op, value = constraint.operator, constraint.value
    if op == "in":
        test = "(" + " || ".join(_cedar_like(arg, p) for p in value) + ")"  # type: ignore[union-attr]
    elif op == "like":
        test = _cedar_like(arg, value)  # type: ignore[arg-type]
    elif isinstance(value, int):
        literal = f'decimal("{ticks_text(value)}")'
        method = {"<=": "lessThanOrEqual", "<": "lessThan", ">=": "greaterThanOrEqual", ">": "greaterThan"}.get(op)
        test = f"{arg}.{method}({literal})" if method else f"{arg} {op} {literal}"
    else:
        test = f"{arg} {op} {cedar_string(value)}"  # type: ignore[arg-type]
    return f"({guard} && {test})"


_CEDAR_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


def cedar_string(text: str) -> str:
    """``text`` as a Cedar string literal: whatever it holds, one string, never policy syntax."""
    return '"' + _cedar_escaped(str(text)) + '"'


def _cedar_escaped(text: str) -> str:
    out = []
    for char in text:
        if char in _CEDAR_ESCAPES:
            out.append(_CEDAR_ESCAPES[char])
        elif not char.isprintable() or "\ud800" <= char <= "\udfff":
            out.append(f"\\u{{{ord(char):x}}}")
        else:
            out.append(char)
    return "".join(out)


def _cedar_like(arg: str, pattern: str) -> str:
    """``arg like "pattern"``: quotes and backslashes escaped, ``*`` and ``\\*`` kept as Cedar reads them."""
    parts = re.split(r"(\\\*|\*)", pattern)
    body = "".join(p if p in ("*", "\\*") else _cedar_escaped(p) for p in parts)
    return f'{arg} like "{body}"'
