"""Benchmark: runs per second of a sweep on each executor, and each executor's per-run overhead.

Run: ``python benchmarks/bench_sweep.py [--runs 200] [--workers 2] [--repeat 5] [--horizon 2h]``.

The sweep is ``scenarios/leaked_key.yaml`` as shipped (a 1-day horizon: runs of about
9 ms), or with ``--horizon`` (``2h``: runs of about 1.5 ms, where each executor's fixed
cost per chunk weighs most), a grid over
``strategies.zsp.ttl`` × the four preset strategies × 10 replications, at least ``--runs``
runs. Each repeat runs it serially, on a process pool of ``--workers`` and on a Dask
LocalCluster of ``--workers`` (if Dask is installed), one right after the other, and
checks that every executor gives the same rows. Printed per executor:

- wall seconds and runs per second (the repeat with the best wall time);
- speed-up over serial, taken pairwise within each repeat (so a machine whose load
  drifts compares like with like): the median of the repeats with its 95 % bootstrap
  confidence interval, and the best; within a repeat the executors run in a shuffled
  order, so that none always runs first;
- startup: seconds to start the executor (fork the pool's workers, start the cluster),
  shown apart from the sweep's wall time; with ``--warm`` the timed sweep is each
  executor's second one (a long-lived pool or cluster), without the first sweep's costs;
- overhead per run, measured with the simulation taken out: the same chunks of the same
  sweep shipped to the workers and their results back, with a no-op in place of the run
  (shipping, scheduling, (de)serialising, collecting), in milliseconds per run;
- cores used: CPU seconds of driver and workers per wall second (on a machine that other
  work keeps busy the speed-up is bounded by the cores the sweep gets: Linux shares CPU
  between sessions first; with ``--warm`` the pool workers' share includes the warm-up
  sweep), and the driver's CPU per run.

As every benchmark here, it also times a bare SimPy loop in the same process, so that
figures from a loaded or slower machine can be put side by side.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import time
from pathlib import Path

import pandas as pd
from bench_engine import bare_simpy_events_per_second  # the same reference loop as the engine benchmark

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "leaked_key.yaml"
STRATEGIES = ["shared_account", "rbac", "zsp", "intent"]


def bare_simpy_loop(events: int = 200_000) -> float:
    """Seconds for a SimPy process doing ``events`` timeouts (the reference every benchmark reports)."""
    return events / bare_simpy_events_per_second(events)


def sweep_args(runs: int, horizon: str | None) -> dict:
    per_point = len(STRATEGIES) * 10
    points = max(1, math.ceil(runs / per_point))
    ttls = [f"{5 * (i + 1)}m" for i in range(points)]
    return {"grid": {"strategies.zsp.ttl": ttls}, "strategies": STRATEGIES, "replications": 10,
            "overrides": {"run.horizon": horizon} if horizon else {}, "seed": 2024}


def children_cpu() -> float:
    """CPU seconds of the worker processes that have ended (pool workers, cluster workers)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median_ci(values: list[float], level: float = 0.95, resamples: int = 5000) -> tuple[float, float]:
    """Bootstrap confidence interval of the median (percentile method, fixed seed)."""
    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    tail = (1 - level) / 2
    return medians[int(tail * (resamples - 1))], medians[int((1 - tail) * (resamples - 1))]


def dask_workers_cpu(executor) -> float:
    """CPU seconds the Dask workers have used so far."""
    return sum(executor.client.run(time.process_time).values())


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def noop_chunk(shared, job):
    """A chunk with the simulation taken out: outcomes of the same shape as real ones."""
    from nhisim.experiments.executors import RunOutcome
    from nhisim.metrics import METRIC_COLUMNS

    return [RunOutcome(spec, "leaked-key", dict.fromkeys(METRIC_COLUMNS, 1.0)) for spec in job.specs]


def overhead_per_run_ms(executor, plan) -> float:
    """Milliseconds per run of shipping the sweep's chunks through ``executor`` with no-op runs."""
    from nhisim.experiments.executors import ChunkJob, plan_chunks

    specs = plan.specs()
    overrides = plan.overrides()
    jobs = [ChunkJob(batch, {p: overrides[p] for p in {s.point for s in batch} if p in overrides})
            for batch in plan_chunks(specs, executor)]
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        for _i, outcomes in executor.imap_unordered(noop_chunk, jobs, plan.shared()):
            plan.table(outcomes)  # the driver's share: rows from outcomes
        best = min(best, time.perf_counter() - start)
    return 1000 * best / len(specs)


