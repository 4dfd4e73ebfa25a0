"""`votakvot.init` checks what it is given; `votakvot.settings()` is a picklable object that
another process can apply; $VOTAKVOT_SETTINGS carries the settings to processes started later."""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import subprocess
import warnings
from pathlib import Path

import fsspec
import pytest

import votakvot
import votakvot.testing
from conftest import run_python
from votakvot.errors import SettingsError, VotakvotError


def provider_for_tests():
    """A module-level meta provider: it travels by reference."""
    return "referenced"


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"path": "foo://x"}, "no protocol 'foo'"),
        ({"sinks": ["yaml", "cvs"]}, "['cvs']; installed: ["),
        ({"sinks": "yaml"}, "list of sink names"),
        ({"snapshot_serializer": "pikle"}, "serializer='pikle') is not an installed serializer"),
        ({"heartbeat": "5"}, "heartbeat='5') must be a positive number of seconds"),
        ({"flush_interval": 0}, "flush_interval=0"),
        ({"meta_timeout": math.nan}, "meta_timeout=nan"),
        ({"system_metrics": -1}, "system_metrics=-1) must be None or a positive"),
        ({"heartbeat": True}, "heartbeat=True"),
        ({"handle_sigterm": "no"}, "handle_sigterm='no') must be True or False"),
        ({"meta_providers": {"x": 1}}, "must map dotted names to callables"),
        ({"storage_options": "key=1"}, "must be a dict of fsspec options"),
        ({"path": "memory://x", "storage_options": ["key"]}, "must be a dict of fsspec options"),
        ({"storage_options": {"key": "k"}}, "apply to fsspec URLs, but the root"),
        ({"storage_errors": "ignore"}, "storage_errors='ignore') must be 'raise'"),
        ({"path": 42}, "init(path=42) must be a folder, an fsspec URL"),
    ],
    ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}={v[k]!r}" for k in v)[:40],
)
def test_init_refuses_options_that_cannot_work(options, says):
    """A bad option raises SettingsError at init, saying what was wrong, and changes nothing."""
    votakvot.init(path="./before", heartbeat=2)
    with pytest.raises(SettingsError) as caught:
        votakvot.init(**options)
    assert says in str(caught.value)
    assert votakvot.settings().heartbeat == 2
    assert votakvot.settings().path.endswith("before")


def test_unknown_sink_lists_the_installed_ones():
    """The error for an unknown sink name lists every installed sink (the built-ins, and the
    plug-ins installed in this environment, sorted)."""
    installed = sorted(votakvot.plugins.entries("votakvot.sinks"))
    assert {"csv", "pickle", "system", "yaml"} <= set(installed)
    with pytest.raises(SettingsError, match=re.escape(f"installed: {installed}")):
        votakvot.init(sinks=["yaml", "cvs"])


def test_a_file_is_refused_as_the_root(tmp_path):
    """init(path=...) naming an existing file (not a folder) is refused before any trial runs."""
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    with pytest.raises(SettingsError, match="is a file, not a folder"):
        votakvot.init(path=str(afile))
    with pytest.raises(SettingsError, match="is a file"):
        votakvot.init(path=f"file://{afile}")


def test_settings_error_is_a_value_error():
    """SettingsError is caught as ValueError and as VotakvotError."""
    assert issubclass(SettingsError, ValueError)
    assert issubclass(SettingsError, VotakvotError)
    assert "SettingsError" in votakvot.errors.__all__


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"path": "memory://ok", "storage_options": {}},
        {"path": "simplecache::memory://ok"},
        {"storage_errors": "warn", "heartbeat": 1, "system_metrics": 2.5, "sinks": ("yaml", "csv")},
        {"path": fsspec.filesystem("memory").get_mapper("/bucket/exp")},
    ],
    ids=["defaults", "memory-url", "chained-url", "numbers", "fsmap"],
)
def test_init_accepts_what_works(options):
    """Good options are accepted and show in votakvot.settings()."""
    votakvot.init(**options)
    settings = votakvot.settings()
    assert settings.storage_errors == options.get("storage_errors", "raise")
    if "sinks" in options:
        assert settings.sinks == ("yaml", "csv")


def test_storage_errors_defaults_to_raise():
    """storage_errors is 'raise' unless init says 'warn'; a later init without it resets it."""
    assert votakvot.settings().storage_errors == "raise"
    votakvot.init(storage_errors="warn")
    assert votakvot.settings().storage_errors == "warn"
    votakvot.init()
    assert votakvot.settings().storage_errors == "raise"


def test_storage_options_are_not_shown_in_the_repr():
    """Credentials in storage options stay out of the settings' repr (logs, tracebacks)."""
    votakvot.init(path="memory://x", storage_options={"secret": "s3cr3t"})
    assert "s3cr3t" not in repr(votakvot.settings())
    assert votakvot.settings().storage_options == {"secret": "s3cr3t"}


def test_settings_pickle_with_an_absolute_root_and_providers_by_reference(tmp_path):
    """Pickled settings keep every option, the root made absolute, installed providers and
    module-level functions; a lambda is left out with one warning naming it."""
    providers = dict(votakvot.meta.providers)
    providers["mine.value"] = provider_for_tests
    providers["mine.lambda"] = lambda: 1
    votakvot.init(path="relative", meta_providers=providers, sinks=["yaml"], heartbeat=3, storage_errors="warn")
    with pytest.warns(UserWarning, match=r"\['mine.lambda'\] cannot travel"):
        data = pickle.dumps(votakvot.settings())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pickle.dumps(votakvot.settings())  # warned once
    restored = pickle.loads(data)
    assert restored.path == str(tmp_path / "relative")
    assert (restored.sinks, restored.heartbeat, restored.storage_errors) == (("yaml",), 3.0, "warn")
    assert restored.meta_providers["mine.value"] is provider_for_tests
    assert restored.meta_providers["system.node"] is votakvot.meta.providers["system.node"]
    assert "mine.lambda" not in restored.meta_providers


