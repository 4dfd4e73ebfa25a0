#!/usr/bin/env python3
"""votakvot's own benchmark: votakvot next to the plain-Python floors, in one markdown table.

    python bench/bench.py --quick              # smoke test, well under 90 s
    python bench/bench.py --json bench.json    # full run, a few minutes on 2 cores
    python bench/bench.py --only w1,import     # a subset (groups or job names, see --help)
    python bench/bench.py --s3                 # adds the S3 row (needs moto[server] and s3fs)
    python bench/bench.py --profile w1.track.git,w2.meter1   # cProfile of timed regions, no table

Method (see README.md next to this file): every measurement runs in a fresh subprocess (this
file re-invoked with --worker), from a scratch folder outside any git repository unless the
job asks for a git repository; imports and store set-up are outside the clock; each result is
verified after the clock stops; medians over --reps repetitions (fresh processes) with
min-max; the floors (plain Python, no tracker) are bounds: best of 5 tries inside their
worker process, then the median over repetitions, as in ../shared/bench/peers.py.

This is a script, not a test: pytest does not collect it (not under tests/, no test_ names).
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

perf = time.perf_counter

# Non-ASCII output characters, spelled as escapes so the source stays plain ASCII.
TIMES = "\u00d7"
DASH = "\u2013"
MICRO = "\u00b5"
WARN = "\u26a0"
OK = "\u2713"
MISS = "\u2717"
LE = "\u2264"

QUICK = dict(runs=100, points=20_000, report=200, report_large=1_000, report_huge=0, s3_trials=200, settle=0.1)
FULL = dict(runs=500, points=100_000, report=2_000, report_large=10_000, report_huge=0, s3_trials=2_000, settle=0.5)
FLOOR_TRIES = 5  # floors are bounds: best of 5 in-process tries (as in peers.py)
GIT_FILES = 300  # files committed in the git repository of the W1 "with git" jobs
S3_BUCKET = "bench"

# ======================================================================================
# shared workload data (the same definitions as ../shared/bench/peers.py)
# ======================================================================================


def params_for(i: int) -> dict:
    """5 params: float, int, int, str, float."""
    return {
        "lr": round(0.001 * (i % 17 + 1), 6),
        "depth": i % 9 + 1,
        "batch": 32 * (i % 4 + 1),
        "opt": ("adam", "sgd", "rmsprop")[i % 3],
        "dropout": round((i % 10) / 20.0, 3),
    }


def result_of(lr, depth, batch, opt, dropout) -> float:
    return lr * depth + batch / 1000.0 + dropout + len(opt) * 1e-3


def loss_at(i: int) -> float:
    return 1.0 / (i + 1)


def lr_at(i: int) -> float:
    return 0.1 * 0.999 ** (i % 1000)


# ======================================================================================
# worker side: one measurement per process
# ======================================================================================


class Ctx:
    def __init__(self, a):
        self.a = a
        self.rows: dict[str, dict] = {}
        self.notes: list[str] = []

    def dir(self, tag: str) -> str:
        return tempfile.mkdtemp(prefix=f"{tag}-", dir=self.a.scratch)

    def row(self, key: str, value: float, unit: str, *, verified: bool = True, why: str = "", **extra):
        self.rows[key] = dict(value=value, unit=unit, verified=bool(verified), why=why, **extra)

    def timed(self, fn):
        """Runs fn() once and returns (seconds, its return value); under cProfile with --profile-out."""
        if self.a.profile_out:
            import cProfile

            prof = cProfile.Profile()
            t0 = perf()
            prof.enable()
            out = fn()
            prof.disable()
            dt = perf() - t0
            prof.dump_stats(self.a.profile_out)
            return dt, out
        t0 = perf()
        out = fn()
        return perf() - t0, out


def _maxrss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _find_docs(top: str) -> list[str]:
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


def _load_docs(paths: list[str]) -> list[dict]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    out = []
    for p in paths:
        with open(p, "rb") as f:
            out.append(yaml.load(f, Loader=loader))
    return out


PLUGIN_GROUPS = ("votakvot.meta_providers", "votakvot.sinks", "votakvot.serializers")


def plugin_entry_points() -> dict[str, list[tuple[str, str]]]:
    """{group: [(entry point name, distribution)]} of every installed votakvot plug-in."""
    from importlib.metadata import entry_points

    out: dict[str, list[tuple[str, str]]] = {}
    for group in PLUGIN_GROUPS:
        for ep in entry_points(group=group):
            dist = ep.dist.name if getattr(ep, "dist", None) is not None else "?"
            out.setdefault(group, []).append((ep.name, dist))
    return out


def _vk_init(ctx: Ctx, votakvot, path: str) -> None:
    """votakvot.init(path=...); with --plugins builtin, only the meta providers and sinks of votakvot itself."""
    if ctx.a.plugins == "installed":
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


def _vk_tracked(votakvot, name: str, fn):
    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = "bench"
    return votakvot.track()(fn)


def _git(args: list[str], cwd: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@localhost",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@localhost", GIT_CONFIG_NOSYSTEM="1")
    cmd = ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def make_git_repo(path: str, nfiles: int = GIT_FILES) -> str:
    """A fresh repository at `path` with `nfiles` small committed files; returns the HEAD sha."""
    for i in range(nfiles):
        sub = os.path.join(path, f"pkg{i // 30:02d}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"mod_{i:03d}.py"), "w") as f:
            f.write(f'"""module {i}"""\n\nVALUE = {i}\n\n\ndef f(x):\n    return x * {i} + VALUE\n')
    _git(["init", "-q"], path)
    _git(["add", "-A"], path)
    _git(["commit", "-q", "-m", "bench fixture"], path)
    return _git(["rev-parse", "HEAD"], path)


def _inside_git(path: str) -> bool:
    p = os.path.abspath(path)
    while True:
        if os.path.exists(os.path.join(p, ".git")):
            return True
        parent = os.path.dirname(p)
        if parent == p:
            return False
        p = parent


# ---- W1: trial overhead --------------------------------------------------------------


def work_w1(ctx: Ctx, variant: str, git: bool):
    n = ctx.a.n
    head = None
    if git:
        repo = os.path.join(ctx.a.scratch, "repo")
        head = make_git_repo(repo)
        os.chdir(repo)
    else:
        os.chdir(ctx.a.scratch)
        if _inside_git(ctx.a.scratch):
            ctx.notes.append(f"W1 no-git job ran inside a git repository ({ctx.a.scratch})")
    import yaml  # noqa: F401  (the verifier's; votakvot imports it anyway)

    import votakvot

    d = ctx.dir("trials")
    if variant == "track":
        def w1(lr, depth, batch, opt, dropout):
            return result_of(lr, depth, batch, opt, dropout)

        fn = _vk_tracked(votakvot, "w1", w1)

        def run(start=0, stop=n):
            for i in range(start, stop):
                fn(**params_for(i))
    else:
        trial = votakvot.trial

        def run(start=0, stop=n):
            for i in range(start, stop):
                p = params_for(i)
                with trial("w1", **p) as t:
                    t.result = result_of(**p)

    if not ctx.a.no_warmup:  # the first trial of a process pays one-time costs: reported apart
        _vk_init(ctx, votakvot, ctx.dir("warmup"))
        t0 = perf()
        run(0, 1)
        ctx.row("first", (perf() - t0) * 1e3, "ms")
    _vk_init(ctx, votakvot, d)
    dt, _ = ctx.timed(run)
    docs = _load_docs(_find_docs(d))
    why = []
    if len(docs) != n:
        why.append(f"{len(docs)} votakvot.yaml files, expected {n}")
    bad = [x for x in docs if x.get("status") != "done" or not isinstance(x.get("result"), float)]
    if bad:
        why.append(f"{len(bad)} documents not done or without a float result")
    commits = {((x.get("meta") or {}).get("git") or {}).get("commit") for x in docs}
    if git and commits != {head}:
        why.append(f"meta.git.commit {sorted(map(str, commits))[:3]} != repo HEAD {head}")
    if not git and commits != {None}:
        why.append("meta.git present outside a git repository")
    ctx.row("value", dt / n * 1e3, "ms/trial", verified=not why, why="; ".join(why), n=n, count=len(docs),
            yaml_bytes=os.path.getsize(_find_docs(d)[0]) if docs else None)


# ---- W4a: floor for W1 (shape copied from peers.py) ----------------------------------

_STATIC_META = None


def _floor_doc(i: int, uid: str) -> dict:
    """A ~1 KB document shaped like votakvot.yaml (the same as peers.py's W4a)."""
    global _STATIC_META
    if _STATIC_META is None:
        _STATIC_META = {
            "system": {"machine": platform.machine(), "platform": "Linux-6.1.0-x86_64-with-glibc2.36",
                       "user": "researcher", "node": "workstation-01", "cwd": "/home/researcher/project",
                       "cpu_count": 2, "memory": 25769803776},
            "process": {"pid": 12345, "argv": ["train.py", "--config", "configs/exp.yaml"]},
            "python": {"version": "3.11.7 (main, Jan  1 2024, 00:00:00) [GCC 12.2.0]",
                       "executable": "/home/researcher/.venvs/exp/bin/python",
                       "venv": "/home/researcher/.venvs/exp"},
            "git": {"repo": "/home/researcher/project", "branch": "main", "commit": "3f2a" * 10,
                    "describe": "v0.3.1-14-g3f2a3f2", "dirty": True, "treeish": "9c1e" * 10},
        }
    p = params_for(i)
    now = _dt.datetime.now()
    return {
        "tid": f"peers/w4/{now:%y-%m-%d}/{now:%H:%M:%S}/{uid}",
        "uid": uid,
        "status": "done",
        "at": {"created": now, "started": now, "finished": _dt.datetime.now(), "duration": 0.0012},
        "params": p,
        "result": result_of(**p),
        "info": {},
        "meta": _STATIC_META,
        "votakvot": "0.0.0",
    }


def _floor_write_trial(yaml, dumper, root: str, i: int) -> str:
    uid = uuid.uuid4().hex
    d = os.path.join(root, uid)
    os.makedirs(d)
    tmp = os.path.join(d, ".votakvot.yaml.tmp")
    with open(tmp, "w") as f:
        yaml.dump(_floor_doc(i, uid), f, Dumper=dumper, sort_keys=False)
    dst = os.path.join(d, "votakvot.yaml")
    os.replace(tmp, dst)
    return dst


def work_w4a(ctx: Ctx):
    import yaml

    n = ctx.a.n
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    times, last = [], {}
    for _ in range(FLOOR_TRIES):
        d = ctx.dir("w4a")

        def run(d=d):
            for i in range(n):
                last["path"] = _floor_write_trial(yaml, dumper, d, i)

        dt, _ = ctx.timed(run)
        times.append(dt)
        last["n"] = len(os.listdir(d))
    ok = last["n"] == n
    ctx.row("value", min(times) / n * 1e3, "ms/trial", verified=ok, why="" if ok else f"{last['n']} files",
            n=n, first=times[0] / n * 1e3, yaml_bytes=os.path.getsize(last["path"]), dumper=dumper.__name__)


# ---- W2: meter -------------------------------------------------------------------------


def _count_csv(folder: str) -> tuple[int, list[str]]:
    """(data rows, header) over every metrics*.csv in `folder`, read with the csv module."""
    rows, header = 0, []
    for name in sorted(os.listdir(folder)):
        if name.startswith("metrics") and name.endswith(".csv"):
            with open(os.path.join(folder, name), newline="") as f:
                r = csv.reader(f)
                header = next(r, [])
                rows += sum(1 for _ in r)
    return rows, header


def work_w2(ctx: Ctx, k: int):
    n = ctx.a.n
    os.chdir(ctx.a.scratch)
    import votakvot

    d = ctx.dir("trials")
    _vk_init(ctx, votakvot, d)
    if k == 1:
        def w2(n):
            meter = votakvot.meter
            for i in range(n):
                meter(loss=loss_at(i))
            return n
    else:
        def w2(n):
            meter = votakvot.meter
            for i in range(n):
                x = loss_at(i)
                meter(loss=x, acc=1.0 - x, lr=lr_at(i))
            return n

    fn = _vk_tracked(votakvot, "w2", w2)
    if not ctx.a.no_warmup:  # one-time costs of the process's first trial stay out of the clock
        _vk_init(ctx, votakvot, ctx.dir("warmup"))
        fn(10)
        _vk_init(ctx, votakvot, d)
    # Like its floor, W2 is the best of FLOOR_TRIES runs in this process (each a fresh trial in a
    # fresh folder): this VM's CPU speed drifts between runs, and the floor is measured that way.
    times = []
    for attempt in range(FLOOR_TRIES):
        d = ctx.dir(f"trials-{attempt}")
        _vk_init(ctx, votakvot, d)
        times.append(ctx.timed(lambda: fn(n))[0])
    dt, first = min(times), times[0]
    docs = _find_docs(d)
    why = []
    if len(docs) != 1:
        why.append(f"{len(docs)} trials, expected 1")
        got, header = 0, []
    else:
        got, header = _count_csv(os.path.dirname(docs[0]))
        want = ["loss"] if k == 1 else ["loss", "acc", "lr"]
        if got != n:
            why.append(f"{got} metric rows, expected {n}")
        if header[-len(want):] != want:
            why.append(f"header {header}")
    ctx.row("value", dt / n * 1e6, "us/point", verified=not why, why="; ".join(why), n=n, rows=got,
            first_try=first / n * 1e6)


# ---- W4c: floor for W2 --------------------------------------------------------------------


def work_w4c(ctx: Ctx):
    n = ctx.a.n

    def best(make, check):
        times, got = [], None
        for _ in range(FLOOR_TRIES):
            path = os.path.join(ctx.dir("w4c"), "metrics.csv")
            dt, _ = ctx.timed(lambda path=path: make(path))
            times.append(dt)
            got = check(path)
        return min(times), times[0], got

    def one(path):
        rows = []
        append = rows.append
        for i in range(n):
            append((i, time.time(), loss_at(i)))
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(("step", "time", "loss"))
            w.writerows(rows)

    def three(path):
        rows = []
        append = rows.append
        for i in range(n):
            x = loss_at(i)
            append((i, time.time(), x, 1.0 - x, lr_at(i)))
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(("step", "time", "loss", "acc", "lr"))
            w.writerows(rows)

    def count(path):
        with open(path) as f:
            return sum(1 for _ in f) - 1

    for key, fn in (("value1", one), ("value3", three)):
        b, first, got = best(fn, count)
        ctx.row(key, b / n * 1e6, "us/point", verified=got == n, why="" if got == n else f"{got} rows", n=n,
                first=first / n * 1e6)

    box = {}

    def bare(_path):
        rows = []
        append = rows.append
        for i in range(n):
            append({"loss": loss_at(i)})
        box["n"] = len(rows)

    b, first, _ = best(bare, lambda _p: box["n"])
    ctx.row("dict", b / n * 1e6, "us/point", verified=box["n"] == n, n=n, first=first / n * 1e6)


# ---- W3: load ------------------------------------------------------------------------------


def _w3_tracked(votakvot):
    """The W3 trial: 5 params, 10 metric points, one float result (as in peers.py)."""

    def w3(lr, depth, batch, opt, dropout):
        for s in range(10):
            votakvot.meter(loss=loss_at(s))
        return result_of(lr, depth, batch, opt, dropout)

    return _vk_tracked(votakvot, "w3", w3)


def work_w3build(ctx: Ctx):
    """Builds the W3 store (untimed set-up for the W3 jobs): n finished trials, 10 meter points each."""
    n = ctx.a.n
    os.chdir(ctx.a.scratch)
    import votakvot

    _vk_init(ctx, votakvot, ctx.a.store)

    fn = _w3_tracked(votakvot)
    t0 = perf()
    for i in range(n):
        fn(**params_for(i))
    dt = perf() - t0
    got = len(_find_docs(ctx.a.store))
    ctx.row("build", dt, "s", verified=got == n, why="" if got == n else f"{got} trials", n=n)


def _check_report(df, n: int, want=("lr", "depth", "batch", "opt", "dropout", "result")) -> list[str]:
    why = []
    if len(df) != n:
        why.append(f"{len(df)} rows, expected {n}")
    missing = [c for c in want if c not in df.columns]
    if missing:
        why.append(f"missing columns {missing}")
    elif len(df) and df["result"].isna().any():
        why.append("empty results")
    return why


def work_w3(ctx: Ctx):
    n = ctx.a.n
    os.chdir(ctx.a.scratch)
    # A private, empty index cache: "cold" never finds an index left by an earlier run.
    os.environ["VOTAKVOT_CACHE_DIR"] = os.path.join(ctx.a.scratch, "votakvot-cache")
    import pandas  # noqa: F401  (imported before the clock, as for the floor)

    import votakvot

    rss0 = _maxrss_mib()
    cold, df = ctx.timed(lambda: votakvot.load_report(ctx.a.store, index=False))
    rss1 = _maxrss_mib()
    why = _check_report(df, n)
    if len(df) and (df["status"] != "done").any():
        why.append("statuses other than done")
    build, df1 = ctx.timed(lambda: votakvot.load_report(ctx.a.store))
    t0 = perf()
    df2 = votakvot.load_report(ctx.a.store)
    warm = perf() - t0
    rss2 = _maxrss_mib()
    why1, why2 = _check_report(df1, n), _check_report(df2, n)
    if not why2 and not df2.drop(columns="trial").equals(df.drop(columns="trial")):
        why2.append("the indexed report differs from the cold one")
    ctx.row("cold", cold, "s", verified=not why, why="; ".join(why), n=n, columns=len(df.columns))
    ctx.row("build", build, "s", verified=not why1, why="; ".join(why1), n=n)
    ctx.row("warm", warm, "s", verified=not why2, why="; ".join(why2), n=n)
    ctx.row("rss", rss1, "MiB", n=n, rss_imports=rss0, rss_after_warm=rss2)


def work_w4b(ctx: Ctx):
    n = ctx.a.n
    import pandas as pd
    import yaml  # noqa: F401

    def load():
        return pd.json_normalize(_load_docs(_find_docs(ctx.a.store)))

    rss0 = _maxrss_mib()
    times, got = [], []
    rss1 = None
    for _ in range(FLOOR_TRIES):
        dt, df = ctx.timed(load)
        times.append(dt)
        got.append(len(df))
        if rss1 is None:
            rss1 = _maxrss_mib()
        del df
    ok = all(g == n for g in got)
    ctx.row("value", min(times), "s", verified=ok, why="" if ok else f"rows {got}", n=n, first=times[0])
    ctx.row("rss", rss1, "MiB", n=n, rss_imports=rss0)


# ---- S3 ------------------------------------------------------------------------------------


def work_s3build(ctx: Ctx):
    """Writes n trials to s3://bench/w3 with votakvot (8 threads, each trial on its own)."""
    from concurrent.futures import ThreadPoolExecutor

    import fsspec

    import votakvot

    n = ctx.a.n
    fs = fsspec.filesystem("s3")
    for b in (S3_BUCKET, "warm"):
        if not fs.exists(b):
            fs.mkdir(b)
    fs.pipe_file("warm/x", b"x")
    os.chdir(ctx.a.scratch)
    _vk_init(ctx, votakvot, ctx.a.store)

    fn = _w3_tracked(votakvot)
    t0 = perf()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: fn(**params_for(i)), range(n)))
    dt = perf() - t0
    fs.invalidate_cache()
    got = len([p for p in fs.find(ctx.a.store.split("://", 1)[1]) if p.endswith("/votakvot.yaml")])
    ctx.row("build", dt, "s", verified=got == n, why="" if got == n else f"{got} trials", n=n)


