"""`votakvot.load_metrics`: the metric rows of many trials as one long DataFrame with their trial ids."""

from __future__ import annotations

import pandas as pd
import pytest

import votakvot
from votakvot.errors import SelectionError


def _grid(root: str) -> list[votakvot.LiveTrial]:
    """Three trials with 3, 2 and 0 metric rows, created in this order; the second has an eval series."""
    votakvot.init(path=root)
    made = []
    with votakvot.trial("train", lr=0.1, depth=3) as t:
        for i in range(3):
            t.meter(loss=1.0 / (i + 1))
    made.append(t)
    with votakvot.trial("train", lr=0.2, width=8) as t:
        t.meter(loss=0.5)
        t.meter(loss=0.25, acc=0.75)  # a new column: a second part file
        votakvot.series("eval").meter(acc=0.5)
    made.append(t)
    with votakvot.trial("train", lr=0.3) as t:
        pass
    made.append(t)
    return made


def test_rows_of_every_trial_in_one_frame_with_their_tid(root):
    """Every metric row of every trial, in creation order, each with its trial's tid; a trial's rows match
    Trial.metrics()."""
    made = _grid(root)
    df = votakvot.load_metrics(root)
    assert list(df.columns[:4]) == ["tid", "series", "step", "time"]
    assert set(df.columns) == {"tid", "series", "step", "time", "loss", "acc"}
    assert df["tid"].tolist() == [made[0].tid] * 3 + [made[1].tid] * 3
    assert isinstance(df.index, pd.RangeIndex)
    trials = votakvot.load_trials(root)
    for trial in made[:2]:
        mine = df[df["tid"] == trial.tid].drop(columns="tid").reset_index(drop=True)
        theirs = trials[trial.tid].metrics()
        if "series" not in theirs.columns:
            theirs.insert(0, "series", "")
        pd.testing.assert_frame_equal(mine[theirs.columns], theirs, check_dtype=False)
    assert df["loss"].tolist()[:3] == [1.0, 0.5, pytest.approx(1 / 3)]


def test_one_series(root):
    """series="eval" loads that series only, without a series column; "" is the default series."""
    made = _grid(root)
    evaluation = votakvot.load_metrics(root, "eval")
    assert list(evaluation.columns) == ["tid", "step", "time", "acc"]
    assert evaluation["tid"].tolist() == [made[1].tid]
    default = votakvot.load_metrics(root, series="")
    assert len(default) == 5 and "series" not in default.columns
    with pytest.raises(ValueError, match="series name"):
        votakvot.load_metrics(root, series="no such/series")


def test_params_as_columns_keep_their_types(root):
    """params=True adds every param (integers with gaps stay Int64); params=[...] adds the ones named."""
    made = _grid(root)
    df = votakvot.load_metrics(root, params=True)
    assert list(df.columns[-3:]) == ["lr", "depth", "width"]
    assert df["lr"].tolist() == [0.1] * 3 + [0.2] * 3
    assert df["depth"].dtype == "Int64" and df["width"].dtype == "Int64"
    assert df["depth"].tolist()[:3] == [3, 3, 3] and df["depth"].isna().tolist()[3:] == [True] * 3
    assert df["width"].dropna().tolist() == [8, 8, 8]
    only = votakvot.load_metrics(root, params=["depth"])
    assert "lr" not in only.columns and only["depth"].dtype == "Int64"
    assert only.groupby("depth")["loss"].count().to_dict() == {3: 3}
    assert made[2].tid not in set(df["tid"])  # no metrics, no rows


def test_unknown_param_names_raise(root):
    """params=[...] naming a param no loaded trial has raises SelectionError listing the params there are."""
    _grid(root)
    with pytest.raises(SelectionError, match=r"\['lrr'\].*\['depth', 'lr', 'width'\]"):
        votakvot.load_metrics(root, params=["lrr"])
    for wrong in ("lr", 5, [1]):
        with pytest.raises(TypeError, match="list of param names"):
            votakvot.load_metrics(root, params=wrong)


def test_names_taken_by_metrics_get_a_prefix(root):
    """A metric called tid or series keeps its name: the id column becomes `_tid`; a param named like a
    metric becomes `params.<name>`."""
    votakvot.init(path=root)
    with votakvot.trial("odd", loss=0.5) as t:
        t.meter(tid=7, loss=0.25)
    df = votakvot.load_metrics(root, params=True)
    assert list(df.columns) == ["_tid", "step", "time", "tid", "loss", "params.loss"]
    assert df.loc[0, "_tid"] == t.tid and df.loc[0, "tid"] == 7 and df.loc[0, "params.loss"] == 0.5


