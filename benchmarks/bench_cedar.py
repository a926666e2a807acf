"""Benchmark: the Cedar engine against the native evaluator, in the same process.

Run: ``python benchmarks/bench_cedar.py [--repeat 5] [--agents 40]``.

Two measures, each as a ratio Cedar / native (higher is better; 1.0 = as fast as native):

- **decisions per second**: the enforcement point's calls of real runs (every request of
  a leaked-key run and of a generated estate under attack, per preset), recorded and
  replayed against each engine. Cedar is measured warm (answers cached, the steady
  state of a run) and uncached (one Cedar call per decision: its raw cost).
- **whole-run events per second**: whole simulations, Cedar cold (policies, schema and
  entities parsed and the decision cache empty at the start of each run, as for the
  first run of a process) and warm (runs after the first one in a process, which share
  parsed policies and cached answers).

Figures are the best of ``--repeat`` repetitions (wall clock).
"""

from __future__ import annotations

import argparse
import time

from nhisim.scenario.generate import generate_estate
from nhisim.scenario.loader import load_scenario, validate_data
from nhisim.sim import cedar
from nhisim.sim.engine import Simulation
from nhisim.sim.pep import NativeEvaluator

PRESETS = ("shared_account", "rbac", "zsp", "intent")


def threatened_estate(agents: int):
    scenario = generate_estate(agents=agents, tools=6, resources=12, fanout=2, depth=2, shared_share=0.3, seed=5)
    ids = [a.id for a in scenario.agents]
    data = scenario.model_dump(mode="json", exclude_unset=True)
    threats = [
        {"id": "leak", "kind": "secret_leak", "principal": ids[1], "at": "2h", "attacker_delay": "5m"},
        {"id": "hijack", "kind": "agent_hijack", "agent": ids[0], "window": {"start": "3h", "duration": "1h"}},
        {"id": "overreach", "kind": "runtime_discovery", "probability": 0.2},
    ]
    data.update(threats=threats, run={"horizon": "12h"}, detection={"monitoring": "advanced"})
    return validate_data(data, file="<bench>")


class _Recorder:
    """Stands in for the native evaluator and records every call of the enforcement point."""

    def __init__(self, inner):
        self.inner = inner
        self.calls: list[tuple] = []

    def decide(self, *args):
        self.calls.append(args)
        return self.inner.decide(*args)

    def still_valid(self, *args):
        return self.inner.still_valid(*args)


def recorded(scenario, strategy: str, seed: int):
    sim = Simulation(scenario, strategy, seed=seed, engine="native")
    recorder = _Recorder(sim.pep)
    sim.pep = recorder
    sim.run()
    return sim, recorder.calls


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_decisions(cases, repeat: int) -> None:
    print("decisions per second (recorded calls of real runs, replayed)")
    print(f"  {'case':<28}{'calls':>7}{'native/s':>12}{'cedar warm/s':>14}{'ratio':>7}{'cedar uncached/s':>18}"
          f"{'ratio':>8}")
    totals = {"native": 0.0, "warm": 0.0, "uncached": 0.0, "n": 0}
    for label, scenario, strategy in cases:
        sim, calls = recorded(scenario, strategy, seed=3)
        native = NativeEvaluator(sim.strategy, sim.world, sim.quarantined, sim.alerts)
        cedar.clear_caches()
        engine = cedar.CedarEvaluator(sim.strategy, sim.world, sim.quarantined, sim.alerts, scenario=scenario)

        def run_native(native=native, calls=calls):
            for args in calls:
                native.decide(*args)

        def run_cedar(engine=engine, calls=calls):
            for args in calls:
                engine.decide(*args)

        def run_uncached(engine=engine, calls=calls):
            for args in calls:
                engine._ask(engine.reduce(engine.key(*args)))

        run_cedar()  # fill the cache: "warm" is a run's steady state
        t_native, t_warm = best(run_native, repeat), best(run_cedar, repeat)
        t_uncached = best(run_uncached, max(1, repeat // 2))
        n = len(calls)
        totals["native"] += t_native
        totals["warm"] += t_warm
        totals["uncached"] += t_uncached
        totals["n"] += n
        print(f"  {label:<28}{n:>7}{n / t_native:>12,.0f}{n / t_warm:>14,.0f}{t_native / t_warm:>7.2f}"
              f"{n / t_uncached:>18,.0f}{t_native / t_uncached:>8.3f}")
    n = totals["n"]
    print(f"  {'all':<28}{n:>7}{n / totals['native']:>12,.0f}{n / totals['warm']:>14,.0f}"
          f"{totals['native'] / totals['warm']:>7.2f}{n / totals['uncached']:>18,.0f}"
          f"{totals['native'] / totals['uncached']:>8.3f}")


def bench_runs(cases, repeat: int) -> None:
    print("whole runs: events per second")
    print(f"  {'case':<28}{'events':>7}{'native/s':>12}{'cedar cold/s':>14}{'ratio':>7}{'cedar warm/s':>14}"
          f"{'ratio':>7}")
    totals = {"native": 0.0, "cold": 0.0, "warm": 0.0}
    for label, scenario, strategy in cases:
        events = len(Simulation(scenario, strategy, seed=3, engine="native").run())

        def native(scenario=scenario, strategy=strategy):
            Simulation(scenario, strategy, seed=3, engine="native").run()

        def cold(scenario=scenario, strategy=strategy):
            cedar.clear_caches()
            Simulation(scenario, strategy, seed=3, engine="cedar").run()

        def warm(scenario=scenario, strategy=strategy):
            Simulation(scenario, strategy, seed=3, engine="cedar").run()

        t_native, t_cold = best(native, repeat), best(cold, repeat)
        warm()
        t_warm = best(warm, repeat)
        totals["native"] += t_native
        totals["cold"] += t_cold
        totals["warm"] += t_warm
        print(f"  {label:<28}{events:>7}{events / t_native:>12,.0f}{events / t_cold:>14,.0f}"
              f"{t_native / t_cold:>7.2f}{events / t_warm:>14,.0f}{t_native / t_warm:>7.2f}")
    print(f"  {'all (time-weighted)':<28}{'':>7}{'':>12}{'':>14}{totals['native'] / totals['cold']:>7.2f}{'':>14}"
          f"{totals['native'] / totals['warm']:>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--agents", type=int, default=40, help="size of the generated estate")
    args = parser.parse_args()
    leaked = load_scenario("scenarios/leaked_key.yaml")
    estate = threatened_estate(args.agents)
    cases = [(f"leaked_key/{s}", leaked, s) for s in PRESETS]
    cases += [(f"estate{args.agents}/{s}", estate, s) for s in PRESETS]
    bench_decisions(cases, args.repeat)
    print()
    bench_runs(cases, args.repeat)


if __name__ == "__main__":
    main()
