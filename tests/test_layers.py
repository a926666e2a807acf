"""The package's import graph: data flows one way, and no module imports itself back.

Layers, earliest first (a module may import only its own layer and earlier ones):
the base (version, errors, vocabulary, strategies, the scenario pack's locator, file writing, signals) →
scenario (validated models) → importers (configurations and traces as scenarios) → world (the graph, static
analysis) and sim (engine, controls, threats, detection), which are siblings → metrics → experiments → reports →
cli. Every import counts: at module
level, inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "nhisim"

LAYERS = {
    "nhisim._version": 0, "nhisim.errors": 0, "nhisim.vocabulary": 0, "nhisim.strategies": 0,
    "nhisim.pack": 0, "nhisim.files": 0, "nhisim.interrupt": 0,
    "nhisim.scenario": 1,
    "nhisim.importers": 2,
    "nhisim.world": 3, "nhisim.sim": 3,
    "nhisim.metrics": 4,
    "nhisim.experiments": 5,
    "nhisim.reports": 6,
    "nhisim.cli": 7, "nhisim.__main__": 7,
}
SIBLINGS_THAT_MUST_NOT_MEET = {("nhisim.world", "nhisim.sim"), ("nhisim.sim", "nhisim.world")}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_graph() -> nx.DiGraph:
    """Every import between nhisim's modules, wherever it is written."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
            else:
                continue
            for target in targets:
                if target == "nhisim" or target.startswith("nhisim."):
                    graph.add_edge(name, target, line=node.lineno)
    return graph


def layer_of(module: str) -> tuple[str, int] | None:
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return prefix, LAYERS[prefix]
    return None


def test_no_import_cycles() -> None:
    cycles = [c for c in nx.simple_cycles(import_graph()) if len(c) > 1]
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c + c[:1]) for c in cycles[:20])


def test_imports_flow_one_way() -> None:
    upward = []
    for source, target, data in import_graph().edges(data=True):
        if target == "nhisim":
            if source != "nhisim":
                upward.append(f"{source}:{data['line']} imports the root package (import from its module instead)")
            continue
        a, b = layer_of(source), layer_of(target)
        if a is None or b is None:
            continue
        if b[1] > a[1] or (a[0], b[0]) in SIBLINGS_THAT_MUST_NOT_MEET:
            upward.append(f"{source}:{data['line']} ({a[0]}) imports {target} ({b[0]})")
    assert not upward, "imports against the data flow:\n" + "\n".join(upward)


def test_every_module_has_a_layer() -> None:
    unplaced = [m for m in import_graph() if m != "nhisim" and layer_of(m) is None]
    assert not unplaced, f"modules outside the layer map (add them to LAYERS): {unplaced}"
