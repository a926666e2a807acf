"""Shared bits of the sweep, executor and resume tests: a small, fast sweep of leaked_key.yaml."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "leaked_key.yaml"
FAST = {"run.horizon": "2h"}
ATTACKED = {"run.horizon": "2h", "threats.0.at": "20m"}  # the leak happens inside the horizon
GRID = {"strategies.zsp.ttl": ["5m", "1h"], "detection.monitoring": ["basic", "advanced"]}
STRATEGIES = ["rbac", "zsp"]


def small_sweep(**kw):
    """The sweep most tests run: 4 points × 2 strategies × 2 replications = 16 runs."""
    from nhisim.experiments import sweep

    args = {"grid": GRID, "strategies": STRATEGIES, "replications": 2, "overrides": FAST, "seed": 7}
    args.update(kw)
    return sweep(SCENARIO, **args)


CLI_SMALL = ["sweep", str(SCENARIO), "--set", "run.horizon=2h", "--grid", "strategies.zsp.ttl=5m,1h",
             "--grid", "detection.monitoring=basic,advanced", "--strategies", "rbac,zsp", "-r", "2", "--seed", "7"]


