"""Benchmark: static blast radius of every agent in a synthetic 10,000-agent estate.

Run: ``python benchmarks/bench_static_analysis.py [--agents 10000] [--repeat 3]``.
Uses ``nhisim.scenario.generate.generate_estate`` when it exists, else a local builder.
Prints the seconds (wall and CPU, best of ``--repeat``) of ``build_graph`` and of
``all_blast_radii`` on the built graph, and agents/second.
"""

from __future__ import annotations

import argparse
import random
import time

from nhisim.scenario.models import Scenario
from nhisim.world import all_blast_radii, build_graph

ACTIONS = ("read", "write", "export", "delete", "admin")
SENSITIVITIES = ("low", "medium", "high", "critical")


def local_estate(agents: int, tools: int, resources: int, fanout: int, shared_share: float, seed: int) -> Scenario:
    """A random estate: roles over tool operations, delegation with cycles, shared accounts."""
    rng = random.Random(seed)
    res = [{"id": f"res-{i}", "sensitivity": rng.choice(SENSITIVITIES), "records": rng.randrange(0, 100_000)}
           for i in range(resources)]
    tool_ops: dict[str, list[tuple[str, str]]] = {f"tool-{i}": [] for i in range(tools)}
    for r in res:
        tool = f"tool-{rng.randrange(tools)}"
        for action in rng.sample(ACTIONS, 3):
            tool_ops[tool].append((action, r["id"]))
    tool_list = [{"id": t, "operations": [{"action": a, "resource": r} for a, r in ops]} for t, ops in tool_ops.items()]
    all_ops = [(t, a, r) for t, ops in tool_ops.items() for a, r in ops]
    n_roles = max(1, agents // 10)
    roles = [{"id": f"role-{i}", "grants": [f"{t}:{a}:{r}" for t, a, r in rng.sample(all_ops, 8)]}
             for i in range(n_roles)]
    humans = [{"id": f"human-{i}"} for i in range(max(1, agents // 100))]
    agent_list = [
        {"id": f"agent-{i}", "owner": f"human-{i % len(humans)}",
         "roles": [f"role-{j}" for j in rng.sample(range(n_roles), 2)],
         "may_delegate_to": [f"agent-{j}" for j in rng.sample(range(agents), fanout) if j != i]}
        for i in range(agents)
    ]
    n_shared = int(agents * shared_share) // 10
    shared = [{"id": f"svc-{i}", "holders": [f"agent-{j}" for j in rng.sample(range(agents), 10)],
               "roles": [f"role-{rng.randrange(n_roles)}"]} for i in range(n_shared)]
    return Scenario.model_validate({"name": f"estate-{agents}", "resources": res, "tools": tool_list,
                                    "roles": roles, "humans": humans, "agents": agent_list,
                                    "shared_accounts": shared})


def make_estate(agents: int, seed: int, kind: str = "generate") -> tuple[Scenario, str]:
    """The estate to analyse: ``generate`` (nhisim's generator, if present) or ``local`` (cyclic delegation)."""
    size = {"tools": max(10, agents // 100), "resources": max(20, agents // 10)}
    if kind == "generate":
        try:
            from nhisim.scenario.generate import generate_estate
        except ImportError:
            kind = "local"
        else:
            return generate_estate(agents=agents, fanout=3, depth=4, shared_share=0.2, seed=seed, **size), \
                "nhisim.scenario.generate (delegation trees)"
    return local_estate(agents, fanout=2, shared_share=0.2, seed=seed, **size), "local (random delegation, cycles)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--estate", choices=("generate", "local"), default="generate")
    args = parser.parse_args()

    t0 = time.perf_counter()
    scenario, source = make_estate(args.agents, args.seed, args.estate)
    t_gen = time.perf_counter() - t0
    print(f"estate ({source}): {len(scenario.agents)} agents, {len(scenario.roles)} roles, "
          f"{len(scenario.shared_accounts)} shared accounts, {len(scenario.resources)} resources "
          f"[generated in {t_gen:.2f} s]")

    wall = {"graph": [], "analysis": []}
    cpu = {"graph": [], "analysis": []}
    for _ in range(args.repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        graph = build_graph(scenario)
        w1, c1 = time.perf_counter(), time.process_time()
        frame = all_blast_radii(graph)
        w2, c2 = time.perf_counter(), time.process_time()
        wall["graph"].append(w1 - w0)
        wall["analysis"].append(w2 - w1)
        cpu["graph"].append(c1 - c0)
        cpu["analysis"].append(c2 - c1)
    n = len(frame)
    print(f"graph: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges")
    print(f"best of {args.repeat} (wall / CPU seconds; CPU is steadier on a busy machine):")
    for label, key in (("build_graph", "graph"), ("all_blast_radii", "analysis")):
        w, c = min(wall[key]), min(cpu[key])
        print(f"  {label:<16} {w:7.3f} s / {c:7.3f} s   {n / w:9,.0f} agents/s wall")
    w = min(a + b for a, b in zip(wall["graph"], wall["analysis"], strict=True))
    c = min(a + b for a, b in zip(cpu["graph"], cpu["analysis"], strict=True))
    print(f"  {'both':<16} {w:7.3f} s / {c:7.3f} s   {n / w:9,.0f} agents/s wall, from the scenario")
    print(f"blast radius: median {frame['blast_radius'].median():.1f}, max {frame['blast_radius'].max():.1f}, "
          f"median operations {frame['operations'].median():.0f}")


if __name__ == "__main__":
    main()
