"""The Dask executor deals chunks to one runner per worker: what happens when a worker dies or a chunk fails."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run_cli
from sweep_helpers import CLI_SMALL, small_sweep

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


def test_a_chunk_s_own_error_is_raised_as_itself_and_the_executor_stays_usable():
    before = dask.config.get("distributed.worker.profile.enabled")
    with DaskExecutor(workers=2) as executor:
        assert dask.config.get("distributed.worker.profile.enabled") is False  # restarted workers get it too
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


def test_a_run_that_kills_every_worker_stops_the_sweep_and_the_rerun_finishes_it(tmp_path, monkeypatch, capsys):
    out = tmp_path / "sweep"
    argv = [*CLI_SMALL, "--out", str(out), "-q", "--executor", "dask", "--workers", "2", "--chunk-size", "1"]
    monkeypatch.setenv(FAIL_RUNS_ENV, "exit:zsp/1")  # kills whichever worker runs it: each in turn
    code, stdout, err = run_cli(argv, capsys)
    assert code == 1 and "every Dask worker was lost" in err and "finished chunks are kept" in err
    assert "Traceback" not in stdout + err
    kept = pd.read_parquet(out / "runs.parquet")
    assert 0 < len(kept) < 16
    monkeypatch.delenv(FAIL_RUNS_ENV)
    code, stdout, err = run_cli(argv, capsys)
    assert code == 0, err
    pd.testing.assert_frame_equal(read_runs(out), small_sweep(executor="serial"))  # complete, no duplicates
