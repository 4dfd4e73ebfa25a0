"""Report and trial paths with globs: `*` within one segment, `**` across segments."""

from __future__ import annotations

import uuid

import fsspec
import pandas as pd
import pytest

import votakvot
from votakvot.errors import MissingPathWarning

STANDARD = ["tid", "trial", "status"]


@votakvot.track()
def function_name(one, two):
    """A tracked function whose trials land in `{module}/function_name/...`."""
    return one + two


@votakvot.track()
def other_function(x):
    """A second tracked function of the same module."""
    return x


def _fs(url: str):
    return fsspec.core.url_to_fs(url)


def _day(tid: str) -> str:
    return tid.split("/")[-3]


def _clock(tid: str) -> str:
    return tid.split("/")[-2]


def _copy_trial(root: str, live: votakvot.LiveTrial, where: str) -> str:
    """Copies a real trial folder to `{root}/{where}/{new uuid}`; returns the new folder's tid."""
    fs, base = _fs(root)
    source = _fs(live.path)[1]
    tid = f"{where}/{uuid.uuid4().hex}"
    target = f"{base}/{tid}"
    fs.makedirs(target, exist_ok=True)
    for path in fs.find(source):
        fs.pipe_file(f"{target}/{path[len(source) + 1 :]}", fs.cat_file(path))
    return tid


@pytest.fixture
def dated(root):
    """Trials in folders of chosen dates, as the seed README's examples expect them."""
    votakvot.init(path=root)
    with votakvot.trial("template", lr=0.1) as live:
        live.meter(loss=1.0)
        live.result = 1
    folders = {
        "d20_15a": "my_module/function_name/21-05-20/15:01:02",
        "d20_15b": "my_module/other_name/21-05-20/15:59:00",
        "d20_16": "my_module/function_name/21-05-20/16:00:00",
        "d21": "my_module/function_name/21-05-21/09:30:00",
        "d22": "other_module/fn/21-05-22/23:59:59",
        "d23": "my_module/function_name/21-05-23/15:01:02",
        "d2": "my_module/function_name/21-05-2/15:01:02",
    }
    copies = {key: _copy_trial(root, live, where) for key, where in folders.items()}
    fs, base = _fs(root)
    fs.rm(f"{base}/template", recursive=True)
    return copies


def _tids(path: str) -> set[str]:
    rep = votakvot.load_report(path)
    assert list(rep.columns[:3]) == STANDARD
    assert len(rep) == rep["tid"].nunique()
    return set(rep["tid"])


def test_seed_day_glob_loads_one_day(root, dated):
    """`{root}/**/21-05-20` loads every trial of that day, of any function."""
    assert _tids(f"{root}/**/21-05-20") == {dated["d20_15a"], dated["d20_15b"], dated["d20_16"]}


def test_seed_hour_glob_loads_one_hour(root, dated):
    """`{root}/**/21-05-20/15:*` loads the trials of one hour of that day."""
    assert _tids(f"{root}/**/21-05-20/15:*") == {dated["d20_15a"], dated["d20_15b"]}


def test_seed_function_path_loads_one_function(root, dated):
    """`{root}/my_module/function_name` loads every trial of that function, no glob needed."""
    expected = {v for v in dated.values() if v.startswith("my_module/function_name/")}
    assert _tids(f"{root}/my_module/function_name") == expected


def test_seed_three_day_concat(root, dated):
    """The seed's pandas.concat over three `{root}/**/{day}/**` reports has those days' trials only."""
    df = pandas_concat_seed(root)
    assert sorted(df["tid"]) == sorted(dated[k] for k in ("d20_15a", "d20_15b", "d20_16", "d21", "d22"))
    assert set(df["status"]) == {"done"}
    assert df["lr"].tolist() == [0.1] * 5


def pandas_concat_seed(root: str) -> pd.DataFrame:
    """The seed README's example, as written."""
    import pandas

    # load results for 3 days
    df = pandas.concat(votakvot.load_report(f"{root}/**/{day}/**") for day in ["21-05-20", "21-05-21", "21-05-22"])
    return df


def test_glob_does_not_match_part_of_a_segment(root, dated):
    """`**/21-05-2` matches only a folder named exactly `21-05-2`, not `21-05-20`."""
    assert _tids(f"{root}/**/21-05-2") == {dated["d2"]}


def test_star_matches_within_one_segment(root, dated):
    """`*` matches one segment only: `{root}/*/function_name` finds my_module but not deeper names."""
    assert _tids(f"{root}/*/function_name") == {v for v in dated.values() if v.startswith("my_module/function_name/")}
    assert _tids(f"{root}/*/21-05-20") == set()
    assert _tids(f"{root}/*/*/21-05-20") == {dated["d20_15a"], dated["d20_15b"], dated["d20_16"]}


def test_star_matches_part_of_a_segment(root, dated):
    """`*` may stand for part of a segment: `{root}/my_module/*_name/21-05-2*` spans several days."""
    expected = {
        v for v in dated.values() if v.startswith(("my_module/function_name/21-05-2", "my_module/other_name/21-05-2"))
    }
    assert _tids(f"{root}/my_module/*_name/21-05-2*") == expected


