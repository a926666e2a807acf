"""Scale: this tree beside a reference revision (default 514b636, main before the scale work), measured in the same run.

Every figure is measured in its own subprocess, once with this tree and once with the
reference, extracted from git (``git archive REV``) into a temporary folder and put
first on ``PYTHONPATH``; the same probe code runs in both, through APIs both have. Each
probe also times a bare SimPy timeout loop just before and just after its measurement,
in its own process, so every figure is given both as measured and relative to that loop
(the machine's speed at that moment taken out):

- tool calls/s on the 1,000-agent estate, per strategy: calls/s, and ÷ bare SimPy events/s (the
  median of ``--repeat`` runs, after one run not timed: a process's one-time costs, such as
  importing scipy.special, are not a cost per call);
- a 10,000-agent simulated day per strategy, run as a sweep runs it (metrics gathered, no
  events kept; the estate built in Python by ``generate_estate``, one subprocess per run so
  its peak RSS is its own): wall, CPU, peak RSS, and CPU × bare events/s (the run's cost
  in bare SimPy events);
- loading a 10,000-agent estate from YAML (``nhisim generate`` output), first load in a
  fresh process: wall, and the same in bare SimPy events;
- growth: CPU of one run (simulation and metrics) from 100 to 10,000 agents, per 1,000 agents;
- the pack: ``nhisim compare`` of every scenario × 4 strategies × 30 replications on 2
  workers, as a user types it: wall (the files both trees load).

    python benchmarks/bench_scale.py                       # everything (about 25 min on 2 cores)
    python benchmarks/bench_scale.py --only calls,load,pack  # some figures
    python benchmarks/bench_scale.py --no-before           # this tree only

The estate is ``bench_engine.bench_estate``: generated, one tool per 20 agents, one
resource per 10, a leaked key at 2 h and 5 % runtime discovery. Times are CPU seconds of
the probe process unless said wall; on a shared machine compare within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "514b636"
STRATEGIES = ("shared_account", "rbac", "zsp", "intent")
DAY = 86400.0
MiB = 2**20


# --------------------------------------------------------------------------- probes (each in a subprocess)


def _bare() -> float:
    from bench_engine import bare_simpy_events_per_second

    return bare_simpy_events_per_second()


def _peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def probe_calls(agents: int, horizon: float, strategy: str, repeat: int) -> dict:
    """Tool calls (request rows) per CPU second of ``Simulation.run``; the median of ``repeat`` runs, after
    one run not timed (what a process pays once: imports such as scipy.special, first use of memory)."""
    import gc
    import time

    from bench_engine import bench_estate

    from nhisim.sim.engine import Simulation

    scenario = bench_estate(agents)
    Simulation(scenario, strategy, seed=1, horizon=horizon).run()
    samples = []
    for _ in range(repeat):
        gc.collect()
        before = _bare()
        sim = Simulation(scenario, strategy, seed=1, horizon=horizon)
        start = time.process_time()
        log = sim.run()
        cpu = time.process_time() - start
        bare = (before + _bare()) / 2
        calls = sum(1 for event in log.column("event") if event == "request")
        samples.append({"calls_per_s": calls / cpu, "cpu": cpu, "calls": calls, "rows": len(log), "bare": bare,
                        "ratio": calls / cpu / bare})
    return sorted(samples, key=lambda s: s["ratio"])[len(samples) // 2]


def probe_run(agents: int, horizon: float, strategy: str) -> dict:
    """One run as a sweep runs it (``simulate(keep_events=False)``: metrics, no events kept)."""
    import time

    from bench_engine import bench_estate

    from nhisim.experiments.run import simulate

    scenario = bench_estate(agents)
    scenario = scenario.model_copy(update={"run": scenario.run.model_copy(update={"horizon": horizon})})
    estate_rss = _peak_rss()
    before = _bare()
    wall, cpu = time.perf_counter(), time.process_time()
    result = simulate(scenario, strategy, seed=1, keep_events=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = _peak_rss()
    return {"wall": wall, "cpu": cpu, "rss": peak, "estate_rss": estate_rss, "bare": (before + _bare()) / 2,
            "tasks_completed": result.metrics["tasks_completed"]}


def probe_write_estate(agents: int, path: str) -> dict:
    from bench_engine import bench_estate

    from nhisim.scenario.readable_yaml import estate_to_yaml

    Path(path).write_text(estate_to_yaml(bench_estate(agents)), encoding="utf-8")
    return {"bytes": Path(path).stat().st_size}


def probe_load(path: str) -> dict:
    """``load_scenario`` of a file, the first in this process (its imports timed apart)."""
    import time

    started = time.perf_counter()
    from nhisim.scenario.loader import load_scenario

    imports = time.perf_counter() - started
    before = _bare()
    wall, cpu = time.perf_counter(), time.process_time()
    scenario = load_scenario(path)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall": wall, "cpu": cpu, "imports": imports, "agents": len(scenario.agents),
            "bare": (before + _bare()) / 2, "rss": _peak_rss()}


def probe_loads(paths: list[str]) -> dict:
    """Which of ``paths`` this tree loads (a reference revision may not know a newer scenario's features)."""
    from nhisim.scenario.loader import load_scenario

    loadable = []
    for path in paths:
        try:
            load_scenario(path)
        except Exception:  # noqa: BLE001 - any refusal: the file is left out of the comparison
            continue
        loadable.append(path)
    return {"loadable": loadable}


def probe_pack(paths: list[str], strategies: str, replications: int, workers: int) -> dict:
    """``nhisim compare`` of ``paths`` as a user types it, in a fresh process: its wall time."""
    import time

    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "nhisim", "compare", *paths, "--strategies", strategies,
                   "-r", str(replications), "--workers", str(workers), "--out", out]
        before = _bare()
        wall = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, NHISIM_FORCE="1"))
        wall = time.perf_counter() - wall
        if done.returncode:
            raise SystemExit(f"nhisim compare failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    return {"wall": wall, "bare": (before + _bare()) / 2, "runs": len(paths) * len(strategies.split(",")) * replications}


PROBES = {"calls": probe_calls, "run": probe_run, "write_estate": probe_write_estate, "load": probe_load,
          "loads": probe_loads, "pack": probe_pack}


# --------------------------------------------------------------------------- running probes


class Trees:
    """This tree ("after") and the reference revision extracted from git ("before")."""

    def __init__(self, before: str | None) -> None:
        self.paths: dict[str, Path] = {"after": ROOT}
        self._tmp: str | None = None
        if before:
            self._tmp = tempfile.mkdtemp(prefix="nhisim-before-")
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", before], check=True,
                                     capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", self._tmp], input=archive, check=True)
            self.paths["before"] = Path(self._tmp)

    @property
    def names(self) -> list[str]:
        return [name for name in ("before", "after") if name in self.paths]

    def close(self) -> None:
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def run(self, tree: str, probe: str, **kwargs) -> dict:
        """One probe in a fresh interpreter with ``tree`` first on the path (empty if it failed)."""
        path = self.paths[tree]
        env = dict(os.environ, PYTHONPATH=str(path))
        out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--probe", probe, json.dumps(kwargs)],
                             capture_output=True, text=True, env=env, cwd=path)
        if out.returncode:
            print(f"  ({tree} {probe} {kwargs} failed: {' '.join(out.stderr.strip().splitlines()[-1:])})")
            return {}
        return json.loads(out.stdout.strip().splitlines()[-1])


