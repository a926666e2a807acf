"""The threat kinds of the scenario language: a registry, one model file per kind.

Each module beside this one (``secret_leak.py``, ``agent_hijack.py``, ...) defines one
subclass of :class:`~nhisim.scenario.threats.base.ThreatModel` whose ``kind`` literal is
the module's name, and may define ``ORDER``, its place in the list. :func:`threat_models`
discovers them, so adding a kind is adding a file here, its mechanism of the same name
in ``nhisim/sim/threats/``, and a test; :mod:`nhisim.scenario.models` builds the
``Threat`` union from this registry.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from nhisim.scenario.threats.base import ThreatModel

_MODELS: dict[str, type[ThreatModel]] | None = None


def _model_of(module: ModuleType) -> type[ThreatModel] | None:
    """The one threat model a module defines (imported ones do not count), or None."""
    found = [obj for obj in vars(module).values()
             if isinstance(obj, type) and issubclass(obj, ThreatModel) and obj is not ThreatModel
             and obj.__module__ == module.__name__]
    if len(found) > 1:
        raise TypeError(f"{module.__name__} defines {len(found)} threat models; one file holds one kind")
    return found[0] if found else None


def discover(package: ModuleType) -> dict[str, type[ThreatModel]]:
    """Threat models by kind in ``package``'s modules, in their ``ORDER`` (then by kind)."""
    found: list[tuple[int, str, type[ThreatModel]]] = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        model = _model_of(module)
        if model is None:
            continue
        kind = model.kind_name()
        if kind != info.name:  # the engine finds its mechanism by the same name
            raise TypeError(f"{module.__name__} defines kind {kind!r}; the file must be named {kind}.py")
        found.append((getattr(module, "ORDER", 100), kind, model))
    return {kind: model for _, kind, model in sorted(found, key=lambda f: f[:2])}


def threat_models() -> dict[str, type[ThreatModel]]:
    """Every threat kind and its model class, in a stable order (discovered once)."""
    global _MODELS
    if _MODELS is None:
        _MODELS = discover(importlib.import_module(__name__))
    return dict(_MODELS)


def threat_kinds() -> tuple[str, ...]:
    """The names of the threat kinds, in the order of :func:`threat_models`."""
    return tuple(threat_models())
