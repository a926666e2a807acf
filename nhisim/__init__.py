"""nhisim: a discrete-event laboratory for the identities of AI agents.

The public API, in the order a notebook uses it::

    import nhisim
    scenario = nhisim.load("scenarios/leaked_key.yaml", overrides={"strategies.zsp.ttl": "1h"})
    result = nhisim.compare(scenario, replications=20)
    result.summary()                      # mean, 95% CI, paired difference vs the baseline
    nhisim.blast_radius(scenario, "support-bot").explain()
"""

from __future__ import annotations

__version__ = "0.1.0"

from nhisim.errors import InputError
from nhisim.experiments import Comparison, RunResult, compare, run
from nhisim.scenario.loader import load_scenario as load
from nhisim.scenario.loader import with_overrides
from nhisim.scenario.models import Scenario
from nhisim.sim.strategies import Strategy, preset, resolve_strategy

__all__ = [
    "Comparison", "InputError", "RunResult", "Scenario", "Strategy", "__version__", "compare", "load", "preset",
    "resolve_strategy", "run", "with_overrides",
]


def __getattr__(name: str):  # lazy: the graph layer and the generator are only loaded when asked for
    if name in ("blast_radius", "exposure", "all_blast_radii", "escalation_paths", "build_graph"):
        from nhisim.world import analysis, graph

        return getattr(analysis, name, None) or getattr(graph, name)
    if name in ("generate_estate", "estate_to_yaml"):
        from nhisim.scenario import generate

        return getattr(generate, name)
    if name == "ScenarioBuilder":
        from nhisim.scenario.builder import ScenarioBuilder

        return ScenarioBuilder
    raise AttributeError(f"module 'nhisim' has no attribute {name!r}")
