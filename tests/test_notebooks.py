"""The three course notebooks run top to bottom on a real Jupyter kernel (quick mode)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.mark.parametrize("name", ["architect_compare.ipynb", "researcher_sweep.ipynb", "trainer_overreach.ipynb"])
def test_notebook_runs(name, monkeypatch, tmp_path):
    monkeypatch.setenv("NHISIM_QUICK", "1")
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "outputs in git"
    # IPC sockets, not TCP: no race for free ports with tests that start servers (Dask) beside it
    kernel = KernelManager(kernel_name="python3", transport="ipc", ip=str(tmp_path / "kernel"))
    client = NotebookClient(notebook, km=kernel, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    errors = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs
              if out.output_type == "error"]
    assert not errors
    images = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs
              if "image/png" in out.get("data", {})]
    assert images, "every notebook shows at least one figure"


def test_notebooks_are_the_generated_ones():
    """notebooks/make_notebooks.py is the source: regenerate after editing it."""
    assert os.path.exists(NOTEBOOKS / "make_notebooks.py")
