"""The Logger methods shared by the `lightning` and the `pytorch_lightning` logger classes: which
Trainer run a call belongs to, and rank 0 only (Lightning calls loggers on every process of a
distributed run; one trial per run is kept, by the process of global rank 0)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from lightning_utilities.core.rank_zero import rank_zero_only

import votakvot

from ._run import TrialRun
from ._values import params_from

DEFAULT_NAME = "lightning"


class LoggerMethods:
    """What both logger classes do; each adds its framework's `Logger` base and `experiment`."""

    def __init__(self, name: str = DEFAULT_NAME, *, copy_checkpoints: bool = False) -> None:
        super().__init__()
        votakvot.trial(name)  # refuses a name no trial folder can have, here rather than inside fit()
        if not isinstance(copy_checkpoints, bool):
            raise TypeError(f"copy_checkpoints must be True or False, got {copy_checkpoints!r}")
        self._name = name.rstrip("/")
        self._copy_checkpoints = copy_checkpoints
        self._run: TrialRun | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Sent to the processes of a spawned distributed run before it starts: the run (with its
        # live trial) is made where it happens, on rank 0.
        state = self.__dict__.copy()
        state["_run"] = None
        return state

    # -- the run a call belongs to ---------------------------------------------------------

    def _in_progress(self) -> TrialRun:
        """The run in progress; after one ended, a new one (the Trainer's next fit, test, ...)."""
        if self._run is None or self._run.finished:
            self._run = TrialRun(self._name, copy_checkpoints=self._copy_checkpoints)
        return self._run

    def _latest(self) -> TrialRun:
        """The run in progress, or the one that ended last (its name and folder stay readable)."""
        if self._run is None:
            self._run = TrialRun(self._name, copy_checkpoints=self._copy_checkpoints)
        return self._run

    @property
    def trial(self) -> votakvot.LiveTrial | None:
        """The trial of the run in progress or of the last one (`None` before any, and on ranks
        other than 0); e.g. `logger.trial.path` after `fit` is the trial folder."""
        return self._run.trial if self._run is not None else None

    # -- what Lightning asks ---------------------------------------------------------------

    @property
    def name(self) -> str | None:
        """The trial name given to the logger."""
        return self._name

    @property
    def version(self) -> str | None:
        """The trial folder below its name, `{yy}-{mm}-{dd}/{HH}:{MM}:{SS}/{uid}` (None off rank 0)."""
        if _rank() != 0:
            return None
        return self._latest().version

    @property
    def save_dir(self) -> str | None:
        """The votakvot root when it is a local folder, so that a `ModelCheckpoint` without a
        `dirpath` writes into the trial's `checkpoints/`; None for remote roots and off rank 0."""
        if _rank() != 0:
            return None
        return self._latest().save_dir

    @property
    def log_dir(self) -> str | None:
        """The trial folder when it is local."""
        if _rank() != 0:
            return None
        return self._latest().folder

    def _experiment(self) -> votakvot.LiveTrial:
        # Lightning reads `experiment` first thing in a run's set-up: that makes the run's trial.
        return self._in_progress().trial

    # -- what Lightning reports ------------------------------------------------------------

    @rank_zero_only
    def log_hyperparams(self, params: Mapping[str, Any] | argparse.Namespace, *args: Any, **kwargs: Any) -> None:
        """Records hyperparameters as the trial's params (`info.hparams` once it has started)."""
        self._in_progress().add_params(params_from(params))

    @rank_zero_only
    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """Starts the trial: Lightning calls this right after `log_hyperparams`, before training."""
        self._in_progress().start(stage=_stage_of(model))

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Appends one row of metrics at the trainer's `step`."""
        run = self._in_progress()
        run.start()
        run.meter(metrics, step)

    @rank_zero_only
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """Records where the `ModelCheckpoint` keeps its best and last checkpoint."""
        run = self._in_progress()
        run.start()
        run.checkpoint_saved(checkpoint_callback)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """Ends the trial with the status the run ended with (see `TrialRun.finish`)."""
        if self._run is not None:
            self._run.finish(status)


def _stage_of(model: Any) -> str | None:
    """The Trainer function running `model` ("fit", "validate", "test", "predict"), if known."""
    try:
        fn = model.trainer.state.fn
    except (AttributeError, RuntimeError):  # not a LightningModule, or not attached to a Trainer
        return None
    return None if fn is None else str(getattr(fn, "value", fn))


def _rank() -> int:
    # Set by Lightning (from the environment at import, then by the strategy of a distributed run).
    return int(getattr(rank_zero_only, "rank", 0))
