"""The Cedar engine behind the enforcement point (``engine: cedar``), via ``cedarpy``.

:class:`CedarEvaluator` answers the same question as
:class:`~nhisim.sim.pep.NativeEvaluator` and returns the same ``(decision, code,
reason)`` tuples, but the decision is Cedar's: policies (generated from the strategy by
:func:`~nhisim.sim.cedar_export.strategy_policies`, or the user's own ``.cedar`` files)
evaluated over the scenario's entities and a request context (see
:mod:`nhisim.sim.cedar_export` for the request model).

Reading Cedar's answer. Cedar says Allow or Deny and names the determining policies.
On Deny, the first determining ``forbid`` in policy order gives the code and reason
(its ``@code`` and ``@reason`` annotations) and its ``@effect`` (``deny``, or
``escalate`` for "send it to a human approver"). On Allow, the first determining
``permit`` does. A Deny with no determining policy is ``no_permit`` (nothing permits
the request), or ``policy_error`` when a policy could not be evaluated.

Speed. Policies, schema and entities are parsed once (and shared by the runs of one
process that use the same ones). Decisions are cached: the cache key is every input of
the Cedar request, and the request is built from the key alone, so a cached answer is
always the one Cedar would give. Time enters the key only as booleans computed at the
call (expired, revoked, quarantined), plus ``now`` and the alert count when a policy
reads them.

User policies. A strategy with ``engine: cedar`` and ``policies: [file.cedar, ...]`` is
decided by those files instead of the generated ones. They are parsed and validated
against the scenario's schema; any problem is an :class:`~nhisim.errors.InputError`
naming the file, the line and Cedar's own message.
"""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cedarpy

from nhisim.errors import InputError, Problem
from nhisim.sim.cedar_export import (
    OPTIONAL_CONTEXT,
    entities_json,
    schema_json,
    strategy_policies,
)
from nhisim.sim.credentials import Credential
from nhisim.sim.strategies import Strategy
from nhisim.sim.world import CompiledTask, CompiledWorld

NO_PERMIT = ("deny", "no_permit", "no policy permits this request")
MAX_CACHED_DECISIONS = 200_000


# --------------------------------------------------------------------------- policy sources


@dataclass(frozen=True)
class PolicySource:
    """One policy text and where it came from (a file, or ``<generated:strategy>``)."""

    name: str
    text: str


@dataclass(frozen=True)
class PolicyInfo:
    """What nhisim reads from one policy: its place, effect and annotations."""

    index: int
    id: str  # Cedar's id (policy0, policy1, ...)
    name: str  # @id, else file:line
    effect: str  # permit | forbid
    outcome: tuple[str, str, str]
    file: str
    line: int | None


@dataclass
class CompiledPolicies:
    """A parsed, validated policy set and what nhisim needs to read Cedar's answers."""

    policy_set: Any  # cedarpy.PolicySet
    info: dict[str, PolicyInfo]
    features: frozenset[str]  # optional context attributes the policies read
    sources: tuple[PolicySource, ...]


def read_policy_files(paths: Sequence[str | os.PathLike], base_dir: str | os.PathLike | None = None
                      ) -> list[PolicySource]:
    """Read ``.cedar`` files (relative paths from ``base_dir``, default the working directory)."""
    sources = []
    for raw in paths:
        path = Path(raw)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError.single("policy file not found", file=str(raw), location="strategies.*.policies",
                                    suggestion="paths are relative to the working directory; "
                                               "an absolute path always works") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError.single(f"cannot read policy file: {getattr(exc, 'strerror', None) or exc}",
                                    file=str(raw)) from None
        sources.append(PolicySource(str(raw), text))
    return sources


def split_statements(text: str) -> list[tuple[int, str]]:
    """Split Cedar policy text at top-level ``;`` (outside strings and comments).

    Returns ``(line of the statement's first token, statement text)`` for each statement,
    and for trailing text with no ``;`` (an unfinished policy).
    """
    out: list[tuple[int, str]] = []
    start = 0
    first_line: int | None = None
    line = 1
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif c == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif c == '"':
            if first_line is None:
                first_line = line
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i += 1
                elif text[i] == "\n":
                    line += 1
                i += 1
        elif c == ";":
            out.append((first_line or line, text[start:i + 1]))
            start, first_line = i + 1, None
        elif not c.isspace() and first_line is None:
            first_line = line
        i += 1
    if first_line is not None:
        out.append((first_line, text[start:]))
    return out


