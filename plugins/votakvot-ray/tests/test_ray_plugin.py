"""Trials run in real Ray tasks and actors (`ray.init(num_cpus=2)`) record the task id, actor id,
node and attempt in `meta.ray`; the driver's own trials and processes without Ray record none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import ray_tasks

import votakvot
import votakvot.testing

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

TESTS = str(Path(__file__).resolve().parent)


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Runs each test in its own folder with votakvot's process-wide state reset."""
    monkeypatch.delenv("VOTAKVOT_PATH", raising=False)
    monkeypatch.delenv("VOTAKVOT_PLUGINS", raising=False)
    monkeypatch.chdir(tmp_path)
    votakvot.testing.reset()
    yield
    votakvot.testing.reset()


@pytest.fixture(scope="module")
def ray_session(tmp_path_factory: pytest.TempPathFactory):
    """A local Ray of 2 CPUs for the module, whose workers import the tests' tasks, in an empty folder."""
    workers_cwd = tmp_path_factory.mktemp("ray-workers")
    env = {"PYTHONPATH": os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")])}
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("VOTAKVOT_SETTINGS", raising=False)
        patch.chdir(workers_cwd)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    try:
        yield workers_cwd
    finally:
        ray.shutdown()


def _trials(root: str, prefix: str) -> list[votakvot.Trial]:
    return [t for tid, t in votakvot.load_trials(root).items() if tid.startswith(prefix)]


def test_a_task_records_its_id_node_and_first_attempt(ray_session, tmp_path):
    """A tracked call run in a Ray task records that task's id, the node, attempt 1 and no actor."""
    root = str(tmp_path / "results")
    votakvot.init(path=root)
    call = ray.remote(ray_tasks.call)
    with votakvot.trial("sweep") as sweep:
        results = ray.get([call.remote(ray_tasks.square, x) for x in (2, 3)])
    trials = {t.params["x"]: t for t in _trials(root, "ray_tasks/square/")}
    for (value, task, node), x in zip(results, (2, 3), strict=True):
        assert value == x * x
        meta = trials[x].meta["ray"]
        assert meta == {"task_id": task, "node_id": node, "attempt": 1}
        assert trials[x].data["parent"] == sweep.tid
    assert results[0][1] != results[1][1]
    assert results[0][2] == ray.get_runtime_context().get_node_id()
    assert "ray" not in sweep.meta  # the driver runs no task
    assert list(ray_session.iterdir()) == []


def test_a_retried_task_leaves_one_trial_per_attempt(ray_session, tmp_path):
    """A task that raises twice and is retried (retry_exceptions) leaves three trials of one task
    id: attempts 1, 2, 3 ending failed, failed, done."""
    root = str(tmp_path / "results")
    votakvot.init(path=root)
    call = ray.remote(max_retries=2, retry_exceptions=True)(ray_tasks.call)
    value, task, _ = ray.get(call.remote(ray_tasks.flaky, 7, str(tmp_path / "marker"), 2))
    assert value == 7
    trials = _trials(root, "ray_tasks/flaky/")
    assert sorted((t.meta["ray"]["attempt"], t.status) for t in trials) == [(1, "failed"), (2, "failed"), (3, "done")]
    assert {t.meta["ray"]["task_id"] for t in trials} == {task}


def test_an_actor_method_records_the_actor_and_the_call(ray_session, tmp_path):
    """A trial opened in an actor method records the actor's id and that call's own task id."""
    root = str(tmp_path / "results")
    counter = ray.remote(ray_tasks.Counter).remote(root)
    calls = [ray.get(counter.step.remote()) for _ in range(2)]
    trials = sorted(_trials(root, "actor-step/"), key=lambda t: t.params["count"])
    assert [(t.meta["ray"]["actor_id"], t.meta["ray"]["task_id"]) for t in trials] == [tuple(c) for c in calls]
    assert calls[0][0] == calls[1][0] and calls[0][1] != calls[1][1]
    assert all(t.meta["ray"]["attempt"] == 1 for t in trials)


def test_outside_ray_the_providers_record_nothing_and_import_nothing(tmp_path):
    """A process that never imported ray gets no `ray` meta, and opening trials there (the entry
    point installed and loaded) does not import ray."""
    code = (
        "import json, sys, votakvot, votakvot.meta\n"
        f"votakvot.init(path={str(tmp_path / 'results')!r})\n"
        "with votakvot.trial('t') as t:\n"
        "    pass\n"
        "print(json.dumps({'installed': 'ray.task_id' in votakvot.meta.providers, 'ray': 'ray' in t.meta,\n"
        "                  'imported': 'ray' in sys.modules}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert json.loads(done.stdout) == {"installed": True, "ray": False, "imported": False}
