"""Tests of votakvot-optuna, installed (`pip install -e`), with real Optuna studies: samplers,
a pruner, multi-objective studies, failures, threads and an SQLite storage."""

from __future__ import annotations

import functools
import subprocess
import sys
import warnings
from pathlib import Path

import optuna
import pytest
import votakvot_optuna
import yaml

import votakvot
import votakvot.plugins
import votakvot.testing
from votakvot.errors import ParamNotStoredWarning, PluginError

FAST = {"heartbeat": 0.2, "flush_interval": 0.1}


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Runs each test in its own folder with votakvot's state reset and Optuna's logging quiet."""
    monkeypatch.delenv("VOTAKVOT_PATH", raising=False)
    monkeypatch.delenv("VOTAKVOT_PLUGINS", raising=False)
    monkeypatch.setenv("VOTAKVOT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    votakvot.testing.reset()
    yield
    votakvot.testing.reset()


@pytest.fixture
def root(tmp_path: Path) -> str:
    """A fresh trial root on the local disk, in force."""
    path = str(tmp_path / "results")
    votakvot.init(path=path, **FAST)
    return path


def _by_number(root: str) -> dict[int, votakvot.Trial]:
    """The trials below `root` by the Optuna trial number `votakvot_optuna.track` recorded."""
    return {int(t.info["optuna"]["number"]): t for t in votakvot.load_trials(root).values()}


def _document_text(trial: votakvot.Trial) -> str:
    return Path(trial.path, "votakvot.yaml").read_text()


def _tracked_part(trial: votakvot.Trial) -> bytes:
    """The document up to `meta` (what was tracked; meta depends on the machine and plug-ins)."""
    return _document_text(trial).split("\nmeta:")[0].encode()


def quadratic(trial: optuna.trial.BaseTrial) -> float:
    x = trial.suggest_float("x", -10, 10)
    layers = trial.suggest_int("layers", 1, 4)
    return (x - 2) ** 2 + layers


def stepped(trial: optuna.trial.BaseTrial) -> float:
    """Reports 5 intermediate values and prunes when the pruner says so."""
    x = trial.suggest_float("x", -10, 10)
    for step in range(5):
        trial.report((x - 2) ** 2 + 5 - step, step)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step}")
    return (x - 2) ** 2


def _pruning_study(name: str, **kwargs) -> optuna.Study:
    return optuna.create_study(
        study_name=name,
        sampler=optuna.samplers.TPESampler(seed=1, n_startup_trials=4),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
        **kwargs,
    )


def test_entry_points_are_installed_and_import_no_optuna():
    """The distribution registers its recorders and statuses; importing it, and votakvot
    discovering it at a first trial, import no Optuna (users without Optuna pay nothing)."""
    assert votakvot.plugins.entries("votakvot.params")["optuna"] is votakvot_optuna.PARAM_RECORDERS
    assert votakvot.plugins.entries("votakvot.statuses")["optuna"] is votakvot_optuna.STATUSES
    code = (
        "import sys, votakvot, votakvot_optuna\n"
        "votakvot.init(path='results')\n"
        "with votakvot.trial('plain', lr=0.1):\n"
        "    pass\n"
        "print('optuna' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_plain_track_records_the_sampled_params_not_the_study(root):
    """With the plug-in installed, a plain `@votakvot.track()` objective records each Optuna
    trial's sampled params as params, the value as result, and nothing of Optuna's objects."""

    @votakvot.track()
    def objective(trial):
        return quadratic(trial)

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=5))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ParamNotStoredWarning)
        study.optimize(objective, n_trials=12)
    report = votakvot.load_report(root)
    assert len(report) == 12
    assert "params.trial" not in report.columns
    assert list(report.x) == [t.params["x"] for t in study.trials]
    assert list(report.layers) == [t.params["layers"] for t in study.trials]
    assert list(report.result) == [t.value for t in study.trials]
    for trial in report.trial:
        text = _document_text(trial)
        assert "!!python" not in text
        assert "_storage" not in text
        assert len(_tracked_part(trial)) < 1024


def test_plain_track_records_a_pruned_trial_as_pruned(root):
    """`optuna.TrialPruned` raised by a plain tracked objective ends its trial as `pruned`, as
    Optuna records it; the exception still reaches Optuna."""

    @votakvot.track()
    def objective(trial):
        return stepped(trial)

    study = _pruning_study("plain-pruning")
    study.optimize(objective, n_trials=15)
    states = [t.state for t in study.trials]
    assert optuna.trial.TrialState.PRUNED in states
    expected = ["pruned" if s == optuna.trial.TrialState.PRUNED else "done" for s in states]
    assert list(votakvot.load_report(root).status) == expected


def test_track_records_a_study_as_trials_named_after_it(root):
    """`@votakvot_optuna.track()`: one trial per Optuna trial, named after the study, with its
    sampled params, value, number, intermediate values as rows of the series "intermediate",
    and pruned trials as `pruned` (no result, no traceback)."""
    study = _pruning_study("pruning-study")
    study.optimize(votakvot_optuna.track(stepped), n_trials=15)
    trials = _by_number(root)
    assert sorted(trials) == [t.number for t in study.trials]
    statuses = set()
    for frozen in study.trials:
        trial = trials[frozen.number]
        statuses.add(trial.status)
        assert trial.tid.startswith("pruning-study/")
        assert dict(trial.params) == frozen.params
        assert trial.info["optuna"] == {"study": "pruning-study", "number": frozen.number}
        rows = trial.metrics(series=votakvot_optuna.INTERMEDIATE_SERIES)
        assert dict(zip(rows.step, rows.value, strict=True)) == frozen.intermediate_values
        if frozen.state == optuna.trial.TrialState.PRUNED:
            assert trial.status == "pruned"
            assert trial.result is None
            assert trial.error.startswith("TrialPruned: pruned at step")
            assert trial.traceback_text is None
        else:
            assert trial.status == "done"
            assert trial.result == frozen.value
    assert statuses == {"done", "pruned"}


def test_multi_objective_values_are_named_by_the_metric_names(root):
    """A multi-objective study's values become a result mapping named by
    `study.metric_names`, so the report has a column per objective."""
    study = optuna.create_study(study_name="two-goals", directions=["minimize", "maximize"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["loss", "accuracy"])

    @votakvot_optuna.track()
    def objective(trial):
        width = trial.suggest_int("width", 1, 64)
        return 1 / width, width / 64

    study.optimize(objective, n_trials=6)
    report = votakvot.load_report(root)
    assert sorted(zip(report.loss, report.accuracy, strict=True)) == sorted(tuple(t.values) for t in study.trials)
    assert list(report.width) == [t.params["width"] for t in study.trials]


def test_multi_objective_values_without_names_are_numbered(root):
    """Without metric names, the values are `values_0`, `values_1`, ... as in Optuna's own
    `trials_dataframe()`."""
    study = optuna.create_study(
        study_name="unnamed", directions=["minimize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=3)
    )
    two_values = votakvot_optuna.track(lambda t: (t.suggest_float("a", 0, 1), t.suggest_float("b", 0, 1)))
    study.optimize(two_values, n_trials=4)
    for frozen in study.trials:
        assert _by_number(root)[frozen.number].result == {"values_0": frozen.values[0], "values_1": frozen.values[1]}


def test_a_failing_objective_is_failed_and_optuna_gets_the_exception(root):
    """An objective that raises ends its trial `failed` with the traceback, and Optuna gets the
    same exception: it goes on with `catch=`, and stops without."""

    @votakvot_optuna.track()
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        if trial.number in (1, 3):
            raise ValueError(f"diverged at x={x}")
        return x

    study = optuna.create_study(study_name="flaky")
    study.optimize(objective, n_trials=3, catch=(ValueError,))
    with pytest.raises(ValueError, match="diverged"):
        study.optimize(objective, n_trials=5)
    trials = _by_number(root)
    assert sorted(trials) == [0, 1, 2, 3]
    assert [trials[n].status for n in range(4)] == ["done", "failed", "done", "failed"]
    for number in (1, 3):
        assert trials[number].error == f"ValueError: diverged at x={study.trials[number].params['x']}"
        assert "raise ValueError" in trials[number].traceback_text
        assert study.trials[number].state == optuna.trial.TrialState.FAIL


def test_what_the_objective_tracks_itself_lands_in_its_trial(root):
    """The trial is live while the objective runs: `votakvot.meter` and `inform` inside it land
    in the Optuna trial's votakvot trial."""

    @votakvot_optuna.track(name="custom/name")
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        votakvot.inform(dataset="v2")
        for epoch in range(3):
            votakvot.meter(loss=x / (epoch + 1))
        return x

    study = optuna.create_study()
    study.optimize(objective, n_trials=2)
    for frozen in study.trials:
        trial = _by_number(root)[frozen.number]
        assert trial.tid.startswith("custom/name/")
        assert trial.info["dataset"] == "v2"
        assert list(trial.metrics(series="").loss) == [frozen.params["x"] / (e + 1) for e in range(3)]


