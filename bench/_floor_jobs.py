"""The plain-Python floors, no tracker: what a file-based tracker cannot beat, in the shapes of
peers.py's W4 floors (bench/README.md says where peers.py lives).

Floors are bounds, so each reports the best of FLOOR_TRIES tries inside its worker process; the
first try is reported too, for the footnotes.
"""

from __future__ import annotations

import csv
import datetime as _dt
import os
import platform
import time
import uuid
from time import perf_counter as perf

from _settings import FLOOR_TRIES, W5_STEPS
from _worker import (
    WorkerContext,
    find_docs,
    load_docs,
    loss_at,
    lr_at,
    maxrss_mib,
    params_for,
    result_of,
    warm_s3_client,
)

# ======================================================================================
# W4a: floor of W1 (one ~1 KB votakvot.yaml-shaped document per trial)
# ======================================================================================

_STATIC_META = None


def _w4a_doc(i: int, uid: str) -> dict:
    """A ~1 KB document shaped like votakvot.yaml (the same as peers.py's W4a)."""
    global _STATIC_META
    if _STATIC_META is None:
        _STATIC_META = {
            "system": {
                "machine": platform.machine(),
                "platform": "Linux-6.1.0-x86_64-with-glibc2.36",
                "user": "researcher",
                "node": "workstation-01",
                "cwd": "/home/researcher/project",
                "cpu_count": 2,
                "memory": 25769803776,
            },
            "process": {"pid": 12345, "argv": ["train.py", "--config", "configs/exp.yaml"]},
            "python": {
                "version": "3.11.7 (main, Jan  1 2024, 00:00:00) [GCC 12.2.0]",
                "executable": "/home/researcher/.venvs/exp/bin/python",
                "venv": "/home/researcher/.venvs/exp",
            },
            "git": {
                "repo": "/home/researcher/project",
                "branch": "main",
                "commit": "3f2a" * 10,
                "describe": "v0.3.1-14-g3f2a3f2",
                "dirty": True,
                "treeish": "9c1e" * 10,
            },
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


def _w4a_write_trial(yaml, dumper, root: str, i: int) -> str:
    """Writes trial i the way a file-based tracker at its simplest would; returns the document's path."""
    uid = uuid.uuid4().hex
    d = os.path.join(root, uid)
    os.makedirs(d)
    tmp = os.path.join(d, ".votakvot.yaml.tmp")
    with open(tmp, "w") as f:
        yaml.dump(_w4a_doc(i, uid), f, Dumper=dumper, sort_keys=False)
    dst = os.path.join(d, "votakvot.yaml")
    os.replace(tmp, dst)
    return dst


def work_w4a(ctx: WorkerContext) -> None:
    """W4a: ms per trial of makedirs + yaml.dump to a temp file + os.replace, once per trial."""
    import yaml

    n = ctx.args.n
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    times, last = [], {}
    for _ in range(FLOOR_TRIES):
        d = ctx.new_dir("w4a")

        def run(d=d):
            for i in range(n):
                last["path"] = _w4a_write_trial(yaml, dumper, d, i)

        dt, _ = ctx.timed(run)
        times.append(dt)
        last["n"] = len(os.listdir(d))
    ok = last["n"] == n
    ctx.add_row(
        "value",
        min(times) / n * 1e3,
        "ms/trial",
        verified=ok,
        why="" if ok else f"{last['n']} files",
        n=n,
        first=times[0] / n * 1e3,
        yaml_bytes=os.path.getsize(last["path"]),
        dumper=dumper.__name__,
    )


# ======================================================================================
# W4c: floor of W2 (a list of points and one CSV write)
# ======================================================================================


def work_w4c(ctx: WorkerContext) -> None:
    """W4c: us per point of list.append((step, time, values...)) + one csv.writerows, for 1 and 3
    values; and the bare list.append of a dict as a reference for the call shape alone."""
    n = ctx.args.n

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

    for key, fn in (("value1", one), ("value3", three)):
        b, first, got = _best_of_tries(ctx, fn, _count_data_lines)
        ctx.add_row(
            key,
            b / n * 1e6,
            "us/point",
            verified=got == n,
            why="" if got == n else f"{got} rows",
            n=n,
            first=first / n * 1e6,
        )

    box = {}

    def bare(_path):
        rows = []
        append = rows.append
        for i in range(n):
            append({"loss": loss_at(i)})
        box["n"] = len(rows)

    b, first, _ = _best_of_tries(ctx, bare, lambda _p: box["n"])
    ctx.add_row("dict", b / n * 1e6, "us/point", verified=box["n"] == n, n=n, first=first / n * 1e6)


def _best_of_tries(ctx: WorkerContext, make, check):
    """(best time, first time, check of the last try) over FLOOR_TRIES runs of make(path), each with a
    metrics.csv path in a fresh folder."""
    times, got = [], None
    for _ in range(FLOOR_TRIES):
        path = os.path.join(ctx.new_dir("w4c"), "metrics.csv")
        dt, _ = ctx.timed(lambda path=path: make(path))
        times.append(dt)
        got = check(path)
    return min(times), times[0], got


def _count_data_lines(path: str) -> int:
    """Lines of the file at `path` below its header."""
    with open(path) as f:
        return sum(1 for _ in f) - 1


# ======================================================================================
# W4b: floor of W3 (a scandir walk, libyaml and json_normalize over votakvot's own files)
# ======================================================================================


def work_w4b(ctx: WorkerContext) -> None:
    """W4b: s to load the W3 store's votakvot.yaml files into one DataFrame, and the peak RSS after it."""
    n = ctx.args.n
    import pandas as pd
    import yaml  # noqa: F401  (imported before the clock; load_docs imports it again inside)

    def load():
        return pd.json_normalize(load_docs(find_docs(ctx.args.store)))

    rss0 = maxrss_mib()
    times, got = [], []
    rss1 = None
    for _ in range(FLOOR_TRIES):
        dt, df = ctx.timed(load)
        times.append(dt)
        got.append(len(df))
        if rss1 is None:
            rss1 = maxrss_mib()
        del df
    ok = all(g == n for g in got)
    ctx.add_row("value", min(times), "s", verified=ok, why="" if ok else f"rows {got}", n=n, first=times[0])
    ctx.add_row("rss", rss1, "MiB", n=n, rss_imports=rss0)


# ======================================================================================
# S3 floor: one object at a time
# ======================================================================================


def work_s3_sequential(ctx: WorkerContext) -> None:
    """S3 floor: s to list the S3 store, read each votakvot.yaml in turn, parse and normalise them."""
    import pandas as pd
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    n = ctx.args.n
    fs = warm_s3_client()
    base = ctx.args.store.split("://", 1)[1]
    box = {}

    def load():
        paths = [p for p in fs.find(base) if p.endswith("/votakvot.yaml")]
        t0 = perf()
        blobs = [fs.cat_file(p) for p in paths]
        box["reads"] = perf() - t0
        return pd.json_normalize([yaml.load(b, Loader=loader) for b in blobs])

    dt, df = ctx.timed(load)
    ok = len(df) == n
    ctx.add_row("value", dt, "s", verified=ok, why="" if ok else f"{len(df)} rows", n=n, reads_s=box["reads"])


# ======================================================================================
# W4d: floors of W5 (each trial's metrics.csv read by pandas or pyarrow, then concatenated)
# ======================================================================================


def work_w4d(ctx: WorkerContext) -> None:
    """W4d: the W5 store's metric files read one by one and concatenated with a run column, by
    pandas.read_csv ("pandas") and, when installed, pyarrow.csv ("pyarrow"), as in peers.py."""
    import pandas as pd

    files = sorted(
        os.path.join(folder, "metrics.csv") for folder in (os.path.dirname(p) for p in find_docs(ctx.args.store))
    )

    def by_pandas():
        frames = []
        for path in files:
            frame = pd.read_csv(path)
            frame.insert(0, "run", path)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    floors = [("pandas", by_pandas)]
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:
        ctx.notes.append("pyarrow is not installed: the W5 pyarrow floor is left out (pip install pyarrow)")
    else:

        def by_pyarrow():
            tables = []
            for path in files:
                table = pacsv.read_csv(path)
                tables.append(table.add_column(0, "run", pa.array([path] * table.num_rows)))
            return pa.concat_tables(tables).to_pandas()

        floors.append(("pyarrow", by_pyarrow))
    n = ctx.args.n
    for key, load in floors:
        times, df = [], None
        for _ in range(FLOOR_TRIES):
            dt, df = ctx.timed(load)
            times.append(dt)
        got = len(df) if df is not None else 0
        ok = got == n * W5_STEPS
        ctx.add_row(key, min(times), "s", verified=ok, why="" if ok else f"{got} rows", n=n, first=times[0])
