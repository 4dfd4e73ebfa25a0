"""The worker's toolkit: the workload data, the job's context (clock and result rows) and the
set-up and verification helpers that votakvot's jobs and the floors share.

Nothing here imports votakvot, pandas or yaml at module level: the parent imports this module too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from time import perf_counter as perf

from _settings import GIT_FILES

# ======================================================================================
# workload data: the same definitions as peers.py (bench/README.md says where it lives)
# ======================================================================================


def params_for(i: int) -> dict:
    """The 5 params of trial i: float, int, int, str, float."""
    return {
        "lr": round(0.001 * (i % 17 + 1), 6),
        "depth": i % 9 + 1,
        "batch": 32 * (i % 4 + 1),
        "opt": ("adam", "sgd", "rmsprop")[i % 3],
        "dropout": round((i % 10) / 20.0, 3),
    }


def result_of(lr, depth, batch, opt, dropout) -> float:
    """The float result a trial with these params returns."""
    return lr * depth + batch / 1000.0 + dropout + len(opt) * 1e-3


def loss_at(i: int) -> float:
    """The loss metered at step i."""
    return 1.0 / (i + 1)


def lr_at(i: int) -> float:
    """The learning rate metered at step i (the 3-value meter calls)."""
    return 0.1 * 0.999 ** (i % 1000)


# ======================================================================================
# the job's context: options, clock, result rows
# ======================================================================================


class WorkerContext:
    """One job in its worker process: the options it was started with, and the rows and notes it reports."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rows: dict[str, dict] = {}
        self.notes: list[str] = []

    def new_dir(self, tag: str) -> str:
        """A fresh folder in the job's scratch folder, so that no try writes where another one did."""
        return tempfile.mkdtemp(prefix=f"{tag}-", dir=self.args.scratch)

    def add_row(self, key: str, value: float, unit: str, *, verified: bool = True, why: str = "", **extra) -> None:
        """Reports one figure; `why` says what failed verification, `extra` only goes to --json."""
        self.rows[key] = dict(value=value, unit=unit, verified=bool(verified), why=why, **extra)

    def timed(self, fn):
        """Runs fn() once and returns (seconds, its return value); under cProfile with --profile-out."""
        if self.args.profile_out:
            import cProfile

            prof = cProfile.Profile()
            t0 = perf()
            prof.enable()
            out = fn()
            prof.disable()
            dt = perf() - t0
            prof.dump_stats(self.args.profile_out)
            return dt, out
        t0 = perf()
        out = fn()
        return perf() - t0, out


def maxrss_mib() -> float:
    """This process's peak resident memory so far, in MiB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


# ======================================================================================
# reading trial folders back (verification, and the W4b floor)
# ======================================================================================


def find_docs(top: str) -> list[str]:
    """Every votakvot.yaml below `top` (plain os.scandir walk, hidden folders skipped)."""
    found, stack = [], [top]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.name == "votakvot.yaml":
                    found.append(e.path)
                elif not e.name.startswith(".") and e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
    return found


def load_docs(paths: list[str]) -> list[dict]:
    """The YAML documents at `paths`, parsed with libyaml's safe loader when PyYAML has it."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    out = []
    for p in paths:
        with open(p, "rb") as f:
            out.append(yaml.load(f, Loader=loader))
    return out


# ======================================================================================
# votakvot set-up
# ======================================================================================


def init_votakvot(ctx: WorkerContext, votakvot, path: str) -> None:
    """votakvot.init(path=...); with --plugins builtin, only votakvot's own meta providers and sinks,
    so that a plug-in installed in the same environment does not move the figures."""
    if ctx.args.plugins == "installed":
        votakvot.init(path=path)
        return
    from collections.abc import Mapping
    from importlib.metadata import entry_points

    providers: dict = {}
    sinks = []
    for group in ("votakvot.meta_providers", "votakvot.sinks"):
        for ep in entry_points(group=group):
            if getattr(ep, "dist", None) is None or ep.dist.name != "votakvot":
                continue
            if group == "votakvot.sinks":
                sinks.append(ep.name)
                continue
            obj = ep.load()
            if isinstance(obj, Mapping):
                providers.update(obj)
            elif callable(obj):
                providers[ep.name] = obj
    if not providers or not sinks:  # no entry-point metadata (source checkout): votakvot's own defaults
        ctx.notes.append("no entry-point metadata for votakvot's built-ins; --plugins builtin fell back to init(path)")
        votakvot.init(path=path)
        return
    votakvot.init(path=path, meta_providers=providers, sinks=sinks)


def tracked(votakvot, name: str, fn):
    """`@votakvot.track()` applied to fn under a fixed name, so trials are named alike whatever file defines fn."""
    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = "bench"
    return votakvot.track()(fn)


def warm_s3_client():
    """Creates the S3 client and its connection before the clock (listing another bucket)."""
    import fsspec

    fs, _ = fsspec.core.url_to_fs("s3://warm")
    fs.ls("warm")
    return fs


# ======================================================================================
# the git fixture of the W1 "with git" jobs
# ======================================================================================


def run_git(args: list[str], cwd: str) -> str:
    """Runs the git CLI with a fixed identity and no system or signing configuration; returns its stdout."""
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@localhost",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@localhost",
        GIT_CONFIG_NOSYSTEM="1",
    )
    cmd = ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def make_git_repo(path: str, nfiles: int = GIT_FILES) -> str:
    """A fresh repository at `path` with `nfiles` small committed files; returns the HEAD sha."""
    for i in range(nfiles):
        sub = os.path.join(path, f"pkg{i // 30:02d}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"mod_{i:03d}.py"), "w") as f:
            f.write(f'"""module {i}"""\n\nVALUE = {i}\n\n\ndef f(x):\n    return x * {i} + VALUE\n')
    run_git(["init", "-q"], path)
    run_git(["add", "-A"], path)
    run_git(["commit", "-q", "-m", "bench fixture"], path)
    return run_git(["rev-parse", "HEAD"], path)


def inside_git(path: str) -> bool:
    """Whether `path` lies inside a git working tree, which would give the no-git jobs git metadata."""
    p = os.path.abspath(path)
    while True:
        if os.path.exists(os.path.join(p, ".git")):
            return True
        parent = os.path.dirname(p)
        if parent == p:
            return False
        p = parent
