"""A clean votakvot for every test of the plug-in, with its root in the test's own folder."""

from __future__ import annotations

from pathlib import Path

import pytest

import votakvot
import votakvot.testing


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Runs each test in its own folder with votakvot's process-wide state forgotten, root `results/`."""
    monkeypatch.delenv("VOTAKVOT_PATH", raising=False)
    monkeypatch.delenv("VOTAKVOT_SETTINGS", raising=False)
    monkeypatch.setenv("VOTAKVOT_CACHE_DIR", str(tmp_path / "votakvot-cache"))
    monkeypatch.chdir(tmp_path)
    votakvot.testing.reset()
    votakvot.init(path=str(tmp_path / "results"))
    yield
    votakvot.testing.reset()
