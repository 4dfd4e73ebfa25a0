"""Built-in git metadata: repo, branch, commit, describe, dirty and the working-tree tree-ish.

Reading git state spawns processes, so it is cached under a signature made of what git itself
looks at: HEAD, the refs, the index and the stat data of every tracked file. A trial pays for
a few `stat` calls unless something changed. The tree-ish is written with a temporary index,
so the user's own index is never touched. The tree of a dirty working tree is kept under
`refs/votakvot/trees/<tree>`: no commit holds it, and `git gc` would prune it otherwise, which
would leave `votakvot diff --code` nothing to compare.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Any

from .. import plugins
from ..meta import once_per_collection

if TYPE_CHECKING:
    from .git_watch import TreeWatch

log = logging.getLogger("votakvot.meta")

# Where the trees of dirty working trees are kept from `git gc`, one ref per tree.
TREE_REFS = "refs/votakvot/trees/"
# Keeps `git status`/`describe` from refreshing (rewriting) the user's index.
_READ_ONLY = {"GIT_OPTIONAL_LOCKS": "0"}


@dataclasses.dataclass(frozen=True)
class GitState:
    repo: str
    branch: str | None
    commit: str | None
    describe: str | None
    dirty: bool
    treeish: str | None


class _Repo:
    """One working tree, with its cached state."""

    def __init__(self, repo: Any) -> None:
        self.repo = repo
        self.root = repo.working_tree_dir
        self.git_dir = repo.git_dir
        self.common_dir = getattr(repo, "common_dir", repo.git_dir)
        self.lock = threading.Lock()
        self.files_key: tuple[Any, ...] | None = None
        self.files: list[str] = []
        self.state_key: tuple[Any, ...] | None = None
        self.racy = False  # the state was read while a file's stamp could still change unseen
        self.state: GitState | None = None
        self.watch: TreeWatch | None = None
        self.watched: frozenset[str] = frozenset()

    def _stat(self, path: str) -> tuple[int, int, int] | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _head_key(self) -> tuple[Any, ...]:
        head_path = os.path.join(self.git_dir, "HEAD")
        try:
            with open(head_path, "rb") as f:
                head = f.read()
        except OSError:
            head = b""
        ref_stat = None
        if head.startswith(b"ref: "):
            ref = head[5:].strip().decode("utf-8", "replace")
            ref_stat = self._stat(os.path.join(self.common_dir, ref))
        return (head, ref_stat, self._stat(os.path.join(self.common_dir, "packed-refs")))

    def _tracked(self, index_stat: Any) -> list[str]:
        if self.files_key != index_stat:
            out = self.repo.git.ls_files("-z", env=_READ_ONLY)
            self.files = [os.path.join(self.root, p) for p in out.split("\0") if p]
            self.files_key = index_stat
        return self.files

    def signature(self) -> tuple[Any, ...]:
        index_stat = self._stat(os.path.join(self.git_dir, "index"))
        files = self._tracked(index_stat)
        stat = os.stat
        stamps: list[Any]
        try:
            stamps = [(st.st_mtime_ns, st.st_size, st.st_ino) for st in map(stat, files)]
        except OSError:  # a tracked file was deleted: the slow path names which
            stamps = [self._stat(p) for p in files]
        return (self._head_key(), index_stat, stamps)

    def current(self) -> GitState:
        with self.lock:
            watch = self.watch  # another repo's thread may close and clear it past MAX_WATCHES
            if self.state is not None and watch is not None and not watch.changed():
                return self.state
            key = self.signature()
            self._rewatch()
            if key != self.state_key or self.state is None or self.racy:
                self.state = self._read()
                self.state_key = key
                self.racy = _recent(key)
            return self.state

    def _rewatch(self) -> None:
        """Watches the folders of the tracked files and of the refs; drains what happened so far.

        Called before the state is read, so a change made while reading shows up next time.
        """
        folders = {os.path.dirname(p) for p in self.files} | {self.root, self.git_dir, self.common_dir}
        refs = os.path.join(self.common_dir, "refs")
        folders.update(dirpath for dirpath, _, _ in os.walk(refs))
        wanted = frozenset(folders)
        if self.watch is None or wanted != self.watched:
            if self.watch is not None:
                self.watch.close()
            from .git_watch import TreeWatch  # ctypes and inotify: only inside a repository

            self.watch, self.watched = TreeWatch.create(wanted), wanted
            if self.watch is not None:
                _keep_watch(self)
        if self.watch is not None:
            self.watch.changed()

    def _read(self) -> GitState:
        repo = self.repo
        try:
            commit: str | None = repo.head.commit.hexsha
        except ValueError:  # a repository with no commit yet
            commit = None
        try:
            branch: str | None = repo.active_branch.name
        except TypeError:  # detached HEAD
            branch = None
        dirty = bool(repo.git.status("--porcelain", "--untracked-files=no", env=_READ_ONLY))
        # Not `describe --dirty`: it refreshes (rewrites) the user's index whatever the env says.
        describe = repo.git.describe("--always", "--tags", env=_READ_ONLY) if commit else None
        if describe and dirty:
            describe += "-dirty"
        return GitState(self.root, branch, commit, describe, dirty, self._treeish(keep=dirty or commit is None))

    def _keep(self, tree: str) -> None:
        """Points `refs/votakvot/trees/<tree>` at `tree`. Processes that ran the same dirty code race
        for the one ref (git refuses a locked ref), so a failure with the ref in place is success;
        any other failure costs only the kept tree, never the trial's git metadata."""
        ref = f"{TREE_REFS}{tree}"
        try:
            self.repo.git.update_ref(ref, tree, env=_READ_ONLY)
        except Exception as e:
            try:
                self.repo.git.rev_parse("--verify", "--quiet", ref, env=_READ_ONLY)
            except Exception:
                log.warning(
                    "could not keep the tree %s of %s under %s (votakvot diff --code may not find it after git gc): %s",
                    tree,
                    self.root,
                    ref,
                    e,
                )

    def _treeish(self, keep: bool) -> str | None:
        index = os.path.join(self.git_dir, "index")
        fd, tmp = tempfile.mkstemp(prefix="votakvot-index-")
        os.close(fd)
        try:
            if os.path.exists(index):
                # copy2 keeps the index's mtime: git re-reads files whose stamps are not older than
                # it ("racy" entries); a fresh mtime would make it trust a same-size edit's old stamp.
                shutil.copy2(index, tmp)
            else:
                os.remove(tmp)
            env = {**_READ_ONLY, "GIT_INDEX_FILE": tmp}
            self.repo.git.add("-u", env=env)
            tree = str(self.repo.git.write_tree(env=env))
            if keep:
                self._keep(tree)
            return tree
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)


