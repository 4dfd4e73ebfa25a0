"""Plug-ins keyed by a framework's classes, installed for real: `votakvot.params` (how a param of a
class is recorded) and `votakvot.statuses` (which exceptions end a trial with a status of their own)."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

import pytest

import votakvot
from conftest import read_yaml
from votakvot.errors import ParamNotStoredWarning

FAST = {"heartbeat": 0.2, "flush_interval": 0.1}

# A stand-in framework: a search trial that samples params while the objective runs (as an
# Optuna trial does), a big object behind it, and an exception that prunes.
FRAMEWORK_SOURCE = """
class Study:
    def __init__(self):
        self.history = [list(range(1000)) for _ in range(50)]  # far too large for a param


class SearchTrial:
    def __init__(self, study):
        self.study = study
        self.params = {}

    def suggest(self, name, value):
        self.params[name] = value
        return value


class FancySearchTrial(SearchTrial):
    pass


class Pruned(Exception):
    pass


class PrunedHarder(Pruned):
    pass
"""

# The plug-in names the framework's classes by path and never imports it.
PLUGIN_SOURCE = """
RECORDERS = {
    "{framework}.SearchTrial": lambda name, trial: dict(trial.params),
    "{framework}.Study": lambda name, study: {name: "a study"},
}
STATUSES = {"{framework}.Pruned": "pruned"}
"""


@pytest.fixture
def framework(dist):
    """Installs a plug-in distribution for the stand-in framework; returns the framework module."""
    framework_name = dist.module(FRAMEWORK_SOURCE)
    plugin = dist.module(PLUGIN_SOURCE.replace("{framework}", framework_name))
    dist.install(
        "acme-search",
        {"votakvot.params": {"search": f"{plugin}:RECORDERS"}, "votakvot.statuses": {"search": f"{plugin}:STATUSES"}},
    )
    return __import__(framework_name)


def _doc(t) -> dict:
    return read_yaml(f"{t.path}/votakvot.yaml")


def test_a_recorded_param_is_what_its_recorder_gives_when_the_document_is_written(framework, local_root):
    """A param of a class a plug-in names is recorded as the recorder's mapping, read at each
    write: empty at the start, the sampled params at the end, in the argument's place."""
    votakvot.init(path=local_root, **FAST)
    search = framework.SearchTrial(framework.Study())

    @votakvot.track()
    def objective(trial, scale=2):
        assert votakvot.current().document()["params"] == {"scale": 2}
        x = trial.suggest("x", 0.25)
        trial.suggest("layers", 3)
        return x * scale

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert objective(search) == 0.5
    (trial,) = votakvot.load_trials(local_root).values()
    assert list(trial.params.items()) == [("x", 0.25), ("layers", 3), ("scale", 2)]
    report = votakvot.load_report(local_root)
    assert report.loc[0, "x"] == 0.25
    assert "params.trial" not in report.columns


def test_a_subclass_is_recorded_by_its_base_recorder_and_trial_params_too(framework, local_root):
    """A subclass of a named class gets its recorder; params of `votakvot.trial` are recorded
    the same way as arguments of `@track`."""
    votakvot.init(path=local_root, **FAST)
    study = framework.Study()
    with votakvot.trial("search", trial=framework.FancySearchTrial(study), study=study) as t:
        t.params["trial"].suggest("depth", 4)
    assert _doc(t)["params"] == {"depth": 4, "study": "a study"}


def test_classes_of_a_framework_nobody_imported_cost_no_import(dist, local_root):
    """A plug-in naming classes of a module that is not imported never imports it."""
    plugin = dist.module('RECORDERS = {"votakvot_no_such_framework.Thing": lambda name, value: {}}')
    dist.install("acme-absent", {"votakvot.params": {"absent": f"{plugin}:RECORDERS"}})
    votakvot.init(path=local_root, **FAST)
    with votakvot.trial("plain", lr=0.1) as t:
        pass
    assert _doc(t)["params"] == {"lr": 0.1}
    assert "votakvot_no_such_framework" not in sys.modules


def test_a_recorder_that_fails_leaves_a_stand_in_and_a_warning(dist, local_root):
    """A recorder that raises does not lose the param silently: a stand-in is stored, a
    ParamNotStoredWarning names the param and the error, and the trial ends done."""
    framework_name = dist.module("class Thing:\n    pass\n")
    plugin = dist.module(
        f"""
        def broken(name, value):
            raise RuntimeError("recorder is broken")

        RECORDERS = {{"{framework_name}.Thing": broken}}
        """
    )
    dist.install("acme-broken-recorder", {"votakvot.params": {"broken": f"{plugin}:RECORDERS"}})
    votakvot.init(path=local_root, **FAST)
    thing = __import__(framework_name).Thing()
    warns = pytest.warns(ParamNotStoredWarning, match="'thing'.*recorder is broken")
    with warns as caught, votakvot.trial("exp", thing=thing, lr=0.1) as t:
        pass
    assert caught[0].filename == __file__
    doc = _doc(t)
    assert doc["status"] == "done"
    assert doc["params"]["lr"] == 0.1
    assert doc["params"]["thing"].startswith("<unrecorded Thing: RuntimeError('recorder is broken')")


