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
process that use the same ones). A request carries only the context attributes the
policies read (found in their syntax tree), and answers are cached under a key made of
exactly what the request is built from, so a cached answer is always the one Cedar would
give. Time enters the key only as booleans computed at the call (expired, revoked,
quarantined), plus ``now`` and the alert count when a policy reads them.

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
from nhisim.scenario.arguments import ticks_text
from nhisim.scenario.loader import max_file_bytes
from nhisim.scenario.models import SENSITIVITY_LEVELS
from nhisim.sim import decisions
from nhisim.sim.cedar_export import (
    CONTEXT_FEATURES,
    NAMESPACE,
    entities_json,
    qualified,
    schema_json,
    strategy_policies,
)
from nhisim.sim.compiled import CompiledTask, CompiledWorld
from nhisim.sim.credentials import Credential
from nhisim.strategies import Strategy

NO_PERMIT = decisions.NO_PERMIT
MAX_NESTING = 40  # brackets inside one policy (Cedar's parser crashes the process on deep nesting)
MAX_OPERATORS = 400  # operators in one policy (each one is a level of Cedar's expression tree)
_OPERATOR = re.compile(r"&&|\|\||==|!=|<=|>=|[<>+\-*!.]|\b(?:if|in|has|like|is)\b")
LIVENESS_CODES = decisions.LIVENESS_CODES
_SCOPE_REASON = decisions.SCOPE[2]
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
    id: str  # Cedar's policy id: its @id, else policy0, policy1, ... (all of those if two @ids clash)
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
    features: frozenset[str]  # the context attributes the policies read (names of CONTEXT_FEATURES)
    sources: tuple[PolicySource, ...]


def read_policy_files(paths: Sequence[str | os.PathLike], base_dir: str | os.PathLike | None = None,
                      location: str = "policies") -> list[PolicySource]:
    """Read ``.cedar`` files (relative paths from ``base_dir``, default the working directory)."""
    sources = []
    for i, raw in enumerate(paths):
        path = Path(raw)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        try:
            if path.exists() and not path.is_file():  # a folder, a pipe, a device: no policies, maybe no end
                raise InputError.single("not a policy file (a folder, a pipe or a device)", file=str(raw),
                                        location=f"{location}[{i}]", suggestion="name .cedar files")
            if path.is_file() and path.stat().st_size > max_file_bytes():
                raise InputError.single(f"policy file is larger than {max_file_bytes()} bytes", file=str(raw),
                                        location=f"{location}.{i}",
                                        suggestion="the limit is NHISIM_MAX_SCENARIO_BYTES") from None
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError.single("policy file not found", file=str(raw), location=f"{location}.{i}",
                                    suggestion="paths are relative to the working directory; "
                                               "an absolute path always works") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError.single(f"cannot read policy file: {getattr(exc, 'strerror', None) or exc}",
                                    file=str(raw), location=f"{location}.{i}") from None
        sources.append(PolicySource(str(raw), text))
    return sources


_NOISE = re.compile(r'//[^\n]*|"(?:[^"\\]|\\.)*"?', re.S)  # a comment, or a string (maybe unterminated)
_NOT_NEWLINE = re.compile(r"[^\n]")


def _blank(m: re.Match) -> str:
    text = m.group()
    if text.startswith('"'):  # keep the quotes, blank what is inside (newlines stay)
        inner = _NOT_NEWLINE.sub(" ", text[1:-1] if len(text) > 1 and text.endswith('"') else text[1:])
        return '"' + inner + ('"' if len(text) > 1 and text.endswith('"') else "")
    return " " * len(text)


def _code_only(text: str) -> str:
    """The text with comments and the insides of strings blanked out (same length, same lines)."""
    return _NOISE.sub(_blank, text)


def split_statements(text: str) -> list[tuple[int, str]]:
    """Split Cedar policy text at top-level ``;`` (outside strings and comments).

    Returns ``(line of the statement's first token, statement text)`` for each statement,
    and for trailing text with no ``;`` (an unfinished policy).
    """
    code = _code_only(text)
    out: list[tuple[int, str]] = []
    start = 0
    for end in [m.start() for m in re.finditer(";", code)] + [len(code)]:
        token = re.search(r"\S", code[start:end + 1])
        if token is not None:
            first = start + token.start()
            out.append((code.count("\n", 0, first) + 1, text[start:end + 1]))
        start = end + 1
    return out


