"""Static analysis of the world graph: blast radius, exposure, privilege-escalation paths.

What a principal reaches follows the grammar of :mod:`nhisim.world.graph`:

- an **agent** reaches the grants of its roles, of the shared accounts and credentials it
  holds, and everything the agents it may delegate to reach, transitively (a delegate
  acts for its delegator with its own authority: the confused deputy);
- a **shared account** reaches the grants of its roles;
- a **credential** reaches its scope: its explicit grants, or its subject's roles;
- whoever can read, list or export a resource that stores a credential (``stores_secret``)
  reaches what that credential reaches: **harvesting**, followed to a fixed point (a
  harvested key may read another resource holding another key).

An *operation* is an ``(action, resource)`` pair whatever the tool; its value is the
resource's sensitivity weight × the action's damage weight, and a blast radius is the sum
of values over distinct operations. Every reached operation comes with its escalation
paths, each a simple path whose hops are explained by their edge's ``reason``: all of
them, shortest first, or the ``max_paths`` shortest with ``truncated`` set.

Sets of operations are Python ``int`` bitsets. The delegation graph may have cycles: it is
condensed into strongly connected components and reach is propagated over the resulting
DAG in reverse topological order, so a whole estate is analysed in one linear pass
(:func:`all_blast_radii`). Paths are enumerated by iterative deepening on their length,
guided by per-state "operations completable within d hops" bitsets, so the work follows
the number of paths reported even where delegation is dense and cyclic.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from nhisim.errors import InputError, did_you_mean
from nhisim.scenario.models import READ_ACTIONS, Scenario, exchange_blocked
from nhisim.scenario.strategy import account_users, scenario_strategy
from nhisim.strategies import Strategy
from nhisim.world.graph import PRINCIPAL_TYPES, build_graph, node_id, nodes_of_type, split_node_id

__all__ = [
    "BlastRadius",
    "Exposure",
    "Hop",
    "Path",
    "PrincipalExposure",
    "ReachedOperation",
    "all_blast_radii",
    "blast_radius",
    "escalation_paths",
    "exposure",
    "resolve",
    "SEARCH_LIMIT",
]

_TYPE_WORDS = {"agent": "agent", "shared_account": "shared account", "credential": "credential"}

# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Hop:
    """One edge of a path, with the sentence that says why it exists."""

    source: str
    target: str
    type: str
    reason: str
    key: str


@dataclass(frozen=True)
class Path:
    """A chain of hops from a principal to one operation."""

    principal: str
    action: str
    resource: str
    value: float
    hops: tuple[Hop, ...]

    @property
    def length(self) -> int:
        return len(self.hops)

    @property
    def mechanisms(self) -> tuple[str, ...]:
        """How the path gets its authority, in order: ``role``, ``shared_account``, ``credential``, ``delegation``,
        ``harvest`` (a key read in a resource)."""
        out: list[str] = []
        for hop in self.hops:
            if hop.type == "may_delegate_to":
                out.append("delegation")
            elif hop.type == "stores_secret":
                out.append("harvest")
            elif hop.type == "holds":
                out.append(split_node_id(hop.target)[0])
            elif hop.type == "has_role":
                out.append("role")
            elif hop.type == "grants" and split_node_id(hop.source)[0] == "credential":
                out.append("credential")
        return tuple(dict.fromkeys(out))

    def explain(self) -> str:
        """The path as numbered sentences, one per hop."""
        head = f"{_label(self.principal)} can {self.action} {self.resource} (value {self.value:g}):"
        return "\n".join([head] + [f"  {i}. {hop.reason}" for i, hop in enumerate(self.hops, 1)])


@dataclass
class ReachedOperation:
    """An operation a principal can perform, and every way it gets there.

    ``own``: reachable through the principal's own roles (or, for a credential, its own
    scope). ``truncated``: more paths exist than listed (``max_paths`` reached), or the
    search stopped at its ``search_limit`` before finding them all.
    """

    action: str
    resource: str
    value: float
    records: int
    sensitivity: str
    tools: tuple[str, ...]
    own: bool
    paths: list[Path] = field(default_factory=list)
    truncated: bool = False


def _label(node: str) -> str:
    return split_node_id(node)[1]


def _ops_frame(principal: str, ptype: str, operations: list[ReachedOperation], paths: bool) -> pd.DataFrame:
    if paths:
        rows = [
            {"principal": _label(principal), "principal_type": ptype, "action": op.action,
             "resource": op.resource, "value": op.value, "path": p, "hop": h, "source": hop.source,
             "target": hop.target, "edge": hop.type, "reason": hop.reason}
            for op in operations for p, path in enumerate(op.paths) for h, hop in enumerate(path.hops)
        ]
        columns = ["principal", "principal_type", "action", "resource", "value", "path", "hop", "source",
                   "target", "edge", "reason"]
    else:
        rows = [
            {"principal": _label(principal), "principal_type": ptype, "action": op.action,
             "resource": op.resource, "value": op.value, "records": op.records, "sensitivity": op.sensitivity,
             "tools": ",".join(op.tools), "own": op.own, "paths": len(op.paths), "truncated": op.truncated,
             "shortest_path": min((p.length for p in op.paths), default=0)}
            for op in operations
        ]
        columns = ["principal", "principal_type", "action", "resource", "value", "records", "sensitivity",
                   "tools", "own", "paths", "truncated", "shortest_path"]
    return pd.DataFrame(rows, columns=columns)


def _explain_ops(operations: list[ReachedOperation], max_paths: int, indent: str) -> list[str]:
    lines = []
    for op in operations:
        more = "+" if op.truncated else ""
        tag = "own" if op.own else "escalation"
        lines.append(f"{indent}{op.action} {op.resource}: value {op.value:g}, {op.records} records, "
                     f"{len(op.paths)}{more} path(s), {tag}")
        for i, path in enumerate(op.paths[:max_paths], 1):
            for j, hop in enumerate(path.hops):
                lines.append(f"{indent}    {f'{i}.' if j == 0 else '  '} {'' if j == 0 else '-> '}{hop.reason}")
        if len(op.paths) > max_paths:
            lines.append(f"{indent}    ... {len(op.paths) - max_paths}{more} more path(s)")
    return lines


@dataclass
class BlastRadius:
    """What one principal can reach: total value, operations, and every escalation path."""

    principal: str
    type: str
    value: float
    own_value: float
    operations: list[ReachedOperation]
    max_paths: int

    @property
    def escalation_value(self) -> float:
        """Value reached beyond the principal's own roles (shared accounts, credentials, delegation)."""
        return self.value - self.own_value

    @property
    def records(self) -> int:
        """Records of the distinct resources reached."""
        return sum({op.resource: op.records for op in self.operations}.values())

    def to_frame(self, paths: bool = False) -> pd.DataFrame:
        """One row per operation; with ``paths=True``, one row per hop of every path."""
        return _ops_frame(self.principal, self.type, self.operations, paths)

    def explain(self, max_paths: int = 3) -> str:
        """A plain-text account: the total, then each operation with up to ``max_paths`` paths."""
        word = _TYPE_WORDS.get(self.type, self.type)
        head = (f"{word} {_label(self.principal)}: blast radius {self.value:g} over {len(self.operations)} "
                f"operation(s) (own roles {self.own_value:g}, escalation +{self.escalation_value:g})")
        return "\n".join([head] + _explain_ops(self.operations, max_paths, "  "))


