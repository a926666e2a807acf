"""Control strategies: the :class:`Strategy` knob set and the built-in presets, one file each."""

from nhisim.strategies.base import Strategy, preset, preset_names, presets

__all__ = ["Strategy", "preset", "preset_names", "presets"]
