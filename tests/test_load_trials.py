"""`votakvot.load_trials` and the loaded `votakvot.Trial`: what a trial folder reads back as."""

from __future__ import annotations

import datetime
import platform
import subprocess

import fsspec
import pandas as pd
import pytest

import votakvot
import votakvot.metrics
import votakvot.testing
from votakvot.errors import AttachPathError, TrialFailedError


@votakvot.track()
def my_experiment(one, two):
    """The seed README's example function."""
    return one + two


@votakvot.track()
def metered_experiment(steps, scale=1.0):
    """Meters `steps` rows of a loss and attaches a text file."""
    for i in range(steps):
        votakvot.meter(loss=scale / (i + 1))
    with votakvot.attach("my-file-name.txt", mode="tw") as f:
        f.write("some text ...")
    return {"final": scale / steps}


def _make_trials(root: str) -> dict[str, votakvot.LiveTrial]:
    """Writes one finished and one failed trial under `root`; returns the live handles by tid."""
    votakvot.init(path=root)
    made = {}
    with votakvot.trial("exp", lr=0.1, opt={"name": "adam", "betas": {"b1": 0.9}}) as t:
        t.inform(note="first try", tags=["a", "b"])
        t.meter(loss=0.5)
        t.meter(loss=0.25)
        with t.attach("log.txt", "w") as f:
            f.write("hello log")
        t.result = {"acc": 0.9}
    made[t.tid] = t
    with pytest.raises(ValueError, match="boom"), votakvot.trial("exp", lr=0.2) as bad:
        raise ValueError("boom 42")
    made[bad.tid] = bad
    return made


def _read_text(url: str) -> str:
    with fsspec.open(url, "rt") as f:
        return f.read()


def test_load_trials_returns_trials_by_tid(root):
    """load_trials returns a dict of votakvot.Trial keyed by the tids the trials were written with."""
    made = _make_trials(root)
    loaded = votakvot.load_trials(root)
    assert set(loaded) == set(made)
    for tid, trial in loaded.items():
        assert isinstance(trial, votakvot.Trial)
        assert trial.tid == tid


def test_trial_has_path_tid_uid_status(root):
    """A loaded trial knows its folder, id, uuid and final status."""
    made = _make_trials(root)
    loaded = votakvot.load_trials(root)
    for tid, live in made.items():
        trial = loaded[tid]
        assert trial.path == live.path
        assert trial.uid == live.uid
        assert len(trial.uid) == 32 and int(trial.uid, 16) >= 0
        assert trial.status == live.status
    assert sorted(t.status for t in loaded.values()) == ["done", "failed"]


def test_tid_is_folder_path_relative_to_root(root):
    """The tid is `{name}/{yy}-{mm}-{dd}/{HH}:{MM}:{SS}/{uuid}` relative to the root."""
    made = _make_trials(root)
    for tid, trial in votakvot.load_trials(root).items():
        name, day, clock, uid = tid.split("/")
        assert name == "exp"
        datetime.datetime.strptime(f"{day} {clock}", "%y-%m-%d %H:%M:%S")
        assert uid == made[tid].uid
        assert trial.path.endswith("/" + tid)


def test_data_is_the_whole_document_with_attribute_access(root):
    """`data` is the whole votakvot.yaml, and nested dicts read as attributes."""
    made = _make_trials(root)
    tid = next(t for t, live in made.items() if live.status == "done")
    trial = votakvot.load_trials(root)[tid]
    data = trial.data
    assert data["tid"] == tid
    assert data.uid == made[tid].uid
    assert data.status == "done"
    assert data.params.opt.betas.b1 == 0.9
    assert data.info.tags == ["a", "b"]
    assert isinstance(data.at.duration, float) and data.at.duration >= 0
    assert data.at.started <= data.at.finished
    assert data.result.acc == 0.9
    with pytest.raises(AttributeError, match="no_such_field"):
        data.no_such_field  # noqa: B018


def test_params_info_meta_sections(root):
    """`params`, `info` and `meta` are the document's sections, with attribute access."""
    made = _make_trials(root)
    tid = next(t for t, live in made.items() if live.status == "done")
    trial = votakvot.load_trials(root)[tid]
    assert trial.params == {"lr": 0.1, "opt": {"name": "adam", "betas": {"b1": 0.9}}}
    assert trial.params.opt.name == "adam"
    assert trial.info == {"note": "first try", "tags": ["a", "b"]}
    assert trial.info.note == "first try"
    assert trial.meta.system.node == platform.node()
    assert trial.data.meta.system.node == platform.node()


