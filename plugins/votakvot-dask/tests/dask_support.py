"""Fixtures and helpers of the plug-in's tests (imported by each test module; a `conftest.py`
here would clash with the root suite's): a real Dask cluster of two worker processes shared by
a module's tests, an S3-compatible server on 127.0.0.1 (moto), and a clean votakvot per test."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

import votakvot
import votakvot.testing

T = TypeVar("T")
TESTS = str(Path(__file__).resolve().parent)


@pytest.fixture(autouse=True)
def _clean_votakvot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Resets votakvot's process-wide state and runs each test in its own empty folder."""
    monkeypatch.delenv("VOTAKVOT_PATH", raising=False)
    monkeypatch.delenv("VOTAKVOT_PLUGINS", raising=False)
    monkeypatch.setenv("VOTAKVOT_CACHE_DIR", str(tmp_path / "votakvot-cache"))
    monkeypatch.chdir(tmp_path)
    votakvot.testing.reset()
    yield
    votakvot.testing.reset()


@pytest.fixture(scope="module")
def workers_cwd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the workers run in: a trial that missed the driver's root would land here."""
    return tmp_path_factory.mktemp("workers-cwd")


@pytest.fixture(scope="module")
def client(workers_cwd: Path) -> Iterator[object]:
    """A `distributed.Client` of a LocalCluster with two worker processes (one thread each),
    started before any votakvot.init, in `workers_cwd`, able to import the tests' tasks."""
    distributed = pytest.importorskip("distributed")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")]))
        patch.delenv("VOTAKVOT_SETTINGS", raising=False)
        patch.chdir(workers_cwd)
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
        )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def wait_until(predicate: Callable[[], T], timeout: float = 30, interval: float = 0.05) -> T:
    """Calls `predicate` until it returns something truthy or `timeout` seconds pass; returns its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got or time.monotonic() >= deadline:
            return got
        time.sleep(interval)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def moto_s3_server() -> Iterator[str]:
    """Runs a moto S3 server on a free local port for the block; yields its endpoint URL (as the
    root suite's `tests/conftest.py` does)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
