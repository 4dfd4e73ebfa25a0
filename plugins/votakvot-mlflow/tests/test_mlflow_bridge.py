# ruff: noqa: F811  (pytest fixtures are imported from mlflow_bridge_fixtures and named as arguments)
"""The bridge mirrors trials into a real MLflow store: what lands there, when it is on, and what
a failing MLflow costs (a warning, never the votakvot record)."""

from __future__ import annotations

import subprocess
import textwrap
import uuid
import warnings
from pathlib import Path

import pytest
import votakvot_mlflow
import yaml
from mlflow_bridge_fixtures import (  # noqa: F401  (fixtures used by name)
    Store,
    clean,
    empty_database,
    free_port,
    git_repo,
    run_script,
    store,
)
from votakvot_mlflow.sink import MlflowSink

import votakvot
from votakvot.errors import MirrorWarning

FAST = {"heartbeat": 0.2, "flush_interval": 0.1}


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def document(trial) -> dict:
    return yaml.safe_load((Path(trial.path) / "votakvot.yaml").read_text())


def ms(when) -> int:
    return int(when.timestamp() * 1000)


def test_installed_is_not_enabled(store: Store, tmp_path: Path):
    """With the plug-in installed but neither $VOTAKVOT_MLFLOW nor init(sinks=[..., "mlflow"]),
    trials are not mirrored: the sink subscribes to nothing and no MLflow store is touched."""
    votakvot.init(path=str(tmp_path / "results"), **FAST)
    name = unique("off")
    with votakvot.trial(name, x=1) as t:
        t.meter(loss=1.0)
        sink = MlflowSink(t)
        assert sink.subscriptions() == {}
    assert votakvot_mlflow.flush(30)
    assert store.runs(name) == []
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()
    assert document(t)["status"] == "done"


def test_a_trial_is_mirrored_with_params_metrics_result_git_and_files(store: Store, git_repo: Path, monkeypatch):
    """Params (flattened, as text), metric rows with their steps (named series prefixed), the
    result (numbers as metrics, the rest as tags), info, git and status tags, the trial's times
    and its attached files all reach the MLflow run; the experiment is the trial's name."""
    monkeypatch.setenv(votakvot_mlflow.ENV, store.uri)
    votakvot.init(path=str(git_repo.parent / "results"), **FAST)
    name = unique("train")

    @votakvot.track(name=name)
    def train(lr: float, opt: dict) -> dict:
        evaluation = votakvot.series("eval")
        for step in range(5):
            votakvot.meter(loss=1 / (step + 1), phase="warmup")  # text is not a metric
            evaluation.meter(acc=step / 10)
        votakvot.meter(step=100, loss=0.01)  # the row's own step
        with votakvot.attach("logs/train.txt", "w") as f:
            f.write("epoch 1 ok\n")
        with votakvot.attach("model.bin", "wb") as f:
            f.write(b"\x00\x01weights")
        votakvot.inform(dataset="v2", shape={"rows": 10})
        return {"acc": 0.93, "best": "epoch 4", "n": 7}

    train(0.1, {"name": "sgd", "momentum": 0.9})
    assert votakvot_mlflow.flush(60)
    trial = votakvot.load_trials(str(git_repo.parent / "results"))
    (tid, stored), = trial.items()
    run = store.only_run(name)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == stored.uid[:8]
    assert run.data.params == {"lr": "0.1", "opt.name": "sgd", "opt.momentum": "0.9"}
    assert store.history(run.info.run_id, "loss") == [(0, 1.0), (1, 0.5), (2, 1 / 3), (3, 0.25), (4, 0.2), (100, 0.01)]
    assert store.history(run.info.run_id, "eval/acc") == [(i, i / 10) for i in range(5)]
    assert "phase" not in run.data.metrics
    assert {k: run.data.metrics[k] for k in ("result.acc", "result.n")} == {"result.acc": 0.93, "result.n": 7.0}
    tags = run.data.tags
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert tags["mlflow.source.git.commit"] == commit == stored.meta.git.commit
    assert tags["mlflow.source.git.branch"] == "main"
    assert tags["votakvot.git.dirty"] == "False"
    assert tags["votakvot.status"] == "done"
    assert (tags["votakvot.tid"], tags["votakvot.uid"], tags["votakvot.path"]) == (tid, stored.uid, stored.path)
    assert tags["result.best"] == "epoch 4"
    assert (tags["info.dataset"], tags["info.shape.rows"]) == ("v2", "10")
    assert run.info.start_time == ms(stored.at.started)
    assert run.info.end_time == ms(stored.at.finished)
    assert store.artifact(run.info.run_id, "logs/train.txt") == b"epoch 1 ok\n"
    assert store.artifact(run.info.run_id, "model.bin") == b"\x00\x01weights"