def _s3_warm():
    """Creates the S3 client and its connection before the clock (listing another bucket)."""
    import fsspec

    fs, _ = fsspec.core.url_to_fs("s3://warm")
    fs.ls("warm")
    return fs


def work_s3vk(ctx: Ctx):
    import pandas  # noqa: F401

    import votakvot

    n = ctx.a.n
    os.chdir(ctx.a.scratch)
    _s3_warm()
    dt, df = ctx.timed(lambda: votakvot.load_report(ctx.a.store))
    why = _check_report(df, n)
    ctx.row("value", dt, "s", verified=not why, why="; ".join(why), n=n)


def work_s3seq(ctx: Ctx):
    import pandas as pd
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    n = ctx.a.n
    fs = _s3_warm()
    base = ctx.a.store.split("://", 1)[1]
    box = {}

    def load():
        paths = [p for p in fs.find(base) if p.endswith("/votakvot.yaml")]
        t0 = perf()
        blobs = [fs.cat_file(p) for p in paths]
        box["reads"] = perf() - t0
        return pd.json_normalize([yaml.load(b, Loader=loader) for b in blobs])

    dt, df = ctx.timed(load)
    ok = len(df) == n
    ctx.row("value", dt, "s", verified=ok, why="" if ok else f"{len(df)} rows", n=n, reads_s=box["reads"])


