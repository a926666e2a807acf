"""nhisim: a discrete-event laboratory for the identities of AI agents.

The public API, in the order a notebook uses it::

    import nhisim
    scenario = nhisim.load("scenarios/leaked_key.yaml", overrides={"strategies.zsp.ttl": "1h"})
    result = nhisim.compare(scenario, replications=20)
    result.summary()                      # mean, 95% CI, paired difference vs the baseline
    nhisim.blast_radius(scenario, "support-bot").explain()

Names are imported on first use, so ``import nhisim`` (and every CLI command) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from nhisim._version import __version__

_EXPORTS = {
    "InputError": "nhisim.errors",
    "load": ("nhisim.scenario.loader", "load_scenario"),
    "with_overrides": "nhisim.scenario.loader",
    "scenario_warnings": "nhisim.scenario.validate",
    "Scenario": "nhisim.scenario.models",
    "ScenarioBuilder": "nhisim.scenario.builder",
    "generate_estate": "nhisim.scenario.generate",
    "estate_to_yaml": "nhisim.scenario.generate",
    "build_graph": "nhisim.world.graph",
    "blast_radius": "nhisim.world.analysis",
    "exposure": "nhisim.world.analysis",
    "all_blast_radii": "nhisim.world.analysis",
    "escalation_paths": "nhisim.world.analysis",
    "Strategy": "nhisim.strategies",
    "preset": "nhisim.strategies",
    "resolve_strategy": "nhisim.scenario.strategy",
    "run": "nhisim.experiments",
    "compare": "nhisim.experiments",
    "sweep": "nhisim.experiments",
    "summarize": "nhisim.experiments",
    "sensitivity": "nhisim.experiments",
    "whatif": ("nhisim.experiments.whatif", "whatif"),
    "read_runs": "nhisim.experiments",
    "import_mcp": "nhisim.importers.mcp",
    "import_otel": "nhisim.importers.otel_estate",
    "calibrate": "nhisim.importers.otel_estate",
    "replay_trace": "nhisim.experiments.replay_trace",
    "RunResult": "nhisim.experiments",
    "Comparison": "nhisim.experiments",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'nhisim' has no attribute {name!r}")
    module_name, attr = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
