"""A strategy and a scenario as Cedar: schema, entities and policies (pure text, no engine).

The enforcement point's question (may this presenter do this operation now?), in Cedar terms.
Every entity type and action is in the namespace ``Nhisim`` (AWS Verified Permissions
accepts a schema only in a named namespace):

- **principal**: who presents the request: ``Nhisim::Agent::"<id>"`` for an agent of the
  estate, ``Nhisim::External::"<id>"`` for anyone else (an attacker with a stolen key, say);
- **action**: the operation's action, ``Nhisim::Action::"read"``, ``Nhisim::Action::"export"``, ...;
- **resource**: ``Nhisim::Resource::"<id>"``, with its ``sensitivity`` (0 low, 1 medium, 2 high,
  3 critical), kind, records and environment;
- **context**: the operation (``"tool:action:resource"``), the tool, the destination of
  the output, the presenter (and whether it is quarantined), the credential presented
  (kind, binding, subject, actor chain, scope, whether it is expired or revoked at
  the enforcement point right now, whether it needs a second factor and the presenter
  passed it), the task intent bound to the request (a record: the
  ``Task`` template it was declared from, its operations, sensitivity ceiling and
  destinations, as declared or as re-declared during the task), the request's arguments
  (``args``: one attribute per parameter, numbers as Cedar ``decimal``), the number of
  alerts raised on the acting agent (risk posture) and the time.

Time-dependent facts are given to Cedar as booleans computed when the request is made
(``credential.expired``, ``credential.revoked``, ``presenter_quarantined``), so the same
request always gets the same answer and answers can be cached.

Entities are the scenario's humans, roles, agents, shared accounts, tools, resources and
task templates. Credentials are created during a run, so they travel in the request's
context (like the claims of a token), not in the entity store.

Policies. :func:`strategy_policies` writes the native evaluator's checks
(:mod:`nhisim.sim.pep`) as one ``permit`` and a list of ``forbid`` policies, each
annotated with the ``@code`` and ``@reason`` of the decision vocabulary
(:mod:`nhisim.sim.decisions`) that the enforcement point records. Cedar
denies when any ``forbid`` applies; nhisim reports the *first* applicable ``forbid``
in file order (the order of the native checks). ``@effect`` on a forbid says what an
out-of-intent request becomes (Cedar itself only has allow and deny): ``"deny"``,
``"escalate"`` (send it to a human approver), ``"monitor"`` (allow it and raise an
alert) or ``"redeclare"`` (the task re-declares a wider intent for approval); a task
intent's argument constraints are forbids of their own, one per constrained operation. Each generated policy's ``@id`` is also its policy id, the name Cedar gives
when it reports the policies that determined an answer.
"""

from __future__ import annotations

import math
from typing import Any

from nhisim.errors import printable
from nhisim.scenario.arguments import cedar_condition, cedar_string
from nhisim.scenario.models import SENSITIVITY_LEVELS, Scenario
from nhisim.sim import decisions as pep  # the decision vocabulary the policies annotate
from nhisim.sim.compiled import CompiledWorld
from nhisim.strategies import Strategy

#: the Cedar namespace of nhisim's entity types and actions
NAMESPACE = "Nhisim"
PRINCIPAL_TYPES = ("Agent", "External")


def qualified(name: str) -> str:
    """``Agent`` -> ``Nhisim::Agent``: a type (or ``Action``) as entities and requests write it."""
    return f"{NAMESPACE}::{name}"

# the context attributes a request may carry (``credential.x``: an attribute of the
# credential record). The engine sends only those the policies read, so that the
# decisions it caches depend on as little as possible.
CONTEXT_FEATURES = (
    "operation", "tool", "destination", "presenter", "presenter_quarantined", "intent", "args", "actor_alerts", "now",
    "credential.kind", "credential.binding", "credential.subject", "credential.actor", "credential.actor_agent",
    "credential.chain", "credential.chain_depth", "credential.scope", "credential.expired", "credential.revoked",
    "credential.revoked_by_response", "credential.presenter_holds", "credential.controls", "credential.mfa",
    "credential.mfa_passed",
)


# --------------------------------------------------------------------------- schema


def _t(name: str) -> dict:
    return {"type": name}


def _entity(name: str) -> dict:
    return {"type": "Entity", "name": name}


