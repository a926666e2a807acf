"""The scenario layer: validated models of an agent estate, loaded from YAML or built in Python."""
