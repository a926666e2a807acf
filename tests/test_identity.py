"""Same seed, same results: every pack scenario × strategy runs as recorded in tests/data/identity.json.

The record is the engine's behaviour run by run (seed 0, native evaluator): a digest of
each whole event log, one of its decisions (every column but the reason), its row count
and its metric values. A change that claims to leave behaviour alone (a speed-up, a
refactoring) must leave them all equal. A change meant to move results records them again
(the failure message gives the command) and its commit says why.

On a platform other than the one that wrote the record (machine, C library, Python: the
last bit of a random draw's ``log`` or ``exp`` may round differently there), the metric
values alone are compared, to a relative 1e-9.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "scenarios"
RECORD = ROOT / "tests" / "data" / "identity.json"
REWRITE = "python benchmarks/identity_check.py --write tests/data/identity.json --seeds 1 --engines native"


def _identity_check():
    spec = importlib.util.spec_from_file_location("identity_check", ROOT / "benchmarks" / "identity_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _values_apart(record: dict, runs: dict) -> list[str]:
    """Runs whose metric values differ from the record by more than a relative 1e-9 (or are missing)."""
    problems = []
    for key in sorted((record.keys() | runs.keys()) - {"_platform"}):
        if key not in runs or key not in record:
            problems.append(f"{key}: {'missing' if key not in runs else 'not in the record'}")
            continue
        was, now = record[key]["values"], runs[key]["values"]
        apart = sorted(name for name in was.keys() & now.keys()
                       if (was[name] is None) != (now[name] is None)
                       or (was[name] is not None and not math.isclose(was[name], now[name], rel_tol=1e-9, abs_tol=1e-9)))
        if apart or was.keys() != now.keys():
            problems.append(f"{key}: metrics differ ({', '.join(apart or sorted(was.keys() ^ now.keys()))})")
    return problems


def test_every_pack_run_gives_the_recorded_event_log_and_metrics():
    check = _identity_check()
    record = json.loads(RECORD.read_text())
    runs = check.run_digests(PACK, seeds=1, engines=["native"])
    if record["_platform"] == check.platform_fingerprint():
        problems = check.compare(record, runs)
    else:
        problems = _values_apart(record, runs)
    moved = {line.split(": ", 1)[0] for line in problems}
    assert not problems, (
        f"{len(moved)} of {len(runs)} runs differ from {RECORD.relative_to(ROOT)}:\n  "
        + "\n  ".join(problems[:20]) + ("\n  ..." if len(problems) > 20 else "")
        + f"\nIf the change is meant to move results, record them again ({REWRITE}) and say why in the commit.")


def test_the_comparison_sees_a_run_that_moved():
    """A run of another seed passed off as the recorded one is caught, in its log and in its metrics."""
    check = _identity_check()
    record = json.loads(RECORD.read_text())
    runs = check.run_digests(PACK, seeds=2, engines=["native"], only=["leaked_key"])
    moved = {key.removesuffix("/1") + "/0": run for key, run in runs.items() if key.endswith("/1")}
    recorded = {key: record[key] for key in moved}
    assert recorded, "leaked_key is in the record"
    problems = check.compare(recorded, moved)
    assert any("events differ" in line for line in problems)
    assert _values_apart(recorded, moved)
    assert not check.compare(recorded, {key: runs[key] for key in recorded})  # seed 0 itself matches


def test_a_run_watched_as_it_goes_gives_the_same_event_log():
    """``progress`` stops and resumes the run at each hundredth of its horizon: every pack scenario ×
    strategy (seed 1) gives the same event log as unwatched, and is told its simulated time, up to
    the horizon."""
    import nhisim
    from nhisim.scenario.loader import load_scenario
    from nhisim.sim.engine import Simulation

    for path in sorted(PACK.glob("*.yaml")):
        scenario = load_scenario(path)
        for strategy in scenario.strategies:
            told: list[tuple[float, float]] = []
            watched = Simulation(scenario, strategy, seed=1).run(progress=lambda now, end, told=told: told.append(
                (now, end)))
            unwatched = Simulation(scenario, strategy, seed=1).run()
            assert watched.to_frame().equals(unwatched.to_frame()), f"{path.stem}/{strategy}"
            horizon = scenario.run.horizon
            assert len(told) == 100 and told[-1] == (horizon, horizon)
            assert [now for now, _ in told] == sorted(now for now, _ in told)
    told = []
    result = nhisim.run(PACK / "leaked_key.yaml", "zsp", progress=lambda now, end: told.append(now))
    assert told[-1] == load_scenario(PACK / "leaked_key.yaml").run.horizon and result.metrics
