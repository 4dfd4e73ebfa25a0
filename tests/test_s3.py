"""Loading trials from a real S3 endpoint (moto's server on 127.0.0.1) through s3fs."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
import warnings

import fsspec
import pandas as pd
import pytest

import votakvot
import votakvot.metrics
from conftest import S3_CREDENTIALS, child_pids, environment, moto_s3_server, run_python, wait_for_children
from votakvot.errors import MissingPathWarning, TrialFailedError, TrialLoadError

s3fs = pytest.importorskip("s3fs")
pytestmark = pytest.mark.slow

BUCKET = "votakvot-tests"
STANDARD = ["tid", "trial", "status"]
CREDENTIALS = S3_CREDENTIALS


@pytest.fixture(scope="session")
def s3_endpoint():
    """A moto S3 server on a free local port, with fsspec's s3 config pointing at it."""
    saved_conf = fsspec.config.conf.get("s3")
    try:
        with environment(CREDENTIALS), moto_s3_server() as url:
            fsspec.config.conf["s3"] = {"client_kwargs": {"endpoint_url": url}, "key": "testing", "secret": "testing"}
            s3fs.S3FileSystem.clear_instance_cache()
            fsspec.filesystem("s3").mkdir(BUCKET)
            try:
                yield url
            finally:
                s3fs.S3FileSystem.clear_instance_cache()
    finally:
        if saved_conf is None:
            fsspec.config.conf.pop("s3", None)
        else:
            fsspec.config.conf["s3"] = saved_conf


@pytest.fixture
def s3_root(s3_endpoint):
    """A fresh prefix in the test bucket; no s3fs instance (or its listing cache) outlives the test."""
    s3fs.S3FileSystem.clear_instance_cache()
    yield f"s3://{BUCKET}/{uuid.uuid4().hex}"
    s3fs.S3FileSystem.clear_instance_cache()


def _fresh_reader() -> None:
    """Forgets cached s3fs instances, so the next load reads S3 as another process would."""
    s3fs.S3FileSystem.clear_instance_cache()


@votakvot.track()
def train(lr, epochs=2):
    """A tracked function that informs, meters and attaches."""
    votakvot.inform(note=f"lr={lr}")
    for epoch in range(epochs):
        votakvot.meter(loss=lr / (epoch + 1))
    with votakvot.attach("notes.txt", "w") as f:
        f.write(f"trained with {lr}")
    return {"acc": 1 - lr}


@votakvot.track()
def other(x):
    """A second tracked function."""
    return x


def _write_trials(root: str) -> list[str]:
    votakvot.init(path=root)
    train(0.1)
    train(0.2, epochs=3)
    other(5)
    _fresh_reader()
    return sorted(votakvot.load_trials(root))


def test_s3_report_loads_tracked_trials(s3_root):
    """load_report on s3:// gives one row per tracked call with params, info and result columns."""
    votakvot.init(path=s3_root)
    train(0.1)
    train(0.2, epochs=3)
    _fresh_reader()
    rep = votakvot.load_report()
    assert list(rep.columns[:3]) == STANDARD
    assert isinstance(rep.index, pd.RangeIndex)
    rows = rep.sort_values("lr")
    assert rows["lr"].tolist() == [0.1, 0.2]
    assert rows["epochs"].tolist() == [2, 3]
    assert rows["note"].tolist() == ["lr=0.1", "lr=0.2"]
    assert rows["acc"].tolist() == pytest.approx([0.9, 0.8])
    assert set(rows["status"]) == {"done"}
    assert all(t.path.startswith(f"{s3_root}/") for t in rows["trial"])
    full = votakvot.load_report(s3_root, full=True)
    assert {"meta.system.node", "at.duration", "uid"} <= set(full.columns)


