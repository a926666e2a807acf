"""Engine speed: tool-call events per second on a generated estate, per strategy.

Reported as a ratio to a bare SimPy timeout loop timed in the same process (so the
figure does not depend on the machine), plus the peak memory of one simulated day.
Times are CPU seconds of this process (time another tenant of a shared machine takes
is not counted); each strategy runs ``--repeat`` times, each run between two bare
loops, and the median ratio is reported.

    python benchmarks/bench_engine.py [--agents 1000] [--horizon 1d] [--engine native] [--repeat 3] [--active N] [--both]

``--both`` runs each strategy call by call too (``Simulation(bulk=False)``), beside the default.

``--active N`` leaves only the first N agents starting tasks (the others only take delegated
sub-tasks): a large estate with a small active set, which tells a call's cost from the
estate's size apart from its cost from the work's spread across agents.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

import simpy

from nhisim.scenario.generate import generate_estate
from nhisim.scenario.units import parse_duration
from nhisim.sim.engine import Simulation


def bench_estate(agents: int):
    """The estate the engine benchmarks run: generated (one tool per 20 agents, one resource per 10),
    with a leaked key at 2 h and 5 % runtime discovery."""
    scenario = generate_estate(agents=agents, tools=max(10, agents // 20), resources=max(20, agents // 10), seed=7)
    threats = [{"id": "leak", "kind": "secret_leak", "principal": scenario.agents[0].id, "at": "2h"},
               {"id": "overreach", "kind": "runtime_discovery", "probability": 0.05}]
    parsed = type(scenario).model_validate({"name": "x", "threats": threats}).threats
    return scenario.model_copy(update={"threats": list(parsed)})


def with_active_agents(scenario, active: int):
    """``scenario`` where only its first ``active`` agents start tasks of their own."""
    agents = [agent if i < active else agent.model_copy(update={
        "behaviour": agent.behaviour.model_copy(update={"task_rate_multiplier": 0.0})})
        for i, agent in enumerate(scenario.agents)]
    return scenario.model_copy(update={"agents": agents})


def bare_simpy_events_per_second(n: int = 300_000) -> float:
    """A SimPy process that only yields timeouts: the floor any SimPy model pays per event."""
    env = simpy.Environment()

    def loop(env):
        for _ in range(n):
            yield env.timeout(1)

    env.process(loop(env))
    start = time.process_time()
    env.run()
    return n / (time.process_time() - start)


def structural_floor(scenario, horizon: float) -> float:
    """Tool calls/s of a logic-free model with the engine's structure.

    The engine's own agenda, one arrival generator per (agent, template), one generator per
    task, one wait per call, sub-tasks inline; no plans, credentials, decisions or log. No
    engine built this way can beat this figure: it is the cost of time alone.
    """
    import random

    from nhisim.sim.agenda import Agenda
    from nhisim.sim.compiled import compile_world

    world = compile_world(scenario)
    env = simpy.Environment()
    agenda = Agenda(env)
    calls = [0]
    rng = random.Random(1)

    def task(template):
        for step in template.steps:
            if step.delegate_to is not None:
                yield from task(world.tasks[step.sub_task])
            else:
                calls[0] += 1
                yield rng.expovariate(0.1)

    def arrivals(template, rate):
        while True:
            yield rng.expovariate(rate)
            agenda.start(task(template))

    for agent in world.agents.values():
        for template_id in agent.tasks:
            template = world.tasks[template_id]
            rate = template.rate * agent.rate_multiplier
            if rate > 0:
                agenda.start(arrivals(template, rate))
    start = time.process_time()
    env.run(until=horizon)
    return calls[0] / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--horizon", default="1d")
    parser.add_argument("--engine", default="native")
    parser.add_argument("--strategies", default="shared_account,rbac,zsp,intent")
    parser.add_argument("--repeat", type=int, default=3, help="runs per strategy; the median ratio is shown")
    parser.add_argument("--no-memory", action="store_true", help="skip the (slower) traced-memory run")
    parser.add_argument("--active", type=int, default=None, help="only the first N agents start tasks")
    parser.add_argument("--both", action="store_true",
                        help="each strategy twice: call by call (Simulation(bulk=False)) and with quiet work in bulk")
    args = parser.parse_args()
    horizon = parse_duration(args.horizon)
    scenario = bench_estate(args.agents)
    if args.active is not None:
        scenario = with_active_agents(scenario, args.active)
    active = "" if args.active is None else f" ({min(args.active, len(scenario.agents))} starting tasks)"
    print(f"estate: {len(scenario.agents)} agents{active}, {len(scenario.tasks)} task templates; "
          f"horizon {args.horizon}")
    print("ratio = engine tool calls/s ÷ bare SimPy timeout events/s, the bare loop timed just before and after")
    print(f"{'strategy':<16}{'tool calls':>12}{'rows':>12}{'cpu s':>10}{'calls/s':>12}{'bare ev/s':>12}{'ratio':>8}")
    before = bare_simpy_events_per_second()
    floor = structural_floor(scenario, horizon)
    bare = (before + bare_simpy_events_per_second()) / 2
    print(f"{'(floor: no logic)':<16}{'':>12}{'':>12}{'':>10}{floor:>12,.0f}{bare:>12,.0f}{floor / bare:>8.3f}")
    for name, bulk in [(name, bulk) for name in args.strategies.split(",") for bulk in ((False, True) if args.both
                                                                                     else (True,))]:
        samples = []
        for _ in range(max(1, args.repeat)):
            gc.collect()
            before = bare_simpy_events_per_second()
            sim = Simulation(scenario, name, seed=1, horizon=horizon, engine=args.engine, bulk=bulk)
            start = time.process_time()
            log = sim.run()
            elapsed = time.process_time() - start
            bare = (before + bare_simpy_events_per_second()) / 2
            calls = sum(1 for e in log.column("event") if e == "request")
            samples.append((calls / elapsed / bare, elapsed, calls / elapsed, bare, calls, len(log)))
        ratio, elapsed, rate, bare, calls, rows = sorted(samples)[len(samples) // 2]  # the median run
        label = name if not args.both else f"{name} ({'bulk' if bulk else 'call'})"
        print(f"{label:<16}{calls:>12,}{rows:>12,}{elapsed:>10.2f}{rate:>12,.0f}{bare:>12,.0f}{ratio:>8.3f}")
    if not args.no_memory:
        gc.collect()
        tracemalloc.start()
        Simulation(scenario, "zsp", seed=1, horizon=horizon, engine=args.engine).run()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"peak traced memory of one simulated {args.horizon} (zsp): {peak / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
