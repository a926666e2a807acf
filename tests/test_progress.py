"""A progress bar for compare and sweep in Python: tqdm in notebooks (and on request), a callback for anyone."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

import nhisim
from nhisim.errors import InputError
from nhisim.experiments.progress import in_notebook

LEAK = Path(__file__).resolve().parents[1] / "scenarios" / "leaked_key.yaml"
SMALL = {"run.horizon": "6h"}


def test_progress_true_draws_a_tqdm_bar_on_stderr(capsys):
    nhisim.compare(LEAK, strategies=["rbac", "zsp"], replications=2, overrides=SMALL, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "compare leaked-key" in err and "/4" in err and "run" in err
    nhisim.sweep(LEAK, {"strategies.zsp.ttl": ["5m", "1h"]}, strategies=["zsp"], replications=1, overrides=SMALL,
                 progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "sweep leaked-key" in err and "/2" in err


def test_outside_a_notebook_the_default_is_quiet(capsys):
    nhisim.compare(LEAK, strategies=["rbac"], replications=1, overrides=SMALL)
    nhisim.sweep(LEAK, {"strategies.zsp.ttl": ["5m", "1h"]}, strategies=["zsp"], replications=1, overrides=SMALL)
    assert capsys.readouterr() == ("", "")


def test_a_callback_still_hears_every_run(capsys):
    heard: list[tuple[int, int]] = []
    nhisim.compare(LEAK, strategies=["rbac", "zsp"], replications=2, overrides=SMALL,
                   progress=lambda done, total: heard.append((done, total)))
    assert heard == [(1, 4), (2, 4), (3, 4), (4, 4)]  # serially, after every run
    heard.clear()
    nhisim.sweep(LEAK, {"strategies.zsp.ttl": ["5m", "1h"]}, strategies=["zsp"], replications=1, overrides=SMALL,
                 progress=lambda done, total: heard.append((done, total)))
    assert heard[0] == (0, 2) and heard[-1] == (2, 2)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("shell, expected", [("ZMQInteractiveShell", True), ("TerminalInteractiveShell", False)])
def test_auto_means_a_jupyter_kernel(shell, expected, monkeypatch):
    assert in_notebook() is False  # pytest is no kernel
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: type(shell, (), {})()
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert in_notebook() is expected


def test_a_value_that_is_no_progress_setting_is_refused():
    with pytest.raises(InputError, match="not a progress setting"):
        nhisim.compare(LEAK, strategies=["rbac"], replications=1, overrides=SMALL, progress="yes")


def _stderr_on_a_terminal(args: list[str]) -> tuple[int, str, str]:
    """``nhisim ARGS`` with its standard error on a pseudo-terminal (as in a shell): (exit code, stdout,
    what the terminal received)."""
    import os
    import pty
    import subprocess

    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "nhisim", *args], stdout=subprocess.PIPE, stderr=follower,
                                text=True, env={**os.environ, "TERM": "xterm", "COLUMNS": "120"})
        os.close(follower)
        received = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end is closed: the command has ended
                break
            if not chunk:
                break
            received += chunk
        stdout = proc.stdout.read()
        proc.wait(timeout=120)
    finally:
        os.close(leader)
    return proc.returncode, stdout, received.decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_a_run_shows_its_simulated_time_on_a_terminal_unless_quiet():
    code, out, terminal = _stderr_on_a_terminal(["run", str(LEAK), "-s", "zsp"])
    assert code == 0 and "time-weighted exposure" in out.lower()
    assert "of 1.0 d simulated" in terminal and "leaked_key.yaml · zsp" in terminal
    code, out, terminal = _stderr_on_a_terminal(["run", str(LEAK), "-s", "zsp", "-q"])
    assert code == 0 and "time-weighted exposure" in out.lower() and "simulated" not in terminal