def _speedup(before: dict, after: dict, key: str, higher_is_better: bool = False) -> str:
    a, b = after.get(key), before.get(key)
    if not a or not b:
        return ""
    return f"{(a / b if higher_is_better else b / a):.2f}x"


def _print_trees(got: dict[str, dict], cells, key: str, higher_is_better: bool = False, lead: str = "",
                 width: int = 10) -> None:
    """One line per tree that gave figures: ``lead``, the tree, ``cells(figures)``, and (for this
    tree) its speed-up on ``key`` over the reference."""
    for tree, f in got.items():
        if f:
            speedup = _speedup(got.get("before", {}), f, key, higher_is_better) if tree == "after" else ""
            print(f"{lead}{tree:<8}{cells(f)}{speedup:>{width}}")


def _rss(figures: dict) -> str:
    """Peak RSS, and in brackets the RSS with the estate built, before the run."""
    return f"{figures['rss'] / MiB:,.0f} MiB ({figures['estate_rss'] / MiB:,.0f})"


def _bare_cost(figures: dict, key: str = "cpu") -> str:
    """A time in bare SimPy events: how many the loop runs in that time, in millions."""
    return f"{figures[key] * figures['bare'] / 1e6:,.1f} M" if figures.get(key) and figures.get("bare") else "-"


