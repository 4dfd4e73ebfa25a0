"""votakvot's side of each workload, one job per function: W1 trial overhead, W2 `meter()`,
W3 `load_report` (and the store it reads), W5 `load_metrics` (and its store), and the S3 store
and load.

Each job runs in its own worker process; imports and set-up stay outside `ctx.timed`, and the
result is verified after the clock stops.
"""

from __future__ import annotations

import csv
import os
from time import perf_counter as perf

from _settings import FLOOR_TRIES, S3_BUCKET, S3_WRITER_PIECES, W5_STEPS
from _worker import (
    WorkerContext,
    find_docs,
    init_votakvot,
    inside_git,
    load_docs,
    loss_at,
    lr_at,
    make_git_repo,
    maxrss_mib,
    params_for,
    result_of,
    tracked,
    warm_s3_client,
)

# ======================================================================================
# W1: trial overhead
# ======================================================================================


def work_w1(ctx: WorkerContext, variant: str, git: bool) -> None:
    """W1: ms per trial over N sequential trials, as `@track()` calls or `with trial(...)` blocks."""
    n = ctx.args.n
    head = _enter_w1_folder(ctx, git)
    import yaml  # noqa: F401  (the verifier's; votakvot imports it anyway)

    import votakvot

    d = ctx.new_dir("trials")
    run = _w1_loop(votakvot, variant, n)
    if not ctx.args.no_warmup:  # the first trial of a process pays one-time costs: reported apart
        init_votakvot(ctx, votakvot, ctx.new_dir("warmup"))
        t0 = perf()
        run(0, 1)
        ctx.add_row("first", (perf() - t0) * 1e3, "ms")
    init_votakvot(ctx, votakvot, d)
    dt, _ = ctx.timed(run)
    docs = load_docs(find_docs(d))
    why = _check_w1_docs(docs, n, git, head)
    ctx.add_row(
        "value",
        dt / n * 1e3,
        "ms/trial",
        verified=not why,
        why="; ".join(why),
        n=n,
        count=len(docs),
        yaml_bytes=os.path.getsize(find_docs(d)[0]) if docs else None,
    )


def _enter_w1_folder(ctx: WorkerContext, git: bool) -> str | None:
    """Moves into the folder the trials start from: a fresh git repository (returns its HEAD) or the
    scratch folder, which should be outside any repository."""
    if git:
        repo = os.path.join(ctx.args.scratch, "repo")
        head = make_git_repo(repo)
        os.chdir(repo)
        return head
    os.chdir(ctx.args.scratch)
    if inside_git(ctx.args.scratch):
        ctx.notes.append(f"W1 no-git job ran inside a git repository ({ctx.args.scratch})")
    return None


def _w1_loop(votakvot, variant: str, n: int):
    """The timed W1 loop: run(start, stop) makes the trials start..stop-1 as tracked calls or trial blocks."""
    if variant == "track":

        def w1(lr, depth, batch, opt, dropout):
            return result_of(lr, depth, batch, opt, dropout)

        fn = tracked(votakvot, "w1", w1)

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

    return run


def _check_w1_docs(docs: list[dict], n: int, git: bool, head: str | None) -> list[str]:
    """What is wrong with the trials W1 wrote (empty when all n are done, with a float result, and
    carry the fixture's commit, or no git metadata outside git)."""
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
    return why


# ======================================================================================
# W2: meter()
# ======================================================================================


def work_w2(ctx: WorkerContext, k: int) -> None:
    """W2: us per point of one tracked call doing N `meter()` calls of k values, flush included."""
    n = ctx.args.n
    os.chdir(ctx.args.scratch)
    import votakvot

    d = ctx.new_dir("trials")
    init_votakvot(ctx, votakvot, d)
    fn = tracked(votakvot, "w2", _w2_loop(votakvot, k))
    if not ctx.args.no_warmup:  # one-time costs of the process's first trial stay out of the clock
        init_votakvot(ctx, votakvot, ctx.new_dir("warmup"))
        fn(10)
        init_votakvot(ctx, votakvot, d)
    # Like its floor, W2 is the best of FLOOR_TRIES runs in this process (each a fresh trial in a
    # fresh folder): this VM's CPU speed drifts between runs, and the floor is measured that way.
    times = []
    for attempt in range(FLOOR_TRIES):
        d = ctx.new_dir(f"trials-{attempt}")
        init_votakvot(ctx, votakvot, d)
        times.append(ctx.timed(lambda: fn(n))[0])
    dt, first = min(times), times[0]
    why, got = _check_w2_trial(d, n, k)
    ctx.add_row(
        "value",
        dt / n * 1e6,
        "us/point",
        verified=not why,
        why="; ".join(why),
        n=n,
        rows=got,
        first_try=first / n * 1e6,
    )


