"""``nhisim import otel``: GenAI traces as a scenario, or as numbers fitted into one.

From the invocations of :mod:`nhisim.importers.otel`:

- each traced agent is an **agent**, each traced tool a **tool** with one operation
  guessed from its name (:mod:`nhisim.importers.matching`), each guessed resource a
  **resource** with a sensitivity guessed from its name;
- each **shape** of invocation (an agent and the set of tools it called and agents it
  asked) is a **task template**: its steps are the shape's most frequent sequence, its
  intent the operations it called; a shape seen at the root of traces arrives at a fitted
  **rate**, one seen only under another agent is a sub-task (rate 0) reached by a
  **delegation** step (the observed edges become ``may_delegate_to``);
- a step's **service time** is the time the task held its credentials for that call: from
  the call's start to the next step's start (the model's thinking included), the last one
  to the end of the run, the first one from the run's start; fitted as a lognormal
  (median, sigma of the logarithms) from 20 samples, else the samples themselves
  (``empirical``);
- an agent's **role** grants what it was seen calling, and what the agents it asks call
  (a delegator holds what it delegates: token exchange narrows it to the sub-task).

Rates: ``(n - 1) / (last start - first start)`` over the n root invocations, shared among
the shapes by their counts; ``window`` (the period the file covers) gives ``count /
window`` instead, which is right for sampled or bursty exports.

:func:`calibrate` fits the same numbers into an existing scenario instead, matching agents
and tools by id, and says what matched, what changed (old -> new) and what did not.
"""

from __future__ import annotations

import math
import os
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nhisim.errors import InputError
from nhisim.importers.common import (
    Imported,
    ImportReport,
    Source,
    annotated_yaml,
    build_scenario,
    guess_sensitivity,
    plain,
)
from nhisim.importers.matching import (
    OperationResolver,
    best_template,
    guess_operation,
    served_templates,
    template_operations,
)
from nhisim.importers.otel import Invocation, ReadSpans, invocations, read_spans
from nhisim.scenario.loader import load_scenario
from nhisim.scenario.models import (
    DEFAULT_ACTION_DAMAGE,
    DEFAULT_SENSITIVITY_WEIGHTS,
    SENSITIVITY_LEVELS,
    CallStep,
    Scenario,
)
from nhisim.scenario.readable_yaml import rate_text
from nhisim.scenario.units import MAX_RATE, format_duration

MIN_LOGNORMAL = 20  # samples before a lognormal is fitted rather than the samples kept
MAX_EMPIRICAL = 100  # an empirical distribution keeps at most this many values (evenly spaced quantiles)
MIN_SECONDS = 0.001
DEFAULT_RATE = "1/h"
OWNER = "owner"
FITS = ("auto", "lognormal", "empirical")


# --------------------------------------------------------------------------- observing


Token = tuple  # ("call", tool id) or ("delegate", the delegate's shape key)


@dataclass
class Shape:
    """Runs of one agent that did the same set of things (a delegation counts with what the delegate did)."""

    agent: str
    parts: frozenset[Token]
    instances: list[Invocation] = field(default_factory=list)
    sequences: list[tuple[Token, ...]] = field(default_factory=list)
    template: str = ""

    @property
    def key(self) -> tuple[str, frozenset[Token]]:
        return self.agent, self.parts

    @property
    def roots(self) -> int:
        return sum(1 for i in self.instances if i.parent is None)

    @property
    def sequence(self) -> tuple[Token, ...]:
        """The most frequent order of steps (the first seen among equals)."""
        counts = Counter(self.sequences)
        return max(counts, key=lambda s: (counts[s], -self.sequences.index(s)))


def _shape_keys(found: list[Invocation]) -> tuple[dict[int, tuple], dict[int, tuple[Token, ...]]]:
    """The shape key and step sequence of every invocation, delegates first (their shapes are in their callers')."""
    keys: dict[int, tuple] = {}
    sequences: dict[int, tuple[Token, ...]] = {}
    for invocation in sorted(found, key=_depth, reverse=True):  # the deepest first
        tokens = tuple(("call", s.name) if s.kind == "call" else ("delegate", keys[id(s.invocation)])
                       for s in invocation.steps if s.kind == "call" or id(s.invocation) in keys)
        sequences[id(invocation)] = tokens
        keys[id(invocation)] = (invocation.agent, frozenset(tokens))
    return keys, sequences