def _complexity_problem(source: PolicySource) -> InputError | None:
    """A policy too deeply nested or too long for Cedar to handle safely, as an InputError."""
    for index, (line, statement) in enumerate(split_statements(source.text), start=1):
        code = _code_only(statement)
        depth = deepest = 0
        for ch in code:
            if ch in "([{":
                depth += 1
                deepest = max(deepest, depth)
            elif ch in ")]}":
                depth -= 1
        operators = len(_OPERATOR.findall(code))
        if deepest > MAX_NESTING or operators > MAX_OPERATORS:
            what = (f"brackets nested {deepest} deep (at most {MAX_NESTING})" if deepest > MAX_NESTING
                    else f"{operators} operators (at most {MAX_OPERATORS})")
            return InputError([Problem(f"this policy is too complex to evaluate safely: {what}",
                                       location=f"policy {index}", line=line,
                                       suggestion="split it into several policies, or use sets and `in`")],
                              file=source.name, title="invalid Cedar policy")
    return None


def _parse_error_line(statement: str, first_line: int) -> int:
    """The line of a statement where Cedar's parse error is (prefixes before it only run out of input)."""
    code = _code_only(statement)
    start = len(code) - len(code.lstrip())
    raw_start = first_line - statement[:start].count("\n")  # line of the statement text's first character
    lines = statement.split("\n")
    for k in range(1, len(lines) + 1):
        try:
            cedarpy.PolicySet.from_str("\n".join(lines[:k]))
        except ValueError as exc:
            if "end of input" not in str(exc).lower():
                return raw_start + k - 1
    return raw_start + len(lines) - 1


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


def _context_path(node: Any) -> tuple[str, ...] | None:
    """``("credential", "scope")`` for the JSON form of ``context.credential.scope``; None if not a context path."""
    path: list[str] = []
    while isinstance(node, dict):
        if node == {"Var": "context"}:
            return tuple(reversed(path))
        inner = node.get(".")
        if not isinstance(inner, dict) or "attr" not in inner:
            return None
        path.append(inner["attr"])
        node = inner.get("left")
    return None


def context_features(conditions: Any) -> set[str]:
    """The request context attributes that policy conditions (Cedar's JSON form) read.

    Names are those of :data:`CONTEXT_FEATURES`; a use of ``context`` (or of
    ``context.credential``) as a whole reads all of it.
    """
    found: set[str] = set()
    stack = [conditions]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if node == {"Var": "context"}:
            found.update(CONTEXT_FEATURES)
            continue
        handled = False
        for op in (".", "has"):
            inner = node.get(op)
            if isinstance(inner, dict) and "attr" in inner:
                base = _context_path(inner.get("left"))
                if base is not None:
                    path = base + (inner["attr"],)
                    if path[0] == "credential" and len(path) > 1:
                        found.add(f"credential.{path[1]}")
                    elif path[0] == "credential":
                        found.update(f for f in CONTEXT_FEATURES if f.startswith("credential."))
                    else:
                        found.add(path[0])
                    handled = True
        if not handled:
            stack.extend(node.values())
    return found