def _w2_loop(votakvot, k: int):
    """The timed W2 function: w2(n) meters n points of 1 value (k == 1) or 3 values."""
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

    return w2


def _check_w2_trial(folder: str, n: int, k: int) -> tuple[list[str], int]:
    """(what is wrong, metric rows found) for the one W2 trial in `folder`: n rows, the metric columns last."""
    docs = find_docs(folder)
    why = []
    if len(docs) != 1:
        why.append(f"{len(docs)} trials, expected 1")
        return why, 0
    got, header = _count_csv(os.path.dirname(docs[0]))
    want = ["loss"] if k == 1 else ["loss", "acc", "lr"]
    if got != n:
        why.append(f"{got} metric rows, expected {n}")
    if header[-len(want) :] != want:
        why.append(f"header {header}")
    return why, got


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


# ======================================================================================
# W3: load_report
# ======================================================================================


def _w3_tracked(votakvot):
    """The W3 trial: 5 params, 10 metric points, one float result (as in peers.py)."""

    def w3(lr, depth, batch, opt, dropout):
        for s in range(10):
            votakvot.meter(loss=loss_at(s))
        return result_of(lr, depth, batch, opt, dropout)

    return tracked(votakvot, "w3", w3)


def build_store(ctx: WorkerContext, make_tracked) -> None:
    """Writes the job's store (untimed set-up): n calls of the tracked function `make_tracked(votakvot)` gives."""
    n = ctx.args.n
    os.chdir(ctx.args.scratch)
    import votakvot

    init_votakvot(ctx, votakvot, ctx.args.store)
    fn = make_tracked(votakvot)
    t0 = perf()
    for i in range(n):
        fn(**params_for(i))
    dt = perf() - t0
    got = len(find_docs(ctx.args.store))
    ctx.add_row("build", dt, "s", verified=got == n, why="" if got == n else f"{got} trials", n=n)


def work_w3_build(ctx: WorkerContext) -> None:
    """Builds the W3 store (untimed set-up for the W3 jobs): n finished trials, 10 meter points each."""
    build_store(ctx, _w3_tracked)


def check_report(df, n: int, want=("lr", "depth", "batch", "opt", "dropout", "result")) -> list[str]:
    """What is wrong with a report of the W3 store (empty when it has n rows, the params and a result)."""
    why = []
    if len(df) != n:
        why.append(f"{len(df)} rows, expected {n}")
    missing = [c for c in want if c not in df.columns]
    if missing:
        why.append(f"missing columns {missing}")
    elif len(df) and df["result"].isna().any():
        why.append("empty results")
    return why


def work_w3(ctx: WorkerContext) -> None:
    """W3: `load_report` cold (no index), the first load ever (no index anywhere: it parses, writes
    the local index and leaves a piece of the shared index in the store) and warm, in one fresh
    process; its peak RSS, and the Python heap's peak (tracemalloc) during one more warm load."""
    n = ctx.args.n
    os.chdir(ctx.args.scratch)
    # A private, empty index cache, and no shared index in the store: "cold" and "first ever"
    # never find an index left by an earlier run or job.
    os.environ["VOTAKVOT_CACHE_DIR"] = os.path.join(ctx.args.scratch, "votakvot-cache")
    remove_shared_index(ctx.args.store)
    import pandas  # noqa: F401  (imported before the clock, as for the floor)

    import votakvot

    rss0 = maxrss_mib()
    cold, df = ctx.timed(lambda: votakvot.load_report(ctx.args.store, index=False))
    rss1 = maxrss_mib()
    why = check_report(df, n)
    if len(df) and (df["status"] != "done").any():
        why.append("statuses other than done")
    build, df1 = ctx.timed(lambda: votakvot.load_report(ctx.args.store))
    t0 = perf()
    df2 = votakvot.load_report(ctx.args.store)
    warm = perf() - t0
    rss2 = maxrss_mib()
    heap = traced_peak_mib(lambda: votakvot.load_report(ctx.args.store))
    why1, why2 = check_report(df1, n), check_report(df2, n)
    if not why2 and not df2.drop(columns="trial").equals(df.drop(columns="trial")):
        why2.append("the indexed report differs from the cold one")
    ctx.add_row("cold", cold, "s", verified=not why, why="; ".join(why), n=n, columns=len(df.columns))
    ctx.add_row("build", build, "s", verified=not why1, why="; ".join(why1), n=n)
    ctx.add_row("warm", warm, "s", verified=not why2, why="; ".join(why2), n=n)
    ctx.add_row("rss", rss1, "MiB", n=n, rss_imports=rss0, rss_after_warm=rss2)
    ctx.add_row("heap", heap, "MiB", n=n)