def test_s3_load_trials_reads_attachments_and_metrics(s3_root):
    """Trials loaded from S3 list and read their attachments and metrics."""
    votakvot.init(path=s3_root)
    train(0.2, epochs=3)
    _fresh_reader()
    (trial,) = votakvot.load_trials(s3_root).values()
    assert trial.params == {"lr": 0.2, "epochs": 3}
    assert trial.result == {"acc": 0.8}
    assert trial.status == "done"
    assert {"notes.txt", "metrics.csv"} <= set(trial.attached)
    assert "votakvot.yaml" not in trial.attached
    with trial.attach("notes.txt") as f:
        assert f.read() == b"trained with 0.2"
    assert trial.metrics()["loss"].tolist() == pytest.approx([0.2, 0.1, 0.2 / 3])
    by_path = votakvot.metrics.load_csv_metrics(trial.path)
    pd.testing.assert_frame_equal(by_path, trial.metrics())


def test_s3_seed_report_trial_path_example(s3_root):
    """The seed's rep.loc[0]['trial'].path works against S3."""
    votakvot.init(path=s3_root)
    train(0.5)
    _fresh_reader()
    rep = votakvot.load_report()
    trial = rep.loc[0]["trial"].path
    frame = votakvot.metrics.load_csv_metrics(trial)
    assert frame["loss"].tolist() == [0.5, 0.25]


def test_s3_globs(s3_root):
    """Day, hour and function paths select trials on S3 as they do on disk."""
    tids = _write_trials(s3_root)
    module = train.__module__
    for tid in tids:
        day, hour = tid.split("/")[-3], tid.split("/")[-2].split(":")[0]
        _fresh_reader()
        got = set(votakvot.load_report(f"{s3_root}/**/{day}")["tid"])
        assert got == {t for t in tids if t.split("/")[-3] == day}
        _fresh_reader()
        got = set(votakvot.load_report(f"{s3_root}/**/{day}/{hour}:*")["tid"])
        assert got == {t for t in tids if t.split("/")[-3] == day and t.split("/")[-2].startswith(hour + ":")}
    _fresh_reader()
    rep = votakvot.load_report(f"{s3_root}/{module}/train")
    assert sorted(rep["lr"]) == [0.1, 0.2]
    _fresh_reader()
    assert votakvot.load_report(f"{s3_root}/*/other")["result"].tolist() == [5]


def test_s3_seed_concat_after_a_full_report(s3_root):
    """The seed flow on one S3 filesystem: a full report, then day globs concatenated, finds every trial."""
    tids = _write_trials(s3_root)
    assert sorted(votakvot.load_report(s3_root)["tid"]) == tids
    days = sorted({t.split("/")[-3] for t in tids})
    assert len(votakvot.load_report(f"{s3_root}/**/{days[0]}")) >= 1
    df = pd.concat(votakvot.load_report(f"{s3_root}/**/{day}/**") for day in days)
    assert sorted(df["tid"]) == tids


