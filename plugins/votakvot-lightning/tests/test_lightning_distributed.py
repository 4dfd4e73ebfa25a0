"""A distributed fit (two CPU processes, `ddp_spawn` over gloo) is one trial, kept by rank 0."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
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

pytestmark = [*QUIET, pytest.mark.slow]


def test_ddp_spawn_fit_is_one_trial_written_by_rank_zero(tmp_path: Path):
    """Two processes fit; only rank 0 opens a trial, with the hyperparameters and its metric rows."""
    trainer(VotakvotLogger("ddp"), strategy="ddp_spawn", devices=2).fit(MLP(hidden=5), data(), data(16))

    assert len(documents(tmp_path / "results")) == 1
    (trial,) = votakvot.load_trials(str(tmp_path / "results")).values()
    assert trial.status == "done"
    assert trial.params["hidden"] == 5
    assert trial.meta.process.pid != os.getpid()  # written by a spawned process
    # 64 samples in batches of 8 over 2 processes: 4 steps per epoch, each logged once, by rank 0.
    rows = trial.metrics()
    assert list(rows.dropna(subset=["train_loss"]).step) == [0, 1, 2, 3, 4, 5, 6, 7]
