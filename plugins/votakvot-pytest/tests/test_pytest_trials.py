"""Each test of a real pytest run (a subprocess) is one trial: its name, params, status, error,
durations and captured output, read back with `votakvot.load_report` and `votakvot.Trial`."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml
from votakvot_pytest_runs import Project, report_of_tests, shown

import votakvot

OUTCOMES = """
    import logging
    import sys

    import pytest


    def test_passes():
        pass


    def test_fails():
        print("about to fail")
        assert 1 + 1 == 3


    @pytest.mark.skip(reason="not on this machine")
    def test_skipped_by_marker():
        pass


    def test_skipped_inside():
        pytest.skip("no network")


    @pytest.mark.xfail(reason="bug 12")
    def test_expected_to_fail():
        raise ValueError("still broken")


    @pytest.mark.xfail(reason="bug 13")
    def test_unexpectedly_passes():
        pass


    @pytest.mark.xfail(reason="bug 14", strict=True)
    def test_strictly_expected_to_fail():
        pass


    @pytest.fixture
    def broken_setup():
        raise RuntimeError("no database")


    def test_setup_fails(broken_setup):
        pass


    @pytest.fixture
    def broken_teardown():
        print("setting up")
        yield
        print("tearing down")
        raise OSError("cannot clean up")


    def test_teardown_fails(broken_teardown):
        print("in the test")


    def test_fails_and_teardown_fails(broken_teardown):
        assert False, "both"


    def test_writes_everywhere():
        print("to stdout")
        sys.stderr.write("to stderr\\n")
        logging.getLogger("app").warning("to the log")
"""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory):
    """The report of one recorded run of a file with every kind of outcome."""
    project = Project(tmp_path_factory.mktemp("outcomes"))
    project.write("test_outcomes.py", OUTCOMES)
    result = project.run("--votakvot")
    assert result.returncode == 1, shown(result)
    return report_of_tests(project.default_root)


def test_each_outcome_is_the_trial_status(outcomes):
    """passed is done; failed, skipped, xfailed, xpassed keep pytest's word; a failed set-up or a
    failed tear-down of a test that did not fail is error; a strict xpass is failed."""
    status = outcomes.status.rename(lambda nodeid: nodeid.split("::")[1]).to_dict()
    assert status == {
        "test_passes": "done",
        "test_fails": "failed",
        "test_skipped_by_marker": "skipped",
        "test_skipped_inside": "skipped",
        "test_expected_to_fail": "xfailed",
        "test_unexpectedly_passes": "xpassed",
        "test_strictly_expected_to_fail": "failed",
        "test_setup_fails": "error",
        "test_teardown_fails": "error",
        "test_fails_and_teardown_fails": "failed",
        "test_writes_everywhere": "done",
    }
    assert (outcomes["pytest.outcome"] == outcomes.status.replace("done", "passed")).all()


def test_failures_keep_their_error_phase_and_traceback(outcomes):
    """A failure's first line is the trial's error and pytest's report its traceback.txt; the phase
    says where it happened; the result of a failed or errored test raises TrialFailedError."""
    row = outcomes.loc["test_outcomes.py::test_fails"]
    assert row.error == "assert (1 + 1) == 3"
    assert row["pytest.phase"] == "call"
    trial = row.trial
    assert "assert 1 + 1 == 3" in trial.traceback_text
    assert re.search(r"test_outcomes.py:\d+: AssertionError", trial.traceback_text)
    with pytest.raises(votakvot.errors.TrialFailedError, match="assert"):
        trial.result  # noqa: B018

    setup = outcomes.loc["test_outcomes.py::test_setup_fails"]
    assert setup.error == "RuntimeError: no database"
    assert setup["pytest.phase"] == "setup"
    assert "raise RuntimeError" in setup.trial.traceback_text

    teardown = outcomes.loc["test_outcomes.py::test_teardown_fails"]
    assert teardown.error == "OSError: cannot clean up"
    assert teardown["pytest.phase"] == "teardown"

    both = outcomes.loc["test_outcomes.py::test_fails_and_teardown_fails"].trial.traceback_text
    assert both.index("----- call -----") < both.index("AssertionError: both") < both.index("----- teardown -----")
    assert "OSError: cannot clean up" in both

    strict = outcomes.loc["test_outcomes.py::test_strictly_expected_to_fail"]
    assert strict.error == "[XPASS(strict)] bug 14"


def test_skips_and_expected_failures_keep_their_reason(outcomes):
    """Skipped, xfailed and xpassed tests record why (`pytest.reason`) and no error."""
    reasons = outcomes["pytest.reason"].dropna().rename(lambda nodeid: nodeid.split("::")[1]).to_dict()
    assert reasons == {
        "test_skipped_by_marker": "not on this machine",
        "test_skipped_inside": "no network",
        "test_expected_to_fail": "bug 12",
        "test_unexpectedly_passes": "bug 13",
    }
    skipped = outcomes[outcomes.status.isin(["skipped", "xfailed", "xpassed"])]
    assert skipped.error.isna().all()
    assert (skipped.loc[["test_outcomes.py::test_skipped_by_marker"], "pytest.phase"] == "setup").all()


def test_durations_are_recorded_per_phase(outcomes):
    """Every trial has its duration and pytest's duration of each phase it ran; a skipped test has no call."""
    assert (outcomes.duration > 0).all()
    row = outcomes.loc["test_outcomes.py::test_passes"]
    for phase in ("setup", "call", "teardown"):
        assert 0 < row[f"pytest.durations.{phase}"] < row.duration
    assert pd.isna(outcomes.loc["test_outcomes.py::test_skipped_by_marker", "pytest.durations.call"])