# --------------------------------------------------------------------------- the figures


def figure_calls(trees: Trees, agents: int, repeat: int, results: dict) -> None:
    print(f"\n== Tool calls/s, {agents:,} agents, one simulated day (CPU of Simulation.run; median of {repeat}, "
          "after a run not timed)")
    print("   ratio = tool calls/s ÷ bare SimPy timeout events/s, the loop timed just before and after each run")
    print(f"{'strategy':<16}{'tree':<8}{'calls':>10}{'CPU s':>8}{'calls/s':>10}{'bare ev/s':>12}{'ratio':>8}"
          f"{'speed-up':>10}")
    for strategy in STRATEGIES:
        got = {tree: trees.run(tree, "calls", agents=agents, horizon=DAY, strategy=strategy, repeat=repeat)
               for tree in trees.names}
        results.setdefault("calls", {})[strategy] = got
        _print_trees(got, lambda f: f"{f['calls']:>10,}{f['cpu']:>8.2f}{f['calls_per_s']:>10,.0f}{f['bare']:>12,.0f}"
                                    f"{f['ratio']:>8.3f}", "ratio", higher_is_better=True, lead=f"{strategy:<16}")


def figure_day(trees: Trees, agents: int, results: dict) -> None:
    print(f"\n== A {agents:,}-agent simulated day per strategy, as a sweep runs it (metrics, no events kept), "
          "each run in its own process")
    print("   bare cost = CPU s × bare SimPy events/s; peak RSS of the process, estate included "
          "(RSS with the estate built, before the run, in brackets)")
    print(f"{'strategy':<16}{'tree':<8}{'wall s':>8}{'CPU s':>8}{'bare cost':>12}{'peak RSS':>18}{'CPU speed-up':>14}")
    for strategy in STRATEGIES:
        got = {tree: trees.run(tree, "run", agents=agents, horizon=DAY, strategy=strategy) for tree in trees.names}
        results.setdefault("day", {})[strategy] = got
        _print_trees(got, lambda f: f"{f['wall']:>8.1f}{f['cpu']:>8.1f}{_bare_cost(f):>12}{_rss(f):>18}", "cpu",
                     lead=f"{strategy:<16}", width=14)


def figure_load(trees: Trees, agents: int, results: dict) -> None:
    print(f"\n== Loading a {agents:,}-agent estate from YAML (load_scenario, the first in a fresh process)")
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "estate.yaml")
        size = trees.run("after", "write_estate", agents=agents, path=path).get("bytes", 0)
        got = {tree: trees.run(tree, "load", path=path) for tree in trees.names}
    results["load"] = got
    print(f"   the file: {size:,} bytes, written by estate_to_yaml")
    print(f"{'tree':<8}{'wall s':>8}{'CPU s':>8}{'bare cost':>12}{'peak RSS':>12}{'speed-up':>10}")
    _print_trees(got, lambda f: f"{f['wall']:>8.2f}{f['cpu']:>8.2f}{_bare_cost(f):>12}{f['rss'] / MiB:>8,.0f} MiB",
                 "wall")


def figure_growth(trees: Trees, sizes: list[int], horizon: float, strategies: list[str], results: dict) -> None:
    print(f"\n== Growth: one run of {horizon / 3600:g} h (simulation and metrics, as a sweep runs it) by estate size; "
          "linear in agents if CPU s per 1,000 agents stays flat")
    print(f"{'strategy':<16}{'agents':>8}" + "".join(f"{tree + ' CPU s':>15}{'s/1k':>8}{'bare cost':>12}"
                                                   for tree in trees.names))
    for strategy in strategies:
        for agents in sizes:
            got = {tree: trees.run(tree, "run", agents=agents, horizon=horizon, strategy=strategy)
                   for tree in trees.names}
            results.setdefault("growth", {}).setdefault(strategy, {})[agents] = got
            line = f"{strategy:<16}{agents:>8,}"
            for tree in trees.names:
                f = got[tree]
                line += (f"{f['cpu']:>15.2f}{f['cpu'] / agents * 1000:>8.3f}{_bare_cost(f):>12}" if f
                         else f"{'-':>15}{'-':>8}{'-':>12}")
            print(line)