def test_applied_settings_are_this_process_settings(tmp_path):
    """Settings.apply() works like init with the same options."""
    votakvot.init(path=str(tmp_path / "driver"), sinks=["yaml"])
    sent = pickle.dumps(votakvot.settings())
    votakvot.testing.reset()
    pickle.loads(sent).apply()
    with votakvot.trial("applied") as t:
        t.meter(x=1)
    assert t.path.startswith(str(tmp_path / "driver"))
    assert os.listdir(t.path) == ["votakvot.yaml"]


def test_scoped_settings_hold_for_trials_made_in_the_block_only(tmp_path):
    """A trial made under Settings.scoped() keeps those settings when entered after the block; the
    process's own settings, $VOTAKVOT_SETTINGS and trials made outside are untouched."""
    votakvot.init(path=str(tmp_path / "user"))
    exported = os.environ["VOTAKVOT_SETTINGS"]
    mine = votakvot.Settings(path=str(tmp_path / "tool"), sinks=("yaml",), handle_sigterm=False)
    with mine.scoped():
        assert votakvot.settings() is mine
        made = votakvot.trial("tool/step")
    assert votakvot.settings().root() == str(tmp_path / "user")
    assert os.environ["VOTAKVOT_SETTINGS"] == exported
    with made, votakvot.trial("user/exp") as users:
        made.meter(x=1)  # the yaml sink alone: no metrics file
    assert made.path.startswith(str(tmp_path / "tool"))
    assert os.listdir(made.path) == ["votakvot.yaml"]
    assert users.path.startswith(str(tmp_path / "user"))


def test_scoped_settings_are_checked_like_applied_ones(tmp_path):
    """Settings.scoped() refuses what apply() refuses (an unknown sink, a protocol fsspec lacks)."""
    with pytest.raises(SettingsError, match="'cvs'"):
        votakvot.Settings(path=str(tmp_path), sinks=("cvs",)).scoped()
    with pytest.raises(SettingsError, match="no protocol 'foo'"):
        votakvot.Settings(path="foo://x").scoped()
    assert votakvot.settings().root() == "."


def test_init_exports_the_settings_and_reset_removes_them(tmp_path):
    """init writes $VOTAKVOT_SETTINGS (JSON); testing.reset() takes it away again."""
    votakvot.init(path=str(tmp_path / "r"), heartbeat=2)
    exported = json.loads(os.environ["VOTAKVOT_SETTINGS"])
    assert exported["path"] == str(tmp_path / "r")
    assert exported["heartbeat"] == 2.0
    votakvot.testing.reset()
    assert "VOTAKVOT_SETTINGS" not in os.environ


def test_a_process_started_after_init_tracks_into_the_root(tmp_path):
    """A child process started after init (with no init of its own) opens its trials in the
    driver's root with the driver's settings."""
    root = tmp_path / "results"
    votakvot.init(path=str(root), sinks=["yaml"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = "import votakvot\nwith votakvot.trial('child') as t:\n    t.meter(x=1)\nprint(t.path)\n"
    proc = run_python(code, cwd=elsewhere, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    path = Path(out.decode().strip())
    assert str(path).startswith(str(root / "child") + os.sep)
    assert os.listdir(path) == ["votakvot.yaml"]
    assert list(elsewhere.iterdir()) == []


def test_the_environ_of_settings_is_a_recipe_for_other_processes(tmp_path):
    """Settings.environ() gives the variable to hand to processes started by other means."""
    votakvot.init(path=str(tmp_path / "r"))
    env = votakvot.settings().environ()
    votakvot.testing.reset()
    code = "import votakvot\nwith votakvot.trial('child') as t:\n    pass\nprint(t.path)\n"
    proc = run_python(code, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert out.decode().strip().startswith(str(tmp_path / "r" / "child"))


def test_settings_with_a_filesystem_object_cannot_go_into_the_environment():
    """A filesystem object as the root has no JSON form: environ() says so, init exports nothing."""
    votakvot.init(path=fsspec.filesystem("dir", path="/b/exp", fs=fsspec.filesystem("memory")))
    assert "VOTAKVOT_SETTINGS" not in os.environ
    with pytest.raises(SettingsError, match="filesystem object"):
        votakvot.settings().environ()
    restored = pickle.loads(pickle.dumps(votakvot.settings()))
    assert restored.filesystem.path == "/b/exp"


def test_own_init_wins_over_the_inherited_variable(tmp_path, monkeypatch):
    """A process whose $VOTAKVOT_SETTINGS came from its parent uses it until it calls init itself."""
    votakvot.init(path=str(tmp_path / "parent"))
    monkeypatch.setenv("VOTAKVOT_SETTINGS", os.environ["VOTAKVOT_SETTINGS"])
    votakvot.testing.reset()
    os.environ["VOTAKVOT_SETTINGS"] = json.dumps({"path": str(tmp_path / "parent")})
    assert votakvot.settings().root() == str(tmp_path / "parent")
    votakvot.init(path=str(tmp_path / "own"))
    assert votakvot.settings().root() == str(tmp_path / "own")
