"""`votakvot.report_parts`, `ReportPart` and `ReportRows`: a report read in parts (as workers of a
cluster read it) puts together into the very frame `load_report` gives."""

from __future__ import annotations

import datetime
import multiprocessing
import pickle
import uuid
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import votakvot
from votakvot.errors import MissingPathWarning, SelectionError, TrialLoadError


def _assembled(parts: list[votakvot.ReportPart], chunk: int) -> pd.DataFrame:
    """Reads every part, then cuts the rows in report order into chunks of `chunk` rows, each
    made a frame on its own with the joined schema: what a distributed reader does."""
    read = [part.read() for part in parts]
    schema = votakvot.ReportRows.concat(rows.schema() for rows in read)
    order = sorted((key, p, i) for p, rows in enumerate(read) for i, key in enumerate(rows.sort_keys))
    frames = []
    for start in range(0, len(order), chunk):
        picked: dict[int, list[int]] = {}
        for _, p, i in order[start : start + chunk]:
            picked.setdefault(p, []).append(i)
        pieces = votakvot.ReportRows.concat(read[p].take(sorted(i)) for p, i in picked.items())
        frames.append(pieces.frame(schema=schema))
    if not frames:
        return votakvot.ReportRows.concat([]).frame(schema=schema)
    return pd.concat(frames, ignore_index=True)


def _same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """The frames are equal: columns, order, dtypes and values, and the trials are the same folders."""
    assert got.columns.tolist() == expected.columns.tolist()
    assert [t.path for t in got["trial"]] == [t.path for t in expected["trial"]]
    pd.testing.assert_frame_equal(got.drop(columns="trial"), expected.drop(columns="trial"))


def _write(root: Path, tid: str, text: str) -> None:
    folder = root.joinpath(*tid.split("/"))
    folder.mkdir(parents=True)
    (folder / "votakvot.yaml").write_text(text)


@pytest.mark.parametrize("full", [False, True], ids=["plain", "full"])
@pytest.mark.parametrize("size", [1, 2, 3, 100])
def test_parts_put_together_give_the_frame_of_load_report(root, full, size):
    """Trials of two functions, with clashing names, integer gaps, mixed kinds of values and a
    failure, read in parts of any size and cut anew, give load_report's frame exactly."""
    votakvot.init(path=root)
    for i in range(7):
        params = {"lr": 0.1 * i, "depth": i} if i % 2 else {"width": i, "note": "p"}
        try:
            with votakvot.trial("fit" if i % 2 else "grid", **params) as t:
                t.inform(note=i if i % 3 else "text", **({"big": 2**70} if i == 4 else {}))
                if i == 5:
                    raise ValueError("bad")
                t.result = {"acc": i / 10} if i % 2 else i
        except ValueError:
            pass
    expected = votakvot.load_report(root, full=full, index=False)
    parts = votakvot.report_parts(root, full, size=size)
    assert [len(part) for part in parts][:1] == [min(size, 7)]
    assert sum(len(part) for part in parts) == 7
    for chunk in (1, 3, 7):
        _same(_assembled(parts, chunk), expected)
    assert expected["depth"].dtype == "Int64" and "params.note" in expected.columns  # the cases are there


def test_times_recorded_at_several_utc_offsets_come_out_in_utc_in_every_part(local_root):
    """A chunk whose trials share one UTC offset still shows its times as the whole report does
    (in UTC, when the report's trials recorded several offsets)."""
    root = Path(local_root)
    at = "at: {{created: 2025-03-01 10:00:00{0}, finished: 2025-03-01 10:00:0{1}{0}}}\n"
    _write(root, "a", "tid: a\nstatus: done\n" + at.format("+05:30", 1))
    _write(root, "b", "tid: b\nstatus: done\n" + at.format("+01:00", 2))
    _write(root, "c", "tid: c\nstatus: done\n")
    expected = votakvot.load_report(local_root, index=False)
    got = _assembled(votakvot.report_parts(local_root, size=3), 1)
    _same(got, expected)
    assert str(got.loc[0, "created"]) == "2025-03-01 04:30:00+00:00"
    assert got["created"].isna().tolist() == [False, False, True]


