"""Export and draw the world graph: GraphML, BloodHound OpenGraph JSON, PNG/SVG pictures.

The OpenGraph payload, its extension definition and a run's attack overlay are built in
:mod:`nhisim.world.opengraph` (the rules BloodHound's documentation sets are listed
there); its public names are re-exported here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

import networkx as nx

from nhisim.errors import InputError
from nhisim.files import whole_file
from nhisim.world.graph import EDGE_TYPES, NODE_TYPES
from nhisim.world.opengraph import (  # noqa: F401  (re-exported)
    EDGE_KINDS,
    NODE_KINDS,
    PRINCIPAL_KIND,
    attack_overlay,
    opengraph_extension,
    opengraph_id,
    to_opengraph,
    write_attack_overlay,
    write_opengraph,
    write_opengraph_extension,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Okabe-Ito palette: distinguishable with every common colour-vision deficiency.
NODE_STYLE = {
    "human": ("#E69F00", "o"),
    "agent": ("#56B4E9", "s"),
    "credential": ("#F0E442", "h"),
    "shared_account": ("#D55E00", "D"),
    "role": ("#009E73", "^"),
    "resource": ("#CC79A7", "o"),
    "tool": ("#999999", "p"),
}
EDGE_STYLE = {  # colour, line style, width
    "owns": ("#999999", ":", 0.8),
    "has_role": ("#009E73", "-", 1.0),
    "holds": ("#D55E00", "-", 1.2),
    "acts_for": ("#000000", "--", 0.9),
    "grants": ("#CC79A7", "-", 1.0),
    "exposes": ("#999999", ":", 0.6),
    "may_delegate_to": ("#0072B2", "-", 1.4),
    "stores_secret": ("#E69F00", "--", 1.2),
}
LAYERS = ("human", "agent", "credential", "shared_account", "role", "resource", "tool")
_PLURAL = {"human": "humans", "agent": "agents", "credential": "credentials", "shared_account": "shared accounts",
           "role": "roles", "resource": "resources", "tool": "tools"}


# --------------------------------------------------------------------------- GraphML


def _scalar(value: Any) -> Any:
    """A GraphML-storable value: str, int, float or bool (others become JSON text)."""
    if hasattr(value, "item") and not isinstance(value, (list, tuple, dict)):
        value = value.item()  # numpy scalars
    if value is None:
        return ""
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (set, frozenset)):
        value = sorted(value, key=str)
    try:
        return json.dumps(value, default=str)
    except TypeError:
        return str(value)


def _unify(records: Iterable[dict[str, Any]]) -> None:
    """Give every attribute one type across elements (GraphML declares one type per key)."""
    records = list(records)
    kinds: dict[str, set[type]] = {}
    for rec in records:
        for k, v in rec.items():
            kinds.setdefault(k, set()).add(type(v))
    for k, ts in kinds.items():
        if len(ts) <= 1:
            continue
        to = float if ts <= {int, float} else str
        for rec in records:
            if k in rec:
                rec[k] = to(rec[k])


def to_graphml(graph: nx.MultiDiGraph, path: str | os.PathLike) -> FsPath:
    """Write the graph as GraphML (non-scalar attributes stringified); returns the path."""
    out = nx.MultiDiGraph()
    out.graph.update({k: _scalar(v) for k, v in graph.graph.items()})
    nodes = [(n, {k: _scalar(v) for k, v in d.items()}) for n, d in graph.nodes(data=True)]
    edges = [(u, v, str(k), {kk: _scalar(vv) for kk, vv in d.items()}) for u, v, k, d in
             graph.edges(keys=True, data=True)]
    _unify(d for _, d in nodes)
    _unify(d for *_, d in edges)
    out.add_nodes_from(nodes)
    out.add_edges_from(edges)
    path = FsPath(path)
    with whole_file(path) as temp:
        nx.write_graphml(out, temp)
    return path


# --------------------------------------------------------------------------- OpenGraph
# The BloodHound OpenGraph export lives in nhisim.world.opengraph; re-exported here.

# --------------------------------------------------------------------------- drawing


def _highlighted(highlight: Any) -> tuple[set[str], set[tuple[str, str]]]:
    """Nodes and (source, target) edges to emphasise, from a BlastRadius, an Exposure, paths or node ids."""
    nodes: set[str] = set()
    edges: set[tuple[str, str]] = set()
    if highlight is None:
        return nodes, edges
    paths = []
    if hasattr(highlight, "operations") and hasattr(highlight, "principal"):  # BlastRadius
        nodes.add(highlight.principal)
        paths = [p for op in highlight.operations for p in op.paths]
    elif hasattr(highlight, "principals"):  # Exposure
        nodes.add(highlight.node)
        paths = [p for e in highlight.principals for op in e.operations for p in op.paths]
    else:
        items = [highlight] if isinstance(highlight, str) or hasattr(highlight, "hops") else list(highlight)
        for item in items:
            if hasattr(item, "hops"):
                paths.append(item)
            else:
                nodes.add(str(item))
    for path in paths:
        for hop in path.hops:
            nodes.update((hop.source, hop.target))
            edges.add((hop.source, hop.target))
    return nodes, edges


def _layout(graph: nx.MultiDiGraph) -> tuple[dict[str, tuple[float, float]], list[str]]:
    """Columns by node type (left to right: who acts, through what, on what); barycentric order inside."""
    layers = [t for t in LAYERS if any(d == t for _, d in graph.nodes(data="type"))]
    layers += sorted({d for _, d in graph.nodes(data="type") if d not in layers and d is not None})
    columns = {t: sorted((n for n, d in graph.nodes(data="type") if d == t), key=str) for t in layers}
    neighbours = {n: set(graph.predecessors(n)) | set(graph.successors(n)) for n in graph}
    pos: dict[str, tuple[float, float]] = {}

    def place() -> None:
        for x, t in enumerate(layers):
            col = columns[t]
            for i, n in enumerate(col):
                pos[n] = (float(x), 1.0 - (i + 1) / (len(col) + 1))

    place()
    for _ in range(4):  # barycentre sweeps reduce crossings
        for t in layers:
            col = columns[t]
            def bary(n: str, col_x: float = float(layers.index(t))) -> float:
                ys = [pos[m][1] for m in neighbours[n] if pos[m][0] != col_x]
                return -sum(ys) / len(ys) if ys else -pos[n][1]
            columns[t] = sorted(col, key=lambda n: (bary(n), str(n)))
        place()
    return pos, layers


def draw(graph: nx.MultiDiGraph, path: str | os.PathLike | None = None, format: str | None = None,
         highlight: Any = None, title: str | None = None, labels: bool | None = None,
         hide: Iterable[str] = (), dpi: int = 150) -> Figure:
    """Draw the graph in layered columns by node type; save it to ``path`` if given.

    ``format`` is ``"png"`` or ``"svg"`` (default: from the file suffix, else png).
    ``highlight`` (a BlastRadius, an Exposure, paths or node ids) is drawn bold and the
    rest faded. ``hide`` leaves node types out (e.g. ``("credential", "tool")``);
    ``labels`` defaults to on up to 400 nodes. Returns the matplotlib Figure (not
    registered with pyplot, so nothing accumulates in loops).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported here: the engine never draws
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    if format is None:
        suffix = FsPath(path).suffix.lower().lstrip(".") if path is not None else ""
        format = suffix if suffix in ("png", "svg", "pdf") else "png"
    if format not in ("png", "svg", "pdf"):
        raise InputError.single(f"cannot draw to format {format!r}", suggestion="use png or svg")
    hidden = set(hide)
    if hidden:
        graph = graph.subgraph(n for n, t in graph.nodes(data="type") if t not in hidden)
    pos, layers = _layout(graph)
    tallest = max((sum(1 for _, d in graph.nodes(data="type") if d == t) for t in layers), default=1)
    n_nodes = graph.number_of_nodes()
    if labels is None:
        labels = n_nodes <= 400
    width = max(8.0, 2.4 * len(layers))
    height = min(max(4.5, 0.32 * tallest + 1.5), 80.0)
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_axis_off()
    hl_nodes, hl_edges = _highlighted(highlight)
    fade = bool(hl_nodes or hl_edges)

    many = graph.number_of_edges() > 1500
    for u, v, d in graph.edges(data=True):
        colour, style, lw = EDGE_STYLE.get(d.get("type", ""), ("#666666", "-", 0.8))
        on = (u, v) in hl_edges
        alpha = 1.0 if on or not fade else 0.12
        lw = lw * 2.2 if on else lw
        same_column = pos[u][0] == pos[v][0]
        if many and not same_column:
            ax.plot([pos[u][0], pos[v][0]], [pos[u][1], pos[v][1]], color=colour, ls=style, lw=lw * 0.6,
                    alpha=alpha * 0.6, zorder=1)
            continue
        ax.annotate("", xy=pos[v], xytext=pos[u], zorder=2 if on else 1,
                    arrowprops={"arrowstyle": "-|>", "color": colour, "lw": lw, "ls": style, "alpha": alpha,
                                "shrinkA": 7, "shrinkB": 7, "mutation_scale": 9,
                                "connectionstyle": "arc3,rad=0.45" if same_column else "arc3,rad=0.04"})
    size = 110 if n_nodes <= 200 else 40
    for t in layers:
        colour, marker = NODE_STYLE.get(t, ("#BBBBBB", "o"))
        members = [n for n, d in graph.nodes(data="type") if d == t]
        for group_on in (False, True):
            group = [n for n in members if (n in hl_nodes) == group_on]
            if not group:
                continue
            ax.scatter([pos[n][0] for n in group], [pos[n][1] for n in group], s=size * (1.4 if group_on else 1),
                       c=colour, marker=marker, edgecolors="#000000", linewidths=1.8 if group_on else 0.5,
                       alpha=1.0 if group_on or not fade else 0.35, zorder=3 + group_on)
        ax.text(layers.index(t), 1.02, _PLURAL.get(t, t), ha="center", va="bottom", fontsize=10,
                fontweight="bold")
    if labels:
        fontsize = 8 if tallest <= 40 else 6
        for n, d in graph.nodes(data=True):
            on = n in hl_nodes
            ax.text(pos[n][0] + 0.06, pos[n][1], d.get("label", n), fontsize=fontsize, va="center", ha="left",
                    zorder=5, fontweight="bold" if on else "normal", alpha=1.0 if on or not fade else 0.5,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7})
    ax.set_xlim(-0.3, len(layers) - 0.2)
    ax.set_ylim(-0.02, 1.07)
    node_handles = [Line2D([], [], ls="", marker=NODE_STYLE[t][1], color=NODE_STYLE[t][0], markeredgecolor="#000",
                           markersize=8, label=t.replace("_", " ")) for t in NODE_TYPES if t in layers]
    present = {d for *_, d in graph.edges(data="type")}
    edge_handles = [Line2D([], [], color=EDGE_STYLE[t][0], ls=EDGE_STYLE[t][1], lw=1.6, label=t.replace("_", " "))
                    for t in EDGE_TYPES if t in present]
    handles = node_handles + edge_handles
    if handles:
        fig.legend(handles=handles, loc="lower center", ncols=min(len(handles), 7), fontsize=8, frameon=False)
    fig.suptitle(title or f"world graph: {graph.graph.get('scenario', graph.graph.get('name', ''))}", fontsize=12)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=min(0.3, 0.75 / height), top=1 - min(0.2, 0.55 / height))
    if path is not None:
        with whole_file(path) as temp:
            fig.savefig(temp, format=format, dpi=dpi if format == "png" else None)
    return fig
