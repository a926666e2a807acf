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
{imports}

# QUICK (set by the test suite) keeps every computation small; unset it for real numbers.
QUICK = bool(os.environ.get("NHISIM_QUICK"))
ROOT = Path.cwd() if (Path.cwd() / "scenarios").exists() else Path.cwd().parent
pd.set_option("display.width", 160)'''


def setup(imports: str = "") -> str:
    """The first code cell, with a notebook's own imports among the others (ruff E402)."""
    return SETUP.format(imports="\n".join(sorted(["from nhisim.reports import figures", *filter(None, [imports])])))


# Turns a what-if summary into sentences: every word of a claim comes from the row's numbers.
TELL = '''def tell(summary, notes=()):
    """One sentence per strategy and metric, from the paired change and its 95% CI."""
    sentences = list(notes)  # nhisim's own note when a change moved nothing, and why
    quiet = {note.split(" has no effect on ")[1].split(" ")[0] for note in notes if " has no effect on " in note}
    for row in summary.itertuples():
        if row.strategy in quiet:
            continue
        ci = f"95% CI {row.ci_low:.4g} to {row.ci_high:.4g}"
        if row.ci_low != row.ci_low or row.ci_high != row.ci_high:  # NaN: too few runs for an interval
            sentences.append(f"{row.strategy}: {row.metric} changed by {row.change:.4g} over {row.n} paired "
                             f"run(s), too few for an interval.")
        elif row.ci_low > 0 or row.ci_high < 0:
            moved = "rose" if row.change > 0 else "fell"
            judged = f": {row.verdict}" if row.verdict else ""
            sentences.append(f"{row.strategy}: {row.metric} {moved} by {abs(row.change):.4g} "
                             f"({row.before:.4g} -> {row.after:.4g}, {ci}){judged}.")
        elif row.change == 0 and row.ci_low == 0 and row.ci_high == 0:
            sentences.append(f"{row.strategy}: {row.metric} did not change in any paired run "
                             f"({row.before:.4g} -> {row.after:.4g}).")
        else:
            sentences.append(f"{row.strategy}: {row.metric} did not change clearly: mean change "
                             f"{row.change:.4g}, {ci} includes 0.")
    return sentences'''


def notebook(cells: list, name: str) -> None:
    for number, cell in enumerate(cells):  # stable ids: regenerating changes only what was edited
        cell["id"] = f"cell-{number}"
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
        new_code_cell(setup()),
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
        new_markdown_cell("## 3. What if JIT tokens lived 1 hour?\nOne line: the same scenario with "
                          "`strategies.zsp.ttl = 1h`, run before and after on the same paired seeds. Each row is "
                          "the mean paired change (after − before) with its 95% interval."),
        new_code_cell('what_if = nhisim.whatif(scenario, set={"strategies.zsp.ttl": "1h"}, strategies=["zsp"],\n'
                      '                        replications=replications, seed=1)\n'
                      'changes = what_if.summary(["exposure_window_s", "time_weighted_exposure", "credentials_issued"])\n'
                      'changes'),
        new_markdown_cell("What it means, in sentences written from the table above (not in advance): a change "
                          "counts only when its interval excludes 0."),
        new_code_cell(TELL + '\n\nfor sentence in tell(changes, what_if.notes):\n    print(sentence)'),
        new_markdown_cell("## 4. Bring your own estate\n`nhisim.import_mcp` reads an MCP client configuration "
                          "(here a sample Claude Desktop file whose secrets are fake): each server becomes a tool "
                          "and an agent holding its secrets, and a secret several servers reuse becomes a shared "
                          "account. No secret value is kept, only where each one is and how it is supplied."),
        new_code_cell('imported = nhisim.import_mcp(ROOT / "tests/data/mcp/claude_desktop_config.json")\n'
                      'pd.DataFrame(imported.report.tables["secrets"])'),
        new_markdown_cell("What the configuration does not say is guessed or assumed, and listed: the YAML marks "
                          "each with a `# TODO:` line (`imported.write(\"estate.yaml\")` writes it; "
                          "`nhisim import mcp` does the same from the command line)."),
        new_code_cell('pd.DataFrame([note.to_dict() for note in imported.report.todo])'),
        new_markdown_cell("The imported estate is a scenario like any other: compare the strategies on it, "
                          "one strategy for the whole estate at a time. Its threats (a leak of the most reused "
                          "secret, tool discovery) are assumptions to edit before trusting the numbers."),
        new_code_cell('mine_result = nhisim.compare(imported.scenario, replications=replications, seed=1)\n'
                      'mine_result.table(["blast_radius", "exposure_window_s", "legit_denied", '
                      '"task_success_rate"])'),
    ], "architect_compare.ipynb")


# Sentences about a sweep, written from its numbers: the grid's means per axis, the Sobol indices.
STORY = """def along(runs, axis, metric, values):
    \"\"\"How the mean of ``metric`` moves along one grid axis (the other axes averaged over).\"\"\"
    means = runs.groupby(axis)[metric].mean().reindex(values)
    first, last = means.iloc[0], means.iloc[-1]
    moved = "rises" if last > first else "falls" if last < first else "does not change"
    return means, (f"Mean {metric} {moved} as {axis} goes from {values[0]} to {values[-1]} "
                   f"({first:.4g} -> {last:.4g}).")


def drives(indices, metric):
    \"\"\"Which parameter drives ``metric`` most, by total-order index, with the indices' own cautions.\"\"\"
    if indices["ST"].isna().all():
        return f"No index for {metric}: {indices['note'].iloc[0]}."
    if (indices["note"] == "constant").all():
        return f"{metric} is the same at every sample point: none of these parameters moves it here."
    ranked = indices.sort_values("ST", ascending=False)
    top = ranked.iloc[0]
    sentence = (f"{top.parameter} drives {metric} most (ST = {top.ST:.2f} ± {top.ST_conf:.2f}); "
                + ", ".join(f"{r.parameter} ST = {r.ST:.2f}" for r in ranked.iloc[1:].itertuples()) + ".")
    cautions = [note for note in indices["note"] if isinstance(note, str) and note]
    return sentence + (f" Caution: {cautions[0]}" if cautions else "")"""


def researcher() -> None:
    notebook([
        new_markdown_cell("# Researcher: sweep, sensitivity, heat map\n\n"
                          "Sweep any scenario value by its dotted path × strategies × replications, get one "
                          "tidy row per run, and ask which parameter drives a metric. The sentences below each "
                          "result are written from its numbers."),
        new_code_cell(setup("from nhisim.experiments.sensitivity import sensitivity, sensitivity_figure")),
        new_markdown_cell("## 1. A grid: token lifetime × monitoring level\nThe strategy is `jit_kept`, a "
                          "JIT token that is not revoked when its task ends (under zsp it is, so zsp's TTL "
                          "would be a flat axis: try it). In quick mode the day is 6 h and the leak comes in "
                          "its first hours."),
        new_code_cell('base = {"strategies.jit_kept": {"base": "zsp", "revoke_at_task_end": False,\n'
                      '                                "description": "JIT token kept until its TTL"}}\n'
                      'if QUICK:\n'
                      '    base |= {"run.horizon": "6h", "threats.leak.at": {"uniform": ["1h", "4h"]}}\n'
                      'scenario = nhisim.load(ROOT / "scenarios/leaked_key.yaml", overrides=base)\n'
                      'ttls = ["5m", "1h"] if QUICK else ["5m", "15m", "1h", "4h"]\n'
                      'levels = ["basic", "advanced"] if QUICK else ["basic", "standard", "advanced"]\n'
                      'grid = {"strategies.jit_kept.ttl": ttls, "detection.monitoring": levels}\n'
                      'runs = nhisim.sweep(scenario, grid, strategies=["jit_kept"], replications=2 if QUICK else 10,\n'
                      '                    seed=3)\n'
                      'runs[["strategies.jit_kept.ttl", "detection.monitoring", "strategy", "replication", '
                      '"exposure_window_s", "blast_radius"]].head()'),
        new_code_cell('figures.sweep_heatmap(runs, "strategies.jit_kept.ttl", "detection.monitoring", '
                      '"time_weighted_exposure", strategy="jit_kept")'),
        new_code_cell(STORY + '\n\n'
                      'for axis, values in grid.items():\n'
                      '    means, sentence = along(runs, axis, "time_weighted_exposure", values)\n'
                      '    print(sentence)\n'
                      '    print("  means:", means.round(1).to_dict())'),
        new_markdown_cell("## 2. Sensitivity (Sobol indices through SALib)\nWhich of attacker speed, token "
                          "lifetime and attacker delay drives the time-weighted exposure?"),
        new_code_cell('bounds = {"strategies.jit_kept.ttl": ("5m", "2h"), "attacker.rate": ("1/h", "1/min"),\n'
                      '          "threats.leak.attacker_delay": ("1m", "1h")}\n'
                      'sample = nhisim.sweep(scenario, sample="sobol", n=4 if QUICK else 64, bounds=bounds,\n'
                      '                      strategies=["jit_kept"], replications=1, seed=5)\n'
                      'indices = sensitivity(sample, "time_weighted_exposure")\n'
                      'indices'),
        new_code_cell('print(drives(indices, "time_weighted_exposure"))'),
        new_code_cell('sensitivity_figure(indices, "time_weighted_exposure")'),
    ], "researcher_sweep.ipynb")


def trainer() -> None:
    notebook([
        new_markdown_cell("# Trainer: a leaked secret and agent overreach, RBAC vs intent\n\n"
                          "The same story told under two controls, step by step, then a strategy picker and two "
                          "sliders (credential lifetime, detection delay) that re-run and re-plot it live."),
        new_code_cell(setup("from nhisim.reports.narrate import lines, narrate")),
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
        new_markdown_cell("## 3. Try it: strategy, credential lifetime, detection delay\n"
                          "Pick a strategy and move the sliders: the leak is re-run with that credential "
                          "lifetime (a JIT token's TTL, or a static key's rotation period under rbac) and a "
                          "detection delay of that median. `jit_kept` is a JIT token that is *not* revoked when "
                          "its task ends, so the stolen copy lives until its TTL or until the leak is detected "
                          "and the token revoked. Switch to zsp (revoked at task end) or intent (bound to the "
                          "workload) and see which slider still matters: the sentence under the sliders is "
                          "written from the run's numbers and says when a move changed nothing."),
        new_code_cell('import ipywidgets as widgets\n'
                      'from IPython.display import display\n\n'
                      'lab = nhisim.with_overrides(leak, {"strategies.jit_kept": {\n'
                      '    "base": "zsp", "revoke_at_task_end": False,\n'
                      '    "description": "JIT token kept until its TTL (not revoked at task end)"}})\n'
                      'LIFETIME = {"rbac": "rotation"}  # the knob the lifetime slider sets; "ttl" for the others\n'
                      'output = widgets.Output()\n'
                      'shown = {}  # the last picture: what the next sentence compares against\n\n'
                      'def replay(strategy="jit_kept", lifetime="4h", detection="2h"):\n'
                      '    knob = LIFETIME.get(strategy, "ttl")\n'
                      '    overrides = {f"strategies.{strategy}.{knob}": lifetime,\n'
                      '                 "detection.levels.standard.baseline_delay": '
                      '{"lognormal": {"median": detection, "sigma": 0.5}}}\n'
                      '    result = nhisim.run(lab, strategy, seed=4, overrides=overrides)\n'
                      '    m = result.metrics\n'
                      '    window, radius = m["exposure_window_s"] / 60, m["blast_radius"]\n'
                      '    sentence = (f"Under {strategy} ({knob} {lifetime}, detection ~{detection}) the stolen "\n'
                      '                f"credential was usable for {window:.1f} min and reached {radius:g} records.")\n'
                      '    if shown:\n'
                      '        before = shown["window"]\n'
                      '        moved = ("longer" if window > before else "shorter") if round(window, 1) != round(before, 1) '
                      'else "the same"\n'
                      '        sentence += (f" Last picture: {before:.1f} min, so this window is {moved}" +\n'
                      '                     ("." if moved == "the same" else f" by {abs(window - before):.1f} min."))\n'
                      '    shown.update(window=window, radius=radius)\n'
                      '    output.clear_output(wait=True)\n'
                      '    with output:\n'
                      '        print(sentence)\n'
                      '        display(figures.attack_timeline(result.events))\n'
                      '    return {"strategy": strategy, "lifetime": lifetime, "detection": detection,\n'
                      '            "window_min": window, "blast_radius": radius, "sentence": sentence}\n\n'
                      'picker = widgets.Dropdown(options=["jit_kept", "rbac", "zsp", "intent"], value="jit_kept",\n'
                      '                          description="strategy")\n'
                      'lifetime = widgets.SelectionSlider(options=["15m", "1h", "4h", "1d", "7d", "90d"], value="4h",\n'
                      '                                   description="lifetime")\n'
                      'delay = widgets.SelectionSlider(options=["30m", "2h", "8h", "1d", "3d"], value="2h",\n'
                      '                                description="detect")\n'
                      'for control in (picker, lifetime, delay):\n'
                      '    control.observe(lambda change: replay(picker.value, lifetime.value, delay.value), names="value")\n'
                      'display(picker, lifetime, delay, output)\n'
                      'first = replay()  # draw once without waiting for a control'),
    ], "trainer_overreach.ipynb")


if __name__ == "__main__":
    architect()
    researcher()
    trainer()
