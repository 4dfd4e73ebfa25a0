"""The logger for the `lightning` package (`import lightning.pytorch as L`)."""

from __future__ import annotations

from lightning.pytorch.loggers import Logger
from lightning.pytorch.loggers.logger import rank_zero_experiment

import votakvot

from ._logger import DEFAULT_NAME, LoggerMethods


class VotakvotLogger(LoggerMethods, Logger):
    """Records each Trainer run (`fit`, `validate`, `test`, `predict`) as a votakvot trial.

        trainer = L.Trainer(max_epochs=3, logger=VotakvotLogger("mnist"))
        trainer.fit(model)    # one trial in {votakvot root}/mnist/...

    Hyperparameters (`save_hyperparameters()`, `logger.log_hyperparams`) become params, every
    `self.log(...)` row a metric row at the trainer's step, the last value of each metric the
    result, the best and last checkpoint of each `ModelCheckpoint` go to `info.checkpoint`, and
    the run's end sets the status: `done`, `failed` (with the traceback) or `interrupted`
    (Ctrl-C). The trial is opened on rank 0 only. Inside a live trial it becomes a child trial.
    `copy_checkpoints=True` copies the best and last checkpoint into the trial folder when they
    are outside it (remote roots, a `ModelCheckpoint(dirpath=...)`).
    """

    def __init__(self, name: str = DEFAULT_NAME, *, copy_checkpoints: bool = False) -> None:
        super().__init__(name, copy_checkpoints=copy_checkpoints)

    @property
    @rank_zero_experiment
    def experiment(self) -> votakvot.LiveTrial:
        """The trial of the run in progress, e.g. `self.logger.experiment.attach("plot.png", "wb")`."""
        return self._experiment()