@dataclass
class PrincipalExposure:
    """One principal that can reach a resource, with the operations and paths."""

    principal: str
    type: str
    value: float
    operations: list[ReachedOperation]

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(op.action for op in self.operations)


@dataclass
class Exposure:
    """Who can reach a resource (agents, shared accounts, credentials), and how."""

    resource: str
    node: str
    principals: list[PrincipalExposure]

    def to_frame(self, paths: bool = False) -> pd.DataFrame:
        """One row per (principal, action); with ``paths=True``, one row per hop."""
        frames = [_ops_frame(p.principal, p.type, p.operations, paths) for p in self.principals]
        if not frames:
            return _ops_frame(self.node, "", [], paths)
        return pd.concat(frames, ignore_index=True)

    def explain(self, max_paths: int = 3) -> str:
        """A plain-text account of every principal that reaches the resource."""
        lines = [f"resource {self.resource}: reachable by {len(self.principals)} principal(s)"]
        for p in self.principals:
            lines.append(f"  {_TYPE_WORDS.get(p.type, p.type)} {_label(p.principal)}: value {p.value:g} "
                         f"({', '.join(p.actions)})")
            lines += _explain_ops(p.operations, max_paths, "    ")
        return "\n".join(lines)


# --------------------------------------------------------------------------- reach index


def strategy_of(scenario: Scenario, strategy: str | Strategy | None) -> Strategy | None:
    """``strategy`` as a :class:`Strategy`: a name from the scenario's strategies, a preset, or one already."""
    if strategy is None or isinstance(strategy, Strategy):
        return strategy
    return scenario_strategy(scenario, strategy)


def _graph_of(world: Scenario | nx.MultiDiGraph, strategy: str | Strategy | None = None) -> nx.MultiDiGraph:
    if isinstance(world, Scenario):
        return build_graph(world, strategy=strategy_of(world, strategy))
    if isinstance(world, nx.MultiDiGraph):
        if strategy is not None:
            raise TypeError("give a Scenario, not a graph, to analyse it under a strategy")
        return world
    raise TypeError(f"expected a Scenario or a world graph (networkx.MultiDiGraph), got {type(world).__name__}")


def resolve(graph: nx.MultiDiGraph, ref: str, types: Iterable[str] = PRINCIPAL_TYPES, what: str = "principal") -> str:
    """The node id for ``ref`` (a node id, or a bare id looked up in ``types``); InputError if unknown."""
    types = tuple(types)
    if ref in graph and graph.nodes[ref].get("type") in types:
        return ref
    found = [n for n in (node_id(t, ref) for t in types) if n in graph]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise InputError.single(f"{what} {ref!r} is ambiguous", suggestion="write one of " + ", ".join(found))
    pool = [n for n, t in graph.nodes(data="type") if t in types]
    labels = [graph.nodes[n]["label"] for n in pool]
    raise InputError.single(f"unknown {what} {ref!r}", suggestion=did_you_mean(ref, labels + pool, what + "s"))


