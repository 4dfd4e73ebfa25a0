"""`votakvot.diff`: the fields in which two trials differ, and only those."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import votakvot
from test_meta import git, repo  # noqa: F401 - the real git repository fixture


def _pairs(df: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(df["section"], df["field"], strict=True))


def _two(root: str):
    votakvot.init(path=root)
    with votakvot.trial("exp", lr=0.1, depth=3, opt={"name": "adam", "beta": 0.9}) as a:
        a.inform(note="first")
        a.result = {"acc": 0.9, "loss": 0.25}
    with votakvot.trial("exp", lr=0.01, depth=3, opt={"name": "adam", "beta": 0.99}) as b:
        b.result = {"acc": 0.8, "loss": 0.25}
    return a, b


def test_diff_lists_only_the_fields_that_differ(root):
    """Params, result and info fields that differ are listed with both values; equal ones are not."""
    a, b = _two(root)
    trials = votakvot.load_trials(root)
    df = votakvot.diff(trials[a.tid], trials[b.tid])
    assert list(df.columns) == ["section", "field", "a", "b"]
    assert _pairs(df) - {("at", "duration")} == {
        ("params", "lr"),
        ("params", "opt.beta"),
        ("result", "acc"),
        ("info", "note"),
    }
    rows = {(s, f): (x, y) for s, f, x, y in df.itertuples(index=False)}
    assert rows[("params", "lr")] == (0.1, 0.01)
    assert rows[("params", "opt.beta")] == (0.9, 0.99)
    assert rows[("result", "acc")] == (0.9, 0.8)
    assert rows[("info", "note")][0] == "first" and rows[("info", "note")][1] is pd.NA
    assert df.attrs == {"a": a.tid, "b": b.tid}
    assert df["section"].tolist().index("params") < df["section"].tolist().index("result")


def test_diff_takes_tids_folders_and_live_trials(root):
    """A tid below the root, a trial folder (path or URL) and a live trial handle name the same trials."""
    a, b = _two(root)
    trials = votakvot.load_trials(root)
    expected = votakvot.diff(trials[a.tid], trials[b.tid])
    for left, right in [(a.tid, b.tid), (a.path, b.path), (a, b), (a.tid, b.path)]:
        got = votakvot.diff(left, right)
        pd.testing.assert_frame_equal(got, expected)
        assert got.attrs == {"a": a.tid, "b": b.tid}


def test_diff_of_a_trial_with_itself_is_empty(root):
    """Two equal trials (here the same one) give an empty frame with the four columns."""
    a, _ = _two(root)
    df = votakvot.diff(a.tid, a.tid)
    assert df.empty and list(df.columns) == ["section", "field", "a", "b"]


def test_diff_shows_status_error_and_plain_values(root):
    """A failed trial against a done one shows status, error and result; numpy params show as plain numbers."""
    votakvot.init(path=root)
    with votakvot.trial("exp", lr=np.float64(0.1), n=np.int64(3)) as ok:
        ok.result = 1.5
    with pytest.raises(ValueError), votakvot.trial("exp", lr=np.float64(0.2), n=np.int64(3)) as bad:
        raise ValueError("boom")
    df = votakvot.diff(ok, bad)
    rows = {(s, f): (x, y) for s, f, x, y in df.itertuples(index=False)}
    assert rows[("status", "")] == ("done", "failed")
    assert rows[("error", "")][0] is pd.NA and rows[("error", "")][1] == "ValueError: boom"
    assert rows[("result", "")] == (1.5, None)
    assert rows[("params", "lr")] == (0.1, 0.2)
    assert type(rows[("params", "lr")][0]) is float
    assert ("params", "n") not in rows
    assert "np." not in df.to_string()


def test_diff_shows_the_git_commit_that_changed(repo, tmp_path):  # noqa: F811 - the fixture
    """Two trials run at two commits of a real repository differ in meta git.commit (and describe)."""
    with votakvot.trial("exp", lr=0.1) as first:
        pass
    (repo / "a.txt").write_text("changed\n")
    git(repo, "commit", "-q", "-am", "second")
    with votakvot.trial("exp", lr=0.1) as second:
        pass
    df = votakvot.diff(first, second)
    rows = {(s, f): (x, y) for s, f, x, y in df.itertuples(index=False)}
    commits = rows[("meta", "git.commit")]
    assert commits[1] == git(repo, "rev-parse", "HEAD") and commits[0] == git(repo, "rev-parse", "HEAD~1")
    assert ("meta", "git.treeish") in rows
    assert not any(section == "params" for section, _ in rows)
    assert ("meta", "git.branch") not in rows and ("meta", "system.node") not in rows


def test_diff_of_an_unknown_trial_says_what_was_tried(root):
    """A tid or folder with no trial raises TrialNotFoundError (a LookupError) naming where it looked."""
    a, _ = _two(root)
    with pytest.raises(votakvot.errors.TrialNotFoundError, match="no-such-trial") as caught:
        votakvot.diff(a, "exp/no-such-trial")
    assert isinstance(caught.value, LookupError)
    with pytest.raises(TypeError, match=r"votakvot\.Trial"):
        votakvot.diff(a, 42)


def test_diff_skips_ids_and_clock_times(local_root):
    """tid, uid and the created, started and finished times differ for any two trials and are not listed."""
    a, b = _two(local_root)
    fields = {f"{s}.{f}" for s, f in _pairs(votakvot.diff(a, b))}
    assert not {"tid.", "uid.", "at.created", "at.started", "at.finished", "heartbeat."} & fields


def test_numpy_values_of_a_trusted_load_show_as_plain_numbers(local_root):
    """Documents dumped by PyYAML with numpy values (as the seed version wrote them), loaded with
    trusted=True, diff and render as plain numbers, not `np.float64(...)`."""
    for name, lr in (("a", 0.1), ("b", 0.2)):
        folder = Path(local_root) / name
        folder.mkdir(parents=True)
        doc = {"tid": name, "status": "done", "params": {"lr": np.float64(lr), "n": np.int64(3)}, "result": None}
        (folder / "votakvot.yaml").write_text(yaml.dump(doc))
    trials = votakvot.load_trials(local_root, trusted=True)
    assert type(trials["a"].params["lr"]) is np.float64
    df = votakvot.diff(trials["a"], trials["b"])
    assert [(s, f) for s, f in _pairs(df)] == [("params", "lr")]
    assert type(df.loc[0, "a"]) is float and df.loc[0, "b"] == 0.2
    assert "np." not in df.to_string()
    page = trials["a"]._repr_html_()
    assert "lr = 0.1" in page and "n = 3" in page and "np." not in page
