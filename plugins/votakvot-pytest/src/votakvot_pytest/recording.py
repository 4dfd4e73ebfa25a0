"""Opening and ending the plug-in's trials so that the code under test never notices them.

Each trial is made with the plug-in's own settings (the user's `init`, `$VOTAKVOT_PATH` and
`$VOTAKVOT_SETTINGS` stay as they are, so the user's trials go where they always go) and entered
in a context of its own (so inside a test `votakvot.current()` is still None and the user's
trials get no parent they would not get without `--votakvot`). What could not be stored is kept
in `unstored`, to be reported at the end of the run.
"""

from __future__ import annotations

import contextvars
import dataclasses
import os
import warnings
from typing import Any

import votakvot
from votakvot.errors import StorageError, StorageWarning


@dataclasses.dataclass
class RecordedTrial:
    """A live trial of the plug-in and the context it was entered in (and must end in)."""

    trial: votakvot.LiveTrial
    context: contextvars.Context


class Recorder:
    """Makes, enters and ends the trials of one pytest process below `root`."""

    def __init__(self, root: str) -> None:
        # SIGTERM is left as the tests expect it; a run killed by it loads as crashed.
        self.settings = votakvot.Settings(path=root, handle_sigterm=False)
        self.root = root
        self.session_tid: str | None = None  # the parent of every test's trial
        self.unstored: dict[str, str] = {}  # trial (tid, or name if it never started) -> what was lost first

    def check(self) -> None:
        """Raises what votakvot raises for a root it cannot use (an unknown protocol, a missing
        package), and NotADirectoryError for an existing file."""
        with self.settings.scoped():
            pass
        if "://" not in self.root and os.path.exists(self.root) and not os.path.isdir(self.root):
            raise NotADirectoryError(f"{self.root!r} is a file; give the folder the trials should go in")

    def note(self, trial: str, what: str) -> None:
        """Keeps that something of `trial` could not be stored (the first thing said per trial)."""
        self.unstored.setdefault(trial, what)

    def open(
        self, name: str, params: dict[str, Any], info: dict[str, Any], *, parent: str | None = None
    ) -> RecordedTrial | None:
        """Enters a new trial `name` with `params`, and `info` already in its first document (so
        a trial whose process dies is still known by it); None, noted in `unstored`, if that failed."""
        try:
            with self.settings.scoped():
                trial = votakvot.trial(name, **params)
            trial.parent = parent
            trial.inform(**info)
            context = contextvars.Context()
            context.run(trial.__enter__)
        except Exception as e:  # the store cannot be reached at all: the tests still run
            self.note(name, f"{type(e).__name__}: {e}")
            return None
        return RecordedTrial(trial, context)

    def close(self, recorded: RecordedTrial, exc: BaseException | None = None) -> None:
        """Ends a trial: as concluded, or as the exception `exc` (an interrupt) says."""
        tb = exc.__traceback__ if exc is not None else None
        # votakvot raises what it could not store, or warns of it after an interrupt: either way
        # it is reported with the run's summary, never raised into pytest's own machinery.
        with warnings.catch_warnings():
            warnings.simplefilter("error", StorageWarning)
            try:
                recorded.context.run(recorded.trial.__exit__, type(exc) if exc is not None else None, exc, tb)
            except StorageError as e:
                self.note(e.tid, f"{e.path}: {e.cause!r}")
            except StorageWarning as e:  # its text: a line naming the trial, then one per file and cause
                lines = str(e).splitlines()
                self.note(recorded.trial.tid, lines[1].strip() if len(lines) > 1 else str(e))
