"""`--votakvot[=ROOT]`, the ini option `votakvot_root`, and what the plug-in does without them
(nothing), in real pytest runs."""

from __future__ import annotations

from votakvot_pytest_runs import Project, report_of_sessions, report_of_tests, shown

ONE_TEST = "def test_one():\n    pass\n"


def test_without_the_option_nothing_is_recorded_or_imported(tmp_path):
    """Without --votakvot no trial is written, votakvot is not even imported, no recorder is
    registered, and the votakvot_trial fixture is None."""
    project = Project(tmp_path)
    project.write(
        "test_off.py",
        """
        import sys

        def test_off(votakvot_trial, pytestconfig):
            assert votakvot_trial is None
            assert "votakvot" not in sys.modules
            assert pytestconfig.pluginmanager.has_plugin("votakvot")
            assert not pytestconfig.pluginmanager.has_plugin("votakvot-items")
            assert not pytestconfig.pluginmanager.has_plugin("votakvot-session")
        """,
    )
    result = project.run("-q")
    assert result.returncode == 0, shown(result)
    assert "votakvot" not in result.stdout
    assert sorted(p.name for p in project.folder.iterdir()) == ["pytest.ini", "test_off.py"]


def test_the_default_root_is_in_the_rootdir_wherever_pytest_starts(tmp_path):
    """A bare --votakvot records into .votakvot/tests of the rootdir, also when started in a sub-folder."""
    project = Project(tmp_path)
    project.write("sub/test_sub.py", ONE_TEST)
    assert project.run("--votakvot").returncode == 0
    assert project.run("--votakvot", cwd=project.folder / "sub").returncode == 0
    assert project.run("--votakvot=").returncode == 0
    assert report_of_sessions(project.default_root).status.tolist() == ["done"] * 3
    assert not (project.folder / "sub" / ".votakvot").exists()


def test_the_ini_option_and_the_command_line_name_the_root(tmp_path):
    """`votakvot_root` in the ini file is relative to the rootdir; --votakvot=ROOT to where pytest
    was started; PYTEST_ADDOPTS carries the option as well."""
    project = Project(tmp_path)
    project.write("pytest.ini", "[pytest]\nvotakvot_root = results/from-ini\n")
    project.write("sub/test_sub.py", ONE_TEST)
    assert project.run("--votakvot", cwd=project.folder / "sub").returncode == 0
    assert project.run("--votakvot=from-cli", cwd=project.folder / "sub").returncode == 0
    result = project.run(env={"PYTEST_ADDOPTS": "--votakvot=from-env"})
    assert result.returncode == 0, shown(result)
    for root in ("results/from-ini", "sub/from-cli", "from-env"):
        assert report_of_tests(project.folder / root).status.tolist() == ["done"], root


def test_a_root_written_as_a_separate_word_is_refused(tmp_path):
    """`--votakvot tests` is a usage error saying to write `--votakvot=tests`: argparse would
    take the test path for the root."""
    project = Project(tmp_path)
    project.write("tests/test_a.py", ONE_TEST)
    for args, env in (
        (["--votakvot", "tests"], {}),
        ([], {"PYTEST_ADDOPTS": "--votakvot tests"}),
    ):
        result = project.run(*args, env=env)
        assert result.returncode == 4, shown(result)
        assert "--votakvot tests: is 'tests' where the trials go, or a test path?" in result.stderr
        assert "(--votakvot=tests)" in result.stderr
    assert sorted(p.name for p in (project.folder / "tests").iterdir()) == ["test_a.py"]
    assert project.run("tests", "--votakvot").returncode == 0


def test_roots_that_cannot_work_are_usage_errors(tmp_path):
    """A file, or a URL of a protocol fsspec does not know, is refused before any test runs."""
    project = Project(tmp_path)
    project.write("test_a.py", ONE_TEST)
    project.write("a-file", "x")
    for root, says in (("a-file", "is a file"), ("nosuch://bucket/x", "fsspec knows no protocol 'nosuch'")):
        result = project.run(f"--votakvot={root}")
        assert result.returncode == 4, shown(result)
        assert says in result.stderr


def test_the_plug_in_can_be_turned_off_by_name(tmp_path):
    """`-p no:votakvot` unloads the plug-in: --votakvot is then an unknown option."""
    project = Project(tmp_path)
    project.write("test_a.py", ONE_TEST)
    result = project.run("-p", "no:votakvot", "--votakvot")
    assert result.returncode == 4, shown(result)
    assert "unrecognized arguments: --votakvot" in result.stderr
