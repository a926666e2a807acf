"""Control strategies: presets (one file each) and user strategies built on them."""

from nhisim.sim.strategies.base import Strategy, preset, presets, resolve_strategy

__all__ = ["Strategy", "preset", "presets", "resolve_strategy"]
