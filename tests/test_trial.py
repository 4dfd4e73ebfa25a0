"""`votakvot.trial`: the handle, the folder layout, the statuses and what stays on disk."""

from __future__ import annotations

import datetime
import os
import re
import threading
import time
import uuid

import fsspec
import pytest
import yaml

import votakvot
from conftest import read_yaml, wait_until
from votakvot.errors import TrialNameError, TrialStateError

FAST = {"heartbeat": 0.2, "flush_interval": 0.1}
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _native(url: str) -> str:
    """Returns the path of `url` inside its filesystem (no protocol)."""
    return fsspec.core.url_to_fs(url)[1].rstrip("/")


def _files(url: str) -> set[str]:
    """Returns every file below the folder `url`, relative to it, hidden files included."""
    fs, path = fsspec.core.url_to_fs(url)
    path = path.rstrip("/")
    return {p[len(path) + 1 :] for p in fs.find(path)}


def _read(url: str) -> bytes | None:
    fs, path = fsspec.core.url_to_fs(url)
    try:
        return fs.cat_file(path)
    except FileNotFoundError:
        return None


def _ticker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "votakvot-ticker" and t.is_alive()]


def test_handle_has_tid_uid_path_and_params(root):
    """The handle exposes tid, uid (uuid4 hex), the folder path below the root and the params."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("exp", lr=0.1, depth=3) as t:
        assert t.params == {"lr": 0.1, "depth": 3}
        parsed = uuid.UUID(hex=t.uid)
        assert parsed.version == 4
        assert t.uid == parsed.hex
        assert t.tid.endswith("/" + t.uid)
        assert _native(t.path) == _native(root) + "/" + t.tid
        for verb in ("inform", "meter", "attach"):
            assert callable(getattr(t, verb))


def test_folder_is_name_date_time_uuid(root):
    """The folder is {root}/{name}/{yy}-{mm}-{dd}/{HH}:{MM}:{SS}/{uuid4 hex}, stamped at the start."""
    votakvot.init(path=root, **FAST)
    before = datetime.datetime.now().replace(microsecond=0)
    with votakvot.trial("grid/exp") as t:
        pass
    after = datetime.datetime.now()
    match = re.fullmatch(r"grid/exp/(\d\d-\d\d-\d\d)/(\d\d:\d\d:\d\d)/([0-9a-f]{32})", t.tid)
    assert match, t.tid
    stamp = datetime.datetime.strptime(f"{match[1]} {match[2]}", "%y-%m-%d %H:%M:%S")
    assert before <= stamp <= after
    assert match[3] == t.uid
    assert "votakvot.yaml" in _files(f"{root}/{t.tid}")


def test_each_trial_gets_its_own_folder(root):
    """Two trials with the same name and params in the same second get different folders."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("exp", a=1) as first:
        pass
    with votakvot.trial("exp", a=1) as second:
        pass
    assert first.tid != second.tid
    assert first.uid != second.uid
    assert set(votakvot.load_trials(root)) == {first.tid, second.tid}


def test_document_says_running_inside_and_done_after(root):
    """votakvot.yaml exists from the start with status running, and says done with timings at the end."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("exp", lr=0.1) as t:
        live = read_yaml(f"{t.path}/votakvot.yaml")
        assert live["status"] == "running"
        assert live["params"] == {"lr": 0.1}
        assert live["tid"] == t.tid
        assert live["uid"] == t.uid
        t.result = {"acc": 0.9}
    doc = read_yaml(f"{t.path}/votakvot.yaml")
    assert doc["status"] == "done"
    assert doc["tid"] == t.tid
    assert doc["uid"] == t.uid
    assert doc["params"] == {"lr": 0.1}
    assert doc["result"] == {"acc": 0.9}
    assert doc["version"] == votakvot.__version__
    at = doc["at"]
    assert at["created"] <= at["started"] <= at["finished"]
    assert isinstance(at["duration"], float)
    assert 0 <= at["duration"] < 60
    assert "error" not in doc


def test_result_defaults_to_none_and_is_settable(root):
    """`result` is None unless set; the last value set is what is stored."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("exp") as plain:
        assert plain.result is None
    with votakvot.trial("exp") as t:
        t.result = 1
        t.result = [1, 2, 3]
    assert read_yaml(f"{plain.path}/votakvot.yaml")["result"] is None
    assert read_yaml(f"{t.path}/votakvot.yaml")["result"] == [1, 2, 3]