def _parse_error_line(statement: str, first_line: int) -> int:
    """The line of a statement where Cedar's parse error starts (prefixes before it only run out of input)."""
    lines = statement.split("\n")
    offset = len(statement) - len(statement.lstrip())
    skipped = statement[:offset].count("\n")
    body = lines[skipped:]
    for k in range(1, len(body) + 1):
        prefix = "\n".join(body[:k])
        try:
            cedarpy.PolicySet.from_str(prefix)
            continue
        except ValueError as exc:
            if "end of input" not in str(exc).lower():
                return first_line + k - 1
    return first_line + len(body) - 1


def _parse_problem(source: PolicySource, message: str) -> InputError:
    """Where in ``source`` Cedar's parse error is, as an InputError."""
    statements = split_statements(source.text)
    for index, (line, statement) in enumerate(statements, start=1):
        try:
            cedarpy.PolicySet.from_str(statement)
        except ValueError as exc:
            return InputError([Problem(f"Cedar cannot parse this policy: {exc}", location=f"policy {index}",
                                       line=_parse_error_line(statement, line),
                                       suggestion="see https://docs.cedarpolicy.com/policies/syntax-policy.html")],
                              file=source.name, title="invalid Cedar policy")
    return InputError([Problem(f"Cedar cannot parse these policies: {message}")], file=source.name,
                      title="invalid Cedar policy")


def _walk_context(node: Any, found: set[str], counts: list[int]) -> None:
    """Collect ``context.X`` / ``context has X`` attributes in a policy's JSON form; count other uses."""
    if isinstance(node, dict):
        for op in (".", "has"):
            inner = node.get(op)
            if isinstance(inner, dict) and inner.get("left") == {"Var": "context"} and "attr" in inner:
                found.add(inner["attr"])
                counts[0] += 1
        if node.get("Var") == "context":
            counts[1] += 1
        for value in node.values():
            _walk_context(value, found, counts)
    elif isinstance(node, list):
        for value in node:
            _walk_context(value, found, counts)


def compile_policies(sources: Sequence[PolicySource], schema: dict | str) -> CompiledPolicies:
    """Parse and validate policy texts (in order) against a schema; raise InputError on any problem."""
    texts = []
    places: list[tuple[str, int | None]] = []  # (file, line) of each policy, in Cedar's order
    for source in sources:
        try:
            count = len(cedarpy.PolicySet.from_str(source.text))
        except ValueError as exc:
            raise _parse_problem(source, str(exc)) from None
        lines = [line for line, stmt in split_statements(source.text) if stmt.strip()]
        if len(lines) != count:
            lines = [None] * count
        places += [(source.name, line) for line in lines]
        texts.append(source.text)
    combined = "\n".join(texts)
    policy_set = cedarpy.PolicySet.from_str(combined)
    result = cedarpy.validate_policies(combined, schema if isinstance(schema, str) else json.dumps(schema))
    if not result.validation_passed:
        problems: dict[str, list[Problem]] = {}
        for err in result.errors:
            file, line, where = _place(err.policy_id, places, sources)
            problems.setdefault(file, []).append(Problem(f"Cedar: {err.error}", location=where, line=line))
        file, found = next(iter(problems.items()))
        raise InputError(found, file=file, title="Cedar policy does not match the scenario's schema")
    est = json.loads(cedarpy.policies_to_json_str(combined))
    info: dict[str, PolicyInfo] = {}
    features: set[str] = set()
    counts = [0, 0]
    for pid, policy in est.get("staticPolicies", {}).items():
        index = _index(pid)
        file, line, _ = _place(pid, places, sources)
        notes = policy.get("annotations") or {}
        effect = policy.get("effect", "forbid")
        name = notes.get("id") or (f"{file}:{line}" if line else pid)
        how = (notes.get("effect") or "deny").strip()
        if effect == "permit":
            if "effect" in notes:
                raise InputError([Problem("@effect applies to forbid policies only (a permit always allows)",
                                          location=f"policy {name}", line=line)], file=file,
                                 title="invalid Cedar policy")
            outcome = ("allow", notes.get("code") or "allowed", notes.get("reason") or f"permitted by policy {name}")
        else:
            if how not in ("deny", "escalate"):
                raise InputError([Problem(f"@effect({how!r}) is not understood", location=f"policy {name}", line=line,
                                          suggestion='use @effect("deny") or @effect("escalate")')], file=file,
                                 title="invalid Cedar policy")
            outcome = (how, notes.get("code") or "forbidden", notes.get("reason") or f"forbidden by policy {name}")
        info[pid] = PolicyInfo(index, pid, name, effect, outcome, file, line)
        _walk_context(policy.get("conditions", []), features, counts)
    if counts[1] > counts[0]:  # context used whole (not attribute by attribute): send everything
        features |= set(OPTIONAL_CONTEXT)
    return CompiledPolicies(policy_set, info, frozenset(f for f in features if f in OPTIONAL_CONTEXT),
                            tuple(sources))