def test_path_and_globs_select_trials_as_load_report_does(root):
    """A function folder or a glob selects the same trials as load_report; no metrics give an empty frame."""
    _grid(root)
    with votakvot.trial("other", x=1) as other:
        other.meter(v=1)
    assert set(votakvot.load_metrics(f"{root}/other")["tid"]) == {other.tid}
    day = other.tid.split("/")[1]
    assert set(votakvot.load_metrics(f"{root}/**/{day}")["tid"]) == set(votakvot.load_metrics(root)["tid"])
    with pytest.warns(votakvot.errors.MissingPathWarning, match="nothing-here"):
        empty = votakvot.load_metrics(f"{root}/nothing-here")
    assert empty.empty and list(empty.columns) == ["tid", "step", "time"]


def test_a_broken_metric_file_is_skipped_with_a_warning(local_root):
    """A metric file that cannot be parsed is skipped with a warning naming it; safe=False raises."""
    made = _grid(local_root)
    with open(f"{made[0].path}/metrics.csv", "wb") as f:
        f.write(b'step,time,loss\n1,"2\n')
    with pytest.warns(UserWarning, match=r"metrics\.csv"):
        df = votakvot.load_metrics(local_root)
    assert set(df["tid"]) == {made[1].tid}
    with pytest.raises(votakvot.errors.TrialLoadError, match=r"metrics\.csv"):
        votakvot.load_metrics(local_root, safe=False)


def _trials_with_files(root: str, contents: list[bytes]) -> list[votakvot.LiveTrial]:
    """One trial per entry, whose metrics.csv is then replaced by the given bytes (as another tool,
    an older writer or a hostile store might leave it)."""
    votakvot.init(path=root)
    made = []
    for i, _ in enumerate(contents):
        with votakvot.trial("hand", i=i) as t:
            t.meter(x=0)
        made.append(t)
    for trial, data in zip(made, contents, strict=True):
        with open(f"{trial.path}/metrics.csv", "wb") as f:
            f.write(data)
    return made


def test_rows_keep_their_trial_whatever_shape_their_file_has(local_root):
    """Files with other headers, quoted newlines, LF or CRLF endings, blank lines, a lone CR and no final
    newline are read in one load, each row with its own trial, in trial order."""
    contents = [
        b"step,time,loss\r\n0,1.0,0.5\r\n1,2.0,0.25\r\n",
        b'step,time,note\r\n0,1.0,"two\nlines"\r\n',
        b"step,time,loss\n0,1.0,0.125\n\n1,2.0,0.0625\n",
        b"step,time,loss\r\n0,1.0,7\r1,2.0,8\r\n",
        b"step,time,score\n0,1.0,7\r1,2.0,8\n",  # a row more than lines ...
        b"step,time,score\n0,1.0,10\n\n",  # ... and one fewer: the totals agree, the rows must not move
        b"step,time,loss\r\n0,1.0,9.5\r\n1,2.0,9.25",
        b"step,time,loss\n5,1.0,3.0",
    ]
    made = _trials_with_files(local_root, contents)
    df = votakvot.load_metrics(local_root)
    per_trial = {t.tid: votakvot.load_trials(t.path)[t.tid].metrics() for t in made}
    assert df["tid"].tolist() == [t.tid for t in made for _ in range(len(per_trial[t.tid]))]
    assert df["loss"].tolist()[:2] == [0.5, 0.25]
    assert df.loc[df.tid == made[1].tid, "note"].tolist() == ["two\nlines"]
    for tid, theirs in per_trial.items():
        mine = df[df.tid == tid].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine[theirs.columns], theirs, check_dtype=False)
    assert list(df.columns) == ["tid", "step", "time", "loss", "note", "score"]


def test_a_broken_file_is_skipped_alone(local_root):
    """A file the CSV parser rejects is skipped with a warning; the files that share its header keep their rows."""
    contents = [
        b"step,time,loss\r\n0,1.0,0.5\r\n",
        b"step,time,loss\r\n0,1.0,0.5\r\n1,2.0,0.25,9,9\r\n",
        b"step,time,loss\r\n0,1.0,0.75\r\n",
    ]
    made = _trials_with_files(local_root, contents)
    with pytest.warns(UserWarning, match="skipping metric file"):
        df = votakvot.load_metrics(local_root)
    assert df["tid"].tolist() == [made[0].tid, made[2].tid]
    assert df["loss"].tolist() == [0.5, 0.75]
    with pytest.raises(votakvot.errors.TrialLoadError, match=r"metrics\.csv"):
        votakvot.load_metrics(local_root, safe=False)
