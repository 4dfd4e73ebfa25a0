# ruff: noqa: F811  (pytest fixtures are imported from mlflow_bridge_fixtures and named as arguments)
"""import_runs copies real MLflow runs into votakvot trial folders that votakvot loads back,
and a second import adds only what is new."""

from __future__ import annotations

import datetime
import time
import uuid
from pathlib import Path

import fsspec
import pytest
import votakvot_mlflow
from mlflow.entities import Metric, Param
from mlflow_bridge_fixtures import Store, clean, empty_database, store  # noqa: F401  (fixtures used by name)

import votakvot
from votakvot.errors import SelectionError

T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC, in MLflow's milliseconds


def make_run(
    store: Store,
    experiment: str,
    *,
    params: dict[str, str] | None = None,
    metrics: dict[str, list[tuple[int, float, int]]] | None = None,
    tags: dict[str, str] | None = None,
    status: str | None = "FINISHED",
    start: int = T0,
    end: int | None = T0 + 90_500,
    artifacts: dict[str, bytes] | None = None,
    tmp: Path | None = None,
) -> str:
    """Logs a run the way MLflow users do (through the client) and returns its id."""
    client = store.client
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    run = client.create_run(experiment_id, start_time=start, tags=tags or {}, run_name="happy-fox")
    run_id = run.info.run_id
    points = [Metric(k, v, ts, step) for k, rows in (metrics or {}).items() for step, v, ts in rows]
    client.log_batch(run_id, metrics=points, params=[Param(k, v) for k, v in (params or {}).items()])
    for path, data in (artifacts or {}).items():
        assert tmp is not None
        local = tmp / "to-upload" / uuid.uuid4().hex / Path(path).name
        local.parent.mkdir(parents=True)
        local.write_bytes(data)
        client.log_artifact(run_id, str(local), str(Path(path).parent) if "/" in path else None)
    if status is not None:
        client.set_terminated(run_id, status=status, end_time=end)
    return run_id


def test_runs_become_trials_that_votakvot_loads(store: Store, tmp_path: Path):
    """Params (numbers back as numbers), the latest metric values as the result, the metric
    history as metric rows (`a/b` as the series `a`), tags as info, status, times, git and
    artifacts all come through; a run still running is left for later."""
    run_id = make_run(
        store,
        "churn",
        params={"lr": "0.001", "layers": "3", "opt": "adam", "early": "True", "seed": "None", "wd": "1e-05"},
        metrics={
            "loss": [(0, 0.9, T0 + 1000), (1, 0.5, T0 + 2000), (2, 0.25, T0 + 3000)],
            "val/auc": [(1, 0.7, T0 + 2000), (2, 0.8, T0 + 3000)],
        },
        tags={"team": "growth", "mlflow.source.git.commit": "abc123", "mlflow.source.git.branch": "main"},
        artifacts={"model/weights.bin": b"\x00\x01", "notes.txt": b"ok"},
        tmp=tmp_path,
    )
    failed_id = make_run(store, "churn", params={"lr": "1"}, status="FAILED", start=T0 + 100_000, end=T0 + 101_000)
    running_id = make_run(store, "churn", status=None, start=T0 + 200_000)

    summary = votakvot_mlflow.import_runs(store.uri, tmp_path / "results", artifacts=True)

    assert summary.running == [running_id]
    assert summary.existing == []
    started = datetime.datetime.fromtimestamp(T0 / 1000).astimezone()
    tids = sorted(summary.imported, key=lambda tid: tid.endswith(failed_id))
    assert tids[0] == f"churn/{started:%y-%m-%d}/{started:%H:%M:%S}/{run_id}"
    report = votakvot.load_report(str(tmp_path / "results"))
    assert list(report.tid) == tids
    done, failed = report.iloc[0], report.iloc[1]
    assert (done.status, failed.status) == ("done", "failed")
    assert failed.error == "the MLflow run ended FAILED"
    trial = done.trial
    assert trial.params == {"early": True, "layers": 3, "lr": 0.001, "opt": "adam", "seed": None, "wd": 1e-05}
    assert trial.result == {"loss": 0.25, "val/auc": 0.8}
    assert trial.info["team"] == "growth" and trial.info["mlflow.runName"] == "happy-fox"
    assert trial.meta.git.commit == "abc123" and trial.meta.git.branch == "main"
    assert trial.meta.mlflow.run_id == run_id and trial.meta.mlflow.experiment_name == "churn"
    assert done.created == started and done.duration == 90.5
    assert list(trial.metrics(series="")[["step", "time", "loss"]].itertuples(index=False, name=None)) == [
        (0, (T0 + 1000) / 1000, 0.9),
        (1, (T0 + 2000) / 1000, 0.5),
        (2, (T0 + 3000) / 1000, 0.25),
    ]
    assert list(trial.metrics(series="val")[["step", "auc"]].itertuples(index=False, name=None)) == [(1, 0.7), (2, 0.8)]
    folder = Path(trial.path)
    assert (folder / "artifacts" / "model" / "weights.bin").read_bytes() == b"\x00\x01"
    assert (folder / "artifacts" / "notes.txt").read_bytes() == b"ok"
    assert not (Path(failed.trial.path) / "artifacts").exists()


