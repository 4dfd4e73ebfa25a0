"""`votakvot.code_diff` and `votakvot diff A B --code`: the code two trials ran with, from real git repos."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import votakvot
from test_cli import cli
from test_meta import GIT_ENV, git


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real repository with one committed `model.py`; the test runs inside it."""
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "model.py").write_text("LR = 0.1\n")
    (path / "data.py").write_text("ROWS = 10\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "first")
    monkeypatch.chdir(path)
    votakvot.init(path=str(tmp_path / "results"))
    return path


def _run(name: str) -> votakvot.Trial:
    with votakvot.trial(name) as t:
        pass
    (trial,) = votakvot.load_trials(t.path, index=False).values()
    return trial


def test_uncommitted_change_shows_as_a_diff_and_survives_gc(repo):
    """A trial run on an edited, uncommitted file diffs against the clean one, even after `git gc --prune=now`."""
    clean = _run("exp")
    (repo / "model.py").write_text("LR = 0.5\n")
    edited = _run("exp")
    assert clean.meta.git.treeish != edited.meta.git.treeish
    (repo / "model.py").write_text("LR = 0.1\n")
    git(repo, "gc", "-q", "--prune=now")
    text = votakvot.code_diff(clean, edited)
    assert "-LR = 0.1" in text and "+LR = 0.5" in text
    assert "data.py" not in text
    assert git(repo, "for-each-ref", "refs/votakvot/trees/").split()[0] == edited.meta.git.treeish


def test_a_clean_tree_needs_no_kept_ref(repo):
    """A clean working tree's tree is HEAD's: no ref is added for it, and two clean trials have no code diff."""
    first, second = _run("exp"), _run("exp")
    assert git(repo, "for-each-ref", "refs/votakvot/") == ""
    assert votakvot.code_diff(first, second) == ""


def test_paths_limit_the_diff(repo):
    before = _run("exp")
    (repo / "model.py").write_text("LR = 0.5\n")
    (repo / "data.py").write_text("ROWS = 20\n")
    after = _run("exp")
    text = votakvot.code_diff(before, after, "data.py")
    assert "+ROWS = 20" in text and "LR" not in text


def test_a_clone_that_fetched_the_kept_trees_can_diff(repo, tmp_path, monkeypatch):
    """A teammate's clone has the commits but not the uncommitted tree until it fetches refs/votakvot/*."""
    before = _run("exp")
    (repo / "model.py").write_text("LR = 0.5\n")
    after = _run("exp")
    clone = tmp_path / "clone"
    command = ["git", "clone", "-q", "--no-local", str(repo), str(clone)]
    subprocess.run(command, check=True, env={**os.environ, **GIT_ENV})
    with pytest.raises(votakvot.errors.CodeDiffError, match=r"does not hold the tree .*refs/votakvot"):
        votakvot.code_diff(before, after, repo=clone)
    git(clone, "fetch", "-q", "origin", "refs/votakvot/*:refs/votakvot/*")
    assert "+LR = 0.5" in votakvot.code_diff(before, after, repo=clone)


def test_a_trial_outside_any_repository_says_so(repo, tmp_path, monkeypatch):
    inside = _run("exp")
    outside_folder = tmp_path / "plain"
    outside_folder.mkdir()
    monkeypatch.chdir(outside_folder)
    outside = _run("exp")
    with pytest.raises(votakvot.errors.CodeDiffError, match="recorded no git tree"):
        votakvot.code_diff(inside, outside)


def test_a_hostile_tree_name_is_refused_before_git_runs(repo, tmp_path):
    """`meta.git.treeish` comes from the store: an option-looking value never reaches git."""
    good = _run("exp")
    bad = _run("exp")
    document = Path(bad.path) / "votakvot.yaml"
    marker = tmp_path / "written-by-git"
    text = document.read_text().replace(str(bad.meta.git.treeish), f"--output={marker}")
    document.write_text(text)
    with pytest.raises(votakvot.errors.CodeDiffError, match="not an object name"):
        votakvot.code_diff(good, bad.path)
    assert not marker.exists()


def test_cli_diff_code_prints_the_diff_and_json(repo):
    before = _run("exp")
    (repo / "model.py").write_text("LR = 0.5\n")
    after = _run("exp")
    done = cli("diff", before.path, after.path, "--code", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "+LR = 0.5" in done.stdout and "\x1b[" not in done.stdout
    parsed = json.loads(cli("diff", before.path, after.path, "--code", "--json", cwd=repo).stdout)
    assert parsed["a"] == before.tid and "+LR = 0.5" in parsed["diff"]
    same = cli("diff", before.path, before.path, "--code", cwd=repo)
    assert (same.returncode, same.stdout.strip()) == (0, "no code differences")


def test_cli_diff_code_in_another_repository_fails_with_a_hint(repo, tmp_path):
    before = _run("exp")
    (repo / "model.py").write_text("LR = 0.5\n")
    after = _run("exp")
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    done = cli("diff", before.path, after.path, "--code", cwd=other)
    assert done.returncode == 1
    assert "does not hold the tree" in done.stderr and str(repo) in done.stderr
    usage = cli("diff", before.path, after.path, "model.py", cwd=repo)
    assert usage.returncode == 2 and "go with --code" in usage.stderr


def test_a_ref_that_cannot_be_written_costs_only_the_kept_tree(repo, caplog):
    """When `refs/votakvot/trees/<tree>` is locked (another process making it, or a stale lock), the
    trial still records all its git metadata; a warning says the tree was not kept unless the ref
    is already there."""
    (repo / "model.py").write_text("LR = 0.5\n")
    tree = _run("exp").meta.git.treeish
    lock = repo / ".git" / "refs" / "votakvot" / "trees" / f"{tree}.lock"
    lock.write_text("")
    votakvot.testing.reset()
    votakvot.init(path=str(repo.parent / "results"))
    with caplog.at_level("WARNING", logger="votakvot"):
        again = _run("exp")
    assert again.meta.git.treeish == tree and again.meta.git.dirty is True
    assert not [r for r in caplog.records if "could not keep the tree" in r.getMessage()]
    lock.unlink()
    git(repo, "update-ref", "-d", f"refs/votakvot/trees/{tree}")
    lock.parent.mkdir(parents=True, exist_ok=True)  # git removed the emptied folders
    lock.write_text("")
    votakvot.testing.reset()
    votakvot.init(path=str(repo.parent / "results"))
    with caplog.at_level("WARNING", logger="votakvot"):
        third = _run("exp")
    assert third.meta.git.treeish == tree and third.meta.git.commit
    assert [r for r in caplog.records if "could not keep the tree" in r.getMessage()]
