"""BloodHound OpenGraph: the estate as a data payload, its extension definition, and a run's attack overlay.

A data payload is ``{"metadata": {"source_kind": ...}, "graph": {"nodes": [...], "edges": [...]}}``.
A node is ``{"id", "kinds": [primary, ...], "properties": {...}}``; an edge is
``{"kind", "start": {"value", "match_by": "id"}, "end": {...}, "properties": {...}}``.
The rules BloodHound's OpenGraph documentation sets, and how this module keeps them:

- ids are unique and contain no colon (BloodHound does not fully support colons in
  object ids): a graph node ``agent:support-bot`` of scenario ``demo`` becomes
  ``nhisim/demo/agent/support-bot`` (see :func:`opengraph_id`; ``%`` and ``/`` inside a
  name are percent-escaped, so the mapping is one to one);
- ``objectid`` is reserved (BloodHound maps ``id`` to it) and never appears in
  ``properties``; ``lastseen`` and ``reconcile`` are set or stripped by BloodHound and are
  not written either;
- at most three kinds a node (we write one or two; BloodHound appends ``source_kind``);
  every kind carries the extension namespace ``NHI_`` (never the reserved ``tag_``) and
  edge kinds match ``^[A-Za-z0-9_]+$``;
- property names are lowercase; values are strings, numbers, booleans or homogeneous
  arrays of them: no objects, no nulls, no NaN or infinity (those become strings).

Parallel edges of one kind between two nodes (a role granting several actions on one
resource) are merged into one edge whose differing properties become arrays.

Custom kinds join BloodHound's pathfinding only through an *extension definition*
(:func:`opengraph_extension`), uploaded once on BloodHound's OpenGraph Management page:
it names every ``NHI_`` node kind (icon, colour) and every edge kind with
``is_traversable``. A kind is traversable when an attacker holding the start of the edge
can use what the end can: ``has_role``, ``holds``, ``acts_for``, ``grants``,
``may_delegate_to`` and ``stores_secret`` are (BloodHound follows a stored secret from any
grant on its resource; nhisim's own analysis only from a read, list or export); ``owns`` (accountability) and ``exposes`` (what a tool offers,
not who may call it) are not. BloodHound decides traversability per kind, not per edge,
so edges nhisim's own analysis does not follow (``usable=False``,
``passes_authority=False``, ``implied=True``) are written with the kind ``NHI_<Kind>Inert``,
which is not traversable; their properties say why.

An attack overlay (:func:`attack_overlay`) is a second payload, built from one run's
event log, that layers on the estate payload: the attacker of each incident, the
compromise (``NHI_Compromised``), every credential it acquired (``NHI_Acquired``; runtime
tokens absent from the estate get their own node and an ``NHI_ActsFor`` edge to their
subject) and every operation it performed successfully (``NHI_Performed``, from the
credential to the resource, with counts and times). Estate nodes are referred to by the
ids of :func:`to_opengraph` with the same ``id_prefix``; overlay nodes live under
``<prefix>run/<run>/``.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path as FsPath
from typing import Any

import networkx as nx

from nhisim.errors import InputError
from nhisim.files import write_whole
from nhisim.world.graph import node_id, split_node_id

NAMESPACE = "NHI"
EXTENSION_NAME = "NHISim"
EXTENSION_VERSION = "v1.1.0"  # bump when a kind is added, removed or changes traversability

NODE_KINDS = {
    "human": "NHI_Human",
    "agent": "NHI_Agent",
    "shared_account": "NHI_SharedAccount",
    "tool": "NHI_Tool",
    "resource": "NHI_Resource",
    "role": "NHI_Role",
    "credential": "NHI_Credential",
}
EDGE_KINDS = {
    "owns": "NHI_Owns",
    "has_role": "NHI_HasRole",
    "holds": "NHI_Holds",
    "grants": "NHI_Grants",
    "exposes": "NHI_Exposes",
    "may_delegate_to": "NHI_MayDelegateTo",
    "acts_for": "NHI_ActsFor",
    "stores_secret": "NHI_StoresSecret",
}
PRINCIPAL_KIND = "NHI_Principal"
INERT_SUFFIX = "Inert"
ATTACKER_KIND = "NHI_Attacker"
RUNTIME_CREDENTIAL_KIND = "NHI_RuntimeCredential"
OVERLAY_EDGE_KINDS = {"compromised": "NHI_Compromised", "acquired": "NHI_Acquired", "performed": "NHI_Performed"}

TRAVERSABLE = {"owns": False, "has_role": True, "holds": True, "grants": True, "exposes": False,
               "may_delegate_to": True, "acts_for": True, "stores_secret": True}

# Reserved by BloodHound: objectid is the node id itself; lastseen is set at ingest; reconcile is stripped.
RESERVED_PROPERTIES = frozenset({"objectid", "lastseen", "reconcile"})

_NODE_INFO = {  # kind: (display name, description, Font Awesome icon, colour)
    "NHI_Human": ("Human", "A person accountable for agents (their owner).", "user", "#E69F00"),
    "NHI_Agent": ("AI Agent", "An AI agent: a workload identity that calls tools.", "robot", "#56B4E9"),
    "NHI_SharedAccount": ("Shared Account", "A service account whose key several agents hold.", "users", "#D55E00"),
    "NHI_Tool": ("Tool", "A tool (API) that exposes operations on resources.", "screwdriver-wrench", "#999999"),
    "NHI_Resource": ("Resource", "A resource with a sensitivity and a number of records.", "database", "#CC79A7"),
    "NHI_Role": ("Role", "A role: a set of grants (tool, action, resource).", "id-badge", "#009E73"),
    "NHI_Credential": ("Credential", "A standing credential (static key or workload identity document).", "key",
                       "#F0E442"),
    PRINCIPAL_KIND: ("NHI Principal", "Anything that can present itself and act: agents, shared accounts, "
                     "credentials.", None, None),
    ATTACKER_KIND: ("Attacker", "The attacker of one incident of a simulated run (attack overlay).", "user-secret",
                    "#000000"),
    RUNTIME_CREDENTIAL_KIND: ("Runtime Credential", "A credential minted during a run (a JIT token, a rotated key) "
                              "that the attacker acquired (attack overlay).", "ticket", "#F0E442"),
}
_EDGE_INFO = {
    "owns": "The human is accountable for the agent.",
    "has_role": "The agent or shared account holds this standing role.",
    "holds": "The agent holds the shared account's key or the credential: it can act as it.",
    "grants": "One operation (tool, action) on the resource, granted by the role or the credential's scope.",
    "exposes": "One operation the tool offers on the resource.",
    "may_delegate_to": "The delegate acts for the delegator (a confused deputy can pass authority on).",
    "acts_for": "Presenting the credential is acting as its subject.",
    "stores_secret": "The credential is written in the resource: whoever reads it obtains the credential.",
}
_OVERLAY_EDGE_INFO = {
    "compromised": "In a simulated run, the attacker compromised this identity.",
    "acquired": "In a simulated run, the attacker came to hold this credential.",
    "performed": "In a simulated run, the attacker performed these operations on the resource with this "
                 "credential, and they were allowed.",
}


# --------------------------------------------------------------------------- ids and values


def _escape(part: str) -> str:
    return str(part).replace("%", "%25").replace("/", "%2F").replace(":", "%3A")


def default_id_prefix(graph: nx.MultiDiGraph) -> str:
    """``"nhisim/<scenario>/"``: keeps two scenarios loaded in one BloodHound apart."""
    return f"nhisim/{_escape(graph.graph.get('scenario', graph.graph.get('name', 'world')))}/"


def _check_prefix(id_prefix: str) -> str:
    if ":" in id_prefix:
        raise InputError.single(f"OpenGraph id prefix {id_prefix!r} contains a colon",
                                suggestion="BloodHound does not fully support colons in object ids; use '/' instead")
    return id_prefix


def opengraph_id(node: str, id_prefix: str = "") -> str:
    """The OpenGraph id of a graph node: ``opengraph_id("agent:bot", "nhisim/demo/") == "nhisim/demo/agent/bot"``.

    The node id's ``:`` separators become ``/`` (``%`` and ``/`` in names are escaped first,
    so distinct nodes never share an id).
    """
    return id_prefix + "/".join(_escape(p) for p in str(node).split(":"))


def _og_value(value: Any) -> Any:
    """An OpenGraph property value, or None to drop it."""
    if hasattr(value, "item") and not isinstance(value, (list, tuple, dict)):
        value = value.item()
    if value is None or value == "":
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_og_value(v) for v in (sorted(value, key=str) if isinstance(value, (set, frozenset)) else value)]
        items = [v for v in items if v is not None]
        kinds = {bool if isinstance(v, bool) else (float if isinstance(v, (int, float)) else type(v)) for v in items}
        if len(kinds) > 1 or any(isinstance(v, (list, dict)) for v in items):
            items = [json.dumps(v) if isinstance(v, (list, dict)) else str(v) for v in items]
        return items or None
    return json.dumps(value, default=str)


def _key(name: str) -> str:
    """A property name as BloodHound wants it: lowercase, letters, digits and underscores."""
    return re.sub(r"[^a-z0-9_]", "_", str(name).lower())


def _og_properties(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in attrs.items():
        key = _key(k)
        v = _og_value(v)
        if v is not None and key not in RESERVED_PROPERTIES:
            out[key] = v
    return out


def _kind_name(prefix: str, text: str) -> str:
    return prefix + "".join(w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", str(text)) if w)


def node_kind(ntype: str) -> str:
    """The primary OpenGraph kind of a graph node type (``NHI_<Type>``)."""
    return NODE_KINDS.get(ntype) or _kind_name(f"{NAMESPACE}_", ntype)


def edge_kind(etype: str, attrs: Mapping[str, Any] | None = None) -> str:
    """The OpenGraph kind of an edge: ``NHI_<Type>``, or ``NHI_<Type>Inert`` for one analysis does not follow."""
    kind = EDGE_KINDS.get(etype) or _kind_name(f"{NAMESPACE}_", etype)
    attrs = attrs or {}
    if attrs.get("usable") is False or attrs.get("passes_authority") is False or attrs.get("implied") is True:
        kind += INERT_SUFFIX
    return kind


def _edge(kind: str, start: str, end: str, props: Mapping[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "start": {"value": start, "match_by": "id"}, "end": {"value": end, "match_by": "id"},
            "properties": _og_properties(props)}


# --------------------------------------------------------------------------- the estate


def to_opengraph(graph: nx.MultiDiGraph, source_kind: str = "nhisim", id_prefix: str | None = None) -> dict[str, Any]:
    """The graph as a BloodHound OpenGraph data payload (a JSON-ready dict).

    Node ids are prefixed with ``id_prefix`` (default ``"nhisim/<scenario>/"``, see
    :func:`default_id_prefix`; pass ``""`` for bare ids such as ``agent/support-bot``).
    """
    prefix = _check_prefix(default_id_prefix(graph) if id_prefix is None else id_prefix)
    nodes = []
    for n, d in graph.nodes(data=True):
        ntype = d.get("type", split_node_id(n)[0])
        kinds = [node_kind(ntype)]
        if ntype in ("agent", "shared_account", "credential"):
            kinds.append(PRINCIPAL_KIND)
        label = d.get("label", split_node_id(n)[1])
        props = _og_properties({k: v for k, v in d.items() if k not in ("type", "label")})
        props.update({"name": label, "displayname": label, "nhi_type": ntype, "nhi_node": n})
        if ntype == "credential" and d.get("subject") in graph:
            props["subject"] = opengraph_id(d["subject"], prefix)
        nodes.append({"id": opengraph_id(n, prefix), "kinds": kinds, "properties": props})

    merged: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for u, v, d in graph.edges(data=True):
        kind = edge_kind(d.get("type", ""), d)
        merged.setdefault((u, v, kind), []).append({k: x for k, x in d.items() if k != "type"})
    edges = []
    for (u, v, kind), group in merged.items():
        props: dict[str, Any] = {}
        for key in dict.fromkeys(k for attrs in group for k in attrs):
            values = [attrs.get(key) for attrs in group]
            props[key] = values[0] if all(x == values[0] for x in values) else values
        if len(group) > 1:
            props["count"] = len(group)
        edges.append(_edge(kind, opengraph_id(u, prefix), opengraph_id(v, prefix), props))
    return {"metadata": {"source_kind": source_kind}, "graph": {"nodes": nodes, "edges": edges}}


def write_opengraph(graph: nx.MultiDiGraph, path: str | os.PathLike, **options: Any) -> FsPath:
    """Write :func:`to_opengraph` as a JSON file (options passed on); returns the path."""
    return write_payload(to_opengraph(graph, **options), path)


def write_payload(payload: Mapping[str, Any], path: str | os.PathLike) -> FsPath:
    """Write an OpenGraph payload or extension definition as strict JSON, whole or not at all; returns the path."""
    return FsPath(write_whole(path, json.dumps(payload, indent=1, allow_nan=False)))


# --------------------------------------------------------------------------- the extension definition


def opengraph_extension(payloads: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The extension definition schema for nhisim's kinds (upload it once to BloodHound).

    It names every node kind (with icon and colour) and every edge kind with
    ``is_traversable``, which is what lets BloodHound's pathfinding follow custom edges.
    Kinds found in ``payloads`` that are not nhisim's own (a node type added later) are
    added too, so the definition covers whatever was exported.
    """
    node_kinds: dict[str, dict[str, Any]] = {}

    def add_node_kind(name: str) -> None:
        if name in node_kinds:
            return
        display, description, icon, colour = _NODE_INFO.get(name, (name.removeprefix(f"{NAMESPACE}_"), "", None,
                                                                   None))
        entry: dict[str, Any] = {"name": name, "display_name": display, "description": description,
                                 "is_display_kind": icon is not None}
        if icon is not None:
            entry.update(icon=icon, color=colour)
        node_kinds[name] = entry

    for name in [*NODE_KINDS.values(), PRINCIPAL_KIND, ATTACKER_KIND, RUNTIME_CREDENTIAL_KIND]:
        add_node_kind(name)
    rel_kinds: dict[str, dict[str, Any]] = {}
    for etype, kind in EDGE_KINDS.items():
        rel_kinds[kind] = {"name": kind, "description": _EDGE_INFO[etype], "is_traversable": TRAVERSABLE[etype]}
        rel_kinds[kind + INERT_SUFFIX] = {
            "name": kind + INERT_SUFFIX, "is_traversable": False,
            "description": _EDGE_INFO[etype] + " This edge exists but nhisim's analysis does not follow it under "
                           "the exported strategy (see its properties usable, passes_authority or implied)."}
    for what, kind in OVERLAY_EDGE_KINDS.items():
        rel_kinds[kind] = {"name": kind, "description": _OVERLAY_EDGE_INFO[what], "is_traversable": True}
    for payload in payloads:
        for node in payload.get("graph", {}).get("nodes", []):
            for k in node.get("kinds", []):
                if k.startswith(f"{NAMESPACE}_"):
                    add_node_kind(k)
        for edge in payload.get("graph", {}).get("edges", []):
            k = edge["kind"]
            if k not in rel_kinds and k.startswith(f"{NAMESPACE}_"):
                rel_kinds[k] = {"name": k, "description": "", "is_traversable": not k.endswith(INERT_SUFFIX)}
    return {
        "schema": {"name": EXTENSION_NAME, "display_name": "nhisim: AI-agent identities", "version": EXTENSION_VERSION,
                   "namespace": NAMESPACE},
        "node_kinds": list(node_kinds.values()),
        "relationship_kinds": list(rel_kinds.values()),
    }


