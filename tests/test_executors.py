"""Executors: serial, a process pool and a Dask LocalCluster give identical results."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from sweep_helpers import CLI_SMALL, FAST, SCENARIO, small_sweep

from nhisim.errors import InputError
from nhisim.experiments import compare
from nhisim.experiments.executors import (
    FAIL_RUNS_ENV,
    ProcessExecutor,
    SerialExecutor,
    chunk_size_for,
    chunk_sizes,
    chunked,
    make_executor,
    plan_chunks,
)


@pytest.fixture(scope="module")
def serial_runs():
    return small_sweep(executor="serial")


def _key_sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["point", "strategy", "replication"]).reset_index(drop=True)


@pytest.mark.parametrize("chunk_size", [None, 1, 3])
def test_process_pool_gives_identical_results(serial_runs, chunk_size):
    runs = small_sweep(executor="processes", workers=2, chunk_size=chunk_size)
    pd.testing.assert_frame_equal(runs, serial_runs)
    pd.testing.assert_frame_equal(_key_sorted(runs), _key_sorted(serial_runs))


def _dask_available() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            raise
        return False
    return True


@pytest.mark.skipif(not _dask_available(), reason="dask[distributed] is not installed (it is in CI)")
def test_dask_local_cluster_gives_identical_results(serial_runs):
    from nhisim.experiments.executors import DaskExecutor

    with DaskExecutor(workers=2) as executor:
        assert executor.cluster is not None and executor.workers == 2
        runs = small_sweep(executor=executor, chunk_size=1)  # 16 chunks: more than one batch in flight
        comparison = compare(SCENARIO, strategies=["rbac", "zsp"], replications=2, seed=3, overrides=FAST,
                             executor=executor)
    pd.testing.assert_frame_equal(runs, serial_runs)
    reference = compare(SCENARIO, strategies=["rbac", "zsp"], replications=2, seed=3, overrides=FAST)
    pd.testing.assert_frame_equal(comparison.runs, reference.runs)
    for key, events in reference.run_events.items():
        pd.testing.assert_frame_equal(comparison.run_events[key], events)


def test_compare_through_a_process_pool_is_identical():
    kw = {"strategies": ["rbac", "zsp", "intent"], "replications": 3, "seed": 5, "overrides": FAST}
    ticks = []
    serial = compare(SCENARIO, **kw, progress=lambda done, total: ticks.append((done, total)))
    assert ticks == [(i, 9) for i in range(1, 10)]  # the serial API still reports every run
    parallel = compare(SCENARIO, **kw, executor="processes", workers=2)
    pd.testing.assert_frame_equal(parallel.runs, serial.runs)
    assert list(parallel.run_events) == list(serial.run_events)
    for key, events in serial.run_events.items():
        pd.testing.assert_frame_equal(parallel.run_events[key], events)
    pd.testing.assert_frame_equal(parallel.summary(), serial.summary())


def test_compare_still_raises_the_error_of_a_run(monkeypatch):
    monkeypatch.setenv(FAIL_RUNS_ENV, "zsp/0")
    with pytest.raises(RuntimeError, match="injected failure"):
        compare(SCENARIO, strategies=["rbac", "zsp"], replications=1, overrides=FAST)


def test_an_executor_can_serve_several_experiments(serial_runs):
    with ProcessExecutor(workers=2) as executor:
        first = small_sweep(executor=executor)
        second = small_sweep(executor=executor, chunk_size=5)
        assert executor._pool is not None  # the caller's pool stays open between experiments
    pd.testing.assert_frame_equal(first, serial_runs)
    pd.testing.assert_frame_equal(second, serial_runs)


def test_chunking():
    assert chunk_size_for(16, 2) == 1
    assert chunk_size_for(200, 2) == 13
    assert chunk_size_for(100_000, 8) == 32
    assert chunk_size_for(0, 2) == 1
    assert chunked(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert chunked(list(range(7)), [4, 2, 1]) == [[0, 1, 2, 3], [4, 5], [6]]
    with pytest.raises(ValueError, match="short of 7"):
        chunked(list(range(7)), [4, 2])


def test_guided_chunks_taper_so_the_workers_finish_together():
    sizes = chunk_sizes(200, 2)
    assert sizes[:8] == [13] * 8  # steady chunks first
    assert sizes[-1] < 13 and sizes == sorted(sizes, reverse=True)
    assert sum(sizes) == 200 and len(sizes) <= 24  # a few more chunks than uniform 13s (16), not many


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 5000), st.integers(1, 16), st.integers(1, 16), st.integers(1, 64))
def test_guided_chunk_sizes_cover_every_run_once(n_runs, workers, per_worker, largest):
    sizes = chunk_sizes(n_runs, workers, per_worker, largest)
    steady = chunk_size_for(n_runs, workers, per_worker, largest)
    assert sum(sizes) == n_runs and all(size >= 1 for size in sizes)
    assert sizes == sorted(sizes, reverse=True) and (not sizes or sizes[0] <= steady)
    # tapering adds at most a few chunks per worker: the number of chunks stays bounded
    assert len(sizes) <= math.ceil(n_runs / steady) + 8 * workers + 4


@pytest.mark.skipif(not _dask_available(), reason="dask[distributed] is not installed (it is in CI)")
def test_executors_chunk_to_their_cost_per_chunk():
    from nhisim.experiments.executors import DaskExecutor, RunSpec

    specs = [RunSpec(0, "rbac", seed, seed) for seed in range(200)]
    pool_chunks = plan_chunks(specs, ProcessExecutor(workers=2))
    dask_chunks = plan_chunks(specs, DaskExecutor(workers=2))  # planning starts no cluster
    for chunks in (pool_chunks, dask_chunks):
        assert [spec for chunk in chunks for spec in chunk] == specs  # every run once, in order
    assert len(dask_chunks) < len(pool_chunks)  # a Dask round trip costs milliseconds: fewer, larger chunks
    assert [len(c) for c in plan_chunks(specs, SerialExecutor(), chunk_size=7)][:2] == [7, 7]


def test_executor_names():
    assert isinstance(make_executor("serial"), SerialExecutor)
    assert make_executor("processes", workers=3).workers == 3
    with pytest.raises(InputError, match="did you mean 'processes'"):
        make_executor("process")
    with pytest.raises(InputError, match="at least 1"):
        make_executor("processes", workers=0)
    with pytest.raises(InputError, match="--scheduler is for the dask executor"):
        make_executor("processes", scheduler="tcp://127.0.0.1:8786")


def test_missing_dask_is_a_clear_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(InputError) as info:
        make_executor("dask", workers=2)
    text = info.value.render()
    assert "not installed" in text and "pip install 'nhisim[dask]'" in text


@pytest.mark.parametrize("command", ["sweep", "compare"])
def test_a_dead_worker_process_is_a_clear_error_not_a_traceback(command, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(FAIL_RUNS_ENV, "exit:zsp/1")  # the worker running zsp, replication 1 dies
    argv = ([*CLI_SMALL, "--out", str(tmp_path / "sweep"), "-q"] if command == "sweep" else
            ["compare", str(SCENARIO), "--strategies", "rbac,zsp", "-r", "2", "--set", "run.horizon=2h"])
    code, out, err = run_cli([*argv, "--executor", "processes", "--workers", "2"], capsys)
    assert code == 1 and "error:" in err and "a worker process died" in err
    assert "Traceback" not in out + err



def _start_script(path: Path, text: str):
    """Run ``text`` as a Python script in a session of its own (this checkout importable), pipes open."""
    import subprocess

    path.write_text(text)
    return subprocess.Popen([sys.executable, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})


def _finished(proc, timeout: float) -> tuple[str, str]:
    """A script's (stdout, stderr) once it exits; if it does not within ``timeout`` s, a failure that
    shows every thread's stack (the scripts dump them on SIGUSR1), and the script killed."""
    import signal
    import subprocess

    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)
        try:
            _, stderr = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, stderr = proc.communicate()
        pytest.fail(f"the process did not exit: {stderr[-4000:]}")


