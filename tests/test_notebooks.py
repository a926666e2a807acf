"""The three course notebooks run top to bottom on a real Jupyter kernel (quick mode), and what they
say in sentences agrees with the numbers beside them."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
ROOT = NOTEBOOKS.parent

# Appended to a notebook in the test only (never in git): prints, as JSON after PROBE, the numbers the
# notebook's sentences were written from, read from the very objects in the kernel.
PROBES = {
    "architect_compare.ipynb": 'import json\nprint("PROBE", json.dumps({"file": nhisim.__file__, '
                               '"summary": changes.to_dict("records"), "notes": what_if.notes}))',
    "researcher_sweep.ipynb": (
        'import json\n'
        'print("PROBE", json.dumps({"file": nhisim.__file__, "grid": grid,\n'
        '    "means": {axis: runs.groupby(axis)["time_weighted_exposure"].mean().to_dict() for axis in grid},\n'
        '    "indices": indices.to_dict("records")}))'),
    "trainer_overreach.ipynb": (
        'import json\n'
        'shown.clear()\n'
        'pairs = {"lifetime": [replay("jit_kept", "4h", "2h"), replay("jit_kept", "1h", "2h")],\n'
        '         "detection": [replay("jit_kept", "4h", "2h"), replay("jit_kept", "4h", "1d")],\n'
        '         "strategy": [replay("jit_kept", "4h", "2h"), replay("rbac", "4h", "2h")],\n'
        '         "zsp_lifetime": [replay("zsp", "4h", "2h"), replay("zsp", "1h", "2h")]}\n'
        'print("PROBE", json.dumps({"file": nhisim.__file__, "first": first, "pairs": pairs}))'),
}


def execute(name: str, monkeypatch, tmp_path) -> tuple[nbformat.NotebookNode, dict]:
    monkeypatch.setenv("NHISIM_QUICK", "1")
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "outputs in git"
    notebook.cells.append(new_code_cell(PROBES[name]))
    # IPC sockets, not TCP: no race for free ports with tests that start servers (Dask) beside it
    kernel = KernelManager(kernel_name="python3", transport="ipc", ip=str(tmp_path / "kernel"))
    client = NotebookClient(notebook, km=kernel, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    errors = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs
              if out.output_type == "error"]
    assert not errors, [(e.ename, e.evalue) for e in errors]
    probe = next(line for line in stdout(notebook.cells[-1]) if line.startswith("PROBE "))
    numbers = json.loads(probe[len("PROBE "):])
    # the kernel runs this checkout's code (PYTHONPATH is inherited), not another copy of nhisim
    assert Path(numbers["file"]).resolve().is_relative_to(ROOT), numbers["file"]
    return notebook, numbers


def stdout(cell) -> list[str]:
    return [line for out in cell.get("outputs", []) if out.output_type == "stream" and out.name == "stdout"
            for line in out.text.splitlines() if line.strip()]


def close(printed: str, value: float) -> bool:
    """``printed`` (4 significant digits) is ``value`` as the notebook formatted it."""
    return math.isclose(float(printed), float(f"{value:.4g}"), rel_tol=1e-9, abs_tol=1e-12)


def architect_sentences_agree_with_the_what_if(notebook, numbers):
    """Every sentence the what-if cell prints makes the claim the numbers make: a rise or a fall only when
    the 95% CI excludes 0, in the direction of the change, with the numbers the table shows."""
    cell = next(c for c in notebook.cells if c.cell_type == "code" and "tell(changes" in c.source)
    sentences = stdout(cell)
    rows = {(row["strategy"], row["metric"]): row for row in numbers["summary"]}
    notes = numbers["notes"]
    quiet = {s for s, _ in rows if all(r["change"] == 0 and r["ci_low"] == 0 and r["ci_high"] == 0
                                       for (t, _), r in rows.items() if t == s)}
    # nhisim's no-effect note is printed exactly for the strategies on which nothing moved
    assert {n.split(" has no effect on ")[1].split(" ")[0] for n in notes} == quiet
    assert [s for s in sentences if " has no effect on " in s] == notes
    claimed = set()
    for sentence in sentences:
        if " has no effect on " in sentence:
            continue
        match = re.match(r"(\w+): (\w+) (rose|fell|did not change clearly|did not change in any paired run)"
                         r"(?: by (\S+))?", sentence)
        assert match, sentence
        strategy, metric, claim, size = match.groups()
        row = rows[(strategy, metric)]
        claimed.add((strategy, metric))
        low, high = row["ci_low"], row["ci_high"]
        if claim == "rose":
            assert low > 0 and row["change"] > 0 and close(size, abs(row["change"])), (sentence, row)
            assert row["verdict"] in sentence
        elif claim == "fell":
            assert high < 0 and row["change"] < 0 and close(size, abs(row["change"])), (sentence, row)
            assert row["verdict"] in sentence
        elif claim == "did not change clearly":
            assert low <= 0 <= high and not (low == high == 0), (sentence, row)
            assert row["verdict"] in ("same", ""), (sentence, row)
        else:
            assert row["change"] == low == high == 0, (sentence, row)
        ci = re.search(r"95% CI (\S+) to (\S+?)[ )]", sentence)
        if ci:
            assert close(ci.group(1), low) and close(ci.group(2), high), (sentence, row)
    # every row not covered by a no-effect note has its own sentence
    assert claimed == {key for key in rows if key[0] not in quiet}


def trainer_controls_change_the_picture(notebook, numbers):
    """Each slider (two values) and the strategy picker (two strategies) changes the exposure window the
    replay shows; its sentence carries the run's numbers and says "the same" exactly when nothing moved."""
    shown = [numbers["first"]] + [r for pair in numbers["pairs"].values() for r in pair]
    for result in shown:
        match = re.search(r"usable for (\S+) min and reached (\S+) records", result["sentence"])
        assert match, result["sentence"]
        assert float(match.group(1)) == round(result["window_min"], 1)
        assert float(match.group(2)) == float(f"{result['blast_radius']:g}")
    pairs = numbers["pairs"]
    for control in ("lifetime", "detection", "strategy"):
        a, b = pairs[control]
        assert round(a["window_min"], 1) != round(b["window_min"], 1), (control, a, b)
        moved = "longer" if b["window_min"] > a["window_min"] else "shorter"
        assert f"this window is {moved}" in b["sentence"], (control, b["sentence"])
    # under zsp the token is revoked at task end: the replay must say the lifetime changed nothing
    a, b = pairs["zsp_lifetime"]
    assert round(a["window_min"], 1) == round(b["window_min"], 1)
    assert "this window is the same" in b["sentence"]