@pytest.mark.parametrize(
    ("exc", "status", "mlflow_status"),
    [(ValueError("bad lr"), "failed", "FAILED"), (KeyboardInterrupt(), "interrupted", "KILLED")],
)
def test_a_failed_or_interrupted_trial_ends_its_run_so(store: Store, monkeypatch, tmp_path, exc, status, mlflow_status):
    """The run's status follows the trial's; the error is a tag and the traceback an artifact."""
    monkeypatch.setenv(votakvot_mlflow.ENV, store.uri)
    votakvot.init(path=str(tmp_path / "results"), **FAST)
    name = unique("broken")
    with pytest.raises(type(exc)), votakvot.trial(name, lr=5) as t:
        t.meter(loss=9.0)
        raise exc
    assert votakvot_mlflow.flush(60)
    run = store.only_run(name)
    assert run.info.status == mlflow_status
    assert run.data.tags["votakvot.status"] == status == document(t)["status"]
    assert run.data.tags["votakvot.error"] == document(t)["error"]
    assert store.artifact(run.info.run_id, "traceback.txt").decode() == (Path(t.path) / "traceback.txt").read_text()
    assert store.history(run.info.run_id, "loss") == [(0, 9.0)]


def test_init_sinks_turns_it_on_with_mlflows_own_tracking_uri(store: Store, monkeypatch, tmp_path):
    """Naming the sink in init(sinks=...) mirrors into the URI MLflow resolves ($MLFLOW_TRACKING_URI)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    votakvot.init(path=str(tmp_path / "results"), sinks=["yaml", "csv", "mlflow"], **FAST)
    name = unique("named")
    with votakvot.trial(name, x=1):
        pass
    assert votakvot_mlflow.flush(60)
    assert store.only_run(name).data.params == {"x": "1"}


def test_votakvot_mlflow_0_turns_it_off_whatever_init_says(store: Store, monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    monkeypatch.setenv(votakvot_mlflow.ENV, "0")
    votakvot.init(path=str(tmp_path / "results"), sinks=["yaml", "csv", "mlflow"], **FAST)
    name = unique("killswitch")
    with votakvot.trial(name, x=1) as t:
        pass
    assert votakvot_mlflow.flush(60)
    assert store.runs(name) == []
    assert document(t)["status"] == "done"


def test_one_experiment_for_every_trial_names_runs_after_trials(store: Store, monkeypatch, tmp_path):
    """$VOTAKVOT_MLFLOW_EXPERIMENT puts every trial into one experiment, each run named after its
    trial; a nested trial's run records its parent's run."""
    experiment = unique("all")
    monkeypatch.setenv(votakvot_mlflow.ENV, store.uri)
    monkeypatch.setenv(votakvot_mlflow.ENV_EXPERIMENT, experiment)
    votakvot.init(path=str(tmp_path / "results"), **FAST)
    with votakvot.trial("sweep") as outer, votakvot.trial("grid/small", lr=0.1) as inner:
        pass
    assert votakvot_mlflow.flush(60)
    runs = {r.info.run_name: r for r in store.runs(experiment)}
    assert set(runs) == {"sweep", "grid/small"}
    assert runs["grid/small"].data.tags["mlflow.parentRunId"] == runs["sweep"].info.run_id
    assert runs["grid/small"].data.tags["votakvot.parent"] == outer.tid
    assert runs["grid/small"].data.tags["votakvot.tid"] == inner.tid


def test_a_resumed_explicit_id_continues_its_run(store: Store, monkeypatch, tmp_path):
    """trial_at of an id that ran before goes on in the same MLflow run, its steps following on."""
    monkeypatch.setenv(votakvot_mlflow.ENV, store.uri)
    votakvot.init(path=str(tmp_path / "results"), **FAST)
    tid = unique("resumable")
    with pytest.raises(RuntimeError), votakvot.trial_at(tid, n=3) as t:
        t.meter(loss=3.0)
        raise RuntimeError("preempted")
    assert votakvot_mlflow.flush(60)
    assert store.only_run(tid).info.status == "FAILED"
    with votakvot.trial_at(tid, n=3) as t:
        t.meter(loss=2.0)
    assert votakvot_mlflow.flush(60)
    run = store.only_run(tid)
    assert run.info.status == "FINISHED"
    assert store.history(run.info.run_id, "loss") == [(0, 3.0), (1, 2.0)]


def test_a_dead_tracking_server_costs_a_warning_not_the_record(tmp_path):
    """Against a tracking server that is down, every trial is stored in full and ends normally
    (no StorageError, though storage_errors="raise"); one MirrorWarning says which trial and why,
    at once rather than after MLflow's minutes of retries."""
    dead = f"http://127.0.0.1:{free_port()}"
    votakvot.init(path=str(tmp_path / "results"), **FAST)
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mp.setenv(votakvot_mlflow.ENV, dead)
        for i in range(3):
            with votakvot.trial("down", i=i) as t:
                t.meter(loss=float(i))
                t.result = i * 10
        assert votakvot_mlflow.flush(60)
    mirror = [str(w.message) for w in caught if issubclass(w.category, MirrorWarning)]
    assert len(mirror) == 1, mirror
    assert "does not accept connections" in mirror[0] and dead in mirror[0]
    assert not [w for w in caught if issubclass(w.category, votakvot.errors.StorageWarning)]
    report = votakvot.load_report(str(tmp_path / "results"))
    assert list(report.status) == ["done"] * 3 and list(report.result) == [0, 10, 20]
    assert [len(trial.metrics()) for trial in report.trial] == [1, 1, 1]