def test_result_of_finished_trial(root):
    """`result` is what the trial returned."""
    made = _make_trials(root)
    tid = next(t for t, live in made.items() if live.status == "done")
    assert votakvot.load_trials(root)[tid].result == {"acc": 0.9}
    assert votakvot.load_trials(root)[tid].result.acc == 0.9


def test_result_of_failed_trial_raises_with_error_and_traceback(root):
    """Reading the result of a failed trial raises TrialFailedError carrying the error and traceback.txt."""
    made = _make_trials(root)
    tid = next(t for t, live in made.items() if live.status == "failed")
    trial = votakvot.load_trials(root)[tid]
    traceback_text = _read_text(f"{made[tid].path}/traceback.txt")
    assert "ValueError: boom 42" in traceback_text
    with pytest.raises(TrialFailedError) as caught:
        trial.result  # noqa: B018
    message = str(caught.value)
    assert "ValueError: boom 42" in message
    assert traceback_text.strip() in message
    assert isinstance(caught.value, RuntimeError)


def test_attached_lists_files_beside_the_document(root):
    """`attached` names the attachments and metric files, never votakvot.yaml itself."""
    made = _make_trials(root)
    loaded = votakvot.load_trials(root)
    for tid, live in made.items():
        attached = loaded[tid].attached
        assert "votakvot.yaml" not in attached
        if live.status == "done":
            assert "log.txt" in attached
            assert "metrics.csv" in attached
        else:
            assert "traceback.txt" in attached


def test_attach_reads_an_attached_file(root):
    """`attach(name)` opens an attached file for reading, bytes by default."""
    made = _make_trials(root)
    tid = next(t for t, live in made.items() if live.status == "done")
    trial = votakvot.load_trials(root)[tid]
    with trial.attach("log.txt") as f:
        assert f.read() == b"hello log"
    with trial.attach("log.txt", mode="r") as f:
        assert f.read() == "hello log"


def test_attach_reads_a_file_in_a_subfolder(root):
    """A file attached as `logs/x.txt` reads back under the same name."""
    votakvot.init(path=root)
    with votakvot.trial("exp") as t, t.attach("logs/train.txt", "w") as f:
        f.write("epoch 1")
    with votakvot.load_trials(root)[t.tid].attach("logs/train.txt", mode="r") as f:
        assert f.read() == "epoch 1"


def test_attach_on_loaded_trial_refuses_to_leave_the_folder(root):
    """A loaded trial does not open files outside its own folder."""
    made = _make_trials(root)
    trial = votakvot.load_trials(root)[next(iter(made))]
    with pytest.raises(AttachPathError):
        trial.attach("../../../votakvot.yaml")


def test_metrics_returns_every_metered_row(root):
    """`metrics()` returns the metered rows as one DataFrame with step and time."""
    made = _make_trials(root)
    tid = next(t for t, live in made.items() if live.status == "done")
    frame = votakvot.load_trials(root)[tid].metrics()
    assert isinstance(frame, pd.DataFrame)
    assert frame["loss"].tolist() == [0.5, 0.25]
    assert frame["step"].tolist() == [0, 1]
    assert {"step", "time", "loss"} <= set(frame.columns)


def test_metrics_of_trial_without_metrics_is_empty(root):
    """A trial that metered nothing has an empty metrics DataFrame."""
    votakvot.init(path=root)
    with votakvot.trial("quiet") as t:
        pass
    frame = votakvot.load_trials(root)[t.tid].metrics()
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 0


def test_metrics_with_new_column_mid_trial_load_as_one_frame(root):
    """Rows that bring a new metric name later still load as one DataFrame."""
    votakvot.init(path=root)
    with votakvot.trial("grow") as t:
        t.meter(loss=1.0)
        t.meter(loss=0.5, acc=0.7)
        t.meter(loss=0.25, acc=0.8)
    frame = votakvot.load_trials(root)[t.tid].metrics()
    assert frame["loss"].tolist() == [1.0, 0.5, 0.25]
    assert pd.isna(frame["acc"].iloc[0])
    assert frame["acc"].iloc[1:].tolist() == [0.7, 0.8]
    assert frame["step"].tolist() == [0, 1, 2]


def test_metrics_of_named_series_load_together(root):
    """Rows of the default and a named series load as one DataFrame, or one series on request."""
    votakvot.init(path=root)
    with votakvot.trial("series"):
        votakvot.meter(loss=1.0)
        votakvot.meter(loss=0.5)
        votakvot.series("eval").meter(acc=0.9)
    trial = next(iter(votakvot.load_trials(root).values()))
    frame = trial.metrics()
    assert len(frame) == 3
    assert sorted(frame["loss"].dropna().tolist()) == [0.5, 1.0]
    assert frame["acc"].dropna().tolist() == [0.9]
    assert trial.metrics(series="eval")["acc"].tolist() == [0.9]


