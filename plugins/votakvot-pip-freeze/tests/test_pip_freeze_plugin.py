"""Tests of the votakvot-pip-freeze plug-in, installed (`pip install -e`) into the running interpreter."""

from __future__ import annotations

import glob
import os
from importlib import metadata
from pathlib import Path

import pytest
import votakvot_pip_freeze
import yaml

import votakvot
import votakvot.meta
import votakvot.plugins
import votakvot.testing


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Runs each test in its own folder with votakvot's and the plug-in's caches forgotten."""
    monkeypatch.delenv("VOTAKVOT_PATH", raising=False)
    monkeypatch.delenv("VOTAKVOT_PLUGINS", raising=False)
    monkeypatch.chdir(tmp_path)
    votakvot.testing.reset()
    votakvot_pip_freeze.cache_clear()
    yield
    votakvot.testing.reset()
    votakvot_pip_freeze.cache_clear()


def _fake_distribution(folder: Path, name: str, version: str) -> None:
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def _only_yaml(root: Path) -> dict:
    (found,) = glob.glob(str(root / "**" / "votakvot.yaml"), recursive=True)
    with open(found, "rb") as f:
        return yaml.safe_load(f)


def test_entry_point_is_discovered():
    """The `pip` entry point of votakvot.meta_providers loads to the plug-in's provider table."""
    found = votakvot.plugins.entries("votakvot.meta_providers")
    assert found["pip"] is votakvot_pip_freeze.PIP_PROVIDERS


def test_provider_is_in_the_default_table():
    """`votakvot.meta.providers` holds `python.pip_freeze` beside the built-in python.* providers."""
    assert votakvot.meta.providers["python.pip_freeze"] is votakvot_pip_freeze.pip_freeze
    assert "python.version" in votakvot.meta.providers


def test_trial_records_installed_distributions(tmp_path: Path):
    """A real trial writes meta.python.pip_freeze with pyyaml and this plug-in at their versions."""
    votakvot.init(path=str(tmp_path / "results"))
    with votakvot.trial("x") as t:
        t.result = 1

    frozen = _only_yaml(tmp_path / "results")["meta"]["python"]["pip_freeze"]
    assert frozen["pyyaml"] == yaml.__version__
    assert frozen["votakvot-pip-freeze"] == metadata.version("votakvot-pip-freeze")
    assert frozen["votakvot"] == votakvot.__version__
    assert list(frozen) == sorted(frozen)


def test_names_are_normalized_and_first_on_sys_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Names take the PEP 503 form, and of two copies the one earlier on sys.path is reported."""
    _fake_distribution(tmp_path / "early", "Fake_Dist.One", "2.0")
    _fake_distribution(tmp_path / "late", "fake-dist-one", "1.0")
    monkeypatch.syspath_prepend(str(tmp_path / "late"))
    monkeypatch.syspath_prepend(str(tmp_path / "early"))

    assert votakvot_pip_freeze.pip_freeze()["fake-dist-one"] == "2.0"


def test_new_folder_on_sys_path_invalidates_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A folder with a new distribution, put on sys.path after a first scan, shows up in the next one."""
    assert "votakvot-fake-one" not in votakvot_pip_freeze.pip_freeze()

    _fake_distribution(tmp_path / "site", "votakvot-fake-one", "1.2.3")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))

    assert votakvot_pip_freeze.pip_freeze()["votakvot-fake-one"] == "1.2.3"


def test_install_into_known_folder_invalidates_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A distribution added to a folder already on sys.path shows up: the folder's mtime changed."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    assert "votakvot-fake-two" not in votakvot_pip_freeze.pip_freeze()

    _fake_distribution(site, "votakvot-fake-two", "0.1")

    assert votakvot_pip_freeze.pip_freeze()["votakvot-fake-two"] == "0.1"


def test_unchanged_folders_reuse_the_cached_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An in-place METADATA edit that leaves every sys.path folder's mtime alone is not rescanned."""
    site = tmp_path / "site"
    _fake_distribution(site, "votakvot-fake-three", "1.0")
    monkeypatch.syspath_prepend(str(site))
    assert votakvot_pip_freeze.pip_freeze()["votakvot-fake-three"] == "1.0"
    before = os.stat(site).st_mtime_ns

    (metadata_file,) = site.glob("*.dist-info/METADATA")
    metadata_file.write_text("Metadata-Version: 2.1\nName: votakvot-fake-three\nVersion: 9.9\n")
    assert os.stat(site).st_mtime_ns == before

    assert votakvot_pip_freeze.pip_freeze()["votakvot-fake-three"] == "1.0"
    votakvot_pip_freeze.cache_clear()
    assert votakvot_pip_freeze.pip_freeze()["votakvot-fake-three"] == "9.9"


def test_broken_distribution_is_left_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A dist-info folder with no METADATA, or one that is not UTF-8, is skipped, not an error."""
    (tmp_path / "site" / "broken-1.0.dist-info").mkdir(parents=True)
    (tmp_path / "site" / "garbled-1.0.dist-info").mkdir()
    (tmp_path / "site" / "garbled-1.0.dist-info" / "METADATA").write_bytes(b"Name: garbled\nVersion: \xff\xfe\n")
    _fake_distribution(tmp_path / "site", "votakvot-fake-four", "4.0")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))

    frozen = votakvot_pip_freeze.pip_freeze()

    assert frozen["votakvot-fake-four"] == "4.0"
    assert "broken" not in frozen
    assert "garbled" not in frozen


def test_callers_get_their_own_copy():
    """Editing one trial's pip_freeze value does not change what the next trial gets."""
    first = votakvot_pip_freeze.pip_freeze()
    first["votakvot"] = "edited"

    assert votakvot_pip_freeze.pip_freeze()["votakvot"] == votakvot.__version__


def test_removing_the_key_turns_it_off(tmp_path: Path):
    """A copy of the provider table without `python.pip_freeze`, given to init, records no freeze."""
    providers = dict(votakvot.meta.providers)
    del providers["python.pip_freeze"]
    votakvot.init(path=str(tmp_path / "results"), meta_providers=providers)
    with votakvot.trial("x"):
        pass

    python_meta = _only_yaml(tmp_path / "results")["meta"]["python"]
    assert "pip_freeze" not in python_meta
    assert "version" in python_meta
