"""`votakvot.remove`: deleting trials by selection, the folders they leave empty, and the index after."""

from __future__ import annotations

import datetime
import os
import time

import fsspec
import pandas as pd
import pytest

import votakvot
from votakvot._read import discovery
from votakvot.errors import SelectionError, TrialRunningError


def _fs(url: str):
    return fsspec.core.url_to_fs(url)


def _exists(url: str) -> bool:
    fs, path = _fs(url)
    return bool(fs.exists(path))


def _files_below(url: str) -> set[str]:
    fs, path = _fs(url)
    return {p[len(path) :].lstrip("/") for p in fs.find(path)} if fs.exists(path) else set()


def _grid(root: str) -> dict[str, votakvot.LiveTrial]:
    """Two done trials of `train`, one failed, and one done trial of `other`; by a short name."""
    votakvot.init(path=root)
    made = {}
    for name, lr in (("done1", 0.1), ("done2", 0.2)):
        with votakvot.trial("train", lr=lr) as t:
            t.meter(loss=lr)
        made[name] = t
    with pytest.raises(ValueError), votakvot.trial("train", lr=9.0) as t:
        raise ValueError("diverged")
    made["failed"] = t
    with votakvot.trial("other", x=1) as t:
        pass
    made["other"] = t
    return made


def test_remove_by_path_and_status_deletes_only_those(root):
    """remove(path, status=...) deletes the matching trial folders, returns them, and leaves the rest."""
    made = _grid(root)
    removed = votakvot.remove(root, status="failed")
    assert [t.tid for t in removed] == [made["failed"].tid]
    assert isinstance(removed[0], votakvot.Trial) and removed[0].params == {"lr": 9.0}
    assert not _exists(made["failed"].path)
    assert all(_exists(made[name].path) for name in ("done1", "done2", "other"))
    assert sorted(votakvot.load_report(root)["tid"]) == sorted(made[n].tid for n in ("done1", "done2", "other"))


def test_concluded_statuses_select_too(root):
    """The statuses trials are concluded with (test outcomes such as skipped, xfailed) select as any other."""
    made = _grid(root)
    with votakvot.trial("tests", n=1) as t:
        t.conclude("xfailed")
    assert [r.tid for r in votakvot.remove(root, status=["skipped", "xfailed"])] == [t.tid]
    assert sorted(votakvot.load_trials(root)) == sorted(m.tid for m in made.values())


def test_dry_run_removes_nothing(root):
    """dry_run=True returns what would be removed and touches no file."""
    made = _grid(root)
    before = _files_below(root)
    would = votakvot.remove(f"{root}/train", status=["done", "failed"], dry_run=True)
    assert {t.tid for t in would} == {made[n].tid for n in ("done1", "done2", "failed")}
    assert _files_below(root) == before


def test_empty_parent_folders_go_up_to_the_root_and_no_further(root):
    """Removing every trial of a function removes its date, time and function folders, not the root."""
    made = _grid(root)
    votakvot.remove(f"{root}/tr*")
    fs, path = _fs(root)
    assert not fs.exists(f"{path}/train")
    assert _exists(root)
    assert _exists(made["other"].path)
    assert {p.split("/")[0] for p in _files_below(root)} == {"other"}


def test_folders_that_still_hold_something_stay(root):
    """A date folder with another trial, or with a file of the user's, is kept; the named folder is kept."""
    made = _grid(root)
    fs, path = _fs(root)
    day = made["done1"].tid.split("/")[1]
    with fs.open(f"{path}/train/{day}/notes.txt", "wb") as f:
        f.write(b"mine")
    votakvot.remove(f"{root}/train")
    assert fs.exists(f"{path}/train/{day}/notes.txt")
    assert fs.exists(f"{path}/train")  # the folder remove() was given, although now nearly empty
    assert not any(fs.exists(_fs(made[n].path)[1]) for n in ("done1", "done2", "failed"))
    assert {p for p in _files_below(root) if p.startswith("train/")} == {f"train/{day}/notes.txt"}


def test_remove_takes_trials_and_report_frames(root):
    """remove() takes one loaded Trial, a list of them, or a report DataFrame (its `trial` column)."""
    made = _grid(root)
    rep = votakvot.load_report(root)
    votakvot.remove(rep[rep["status"] == "failed"])
    assert not _exists(made["failed"].path)
    trials = votakvot.load_trials(root)
    votakvot.remove(trials[made["done1"].tid])
    votakvot.remove([trials[made["done2"].tid]])
    assert list(votakvot.load_trials(root)) == [made["other"].tid]
    fs, path = _fs(root)
    assert not fs.exists(f"{path}/train")  # parents cleaned up to the root the tids are relative to