def researcher_sentences_agree_with_the_sweep(notebook, numbers):
    """The grid sentences say which way the mean moves along each axis, from the runs' own means; the
    sensitivity sentence names the parameter with the largest total-order index, and passes on a caution."""
    cell = next(c for c in notebook.cells if c.cell_type == "code" and "def along(" in c.source)
    sentences = [line for line in stdout(cell) if line.startswith("Mean ")]
    assert len(sentences) == len(numbers["grid"])
    for sentence, (axis, values) in zip(sentences, numbers["grid"].items(), strict=True):
        match = re.match(r"Mean (\w+) (rises|falls|does not change) as (\S+) goes from (\S+) to (\S+) "
                         r"\((\S+) -> (\S+)\)\.$", sentence)
        assert match, sentence
        _, moved, named, low, high, first, last = match.groups()
        means = numbers["means"][axis]
        assert (named, low, high) == (axis, values[0], values[-1])
        assert close(first, means[values[0]]) and close(last, means[values[-1]]), (sentence, means)
        expected = ("rises" if means[values[-1]] > means[values[0]] else
                    "falls" if means[values[-1]] < means[values[0]] else "does not change")
        assert moved == expected, (sentence, means)
    cell = next(c for c in notebook.cells if c.cell_type == "code" and c.source.startswith("print(drives("))
    (sentence,) = stdout(cell)
    indices = numbers["indices"]
    totals = [row["ST"] for row in indices]
    if all(t != t for t in totals):  # NaN everywhere
        assert sentence.startswith("No index"), sentence
    elif all(row["note"] == "constant" for row in indices):
        assert "none of these parameters moves it" in sentence, sentence
    else:
        top = max(indices, key=lambda row: row["ST"] if row["ST"] == row["ST"] else -math.inf)
        assert sentence.startswith(f"{top['parameter']} drives "), (sentence, indices)
        assert f"ST = {top['ST']:.2f}" in sentence
        cautions = [row["note"] for row in indices if isinstance(row["note"], str) and row["note"]]
        assert ("Caution: " + cautions[0] in sentence) if cautions else ("Caution" not in sentence)