def test_captured_output_is_attached_only_when_there_is_some(outcomes):
    """stdout.txt, stderr.txt and log.txt hold what pytest captured; a quiet test attaches nothing;
    output of several phases is headed by each phase's name."""
    loud = outcomes.loc["test_outcomes.py::test_writes_everywhere"].trial
    assert sorted(loud.attached) == ["log.txt", "stderr.txt", "stdout.txt"]
    assert loud.attach("stdout.txt").read() == b"to stdout\n"
    assert loud.attach("stderr.txt").read() == b"to stderr\n"
    assert b"WARNING" in loud.attach("log.txt").read()
    assert b"to the log" in loud.attach("log.txt").read()

    assert outcomes.loc["test_outcomes.py::test_passes"].trial.attached == []

    phases = outcomes.loc["test_outcomes.py::test_teardown_fails"].trial.attach("stdout.txt").read().decode()
    assert phases == (
        "----- setup -----\nsetting up\n----- call -----\nin the test\n----- teardown -----\ntearing down\n"
    )


def test_parametrize_values_are_params_and_objects_are_reprs(tmp_path):
    """Plain parametrize values are params as they are; other objects are their repr, without
    memory addresses, and nothing is pickled into the document."""
    project = Project(tmp_path)
    project.write(
        "test_params.py",
        """
        import pytest

        class Opaque:
            pass

        @pytest.fixture(params=["sqlite", "postgres"])
        def backend(request):
            return request.param

        @pytest.mark.parametrize("n, shape", [(1, (2, 3)), (2.5, {"k": [1, None]})])
        def test_plain(n, shape, backend):
            pass

        @pytest.mark.parametrize("thing", [Opaque(), b"raw"], ids=["opaque", "raw"])
        def test_objects(thing):
            pass
        """,
    )
    result = project.run("--votakvot")
    assert result.returncode == 0, shown(result)
    report = report_of_tests(project.default_root)
    plain = report.loc["test_params.py::test_plain[sqlite-1-shape0]"].trial.params
    assert plain == {"n": 1, "shape": (2, 3), "backend": "sqlite"}
    assert report.loc["test_params.py::test_plain[postgres-2.5-shape1]"].trial.params == {
        "n": 2.5,
        "shape": {"k": [1, None]},
        "backend": "postgres",
    }
    assert report.loc["test_params.py::test_objects[opaque]", "thing"] == "<test_params.Opaque object>"
    assert report.loc["test_params.py::test_objects[raw]", "thing"] == b"raw"
    for trial in report.trial:
        assert "!!python/object" not in _read(trial)


def _read(trial: votakvot.Trial) -> str:
    """The trial's votakvot.yaml as text."""
    with open(f"{trial.path}/votakvot.yaml", encoding="utf-8") as f:
        return f.read()