def compile_policies(sources: Sequence[PolicySource], schema: dict | str) -> CompiledPolicies:
    """Parse and validate policy texts (in order) against a schema; raise InputError on any problem."""
    texts = []
    places: list[tuple[str, int | None, str]] = []  # (file, line, text) of each policy, in Cedar's order
    for source in sources:
        problem = _complexity_problem(source)
        if problem is not None:
            raise problem
        try:
            count = len(cedarpy.PolicySet.from_str(source.text))
        except ValueError as exc:
            raise _parse_problem(source, str(exc)) from None
        statements = split_statements(source.text)
        if len(statements) != count:
            statements = [(None, "")] * count
        places += [(source.name, line, text) for line, text in statements]
        texts.append(source.text)
    combined = "\n".join(texts)
    policy_set = cedarpy.PolicySet.from_str(combined)
    result = cedarpy.validate_policies(combined, schema if isinstance(schema, str) else json.dumps(schema))
    if not result.validation_passed:
        problems: dict[str, list[Problem]] = {}
        seen: set[tuple[str, str]] = set()
        for err in result.errors:
            same = (err.policy_id, re.sub(r'Action::"[^"]*"', "Action", err.error))
            if same in seen:  # the same mistake checked once per action
                continue
            seen.add(same)
            file, line, where = _place(err.policy_id, places, sources)
            line, hint = _explain(err.error, err.policy_id, places, line, schema)
            problems.setdefault(file, []).append(Problem(f"Cedar: {err.error}", location=where, line=line,
                                                         suggestion=hint))
        file, found = next(iter(problems.items()))
        raise InputError(found, file=file, title="Cedar policy does not match the scenario's schema")
    est = json.loads(cedarpy.policies_to_json_str(combined))
    for pid in est.get("templates") or {}:
        file, line, where = _place(pid, places, sources)
        raise InputError([Problem("a policy template (with ?principal or ?resource) decides nothing: nhisim links "
                                  "no templates", location=where, line=line,
                                  suggestion="name the principal or resource, or leave it unconstrained")],
                         file=file, title="invalid Cedar policy")
    static = est.get("staticPolicies", {})
    ids = _policy_ids(static)
    if any(new != pid for pid, new in ids.items()):  # the same policies, under their @id
        policy_set = cedarpy.PolicySet.from_json_str(json.dumps(
            {"staticPolicies": {ids[pid]: policy for pid, policy in static.items()}, "templates": {},
             "templateLinks": []}))
    info: dict[str, PolicyInfo] = {}
    features: set[str] = set()
    for pid, policy in static.items():
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
            if how not in decisions.DRIFT_MODES:
                raise InputError([Problem(f"@effect({how!r}) is not understood", location=f"policy {name}", line=line,
                                          suggestion="use @effect(\"deny\"), \"escalate\", \"monitor\" or "
                                                     "\"redeclare\"")], file=file,
                                 title="invalid Cedar policy")
            outcome = decisions.drift(how, (notes.get("code") or "forbidden",
                                            notes.get("reason") or f"forbidden by policy {name}"))
        info[ids[pid]] = PolicyInfo(index, ids[pid], name, effect, outcome, file, line)
        features |= context_features(policy.get("conditions", []))
    return CompiledPolicies(policy_set, info, frozenset(f for f in features if f in CONTEXT_FEATURES),
                            tuple(sources))


def _policy_ids(static: dict[str, dict]) -> dict[str, str]:
    """Cedar's id of each policy -> the id nhisim gives it: its ``@id`` (what a person and a
    policy store call it), else Cedar's own; all Cedar's own if that would name two alike."""
    chosen = {pid: str((policy.get("annotations") or {}).get("id") or pid) for pid, policy in static.items()}
    if len(set(chosen.values())) == len(chosen):
        return chosen
    return {pid: pid for pid in static}


def _schema_names(schema: dict | str) -> tuple[dict[str, list[str]], list[str]]:
    """Attribute names by entity type, and the context's attribute names, from a JSON schema."""
    data = json.loads(schema) if isinstance(schema, str) else schema
    ns = data.get(NAMESPACE) or data.get("", {})
    common = ns.get("commonTypes", {})
    # Cedar's messages name a type in full (Nhisim::Resource); either spelling finds it
    entity_attrs = {key: list(spec.get("shape", {}).get("attributes", {})) for name, spec in
                    ns.get("entityTypes", {}).items() for key in (name, qualified(name))}
    context = list(common.get("RequestContext", {}).get("attributes", {}))
    context += list(common.get("Credential", {}).get("attributes", {}))
    return entity_attrs, context