def _index(pid: str) -> int:
    m = re.fullmatch(r"policy(\d+)", pid)
    return int(m.group(1)) if m else 1 << 30


def _place(pid: str, places: list[tuple[str, int | None]], sources: Sequence[PolicySource]
           ) -> tuple[str, int | None, str]:
    index = _index(pid)
    if index < len(places):
        file, line = places[index]
        first = next(i for i, p in enumerate(places) if p[0] == file)
        return file, line, f"policy {index - first + 1}"
    return (sources[0].name if sources else ""), None, pid or "policies"


# --------------------------------------------------------------------------- shared parsed state

_COMPILED: OrderedDict[tuple, CompiledPolicies] = OrderedDict()
_ENTITIES: OrderedDict[str, Any] = OrderedDict()
_DECISIONS: OrderedDict[tuple, dict] = OrderedDict()
_KEEP = 8


def _memo(store: OrderedDict, key: Any, make):
    if key in store:
        store.move_to_end(key)
        return store[key]
    value = make()
    store[key] = value
    while len(store) > _KEEP:
        store.popitem(last=False)
    return value


def clear_caches() -> None:
    """Forget parsed policies, entities and cached decisions (benchmarks start cold with this)."""
    _COMPILED.clear()
    _ENTITIES.clear()
    _DECISIONS.clear()


def policy_sources(strategy: Strategy, policies: Sequence[str | os.PathLike] = (), *, scenario_name: str | None = None,
                   base_dir: str | os.PathLike | None = None) -> list[PolicySource]:
    """The policies that decide for ``strategy``: the user's files if any, else the generated ones."""
    if policies:
        return read_policy_files(policies, base_dir)
    return [PolicySource(f"<generated:{strategy.name}>", strategy_policies(strategy, scenario_name))]


# --------------------------------------------------------------------------- the evaluator