WORKERS = {
    "w1.track.nogit": lambda c: work_w1(c, "track", False),
    "w1.trial.nogit": lambda c: work_w1(c, "trial", False),
    "w1.track.git": lambda c: work_w1(c, "track", True),
    "w1.trial.git": lambda c: work_w1(c, "trial", True),
    "w1.floor": work_w4a,
    "w2.meter1": lambda c: work_w2(c, 1),
    "w2.meter3": lambda c: work_w2(c, 3),
    "w2.floor": work_w4c,
    "w3.build": work_w3build,
    "w3.vk": work_w3,
    "w3.floor": work_w4b,
    "s3.build": work_s3build,
    "s3.vk": work_s3vk,
    "s3.seq": work_s3seq,
}


def worker_main(a) -> int:
    ctx = Ctx(a)
    out = {"rows": ctx.rows, "notes": ctx.notes, "errors": []}
    try:
        WORKERS[a.worker](ctx)
    except Exception as e:
        out["errors"].append(f"{type(e).__name__}: {e}")
        traceback.print_exc()
    with open(a.out, "w") as f:
        json.dump(out, f, default=str)
    return 0


# ======================================================================================
# parent side
# ======================================================================================

IMPORT_SNIPPET = ("import time; t = time.perf_counter(); import {mod}; "
                  "print(repr(time.perf_counter() - t))")