State = tuple[str, str]  # (node, mode); mode is "full" only for an agent acting with all it has
Edge = tuple[str, str, Any]  # (source, target, key) of a MultiDiGraph edge


class _Reach:
    """Operation bitsets for every node of a world graph, computed lazily.

    Analysis walks *states* ``(node, mode)``: an agent in ``full`` mode uses its roles, what
    it holds and its delegates; in ``scope`` mode (reached through one of its credentials)
    only its roles. Every other node has one mode, ``scope``.
    """

    FULL, SCOPE = "full", "scope"

    def __init__(self, graph: nx.MultiDiGraph) -> None:
        self.g = graph
        self.types: dict[str, str] = dict(graph.nodes(data="type"))
        self._adj = graph._succ  # plain dicts: several times faster than edge views on big estates
        self.bit: dict[tuple[str, str], int] = {}
        self.ops: list[dict[str, Any]] = []
        self.grant_bits: dict[str, int] = {}
        for u, v, d in graph.edges(data=True):
            if d.get("type") != "grants":
                continue
            key = (d["action"], v)
            i = self.bit.get(key)
            if i is None:
                i = self.bit[key] = len(self.ops)
                self.ops.append({"action": d["action"], "resource": _label(v), "node": v, "value": float(d["value"]),
                                 "records": int(d.get("records", 0)), "sensitivity": d.get("sensitivity", ""),
                                 "tools": set()})
            self.ops[i]["tools"].add(d.get("tool", ""))
            self.grant_bits[u] = self.grant_bits.get(u, 0) | (1 << i)
        self.values = np.array([op["value"] for op in self.ops], dtype=float)
        # harvesting: each read-like operation on a resource storing usable keys -> those key nodes
        stored: dict[str, list[str]] = {}
        for u, v, d in graph.edges(data=True):
            if d.get("type") == "stores_secret" and d.get("usable", True):
                stored.setdefault(u, []).append(v)
        self.harvests: dict[int, list[str]] = {i: stored[res] for (action, res), i in self.bit.items()
                                               if action in READ_ACTIONS and res in stored}
        self._scope: dict[str, int] = {}
        self._full: dict[str, int] = {}
        self._delegation: nx.DiGraph | None = None
        self._succ: dict[State, list[tuple[Edge, Any]]] = {}
        self._hops: dict[Edge, Hop] = {}

    # -- the grammar, as successor steps --------------------------------------------------
    def _out(self, node: str) -> Iterator[tuple[str, Any, dict]]:
        for v, keyed in self._adj[node].items():
            for k, d in keyed.items():
                yield v, k, d

    def steps(self, node: str, mode: str) -> Iterator[tuple[str, Any, dict, str]]:
        """(target, key, data, target mode) for every hop analysis may take from ``node``."""
        t = self.types[node]
        for v, k, d in self._out(node):
            et = d.get("type")
            if et == "grants":
                if t in ("role", "credential"):
                    yield v, k, d, self.SCOPE
            elif et == "has_role":
                if t in ("agent", "shared_account", "human") and d.get("usable", True):
                    yield v, k, d, self.SCOPE
            elif et == "stores_secret":
                if t == "resource" and d.get("usable", True):  # entered only by reading the resource (succ)
                    yield v, k, d, self.SCOPE
            elif et == "acts_for":
                if t == "credential" and d.get("inherits_scope"):
                    yield v, k, d, self.SCOPE
            elif t == "agent" and mode == self.FULL:
                if et == "holds" and not d.get("implied"):
                    yield v, k, d, self.SCOPE
                elif et == "may_delegate_to" and self.types.get(v) == "agent" and d.get("passes_authority", True):
                    yield v, k, d, self.FULL

    def start(self, node: str) -> State:
        return (node, self.FULL if self.types[node] == "agent" else self.SCOPE)

    def succ(self, state: State) -> list[tuple[Edge, Any]]:
        """Hops out of a state: ``(edge, op index)`` for a grant, ``(edge, next state)`` otherwise."""
        out = self._succ.get(state)
        if out is None:
            node, mode = state
            out = self._succ[state] = []
            for v, k, d, vmode in self.steps(node, mode):
                if d["type"] != "grants":
                    out.append(((node, v, k), (v, vmode)))
                    continue
                op = self.bit[(d["action"], v)]
                out.append(((node, v, k), op))
                if op in self.harvests:  # reading the resource also hands over the keys stored in it
                    out.append(((node, v, k), (v, self.SCOPE)))
        return out

    def harvest(self, bits: int) -> int:
        """``bits`` plus what the keys stored in the resources they read reach, to a fixed point."""
        harvests = self.harvests
        if not harvests:
            return bits
        done: set[int] = set()
        while True:
            extra = 0
            for op, keys in harvests.items():
                if op not in done and (bits >> op) & 1:
                    done.add(op)
                    for key in keys:
                        extra |= self.scope(key)
            if not extra & ~bits:
                return bits
            bits |= extra

    # -- unbounded reach: bitsets and the condensed delegation DAG ------------------------
    def scope(self, node: str) -> int:
        """Operations of a node acting as itself, without holdings or delegation."""
        bits = self._scope.get(node)
        if bits is None:
            self._scope[node] = 0  # guards against malformed cycles
            bits = self.grant_bits.get(node, 0)
            for v, _, d, _ in self.steps(node, self.SCOPE):
                if d["type"] != "grants":
                    bits |= self.scope(v)
            self._scope[node] = bits
        return bits

    def base(self, agent: str) -> int:
        """An agent's own reach plus what it holds, before delegation."""
        bits = self.scope(agent)
        for v, _, d, _ in self.steps(agent, self.FULL):
            if d["type"] == "holds":
                bits |= self.scope(v)
        return bits

    def own(self, node: str) -> int:
        """What a principal reaches as itself: its roles, and credentials issued to it (its own identity)."""
        bits = self.scope(node)
        if self.types[node] == "agent":
            for v, _, d, _ in self.steps(node, self.FULL):
                if d["type"] == "holds" and self.g.nodes[v].get("subject") == node:
                    bits |= self.scope(v)
        return bits

    def delegation_graph(self, agents: Iterable[str]) -> nx.DiGraph:
        dg = nx.DiGraph()
        dg.add_nodes_from(agents)
        dg.add_edges_from((a, b) for a in list(dg) for b, _, d in self._out(a)
                          if d.get("type") == "may_delegate_to" and self.types.get(b) == "agent"
                          and d.get("passes_authority", True))
        return dg

    def compute_full(self, agents: Iterable[str]) -> None:
        """Propagate reach over the condensed delegation DAG of ``agents`` (closed under delegation)."""
        todo = [a for a in agents if a not in self._full]
        if not todo:
            return
        cond = nx.condensation(self.delegation_graph(todo))
        component = cond.graph["mapping"]
        comp_bits: dict[int, int] = {}
        for c in reversed(list(nx.topological_sort(cond))):
            bits = 0
            for a in cond.nodes[c]["members"]:
                bits |= self._full[a] if a in self._full else self.base(a)
            for c2 in cond.successors(c):
                bits |= comp_bits[c2]
            comp_bits[c] = bits
        for a in todo:
            self._full[a] = comp_bits[component[a]]

    def full(self, agent: str) -> int:
        """An agent's whole reach: its base plus everything its delegates reach, transitively."""
        if agent not in self._full:
            if self._delegation is None:
                self._delegation = self.delegation_graph(a for a, t in self.types.items() if t == "agent")
            self.compute_full({agent} | nx.descendants(self._delegation, agent))
        return self._full[agent]

    def principal_bits(self, node: str) -> int:
        """Everything a principal reaches (harvested keys included)."""
        return self.harvest(self.full(node) if self.types[node] == "agent" else self.scope(node))

    def value(self, bits: int) -> float:
        return float(_bit_values([bits], len(self.ops), self.values)[0])

    @staticmethod
    def indices(bits: int) -> list[int]:
        """Positions of the set bits, lowest first."""
        out = []
        while bits:
            low = bits & -bits
            out.append(low.bit_length() - 1)
            bits ^= low
        return out

    # -- paths ------------------------------------------------------------------------------
    def region(self, starts: Iterable[State]) -> list[State]:
        """Every state reachable from ``starts``."""
        seen = dict.fromkeys(starts)
        queue = deque(seen)
        while queue:
            for _, nxt in self.succ(queue.popleft()):
                if not isinstance(nxt, int) and nxt not in seen:
                    seen[nxt] = None
                    queue.append(nxt)
        return list(seen)

    def all_states(self) -> list[State]:
        states = [(n, self.SCOPE) for n in self.types]
        return states + [(n, self.FULL) for n, t in self.types.items() if t == "agent"]

    def shortest(self, start: State, targets: int, levels: _Levels) -> dict[int, list[Edge]]:
        """One shortest path (as edges) to each target operation, breadth-first."""
        found: dict[int, list[Edge]] = {}
        parent: dict[State, tuple[State, Edge] | None] = {start: None}
        queue = deque([start])
        remaining = targets
        while queue and remaining:
            state = queue.popleft()
            for edge, nxt in self.succ(state):
                if isinstance(nxt, int):
                    if (remaining >> nxt) & 1:
                        chain, at = [edge], state
                        while parent[at] is not None:
                            at, back = parent[at]  # type: ignore[misc]
                            chain.append(back)
                        found[nxt] = chain[::-1]
                        remaining &= ~(1 << nxt)
                elif nxt not in parent and levels.final(nxt) & remaining:
                    parent[nxt] = (state, edge)
                    queue.append(nxt)
        return found

    def search(self, start: State, targets: int, levels: _Levels, max_paths: int,
               limit: int) -> tuple[dict[int, list[list[Edge]]], int]:
        """Simple paths to each target operation, shortest first, at most ``max_paths`` each.

        Iterative deepening on the path length ``B``; a prefix is extended only if some
        operation still wanted can be completed within the length left (``levels``), so
        the work follows the number of paths reported, even in cyclic delegation graphs.
        Returns the paths by operation and the operations whose list is not exhaustive
        (capped at ``max_paths``, or the search stopped after ``limit`` extensions).
        """
        paths: dict[int, list[list[Edge]]] = {}
        truncated = 0
        remaining = targets & levels.final(start)
        level_d, level_b, final = levels.d, levels.b, levels.final_bits  # hot loop: local names
        succ = self.succ
        work, bound = 0, 0
        while remaining and work <= limit:
            bound += 1
            cut = False
            visited = {start[0]}
            trail: list[Edge] = []
            stack = [iter(succ(start))]
            while stack and remaining:
                step = next(stack[-1], None)
                if step is None:
                    stack.pop()
                    if trail:
                        visited.discard(trail.pop()[1])
                    continue
                edge, nxt = step
                if nxt.__class__ is int:
                    if len(trail) + 1 == bound and (remaining >> nxt) & 1:
                        found = paths.setdefault(nxt, [])
                        if len(found) < max_paths:
                            found.append(trail + [edge])
                        else:
                            truncated |= 1 << nxt
                            remaining &= ~(1 << nxt)
                    continue
                if nxt[0] in visited:
                    continue
                ds = level_d.get(nxt)
                if not ds:
                    continue
                budget = bound - len(trail) - 1
                if budget >= ds[-1]:
                    within = level_b[nxt][-1]
                elif budget >= ds[0]:
                    within = level_b[nxt][bisect_right(ds, budget) - 1]
                else:
                    within = 0
                if within & remaining:
                    work += 1
                    if work > limit:
                        break
                    visited.add(nxt[0])
                    trail.append(edge)
                    stack.append(iter(succ(nxt)))
                elif final.get(nxt, 0) & remaining:
                    cut = True
            if not cut:
                break
        if work > limit:
            truncated |= remaining
        return paths, truncated

    def hop(self, edge: Edge) -> Hop:
        """The (shared, immutable) Hop of an edge."""
        hop = self._hops.get(edge)
        if hop is None:
            u, v, k = edge
            d = self._adj[u][v][k]
            hop = self._hops[edge] = Hop(source=u, target=v, type=d["type"], reason=d.get("reason", ""), key=str(k))
        return hop

    def operations(self, node: str, targets: int, max_paths: int, limit: int,
                   levels: _Levels | None = None) -> list[ReachedOperation]:
        """Operations among ``targets`` that ``node`` reaches, with their paths, highest value first."""
        start = self.start(node)
        targets &= self.principal_bits(node)
        if max_paths <= 0:
            return self._bare_operations(node, targets)
        if levels is None:
            levels = _Levels(self, self.region([start]), targets)
        paths, truncated = self.search(start, targets, levels, max_paths, limit)
        missing = targets & ~sum(1 << i for i in paths)
        shortest = self.shortest(start, missing, levels) if missing else {}
        own = self.own(node)
        out = []
        for i in self.indices(targets):
            op = self.ops[i]
            edges = paths.get(i) or ([shortest[i]] if i in shortest else [])
            built = [Path(node, op["action"], op["resource"], op["value"], tuple(self.hop(e) for e in es))
                     for es in edges]
            built.sort(key=lambda p: (p.length, [h.target for h in p.hops]))
            out.append(ReachedOperation(
                action=op["action"], resource=op["resource"], value=op["value"], records=op["records"],
                sensitivity=op["sensitivity"], tools=tuple(sorted(op["tools"])), own=bool((own >> i) & 1),
                paths=built, truncated=bool((truncated >> i) & 1)))
        out.sort(key=lambda o: (-o.value, o.resource, o.action))
        return out

    def _bare_operations(self, node: str, targets: int) -> list[ReachedOperation]:
        """Reached operations without paths (``max_paths=0``)."""
        own = self.own(node)
        out = []
        for i in self.indices(targets):
            op = self.ops[i]
            out.append(ReachedOperation(
                action=op["action"], resource=op["resource"], value=op["value"], records=op["records"],
                sensitivity=op["sensitivity"], tools=tuple(sorted(op["tools"])), own=bool((own >> i) & 1),
                paths=[], truncated=True))
        out.sort(key=lambda o: (-o.value, o.resource, o.action))
        return out