def test_double_star_alone_loads_every_trial_once(root, dated):
    """`{root}/**` loads each trial exactly once."""
    assert _tids(f"{root}/**") == set(dated.values())


def test_glob_to_documents_loads_their_trials(root, dated):
    """A glob that matches votakvot.yaml files loads those trials."""
    assert _tids(f"{root}/**/21-05-21/**/votakvot.yaml") == {dated["d21"]}


def test_copied_trials_keep_their_metrics(root, dated):
    """A trial found through a glob reads its metrics and result like any other."""
    (trial,) = votakvot.load_trials(f"{root}/**/21-05-21").values()
    assert trial.metrics()["loss"].tolist() == [1.0]
    assert trial.result == 1


@pytest.mark.parametrize("full", [False, True], ids=["plain", "full"])
def test_glob_matching_nothing_gives_empty_frame(root, dated, full):
    """A glob that matches nothing gives an empty DataFrame with exactly the standard columns."""
    rep = votakvot.load_report(f"{root}/**/99-01-01", full=full)
    assert list(rep.columns) == STANDARD
    assert len(rep) == 0
    assert votakvot.load_trials(f"{root}/nothing-*/x") == {}


def test_glob_under_missing_root_gives_empty_frame(root):
    """A glob below a folder that does not exist gives an empty DataFrame and a MissingPathWarning naming it."""
    with pytest.warns(MissingPathWarning, match=r"missing' \(where .*missing/\*\*/21-05-20' starts\) does not exist"):
        rep = votakvot.load_report(f"{root}/missing/**/21-05-20")
    assert list(rep.columns) == STANDARD
    assert len(rep) == 0


def test_day_glob_on_real_trials(root):
    """`{root}/**/{day}` (the day read from real tids) loads the trials of that day, of any function."""
    votakvot.init(path=root)
    function_name(1, 2)
    other_function(3)
    with votakvot.trial("grp/deep/er", z=1):
        pass
    tids = set(votakvot.load_trials(root))
    assert len(tids) == 3
    for day in {_day(t) for t in tids}:
        assert _tids(f"{root}/**/{day}") == {t for t in tids if _day(t) == day}


def test_hour_glob_on_real_trials(root):
    """`{root}/**/{day}/{HH}:*` (from real tids) loads the trials of that hour."""
    votakvot.init(path=root)
    function_name(1, 2)
    other_function(3)
    tids = set(votakvot.load_trials(root))
    for tid in tids:
        day, hour = _day(tid), _clock(tid).split(":")[0]
        expected = {t for t in tids if _day(t) == day and _clock(t).startswith(hour + ":")}
        assert _tids(f"{root}/**/{day}/{hour}:*") == expected


def test_module_function_path_on_real_trials(root):
    """`{root}/{module}/{function}` loads the calls of one tracked function only."""
    votakvot.init(path=root)
    function_name(1, 2)
    function_name(3, 4)
    other_function(5)
    module = function_name.__module__
    rep = votakvot.load_report(f"{root}/{module}/function_name")
    assert sorted(rep["result"]) == [3, 7]
    assert all(t.startswith(f"{module}/function_name/") for t in rep["tid"])
    assert votakvot.load_report(f"{root}/{module}/other_function")["result"].tolist() == [5]


def test_seed_concat_on_real_trials(root):
    """The seed's concat over `{root}/**/{day}/**` for the real days loads every trial once."""
    votakvot.init(path=root)
    function_name(1, 2)
    other_function(3)
    tids = set(votakvot.load_trials(root))
    days = [*sorted({_day(t) for t in tids}), "99-01-01"]
    df = pd.concat(votakvot.load_report(f"{root}/**/{day}/**") for day in days)
    assert sorted(df["tid"]) == sorted(tids)


def test_folder_with_colons_loads_without_glob(root):
    """A `{HH}:{MM}:{SS}` folder given literally loads the trials started in that second."""
    votakvot.init(path=root)
    with votakvot.trial("exp", x=1) as t:
        pass
    name, day, clock, _ = t.tid.split("/")
    assert _tids(f"{root}/{name}/{day}/{clock}") == {t.tid}
    assert _tids(f"{root}/{name}/{day}/{clock}/*") == {t.tid}


def test_star_stops_at_segment_on_real_trials(root):
    """`{root}/*/{day}` finds one-segment names, not `grp/deep/...` names."""
    votakvot.init(path=root)
    with votakvot.trial("flat", x=1) as flat:
        pass
    with votakvot.trial("grp/deep", x=2) as deep:
        pass
    assert flat.tid in _tids(f"{root}/*/{_day(flat.tid)}")
    assert deep.tid not in _tids(f"{root}/*/{_day(deep.tid)}")
    assert deep.tid in _tids(f"{root}/*/*/{_day(deep.tid)}")
    assert deep.tid in _tids(f"{root}/**/{_day(deep.tid)}")


def test_glob_keys_are_tids_relative_to_root(root):
    """load_trials through a glob keys trials by their tids relative to the root."""
    votakvot.init(path=root)
    function_name(1, 2)
    (tid,) = votakvot.load_trials(root)
    assert list(votakvot.load_trials(f"{root}/**/{_day(tid)}")) == [tid]
    assert list(votakvot.load_trials(f"{root}/*/function_name/*/*/*")) == [tid]