def test_s3_report_sees_trials_written_by_another_process(s3_root, s3_endpoint, tmp_path):
    """A second load_report in the same process sees a trial another process wrote in between."""
    votakvot.init(path=s3_root)
    train(0.1)
    assert len(votakvot.load_report()) == 1
    conf = json.dumps({"client_kwargs": {"endpoint_url": s3_endpoint}, "key": "testing", "secret": "testing"})
    code = f"""
import votakvot
votakvot.init(path={s3_root!r})
with votakvot.trial("from-elsewhere", x=1) as t:
    t.result = 2
"""
    proc = run_python(code, cwd=tmp_path, env={**CREDENTIALS, "FSSPEC_S3": conf}, stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    rep = votakvot.load_report()
    assert len(rep) == 2
    assert "from-elsewhere" in {t.split("/")[0] for t in rep["tid"]}


def test_s3_failed_trial_result_raises_with_traceback(s3_root):
    """A failed trial read from S3 raises TrialFailedError with its traceback text."""
    votakvot.init(path=s3_root)
    with pytest.raises(RuntimeError), votakvot.trial("bad", x=1):
        raise RuntimeError("s3 boom")
    _fresh_reader()
    (trial,) = votakvot.load_trials(s3_root).values()
    assert trial.status == "failed"
    assert "traceback.txt" in trial.attached
    with pytest.raises(TrialFailedError) as caught:
        trial.result  # noqa: B018
    assert "RuntimeError: s3 boom" in str(caught.value)
    assert "Traceback (most recent call last)" in str(caught.value)


def test_s3_broken_document_is_skipped_with_one_warning(s3_root):
    """A broken votakvot.yaml on S3 is skipped with one warning naming it; safe=False raises."""
    tids = _write_trials(s3_root)
    fs = fsspec.filesystem("s3")
    folder = f"{s3_root}/broken/t"
    fs.pipe_file(f"{folder}/votakvot.yaml", b"status: done\nparams: {a: [1, 2,")
    _fresh_reader()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        rep = votakvot.load_report(s3_root)
    assert sorted(rep["tid"]) == tids
    messages = [str(w.message) for w in record if not issubclass(w.category, DeprecationWarning)]
    assert len(messages) == 1 and folder.split("://", 1)[1] in messages[0]
    with pytest.raises(TrialLoadError):
        votakvot.load_report(s3_root, safe=False)


def test_s3_hostile_document_stays_inert(s3_root, tmp_path):
    """A python tag in a votakvot.yaml on S3 loads as an InertObject and runs nothing."""
    marker = tmp_path / "PWNED"
    before = child_pids()
    fs = fsspec.filesystem("s3")
    fs.pipe_file(
        f"{s3_root}/evil/t/votakvot.yaml",
        f'status: done\nresult: !!python/object/apply:os.system ["touch {marker}"]\n'.encode(),
    )
    _fresh_reader()
    (trial,) = votakvot.load_trials(s3_root).values()
    rep = votakvot.load_report(s3_root, full=True)
    wait_for_children(before)  # a `touch` spawned by loading has finished by now
    assert not marker.exists()
    assert isinstance(trial.result, votakvot.InertObject)
    assert "os.system" in trial.result.tag
    assert isinstance(rep.loc[0, "result"], votakvot.InertObject)


@pytest.mark.parametrize("where", ["missing-prefix", "glob-matching-nothing"])
def test_s3_no_trials_gives_empty_frame(s3_root, where):
    """A missing prefix or a glob matching nothing on S3 gives an empty frame with the standard
    columns; only the missing prefix (most likely a typo) warns."""
    _write_trials(s3_root)
    path = f"{s3_root}/nothing-here" if where == "missing-prefix" else f"{s3_root}/**/99-01-01"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        rep = votakvot.load_report(path)
        assert votakvot.load_trials(path) == {}
    assert list(rep.columns) == STANDARD
    assert len(rep) == 0
    missing = [w for w in seen if issubclass(w.category, MissingPathWarning)]
    if where == "missing-prefix":
        assert len(missing) == 2
        assert "nothing-here' does not exist" in str(missing[0].message)
    else:
        assert missing == []


def test_s3_missing_bucket_gives_empty_frame(s3_endpoint):
    """A bucket that does not exist holds no trials: an empty frame and a warning, not a crash."""
    with pytest.warns(MissingPathWarning, match="does not exist"):
        rep = votakvot.load_report(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/exp")
    assert list(rep.columns) == STANDARD
    assert len(rep) == 0


def test_s3_a_trial_path_with_brackets_loads_that_trial(s3_root):
    """On S3 too a trial's own path loads it when its name holds '[' (read as written, not as a glob),
    and a load of the whole root reads it with the others."""
    votakvot.init(path=s3_root)
    with votakvot.trial("layers=[64, 64]", x=1) as t:
        t.meter(loss=0.5)
    train(0.1)
    _fresh_reader()
    trials = votakvot.load_trials(t.path)
    assert list(trials) == [t.tid]
    assert trials[t.tid].metrics()["loss"].tolist() == [0.5]
    assert votakvot.load_report(t.path)["x"].tolist() == [1]
    _fresh_reader()
    assert len(votakvot.load_report(s3_root)) == 2


RACE = """
import os, sys, time, votakvot
votakvot.init(path={root!r}, heartbeat=0.5)
print("READY", flush=True)
while not os.path.exists({go!r}):
    time.sleep(0.001)
def work():
    print("RAN", flush=True)
    time.sleep(1.0)
    return 1
try:
    votakvot.call("raced", work, {{}})
except votakvot.errors.TrialBusyError as e:
    print("BUSY", e, flush=True)
"""


def test_s3_two_processes_on_one_id_compute_once(s3_root, s3_endpoint, tmp_path):
    """Two processes starting call() on one S3 id at once: the conditional write lets exactly one run."""
    conf = json.dumps({"client_kwargs": {"endpoint_url": s3_endpoint}, "key": "testing", "secret": "testing"})
    go = tmp_path / "go"
    code = RACE.format(root=s3_root, go=str(go))
    env = {**CREDENTIALS, "FSSPEC_S3": conf}
    procs = [run_python(code, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    assert [p.stdout.readline().strip() for p in procs] == ["READY", "READY"]
    go.touch()
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert sorted(out.split()[0] for out in outs) == ["BUSY", "RAN"], outs
    _fresh_reader()
    trial = votakvot.load_trials(s3_root)["raced"]
    assert trial.status == "done" and trial.result == 1
    assert ".claim" not in fsspec.filesystem("s3").ls(trial.path, detail=False)


def test_s3_claims_are_held_taken_over_and_released(s3_root):
    """On S3 a running trial_at holds its id, a stale claim of a dead machine is replaced, and the end releases it."""
    votakvot.init(path=s3_root)
    fs = fsspec.filesystem("s3")
    with votakvot.trial_at("held"), pytest.raises(votakvot.errors.TrialBusyError), votakvot.trial_at("held"):
        pass
    assert not fs.exists(f"{s3_root}/held/.claim")
    stale = {"tid": "x", "pid": 1, "node": "gone-machine", "heartbeat": 5.0, "beat": time.time() - 600, "token": "t"}
    fs.pipe_file(f"{s3_root}/old/.claim", json.dumps(stale).encode())
    s3fs.S3FileSystem.clear_instance_cache()
    assert votakvot.call("old", lambda: "taken over", {}) == "taken over"
    assert not fsspec.filesystem("s3").exists(f"{s3_root}/old/.claim")


def test_s3_load_metrics_and_remove(s3_root):
    """On S3, load_metrics reads every trial's rows in one batch, and remove() deletes a function's
    trials so that no object is left under its prefix, while the other function's trial stays."""
    tids = _write_trials(s3_root)
    curves = votakvot.load_metrics(s3_root, params=["lr"])
    assert curves.groupby("lr")["loss"].count().to_dict() == {0.1: 2, 0.2: 3}
    removed = votakvot.remove(f"{s3_root}/{train.__module__}/train")
    assert sorted(t.tid for t in removed) == [t for t in tids if "/train/" in t]
    fs, path = fsspec.core.url_to_fs(s3_root)
    fs.invalidate_cache()
    assert fs.find(f"{path}/{train.__module__}/train") == []
    _fresh_reader()
    assert list(votakvot.load_trials(s3_root)) == [t for t in tids if "/other/" in t]


def test_s3_listing_timestamps_are_what_botocore_gives(s3_root):
    """A load reads S3 timestamps with a fast parser on its filesystem object, which fsspec
    shares with anyone asking for the same options: they still get botocore's values from it."""
    from votakvot._files.storage import open_url

    votakvot.init(path=s3_root)
    other(1)
    _fresh_reader()
    shared = open_url(s3_root)[0].fs  # what a user opening the URL with the same options gets
    assert len(votakvot.load_report(s3_root)) == 1
    assert open_url(s3_root)[0].fs is shared
    assert getattr(shared, "_votakvot_fast_timestamps", False)  # the fast parser does the reading
    ours = {path: info["LastModified"] for path, info in shared.find(s3_root, detail=True).items()}
    untouched = s3fs.S3FileSystem(skip_instance_cache=True, **fsspec.config.conf["s3"])
    theirs = {path: info["LastModified"] for path, info in untouched.find(s3_root, detail=True).items()}
    assert ours and ours.keys() == theirs.keys()
    for path, value in ours.items():
        assert repr(value) == repr(theirs[path]), path
