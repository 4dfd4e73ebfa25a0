"""Tests of VotakvotLogger with a real Lightning Trainer fitting a tiny real model on the CPU."""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
import pytest
import torch
import yaml
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger
from lightning_helpers import (
    MLP,
    QUIET,
    clean_votakvot,  # noqa: F401 - the autouse fixture
    data,
    documents,
    trainer,
)
from votakvot_lightning import VotakvotLogger

import votakvot
import votakvot.errors

pytestmark = QUIET


def _only_trial(root: str | Path) -> votakvot.Trial:
    (trial,) = votakvot.load_trials(str(root)).values()
    return trial


def test_logger_is_a_lightning_logger():
    """VotakvotLogger is a `lightning.pytorch.loggers.Logger`, named as given."""
    logger = VotakvotLogger("mlp")
    assert isinstance(logger, Logger)
    assert logger.name == "mlp"
    assert logger.trial is None


def test_fit_is_one_done_trial_with_hyperparameters_and_result(tmp_path: Path):
    """A fit is one `done` trial: save_hyperparameters() as params, last metrics as result, stage in info."""
    logger = VotakvotLogger("mlp")
    trainer(logger).fit(MLP(hidden=6, lr=0.05), data(), data(16))

    trial = _only_trial(tmp_path / "results")
    assert trial.status == "done"
    assert trial.tid.startswith("mlp/")
    assert trial.params == {"hidden": 6, "lr": 0.05, "fail_at": None}
    assert trial.info["stage"] == "fit"
    assert set(trial.result) == {"train_loss", "val_loss", "epoch"}
    assert trial.result["epoch"] == 1
    rows = trial.metrics()
    assert trial.result["train_loss"] == rows.train_loss.dropna().iloc[-1]
    assert trial.result["val_loss"] == rows.val_loss.dropna().iloc[-1]
    assert logger.trial is not None and logger.trial.tid == trial.tid

    report = votakvot.load_report(str(tmp_path / "results"))
    assert report.loc[0, "hidden"] == 6 and report.loc[0, "val_loss"] == trial.result["val_loss"]


def test_metric_rows_are_those_lightning_logs_at_its_steps(tmp_path: Path):
    """The metric rows (steps and values) are exactly those Lightning's own CSVLogger writes."""
    csv_logger = CSVLogger(str(tmp_path / "csv"), name="mlp")
    trainer([VotakvotLogger("mlp"), csv_logger]).fit(MLP(), data(), data(16))

    ours = _only_trial(tmp_path / "results").metrics()
    theirs = pd.read_csv(Path(csv_logger.log_dir) / "metrics.csv")
    columns = ["step", "epoch", "train_loss", "val_loss"]
    assert len(ours) == len(theirs) == 2 * 8 + 2  # a row per training step, one per validation
    pd.testing.assert_frame_equal(
        ours[columns].reset_index(drop=True), theirs[columns].reset_index(drop=True), check_dtype=False
    )


def test_checkpoints_land_in_the_trial_folder_and_load_back(tmp_path: Path):
    """ModelCheckpoint without a dirpath writes into the trial's checkpoints/; info names best and last."""
    callback = ModelCheckpoint(monitor="val_loss", save_last=True)
    trainer(VotakvotLogger("mlp"), enable_checkpointing=True, callbacks=[callback]).fit(MLP(), data(), data(16))

    trial = _only_trial(tmp_path / "results")
    saved = trial.info["checkpoint"]
    assert saved["monitor"] == "val_loss"
    assert saved["best"] == "checkpoints/" + Path(callback.best_model_path).name
    assert saved["last"] == "checkpoints/last.ckpt"
    assert saved["best_score"] == pytest.approx(float(callback.best_model_score))
    assert Path(callback.best_model_path).parent == Path(trial.path) / "checkpoints"
    with trial.attach(saved["best"]) as f:
        restored = MLP.load_from_checkpoint(f)
    assert restored.hparams.hidden == 8
    torch.testing.assert_close(
        restored.net[0].weight, torch.load(callback.best_model_path)["state_dict"]["net.0.weight"]
    )


def test_each_model_checkpoint_has_its_own_info_field(tmp_path: Path):
    """A second ModelCheckpoint is recorded as `info.checkpoint_2`, in the order they first saved."""
    by_loss = ModelCheckpoint(monitor="val_loss", filename="best-{epoch}")
    every_epoch = ModelCheckpoint(filename="periodic-{epoch}", save_top_k=-1)
    fit = trainer(VotakvotLogger("mlp"), enable_checkpointing=True, callbacks=[by_loss, every_epoch])
    fit.fit(MLP(), data(), data(16))

    info = _only_trial(tmp_path / "results").info
    assert info["checkpoint"] == {
        "best": "checkpoints/best-epoch=1.ckpt",
        "best_score": pytest.approx(float(by_loss.best_model_score)),
        "monitor": "val_loss",
    }
    assert info["checkpoint_2"] == {"best": "checkpoints/periodic-epoch=1.ckpt"}


