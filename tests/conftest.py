import os
import sys

import matplotlib

matplotlib.use("Agg")
sys.path.insert(0, os.path.dirname(__file__))


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _force_stays_in_its_test(monkeypatch):
    """``--force`` sets NHISIM_FORCE for the process (so worker processes inherit it): a test that
    passes it must not make every later test in its process forced."""
    monkeypatch.setenv("NHISIM_FORCE", "")
    monkeypatch.delenv("NHISIM_FORCE")
