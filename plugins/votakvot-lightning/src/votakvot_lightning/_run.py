"""One Trainer run (a `fit`, `validate`, `test` or `predict`) as one votakvot trial: made when
Lightning first asks the logger about it, opened when it first reports, ended by `finalize`
with the status the run ended with."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import votakvot
from votakvot.errors import StorageError, StorageWarning

from . import _checkpoints
from ._values import metric_row

# `finalize(status)` statuses that end a run the way an exception would, when none is in flight.
_FAILED = "failed"
_SUCCESS = "success"

ExcInfo = tuple[type[BaseException] | None, BaseException | None, TracebackType | None]


class RunFailed(RuntimeError):
    """Stands for the failure when Lightning's `finalize("failed")` comes with no exception in flight."""


class RunStopped(BaseException):
    """Stands for the end of a run that Lightning finalized with a status other than "success" or
    "failed" (its SLURM requeue handler says "finished" and the job is then stopped): the trial
    ends `interrupted`, as it would for SIGTERM."""


class TrialRun:
    """The trial of one Trainer run and what the logger learned about it before and while it ran."""

    def __init__(self, name: str, *, copy_checkpoints: bool) -> None:
        # Made before the run reports anything: Lightning asks for the version (the folder its
        # checkpoints go to) during set-up. The params are filled in before the trial is entered.
        self.trial = votakvot.trial(name)
        self.copy_checkpoints = copy_checkpoints
        self.params: dict[str, Any] = {}
        self.late_params: dict[str, Any] = {}
        self.last_metrics: dict[str, Any] = {}
        self.callbacks: list[Any] = []  # the ModelCheckpoints that saved, in the order they first did
        self.started = False
        self.finished = False

    # -- where it lives -------------------------------------------------------------------

    @property
    def folder(self) -> str | None:
        """The trial folder when it is on the local disk (where Lightning can write checkpoints)."""
        path = self.trial.path
        return None if "://" in path else path

    @property
    def version(self) -> str:
        """The folder of the trial below its name: `{yy}-{mm}-{dd}/{HH}:{MM}:{SS}/{uid}`."""
        return "/".join(self.trial.tid.split("/")[-3:])

    @property
    def save_dir(self) -> str | None:
        """The root the trial lives in, when local: Lightning puts checkpoints in
        `{save_dir}/{name}/{version}/checkpoints`, which is then the trial's own `checkpoints/`."""
        folder = self.folder
        if folder is None:
            return None
        for _ in self.trial.tid.split("/"):
            folder = os.path.dirname(folder)
        return folder

    # -- what it records ------------------------------------------------------------------

    def add_params(self, params: Mapping[str, Any]) -> None:
        """Takes hyperparameters: params of the trial if it has not started, else (the trial's
        params are fixed when it starts) the new or changed ones go to `info.hparams`."""
        if not self.started:
            self.params.update(params)
            return
        known = self.trial.params
        late = {key: value for key, value in params.items() if key not in known or not _same(known[key], value)}
        if late:
            self.late_params.update(late)
            self.trial.inform(hparams=dict(self.late_params))

    def start(self, stage: str | None = None) -> None:
        """Opens the trial (once) with the hyperparameters received so far; `stage` goes to `info`."""
        if self.started:
            return
        self.trial.params.update(self.params)  # nothing has read them yet: the trial is not open
        self.trial.__enter__()
        self.started = True
        if stage is not None:
            self.trial.inform(stage=stage)

    def meter(self, metrics: Mapping[str, Any], step: int | None) -> None:
        """Appends one metric row, at Lightning's `step` when it gives one."""
        row = metric_row(metrics)
        self.last_metrics.update(row)
        if step is not None:
            row["step"] = step
        self.trial.meter(**row)

    def checkpoint_saved(self, callback: Any) -> None:
        """Records the best and last checkpoint of `callback` in `info`, at once, so that even a
        run that crashes later says where its checkpoints are."""
        index = next((i for i, known in enumerate(self.callbacks) if known == callback), len(self.callbacks))
        if index == len(self.callbacks):
            self.callbacks.append(callback)
        self.trial.inform(**{_checkpoint_key(index): _checkpoints.describe(callback, self.folder)})

    # -- how it ends ----------------------------------------------------------------------

    def finish(self, status: str) -> None:
        """Ends the trial: `done` for "success", `failed` or `interrupted` after an exception
        (Lightning calls `finalize("failed")` while handling it, KeyboardInterrupt included).

        The final metrics become the result and the checkpoints are recorded (and copied, if
        asked) first. A checkpoint that could not be copied is a `StorageError` (or a warning,
        with `init(storage_errors="warn")`), raised after the trial has ended.
        """
        if self.finished:
            return
        self.finished = True  # first: a second finalize (Lightning's, after we raised) records nothing
        exc_type, exc, tb = _how_it_ended(status)
        self.start()  # a run that failed before it reported anything is still recorded
        try:
            unstored = self._record_checkpoints()
        except BaseException:
            self._end(exc_type, exc, tb, [])  # the run's own end is recorded whatever failed here
            raise
        self._end(exc_type, exc, tb, unstored)

    def _end(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        unstored: list[tuple[str, BaseException]],
    ) -> None:
        self.trial.result = dict(self.last_metrics) or None
        try:
            self.trial.__exit__(exc_type, exc, tb)
        except StorageError as e:
            if unstored:
                raise StorageError(e.tid, e.failures + unstored, e.result) from e
            raise
        if not unstored:
            return
        error = StorageError(self.trial.tid, unstored, self.trial.result)
        if votakvot.settings().storage_errors == "warn" or not (exc is None or isinstance(exc, Exception)):
            warnings.warn(StorageWarning(str(error)), stacklevel=4)
            return
        raise error

    def _record_checkpoints(self) -> list[tuple[str, BaseException]]:
        unstored: list[tuple[str, BaseException]] = []
        for index, callback in enumerate(self.callbacks):
            try:
                described = _checkpoints.describe(callback, self.folder)
            except ReferenceError:  # the callback is gone with its Trainer: keep what was recorded
                continue
            if self.copy_checkpoints:
                unstored += self._copy(described)
            self.trial.inform(**{_checkpoint_key(index): described})
        return unstored

    def _copy(self, described: dict[str, Any]) -> list[tuple[str, BaseException]]:
        unstored: list[tuple[str, BaseException]] = []
        copied: dict[str, str] = {}
        for key in ("best", "last"):
            path = described.get(key)
            if path is None or not _checkpoints.outside(path):
                continue  # none, or already in the trial folder
            try:
                if path not in copied:
                    copied[path] = _checkpoints.copy_into(self.trial, path)
            except (OSError, ValueError) as e:
                target = f"{self.trial.path}/{_checkpoints.copy_name(path)}"
                unstored.append((f"{target} (a copy of {path})", e))
                continue
            described[key], described[f"{key}_from"] = copied[path], path
        return unstored


def _checkpoint_key(index: int) -> str:
    # `checkpoint` for the first ModelCheckpoint, `checkpoint_2`, ... for further ones.
    return "checkpoint" if index == 0 else f"checkpoint_{index + 1}"


def _how_it_ended(status: str) -> ExcInfo:
    if status == _SUCCESS:
        return None, None, None
    # Lightning finalizes from inside its `except` block, so the exception is still in flight.
    exc_type, exc, tb = sys.exc_info()
    if exc is not None:
        return exc_type, exc, tb
    if status == _FAILED:
        return RunFailed, RunFailed("Lightning ended the run with status 'failed'"), None
    stopped = RunStopped(f"Lightning ended the run with status {status!r}")
    return RunStopped, stopped, None


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # values whose comparison is not a bool (arrays): count them as changed
        return False
