"""The Dask executor deals chunks to one runner per worker: what happens when a worker dies or a chunk fails."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from sweep_helpers import CLI_SMALL, ROOT, small_sweep

distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed (it is in CI)")
import dask  # noqa: E402

from nhisim.experiments import read_runs  # noqa: E402
from nhisim.experiments.executors import FAIL_RUNS_ENV, DaskExecutor, ExecutorError  # noqa: E402


def die_once_on(shared: dict, task: int) -> tuple[int, int]:
    """Kill this worker process the first time ``task`` is one of ``shared["fatal"]``."""
    time.sleep(0.02)  # long enough that every worker holds chunks when one dies
    mark = Path(shared["marks"]) / f"died-on-{task}"
    if task in shared["fatal"] and not mark.exists():
        mark.touch()
        os._exit(1)
    return task, os.getpid()


def always_die(shared: None, task: int) -> None:
    os._exit(1)


def fail_on_two(shared: None, task: int) -> int:
    if task == 2:
        raise ValueError("chunk 2 is broken")
    return task


def test_a_lost_worker_s_chunks_run_on_the_others(tmp_path):
    with DaskExecutor(workers=3) as executor:
        shared = {"marks": str(tmp_path), "fatal": {3, 9}}
        results = list(executor.imap_unordered(die_once_on, range(30), shared))
        assert sorted(i for i, _ in results) == list(range(30))  # every chunk once, none lost, none twice
        assert all(value[0] == i for i, value in results)
        assert len({pid for _, (_, pid) in results}) >= 2
        assert executor.workers == 1  # two workers died: one runner left
        # the cluster restarts the dead workers; the next experiment runs on them again
        executor.client.wait_for_workers(3, timeout=60)
        again = list(executor.imap_unordered(die_once_on, range(6), shared))
        assert sorted(i for i, _ in again) == list(range(6)) and executor.workers == 3


def test_losing_every_worker_stops_with_a_clear_error():
    with DaskExecutor(workers=2) as executor:
        with pytest.raises(ExecutorError, match="every Dask worker was lost.*finished work is kept"):
            list(executor.imap_unordered(always_die, range(4)))
        executor.client.wait_for_workers(2, timeout=60)  # the nannies restart them
        assert sorted(i for i, _ in executor.imap_unordered(fail_on_two, [0, 1])) == [0, 1]  # and they are used


def test_a_chunk_s_own_error_is_raised_as_itself_and_the_executor_stays_usable():
    before = dask.config.get("distributed.worker.profile.enabled")
    with DaskExecutor(workers=2) as executor:
        with pytest.raises(ValueError, match="chunk 2 is broken"):
            list(executor.imap_unordered(fail_on_two, range(6)))
        assert executor.workers == 2  # a failing chunk is not a lost worker
        assert sorted(i for i, _ in executor.imap_unordered(fail_on_two, [0, 1, 3])) == [0, 1, 2]
    assert dask.config.get("distributed.worker.profile.enabled") == before  # this process's config is given back


def test_a_scheduler_address_runs_one_chunk_at_a_time_per_worker_process():
    serial = small_sweep(executor="serial")
    # forked like the executor's own LocalCluster: one start method per test process
    with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None,
                                     host="127.0.0.1") as cluster:
        with DaskExecutor(scheduler=cluster.scheduler_address) as executor:
            assert executor.cluster is None  # not ours: closing the executor leaves the cluster running
            assert executor.workers == 2  # worker processes, not threads: runs hold the GIL
            runs = small_sweep(executor=executor, chunk_size=2)
        assert len(cluster.scheduler_info["workers"]) == 2
    pd.testing.assert_frame_equal(runs, serial)


def test_a_run_that_kills_every_worker_stops_the_sweep_and_the_rerun_finishes_it(tmp_path):
    out = tmp_path / "sweep"
    argv = [sys.executable, "-m", "nhisim", *CLI_SMALL, "--out", str(out), "-q", "--executor", "dask",
            "--workers", "2", "--chunk-size", "1"]
    # its own process each time: the workers come from that process's fork server, with its environment
    env = {**os.environ, FAIL_RUNS_ENV: "exit:zsp/1"}  # kills whichever worker runs it: each in turn
    failed = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1, failed.stderr
    assert "every Dask worker was lost" in failed.stderr and "finished chunks are kept" in failed.stderr
    assert "Traceback" not in failed.stdout + failed.stderr
    assert 0 < len(pd.read_parquet(out / "runs.parquet")) < 16
    env.pop(FAIL_RUNS_ENV)
    rerun = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    pd.testing.assert_frame_equal(read_runs(out), small_sweep(executor="serial"))  # complete, no duplicates
