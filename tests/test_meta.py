"""Trial metadata: system, process, python and git providers, and the user-editable provider table."""

from __future__ import annotations

import concurrent.futures
import getpass
import logging
import os
import platform
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

import votakvot
from conftest import read_yaml, run_python

FAST = {"heartbeat": 0.2, "flush_interval": 0.1}

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    """Runs the git CLI in `repo` and returns its stripped output."""
    done = subprocess.run(
        ["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real git repository with two committed files on branch `main`; the test runs inside it."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "a.txt").write_text("alpha\n")
    (path / "b.txt").write_text("beta\n")
    (path / "sub").mkdir()
    (path / "sub" / "c.txt").write_text("gamma\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "first")
    monkeypatch.chdir(path)
    votakvot.init(path=str(tmp_path / "results"), **FAST)
    return path


def _meta() -> dict:
    """Runs one trial and returns the meta section of its votakvot.yaml."""
    with votakvot.trial("exp") as t:
        pass
    doc = read_yaml(f"{t.path}/votakvot.yaml")
    assert doc["status"] == "done"
    return doc["meta"]


def test_system_meta(local_root):
    """meta.system holds machine, platform, user, node, cwd, cpu_count and total memory."""
    votakvot.init(path=local_root, **FAST)
    system = _meta()["system"]
    assert system["machine"] == platform.machine()
    assert system["platform"] == platform.platform()
    assert system["user"] == getpass.getuser()
    assert system["node"] == platform.node()
    assert system["cwd"] == os.getcwd()
    assert system["cpu_count"] == os.cpu_count()
    assert system["memory"] == psutil.virtual_memory().total


def test_system_cwd_follows_the_current_folder(local_root, tmp_path, monkeypatch):
    """meta.system.cwd is the folder the trial started in, not the one of an earlier trial."""
    votakvot.init(path=local_root, **FAST)
    assert _meta()["system"]["cwd"] == str(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert _meta()["system"]["cwd"] == str(elsewhere)


def test_process_meta(local_root):
    """meta.process holds this process's pid and argv."""
    votakvot.init(path=local_root, **FAST)
    process = _meta()["process"]
    assert process["pid"] == os.getpid()
    assert process["argv"] == sys.argv


def test_python_meta(local_root):
    """meta.python holds the version, the executable and the virtual environment."""
    votakvot.init(path=local_root, **FAST)
    python = _meta()["python"]
    assert python["version"] == platform.python_version()
    assert python["executable"] == sys.executable
    if sys.prefix != sys.base_prefix:
        assert python["venv"] == sys.prefix
    else:
        assert python.get("venv") in (None, os.environ.get("VIRTUAL_ENV"), os.environ.get("CONDA_PREFIX"))


def test_git_meta_of_a_clean_checkout(repo):
    """In a clean repo meta.git has repo, branch, commit (HEAD), describe, dirty False and the HEAD tree."""
    head = git(repo, "rev-parse", "HEAD")
    meta = _meta()["git"]
    assert os.path.realpath(meta["repo"]) == os.path.realpath(repo)
    assert meta["branch"] == "main"
    assert meta["commit"] == head
    assert meta["dirty"] is False
    assert meta["treeish"] == git(repo, "write-tree")
    assert meta["treeish"] == git(repo, "rev-parse", "HEAD^{tree}")
    assert head.startswith(meta["describe"])


def test_an_edit_within_one_timestamp_tick_is_seen(repo):
    """A tracked file rewritten with the same size and the same mtime (two writes within the kernel's
    coarse clock tick) still gives the next trial a new treeish: a state read while stamps were
    that young is read again."""
    path = repo / "a.txt"
    path.write_text("alpha-1\n")
    first = _meta()["git"]
    stat = path.stat()
    path.write_text("alpha-2\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_ino == stat.st_ino
    second = _meta()["git"]
    assert second["treeish"] != first["treeish"]
    git(repo, "add", "a.txt")
    assert second["treeish"] == git(repo, "write-tree")


def test_git_meta_found_from_a_sub_folder(repo, monkeypatch):
    """A trial started in a sub-folder of the repo reports that repo."""
    monkeypatch.chdir(repo / "sub")
    meta = _meta()["git"]
    assert os.path.realpath(meta["repo"]) == os.path.realpath(repo)
    assert meta["commit"] == git(repo, "rev-parse", "HEAD")


def test_git_describe_uses_tags(repo):
    """describe names the nearest tag, and counts commits past it."""
    git(repo, "tag", "-a", "v1.0", "-m", "release 1.0")
    assert _meta()["git"]["describe"] == "v1.0"
    (repo / "a.txt").write_text("alpha 2\n")
    git(repo, "commit", "-q", "-am", "second")
    head = git(repo, "rev-parse", "HEAD")
    described = _meta()["git"]["describe"]
    assert described.startswith("v1.0-1-g")
    assert head.startswith(described.split("-g", 1)[1])


def test_git_dirty_and_treeish_follow_uncommitted_edits(repo):
    """Editing tracked files sets dirty and changes treeish to the tree a commit of those edits would have."""
    clean = _meta()["git"]
    (repo / "a.txt").write_text("alpha, edited but not staged\n")
    (repo / "b.txt").unlink()
    edited = _meta()["git"]
    assert edited["dirty"] is True
    assert edited["commit"] == clean["commit"]
    assert edited["treeish"] != clean["treeish"]
    git(repo, "commit", "-q", "-am", "the edits")
    assert git(repo, "rev-parse", "HEAD^{tree}") == edited["treeish"]
    committed = _meta()["git"]
    assert committed["dirty"] is False
    assert committed["commit"] == git(repo, "rev-parse", "HEAD")
    assert committed["treeish"] == edited["treeish"]


def test_git_treeish_changes_with_each_edit(repo):
    """Two different uncommitted edits of the same file give two different treeish values."""
    (repo / "a.txt").write_text("first edit\n")
    first = _meta()["git"]["treeish"]
    (repo / "a.txt").write_text("other edit\n")
    second = _meta()["git"]["treeish"]
    assert first != second
    (repo / "a.txt").write_text("alpha\n")
    assert _meta()["git"]["treeish"] == git(repo, "rev-parse", "HEAD^{tree}")


def test_git_meta_leaves_the_users_index_untouched(repo):
    """After a trial .git/index is byte-identical, with the same mtime, and nothing new is staged."""
    (repo / "a.txt").write_text("alpha, edited\n")
    stamp = os.stat(repo / "b.txt").st_mtime_ns + 5_000_000_000
    os.utime(repo / "b.txt", ns=(stamp, stamp))  # same content, new stat: git would like to refresh
    index = repo / ".git" / "index"
    before_bytes = index.read_bytes()
    before = os.stat(index)
    git_files_before = sorted(p.name for p in (repo / ".git").iterdir())
    meta = _meta()["git"]
    assert meta["dirty"] is True
    after = os.stat(index)
    assert index.read_bytes() == before_bytes
    assert (after.st_mtime_ns, after.st_size, after.st_ino) == (before.st_mtime_ns, before.st_size, before.st_ino)
    assert sorted(p.name for p in (repo / ".git").iterdir()) == git_files_before
    assert git(repo, "diff", "--cached", "--name-only") == ""


def test_detached_head_has_commit_but_no_branch(repo):
    """With a detached HEAD meta.git has the commit and no branch key."""
    git(repo, "checkout", "-q", "--detach")
    meta = _meta()["git"]
    assert "branch" not in meta
    assert meta["commit"] == git(repo, "rev-parse", "HEAD")
    assert meta["dirty"] is False


def test_outside_a_repo_there_is_no_git_meta(local_root, tmp_path, caplog):
    """Outside any git repository meta has no git key, and nothing is logged as an error."""
    probe = subprocess.run(["git", "rev-parse", "--git-dir"], cwd=tmp_path, capture_output=True)
    assert probe.returncode != 0, "the test folder must not be inside a git repository"
    votakvot.init(path=local_root, **FAST)
    with caplog.at_level(logging.WARNING, logger="votakvot"):
        meta = _meta()
    assert "git" not in meta
    assert "system" in meta
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_first_trial_outside_a_repo_imports_neither_gitpython_nor_psutil(local_root, tmp_path):
    """A fresh process's first trial outside any repository records system meta without importing
    GitPython (40 ms) or psutil (10 ms)."""
    code = f"""
import sys, votakvot
votakvot.init(path={local_root!r})
with votakvot.trial("first") as t:
    pass
print([name for name in ("git", "psutil") if name in sys.modules])
print(t.path)
"""
    # Third-party plug-ins installed beside votakvot import what they like: only votakvot's own here.
    env = {"VOTAKVOT_PLUGINS": "0"}
    child = run_python(code, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    imported, path = out.splitlines()
    assert imported == "[]"
    meta = read_yaml(f"{path}/votakvot.yaml")["meta"]
    assert "git" not in meta and meta["system"]["memory"] == psutil.virtual_memory().total


def test_failing_provider_is_skipped_with_a_log(local_root, caplog):
    """A provider that raises is logged on votakvot.meta and skipped; other providers and the trial go on."""

    def broken():
        raise OSError("kubectl: command not found")

    votakvot.init(
        path=local_root,
        meta_providers={"ok.value": lambda: 1, "bad.value": broken, "none.value": lambda: None},
        **FAST,
    )
    with caplog.at_level(logging.WARNING, logger="votakvot.meta"):
        meta = _meta()
    assert meta == {"ok": {"value": 1}}
    assert "bad.value" in caplog.text
    assert "kubectl: command not found" in caplog.text


def test_meta_is_nested_by_dots(local_root):
    """Provider names nest by their dots: `a.b.c` gives meta a: {b: {c: ...}}."""
    votakvot.init(
        path=local_root,
        meta_providers={"a.b.c": lambda: 1, "a.b.d": lambda: "two", "a.e": lambda: [3], "top": lambda: True},
        **FAST,
    )
    assert _meta() == {"a": {"b": {"c": 1, "d": "two"}, "e": [3]}, "top": True}


def test_providers_table_is_one_dict_under_two_names():
    """votakvot.meta.providers and votakvot.metadata_providers are the same dict of callables."""
    assert votakvot.meta.providers is votakvot.metadata_providers
    assert isinstance(votakvot.meta.providers, dict)
    assert all(callable(p) for p in votakvot.meta.providers.values())
    assert {
        "system.machine",
        "system.platform",
        "system.user",
        "system.node",
        "system.cwd",
        "system.cpu_count",
        "system.memory",
        "process.pid",
        "process.argv",
        "python.version",
        "python.executable",
        "python.venv",
        "git.repo",
        "git.branch",
        "git.commit",
        "git.describe",
        "git.dirty",
        "git.treeish",
    } <= set(votakvot.meta.providers)


def test_seed_example_copies_edits_and_passes_providers(repo, tmp_path):
    """Copying the table, adding providers, dropping git.* and passing it to init works as the seed shows."""
    my_providers = dict(votakvot.meta.providers)
    my_providers["k8s.version"] = lambda: "Client Version: v1.29.0"
    my_providers["python.pip_freeze"] = lambda: "pyyaml==6.0"
    my_providers = {k: v for k, v in my_providers.items() if not k.startswith("git.")}
    votakvot.init(path=str(tmp_path / "results"), meta_providers=my_providers, **FAST)
    meta = _meta()
    assert "git" not in meta
    assert meta["k8s"]["version"] == "Client Version: v1.29.0"
    assert meta["python"]["pip_freeze"] == "pyyaml==6.0"
    assert meta["system"]["node"] == platform.node()
    assert "git.commit" in votakvot.meta.providers
    assert "k8s.version" not in votakvot.meta.providers


def test_seed_example_runs_as_written(repo):
    """The seed README's metadata snippet runs verbatim: its final table has no git providers."""
    # the seed README's code, verbatim (spelling included)
    my_proivders = dict(votakvot.meta.providers)
    my_proivders["k8s.version"] = lambda: subprocess.getoutput("kubectl version")
    my_proivders["k8s.cluster_info"] = lambda: subprocess.getoutput("kubectl cluster-info")
    my_proivders["python.pip_freeze"] = lambda: subprocess.getoutput("pip freeze")
    my_proivders = {k: v for k, v in votakvot.metadata_providers.items() if not k.startswith("git.")}
    votakvot.init(
        meta_providers=my_proivders,  # use custom set of meta providers
    )
    with votakvot.trial("exp") as t:
        pass
    meta = read_yaml(f"{t.path}/votakvot.yaml")["meta"]
    assert os.path.dirname(t.path).startswith(str(repo))
    assert "git" not in meta
    assert meta["system"]["cwd"] == str(repo)


def test_hung_provider_costs_one_timeout_then_is_skipped(local_root, caplog):
    """A plug-in provider that hangs delays one trial by meta_timeout at most, then is never called again."""
    import threading
    import time

    release = threading.Event()
    calls = []

    def hung():
        calls.append(1)
        release.wait(30)
        return "late"

    providers = dict(votakvot.meta.providers)
    providers["plugin.hung"] = hung
    votakvot.init(path=local_root, meta_providers=providers, meta_timeout=0.3)
    try:
        with caplog.at_level(logging.WARNING, logger="votakvot.meta"):
            start = time.monotonic()
            with votakvot.trial("first") as first:
                pass
            took = time.monotonic() - start
            with votakvot.trial("second") as second:
                pass
        assert took < 5
        assert "plugin" not in first.meta and "plugin" not in second.meta
        assert "system" in first.meta and "system" in second.meta
        assert calls == [1]
        assert "plugin.hung" in caplog.text and "skipped from now on" in caplog.text
    finally:
        release.set()


def test_plugin_provider_values_are_collected(local_root):
    """Providers that are not built-ins run on the helper thread and their values land in meta."""
    providers = {"custom.answer": lambda: 42, "custom.nested.value": lambda: "x", "custom.none": lambda: None}
    votakvot.init(path=local_root, meta_providers=providers)
    with votakvot.trial("t") as t:
        pass
    assert read_yaml(f"{t.path}/votakvot.yaml")["meta"] == {"custom": {"answer": 42, "nested": {"value": "x"}}}


_task_state = threading.local()


def test_marked_providers_see_the_thread_local_state_of_the_trials_thread(local_root):
    """A provider marked `in_trial_thread` reads the thread-local state of the thread that opens
    the trial (a framework's task context); an unmarked one, on the helper thread, does not."""

    def marked():
        return getattr(_task_state, "key", None)

    def unmarked():
        return getattr(_task_state, "key", None)

    assert votakvot.meta.in_trial_thread(marked) is marked
    votakvot.init(path=local_root, meta_providers={"task.marked": marked, "task.unmarked": unmarked})

    def task(key: str) -> dict:
        _task_state.key = key
        with votakvot.trial("t") as t:
            pass
        return read_yaml(f"{t.path}/votakvot.yaml")["meta"]

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        metas = list(pool.map(task, ["a", "b", "c", "d"]))
    assert [m["task"] for m in metas] == [{"marked": key} for key in "abcd"]


def test_a_marked_provider_that_raises_is_skipped_with_a_log(local_root, caplog):
    """A marked provider that raises is logged and skipped like any other; the trial goes on."""

    @votakvot.meta.in_trial_thread
    def broken():
        raise RuntimeError("no task here")

    votakvot.init(path=local_root, meta_providers={"task.key": broken, "custom.ok": lambda: 1})
    with caplog.at_level(logging.WARNING, logger="votakvot.meta"), votakvot.trial("t") as t:
        pass
    assert read_yaml(f"{t.path}/votakvot.yaml")["meta"] == {"custom": {"ok": 1}}
    assert "task.key" in caplog.text and "no task here" in caplog.text


def test_in_trial_thread_refuses_what_it_cannot_mark():
    """Marking something that is not callable, or takes no attributes, is a TypeError saying what to do."""
    with pytest.raises(TypeError, match="takes a provider"):
        votakvot.meta.in_trial_thread("git.commit")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="mark a plain function that calls it instead"):
        votakvot.meta.in_trial_thread(os.getpid)


def test_every_edit_between_back_to_back_trials_is_seen(repo):
    """Edits, new commits and reverts made right between trials always show in the next trial's git meta."""
    first = _meta()["git"]
    seen = {first["treeish"]}
    for i in range(5):
        (repo / "a.txt").write_text(f"edit {i}\n")
        meta = _meta()["git"]
        assert meta["dirty"] is True and meta["treeish"] not in seen
        seen.add(meta["treeish"])
    git(repo, "commit", "-qam", "more")
    committed = _meta()["git"]
    assert committed["dirty"] is False and committed["commit"] == git(repo, "rev-parse", "HEAD")
    assert committed["commit"] != first["commit"]
    git(repo, "checkout", "-q", "HEAD~1")
    back = _meta()["git"]
    assert back["commit"] == first["commit"] and back["treeish"] == first["treeish"] and "branch" not in back


def test_a_repository_created_later_is_noticed(tmp_path, monkeypatch, local_root):
    """A folder that had no repository gets git meta once `git init` and a commit happen there."""
    folder = tmp_path / "later"
    folder.mkdir()
    monkeypatch.chdir(folder)
    votakvot.init(path=local_root, **FAST)
    assert "git" not in _meta()
    git(folder, "init", "-q")
    (folder / "x.txt").write_text("x\n")
    git(folder, "add", "x.txt")
    git(folder, "commit", "-qm", "first")
    assert _meta()["git"]["commit"] == git(folder, "rev-parse", "HEAD")


def test_many_repositories_hold_few_watches(tmp_path, monkeypatch, local_root):
    """Trials in more repositories than the watch limit all get right git meta, edits included."""
    from votakvot._builtins import git_meta as _meta_git

    votakvot.init(path=local_root, **FAST)
    repos = []
    for i in range(_meta_git.MAX_WATCHES + 3):
        folder = tmp_path / f"repo{i}"
        folder.mkdir()
        git(folder, "init", "-q")
        (folder / "f.txt").write_text(f"{i}\n")
        git(folder, "add", "f.txt")
        git(folder, "commit", "-qm", "c")
        repos.append(folder)
    first = {}
    for folder in repos:
        monkeypatch.chdir(folder)
        first[folder] = _meta()["git"]
    assert len(_meta_git._watching) <= _meta_git.MAX_WATCHES
    for folder in repos:
        (folder / "f.txt").write_text("edited\n")
        monkeypatch.chdir(folder)
        meta = _meta()["git"]
        assert meta["dirty"] is True and meta["treeish"] != first[folder]["treeish"]
