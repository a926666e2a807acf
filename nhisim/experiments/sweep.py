"""Sweeps: a grid or a sample over any scenario value × strategies × replications.

A parameter is any scenario value addressed by a dotted path, the same paths ``--set``
takes (``strategies.zsp.ttl``, ``detection.monitoring``, ``attacker.rate``,
``threats.0.attacker_delay``; lists of id'd items by id, other lists by index). A grid
lists values (YAML scalars, parsed like ``--set``: ``15m``, ``1h``, ``basic``); a sample
draws points between numeric bounds (random, Latin hypercube, Sobol or Morris designs
through SALib; a bound may be a duration such as ``5m`` or a rate such as ``6/h``, used
in seconds or per second). Grid and sample combine as a product.

Every point runs every strategy with the same replication seeds (common random numbers):
``replication_seed(seed, r)``, so differences between points and between strategies are
paired. The result is one tidy row per run: ``point``, one column per PATH, ``scenario``,
``strategy``, ``seed``, ``replication``, the metric columns (docs/metrics.md) and ``error``
(empty unless the run raised; its metrics are then NaN).

With ``out=DIR`` the sweep writes its provenance and its results chunk by chunk
(:mod:`nhisim.experiments.store`) and resumes: the same call again runs only what is
missing.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import platform
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml
from scipy import stats

from nhisim import interrupt, vocabulary
from nhisim.errors import InputError, Problem, clip, did_you_mean, normalise_path, shown, split_path
from nhisim.experiments.effects import sweep_notes
from nhisim.experiments.executors import (
    Executor,
    RunOutcome,
    RunSpec,
    SharedScenario,
    interrupted_as,
    make_executor,
    run_specs,
    using_executor,
)
from nhisim.experiments.progress import Progress, reporting
from nhisim.experiments.run import ID_COLUMNS, as_scenario, replication_seed
from nhisim.experiments.store import (
    FORMAT,
    KEY,
    PARAMS,
    RUNS,
    SCENARIO,
    SweepStore,
    numeric_twin,
    package_version,
    tidy_runs,
)
from nhisim.metrics import COUNT_COLUMNS, METRIC_COLUMNS
from nhisim.metrics.readable import ReadableFrame
from nhisim.scenario import workload
from nhisim.scenario.loader import apply_overrides, parse_override, set_path, validate_data
from nhisim.scenario.models import Scenario
from nhisim.scenario.strategy import scenario_strategy
from nhisim.scenario.units import parse_duration, parse_rate
from nhisim.sim.rng import stream_seed

SAMPLES = ("random", "lhs", "sobol", "morris")
ENGINES = ("native", "cedar")
MORRIS_LEVELS = 4
RESERVED = {"point", *ID_COLUMNS, *METRIC_COLUMNS, "error"}


class SweepInterrupted(interrupt.Interrupted):
    """Ctrl-C (or SIGTERM) during a sweep: finished chunks are kept; run the same sweep again to finish."""

    def __init__(self, done: int, total: int, out: str | None) -> None:
        self.done, self.total, self.out = done, total, out
        if out is None:
            kept = f"{done} of {total} runs had finished; nothing is saved without a results folder"
        else:
            kept = f"{done} of {total} runs are saved in {shown(out)}; run the same command again to finish"
        super().__init__(kept)


# --------------------------------------------------------------------------- parameters


@dataclass
class Parameter:
    """One swept scenario value: a grid of values, or numeric bounds to sample between."""

    path: str
    kind: str  # "grid" or "sample"
    values: list[Any] = field(default_factory=list)
    low: float | None = None
    high: float | None = None
    unit: str = ""  # "duration" (seconds), "rate" (per second) or "" (a plain number)
    integer: bool = False

    def describe(self) -> dict[str, Any]:
        if self.kind == "grid":
            return {"path": self.path, "kind": "grid", "values": self.values}
        return {"path": self.path, "kind": "sample", "bounds": [self.low, self.high], "unit": self.unit,
                "integer": self.integer}


def split_values(raw: str) -> list[str]:
    """Split ``V1,V2,...`` at top-level commas (not inside brackets or quotes)."""
    items: list[str] = []
    current: list[str] = []
    depth = 0
    quote = ""
    for ch in raw:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    items.append("".join(current).strip())
    return items


def parse_grid(text: str) -> tuple[str, list[Any]]:
    """``--grid PATH=V1,V2,...`` → (path, values), each value parsed like ``--set``."""
    if "=" not in text:
        raise InputError.single(f"--grid {text!r} has no '='", location="--grid",
                                suggestion="write PATH=V1,V2,..., e.g. strategies.zsp.ttl=5m,15m,1h")
    path, raw = (part.strip() for part in text.split("=", 1))
    path = normalise_path(path)
    if not path:
        raise InputError.single(f"--grid {text!r} has no path before '='", location="--grid",
                                suggestion="write PATH=V1,V2,..., e.g. strategies.zsp.ttl=5m,15m,1h")
    items = split_values(raw)
    if not raw.strip() or any(not item for item in items):
        raise InputError.single(f"--grid {text!r} has an empty value", location=f"--grid {path}",
                                suggestion="list values separated by commas, e.g. 5m,15m,1h")
    return path, [parse_override(f"{path}={item}")[1] for item in items]


def parse_bounds(text: str) -> tuple[str, tuple[str, str]]:
    """``--bounds PATH=LO:HI`` → (path, (lo, hi)) as text; see :func:`bound_value`."""
    if "=" not in text:
        raise InputError.single(f"--bounds {text!r} has no '='", location="--bounds",
                                suggestion="write PATH=LO:HI, e.g. strategies.zsp.ttl=5m:2h or attacker.rate=0.01:1")
    path, raw = (part.strip() for part in text.split("=", 1))
    path = normalise_path(path)
    parts = raw.split(":")
    if not path or len(parts) != 2 or not all(p.strip() for p in parts):
        raise InputError.single(f"--bounds {text!r} is not PATH=LO:HI", location=f"--bounds {path or text}",
                                suggestion="write PATH=LO:HI, e.g. strategies.zsp.ttl=5m:2h or attacker.rate=0.01:1")
    return path, (parts[0].strip(), parts[1].strip())


def bound_value(value: Any, where: str) -> tuple[float, str]:
    """A bound as a number and its unit: a number, a duration (``5m`` → 300 s) or a rate (``6/h``)."""
    if isinstance(value, bool):
        raise InputError.single(f"bound {value!r} is not a number", location=where)
    if isinstance(value, (int, float)):
        number, unit = float(value), ""
    else:
        text = str(value).strip()
        try:
            number, unit = float(text), ""
        except ValueError:
            try:
                number, unit = parse_duration(text), "duration"
            except ValueError:
                try:
                    number, unit = parse_rate(text), "rate"
                except ValueError:
                    raise InputError.single(f"bound {text!r} is not a number, a duration or a rate",
                                            location=where,
                                            suggestion="bounds are numeric: 0.1:0.9, 5m:2h (durations) or "
                                                       "1/h:10/h (rates)") from None
    if not math.isfinite(number):
        raise InputError.single(f"bound {value!r} is not a finite number", location=where,
                                suggestion="sampling needs finite bounds, e.g. 5m:90d rather than 5m:never")
    return number, unit


def get_path(data: Any, path: str) -> Any:
    """The value at a dotted path in raw scenario data (None if it is not there)."""
    node = data
    for part in split_path(path):
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list):
            match = next((x for x in node if isinstance(x, Mapping) and str(x.get("id")) == part), None)
            if match is None and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
                match = node[int(part)]
            node = match
        else:
            return None
        if node is None:
            return None
    return node


def _as_mapping(value: Any, what: str) -> dict:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        pairs = [(normalise_path(str(path)), rest) for path, rest in value.items()]
    else:
        items = [value] if isinstance(value, str) else value
        pairs = [parse_grid(item) if what == "--grid" else parse_bounds(item) for item in items]
    out: dict = {}
    for path, rest in pairs:  # paths in the one notation: threats[0].agent is threats.0.agent
        if path in out:
            raise InputError.single(f"{path!r} is given twice", location=what)
        out[path] = rest
    return out


# --------------------------------------------------------------------------- the plan


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str, allow_nan=True)


def _digest(obj: Any) -> str:
    return hashlib.sha256(_canonical(obj).encode()).hexdigest()[:16]


def _column(values: Sequence[Any]) -> tuple[str, list[Any]]:
    """A parameter column's type and values: numbers and booleans kept, anything else as text."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present) and len(present) == len(values):
        return "bool", list(values)
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present) \
            and len(present) == len(values):
        return "int64", [int(v) for v in values]
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "float64", [math.nan if v is None else float(v) for v in values]
    return "string", [None if v is None else v if isinstance(v, str) else _canonical(v) for v in values]