# A file written this recently may be written again within its timestamp's granularity (the
# kernel's coarse clock ticks every few ms) with the same size: a stat signature cannot tell, so
# a state read then is read again next time (git's "racy" entries, handled the same way).
_RACY_NS = 2_000_000_000


def _recent(key: tuple[Any, ...]) -> bool:
    """Tells whether any stamp in a signature is younger than `_RACY_NS`."""
    (_, ref_stat, packed), index_stat, stamps = key
    newest = max((stamp[0] for stamp in (ref_stat, packed, index_stat, *stamps) if stamp is not None), default=0)
    return newest > time.time_ns() - _RACY_NS


_repos: dict[str, _Repo | None] = {}
_repos_lock = threading.Lock()
# inotify instances are a per-user resource (128 by default): hold only a few, most recent first.
MAX_WATCHES = 8
_watching: list[_Repo] = []


def _outside_any_repo(cwd: str) -> bool:
    """Tells whether no folder from `cwd` up has a `.git` (so a cached "no repo" still holds)."""
    folder = cwd
    while True:
        if os.path.exists(os.path.join(folder, ".git")):
            return False
        parent = os.path.dirname(folder)
        if parent == folder:
            return True
        folder = parent


def _repo_for(cwd: str) -> _Repo | None:
    with _repos_lock:
        if cwd in _repos and (_repos[cwd] is not None or _outside_any_repo(cwd)):
            return _repos[cwd]
    if _outside_any_repo(cwd):  # GitPython costs 40 ms to import: not for a folder outside any repo
        with _repos_lock:
            _repos[cwd] = None
        return None
    try:
        import git
    except ImportError:
        found = None
    else:
        try:
            found = _Repo(git.Repo(cwd, search_parent_directories=True))
            if found.root is None:  # a bare repository has no working tree
                found = None
        except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandNotFound):
            found = None
    with _repos_lock:
        _repos[cwd] = found
    return found


def _keep_watch(repo: _Repo) -> None:
    """Records that `repo` holds a watch, closing the least recently created one past the limit."""
    with _repos_lock:
        if repo in _watching:
            _watching.remove(repo)
        _watching.insert(0, repo)
        for old in _watching[MAX_WATCHES:]:
            if old.watch is not None:
                old.watch.close()
                old.watch = None  # it falls back to stat signatures until it is used again
        del _watching[MAX_WATCHES:]


@once_per_collection
def git_state() -> GitState | None:
    """Returns the git state of the current folder's repository, or None outside one."""
    repo = _repo_for(os.getcwd())
    return repo.current() if repo is not None else None


def _field(name: str) -> Any:
    def provider() -> Any:
        state = git_state()
        return getattr(state, name) if state is not None else None

    provider.__name__ = provider.__qualname__ = f"git_{name}"
    return provider


GIT_PROVIDERS: dict[str, Any] = {
    f"git.{name}": _field(name) for name in ("repo", "branch", "commit", "describe", "dirty", "treeish")
}


def _reset() -> None:
    """Forgets cached repositories and closes their watches."""
    with _repos_lock:
        for repo in _repos.values():
            if repo is not None and repo.watch is not None:
                repo.watch.close()
        _repos.clear()
        _watching.clear()


def _forget_in_child() -> None:
    # A child must not drain the parent's watch (they share the descriptor): it starts afresh.
    global _repos_lock
    _repos_lock = threading.Lock()
    _repos.clear()
    _watching.clear()


plugins.register_state(reset=_reset, after_fork=_forget_in_child)