def test_names_follow_the_node_id_and_stay_loadable(tmp_path):
    """A trial's name is `test/` and the node id as folders (classes too); ids holding '/', '::',
    a leading '.', or hundreds of characters still give names votakvot stores and loads back."""
    project = Project(tmp_path)
    project.write(
        "pkg/test_names.py",
        """
        import pytest

        class TestGroup:
            def test_method(self):
                pass

        @pytest.mark.parametrize("text", ["a/b", "x::y", ".hidden", "..", "z" * 400, "100%"])
        def test_ids(text):
            pass
        """,
    )
    result = project.run("--votakvot", "--disable-warnings")
    assert result.returncode == 0, shown(result)
    report = report_of_tests(project.default_root)
    assert len(report) == 7
    method = report.loc["pkg/test_names.py::TestGroup::test_method"]
    assert method.tid.startswith("test/pkg/test_names.py/TestGroup/test_method/")
    assert set(report.status) == {"done"}
    names = {nodeid: tid.rsplit("/", 3)[0] for nodeid, tid in report.tid.items()}
    assert names["pkg/test_names.py::test_ids[a/b]"] == "test/pkg/test_names.py/test_ids[a%2Fb]"
    assert names["pkg/test_names.py::test_ids[x::y]"] == "test/pkg/test_names.py/test_ids[x%3A%3Ay]"
    assert names["pkg/test_names.py::test_ids[100%]"] == "test/pkg/test_names.py/test_ids[100%25]"
    assert all(len(segment.encode()) <= 200 for tid in report.tid for segment in tid.split("/"))


def test_a_test_can_add_to_its_own_trial(tmp_path):
    """The `votakvot_trial` fixture is the test's trial: what it meters and informs is stored there."""
    project = Project(tmp_path)
    project.write(
        "test_fixture.py",
        """
        def test_throughput(votakvot_trial):
            votakvot_trial.inform(rows=1000)
            for step in range(3):
                votakvot_trial.meter(rows_per_s=100.0 * step)
        """,
    )
    result = project.run("--votakvot")
    assert result.returncode == 0, shown(result)
    row = report_of_tests(project.default_root).loc["test_fixture.py::test_throughput"]
    assert row.rows == 1000
    assert row.trial.metrics()["rows_per_s"].tolist() == [0.0, 100.0, 200.0]


def test_code_under_test_sees_no_trial_and_keeps_its_own_settings(tmp_path):
    """Inside a recorded test `votakvot.current()` is None, trials the code opens go to its own
    root with no parent, and $VOTAKVOT_SETTINGS is not set for its subprocesses."""
    project = Project(tmp_path)
    own = tmp_path / "own-results"
    project.write(
        "test_user.py",
        """
        import os
        import votakvot

        def test_uses_votakvot():
            assert votakvot.current() is None
            assert "VOTAKVOT_SETTINGS" not in os.environ
            with votakvot.trial("mine", a=1) as t:
                pass
            assert t.path.startswith(os.environ["VOTAKVOT_PATH"])
        """,
    )
    result = project.run("--votakvot", env={"VOTAKVOT_PATH": str(own)})
    assert result.returncode == 0, shown(result)
    (mine,) = votakvot.load_trials(str(own)).values()
    assert "parent" not in mine.data
    assert report_of_tests(project.default_root).status.tolist() == ["done"]


def test_an_interrupted_run_ends_its_trials_interrupted(tmp_path):
    """Ctrl-C in a test, or pytest.exit(), ends that test's trial and the session's `interrupted`."""
    project = Project(tmp_path)
    project.write(
        "test_stop.py",
        """
        import pytest

        def test_a():
            pass

        def test_ctrl_c():
            raise KeyboardInterrupt

        def test_never():
            pass
        """,
    )
    project.write(
        "test_exit.py",
        """
        import pytest

        def test_exit():
            pytest.exit("enough for today")
        """,
    )
    for name in ("test_stop.py", "test_exit.py"):
        result = project.run(name, "--votakvot")
        assert result.returncode == 2, shown(result)
    report = report_of_tests(project.default_root)
    assert report.status.to_dict() == {
        "test_stop.py::test_a": "done",
        "test_stop.py::test_ctrl_c": "interrupted",
        "test_exit.py::test_exit": "interrupted",
    }
    assert report.loc["test_stop.py::test_ctrl_c", "error"] == "KeyboardInterrupt"
    assert report.loc["test_exit.py::test_exit", "error"] == "pytest.exit: enough for today"
    assert yaml.safe_load(_read(report.loc["test_exit.py::test_exit"].trial))["info"]["pytest"]["outcome"] == (
        "interrupted"
    )
