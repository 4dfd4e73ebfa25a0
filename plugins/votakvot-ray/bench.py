"""What tracking costs per Ray task.

Runs N tasks of a trivial function on a local Ray of 2 CPUs: untracked, and under
`@votakvot.track()` without and with the votakvot-ray meta providers (a tracked function is handed
to a plain remote function, as `ray.remote` takes only functions). The variants take turns after
a warm-up round; prints the median wall time per task of `--repeat` rounds.

    python plugins/votakvot-ray/bench.py [--tasks 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import ray

import votakvot

HERE = os.path.dirname(os.path.abspath(__file__))


def plain(x: int) -> int:
    return x + 1


tracked = votakvot.track(name="bench/tracked")(plain)


def call(fn: Callable[[int], int], x: int) -> int:
    return fn(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, HERE)
    import bench as this  # the workers import the task functions from this module by name

    work = tempfile.mkdtemp(prefix="votakvot-ray-bench-")
    env = {"PYTHONPATH": os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")])}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    remote = ray.remote(this.call)
    n = args.tasks
    without_ray_meta = {k: v for k, v in votakvot.meta.providers.items() if not k.startswith("ray.")}

    root = os.path.join(work, "tasks")

    def init(meta: bool) -> Callable[[], None]:
        return lambda: votakvot.init(path=root, meta_providers=None if meta else without_ray_meta)

    variants: list[tuple[str, Any, Callable[[], None]]] = [
        ("Ray alone (plain function)", this.plain, init(False)),
        ("@track, without votakvot-ray's meta", this.tracked, init(False)),
        ("@track, with votakvot-ray's meta", this.tracked, init(True)),
    ]
    times: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    for round_ in range(args.repeat + 1):  # round 0 warms up (worker processes, imports)
        for name, fn, setup in variants:
            setup()
            start = time.perf_counter()
            ray.get([remote.remote(fn, x) for x in range(n)])
            if round_:
                times[name].append(time.perf_counter() - start)
    ray.shutdown()

    print(f"{n} tasks on a local Ray of 2 CPUs; medians of {args.repeat} runs each\n")
    print(f"| {'workload':<38} | {'wall ms/task':>12} | {'ms/task over Ray':>16} |")
    print(f"|{'-' * 40}|{'-' * 13}:|{'-' * 17}:|")
    base = statistics.median(times[variants[0][0]])
    for name, _, _ in variants:
        seconds = statistics.median(times[name])
        extra = "-" if name == variants[0][0] else f"{(seconds - base) / n * 1000:.3f}"
        print(f"| {name:<38} | {seconds / n * 1000:12.3f} | {extra:>16} |")


if __name__ == "__main__":
    main()