_ARROW = {"bool": pa.bool_(), "int64": pa.int64(), "float64": pa.float64(), "string": pa.string()}


@dataclass
class SweepPlan:
    """Everything a sweep will run, decided up front (and so fingerprinted for resume)."""

    scenario: Scenario
    base: dict
    parameters: list[Parameter]
    points: list[dict[str, Any]]
    strategies: list[str]
    replications: int
    seed: int
    engine: str | None = None
    sample: dict[str, Any] | None = None
    source: str = ""
    _columns: dict[str, tuple[str, list[Any]]] | None = field(default=None, init=False, repr=False, compare=False)
    _schema: pa.Schema | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def paths(self) -> list[str]:
        return [p.path for p in self.parameters]

    @property
    def seeds(self) -> list[int]:
        return [replication_seed(self.seed, r) for r in range(self.replications)]

    @property
    def n_runs(self) -> int:
        return len(self.points) * self.replications * len(self.strategies)

    def specs(self) -> list[RunSpec]:
        """Every run, point by point, replication by replication, strategy by strategy."""
        seeds = self.seeds
        return [RunSpec(point, name, seeds[r], r) for point in range(len(self.points))
                for r in range(self.replications) for name in self.strategies]

    def columns(self) -> dict[str, tuple[str, list[Any]]]:
        """Each parameter column's type and its value at every point (as shown in results), a text
        quantity followed by its numeric twin (``PATH_s``: seconds; ``PATH_per_s``: per second)."""
        if self._columns is None:
            self._columns = {}
            for path in self.paths:
                values = [point[path] for point in self.points]
                self._columns[path] = _column(values)
                twin = numeric_twin(values)
                if twin is not None and path + twin[0] not in self.paths:
                    self._columns[path + twin[0]] = ("float64", twin[1])
        return self._columns

    def twins(self) -> dict[str, str]:
        """``{numeric twin column: its parameter's path}``."""
        return {name: next(p for p in self.paths if name in (p + "_s", p + "_per_s"))
                for name in self.columns() if name not in self.paths}

    def schema(self) -> pa.Schema:
        if self._schema is None:
            self._schema = self._make_schema()
        return self._schema

    def _make_schema(self) -> pa.Schema:
        fields = [pa.field("point", pa.int64())]
        fields += [pa.field(path, _ARROW[dtype]) for path, (dtype, _) in self.columns().items()]
        fields += [pa.field("scenario", pa.string()), pa.field("strategy", pa.string()),
                   pa.field("seed", pa.int64()), pa.field("replication", pa.int64())]
        fields += [pa.field(m, pa.int64() if m in COUNT_COLUMNS else pa.float64()) for m in METRIC_COLUMNS]
        fields += [pa.field("error", pa.string())]
        return pa.schema(fields)

    def point_table(self) -> pd.DataFrame:
        table = pd.DataFrame({"point": np.arange(len(self.points), dtype="int64")})
        for path, (dtype, values) in self.columns().items():
            table[path] = pd.Series(values, dtype="object" if dtype == "string" else dtype)
        return table

    def table(self, outcomes: Sequence[RunOutcome]) -> pa.Table:
        """Tidy rows for finished runs, as an Arrow table of :meth:`schema` (what parts store)."""
        shown = {path: values for path, (_, values) in self.columns().items()}
        schema = self.schema()
        columns: dict[str, list[Any]] = {name: [] for name in schema.names}
        nan_metrics = dict.fromkeys(METRIC_COLUMNS, math.nan)
        counts = frozenset(COUNT_COLUMNS)
        for o in outcomes:
            s = o.spec
            columns["point"].append(s.point)
            for path, values in shown.items():
                columns[path].append(values[s.point])
            columns["scenario"].append(o.scenario or self.scenario.name)
            columns["strategy"].append(s.strategy)
            columns["seed"].append(s.seed)
            columns["replication"].append(s.replication)
            for name, value in (o.metrics or nan_metrics).items():
                value = float(value)
                columns[name].append(value if name not in counts else None if math.isnan(value) else int(value))
            columns["error"].append(o.error)
        return pa.Table.from_pydict(columns, schema=schema)

    def fingerprint(self) -> dict[str, str]:
        return {"scenario": _digest(self.base), "parameters": _digest([p.describe() for p in self.parameters]),
                "points": _digest(self.points), "strategies": _digest(self.strategies),
                "replications": _digest(self.replications), "seed": _digest(self.seed),
                "engine": _digest(self.engine)}

    def manifest(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "fingerprint": self.fingerprint(),
            "nhisim_version": package_version(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "scenario": {"name": self.scenario.name, "source": self.source, "effective": SCENARIO},
            "parameters": [p.describe() for p in self.parameters],
            "sample": self.sample,
            "strategies": self.strategies,
            "replications": self.replications,
            "seed": self.seed,
            "replication_seeds": self.seeds,
            "engine": self.engine,
            "n_points": len(self.points),
            "n_runs": self.n_runs,
            "key": list(KEY),
            # the result columns, named so a resume tells a folder written before a metric existed
            # (same fingerprint, fewer columns) from another sweep (another fingerprint)
            "columns": {f.name: str(f.type) for f in self.schema()},
            "metrics": list(METRIC_COLUMNS),
            # numeric twins of text parameters (not swept themselves: computed from their text column)
            "derived": self.twins(),
            "files": {"scenario": SCENARIO, "parameters": PARAMS, "runs": RUNS},
        }

    def files(self) -> dict[str, str]:
        header = (f"# The effective scenario of the sweep in this folder (nhisim {package_version()}).\n"
                  f"# Point i is this scenario with the values of row i of {PARAMS} set by dotted path.\n")
        return {SCENARIO: header + yaml.safe_dump(self.base, sort_keys=False, allow_unicode=True),
                PARAMS: self.point_table().to_csv(index=False)}

    def shared(self, keep_events: bool = False) -> SharedScenario:
        return SharedScenario(data=self.base, engine=self.engine, keep_events=keep_events, capture_errors=True)

    def overrides(self) -> dict[int, dict[str, Any]]:
        return {i: point for i, point in enumerate(self.points) if point}


def _check_path(base: dict, path: str, value: Any, where: str) -> None:
    """An unknown path is bad input, named with the nearest valid key."""
    if path in RESERVED:
        raise InputError.single(f"{path!r} is a results column, not a scenario path", location=where)
    try:
        set_path(json.loads(json.dumps(base)), path, value, source=where)
    except InputError as exc:
        raise InputError(exc.problems, title="unknown parameter path") from None


def _invalid(base: dict, values: Mapping[str, Any]) -> InputError | None:
    try:
        validate_data(apply_overrides(base, values, source="parameters"), file="<sweep>")
    except InputError as exc:
        return exc
    return None


def _bad_value(path: str, value: Any, where: str, exc: InputError) -> InputError:
    first = exc.problems[0]
    shown = value if isinstance(value, str) else json.dumps(value, default=str)
    return InputError([Problem(f"{path}={shown} makes the scenario invalid: {first.message}",
                               f"{where} {path}", None, first.suggestion)], title="invalid parameter value")


def _check_values(base: dict, grid: Sequence[Parameter], sampled: Sequence[Parameter], tries: int = 8) -> None:
    """A value that makes the scenario invalid wherever it appears is bad input, told before any run.

    A grid value is tried with a few combinations of the other grid values (it may be valid
    only with some of them: those points are then recorded with their error); a sample's
    bounds are tried with the first valid grid combination.
    """
    cache: dict[str, InputError | None] = {}

    def invalid(values: dict[str, Any]) -> InputError | None:
        key = _canonical(values)
        if key not in cache:
            cache[key] = _invalid(base, values)
        return cache[key]

    paths = [p.path for p in grid]
    for i, param in enumerate(grid):
        for value in param.values:
            first: InputError | None = None
            # the combinations holding this value, built around it: never a scan of the whole grid
            with_value = itertools.product(*(p.values for p in grid[:i]), [value], *(p.values for p in grid[i + 1:]))
            for combo in itertools.islice(with_value, tries):
                error = invalid(dict(zip(paths, combo, strict=True)))
                if error is None:
                    break
                first = first or error
            else:
                raise _bad_value(param.path, value, "--grid", first or InputError.single("invalid"))
    context: dict[str, Any] = {}
    for combo in itertools.islice(itertools.product(*(p.values for p in grid)), tries):
        if invalid(dict(zip(paths, combo, strict=True))) is None:
            context = dict(zip(paths, combo, strict=True))
            break
    for param in sampled:
        for end in (param.low, param.high):
            value = _convert(param, end)
            error = invalid({**context, param.path: value})
            if error is not None:
                raise _bad_value(param.path, value, "--bounds", error)


def _sample_matrix(method: str, n: int, params: Sequence[Parameter], seed: int) -> np.ndarray:
    problem = {"num_vars": len(params), "names": [p.path for p in params],
               "bounds": [[p.low, p.high] for p in params]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "random":
            rng = np.random.default_rng(seed)
            lows = np.array([p.low for p in params])
            highs = np.array([p.high for p in params])
            return lows + rng.random((n, len(params))) * (highs - lows)
        if method == "lhs":
            from SALib.sample import latin

            return latin.sample(problem, n, seed=seed)
        if method == "sobol":
            from SALib.sample import sobol

            return sobol.sample(problem, n, calc_second_order=False, scramble=True, seed=seed)
        from SALib.sample import morris

        return morris.sample(problem, n, num_levels=MORRIS_LEVELS, seed=seed)


def plan_sweep(scenario: Scenario | str | os.PathLike, grid: Mapping[str, Sequence[Any]] | Sequence[str] | None = None,
               *, sample: str | None = None, n: int | None = None,
               bounds: Mapping[str, Any] | Sequence[str] | None = None, strategies: Sequence[str] | None = None,
               replications: int | None = None, seed: int | None = None, overrides: Mapping[str, Any] | None = None,
               engine: str | None = None) -> SweepPlan:
    """Check a sweep's inputs and decide every point and run; bad input raises :class:`InputError`."""
    from nhisim.experiments.compare import resolve_names

    model = as_scenario(scenario, overrides)
    source = model.source  # the file, or <stdin>: what a refusal names
    base = model.model_dump(mode="json", by_alias=True, exclude_unset=True, warnings=False)
    full = model.model_dump(mode="json", by_alias=True, warnings=False)
    names = resolve_names(model, strategies)
    replications = model.run.replications if replications is None else int(replications)
    if replications < 1:
        raise InputError.single("replications must be at least 1", location="--replications")
    seed = model.run.seed if seed is None else int(seed)
    if engine is not None and engine not in ENGINES:
        raise InputError.single(f"unknown engine {engine!r}", location="--engine",
                                suggestion=did_you_mean(engine, ENGINES, "engines"))

    grid_map = _as_mapping(grid, "--grid")
    bounds_map = _as_mapping(bounds, "--bounds")
    parameters: list[Parameter] = []
    for path, values in grid_map.items():
        if isinstance(values, str):
            values = parse_grid(f"{path}={values}")[1]
        values = [v.item() if isinstance(v, np.generic) else v for v in values]  # numpy scalars as Python's
        if not values:
            raise InputError.single(f"--grid {path} has no values", location=f"--grid {path}")
        _check_path(base, path, values[0], "--grid")
        seen: set[str] = set()
        for value in values:
            if _canonical(value) in seen:
                raise InputError.single(f"value {clip(value)!r} is listed twice", location=f"--grid {path}")
            seen.add(_canonical(value))
        parameters.append(Parameter(path, "grid", values=values))

    sample_params: list[Parameter] = []
    if sample is not None or bounds_map:
        method = (sample or "").strip().lower()
        if not method:
            raise InputError.single("--bounds needs --sample", location="--sample",
                                    suggestion=f"add --sample with one of {', '.join(SAMPLES)} and --n")
        if method not in SAMPLES:
            raise InputError.single(f"unknown sample {sample!r}", location="--sample",
                                    suggestion=did_you_mean(method, SAMPLES, "samples"))
        if not bounds_map:
            raise InputError.single(f"--sample {method} needs at least one --bounds PATH=LO:HI", location="--bounds",
                                    suggestion="e.g. --bounds strategies.zsp.ttl=5m:2h")
        if n is None:
            raise InputError.single(f"--sample {method} needs --n", location="--n",
                                    suggestion={"sobol": "--n is the base sample size, a power of 2, e.g. 16",
                                                "morris": "--n is the number of trajectories, e.g. 10"}.get(
                                        method, "--n is the number of points, e.g. 32"))
        n = int(n)
        if n < (2 if method == "morris" else 1):
            raise InputError.single(f"--n must be at least {2 if method == 'morris' else 1}, got {n}", location="--n")
        if method == "sobol" and n & (n - 1):
            low = 1 << (n.bit_length() - 1)
            raise InputError.single(f"--n {n} is not a power of 2 (Sobol sequences need one)", location="--n",
                                    suggestion=f"use --n {low} or --n {low * 2}")
        for path, pair in bounds_map.items():
            where = f"--bounds {path}"
            if path in grid_map:
                raise InputError.single(f"{path!r} is both in --grid and in --bounds", location=where)
            if isinstance(pair, str):
                pair = parse_bounds(f"{path}={pair}")[1]
            try:
                lo_raw, hi_raw = pair
            except (TypeError, ValueError):
                raise InputError.single(f"bounds of {path} must be (low, high), got {pair!r}", location=where) from None
            (lo, lo_unit), (hi, hi_unit) = bound_value(lo_raw, where), bound_value(hi_raw, where)
            units = {u for u in (lo_unit, hi_unit) if u}
            if len(units) > 1:
                raise InputError.single(f"bounds {lo_raw!r}:{hi_raw!r} mix a duration and a rate", location=where)
            if not lo < hi:
                raise InputError.single(f"low bound {lo_raw!r} is not below high bound {hi_raw!r}", location=where,
                                        suggestion="write PATH=LO:HI with LO < HI")
            current = get_path(full, path)
            integer = isinstance(current, int) and not isinstance(current, bool) and not units
            if integer and math.ceil(lo) > math.floor(hi):
                raise InputError.single(f"{path} takes whole numbers and no whole number lies in {lo_raw}:{hi_raw}",
                                        location=where)
            _check_path(base, path, lo, "--bounds")
            sample_params.append(Parameter(path, "sample", low=lo, high=hi, unit=units.pop() if units else "",
                                           integer=integer))

    # the sweep's size from the sizes of its parts, before any point is built: a 300×300×300
    # grid is refused in milliseconds, not after filling memory with 27 million points
    grid_params = list(parameters)
    n_sample = _sample_points(method, n, len(sample_params)) if sample_params else 1
    n_points = math.prod(len(p.values) for p in grid_params) * n_sample
    _check_size(n_points, replications, len(names), source)
    sample_info = None
    matrix = None
    if sample_params:
        sample_seed = stream_seed(seed, "sweep-sample", method) % (2**32)
        matrix = _sample_matrix(method, n, sample_params, sample_seed)
        sample_info = {"method": method, "n": n, "seed": sample_seed, "names": [p.path for p in sample_params],
                       "bounds": [[p.low, p.high] for p in sample_params],
                       **({"num_levels": MORRIS_LEVELS} if method == "morris" else {}),
                       **({"calc_second_order": False} if method == "sobol" else {})}

    def point(i: int) -> dict[str, Any]:
        """Point ``i`` of the grid × sample product (the last grid value varies fastest, then the sample row)."""
        g, row = divmod(i, n_sample)
        values: dict[str, Any] = {}
        for param in reversed(grid_params):
            g, k = divmod(g, len(param.values))
            values[param.path] = param.values[k]
        values = {p.path: values[p.path] for p in grid_params}
        if matrix is not None:
            values.update({p.path: _convert(p, x) for p, x in zip(sample_params, matrix[row], strict=True)})
        return values

    _check_workload(model, base, point, n_points, names, replications, source)
    _check_values(base, grid_params, sample_params)
    parameters.extend(sample_params)
    points = [point(i) for i in range(n_points)]
    return SweepPlan(model, base, parameters, points, names, replications, seed, engine, sample_info, source)


# what a sweep's plan holds in memory (its points, then one record per run): bounded whatever --force says
MAX_POINTS = 1_000_000
MAX_RUNS = 2_000_000


def _sample_points(method: str, n: int, dimensions: int) -> int:
    """How many points a sample design draws: n (random, lhs), n·(D+2) (Sobol), n·(D+1) (Morris)."""
    return n * {"sobol": dimensions + 2, "morris": dimensions + 1}.get(method, 1)


def _check_size(n_points: int, replications: int, n_strategies: int, source: str) -> None:
    """Refuse a sweep whose plan alone would fill memory (even with --force)."""
    runs = n_points * replications * n_strategies
    if n_points > MAX_POINTS or runs > MAX_RUNS:
        raise InputError.single(
            f"this sweep has {n_points:,} points × {replications:,} replications × {n_strategies} strategies = "
            f"{runs:,} runs; one sweep holds at most {MAX_POINTS:,} points and {MAX_RUNS:,} runs",
            file=source, location="--grid/--sample", title="sweep too large",
            suggestion="split it into several sweeps (each into its own --out), or sample the space "
                       "(--sample lhs --n 1000) rather than listing every combination")


def _check_workload(model: Scenario, base: dict, point: Callable[[int], dict[str, Any]], n_points: int,
                    names: Sequence[str], replications: int, source: str = "", exact: int = 200) -> None:
    """Refuse a sweep whose runs together would not finish (:mod:`nhisim.scenario.workload`).

    At most ``exact`` points, spread evenly over the sweep (its first and last included),
    are estimated one by one (a grid value may be a horizon or a rate); the sweep is taken
    to be as heavy on average as they are.
    """
    if workload.forced() or n_points == 0:
        return
    strategies = [scenario_strategy(model, n) for n in names]
    count = min(exact, n_points)
    chosen = sorted({round(k * (n_points - 1) / max(count - 1, 1)) for k in range(count)})
    total = 0.0
    for i in chosen:
        values = point(i)
        try:
            scenario = validate_data(apply_overrides(base, values)) if values else model
        except InputError:  # invalid only in combination: its runs are recorded with the error, as always
            continue
        total += workload.check_job(scenario, strategies, replications, file=source, what="sweep point")
    total *= n_points / len(chosen)
    limit = workload.max_run_events() * workload.JOB_FACTOR
    if total > limit:
        raise InputError.single(
            f"this sweep ({n_points:,} points × {replications:,} replications × {len(names)} strategies) "
            f"would take about {total:,.0f} events, over the limit of {limit:,} per sweep",
            file=source, location="--grid/--bounds", title="run too large",
            suggestion=f"use fewer points or replications, or a shorter horizon; --force (or {workload.FORCE_ENV}=1) "
                       f"runs it anyway, {workload.MAX_EVENTS_ENV} sets the per-run limit (the sweep limit is "
                       f"{workload.JOB_FACTOR}×)")


def _convert(param: Parameter, x: float) -> float | int:
    return int(round(float(x))) if param.integer else float(x)


# --------------------------------------------------------------------------- running


def sweep(scenario: Scenario | str | os.PathLike, grid: Mapping[str, Sequence[Any]] | Sequence[str] | None = None,
          *, sample: str | None = None, n: int | None = None, bounds: Mapping[str, Any] | Sequence[str] | None = None,
          strategies: Sequence[str] | None = None, replications: int | None = None, seed: int | None = None,
          overrides: Mapping[str, Any] | None = None, out: str | os.PathLike | None = None,
          executor: str | Executor = "serial", workers: int | None = None, scheduler: str | None = None,
          chunk_size: int | None = None, engine: str | None = None, retry_errors: bool = False,
          progress: Progress = "auto") -> pd.DataFrame:
    """Run a sweep and return one tidy row per run.

    ``grid`` maps dotted paths to values (``{"strategies.zsp.ttl": ["5m", "1h"]}``);
    ``sample`` (``random``, ``lhs``, ``sobol``, ``morris``) draws ``n`` points (Sobol: ``n``
    base samples, ``n·(D+2)`` points; Morris: ``n`` trajectories, ``n·(D+1)`` points) between
    ``bounds`` (``{"attacker.rate": (0.001, 0.1), "strategies.zsp.ttl": ("5m", "2h")}``).
    Grid and sample combine as a product; each point runs every strategy ``replications``
    times with the same replication seeds.

    ``executor`` is ``serial``, ``processes`` or ``dask`` (or an
    :class:`~nhisim.experiments.executors.Executor`); results are identical whichever runs
    them. With ``out`` the sweep is written to that folder as it goes and resumes there;
    ``retry_errors`` also reruns runs recorded with an error. ``progress`` is ``"auto"`` (a
    bar in a Jupyter notebook, nothing elsewhere), ``True`` (a tqdm bar anywhere), ``False``,
    or a function ``progress(done, total)`` called as chunks finish. A run that raises is recorded in the ``error`` column with NaN
    metrics; Ctrl-C raises :class:`SweepInterrupted` after keeping the finished chunks.

    ``frame.attrs["sweep"]`` holds the manifest (parameters, sample design, seeds), which
    :func:`~nhisim.experiments.sensitivity.sensitivity` reads; ``frame.attrs["notes"]`` says
    which swept values moved nothing, and why (:func:`~nhisim.experiments.effects.sweep_notes`).
    """
    plan = plan_sweep(scenario, grid, sample=sample, n=n, bounds=bounds, strategies=strategies,
                      replications=replications, seed=seed, overrides=overrides, engine=engine)
    return execute_plan(plan, out=out, executor=executor, workers=workers, scheduler=scheduler,
                        chunk_size=chunk_size, retry_errors=retry_errors, progress=progress)


def execute_plan(plan: SweepPlan, *, out: str | os.PathLike | None = None, executor: str | Executor = "serial",
                 workers: int | None = None, scheduler: str | None = None, chunk_size: int | None = None,
                 retry_errors: bool = False, progress: Progress = "auto",
                 invocation: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Run a :class:`SweepPlan` (see :func:`sweep`)."""
    if chunk_size is not None and int(chunk_size) < 1:
        raise InputError.single(f"chunk size must be at least 1, got {chunk_size}", location="--chunk-size")
    owned = not isinstance(executor, Executor)
    runner = make_executor(executor, workers, scheduler)  # a bad name is refused before the folder is touched
    manifest = plan.manifest()
    store: SweepStore | None = None
    if out is not None:
        session = {"executor": runner.name, "workers": workers, **({"cli": dict(invocation)} if invocation else {})}
        store = SweepStore.open(out, manifest, plan.files(), plan.schema(), session=session)
        manifest = store.manifest
    specs = plan.specs()
    total = len(specs)
    collected: list[pa.Table] = []
    started = time.perf_counter()
    state = {"done": 0, "ran": 0, "failed": 0, "workers": runner.workers}
    bars = ExitStack()
    report = bars.enter_context(reporting(progress, f"sweep {plan.scenario.name}"))

    def stopped() -> SweepInterrupted:
        return SweepInterrupted(state["done"], total, str(out) if out is not None else None)

    try:
        with interrupted_as(stopped):
            done_keys = store.done(retry_errors) if store is not None else set()
            todo = [s for s in specs if s.key not in done_keys]
            state["done"] = total - len(todo)
            if todo:
                with using_executor(runner, owned=owned) as ex:
                    state["workers"] = ex.workers
                    if report:
                        report(state["done"], total)

                    def on_chunk(outcomes: list[RunOutcome]) -> None:
                        table = plan.table(outcomes)
                        with interrupt.held():  # saved and counted together: an interruption tells the truth
                            if store is not None:
                                store.write_part(table)
                            else:
                                collected.append(table)
                            state["done"] += len(outcomes)
                            state["ran"] += len(outcomes)
                            state["failed"] += sum(o.error is not None for o in outcomes)
                        if report:
                            report(state["done"], total)

                    run_specs(ex, plan.shared(), todo, plan.overrides(), chunk_size, on_chunk, keep=False)
            elif report:
                report(total, total)
            if store is not None:
                frame = store.read()
            else:
                frame = tidy_runs(collected, plan.schema(), plan.strategies)
    finally:
        bars.close()
        if store is not None:
            store.close()
    frame.attrs["sweep"] = manifest
    frame.attrs["notes"] = sweep_notes(frame, plan.scenario, plan.base)
    frame.attrs["session"] = {"ran": state["ran"], "failed": state["failed"], "skipped": total - len(todo),
                              "total": total, "elapsed_s": time.perf_counter() - started,
                              "executor": runner.name, "workers": state["workers"],
                              "notes": list(store.notes) if store is not None else [],
                              "out": str(out) if out is not None else None}
    return frame


# --------------------------------------------------------------------------- summary


def summarize(runs: pd.DataFrame, metrics: Sequence[str] | None = None, level: float = 0.95) -> ReadableFrame:
    """A sweep's results as one row per (point, strategy, metric): the point's values, the mean over
    its replications with a Student-t confidence interval, and ``n`` (runs with a value; runs that
    raised are left out).

    As in a comparison's summary, a value is a number that prints in its metric's unit
    (:class:`~nhisim.metrics.readable.ReadableFrame`), an interval is not below 0 (nor above 1
    for a share), and an infinite value makes its mean infinite.
    """
    metrics = list(metrics or METRIC_COLUMNS)
    manifest = runs.attrs.get("sweep") or {}
    params = [c for p in manifest.get("parameters", []) for c in (p["path"], *_twins_of(p["path"], runs))
              if c in runs.columns]
    ok = runs[runs["error"].isna()] if "error" in runs.columns else runs
    keys = ["point", *params, "strategy"]
    frames = []
    for metric in metrics:
        values = ok[keys].copy()
        values["value"] = ok[metric].to_numpy(dtype=float, na_value=np.nan)
        values["metric"] = metric
        frames.append(values)
    if not frames:
        return ReadableFrame(pd.DataFrame(columns=[*keys, "metric", "mean", "ci_low", "ci_high", "n"]),
                         per_row=("mean", "ci_low", "ci_high"))
    tidy = pd.concat(frames, ignore_index=True)
    grouped = tidy.groupby(["point", "strategy", "metric"], sort=False, dropna=False)
    first = grouped[params].first() if params else None
    finite = tidy["value"].where(np.isfinite(tidy["value"]))
    stats_ = tidy.assign(finite=finite).groupby(["point", "strategy", "metric"], sort=False, dropna=False).agg(
        mean=("value", "mean"), n=("value", "count"), sd=("finite", "std"), finite_n=("finite", "count"))
    n = stats_["n"].to_numpy()
    half = stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1)) * stats_["sd"].to_numpy() / np.sqrt(np.maximum(n, 1))
    half = np.where(n >= 2, half, np.nan)
    mean = stats_["mean"].to_numpy()
    infinite = stats_["finite_n"].to_numpy() < n  # an infinite value: the mean is infinite, no interval
    out = stats_.reset_index()[["point", "strategy", "metric"]]
    if first is not None:
        out = out.join(first.reset_index(drop=True))
    shares = out["metric"].map(lambda m: vocabulary.kind(m) == "share").to_numpy(dtype=bool)
    out["mean"] = mean
    # as a comparison's summary: no metric is negative, and a share is at most 1
    out["ci_low"] = np.where(infinite, mean, np.maximum(mean - half, 0.0))
    out["ci_high"] = np.where(infinite, mean, np.where(shares, np.minimum(mean + half, 1.0), mean + half))
    out["n"] = n.astype("int64")
    order = ["point", *params, "strategy", "metric", "mean", "ci_low", "ci_high", "n"]
    return ReadableFrame(out[order].sort_values(["point"], kind="stable").reset_index(drop=True),
                         per_row=("mean", "ci_low", "ci_high"))


def _twins_of(path: str, runs: pd.DataFrame) -> list[str]:
    return [path + suffix for suffix in ("_s", "_per_s") if path + suffix in runs.columns]


__all__ = ["Parameter", "SweepInterrupted", "SweepPlan", "execute_plan", "parse_bounds", "parse_grid", "plan_sweep",
           "summarize", "sweep"]