def write_opengraph_extension(path: str | os.PathLike, payloads: Iterable[Mapping[str, Any]] = ()) -> FsPath:
    """Write :func:`opengraph_extension` as a JSON file; returns the path."""
    return write_payload(opengraph_extension(payloads), path)


# --------------------------------------------------------------------------- a run's attack overlay

_STANDING = {"static_key": "key", "shared_key": "key", "shared_account_key": "key", "workload_identity": "identity"}


def _events_frame(events: Any) -> tuple[Any, dict[str, Any]]:
    """The event DataFrame and what is known of the run (strategy, seed), from a RunResult, EventLog or frame."""
    meta: dict[str, Any] = {}
    if hasattr(events, "events") and hasattr(events, "seed"):  # RunResult
        meta = {"scenario": getattr(events, "scenario", None), "strategy": getattr(events, "strategy", None),
                "seed": getattr(events, "seed", None)}
        events = events.events
        if events is None:
            raise InputError.single("this run kept no event log", suggestion="run it with keep_events=True")
    elif hasattr(events, "to_frame") and hasattr(events, "meta"):  # EventLog
        meta = dict(events.meta)
        events = events.to_frame()
    if not hasattr(events, "columns") or "event" not in events.columns:
        raise InputError.single("an attack overlay needs a run's event log",
                                suggestion="pass nhisim.run(...), its .events, or Simulation(...).run().to_frame()")
    return events, meta


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        if value != value:  # pandas NA-like
            return None
    except TypeError:
        return None
    text = str(value)
    return text or None


