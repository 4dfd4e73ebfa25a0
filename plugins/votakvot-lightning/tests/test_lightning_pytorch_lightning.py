"""The logger for the `pytorch_lightning` package, with a real `pytorch_lightning.Trainer`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from lightning_helpers import (
    QUIET,
    clean_votakvot,  # noqa: F401 - the autouse fixture
    data,
)
from pytorch_lightning.callbacks import ModelCheckpoint
from votakvot_lightning.pytorch_lightning import VotakvotLogger

import votakvot

pytestmark = QUIET


class ClassicMLP(pl.LightningModule):
    """The MLP of the other tests, as a `pytorch_lightning.LightningModule`."""

    def __init__(self, hidden: int = 8, fail: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.hparams.fail and batch_idx == 2:
            raise ArithmeticError("diverged")
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _fit(model: ClassicMLP) -> ModelCheckpoint:
    callback = ModelCheckpoint(save_last=True)
    trainer = pl.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=VotakvotLogger("classic"),
        callbacks=[callback],
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    )
    trainer.fit(model, data())
    return callback


def test_pytorch_lightning_fit_is_a_trial(tmp_path: Path):
    """A pytorch_lightning fit is a `done` trial with params, metric rows and checkpoints in its folder."""
    assert isinstance(VotakvotLogger(), pl.loggers.Logger)
    callback = _fit(ClassicMLP(hidden=4))

    (trial,) = votakvot.load_trials(str(tmp_path / "results")).values()
    assert trial.status == "done"
    assert trial.params == {"hidden": 4, "fail": False}
    assert list(trial.metrics().step) == list(range(8))
    assert trial.info["checkpoint"]["last"] == "checkpoints/last.ckpt"
    assert Path(callback.last_model_path) == Path(trial.path) / "checkpoints" / "last.ckpt"


def test_pytorch_lightning_failure_is_a_failed_trial(tmp_path: Path):
    """An exception in a pytorch_lightning fit leaves a `failed` trial with its traceback."""
    with pytest.raises(ArithmeticError, match="diverged"):
        _fit(ClassicMLP(fail=True))
    (trial,) = votakvot.load_trials(str(tmp_path / "results")).values()
    assert trial.status == "failed"
    assert "ArithmeticError: diverged" in trial.traceback_text
