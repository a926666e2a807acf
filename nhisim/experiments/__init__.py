"""Experiments: run, compare (paired, common random numbers), sweep, and their summaries."""

from nhisim.experiments.compare import Comparison, compare
from nhisim.experiments.run import RunResult, run
from nhisim.experiments.sensitivity import sensitivity
from nhisim.experiments.store import read_runs
from nhisim.experiments.sweep import SweepInterrupted, summarize, sweep

__all__ = ["Comparison", "RunResult", "SweepInterrupted", "compare", "read_runs", "run", "sensitivity", "summarize",
           "sweep"]