# moto's ThreadedMotoServer; with a latency, every request first sleeps that long (in its own
# server thread, so concurrent requests overlap as they would against a remote S3).
MOTO_SNIPPET = """
import sys, time
from moto.moto_server import threaded_moto_server
from moto.server import ThreadedMotoServer

delay = float(sys.argv[2]) / 1000.0
if delay > 0:
    class DelayedApp(threaded_moto_server.DomainDispatcherApplication):
        def __call__(self, environ, start_response):
            time.sleep(delay)
            return super().__call__(environ, start_response)

    threaded_moto_server.DomainDispatcherApplication = DelayedApp
ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False).start()
time.sleep(1e9)
"""


class Job:
    """One measurement: a worker (or an import snippet) run once per repetition."""

    def __init__(self, key: str, group: str, n: int = 0, store: str = "", module: str = ""):
        self.key, self.group, self.n, self.store, self.module = key, group, n, store, module


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _worker_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    for k in ("VOTAKVOT_PATH", "PYTHONPROFILEIMPORTTIME"):
        env.pop(k, None)
    env.update(GIT_PYTHON_REFRESH="quiet", PYTHONWARNINGS="ignore", **(extra or {}))
    return env


class Runner:
    def __init__(self, a, base: str):
        self.a, self.base, self.count = a, base, 0
        self.env = _worker_env()

    def run(self, job: Job, profile_out: str = "") -> dict:
        self.count += 1
        scratch = os.path.join(self.base, f"p{self.count:03d}-{job.key}")
        os.makedirs(scratch)
        logf_path = os.path.join(scratch, "worker.log")
        t0 = perf()
        if job.module:
            cmd = [sys.executable, "-c", IMPORT_SNIPPET.format(mod=job.module)]
        else:
            out = os.path.join(scratch, "result.json")
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", job.key, "--out", out,
                   "--scratch", scratch, "--n", str(job.n), "--store", job.store, "--plugins", self.a.plugins]
            if self.a.no_warmup:
                cmd.append("--no-warmup")
            if profile_out:
                cmd += ["--profile-out", profile_out]
        try:
            with open(logf_path, "w") as logf:
                r = subprocess.run(cmd, cwd=scratch, env=self.env, stdout=subprocess.PIPE, stderr=logf,
                                   text=True, timeout=self.a.timeout)
            rc = r.returncode
        except subprocess.TimeoutExpired:
            rc, r = "timeout", None
        wall = perf() - t0
        if job.module:
            try:
                res = {"rows": {"value": dict(value=float(r.stdout.strip()) * 1e3, unit="ms", verified=True)},
                       "notes": [], "errors": []}
            except Exception:
                res = {"rows": {}, "notes": [], "errors": [f"import {job.module} failed (rc={rc}): {_tail(logf_path)}"]}
        else:
            try:
                with open(out) as f:
                    res = json.load(f)
            except Exception:
                res = {"rows": {}, "notes": [], "errors": [f"worker failed (rc={rc}): {_tail(logf_path)}"]}
        res["wall_s"] = wall
        # Deletions are deferred to the end (they slow later metadata operations on some VMs);
        # write this worker's dirty pages back now so they do not land in the next one's clock.
        os.sync()
        time.sleep(self.a.settle)
        err = f"  ERRORS: {res['errors']}" if res.get("errors") else ""
        log(f"  {job.key:16s} n={job.n:<7} {wall:6.1f}s{err}")
        return res


