"""nhisim: a discrete-event laboratory for the identities of AI agents."""

__version__ = "0.1.0"
