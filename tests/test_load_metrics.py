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