def _set(element: dict) -> dict:
    return {"type": "Set", "element": element}


def _record(**attributes: dict) -> dict:
    return {"type": "Record", "attributes": attributes}


def _optional(attr: dict) -> dict:
    return {**attr, "required": False}


_STR, _LONG, _BOOL = _t("String"), _t("Long"), _t("Boolean")

CREDENTIAL_TYPE = _record(
    kind=_STR,  # static_key | shared_key | jit_token | delegated_token | workload_identity
    binding=_STR,  # bearer | sender_constrained
    subject=_STR,  # the agent or shared account it was issued to
    actor=_STR,  # the current actor: the last of the chain, else the subject
    actor_agent=_optional(_entity("Agent")),  # the same, as an entity, when the actor is an agent
    chain=_set(_STR),  # actor chain of a delegated token (token exchange), empty otherwise
    chain_depth=_LONG,
    scope=_set(_STR),  # operations it grants, as "tool:action:resource"
    expired=_BOOL,
    revoked=_BOOL,  # a revocation is in force at the enforcement point
    revoked_by_response=_BOOL,  # ... and it was the incident response's
    presenter_holds=_BOOL,  # the presenter is one of its holders
    controls=_STR,  # the control group of its subject (the strategy's name, or name/override in a mixed estate)
    mfa=_BOOL,  # it needs a second factor (a human's key under mfa)
    mfa_passed=_BOOL,  # ... and the presenter passed it (a holder, or an approved prompt)
)

_DECIMAL = {"type": "Extension", "name": "decimal"}

# the intent bound to a request: a task template's, possibly re-declared wider during the task
INTENT_TYPE = _record(
    task=_entity("Task"),  # the template it was declared from
    operations=_set(_STR),
    ceiling=_LONG,
    ceiling_name=_STR,
    destinations=_set(_STR),
    redeclared=_set(_STR),  # operations added by re-declaration: free of the template's argument constraints
    requested_by=_optional(_entity("Human")),
)

CONTEXT_TYPE = _record(
    operation=_STR,
    tool=_entity("Tool"),
    destination=_STR,
    presenter=_STR,
    presenter_quarantined=_BOOL,
    credential=_t("Credential"),
    intent=_optional(_t("Intent")),
    args=_optional(_t("Arguments")),
    actor_alerts=_LONG,
    now=_LONG,
)


def arguments_type(world: CompiledWorld) -> dict:
    """The record of every parameter the scenario's operations take (each optional)."""
    return {"type": "Record", "attributes": {
        name: _optional(_DECIMAL if kind == "number" else _STR) for name, kind in sorted(world.parameter_types.items())}}

ENTITY_TYPES: dict[str, dict] = {
    "Human": {"shape": _record(title=_STR, approver=_BOOL)},
    "Role": {"shape": _record(grants=_set(_STR))},
    "Agent": {"memberOfTypes": ["Role"], "shape": _record(
        owner=_entity("Human"), environment=_STR, tools=_set(_entity("Tool")), tasks=_set(_entity("Task")),
        may_delegate_to=_set(_entity("Agent")), entitlements=_set(_STR))},
    "SharedAccount": {"memberOfTypes": ["Role"], "shape": _record(holders=_set(_entity("Agent")),
                                                                  environments=_set(_STR))},
    "External": {},
    "Tool": {"shape": _record(kind=_STR)},
    "Resource": {"shape": _record(kind=_STR, sensitivity=_LONG, sensitivity_name=_STR, records=_LONG,
                                  environment=_STR)},
    "Task": {"shape": _record(operations=_set(_STR), ceiling=_LONG, ceiling_name=_STR, destinations=_set(_STR),
                              requested_by=_optional(_entity("Human")))},
}


def actions_of(world: CompiledWorld) -> list[str]:
    """The actions of the scenario's operations (Cedar actions), sorted."""
    return sorted({action for _, action, _ in world.op_keys})


def schema_json(world: CompiledWorld) -> dict:
    """The Cedar schema (JSON format) of a scenario's requests, in the namespace ``Nhisim``."""
    # names inside a namespace are relative to it: "Agent" here is Nhisim::Agent
    applies = {"principalTypes": list(PRINCIPAL_TYPES), "resourceTypes": ["Resource"],
               "context": _t("RequestContext")}
    return {NAMESPACE: {
        "commonTypes": {"Credential": CREDENTIAL_TYPE, "Intent": INTENT_TYPE, "Arguments": arguments_type(world),
                        "RequestContext": CONTEXT_TYPE},
        "entityTypes": ENTITY_TYPES,
        "actions": {action: {"appliesTo": applies} for action in actions_of(world)},
    }}