def test_an_unusable_tracking_uri_is_said_and_the_record_kept(tmp_path, monkeypatch):
    """A URI MLflow cannot use (an unknown scheme) is a MirrorWarning naming MLflow's reason."""
    monkeypatch.setenv(votakvot_mlflow.ENV, "nosuchscheme://nowhere")
    votakvot.init(path=str(tmp_path / "results"), **FAST)
    with pytest.warns(MirrorWarning, match="nosuchscheme") as caught:
        with votakvot.trial("misconfigured", x=1) as t:
            t.result = 1
        assert votakvot_mlflow.flush(60)
    assert "Its votakvot record is complete" in str(caught[0].message)
    assert document(t)["status"] == "done" and document(t)["result"] == 1


EXIT_SCRIPT = """
import threading, time, votakvot

votakvot.init(path="results", heartbeat=0.2, flush_interval=0.1)
for i in range(3):
    with votakvot.trial("at-exit", i=i) as t:
        for step in range(50):
            t.meter(loss=step / 50)
        t.result = i

opened = threading.Event()

def left_open():
    with votakvot.trial("left-open") as t:
        t.meter(loss=1.0)
        opened.set()
        time.sleep(3600)

threading.Thread(target=left_open, daemon=True).start()
opened.wait()
"""


@pytest.mark.slow
def test_the_mirror_completes_at_exit(store: Store, tmp_path: Path):
    """A script that ends right after its trials (no flush) still has every trial mirrored, and a
    trial votakvot finishes at exit (left open in a daemon thread) ends its run as KILLED."""
    done = run_script(EXIT_SCRIPT, cwd=tmp_path, env={votakvot_mlflow.ENV: store.uri})
    assert done.returncode == 0, done.stderr
    runs = store.runs("at-exit")
    assert [r.info.status for r in runs] == ["FINISHED"] * 3
    assert sorted(r.data.metrics["result"] for r in runs) == [0, 1, 2]
    assert all(len(store.history(r.info.run_id, "loss")) == 50 for r in runs)
    assert store.only_run("left-open").info.status == "KILLED"
    assert "MirrorWarning" not in done.stderr