def test_checkpoint_path_is_in_info_while_the_fit_runs(tmp_path: Path):
    """Soon after a save, `info.checkpoint` is on disk: a run that crashes later still says where it saved."""
    votakvot.init(path=str(tmp_path / "results"), flush_interval=0.05)
    seen: list[tuple[dict, str, float]] = []
    callback = ModelCheckpoint(monitor="val_loss")

    class ReadDocument(Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch == 1:  # after the checkpoint of epoch 0
                document = Path(trainer.logger.trial.path) / "votakvot.yaml"
                info = _wait_for(lambda: yaml.safe_load(document.read_text())["info"].get("checkpoint"))
                seen.append((info, Path(callback.best_model_path).name, float(callback.best_model_score)))

    trainer(VotakvotLogger("mlp"), enable_checkpointing=True, callbacks=[callback, ReadDocument()]).fit(
        MLP(), data(), data(16)
    )
    ((info, name, score),) = seen
    assert info == {"best": f"checkpoints/{name}", "best_score": pytest.approx(score), "monitor": "val_loss"}
    assert name == "epoch=0-step=8.ckpt"


def _wait_for(read: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Calls `read` until it returns something truthy (at most `timeout` seconds); returns that."""
    deadline = time.monotonic() + timeout
    while not (value := read()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return value


def test_failing_training_step_is_a_failed_trial_with_its_traceback(tmp_path: Path):
    """An exception in training_step propagates from fit unchanged; the trial is `failed` with the traceback."""
    error = ValueError("the loss went to NaN")
    with pytest.raises(ValueError) as raised:
        trainer(VotakvotLogger("mlp")).fit(MLP(fail_at=3, error=error), data())
    assert raised.value is error

    trial = _only_trial(tmp_path / "results")
    assert trial.status == "failed"
    assert trial.error == "ValueError: the loss went to NaN"
    assert "in training_step" in trial.traceback_text
    assert "ValueError: the loss went to NaN" in trial.traceback_text
    assert list(trial.metrics().step) == [0, 1, 2]  # the rows logged before the failure are kept
    with pytest.raises(votakvot.errors.TrialFailedError):
        trial.result  # noqa: B018


def test_keyboard_interrupt_is_an_interrupted_trial(tmp_path: Path):
    """Ctrl-C in a fit (Lightning turns it into SystemExit(1)) leaves an `interrupted` trial."""
    sigint = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit):
            trainer(VotakvotLogger("mlp")).fit(MLP(fail_at=2, error=KeyboardInterrupt()), data())
    finally:
        signal.signal(signal.SIGINT, sigint)  # Lightning ignores further Ctrl-C while it shuts down

    trial = _only_trial(tmp_path / "results")
    assert trial.status == "interrupted"
    assert trial.error == "KeyboardInterrupt"
    assert "in training_step" in trial.traceback_text


SIGTERM_FIT = """
import os, signal, sys
import votakvot
from lightning_helpers import MLP, data, trainer
from votakvot_lightning import VotakvotLogger

class Terminated(MLP):
    def training_step(self, batch, batch_idx):
        if self.global_step == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # as a scheduler stopping the job would
        return super().training_step(batch, batch_idx)

votakvot.init(path=sys.argv[1])
trainer(VotakvotLogger("mlp")).fit(Terminated(), data())
"""


@pytest.mark.slow
def test_sigterm_is_an_interrupted_trial(tmp_path: Path):
    """SIGTERM during a fit (in a real process) ends the trial `interrupted` with the rows logged so far."""
    done = subprocess.run(
        [sys.executable, "-c", SIGTERM_FIT, str(tmp_path / "results")],
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    trial = _only_trial(tmp_path / "results")
    assert trial.status == "interrupted"
    assert trial.error == f"SystemExit: {128 + signal.SIGTERM}"
    assert "in training_step" in trial.traceback_text
    assert list(trial.metrics().step) == [0, 1]


def test_failure_in_setup_is_recorded_too(tmp_path: Path):
    """A run that fails in the module's setup(), before any metric, is a failed trial with its params."""

    class BrokenSetup(MLP):
        def setup(self, stage: str) -> None:
            raise RuntimeError("no data here")

    with pytest.raises(RuntimeError, match="no data here"):
        trainer(VotakvotLogger("mlp")).fit(BrokenSetup(hidden=3), data())
    trial = _only_trial(tmp_path / "results")
    assert trial.status == "failed"
    assert trial.error == "RuntimeError: no data here"
    assert trial.params == {}  # Lightning logs hyperparameters after setup


def test_fit_inside_a_trial_is_its_child(tmp_path: Path):
    """Inside `votakvot.trial(...)` the fit is a child trial; votakvot.meter() in the module goes to the fit."""

    class Metering(MLP):
        def on_train_epoch_end(self) -> None:
            votakvot.meter(custom=self.current_epoch)

    with votakvot.trial("sweep", lr=0.1) as outer:
        trainer(VotakvotLogger("mlp")).fit(Metering(), data())
        votakvot.inform(after="fit")  # the outer trial is the current one again

    trials = {t.tid.split("/")[0]: t for t in votakvot.load_trials(str(tmp_path / "results")).values()}
    assert trials["mlp"].data["parent"] == outer.tid
    assert trials["mlp"].status == "done"
    assert list(trials["mlp"].metrics().custom.dropna()) == [0, 1]
    assert trials["sweep"].info == {"after": "fit"}
    assert trials["sweep"].attached == []  # no metrics of the fit in the outer trial


def test_fit_then_test_are_two_trials(tmp_path: Path):
    """`fit` and then `test` with the same logger are two trials; `version` names the last one's folder."""
    logger = VotakvotLogger("mlp")
    t = trainer(logger)
    t.fit(MLP(), data())
    fit_tid = logger.trial.tid
    assert logger.version is not None and fit_tid.endswith(logger.version)
    t.test(t.lightning_module, data())

    trials = {t.info["stage"]: t for t in votakvot.load_trials(str(tmp_path / "results")).values()}
    assert set(trials) == {"fit", "test"}
    assert trials["fit"].tid == fit_tid
    assert set(trials["test"].result) == {"test_loss", "epoch"}
    assert trials["test"].params == trials["fit"].params
    assert logger.trial.tid == trials["test"].tid


def test_hyperparameters_logged_before_fit_join_the_params(tmp_path: Path):
    """`logger.log_hyperparams` before fit adds params; after the trial started, changes go to info.hparams."""

    class LateParams(MLP):
        def on_train_start(self) -> None:
            self.logger.log_hyperparams({"lr": 0.5, "hidden": 8, "warmup": 3})

    logger = VotakvotLogger("mlp")
    logger.log_hyperparams(argparse.Namespace(dataset="random-64", seed=0))
    trainer(logger).fit(LateParams(), data())

    trial = _only_trial(tmp_path / "results")
    assert trial.params == {"dataset": "random-64", "seed": 0, "hidden": 8, "lr": 0.1, "fail_at": None}
    assert trial.info["hparams"] == {"lr": 0.5, "warmup": 3}  # hidden=8 was already a param


def test_hyperparameters_are_stored_as_plain_values(tmp_path: Path):
    """Tensors, modules, classes and Namespaces in hyperparameters are stored readably, not pickled."""
    logger = VotakvotLogger("mlp")
    logger.log_hyperparams(
        {
            "weights": torch.tensor([1.0, 2.0]),
            "scale": torch.tensor(0.5),
            "backbone": torch.nn.Linear(2, 2),
            "optimizer": torch.optim.SGD,
            "nested": {"args": argparse.Namespace(depth=2), "dtype": torch.float16},
        }
    )
    logger.log_metrics({"loss": 1.0}, step=0)
    logger.finalize("success")

    (path,) = documents(tmp_path / "results")
    text = Path(path).read_text()
    assert "!!python" not in text
    assert yaml.safe_load(text)["params"] == {
        "weights": [1.0, 2.0],
        "scale": 0.5,
        "backbone": "torch.nn.modules.linear.Linear",
        "optimizer": "torch.optim.sgd.SGD",
        "nested": {"args": {"depth": 2}, "dtype": "torch.float16"},
    }


def test_logger_used_by_hand_records_rows_and_renames_reserved_metrics(tmp_path: Path):
    """Outside a Trainer: log_metrics rows with their step; metrics named step/time become _step/_time."""
    logger = VotakvotLogger("by-hand")
    logger.log_metrics({"loss": torch.tensor(0.5), "time": 12.5}, step=10)
    logger.log_metrics({"loss": 0.25, "step": 3}, step=11)
    logger.finalize("success")

    trial = _only_trial(tmp_path / "results")
    rows = trial.metrics()
    assert list(rows.step) == [10, 11]
    assert list(rows.loss) == [0.5, 0.25]
    assert list(rows["_time"].fillna(-1)) == [12.5, -1]
    assert list(rows["_step"].fillna(-1)) == [-1, 3]
    assert all(rows.time > 1e9)  # the rows' own wall times
    assert trial.result == {"loss": 0.25, "_time": 12.5, "_step": 3}


def test_finalize_failed_without_an_exception_is_a_failed_trial(tmp_path: Path):
    """finalize("failed") with no exception in flight still gives `failed`; other statuses `interrupted`."""
    for status in ("failed", "finished"):
        logger = VotakvotLogger(status)
        logger.log_metrics({"loss": 1.0}, step=0)
        logger.finalize(status)
    trials = {t.tid.split("/")[0]: t for t in votakvot.load_trials(str(tmp_path / "results")).values()}
    assert trials["failed"].status == "failed"
    assert trials["failed"].error == "RunFailed: Lightning ended the run with status 'failed'"
    assert trials["finished"].status == "interrupted"
    assert trials["finished"].error == "RunStopped: Lightning ended the run with status 'finished'"


def test_remote_root_keeps_checkpoints_local_unless_copied(tmp_path: Path):
    """On a memory:// root checkpoints stay in default_root_dir (absolute in info) or are copied in."""
    root = "memory://lightning-tests/copy"
    votakvot.init(path=root)
    try:
        for copy in (False, True):
            callback = ModelCheckpoint(monitor="val_loss", save_last=True)
            logger = VotakvotLogger(f"copy={copy}", copy_checkpoints=copy)
            trainer(
                logger, enable_checkpointing=True, callbacks=[callback], default_root_dir=str(tmp_path / "local")
            ).fit(MLP(), data(), data(16))
            saved = _only_trial(f"{root}/copy={copy}").info["checkpoint"]
            best = callback.best_model_path
            assert best.startswith(str(tmp_path / "local" / f"copy={copy}"))
            if not copy:
                assert saved["best"] == best and saved["last"] == callback.last_model_path
                continue
            assert saved["best"] == "checkpoints/" + os.path.basename(best) and saved["best_from"] == best
            assert saved["last"] == "checkpoints/last.ckpt"
            with _only_trial(f"{root}/copy={copy}").attach(saved["best"]) as f:
                assert f.read() == Path(best).read_bytes()
    finally:
        fsspec.filesystem("memory").rm(root, recursive=True)


def test_checkpoint_that_cannot_be_copied_is_a_storage_error(tmp_path: Path):
    """A checkpoint gone before it could be copied raises StorageError from fit; the trial is still `done`."""

    class DeleteCheckpoints(Callback):
        def on_fit_end(self, trainer, pl_module):
            os.remove(trainer.checkpoint_callback.best_model_path)

    logger = VotakvotLogger("mlp", copy_checkpoints=True)
    callback = ModelCheckpoint(dirpath=str(tmp_path / "elsewhere"), monitor="val_loss")
    fit = trainer(logger, enable_checkpointing=True, callbacks=[callback, DeleteCheckpoints()])
    with pytest.raises(votakvot.errors.StorageError) as raised:
        fit.fit(MLP(), data(), data(16))
    assert callback.best_model_path in str(raised.value)
    trial = _only_trial(tmp_path / "results")
    assert trial.status == "done"
    assert trial.info["checkpoint"]["best"] == callback.best_model_path  # not copied: the original path
    assert not math.isnan(raised.value.result["val_loss"])


def test_checkpoint_that_cannot_be_copied_warns_with_storage_errors_warn(tmp_path: Path):
    """With init(storage_errors="warn") the lost copy is a StorageWarning and fit returns."""
    votakvot.init(path=str(tmp_path / "results"), storage_errors="warn")

    class DeleteCheckpoints(Callback):
        def on_fit_end(self, trainer, pl_module):
            os.remove(trainer.checkpoint_callback.best_model_path)

    callback = ModelCheckpoint(dirpath=str(tmp_path / "elsewhere"), monitor="val_loss")
    fit = trainer(
        VotakvotLogger("mlp", copy_checkpoints=True),
        enable_checkpointing=True,
        callbacks=[callback, DeleteCheckpoints()],
    )
    with pytest.warns(votakvot.errors.StorageWarning, match="could not store"):
        fit.fit(MLP(), data(), data(16))
    assert _only_trial(tmp_path / "results").status == "done"


def test_bad_arguments_are_refused_at_construction():
    """A name no trial folder can have, or a non-bool copy_checkpoints, fails at VotakvotLogger(...)."""
    with pytest.raises(votakvot.errors.TrialNameError):
        VotakvotLogger("../outside")
    with pytest.raises(votakvot.errors.TrialNameError):
        VotakvotLogger(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="copy_checkpoints must be True or False"):
        VotakvotLogger("mlp", copy_checkpoints="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"dict or an argparse\.Namespace"):
        VotakvotLogger("mlp").log_hyperparams([("lr", 0.1)])  # type: ignore[arg-type]