HALF_SENT = """
import faulthandler, os, signal, struct, sys, time
from nhisim import interrupt
faulthandler.register(signal.SIGUSR1, all_threads=True)  # the test asks for every thread's stack if it hangs
from nhisim.experiments.executors import ProcessExecutor, using_executor

def half_sent(shared, task):
    if task == 0:  # die halfway through sending a result, as a worker killed by a signal may
        frame = sys._getframe()
        while frame is not None and "result_queue" not in frame.f_locals:
            frame = frame.f_back
        if frame is None:
            print("no results queue", flush=True)
            os._exit(3)
        frame.f_locals["result_queue"]._writer._send(struct.pack("!i", 1 << 20) + b"half")
        print("half sent", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)

interrupt.install()
try:
    with using_executor(ProcessExecutor(workers=2), owned=True) as executor:
        print("working", flush=True)
        for _ in executor.imap_unordered(half_sent, range(2)):
            pass
except KeyboardInterrupt:
    print("stopped", flush=True)
"""


@pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")
def test_a_worker_dead_halfway_through_a_result_does_not_hold_the_command_at_exit(tmp_path):
    """A worker killed while it writes its result leaves half a message in the pool's results pipe.
    The command, stopped by SIGTERM, exits with its code: the pool's own thread no longer waits for
    the rest of the message (for ever: the command's exit waited on it, one run in dozens)."""
    import signal

    proc = _start_script(tmp_path / "half_sent.py", HALF_SENT)
    try:
        assert proc.stdout.readline().strip() == "working"
        told = proc.stdout.readline().strip()  # the first worker sends half its result and dies
        if told == "no results queue":
            pytest.skip("this Python's pool workers keep their results queue elsewhere")
        assert told == "half sent", told + proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = _finished(proc, 30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0 and stdout.strip() == "stopped", stdout + stderr


INTERRUPTED_POOL = """
import faulthandler, os, signal, time
from nhisim import interrupt
faulthandler.register(signal.SIGUSR1, all_threads=True)
from nhisim.experiments.executors import ProcessExecutor, using_executor

def slow(shared, task):
    time.sleep(0.5)
    return task

big = b"x" * 2_000_000  # each task's payload overfills the pipe to the workers
interrupt.install()
try:
    # a wide window: many tasks wait unsent in the pool, as a few do on a busy machine
    with using_executor(ProcessExecutor(workers=2, window=8), owned=True) as executor:
        try:
            for i, _ in executor.imap_unordered(slow, range(40), big):
                os.killpg(0, signal.SIGTERM)  # as a service manager stops a command: its whole group
                time.sleep(5)
        finally:
            time.sleep(0.3)  # the command winds down (a progress bar stops) before the pool is stopped
except KeyboardInterrupt:
    print("stopped", flush=True)
"""


@pytest.mark.skipif(os.name != "posix", reason="needs POSIX process groups")
def test_a_pool_whose_workers_die_with_the_command_lets_it_exit(tmp_path):
    """SIGTERM to the command's process group while tasks wait in the pool: the workers die, the
    command stops, and its process exits at once with nothing on stderr (the pool's own thread
    does not crash on work the command dropped, and exit does not wait on a pipe to a dead worker)."""

    proc = _start_script(tmp_path / "interrupted_pool.py", INTERRUPTED_POOL)
    stdout, stderr = _finished(proc, 60)
    assert proc.returncode == 0 and stdout.strip() == "stopped", stdout + stderr
    assert stderr == "", stderr