def _human_type(t: dict) -> str:
    kind = t["type"]
    if kind == "Entity":
        return t["name"]
    if kind == "Set":
        return f"Set<{_human_type(t['element'])}>"
    if kind == "Record":
        return _human_record(t)
    if kind == "Extension":
        return t["name"]
    return {"Boolean": "Bool"}.get(kind, kind)


def _human_record(t: dict, indent: str = "  ") -> str:
    inner = ",\n".join(f"{indent}{name}{'' if a.get('required', True) else '?'}: {_human_type(a)}"
                       for name, a in t["attributes"].items())
    return "{\n" + inner + "\n" + indent[:-2] + "}"


def schema_text(world: CompiledWorld) -> str:
    """The same schema in Cedar's human-readable schema format (``.cedarschema``)."""
    preamble = ["// Cedar schema of nhisim's enforcement point (see the policies file for how to read a request).",
            f"// Every type and action is in the namespace {NAMESPACE}: requests and entities name them",
            f"// {NAMESPACE}::Agent, {NAMESPACE}::Action::\"read\", ...", "", f"namespace {NAMESPACE} {{"]
    out: list[str] = []
    out.append("// The credential presented with a request (time-dependent facts are booleans).")
    out.append(f"type Credential = {_human_record(CREDENTIAL_TYPE)};")
    out.append("")
    out.append("// The task intent bound to a request (as declared, or as re-declared during the task).")
    out.append(f"type Intent = {_human_record(INTENT_TYPE)};")
    out.append("")
    out.append("// A request's arguments: one optional attribute per parameter of the scenario's operations.")
    out.append(f"type Arguments = {_human_record(arguments_type(world))};")
    out.append("")
    out.append("// What the enforcement point knows about a request besides principal, action and resource.")
    out.append("// nhisim sends only the attributes its policies read (all of them for `cedar authorize`).")
    out.append(f"type RequestContext = {_human_record(CONTEXT_TYPE)};")
    out.append("")
    for name, spec in ENTITY_TYPES.items():
        parents = spec.get("memberOfTypes")
        head = f"entity {name}" + (f" in [{', '.join(parents)}]" if parents else "")
        shape = spec.get("shape")
        out.append(head + (f" = {_human_record(shape)};" if shape else ";"))
    out.append("")
    for action in actions_of(world):
        out.append(f"action {cedar_string(action)} appliesTo {{\n  principal: [{', '.join(PRINCIPAL_TYPES)}],\n"
                   "  resource: [Resource],\n  context: RequestContext\n};")
    body = "\n".join(out).split("\n")
    return "\n".join(preamble + [f"  {row}" if row else "" for row in body] + ["}"]) + "\n"


# --------------------------------------------------------------------------- entities


def uid(kind: str, id: str) -> dict:
    """An entity uid (Cedar JSON), its type in the namespace: ``uid("Agent", "bot")``."""
    return {"type": qualified(kind), "id": id}


def ref(kind: str, id: str) -> dict:
    """An entity reference inside attribute values (Cedar JSON)."""
    return {"__entity": uid(kind, id)}