def test_metrics_with_a_new_name_on_every_row_are_parsed_once(root, monkeypatch):
    """1,000 metric names, one new name per row (1,000 part files), read back as one frame with
    every value in place, from one CSV parse instead of one per part."""
    votakvot.init(path=root)
    names = [f"m{i}" for i in range(1000)]
    with votakvot.trial("wide") as t:
        for i, name in enumerate(names):
            t.meter(**{name: i})
    (trial,) = votakvot.load_trials(t.path).values()
    assert sum(votakvot.plugins.parse_metrics_file(n) is not None for n in trial.attached) == 1000
    parsed = []
    read_csv = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: parsed.append(1) or read_csv(*a, **k))
    frame = trial.metrics()
    assert len(parsed) == 1
    assert list(frame.columns) == ["step", "time", *names]
    assert frame["step"].tolist() == list(range(1000))
    assert str(frame["step"].dtype) == "int64"
    for i in (0, 1, 500, 999):
        column = frame[names[i]]
        assert str(column.dtype) == "float64"
        assert column.iloc[i] == i
        assert column.isna().sum() == 999


def test_metrics_of_large_and_small_parts_read_as_pandas_reads_each(root):
    """A trial with large parts, runs of small ones and a named series reads back with the values,
    column order and dtypes of reading each part with pandas.read_csv and concatenating them."""
    import io

    votakvot.init(path=root)
    with votakvot.trial("mixed") as t:
        for i in range(6000):  # one part of ~200 KB
            t.meter(loss=1 / (i + 1), acc=i % 7, lr=0.5)
        t.flush_metrics()
        for name in ("a", "b", "c"):  # three small parts, each with one more column
            t.meter(loss=0.1, **{name: 1})
            t.flush_metrics()
        for i in range(5000):  # a large part again, then a small one
            t.meter(loss=0.2, d=i)
        t.meter(loss=0.3, d=1, e=2.5)
        for i in range(3):
            votakvot.series("eval").meter(score=i, ok=i * 0.5)
    (trial,) = votakvot.load_trials(t.path).values()
    files = sorted(n for n in trial.attached if votakvot.plugins.parse_metrics_file(n) is not None)
    assert len(files) >= 6
    expected = []
    for name in sorted(files, key=votakvot.plugins.parse_metrics_file):
        with trial.attach(name) as f:
            frame = pd.read_csv(io.BytesIO(f.read()))
        frame.insert(0, "series", votakvot.plugins.parse_metrics_file(name)[0])
        expected.append(frame)
    pd.testing.assert_frame_equal(trial.metrics(), pd.concat(expected, ignore_index=True, sort=False))


def test_load_csv_metrics_takes_a_trial_path(root):
    """votakvot.metrics.load_csv_metrics(trial.path) equals trial.metrics()."""
    made = _make_trials(root)
    tid = next(t for t, live in made.items() if live.status == "done")
    trial = votakvot.load_trials(root)[tid]
    by_path = votakvot.metrics.load_csv_metrics(trial.path)
    pd.testing.assert_frame_equal(by_path, trial.metrics())
    assert by_path["loss"].tolist() == [0.5, 0.25]


def test_seed_report_trial_path_example(root):
    """The seed's `rep.loc[0]['trial'].path` fed to load_csv_metrics gives the metered rows."""
    votakvot.init(path=root)
    metered_experiment(3, scale=2.0)
    rep = votakvot.load_report()
    trial = rep.loc[0]["trial"].path  # path on fs with *.csv files
    frame = votakvot.metrics.load_csv_metrics(trial)  # instance of pd.DataFrame
    assert isinstance(frame, pd.DataFrame)
    assert frame["loss"].tolist() == pytest.approx([2.0, 1.0, 2.0 / 3])


def test_tracked_call_loads_params_and_result(root):
    """A @track call loads back with its bound params, its result and its attachment."""
    votakvot.init(path=root)
    assert metered_experiment(2) == {"final": 0.5}
    ((tid, trial),) = votakvot.load_trials(root).items()
    assert tid.startswith(f"{metered_experiment.__module__}/metered_experiment/")
    assert trial.params == {"steps": 2, "scale": 1.0}
    assert trial.result == {"final": 0.5}
    with trial.attach("my-file-name.txt", "rt") as f:
        assert f.read() == "some text ..."


def test_default_path_is_the_init_root(root):
    """load_trials() with no path loads from the root given to init."""
    made = _make_trials(root)
    assert set(votakvot.load_trials()) == set(made)


