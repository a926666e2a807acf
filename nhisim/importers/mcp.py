"""``nhisim import mcp``: an MCP client configuration as a scenario.

The mapping. In MCP, the client's assistant asks a server to run a tool, and the server
acts on the outside world with the secret it was started with. So each configured server
becomes

- a **tool** (what it exposes: operations, action on resource; from a small catalogue of
  known servers, ``nhisim/data/mcp_servers.yaml``, else a placeholder to fill in),
- an **agent** ``<server>-server``: the server process, the principal that holds the
  server's secrets, with a **role** ``<server>-access`` granting every operation the
  server exposes (what its credential allows), serving one **task template**
  ``use-<server>`` that calls the server's routine operations (its intent);

a secret several servers hold (same value, or same variable or prompt) becomes a
**shared account** of those servers' agents; the person whose configuration it is owns
every agent and requests every task. A server with no secret in the configuration acts
with ambient authority (the user's files, network): it is still an identity here.

What the configuration does not say is assumed, and marked ``# TODO:`` in the YAML and in
the report: task rates (4/h), step times (median 5 s), sensitivities and records,
operations of unknown servers, and two threats: a leak of the most exposed secret, and
tool discovery (an agent trying a non-routine operation in 5% of tasks).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from nhisim.errors import InputError
from nhisim.importers.common import (
    IdPool,
    Imported,
    ImportReport,
    InputBytes,
    Source,
    annotated_yaml,
    build_scenario,
    guess_sensitivity,
)
from nhisim.importers.mcp_config import ClientConfig, Secret, Server, read_config
from nhisim.scenario.models import DEFAULT_ACTION_DAMAGE, DEFAULT_SENSITIVITY_WEIGHTS, SENSITIVITY_LEVELS

OWNER = "owner"
STEP_TIME = {"lognormal": {"median": "5s", "sigma": 1.0}}
TASK_RATE = "4/h"
DISCOVERY_PROBABILITY = 0.05
# how much worse a leak is by how the secret is supplied: written in a file that gets copied and
# committed, then living in a process environment, then typed at a prompt
_SOURCE_RISK = {"plaintext": 3, "file": 2, "env": 1, "input": 1, "placeholder": 0}


@dataclass(frozen=True)
class CatalogueEntry:
    """A known MCP server: what it reaches and the operations it exposes."""

    id: str
    title: str
    aliases: tuple[str, ...]
    match: tuple[str, ...]
    resources: tuple[dict, ...]
    operations: tuple[dict, ...]


@cache
def catalogue() -> tuple[CatalogueEntry, ...]:
    """The known servers, in matching order (``nhisim/data/mcp_servers.yaml``)."""
    text = resources.files("nhisim").joinpath("data", "mcp_servers.yaml").read_text(encoding="utf-8")
    return tuple(CatalogueEntry(e["id"], e["title"], tuple(e.get("aliases", ())), tuple(e["match"]),
                                tuple(e["resources"]), tuple(e["operations"]))
                 for e in yaml.safe_load(text)["servers"])


def _bounded(word: str, text: str) -> bool:
    start = text.find(word)
    while start >= 0:
        before = text[start - 1] if start else " "
        end = start + len(word)
        after = text[end] if end < len(text) else " "
        if not before.isalnum() and not after.isalnum():
            return True
        start = text.find(word, start + 1)
    return False


def match_server(server: Server) -> tuple[CatalogueEntry | None, str]:
    """The catalogue entry of a server and how it was recognised, or (None, why not)."""
    name = server.name.rsplit("/", 1)[-1].lower()
    for entry in catalogue():
        if name == entry.id or name in entry.aliases:
            return entry, f"its name {server.name!r}"
    for entry in catalogue():
        for word in entry.match:
            if _bounded(word, server.match_text):
                return entry, f"{word!r} in its {'URL' if word in server.url else 'name or command'}"
    return None, "not in the catalogue of known servers"


def _secret_label(uses: list[Secret]) -> str:
    """A name for a secret: a variable's name if one carries it, else the prompt's, else server and header."""
    for use in uses:
        if "_" in use.name and use.name.upper() == use.name:
            return use.name
    for use in uses:
        if use.source in ("input", "env"):
            return use.reference
    return f"{uses[0].server}-{uses[0].name}"


def import_mcp(paths: Source | Sequence[Source], *, rate: str = TASK_RATE) -> Imported:
    """Read MCP client configurations (paths, or :class:`~nhisim.importers.common.InputBytes`) and
    build a scenario of their servers and secrets."""
    if isinstance(paths, (str, os.PathLike, InputBytes)):
        paths = [paths]
    configs = [read_config(p) for p in paths]
    return _Builder(configs, rate).build()


class _Builder:
    def __init__(self, configs: list[ClientConfig], rate: str) -> None:
        self.configs = configs
        self.rate = rate
        names = ", ".join(f"{Path(c.path).name} ({c.client})" for c in configs)
        self.report = ImportReport("mcp", [c.path for c in configs])
        self.source = names
        self.data: dict[str, Any] = {k: [] for k in ("resources", "tools", "roles", "humans", "agents",
                                                     "shared_accounts", "tasks", "threats")}
        self.notes: dict[tuple, list[str]] = {}
        self.agent_of: dict[int, str] = {}  # id(server) -> agent id
        self.ops_of: dict[str, list[tuple[str, str]]] = {}  # agent -> (action, resource) it may perform

    # ------------------------------------------------------------------ pieces

    def note(self, section: str, index: int | None, *lines: str) -> None:
        key = (section,) if index is None else (section, index)
        self.notes.setdefault(key, []).extend(lines)

    def build(self) -> Imported:
        servers: list[Server] = []
        for config in self.configs:
            for server in config.servers:
                if server.disabled:
                    self.report.warnings.append(f"{server.name} ({Path(config.path).name}) is disabled: skipped")
                else:
                    servers.append(server)
            self.report.warnings.extend(config.notes)
        if not servers:
            raise InputError.single("every server in the configuration is disabled", file=self.configs[0].path,
                                    suggestion="enable a server, or import the configuration that uses them")
        self.data["humans"].append({"id": OWNER, "title": "the person whose client configuration this is"})
        self.note("resources", None, "TODO: sensitivities are guessed (from the catalogue of known servers, or "
                                     "from the name); set each resource's sensitivity and records")
        self.note("roles", None, "TODO: each role grants everything its server exposes (assumed); narrow it to "
                                 "what the server's credentials really allow")
        self.note("tasks", None, f"TODO: each task calls its server's routine operations at {self.rate}, "
                                 "median 5 s a step (assumed): measure them, e.g. nhisim import otel TRACES "
                                 "--calibrate THIS.yaml")
        self.note("humans", 0, "TODO: name the person who owns this configuration (the agents' owner)")
        tools, agents = IdPool(), IdPool()
        prefix = len(self.configs) > 1
        for server in servers:
            label = f"{server.client}-{server.name}" if prefix else server.name
            tool = tools.new(label, "server")
            self.agent_of[id(server)] = agents.new(f"{tool}-server")
            self._server(server, tool)
        groups = self._secrets(servers)
        self._threats(servers, groups)
        self.report.imported.insert(0, f"{len(servers)} MCP server(s) from {self.source}; "
                                       f"{len(groups)} distinct secret(s), "
                                       f"{sum(1 for g in groups.values() if len(g['agents']) > 1)} shared")
        data = {"name": "imported-mcp-estate",
                "title": f"MCP servers of {self.source}",
                "description": "Imported by nhisim import mcp: each server is a tool and an agent (the server "
                               "process, holding its secrets); a secret several servers hold is a shared account.",
                "tags": self._tags(groups),
                **{k: v for k, v in self.data.items() if v},
                "run": {"horizon": "8h", "replications": 10,
                        "baseline": "shared_account" if self.data["shared_accounts"] else "rbac"}}
        scenario = build_scenario(data, self.source)
        return Imported(scenario, annotated_yaml(scenario, self._header(servers, groups), self.notes), self.report)

    def _server(self, server: Server, tool: str) -> None:
        entry, how = match_server(server)
        agent = self.agent_of[id(server)]
        if entry is not None:
            resource_ids = {}
            for res in entry.resources:
                rid = resource_ids[res["id"]] = f"{tool}-{res['id']}"
                self.data["resources"].append({"id": rid, "kind": res.get("kind", "system"),
                                               "sensitivity": res["sensitivity"],
                                               "description": res.get("description", "")})
                self.report.guess(f"resource {rid}", f"sensitivity {res['sensitivity']} (catalogue entry "
                                                     f"{entry.title}); records unknown")
            operations = [(op["action"], resource_ids[op["resource"]], bool(op.get("routine")))
                          for op in entry.operations]
            self.report.guess(f"tool {tool}", f"operations of {entry.title}, recognised by {how}")
            description = f"MCP server {server.name} ({entry.title}) of {server.client}: {server.launch}"
        else:
            level, why = guess_sensitivity(server.name)
            rid = f"{tool}-data"
            self.data["resources"].append({"id": rid, "kind": "unknown", "sensitivity": level,
                                           "description": f"what the server {server.name} reaches (unknown)"})
            operations = [("read", rid, True), ("write", rid, False)]
            self.report.fill_in(f"tool {tool}", f"unknown server {server.name!r} ({server.launch}): list the "
                                                f"operations it exposes and the resources it reaches")
            self.report.guess(f"resource {rid}", f"sensitivity {level} from {why}")
            self.note("tools", len(self.data["tools"]),
                      f"TODO: unknown server {server.name!r} ({server.launch}): its operations (action on "
                      f"resource) are a placeholder; list what it really exposes")
            description = f"MCP server {server.name} (unknown) of {server.client}: {server.launch}"
        self.data["tools"].append({"id": tool, "kind": "mcp", "description": description,
                                   "operations": [{"action": a, "resource": r} for a, r, _ in operations]})
        grants = [f"{tool}:{a}:{r}" for a, r, _ in operations]
        routine = [f"{tool}:{a}:{r}" for a, r, keep in operations if keep] or grants[:1]
        self.ops_of[agent] = [(a, r) for a, r, _ in operations]
        role = f"{tool}-access"
        self.data["roles"].append({"id": role, "grants": grants,
                                   "description": f"what the credentials of {server.name} allow"})
        held = ", ".join(f"{s.name} ({s.supplied})" for s in server.secrets) or "no secret in the configuration"
        self.data["agents"].append({"id": agent, "owner": OWNER, "roles": [role], "tools": [tool],
                                    "tasks": [f"use-{tool}"], "description": f"the process of MCP server "
                                    f"{server.name}; holds {held}"})
        if server.notes:
            self.report.warnings.extend(f"{server.name}: {n}" for n in server.notes)
            self.note("agents", len(self.data["agents"]) - 1, *(f"TODO: {n}" for n in server.notes))
        ceiling = max((self._sensitivity(r) for _, r, keep in operations if keep),
                      key=SENSITIVITY_LEVELS.index, default="medium")
        self.data["tasks"].append({
            "id": f"use-{tool}", "requested_by": OWNER, "arrival_rate": self.rate,
            "description": f"the assistant asks {server.name} for its routine operations",
            "intent": {"operations": routine, "sensitivity_ceiling": ceiling},
            "steps": [{"call": g, "duration": dict(STEP_TIME)} for g in routine]})

    def _sensitivity(self, resource: str) -> str:
        return next(r["sensitivity"] for r in self.data["resources"] if r["id"] == resource)

    def _secrets(self, servers: list[Server]) -> dict[str, dict[str, Any]]:
        """Secrets grouped by fingerprint: one credential each, a shared account when several agents hold it."""
        groups: dict[str, dict[str, Any]] = {}
        for server in servers:
            for secret in server.secrets:
                group = groups.setdefault(secret.fingerprint, {"uses": [], "agents": []})
                group["uses"].append(secret)
                agent = self.agent_of[id(server)]
                if agent not in group["agents"]:
                    group["agents"].append(agent)
        names = IdPool(self.agent_of.values())
        rows = []
        for group in groups.values():
            uses: list[Secret] = group["uses"]
            group["name"] = names.new(_secret_label(uses), "secret")
            if len(group["agents"]) > 1:
                account = names.new(f"shared-{group['name']}")
                group["principal"] = account
                aliases = sorted({u.name for u in uses})
                self.data["shared_accounts"].append({
                    "id": account, "holders": group["agents"],
                    "description": f"one secret ({' = '.join(aliases)}) held by {len(group['agents'])} servers"})
                self.note("shared_accounts", len(self.data["shared_accounts"]) - 1,
                          f"shared secret: {'; '.join(f'{u.name} of {u.server} ({u.supplied})' for u in uses)}; "
                          "the same value or the same reference, so one leak reaches every holder")
                becomes = f"shared account {account}"
            else:
                group["principal"] = group["agents"][0]
                becomes = f"the key of agent {group['agents'][0]}"
            for use in uses:
                carried = f"{use.where} {use.name}" if use.where in ("env", "header") else f"{use.name} ({use.where})"
                rows.append({"secret": group["name"], "server": use.server,
                             "carried_in": carried + (f", a {use.looks_like}" if use.looks_like else ""),
                             "supplied": use.supplied, "becomes": becomes})
                if use.source == "placeholder":
                    self.report.fill_in(f"secret {use.name} of {use.server}", "a placeholder: the configuration "
                                                                              "has no real value yet")
        self.report.tables["secrets"] = rows
        return groups

    def _value(self, principal: str, groups: dict) -> float:
        """Weighted reach of a principal (agent, or shared account: its holders' union), default weights."""
        agents = next((g["agents"] for g in groups.values() if g["principal"] == principal), [principal])
        sensitivity = {r["id"]: r["sensitivity"] for r in self.data["resources"]}
        pairs = {op for agent in agents for op in self.ops_of[agent]}
        return sum(DEFAULT_SENSITIVITY_WEIGHTS[sensitivity[r]] * DEFAULT_ACTION_DAMAGE[a] for a, r in pairs)

    def _threats(self, servers: list[Server], groups: dict[str, dict[str, Any]]) -> None:
        def exposure(group: dict) -> tuple:
            risk = max(_SOURCE_RISK[u.source] for u in group["uses"])
            return (len(group["agents"]), risk, self._value(group["principal"], groups))

        real = [g for g in groups.values() if any(u.source != "placeholder" for u in g["uses"])]
        if real:
            worst = max(real, key=exposure)
            principal = worst["principal"]
            plaintext = any(u.source == "plaintext" for u in worst["uses"])
            name = worst["name"]
            why = (f"{name}, the most exposed secret: held by {len(worst['agents'])} server(s)"
                   + (", written in the configuration file" if plaintext else ""))
        else:
            principal = max(self.ops_of, key=lambda a: self._value(a, groups))
            why = f"the key of {principal}, the server with the widest reach (no secret in the configuration)"
            name = principal
            plaintext = False
        self.data["threats"].append({
            "id": f"leak-{name}", "kind": "secret_leak", "principal": principal,
            "channel": "repository" if plaintext else "other", "at": {"uniform": ["1h", "6h"]},
            "attacker_delay": "10m",
            "description": f"assumed, not observed: a leak of {why}, between 1 h and 6 h into the run"})
        self.report.guess("threat leak", f"a leak of {why}")
        self.note("threats", None, "TODO: the threats below are assumptions to compare controls on, not "
                                   "observations: keep, change or replace them")
        overreach = any(len(ops) > 1 for ops in self.ops_of.values())
        if overreach:
            self.data["threats"].append({
                "id": "tool-discovery", "kind": "runtime_discovery", "probability": DISCOVERY_PROBABILITY,
                "description": "assumed: in 5% of tasks an agent tries an operation its server exposes "
                               "beyond the routine ones (MCP clients list every tool)"})
            self.report.guess("threat tool-discovery", "5% of tasks try one non-routine operation")
        self.report.fill_in("threats", "the leak and tool discovery are assumptions: edit or replace them")
        self.report.fill_in("tasks", f"arrival rates ({self.rate}) and step times (median 5 s) are assumptions")
        self.report.fill_in("resources", "sensitivities are guesses and records are unknown (0)")

    def _tags(self, groups: dict) -> dict[str, list[str]]:
        nhi = ["NHI2", "NHI5", "NHI7"] + (["NHI9"] if any(len(g["agents"]) > 1 for g in groups.values()) else [])
        return {"owasp_nhi": nhi, "owasp_asi": ["ASI02", "ASI03"]}

    def _header(self, servers: list[Server], groups: dict) -> list[str]:
        shared = sum(1 for g in groups.values() if len(g["agents"]) > 1)
        return [
            "Imported by `nhisim import mcp` on {when} from " + self.source + ".",
            f"What was imported: {len(servers)} MCP server(s) and {len(groups)} distinct secret(s), {shared} "
            "of them held by several servers. No secret value is copied here: only names and where they "
            "come from.",
            "How it maps: each server is a tool (what it exposes) and an agent <server>-server (the server "
            "process, which holds the server's secrets); a secret several servers hold is a shared account; "
            "the configuration's owner owns every agent and requests every task.",
            "Fill in before trusting the numbers (lines marked TODO): operations of unknown servers, every "
            "resource's sensitivity and records, roles narrowed to what each credential really allows, task "
            "rates and step times (measured: nhisim import otel TRACES --calibrate THIS.yaml), and the "
            "threats, which are assumptions.",
            "Controls: one strategy runs the whole estate at a time (controls per agent or per account are "
            "not supported yet).",
            "Next: nhisim validate THIS.yaml, then nhisim compare THIS.yaml.",
        ]
