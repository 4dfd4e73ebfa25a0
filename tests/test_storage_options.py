"""Storage options: given to init, load_report, load_trials and call, or as a filesystem object;
they reach fsspec and travel to workers. Against a real S3 server (moto) on 127.0.0.1, with no
credentials or endpoint in the environment."""

from __future__ import annotations

import logging
import multiprocessing
import os
import uuid
from pathlib import Path

import fsspec
import pytest

import votakvot
import votakvot.metrics
import votakvot.testing
import worker_tasks
from conftest import SRC, free_port, moto_s3_server

s3fs = pytest.importorskip("s3fs")
pytestmark = pytest.mark.slow

BUCKET = "votakvot-options"
TESTS = str(Path(__file__).resolve().parent)


@pytest.fixture(scope="module")
def endpoint():
    """A moto S3 server on a free local port, with one bucket; nothing of it in the environment."""
    with moto_s3_server() as url:
        s3fs.S3FileSystem(**_options(url), skip_instance_cache=True).mkdir(BUCKET)
        yield url


def _options(url: str) -> dict:
    return {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": url}}


@pytest.fixture(autouse=True)
def _no_ambient_s3_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """No AWS variables, no AWS config files and no fsspec s3 config: only what a test passes."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "FSSPEC_S3")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.delitem(fsspec.config.conf, "s3", raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([TESTS, SRC, os.environ.get("PYTHONPATH", "")]))
    s3fs.S3FileSystem.clear_instance_cache()
    yield
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def prefix() -> str:
    return f"{BUCKET}/{uuid.uuid4().hex}"


@votakvot.track()
def train(lr):
    votakvot.meter(loss=lr / 2)
    with votakvot.attach("notes.txt") as f:
        f.write(f"lr={lr}")
    return {"acc": 1 - lr}


def test_init_storage_options_write_and_load_back(endpoint, prefix):
    """Credentials and endpoint given only to init(storage_options=...) store trials on S3 and
    load them back (report, trials, metrics, attachments), with the options or without."""
    options = _options(endpoint)
    root = f"s3://{prefix}"
    votakvot.init(path=root, storage_options=options)
    train(0.1)
    train(0.2)
    report = votakvot.load_report()
    assert sorted(report["lr"]) == [0.1, 0.2]
    assert set(report["status"]) == {"done"}
    assert all(t.path.startswith(root + "/") for t in report["trial"])

    votakvot.testing.reset()  # a fresh process: nothing but what the call passes
    s3fs.S3FileSystem.clear_instance_cache()
    report = votakvot.load_report(root, storage_options=options)
    assert sorted(report["acc"]) == pytest.approx([0.8, 0.9])
    trials = votakvot.load_trials(root, storage_options=options)
    assert len(trials) == 2
    trial = next(iter(trials.values()))
    assert list(trial.metrics()["loss"]) == [trial.params["lr"] / 2]
    with trial.attach("notes.txt") as f:
        assert f.read() == f"lr={trial.params['lr']}".encode()
    by_path = votakvot.metrics.load_csv_metrics(trial.path, storage_options=options)
    assert list(by_path["loss"]) == [trial.params["lr"] / 2]


def test_filesystem_object_as_the_root(endpoint, prefix):
    """An fsspec filesystem object (a DirFileSystem over S3) is a root; trials show S3 URLs and
    load back through the object, an FSMap of the same folder, or their URL."""
    fs = s3fs.S3FileSystem(**_options(endpoint))
    votakvot.init(path=fsspec.filesystem("dir", path=prefix, fs=fs))
    train(0.3)
    with votakvot.trial("by-hand", x=1) as t:
        t.result = 2
    assert t.path.startswith(f"s3://{prefix}/by-hand/")
    report = votakvot.load_report()
    assert sorted(report["tid"].str.split("/").str[0]) == ["by-hand", "test_storage_options"]
    mapped = votakvot.load_report(fs.get_mapper(prefix))
    assert sorted(mapped["tid"]) == sorted(report["tid"])
    assert fs.exists(f"{prefix}/{t.tid}/votakvot.yaml")
    (loaded,) = votakvot.load_trials(f"s3://{prefix}/by-hand").values()  # a URL of the root's store
    assert loaded.result == 2


def add(a, b):
    return a + b


def test_call_takes_storage_options(endpoint, prefix):
    """call(..., storage_options=...) stores its trial with those options and finds it again."""
    votakvot.init(path=f"s3://{prefix}")
    options = _options(endpoint)
    assert votakvot.call("jobs/one", add, {"a": 1, "b": 2}, storage_options=options) == 3
    assert votakvot.call("jobs/one", add, {"a": 1, "b": 2}, storage_options=options) == 3
    (trial,) = votakvot.load_trials(f"s3://{prefix}", storage_options=options).values()
    assert trial.tid == "jobs/one"
    assert trial.status == "done"
    assert "resumed" not in trial.data  # the second call found the first one's result


def test_storage_options_travel_to_spawned_workers(endpoint, prefix, tmp_path):
    """Tracked calls in a spawn pool store on S3 with the options init was given."""
    root = f"s3://{prefix}"
    votakvot.init(path=root, storage_options=_options(endpoint))
    os.environ.pop("VOTAKVOT_SETTINGS")  # the pickled call alone must carry them
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(worker_tasks.work, range(4))
    trials = votakvot.load_trials(root)
    assert sorted(t.params["x"] for t in trials.values()) == [0, 1, 2, 3]
    assert not (tmp_path / "worker_tasks").exists()


def _run_trial(root: str, options: dict, caplog: pytest.LogCaptureFixture) -> str:
    """Runs one trial against `root`; returns every error it reported, raised or logged."""
    votakvot.init(path=root, storage_options=options)
    raised = ""
    with caplog.at_level(logging.WARNING):
        try:
            with votakvot.trial("unreachable"):
                pass
        except Exception as e:
            raised = f"{e!r} {e.__cause__!r}"
    return raised + "\n".join(record.getMessage() + str(record.exc_info) for record in caplog.records)


def test_unreachable_endpoint_fails_with_its_cause(caplog):
    """A closed port as the endpoint: the trial ends (botocore's few quick tries) and the cause
    names the endpoint it could not connect to."""
    url = f"http://127.0.0.1:{free_port()}"
    reported = _run_trial("s3://nowhere/exp", {**_options(url)}, caplog)
    assert "Could not connect to the endpoint URL" in reported
    assert url in reported


def test_an_unreachable_store_ends_the_trial_with_storage_error_in_seconds():
    """A trial whose store cannot be reached raises StorageError at its end, naming the trial
    folder and botocore's cause, with the computed result kept; no 40 s of silence first (the
    bound is botocore's two quick tries per request, counted in the test below)."""
    url = f"http://127.0.0.1:{free_port()}"
    votakvot.init(path="s3://nowhere/exp", storage_options=_options(url))
    with pytest.raises(votakvot.errors.StorageError) as caught, votakvot.trial("unreachable") as t:
        votakvot.meter(x=1)
        t.result = 5
    error = caught.value
    assert error.result == 5 and error.tid == t.tid
    assert any(t.path in where for where, _ in error.failures)
    assert any("Could not connect to the endpoint URL" in repr(cause) for _, cause in error.failures)


def _counting_session() -> tuple[object, dict[str, int]]:
    """An aiobotocore session that counts S3 API calls and the HTTP attempts made for them."""
    from aiobotocore.session import AioSession

    session = AioSession()
    counts = {"calls": 0, "attempts": 0}
    session.register("before-call.s3", lambda **_: counts.__setitem__("calls", counts["calls"] + 1))
    session.register("before-send.s3", lambda **_: counts.__setitem__("attempts", counts["attempts"] + 1))
    return session, counts


@pytest.mark.parametrize(
    ("retries", "attempts"),
    [(None, 2), ({"total_max_attempts": 3, "mode": "standard"}, 3)],
    ids=["default", "user-options"],
)
def test_each_s3_request_is_tried_twice_by_default(retries, attempts, caplog):
    """Against a closed port each S3 request is tried twice by default (botocore alone tries five
    times with growing pauses), and storage options given by the user override that."""
    session, counts = _counting_session()
    options = {**_options(f"http://127.0.0.1:{free_port()}"), "session": session}
    if retries is not None:
        options["config_kwargs"] = {"retries": retries}
    _run_trial("s3://nowhere/exp", options, caplog)
    assert counts["calls"] >= 1
    assert counts["attempts"] == attempts * counts["calls"]
