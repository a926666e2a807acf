"""Event log memory: bytes per log row and peak RSS of a generated estate's run.

Each log implementation runs the same simulation in its own subprocess (peak RSS is a
per-process high-water mark), with the engine's ``EventLog`` swapped for it:

* ``typed``: today's :class:`nhisim.sim.eventlog.EventLog` (typed, interned columns);
* ``d597178``: the log as of commit d597178 (per-column NumPy object arrays), kept as
  ``benchmarks/eventlog_d597178.py`` for this comparison only;
* ``none``: a log that drops every row, so its figures are the run without any log.

Bytes per row is what the run holds with the log minus what it holds without, ÷ rows:
measured on the peak RSS (``ru_maxrss``), and, with ``--trace``, on Python's traced
memory (tracemalloc: exact, but the run is ~3× slower). ``after columns()`` adds what
reading the log costs (:meth:`EventLog.columns`, decoded to object arrays for the
metrics: transient, after the run). The typed log also reports its own size
(:meth:`EventLog.nbytes`: arrays, interning tables and their strings).

    python benchmarks/bench_eventlog.py [--agents 2000] [--horizon 1d] [--strategy zsp] [--trace]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

IMPLEMENTATIONS = ("none", "d597178", "typed")


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _log_class(name: str):
    from nhisim.sim.eventlog import EventLog

    if name == "typed":
        return EventLog
    if name == "d597178":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from eventlog_d597178 import EventLog as Old

        class Kept(Old):
            """The old storage, with today's builders of the rows it did not know (they build rows through
            :meth:`add`, which both logs share), so today's engine runs on it."""

            __slots__ = ()
            acquire = EventLog.acquire
            discover = EventLog.discover
            redeclare = EventLog.redeclare
            switch = EventLog.switch

        return Kept

    class NoLog(EventLog):
        """Counts rows, keeps none: its buffer is emptied at each flush (the builders push
        to the buffer themselves)."""

        __slots__ = ("dropped",)

        def __init__(self, meta=None) -> None:
            super().__init__(meta)
            self.dropped = 0

        def _flush(self) -> None:
            self.dropped += len(self._buffer)
            self._buffer.clear()

        def __len__(self) -> int:
            return self.dropped + len(self._buffer)

    return NoLog


def measure(name: str, agents: int, horizon: str, strategy: str, trace: bool) -> dict:
    """Run one simulation with log implementation ``name``; its memory figures."""
    import nhisim.sim.engine as engine
    from nhisim.scenario.generate import generate_estate
    from nhisim.scenario.units import parse_duration

    scenario = generate_estate(agents=agents, tools=max(10, agents // 20), resources=max(20, agents // 10), seed=7)
    engine.EventLog = _log_class(name)
    gc.collect()
    if trace:
        tracemalloc.start()
    rss_before = _rss_mib()
    sim = engine.Simulation(scenario, strategy, seed=1, horizon=parse_duration(horizon))
    start = time.process_time()
    log = sim.run()
    cpu = time.process_time() - start
    del sim
    gc.collect()
    out = {"rows": len(log), "cpu_s": cpu, "rss_before_mib": rss_before, "rss_run_mib": _rss_mib()}
    if trace:
        out["traced_held"], out["traced_peak"] = tracemalloc.get_traced_memory()
    if name == "typed":
        out["nbytes"] = log.nbytes()
    if name != "none":
        columns = log.columns()
        out["rss_columns_mib"] = _rss_mib()
        if trace:
            out["traced_columns_peak"] = tracemalloc.get_traced_memory()[1]
        del columns
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--horizon", default="1d")
    parser.add_argument("--strategy", default="zsp")
    parser.add_argument("--trace", action="store_true", help="also measure traced memory (slower)")
    parser.add_argument("--only", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)  # one measurement, as JSON
    args = parser.parse_args()
    if args.only:
        print(json.dumps(measure(args.only, args.agents, args.horizon, args.strategy, args.trace)))
        return
    results = {}
    for name in IMPLEMENTATIONS:
        command = [sys.executable, __file__, "--only", name, "--agents", str(args.agents), "--horizon", args.horizon,
                   "--strategy", args.strategy] + (["--trace"] if args.trace else [])
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        results[name] = json.loads(done.stdout.splitlines()[-1])
    none = results["none"]
    print(f"estate: generate_estate(agents={args.agents}), {args.strategy}, horizon {args.horizon}; "
          f"{none['rows']:,} log rows; without a log: peak RSS {none['rss_run_mib']:,.0f} MiB")
    header = f"{'log':<10}{'cpu s':>8}{'peak RSS MiB':>14}{'B/row (RSS)':>13}{'+columns() MiB':>16}{'B/row':>8}"
    if args.trace:
        header += f"{'B/row held':>12}{'B/row peak':>12}"
    print(header)
    for name in IMPLEMENTATIONS[1:]:
        r = results[name]
        rows = r["rows"]
        per_row = (r["rss_run_mib"] - none["rss_run_mib"]) * 2**20 / rows
        per_row_columns = (r["rss_columns_mib"] - none["rss_run_mib"]) * 2**20 / rows
        line = (f"{name:<10}{r['cpu_s']:>8.1f}{r['rss_run_mib']:>14,.0f}{per_row:>13,.0f}"
                f"{r['rss_columns_mib']:>16,.0f}{per_row_columns:>8,.0f}")
        if args.trace:
            line += (f"{(r['traced_held'] - none['traced_held']) / rows:>12,.0f}"
                     f"{(r['traced_peak'] - none['traced_peak']) / rows:>12,.0f}")
        print(line)
    typed = results["typed"]
    print(f"typed log's own size (EventLog.nbytes(): arrays, interning tables, their strings): "
          f"{typed['nbytes'] / typed['rows']:,.1f} B/row")


if __name__ == "__main__":
    main()
