"""`votakvot.load_report`: one DataFrame row per trial, with plain and dotted columns."""

from __future__ import annotations

import pathlib
import platform
import warnings

import fsspec
import pandas as pd
import pytest

import votakvot
from votakvot.errors import MissingPathWarning

STANDARD = ["tid", "trial", "status"]
TIMES = ["created", "finished", "duration", "error"]


@votakvot.track()
def my_experiment(one, two):
    """The seed README's example function."""
    votakvot.inform(any_custom_field="any-value", other_custom_field=["structured", "data"])
    return one + two


def _by_tid(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("tid").reset_index(drop=True)


def _fs(url: str):
    """Returns the fsspec filesystem and path of `url`."""
    return fsspec.core.url_to_fs(url)


def test_report_has_one_row_per_tracked_call(root):
    """Each call of a tracked function is one row with its params, info and result."""
    votakvot.init(path=root)
    my_experiment(1, 2)
    my_experiment(10, 20)
    rep = votakvot.load_report(root)
    assert len(rep) == 2
    rows = rep.sort_values("one")
    assert rows["one"].tolist() == [1, 10]
    assert rows["two"].tolist() == [2, 20]
    assert rows["result"].tolist() == [3, 30]
    assert rows["any_custom_field"].tolist() == ["any-value", "any-value"]
    assert rows["other_custom_field"].tolist() == [["structured", "data"]] * 2
    assert set(rows["status"]) == {"done"}


def test_standard_columns_come_first(root):
    """The first columns are tid, trial and status, in that order."""
    votakvot.init(path=root)
    my_experiment(1, 2)
    assert list(votakvot.load_report(root).columns[:3]) == STANDARD


def test_sections_follow_in_order_params_info_result(root):
    """After the standard columns and the times come params, then info, then result columns."""
    votakvot.init(path=root)
    with votakvot.trial("exp", b=1, a=2) as t:
        t.inform(note="n")
        t.result = {"acc": 0.9, "loss": 0.1}
    assert list(votakvot.load_report(root).columns) == [*STANDARD, *TIMES, "b", "a", "note", "acc", "loss"]


def test_report_has_range_index(root):
    """The report's index is a plain RangeIndex."""
    votakvot.init(path=root)
    for i in range(3):
        my_experiment(i, i)
    rep = votakvot.load_report(root)
    assert isinstance(rep.index, pd.RangeIndex)
    assert list(rep.index) == [0, 1, 2]


def test_trial_column_holds_loaded_trials(root):
    """The `trial` column holds the votakvot.Trial of each row."""
    votakvot.init(path=root)
    my_experiment(1, 2)
    rep = votakvot.load_report(root)
    trial = rep.loc[0, "trial"]
    assert isinstance(trial, votakvot.Trial)
    assert trial.tid == rep.loc[0, "tid"]
    assert trial.result == 3
    assert trial.status == rep.loc[0, "status"]


def test_tid_column_matches_load_trials(root):
    """The `tid` column holds the same ids as load_trials."""
    votakvot.init(path=root)
    my_experiment(1, 2)
    my_experiment(2, 3)
    assert sorted(votakvot.load_report(root)["tid"]) == sorted(votakvot.load_trials(root))


def test_nested_dicts_are_flattened_with_dots(root):
    """Nested params and info become dotted columns."""
    votakvot.init(path=root)
    with votakvot.trial("exp", opt={"lr": 0.1, "betas": {"b1": 0.9, "b2": 0.99}}) as t:
        t.inform(data={"name": "mnist", "split": {"train": 0.8}})
    row = votakvot.load_report(root).loc[0]
    assert row["opt.lr"] == 0.1
    assert row["opt.betas.b1"] == 0.9
    assert row["opt.betas.b2"] == 0.99
    assert row["data.name"] == "mnist"
    assert row["data.split.train"] == 0.8
    assert "opt" not in row.index


def test_scalar_result_is_the_result_column(root):
    """A scalar result appears as the column `result`."""
    votakvot.init(path=root)
    with votakvot.trial("exp") as t:
        t.result = 42
    rep = votakvot.load_report(root)
    assert rep.loc[0, "result"] == 42


def test_list_result_is_the_result_column(root):
    """A non-dict result (here a list) is kept whole in the column `result`."""
    votakvot.init(path=root)
    with votakvot.trial("exp") as t:
        t.result = [1, 2, 3]
    assert votakvot.load_report(root).loc[0, "result"] == [1, 2, 3]


def test_dict_result_keys_become_columns(root):
    """A dict result spreads into one column per key (nested keys dotted)."""
    votakvot.init(path=root)
    with votakvot.trial("exp", x=1) as t:
        t.result = {"acc": 0.9, "per_class": {"cat": 0.8}}
    rep = votakvot.load_report(root)
    assert rep.loc[0, "acc"] == 0.9
    assert rep.loc[0, "per_class.cat"] == 0.8
    assert "result" not in rep.columns


def test_clash_between_params_and_info_gets_section_prefix(root):
    """A name used in both params and info becomes `params.x` and `info.x`."""
    votakvot.init(path=root)
    with votakvot.trial("exp", x=1, y=2) as t:
        t.inform(x="informed")
    rep = votakvot.load_report(root)
    assert rep.loc[0, "params.x"] == 1
    assert rep.loc[0, "info.x"] == "informed"
    assert rep.loc[0, "y"] == 2
    assert "x" not in rep.columns


def test_clash_between_params_and_result_gets_section_prefix(root):
    """A result key that is also a param name becomes `params.acc` and `result.acc`."""
    votakvot.init(path=root)
    with votakvot.trial("exp", acc=0.5) as t:
        t.result = {"acc": 0.9}
    rep = votakvot.load_report(root)
    assert rep.loc[0, "params.acc"] == 0.5
    assert rep.loc[0, "result.acc"] == 0.9
    assert "acc" not in rep.columns


def test_param_named_result_does_not_hide_scalar_result(root):
    """A param called `result` becomes `params.result`; `result` stays the trial's result."""
    votakvot.init(path=root)
    with votakvot.trial("exp", result="param") as t:
        t.result = 7
    rep = votakvot.load_report(root)
    assert rep.loc[0, "result"] == 7
    assert rep.loc[0, "params.result"] == "param"


def test_params_named_like_standard_columns_do_not_replace_them(root):
    """Params called tid, trial or status keep a prefix; the standard columns keep their meaning."""
    votakvot.init(path=root)
    with votakvot.trial("exp", status="param-status", tid="param-tid", trial="param-trial") as t:
        pass
    rep = votakvot.load_report(root)
    assert list(rep.columns[:3]) == STANDARD
    assert rep.loc[0, "status"] == "done"
    assert rep.loc[0, "tid"] == t.tid
    assert isinstance(rep.loc[0, "trial"], votakvot.Trial)
    assert rep.loc[0, "params.status"] == "param-status"
    assert rep.loc[0, "params.tid"] == "param-tid"
    assert rep.loc[0, "params.trial"] == "param-trial"


def test_rows_with_different_params_share_one_frame(root):
    """Trials with different params fill the missing columns of each other with NA."""
    votakvot.init(path=root)
    with votakvot.trial("a", alpha=1) as ta:
        pass
    with votakvot.trial("b", beta=2) as tb:
        pass
    rep = votakvot.load_report(root).set_index("tid")
    assert rep.loc[ta.tid, "alpha"] == 1
    assert pd.isna(rep.loc[ta.tid, "beta"])
    assert rep.loc[tb.tid, "beta"] == 2
    assert pd.isna(rep.loc[tb.tid, "alpha"])


def test_status_column_shows_failed_trials(root):
    """A failed trial is a row with status `failed`; the report does not raise for it."""
    votakvot.init(path=root)
    my_experiment(1, 2)
    with pytest.raises(ZeroDivisionError), votakvot.trial("bad", x=0):
        1 / 0  # noqa: B018
    rep = votakvot.load_report(root)
    assert sorted(rep["status"]) == ["done", "failed"]
    failed = rep[rep["status"] == "failed"].iloc[0]
    assert failed["x"] == 0


def test_full_adds_every_field_as_dotted_columns(root):
    """full=True adds meta, at, uid and the other document fields as dotted columns."""
    votakvot.init(path=root)
    with votakvot.trial("exp", lr=0.1) as t:
        t.result = 1
    rep = votakvot.load_report(root, full=True)
    assert list(rep.columns[:3]) == STANDARD
    row = rep.loc[0]
    assert row["meta.system.node"] == platform.node()
    assert row["uid"] == t.uid
    assert isinstance(row["at.duration"], float) and row["at.duration"] >= 0
    assert row["at.started"] <= row["at.finished"]
    assert row["lr"] == 0.1
    assert row["result"] == 1
    assert {"at.created", "meta.python.version", "meta.process.pid"} <= set(rep.columns)


def test_full_fields_are_not_hidden_by_params_or_info(root):
    """With full=True a param named `uid` or an info dict named `meta` does not replace the document's own fields."""
    votakvot.init(path=root)
    with votakvot.trial("exp", uid="mine") as t:
        t.inform(meta={"system": {"node": "fake"}})
    row = votakvot.load_report(root, full=True).loc[0]
    assert row["uid"] == t.uid
    assert row["params.uid"] == "mine"
    assert row["meta.system.node"] == platform.node()
    assert row["info.meta.system.node"] == "fake"


def test_default_report_leaves_out_meta(root):
    """Without full=True, meta, uid and the dotted `at.` fields are not columns (the times are
    `created`, `finished`, `duration`)."""
    votakvot.init(path=root)
    my_experiment(1, 2)
    columns = set(votakvot.load_report(root).columns)
    assert not any(c.startswith(("meta", "at.")) for c in columns)
    assert "uid" not in columns


def test_default_path_is_the_init_root(root):
    """load_report() with no path reads the root given to init."""
    votakvot.init(path=root)
    my_experiment(1, 2)
    rep = votakvot.load_report()
    assert rep["result"].tolist() == [3]


@pytest.mark.parametrize("full", [False, True], ids=["plain", "full"])
def test_empty_folder_gives_empty_frame_with_standard_columns(root, full):
    """An empty root gives an empty DataFrame with exactly the standard columns."""
    fs, path = _fs(root)
    fs.makedirs(path, exist_ok=True)
    rep = votakvot.load_report(root, full=full)
    assert isinstance(rep, pd.DataFrame)
    assert list(rep.columns) == STANDARD
    assert len(rep) == 0


@pytest.mark.parametrize("full", [False, True], ids=["plain", "full"])
def test_missing_folder_gives_empty_frame_with_standard_columns(root, full):
    """A root that does not exist gives an empty DataFrame with exactly the standard columns, and a warning."""
    with pytest.warns(MissingPathWarning, match="does-not-exist' does not exist; check the path"):
        rep = votakvot.load_report(f"{root}/does-not-exist", full=full)
    assert isinstance(rep, pd.DataFrame)
    assert list(rep.columns) == STANDARD
    assert len(rep) == 0
    with pytest.warns(MissingPathWarning, match="does-not-exist' does not exist"):
        assert votakvot.load_trials(f"{root}/does-not-exist") == {}


def test_a_file_given_as_the_load_path_warns(local_root):
    """A path that names a file (not votakvot.yaml) loads nothing and warns that it is not a folder."""
    votakvot.init(path=local_root)
    with votakvot.trial("exp") as t, t.attach("notes.txt") as f:
        f.write("hi")
    with pytest.warns(MissingPathWarning, match="notes.txt' is a file, not a folder"):
        assert len(votakvot.load_report(f"{t.path}/notes.txt")) == 0
    with pytest.warns(MissingPathWarning, match="is a file"):
        assert votakvot.load_trials(f"{t.path}/notes.txt") == {}
    assert list(votakvot.load_trials(f"{t.path}/votakvot.yaml")) == [t.tid]


def test_the_missing_path_warning_points_at_the_callers_line(local_root):
    """The warning is reported at the line of the user's code that called load_report."""
    with pytest.warns(MissingPathWarning) as seen:
        votakvot.load_report(f"{local_root}/typo")
    assert seen[0].filename == __file__


def test_an_existing_folder_without_trials_does_not_warn(root):
    """An empty folder, or a glob under an existing folder that matches nothing, is "no results": no warning."""
    votakvot.init(path=root)
    with votakvot.trial("exp"):
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(votakvot.load_report(f"{root}/**/99-01-01")) == 0
        assert votakvot.load_trials(f"{root}/nothing-*") == {}
        assert len(votakvot.load_report(root)) == 1


def test_empty_default_root_gives_empty_frame(tmp_path):
    """With no init and no trials in the current folder, the report is empty, not None."""
    rep = votakvot.load_report()
    assert list(rep.columns) == STANDARD
    assert len(rep) == 0


def test_reports_concatenate(root):
    """Two reports concatenate into one frame with all rows."""
    votakvot.init(path=root)
    my_experiment(1, 2)
    with votakvot.trial("other", z=1):
        pass
    both = pd.concat(
        [votakvot.load_report(f"{root}/{my_experiment.__module__}"), votakvot.load_report(f"{root}/other")],
        ignore_index=True,
    )
    assert len(both) == 2
    assert sorted(both["tid"]) == sorted(votakvot.load_trials(root))


def test_path_may_be_a_pathlib_path(local_root):
    """A pathlib.Path works as the report path."""
    votakvot.init(path=local_root)
    my_experiment(1, 2)
    rep = votakvot.load_report(pathlib.Path(local_root))
    assert rep["result"].tolist() == [3]


def test_path_may_be_a_file_url(local_root):
    """A file:// URL loads the same trials as the plain path."""
    votakvot.init(path=local_root)
    my_experiment(1, 2)
    rep = votakvot.load_report(f"file://{local_root}")
    assert _by_tid(rep)["tid"].tolist() == sorted(votakvot.load_trials(local_root))
    assert rep["result"].tolist() == [3]


def test_relative_path_is_resolved_from_current_folder(tmp_path):
    """A relative report path is read from the current folder."""
    votakvot.init(path="./my-results")
    my_experiment(1, 2)
    assert (tmp_path / "my-results").is_dir()
    assert votakvot.load_report("./my-results")["result"].tolist() == [3]
    assert votakvot.load_report("my-results")["result"].tolist() == [3]


# -- the report's own columns, order and types (issue 11) --------------------------------------


def test_default_columns_include_created_finished_duration_and_error(root):
    """After tid, trial and status come created, finished, duration and error, from each trial's document."""
    votakvot.init(path=root)
    with votakvot.trial("ok", x=1) as ok:
        pass
    with pytest.raises(ZeroDivisionError), votakvot.trial("bad", x=2) as bad:
        1 / 0  # noqa: B018
    rep = votakvot.load_report(root).set_index("tid")
    assert list(votakvot.load_report(root).columns[:7]) == [*STANDARD, *TIMES]
    for live in (ok, bad):
        row = rep.loc[live.tid]
        assert row["created"] == pd.Timestamp(live.at["created"])
        assert row["finished"] == pd.Timestamp(live.at["finished"])
        assert row["duration"] == live.at["duration"]
    assert rep.loc[ok.tid, "error"] is None
    assert rep.loc[bad.tid, "error"] == "ZeroDivisionError: division by zero"
    assert str(rep["created"].dtype).startswith("datetime64")


def test_created_keeps_the_recorded_utc_offset(local_root):
    """Times show at the UTC offset the trials recorded (here +05:30), not converted to another zone."""
    path = pathlib.Path(local_root) / "t" / "votakvot.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(
        "tid: t\nuid: u\nstatus: done\n"
        "at: {created: 2025-03-01 10:00:00.250000+05:30, finished: 2025-03-01 10:00:02+05:30, duration: 1.75}\n"
    )
    row = votakvot.load_report(local_root).loc[0]
    assert str(row["created"]) == "2025-03-01 10:00:00.250000+05:30"
    assert str(row["finished"]) == "2025-03-01 10:00:02+05:30"
    assert row["duration"] == 1.75