def _explain(error: str, pid: str, places: list[tuple[str, int | None, str]], line: int | None,
             schema: dict | str) -> tuple[int | None, str]:
    """A better line (where the offending name is) and a 'did you mean' for a Cedar validation error."""
    index = _index(pid)
    names = re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", error)
    if index < len(places) and line is not None:
        code = _code_only(places[index][2])
        skipped = code[:len(code) - len(code.lstrip())].count("\n")  # lines before the first token
        for name in names:
            if name == pid:
                continue
            for k, row in enumerate(code.split("\n")[skipped:]):
                if re.search(rf"\b{re.escape(name)}\b", row):
                    line = line + k
                    break
            else:
                continue
            break
    hint = ""
    m = re.search(r"attribute `([^`]+)` (?:on entity type `([^`]+)`|in context)", error)
    if m:
        from nhisim.errors import nearest

        entity_attrs, context = _schema_names(schema)
        pool = entity_attrs.get(m.group(2), []) if m.group(2) else context
        best = nearest(m.group(1), pool, cutoff=0.75)
        hint = f"did you mean {best!r}?" if best else ("valid attributes: " + ", ".join(sorted(set(pool))))
    bare = re.search(r"unrecognized (?:action|entity type) `([^`]+)`", error)
    if bare and not hint and not bare.group(1).startswith(f"{NAMESPACE}::"):  # written without the namespace
        hint = f"nhisim's entity types and actions are in the namespace {NAMESPACE}: write {qualified(bare.group(1))}"
    return line, hint


def _index(pid: str) -> int:
    m = re.fullmatch(r"policy(\d+)", pid)
    return int(m.group(1)) if m else 1 << 30


def _place(pid: str, places: list[tuple[str, int | None, str]], sources: Sequence[PolicySource]
           ) -> tuple[str, int | None, str]:
    index = _index(pid)
    if index < len(places):
        file, line, _ = places[index]
        first = next(i for i, p in enumerate(places) if p[0] == file)
        return file, line, f"policy {index - first + 1} (Cedar's {pid})"
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
                   base_dir: str | os.PathLike | None = None, world: CompiledWorld | None = None
                   ) -> list[PolicySource]:
    """The policies that decide for ``strategy``: the user's files if any, else the generated ones
    (with ``world``'s argument constraints)."""
    if policies:
        return read_policy_files(policies, base_dir, location=f"strategies.{strategy.name}.policies")
    return [PolicySource(f"<generated:{strategy.name}>", strategy_policies(strategy, scenario_name, world))]


# --------------------------------------------------------------------------- the evaluator


