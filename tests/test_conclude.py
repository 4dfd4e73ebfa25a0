"""Preparing a trial and ending it from outside its work: informing it before it is entered,
naming its parent (`LiveTrial.parent`), ending it with an outcome the code learned
(`LiveTrial.conclude`), and a live trial outlasting `votakvot.testing.reset()`."""

from __future__ import annotations

import pytest

import votakvot
import votakvot.testing
from conftest import read_yaml
from votakvot.errors import TrialFailedError, TrialStateError, TrialStatusError

FAST = {"heartbeat": 0.2, "flush_interval": 0.1}


@pytest.mark.parametrize("status", ["skipped", "xfailed", "xpassed", "error", "failed", "interrupted", "done"])
def test_a_concluded_status_is_recorded_and_loaded(root, status):
    """A block that ends normally after conclude(status) stores and loads that status, with no error."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("exp", n=1) as t:
        t.conclude(status)
        assert t.status == "running"
    assert read_yaml(f"{t.path}/votakvot.yaml")["status"] == status
    report = votakvot.load_report(root)
    assert report.status.tolist() == [status]
    assert report.error.tolist() == [None]


def test_conclude_stores_the_error_and_the_traceback(root):
    """conclude(error=..., traceback=...) fills `error` and traceback.txt; the result of a failed
    or errored trial raises TrialFailedError carrying both."""
    votakvot.init(path=root, **FAST)
    for status in ("failed", "error"):
        with votakvot.trial(f"exp-{status}") as t:
            t.conclude(status, error="AssertionError: assert 1 == 2", traceback="def test():\n>   assert 1 == 2\n")
        doc = read_yaml(f"{t.path}/votakvot.yaml")
        assert doc["error"] == "AssertionError: assert 1 == 2"
        (loaded,) = votakvot.load_trials(f"{root}/exp-{status}").values()
        assert loaded.status == status
        assert loaded.traceback_text == "def test():\n>   assert 1 == 2\n"
        with pytest.raises(TrialFailedError, match=r"assert 1 == 2"):
            loaded.result  # noqa: B018


def test_the_last_conclusion_wins_and_an_exception_wins_over_any(root):
    """A second conclude() replaces the first; an exception leaving the block ends the trial failed."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("twice") as t:
        t.conclude("failed", error="first")
        t.conclude("skipped")
    assert read_yaml(f"{t.path}/votakvot.yaml")["status"] == "skipped"
    assert "error" not in read_yaml(f"{t.path}/votakvot.yaml")

    with pytest.raises(ZeroDivisionError), votakvot.trial("raised") as r:
        r.conclude("skipped")
        1 / 0  # noqa: B018
    doc = read_yaml(f"{r.path}/votakvot.yaml")
    assert doc["status"] == "failed"
    assert doc["error"] == "ZeroDivisionError: division by zero"


@pytest.mark.parametrize("status", ["running", "resumed", "crashed", "passed", "Skipped", 1, None])
def test_a_status_no_trial_can_end_with_is_refused(root, status):
    """conclude() refuses live, derived and unknown statuses with TrialStatusError naming the value."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("exp") as t:
        with pytest.raises(TrialStatusError, match=repr(status)) as caught:
            t.conclude(status)
        assert isinstance(caught.value, ValueError)
        with pytest.raises(TrialStatusError, match="error=3"):
            t.conclude("failed", error=3)  # type: ignore[arg-type]
    assert read_yaml(f"{t.path}/votakvot.yaml")["status"] == "done"


def test_conclude_outside_the_block_is_a_state_error(root):
    """conclude() after the block raises TrialStateError, as every verb does."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("exp") as t:
        pass
    with pytest.raises(TrialStateError, match="conclude"):
        t.conclude("skipped")


def test_a_parent_set_before_entering_is_recorded(root):
    """`parent` set before `with` is written as is, even inside another live trial; by default the
    innermost live trial is the parent."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("outer") as outer:
        inner = votakvot.trial("inner")
        inner.parent = "session/elsewhere/1234"
        with inner:
            assert inner.parent == "session/elsewhere/1234"
        with votakvot.trial("nested") as nested:
            pass
    assert read_yaml(f"{inner.path}/votakvot.yaml")["parent"] == "session/elsewhere/1234"
    assert read_yaml(f"{nested.path}/votakvot.yaml")["parent"] == outer.tid
    assert "parent" not in read_yaml(f"{outer.path}/votakvot.yaml")


def test_parent_is_set_only_before_entering_and_only_to_a_tid(root):
    """Setting `parent` on an entered trial, or to something other than a str, raises TrialStateError."""
    votakvot.init(path=root, **FAST)
    t = votakvot.trial("exp")
    with pytest.raises(TrialStateError, match="42"):
        t.parent = 42  # type: ignore[assignment]
    with t, pytest.raises(TrialStateError, match="before it is entered"):
        t.parent = "other"


def test_info_given_before_entering_is_in_the_first_document(root):
    """inform() before `with` fills the document written at the start (seen by a crash right
    after it), and later inform() calls add to it."""
    votakvot.init(path=root, **FAST)
    t = votakvot.trial("exp")
    t.inform(nodeid="tests/test_a.py::test_b")
    with t:
        assert read_yaml(f"{t.path}/votakvot.yaml")["info"] == {"nodeid": "tests/test_a.py::test_b"}
        t.inform(outcome="passed")
    assert read_yaml(f"{t.path}/votakvot.yaml")["info"] == {"nodeid": "tests/test_a.py::test_b", "outcome": "passed"}


def test_info_given_before_resuming_replaces_the_stored_info(root):
    """A continued explicit id keeps its stored info, except what this run gave before entering."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial_at("task") as first:
        first.inform(run=1, kept="yes")
    again = votakvot.trial_at("task")
    again.inform(run=2)
    with again:
        pass
    assert read_yaml(f"{again.path}/votakvot.yaml")["info"] == {"run": 2, "kept": "yes"}


def test_a_trial_outlives_a_reset_inside_it(root):
    """votakvot.testing.reset() while a trial is open (code under test resetting votakvot) does not
    break the trial's end: it is stored done."""
    votakvot.init(path=root, **FAST)
    with votakvot.trial("outer") as t:
        votakvot.testing.reset()
    assert read_yaml(f"{t.path}/votakvot.yaml")["status"] == "done"