CHECKS = {"architect_compare.ipynb": architect_sentences_agree_with_the_what_if,
          "researcher_sweep.ipynb": researcher_sentences_agree_with_the_sweep,
          "trainer_overreach.ipynb": trainer_controls_change_the_picture}


@pytest.mark.parametrize("name", list(CHECKS))
def test_notebook_runs_and_tells_the_truth(name, monkeypatch, tmp_path):
    """Each notebook runs once, top to bottom; then its sentences are checked against its numbers."""
    notebook, numbers = execute(name, monkeypatch, tmp_path)
    images = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs
              if "image/png" in out.get("data", {})]
    assert images, "every notebook shows at least one figure"
    CHECKS[name](notebook, numbers)


def test_notebooks_are_the_generated_ones(tmp_path, monkeypatch):
    """notebooks/make_notebooks.py is the source: regenerating writes the notebooks in git, byte for byte."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_notebooks", NOTEBOOKS / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", tmp_path)
    module.architect()
    module.researcher()
    module.trainer()
    for name in PROBES:
        assert (tmp_path / name).read_text() == (NOTEBOOKS / name).read_text(), f"regenerate {name}"


def test_tell_writes_each_claim_from_the_numbers():
    """The architect's ``tell`` (run here without a kernel) on rows of every kind: a clear rise and fall,
    an interval that includes 0, no change in any run, too few runs for an interval, and nhisim's note."""
    import importlib.util

    import pandas as pd

    spec = importlib.util.spec_from_file_location("make_notebooks", NOTEBOOKS / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    space: dict = {}
    exec(module.TELL, space)  # noqa: S102 - the generator's own source for the notebook cell
    nan = float("nan")
    rows = [("a", "exposure_window_s", 10, 30, 20, 5, 35, 5, "worse"),
            ("a", "blast_radius", 10, 4, -6, -9, -3, 5, "better"),
            ("a", "credentials_issued", 10, 11, 1, -2, 4, 5, ""),
            ("a", "legit_denied", 3, 3, 0, 0, 0, 5, "same"),
            ("b", "exposure_window_s", 1, 2, 1, nan, nan, 1, ""),
            ("c", "exposure_window_s", 5, 5, 0, 0, 0, 5, "same")]
    summary = pd.DataFrame(rows, columns=["strategy", "metric", "before", "after", "change", "ci_low", "ci_high",
                                          "n", "verdict"])
    note = "x = 1 has no effect on c in these runs: every metric is the same in every paired run"
    assert space["tell"](summary, [note]) == [
        note,
        "a: exposure_window_s rose by 20 (10 -> 30, 95% CI 5 to 35): worse.",
        "a: blast_radius fell by 6 (10 -> 4, 95% CI -9 to -3): better.",
        "a: credentials_issued did not change clearly: mean change 1, 95% CI -2 to 4 includes 0.",
        "a: legit_denied did not change in any paired run (3 -> 3).",
        "b: exposure_window_s changed by 1 over 1 paired run(s), too few for an interval.",
    ]
