"""The delegation graph with the attacker's reach, one panel per strategy."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from nhisim.errors import InputError
from nhisim.reports.figures.style import ATTACK, DEFENCE, OKABE_ITO, STYLE, new_figure, one_run
from nhisim.reports.format import fmt


def _events_by_strategy(source: Any, replication: int, strategies: Sequence[str] | None) -> dict[str, pd.DataFrame]:
    if hasattr(source, "run_events") and hasattr(source, "strategies"):
        names = list(strategies or source.strategies)
        out = {}
        for name in names:
            frame = source.run_events.get((name, replication))
            if frame is None:
                raise InputError.single(f"no event log for {name!r}, replication {replication}",
                                        suggestion="compare with keep_events=True, or pick another replication")
            out[name] = frame
        return out
    if isinstance(source, Mapping):
        return {k: getattr(v, "events", v) for k, v in source.items() if not strategies or k in strategies}
    if isinstance(source, pd.DataFrame):
        frame = source
        if "replication" in frame.columns:
            frame = frame[frame["replication"] == replication]
        if "strategy" not in frame.columns:
            name = frame.attrs.get("strategy", "run")
            return {name: frame}
        names = list(strategies or dict.fromkeys(frame["strategy"]))
        return {name: frame[frame["strategy"] == name] for name in names}
    items = list(source) if isinstance(source, Sequence) else [source]
    out = {}
    for item in items:
        name = getattr(item, "strategy", None) or item.events.attrs.get("strategy", "run")
        if not strategies or name in strategies:
            out[name] = item.events
    return out


def _reach_graph(scenario):
    """Agents, shared accounts and resources; delegation, holding and role-reach edges."""
    import networkx as nx

    from nhisim.world import build_graph

    g = build_graph(scenario)
    h = nx.DiGraph()
    agents = [n for n, t in g.nodes(data="type") if t == "agent"]
    accounts = [n for n, t in g.nodes(data="type") if t == "shared_account"]
    resources = [n for n, t in g.nodes(data="type") if t == "resource"]
    for n in agents + accounts + resources:
        h.add_node(n, **{k: v for k, v in g.nodes[n].items() if isinstance(v, (str, int, float, bool))})
    for u, v, d in g.edges(data=True):
        t = d.get("type")
        if t == "may_delegate_to" and u in h and v in h:
            h.add_edge(u, v, type="delegate")
        elif t == "holds" and g.nodes[v].get("type") == "shared_account":
            h.add_edge(u, v, type="holds")
    for p in agents + accounts:
        reached = set()
        for _, role, d in g.out_edges(p, data=True):
            if d.get("type") != "has_role":
                continue
            for _, res, d2 in g.out_edges(role, data=True):
                if d2.get("type") == "grants":
                    reached.add(res)
        for res in sorted(reached):
            if not h.has_edge(p, res):
                h.add_edge(p, res, type="reach")
    return h, agents, accounts, resources


def _reach_layout(h, agents: list[str], accounts: list[str], resources: list[str]) -> dict[str, tuple[float, float]]:
    import networkx as nx

    delegation = nx.DiGraph((u, v) for u, v, d in h.edges(data=True) if d["type"] == "delegate")
    delegation.add_nodes_from(agents)
    depth = dict.fromkeys(agents, 0)
    if nx.is_directed_acyclic_graph(delegation):
        for node in nx.topological_sort(delegation):
            for succ in delegation.successors(node):
                depth[succ] = max(depth[succ], depth[node] + 1)
    columns: dict[int, list[str]] = {}
    for a in agents:
        columns.setdefault(depth[a], []).append(a)
    last = max(columns, default=-1)
    if accounts:
        last += 1
        columns[last] = list(accounts)
    columns[last + 1] = sorted(resources, key=lambda r: (-float(h.nodes[r].get("sensitivity_weight", 0)), r))
    pos: dict[str, tuple[float, float]] = {}
    for x, col in sorted(columns.items()):
        for i, node in enumerate(col):
            pos[node] = (float(x), 1.0 - (i + 1) / (len(col) + 1))
    for _ in range(3):  # order principals by the mean height of what they reach (fewer crossings)
        for x, col in sorted(columns.items()):
            if x == last + 1:
                continue

            def bary(n: str) -> float:
                ys = [pos[m][1] for m in h.successors(n)] + [pos[m][1] for m in h.predecessors(n)]
                return -sum(ys) / len(ys) if ys else 0.0

            col.sort(key=lambda n: (bary(n), n))
            for i, node in enumerate(col):
                pos[node] = (float(x), 1.0 - (i + 1) / (len(col) + 1))
    return pos


def _principal_node(name: Any, h) -> str | None:
    if not isinstance(name, str) or not name:
        return None
    for prefix in ("agent:", "shared_account:"):
        if prefix + name in h:
            return prefix + name
    return None


def attacker_reach(events: pd.DataFrame, h) -> dict[str, Any]:
    """What the attacker touched in one run: principals used, resources reached or attempted."""
    ev = events
    mal = ev[(ev["event"] == "request") & ev["malicious"].astype(bool)]
    allowed = mal[mal["decision"].astype(str) == "allow"]
    denied = mal[mal["decision"].astype(str) != "allow"]
    used: set[str] = set()
    for col in ("principal", "presenter"):
        for name in mal[col].dropna().unique():
            node = _principal_node(name, h)
            if node:
                used.add(node)
    compromised: set[str] = set()
    for name in ev.loc[ev["event"].isin(("compromise", "acquire")), "principal"].dropna().unique():
        node = _principal_node(name, h)
        if node:
            compromised.add(node)
    reached_edges = set()
    for p, pres, res in zip(allowed["principal"], allowed["presenter"], allowed["resource"], strict=True):
        node = _principal_node(p, h) or _principal_node(pres, h)
        if node and f"resource:{res}" in h:
            reached_edges.add((node, f"resource:{res}"))
    denied_edges = set()
    for p, pres, res in zip(denied["principal"], denied["presenter"], denied["resource"], strict=True):
        node = _principal_node(p, h) or _principal_node(pres, h)
        if node and f"resource:{res}" in h and (node, f"resource:{res}") not in reached_edges:
            denied_edges.add((node, f"resource:{res}"))
    reached = {f"resource:{r}" for r in allowed["resource"].dropna().unique() if f"resource:{r}" in h}
    attempted = {f"resource:{r}" for r in denied["resource"].dropna().unique() if f"resource:{r}" in h} - reached
    blast = float(allowed.drop_duplicates(["action", "resource"])["value"].sum()) if len(allowed) else 0.0
    return {"used": used, "compromised": compromised, "reached": reached, "attempted": attempted,
            "reached_edges": reached_edges, "denied_edges": denied_edges, "blast_radius": blast,
            "compromise": bool((ev["event"] == "compromise").any())}


def delegation_reach(scenario, source: Any, replication: int = 0, strategies: Sequence[str] | None = None,
                     ncols: int | None = None, labels: bool | None = None, max_agents: int | None = 16) -> Figure:
    """The delegation graph with the attacker's reach overlaid: one panel per strategy.

    Columns, left to right: agents by delegation depth, shared accounts, resources (most
    sensitive at the top). Grey lines are what each principal's roles reach; blue arrows
    ``may_delegate_to``; dashed lines an agent holding a shared account's key. Over that,
    for one replication of each strategy: the identities the attacker acted as (red ring),
    the resources it reached (filled vermillion, thick red line from the identity it used)
    and the ones it tried and was denied (black ring, dotted line).

    ``source`` is a :class:`~nhisim.experiments.Comparison`, a mapping
    ``{strategy: events or RunResult}``, a list of RunResults, or an events DataFrame with
    ``strategy`` (and ``replication``) columns. An estate with more than ``max_agents``
    agents is drawn around the attack: the agents the attacker acted as, in any panel,
    and their delegation neighbours (``max_agents=None`` draws every agent).
    """
    import networkx as nx

    runs = _events_by_strategy(source, replication, strategies)
    if not runs:
        raise InputError.single("no runs to draw", suggestion="pass a Comparison or {strategy: events}")
    h, agents, accounts, resources = _reach_graph(scenario)
    reaches = {name: attacker_reach(one_run(events), h) for name, events in runs.items()}
    note = ""
    if max_agents is not None and len(agents) > max_agents:
        kept = _focus(h, agents, accounts, reaches, max_agents)
        if len(kept) < len(agents):
            note = (f" · {len(kept)} of {len(agents)} agents shown: those the attacker acted as and their "
                    "delegation links")
            h = _induced(nx, h, set(kept + accounts + resources))
            agents = [a for a in agents if a in set(kept)]
    pos = _reach_layout(h, agents, accounts, resources)
    n = len(runs)
    ncols = ncols or min(2, n)
    nrows = math.ceil(n / ncols)
    tallest = max(sum(1 for p in pos.values() if p[0] == x) for x in {p[0] for p in pos.values()}) if pos else 1
    n_cols_graph = len({p[0] for p in pos.values()}) or 1
    labels = (h.number_of_nodes() <= 120) if labels is None else labels
    panel_w = max(7.0, 2.3 * n_cols_graph)
    panel_h = max(5.0, 0.42 * tallest + 1.8)
    font = 12 if tallest <= 14 else (10 if tallest <= 30 else 8)
    node_size = 520 if tallest <= 14 else (300 if tallest <= 30 else 140)
    with matplotlib.rc_context(STYLE):
        fig = new_figure(panel_w * ncols, panel_h * nrows + 1.6)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for k, strategy in enumerate(runs):
            ax = axes[k // ncols][k % ncols]
            reach = reaches[strategy]
            _draw_reach(ax, nx, h, pos, agents, accounts, resources, reach, labels, font, node_size)
            n_res = len(resources)
            if reach["compromise"]:
                sub = (f"reached {len(reach['reached'])} of {n_res} resources · "
                       f"blast radius {fmt('blast_radius', reach['blast_radius'])}")
            else:
                sub = "no compromise in this run"
            ax.set_title(f"{strategy}\n{sub}", fontsize=15)
        for k in range(n, nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        handles = [
            Line2D([], [], marker="s", color=OKABE_ITO["sky_blue"], markeredgecolor="black", linestyle="",
                   markersize=12, label="agent"),
            Line2D([], [], marker="o", color="#E0E0E0", markeredgecolor="black", linestyle="", markersize=12,
                   label="resource"),
            Line2D([], [], marker="o", color=ATTACK, markeredgecolor="black", linestyle="", markersize=12,
                   label="reached by the attacker"),
            Line2D([], [], marker="o", color="#E0E0E0", markeredgecolor="black", markeredgewidth=3, linestyle="",
                   markersize=12, label="tried, denied"),
            Line2D([], [], marker="s", color=OKABE_ITO["sky_blue"], markeredgecolor=ATTACK, markeredgewidth=3.5,
                   linestyle="", markersize=12, label="identity the attacker used"),
            Line2D([], [], color=DEFENCE, linewidth=2.5, label="may delegate to"),
            Line2D([], [], color="#AAAAAA", linewidth=1.5, label="role grants access"),
            Line2D([], [], color=ATTACK, linewidth=4, label="attacker's successful access"),
        ]
        if accounts:
            handles.insert(1, Line2D([], [], marker="D", color=OKABE_ITO["reddish_purple"], markeredgecolor="black",
                                     linestyle="", markersize=12, label="shared account"))
            handles.insert(7, Line2D([], [], color="#666666", linewidth=1.8, linestyle="--",
                                     label="holds shared key"))
        fig.legend(handles=handles, loc="outside lower center", ncols=min(5, len(handles)), frameon=False,
                   fontsize=12)
        fig.suptitle(f"{scenario.name}: delegation graph and the attacker's reach (replication {replication})"
                     + ("\n" + note.strip(" ·") if note else ""))
    return fig


def _induced(nx, h, nodes: set[str]):
    """The subgraph of ``h`` on ``nodes``, its nodes and edges in ``h``'s order (networkx's
    ``subgraph`` lists a small subgraph's nodes in the order of a set: the drawing would change
    from one process to the next)."""
    sub = nx.DiGraph()
    sub.add_nodes_from((n, d) for n, d in h.nodes(data=True) if n in nodes)
    sub.add_edges_from((u, v, d) for u, v, d in h.edges(data=True) if u in nodes and v in nodes)
    return sub


def _focus(h, agents: list[str], accounts: list[str], reaches: dict[str, dict], max_agents: int) -> list[str]:
    """The agents worth drawing in a big estate: those the attacker acted as, then their delegation neighbours."""
    involved: list[str] = []
    for reach in reaches.values():
        for node in sorted(reach["used"] | reach["compromised"]):
            if node in agents and node not in involved:
                involved.append(node)
    kept = list(involved)
    delegate = [(u, v) for u, v, d in h.edges(data=True) if d["type"] == "delegate"]
    for node in involved:
        for u, v in delegate:
            other = v if u == node else u if v == node else None
            if other is not None and other not in kept:
                kept.append(other)
    if not kept:  # no compromise anywhere: the delegating agents, then the rest
        kept = list(dict.fromkeys([u for u, _ in delegate] + [v for _, v in delegate] + agents))[:max_agents]
    return kept


def _draw_reach(ax, nx, h, pos, agents, accounts, resources, reach, labels, font, node_size) -> None:
    ax.set_axis_off()
    edges = {t: [(u, v) for u, v, d in h.edges(data=True) if d["type"] == t] for t in ("reach", "delegate", "holds")}
    nx.draw_networkx_edges(h, pos, edgelist=edges["reach"], ax=ax, edge_color="#BBBBBB", width=1.2, arrows=False,
                           alpha=0.7)
    nx.draw_networkx_edges(h, pos, edgelist=edges["holds"], ax=ax, edge_color="#666666", width=1.8, style="--",
                           arrows=False)
    nx.draw_networkx_edges(h, pos, edgelist=edges["delegate"], ax=ax, edge_color=DEFENCE, width=2.5, arrows=True,
                           arrowstyle="-|>", arrowsize=20, connectionstyle="arc3,rad=0.15", node_size=node_size)
    if reach["denied_edges"]:
        nx.draw_networkx_edges(h, pos, edgelist=sorted(reach["denied_edges"]), ax=ax, edge_color="black", width=1.8,
                               style=":", arrows=False)
    if reach["reached_edges"]:
        nx.draw_networkx_edges(h, pos, edgelist=sorted(reach["reached_edges"]), ax=ax, edge_color=ATTACK, width=4.0,
                               arrows=False)
    used = reach["used"] | reach["compromised"]
    for nodes, shape, colour in ((agents, "s", OKABE_ITO["sky_blue"]), (accounts, "D", OKABE_ITO["reddish_purple"])):
        if not nodes:
            continue
        nx.draw_networkx_nodes(h, pos, nodelist=nodes, ax=ax, node_shape=shape, node_color=colour,
                               node_size=node_size, edgecolors=[ATTACK if n in used else "black" for n in nodes],
                               linewidths=[3.5 if n in used else 0.8 for n in nodes])
    colours = [ATTACK if r in reach["reached"] else "#E0E0E0" for r in resources]
    widths = [3.0 if r in reach["attempted"] else 0.8 for r in resources]
    nx.draw_networkx_nodes(h, pos, nodelist=resources, ax=ax, node_shape="o", node_color=colours,
                           node_size=node_size, edgecolors="black", linewidths=widths)
    if labels:
        for node, (x, y) in pos.items():
            d = h.nodes[node]
            text = d.get("label", node.split(":", 1)[-1])
            if d.get("type") == "resource" and d.get("sensitivity"):
                text += f" ({d['sensitivity']})"
            bold = node in used or node in reach["reached"]
            right = d.get("type") == "resource"  # the last column: labels to the right, clear of the next node
            ax.annotate(text, (x, y), xytext=(12, 0) if right else (0, -14 if node_size >= 300 else -10),
                        textcoords="offset points", ha="left" if right else "center",
                        va="center" if right else "top", fontsize=font, fontweight="bold" if bold else "normal",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75})
    xs = [p[0] for p in pos.values()] or [0]
    ax.set_xlim(min(xs) - 0.45, max(xs) + (1.3 if labels else 0.45))
    ax.set_ylim(-0.04, 1.02)
