"""Loading hostile, broken, running and crashed trial folders: safe by default, never fatal."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import pickle
import signal
import subprocess
import time
import uuid
import warnings
from pathlib import Path

import fsspec
import pytest
import yaml

import votakvot
from conftest import child_pids, read_yaml, run_python, wait_for_children, wait_until
from votakvot.errors import TrialFailedError, TrialLoadError

STANDARD = ["tid", "trial", "status"]


def _fs(url: str):
    return fsspec.core.url_to_fs(url)


def _write(root: str, rel: str, data: bytes) -> str:
    """Writes `data` to `{root}/{rel}` (any fsspec URL or local path); returns the folder of the file."""
    fs, base = _fs(root)
    path = f"{base}/{rel}"
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    fs.pipe_file(path, data)
    return path.rsplit("/", 1)[0]


def _tail(path: str) -> str:
    """The part of a folder path a warning must mention, whatever protocol prefix it shows."""
    return path.split("://", 1)[-1].lstrip("/")


def _good_trials(root: str) -> set[str]:
    votakvot.init(path=root)
    tids = set()
    for i in range(2):
        with votakvot.trial("good", i=i) as t:
            t.result = i
        tids.add(t.tid)
    return tids


def _doc(**fields) -> bytes:
    base = {"tid": "hand/written", "uid": uuid.uuid4().hex, "status": "done", "params": {"x": 1}, "result": None}
    base.update(fields)
    return yaml.safe_dump(base).encode()


def _ours(record: list[warnings.WarningMessage]) -> list[str]:
    """Messages of warnings other than library deprecation noise."""
    return [
        str(w.message) for w in record if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))
    ]


# -- hostile documents -----------------------------------------------------------------------

HOSTILE = {
    "apply-os-system": '!!python/object/apply:os.system ["touch {marker}"]',
    "apply-popen": '!!python/object/apply:subprocess.Popen [["touch", "{marker}"]]',
    "apply-check-call": '!!python/object/apply:subprocess.check_call [["touch", "{marker}"]]',
    "apply-exec": "!!python/object/apply:builtins.exec [\"import os; os.system('touch {marker}')\"]",
    "new-map-eval": (
        "!!python/object/new:tuple [!!python/object/new:map "
        "[!!python/name:eval , [\"__import__('os').system('touch {marker}')\"]]]"
    ),
    "new-popen-kwds": '!!python/object/new:subprocess.Popen {{args: [["touch", "{marker}"]]}}',
    "name-os-system": "!!python/name:os.system",
    "module-os": "!!python/module:os",
    "object-state": '!!python/object:subprocess.Popen {{args: ["touch", "{marker}"]}}',
}


def _hostile_doc(payload: str) -> bytes:
    return (
        "tid: hostile\n"
        f"uid: {uuid.uuid4().hex}\n"
        "status: done\n"
        "params:\n"
        "  x: 1\n"
        f"  evil: {payload}\n"
        f"result: {payload}\n"
        "info:\n"
        f"  evil: {payload}\n"
        "meta:\n"
        f"  evil: {payload}\n"
    ).encode()


@pytest.mark.parametrize("payload", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_python_tags_do_not_run(root, tmp_path, payload):
    """A votakvot.yaml with python tags loads without running anything; values are inert with their tag."""
    marker = tmp_path / "PWNED"
    before = child_pids()
    text = payload.format(marker=marker)
    good = _good_trials(root)
    _write(root, "evil/trial/votakvot.yaml", _hostile_doc(text))
    trials = votakvot.load_trials(root)
    rep = votakvot.load_report(root)
    full = votakvot.load_report(root, full=True)
    hostile = next(t for tid, t in trials.items() if tid not in good)
    values = [hostile.result, hostile.params.evil, hostile.info.evil, hostile.meta.evil, hostile.data.result]
    wait_for_children(before)  # a `touch` spawned by loading has finished by now
    assert not marker.exists()
    assert good <= set(rep["tid"]) and len(rep) == 3
    assert len(full) == 3
    tag = text.split()[0].lstrip("!").split("[")[0]
    for value in values:
        assert isinstance(value, votakvot.InertObject)
        assert tag in value.tag
        assert "!!" + tag in repr(value)
    row = rep[~rep["tid"].isin(good)].iloc[0]
    assert isinstance(row["result"], votakvot.InertObject)
    assert isinstance(row["evil"] if "evil" in row.index else row["params.evil"], votakvot.InertObject)
    assert not marker.exists()


def test_hostile_whole_document_is_skipped_without_running(root, tmp_path, recwarn):
    """A document that is itself a python object is not a trial: skipped, nothing runs."""
    marker = tmp_path / "PWNED"
    before = child_pids()
    good = _good_trials(root)
    folder = _write(root, "evil/whole/votakvot.yaml", f'!!python/object/apply:os.system ["touch {marker}"]\n'.encode())
    rep = votakvot.load_report(root)
    wait_for_children(before)
    assert not marker.exists()
    assert set(rep["tid"]) == good
    assert [m for m in _ours(recwarn.list) if _tail(folder) in m]


def test_hostile_tag_in_key_does_not_run(root, tmp_path):
    """A python tag used as a mapping key does not run either."""
    marker = tmp_path / "PWNED"
    before = child_pids()
    good = _good_trials(root)
    _write(
        root,
        "evil/key/votakvot.yaml",
        f'status: done\nparams:\n  ? !!python/object/apply:os.system ["touch {marker}"]\n  : 1\n'.encode(),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = votakvot.load_report(root)
    wait_for_children(before)
    assert not marker.exists()
    assert good <= set(rep["tid"])


def test_trusted_builds_python_tags(root):
    """With trusted=True, python tags are built: `!!python/object/apply:builtins.len [[1,2,3]]` is 3."""
    _good_trials(root)
    _write(root, "trusted/t/votakvot.yaml", _hostile_doc("!!python/object/apply:builtins.len [[1, 2, 3]]"))
    (trial,) = (t for tid, t in votakvot.load_trials(root, trusted=True).items() if tid.startswith("trusted/"))
    assert trial.result == 3
    assert trial.params.evil == 3
    rep = votakvot.load_report(root, trusted=True)
    assert 3 in rep["result"].tolist()


def test_untrusted_keeps_harmless_tag_inert(root):
    """Without trusted=True even a harmless python tag stays an InertObject."""
    _write(root, "t/votakvot.yaml", _hostile_doc("!!python/object/apply:builtins.len [[1, 2, 3]]"))
    (trial,) = votakvot.load_trials(root).values()
    assert isinstance(trial.result, votakvot.InertObject)
    assert "builtins.len" in trial.result.tag
    assert "builtins.len" in repr(trial.result)


def test_unknown_tags_do_not_break_loading(root):
    """A document with a foreign local tag still loads as a trial."""
    good = _good_trials(root)
    _write(root, "tagged/t/votakvot.yaml", b"status: done\nparams:\n  x: !custom 5\nresult: !other {a: 1}\n")
    trials = votakvot.load_trials(root)
    assert len(trials) == 3 and good <= set(trials)
    assert len(votakvot.load_report(root)) == 3


def test_hostile_snapshot_is_not_unpickled_by_loading(root, tmp_path):
    """A malicious snapshot.pickle beside a document runs nothing when the trial is loaded."""
    marker = tmp_path / "PWNED"
    before = child_pids()

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    _write(root, "snap/t/votakvot.yaml", _doc())
    _write(root, "snap/t/snapshot.pickle", pickle.dumps(Evil()))
    (trial,) = votakvot.load_trials(root).values()
    votakvot.load_report(root, full=True)
    assert "snapshot.pickle" in trial.attached
    with contextlib.suppress(Exception):
        trial.load_snapshot()
    wait_for_children(before)
    assert not marker.exists()


def test_loaded_trial_does_not_read_outside_its_folder(root):
    """attach() on a loaded trial refuses names that leave its folder."""
    _good_trials(root)
    trial = next(iter(votakvot.load_trials(root).values()))
    for name in ("../../../etc/passwd", "/etc/passwd", "a/../../b"):
        with pytest.raises(votakvot.errors.AttachPathError):
            trial.attach(name)


def test_alias_bomb_loads_or_is_skipped_quickly(local_root, tmp_path):
    """A "billion laughs" YAML alias bomb neither hangs nor eats memory: it loads or is skipped fast."""
    _good_trials(local_root)
    lists = ["  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    dicts = ["  d0: &d0 {a: 1, b: 1, c: 1, d: 1, e: 1, f: 1, g: 1, h: 1, i: 1, j: 1}"]
    for n in range(1, 10):
        lists.append(f"  l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 10) + "]")
        dicts.append(f"  d{n}: &d{n} {{" + ", ".join(f"k{k}: *d{n - 1}" for k in range(10)) + "}")
    _write(local_root, "bomb/lists/votakvot.yaml", ("status: done\nparams:\n" + "\n".join(lists) + "\n").encode())
    _write(local_root, "bomb/dicts/votakvot.yaml", ("status: done\ninfo:\n" + "\n".join(dicts) + "\n").encode())
    code = f"""