def _depth(invocation: Invocation) -> int:
    depth = 0
    while invocation.parent is not None:
        invocation = invocation.parent
        depth += 1
    return depth


@dataclass
class Observed:
    """What a trace file shows: invocations grouped into shapes, and the arrival rate of roots."""

    path: str
    read: ReadSpans
    invocations: list[Invocation]
    shapes: list[Shape]
    notes: Counter
    window: float | None  # seconds the file covers, as given
    root_rate: float | None  # root invocations per second, all shapes together

    keys: dict[int, tuple] = field(default_factory=dict, repr=False)

    def shape_of(self, invocation: Invocation) -> Shape:
        return self._by_key[self.keys[id(invocation)]]

    def __post_init__(self) -> None:
        self._by_key = {s.key: s for s in self.shapes}

    def rate(self, shape: Shape) -> float | None:
        """Arrivals per second of a shape at the root of traces (None: cannot be told)."""
        return self.rate_of(shape.roots)

    def rate_of(self, roots: int) -> float | None:
        """Arrivals per second of something seen ``roots`` times at the root of traces (None: cannot be told)."""
        if roots == 0:
            return 0.0
        if self.window:
            return min(roots / self.window, MAX_RATE)
        if self.root_rate is None:
            return None
        return self.root_rate * roots / sum(1 for i in self.invocations if i.parent is None)


def observe(path: Source, *, window: float | None = None) -> Observed:
    """Read a trace file and group its invocations; bad input if it holds no GenAI agent or tool span."""
    name = str(path)
    read = read_spans(path)
    found, notes = invocations(read.spans)
    if not found:
        operations = Counter(s.operation or "no gen_ai.operation.name" for s in read.spans)
        seen = ", ".join(f"{op} ({n})" for op, n in operations.most_common(4))
        raise InputError.single(f"no GenAI agent or tool span among {len(read.spans):,} spans (seen: {seen})",
                                file=name, suggestion="spans need gen_ai.operation.name invoke_agent or "
                                                      "execute_tool (OpenTelemetry GenAI semantic conventions)")
    keys, sequences = _shape_keys(found)
    shapes: dict[tuple, Shape] = {}
    for invocation in found:
        agent, parts = keys[id(invocation)]
        shape = shapes.setdefault((agent, parts), Shape(agent, parts))
        shape.instances.append(invocation)
        shape.sequences.append(sequences[id(invocation)])
    roots = sorted(i.start for i in found if i.parent is None)
    root_rate = (len(roots) - 1) / (roots[-1] - roots[0]) if len(roots) >= 2 and roots[-1] > roots[0] else None
    if root_rate is not None:
        root_rate = min(root_rate, MAX_RATE)
    ordered = sorted(shapes.values(), key=lambda s: (s.agent, -len(s.instances)))
    return Observed(name, read, found, ordered, notes, window, root_rate, keys)


def held_times(invocation: Invocation) -> list[tuple[str, float]]:
    """(tool id, seconds the credentials were held for its call) of each call step, in order."""
    out = []
    steps = invocation.steps
    for index, step in enumerate(steps):
        if step.kind != "call":
            continue
        begin = invocation.start if index == 0 else step.start
        finish = steps[index + 1].start if index + 1 < len(steps) else invocation.end
        out.append((step.name, max(finish - begin, step.end - step.start, MIN_SECONDS)))
    return out


