"""Helpers of the plug-in's tests: a throw-away pytest project in a temporary folder, run by a
real `python -m pytest` in a subprocess, and its trials read back with votakvot.

(Not a conftest.py: the repository's own tests import theirs as `conftest`.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd

import votakvot

# Variables of the outer run that must not reach the inner one: it records only what a test asks.
_LEFT_OUT = ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID")


_QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


class Project:
    """A folder `project` with a `pytest.ini` (so it is the rootdir) and test files, made in a
    temporary folder, and a way to run pytest in it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "project"
        self.folder.mkdir()
        self.cache = folder / "votakvot-cache"  # the report index of loads in the run
        (self.folder / "pytest.ini").write_text("[pytest]\n")

    @property
    def default_root(self) -> Path:
        return self.folder / ".votakvot" / "tests"

    def write(self, name: str, source: str) -> Path:
        """Writes a file of the project (dedented), creating its folders."""
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
        return path

    def run(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Runs `python -m pytest ARGS` in the project (or `cwd`), without the cache provider and
        hypothesis' plug-in (installed with votakvot's test extra, it takes a second to load)."""
        full_env = {k: v for k, v in os.environ.items() if k not in _LEFT_OUT and not k.startswith("VOTAKVOT_")}
        full_env["VOTAKVOT_CACHE_DIR"] = str(self.cache)
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "pytest", *_QUIET, *args],
            cwd=cwd or self.folder,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def report_of_tests(root: Path | str) -> pd.DataFrame:
    """The report of the tests' trials below `root`, indexed by node id (one run's worth)."""
    report = votakvot.load_report(f"{root}/test")
    assert report["pytest.nodeid"].is_unique, report["pytest.nodeid"].tolist()
    return report.set_index("pytest.nodeid")


def report_of_sessions(root: Path | str) -> pd.DataFrame:
    """The report of the sessions' trials below `root`."""
    return votakvot.load_report(f"{root}/session")


def parent_of(trial: votakvot.Trial) -> str | None:
    """The `parent:` a trial recorded."""
    return trial.data.get("parent")


def shown(result: subprocess.CompletedProcess[str]) -> str:
    """Says what the inner run printed, for assertion messages."""
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