def test_a_second_import_writes_nothing_again(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Importing again (even in another time zone, which names folders differently) skips what
    is there; new runs, and runs that were running and have ended, come in."""
    first = make_run(store, "sweep", params={"x": "1"})
    running = make_run(store, "sweep", status=None, start=T0 + 5000)
    root = tmp_path / "results"
    one = votakvot_mlflow.import_runs(store.uri, root)
    assert len(one.imported) == 1 and one.running == [running]
    files_before = sorted(p for p in root.rglob("*") if p.is_file())

    monkeypatch.setenv("TZ", "Asia/Tokyo" if time.localtime().tm_gmtoff != 9 * 3600 else "America/New_York")
    time.tzset()
    try:
        again = votakvot_mlflow.import_runs(store.uri, root)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert again.imported == [] and again.existing == one.imported and again.running == [running]
    assert sorted(p for p in root.rglob("*") if p.is_file()) == files_before

    store.client.set_terminated(running, status="KILLED", end_time=T0 + 9000)
    newer = make_run(store, "sweep", params={"x": "2"}, start=T0 + 20_000)
    third = votakvot_mlflow.import_runs(store.uri, root)
    assert sorted(tid.rsplit("/", 1)[1] for tid in third.imported) == sorted([running, newer])
    report = votakvot.load_report(str(root))
    assert len(report) == 3 and sorted(report.status) == ["done", "done", "interrupted"]
    assert sorted(t.uid for t in report.trial) == sorted([first, running, newer])


def test_experiment_names_pick_experiments(store: Store, tmp_path: Path):
    make_run(store, "keep")
    make_run(store, "skip")
    summary = votakvot_mlflow.import_runs(store.uri, tmp_path / "results", ["keep"])
    assert [tid.split("/")[0] for tid in summary.imported] == ["keep"]
    with pytest.raises(SelectionError, match=r"\['nope'\].*has: \[.*'keep', 'skip'\]"):
        votakvot_mlflow.import_runs(store.uri, tmp_path / "results", ["keep", "nope"])
    with pytest.raises(TypeError, match=r"write \['keep'\]"):
        votakvot_mlflow.import_runs(store.uri, tmp_path / "results", "keep")  # type: ignore[arg-type]


def test_experiment_names_that_cannot_be_trial_names_are_made_safe(store: Store, tmp_path: Path):
    """A Databricks-style absolute name or a hidden segment still gives a trial that loads."""
    make_run(store, "/Users/me@x.com/.scratch/../exp")
    summary = votakvot_mlflow.import_runs(store.uri, tmp_path / "results")
    assert summary.imported[0].startswith("Users/me@x.com/_scratch/__/exp/")
    assert len(votakvot.load_report(str(tmp_path / "results"))) == 1


def test_bridged_trials_come_back_and_are_not_imported_twice(store: Store, tmp_path: Path, monkeypatch):
    """Trials mirrored by the bridge import into a new root with their params as numbers, their
    metric rows and their result; into the root they came from they are skipped as existing."""
    monkeypatch.setenv(votakvot_mlflow.ENV, store.uri)
    origin = tmp_path / "origin"
    votakvot.init(path=str(origin), heartbeat=0.2, flush_interval=0.1)
    with votakvot.trial("roundtrip", lr=0.5, depth=4, opt="sgd") as t:
        for step in range(3):
            t.meter(loss=1.0 / (step + 1))
        t.meter_series("eval", {"acc": 0.75})
        t.result = {"acc": 0.75}
    assert votakvot_mlflow.flush(60)
    monkeypatch.delenv(votakvot_mlflow.ENV)

    moved = votakvot_mlflow.import_runs(store.uri, tmp_path / "moved", ["roundtrip"])
    (tid,) = moved.imported
    back = votakvot.load_trials(str(tmp_path / "moved"))[tid]
    assert back.params == {"depth": 4, "lr": 0.5, "opt": "sgd"}
    assert back.uid != t.uid and back.info["votakvot.tid"] == t.tid
    assert back.result == {"acc": 0.75}
    assert list(back.metrics(series="")[["step", "loss"]].itertuples(index=False, name=None)) == [
        (0, 1.0),
        (1, 0.5),
        (2, 1 / 3),
    ]
    assert list(back.metrics(series="eval")["acc"]) == [0.75]
    original = votakvot.load_trials(str(origin))[t.tid]
    assert back.status == "done"
    assert abs((back.at.started - original.at.started).total_seconds()) < 0.001  # MLflow keeps milliseconds

    home = votakvot_mlflow.import_runs(store.uri, origin, ["roundtrip"])
    assert home.imported == [] and home.existing == [t.tid]


def test_import_into_an_fsspec_root(store: Store):
    """A root given as an fsspec URL (memory://) is written through fsspec, documents last."""
    run_id = make_run(store, "remote", params={"k": "v"}, metrics={"m": [(0, 1.5, T0)]})
    root = f"memory://import-{uuid.uuid4().hex}"
    summary = votakvot_mlflow.import_runs(store.uri, root)
    assert summary.imported[0].endswith(run_id)
    report = votakvot.load_report(root)
    assert list(report.k) == ["v"] and list(report.m) == [1.5]
    assert votakvot_mlflow.import_runs(store.uri, root).existing == summary.imported
    fs = fsspec.filesystem("memory")
    assert not [p for p in fs.find(root) if "importing" in p]