class CedarEvaluator:
    """The enforcement point's decisions made by Cedar (same interface as NativeEvaluator)."""

    def __init__(self, strategy: Strategy, world: CompiledWorld, quarantined: dict[str, float],
                 alerts: dict[str, int], *, scenario=None, policies: Sequence[str | os.PathLike] = (),
                 base_dir: str | os.PathLike | None = None) -> None:
        if scenario is None:
            raise ValueError("the Cedar engine needs the scenario (for its entities)")
        self.strategy = strategy
        self.world = world
        self.quarantined = quarantined
        self.alerts = alerts
        schema = json.dumps(schema_json(world), sort_keys=True)
        sources = tuple(policy_sources(strategy, policies, scenario_name=scenario.name, base_dir=base_dir))
        self.compiled = _memo(_COMPILED, (sources, schema), lambda: compile_policies(sources, schema))
        entities = json.dumps(entities_json(scenario, world), sort_keys=True)
        self.entities = _memo(_ENTITIES, entities, lambda: cedarpy.Entities.from_json_str(entities))
        # answers depend only on (policies, schema, entities) and the key: runs that share them share the cache
        self._cache: dict = _memo(_DECISIONS, (sources, schema, entities, tuple(world.op_keys)), dict)
        self._alerts_feature = "actor_alerts" in self.compiled.features
        self._now_feature = "now" in self.compiled.features
        self._labels = [world.label(op) for op in range(len(world.op_keys))]
        self._scopes: dict[frozenset[int], list[str]] = {}
        self.cedar_calls = 0

    @property
    def policy_text(self) -> str:
        return "\n".join(s.text for s in self.compiled.sources)

    def decide(self, now: float, presenter: str, cred: Credential, op: int, destination: str,
               intent: CompiledTask | None) -> tuple[str, str, str]:
        """Decide one request (same contract as :meth:`NativeEvaluator.decide`)."""
        bound = cred.intent
        if bound is None:
            bound = intent
        q = self.quarantined.get(presenter)
        chain = cred.chain
        key = (presenter, op, destination, None if bound is None else bound.id, cred.kind, cred.binding,
               cred.subject, chain, cred.scope, now >= cred.expires_at, now >= cred.effective_at,
               cred.revoked_by_response, presenter in cred.holders, q is not None and now >= q,
               self.alerts.get(chain[-1] if chain else cred.subject, 0) if self._alerts_feature else None,
               int(now) if self._now_feature else None)
        answer = self._cache.get(key)
        if answer is None:
            answer = self._ask(key)
            if len(self._cache) >= MAX_CACHED_DECISIONS:
                self._cache.clear()
            self._cache[key] = answer
        return answer

    def request(self, key: tuple) -> dict:
        """The Cedar request for a cache key (built from the key alone, so the key is complete)."""
        (presenter, op, destination, intent_id, kind, binding, subject, chain, scope, expired, revoked,
         by_response, holds, quarantined, alerts, now) = key
        tool, action, resource = self.world.op_keys[op]
        labels = self._scopes.get(scope)
        if labels is None:
            labels = self._scopes[scope] = sorted(self._labels[o] for o in scope)
        context: dict[str, Any] = {
            "operation": self._labels[op],
            "tool": {"__entity": {"type": "Tool", "id": tool}},
            "destination": destination,
            "presenter": presenter,
            "presenter_quarantined": quarantined,
            "credential": {
                "kind": kind, "binding": binding, "subject": subject, "actor": chain[-1] if chain else subject,
                "chain": list(chain), "chain_depth": len(chain), "scope": labels, "expired": expired,
                "revoked": revoked, "revoked_by_response": by_response, "presenter_holds": holds,
            },
        }
        if intent_id is not None:
            context["intent"] = {"__entity": {"type": "Task", "id": intent_id}}
        if alerts is not None:
            context["actor_alerts"] = alerts
        if now is not None:
            context["now"] = now
        return {
            "principal": {"type": "Agent" if presenter in self.world.agents else "External", "id": presenter},
            "action": {"type": "Action", "id": action},
            "resource": {"type": "Resource", "id": resource},
            "context": context,
        }

    def _ask(self, key: tuple) -> tuple[str, str, str]:
        self.cedar_calls += 1
        result = cedarpy.is_authorized(self.request(key), self.compiled.policy_set, self.entities)
        return self.interpret(result)

    def interpret(self, result: Any) -> tuple[str, str, str]:
        """Cedar's answer as the enforcement point's (decision, code, reason)."""
        info = self.compiled.info
        determining = [info[r] for r in result.diagnostics.reasons if r in info]
        if determining:
            return min(determining, key=lambda p: p.index).outcome
        if result.allowed:  # determined by a policy nhisim does not know (cannot happen with from_str ids)
            return ("allow", "allowed", "permitted by policy")
        errors = result.diagnostics.errors
        if errors:
            return ("deny", "policy_error", f"a policy could not be evaluated: {errors[0]}")
        return NO_PERMIT