def entities_json(scenario: Scenario, world: CompiledWorld) -> list[dict]:
    """The scenario's entities in Cedar's JSON entity format."""
    out: list[dict] = []

    def add(kind: str, id: str, attrs: dict, parents: list[dict] | None = None) -> None:
        out.append({"uid": uid(kind, id), "attrs": attrs, "parents": parents or []})

    for h in scenario.humans:
        add("Human", h.id, {"title": h.title, "approver": h.approver})
    for r in scenario.roles:
        add("Role", r.id, {"grants": sorted(str(g) for g in r.grants)})
    for a in scenario.agents:
        add("Agent", a.id, {"owner": ref("Human", a.owner), "environment": a.environment,
                            "tools": [ref("Tool", t) for t in a.tools], "tasks": [ref("Task", t) for t in a.tasks],
                            "may_delegate_to": [ref("Agent", d) for d in a.may_delegate_to],
                            "entitlements": sorted(world.label(op) for op in world.agents[a.id].role_scope)},
            [uid("Role", r) for r in a.roles])
    for s in scenario.shared_accounts:
        add("SharedAccount", s.id, {"holders": [ref("Agent", h) for h in s.holders],
                                    "environments": list(s.environments)}, [uid("Role", r) for r in s.roles])
    for t in scenario.tools:
        add("Tool", t.id, {"kind": t.kind})
    for r in scenario.resources:
        add("Resource", r.id, {"kind": r.kind, "sensitivity": SENSITIVITY_LEVELS.index(r.sensitivity),
                               "sensitivity_name": r.sensitivity, "records": r.records,
                               "environment": r.environment})
    for task in world.tasks.values():
        attrs: dict[str, Any] = {"operations": sorted(world.label(op) for op in task.intent),
                                 "ceiling": task.ceiling, "ceiling_name": SENSITIVITY_LEVELS[task.ceiling],
                                 "destinations": sorted(task.destinations)}
        if task.human is not None:
            attrs["requested_by"] = ref("Human", task.human)
        add("Task", task.id, attrs)
    return out


# --------------------------------------------------------------------------- policies


def comment_line(text: object) -> str:
    """``text`` as one Cedar (or any ``//``) comment line: its line breaks and controls shown as escapes,
    so scenario text can never end the comment and write policies of its own."""
    return "// " + printable(text, one_line=True)


def _policy(name: str, effect: str, outcome: tuple[str, str, str] | tuple[str, str], condition: str,
            comment: list[str], mode: str = "deny", head: str = "principal, action, resource",
            group: str | None = None) -> str:
    """One policy: ``mode`` is a forbid's ``@effect`` (deny, escalate, monitor or redeclare); with a control
    ``group`` (a mixed strategy), its id is prefixed with the group and it applies to that group only."""
    code, reason = outcome[-2], outcome[-1]
    lines = [comment_line(c) if c else "//" for c in comment]  # scenario ids and values in some
    lines += [f"@id({cedar_string(f'{group}/{name}' if group else name)})", f"@code({cedar_string(code)})",
              f"@reason({cedar_string(reason)})"]
    if effect == "forbid":
        lines.append(f"@effect({cedar_string(mode)})")
    lines.append(f"{effect} ({head})")
    guard = f"\nwhen {{ context.credential.controls == {cedar_string(group)} }}" if group else ""
    lines.append(condition + guard + ";")
    return "\n".join(lines)


_MODE_VERBS = {"deny": "denied", "escalate": "escalated to a human approver",
               "monitor": "allowed with an alert (monitored)", "redeclare": "sent back for the task to re-declare its intent"}


