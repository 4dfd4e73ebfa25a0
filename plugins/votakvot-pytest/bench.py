"""What recording a test run costs: a suite of trivial tests run by pytest without the plug-in,
with it installed but off, and with `--votakvot`, each a fresh `python -m pytest` process.

    python plugins/votakvot-pytest/bench.py [--tests 500] [--repeat 5] [--xdist]

Prints a table per mode: the wall time of a whole run of one test (start-up and fixed costs:
imports, the session's trial), the time pytest's test loop took for the N tests (measured inside
the run by the suite's conftest.py, so process start-up noise stays out), that time per test,
and what the mode adds per test to the plug-in installed but off. Best and median of `--repeat`
runs; with `--xdist` also `-n 2`, where the loop includes starting the workers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUITE = "import pytest\n\n\n@pytest.mark.parametrize('n', range({count}))\ndef test_trivial(n):\n    assert n >= 0\n"
# Times pytest's test loop from inside the run and writes the seconds to $BENCH_LOOP_FILE.
LOOP_TIMER = """
import os
import time

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session):
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        with open(os.environ["BENCH_LOOP_FILE"], "w") as f:
            f.write(repr(time.perf_counter() - started))
"""


def _run(folder: Path, args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Runs pytest; returns the wall time of the process and the time of its test loop."""
    loop_file = folder / "loop.txt"
    env = {**env, "BENCH_LOOP_FILE": str(loop_file)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"pytest {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return took, float(loop_file.read_text())


def _suite(base: Path, count: int) -> Path:
    folder = base / f"suite-{count}"
    folder.mkdir()
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "test_trivial.py").write_text(SUITE.format(count=count))
    (folder / "conftest.py").write_text(LOOP_TIMER)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=500, help="tests in the large suite (default 500)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each mode and size; the best counts")
    parser.add_argument("--xdist", action="store_true", help="also run with -n 2 (needs pytest-xdist)")
    options = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS" and not k.startswith("VOTAKVOT_")}
    modes: list[tuple[str, list[str], dict[str, str]]] = [
        ("plug-in not loaded (-p no:votakvot)", ["-p", "no:votakvot"], {}),
        ("plug-in installed, off", [], {}),
        ("--votakvot", ["--votakvot"], {}),
        ("--votakvot, VOTAKVOT_PLUGINS=0", ["--votakvot"], {"VOTAKVOT_PLUGINS": "0"}),
    ]
    if options.xdist:
        modes += [
            ("-n 2, off", ["-n", "2"], {}),
            ("-n 2 --votakvot", ["-n", "2", "--votakvot"], {}),
        ]
    with tempfile.TemporaryDirectory(prefix="votakvot-pytest-bench-") as tmp:
        base = Path(tmp)
        small, large = _suite(base, 1), _suite(base, options.tests)
        rows = []
        for name, args, extra in modes:
            mode_env = {**env, **extra, "VOTAKVOT_CACHE_DIR": str(base / "cache")}
            one = [_run(small, args, mode_env)[0] for _ in range(options.repeat)]
            loops = [_run(large, args, mode_env)[1] for _ in range(options.repeat)]
            rows.append((name, min(one), statistics.median(one), min(loops), statistics.median(loops)))
            print(f"  {name}: done", file=sys.stderr)
    n = options.tests
    per_test = {row[0]: row[3] / n for row in rows}
    print(f"\n{n} trivial tests, {options.repeat} runs of each mode (best / median)\n")
    print(f"| mode | run of 1 test, s | loop of {n} tests, s | per test, ms | added per test, ms |")
    print("|---|---:|---:|---:|---:|")
    for name, one, one_median, loop, loop_median in rows:
        reference = per_test["-n 2, off"] if name.startswith("-n 2") else per_test["plug-in installed, off"]
        print(
            f"| {name} | {one:.2f} / {one_median:.2f} | {loop:.3f} / {loop_median:.3f} | "
            f"{loop / n * 1000:.3f} | {(per_test[name] - reference) * 1000:+.3f} |"
        )


if __name__ == "__main__":
    main()