def test_default_path_without_init_is_current_folder(tmp_path):
    """Before any init, trials go to and load from the current folder."""
    with votakvot.trial("here", x=1) as t:
        pass
    assert (tmp_path / t.tid / "votakvot.yaml").is_file()
    assert list(votakvot.load_trials()) == [t.tid]


def test_default_path_follows_votakvot_path_env(monkeypatch, tmp_path):
    """Without init, $VOTAKVOT_PATH is the default root for writing and loading."""
    monkeypatch.setenv("VOTAKVOT_PATH", str(tmp_path / "from-env"))
    with votakvot.trial("env", x=1) as t:
        pass
    assert (tmp_path / "from-env" / t.tid / "votakvot.yaml").is_file()
    assert list(votakvot.load_trials()) == [t.tid]


def test_tids_stay_the_same_without_init(root):
    """Loading a root without init gives the same tids as when the trials were written."""
    made = _make_trials(root)
    votakvot.testing.reset()
    assert set(votakvot.load_trials(root)) == set(made)


def test_loading_a_subfolder_keeps_tids_relative_to_root(root):
    """Loading only one trial's folder still keys it by its tid."""
    made = _make_trials(root)
    tid, live = next(iter(made.items()))
    loaded = votakvot.load_trials(live.path)
    assert list(loaded) == [tid]


def test_plain_values_load_back_as_written(root):
    """Values pyyaml supports load back with their types, without trusted=True."""
    votakvot.init(path=root)
    when = datetime.datetime(2021, 5, 20, 15, 1, 2)
    values = {
        "i": 3,
        "f": 0.5,
        "c": 1 + 2j,
        "b": True,
        "s": "text",
        "raw": b"\x00\x01",
        "items": [1, 2],
        "pair": (1, "a"),
        "labels": {"x", "y"},
        "when": when,
        "none": None,
    }
    with votakvot.trial("types", **values) as t:
        t.result = (1, 2)
    trial = votakvot.load_trials(root)[t.tid]
    assert trial.params == values
    assert type(trial.params["pair"]) is tuple
    assert trial.result == (1, 2)


def test_seed_load_trials_example_in_a_git_repo(tmp_path, capsys):
    """The seed's load_trials prints work, and meta.git.commit is the repo's HEAD commit."""
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path)}

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
            env={**env, "PATH": "/usr/bin:/bin"},
        ).stdout.strip()

    git("init", "-q")
    (tmp_path / "code.py").write_text("print('hi')\n")
    git("add", "code.py")
    git("commit", "-q", "-m", "first")
    head = git("rev-parse", "HEAD")

    root = str(tmp_path / "results")
    votakvot.init(path=root)
    my_experiment(1, 2)
    my_experiment(3, 4)

    vs = votakvot.load_trials(root)
    print("count", len(vs))
    print("ids:", vs.keys())
    print("data", [v.data for v in vs.values()])
    print("git commits", [v.meta.git.commit for v in vs.values()])

    out = capsys.readouterr().out
    assert "count 2" in out
    assert f"git commits {[head, head]}" in out
    assert sorted(v.result for v in vs.values()) == [3, 7]


ODD_NAMES = ["grid[1]", "layers=[64, 64]", "x[!y]", "lr*2", "what?", "a b/c,d", "ü/β", "{x}", "50%"]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_a_trial_path_always_loads_that_trial(root, name):
    """A trial's own path loads exactly that trial, even when its name holds glob characters
    ('[', '*', '?'): a path that exists as written is read as written."""
    votakvot.init(path=root)
    with votakvot.trial(name, x=1) as t:
        t.meter(loss=0.5)
    with votakvot.trial(name.replace("[", "").replace("]", "") + "-other", x=2):
        pass
    trials = votakvot.load_trials(t.path)
    assert list(trials) == [t.tid]
    assert trials[t.tid].metrics()["loss"].tolist() == [0.5]
    rep = votakvot.load_report(t.path)
    assert rep["tid"].tolist() == [t.tid]
    assert rep["x"].tolist() == [1]
    assert t.tid in votakvot.load_trials(root)


def test_a_folder_named_like_a_glob_is_read_literally(root):
    """load_trials(f'{root}/grid[1]') loads the folder called 'grid[1]', not 'grid1'; a path that
    does not exist as written is still a glob."""
    votakvot.init(path=root)
    with votakvot.trial("grid[1]") as literal:
        pass
    with votakvot.trial("grid1") as one:
        pass
    with votakvot.trial("grid2") as two:
        pass
    assert list(votakvot.load_trials(f"{root}/grid[1]")) == [literal.tid]
    assert sorted(votakvot.load_trials(f"{root}/grid[12]")) == sorted([one.tid, two.tid])
