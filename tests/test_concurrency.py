"""Trials running at the same time in threads and asyncio tasks never mix their data."""

from __future__ import annotations

import asyncio
import threading
import time

import fsspec

import votakvot

FAST = {"heartbeat": 0.2, "flush_interval": 0.1}
WORKERS = 8
STEPS = 25


def _read(url: str) -> bytes:
    fs, path = fsspec.core.url_to_fs(url)
    return fs.cat_file(path)


def _check_each_trial_holds_only_its_own_data(root: str, name: str) -> None:
    trials = [t for tid, t in votakvot.load_trials(root).items() if tid.startswith(f"{name}/")]
    assert len(trials) == WORKERS
    assert sorted(t.params["worker"] for t in trials) == list(range(WORKERS))
    for trial in trials:
        worker = trial.params["worker"]
        assert trial.status == "done"
        assert dict(trial.params) == {"worker": worker, "label": f"w{worker}"}
        assert dict(trial.info) == {"worker_seen": worker, "last_step": STEPS - 1, f"only_{worker}": True}
        assert trial.result == {"worker": worker, "total": worker * STEPS}
        metrics = trial.metrics()
        assert list(metrics["worker"]) == [worker] * STEPS
        assert list(metrics["i"]) == list(range(STEPS))
        assert list(metrics["step"]) == list(range(STEPS))
        assert _read(f"{trial.path}/who.txt").decode() == f"worker {worker}"
        assert {name for name in trial.attached if not name.startswith("metrics")} == {"who.txt"}


def test_threads_running_trials_keep_their_data_apart(root):
    """8 threads each running a trial at the same time: every trial's files hold exactly its own data."""
    votakvot.init(path=root, **FAST)
    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            with votakvot.trial("threads", worker=worker, label=f"w{worker}") as t:
                barrier.wait(timeout=10)
                for i in range(STEPS):
                    votakvot.inform(worker_seen=worker, last_step=i)
                    votakvot.meter(worker=worker, i=i)
                    time.sleep(0.001)  # stays: lets the other threads in between steps
                votakvot.inform(**{f"only_{worker}": True})
                with votakvot.attach("who.txt") as f:
                    f.write(f"worker {worker}")
                barrier.wait(timeout=10)
                t.result = {"worker": worker, "total": worker * STEPS}
        except BaseException as e:  # reported below, in the test's own thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    _check_each_trial_holds_only_its_own_data(root, "threads")


def test_asyncio_tasks_running_trials_keep_their_data_apart(root):
    """8 asyncio tasks each running a trial, interleaved at every step: no trial sees another's data."""
    votakvot.init(path=root, **FAST)

    async def work(worker: int) -> None:
        with votakvot.trial("tasks", worker=worker, label=f"w{worker}") as t:
            await asyncio.sleep(0)  # these stay: each yields to the other tasks, to interleave them
            for i in range(STEPS):
                votakvot.inform(worker_seen=worker, last_step=i)
                votakvot.meter(worker=worker, i=i)
                await asyncio.sleep(0)
            votakvot.inform(**{f"only_{worker}": True})
            with votakvot.attach("who.txt") as f:
                f.write(f"worker {worker}")
            await asyncio.sleep(0)
            assert votakvot.current() is t
            t.result = {"worker": worker, "total": worker * STEPS}

    async def main() -> None:
        await asyncio.gather(*(work(w) for w in range(WORKERS)))

    asyncio.run(main())
    _check_each_trial_holds_only_its_own_data(root, "tasks")


def test_threads_with_nested_trials_keep_their_data_apart(local_root):
    """Nested trials in several threads at once: each inner trial gets its thread's inner data only."""
    votakvot.init(path=local_root, **FAST)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            with votakvot.trial("outer", worker=worker):
                votakvot.inform(level="outer", worker=worker)
                with votakvot.trial("inner", worker=worker):
                    barrier.wait(timeout=10)
                    votakvot.inform(level="inner", worker=worker)
                    barrier.wait(timeout=10)
                votakvot.meter(after_inner=worker)
        except BaseException as e:  # reported below, in the test's own thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    trials = votakvot.load_trials(local_root).values()
    assert len(trials) == 8
    for trial in trials:
        level = trial.tid.split("/", 1)[0]
        assert dict(trial.info) == {"level": level, "worker": trial.params["worker"]}
        if level == "outer":
            assert list(trial.metrics()["after_inner"]) == [trial.params["worker"]]
        else:
            assert trial.metrics().empty
