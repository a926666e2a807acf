"""Provenance and resume: a sweep killed at any moment loses at most its chunks in flight,
never duplicates a row, and finishes where it stopped; another sweep's folder is refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run_cli
from sweep_helpers import CLI_SMALL, ROOT, SCENARIO, small_sweep

from nhisim.errors import InputError
from nhisim.experiments import read_runs
from nhisim.experiments.executors import FAIL_RUNS_ENV
from nhisim.experiments.store import SweepStore
from nhisim.experiments.sweep import plan_sweep

KEY = ["point", "strategy", "replication"]
# 4 points × 3 strategies × 3 replications = 36 runs, one per chunk, at the scenario's own 1-day
# horizon: about a second of runs after the first part is written, time enough to stop it mid-way
# (at a 2-hour horizon the runs are so fast that a sweep could finish before the signal arrives)
LONG = {"grid": {"strategies.zsp.ttl": ["5m", "15m", "1h", "2h"]}, "strategies": ["rbac", "zsp", "intent"],
        "replications": 3, "overrides": {}, "seed": 11}
LONG_CLI = ["sweep", str(SCENARIO), "--grid", "strategies.zsp.ttl=5m,15m,1h,2h",
            "--strategies", "rbac,zsp,intent", "-r", "3", "--seed", "11", "--chunk-size", "1"]


@pytest.fixture(scope="module")
def reference():
    """The same sweep, uninterrupted."""
    return small_sweep(**LONG)


def _parts(out: Path) -> list[Path]:
    runs = out / "runs.parquet"
    return sorted(runs.glob("part-*.parquet")) if runs.is_dir() else []


def _start(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nhisim", *LONG_CLI, "--out", str(out), *extra], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_parts(proc: subprocess.Popen, out: Path, count: int = 1, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while len(_parts(out)) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep wrote no part in time"
        time.sleep(0.02)


def _check_complete(out: Path, reference: pd.DataFrame) -> None:
    raw = pd.read_parquet(out / "runs.parquet")
    assert len(raw) == len(reference) and not raw.duplicated(KEY).any()
    pd.testing.assert_frame_equal(read_runs(out), reference)


def test_killed_sweep_resumes_without_loss_or_duplicates(tmp_path, reference):
    out = tmp_path / "killed"
    proc = _start(out, "--executor", "processes", "--workers", "2")
    _wait_for_parts(proc, out)
    os.killpg(proc.pid, signal.SIGKILL)  # kill -9 the sweep and its workers, mid-way
    proc.communicate()
    kept = pd.read_parquet(out / "runs.parquet")
    assert 0 < len(kept) < len(reference), "the sweep was not killed mid-way"
    assert not kept.duplicated(KEY).any()
    again = small_sweep(**LONG, out=out, executor="serial")  # the same sweep, through the Python API
    session = again.attrs["session"]
    assert session["skipped"] >= len(kept) and session["ran"] == len(reference) - session["skipped"]
    _check_complete(out, reference)
    pd.testing.assert_frame_equal(again, reference)
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["sessions"]) == 2


def test_ctrl_c_stops_cleanly_and_keeps_finished_chunks(tmp_path, reference, capsys):
    out = tmp_path / "interrupted"
    proc = _start(out, "--executor", "serial")
    _wait_for_parts(proc, out)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stdout + stderr
    assert "interrupted (Ctrl-C):" in stderr and "run the same command again" in stderr
    kept = pd.read_parquet(out / "runs.parquet")
    assert 0 < len(kept) < len(reference) and not kept.duplicated(KEY).any()
    code, _, err = run_cli([*LONG_CLI, "--out", str(out), "--executor", "serial", "--quiet"], capsys)
    assert code == 0, err
    _check_complete(out, reference)


def test_a_finished_sweep_runs_nothing_again(tmp_path):
    out = tmp_path / "done"
    first = small_sweep(out=out)
    assert first.attrs["session"]["ran"] == 16
    parts = {p.name: p.stat().st_mtime_ns for p in _parts(out)}
    second = small_sweep(out=out)
    assert second.attrs["session"]["ran"] == 0 and second.attrs["session"]["skipped"] == 16
    assert {p.name: p.stat().st_mtime_ns for p in _parts(out)} == parts
    pd.testing.assert_frame_equal(first, second)


def test_damaged_and_half_written_parts(tmp_path, reference):
    out = tmp_path / "damaged"
    small_sweep(**LONG, out=out, chunk_size=6)
    parts = _parts(out)
    parts[1].write_bytes(b"PAR1 not really")  # a damaged part: set aside, its runs run again
    (out / "runs.parquet" / ".part-00099.parquet.tmp").write_bytes(b"half")  # a write cut short
    again = small_sweep(**LONG, out=out)
    assert again.attrs["session"]["ran"] == 6
    assert any("could not be read" in note for note in again.attrs["session"]["notes"])
    assert (out / "runs.parquet" / f".damaged-{parts[1].name}").exists()
    assert not (out / "runs.parquet" / ".part-00099.parquet.tmp").exists()
    _check_complete(out, reference)


def test_another_sweep_is_refused_and_nothing_is_touched(tmp_path, capsys):
    out = tmp_path / "taken"
    code, _, err = run_cli([*CLI_SMALL, "--executor", "serial", "--out", str(out), "--quiet"], capsys)
    assert code == 0, err
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    for change in (["-r", "3"], ["--seed", "8"], ["--strategies", "rbac"], ["--set", "run.horizon=3h"],
                   ["--grid", "attacker.rate=6/h,60/h"]):
        argv = [*CLI_SMALL, "--executor", "serial", "--out", str(out), *change]
        code, stdout, stderr = run_cli(argv, capsys)
        assert code == 2, stdout + stderr
        assert stderr.startswith("error: folder holds another sweep") and "Traceback" not in stderr
        assert "they are kept untouched" in stderr and "new --out folder" in stderr
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_the_difference_is_named(tmp_path):
    out = tmp_path / "named"
    small_sweep(out=out, grid={"strategies.zsp.ttl": ["5m"]}, replications=1)
    with pytest.raises(InputError, match="different replications, seed"):
        small_sweep(out=out, grid={"strategies.zsp.ttl": ["5m"]}, replications=2, seed=8)


def test_a_folder_in_use_is_refused(tmp_path):
    out = tmp_path / "busy"
    plan = plan_sweep(SCENARIO, {"strategies.zsp.ttl": ["5m"]}, strategies=["rbac"], replications=1,
                      overrides={"run.horizon": "2h"}, seed=7)
    with SweepStore.open(out, plan.manifest(), plan.files(), plan.schema()):
        with pytest.raises(InputError, match="another nhisim command is writing to this folder .sweep, pid"):
            small_sweep(out=out, grid={"strategies.zsp.ttl": ["5m"]}, strategies=["rbac"], replications=1)
    done = small_sweep(out=out, grid={"strategies.zsp.ttl": ["5m"]}, strategies=["rbac"], replications=1)
    assert done.attrs["session"]["ran"] == 1  # the lock went with the store that held it


def test_errors_are_kept_unless_retried(tmp_path, monkeypatch):
    out = tmp_path / "errors"
    monkeypatch.setenv(FAIL_RUNS_ENV, "zsp/1")
    first = small_sweep(out=out)
    assert first["error"].notna().sum() == 4
    monkeypatch.delenv(FAIL_RUNS_ENV)
    assert small_sweep(out=out).attrs["session"]["ran"] == 0  # recorded errors count as done
    retried = small_sweep(out=out, retry_errors=True)
    assert retried.attrs["session"]["ran"] == 4
    assert retried["error"].isna().all() and not retried.duplicated(KEY).any()
    pd.testing.assert_frame_equal(retried, small_sweep())


def _as_written_before(out: Path, metric: str) -> None:
    """Make the folder what an nhisim without ``metric`` wrote: no such column in the parts or the manifest."""
    import pyarrow.parquet as pq

    for part in _parts(out):
        pq.write_table(pq.read_table(part).drop([metric]), part)
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["columns"][metric]
    manifest["metrics"] = [m for m in manifest["metrics"] if m != metric]
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))


def test_a_folder_written_before_a_metric_existed_resumes(tmp_path):
    out = tmp_path / "older"
    reference = small_sweep()
    small_sweep(out=out, chunk_size=2)
    parts = _parts(out)
    for part in parts[4:]:  # the older sweep stopped half-way
        part.unlink()
    _as_written_before(out, "policy_evaluations")
    old = read_runs(out)  # read as it is: the missing metric is NaN, in its place
    assert list(old.columns) == list(reference.columns) and old["policy_evaluations"].isna().all()

    again = small_sweep(out=out, chunk_size=2)  # the same sweep: not refused as another one
    session = again.attrs["session"]
    assert session["skipped"] == 8 and session["ran"] == 8
    assert any("written without policy_evaluations" in note for note in session["notes"])
    assert list(again.columns) == list(reference.columns) and not again.duplicated(KEY).any()
    resumed = again.set_index(KEY).index.isin(old.set_index(KEY).index)
    assert again.loc[resumed, "policy_evaluations"].isna().all()  # recorded before: NaN
    pd.testing.assert_frame_equal(again[~resumed], reference[~resumed])  # run now: every metric
    others = [c for c in reference.columns if c != "policy_evaluations"]
    pd.testing.assert_frame_equal(again[others], reference[others])
    pd.testing.assert_frame_equal(read_runs(out), again)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sessions"][-1]["columns_added"] == ["policy_evaluations"]
    assert "policy_evaluations" in manifest["columns"] and "policy_evaluations" in manifest["metrics"]


def test_a_folder_with_float_counts_and_no_numeric_twins_reads_as_today(tmp_path):
    """A folder of an nhisim that stored counts as floats (NaN where they had no meaning) and wrote no
    numeric twins: its counts read as integers, its twins are computed, and it resumes with no note."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from nhisim.metrics import COUNT_COLUMNS

    out = tmp_path / "older"
    reference = small_sweep()
    small_sweep(out=out, chunk_size=2)
    for part in _parts(out)[4:]:
        part.unlink()
    for part in _parts(out):
        table = pq.read_table(part).drop(["strategies.zsp.ttl_s"])
        for name in COUNT_COLUMNS:
            column = table.column(name).cast(pa.float64())
            table = table.set_column(table.schema.get_field_index(name), name,
                                     pc.fill_null(column, float("nan")))  # NaN, as floats were stored
        pq.write_table(table, part)
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["derived"], manifest["columns"]["strategies.zsp.ttl_s"]
    manifest["columns"].update(dict.fromkeys(COUNT_COLUMNS, "double"))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))

    old = read_runs(out)
    assert list(old.columns) == list(reference.columns)
    assert old["strategies.zsp.ttl_s"].tolist() == [300.0 if t == "5m" else 3600.0 for t in old["strategies.zsp.ttl"]]
    assert all(str(old[m].dtype) == "Int64" for m in COUNT_COLUMNS) and old["malicious_allowed"].isna().all()
    again = small_sweep(out=out, chunk_size=2)
    assert not any("written without" in note for note in again.attrs["session"]["notes"])
    pd.testing.assert_frame_equal(again, reference)
