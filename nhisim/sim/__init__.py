"""The simulation layer: engine, enforcement point, strategies, threats, detection."""