def test_threads_of_one_study_keep_their_trials_apart(root):
    """With `n_jobs=2` (threads), each Optuna trial's params and value land in its own trial."""
    study = optuna.create_study(study_name="threads", sampler=optuna.samplers.RandomSampler(seed=5))
    study.optimize(votakvot_optuna.track(quadratic), n_trials=12, n_jobs=2)
    trials = _by_number(root)
    assert len(trials) == 12
    for frozen in study.trials:
        assert dict(trials[frozen.number].params) == frozen.params
        assert trials[frozen.number].result == frozen.value


def test_a_fixed_trial_is_recorded_under_the_function_name(root):
    """Called with a `FixedTrial` (an objective checked by hand), the trial is named after the
    function and records the params the objective asked for."""
    value = votakvot_optuna.track(quadratic)(optuna.trial.FixedTrial({"x": 2.0, "layers": 3}))
    (trial,) = votakvot.load_trials(root).values()
    assert value == 3.0
    assert trial.tid.startswith(f"{__name__}/quadratic/")
    assert dict(trial.params) == {"x": 2.0, "layers": 3}
    assert trial.info["optuna"] == {"number": 0}


class Objective:
    """An objective as a callable object holding its data, as Optuna's examples write them."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def __call__(self, trial: optuna.trial.BaseTrial) -> float:
        return quadratic(trial) + self.offset


def test_callable_objects_and_partials_are_tracked_too(root):
    """A callable object or a `functools.partial` can be tracked; without a study its trial is
    named after the class or the function; its own arguments are not params."""
    study = optuna.create_study(study_name="objects")
    study.optimize(votakvot_optuna.track(Objective(offset=10.0)), n_trials=2)
    votakvot_optuna.track(Objective(offset=1.0))(optuna.trial.FixedTrial({"x": 2.0, "layers": 1}))
    votakvot_optuna.track(functools.partial(stepped))(optuna.trial.FixedTrial({"x": 2.0}))
    names = sorted(t.tid.rsplit("/", 3)[0] for t in votakvot.load_trials(root).values())
    assert names == ["objects", "objects", f"{__name__}/Objective", f"{__name__}/stepped"]
    assert all("offset" not in t.params for t in votakvot.load_trials(root).values())


def test_a_study_argument_is_recorded_as_its_name(root):
    """A plain tracked function taking a Study records the study's name, not the study."""

    @votakvot.track()
    def summarize(study, top):
        return study.best_value

    study = optuna.create_study(study_name="to-summarize")
    study.optimize(quadratic, n_trials=3)
    summarize(study, top=1)
    (trial,) = votakvot.load_trials(root).values()
    assert dict(trial.params) == {"study": "to-summarize", "top": 1}


