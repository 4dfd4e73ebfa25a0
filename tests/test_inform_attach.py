"""inform / meter / attach: on the handle, at module level (innermost trial), and outside any trial."""

from __future__ import annotations

import os
import warnings

import fsspec
import pytest

import votakvot
from conftest import read_yaml
from votakvot.errors import AttachPathError

FAST = {"heartbeat": 0.2, "flush_interval": 0.1}


def _files(url: str) -> set[str]:
    fs, path = fsspec.core.url_to_fs(url)
    path = path.rstrip("/")
    return {p[len(path) + 1 :] for p in fs.find(path)}


def _read(url: str) -> bytes:
    fs, path = fsspec.core.url_to_fs(url)
    return fs.cat_file(path)


def _metric_column(trial, name: str) -> list:
    frame = votakvot.metrics.load_csv_metrics(trial.path)
    return list(frame[name]) if name in frame.columns else []


def test_module_verbs_act_on_the_active_trial(root):
    """votakvot.inform / meter / attach inside a trial write into that trial's folder."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("exp") as t:
        votakvot.inform(note="first try", tags=["a", "b"])
        votakvot.meter(loss=0.5)
        votakvot.meter(loss=0.25)
        with votakvot.attach("log.txt", "w") as f:
            f.write("hello")
    doc = read_yaml(f"{t.path}/votakvot.yaml")
    assert doc["info"] == {"note": "first try", "tags": ["a", "b"]}
    assert _metric_column(t, "loss") == [0.5, 0.25]
    assert _read(f"{t.path}/log.txt") == b"hello"


def test_handle_verbs_write_the_same_as_module_verbs(root):
    """t.inform / t.meter / t.attach record the same things as the module-level verbs."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("exp") as t:
        t.inform(note="first try")
        t.meter(loss=0.5)
        with t.attach("log.txt", "w") as f:
            f.write("hello")
    assert read_yaml(f"{t.path}/votakvot.yaml")["info"] == {"note": "first try"}
    assert _metric_column(t, "loss") == [0.5]
    assert _read(f"{t.path}/log.txt") == b"hello"


def test_inform_later_values_replace_earlier(root):
    """inform() merges into info; a key informed again keeps its last value."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("exp") as t:
        votakvot.inform(a=1, b=2)
        votakvot.inform(b=3, c=[4])
    assert read_yaml(f"{t.path}/votakvot.yaml")["info"] == {"a": 1, "b": 3, "c": [4]}


def test_module_verbs_act_on_the_innermost_nested_trial(root):
    """With nested trials the verbs act on the inner one, and on the outer one again once it ends."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("outer") as outer:
        votakvot.inform(where="outer-before")
        votakvot.meter(level=0)
        with votakvot.trial("inner") as inner:
            assert votakvot.current() is inner
            votakvot.inform(where="inner")
            votakvot.meter(level=1)
            with votakvot.attach("inner.txt") as f:
                f.write("in")
        assert votakvot.current() is outer
        votakvot.meter(level=2)
        with votakvot.attach("outer.txt") as f:
            f.write("out")
    assert votakvot.current() is None
    assert read_yaml(f"{outer.path}/votakvot.yaml")["info"] == {"where": "outer-before"}
    assert read_yaml(f"{inner.path}/votakvot.yaml")["info"] == {"where": "inner"}
    assert _metric_column(outer, "level") == [0, 2]
    assert _metric_column(inner, "level") == [1]
    assert "inner.txt" not in _files(outer.path)
    assert "outer.txt" not in _files(inner.path)
    assert read_yaml(f"{inner.path}/votakvot.yaml")["status"] == "done"


@pytest.mark.parametrize("verb", ["inform", "meter", "attach"])
def test_verbs_outside_a_trial_warn_once_and_write_nothing(verb, tmp_path, local_root):
    """Outside any trial each verb warns once (UserWarning), raises nothing and writes nothing."""
    votakvot.init(path=local_root, **FAST)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for i in range(3):
            if verb == "attach":
                with votakvot.attach("stray.txt", "w") as f:
                    f.write("should go nowhere")
                with votakvot.attach("stray.bin", "wb") as f:
                    f.write(b"\x00")
            else:
                getattr(votakvot, verb)(value=i)
    mine = [w for w in seen if verb in str(w.message)]
    assert len(mine) == 1, [str(w.message) for w in seen]
    assert issubclass(mine[0].category, UserWarning)
    assert mine[0].filename == __file__
    assert [name for name in os.listdir(tmp_path) if name != "votakvot-cache"] == []  # the test's local cache


def test_outside_warning_is_once_per_process_not_per_call_site():
    """A verb called outside trials from several places still warns only once."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        votakvot.inform(a=1)
        votakvot.inform(b=2)
        with votakvot.trial("exp"):
            votakvot.inform(inside=True)
        votakvot.inform(c=3)
    assert len([w for w in seen if "inform" in str(w.message)]) == 1


def test_attach_creates_sub_folders_in_text_and_binary_modes(root):
    """attach() opens files in nested sub-folders of the trial, in text and binary modes."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("exp") as t:
        with votakvot.attach("logs/deep/train.txt", "w") as f:
            f.write("línea 1\n")
        with t.attach("arrays/a.bin", mode="wb") as f:
            f.write(b"\x00\x01\xff")
        with t.attach("./plain.txt") as f:
            f.write("default mode writes text")
    files = _files(t.path)
    assert {"logs/deep/train.txt", "arrays/a.bin", "plain.txt"} <= files
    assert _read(f"{t.path}/logs/deep/train.txt").decode() == "línea 1\n"
    assert _read(f"{t.path}/arrays/a.bin") == b"\x00\x01\xff"
    assert _read(f"{t.path}/plain.txt") == b"default mode writes text"