def test_before_selects_trials_created_earlier(root):
    """before= takes a datetime, an ISO string, a date or a timedelta, and selects trials created before it."""
    votakvot.init(path=root)
    with votakvot.trial("old") as old:
        pass
    time.sleep(0.01)
    cut = datetime.datetime.now()
    with votakvot.trial("new") as new:
        pass
    for before in (cut, cut.isoformat(), cut.astimezone()):
        assert [t.tid for t in votakvot.remove(root, before=before, dry_run=True)] == [old.tid]
    assert votakvot.remove(root, before=datetime.date.today(), dry_run=True) == []
    assert votakvot.remove(root, before=datetime.timedelta(hours=1), dry_run=True) == []
    assert len(votakvot.remove(root, before=datetime.timedelta(seconds=-60), dry_run=True)) == 2
    votakvot.remove(root, before=cut)
    assert list(votakvot.load_trials(root)) == [new.tid]


def test_a_running_trial_is_refused_unless_forced(root):
    """A running trial (fresh heartbeat) raises TrialRunningError before anything is removed; force=True removes it."""
    made = _grid(root)
    before = _files_below(root)
    with votakvot.trial("train", lr=5.0) as live:
        with pytest.raises(TrialRunningError, match="still running") as caught:
            votakvot.remove(f"{root}/train")
        assert [t.tid for t in caught.value.trials] == [live.tid]
        assert isinstance(caught.value, RuntimeError)
        assert before <= _files_below(root)  # nothing was removed
        assert {t.tid for t in votakvot.remove(f"{root}/train", status="done")} == {
            made["done1"].tid,
            made["done2"].tid,
        }
    fs, path = _fs(root)
    now = datetime.datetime.now().astimezone()
    doc = f"tid: held/t\nuid: u\nstatus: running\nheartbeat: 5.0\nat: {{created: {now}, started: {now}}}\n"
    fs.makedirs(f"{path}/held/t", exist_ok=True)
    fs.pipe_file(f"{path}/held/t/votakvot.yaml", doc.encode())  # another process's trial, alive
    fs.pipe_file(f"{path}/held/t/.heartbeat", f"{time.time():.3f}\n".encode())
    with pytest.raises(TrialRunningError):
        votakvot.remove(f"{root}/held")
    assert [t.tid for t in votakvot.remove(f"{root}/held", force=True)] == ["held/t"]
    assert not fs.exists(f"{path}/held/t")


def test_a_trial_folder_holding_an_unselected_trial_is_refused(local_root):
    """A trial whose folder holds another trial is removed only with it; alone it raises SelectionError."""
    votakvot.init(path=local_root)
    with pytest.raises(ValueError), votakvot.trial_at("outer", x=1):
        raise ValueError("failed")
    with votakvot.trial_at("outer/inner", x=2):
        pass
    with pytest.raises(SelectionError, match="inner"):
        votakvot.remove(local_root, status="failed")
    assert sorted(votakvot.load_trials(local_root)) == ["outer", "outer/inner"]
    votakvot.remove(local_root)
    assert votakvot.load_trials(local_root) == {}
    assert os.listdir(local_root) == []


def test_bad_selections_say_what_to_pass(root):
    """An unknown status, an unreadable time or a wrong type fail with a message naming the value."""
    _grid(root)
    with pytest.raises(SelectionError, match="'faild'"):
        votakvot.remove(root, status="faild")
    with pytest.raises(SelectionError, match="'last tuesday'"):
        votakvot.remove(root, before="last tuesday")
    with pytest.raises(TypeError, match="before=3"):
        votakvot.remove(root, before=3)
    with pytest.raises(TypeError, match="42"):
        votakvot.remove([42])


def test_the_index_stays_consistent_after_removal(root, monkeypatch):
    """A report indexed before a removal, loaded again after it, has none of the removed trials and the
    same rows as a load without the index, also once the index trusts every timestamp."""
    made = _grid(root)
    monkeypatch.setattr(discovery, "_clock_ns", lambda: time.time_ns() + 10_000_000_000)
    for _ in range(2):
        assert len(votakvot.load_report(root)) == 4
    votakvot.remove(root, status="failed")
    votakvot.remove(f"{root}/other")
    after = votakvot.load_report(root)
    assert sorted(after["tid"]) == sorted(made[n].tid for n in ("done1", "done2"))
    fresh = votakvot.load_report(root, index=False)
    pd.testing.assert_frame_equal(after.drop(columns="trial"), fresh.drop(columns="trial"))
    votakvot.remove(root)
    assert votakvot.load_report(root).empty
    with pytest.warns(votakvot.errors.MissingPathWarning):  # its folder went with its last trial
        assert votakvot.load_report(f"{root}/train").empty