import json, warnings, votakvot
warnings.simplefilter("ignore")
votakvot.init(path={local_root!r})
out = {{}}
for full in (False, True):
    rep = votakvot.load_report({local_root!r}, full=full)
    out[str(full)] = sorted(rep["tid"])
out["trials"] = sorted(votakvot.load_trials({local_root!r}))
print(json.dumps(out))
"""

    def limit_memory():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    started = time.monotonic()
    proc = run_python(code, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limit_memory)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("loading an alias bomb took more than 30 s")
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    good = {t for t in result["trials"] if t.startswith("good/")}
    assert len(good) == 2
    for key in ("False", "True"):
        assert good <= set(result[key])
        assert set(result[key]) <= {*good, "bomb/lists", "bomb/dicts"}
    assert elapsed < 20


# -- broken documents ------------------------------------------------------------------------

REAL_START = (
    "tid: broken/t\n"
    "uid: 9f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e\n"
    "status: done\n"
    "params:\n"
    "  x: 1\n"
    "  note: 'this string never ends\n"
)

BROKEN = {
    "empty": b"",
    "whitespace": b"  \n\n",
    "truncated-mid-string": REAL_START.encode(),
    "truncated-before-status": b"tid: broken/t\nuid: 9f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e\nsta",
    "truncated-flow": b"status: done\nparams: {a: 1, b: [1, 2,",
    "unparsable": b"status: done\n  params: - [\n\t}}}: :\n",
    "binary": b"\xff\xfe\x00\x01\x80garbage\x00",
    "foreign-list": b"- 1\n- 2\n- three\n",
    "foreign-dict": b"name: not a trial\nvalue: 3\n",
    "scalar": b"just a string\n",
    "null": b"~\n",
    "two-documents": b"status: done\n---\nstatus: failed\n",
}


def _assert_skipped_once(rep_or_trials, good: set[str], record, folder: str) -> None:
    tids = set(rep_or_trials["tid"]) if hasattr(rep_or_trials, "columns") else set(rep_or_trials)
    assert tids == good
    messages = _ours(record)
    naming = [m for m in messages if _tail(folder) in m]
    assert len(naming) == 1, messages
    assert len(messages) == 1, messages


@pytest.mark.parametrize("content", list(BROKEN.values()), ids=list(BROKEN))
def test_broken_document_is_skipped_with_one_warning(root, content):
    """A broken votakvot.yaml is skipped with one warning naming its folder; good trials still load."""
    good = _good_trials(root)
    folder = _write(root, "broken/21-05-20/15:01:02/t/votakvot.yaml", content)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        rep = votakvot.load_report(root)
    _assert_skipped_once(rep, good, record, folder)
    assert list(rep.columns[:3]) == STANDARD
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        trials = votakvot.load_trials(root)
    _assert_skipped_once(trials, good, record, folder)


@pytest.mark.parametrize("content", list(BROKEN.values()), ids=list(BROKEN))
def test_broken_document_raises_when_not_safe(root, content):
    """With safe=False a broken votakvot.yaml raises TrialLoadError naming its folder."""
    _good_trials(root)
    folder = _write(root, "broken/t/votakvot.yaml", content)
    with pytest.raises(TrialLoadError, match="broken"):
        votakvot.load_report(root, safe=False)
    with pytest.raises(TrialLoadError) as caught:
        votakvot.load_trials(root, safe=False)
    assert _tail(folder) in str(caught.value)


def test_document_that_is_a_directory_is_skipped_with_one_warning(root):
    """A trial folder whose votakvot.yaml is a directory is skipped with one warning naming it."""
    good = _good_trials(root)
    fs, base = _fs(root)
    folder = f"{base}/broken/dir"
    fs.makedirs(f"{folder}/votakvot.yaml/inner", exist_ok=True)
    fs.pipe_file(f"{folder}/votakvot.yaml/inner/file.txt", b"x")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        rep = votakvot.load_report(root)
    _assert_skipped_once(rep, good, record, folder)
    with pytest.raises(TrialLoadError):
        votakvot.load_trials(root, safe=False)


def test_unreadable_document_is_skipped_with_one_warning(local_root):
    """A votakvot.yaml the user may not read is skipped with one warning; safe=False raises."""
    if os.geteuid() == 0:
        pytest.skip("root reads every file, so chmod 000 does not make one unreadable")
    good = _good_trials(local_root)
    folder = _write(local_root, "broken/locked/votakvot.yaml", _doc())
    doc = Path(folder) / "votakvot.yaml"
    doc.chmod(0)
    try:
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            rep = votakvot.load_report(local_root)
        _assert_skipped_once(rep, good, record, folder)
        with pytest.raises(TrialLoadError):
            votakvot.load_report(local_root, safe=False)
    finally:
        doc.chmod(0o644)


def test_dangling_symlink_document_is_skipped_with_one_warning(local_root):
    """A votakvot.yaml that is a dangling symlink is skipped with one warning naming its folder."""
    good = _good_trials(local_root)
    folder = Path(local_root) / "broken" / "link"
    folder.mkdir(parents=True)
    (folder / "votakvot.yaml").symlink_to(folder / "nowhere.yaml")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        rep = votakvot.load_report(local_root)
    _assert_skipped_once(rep, good, record, str(folder))


def test_fifo_document_does_not_hang_the_report(local_root, tmp_path):
    """A votakvot.yaml that is a named pipe is skipped with a warning instead of blocking forever."""
    _good_trials(local_root)
    folder = Path(local_root) / "broken" / "fifo"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "votakvot.yaml")
    code = f"""
