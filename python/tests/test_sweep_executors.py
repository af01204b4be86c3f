"""``bilens.sweep`` fanned out, one task per run, to a ProcessPoolExecutor and to Ray with two
local workers gives the serial sweep's rows; a worker killed with SIGKILL mid-run loses
nothing and duplicates nothing (issue 21)."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import threading
import time
from pathlib import Path

import pytest

import bilens
from conftest import REPO, skip

TINY = REPO / "examples" / "sweeps" / "tiny.toml"


def quiet(_line: str) -> None:
    pass


def without_timings(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if "seconds" not in k} for row in rows]


def stage_locks(out: Path) -> list[Path]:
    """Stage locks left in ``out`` (``.bilens.lock``, the folder's own, stays)."""
    return [p for p in [*(out / "runs").glob(".*.lock"), *out.glob(".*.lock")] if p.name != ".bilens.lock"]


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> list[dict]:
    """The rows of the sweep in this process (two threads, as every sweep here: the base
    model's weights depend on the thread count)."""
    return without_timings(bilens.sweep(TINY, tmp_path_factory.mktemp("serial"), threads=2, log=quiet))


def killing_a_worker(out: Path, sweep) -> list[dict]:
    """Runs ``sweep()`` in a thread, SIGKILLs the first worker seen holding a run's lock (a
    worker mid-run), and returns the sweep's rows."""
    done: dict = {}

    def call() -> None:
        try:
            done["rows"] = sweep()
        except BaseException as e:  # raised in the test's thread below
            done["error"] = e

    thread = threading.Thread(target=call)
    thread.start()
    killed = None
    while killed is None and thread.is_alive():
        for lock in (out / "runs").glob(".*.lock"):
            try:
                holder = dict(field.split("=", 1) for field in lock.read_text().split())
                pid = int(holder["pid"])
            except (OSError, ValueError, KeyError):
                continue  # released, or not written yet
            if pid != os.getpid():
                os.kill(pid, signal.SIGKILL)
                killed = pid
                break
        time.sleep(0.002)
    thread.join()
    if "error" in done:
        raise done["error"]
    assert killed is not None, "no worker was seen mid-run"
    return done["rows"]


def test_process_pool_gives_the_serial_rows(tmp_path, serial):
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        rows = bilens.sweep(TINY, tmp_path, threads=2, executor=pool, log=quiet)
    assert without_timings(rows) == serial
    assert stage_locks(tmp_path) == []


def test_a_process_pool_worker_killed_mid_run_loses_nothing(tmp_path, serial):
    lines: list[str] = []
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        rows = killing_a_worker(tmp_path, lambda: bilens.sweep(TINY, tmp_path, threads=2, executor=pool, log=lines.append))
    assert any("the finishing sweep redoes it" in line for line in lines), lines
    assert without_timings(rows) == serial
    assert stage_locks(tmp_path) == []


def test_bad_executors_are_clear_errors(tmp_path):
    with pytest.raises(TypeError, match="concurrent.futures.Executor"):
        bilens.sweep(TINY, tmp_path, executor="dask")
    assert not (tmp_path / "base").exists(), "refused before the base model is trained"
    with pytest.raises(ValueError, match="one process's share"):
        bilens.sweep(TINY, tmp_path, shard="0/2", executor=concurrent.futures.ThreadPoolExecutor(1))
    with pytest.raises(bilens.BilensError, match="counted from 0"):
        bilens.sweep(TINY, tmp_path, shard="2/2")
    with pytest.raises(bilens.BilensError, match="no run nope"):
        bilens.sweep(TINY, tmp_path, runs=["nope"])


@pytest.fixture(scope="module")
def ray():
    """A local Ray cluster of two workers, or a visible skip."""
    try:
        import ray
    except ImportError:
        skip("ray", 'Ray is not installed (pip install "bilens[ray]"; scripts/test_python.sh installs it when it can)')
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 2**20)
    yield ray
    ray.shutdown()


def test_ray_gives_the_serial_rows(tmp_path, serial, ray):
    rows = bilens.sweep(TINY, tmp_path, threads=2, executor="ray", log=quiet)
    assert without_timings(rows) == serial
    assert stage_locks(tmp_path) == []


def test_a_ray_worker_killed_mid_run_loses_nothing(tmp_path, serial, ray):
    rows = killing_a_worker(tmp_path, lambda: bilens.sweep(TINY, tmp_path, threads=2, executor="ray", log=quiet))
    assert without_timings(rows) == serial
    assert stage_locks(tmp_path) == []