def test_a_part_without_a_column_gets_it_empty_with_the_reports_dtype(local_root):
    """Columns that only other parts have appear in every part's frame, empty, with the report's dtype."""
    votakvot.init(path=local_root)
    with votakvot.trial("a", depth=3):
        pass
    with votakvot.trial("b", name="x"):
        pass
    parts = votakvot.report_parts(local_root, size=1)
    read = [part.read() for part in parts]
    schema = votakvot.ReportRows.concat(rows.schema() for rows in read)
    frames = [rows.frame(schema=schema) for rows in read]
    assert [f.columns.tolist() for f in frames] == [frames[0].columns.tolist()] * 2
    assert {str(f["depth"].dtype) for f in frames} == {"Int64"}
    assert sorted(f["depth"].isna().all() for f in frames) == [False, True]


UTC2 = datetime.timezone(datetime.timedelta(hours=2))
DAY = datetime.datetime(2025, 3, 1, 10, 0)


@pytest.mark.parametrize(
    "later",
    [
        pytest.param([1, 2**70], id="int-then-beyond-int64"),
        pytest.param([1, 0.5], id="int-then-float"),
        pytest.param([1, None], id="int-then-none"),
        pytest.param(["a", 3], id="str-then-int"),
        pytest.param([True, None], id="bool-then-none"),
        pytest.param([DAY.replace(tzinfo=datetime.timezone.utc), DAY.replace(tzinfo=UTC2)], id="two-time-zones"),
    ],
)
def test_a_value_late_in_one_part_decides_the_dtype_of_every_chunk(local_root, later):
    """Within one part, a later value of another kind (which changes the column's dtype) is part
    of the schema, so a chunk holding only the earlier value gets the report's dtype too."""
    votakvot.init(path=local_root)
    for value in [*later, later[0]]:
        with votakvot.trial("t", a=value):
            pass
    expected = votakvot.load_report(local_root, index=False)
    _same(_assembled(votakvot.report_parts(local_root, size=10), 1), expected)


# Few values of each kind, so that columns often mix kinds (an int beyond int64 among small ones).
values = st.one_of(
    st.sampled_from([0, 7, -(2**63), 2**63, 2**70]),
    st.sampled_from([0.5, -1e300]),
    st.booleans(),
    st.none(),
    st.sampled_from(["x", ""]),
    st.lists(st.integers(), max_size=2),
    st.datetimes(
        min_value=datetime.datetime(2000, 1, 1),
        max_value=datetime.datetime(2100, 1, 1),
        timezones=st.sampled_from([datetime.timezone.utc, datetime.timezone(datetime.timedelta(hours=2))]),
    ),
)
trials = st.lists(
    st.tuples(
        st.sampled_from(["f", "g"]),
        st.dictionaries(st.sampled_from(["a", "b", "c"]), values, max_size=3),
        st.dictionaries(st.sampled_from(["a", "d"]), values, max_size=2),
        values,
    ),
    max_size=10,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trials=trials, size=st.integers(1, 4), chunk=st.integers(1, 4), full=st.booleans())
def test_any_trials_in_any_parts_give_the_frame_of_load_report(tmp_path, trials, size, chunk, full):
    """Whatever the kinds of values and however the trials fall into parts, the parts put
    together give load_report's columns, names, dtypes and values."""
    root = tmp_path / uuid.uuid4().hex
    votakvot.init(path=str(root))
    for name, params, info, result in trials:
        with votakvot.trial(name, **params) as t:
            t.inform(**info)
            t.result = result
    root.mkdir(exist_ok=True)
    expected = votakvot.load_report(str(root), full=full, index=False)
    _same(_assembled(votakvot.report_parts(str(root), full, size=size), chunk), expected)