class _Levels:
    """For each state, the target operations completable within ``d`` hops, for every ``d``.

    Computed by a worklist over the states (only states whose successors changed are
    recomputed at the next level); stored as change points, so memory follows the number
    of distinct distances, not the longest one.
    """

    def __init__(self, reach: _Reach, states: list[State], mask: int) -> None:
        succ = {s: reach.succ(s) for s in states}
        preds: dict[State, list[State]] = {}
        direct: dict[State, int] = {}
        for s, hops in succ.items():
            bits = 0
            for _, nxt in hops:
                if isinstance(nxt, int):
                    bits |= 1 << nxt
                else:
                    preds.setdefault(nxt, []).append(s)
            direct[s] = bits & mask
        cur = dict(direct)
        self.d: dict[State, list[int]] = {s: [1] for s, b in direct.items() if b}  # levels where bits grew
        self.b: dict[State, list[int]] = {s: [b] for s, b in direct.items() if b}  # bits from that level on
        changed = [s for s, b in direct.items() if b]
        level = 1
        while changed:
            level += 1
            todo = dict.fromkeys(p for s in changed for p in preds.get(s, ()))
            updates = {}
            for s in todo:
                bits = direct[s]
                for _, nxt in succ[s]:
                    if not isinstance(nxt, int):
                        bits |= cur[nxt]
                if bits != cur[s]:
                    updates[s] = bits
            for s, bits in updates.items():
                cur[s] = bits
                self.d.setdefault(s, []).append(level)
                self.b.setdefault(s, []).append(bits)
            changed = list(updates)
        self.final_bits = cur

    def final(self, state: State) -> int:
        """Target operations completable at any distance (ignoring that paths must be simple)."""
        return self.final_bits.get(state, 0)

    def within(self, state: State, hops: int) -> int:
        """Target operations completable within ``hops`` hops."""
        ds = self.d.get(state)
        if not ds or hops < ds[0]:
            return 0
        return self.b[state][bisect_right(ds, hops) - 1]