def work_w3_first(ctx: WorkerContext) -> None:
    """W3, the very first load ever: the first `load_report` of a fresh process, with no index
    anywhere (an empty local cache, no shared index in the store). It parses every document and
    writes the local index and a piece of the shared one."""
    n = ctx.args.n
    os.chdir(ctx.args.scratch)
    os.environ["VOTAKVOT_CACHE_DIR"] = os.path.join(ctx.args.scratch, "votakvot-cache")
    remove_shared_index(ctx.args.store)
    import pandas  # noqa: F401  (imported before the clock, as for the floor)

    import votakvot

    first, df = ctx.timed(lambda: votakvot.load_report(ctx.args.store))
    why = check_report(df, n)
    if not os.path.isdir(os.path.join(ctx.args.store, ".votakvot", "index")):
        why.append("no piece of the shared index was left in the store")
    ctx.add_row("value", first, "s", verified=not why, why="; ".join(why), n=n)


def work_w3_shared(ctx: WorkerContext) -> None:
    """W3 on a new machine: the first `load_report` of a fresh process whose local cache is empty,
    with the pieces another reader left in the store (made untimed, by a separate process)."""
    n = ctx.args.n
    os.chdir(ctx.args.scratch)
    leave_shared_index(ctx.args.store, os.path.join(ctx.args.scratch, "other-machine"))
    os.environ["VOTAKVOT_CACHE_DIR"] = os.path.join(ctx.args.scratch, "votakvot-cache")
    import pandas  # noqa: F401  (imported before the clock, as for the floor)

    import votakvot

    parsed = []
    first, df = ctx.timed(lambda: votakvot.load_report(ctx.args.store, progress=lambda d, t: parsed.append(t)))
    t0 = perf()
    df2 = votakvot.load_report(ctx.args.store)
    again = perf() - t0
    why = check_report(df, n)
    if parsed:
        why.append(f"{parsed[-1]} documents parsed, expected none")
    cold = votakvot.load_report(ctx.args.store, index=False)
    if not why and not df.drop(columns="trial").equals(cold.drop(columns="trial")):
        why.append("the report from the shared index differs from the parsed one")
    ctx.add_row("value", first, "s", verified=not why, why="; ".join(why), n=n, again=again, rows=len(df2))


def remove_shared_index(store: str) -> None:
    """Removes the pieces of the shared report index that earlier loads left in a local store."""
    import shutil

    shutil.rmtree(os.path.join(store, ".votakvot"), ignore_errors=True)


def leave_shared_index(store: str, cache: str) -> None:
    """Makes sure the store holds pieces covering every trial: loads it in another process (with
    a cache of its own) once its files are old enough to be shared (2 s), unless a piece is there."""
    import subprocess
    import sys
    import time

    pieces = os.path.join(store, ".votakvot", "index")
    if os.path.isdir(pieces) and any(name.endswith(".json") for name in os.listdir(pieces)):
        return
    newest = max(os.stat(os.path.dirname(doc)).st_mtime for doc in find_docs(store))
    time.sleep(max(0.0, newest + 2.5 - time.time()))
    code = f"import votakvot; votakvot.load_report({store!r})"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "VOTAKVOT_CACHE_DIR": cache})


def traced_peak_mib(fn) -> float:
    """The peak of memory traced by tracemalloc (Python objects and numpy buffers) while fn() runs."""
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


# ======================================================================================
# S3: the store on a local moto server, and votakvot's cold load of it
# ======================================================================================


