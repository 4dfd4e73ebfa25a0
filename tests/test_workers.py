"""Settings reach the processes where tracked code runs: real pools, joblib's loky, a real Dask
`LocalCluster` with worker processes, and Ray where it is installed."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import votakvot
import worker_tasks
from conftest import SRC

pytestmark = pytest.mark.slow

TESTS = str(Path(__file__).resolve().parent)
ITEMS = list(range(6))


@pytest.fixture(autouse=True)
def _importable_tasks(monkeypatch: pytest.MonkeyPatch):
    """Worker processes import `worker_tasks` (and votakvot from this checkout) by name."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([TESTS, SRC, os.environ.get("PYTHONPATH", "")]))


def _worker_trials(root: str) -> list[votakvot.Trial]:
    """The trials of worker_tasks.work below `root`."""
    return [t for tid, t in votakvot.load_trials(root).items() if tid.startswith("worker_tasks/work/")]


def _assert_all_landed(root: str, tmp_path: Path, *, count: int, parent: str | None) -> list[votakvot.Trial]:
    """Every call made a trial in the root, none in the workers' current folder, from other processes."""
    trials = _worker_trials(root)
    assert len(trials) == count
    assert {t.status for t in trials} == {"done"}
    assert all(t.result["pid"] != os.getpid() for t in trials)
    assert {t.data.get("parent") for t in trials} == {parent}
    assert not (tmp_path / "worker_tasks").exists()
    return trials


def _pool_map(kind: str, fn, items):
    if kind in ("spawn", "forkserver"):
        with multiprocessing.get_context(kind).Pool(2) as pool:
            return pool.map(fn, items)
    if kind == "process-pool":
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as executor:
            return list(executor.map(fn, items))
    joblib = pytest.importorskip("joblib")
    return joblib.Parallel(n_jobs=2, backend="loky")(joblib.delayed(fn)(i) for i in items)


@pytest.mark.parametrize("kind", ["spawn", "forkserver", "process-pool", "loky"])
def test_tracked_calls_in_pools_land_in_the_root_with_the_driver_trial_as_parent(kind, tmp_path):
    """init on the driver is enough: every tracked call run by a pool lands in the root, with the
    driver's settings (here: no metrics sink) and the driver's open trial as its parent."""
    root = str(tmp_path / "results")
    votakvot.init(path=root, sinks=["yaml"])
    with votakvot.trial("sweep") as sweep:
        results = _pool_map(kind, worker_tasks.work, ITEMS)
    assert [r["x"] for r in results] == ITEMS
    trials = _assert_all_landed(root, tmp_path, count=len(ITEMS), parent=sweep.tid)
    assert all("metrics.csv" not in t.attached for t in trials)


@pytest.mark.parametrize("kind", ["spawn", "loky"])
def test_trials_opened_by_user_code_in_workers_started_after_init_land_in_the_root(kind, tmp_path):
    """`with votakvot.trial` inside a task of a pool started after init goes to the root
    ($VOTAKVOT_SETTINGS, inherited by the workers)."""
    root = tmp_path / "results"
    votakvot.init(path=str(root))
    if kind == "loky":  # loky keeps its workers between calls: start new ones
        pytest.importorskip("joblib.externals.loky").get_reusable_executor().shutdown(wait=True)
    paths = _pool_map(kind, worker_tasks.open_trial, [1, 2])
    assert all(p.startswith(str(root) + os.sep) for p in paths)
    assert len(votakvot.load_trials(str(root))) == 2
    assert not (tmp_path / "inside-task").exists()


@pytest.mark.parametrize("kind", ["spawn", "loky"])
def test_carried_plain_functions_bring_settings_and_parent_to_user_trials(kind, tmp_path, monkeypatch):
    """`votakvot.carry(fn)` sent from a driver trial: trials fn opens itself in pool workers land in
    the root with the driver's settings (the environment carries none) and its trial as parent."""
    root = tmp_path / "results"
    votakvot.init(path=str(root), sinks=["yaml"])
    monkeypatch.delenv("VOTAKVOT_SETTINGS")
    if kind == "loky":  # loky keeps its workers between calls: start new ones, without the settings
        pytest.importorskip("joblib.externals.loky").get_reusable_executor().shutdown(wait=True)
    with votakvot.trial("sweep") as sweep:
        paths = _pool_map(kind, votakvot.carry(worker_tasks.open_trial), [1, 2])
    assert all(p.startswith(str(root) + os.sep) for p in paths)
    trials = [t for tid, t in votakvot.load_trials(str(root)).items() if tid.startswith("inside-task/")]
    assert len(trials) == 2
    assert {t.data.get("parent") for t in trials} == {sweep.tid}
    assert not (tmp_path / "inside-task").exists()


def test_pool_initializer_recipe_applies_the_driver_settings(tmp_path, monkeypatch):
    """`Pool(initializer=votakvot.settings().apply)` gives workers the driver's settings even
    where the environment does not carry them."""
    root = tmp_path / "results"
    votakvot.init(path=str(root))
    monkeypatch.delenv("VOTAKVOT_SETTINGS")
    with multiprocessing.get_context("spawn").Pool(2, initializer=votakvot.settings().apply) as pool:
        paths = pool.map(worker_tasks.open_trial, [1, 2])
    assert all(p.startswith(str(root) + os.sep) for p in paths)
    assert not (tmp_path / "inside-task").exists()