class CedarEvaluator:
    """The enforcement point's decisions made by Cedar (same interface as NativeEvaluator).

    Two caches, both shared by the runs of a process that use the same policies, schema,
    entities and operations. The first is keyed by the request's full inputs (see
    :meth:`key`), and answers repeated requests at the cost of a dictionary lookup. On a
    miss, the key is reduced to what the policies read (:meth:`reduce`) and the second
    cache is looked up; only on a miss there is Cedar asked, with a request built from
    the reduced key alone (:meth:`request`), so a cached answer is always Cedar's.
    """

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
        sources = tuple(policy_sources(strategy, policies, scenario_name=scenario.name, base_dir=base_dir,
                                       world=world))
        self.compiled = _memo(_COMPILED, (sources, schema), lambda: compile_policies(sources, schema))
        entities = json.dumps(entities_json(scenario, world), sort_keys=True)
        self.entities = _memo(_ENTITIES, entities, lambda: cedarpy.Entities.from_json_str(entities))
        self._labels = [world.label(op) for op in range(len(world.op_keys))]
        self._scopes: dict[frozenset[int], list[str]] = {}
        self._intents: dict[str, dict] = {}
        self._groups = {principal: group.name for principal, group in strategy.principals}
        self._escalated: dict[str, tuple] = {}
        self.cedar_calls = 0
        self.use_features(self.compiled.features)
        # answers depend only on (policies, schema, entities, operations) and the key
        self._cache, self._reduced = _memo(_DECISIONS, (sources, schema, entities, tuple(world.op_keys)),
                                           lambda: ({}, {}))

    def use_features(self, features) -> None:
        """Send (and key decisions on) these context attributes (with caches of its own)."""
        self.features = tuple(f for f in CONTEXT_FEATURES if f in set(features))
        self._cache, self._reduced = {}, {}
        self._alerts_feature = "actor_alerts" in self.features
        self._now_feature = "now" in self.features

    @property
    def policy_text(self) -> str:
        return "\n".join(s.text for s in self.compiled.sources)

    def decide(self, now: float, presenter: str, cred: Credential, op: int, destination: str,
               intent: CompiledTask | None, args: tuple | None = None) -> tuple[str, str, str]:
        """Decide one request (same contract as :meth:`NativeEvaluator.decide`)."""
        # the hot path: :meth:`key`, inlined
        bound = cred.intent
        if bound is None:
            bound = intent
        q = self.quarantined.get(presenter)
        chain = cred.chain
        key = (presenter, op, destination, None if bound is None else bound.id, cred.kind, cred.binding,
               cred.subject, chain, cred.scope, now >= cred.expires_at, now >= cred.effective_at,
               cred.revoked_by_response, presenter in cred.holders, q is not None and now >= q,
               self.alerts.get(chain[-1] if chain else cred.subject, 0) if self._alerts_feature else None,
               int(now) if self._now_feature else None, args, cred.mfa, cred.mfa_ok(presenter))
        answer = self._cache.get(key)
        if answer is None:
            answer = self._answer(key)
        if answer[0] == "escalate":
            self._escalated[presenter] = (op, destination, intent, args)
        elif answer[1] == "scope" and answer[2] == _SCOPE_REASON:  # the generated scope policy: told as natively
            return decisions.scope_denial(self.world, self.strategy.of(cred.subject).jit_scope == "intent", cred, op)
        return answer

    def still_valid(self, now: float, presenter: str, cred: Credential, op: int | None = None,
                    destination: str | None = None, intent: CompiledTask | None = None, args: tuple | None = None
                    ) -> tuple[str, str, str] | None:
        """After a wait for approval: the denial if the credential or presenter died meanwhile.

        Cedar decides the escalated request again (``op``, ``destination``, ``intent``;
        by default the presenter's last escalated request); a denial whose code says the
        credential or the presenter died (expired, revoked, quarantined) is returned.
        """
        if op is None:
            op, destination, intent, args = self._escalated.get(presenter) or (
                min(cred.scope) if cred.scope else 0, "internal", None, None)
        key = self.key(now, presenter, cred, op, destination or "internal", intent, args)
        answer = self._cache.get(key) or self._answer(key)
        return answer if answer[0] == "deny" and answer[1] in LIVENESS_CODES else None

    def key(self, now: float, presenter: str, cred: Credential, op: int, destination: str,
            intent: CompiledTask | None, args: tuple | None = None) -> tuple:
        """Every input of a request: presenter, operation, destination, bound intent, the credential's
        kind, binding, subject, chain and scope, whether it is expired, revoked (and by the response),
        held by the presenter, whether the presenter is quarantined, (when policies read them)
        the acting agent's alert count and the time in whole seconds, the arguments, and whether it
        needs a second factor and the presenter passed it."""
        bound = cred.intent
        if bound is None:
            bound = intent
        q = self.quarantined.get(presenter)
        chain = cred.chain
        return (presenter, op, destination, None if bound is None else bound.id, cred.kind, cred.binding,
                cred.subject, chain, cred.scope, now >= cred.expires_at, now >= cred.effective_at,
                cred.revoked_by_response, presenter in cred.holders, q is not None and now >= q,
                self.alerts.get(chain[-1] if chain else cred.subject, 0) if self._alerts_feature else None,
                int(now) if self._now_feature else None, args, cred.mfa, cred.mfa_ok(presenter))

    def reduce(self, key: tuple) -> tuple:
        """The part of a key the policies read: ``(presenter, op, value of each feature...)``."""
        values = self._feature_values(key)
        return (key[0], key[1], *(values[f] for f in self.features))

    def _feature_values(self, key: tuple) -> dict[str, Any]:
        (presenter, op, destination, intent_id, kind, binding, subject, chain, scope, expired, revoked,
         by_response, holds, quarantined, alerts, now, args, mfa, mfa_passed) = key
        actor = chain[-1] if chain else subject
        return {
            "operation": op, "tool": op, "destination": destination, "presenter": presenter,
            "presenter_quarantined": quarantined, "intent": intent_id, "args": args, "actor_alerts": alerts, "now": now,
            "credential.kind": kind, "credential.binding": binding, "credential.subject": subject,
            "credential.actor": actor, "credential.actor_agent": actor, "credential.chain": chain,
            "credential.chain_depth": len(chain), "credential.scope": scope, "credential.expired": expired,
            "credential.revoked": revoked, "credential.revoked_by_response": by_response,
            "credential.presenter_holds": holds, "credential.controls": self._group(subject),
            "credential.mfa": mfa, "credential.mfa_passed": mfa_passed,
        }

    def _answer(self, key: tuple) -> tuple[str, str, str]:
        reduced = self.reduce(key)
        answer = self._reduced.get(reduced)
        if answer is None:
            answer = self._ask(reduced)
            if len(self._reduced) >= MAX_CACHED_DECISIONS:
                self._reduced.clear()
            self._reduced[reduced] = answer
        if len(self._cache) >= MAX_CACHED_DECISIONS:
            self._cache.clear()
        self._cache[key] = answer
        return answer

    def request(self, reduced: tuple) -> dict:
        """The Cedar request for a reduced key (built from it alone, so the key is complete)."""
        presenter, op = reduced[0], reduced[1]
        values = dict(zip(self.features, reduced[2:], strict=True))
        tool, action, resource = self.world.op_keys[op]
        context: dict[str, Any] = {}
        credential: dict[str, Any] = {}
        for name, value in values.items():
            if name == "operation":
                value = self._labels[value]
            elif name == "tool":
                value = {"__entity": {"type": qualified("Tool"), "id": tool}}
            elif name == "intent":
                if value is None:
                    continue  # an optional attribute, absent
                value = self._intent_record(value)
            elif name == "args":
                if value is None:
                    continue
                value = {param: ({"__extn": {"fn": "decimal", "arg": ticks_text(arg)}} if isinstance(arg, int)
                                 else arg) for param, arg in zip(self.world.op_params[op], value, strict=True)}
            elif name == "credential.actor_agent":
                if value not in self.world.agents:
                    continue  # an optional attribute, absent
                value = {"__entity": {"type": qualified("Agent"), "id": value}}
            elif name == "credential.chain":
                value = list(value)
            elif name == "credential.scope":
                labels = self._scopes.get(value)
                if labels is None:
                    labels = self._scopes[value] = sorted(self._labels[o] for o in value)
                value = labels
            if name.startswith("credential."):
                credential[name[len("credential."):]] = value
            else:
                context[name] = value
        if credential:
            context["credential"] = credential
        return {
            "principal": {"type": qualified("Agent" if presenter in self.world.agents else "External"),
                          "id": presenter},
            "action": {"type": qualified("Action"), "id": action},
            "resource": {"type": qualified("Resource"), "id": resource},
            "context": context,
        }

    def _group(self, subject: str) -> str:
        """The control group governing a credential of ``subject``."""
        return self._groups.get(subject, self.strategy.name)

    def _intent_record(self, intent_id: str) -> dict:
        """The ``context.intent`` record of an intent (a template's, or one re-declared during a run)."""
        record = self._intents.get(intent_id)
        if record is None:
            task = self.world.intents[intent_id]
            record = {"task": {"__entity": {"type": qualified("Task"), "id": task.template or task.id}},
                      "operations": sorted(self._labels[o] for o in task.intent), "ceiling": task.ceiling,
                      "ceiling_name": SENSITIVITY_LEVELS[task.ceiling], "destinations": sorted(task.destinations),
                      "redeclared": sorted(self._labels[o] for o in task.redeclared)}
            if task.human is not None:
                record["requested_by"] = {"__entity": {"type": qualified("Human"), "id": task.human}}
            self._intents[intent_id] = record
        return record

    def _ask(self, reduced: tuple) -> tuple[str, str, str]:
        self.cedar_calls += 1
        result = cedarpy.is_authorized(self.request(reduced), self.compiled.policy_set, self.entities)
        return self.interpret(result)

    def interpret(self, result: Any) -> tuple[str, str, str]:
        """Cedar's answer as the enforcement point's (decision, code, reason)."""
        info = self.compiled.info
        determining = [info[r] for r in result.diagnostics.reasons if r in info]
        if determining:
            return min(determining, key=lambda p: p.index).outcome
        if result.allowed:  # determined by a policy nhisim does not know (cannot happen: info names every policy)
            return ("allow", "allowed", "permitted by policy")
        errors = result.diagnostics.errors
        if errors:
            text = re.sub(r"`([^`]+)`", lambda m: f"`{info[m.group(1)].name}`" if m.group(1) in info
                          else m.group(0), str(errors[0]))
            return ("deny", "policy_error", f"a policy could not be evaluated: {text}")
        return NO_PERMIT