def work_s3_build(ctx: WorkerContext) -> None:
    """Writes n trials to s3://bench/w3 with votakvot (8 threads, each trial on its own)."""
    from concurrent.futures import ThreadPoolExecutor

    import fsspec

    import votakvot

    n = ctx.args.n
    fs = fsspec.filesystem("s3")
    for b in (S3_BUCKET, "warm"):
        if not fs.exists(b):
            fs.mkdir(b)
    fs.pipe_file("warm/x", b"x")
    os.chdir(ctx.args.scratch)
    init_votakvot(ctx, votakvot, ctx.args.store)

    fn = _w3_tracked(votakvot)
    t0 = perf()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: fn(**params_for(i)), range(n)))
    dt = perf() - t0
    fs.invalidate_cache()
    got = len([p for p in fs.find(ctx.args.store.split("://", 1)[1]) if p.endswith("/votakvot.yaml")])
    ctx.add_row("build", dt, "s", verified=got == n, why="" if got == n else f"{got} trials", n=n)
    if fs.exists(S3_WRITER_PIECES):  # an earlier build's; s3.cold keeps this one's
        fs.rm(S3_WRITER_PIECES, recursive=True)


def work_s3(ctx: WorkerContext) -> None:
    """S3 on a new machine, then warm: the first `load_report` of a fresh process with an empty
    local cache (the pieces of the shared index that earlier loads left in the store are there),
    and the second call in the same process; the client connected before the clock."""
    import pandas  # noqa: F401

    import votakvot

    n = ctx.args.n
    os.chdir(ctx.args.scratch)
    os.environ["VOTAKVOT_CACHE_DIR"] = os.path.join(ctx.args.scratch, "votakvot-cache")
    warm_s3_client()
    dt, df = ctx.timed(lambda: votakvot.load_report(ctx.args.store))
    why = check_report(df, n)
    ctx.add_row("value", dt, "s", verified=not why, why="; ".join(why), n=n)
    warm, df = ctx.timed(lambda: votakvot.load_report(ctx.args.store))
    why = check_report(df, n)
    ctx.add_row("warm", warm, "s", verified=not why, why="; ".join(why), n=n)


def work_s3_cold(ctx: WorkerContext) -> None:
    """S3, the first load of a reader with an empty local cache right after the trials were
    written: the store holds the pieces of the shared index that the writing process left, and
    nothing else (kept aside by the first run, which comes right after the build; pieces readers
    left are removed before the clock)."""
    import pandas  # noqa: F401

    import votakvot

    n = ctx.args.n
    os.chdir(ctx.args.scratch)
    os.environ["VOTAKVOT_CACHE_DIR"] = os.path.join(ctx.args.scratch, "votakvot-cache")
    fs = warm_s3_client()
    pieces = f"{ctx.args.store.split('://', 1)[1]}/.votakvot"
    if not fs.exists(S3_WRITER_PIECES):  # the first run, right after the build: only the writer's are there
        for path in fs.find(f"{pieces}/index"):
            fs.copy(path, f"{S3_WRITER_PIECES}/{path.rsplit('/', 1)[-1]}")
    if fs.exists(pieces):
        fs.rm(pieces, recursive=True)
    for path in fs.find(S3_WRITER_PIECES):
        fs.copy(path, f"{pieces}/index/{path.rsplit('/', 1)[-1]}")
    fs.invalidate_cache()
    parsed = []
    dt, df = ctx.timed(lambda: votakvot.load_report(ctx.args.store, progress=lambda d, t: parsed.append(t)))
    why = check_report(df, n)
    if parsed and parsed[-1]:
        why.append(f"{parsed[-1]} documents fetched and parsed, expected none")
    ctx.add_row("value", dt, "s", verified=not why, why="; ".join(why), n=n)


def work_s3_first(ctx: WorkerContext) -> None:
    """S3, the very first load ever: no piece of the shared index in the store (removed before the
    clock) and an empty local cache, so every document is fetched and parsed."""
    import pandas  # noqa: F401

    import votakvot

    n = ctx.args.n
    os.chdir(ctx.args.scratch)
    os.environ["VOTAKVOT_CACHE_DIR"] = os.path.join(ctx.args.scratch, "votakvot-cache")
    fs = warm_s3_client()
    pieces = f"{ctx.args.store.split('://', 1)[1]}/.votakvot"
    if fs.exists(pieces):
        fs.rm(pieces, recursive=True)
    fs.invalidate_cache()
    dt, df = ctx.timed(lambda: votakvot.load_report(ctx.args.store))
    why = check_report(df, n)
    ctx.add_row("value", dt, "s", verified=not why, why="; ".join(why), n=n)