def main() -> None:
    from nhisim.experiments import sweep
    from nhisim.experiments.executors import DaskExecutor, ProcessExecutor, SerialExecutor
    from nhisim.experiments.sweep import plan_sweep
    from nhisim.scenario.units import format_duration

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="at least this many runs (default 200)")
    parser.add_argument("--workers", type=int, default=2, help="workers of the pool and of the cluster")
    parser.add_argument("--repeat", type=int, default=5, help="repeats (best wall, median speed-up)")
    parser.add_argument("--horizon", default=None,
                        help="simulated horizon of each run (default: the scenario's own, 1d)")
    parser.add_argument("--executors", default="serial,processes,dask", help="comma-separated executors to time")
    parser.add_argument("--warm", action="store_true",
                        help="time each executor's second sweep (a pool or cluster that already ran one)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    kw = sweep_args(args.runs, args.horizon)
    plan = plan_sweep(SCENARIO, kw["grid"], strategies=kw["strategies"], replications=kw["replications"],
                      overrides=kw["overrides"], seed=kw["seed"])
    wanted = [e.strip() for e in args.executors.split(",") if e.strip()]
    if "dask" in wanted:
        try:
            DaskExecutor(args.workers)
        except Exception as exc:  # dask not installed
            wanted.remove("dask")
            print(f"dask skipped: {str(exc).splitlines()[0]}")
    simpy_s = bare_simpy_loop()
    sweep(SCENARIO, **{**kw, "replications": 1})  # warm up: imports, caches
    reference = None
    samples: dict[str, list[dict]] = {name: [] for name in wanted}

    def make(name: str):
        if name == "serial":
            return SerialExecutor()
        if name == "processes":
            return ProcessExecutor(args.workers)
        return DaskExecutor(args.workers)

    order = random.Random(2024)
    for _ in range(max(1, args.repeat)):
        for name in order.sample(wanted, len(wanted)):
            before = children_cpu()
            executor = make(name)
            _, startup, _ = timed(executor.start)
            if args.warm:  # a long-lived pool or cluster: it has run a sweep before this one
                sweep(SCENARIO, **{**kw, "replications": 1}, executor=executor)
            # a LocalCluster's workers are the fork server's children, not ours: ask them
            dask_cpu = -dask_workers_cpu(executor) if name == "dask" else 0.0
            frame, wall, cpu = timed(lambda executor=executor: sweep(SCENARIO, **kw, executor=executor))
            dask_cpu += dask_workers_cpu(executor) if name == "dask" else 0.0
            executor.close()
            if reference is None:
                reference = frame
            else:
                pd.testing.assert_frame_equal(frame, reference)  # identical rows whichever executor ran them
            worker_cpu = children_cpu() - before + dask_cpu
            samples[name].append({"wall_s": wall, "startup_s": startup, "driver_cpu_s": cpu,
                                  "cores_used": (cpu + worker_cpu) / wall})

    overheads = {}
    for name in wanted:
        executor = make(name)
        with executor:
            overheads[name] = overhead_per_run_ms(executor, plan)

    runs = len(reference)
    results: dict[str, dict] = {}
    for name, rows in samples.items():
        best = min(rows, key=lambda r: r["wall_s"])
        figures = {"workers": 1 if name == "serial" else args.workers, "runs": runs, "wall_s": best["wall_s"],
                   "runs_per_s": runs / best["wall_s"], "startup_s": statistics.median(r["startup_s"] for r in rows),
                   "overhead_per_run_ms": overheads[name], "cores_used": best["cores_used"],
                   "driver_cpu_per_run_ms": 1000 * best["driver_cpu_s"] / runs}
        if "serial" in samples:
            paired = [s["wall_s"] / r["wall_s"] for s, r in zip(samples["serial"], rows, strict=True)]
            figures["speedup_median"] = statistics.median(paired)
            figures["speedup_median_ci95"] = median_ci(paired)
            figures["speedup_best"] = max(paired)
            figures["speedups"] = paired
        results[name] = figures
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    horizon = args.horizon or f"{format_duration(plan.scenario.run.horizon)}, the scenario's own"
    report = {"runs": runs, "horizon": horizon, "cores": os.cpu_count(), "repeat": args.repeat,
              "load_average_1m": load[0], "bare_simpy_loop_s": simpy_s, "executors": results}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"sweep of {runs} runs (leaked_key.yaml, horizon {horizon}), {args.repeat} repeats; "
          f"{os.cpu_count()} cores, load average {load[0]:.2f}; bare SimPy loop (200k timeouts): {simpy_s:.3f} s")
    print(f"{'executor':<10} {'workers':>7} {'wall s':>7} {'runs/s':>7} {'speed-up median':>16} {'95% CI':>11} {'best':>6} "
          f"{'start s':>8} {'overhead/run':>13} {'cores used':>11} {'driver cpu/run':>15}")
    for name, f in results.items():
        low, high = f.get("speedup_median_ci95", (math.nan, math.nan))
        ci = f"{low:.2f}-{high:.2f}"
        print(f"{name:<10} {f['workers']:>7} {f['wall_s']:>7.2f} {f['runs_per_s']:>7.1f} "
              f"{f.get('speedup_median', math.nan):>15.2f}x {ci:>11} {f.get('speedup_best', math.nan):>5.2f}x "
              f"{f['startup_s']:>8.2f} {f['overhead_per_run_ms']:>10.2f} ms {f['cores_used']:>11.2f} "
              f"{f['driver_cpu_per_run_ms']:>12.2f} ms")


if __name__ == "__main__":
    main()