def fit_distribution(samples: list[float], how: str = "auto") -> tuple[dict[str, Any], str]:
    """A service-time distribution for ``samples`` (seconds) and a phrase saying how it was fitted."""
    values = sorted(max(x, MIN_SECONDS) for x in samples)
    n = len(values)
    if how == "lognormal" or (how == "auto" and n >= MIN_LOGNORMAL):
        logs = [math.log(v) for v in values]
        median = math.exp(statistics.fmean(logs))
        sigma = statistics.stdev(logs) if n > 1 else 0.0
        return ({"lognormal": {"median": round(median, 3), "sigma": round(min(sigma, 20.0), 3)}},
                f"lognormal fitted to {n} sample(s): median {median:.3g} s, sigma {sigma:.2f}")
    if n > MAX_EMPIRICAL:
        values = [values[round(i * (n - 1) / (MAX_EMPIRICAL - 1))] for i in range(MAX_EMPIRICAL)]
    return ({"empirical": [round(v, 3) for v in values]},
            f"empirical: {n} sample(s)" + (f" as {MAX_EMPIRICAL} quantiles" if n > MAX_EMPIRICAL else ""))


def rate_value(rate: float) -> Any:
    """A fitted rate as the scenario language writes it: ``4/h`` when whole, else 3 significant digits."""
    if rate <= 0:
        return 0
    exact = rate_text(rate)
    if isinstance(exact, str):
        return exact
    for unit, seconds in (("h", 3600.0), ("d", 86400.0), ("min", 60.0), ("s", 1.0)):
        count = rate * seconds
        if 0.1 <= count < 1000 or unit == "s":
            return f"{count:.3g}/{unit}" if "e" not in f"{count:.3g}" else rate
    return rate


def _check_fit(how: str) -> None:
    if how not in FITS:
        raise InputError.single(f"unknown fit {how!r}", location="--fit", suggestion=f"one of {', '.join(FITS)}")


# --------------------------------------------------------------------------- a new scenario


def import_otel(path: Source, *, window: float | None = None, fit: str = "auto") -> Imported:
    """Build a scenario from the GenAI spans of a trace file."""
    _check_fit(fit)
    observed = observe(path, window=window)
    report = ImportReport("otel", [str(path)])
    _describe(observed, report)
    data, notes = _Estate(observed, fit, report).build()
    source = Path(str(path)).name
    scenario = build_scenario(data, source)
    header = [
        "Imported by `nhisim import otel` on {when} from " + source + ".",
        f"What was imported: {len(observed.read.spans):,} spans, {len(observed.invocations)} agent runs of "
        f"{len({s.agent for s in observed.shapes})} agent(s), {len(scenario.tools)} tool(s), "
        f"{len(scenario.tasks)} task template(s) with fitted rates and service times.",
        "How it maps: each traced agent is an agent; each tool a tool with one operation guessed from its "
        "name; each shape of run (an agent and the set of tools it called and agents it asked) a task "
        "template; a run nested in another agent's run is a delegation.",
        "Fill in before trusting the numbers (lines marked TODO): actions and resources guessed from tool "
        "names, sensitivities and records, roles widened to what each agent's credential really allows (now: "
        "what it was seen doing), owners, and the threat, which is an assumption.",
        "Controls: one strategy runs the whole estate at a time (controls per agent or per account are not "
        "supported yet).",
        "Next: nhisim validate THIS.yaml, nhisim compare THIS.yaml, nhisim replay-trace TRACES --scenario "
        "THIS.yaml --strategy intent.",
    ]
    return Imported(scenario, annotated_yaml(scenario, header, notes), report)


def _describe(observed: Observed, report: ImportReport) -> None:
    formats = ", ".join(f"{n:,} {shape}" for shape, n in observed.read.formats.most_common())
    report.imported.append(f"{len(observed.read.spans):,} spans read ({formats})")
    for reason, n in observed.read.skipped.most_common():
        report.warnings.append(f"{n:,} span(s) skipped: {reason}")
    for reason, n in observed.notes.most_common():
        report.warnings.append(f"{n:,} {reason}")
    roots = sum(1 for i in observed.invocations if i.parent is None)
    report.imported.append(f"{len(observed.invocations)} agent runs ({roots} at the root of a trace), "
                           f"{len(observed.shapes)} shape(s)")
    if observed.window:
        report.imported.append(f"rates over the given window of {format_duration(observed.window)}")
    elif observed.root_rate is not None:
        report.imported.append(f"root runs arrive at {observed.root_rate * 3600:.3g}/h (from {roots} starts)")
    edges = Counter((i.parent.agent, i.agent) for i in observed.invocations if i.parent is not None)
    report.tables["delegations"] = [{"from": a, "to": b, "runs": n} for (a, b), n in sorted(edges.items())]


