"""Build a scenario in Python, without YAML: a small fluent builder for notebooks.

::

    b = ScenarioBuilder("demo")
    b.resource("crm-db", sensitivity="critical", records=1000)
    b.tool("crm-api", ops=["read:crm-db", "export:crm-db"])
    b.role("support", grants=["crm-api:read:crm-db"])
    b.human("alice")
    b.agent("bot", owner="alice", roles=["support"], tools=["crm-api"], tasks=["t"])
    b.task("t", requested_by="alice", rate="6/h", intent=["crm-api:read:crm-db"],
           steps=[("crm-api:read:crm-db", {"exponential": "20s"})])
    b.threat("secret_leak", principal="bot", at="2h")
    b.strategy("zsp_1h", base="zsp", ttl="1h")
    scenario = b.build()

Every method returns the builder, so calls chain. Values are written exactly as in a
scenario file (``"15m"``, ``"6/h"``, ``{"uniform": ["1h", "20h"]}``, ``"tool:action:resource"``);
unit objects such as :func:`nhisim.scenario.units.exponential` are accepted too. Nothing
is checked until :meth:`ScenarioBuilder.build`, which validates the whole scenario as
``nhisim validate`` does (types, units, every cross-reference) and raises
:class:`~nhisim.errors.InputError` naming the location and the nearest valid name.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import yaml
from pydantic import BaseModel

from nhisim.scenario.loader import apply_overrides, validate_data
from nhisim.scenario.models import PRESET_NAMES, Scenario

_LIST_SECTIONS = ("resources", "tools", "roles", "humans", "agents", "shared_accounts", "tasks", "threats")


def _plain(value: Any) -> Any:
    """Plain data (what a YAML file would hold) from models, tuples and nested containers."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True, warnings=False)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _fields(**kwargs: Any) -> dict[str, Any]:
    """Keyword arguments that were given (``None`` means: keep the model's default)."""
    return {k: _plain(v) for k, v in kwargs.items() if v is not None}


def _operation(op: Any) -> Any:
    """``"read:crm-db"`` or ``("read", "crm-db")`` -> ``{action, resource}``; dicts pass through."""
    if isinstance(op, str) and op.count(":") == 1:
        action, resource = op.split(":")
        return {"action": action, "resource": resource}
    if isinstance(op, tuple) and len(op) == 2:
        return {"action": op[0], "resource": op[1]}
    return _plain(op)  # anything else: let validation say what is wrong


def _step(step: Any) -> Any:
    """A step from ``"tool:action:resource"``, ``(grant, duration)``, ``(grant, duration, {options})`` or a dict."""
    if isinstance(step, str):
        return {"call": step}
    if isinstance(step, tuple) and len(step) in (2, 3):
        out = {"call": step[0], "duration": _plain(step[1])}
        if len(step) == 3:
            out.update(_plain(step[2]))
        return out
    return _plain(step)


