"""The logger for the `pytorch_lightning` package (`import pytorch_lightning as pl`)."""

from __future__ import annotations

from pytorch_lightning.loggers import Logger
from pytorch_lightning.loggers.logger import rank_zero_experiment

import votakvot

from ._logger import DEFAULT_NAME, LoggerMethods


class VotakvotLogger(LoggerMethods, Logger):
    """`votakvot_lightning.VotakvotLogger` for `pytorch_lightning.Trainer`: the same behaviour,
    a subclass of `pytorch_lightning.loggers.Logger`."""

    def __init__(self, name: str = DEFAULT_NAME, *, copy_checkpoints: bool = False) -> None:
        super().__init__(name, copy_checkpoints=copy_checkpoints)

    @property
    @rank_zero_experiment
    def experiment(self) -> votakvot.LiveTrial:
        """The trial of the run in progress."""
        return self._experiment()
