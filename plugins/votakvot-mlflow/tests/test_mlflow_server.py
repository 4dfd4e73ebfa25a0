# ruff: noqa: F811  (pytest fixtures are imported from mlflow_bridge_fixtures and named as arguments)
"""The bridge and the import against a real `mlflow server` on 127.0.0.1 (MLflow's REST client,
artifacts uploaded through the server)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import votakvot_mlflow
from mlflow_bridge_fixtures import clean, empty_database, free_port  # noqa: F401  (fixtures used by name)

import votakvot

pytestmark = pytest.mark.slow

STARTUP_TIMEOUT = 90


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(empty_database: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An `mlflow server` (sqlite backend, artifacts served by it) on a free local port."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    shutil.copyfile(empty_database, folder / "mlflow.db")
    port = free_port()
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination", str(folder / "artifacts"),
    ]  # fmt: skip
    log = (folder / "server.log").open("wb")
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no job runner: nothing here uses it
    process = subprocess.Popen(
        command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not start:\n{(folder / 'server.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_the_bridge_mirrors_into_a_tracking_server(server: str, monkeypatch, tmp_path: Path):
    """Params, 3,000 metric rows (more than one REST batch), the result and an attached file
    reach the server; the artifact is uploaded through it."""
    import mlflow

    monkeypatch.setenv(votakvot_mlflow.ENV, server)
    votakvot.init(path=str(tmp_path / "results"), heartbeat=0.2, flush_interval=0.1)
    with votakvot.trial("served", lr=0.01) as t:
        for step in range(3000):
            t.meter(loss=1.0 / (step + 1))
        with t.attach("curve.csv") as f:
            f.write("step,loss\n0,1.0\n")
        t.result = 0.5
    assert votakvot_mlflow.flush(120)
    client = mlflow.MlflowClient(server)
    experiment = client.get_experiment_by_name("served")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED" and run.data.params == {"lr": "0.01"}
    assert run.data.metrics["result"] == 0.5
    history = client.get_metric_history(run.info.run_id, "loss")
    assert sorted(m.step for m in history) == list(range(3000))
    local = client.download_artifacts(run.info.run_id, "curve.csv", str(tmp_path / "download"))
    assert Path(local).read_text() == "step,loss\n0,1.0\n"
    assert run.data.tags["votakvot.tid"] == t.tid


def test_import_runs_from_a_tracking_server(server: str, tmp_path: Path):
    """Runs logged to a server come into votakvot with their history and artifacts."""
    import mlflow
    from mlflow.entities import Metric

    client = mlflow.MlflowClient(server)
    experiment_id = client.create_experiment("from-server")
    run = client.create_run(experiment_id, start_time=1_700_000_000_000)
    client.log_param(run.info.run_id, "batch", "64")
    client.log_batch(run.info.run_id, metrics=[Metric("acc", i / 10, 1_700_000_000_000 + i, i) for i in range(5)])
    note = tmp_path / "note.txt"
    note.write_text("from the server")
    client.log_artifact(run.info.run_id, str(note))
    client.set_terminated(run.info.run_id, end_time=1_700_000_005_000)

    summary = votakvot_mlflow.import_runs(server, tmp_path / "results", ["from-server"], artifacts=True)
    (tid,) = summary.imported
    trial = votakvot.load_trials(str(tmp_path / "results"))[tid]
    assert trial.params == {"batch": 64} and trial.result == {"acc": 0.4}
    assert list(trial.metrics()["acc"]) == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert (Path(trial.path) / "artifacts" / "note.txt").read_text() == "from the server"