def _bit_values(bitsets: list[int], n_ops: int, values: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Sum of ``values`` over the set bits of each bitset (vectorised with numpy)."""
    if n_ops == 0:
        return np.zeros(len(bitsets), dtype=float)
    distinct = list(dict.fromkeys(bitsets))  # agents of one delegation component share their bitset
    sums = np.zeros(len(distinct), dtype=float)
    nbytes = (n_ops + 7) // 8
    for start in range(0, len(distinct), chunk):
        block = distinct[start:start + chunk]
        raw = np.frombuffer(b"".join(b.to_bytes(nbytes, "little") for b in block), dtype=np.uint8)
        bits = np.unpackbits(raw.reshape(len(block), nbytes), axis=1, bitorder="little")[:, :n_ops]
        sums[start:start + len(block)] = bits @ values
    lookup = dict(zip(distinct, sums.tolist(), strict=True))
    return np.array([lookup[b] for b in bitsets], dtype=float)


# --------------------------------------------------------------------------- public API


SEARCH_LIMIT = 200_000


def blast_radius(world: Scenario | nx.MultiDiGraph, principal: str, max_paths: int = 50,
                 search_limit: int = SEARCH_LIMIT, strategy: str | Strategy | None = None) -> BlastRadius:
    """What ``principal`` (agent, shared account or credential; bare id or node id) can reach.

    Returns the total value over distinct (action, resource) operations, each operation
    with its escalation paths, shortest first: all of them, or the ``max_paths`` shortest
    (``truncated`` set); ``max_paths=0`` skips paths (fast). ``search_limit`` bounds the
    path search on huge cyclic estates (operations it could not finish are flagged
    ``truncated`` and keep one shortest path). ``strategy`` (a name or a
    :class:`~nhisim.strategies.Strategy`) analyses the estate as that strategy runs it.
    """
    g = _graph_of(world, strategy)
    node = resolve(g, principal)
    idx = _Reach(g)
    bits = idx.principal_bits(node)
    ops = idx.operations(node, bits, max_paths, search_limit)
    return BlastRadius(principal=node, type=idx.types[node], value=idx.value(bits),
                       own_value=idx.value(idx.own(node) & bits), operations=ops, max_paths=max_paths)


def escalation_paths(world: Scenario | nx.MultiDiGraph, principal: str, max_paths: int = 50,
                     search_limit: int = SEARCH_LIMIT, strategy: str | Strategy | None = None) -> list[Path]:
    """Paths to operations beyond the principal's own roles (through shared accounts, credentials, delegation).

    Highest-value operation first, then shortest path first.
    """
    radius = blast_radius(world, principal, max_paths=max_paths, search_limit=search_limit, strategy=strategy)
    return [p for op in radius.operations if not op.own for p in op.paths]


def exposure(world: Scenario | nx.MultiDiGraph, resource: str, max_paths: int = 50,
             types: Iterable[str] = PRINCIPAL_TYPES, search_limit: int = SEARCH_LIMIT,
             strategy: str | Strategy | None = None) -> Exposure:
    """Which principals (agents, shared accounts, credentials) can reach ``resource``, and how.

    ``types`` narrows the principals listed; ``max_paths`` and ``search_limit`` are per
    principal, as in :func:`blast_radius`; so is ``strategy``.
    """
    g = _graph_of(world, strategy)
    node = resolve(g, resource, types=("resource",), what="resource")
    idx = _Reach(g)
    mask = sum(1 << i for (_, res), i in idx.bit.items() if res == node)
    wanted = set(types)
    principals = []
    if mask:
        levels = _Levels(idx, idx.all_states(), mask)
        for p, t in idx.types.items():
            if t in wanted and levels.final(idx.start(p)):
                bits = idx.principal_bits(p) & mask
                ops = idx.operations(p, bits, max_paths, search_limit, levels)
                principals.append(PrincipalExposure(principal=p, type=t, value=idx.value(bits), operations=ops))
    order = {t: i for i, t in enumerate(PRINCIPAL_TYPES)}
    principals.sort(key=lambda e: (-e.value, order.get(e.type, 9), e.principal))
    return Exposure(resource=_label(node), node=node, principals=principals)


def all_blast_radii(world: Scenario | nx.MultiDiGraph, strategy: str | Strategy | None = None) -> pd.DataFrame:
    """Blast radius of every agent in one pass: columns ``agent``, ``blast_radius``, ``operations``,
    ``own_blast_radius``, ``escalation``; highest blast radius first.

    Reach is propagated over the condensed delegation graph with integer bitsets, so an
    estate of 10,000 agents takes seconds. No paths are computed (see :func:`blast_radius`).
    ``strategy`` analyses the estate as that strategy runs it.
    """
    g = _graph_of(world, strategy)
    idx = _Reach(g)
    agents = nodes_of_type(g, "agent")
    idx.compute_full(agents)
    full = [idx.harvest(idx._full[a]) for a in agents]
    own = [idx.own(a) for a in agents]
    n = len(idx.ops)
    radius = _bit_values(full, n, idx.values)
    own_radius = _bit_values(own, n, idx.values)
    frame = pd.DataFrame({
        "agent": [_label(a) for a in agents],
        "blast_radius": radius,
        "operations": np.array([b.bit_count() for b in full], dtype=np.int64),
        "own_blast_radius": own_radius,
    })
    frame["escalation"] = frame["blast_radius"] - frame["own_blast_radius"]
    return frame.sort_values(["blast_radius", "agent"], ascending=[False, True], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- threats



def threat_potential(scenario: Scenario, threat: Any, strategy: str | Strategy) -> float | None:
    """Static potential blast radius of one threat of ``scenario`` under ``strategy``.

    What the attacker could reach at the compromise, from the graph, if what it takes is
    live at that moment: a leaked static key's scope (with its shared accounts' keys
    under a shared identity), or what the leaking agent's identity can mint (a JIT token
    of its roles, or of roles ∩ its tasks' intents); a sender-constrained credential is
    worth nothing to a thief, nor is a human's key that needs MFA (unless MFA fatigue can
    let the attacker through), nor anything after an offboarding that revokes. A
    steered agent reaches what it holds and can mint, plus, for a confused deputy, the
    deputy's roles under pass-through delegation, or only the sub-task's intent under
    token exchange. Under pass-through delegation a delegate may also hold what its
    delegators pass it, and an agent whose tasks run on a human's credential what that
    human hands it (the credential, or a token exchanged from it: ∩ the task's intent). A
    store breach reaches the union of its principals' leaks. Whatever it reaches, the
    attacker may read resources that store keys and reach what those keys reach
    (harvesting, to a fixed point). ``None`` for threats that compromise nothing
    (overreach, outage).

    The simulated ``potential_blast_radius`` (the compromise's value in the event log) is
    never above this, and equal to it when the leaked credential is a standing one.
    """
    s = strategy_of(scenario, strategy)
    model = type(threat)  # what the threat does is read from its model, not from a list of kinds
    if getattr(model, "EVIDENCE", "compromise") != "compromise":
        return None
    idx = _Reach(build_graph(scenario, strategy=s))
    ix = scenario.index()
    fatigue = scenario.attacker.mfa_fatigue_probability > 0

    def static(principal: str) -> bool:
        return s.of(principal).credential == "static_key"

    def uses(agent: str) -> list[str]:
        """The shared accounts whose key ``agent`` uses."""
        return [sa.id for sa in scenario.shared_accounts if agent in account_users(s, sa.id, sa.holders)]

    def ops_named(grants: Iterable[Any]) -> int:
        pairs = {(g.action, g.resource) for g in grants}
        return sum(1 << i for (action, res), i in idx.bit.items() if (action, split_node_id(res)[1]) in pairs)

    def intents_of(tasks: Iterable[str]) -> int:
        return ops_named(g for t in tasks for g in ix.tasks[t].intent.operations)

    def standing(agent: str) -> int:
        """What the agent's standing (static) or minting (JIT identity) credential reaches."""
        if static(agent):
            bits = idx.scope(node_id("credential", f"key:{agent}"))
            for account in uses(agent):
                bits |= idx.scope(node_id("shared_account", account))
            return bits
        return idx.base(node_id("agent", agent))

    def exchanges(principal: str) -> bool:
        return s.of(principal).delegation == "token_exchange"

    # hand-offs that pass credentials: all of them, or under token exchange (the delegator's controls)
    # those it can make (a lossy hop passes nothing: it fails, or the delegate works on its own authority)
    hand_offs = [(a.id, d) for a in scenario.agents for d in a.may_delegate_to
                 if not (exchanges(a.id) and d in ix.agents and exchange_blocked(a, ix.agents[d]))]

    def human_reach(human: str, tasks: Iterable[str] | None = None) -> int:
        """What ``human``'s credential reaches: its key, or under JIT a session (∩ the intents of the tasks
        it signs in for, under intent scope)."""
        bits = idx.scope(node_id("human", human))
        own = s.of(human)
        if not static(human) and own.jit_scope == "intent":
            bits &= intents_of(tasks if tasks is not None else
                               [t.id for t in scenario.tasks if t.on_behalf_of_requester and t.requested_by == human])
        return bits

    def on_behalf(agent: str) -> int:
        """What the agent is handed while its tasks run on their requesters' credentials."""
        bits = 0
        for task in ix.agents[agent].tasks:
            template = ix.tasks[task]
            human = template.requested_by
            if template.on_behalf_of_requester and human is not None and ix.humans[human].roles:
                reach = human_reach(human, [task])
                bits |= reach & intents_of([task]) if exchanges(human) else reach
        return bits

    def passed_to(agent: str) -> int:
        """What the agent's delegators, transitively, and its tasks' requesters may hand it while it works."""
        upstream = nx.ancestors(nx.DiGraph(hand_offs), agent) if any(d == agent for _, d in hand_offs) else set()
        bits = on_behalf(agent)
        narrowed = intents_of(ix.agents[agent].tasks)
        for other in upstream:  # an exchanged token is narrowed to the sub-task's intent
            bits |= (standing(other) | on_behalf(other)) & narrowed if exchanges(other) else \
                standing(other) | on_behalf(other)
        return bits

    def thief_can_present(principal: str) -> bool:
        own = s.of(principal)
        if principal in ix.humans and static(principal) and own.mfa and not fatigue:
            return False  # its key needs a second factor the thief cannot pass
        return own.binding != "sender_constrained"

    def leaked(principal: str, which: str) -> int:
        """What a leak of ``principal``'s credential (``which``: access or minting) hands a thief."""
        if principal in ix.shared_accounts:
            account = ix.shared_accounts[principal]
            if account_users(s, principal, account.holders):  # the account's key leaks
                return idx.scope(node_id("shared_account", principal)) if thief_can_present(principal) else 0
            principal = account.holders[0]
        if not thief_can_present(principal):
            return 0
        if principal in ix.humans:
            return human_reach(principal)
        if which == "minting" and not static(principal):
            # an identity document mints role-scoped tokens; an intent-scoped one mints nothing without a task
            return idx.scope(node_id("agent", principal)) if s.of(principal).jit_scope == "role" else 0
        return standing(principal) | (0 if static(principal) else passed_to(principal))

    def reach() -> int:
        if getattr(model, "STEERS_AGENT", False):  # a steered agent presents what it holds itself
            bits = standing(threat.agent) | passed_to(threat.agent)
            deputy = getattr(threat, "deputy", None)
            if deputy is not None:
                host, mine = s.of(threat.agent), s.of(deputy)  # the delegator's controls decide the hand-off
                lost = host.delegation == "token_exchange" and exchange_blocked(ix.agents[threat.agent],
                                                                                  ix.agents[deputy]) is not None
                if host.delegation == "pass_through":
                    bits |= idx.scope(node_id("agent", deputy))
                elif lost and host.lossy_hop == "own_authority":  # the deputy acts on its own authority
                    own = idx.scope(node_id("agent", deputy))
                    if mine.credential == "jit_token" and mine.jit_scope == "intent":
                        own &= ops_named(ix.tasks[threat.task].intent.operations)
                    bits |= own
                elif lost:  # the hand-off fails: the deputy gets nothing
                    bits = 0
                else:
                    bits &= ops_named(ix.tasks[threat.task].intent.operations)
            return bits
        if hasattr(threat, "principals"):  # one theft of many principals' credentials
            bits = 0
            for principal in threat.principals:
                bits |= leaked(principal, threat.credential)
            return bits
        if hasattr(threat, "principal"):  # a leak of a principal's credential
            return leaked(threat.principal, getattr(threat, "credential", "access"))
        if hasattr(threat, "account"):  # one holder of a shared account's key is compromised
            account = ix.shared_accounts[threat.account]
            if threat.via in account_users(s, threat.account, account.holders):
                return idx.scope(node_id("shared_account", threat.account)) \
                    if thief_can_present(threat.account) else 0
            if not thief_can_present(threat.via):
                return 0
            return standing(threat.via) | (0 if static(threat.via) else passed_to(threat.via))
        if hasattr(threat, "retired_at"):  # a retired agent's credential leaks later
            gone = s.of(threat.agent).offboarding_revokes or not thief_can_present(threat.agent)
            return 0 if gone else standing(threat.agent)
        raise ValueError(f"no static potential is defined for threats of kind {threat.kind!r}")

    return idx.value(idx.harvest(reach()))