class _Estate:
    def __init__(self, observed: Observed, fit: str, report: ImportReport) -> None:
        self.observed = observed
        self.fit = fit
        self.report = report
        self.notes: dict[tuple, list[str]] = {}

    def build(self) -> tuple[dict[str, Any], dict[tuple, list[str]]]:
        observed = self.observed
        tools: dict[str, tuple[str, str, str]] = {}  # tool id -> (action, resource, label)
        calls: Counter = Counter()
        for invocation in observed.invocations:
            for step in invocation.steps:
                if step.kind == "call":
                    calls[step.name] += 1
                    if step.name not in tools:
                        guess = guess_operation(step.label or step.name)
                        tools[step.name] = (guess.action, guess.resource, step.label or step.name)
        resources: dict[str, str] = {}
        for tool, (action, resource, label) in tools.items():
            if resource not in resources:
                level, why = guess_sensitivity(resource)
                resources[resource] = level
                self.report.guess(f"resource {resource}", f"sensitivity {level}, from {why}")
            how = "its verb" if guess_operation(label).verb_known else "its name (the verb is unknown: execute)"
            self.report.guess(f"tool {tool}", f"{action} on {resource}, from {how} ({label!r})")
        self.tools = tools
        shapes = [s for s in observed.shapes if s.parts]
        for empty in (s for s in observed.shapes if not s.parts):
            self.report.warnings.append(f"{empty.agent}: {len(empty.instances)} run(s) with no tool call or "
                                        "delegation (model calls only): no template")
        self._name_templates(shapes)
        agents = sorted({s.agent for s in observed.shapes})
        tasks, edges = self._templates(shapes)
        grants = self._grants(shapes, edges)
        serving = {a: [s.template for s in shapes if s.agent == a] for a in agents}
        runs = Counter(s.agent for s in observed.shapes for _ in s.instances)
        data: dict[str, Any] = {
            "name": "imported-otel-estate",
            "title": f"Agents traced in {Path(observed.path).name}",
            "description": "Imported by nhisim import otel: agents, tools, task templates, rates and service "
                           "times observed in OpenTelemetry GenAI spans.",
            "resources": [{"id": r, "kind": "data", "sensitivity": level,
                           "description": "guessed from the names of the tools that act on it"}
                          for r, level in sorted(resources.items())],
            "tools": [{"id": t, "kind": "function", "description": f"traced as {plain(label, 80)!r} ({calls[t]} calls)",
                       "operations": [{"action": a, "resource": r}]} for t, (a, r, label) in sorted(tools.items())],
            "roles": [{"id": f"{a}-grants", "grants": sorted(grants[a]),
                       "description": f"what {a} was seen doing, and what the agents it asks do"}
                      for a in agents if grants[a]],
            "humans": [{"id": OWNER, "title": "owner of the traced agents and source of their tasks"}],
            "agents": [{"id": a, "owner": OWNER, "roles": [f"{a}-grants"] if grants[a] else [],
                        "tools": sorted({t[1] for s in shapes if s.agent == a for t in s.parts if t[0] == "call"}),
                        "tasks": serving[a], "may_delegate_to": sorted(edges.get(a, ())),
                        "description": f"traced: {runs[a]} run(s)"} for a in agents],
            "tasks": tasks,
            "threats": self._threat(agents, grants, resources),
            "run": {"horizon": "8h", "replications": 10},
        }
        self.notes[("resources",)] = ["TODO: resources and their sensitivities are guessed from tool names; "
                                      "set sensitivities and records"]
        self.notes[("tools",)] = ["TODO: each tool's action and resource are guessed from its name"]
        self.notes[("roles",)] = ["TODO: roles grant what each agent was seen doing; widen them to what its "
                                  "credential really allows, or every strategy looks least-privileged"]
        self.notes[("humans",)] = ["TODO: name the owners; one placeholder owns every agent"]
        self.notes[("threats",)] = ["TODO: the threat is an assumption to compare controls on, not an "
                                    "observation: keep, change or replace it"]
        self.report.fill_in("roles", "grants are what each agent was seen doing: widen them to its real access")
        self.report.fill_in("resources", "sensitivities are guesses and records are unknown (0)")
        self.report.fill_in("threats", "the leak is an assumption")
        return data, self.notes

    def _name_templates(self, shapes: list[Shape]) -> None:
        per_agent = Counter(s.agent for s in shapes)
        seen: Counter = Counter()
        for shape in shapes:
            seen[shape.agent] += 1
            shape.template = f"{shape.agent}-task" + (f"-{seen[shape.agent]}" if per_agent[shape.agent] > 1 else "")

    def _grant(self, tool: str) -> str:
        action, resource, _ = self.tools[tool]
        return f"{tool}:{action}:{resource}"

    def _templates(self, shapes: list[Shape]) -> tuple[list[dict], dict[str, set[str]]]:
        out: list[dict] = []
        edges: dict[str, set[str]] = {}
        by_key = {s.key: s for s in shapes}
        intents: dict[tuple, list[str]] = {}

        def intent_of(shape: Shape) -> list[str]:
            """What the task does and what its delegates do: the human's intent covers the whole tree."""
            if shape.key not in intents:
                ops: list[str] = []
                for kind, what in shape.sequence:
                    more = [self._grant(what)] if kind == "call" else intent_of(by_key[what]) if what in by_key else []
                    ops += [g for g in more if g not in ops]
                intents[shape.key] = ops
            return intents[shape.key]

        rows = []
        for shape in shapes:
            samples: dict[str, list[float]] = {}
            for instance in shape.instances:
                for tool, seconds in held_times(instance):
                    samples.setdefault(tool, []).append(seconds)
            steps, intent, fitted = [], intent_of(shape), {}
            for kind, what in shape.sequence:
                if kind == "call":
                    if what not in fitted:
                        fitted[what] = fit_distribution(samples[what], self.fit)
                    steps.append({"call": self._grant(what), "duration": fitted[what][0]})
                    continue
                child = by_key.get(what)
                if child is None:  # the delegate did nothing the model can run: a model-only run
                    continue
                edges.setdefault(shape.agent, set()).add(child.agent)
                steps.append({"delegate": {"agent": child.agent, "task": child.template}})
            rate = self.observed.rate(shape)
            ceiling = max((guess_sensitivity(g.split(":")[2])[0] for g in intent), key=SENSITIVITY_LEVELS.index,
                          default="critical")
            task = {"id": shape.template, "requested_by": OWNER,
                    "arrival_rate": rate_value(rate) if rate is not None else DEFAULT_RATE,
                    "intent": {"operations": intent, "sensitivity_ceiling": ceiling}, "steps": steps,
                    "description": f"{len(shape.instances)} run(s) of {shape.agent}, {shape.roots} at the root "
                                   "of a trace" + ("" if shape.roots else ": a sub-task, reached by delegation")}
            if rate is None:
                self.notes[("tasks", len(out))] = [f"TODO: one run at the root only: its rate cannot be told "
                                                   f"({DEFAULT_RATE} assumed); or import with --window"]
                self.report.fill_in(f"task {shape.template}", "arrival rate (one root run only)")
            out.append(task)
            rows.append({"template": shape.template, "agent": shape.agent, "runs": len(shape.instances),
                         "roots": shape.roots, "per_hour": None if rate is None else round(rate * 3600, 3),
                         "steps": " > ".join(what if kind == "call" else f"ask {what[0]}"
                                             for kind, what in shape.sequence),
                         "service_times": "; ".join(f"{tool}: {how}" for tool, (_, how) in fitted.items())})
        self.report.tables["templates"] = rows
        return out, edges

    def _grants(self, shapes: list[Shape], edges: dict[str, set[str]]) -> dict[str, set[str]]:
        own: dict[str, set[str]] = {s.agent: set() for s in self.observed.shapes}
        for shape in shapes:
            own[shape.agent] |= {self._grant(what) for kind, what in shape.parts if kind == "call"}
        grants = {}
        for agent in own:  # what it does, and what it delegates (transitively)
            seen, stack, total = {agent}, [agent], set()
            while stack:
                current = stack.pop()
                total |= own.get(current, set())
                for nxt in edges.get(current, ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        stack.append(nxt)
            grants[agent] = total
        return grants

    def _threat(self, agents: list[str], grants: dict[str, set[str]], resources: dict[str, str]) -> list[dict]:
        def value(agent: str) -> float:
            pairs = {tuple(g.split(":")[1:]) for g in grants[agent]}
            return sum(DEFAULT_SENSITIVITY_WEIGHTS[resources[r]] * DEFAULT_ACTION_DAMAGE.get(a, 1.0)
                       for a, r in pairs)

        candidates = [a for a in agents if grants[a]]
        if not candidates:
            return []
        target = max(candidates, key=value)
        self.report.guess("threat leak", f"the credential of {target}, the agent with the widest reach, leaks")
        return [{"id": f"leak-{target}", "kind": "secret_leak", "principal": target, "at": {"uniform": ["1h", "6h"]},
                 "attacker_delay": "10m",
                 "description": f"assumed, not observed: the credential of {target} (the widest reach) leaks"}]


# --------------------------------------------------------------------------- calibration


def calibrate(path: Source, scenario: Scenario | str | os.PathLike, *, window: float | None = None,
              fit: str = "auto") -> Imported:
    """Fit the observed rates, service times and delegation edges into an existing scenario (a file,
    or a :class:`~nhisim.scenario.models.Scenario`).

    A traced run of an agent the scenario has serves that agent's template whose operations
    overlap its calls the most. A run of an agent the scenario does not have (the assistant of
    an estate imported from MCP configurations, say) serves, for each scenario tool it called,
    the template that calls that tool the most alike.
    """
    _check_fit(fit)
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    data = scenario.model_dump(mode="json", by_alias=True, exclude_unset=True, warnings=False)
    named = Path(scenario.source).name if scenario.source else f"<{scenario.name}>"
    observed = observe(path, window=window)
    report = ImportReport("otel-calibrate", [str(path), scenario.source or named])
    _describe(observed, report)
    resolver = OperationResolver(scenario)
    ix = scenario.index()
    operations = template_operations(scenario)
    by_tool: dict[str, list[str]] = {}
    for task, ops in operations.items():
        for tool in {op[0] for op in ops}:
            by_tool.setdefault(tool, []).append(task)
    runs: dict[str, dict[str, Any]] = {}
    tool_hits: dict[str, str] = {}
    for invocation in observed.invocations:
        labels = {s.name: s.label for s in invocation.steps if s.kind == "call"}
        calls = []
        for tool, seconds in held_times(invocation):
            op, why = resolver.resolve(labels[tool])
            tool_hits.setdefault(labels[tool], ":".join(op) if op else f"unmatched ({why})")
            if op:
                calls.append((op, seconds))
        if invocation.agent in ix.agents:  # matched on what it did and what it delegated
            tree = {resolver.resolve(s.label or s.name)[0] for s in invocation.tree_calls()} - {None}
            groups = [(served_templates(scenario, invocation.agent), calls, tree)]
        else:
            groups = [(by_tool.get(tool, []), mine, {op for op, _ in mine})
                      for tool in {c[0][0] for c in calls} for mine in [[c for c in calls if c[0][0] == tool]]]
        for candidates, group, signature in groups:
            task, _ = best_template(candidates, operations, signature)
            if task is None:
                continue
            run = runs.setdefault(task, {"runs": 0, "roots": 0, "samples": {}, "agents": set()})
            run["runs"] += 1
            run["roots"] += invocation.parent is None
            run["agents"].add(invocation.agent)
            for op, seconds in group:
                run["samples"].setdefault(op, []).append(seconds)
    changes: list[dict[str, str]] = []
    task_index = {t["id"]: i for i, t in enumerate(data.get("tasks", []))}
    for task_id, run in runs.items():
        raw = data["tasks"][task_index[task_id]]
        template = ix.tasks[task_id]
        rate = observed.rate_of(run["roots"])
        if template.arrival_rate > 0 and rate:
            new = rate_value(rate)
            changes.append({"what": f"tasks.{task_id}.arrival_rate", "old": str(rate_text(template.arrival_rate)),
                            "new": str(new)})
            raw["arrival_rate"] = new
        for j, step in enumerate(template.steps):
            if isinstance(step, CallStep) and step.call.key in run["samples"]:
                distribution, _ = fit_distribution(run["samples"][step.call.key], fit)
                raw["steps"][j]["duration"] = distribution
                changes.append({"what": f"tasks.{task_id}.steps[{j}] ({step.call})",
                                "old": _short(step.duration.model_dump(mode="json")),
                                "new": f"{_short(distribution)}, {len(run['samples'][step.call.key])} samples"})
    agent_index = {a["id"]: a for a in data.get("agents", [])}
    for invocation in observed.invocations:
        parent = invocation.parent
        if parent is not None and parent.agent in agent_index and invocation.agent in agent_index:
            allowed = agent_index[parent.agent].setdefault("may_delegate_to", [])
            if invocation.agent not in allowed:
                allowed.append(invocation.agent)
                changes.append({"what": f"agents.{parent.agent}.may_delegate_to", "old": "-",
                                "new": f"+ {invocation.agent} (observed)"})
    traced = sorted({i.agent for i in observed.invocations})
    report.tables["matched"] = (
        [{"kind": "agent", "traced": a, "scenario": a} for a in traced if a in ix.agents]
        + [{"kind": "tool", "traced": label, "scenario": target} for label, target in sorted(tool_hits.items())
           if not target.startswith("unmatched")]
        + [{"kind": "template", "traced": f"{run['runs']} run(s) of {', '.join(sorted(run['agents']))}",
            "scenario": task} for task, run in sorted(runs.items())])
    report.tables["changes"] = changes
    report.tables["unmatched"] = (
        [{"kind": "traced agent, not in the scenario", "name": a} for a in traced if a not in ix.agents]
        + [{"kind": "traced tool", "name": f"{label}: {target}"} for label, target in sorted(tool_hits.items())
           if target.startswith("unmatched")]
        + [{"kind": "template with no traced run", "name": t.id} for t in scenario.tasks if t.id not in runs])
    report.imported.append(f"{sum(1 for a in traced if a in ix.agents)} traced agent(s) and {len(runs)} "
                           f"template(s) matched; {len(changes)} change(s)")
    for row in report.tables["unmatched"]:
        report.fill_in(row["name"], row["kind"])
    calibrated = build_scenario(data, named)
    header = [
        "Calibrated by `nhisim import otel --calibrate` on {when}: " + named
        + " with the traces of " + Path(str(path)).name + ".",
        f"Changed: {len(changes)} value(s) (arrival rates, service times, observed delegations) in {len(runs)} "
        "template(s); the report lists what did not match.",
        "The original file's comments are not kept, and extends: is resolved into this file.",
    ]
    notes = {("tasks", task_index[t]): [f"calibrated from {runs[t]['runs']} traced run(s)"] for t in runs}
    return Imported(calibrated, annotated_yaml(calibrated, header, notes), report)


def _short(distribution: dict) -> str:
    kind, value = next(iter(distribution.items()))
    if kind == "empirical":
        return f"empirical ({len(value)} values)"
    if kind == "lognormal":
        return f"lognormal (median {value['median']:g} s, sigma {value.get('sigma', 1.0):g})"
    if kind == "uniform":
        return f"uniform ({value[0]:g}-{value[1]:g} s)"
    return f"{kind} {value:g} s" if isinstance(value, (int, float)) else f"{kind} {value}"
