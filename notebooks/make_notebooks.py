"""Write the three course notebooks (outputs stripped). Run: python notebooks/make_notebooks.py"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent
SETUP = '''%matplotlib inline
import os
from pathlib import Path

import pandas as pd

import nhisim
from nhisim.reports import figures

# QUICK (set by the test suite) keeps every computation small; unset it for real numbers.
QUICK = bool(os.environ.get("NHISIM_QUICK"))
ROOT = Path.cwd() if (Path.cwd() / "scenarios").exists() else Path.cwd().parent
pd.set_option("display.width", 160)'''


def notebook(cells: list, name: str) -> None:
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}})
    nbformat.write(nb, HERE / name)


def architect() -> None:
    notebook([
        new_markdown_cell("# Architect: compare control designs on an agent estate\n\n"
                          "Load an estate that looks like yours, compare the four control strategies on "
                          "identical randomness, ask one what-if (*what if JIT tokens lived 1 h?*) and read "
                          "the difference with its confidence interval."),
        new_code_cell(SETUP),
        new_markdown_cell("## 1. Load the estate\nEvery value can be overridden by dotted path; "
                          "in quick mode we simulate a shorter day."),
        new_code_cell('overrides = {"run.horizon": "3h"} if QUICK else {}\n'
                      'scenario = nhisim.load(ROOT / "scenarios/enterprise.yaml", overrides=overrides)\n'
                      'print(scenario.title)\n'
                      'print(len(scenario.agents), "agents,", len(scenario.threats), "threats")\n'
                      'nhisim.all_blast_radii(scenario).head(5)'),
        new_markdown_cell("## 2. Compare the strategies\nEach replication runs every strategy with the same "
                          "seed (common random numbers), so differences are paired."),
        new_code_cell('replications = 2 if QUICK else 20\n'
                      'result = nhisim.compare(scenario, replications=replications, seed=1)\n'
                      'result.table(["blast_radius", "exposure_window_s", "time_to_revoke_s", '
                      '"collateral_denials", "task_success_rate"])'),
        new_code_cell('figures.strategy_comparison(result, ["blast_radius", "exposure_window_s", '
                      '"legit_denied", "task_success_rate"])'),
        new_markdown_cell("## 3. What if JIT tokens lived 1 hour?\nAdd a user strategy (the zsp preset "
                          "with `ttl: 1h`) in one line and compare it against zsp, paired."),
        new_code_cell('what_if = nhisim.with_overrides(scenario, {"strategies.zsp_1h": {"base": "zsp", "ttl": "1h"}})\n'
                      'diff = nhisim.compare(what_if, strategies=["zsp", "zsp_1h"], baseline="zsp",\n'
                      '                      replications=replications, seed=1)\n'
                      'summary = diff.summary(["exposure_window_s", "time_weighted_exposure", "credentials_issued"])\n'
                      'summary[summary.strategy == "zsp_1h"][["metric", "mean", "diff", "diff_ci_low", '
                      '"diff_ci_high", "better"]]'),
        new_markdown_cell("`diff` is zsp_1h − zsp per replication, averaged, with its 95% interval: a longer "
                          "TTL means fewer tokens issued but a longer window for a stolen one."),
    ], "architect_compare.ipynb")


def researcher() -> None:
    notebook([
        new_markdown_cell("# Researcher: sweep, sensitivity, heat map\n\n"
                          "Sweep any scenario value by its dotted path × strategies × replications, get one "
                          "tidy row per run, and ask which parameter drives a metric."),
        new_code_cell(SETUP + "\nfrom nhisim.experiments.sensitivity import sensitivity, sensitivity_figure"),
        new_markdown_cell("## 1. A grid: token lifetime × monitoring level"),
        new_code_cell('scenario = ROOT / "scenarios/leaked_key.yaml"\n'
                      'grid = {"strategies.zsp.ttl": ["5m", "1h"] if QUICK else ["5m", "15m", "1h", "4h"],\n'
                      '        "detection.monitoring": ["basic", "advanced"] if QUICK else ["basic", "standard", "advanced"]}\n'
                      'runs = nhisim.sweep(scenario, grid, strategies=["zsp"], replications=2 if QUICK else 10,\n'
                      '                    seed=3, overrides={"run.horizon": "6h"} if QUICK else None)\n'
                      'runs[["strategies.zsp.ttl", "detection.monitoring", "strategy", "replication", '
                      '"exposure_window_s", "blast_radius"]].head()'),
        new_code_cell('figures.sweep_heatmap(runs, "strategies.zsp.ttl", "detection.monitoring", '
                      '"time_weighted_exposure", strategy="zsp")'),
        new_markdown_cell("## 2. Sensitivity (Sobol indices through SALib)\nWhich of attacker speed, token "
                          "lifetime and attacker delay drives the time-weighted exposure?"),
        new_code_cell('bounds = {"strategies.zsp.ttl": ("5m", "2h"), "attacker.rate": ("1/h", "1/min"),\n'
                      '          "threats.leak.attacker_delay": ("1m", "1h")}\n'
                      'sample = nhisim.sweep(scenario, sample="sobol", n=4 if QUICK else 64, bounds=bounds,\n'
                      '                      strategies=["zsp"], replications=1, seed=5,\n'
                      '                      overrides={"run.horizon": "6h"} if QUICK else None)\n'
                      'indices = sensitivity(sample, "time_weighted_exposure")\n'
                      'indices'),
        new_code_cell('sensitivity_figure(indices, "time_weighted_exposure")'),
    ], "researcher_sweep.ipynb")


def trainer() -> None:
    notebook([
        new_markdown_cell("# Trainer: a leaked secret and agent overreach, RBAC vs intent\n\n"
                          "The same story told under two controls, step by step, then two sliders (token "
                          "lifetime, detection delay) that re-run and re-plot it live."),
        new_code_cell(SETUP + "\nfrom nhisim.reports.narrate import lines, narrate"),
        new_markdown_cell("## 1. Overreach: benign agents trying more than their task"),
        new_code_cell('discovery = nhisim.load(ROOT / "scenarios/tool_discovery.yaml",\n'
                      '                       overrides={"run.horizon": "2h"} if QUICK else None)\n'
                      'overreach = nhisim.compare(discovery, strategies=["rbac", "intent"], baseline="rbac",\n'
                      '                           replications=2 if QUICK else 10, seed=2)\n'
                      'overreach.table(["overreach_attempts", "overreach_allowed", "legit_denied", '
                      '"task_success_rate"])'),
        new_markdown_cell("## 2. A leaked secret, told step by step"),
        new_code_cell('leak = nhisim.load(ROOT / "scenarios/leaked_key.yaml")\n'
                      'for strategy in ("rbac", "intent"):\n'
                      '    run = nhisim.run(leak, strategy, seed=4)\n'
                      '    print(f"--- under {strategy}")\n'
                      '    print("\\n".join(lines(narrate(run.events, leak, strategy))[:12]))'),
        new_code_cell('figures.attack_timeline(nhisim.run(leak, "rbac", seed=4).events)'),
        new_markdown_cell("## 3. Try it: token lifetime and detection delay\nMove the sliders: the "
                          "scenario is re-run under zsp with that TTL and a detection delay of that median."),
        new_code_cell('import ipywidgets as widgets\n'
                      'from IPython.display import display\n\n'
                      'output = widgets.Output()\n\n'
                      'def replay(ttl_minutes=15, detection_hours=24):\n'
                      '    overrides = {"strategies.zsp.ttl": f"{ttl_minutes}m",\n'
                      '                 "detection.levels.standard.baseline_delay": '
                      '{"lognormal": {"median": f"{detection_hours}h", "sigma": 0.5}}}\n'
                      '    result = nhisim.run(leak, "zsp", seed=4, overrides=overrides)\n'
                      '    output.clear_output(wait=True)\n'
                      '    with output:\n'
                      '        m = result.metrics\n'
                      '        print(f"TTL {ttl_minutes} min, detection ~{detection_hours} h: exposure window "\n'
                      '              f"{m[\'exposure_window_s\'] / 60:.1f} min, blast radius {m[\'blast_radius\']:g}")\n'
                      '        display(figures.attack_timeline(result.events))\n'
                      '    return result\n\n'
                      'ttl = widgets.IntSlider(value=15, min=5, max=240, step=5, description="TTL (min)")\n'
                      'delay = widgets.IntSlider(value=24, min=1, max=72, description="detect (h)")\n'
                      'for slider in (ttl, delay):\n'
                      '    slider.observe(lambda change: replay(ttl.value, delay.value), names="value")\n'
                      'display(ttl, delay, output)\n'
                      'first = replay()  # draw once without waiting for a slider'),
    ], "trainer_overreach.ipynb")


if __name__ == "__main__":
    architect()
    researcher()
    trainer()
