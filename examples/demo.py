"""A small real demo: estimate pi a few ways, track every run, then compare them in pandas.

    python examples/demo.py [RESULTS_FOLDER]
"""

from __future__ import annotations

import random
import sys

import votakvot


@votakvot.track()
def estimate_pi(n: int, seed: int = 0) -> float:
    """Monte Carlo estimate of pi from `n` random points, metering the running estimate."""
    rng = random.Random(seed)
    inside = 0
    for i in range(1, n + 1):
        x, y = rng.random(), rng.random()
        inside += x * x + y * y <= 1.0
        if i % (n // 10) == 0:
            votakvot.meter(points=i, estimate=4 * inside / i)
    estimate = 4 * inside / n
    votakvot.inform(abs_error=abs(estimate - 3.141592653589793))
    return estimate


class LeibnizPi(votakvot.resumable_fn):
    """Pi from the Leibniz series, resumable: kill it and run again, it goes on from its snapshot."""

    snapshot_period = 0.5

    def init(self, terms: int) -> None:
        self.terms, self.k, self.total = terms, 0, 0.0

    def loop(self) -> float | None:
        for _ in range(1000):
            self.total += (-1) ** self.k / (2 * self.k + 1)
            self.k += 1
            if self.k >= self.terms:
                return 4 * self.total
        return None


def main(root: str) -> None:
    votakvot.init(path=root)
    for n in (1_000, 10_000, 100_000):
        for seed in (1, 2):
            estimate_pi(n, seed=seed)
    with votakvot.trial("notes", kind="manual") as t:
        with t.attach("summary.txt", "w") as f:
            f.write("a trial opened by hand, with an attached file\n")
        t.result = "ok"
    leibniz = votakvot.call("leibniz/terms=200000", LeibnizPi, {"terms": 200_000})
    print(f"Leibniz series with 200,000 terms: {leibniz:.6f}")

    report = votakvot.load_report(root)
    print(report[["tid", "status", "result"]].to_string(index=False))
    runs = votakvot.load_report(f"{root}/__main__/estimate_pi")
    print("\nestimate_pi runs:")
    print(runs[["n", "seed", "result", "abs_error"]].sort_values(["n", "seed"]).to_string(index=False))
    print("\nmean |error| by n:")
    print(runs.groupby("n")["abs_error"].mean().to_string())
    first = runs.iloc[0]["trial"]
    print(f"\nmetrics of {first.tid}:")
    print(votakvot.metrics.load_csv_metrics(first.path)[["step", "points", "estimate"]].to_string(index=False))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "demo-results")