def test_params_named_like_the_report_columns_keep_a_prefix(root):
    """Params called created, finished, duration or error become `params.<name>`; the columns keep their meaning."""
    votakvot.init(path=root)
    with votakvot.trial("exp", created="c", finished="f", duration=3, error="e"):
        pass
    row = votakvot.load_report(root).loc[0]
    assert row["error"] is None
    assert isinstance(row["created"], pd.Timestamp)
    assert (row["params.created"], row["params.finished"], row["params.duration"], row["params.error"]) == (
        "c",
        "f",
        3,
        "e",
    )


@pytest.mark.parametrize("full", [False, True], ids=["plain", "full"])
def test_integer_params_stay_integer_when_trials_mix(root, full):
    """A param only some trials have keeps integer values (nullable Int64), in a fresh and an indexed load."""
    votakvot.init(path=root)
    with votakvot.trial("a", depth=3, lr=0.5):
        pass
    with votakvot.trial("b", width=7):
        pass
    for _ in range(2):  # the second load is served by the index
        rep = votakvot.load_report(root, full=full)
        assert rep["depth"].dtype == "Int64"
        assert rep["width"].dtype == "Int64"
        assert rep["depth"].dropna().tolist() == [3]
        assert rep["depth"].isna().tolist() == [False, True]
        assert rep["lr"].dtype == "float64"


