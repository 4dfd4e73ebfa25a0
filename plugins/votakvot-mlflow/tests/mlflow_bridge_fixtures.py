"""Fixtures of the MLflow bridge's tests: a real MLflow sqlite store per test, a real git
repository, a clean votakvot and bridge.

Not a conftest.py: the suite's own tests import helpers from `conftest`, which a second
conftest module would replace. Each test module imports the fixtures it uses from here.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import votakvot_mlflow

import votakvot
import votakvot.testing

MLFLOW_VARIABLES = (
    votakvot_mlflow.ENV,
    votakvot_mlflow.ENV_EXPERIMENT,
    votakvot_mlflow.ENV_EXIT_TIMEOUT,
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
)


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test in its own folder, with the bridge off and nothing left of the last test."""
    for name in MLFLOW_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("VOTAKVOT_PATH", raising=False)
    monkeypatch.delenv("VOTAKVOT_PLUGINS", raising=False)
    monkeypatch.setenv("VOTAKVOT_CACHE_DIR", str(tmp_path / "votakvot-cache"))
    monkeypatch.chdir(tmp_path)
    votakvot.testing.reset()
    yield
    votakvot_mlflow.flush(30)
    votakvot.testing.reset()


_template: list[Path] = []


@pytest.fixture(scope="session")
def empty_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow sqlite database with its tables made (MLflow's migrations take seconds: they
    run once per session, whichever module asks first, and each test gets a copy)."""
    import mlflow

    if not _template:
        path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
        mlflow.MlflowClient(f"sqlite:///{path}").search_experiments()
        _template.append(path)
    return _template[0]


class Store:
    """A real MLflow tracking store (sqlite, artifacts in a folder beside it) and its client."""

    def __init__(self, database: Path) -> None:
        import mlflow

        self.database = database
        self.uri = f"sqlite:///{database}"
        self.client = mlflow.MlflowClient(self.uri)

    def runs(self, experiment: str) -> list[Any]:
        """The runs of `experiment`, oldest first ([] if there is no such experiment)."""
        found = self.client.get_experiment_by_name(experiment)
        if found is None:
            return []
        return list(self.client.search_runs([found.experiment_id], order_by=["attributes.start_time ASC"]))

    def only_run(self, experiment: str) -> Any:
        runs = self.runs(experiment)
        assert len(runs) == 1, f"expected one run in {experiment!r}, found {len(runs)}"
        return runs[0]

    def history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        """(step, value) of a metric, in step order."""
        return sorted((m.step, m.value) for m in self.client.get_metric_history(run_id, key))

    def artifact(self, run_id: str, path: str) -> bytes:
        local = self.client.download_artifacts(run_id, path, str(self.database.parent / "downloads"))
        return Path(local).read_bytes()


@pytest.fixture
def store(empty_database: Path, tmp_path: Path) -> Store:
    database = tmp_path / "mlflow" / "mlflow.db"
    database.parent.mkdir()
    shutil.copyfile(empty_database, database)
    return Store(database)


@pytest.fixture
def git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real git repository with one commit on branch `main`, as the current folder."""
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=repo,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q", "-b", "main")
    (repo / "train.py").write_text("print('hi')\n")
    git("add", "train.py")
    git("commit", "-q", "-m", "first")
    monkeypatch.chdir(repo)
    return repo


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_script(code: str, *, cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Runs `python -c code` to its end with `env` added (the bridge's variables cleared first)."""
    full = {k: v for k, v in os.environ.items() if k not in MLFLOW_VARIABLES}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=full, capture_output=True, text=True, timeout=timeout
    )
