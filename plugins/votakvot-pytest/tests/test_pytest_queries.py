"""The README's queries, run as written over the trials of real recorded runs of a git project:
which tests got slower since a commit, and which are flaky."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from votakvot_pytest_runs import Project, shown

IDENTITY = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")
README = Path(__file__).resolve().parent.parent / "README.md"
ROOT_README = Path(__file__).resolve().parents[3] / "README.md"

TIMING = """
    import os
    import time
    from pathlib import Path

    def test_stable():
        pass

    def test_slow():
        time.sleep({sleep})

    def test_flaky():
        counter = Path(os.environ["FLAKY_COUNTER"])
        runs = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(runs + 1))
        assert runs % 2 == 1, "fails on every other run"
"""


def _readme_queries() -> list[str]:
    """The python blocks of the README's Queries section."""
    text = README.read_text()
    section = text[text.index("## Queries") : text.index("## Cost")]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 2
    return blocks


def _root_readme_example() -> str:
    """The python block of the `### pytest` section of votakvot's own README."""
    text = ROOT_README.read_text()
    start = text.index("### pytest")
    section = text[start : text.index("\n### ", start + 1)]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    return block


def _git(project: Project, *args: str) -> None:
    identity = {name: "t@example.com" for name in IDENTITY}
    subprocess.run(["git", *args], cwd=project.folder, check=True, env={**os.environ, **identity})


@pytest.mark.slow
def test_the_readme_queries_find_the_slower_and_the_flaky_tests(tmp_path, monkeypatch):
    """Two runs at a commit, then the slow test made slower and committed, then two more runs: the
    README's first query names only that test, its second only the test that fails every other run."""
    project = Project(tmp_path)
    env = {"FLAKY_COUNTER": str(tmp_path / "flaky-counter")}
    project.write(".gitignore", ".votakvot/\n")
    project.write("test_timing.py", TIMING.format(sleep=0.01))
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "first")
    for _ in range(2):
        result = project.run("--votakvot", env=env)
        assert result.returncode in (0, 1), shown(result)
    project.write("test_timing.py", TIMING.format(sleep=0.3))
    _git(project, "commit", "-q", "-am", "slower")
    for _ in range(2):
        project.run("--votakvot", env=env)

    monkeypatch.chdir(project.folder)
    monkeypatch.setenv("VOTAKVOT_CACHE_DIR", str(tmp_path / "cache"))
    slower_query, flaky_query = _readme_queries()
    found: dict = {}
    exec(slower_query, found)
    assert found["slower"].index.tolist() == ["test_timing.py::test_slow"]
    assert found["slower"].iloc[0] > 0.2

    found = {}
    exec(flaky_query, found)
    flaky = found["flaky"]
    assert flaky.index.get_level_values("pytest.nodeid").unique().tolist() == ["test_timing.py::test_flaky"]
    assert len(flaky) == 2  # flaky at both commits: two runs each, one failed
    assert {frozenset(statuses) for statuses in flaky} == {frozenset({"done", "failed"})}
    by_node = found["runs"].groupby(["pytest.nodeid", "meta.system.node"])["status"].value_counts()
    assert by_node.sum() == 4

    found = {}
    exec(_root_readme_example(), found)  # the first commit is its X
    assert found["grown"][found["grown"] > 0.01].index.tolist() == ["test_timing.py::test_slow"]
    assert found["outcomes"][found["outcomes"].map(len) > 1].index.get_level_values(0).unique().tolist() == [
        "test_timing.py::test_flaky"
    ]