@pytest.mark.slow
def test_exit_waits_a_bounded_time_and_says_what_was_not_mirrored(tmp_path: Path):
    """A tracking server that accepts connections and never answers holds the mirror; at exit the
    process waits $VOTAKVOT_MLFLOW_EXIT_TIMEOUT seconds, then warns naming the trials it could
    not finish; a trial votakvot finishes at exit after that is reported, not sent (which would
    hold the exit again). The votakvot records are complete."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        code = textwrap.dedent("""
            import threading, time, votakvot
            votakvot.init(path="results")
            for i in range(2):
                with votakvot.trial("hung", i=i) as t:
                    t.result = i
            opened = threading.Event()

            def left_open():
                with votakvot.trial("left-open"):
                    opened.set()
                    time.sleep(3600)

            threading.Thread(target=left_open, daemon=True).start()
            opened.wait()
        """)
        done = run_script(
            code, cwd=tmp_path, env={votakvot_mlflow.ENV: uri, votakvot_mlflow.ENV_EXIT_TIMEOUT: "1"}, timeout=60
        )
    assert done.returncode == 0, done.stderr
    assert "MirrorWarning: 3 trial(s) were not completely mirrored into MLflow within 1 s at exit" in done.stderr
    assert "finished at exit, was not mirrored into MLflow" in done.stderr
    report = votakvot.load_report(str(tmp_path / "results"))
    assert list(report.status) == ["done", "done", "interrupted"] and list(report.result)[:2] == [0, 1]


@pytest.mark.slow
def test_an_outage_warns_once_then_counts_the_trials_it_missed(tmp_path: Path):
    """Many trials against a dead server give one warning at the first, and one at exit that
    counts them all, not a warning per trial."""
    code = textwrap.dedent("""
        import votakvot
        votakvot.init(path="results")
        for i in range(5):
            with votakvot.trial("outage", i=i):
                pass
    """)
    done = run_script(code, cwd=tmp_path, env={votakvot_mlflow.ENV: f"http://127.0.0.1:{free_port()}"})
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if "MirrorWarning:" in line]
    assert len(warned) == 2, done.stderr
    assert "does not accept connections" in warned[0]
    assert "still failed at exit: 5 trials were not mirrored there" in warned[1]
    assert len(votakvot.load_report(str(tmp_path / "results"))) == 5


def fork_task(i: int) -> int:
    with votakvot.trial("forked", i=i) as t:
        t.meter(loss=float(i))
        t.result = i
    return i


@pytest.mark.slow
def test_trials_of_forked_pool_workers_are_mirrored(store: Store, monkeypatch, tmp_path):
    """Workers of a fork pool end with os._exit (no atexit): their trials are mirrored all the same."""
    import multiprocessing

    monkeypatch.setenv(votakvot_mlflow.ENV, store.uri)
    votakvot.init(path=str(tmp_path / "results"), **FAST)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert sorted(pool.map(fork_task, range(4))) == [0, 1, 2, 3]
        pool.close()
        pool.join()
    runs = store.runs("forked")
    assert sorted(r.data.metrics["result"] for r in runs) == [0, 1, 2, 3]
    assert all(r.info.status == "FINISHED" for r in runs)


def test_trials_in_a_remote_root_send_their_files_as_artifacts(store: Store, monkeypatch):
    """Attached files of a trial stored through fsspec (here memory://) are read back from there."""
    monkeypatch.setenv(votakvot_mlflow.ENV, store.uri)
    votakvot.init(path=f"memory://bridge-{uuid.uuid4().hex}", **FAST)
    name = unique("remote")
    with votakvot.trial(name) as t, t.attach("out/report.txt") as f:
        f.write("remote ok")
    assert votakvot_mlflow.flush(60)
    run = store.only_run(name)
    assert store.artifact(run.info.run_id, "out/report.txt") == b"remote ok"