def test_rows_follow_creation_time_within_one_second(root):
    """Trials created within one second come in the order they were created, not by their random uuid."""
    votakvot.init(path=root)
    made = []
    for i in range(8):
        with votakvot.trial("fast", i=i) as t:
            pass
        made.append(t.tid)
    assert len({tid.split("/")[2] for tid in made}) <= 2  # the same second (or two)
    assert votakvot.load_report(root)["tid"].tolist() == made
    assert votakvot.load_report(root)["tid"].tolist() == made  # from the index
    assert list(votakvot.load_trials(root)) == made


def test_full_does_not_repeat_fields_shown_plainly(root):
    """full=True adds the document's other fields once: no `params.lr` beside `lr`, no `created` beside `at.created`."""
    votakvot.init(path=root)
    with votakvot.trial("exp", lr=0.1, opt={"name": "adam"}) as t:
        t.inform(note="n")
        t.result = {"acc": 0.9}
    rep = votakvot.load_report(root, full=True)
    columns = list(rep.columns)
    assert len(columns) == len(set(columns))
    assert columns[:7] == [*STANDARD, "at.created", "at.finished", "at.duration", "error"]
    assert {"lr", "opt.name", "note", "acc", "at.started", "uid", "version", "meta.system.node"} <= set(columns)
    repeated = {"params.lr", "params.opt.name", "info.note", "result.acc", "created", "finished", "duration"}
    assert repeated & set(columns) == set()


def test_readme_quick_start_prints_every_column_it_asks_for(tmp_path, capsys):
    """The README's Quick start runs as written and its printed report shows each column, none elided."""
    readme = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(quick_start, "README.md (Quick start)", "exec"), {"__name__": "__main__"})
    printed = capsys.readouterr().out.splitlines()
    columns = quick_start.rsplit("print(df[", 1)[1].split("]]", 1)[0]
    header = printed[0].split()
    assert header == [name.strip(' "[') for name in columns.split(",")]
    assert len(printed) == 3 and all(len(line) <= 100 and "..." not in line for line in printed)