ESCAPING = ["..", "../x.txt", "a/../../x.txt", "logs/../../../x.txt", "/tmp/votakvot-absolute.txt", "votakvot.yaml"]


@pytest.mark.parametrize("how", ["handle", "module"])
@pytest.mark.parametrize(
    "name", ESCAPING, ids=["dotdot", "parent", "nested-parent", "deep-parent", "absolute", "document"]
)
def test_attach_refuses_names_outside_the_folder(root, tmp_path, name, how):
    """attach() refuses '..', absolute paths and votakvot.yaml with AttachPathError (a ValueError), writing nothing."""
    votakvot.init(path=root, **FAST)
    absolute = str(tmp_path / "votakvot-absolute.txt")
    name = absolute if name.startswith("/") else name
    with votakvot.trial("exp", a=1) as t:
        t.inform(before=True)
        document = _read(f"{t.path}/votakvot.yaml")
        before = _files(root)
        opener = t.attach if how == "handle" else votakvot.attach
        with pytest.raises(AttachPathError) as caught, opener(name, "w") as f:
            f.write("escaped!")
        assert isinstance(caught.value, ValueError)
        assert repr(name) in str(caught.value)
        assert _files(root) == before
        assert _read(f"{t.path}/votakvot.yaml") == document
    assert not os.path.exists(absolute)
    assert not os.path.exists(tmp_path / "x.txt")
    doc = read_yaml(f"{t.path}/votakvot.yaml")
    assert doc["status"] == "done"
    assert doc["params"] == {"a": 1}


OWN_NAMES = [
    "metrics.csv",
    "metrics.1.csv",
    "metrics.eval.csv",
    "metrics.eval.2.csv",
    "traceback.txt",
    "snapshot.pickle",
    "votakvot.yaml",
    ".heartbeat",
    ".claim",
    ".hidden/notes.txt",
]


@pytest.mark.parametrize("how", ["handle", "module"])
@pytest.mark.parametrize("name", OWN_NAMES)
def test_attach_refuses_votakvot_own_files(root, name, how):
    """attach() refuses every name votakvot writes itself (metrics, traceback, snapshot, document,
    hidden names) with AttachPathError naming it, and writes nothing."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("exp") as t:
        before = _files(t.path)
        opener = t.attach if how == "handle" else votakvot.attach
        with pytest.raises(AttachPathError, match="reserved: votakvot writes") as caught, opener(name, "w") as f:
            f.write("hello")
        assert repr(name) in str(caught.value)
        assert "choose another name such as 'my_" in str(caught.value)
        assert _files(t.path) == before


def test_attaching_metrics_csv_leaves_the_metrics_intact(root):
    """Metering then attach('metrics.csv') raises, and the metered rows read back unchanged."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("exp") as t:
        t.meter(loss=1)
        t.meter(loss=2)
        t.flush_metrics()
        with pytest.raises(AttachPathError), t.attach("metrics.csv") as f:
            f.write("hello\n1\n2\n")
    (trial,) = votakvot.load_trials(t.path).values()
    assert trial.metrics()["loss"].tolist() == [1, 2]


def test_own_names_are_fine_in_sub_folders_and_for_reading(root):
    """Names votakvot owns only at the top of the folder are free below it; a loaded trial reads every file."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("exp") as t:
        t.meter(loss=1)
        with t.attach("logs/metrics.csv") as f:
            f.write("mine")
        with t.attach("logs/.keep") as f:
            f.write("")
    (trial,) = votakvot.load_trials(t.path).values()
    assert trial.metrics()["loss"].tolist() == [1]
    with trial.attach("logs/metrics.csv") as f:
        assert f.read() == b"mine"
    with trial.attach("metrics.csv") as f:
        assert f.read().startswith(b"step,time,loss")
    with trial.attach("votakvot.yaml") as f:
        assert b"status: done" in f.read()


@pytest.mark.parametrize("name", [5, None, b"x.txt"], ids=["int", "none", "bytes"])
def test_attach_name_of_the_wrong_type_says_what_to_pass(local_root, name):
    """attach() with a name that is not a str says it must be a str, with the value and its type."""
    votakvot.init(path=local_root, **FAST)
    with votakvot.trial("exp") as t, pytest.raises(AttachPathError) as caught:
        t.attach(name)
    message = str(caught.value)
    assert f"must be a str such as 'log.txt', got {name!r} ({type(name).__name__})" in message


def test_attach_takes_a_path_object(local_root):
    """attach() takes a pathlib path as well as a str."""
    import pathlib

    votakvot.init(path=local_root, **FAST)
    with votakvot.trial("exp") as t, t.attach(pathlib.PurePosixPath("logs/a.txt")) as f:
        f.write("ok")
    assert _read(f"{t.path}/logs/a.txt") == b"ok"


def test_attach_outside_a_trial_still_refuses_a_wrong_name(local_root):
    """Outside any trial a name attach() would refuse inside one raises too; a good name gives a null file."""
    with pytest.raises(AttachPathError, match="leaves the trial folder"):
        votakvot.attach("../x.txt")
    with pytest.raises(AttachPathError, match="reserved"):
        votakvot.attach("metrics.csv")
    with pytest.warns(UserWarning, match="outside any trial"), votakvot.attach("fine.txt") as f:
        f.write("discarded")