import json, warnings, votakvot
votakvot.init(path={local_root!r})
with warnings.catch_warnings(record=True) as record:
    warnings.simplefilter("always")
    rep = votakvot.load_report()
print(json.dumps({{"tids": sorted(rep["tid"]), "warnings": [str(w.message) for w in record]}}))
"""
    proc = run_python(code, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("load_report blocked on a votakvot.yaml that is a named pipe")
    assert proc.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert len(result["tids"]) == 2
    assert [m for m in result["warnings"] if str(folder) in m]


def test_symlink_loop_does_not_multiply_trials(local_root):
    """A symlink pointing back up the tree neither hangs a glob nor loads a trial twice."""
    votakvot.init(path=local_root)
    with votakvot.trial("exp", x=1) as t:
        pass
    (Path(local_root) / "exp" / "loop").symlink_to("..")
    day = t.tid.split("/")[1]
    for path in (local_root, f"{local_root}/**", f"{local_root}/**/{day}", f"{local_root}/*/{day}"):
        rep = votakvot.load_report(path)
        assert rep["tid"].tolist() == [t.tid], path
        assert len(votakvot.load_trials(path)) == 1, path


def test_odd_sections_do_not_break_the_report(root):
    """A document whose params, info and result have odd shapes still gives a row."""
    good = _good_trials(root)
    _write(root, "odd/t/votakvot.yaml", b"status: done\nparams: [1, 2]\ninfo: just text\nresult: {}\nmeta: 5\n")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        rep = votakvot.load_report(root)
        full = votakvot.load_report(root, full=True)
    assert len(rep) == 3 and good <= set(rep["tid"])
    assert len(full) == 3
    assert _ours(record) == []


def test_leftover_temp_file_is_ignored(root):
    """A half-written temporary file beside a good document changes nothing and warns nothing."""
    good = _good_trials(root)
    folder = _fs(root)[1] + "/" + sorted(good)[0]
    fs = _fs(root)[0]
    fs.pipe_file(f"{folder}/.tmp-votakvot.yaml.999.1", b"tid: x\nstatus: do")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        trials = votakvot.load_trials(root)
    assert set(trials) == good
    assert _ours(record) == []
    assert all(not name.startswith(".") for t in trials.values() for name in t.attached)


def test_failed_trial_without_traceback_file_still_loads(root):
    """A failed trial whose traceback.txt is gone loads; its result raises with the recorded error."""
    votakvot.init(path=root)
    with pytest.raises(KeyError), votakvot.trial("bad"):
        raise KeyError("missing-key")
    (trial,) = votakvot.load_trials(root).values()
    fs, _ = _fs(root)
    fs.rm_file(_fs(trial.path)[1] + "/traceback.txt")
    (trial,) = votakvot.load_trials(root).values()
    assert trial.status == "failed"
    with pytest.raises(TrialFailedError, match="missing-key"):
        trial.result  # noqa: B018
    assert votakvot.load_report(root)["status"].tolist() == ["failed"]


# -- running and crashed trials --------------------------------------------------------------


def _live_doc(started_ago: float) -> bytes:
    started = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=started_ago)
    return _doc(status="running", heartbeat=5.0, at={"created": started, "started": started})


def test_running_trial_with_fresh_heartbeat_loads_as_running(root):
    """A document saying `running` with a fresh .heartbeat loads as running."""
    _write(root, "live/t/votakvot.yaml", _live_doc(started_ago=3600))
    _write(root, "live/t/.heartbeat", f"{time.time():.3f}\n".encode())
    (trial,) = votakvot.load_trials(root).values()
    assert trial.status == "running"
    assert votakvot.load_report(root)["status"].tolist() == ["running"]
    assert ".heartbeat" not in trial.attached


def test_running_trial_with_stale_heartbeat_loads_as_crashed(root):
    """A document saying `running` whose heartbeat stopped an hour ago loads as crashed; the file is unchanged."""
    folder = _write(root, "dead/t/votakvot.yaml", _live_doc(started_ago=7200))
    _write(root, "dead/t/.heartbeat", f"{time.time() - 3600:.3f}\n".encode())
    fs, _ = _fs(root)
    before = fs.cat_file(f"{folder}/votakvot.yaml")
    (trial,) = votakvot.load_trials(root).values()
    assert trial.status == "crashed"
    assert votakvot.load_report(root)["status"].tolist() == ["crashed"]
    assert fs.cat_file(f"{folder}/votakvot.yaml") == before


@pytest.mark.slow
def test_trial_held_open_by_a_process_is_running_then_crashed_after_sigkill(local_root, tmp_path):
    """A trial open in another process loads as running; after SIGKILL it loads as crashed, file untouched."""
    ready = tmp_path / "ready"
    code = f"""
