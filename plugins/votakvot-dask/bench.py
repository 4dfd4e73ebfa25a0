"""What tracking costs per Dask task, and what read_report costs against load_report.

Runs N tasks of a trivial function on a LocalCluster of two worker processes (one thread each):
untracked, under `@votakvot.track()` without and with the votakvot-dask meta providers, and with
attempts counted too; then reads M trials with `load_report` and with `read_report(...).compute()`.
The variants take turns (after a warm-up round), and each is timed on the wall clock and by the
CPU time of the worker processes and of the driver (client and scheduler), so that other load on
the machine inflates the wall times more than the CPU times. Prints a table of medians.

    python plugins/votakvot-dask/bench.py [--tasks 2000] [--trials 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import distributed
import votakvot_dask

import votakvot

HERE = os.path.dirname(os.path.abspath(__file__))


def plain(x: int) -> int:
    return x + 1


tracked = votakvot.track(name="bench/tracked")(plain)


def _plugins(dask_scheduler: distributed.Scheduler) -> list[str]:
    return list(dask_scheduler.plugins)


def _median_seconds(run: Callable[[], object], repeat: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class Variant:
    """One way of running the tasks: what to send, and the settings in force."""

    def __init__(self, name: str, fn: Callable[[int], int], setup: Callable[[], None]) -> None:
        self.name, self.fn, self.setup = name, fn, setup
        self.wall: list[float] = []
        self.worker_cpu: list[float] = []
        self.driver_cpu: list[float] = []


def _measure(client: distributed.Client, variant: Variant, n: int, *, keep: bool) -> None:
    """Runs the n tasks once; keeps wall time, the workers' CPU time and the driver's (client and
    scheduler) CPU time, in seconds."""
    variant.setup()
    workers_before = client.run(time.process_time)
    driver_before = time.process_time()
    start = time.perf_counter()
    client.gather(client.map(variant.fn, range(n), pure=False))
    wall = time.perf_counter() - start
    driver = time.process_time() - driver_before
    workers_after = client.run(time.process_time)
    if keep:
        variant.wall.append(wall)
        variant.driver_cpu.append(driver)
        variant.worker_cpu.append(sum(workers_after[w] - workers_before[w] for w in workers_after))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, HERE)
    os.environ["PYTHONPATH"] = os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")])
    import bench as this  # the workers import the task functions from this module by name

    work = tempfile.mkdtemp(prefix="votakvot-dask-bench-")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
    )
    client = distributed.Client(cluster)
    n = args.tasks
    without_dask_meta = {k: v for k, v in votakvot.meta.providers.items() if not k.startswith("dask.")}

    def settings(meta: bool, attempts: bool) -> Callable[[], None]:
        def setup() -> None:
            votakvot.init(path=os.path.join(work, "tasks"), meta_providers=None if meta else without_dask_meta)
            if attempts:
                votakvot_dask.count_attempts(client)
            elif votakvot_dask.AttemptCounter.name in client.run_on_scheduler(_plugins):
                client.unregister_scheduler_plugin(votakvot_dask.AttemptCounter.name)

        return setup

    variants = [
        Variant("Dask alone (plain function)", this.plain, settings(False, False)),
        Variant("@track, without votakvot-dask's meta", this.tracked, settings(False, False)),
        Variant("@track, with votakvot-dask's meta", this.tracked, settings(True, False)),
        Variant("@track, with meta and count_attempts", this.tracked, settings(True, True)),
    ]
    for round_ in range(args.repeat + 1):  # round 0 warms up; the variants take turns, so drift hits all
        for variant in variants:
            _measure(client, variant, n, keep=round_ > 0)

    print(f"{n} tasks on a LocalCluster of 2 worker processes x 1 thread; medians of {args.repeat} runs each\n")
    print(f"| {'workload':<40} | {'wall ms/task':>12} | {'worker CPU ms/task':>18} | {'driver CPU ms/task':>18} |")
    print(f"|{'-' * 42}|{'-' * 13}:|{'-' * 19}:|{'-' * 19}:|")
    for variant in variants:
        samples = (variant.wall, variant.worker_cpu, variant.driver_cpu)
        wall, worker, driver = (statistics.median(v) / n * 1000 for v in samples)
        print(f"| {variant.name:<40} | {wall:12.3f} | {worker:18.3f} | {driver:18.3f} |")

    root = os.path.join(work, "report")
    votakvot.init(path=root)
    for i in range(args.trials):
        with votakvot.trial("bench/report", i=i, lr=i / args.trials) as t:
            t.result = {"acc": i % 7}
    load = _median_seconds(lambda: votakvot.load_report(root, index=False), args.repeat)
    read = _median_seconds(lambda: votakvot_dask.read_report(root).compute(), args.repeat)
    print(f"\n{args.trials} trials on the local disk; median of {args.repeat} runs\n")
    print(f"| {'reader':<44} | {'s':>7} |")
    print(f"|{'-' * 46}|{'-' * 8}:|")
    print(f"| {'votakvot.load_report(root, index=False)':<44} | {load:7.3f} |")
    print(f"| {'votakvot_dask.read_report(root).compute()':<44} | {read:7.3f} |")
    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
