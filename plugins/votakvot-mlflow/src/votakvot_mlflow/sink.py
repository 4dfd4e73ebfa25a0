"""The `mlflow` sink: mirrors each trial into an MLflow run, off the trial's thread.

Built for every trial (installed sinks are), it stays inert unless the bridge is on for that
trial (see `config`). Its handlers only hand work to the background thread (`worker`), so a
trial never waits for MLflow; `mirror = True` tells votakvot that the trial does not depend on
it, so even a failure here ends the trial with a `MirrorWarning`, never a `StorageError`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from votakvot.events import Attached, Finished, Metered, Started
from votakvot.plugins import TrialView

from . import config, worker
from .mirror import RunMirror

_WRITING = frozenset("wax+")


class MlflowSink:
    """Mirrors one trial: params at its start, metric batches as they are flushed, and its
    result, tags, attached files and status when it ends."""

    mirror = True

    def __init__(self, trial: TrialView) -> None:
        self.trial = trial
        self.target = config.target(trial.settings)
        self.run: RunMirror | None = None
        self.attached: dict[str, None] = {}  # names in the order first written

    def subscriptions(self) -> Mapping[type, Callable[[Any], None]]:
        if self.target is None:
            return {}
        return {Started: self.started, Metered: self.metered, Attached: self.attached_file, Finished: self.finished}

    def started(self, event: Started) -> None:
        trial = self.trial
        assert self.target is not None
        self.run = RunMirror(self.target, trial.tid, trial.uid, trial.name, trial.path, trial.files)
        worker.submit(trial.tid, functools.partial(self.run.start, trial.document(), trial.resumed))

    def metered(self, event: Metered) -> None:
        if self.run is not None:
            worker.submit(self.trial.tid, functools.partial(self.run.log_rows, event.series, event.rows))

    def tick(self, now: float) -> None:
        """Sends metric points that wait in the mirror (about once per flush interval)."""
        if self.run is not None and self.run.holding:
            worker.submit(self.trial.tid, self.run.send_held)

    def attached_file(self, event: Attached) -> None:
        if _WRITING.intersection(event.mode):
            self.attached[event.name] = None

    def finished(self, event: Finished) -> None:
        if self.run is not None:
            trial = self.trial
            job = functools.partial(self.run.finish, trial.document(), list(self.attached), trial.traceback_text)
            worker.submit(trial.tid, job)