import time, votakvot
votakvot.init(path={local_root!r})
with votakvot.trial("held", x=1) as t:
    t.meter(loss=1.0)
    open({str(ready)!r}, "w").write(t.tid)
    time.sleep(120)  # stays: holds the trial open until the test kills this process
"""
    proc = run_python(code, cwd=tmp_path)
    try:
        wait_until(lambda: proc.poll() is not None or (ready.exists() and ready.read_text()), timeout=60)
        assert proc.poll() is None, "the trial process died before its trial started"
        assert ready.exists() and ready.read_text(), "the trial process did not start its trial in 60 s"
        tid = ready.read_text()
        trials = votakvot.load_trials(local_root)
        assert trials[tid].status == "running"
        assert votakvot.load_report(local_root)["status"].tolist() == ["running"]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        doc = Path(local_root) / tid / "votakvot.yaml"
        before = doc.read_bytes()
        assert read_yaml(str(doc))["status"] == "running"
        assert votakvot.load_trials(local_root)[tid].status == "crashed"
        assert votakvot.load_report(local_root)["status"].tolist() == ["crashed"]
        assert doc.read_bytes() == before
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_trial_of_a_finished_process_keeps_its_status(local_root, tmp_path):
    """A trial finished in a process that then exits loads with its final status, not crashed."""
    code = f"""