def test_track_refuses_to_run_with_plugins_off(root, monkeypatch):
    """With VOTAKVOT_PLUGINS=0 the decorator raises PluginError saying what to do (instead of
    storing Optuna's objects), and Optuna gets that error."""
    monkeypatch.setenv("VOTAKVOT_PLUGINS", "0")
    votakvot.plugins.reset()
    study = optuna.create_study()
    with pytest.raises(PluginError, match="VOTAKVOT_PLUGINS=0"):
        study.optimize(votakvot_optuna.track(quadratic), n_trials=1)
    assert not Path(root).exists()


def test_without_the_plugin_an_optuna_trial_is_a_note_not_the_study(root, monkeypatch):
    """Without the plug-in (VOTAKVOT_PLUGINS=0), votakvot's size guard keeps a plain tracked
    objective's documents small: the trial argument is a note, with a warning naming it."""
    monkeypatch.setenv("VOTAKVOT_PLUGINS", "0")
    votakvot.plugins.reset()

    @votakvot.track()
    def objective(trial):
        return quadratic(trial)

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    with pytest.warns(ParamNotStoredWarning, match="exclude=\\['trial'\\]"):
        study.optimize(objective, n_trials=5)
    for trial in votakvot.load_trials(root).values():
        assert trial.params["trial"].startswith("<too large Trial: over")
        assert len(_tracked_part(trial)) < 1024


@pytest.mark.slow
def test_a_study_in_sqlite_storage(root, tmp_path):
    """A study kept in an SQLite storage (as shared by several workers) is recorded the same way."""
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = _pruning_study("in-sqlite", storage=storage)
    study.optimize(votakvot_optuna.track(stepped), n_trials=8)
    reloaded = optuna.load_study(study_name="in-sqlite", storage=storage)
    trials = _by_number(root)
    for frozen in reloaded.trials:
        rows = trials[frozen.number].metrics(series="intermediate")
        assert dict(zip(rows.step, rows.value, strict=True)) == frozen.intermediate_values
        assert dict(trials[frozen.number].params) == frozen.params


def test_documents_are_plain_yaml(root):
    """Every document the plug-in's trials write loads with a plain YAML safe loader."""
    optuna.create_study(study_name="plain-yaml").optimize(votakvot_optuna.track(quadratic), n_trials=3)
    for trial in votakvot.load_trials(root).values():
        doc = yaml.safe_load(_document_text(trial))
        assert set(doc["params"]) == {"x", "layers"}