def argument_policies(world: CompiledWorld, mode: str, group: str | None = None) -> list[str]:
    """One forbid per (task template, constrained operation): arguments that break the intent's constraints.

    A re-declared intent keeps its template's constraints (``context.intent.task``) except
    on the operations it was re-declared for (``context.intent.redeclared``).
    """
    out = []
    for task in world.tasks.values():
        for op, rules in sorted(task.constraints.items()):
            label = world.label(op)
            tool, action, resource = world.op_keys[op]
            held = " && ".join(cedar_condition(c) for _, c in rules)
            texts = "; ".join(c.text for _, c in rules)
            out.append(_policy(
                f"intent-argument-{task.id}-{label.replace(':', '-')}", "forbid", pep.INTENT_ARG,
                f"when {{\n  context has intent && context.intent.task == {NAMESPACE}::Task::{cedar_string(task.id)} &&\n"
                f"  context.operation == {cedar_string(label)} && !context.intent.redeclared.contains({cedar_string(label)}) &&\n"
                f"  !({held})\n}}",
                [f"   ... and the arguments of {label} within what task {task.id}'s intent allows: {texts}."],
                mode, head=f"principal, action == {NAMESPACE}::Action::{cedar_string(action)}, "
                           f"resource == {NAMESPACE}::Resource::{cedar_string(resource)}", group=group))
    return out


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "never"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def strategy_policies(strategy: Strategy, scenario_name: str | None = None, world: CompiledWorld | None = None
                      ) -> str:
    """The enforcement point of ``strategy`` as Cedar policies, with comments for a person.

    The same text the Cedar engine evaluates during a run (``engine: cedar``). ``world``
    adds the argument constraints of its task intents (with ``runtime_check: intent``).
    A mixed strategy is one set of policies per control group, each applying only to
    requests whose credential that group governs (``context.credential.controls``).
    """
    head = [comment_line(f"nhisim enforcement point for strategy {strategy.name!r}"
                         + (f" on scenario {scenario_name!r}" if scenario_name else ""))]
    if not strategy.mixed:
        head += _knob_lines(strategy)
        policies = _enforcement(strategy, world)
    else:
        head += ["// A mixed estate: each control group below has its own policies, which apply only to",
                 "// requests whose credential it governs (context.credential.controls names the group of",
                 "// the credential's subject: an agent, or a shared account)."]
        policies = []
        for name, (group, members) in strategy.groups().items():
            who = ", ".join(members) if members else "every other agent and shared account"
            policies.append("\n".join([comment_line(f"==== control group {name!r}: {who}"), *_knob_lines(group)]))
            policies += _enforcement(group, world, name)
    intent = any(g.runtime_check == "intent" for g, _ in strategy.groups().values())
    head += [
        "//",
        "// How to read it. A request is (principal = who presents it, action = the operation's",
        "// action, resource = the resource), with a context giving the operation as",
        "// \"tool:action:resource\", the destination, the credential presented and the task intent",
        "// bound to the request (see schema.cedarschema). Cedar allows a request when a permit",
        "// applies and no forbid does. When several forbids apply, nhisim records the FIRST one in",
        "// this file, with its @code and @reason, and its @effect says what the request becomes:",
        "// \"deny\", or \"escalate\" (a human approver decides)"
        + (", \"monitor\" (allowed, and an alert raised) or \"redeclare\" (the task re-declares a" if intent
           else "."),
    ]
    if intent:
        head.append("// wider intent for approval, then asks again).")
    return "\n".join(head) + "\n\n" + "\n\n".join(policies) + "\n"


def _knob_lines(s: Strategy) -> list[str]:
    return [
        comment_line(s.description) if s.description else "//",
        "//",
        "// The knobs below act outside the enforcement point (they shape which credentials exist);",
        "// the policies are the enforcement point itself:",
        f"//   identity={s.identity} credential={s.credential} jit_scope={s.jit_scope} "
        f"ttl={_duration(s.ttl)} rotation={_duration(s.rotation)}",
        f"//   binding={s.binding} delegation={s.delegation} revocation={s.revocation} "
        f"propagation={s.propagation} revoke_at_task_end={str(s.revoke_at_task_end).lower()}",
        f"//   secret_storage={s.secret_storage} cascade_revocation={str(s.cascade_revocation).lower()} "
        f"mfa={str(s.mfa).lower()}",
        f"//   runtime_check={s.runtime_check} out_of_intent={s.out_of_intent} "
        f"redeclare_approver={s.redeclare_approver} risk_escalation_alerts={s.risk_escalation_alerts}",
    ]