def test_exception_is_recorded_and_reraised_unchanged(root):
    """An exception marks the trial failed, writes error and traceback.txt, and is re-raised as the same object."""
    votakvot.init(path=root, **FAST)
    boom = ValueError("boom at step 7")
    with pytest.raises(ValueError) as caught, votakvot.trial("exp", lr=0.1) as t:
        t.inform(reached="the raise")
        raise boom
    assert caught.value is boom
    doc = read_yaml(f"{t.path}/votakvot.yaml")
    assert doc["status"] == "failed"
    assert "ValueError" in doc["error"]
    assert "boom at step 7" in doc["error"]
    assert doc["params"] == {"lr": 0.1}
    assert doc["info"] == {"reached": "the raise"}
    assert "finished" in doc["at"]
    text = _read(f"{t.path}/traceback.txt").decode()
    assert text.startswith("Traceback")
    assert "ValueError: boom at step 7" in text
    assert "raise boom" in text


@pytest.mark.parametrize(
    "exc",
    [KeyboardInterrupt(), SystemExit(3)],
    ids=["keyboard-interrupt", "system-exit"],
)
def test_interruption_is_recorded_and_reraised(root, exc):
    """KeyboardInterrupt and SystemExit mark the trial interrupted and propagate unchanged."""
    votakvot.init(path=root, **FAST)
    with pytest.raises(type(exc)) as caught, votakvot.trial("exp") as t:
        raise exc
    assert caught.value is exc
    doc = read_yaml(f"{t.path}/votakvot.yaml")
    assert doc["status"] == "interrupted"
    assert "finished" in doc["at"]


@pytest.mark.parametrize(
    "exc",
    [KeyboardInterrupt(), SystemExit(3)],
    ids=["keyboard-interrupt", "system-exit"],
)
def test_interruption_writes_the_traceback_of_where_it_landed(root, exc):
    """An interrupted trial has traceback.txt, read back as traceback_text, naming the line it landed on."""
    votakvot.init(path=root, **FAST)

    def deep_in_the_loop():
        raise exc

    with pytest.raises(type(exc)), votakvot.trial("exp") as t:
        deep_in_the_loop()
    text = _read(f"{t.path}/traceback.txt").decode()
    assert text.startswith("Traceback")
    assert "in deep_in_the_loop" in text
    assert type(exc).__name__ in text.splitlines()[-1]
    assert votakvot.load_trials(root)[t.tid].traceback_text == text


def test_no_temporary_files_are_left_behind(root):
    """After a busy trial the folder holds only the document, metrics, attachments and the heartbeat."""
    votakvot.init(path=root, heartbeat=0.1, flush_interval=0.02)
    with votakvot.trial("exp") as t:
        for i in range(20):
            t.inform(i=i)
            t.meter(loss=1 / (i + 1))
            time.sleep(0.01)  # stays: the trial must stay busy across many timed flushes and a heartbeat
        with t.attach("notes.txt") as f:
            f.write("hello")
    files = _files(t.path)
    metric_parts = {f for f in files if re.fullmatch(r"metrics(\.\d+)?\.csv", f)}
    assert "metrics.csv" in metric_parts
    assert files - metric_parts - {".heartbeat"} == {"votakvot.yaml", "notes.txt"}


def test_document_always_parses_while_it_is_rewritten(local_root):
    """A reader polling votakvot.yaml while the trial keeps rewriting it always finds a complete document."""
    votakvot.init(path=local_root, heartbeat=0.2, flush_interval=0.005)
    bad: list[object] = []
    reads = [0]
    stop = threading.Event()

    def reader(path: str) -> None:
        while not stop.is_set():
            try:
                with open(path, "rb") as f:
                    doc = yaml.load(f.read(), Loader=SAFE_LOADER)
            except FileNotFoundError as e:
                bad.append(e)
                continue
            reads[0] += 1
            if not isinstance(doc, dict) or doc.get("params") != {"big": "x" * 2000}:
                bad.append(doc)

    with votakvot.trial("exp", big="x" * 2000) as t:
        thread = threading.Thread(target=reader, args=(os.path.join(t.path, "votakvot.yaml"),))
        thread.start()
        try:
            deadline = time.monotonic() + 3
            i = 0
            while reads[0] < 200 and time.monotonic() < deadline:
                i += 1
                t.inform(i=i, text="y" * (i % 500))
                time.sleep(0.001)  # stays: lets the reader thread in between rewrites
        finally:
            stop.set()
            thread.join()
    assert reads[0] >= 20
    assert bad == []
    assert read_yaml(os.path.join(t.path, "votakvot.yaml"))["info"]["i"] == i


