"""Shared fixtures: a clean votakvot for every test, and trial roots on each kind of storage."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

import votakvot
import votakvot.testing

T = TypeVar("T")

SRC = str(Path(__file__).resolve().parent.parent / "src")


@pytest.fixture(autouse=True)
def _clean_votakvot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Resets votakvot's process-wide state and runs each test in its own empty folder."""
    monkeypatch.delenv("VOTAKVOT_PATH", raising=False)
    monkeypatch.setenv("VOTAKVOT_CACHE_DIR", str(tmp_path / "votakvot-cache"))
    monkeypatch.chdir(tmp_path)
    votakvot.testing.reset()
    yield
    votakvot.testing.reset()


@pytest.fixture(params=["local", "memory"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh trial root, on the local disk and in fsspec's memory:// filesystem."""
    if request.param == "local":
        yield str(tmp_path / "results")
        return
    url = f"memory://votakvot-tests/{uuid.uuid4().hex}"
    yield url
    import fsspec

    fs = fsspec.filesystem("memory")
    if fs.exists(url):
        fs.rm(url, recursive=True)


@pytest.fixture
def local_root(tmp_path: Path) -> str:
    """A fresh trial root on the local disk."""
    return str(tmp_path / "results")


class Distribution:
    """A tiny installed distribution: a *.dist-info folder and its modules, in a folder on sys.path."""

    def __init__(self, site: Path) -> None:
        self.site = site
        self.modules: list[str] = []

    def module(self, source: str) -> str:
        """Writes a module with a unique name and returns that name."""
        name = f"votakvot_test_plugin_{uuid.uuid4().hex[:12]}"
        (self.site / f"{name}.py").write_text(textwrap.dedent(source))
        self.modules.append(name)
        return name

    def install(self, project: str, entry_points: dict[str, dict[str, str]]) -> None:
        """Writes METADATA and entry_points.txt for `project` and forgets the plug-in cache."""
        info = self.site / f"{project.replace('-', '_')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project}\nVersion: 0.1\n")
        lines = []
        for group, entries in entry_points.items():
            lines.append(f"[{group}]")
            lines.extend(f"{name} = {target}" for name, target in entries.items())
            lines.append("")
        (info / "entry_points.txt").write_text("\n".join(lines))
        votakvot.testing.reset()


@pytest.fixture
def dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Installs third-party plug-in distributions for one test (a folder prepended to sys.path)."""
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    made = Distribution(site)
    yield made
    for name in made.modules:
        sys.modules.pop(name, None)
    votakvot.plugins.reset()


def read_yaml(url_or_path: str) -> dict:
    """Reads a votakvot.yaml (local path or fsspec URL) with PyYAML's safe loader."""
    import fsspec
    import yaml

    with fsspec.open(url_or_path, "rb") as f:
        return yaml.safe_load(f.read())


def run_python(
    code: str, *, cwd: str | os.PathLike[str], env: dict[str, str] | None = None, **kwargs
) -> subprocess.Popen:
    """Starts `python -c code` with votakvot importable, in `cwd`."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = SRC + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    return subprocess.Popen([sys.executable, "-c", code], cwd=cwd, env=full_env, **kwargs)


def wait_until(predicate: Callable[[], T], timeout: float = 10, interval: float = 0.01) -> T:
    """Calls `predicate` every `interval` seconds until it returns something truthy or `timeout`
    seconds have passed; returns its last answer (falsy on timeout), so `assert wait_until(...)`
    reads as the condition itself."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got or time.monotonic() >= deadline:
            return got
        time.sleep(interval)


def child_pids() -> set[int]:
    """The processes started by this one (and by those) that have not been reaped yet."""
    import psutil

    return {p.pid for p in psutil.Process().children(recursive=True)}


def wait_for_children(before: set[int], timeout: float = 10) -> bool:
    """Waits until every process started since `before = child_pids()` has exited, so whatever it
    did is done (e.g. a `touch` a hostile document might have spawned); False if one still runs."""
    import psutil

    def all_exited() -> bool:
        for pid in child_pids() - before:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    return False
            except psutil.NoSuchProcess:
                pass
        return True

    return wait_until(all_exited, timeout)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# What the moto S3 server accepts as credentials.
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@contextlib.contextmanager
def environment(values: dict[str, str]):
    """Sets these environment variables for the block, then puts back what was there."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def moto_s3_server():
    """Runs a moto S3 server on a free local port for the block; yields its endpoint URL."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
