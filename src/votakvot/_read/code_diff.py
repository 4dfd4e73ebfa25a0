"""`code_diff`: the source diff between the working trees two trials ran with.

Each trial tracked in a git repository records `meta.git.treeish`, the tree of its working tree
(uncommitted changes included), and the tree of a dirty working tree is kept under
`refs/votakvot/trees/`. Two trees of the same repository are all `git diff` needs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Any

from ..errors import CodeDiffError
from .diff import resolve
from .trial import Trial

_OBJECT_NAME = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def code_diff(
    a: Any,
    b: Any,
    /,
    *paths: str,
    repo: str | os.PathLike[str] | None = None,
    color: bool = False,
) -> str:
    """Returns `git diff` from the code trial `a` ran with to the code trial `b` ran with.

    `a` and `b` are what `votakvot.diff` takes (loaded trials, tids below the root, folders).
    `paths` limit the diff as in `git diff -- PATH...`. The trees are looked up in `repo` (default:
    the current folder's repository), so a teammate's clone that fetched `refs/votakvot/*` works
    too. The repository a trial recorded (`meta.git.repo`) is named in errors but never used on
    its own: it is data from the store, and git runs a repository's configured commands. An empty
    string means the code was the same. Raises `CodeDiffError` when a trial recorded no tree or
    the repository does not hold both.
    """
    first, second = resolve(a), resolve(b)
    trees = [_tree(first), _tree(second)]
    git = shutil.which("git")
    if git is None:
        raise CodeDiffError("`git` is not on PATH; install git to compare the code of two trials")
    folder = os.fspath(repo) if repo is not None else os.getcwd()
    if not os.path.isdir(folder):
        raise CodeDiffError(f"repository {folder!r} is not a folder")
    pairs = zip((first, second), trees, strict=True)
    missing = [(trial, tree) for trial, tree in pairs if not _has_tree(git, folder, tree)]
    if missing:
        recorded = sorted({str(_git_meta(trial).get("repo")) for trial, _ in missing})
        raise CodeDiffError(
            f"the git repository at {folder!r} does not hold the tree {missing[0][1]} of trial {missing[0][0].tid!r} "
            f"(the trial ran in {', '.join(recorded)}). Run this in that repository, pass it (--repo), or fetch the "
            "kept trees into this one: git fetch <remote> 'refs/votakvot/*:refs/votakvot/*'"
        )
    command = [git, "-C", folder, "diff", "--no-ext-diff", "--no-textconv", f"--color={'always' if color else 'never'}"]
    return _run([*command, *trees, "--", *paths])


def _tree(trial: Trial) -> str:
    git = _git_meta(trial)
    tree = git.get("treeish")
    if tree is None:
        raise CodeDiffError(
            f"trial {trial.tid!r} recorded no git tree (meta.git.treeish): it ran outside a git repository "
            "or without the git metadata provider"
        )
    if not isinstance(tree, str) or not _OBJECT_NAME.fullmatch(tree):
        raise CodeDiffError(f"trial {trial.tid!r} recorded a git tree that is not an object name: {tree!r}")
    return tree


def _git_meta(trial: Trial) -> dict[str, Any]:
    meta = trial.meta if isinstance(trial.meta, dict) else {}
    git = meta.get("git")
    return git if isinstance(git, dict) else {}


def _has_tree(git: str, folder: str, tree: str) -> bool:
    done = subprocess.run([git, "-C", folder, "cat-file", "-e", f"{tree}^{{tree}}"], capture_output=True, check=False)
    return done.returncode == 0


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, check=False)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise CodeDiffError(f"git diff failed: {message}")
    return done.stdout.decode("utf-8", "replace")
