#!/usr/bin/env python3
"""votakvot's own benchmark: votakvot next to the plain-Python floors, in one markdown table.

Run it from the project root, with an interpreter where votakvot is installed:

    python bench/bench.py --quick              # smoke test, well under 90 s
    python bench/bench.py --json bench.json    # full run, a few minutes on 2 cores
    python bench/bench.py --only w1,import     # a subset (groups or job names, see --help)
    python bench/bench.py --s3                 # adds the S3 row (needs moto[server] and s3fs)
    python bench/bench.py --profile w1.track.git,w2.meter1   # cProfile of timed regions, no table

The table goes to stdout and progress to stderr; the exit code is 1 when a worker failed or a
result did not verify.

Method (bench/README.md has the details): every measurement runs in a fresh subprocess (this
file re-invoked with --worker JOB), from a scratch folder outside any git repository unless the
job asks for a git repository; imports and store set-up are outside the clock; each result is
verified after the clock stops; medians over --reps repetitions (fresh processes) with
min-max; the floors (plain Python, no tracker) are bounds: best of 5 tries inside their
worker process, then the median over repetitions, as in the cross-tracker harness peers.py
(bench/README.md says where it lives and how to run it).

This file is the entry point and owns the command line; the rest lives beside it:

    _settings.py        run sizes per mode and the constants every side shares
    _jobs.py            the job table: the worker function behind each job name, the jobs a run selects
    _worker.py          the worker's toolkit: workload data, clock and result rows, set-up helpers
    _votakvot_jobs.py   votakvot's side of each workload (W1, W2, W3, S3)
    _floor_jobs.py      the plain-Python floors (W4a, W4b, W4c, S3 one-at-a-time)
    _runner.py          the processes of a run: workers, import snippets, the moto S3 server
    _parent.py          the parent: runs the plan, aggregates the repetitions, prints the report
    _render.py          the markdown report

This is a script, not a test: pytest does not collect it (not under tests/, no test_ names).
"""

from __future__ import annotations

import argparse
import sys

from _jobs import run_worker
from _parent import run_benchmark

# ======================================================================================
# command line: the public options, and the hidden ones the parent passes to its workers
# ======================================================================================


def build_parser() -> argparse.ArgumentParser:
    """The parser of both roles: a benchmark run, and a worker re-invoked with --worker JOB."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _add_size_options(parser)
    _add_run_options(parser)
    _add_profile_options(parser)
    _add_worker_options(parser)
    return parser


def _add_size_options(parser: argparse.ArgumentParser) -> None:
    """The mode, the size of each workload and the optional S3 row; unset sizes come from the mode."""
    parser.add_argument("--quick", action="store_true", help="small sizes (W1 100 trials, W2 20k points, W3 200/1,000)")
    parser.add_argument("--runs", type=int, help="W1 trials per process (full 500, quick 100)")
    parser.add_argument("--points", type=int, help="W2 meter points (full 100000, quick 20000)")
    parser.add_argument("--report", type=int, help="W3 trials (full 2000, quick 200)")
    parser.add_argument("--report-large", type=int, help="W3 large store, with peak RSS (full 10000, quick 1000)")
    parser.add_argument(
        "--report-huge",
        type=int,
        help="W3 at a third size, votakvot only, e.g. 100000 to measure the 100k targets directly "
        "(default: off; builds the store once, ~1 min per 100k trials, then ~1 min per repetition)",
    )
    parser.add_argument("--w5-trials", type=int, help="W5 trials of 1,000 metric rows each (full 200, quick 50)")
    parser.add_argument("--s3", action="store_true", help="add the S3 row (moto server on 127.0.0.1)")
    parser.add_argument("--s3-trials", type=int, help="trials written to S3 (full 2000, quick 200)")
    parser.add_argument("--s3-tasks", type=int, help="tracked tasks timed on S3 and on disk (full 200, quick 50)")
    parser.add_argument(
        "--s3-latency",
        type=float,
        default=0.0,
        help="milliseconds the moto server waits before answering each request (default 0: a local "
        "server, whose own CPU then bounds any concurrency; e.g. 20 mimics a remote bucket)",
    )


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """How the measurements run: repetitions, selection, output, scratch folder, plug-ins, warm-up."""
    parser.add_argument("--reps", type=int, default=3, help="repetitions, each measurement in a fresh process (3)")
    parser.add_argument(
        "--only",
        help="comma list of groups (w1, w2, w3, import, s3) or job names (e.g. w1.track.git, "
        "w1.track = both git variants); floors come along",
    )
    parser.add_argument("--json", help="write the raw and aggregated numbers here")
    parser.add_argument("--workdir", help="scratch folder (default: a fresh temp dir, removed at the end)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument(
        "--reuse-stores",
        action="store_true",
        help="with --workdir: use the local W3 stores an earlier run left there (e.g. to compare two checkouts)",
    )
    parser.add_argument("--settle", type=float, help="seconds to idle between processes (full 0.5, quick 0.1)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per worker process")
    parser.add_argument(
        "--plugins",
        choices=("builtin", "installed"),
        default="builtin",
        help="builtin (default): trials use only votakvot's own meta providers and sinks, whatever "
        "else is installed; installed: every installed plug-in (the user's default)",
    )
    parser.add_argument(
        "--no-warmup",
        action="store_true",
        help="W1/W2: no untimed first trial; the process's one-time costs land in the clock (as peers.py)",
    )


def _add_profile_options(parser: argparse.ArgumentParser) -> None:
    """--profile runs the chosen jobs once under cProfile instead of printing the table."""
    parser.add_argument("--profile", help="cProfile these jobs' timed regions once and print the top functions")
    parser.add_argument("--profile-top", type=int, default=25, help="lines per profile listing")


def _add_worker_options(parser: argparse.ArgumentParser) -> None:
    """What the parent tells a worker: its job, where to write, its size and store (hidden from --help)."""
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--store", default="", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", default="", help=argparse.SUPPRESS)


def main(argv: list[str] | None = None) -> int:
    """Runs one worker job (--worker JOB) or a whole benchmark; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.worker:
        return run_worker(args)
    return run_benchmark(args)


if __name__ == "__main__":
    sys.exit(main())