def test_a_recorded_name_that_another_param_has_keeps_the_other_with_a_warning(framework, local_root):
    """When a recorder gives a param the call already has, the call's own param is kept and a
    ParamNotStoredWarning says which one was dropped."""
    votakvot.init(path=local_root, **FAST)
    search = framework.SearchTrial(framework.Study())
    search.suggest("lr", 0.5)
    with pytest.warns(ParamNotStoredWarning, match="'lr'"), votakvot.trial("exp", trial=search, lr=0.1) as t:
        pass
    assert _doc(t)["params"] == {"lr": 0.1}


def test_a_recorder_table_of_the_wrong_shape_is_logged_and_skipped(dist, local_root, caplog):
    """An entry point of `votakvot.params` that is not a mapping of paths to callables is logged
    on votakvot.plugins and skipped; trials go on."""
    plugin = dist.module('RECORDERS = ["not", "a", "mapping"]')
    dist.install("acme-wrong-shape", {"votakvot.params": {"wrong": f"{plugin}:RECORDERS"}})
    votakvot.init(path=local_root, **FAST)
    with caplog.at_level(logging.WARNING, logger="votakvot.plugins"), votakvot.trial("exp", lr=0.1) as t:
        pass
    assert "votakvot.params:wrong" in caplog.text
    assert _doc(t)["params"] == {"lr": 0.1}


def test_an_exception_a_plugin_names_ends_the_trial_with_its_status(framework, local_root):
    """An exception of a class (or subclass) named in `votakvot.statuses` ends the trial with that
    status: the error is recorded, no traceback (it is no error), metrics are kept, and the
    exception propagates unchanged."""
    votakvot.init(path=local_root, **FAST)

    @votakvot.track()
    def objective(cut):
        votakvot.meter(loss=1.0)
        raise (framework.PrunedHarder if cut else ValueError)("pruned at step 0")

    with pytest.raises(framework.PrunedHarder):
        objective(True)
    with pytest.raises(ValueError):
        objective(False)
    report = votakvot.load_report(local_root)
    assert list(report.status) == ["pruned", "failed"]
    pruned, failed = report.trial
    assert pruned.error == "PrunedHarder: pruned at step 0"
    assert pruned.traceback_text is None
    assert "traceback.txt" not in pruned.attached
    assert list(pruned.metrics()["loss"]) == [1.0]
    assert pruned.result is None
    assert failed.traceback_text is not None


def test_pruned_trials_can_be_selected_and_removed(framework, local_root):
    """`pruned` is a status `remove(status=...)` selects by."""
    votakvot.init(path=local_root, **FAST)
    with pytest.raises(framework.Pruned), votakvot.trial("exp", cut=True):
        raise framework.Pruned("cut")
    with votakvot.trial("exp", cut=False):
        pass
    removed = votakvot.remove(local_root, status="pruned")
    assert [(t.status, t.params["cut"]) for t in removed] == [("pruned", True)]
    assert list(votakvot.load_report(local_root).status) == ["done"]


def test_a_pruned_explicit_id_runs_again(framework, local_root):
    """Only a `done` trial at an explicit id is not recomputed; a pruned one runs again."""
    votakvot.init(path=local_root, **FAST)
    runs = []

    def task(cut):
        runs.append(cut)
        if cut:
            raise framework.Pruned("cut")
        return "finished"

    with pytest.raises(framework.Pruned):
        votakvot.call("grid/a", task, {"cut": True})
    with pytest.raises(votakvot.errors.ParamsMismatchError):
        votakvot.call("grid/a", task, {"cut": False})
    with pytest.raises(framework.Pruned):
        votakvot.call("grid/a", task, {"cut": True})
    assert runs == [True, True]
    (trial,) = votakvot.load_trials(local_root).values()
    assert trial.status == "pruned"
    assert trial.data["resumed"] == 1


@pytest.mark.parametrize("status", ["done", "weird", 3])
def test_a_status_table_with_a_status_it_may_not_give_is_logged_and_skipped(dist, local_root, caplog, status):
    """A `votakvot.statuses` entry may give any status a trial ends with but `done` (an exception
    ended it); another table is logged and skipped, and the exception ends the trial as `failed`."""
    framework_name = dist.module("class Stop(Exception):\n    pass\n")
    plugin = dist.module(f"STATUSES = {{'{framework_name}.Stop': {status!r}}}")
    dist.install("acme-bad-status", {"votakvot.statuses": {"bad": f"{plugin}:STATUSES"}})
    votakvot.init(path=local_root, **FAST)
    stop = __import__(framework_name).Stop
    with caplog.at_level(logging.WARNING, logger="votakvot.plugins"), pytest.raises(stop), votakvot.trial("exp") as t:
        raise stop()
    assert "votakvot.statuses:bad" in caplog.text
    assert _doc(t)["status"] == "failed"


def test_the_plugin_point_is_off_with_plugins_off(framework, local_root, monkeypatch):
    """VOTAKVOT_PLUGINS=0 turns these plug-ins off too: the exception ends the trial as failed."""
    monkeypatch.setenv("VOTAKVOT_PLUGINS", "0")
    votakvot.plugins.reset()
    votakvot.init(path=local_root, **FAST)
    with pytest.raises(framework.Pruned), votakvot.trial("exp") as t:
        raise framework.Pruned()
    assert _doc(t)["status"] == "failed"
    assert Path(t.path, "traceback.txt").exists()
