"""The session's trial of a real pytest run: the parent of every test's trial, with the command
line, the count of each outcome and git meta; the same with pytest-xdist workers; and what is
said when trials cannot be stored."""

from __future__ import annotations

import os
import subprocess

import pytest
from votakvot_pytest_runs import Project, parent_of, report_of_sessions, report_of_tests, shown

IDENTITY = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")
MIXED = """
    import pytest

    @pytest.mark.parametrize("n", range(6))
    def test_many(n):
        assert n != 4

    @pytest.mark.skip(reason="later")
    def test_skipped():
        pass

    @pytest.mark.xfail(reason="known")
    def test_xfailed():
        assert False

    @pytest.fixture
    def broken():
        raise RuntimeError("no")

    def test_error(broken):
        pass
"""
MORE = """
    import pytest

    @pytest.mark.parametrize("k", range(10))
    def test_k(k):
        pass
"""
COUNTS = {"passed": 5, "failed": 1, "errors": 1, "skipped": 1, "xfailed": 1, "xpassed": 0}


def _git_repo(project: Project) -> str:
    """Makes the project a git repository with one commit; returns the commit."""
    env = {name: "t@example.com" for name in IDENTITY}
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "tests"]):
        subprocess.run(["git", *command], cwd=project.folder, check=True, env={**os.environ, **env})
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=project.folder, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_the_session_is_the_parent_with_the_command_line_and_the_counts(tmp_path):
    """One session trial per run: params.args is the command line, the result counts each outcome
    as pytest's summary line does, its status follows the exit status, git meta is recorded, and
    every test's trial names it as parent."""
    project = Project(tmp_path)
    project.write("test_mixed.py", MIXED)
    commit = _git_repo(project)
    result = project.run("--votakvot", "-q")
    assert result.returncode == 1, shown(result)
    assert "1 failed, 5 passed, 1 skipped, 1 xfailed, 1 error" in result.stdout

    sessions = report_of_sessions(project.default_root)
    assert len(sessions) == 1
    session = sessions.iloc[0]
    assert sessions[list(COUNTS)].iloc[0].to_dict() == COUNTS
    assert session.exitstatus == 1
    assert session.collection_errors == 0
    trial = session.trial
    assert trial.params == {"args": ["-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--votakvot", "-q"]}
    assert trial.status == "failed"
    assert trial.error == "pytest exited with status 1 (TESTS_FAILED)"
    assert trial.meta.git.commit == commit
    assert trial.info.pytest.rootdir == str(project.folder)
    assert trial.info.pytest.version == pytest.__version__

    tests = report_of_tests(project.default_root)
    assert len(tests) == 9
    assert {parent_of(t) for t in tests.trial} == {trial.tid}
    assert {t.meta.git.commit for t in tests.trial} == {commit}
    assert f"votakvot: 9 test(s) ran, recorded below {project.default_root}/test, session {trial.tid}" in result.stdout


def test_a_clean_run_and_a_run_without_tests_end_done(tmp_path):
    """Exit status 0 and 5 (no tests collected) end the session done; a collection error is counted."""
    project = Project(tmp_path)
    project.write("test_ok.py", "def test_ok():\n    pass\n")
    assert project.run("--votakvot", "-q").returncode == 0
    assert project.run("--votakvot", "-q", "-k", "nothing_matches").returncode == 5
    project.write("test_broken.py", "import no_such_module\n")
    assert project.run("--votakvot", "-q").returncode == 2
    sessions = report_of_sessions(project.default_root)
    assert sessions.status.tolist() == ["done", "done", "interrupted"]
    assert sessions.exitstatus.tolist() == [0, 5, 2]
    assert sessions.collection_errors.tolist() == [0, 0, 1]


