"""The job table: the worker function behind every job name, and the jobs a run selects.

A job is one measurement (a worker, or an `import` snippet for the import rows) that the parent
runs once per repetition; a build job makes a W3 or S3 store once, before the repetitions.
"""

from __future__ import annotations

import argparse
import json
import os
import traceback
from typing import NamedTuple

from _floor_jobs import work_s3_sequential, work_w4a, work_w4b, work_w4c, work_w4d
from _settings import S3_BUCKET
from _votakvot_jobs import (
    work_s3,
    work_s3_build,
    work_s3_cold,
    work_s3_first,
    work_s3_task,
    work_w1,
    work_w2,
    work_w3,
    work_w3_build,
    work_w3_first,
    work_w3_shared,
    work_w5,
    work_w5_build,
)
from _worker import WorkerContext

# ======================================================================================
# worker side: job name -> the function that measures it
# ======================================================================================

WORKERS = {
    "w1.track.nogit": lambda c: work_w1(c, "track", False),
    "w1.trial.nogit": lambda c: work_w1(c, "trial", False),
    "w1.track.git": lambda c: work_w1(c, "track", True),
    "w1.trial.git": lambda c: work_w1(c, "trial", True),
    "w1.floor": work_w4a,
    "w2.meter1": lambda c: work_w2(c, 1),
    "w2.meter3": lambda c: work_w2(c, 3),
    "w2.floor": work_w4c,
    "w3.build": work_w3_build,
    "w3.vk": work_w3,
    "w3.first": work_w3_first,
    "w3.shared": work_w3_shared,
    "w3.floor": work_w4b,
    "w5.build": work_w5_build,
    "w5.vk": work_w5,
    "w5.floor": work_w4d,
    "s3.build": work_s3_build,
    "s3.vk": work_s3,
    "s3.first": work_s3_first,
    "s3.cold": work_s3_cold,
    "s3.seq": work_s3_sequential,
    "s3.task": lambda c: work_s3_task(c, "s3", False),
    "s3.task.local": lambda c: work_s3_task(c, "local", False),
    "s3.metered": lambda c: work_s3_task(c, "s3", True),
    "s3.metered.local": lambda c: work_s3_task(c, "local", True),
}


def run_worker(args: argparse.Namespace) -> int:
    """Runs the job `args.worker` in this process and writes its rows, notes and errors to `args.out`.

    A failing job is reported in the file, not by the exit code: the parent reads every worker's
    file the same way.
    """
    ctx = WorkerContext(args)
    out = {"rows": ctx.rows, "notes": ctx.notes, "errors": []}
    try:
        WORKERS[args.worker](ctx)
    except Exception as e:
        out["errors"].append(f"{type(e).__name__}: {e}")
        traceback.print_exc()
    with open(args.out, "w") as f:
        json.dump(out, f, default=str)
    return 0


# ======================================================================================
# parent side: the jobs of a run
# ======================================================================================

GROUPS = ("w1", "w2", "w3", "w5", "import", "s3")


class Job:
    """One measurement: a worker (or an import snippet) run once per repetition."""

    def __init__(self, key: str, group: str, n: int = 0, store: str = "", module: str = "") -> None:
        self.key, self.group, self.n, self.store, self.module = key, group, n, store, module

    @property
    def id(self) -> str:
        """The job's name in the results: its key, with its size when it has one."""
        return f"{self.key}@{self.n}" if self.n else self.key


class Stores(NamedTuple):
    """Where the W3 stores (one per size) and the S3 store live."""

    report: str
    report_large: str
    report_huge: str
    metrics: str
    s3: str


def selects(word: str, job: Job) -> bool:
    """Whether an --only (or --profile) word picks `job`: its group, its name, or a prefix of its name."""
    return word == job.group or job.key == word or job.key.startswith(word + ".")


def plan(args: argparse.Namespace, base: str) -> tuple[list[Job], list[Job]]:
    """(build jobs run once, measured jobs run once per repetition) for --only, the floors included."""
    stores = Stores(
        report=os.path.join(base, "w3-store"),
        report_large=os.path.join(base, "w3-store-large"),
        report_huge=os.path.join(base, "w3-store-huge"),
        metrics=os.path.join(base, "w5-store"),
        s3=f"s3://{S3_BUCKET}/w3",
    )
    builds, jobs = _all_builds(args, stores), _all_jobs(args, stores)
    wanted = _wanted(args, jobs)
    jobs = [j for j in jobs if any(selects(w, j) for w in wanted)]
    jobs += _floors_brought_along(args, stores, jobs)
    used = {j.store for j in jobs if j.store}
    builds = [b for b in builds if b.store in used]
    return builds, jobs


