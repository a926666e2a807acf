"""Checks of what intents and behaviour declare: arguments, constraints, discoveries, goal switches.

Run by :func:`nhisim.scenario.validate.check_references` after the id checks. A call's
arguments must name parameters of the operation it calls, with values of the
parameter's type; a constraint must parse against the parameters of an operation its
intent declares; one parameter name has one type across the scenario (requests carry
arguments by name); and behaviour that could never happen is an error, not a silent
no-op (a needed share with no discovery, a goal switch with nowhere to go).
"""

from __future__ import annotations

from nhisim.errors import Problem, did_you_mean
from nhisim.scenario.arguments import ConstraintError, NumberValue, parse_constraint
from nhisim.scenario.models import CallStep, RuntimeDiscovery, Scenario


def operation_parameters(scenario: Scenario) -> dict[tuple[str, str, str], dict[str, str]]:
    """``(tool, action, resource)`` -> parameter name -> ``number`` | ``text``."""
    return {(tool.id, op.action, op.resource): {name: p.type for name, p in op.parameters.items()}
            for tool in scenario.tools for op in tool.operations}


def check_intents(scenario: Scenario) -> list[Problem]:
    """Every problem with arguments, constraints, discoveries and goal switches."""
    problems: list[Problem] = []
    params = operation_parameters(scenario)

    types: dict[str, tuple[str, str]] = {}  # parameter name -> (type, where first declared)
    for i, tool in enumerate(scenario.tools):
        for j, op in enumerate(tool.operations):
            for name, p in op.parameters.items():
                where = f"tools.{i}.operations.{j}.parameters.{name}"
                first = types.setdefault(name, (p.type, where))
                if first[0] != p.type:
                    problems.append(Problem(
                        f"parameter {name!r} is {p.type} here but {first[0]} at {first[1]}", where,
                        suggestion="requests carry arguments by name: give one name one type, or rename one"))

    for i, task in enumerate(scenario.tasks):
        base = f"tasks.{i}"
        declared = {str(g) for g in task.intent.operations}
        for key, texts in task.intent.constraints.items():
            where = f"{base}.intent.constraints.{key}"
            if key not in declared:
                problems.append(Problem(f"{key!r} is not an operation this intent declares", where,
                                        suggestion=did_you_mean(key, declared, "declared operations")
                                        or "constrain only operations listed in intent.operations"))
                continue
            op_params = params.get(tuple(key.split(":")), {})
            for k, text in enumerate(texts):
                try:
                    parse_constraint(text, op_params)
                except ConstraintError as exc:
                    problems.append(Problem(str(exc), f"{where}.{k}",
                                            suggestion="declare the parameter on the tool's operation"
                                            if "no parameter" in str(exc) else None))
        for j, step in enumerate(task.steps):
            if not isinstance(step, CallStep) or not step.arguments:
                continue
            op_params = params.get(step.call.key)
            if op_params is None:
                continue  # an unknown operation: reported by the id checks
            for name, value in step.arguments.items():
                where = f"{base}.steps.{j}.arguments.{name}"
                if name not in op_params:
                    problems.append(Problem(
                        f"{step.call} takes no parameter {name!r}", where,
                        suggestion=did_you_mean(name, op_params, "parameters")
                        or f"declare it under the operation's parameters in tool {step.call.tool!r}"))
                elif (op_params[name] == "number") != isinstance(value, NumberValue):
                    problems.append(Problem(f"parameter {name!r} is {op_params[name]}, but the step gives "
                                            f"{'a number' if isinstance(value, NumberValue) else 'text'}", where,
                                            suggestion="quote text values; give numbers unquoted"))

    discovering = {a.id for a in scenario.agents if a.behaviour.discovery_probability > 0}
    for threat in scenario.threats:
        if isinstance(threat, RuntimeDiscovery) and threat.probability > 0:
            discovering |= set(threat.agents) if threat.agents else {a.id for a in scenario.agents}
    for i, agent in enumerate(scenario.agents):
        behaviour = agent.behaviour
        if behaviour.needed_share > 0 and agent.id not in discovering:
            problems.append(Problem(
                f"agent {agent.id!r} has a needed share of discoveries but never discovers anything",
                f"agents.{i}.behaviour.needed_share",
                suggestion="set behaviour.discovery_probability, or a runtime_discovery threat covering the agent"))
        if behaviour.goal_switch_probability > 0 and len(set(agent.tasks)) < 2:
            problems.append(Problem(
                f"agent {agent.id!r} may switch goals but serves {len(set(agent.tasks))} task template(s): "
                "there is no other objective to switch to",
                f"agents.{i}.behaviour.goal_switch_probability",
                suggestion="list a second task template under the agent's tasks, or set the probability to 0"))
    return problems