def figure_pack(trees: Trees, replications: int, workers: int, results: dict) -> None:
    strategies = ",".join(STRATEGIES)
    print(f"\n== The pack × {len(STRATEGIES)} strategies × {replications} replications on {workers} workers "
          f"(nhisim compare scenarios/*.yaml --strategies {strategies} -r {replications} --workers {workers}), wall")
    paths = [str(path) for path in sorted((ROOT / "scenarios").glob("*.yaml"))]
    for tree in trees.names:  # this tree's pack, less what a tree cannot load: both compare the same files
        paths = trees.run(tree, "loads", paths=paths).get("loadable", [])
    left_out = sorted({path.stem for path in (ROOT / "scenarios").glob("*.yaml")} - {Path(p).stem for p in paths})
    print(f"   {len(paths)} scenarios" + (f" (left out, the reference cannot load them: {', '.join(left_out)})"
                                          if left_out else ""))
    got = {tree: trees.run(tree, "pack", paths=paths, strategies=strategies, replications=replications,
                           workers=workers) for tree in trees.names}
    results["pack"] = {"scenarios": [Path(p).stem for p in paths], **got}
    print(f"{'tree':<8}{'runs':>8}{'wall s':>8}{'runs/s':>8}{'bare cost':>12}{'speed-up':>10}")
    _print_trees(got, lambda f: f"{f['runs']:>8,}{f['wall']:>8.1f}{f['runs'] / f['wall']:>8.1f}"
                                f"{_bare_cost(f, 'wall'):>12}", "wall")


FIGURES = ("calls", "day", "load", "growth", "pack")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probe", nargs=2, metavar=("NAME", "JSON"), help=argparse.SUPPRESS)
    parser.add_argument("--only", default=",".join(FIGURES), help=f"figures, comma-separated: {', '.join(FIGURES)}")
    parser.add_argument("--before", default=BEFORE, help="the reference revision (default %(default)s)")
    parser.add_argument("--no-before", action="store_true", help="measure this tree only")
    parser.add_argument("--agents", type=int, default=1000, help="estate of the tool-calls figure")
    parser.add_argument("--repeat", type=int, default=3, help="runs per strategy of the tool-calls figure (median)")
    parser.add_argument("--day-agents", type=int, default=10_000, help="estate of the day and load figures")
    parser.add_argument("--sizes", default="100,300,1000,3000,10000", help="estate sizes of the growth figure")
    parser.add_argument("--growth-hours", type=float, default=6.0, help="simulated hours of the growth figure")
    parser.add_argument("--growth-strategies", default="rbac,zsp")
    parser.add_argument("--pack-replications", type=int, default=30)
    parser.add_argument("--pack-workers", type=int, default=2)
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    args = parser.parse_args(argv)
    if args.probe:
        name, kwargs = args.probe
        print(json.dumps(PROBES[name](**json.loads(kwargs))))
        return 0
    chosen = [f for f in args.only.split(",") if f]
    unknown = [f for f in chosen if f not in FIGURES]
    if unknown:
        parser.error(f"unknown figure {unknown[0]!r}; choose from {', '.join(FIGURES)}")
    trees = Trees(None if args.no_before else args.before)
    results: dict = {"before": None if args.no_before else args.before, "after": str(ROOT)}
    try:
        print(f"after: this tree ({ROOT})" + ("" if args.no_before else f"; before: {args.before}"))
        if "calls" in chosen:
            figure_calls(trees, args.agents, args.repeat, results)
        if "day" in chosen:
            figure_day(trees, args.day_agents, results)
        if "load" in chosen:
            figure_load(trees, args.day_agents, results)
        if "pack" in chosen:
            figure_pack(trees, args.pack_replications, args.pack_workers, results)
        if "growth" in chosen:
            figure_growth(trees, [int(s) for s in args.sizes.split(",")], args.growth_hours * 3600.0,
                          args.growth_strategies.split(","), results)
    finally:
        trees.close()
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