def _num(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def attack_overlay(graph: nx.MultiDiGraph, events: Any, run: str | None = None, id_prefix: str | None = None,
                   source_kind: str = "nhisim") -> dict[str, Any]:
    """A run's realised attack paths as an OpenGraph payload that layers on ``to_opengraph(graph)``.

    ``events`` is a :class:`~nhisim.experiments.RunResult` (``nhisim.run(...)``), its
    ``.events`` DataFrame, an ``EventLog`` or ``Simulation(...).run().to_frame()``;
    ``graph`` is the estate exported with :func:`to_opengraph` and ``id_prefix`` must be
    the one used there (same default). ``run`` names the run in overlay ids (default
    ``<strategy>-seed<seed>`` when known, else ``run``), so overlays of several runs can
    be loaded side by side.

    Written: one ``NHI_Attacker`` node per incident; ``NHI_Compromised`` from it to the
    identity compromised; ``NHI_Acquired`` to every credential it came to hold (the
    estate's credential node when the credential is a standing one the estate draws, else
    an ``NHI_RuntimeCredential`` node with ``NHI_ActsFor`` to its subject); and
    ``NHI_Performed`` from the credential to each resource it was used on successfully,
    one edge per (credential, tool, action, resource) with ``count``, ``first_t``,
    ``last_t``, ``value`` and ``records``. Identities or resources the estate does not
    have are not referred to (no edge points outside estate + overlay).
    """
    frame, meta = _events_frame(events)
    prefix = _check_prefix(default_id_prefix(graph) if id_prefix is None else id_prefix)
    if run is None:
        run = (f"{meta['strategy']}-seed{meta['seed']}" if meta.get("strategy") is not None
               and meta.get("seed") is not None else "run")
    run_prefix = f"{prefix}run/{_escape(run)}/"
    common = {"run": run, "scenario": meta.get("scenario") or graph.graph.get("scenario"),
              "strategy": meta.get("strategy"), "seed": meta.get("seed")}

    malicious = frame[frame["malicious"].fillna(False).astype(bool)] if "malicious" in frame.columns else frame[:0]
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []

    def principal_node(name: str | None) -> str | None:
        if name is None:
            return None
        for t in ("agent", "shared_account", "human"):
            if node_id(t, name) in graph:
                return opengraph_id(node_id(t, name), prefix)
        return None

    def attacker(actor: str, incident: str | None) -> str:
        threat = incident or actor.partition(":")[2] or actor
        oid = run_prefix + "attacker/" + _escape(threat)
        if oid not in nodes:
            nodes[oid] = {"id": oid, "kinds": [ATTACKER_KIND],
                          "properties": _og_properties({"name": f"attacker of {threat}", "displayname": actor,
                                                        "incident": threat, **common})}
        return oid

    credential_ids: dict[str, str] = {}  # runtime credential id -> OpenGraph id

    def credential(cred: str, subject: str | None, kind: str | None, t: float | None) -> str:
        if cred in credential_ids:
            return credential_ids[cred]
        standing = _STANDING.get(kind or "")
        estate = node_id("credential", f"{standing}:{subject}") if standing and subject else None
        if estate is not None and estate in graph:
            oid = opengraph_id(estate, prefix)
        else:
            oid = run_prefix + "credential/" + _escape(cred)
            nodes[oid] = {"id": oid, "kinds": [RUNTIME_CREDENTIAL_KIND],
                          "properties": _og_properties({"name": cred, "displayname": f"{kind or 'credential'} {cred}",
                                                        "credential_kind": kind, "subject": subject,
                                                        "first_seen": t, **common})}
            target = principal_node(subject)
            if target is not None:
                edges.append(_edge(EDGE_KINDS["acts_for"], oid, target, {
                    "reason": f"Presenting {cred} is acting as {subject}.", "run": run}))
        credential_ids[cred] = oid
        return oid

    kinds_of: dict[str, tuple[str | None, str | None]] = {}  # credential id -> (subject, kind) from acquire rows
    for row in malicious.itertuples(index=False):
        event = row.event
        actor = _text(row.actor) or _text(row.presenter) or "attacker"
        incident = _text(row.incident)
        t = _num(row.t)
        if event == "compromise":
            src = attacker(actor, incident)
            target = principal_node(_text(row.principal))
            if target is not None:
                edges.append(_edge(OVERLAY_EDGE_KINDS["compromised"], src, target, {
                    "t": t, "threat_kind": _text(row.code), "reason": _text(row.reason), "incident": incident,
                    "blast_radius": _num(row.value), "scope": _text(row.scope), "handed_over": _text(row.credential),
                    "run": run}))
        elif event == "acquire":
            cred = _text(row.credential)
            if cred is None:
                continue
            subject, kind = _text(row.principal), _text(row.code)
            kinds_of.setdefault(cred, (subject, kind))
            edges.append(_edge(OVERLAY_EDGE_KINDS["acquired"], attacker(actor, incident),
                               credential(cred, subject, kind, t), {
                                   "t": t, "credential": cred, "credential_kind": kind, "subject": subject,
                                   "presenter": _text(row.presenter), "chain": _text(row.chain),
                                   "reason": _text(row.reason), "scope_value": _num(row.value),
                                   "until": _num(row.until), "scope": _text(row.scope), "incident": incident,
                                   "run": run}))

    performed: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    requests = malicious[(malicious["event"] == "request") & (malicious["decision"] == "allow")]
    for row in requests.itertuples(index=False):
        cred, resource = _text(row.credential), _text(row.resource)
        target = node_id("resource", resource) if resource else None
        if cred is None or target not in graph:
            continue
        subject, kind = kinds_of.get(cred, (_text(row.principal), None))
        src = credential(cred, subject, kind, _num(row.t))
        key = (src, _text(row.tool) or "", _text(row.action) or "", resource)
        agg = performed.get(key)
        t = _num(row.t)
        if agg is None:
            agg = performed[key] = {"tool": key[1], "action": key[2], "resource": resource, "count": 0,
                                    "first_t": t, "last_t": t, "value": 0.0, "records": _num(row.records),
                                    "credentials": [], "principals": [], "presenters": [], "chains": [],
                                    "incidents": []}
        agg["count"] += 1
        agg["last_t"] = t
        agg["value"] += _num(row.value) or 0.0
        for field, value in (("credentials", cred), ("principals", _text(row.principal)),
                             ("presenters", _text(row.presenter)), ("chains", _text(row.chain)),
                             ("incidents", _text(row.incident))):
            if value is not None and value not in agg[field]:
                agg[field].append(value)
    for (src, tool, action, resource), agg in performed.items():
        agg["reason"] = (f"The attacker performed {action} on {resource} through {tool} {agg['count']} times "
                         "with this credential, and the enforcement point allowed it.")
        agg["run"] = run
        edges.append(_edge(OVERLAY_EDGE_KINDS["performed"], src, opengraph_id(node_id("resource", resource), prefix),
                           agg))
    return {"metadata": {"source_kind": source_kind}, "graph": {"nodes": list(nodes.values()), "edges": edges}}


def write_attack_overlay(graph: nx.MultiDiGraph, events: Any, path: str | os.PathLike, **options: Any) -> FsPath:
    """Write :func:`attack_overlay` as a JSON file (options passed on); returns the path."""
    return write_payload(attack_overlay(graph, events, **options), path)