def _tail(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()[-800:].strip()
    except OSError:
        return ""


def _fmt(x: float | None) -> str:
    if x is None:
        return DASH
    ax = abs(x)
    if ax >= 100:
        return f"{x:,.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    if ax >= 0.01:
        return f"{x:.3f}"
    if ax == 0:
        return "0"
    return f"{x:.2g}"


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu})"


def _versions() -> dict:
    from importlib import metadata

    out = {}
    for d in ("votakvot", "PyYAML", "pandas", "fsspec", "psutil", "GitPython", "s3fs", "moto"):
        try:
            out[d] = metadata.version(d)
        except Exception:
            out[d] = None
    return out


def _source_state() -> str:
    """The commit of the votakvot checkout this interpreter imports, and whether it has local edits."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")  # read-only: never refresh the index
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, env=env, capture_output=True,
                             text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src"], cwd=here,
                               env=env, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:
        return "unknown"
    if not sha:
        return "not a git checkout"
    return f"{sha}{' + uncommitted changes in src/' if dirty else ''}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(base: str, latency_ms: float) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    logf = open(os.path.join(base, "moto.log"), "w")  # noqa: SIM115  (closed with the process)
    proc = subprocess.Popen([sys.executable, "-c", MOTO_SNIPPET, str(port), str(latency_ms)], stdout=logf,
                            stderr=subprocess.STDOUT, cwd=base)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited: {_tail(logf.name)}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    raise RuntimeError("moto server did not start within 60 s")


GROUPS = ("w1", "w2", "w3", "import", "s3")


def plan(a, base: str) -> tuple[list[Job], list[Job]]:
    """(build jobs run once, measured jobs run once per repetition)."""
    w3 = os.path.join(base, "w3-store")
    w3l = os.path.join(base, "w3-store-large")
    w3h = os.path.join(base, "w3-store-huge")
    s3 = f"s3://{S3_BUCKET}/w3"
    builds = [Job("w3.build", "w3", a.report, w3), Job("w3.build", "w3", a.report_large, w3l),
              Job("s3.build", "s3", a.s3_trials, s3)]
    jobs = [
        Job("w1.track.nogit", "w1", a.runs), Job("w1.trial.nogit", "w1", a.runs),
        Job("w1.track.git", "w1", a.runs), Job("w1.trial.git", "w1", a.runs), Job("w1.floor", "w1", a.runs),
        Job("w2.meter1", "w2", a.points), Job("w2.meter3", "w2", a.points), Job("w2.floor", "w2", a.points),
        Job("w3.vk", "w3", a.report, w3), Job("w3.floor", "w3", a.report, w3),
        Job("w3.vk", "w3", a.report_large, w3l), Job("w3.floor", "w3", a.report_large, w3l),
        Job("import.votakvot", "import", module="votakvot"), Job("import.pandas", "import", module="pandas"),
        Job("import.yaml", "import", module="yaml"),
        Job("s3.vk", "s3", a.s3_trials, s3), Job("s3.seq", "s3", a.s3_trials, s3),
    ]
    if a.report_huge:  # votakvot alone: the floor would take ~30 s per try at 100,000 trials
        builds.append(Job("w3.build", "w3", a.report_huge, w3h))
        jobs.append(Job("w3.vk", "w3", a.report_huge, w3h))
    want = [w.strip().lower() for w in (a.only or "").split(",") if w.strip()]
    if not want:
        want = [g for g in GROUPS if g != "s3" or a.s3]
    for w in want:
        if not any(w == j.group or j.key == w or j.key.startswith(w + ".") for j in jobs):
            raise SystemExit(f"--only: {w!r} matches nothing; groups {', '.join(GROUPS)}; jobs: "
                             + ", ".join(sorted({j.key for j in jobs})))

    def chosen(j: Job) -> bool:
        return any(w == j.group or j.key == w or j.key.startswith(w + ".") for w in want)

    jobs = [j for j in jobs if chosen(j)]
    # a votakvot job brings its group's floor; a W3 job at one size needs its store and floor at that size
    groups = {j.group for j in jobs}
    extra = [j for j in plan_all_floors(a, w3, w3l, s3) if j.group in groups
             and not any(j.key == k.key and j.n == k.n for k in jobs)
             and (j.group != "w3" or any(k.group == "w3" and k.n == j.n for k in jobs))]
    jobs += extra
    stores = {j.store for j in jobs if j.store}
    builds = [b for b in builds if b.store in stores]
    return builds, jobs


def plan_all_floors(a, w3: str, w3l: str, s3: str) -> list[Job]:
    return [Job("w1.floor", "w1", a.runs), Job("w2.floor", "w2", a.points),
            Job("w3.floor", "w3", a.report, w3), Job("w3.floor", "w3", a.report_large, w3l),
            Job("import.pandas", "import", module="pandas"), Job("s3.seq", "s3", a.s3_trials, s3)]


def jid(job: Job) -> str:
    return f"{job.key}@{job.n}" if job.n else job.key


def aggregate(raw: list[dict]) -> dict[str, dict]:
    """raw rows (job id, row key, rep, value...) -> {"jobid:rowkey": stats}."""
    groups: dict[str, list[dict]] = {}
    for r in raw:
        groups.setdefault(f"{r['job']}:{r['key']}", []).append(r)
    agg = {}
    for k, rs in groups.items():
        vals = [r["value"] for r in rs]
        row = dict(median=statistics.median(vals), min=min(vals), max=max(vals), values=vals, unit=rs[0]["unit"],
                   verified=all(r.get("verified", True) for r in rs),
                   why=sorted({r["why"] for r in rs if r.get("why")}), n=rs[0].get("n"))
        for extra in ("first", "rss_imports", "rss_after_warm", "reads_s", "columns", "yaml_bytes", "dumper"):
            xs = [r[extra] for r in rs if r.get(extra) is not None]
            if xs:
                row[extra] = statistics.median(xs) if not isinstance(xs[0], str) else xs[0]
        agg[k] = row
    return agg


def render(meta: dict, agg: dict, a) -> str:
    L: list[str] = []
    v = meta["versions"]
    L.append(f"## votakvot benchmark {DASH} {meta['date']} ({meta['mode']} mode)")
    L.append("")
    L.append(f"- Machine: {meta['machine']}")
    L.append(f"- Python {meta['python']} ({sys.executable})")
    libyaml = "yes, CSafeDumper/CSafeLoader" if meta["libyaml"] else "NO: pure-Python PyYAML, floors are slow"
    L.append(f"- Versions: votakvot {v.get('votakvot')} (source {meta['source']}), PyYAML {v.get('PyYAML')} "
             f"(libyaml: {libyaml}), pandas {v.get('pandas')}, fsspec {v.get('fsspec')}, psutil {v.get('psutil')}, "
             f"GitPython {v.get('GitPython')}, {meta['git']}"
             + (f", s3fs {v.get('s3fs')}, moto {v.get('moto')}" if meta.get("s3") else ""))
    eps = meta.get("plugins", {})
    own = {g: [n for n, dist in eps.get(g, []) if dist == "votakvot"] for g in PLUGIN_GROUPS}
    other = sorted({f"{n} ({dist}, {g.split('.')[-1]})" for g in PLUGIN_GROUPS for n, dist in eps.get(g, [])
                    if dist != "votakvot"})
    if a.plugins == "builtin":
        L.append(f"- Plug-ins: built-in only (meta providers {', '.join(own['votakvot.meta_providers']) or '?'}; "
                 f"sinks {', '.join(own['votakvot.sinks']) or '?'})"
                 + (f"; installed but left out: {', '.join(other)} (`--plugins installed` includes them)"
                    if other else ""))
    else:
        L.append(f"- Plug-ins: every installed one (built-in: {', '.join(own['votakvot.meta_providers'])} / "
                 f"{', '.join(own['votakvot.sinks'])}; third-party: {', '.join(other) or 'none'})")
    la, lb = meta.get("load"), meta.get("load_end")
    if la is not None and lb is not None:
        busy = max(la, lb or 0) > 0.5 * (os.cpu_count() or 1)
        L.append(f"- Load average (1 min) at start / end: {la:.2f} / {lb:.2f}"
                 + (f" {WARN} other processes were busy during the run: expect noise, compare medians with care"
                    if busy else ""))
    L.append(f"- Settings: reps={a.reps} (median, min{DASH}max over fresh processes), W1 trials={a.runs}, "
             f"W2 points={a.points:,}, W3 trials={a.report:,} and {a.report_large:,}"
             + (f" and {a.report_huge:,} (votakvot only)" if a.report_huge else "")
             + (f", S3 trials={a.s3_trials:,}" if meta.get("s3") else "")
             + f"; floors: best of {FLOOR_TRIES} in-process tries; git repo for W1: {GIT_FILES} committed files; "
             + ("W1/W2 include the process's first trial (--no-warmup)" if a.no_warmup else
                "W1/W2 run one untimed warm-up trial first"))
    L.append("")
    L.append(f"| workload | votakvot | floor | {TIMES} floor | target |")
    L.append("|---|---:|---:|---:|---|")
    foot: list[str] = []
    current = [""]  # the label of the row being rendered, for the footnotes

    def get(job: str, n: int | None, key: str = "value") -> dict | None:
        return agg.get(f"{job}@{n}:{key}" if n else f"{job}:{key}")

    def cell(r: dict | None, scale: float = 1.0, suffix: str = "") -> str:
        if r is None:
            return DASH
        s = f"{_fmt(r['median'] * scale)} ({_fmt(r['min'] * scale)}{DASH}{_fmt(r['max'] * scale)}){suffix}"
        if not r["verified"]:
            s += f" {WARN}"
            foot.append(f"{WARN} {current[0]}: {'; '.join(r['why']) or 'not verified'}")
        return s

    def ratio(x: dict | None, f: dict | None) -> float | None:
        if x is None or f is None or not f["median"]:
            return None
        return x["median"] / f["median"]

    def rfmt(q: float | None) -> str:
        if q is None:
            return DASH
        return f"{q:,.0f}{TIMES}" if q >= 100 else (f"{q:.1f}{TIMES}" if q >= 10 else f"{q:.2f}{TIMES}")

    def target(limit: float | None, q: float | None, text: str | None = None) -> str:
        t = text or f"{LE} {limit:g}{TIMES}"
        if limit is None or q is None:
            return t
        return f"{t} {OK if q <= limit else MISS}"

    def add(label: str, vk: dict | None, fl: dict | None, tgt_limit: float | None = None,
            tgt_text: str | None = None, vk_suffix: str = "", fl_suffix: str = "", vk_cell: str | None = None,
            fl_cell: str | None = None, show_ratio: bool = True):
        if vk is None and (fl is None or vk_cell is None):  # this job was not run (--only)
            return
        current[0] = label.split(f" {DASH} ")[0]
        q = ratio(vk, fl)
        vc = vk_cell if vk_cell is not None else cell(vk, suffix=vk_suffix if vk else "")
        fc = fl_cell if fl_cell is not None else cell(fl, suffix=fl_suffix if fl else "")
        L.append(f"| {label} | {vc} | {fc} | {rfmt(q) if show_ratio else DASH} | {target(tgt_limit, q, tgt_text)} |")

    n1, n2, n3, n3l, ns3 = a.runs, a.points, a.report, a.report_large, a.s3_trials
    w4a = get("w1.floor", n1)
    for key, what, git, lim in (("w1.track.nogit", "`@track()` call", "no git", 2.5),
                                ("w1.trial.nogit", "`with trial(...)`", "no git", 2.5),
                                ("w1.track.git", "`@track()` call", f"git repo, {GIT_FILES} files", 4.0),
                                ("w1.trial.git", "`with trial(...)`", f"git repo, {GIT_FILES} files", 4.0)):
        add(f"W1 {what}, {git} {DASH} ms/trial ({n1} trials; floor W4a)", get(key, n1), w4a, lim)
    for key, git in (("w1.track.nogit", "no git"), ("w1.track.git", f"git repo, {GIT_FILES} files")):
        add(f"first `@track()` call of a fresh process, {git} (one-time costs, outside the W1 clock) {DASH} ms",
            get(key, n1, "first"), None, tgt_text=DASH, fl_cell=DASH, show_ratio=False)
    for key, fk, what in (("w2.meter1", "value1", "`meter(loss=x)`"),
                          ("w2.meter3", "value3", "`meter(loss=x, acc=y, lr=z)`")):
        add(f"W2 {what} {DASH} {MICRO}s/point ({n2:,} points, flush incl.; floor W4c)", get(key, n2),
            get("w2.floor", n2, fk), 1.25)
    d = get("w2.floor", n2, "dict")
    if d is not None:
        add(f"W2 reference: bare `list.append({{'loss': x}})` {DASH} {MICRO}s/point", None, d,
            tgt_text=DASH, vk_cell=DASH, show_ratio=False)

    for n, big in ((n3, False), (n3l, True), *(((a.report_huge, True),) if a.report_huge else ())):
        vk, fl = get("w3.vk", n, "cold"), get("w3.floor", n)
        rps = f" {DASH} {n / vk['median']:,.0f}/s" if vk else ""
        frps = f" {DASH} {n / fl['median']:,.0f}/s" if fl else ""
        add(f"W3 `load_report` cold (1st call, fresh process, no index) {DASH} s ({n:,} trials; floor W4b)", vk, fl,
            1.1, vk_suffix=rps, fl_suffix=frps)
        build = get("w3.vk", n, "build")
        if build is not None:
            add(f"W3 `load_report` first indexed load (parses all, writes the index) {DASH} s ({n:,} trials)", build,
                fl, tgt_text=DASH)
        warm = get("w3.vk", n, "warm")
        if warm is not None:
            per = 0.05 / 2000 if not big else 1.0 / 100_000
            lim = per * n
            ref = "0.05 s per 2,000" if not big else "1 s per 100,000"
            txt = f"{LE} {_fmt(lim)} s" + ("" if (n == 2000 and not big) else f" ({ref}, pro rata)")
            ok = (OK if warm["median"] <= lim else MISS)
            add(f"W3 `load_report` warm (index present, nothing changed) {DASH} s ({n:,} trials; floor W4b)", warm, fl,
                tgt_text=f"{txt} {ok}")
        if big:
            rv, rf = get("w3.vk", n, "rss"), get("w3.floor", n, "rss")
            if rv is not None:
                base_mib = rv.get("rss_imports", 0.0)
                est = base_mib + (rv["median"] - base_mib) * 100_000 / n
                how = "measured" if n == 100_000 else "linear est."
                ok = OK if est <= 1024 else MISS
                add(f"W3 peak RSS of the loading process after the cold load {DASH} MiB ({n:,} trials)", rv, rf,
                    vk_suffix=f" [imports {_fmt(base_mib)}]",
                    fl_suffix=f" [imports {_fmt(rf.get('rss_imports'))}]" if rf else "",
                    tgt_text=f"100k trials < 1 GiB: {how} {est:,.0f} MiB {ok}")

    iv, ip, iy = get("import.votakvot", None), get("import.pandas", None), get("import.yaml", None)
    add(f"import votakvot {DASH} ms (floor: `import pandas`)", iv, ip, 0.4)
    if iy is not None:
        add(f"import votakvot {DASH} ms (reference: `import yaml`)", iv, iy, tgt_text=DASH)

    sv, ss = get("s3.vk", ns3), get("s3.seq", ns3)
    if sv is not None or ss is not None:
        q = ratio(sv, ss)
        sp = f"speed-up over one-at-a-time: {1 / q:.1f}{TIMES}" if q else "speed-up: n/a"
        lat = f", +{a.s3_latency:g} ms/request" if a.s3_latency else ", no added latency"
        add(f"S3 (moto{lat}) `load_report` cold {DASH} s ({ns3:,} trials; floor: one-at-a-time `cat_file` loop "
            f"+ CSafeLoader + json_normalize)", sv, ss, tgt_text=f"concurrent reads; {sp}")

    L.append("")
    notes = []
    if w4a:
        notes.append(f"W4a = makedirs(uuid) + yaml.dump({w4a.get('dumper', 'CSafeDumper')}) of a "
                     f"{w4a.get('yaml_bytes', '~1000')} B document + os.replace (peers.py's floor); "
                     f"W4c = list.append((step, time.time(), x...)) + one csv.writerows; W4b = scandir walk + "
                     f"yaml.load(CSafeLoader) of the same votakvot.yaml files + pandas.json_normalize.")
    for n in (n3, n3l):
        fl = get("w3.floor", n)
        if fl and fl.get("first"):
            vk = get("w3.vk", n, "cold")
            vs = f"; votakvot's cold load is {rfmt(vk['median'] / fl['first'])} that" if vk else ""
            notes.append(f"W4b first try (cold) at {n:,} trials: {_fmt(fl['first'])} s (the floor column is the "
                         f"best of {FLOOR_TRIES}{vs}).")
    if ss and ss.get("reads_s"):
        notes.append(f"S3 one-at-a-time: the cat_file loop alone took {_fmt(ss['reads_s'])} s."
                     + ("" if a.s3_latency else " The moto server answers from one Python process, so with no "
                        "added latency its CPU, not waiting, bounds what concurrent reads can gain; "
                        "`--s3-latency 20` adds a remote-like wait per request."))
    for b in meta.get("builds", []):
        notes.append(f"store build (untimed set-up): {b}")
    for n in sorted(set(foot)):
        notes.append(n)
    for n in meta["notes"]:
        notes.append(n)
    for e in meta["errors"]:
        notes.append(f"ERROR: {e}")
    for n in notes:
        L.append(f"- {n}")
    L.append(f"- Total wall time: {meta['total_s']:.0f} s.")
    return "\n".join(L)


def parent_main(a) -> int:
    mode = "quick" if a.quick else "full"
    defaults = QUICK if a.quick else FULL
    for k, val in defaults.items():
        if getattr(a, k, None) is None:
            setattr(a, k, val)
    if a.profile:
        a.reps = 1
    if a.reps < 1:
        raise SystemExit("--reps must be >= 1")
    if a.reps < 3 and not a.profile:
        log(f"warning: --reps {a.reps} < 3; medians are not meaningful")
    t_start = perf()
    base = a.workdir or tempfile.mkdtemp(prefix="votakvot-bench-")
    os.makedirs(base, exist_ok=True)
    base = os.path.abspath(base)
    if a.profile:
        a.only = a.profile
        if "s3" in a.profile:
            a.s3 = True
    builds, jobs = plan(a, base)
    if a.profile:
        want = [w.strip().lower() for w in a.profile.split(",")]
        jobs = [j for j in jobs if any(j.key == w or j.key.startswith(w + ".") or j.group == w for w in want)]
    use_s3 = any(j.group == "s3" for j in jobs)
    runner = Runner(a, base)
    moto = None
    meta = dict(date=_dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"), mode=mode,
                python=platform.python_version(), machine=_machine(), versions=_versions(), source=_source_state(),
                workdir=base, notes=[], errors=[], builds=[], s3=use_s3, plugins=plugin_entry_points(),
                load=os.getloadavg()[0] if hasattr(os, "getloadavg") else None)
    try:
        meta["git"] = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        meta["git"] = "git: not found"
    try:
        import yaml  # only to report whether libyaml is there; the parent imports no votakvot

        meta["libyaml"] = bool(getattr(yaml, "__with_libyaml__", False)) and hasattr(yaml, "CSafeLoader")
    except ImportError:
        meta["libyaml"] = None
    if _inside_git(base):
        meta["notes"].append(f"the scratch folder {base} is inside a git repository: the no-git rows are not git-free")
    log(f"bench: {mode} mode, workdir {base}, python {sys.executable}")
    raw: list[dict] = []
    rc = 0
    try:
        probe = subprocess.run([sys.executable, "-c", "import votakvot, pandas, yaml"], capture_output=True, text=True,
                               cwd=base, env=runner.env)  # also leaves warm .pyc caches for the import rows
        if probe.returncode:
            raise SystemExit(f"cannot import votakvot/pandas/yaml with {sys.executable}:\n{probe.stderr[-800:]}")
        if use_s3:
            moto, port = start_moto(base, a.s3_latency)
            runner.env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                              AWS_DEFAULT_REGION="us-east-1", FSSPEC_S3_ENDPOINT_URL=f"http://127.0.0.1:{port}")
            for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
                runner.env.pop(k, None)
            log(f"moto server on 127.0.0.1:{port} (pid {moto.pid})")
        for b in builds:
            if not b.store.startswith("s3://"):
                os.makedirs(b.store, exist_ok=True)
            res = runner.run(b)
            for e in res.get("errors", []):
                meta["errors"].append(f"{b.key}@{b.n}: {e}")
            row = res.get("rows", {}).get("build")
            if row:
                meta["builds"].append(f"{b.n:,} trials {'on S3' if b.group == 's3' else 'on disk'} in "
                                      f"{row['value']:.1f} s" + ("" if row["verified"] else f" {WARN} {row['why']}"))
        if a.profile:
            rc = profile_jobs(a, runner, jobs, base)
            if not a.keep and not a.workdir:
                shutil.rmtree(base, ignore_errors=True)
            return rc
        for rep in range(a.reps):
            log(f"rep {rep + 1}/{a.reps}")
            k = rep % len(jobs) if jobs else 0
            for job in jobs[k:] + jobs[:k]:  # rotate the order to spread order effects
                res = runner.run(job)
                for key, row in res.get("rows", {}).items():
                    raw.append(dict(row, job=jid(job), key=key, rep=rep))
                for n in res.get("notes", []):
                    if n not in meta["notes"]:
                        meta["notes"].append(n)
                for e in res.get("errors", []):
                    meta["errors"].append(f"{jid(job)} rep {rep + 1}: {e}")
    finally:
        if moto is not None:
            moto.terminate()
            try:
                moto.wait(10)
            except subprocess.TimeoutExpired:
                moto.kill()
    agg = aggregate(raw)
    meta["total_s"] = perf() - t_start
    meta["load_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    md = render(meta, agg, a)
    print(md)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"meta": meta, "args": {k: v for k, v in vars(a).items() if not k.startswith("worker")},
                       "results": agg, "raw": raw}, f, indent=1, default=str)
    if meta["errors"] or any(not r["verified"] for r in agg.values()):
        rc = 1
    if not a.keep and not a.workdir:
        shutil.rmtree(base, ignore_errors=True)
    elif a.keep:
        log(f"kept {base}")
    return rc


def profile_jobs(a, runner: Runner, jobs: list[Job], base: str) -> int:
    import pstats

    for job in jobs:
        if job.module:
            continue
        out = os.path.join(base, f"{job.key}-{job.n}.prof")
        res = runner.run(job, profile_out=out)
        print(f"\n### cProfile of {jid(job)} (timed region only; floors: last try)\n")
        for key, row in res.get("rows", {}).items():
            mark = "" if row["verified"] else f" {WARN} {row.get('why')}"
            print(f"- {key}: {_fmt(row['value'])} {row['unit']} (under the profiler){mark}")
        if res.get("errors"):
            print(f"- errors: {res['errors']}")
        if not os.path.exists(out):
            continue
        for order in ("tottime", "cumulative"):
            print(f"\n```\n# sorted by {order}")
            st = pstats.Stats(out, stream=sys.stdout)
            st.strip_dirs().sort_stats(order).print_stats(a.profile_top)
            print("```")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes (W1 100 trials, W2 20k points, W3 200/1,000)")
    p.add_argument("--runs", type=int, help="W1 trials per process (full 500, quick 100)")
    p.add_argument("--points", type=int, help="W2 meter points (full 100000, quick 20000)")
    p.add_argument("--report", type=int, help="W3 trials (full 2000, quick 200)")
    p.add_argument("--report-large", type=int, help="W3 large store, with peak RSS (full 10000, quick 1000)")
    p.add_argument("--report-huge", type=int,
                   help="W3 at a third size, votakvot only, e.g. 100000 to measure the 100k targets directly "
                        "(default: off; builds the store once, ~1 min per 100k trials, then ~1 min per repetition)")
    p.add_argument("--s3", action="store_true", help="add the S3 row (moto server on 127.0.0.1)")
    p.add_argument("--s3-trials", type=int, help="trials written to S3 (full 2000, quick 200)")
    p.add_argument("--s3-latency", type=float, default=0.0,
                   help="milliseconds the moto server waits before answering each request (default 0: a local "
                        "server, whose own CPU then bounds any concurrency; e.g. 20 mimics a remote bucket)")
    p.add_argument("--reps", type=int, default=3, help="repetitions, each measurement in a fresh process (3)")
    p.add_argument("--only", help="comma list of groups (w1, w2, w3, import, s3) or job names (e.g. w1.track.git, "
                                  "w1.track = both git variants); floors come along")
    p.add_argument("--json", help="write the raw and aggregated numbers here")
    p.add_argument("--workdir", help="scratch folder (default: a fresh temp dir, removed at the end)")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    p.add_argument("--settle", type=float, help="seconds to idle between processes (full 0.5, quick 0.1)")
    p.add_argument("--timeout", type=int, default=900, help="seconds per worker process")
    p.add_argument("--plugins", choices=("builtin", "installed"), default="builtin",
                   help="builtin (default): trials use only votakvot's own meta providers and sinks, whatever "
                        "else is installed; installed: every installed plug-in (the user's default)")
    p.add_argument("--no-warmup", action="store_true",
                   help="W1/W2: no untimed first trial; the process's one-time costs land in the clock (as peers.py)")
    p.add_argument("--profile", help="cProfile these jobs' timed regions once and print the top functions")
    p.add_argument("--profile-top", type=int, default=25, help="lines per profile listing")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--scratch", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--store", default="", help=argparse.SUPPRESS)
    p.add_argument("--profile-out", default="", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        return worker_main(a)
    return parent_main(a)


if __name__ == "__main__":
    sys.exit(main())