# --------------------------------------------------------------------------- export


def scenario_strategy(scenario, name: str) -> tuple[Strategy, list[str]]:
    """A strategy of the scenario (or a preset) by name, and the user policy files it names."""
    from nhisim.scenario.strategy import scenario_strategy

    spec = scenario.strategies.get(name)
    return scenario_strategy(scenario, name), list(spec.policies) if spec is not None else []


def example_request(scenario, world: CompiledWorld, strategy: Strategy) -> dict | None:
    """A benign request of the scenario in the Cedar CLI's request format (the first step of the first task)."""
    for agent in world.agents.values():
        for task_id in agent.tasks:
            task = world.tasks[task_id]
            step = next((s for s in task.steps if s.op is not None), None)
            if step is None:
                continue
            scope = agent.role_scope & task.intent if strategy.jit_scope == "intent" and strategy.jit else \
                agent.role_scope
            kind = "jit_token" if strategy.jit else "static_key"
            cred = Credential(id="example", kind=kind, subject=agent.id, holders={agent.id}, scope=scope,
                              issued_at=0.0, expires_at=strategy.ttl if strategy.jit else strategy.rotation,
                              binding=strategy.binding, intent=task if strategy.jit else None)
            evaluator = CedarEvaluator(strategy, world, {}, {}, scenario=scenario)
            evaluator.use_features(CONTEXT_FEATURES)  # the schema's whole context, for `cedar authorize`
            request = evaluator.request(evaluator.reduce(evaluator.key(0.0, agent.id, cred, step.op,
                                                                       step.destination, task,
                                                                       world.op_default_args[step.op])))
            for part in ("principal", "action", "resource"):
                uid_ = request[part]
                request[part] = f'{uid_["type"]}::{json.dumps(uid_["id"])}'
            return request
    return None