def test_heartbeat_is_refreshed_while_running_and_not_after(root):
    """While a trial runs its .heartbeat file keeps changing; after it ends the file stays as it was."""
    votakvot.init(path=root, heartbeat=0.1, flush_interval=0.05)
    with votakvot.trial("exp") as t:
        beat = f"{t.path}/.heartbeat"
        first = wait_until(lambda: _read(beat))
        assert first, "no .heartbeat written within 10 s"
        second = wait_until(lambda: (got := _read(beat)) != first and got)
        assert second and second != first
    last = _read(beat)
    time.sleep(0.35)  # stays: nothing to wait for but time; over three heartbeat intervals without a beat
    assert _read(beat) == last


def test_ticker_thread_ends_after_the_last_trial():
    """The votakvot-ticker thread runs while a trial is open and is gone shortly after the last one ends."""
    votakvot.init(path="results", **FAST)
    with votakvot.trial("outer"), votakvot.trial("inner"):
        assert _ticker_threads()
    assert wait_until(lambda: not _ticker_threads(), timeout=3.0)


def test_verbs_after_the_block_raise_trial_state_error(root):
    """inform/meter/attach on a finished trial raise TrialStateError (a RuntimeError) and change nothing."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("exp") as t:
        t.inform(inside=True)
    before = _read(f"{t.path}/votakvot.yaml")
    with pytest.raises(TrialStateError):
        t.inform(late=True)
    with pytest.raises(RuntimeError):
        t.meter(late=1)
    with pytest.raises(TrialStateError):
        t.attach("late.txt", "w")
    assert _read(f"{t.path}/votakvot.yaml") == before
    assert "late.txt" not in _files(t.path)


def test_a_trial_cannot_be_entered_twice(root):
    """Entering the same trial object a second time raises TrialStateError."""
    votakvot.init(path=root, **FAST)
    t = votakvot.trial("exp")
    with t:
        pass
    with pytest.raises(TrialStateError), t:
        pass
    assert read_yaml(f"{t.path}/votakvot.yaml")["status"] == "done"


@pytest.mark.parametrize(
    ("name", "shown"), [(5, "5 (int)"), (None, "None (NoneType)"), (b"exp", "b'exp' (bytes)"), (["a"], "['a'] (list)")]
)
def test_trial_name_of_the_wrong_type_says_what_to_pass(name, shown):
    """trial(5) names the mistake and the fix: the name must be a str, with the value and its type."""
    with pytest.raises(TrialNameError) as caught:
        votakvot.trial(name)
    assert str(caught.value) == f"trial name must be a str such as 'my_exp', got {shown}"
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("name", [".hidden/exp", "grid/.x", ".exp", "a/..b"])
def test_hidden_trial_names_are_refused(root, name):
    """A name with a segment starting with '.' (which loading skips as hidden) raises TrialNameError
    when the trial is made, saying which segment, and nothing is written."""
    votakvot.init(path=root)
    with pytest.raises(TrialNameError, match=r"starting with '\.', which loading skips as hidden; drop the dot") as c:
        votakvot.trial(name)
    assert repr(name) in str(c.value)
    with pytest.raises(TrialNameError, match="trial id"):
        votakvot.trial_at(name)
    fs, path = fsspec.core.url_to_fs(root)
    assert not fs.exists(path)


def test_names_with_a_filesystem_chain_are_refused(root):
    """'::' (an fsspec chain of filesystems in a URL) cannot be part of a trial name; the message suggests one."""
    votakvot.init(path=root)
    with pytest.raises(TrialNameError, match=r"holds '::'.*e\.g\. 'a-b'"):
        votakvot.trial("a::b")


def test_series_name_of_the_wrong_type_says_what_to_pass():
    """series(5) says the series name must be a str, with the value and its type."""
    with pytest.raises(ValueError, match=r"must be a str such as 'eval', got 5 \(int\)"):
        votakvot.series(5)