@pytest.fixture
def dask_client():
    """A real Dask cluster of two worker processes, started before any votakvot.init."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_dask_cluster_started_before_init_and_restarted(dask_client, tmp_path):
    """Tracked calls on a Dask cluster that was running before init land in the root, with the
    driver's settings and parent, and still do after client.restart()."""
    root = str(tmp_path / "results")
    votakvot.init(path=root, sinks=["yaml"])
    with votakvot.trial("sweep") as sweep:
        first = dask_client.gather(dask_client.map(worker_tasks.work, ITEMS))
    dask_client.restart()
    second = dask_client.gather(dask_client.map(worker_tasks.work, ITEMS, pure=False))
    assert {r["x"] for r in first + second} == set(ITEMS)
    trials = _worker_trials(root)
    assert len(trials) == 2 * len(ITEMS)
    assert sorted(t.data.get("parent") or "" for t in trials) == [""] * len(ITEMS) + [sweep.tid] * len(ITEMS)
    assert all(t.result["pid"] != os.getpid() and "metrics.csv" not in t.attached for t in trials)
    assert not (tmp_path / "worker_tasks").exists()


def test_dask_worker_callback_recipe_covers_user_trials_and_restarts(dask_client, tmp_path):
    """`client.register_worker_callbacks(votakvot.settings().apply)` sends `with votakvot.trial`
    in tasks of an already running cluster to the root, also after a restart."""
    root = tmp_path / "results"
    votakvot.init(path=str(root))
    dask_client.register_worker_callbacks(votakvot.settings().apply)
    paths = dask_client.gather(dask_client.map(worker_tasks.open_trial, [1, 2]))
    os.environ.pop("VOTAKVOT_SETTINGS")  # restarted workers must not get them from the environment
    dask_client.restart()
    paths += dask_client.gather(dask_client.map(worker_tasks.open_trial, [3, 4]))
    assert all(p.startswith(str(root) + os.sep) for p in paths)
    assert len(votakvot.load_trials(str(root))) == 4
    assert not (tmp_path / "inside-task").exists()


def test_ray_tasks_land_in_the_root(tmp_path):
    """Ray: a tracked function handed to a task lands in the root with the driver trial as
    parent; user trials in tasks follow `runtime_env` with the settings' environment."""
    ray = pytest.importorskip("ray")
    root = tmp_path / "results"
    votakvot.init(path=str(root))
    env = {**votakvot.settings().environ(), "PYTHONPATH": os.environ["PYTHONPATH"]}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    try:
        call = ray.remote(worker_tasks.call)
        with votakvot.trial("sweep") as sweep:
            results = ray.get([call.remote(worker_tasks.work, i) for i in ITEMS])
        paths = ray.get([call.remote(worker_tasks.open_trial, i) for i in (1, 2)])
    finally:
        ray.shutdown()
    assert [r["x"] for r in results] == ITEMS
    _assert_all_landed(str(root), tmp_path, count=len(ITEMS), parent=sweep.tid)
    assert all(p.startswith(str(root) + os.sep) for p in paths)


def test_functions_of_a_main_script_travel_by_value_to_dask_and_by_reference_to_pools(tmp_path):
    """A script's own tracked function (in `__main__`) runs on spawn pools, loky and Dask with
    the driver's settings, named `__main__/...`, parented to the driver's trial."""
    pytest.importorskip("distributed")
    pytest.importorskip("joblib")
    script = tmp_path / "experiment.py"
    root = tmp_path / "results"
    script.write_text(
        textwrap.dedent(
            f"""
            import multiprocessing, os
            import votakvot

            @votakvot.track()
            def square(x):
                return x * x

            if __name__ == "__main__":
                votakvot.init(path={str(root)!r})
                with votakvot.trial("driver") as driver:
                    with multiprocessing.get_context("spawn").Pool(2) as pool:
                        assert pool.map(square, [1, 2]) == [1, 4]
                    import joblib
                    assert joblib.Parallel(n_jobs=2)(joblib.delayed(square)(i) for i in [3, 4]) == [9, 16]
                    from distributed import Client, LocalCluster
                    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
                        with Client(cluster) as client:
                            assert client.gather(client.map(square, [5, 6])) == [25, 36]
                print(driver.tid)
            """
        )
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=work, capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )
    assert proc.returncode == 0, proc.stderr
    driver = proc.stdout.strip().splitlines()[-1]
    trials = [t for tid, t in votakvot.load_trials(str(root)).items() if tid.startswith("__main__/square/")]
    assert sorted(t.result for t in trials) == [1, 4, 9, 16, 25, 36]
    assert {t.data.get("parent") for t in trials} == {driver}
    assert list(work.iterdir()) == []


def _blocked_signals(thread) -> int:
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads thread signal masks from /proc")
def test_helper_threads_leave_sigterm_to_the_main_thread(tmp_path):
    """votakvot's own threads block SIGTERM and SIGINT, so a pool worker that ran trials and now
    waits for work still dies on Pool.terminate() (taken by a helper thread, the signal would be
    noted but never acted on, and the pool would wait for that worker forever)."""
    import threading

    votakvot.init(path=str(tmp_path), meta_providers={"mine.pid": os.getpid}, system_metrics=0.05)
    with votakvot.trial("busy"):
        helpers = [t for t in threading.enumerate() if t.name.startswith("votakvot-")]
        masks = {t.name.split("-")[1]: _blocked_signals(t) for t in helpers}
    assert {"meta", "ticker", "system"} <= set(masks)
    wanted = (1 << (2 - 1)) | (1 << (15 - 1))  # SIGINT, SIGTERM
    assert all(mask & wanted == wanted for mask in masks.values()), masks