def policy_bundle(scenario, strategy_name: str, *, base_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """The files that express ``strategy_name`` on ``scenario`` in Cedar, by file name.

    ``<strategy>.cedar`` (the policies that decide: the strategy's own files if it names
    some, else the generated ones), ``schema.cedarschema`` and ``schema.cedarschema.json``
    (the same schema in Cedar's two formats), ``entities.json`` and
    ``example-request.json`` (for the Cedar CLI: ``cedar authorize``).
    """
    from nhisim.sim.cedar_export import comment_line, schema_text
    from nhisim.sim.compiled import compile_world

    world = compile_world(scenario)
    strategy, files = scenario_strategy(scenario, strategy_name)
    sources = policy_sources(strategy, files, scenario_name=scenario.name, base_dir=base_dir, world=world)
    schema = schema_json(world)
    compile_policies(sources, schema)  # never export something Cedar would reject
    if files:
        text = "\n".join(f"{comment_line(f'---- from {s.name}')}\n{s.text.rstrip()}\n" for s in sources)
    else:
        text = sources[0].text
    out = {
        f"{strategy_name}.cedar": text,
        "schema.cedarschema": schema_text(world),
        "schema.cedarschema.json": json.dumps(schema, indent=2) + "\n",
        "entities.json": json.dumps(entities_json(scenario, world), indent=2) + "\n",
    }
    request = example_request(scenario, world, strategy)
    if request is not None:
        out["example-request.json"] = json.dumps(request, indent=2) + "\n"
    return out
