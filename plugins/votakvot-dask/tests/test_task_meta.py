"""Trials run in tasks of a real Dask cluster (two worker processes) record their task key, worker
address, run and attempt in `meta.dask`, and a fan-out from a driver trial is grouped under it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import dask
import dask.bag
import dask_tasks
import pytest
import votakvot_dask
from dask_support import _clean_votakvot, client, wait_until, workers_cwd  # noqa: F401 - fixtures

import votakvot

pytestmark = pytest.mark.slow


@pytest.fixture
def counted(client):  # noqa: F811 - the fixture imported above
    """The module's client with attempts counted for the test (and not after it)."""
    votakvot_dask.count_attempts(client)
    yield client
    client.unregister_scheduler_plugin(votakvot_dask.AttemptCounter.name)


def _trials(root: str, prefix: str) -> list[votakvot.Trial]:
    """The trials below `root` whose tid starts with `prefix`, oldest first."""
    return [t for tid, t in votakvot.load_trials(root).items() if tid.startswith(prefix)]


def test_trials_in_tasks_record_the_task_key_worker_and_run(client, tmp_path, workers_cwd):  # noqa: F811
    """Each tracked call run by a worker records its task's key, its worker's address and the
    scheduler's run number; the driver's own trial records no `dask` meta."""
    root = str(tmp_path / "results")
    votakvot.init(path=root)
    with votakvot.trial("sweep") as sweep:
        futures = client.map(dask_tasks.square, [1, 2, 3, 4])
        assert client.gather(futures) == [1, 4, 9, 16]
    trials = {t.params["x"]: t for t in _trials(root, "dask_tasks/square/")}
    workers = set(client.scheduler_info()["workers"])
    for future, x in zip(futures, [1, 2, 3, 4], strict=True):
        dask_meta = trials[x].meta["dask"]
        assert dask_meta["key"] == future.key
        assert dask_meta["worker"] in workers
        assert isinstance(dask_meta["run_id"], int)
        assert "attempt" not in dask_meta  # nobody counts attempts here
    assert len({t.meta["dask"]["run_id"] for t in trials.values()}) == 4
    assert "dask" not in sweep.meta
    assert list(workers_cwd.iterdir()) == []


def test_a_retried_task_leaves_one_trial_per_attempt_told_apart(counted, tmp_path):
    """With attempts counted, a task that fails twice and is retried leaves three trials of one
    key: attempts 1, 2, 3 with increasing runs, failed, failed, done."""
    root = str(tmp_path / "results")
    votakvot.init(path=root)
    future = counted.submit(dask_tasks.flaky, 7, str(tmp_path / "marker"), 2, retries=2, pure=False)
    assert future.result() == 7
    trials = _trials(root, "dask_tasks/flaky/")
    metas = sorted((t.meta["dask"] for t in trials), key=lambda m: m["attempt"])
    assert [m["attempt"] for m in metas] == [1, 2, 3]
    assert {m["key"] for m in metas} == {future.key}
    assert [m["run_id"] for m in metas] == sorted({m["run_id"] for m in metas})
    by_attempt = {t.meta["dask"]["attempt"]: t.status for t in trials}
    assert by_attempt == {1: "failed", 2: "failed", 3: "done"}


def test_a_result_lost_with_its_worker_is_computed_again_as_the_next_attempt(counted, tmp_path):
    """The duplicate `done` trial of a task computed again after its worker died is attempt 2 of
    the same key, on another worker; the first run's trial stays attempt 1."""
    root = str(tmp_path / "results")
    votakvot.init(path=root)
    future = counted.submit(dask_tasks.square, 5, pure=False)
    assert future.result() == 25
    (holder,) = counted.who_has([future])[future.key]
    os.kill(counted.run(os.getpid, workers=[holder])[holder], signal.SIGKILL)
    assert wait_until(lambda: holder not in counted.scheduler_info()["workers"])
    assert future.result() == 25  # computed again on the other worker
    trials = _trials(root, "dask_tasks/square/")
    assert [t.status for t in trials] == ["done", "done"]
    metas = [t.meta["dask"] for t in trials]
    assert [m["attempt"] for m in metas] == [1, 2]
    assert {m["key"] for m in metas} == {future.key}
    assert metas[0]["worker"] == holder != metas[1]["worker"]
    assert wait_until(lambda: len(counted.scheduler_info()["workers"]) == 2)  # the nanny brought one back


