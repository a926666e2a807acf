"""Threat mechanisms, the engine side: one file per kind, discovered.

A threat module defines ``KIND`` (the scenario's ``kind:``) and
``install(sim, threat, threat_id)``, which schedules what the threat does through the
:class:`~nhisim.sim.surface.EngineSurface`. Adding a threat kind is adding a file here and
its scenario model, a file of the same name in ``nhisim.scenario.threats``.
:mod:`~nhisim.sim.threats.common` holds what several threats share.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nhisim.sim.surface import EngineSurface

_REGISTRY: dict[str, ModuleType] | None = None


def registry() -> dict[str, ModuleType]:
    """Threat modules by kind."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = {}
        for info in pkgutil.iter_modules(__path__):
            module = importlib.import_module(f"{__name__}.{info.name}")
            if hasattr(module, "KIND") and hasattr(module, "install"):
                _REGISTRY[module.KIND] = module
    return _REGISTRY


def threat_id(threat, index: int) -> str:
    """The id a threat goes by in the event log (its own, or kind-index)."""
    return threat.effective_id(index)


def install_threats(sim: EngineSurface) -> None:
    """Schedule every threat of the scenario, each by the module of its kind."""
    mechanisms = registry()
    for index, threat in enumerate(sim.scenario.threats):
        mechanisms[threat.kind].install(sim, threat, threat_id(threat, index))
