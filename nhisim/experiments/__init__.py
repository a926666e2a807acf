"""Experiments: run, compare (paired, common random numbers), and their summaries."""

from nhisim.experiments.compare import Comparison, compare
from nhisim.experiments.run import RunResult, run

__all__ = ["Comparison", "RunResult", "compare", "run"]