@pytest.mark.slow
def test_xdist_workers_record_under_the_controllers_session(tmp_path):
    """With `-n 2` every test is recorded once, by the worker that ran it, with the controller's
    session as parent; the session counts the outcomes of all workers."""
    project = Project(tmp_path)
    pytest.importorskip("xdist")
    project.write("test_mixed.py", MIXED)
    project.write("test_more.py", MORE)
    result = project.run("--votakvot", "-n", "2", "-q")
    assert result.returncode == 1, shown(result)

    sessions = report_of_sessions(project.default_root)
    assert sessions[list(COUNTS)].to_dict("records") == [{**COUNTS, "passed": 15}]
    (session,) = sessions.trial
    assert session.info.pytest.workers == 2
    tests = report_of_tests(project.default_root)
    assert len(tests) == 19
    assert {parent_of(t) for t in tests.trial} == {session.tid}
    assert set(tests["pytest.worker"]) == {"gw0", "gw1"}
    assert tests.loc["test_mixed.py::test_many[4]", "status"] == "failed"
    assert tests.loc["test_mixed.py::test_error", "status"] == "error"
    assert {t.meta.process.pid for t in tests.trial}.isdisjoint({session.meta.process.pid})


@pytest.mark.slow
def test_a_test_that_kills_its_worker_loads_as_crashed(tmp_path):
    """A test whose xdist worker dies (SIGKILL) leaves its trial `crashed`; the session counts it
    failed, as pytest-xdist reports it, and the other tests are recorded by the new worker."""
    pytest.importorskip("xdist")
    project = Project(tmp_path)
    project.write(
        "test_kill.py",
        """
        import os
        import signal

        def test_dies():
            os.kill(os.getpid(), signal.SIGKILL)

        def test_lives():
            pass
        """,
    )
    result = project.run("--votakvot", "-n", "1", "-q")
    assert result.returncode == 1, shown(result)
    tests = report_of_tests(project.default_root)
    assert tests.status.to_dict() == {"test_kill.py::test_dies": "crashed", "test_kill.py::test_lives": "done"}
    assert "pid" in tests.loc["test_kill.py::test_dies", "error"]
    assert report_of_sessions(project.default_root)[["passed", "failed"]].to_dict("records") == [
        {"passed": 1, "failed": 1}
    ]


def test_trials_that_cannot_be_stored_are_reported_and_tests_go_on(tmp_path):
    """A root where the tests' folder cannot be made (a file is in the way): every test still runs
    with its usual outcome, and the run's summary names the trials that could not be stored."""
    project = Project(tmp_path)
    project.write("test_mixed.py", MIXED)
    root = project.folder / "results"
    root.mkdir()
    (root / "test").write_text("in the way")
    result = project.run("--votakvot=results", "-q")
    assert result.returncode == 1, shown(result)
    assert "1 failed, 5 passed, 1 skipped, 1 xfailed, 1 error" in result.stdout
    assert "votakvot: trials not stored" in result.stdout
    assert f"votakvot: 9 trial(s) could not be stored in full below {root}:" in result.stdout
    assert "test/test_mixed.py/test_many[0]/" in result.stdout
    assert "NotADirectoryError" in result.stdout
    assert "INTERNALERROR" not in result.stdout + result.stderr
    assert report_of_sessions(root).failed.tolist() == [1]  # the session's own folder could be made


@pytest.mark.slow
def test_xdist_workers_report_what_they_could_not_store(tmp_path):
    """What workers could not store reaches the controller's summary: ten trials by name, then how many more."""
    project = Project(tmp_path)
    pytest.importorskip("xdist")
    project.write("test_mixed.py", MIXED)
    project.write("test_more.py", MORE)
    root = project.folder / "results"
    root.mkdir()
    (root / "test").write_text("in the way")
    result = project.run("--votakvot=results", "-n", "2", "-q")
    assert result.returncode == 1, shown(result)
    assert f"votakvot: 19 trial(s) could not be stored in full below {root}:" in result.stdout
    assert result.stdout.count(": NotADirectoryError(20, 'Not a directory')") == 10
    assert "  ... and 9 more" in result.stdout
