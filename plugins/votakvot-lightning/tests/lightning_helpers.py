"""A tiny real Lightning model (a 2-layer MLP on random tensors), a quiet CPU Trainer for it, and
a clean votakvot per test (`clean_votakvot`, imported by each test module: a `conftest.py` here
would shadow the core suite's own `conftest` module, which its tests import by name)."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import votakvot
import votakvot.testing

# Lightning's advice for real training, not about this plug-in: `pytestmark = QUIET` in test modules.
QUIET = [
    pytest.mark.filterwarnings("ignore:.*does not have many workers"),
    pytest.mark.filterwarnings("ignore:.*isinstance.treespec, LeafSpec"),
    pytest.mark.filterwarnings("ignore:You defined a `validation_step` but have no `val_dataloader`"),
]


@pytest.fixture(autouse=True)
def clean_votakvot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Runs each test in its own folder with votakvot's process-wide state forgotten, root `results/`."""
    monkeypatch.delenv("VOTAKVOT_PATH", raising=False)
    monkeypatch.delenv("VOTAKVOT_SETTINGS", raising=False)
    monkeypatch.setenv("VOTAKVOT_CACHE_DIR", str(tmp_path / "votakvot-cache"))
    monkeypatch.chdir(tmp_path)
    votakvot.testing.reset()
    votakvot.init(path=str(tmp_path / "results"))
    yield
    votakvot.testing.reset()


class MLP(L.LightningModule):
    """Two linear layers on 4 random features; `fail_at` raises that exception at that batch."""

    def __init__(self, hidden: int = 8, lr: float = 0.1, fail_at: int | None = None, error: Any = None) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["error"])
        self.error = error
        self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.hparams.fail_at is not None and self.global_step == self.hparams.fail_at:
            raise self.error
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def test_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("test_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def data(batch_size: int = 8) -> DataLoader:
    """64 random samples (the same every time) in batches of `batch_size`."""
    g = torch.Generator().manual_seed(0)
    return DataLoader(TensorDataset(torch.randn(64, 4, generator=g), torch.randn(64, 1, generator=g)), batch_size)


def trainer(logger: Any, **options: Any) -> L.Trainer:
    """A CPU Trainer for 2 epochs of 8 steps that logs every step, quiet."""
    settings: dict[str, Any] = {
        "max_epochs": 2,
        "accelerator": "cpu",
        "devices": 1,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "log_every_n_steps": 1,
        "enable_checkpointing": False,
    }
    settings.update(options)
    return L.Trainer(logger=logger, **settings)


def documents(root: str | Path) -> list[str]:
    """The `votakvot.yaml` files below `root`."""
    return sorted(glob.glob(str(Path(root) / "**" / "votakvot.yaml"), recursive=True))