def test_a_key_submitted_again_after_it_was_forgotten_starts_at_attempt_1(counted, tmp_path):
    """The count lives with the task: once the scheduler forgets a key, running it again is attempt 1."""
    root = str(tmp_path / "results")
    votakvot.init(path=root)
    first = counted.submit(dask_tasks.square, 6, key="square-6")
    assert first.result() == 36
    del first

    def forgotten() -> bool:
        return "square-6" not in counted.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.tasks))

    assert wait_until(forgotten)
    assert counted.submit(dask_tasks.square, 6, key="square-6").result() == 36
    assert [t.meta["dask"]["attempt"] for t in _trials(root, "dask_tasks/square/")] == [1, 1]


def test_a_trial_opened_in_a_task_reads_its_dask_meta_from_inside(client, tmp_path):  # noqa: F811
    """The values are there while the trial runs (collected at its start, in the task's thread)."""
    votakvot.init(path=str(tmp_path / "results"))
    future = client.submit(dask_tasks.meta_of_my_trial, pure=False)
    got = future.result()
    assert got["key"] == future.key and got["worker"] in client.scheduler_info()["workers"]


def test_a_fan_out_is_grouped_under_the_driver_trial(client, tmp_path, workers_cwd):  # noqa: F811
    """Tracked calls sent by client.map, dask.delayed and dask.bag, carried user code opening its
    own trials and explicit ids, and a nested fan-out from a task all land under the driver trial."""
    root = str(tmp_path / "results")
    votakvot.init(path=root, sinks=["yaml"])
    with votakvot.trial("sweep") as sweep:
        assert client.gather(client.map(dask_tasks.square, [1, 2])) == [1, 4]
        assert dask.compute(*(dask.delayed(dask_tasks.square)(x) for x in [3, 4])) == (9, 16)
        assert dask.bag.from_sequence([5, 6], npartitions=2).map(dask_tasks.square).compute() == [25, 36]
        by_hand = client.gather(client.map(votakvot.carry(dask_tasks.opens_trials), [7, 8]))
        nested = client.submit(dask_tasks.fans_out, [9, 10]).result()
    assert nested == [81, 100]
    rep = votakvot.load_report(root, full=True)
    children = rep[rep.parent == sweep.tid]
    assert sorted(children.loc[children.tid.str.startswith("dask_tasks/square/"), "x"]) == [1, 2, 3, 4, 5, 6]
    assert sorted(children.loc[children.tid.str.startswith("by-hand/"), "tid"]) == sorted(by_hand)
    assert sorted(children.loc[children.tid.str.startswith("resumable/"), "tid"]) == ["resumable/7", "resumable/8"]
    (outer,) = children.loc[children.tid.str.startswith("dask_tasks/fans_out/"), "tid"]
    assert sorted(rep.loc[rep.parent == outer, "x"]) == [9, 10]
    assert len(rep) == 1 + 6 + 2 + 2 + 1 + 2
    assert list(workers_cwd.iterdir()) == []  # nothing missed the root


def test_count_attempts_takes_a_client():
    """Anything but a distributed.Client is a TypeError naming what was given."""
    with pytest.raises(TypeError, match=re.escape("takes a distributed.Client, not 'tcp://127.0.0.1:8786'")):
        votakvot_dask.count_attempts("tcp://127.0.0.1:8786")  # type: ignore[arg-type]


def test_outside_dask_the_providers_record_nothing_and_import_nothing(tmp_path):
    """A process that never imported distributed gets no `dask` meta, and opening trials there
    (the entry point installed and loaded) does not import distributed or dask."""
    code = (
        "import json, sys, votakvot\n"
        f"votakvot.init(path={str(tmp_path / 'results')!r})\n"
        "with votakvot.trial('t') as t:\n"
        "    pass\n"
        "import votakvot.meta\n"
        "print(json.dumps({'installed': 'dask.key' in votakvot.meta.providers, 'dask': 'dask' in t.meta,\n"
        "                  'imported': sorted(m for m in ('distributed', 'dask') if m in sys.modules)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert json.loads(done.stdout) == {"installed": True, "dask": False, "imported": []}


def test_providers_read_nothing_on_a_driver_with_distributed_imported(client, tmp_path):  # noqa: F811
    """On the driver (distributed imported, a client connected) a trial has no `dask` meta."""
    votakvot.init(path=str(tmp_path / "results"))
    with votakvot.trial("driver") as t:
        pass
    assert "dask" not in t.meta
    assert Path(t.path).exists()