def work_s3_task(ctx: WorkerContext, where: str, metered: bool) -> None:
    """A tracked task (5 params and a result, as in W3; `metered`: also W3's 10 metric points)
    called n times in a row, on S3 or on the local disk: the median ms per task. On S3 also the
    requests each task makes (counted on the client), how many of them before the task's body
    runs, and the median of one round trip (a 1 KB PUT made after each task, so both see the
    server in the same state)."""
    import statistics

    import aiobotocore.client

    import votakvot

    n = ctx.args.n
    os.chdir(ctx.args.scratch)
    calls: list[str] = []
    make_api_call = aiobotocore.client.AioBaseClient._make_api_call

    async def counted(self, operation, params):
        calls.append(operation)
        return await make_api_call(self, operation, params)

    aiobotocore.client.AioBaseClient._make_api_call = counted
    if where == "s3":
        import fsspec

        s3 = fsspec.filesystem("s3")
        for bucket in (S3_BUCKET, "warm"):
            if not s3.exists(bucket):
                s3.mkdir(bucket)
        warm_s3_client()
        init_votakvot(ctx, votakvot, f"s3://{S3_BUCKET}/tasks-{os.getpid()}")
    else:
        init_votakvot(ctx, votakvot, os.path.join(ctx.args.scratch, f"tasks-{os.getpid()}"))
    at_body: list[int] = []

    def task(lr, depth, batch, opt, dropout):
        at_body.append(len(calls))
        for s in range(10 if metered else 0):
            votakvot.meter(loss=loss_at(s))
        return result_of(lr, depth, batch, opt, dropout)

    fn = tracked(votakvot, "task", task)
    fn(**params_for(0))  # the process's one-time costs (imports, the first git probe) are not a task's
    calls.clear()
    at_body.clear()

    times: list[float] = []
    round_trips: list[float] = []
    data = b"x" * 1024

    def run():
        for i in range(n):
            before = len(calls)
            t0 = perf()
            fn(**params_for(i))
            times.append(perf() - t0)
            at_body[-1] -= before
            if where == "s3":  # one round trip, measured right after each task, uncounted
                made = len(calls)
                t0 = perf()
                s3.pipe_file(f"{S3_BUCKET}/round-trips-{os.getpid()}/{i}", data)
                round_trips.append(perf() - t0)
                del calls[made:]

    ctx.timed(run)
    extra = {}
    if where == "s3":
        extra = dict(requests=len(calls) / n, at_start=sum(at_body) / n, operations=sorted(set(calls)))
        extra["rtt_ms"] = statistics.median(round_trips) * 1000
    ctx.add_row("value", statistics.median(times) * 1000, "ms", n=n, mean=sum(times) / n * 1000, **extra)


# ======================================================================================
# W5: many trials' metric histories as one frame
# ======================================================================================


def _w5_tracked(votakvot):
    """The W5 trial: W5_STEPS `meter(loss, acc)` rows and one float result (as in peers.py)."""

    def w5(lr, depth, batch, opt, dropout):
        meter = votakvot.meter
        for s in range(W5_STEPS):
            x = loss_at(s)
            meter(loss=x, acc=1.0 - x)
        return result_of(lr, depth, batch, opt, dropout)

    return tracked(votakvot, "w5", w5)


def work_w5_build(ctx: WorkerContext) -> None:
    """Builds the W5 store: n trials of W5_STEPS metric rows each."""
    build_store(ctx, _w5_tracked)


def check_w5_frame(df, n: int) -> list[str]:
    """What is wrong with a W5 frame (empty when it has n * W5_STEPS rows with loss and acc everywhere)."""
    why = []
    if len(df) != n * W5_STEPS:
        why.append(f"{len(df)} rows, expected {n * W5_STEPS}")
    for column in ("loss", "acc"):
        if column not in df.columns or df[column].isna().any():
            why.append(f"column {column} missing or incomplete")
    return why


def work_w5(ctx: WorkerContext) -> None:
    """W5: `load_metrics` of the W5 store in a fresh process (pandas imported before the clock), then again."""
    n = ctx.args.n
    os.chdir(ctx.args.scratch)
    os.environ["VOTAKVOT_CACHE_DIR"] = os.path.join(ctx.args.scratch, "votakvot-cache")
    import pandas  # noqa: F401

    import votakvot

    first, df = ctx.timed(lambda: votakvot.load_metrics(ctx.args.store, index=False))
    why = check_w5_frame(df, n)
    if "tid" not in df.columns or df["tid"].nunique() != n:
        why.append("rows not attributed to n trials")
    again, df2 = ctx.timed(lambda: votakvot.load_metrics(ctx.args.store, index=False))
    ctx.add_row("value", first, "s", verified=not why, why="; ".join(why), n=n, rows=len(df))
    ctx.add_row("again", again, "s", verified=not check_w5_frame(df2, n), n=n)