import votakvot
votakvot.init(path={local_root!r})
with votakvot.trial("short", x=1) as t:
    t.result = 5
"""
    proc = run_python(code, cwd=tmp_path)
    assert proc.wait(timeout=60) == 0
    (trial,) = votakvot.load_trials(local_root).values()
    assert trial.status == "done"
    assert trial.result == 5


def test_huge_document_is_skipped_without_reading_it(local_root, monkeypatch):
    """A local votakvot.yaml larger than the document limit is skipped with a warning naming it."""
    from votakvot._files import layout

    votakvot.init(path=local_root)
    with votakvot.trial("good", x=1) as good:
        pass
    # The limit sits above the good document, whose meta grows with the installed plug-ins
    # (pip-freeze lists every distribution).
    limit = (Path(good.path) / "votakvot.yaml").stat().st_size + 1000
    big = Path(local_root) / "big" / "t"
    big.mkdir(parents=True)
    (big / "votakvot.yaml").write_text("status: done\nparams: {x: 2}\nnote: " + "y" * (limit + 1000) + "\n")
    monkeypatch.setattr(layout, "MAX_DOCUMENT_BYTES", limit)
    with pytest.warns(UserWarning, match=f"more than the {limit}"):
        df = votakvot.load_report(local_root, index=False)
    assert df["x"].tolist() == [1]


def test_crashed_trial_has_an_error_saying_why(root):
    """A crashed trial's error says its process stopped and when its last heartbeat was, on the trial and in
    the report (fresh and indexed); a live trial has no error."""
    _write(root, "dead/t/votakvot.yaml", _live_doc(started_ago=7200))
    beat = time.time() - 3600
    _write(root, "dead/t/.heartbeat", f"{beat:.3f}\n".encode())
    _write(root, "live/t/votakvot.yaml", _live_doc(started_ago=10))
    _write(root, "live/t/.heartbeat", f"{time.time():.3f}\n".encode())
    trials = {trial.status: trial for trial in votakvot.load_trials(root).values()}
    expected = f"no heartbeat since {datetime.datetime.fromtimestamp(beat).astimezone().isoformat(' ', 'seconds')}"
    assert expected in trials["crashed"].error
    assert trials["crashed"].error.startswith("the process stopped without finishing")
    assert trials["running"].error is None
    for _ in range(2):
        rep = votakvot.load_report(root).set_index("status")
        assert rep.loc["crashed", "error"] == trials["crashed"].error
        assert rep.loc["running", "error"] is None