def _enforcement(s: Strategy, world: CompiledWorld | None, group: str | None = None) -> list[str]:
    """The policies of one set of knobs (of one control group of a mixed strategy, when ``group``)."""
    intent = s.runtime_check == "intent"
    mode = s.out_of_intent
    steps_up = mode != "deny"  # an out-of-intent request the acting agent is entitled to is not simply denied

    def policy(*args, **kwargs) -> str:
        return _policy(*args, **kwargs, group=group)

    allow = pep.ALLOW_INTENT if intent else pep.ALLOW
    policies = [
        policy("in-scope", "permit", allow,
                "when { context.credential.scope.contains(context.operation) }",
                ["Allow what the presented credential's scope grants, unless a forbid below applies."]),
        policy("expired", "forbid", pep.EXPIRED, "when { context.credential.expired }",
                ["1. The credential must be alive: not past its expiry, not rotated away."]),
        policy("revoked-by-response", "forbid", pep.REVOKED_RESPONSE,
                "when { context.credential.revoked && context.credential.revoked_by_response }",
                ["2. No revocation may be in force at this enforcement point (after propagation):",
                 "   first the incident response's revocations ..."]),
        policy("revoked", "forbid", pep.REVOKED,
                "when { context.credential.revoked && !context.credential.revoked_by_response }",
                ["   ... then any other (task end, offboarding, rotation ticket)."]),
        policy("quarantined", "forbid", pep.QUARANTINED, "when { context.presenter_quarantined }",
                ["3. A quarantined agent presents nothing."]),
        policy("sender-constraint", "forbid", pep.SENDER,
                "when {\n  context.credential.binding == \"sender_constrained\" &&\n"
                "  context.presenter != context.credential.actor &&\n"
                "  !(context.credential.kind == \"shared_key\" && context.credential.presenter_holds)\n}",
                ["4. A sender-constrained credential (proof of possession) works only for its current actor",
                 "   (or, for a shared key, one of its holders); a stolen copy is useless."]),
        policy("mfa", "forbid", pep.MFA, "when { context.credential.mfa && !context.credential.mfa_passed }",
               ["4b. A credential that needs a second factor (a human's key under mfa) works only for a",
                "    presenter that passed it: its holders, in the human's session, or one a prompt was approved for."]),
    ]
    if not intent:
        policies.append(policy("scope", "forbid", pep.SCOPE,
                                "unless { context.credential.scope.contains(context.operation) }",
                                ["5. The operation must be in the credential's scope."]))
    else:
        verb = _MODE_VERBS[mode]
        out_of_scope = ("!context.credential.scope.contains(context.operation) &&\n"
                        "  context has intent && !context.intent.operations.contains(context.operation)")
        policies.append(policy(
            "scope", "forbid", pep.SCOPE,
            "unless {\n  context.credential.scope.contains(context.operation) ||\n"
            "  (context has intent && !context.intent.operations.contains(context.operation))\n}",
            ["5. The operation must be in the credential's scope (an operation outside both the scope",
             "   and the task's intent is an out-of-intent request: see 5a)."]))
        if steps_up:
            policies.append(policy(
                "intent-operation-entitled", "forbid", pep.INTENT_OP,
                f"when {{\n  {out_of_scope} &&\n  context.credential has actor_agent &&\n"
                "  context.credential.actor_agent.entitlements.contains(context.operation)\n}",
                [f"5a. An out-of-intent request outside an intent-scoped token is {verb}",
                 f"    (out_of_intent={mode}) when the acting agent's roles entitle it to the operation ..."],
                mode))
        policies.append(policy(
            "intent-operation-out-of-scope", "forbid", pep.INTENT_OP, f"when {{\n  {out_of_scope}\n}}",
            ["    ... and is denied otherwise: a request is never stepped up, monitored or re-declared",
             "    beyond what the acting agent is entitled to."] if steps_up else
            ["5a. An out-of-intent request outside an intent-scoped token is denied (out_of_intent=deny)."]))
        policies += [
            policy("no-intent", "forbid", pep.NO_INTENT, "unless { context has intent }",
                    ["6. Intent-based authorization: every request must carry a human-originated task intent",
                     "   (the one its token is bound to, else the task it serves)."]),
            policy("intent-operation", "forbid", pep.INTENT_OP,
                    "when { context has intent && !context.intent.operations.contains(context.operation) }",
                    [f"7. Out-of-intent requests are {verb} (out_of_intent={mode}):",
                     "   the operation must be one the task's intent declares ..."], mode),
            policy("intent-sensitivity", "forbid", pep.INTENT_SENS,
                    "when { context has intent && resource.sensitivity > context.intent.ceiling }",
                    ["   ... the resource no more sensitive than the intent's ceiling",
                     "   (0 low, 1 medium, 2 high, 3 critical) ..."], mode),
            policy("intent-destination", "forbid", pep.INTENT_DEST,
                    "when { context has intent && !context.intent.destinations.contains(context.destination) }",
                    ["   ... the output going to a destination the intent allows ..."], mode),
        ]
        if world is not None:
            policies += argument_policies(world, mode, group)
        if s.risk_escalation_alerts is not None:
            policies.append(policy(
                "risk", "forbid", pep.RISK,
                f"when {{ resource.sensitivity >= 2 && context.actor_alerts >= {int(s.risk_escalation_alerts)} }}",
                [f"8. Risk posture: once {int(s.risk_escalation_alerts)} alerts have been raised on the acting agent,",
                 "   its requests on high or critical resources need a human's approval."], "escalate"))
    return policies