def _all_builds(args: argparse.Namespace, stores: Stores) -> list[Job]:
    """Every store a run may need, in build order."""
    builds = [
        Job("w3.build", "w3", args.report, stores.report),
        Job("w3.build", "w3", args.report_large, stores.report_large),
        Job("w5.build", "w5", args.w5_trials, stores.metrics),
        Job("s3.build", "s3", args.s3_trials, stores.s3),
    ]
    if args.report_huge:
        builds.append(Job("w3.build", "w3", args.report_huge, stores.report_huge))
    return builds


def _all_jobs(args: argparse.Namespace, stores: Stores) -> list[Job]:
    """Every measurement a run may make, in the order of the first repetition."""
    jobs = [
        Job("w1.track.nogit", "w1", args.runs),
        Job("w1.trial.nogit", "w1", args.runs),
        Job("w1.track.git", "w1", args.runs),
        Job("w1.trial.git", "w1", args.runs),
        Job("w1.floor", "w1", args.runs),
        Job("w2.meter1", "w2", args.points),
        Job("w2.meter3", "w2", args.points),
        Job("w2.floor", "w2", args.points),
        Job("w3.vk", "w3", args.report, stores.report),
        Job("w3.first", "w3", args.report, stores.report),
        Job("w3.shared", "w3", args.report, stores.report),
        Job("w3.floor", "w3", args.report, stores.report),
        Job("w3.vk", "w3", args.report_large, stores.report_large),
        Job("w3.first", "w3", args.report_large, stores.report_large),
        Job("w3.shared", "w3", args.report_large, stores.report_large),
        Job("w3.floor", "w3", args.report_large, stores.report_large),
        Job("w5.vk", "w5", args.w5_trials, stores.metrics),
        Job("w5.floor", "w5", args.w5_trials, stores.metrics),
        Job("import.votakvot", "import", module="votakvot"),
        Job("import.pandas", "import", module="pandas"),
        Job("import.yaml", "import", module="yaml"),
        Job("s3.cold", "s3", args.s3_trials, stores.s3),
        Job("s3.first", "s3", args.s3_trials, stores.s3),
        Job("s3.vk", "s3", args.s3_trials, stores.s3),
        Job("s3.seq", "s3", args.s3_trials, stores.s3),
        Job("s3.task", "s3", args.s3_tasks),
        Job("s3.task.local", "s3", args.s3_tasks),
        Job("s3.metered", "s3", args.s3_tasks),
        Job("s3.metered.local", "s3", args.s3_tasks),
    ]
    if args.report_huge:  # votakvot alone: the floor would take ~30 s per try at 100,000 trials
        jobs.append(Job("w3.vk", "w3", args.report_huge, stores.report_huge))
        jobs.append(Job("w3.first", "w3", args.report_huge, stores.report_huge))
        jobs.append(Job("w3.shared", "w3", args.report_huge, stores.report_huge))
    return jobs


def _wanted(args: argparse.Namespace, jobs: list[Job]) -> list[str]:
    """The --only words (every group but s3, or with --s3 every group, when it is empty); exits on a
    word that picks no job."""
    wanted = [w.strip().lower() for w in (args.only or "").split(",") if w.strip()]
    if not wanted:
        wanted = [g for g in GROUPS if g != "s3" or args.s3]
    for w in wanted:
        if not any(selects(w, j) for j in jobs):
            raise SystemExit(
                f"--only: {w!r} matches nothing; groups {', '.join(GROUPS)}; jobs: "
                + ", ".join(sorted({j.key for j in jobs}))
            )
    return wanted


def _floors_brought_along(args: argparse.Namespace, stores: Stores, jobs: list[Job]) -> list[Job]:
    """The floors the chosen jobs are compared with and did not choose themselves.

    A votakvot job brings its group's floor; a W3 job at one size brings the W3 floor at that size.
    """
    floors = [
        Job("w1.floor", "w1", args.runs),
        Job("w2.floor", "w2", args.points),
        Job("w3.floor", "w3", args.report, stores.report),
        Job("w3.floor", "w3", args.report_large, stores.report_large),
        Job("w5.floor", "w5", args.w5_trials, stores.metrics),
        Job("import.pandas", "import", module="pandas"),
        Job("s3.seq", "s3", args.s3_trials, stores.s3),
        Job("s3.task.local", "s3", args.s3_tasks),
        Job("s3.metered.local", "s3", args.s3_tasks),
    ]
    groups = {j.group for j in jobs}
    return [
        j
        for j in floors
        if j.group in groups
        and not any(j.key == k.key and j.n == k.n for k in jobs)
        and (j.group != "w3" or any(k.group == "w3" and k.n == j.n for k in jobs))
    ]