class ScenarioBuilder:
    """A fluent builder of :class:`~nhisim.scenario.models.Scenario`.

    ``presets=True`` (the default) starts the strategies with every preset
    (:data:`~nhisim.scenario.models.PRESET_NAMES`), so :meth:`strategy` adds a variant
    to compare against them; with ``presets=False`` only the strategies you add are kept
    (and if you add none, the scenario gets the presets anyway, as a file would).
    """

    def __init__(self, name: str, *, title: str = "", description: str = "", presets: bool = True) -> None:
        self._data: dict[str, Any] = {"name": name}
        if title:
            self._data["title"] = title
        if description:
            self._data["description"] = description
        self._presets = presets

    # ------------------------------------------------------------------ start points

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> ScenarioBuilder:
        """A builder holding a copy of an existing scenario (e.g. one loaded from a file), to extend it."""
        builder = cls(scenario.name)
        builder._data = scenario.model_dump(mode="json", by_alias=True, exclude_none=True, warnings=False)
        return builder

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScenarioBuilder:
        """A builder holding a copy of raw scenario data (as a YAML file would hold it)."""
        builder = cls(str(data.get("name", "")))
        builder._data = copy.deepcopy(dict(data))
        return builder

    # ------------------------------------------------------------------ the estate

    def _add(self, section: str, item: dict[str, Any]) -> ScenarioBuilder:
        self._data.setdefault(section, []).append(item)
        return self

    def resource(self, id: str, *, kind: str | None = None, sensitivity: str | None = None,
                 records: int | None = None, environment: str | None = None, **fields: Any) -> ScenarioBuilder:
        """A system or dataset: ``sensitivity`` low / medium / high / critical; ``environment`` dev / test / staging / prod."""
        return self._add("resources", {"id": id, **_fields(kind=kind, sensitivity=sensitivity, records=records,
                                                           environment=environment, **fields)})

    def tool(self, id: str, *, ops: Iterable[Any] = (), kind: str | None = None, **fields: Any) -> ScenarioBuilder:
        """A tool and the operations it exposes, each ``"action:resource"`` (or ``(action, resource)``)."""
        return self._add("tools", {"id": id, "operations": [_operation(op) for op in ops],
                                   **_fields(kind=kind, **fields)})

    def role(self, id: str, *, grants: Iterable[str] = (), **fields: Any) -> ScenarioBuilder:
        """A named set of grants, each ``"tool:action:resource"``."""
        return self._add("roles", {"id": id, "grants": _plain(list(grants)), **_fields(**fields)})

    def human(self, id: str, *, title: str | None = None, approver: bool | None = None,
              **fields: Any) -> ScenarioBuilder:
        """A person: owner of agents, requester of tasks, approver."""
        return self._add("humans", {"id": id, **_fields(title=title, approver=approver, **fields)})

    def agent(self, id: str, *, owner: str, roles: Iterable[str] = (), tools: Iterable[str] = (),
              tasks: Iterable[str] = (), may_delegate_to: Iterable[str] = (), environment: str | None = None,
              discovery_probability: float | None = None, behaviour: Mapping[str, Any] | None = None,
              **fields: Any) -> ScenarioBuilder:
        """An autonomous workload; ``discovery_probability`` is a shortcut for ``behaviour.discovery_probability``."""
        item: dict[str, Any] = {"id": id, "owner": owner, "roles": list(roles), "tools": list(tools),
                                "tasks": list(tasks), "may_delegate_to": list(may_delegate_to)}
        beh = dict(_plain(behaviour) or {})
        if discovery_probability is not None:
            beh["discovery_probability"] = discovery_probability
        if beh:
            item["behaviour"] = beh
        item.update(_fields(environment=environment, **fields))
        return self._add("agents", item)

    def shared_account(self, id: str, *, holders: Iterable[str], roles: Iterable[str] = (),
                       **fields: Any) -> ScenarioBuilder:
        """One service identity whose key several agents hold."""
        return self._add("shared_accounts", {"id": id, "holders": list(holders), "roles": list(roles),
                                             **_fields(**fields)})

    def task(self, id: str, *, steps: Iterable[Any], requested_by: str | None = None, rate: Any = None,
             intent: Iterable[str] | Mapping[str, Any] | None = None, sensitivity_ceiling: str | None = None,
             destinations: Iterable[str] | None = None, deadline: Any = None, **fields: Any) -> ScenarioBuilder:
        """A task template.

        ``rate`` is the arrival rate per serving agent (``"6/h"``; omit for a sub-task reached only
        by delegation). ``intent`` is a list of grants, or a full ``{operations, sensitivity_ceiling,
        destinations}`` mapping; ``sensitivity_ceiling`` and ``destinations`` set those two parts.
        Each step is ``"tool:action:resource"``, ``(grant, duration)``, ``(grant, duration,
        {"destination": ..., "approval": ...})``, or a mapping such as ``{"delegate": {"agent": a, "task": t}}``.
        A bare duration is fixed; write ``{"exponential": "20s"}`` for a random one.
        """
        item: dict[str, Any] = {"id": id}
        if requested_by is not None:
            item["requested_by"] = requested_by
        if rate is not None:
            item["arrival_rate"] = _plain(rate)
        if isinstance(intent, Mapping):
            intent_data = dict(_plain(intent))
        else:
            intent_data = {"operations": _plain(list(intent))} if intent is not None else {}
        if sensitivity_ceiling is not None:
            intent_data["sensitivity_ceiling"] = sensitivity_ceiling
        if destinations is not None:
            intent_data["destinations"] = list(destinations)
        if intent_data:
            item["intent"] = intent_data
        item["steps"] = [_step(s) for s in steps]
        item.update(_fields(deadline=deadline, **fields))
        return self._add("tasks", item)

    # ------------------------------------------------------------------ what happens to it

    def threat(self, kind: str, **fields: Any) -> ScenarioBuilder:
        """One attack, by ``kind`` (one of :func:`nhisim.scenario.threats.threat_kinds`) and that kind's fields."""
        return self._add("threats", {"kind": kind, **_fields(**fields)})

    def strategy(self, name: str, base: str | None = None, **knobs: Any) -> ScenarioBuilder:
        """A strategy to compare: a preset (``base``, default: ``name`` itself) plus knob overrides."""
        strategies = self._data.get("strategies")
        if strategies is None:
            strategies = {p: {"base": p} for p in PRESET_NAMES} if self._presets else {}
            self._data["strategies"] = strategies
        strategies[name] = {"base": base if base is not None else name, **_fields(**knobs)}
        return self

    def _section(self, section: str, fields: dict[str, Any]) -> ScenarioBuilder:
        current = self._data.setdefault(section, {})
        current.update(_fields(**fields))
        return self

    def detection(self, **fields: Any) -> ScenarioBuilder:
        """Detection and response settings (``monitoring="advanced"``, ``manual_revocation_latency="4h"``, ...)."""
        return self._section("detection", fields)

    def issuer(self, **fields: Any) -> ScenarioBuilder:
        """The token issuer behind JIT credentials (``latency``, ``retry_after``, ``max_retries``)."""
        return self._section("issuer", fields)

    def approval(self, **fields: Any) -> ScenarioBuilder:
        """Human approval capacity (``reviewers``, ``review_time``, ...)."""
        return self._section("approval", fields)

    def attacker(self, **fields: Any) -> ScenarioBuilder:
        """The attacker's playbook (``rate``, ``give_up_after``, ``destination``)."""
        return self._section("attacker", fields)

    def weights(self, **fields: Any) -> ScenarioBuilder:
        """Blast-radius weights (``sensitivity={...}``, ``action_damage={...}``)."""
        return self._section("weights", fields)

    def tags(self, **fields: Any) -> ScenarioBuilder:
        """Threat taxonomy tags (``maestro=[...]``, ``owasp_nhi=[...]``, ...)."""
        return self._section("tags", fields)

    def run(self, **fields: Any) -> ScenarioBuilder:
        """Run settings (``horizon="1d"``, ``seed``, ``replications``, ``baseline``)."""
        return self._section("run", fields)

    def expect(self, *claims: str) -> ScenarioBuilder:
        """Self-check claims, e.g. ``"intent < rbac on blast_radius"``."""
        self._data.setdefault("expectations", []).extend(claims)
        return self

    def set(self, path: str, value: Any) -> ScenarioBuilder:
        """Set any value by dotted path, as ``--set`` does (``"agents.bot.behaviour.discovery_probability"``)."""
        self._data = apply_overrides(self._data, {path: _plain(value)}, source="set")
        return self

    # ------------------------------------------------------------------ results

    def to_dict(self) -> dict[str, Any]:
        """The raw scenario data, as a YAML file would hold it (a copy)."""
        return copy.deepcopy(self._data)

    def to_yaml(self) -> str:
        """The scenario as YAML text (for saving, or for ``nhisim validate``)."""
        return yaml.safe_dump(self._data, sort_keys=False, allow_unicode=True)

    def build(self) -> Scenario:
        """Validate everything and return the scenario; raises :class:`~nhisim.errors.InputError`."""
        return validate_data(self.to_dict(), file=f"<builder {self._data.get('name', '')}>")
