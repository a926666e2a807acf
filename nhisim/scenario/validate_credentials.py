"""Checks of what credentials the estate declares beyond its agents: secrets kept in resources,
humans' own credentials, tasks run on them, and each threat's own detection.

Run by :func:`nhisim.scenario.validate.check_references` after the id checks (an id that
does not exist is reported there once). Each check refuses a setting that could never
act: a secret of a human who holds no credential, a task on the credential of a requester
who has none, a detection of its own on a threat that opens no incident, a shared
detection that names no incident or can never fire, MFA fatigue where no human key needs
MFA.
"""

from __future__ import annotations

import math

import networkx as nx

from nhisim.errors import Problem, did_you_mean
from nhisim.scenario.models import Scenario
from nhisim.scenario.units import Fixed


def check_credentials(scenario: Scenario) -> list[Problem]:
    """Every problem with secrets, humans' credentials, tasks on them and threats' detection."""
    problems: list[Problem] = []
    ix = scenario.index()
    keyed = {h.id for h in scenario.humans if h.roles}  # humans who hold a credential of their own

    def human_key(human: str, location: str, what: str) -> None:
        if human in ix.humans and human not in keyed:
            problems.append(Problem(f"human {human!r} holds no credential, so {what}", location,
                                    suggestion=f"give {human!r} roles (its own credential's scope)"))

    for i, human in enumerate(scenario.humans):
        for j, role in enumerate(human.roles):
            if role not in ix.roles:
                problems.append(Problem(f"unknown role {role!r}", f"humans.{i}.roles.{j}",
                                        suggestion=did_you_mean(role, ix.roles, "roles")))
        if human.roles and (human.id in ix.agents or human.id in ix.shared_accounts):
            problems.append(Problem(f"human {human.id!r} holds a credential and has the id of an agent or shared "
                                    "account", f"humans.{i}.id",
                                    suggestion="principals are told apart by id; give them distinct ids"))
    principals = [*ix.agents, *ix.shared_accounts, *ix.humans]
    for i, resource in enumerate(scenario.resources):
        for j, owner in enumerate(resource.secrets):
            where = f"resources.{i}.secrets.{j}"
            if owner not in principals:
                problems.append(Problem(f"unknown agent, shared account or human {owner!r}", where,
                                        suggestion=did_you_mean(owner, principals, "principals")))
            else:
                human_key(owner, where, f"{resource.id!r} cannot hold its secret")
    for i, task in enumerate(scenario.tasks):
        if not task.on_behalf_of_requester:
            continue
        where = f"tasks.{i}.on_behalf_of_requester"
        if task.requested_by is None:
            problems.append(Problem(f"task {task.id!r} runs on its requester's credential but names no requester",
                                    where, suggestion="set requested_by to the human whose credential it runs on"))
        else:
            human_key(task.requested_by, where, f"task {task.id!r} cannot run on its credential")
    for i, threat in enumerate(scenario.threats):
        named = [getattr(threat, field) for field, pool in threat.REFERENCES.items() if pool == "principals"]
        for field, value in zip((f for f, p in threat.REFERENCES.items() if p == "principals"), named,
                                strict=True):
            values = value if isinstance(value, list) else [value]
            for j, principal in enumerate(values):
                where = f"threats.{i}.{field}" + (f".{j}" if isinstance(value, list) else "")
                human_key(principal, where, "nothing of it can leak")
                if principal in keyed and getattr(threat, "credential", "access") == "minting":
                    problems.append(Problem(f"human {principal!r} mints no credential: its key is what it presents",
                                            f"threats.{i}.credential",
                                            suggestion="leak its access credential (credential: access)"))
    problems += _check_fatigue(scenario, keyed)
    problems += check_threat_detection(scenario)
    return problems


def _check_fatigue(scenario: Scenario, keyed: set[str]) -> list[Problem]:
    """MFA fatigue needs a human key that needs MFA under some strategy."""
    if scenario.attacker.mfa_fatigue_probability <= 0:
        return []
    from nhisim.scenario.strategy import scenario_strategy

    for name in scenario.strategies:
        strategy = scenario_strategy(scenario, name)
        if any(strategy.of(h).mfa and strategy.of(h).credential == "static_key" for h in keyed):
            return []
    return [Problem("attacker.mfa_fatigue_probability is set, but no strategy gives a human's standing key MFA",
                    "attacker.mfa_fatigue_probability",
                    suggestion="give humans roles and set mfa: true (for them, in an override with humans: [...]), "
                               "or drop it")]


def _never(distribution) -> bool:
    """Whether a distribution is the fixed value ``never``."""
    return isinstance(distribution, Fixed) and math.isinf(distribution.fixed)


def check_threat_detection(scenario: Scenario) -> list[Problem]:
    """A threat's own ``detection``: on a threat that opens an incident, with detection enabled; a
    ``shared_with`` names another such threat, and a group of threats sharing one detection has a way
    to be detected."""
    problems: list[Problem] = []
    ids = {threat.effective_id(i): i for i, threat in enumerate(scenario.threats)}
    groups = nx.Graph()
    for i, threat in enumerate(scenario.threats):
        own = threat.detection
        if own is None:
            continue
        where = f"threats.{i}.detection"
        if threat.EVIDENCE != "compromise":
            problems.append(Problem(f"{threat.kind} opens no incident, so nothing of it is detected", where,
                                    suggestion="drop detection from this threat"))
            continue
        if not scenario.detection.enabled:
            problems.append(Problem("detection is disabled (detection.enabled: false): this threat's detection "
                                    "cannot apply", where, suggestion="drop it, or enable detection"))
            continue
        other = own.shared_with
        if other is None:
            continue
        me = threat.effective_id(i)
        if other == me:
            problems.append(Problem(f"threat {me!r} shares its detection with itself", f"{where}.shared_with",
                                    suggestion="name another threat of the same breach"))
        elif other not in ids:
            problems.append(Problem(f"unknown threat {other!r}", f"{where}.shared_with",
                                    suggestion=did_you_mean(other, [t for t in ids if t != me], "threats")))
        elif scenario.threats[ids[other]].EVIDENCE != "compromise":
            problems.append(Problem(f"threat {other!r} ({scenario.threats[ids[other]].kind}) opens no incident to "
                                    "detect", f"{where}.shared_with",
                                    suggestion="name a threat that compromises something"))
        else:
            groups.add_edge(me, other)
    level = scenario.detection.levels.get(scenario.detection.monitoring)
    silent_level = level is None or _never(level.baseline_delay)
    alerts_detect = scenario.detection.alert_detection_probability > 0
    for group in nx.connected_components(groups):
        members = [scenario.threats[ids[t]] for t in group]
        if alerts_detect or not all(
                _never(t.detection.baseline_delay) if t.detection and t.detection.baseline_delay is not None
                else silent_level for t in members):
            continue
        names = sorted(group)
        problems.append(Problem(f"threats {', '.join(names)} share one detection that can never fire: none of "
                                "them is ever detected on its own (baseline never, alerts never detect)",
                                f"threats.{ids[names[0]]}.detection.shared_with",
                                suggestion="give one of them a baseline_delay, or raise "
                                           "detection.alert_detection_probability"))
    return problems
