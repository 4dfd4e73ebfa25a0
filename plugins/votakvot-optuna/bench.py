"""Optuna trials per second with and without votakvot tracking; prints one markdown table.

    python plugins/votakvot-optuna/bench.py                 # 200 trials, median of 3 studies per cell
    python plugins/votakvot-optuna/bench.py --before        # also the whole Trial stored as an object

Each cell optimizes a fresh in-memory study of an objective with two params and five
`trial.report` calls under a MedianPruner, in a scratch folder outside any git repository,
trials written to the local disk. Meta providers are votakvot's built-ins only (other installed
plug-ins such as pip-freeze are left out, to measure this one). One untimed study of 3 trials
runs first for each row (imports, plug-in discovery).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import optuna
import votakvot_optuna

import votakvot
import votakvot.plugins

BUILTIN_PROVIDERS = ("git", "process", "python", "system")


def objective(trial: optuna.trial.BaseTrial) -> float:
    x = trial.suggest_float("x", -10, 10)
    layers = trial.suggest_int("layers", 1, 4)
    for step in range(5):
        trial.report((x - 2) ** 2 + layers + 5 - step, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return (x - 2) ** 2 + layers


def stored_as_given(trial: optuna.trial.BaseTrial) -> float:
    """What `@votakvot.track()` did before: the Trial (with its study) stored as an object."""
    with votakvot.trial("before", trial=trial) as t:
        t.result = objective(trial)
    return float(t.result)


def _plugins(on: bool) -> None:
    os.environ["VOTAKVOT_PLUGINS"] = "1" if on else "0"
    votakvot.plugins.reset()


def _builtin_meta() -> dict[str, Any]:
    tables = votakvot.plugins.entries("votakvot.meta_providers")
    providers: dict[str, Any] = {}
    for name in BUILTIN_PROVIDERS:
        providers.update(tables[name])
    return providers


# (row label, plug-ins on, the objective to optimize)
SETUPS: list[tuple[str, bool, Callable[[optuna.trial.BaseTrial], float]]] = [
    ("Optuna alone", True, objective),
    ("`@votakvot_optuna.track()`", True, votakvot_optuna.track(objective)),
    ("`@votakvot.track()`, votakvot-optuna installed", True, votakvot.track(name="plain")(objective)),
    (
        "`@votakvot.track()`, plug-ins off (size guard: the Trial is a note)",
        False,
        votakvot.track(name="guarded")(objective),
    ),
]
BEFORE = (
    "`votakvot.trial(..., trial=trial)`, plug-ins off: the whole Trial as `!!python/object`",
    False,
    stored_as_given,
)
NONE = "-"


def _run(fn: Callable[[optuna.trial.BaseTrial], float], sampler: str, trials: int, root: str) -> float:
    """Seconds to optimize a fresh study of `trials` trials with `fn`."""
    votakvot.init(path=root, meta_providers=_builtin_meta(), heartbeat=5.0, flush_interval=1.0)
    make = optuna.samplers.TPESampler if sampler == "TPE" else optuna.samplers.RandomSampler
    study = optuna.create_study(sampler=make(seed=0), pruner=optuna.pruners.MedianPruner(n_warmup_steps=1))
    start = time.perf_counter()
    study.optimize(fn, n_trials=trials)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=200, help="Optuna trials per study (default 200)")
    parser.add_argument("--reps", type=int, default=3, help="studies per cell; the median is shown (default 3)")
    parser.add_argument("--before", action="store_true", help="add the row of the Trial stored as an object (slow)")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")  # the size guard's warning, once per row, is the point of that row
    samplers = ("Random", "TPE")
    setups = [*SETUPS, BEFORE] if args.before else SETUPS
    runs: dict[tuple[str, str], list[float]] = {(label, sampler): [] for label, _, _ in setups for sampler in samplers}
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        # Repetitions go round all the rows, so that a busy moment of the machine hits every row alike.
        for rep in range(args.reps):
            for row, (label, plugins_on, fn) in enumerate(setups):
                _plugins(plugins_on)
                _run(fn, "Random", 3, os.path.join(scratch, "warm-up"))
                for sampler in samplers:
                    runs[label, sampler].append(_run(fn, sampler, args.trials, os.path.join(scratch, f"{rep}-{row}")))
                    print(f"{label} / {sampler}: {runs[label, sampler][-1]:.3f} s", file=sys.stderr)
        _plugins(True)
    seconds = {cell: statistics.median(times) for cell, times in runs.items()}
    print(
        f"Optuna {optuna.__version__}, votakvot {votakvot.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; {args.trials} trials per study, median of {args.reps} studies\n"
    )
    print("| setup | " + " | ".join(f"{s}: trials/s | {s}: ms/trial over Optuna alone" for s in samplers) + " |")
    print("|---|" + "---:|---:|" * len(samplers))
    for label, _, _ in setups:
        cells = []
        for sampler in samplers:
            took = seconds[label, sampler]
            extra = (took - seconds["Optuna alone", sampler]) / args.trials * 1000
            cells += [f"{args.trials / took:,.0f}", NONE if label == "Optuna alone" else f"{extra:+.2f}"]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