def test_unreadable_folders_are_kept_as_messages_not_warned_where_read(local_root, recwarn):
    """A part read on a worker keeps why it skipped a folder in `skipped` (the caller decides
    where to say it); with safe=False reading raises TrialLoadError."""
    votakvot.init(path=local_root)
    with votakvot.trial("good"):
        pass
    _write(Path(local_root), "broken", "status: [unclosed\n")
    (part,) = votakvot.report_parts(local_root)
    rows = part.read()
    assert len(rows) == 1 and len(recwarn) == 0
    assert len(rows.skipped) == 1 and "broken" in rows.skipped[0] and "skipping trial folder" in rows.skipped[0]
    assert votakvot.ReportRows.concat([rows, rows]).skipped == rows.skipped * 2
    (strict,) = votakvot.report_parts(local_root, safe=False)
    with pytest.raises(TrialLoadError, match="broken"):
        strict.read()


def test_a_missing_path_warns_at_the_callers_line_and_gives_no_parts(tmp_path):
    """report_parts of a path that does not exist warns, naming it, at the line that called it."""
    with pytest.warns(MissingPathWarning, match="does not exist") as caught:
        assert votakvot.report_parts(str(tmp_path / "nope")) == []
    assert caught[0].filename == __file__


def test_no_trials_give_the_empty_frame_of_load_report(local_root):
    """An empty folder has no parts, and no rows give load_report's empty frame."""
    Path(local_root).mkdir()
    assert votakvot.report_parts(local_root) == []
    empty = votakvot.ReportRows.concat([])
    assert len(empty) == 0
    assert (
        empty.frame().columns.tolist()
        == votakvot.load_report(local_root).columns.tolist()
        == ["tid", "trial", "status"]
    )


@pytest.mark.parametrize("size", [0, -1, 1.5, True, "10"])
def test_a_part_size_that_is_not_a_positive_int_is_refused(local_root, size):
    """size must be an int >= 1; anything else is a SelectionError saying so."""
    with pytest.raises(SelectionError, match="number of trial folders per part"):
        votakvot.report_parts(local_root, size=size)


def test_rows_of_plain_and_full_reads_do_not_mix(local_root):
    """Joining rows read with and without full=True, or framing with the other's schema, is refused."""
    votakvot.init(path=local_root)
    with votakvot.trial("a"):
        pass
    (plain,) = votakvot.report_parts(local_root)
    (full,) = votakvot.report_parts(local_root, full=True)
    with pytest.raises(ValueError, match="mix full=True and full=False"):
        votakvot.ReportRows.concat([plain.read(), full.read()])
    with pytest.raises(ValueError, match="full= differs"):
        plain.read().frame(schema=full.read().schema())


def test_part_folders_are_the_trial_folders(root):
    """`folders` lists the trial folders of a part, as the trials' own paths."""
    votakvot.init(path=root)
    paths = []
    for i in range(3):
        with votakvot.trial("t", i=i) as t:
            pass
        paths.append(t.path)
    (part,) = votakvot.report_parts(root)
    assert sorted(part.folders) == sorted(paths)


@pytest.mark.slow
def test_parts_are_read_in_other_processes_and_sent_back(local_root):
    """Parts and rows pickle: a spawn pool reads the parts, the rows come back and give load_report's frame."""
    votakvot.init(path=local_root)
    for i in range(5):
        with votakvot.trial("t", i=i) as t:
            t.result = i
    parts = votakvot.report_parts(local_root, size=2)
    assert pickle.loads(pickle.dumps(parts[0])).folders == parts[0].folders
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        read = pool.map(votakvot.ReportPart.read, parts)
    rows = votakvot.ReportRows.concat(read)
    _same(rows.frame(), votakvot.load_report(local_root, index=False))
    assert rows.frame().loc[4, "trial"].result == 4
