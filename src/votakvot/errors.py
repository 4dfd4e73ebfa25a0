"""Every exception votakvot raises on purpose, and the warnings it gives.

::

    VotakvotError
     ├── TrialStateError (RuntimeError)      a trial used outside its life, or in a wrong way
     │    └── TrialRunningError              remove() selected a trial that is still running
     ├── AttachPathError (ValueError)        an attach() name that would leave the trial folder or is votakvot's own
     ├── SymlinkError (OSError)              a write in a local trial folder that would pass through a symbolic link
     ├── TrialNameError (ValueError)         a trial name or explicit id that cannot be a folder
     ├── TrialStatusError (ValueError)       conclude() given a status a trial cannot end with
     ├── ParamsMismatchError (ValueError)    call() with an id whose stored params differ
     ├── TrialBusyError (RuntimeError)       an explicit id another live process (or thread) is running
     ├── CallArgumentError (TypeError)       call() / trial_at() given an argument of the wrong kind
     ├── TrialFailedError (RuntimeError)     reading the result of a trial that failed
     ├── TrialLoadError (ValueError)         a trial folder that cannot be read (safe=False; resuming)
     ├── TrialNotFoundError (LookupError)    a trial id or folder that holds no trial
     ├── SelectionError (ValueError)         a selection of trials or params that cannot be carried out
 ├── CodeDiffError (LookupError)         code_diff() without a recorded tree or a repository that holds it
     ├── PluginError (RuntimeError)          a plug-in that cannot be found or loaded when asked for
     ├── SettingsError (ValueError)          an init() option that cannot work, refused when given
     ├── MissingDependencyError (ImportError) an optional package needed for this path or feature
     └── StorageError (OSError)              something tracked could not be stored

    VotakvotWarning (UserWarning)
     ├── StorageWarning                       something not stored, with `init(storage_errors="warn")`
     ├── MirrorWarning                        a mirror sink (a bridge into another tracker) could not copy a trial
     └── MissingPathWarning                   a load path that does not exist or is not a folder
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AttachPathError",
    "CallArgumentError",
    "CodeDiffError",
    "MirrorWarning",
    "MissingDependencyError",
    "MissingPathWarning",
    "ParamsMismatchError",
    "PluginError",
    "SelectionError",
    "SettingsError",
    "StorageError",
    "StorageWarning",
    "SymlinkError",
    "TrialBusyError",
    "TrialFailedError",
    "TrialLoadError",
    "TrialNameError",
    "TrialNotFoundError",
    "TrialRunningError",
    "TrialStateError",
    "TrialStatusError",
    "VotakvotError",
    "VotakvotWarning",
]


class VotakvotError(Exception):
    """Base of every error votakvot raises on purpose."""


class TrialStateError(VotakvotError, RuntimeError):
    """A trial was used outside its life (after it finished, or before it started)."""


class TrialRunningError(TrialStateError):
    """remove() selected a trial that is still running (its heartbeat is fresh); `trials` lists them."""

    def __init__(self, message: str, trials: list[Any]) -> None:
        super().__init__(message)
        self.trials = trials


class AttachPathError(VotakvotError, ValueError):
    """An attach() name would leave the trial folder, or names a file votakvot writes itself."""


class SymlinkError(VotakvotError, OSError):
    """A file in a local trial folder would be written through a symbolic link (never done:
    the link could point anywhere)."""


class TrialNameError(VotakvotError, ValueError):
    """A trial name or explicit id cannot be used as a folder path."""


class TrialStatusError(VotakvotError, ValueError):
    """`conclude()` was given a status no trial can end with, or an error or traceback that is not text."""


class ParamsMismatchError(VotakvotError, ValueError):
    """call() was given an id whose stored trial has other params."""


class TrialBusyError(VotakvotError, RuntimeError):
    """An explicit trial id is claimed by a live run (another process, or another thread of this one).

    `holder` is what its claim says: pid, node, the time of its last heartbeat (`beat`).
    """

    def __init__(self, message: str, holder: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.holder = holder or {}


class CallArgumentError(VotakvotError, TypeError):
    """`votakvot.call()` or `trial_at()` got an argument of the wrong kind (e.g. the id left out)."""


class TrialFailedError(VotakvotError, RuntimeError):
    """The result of a failed trial was asked for; carries its error and traceback text."""

    def __init__(self, tid: str, error: str | None, traceback_text: str | None) -> None:
        self.tid = tid
        self.error = error
        self.traceback_text = traceback_text
        message = f"trial {tid!r} failed: {error or 'unknown error'}"
        if traceback_text:
            message += "\n\n" + traceback_text.rstrip()
        super().__init__(message)


class TrialLoadError(VotakvotError, ValueError):
    """A trial folder could not be read: by a report with safe=False, or when its id is resumed."""


class TrialNotFoundError(VotakvotError, LookupError):
    """A trial id or folder was given where no trial is stored."""


class SelectionError(VotakvotError, ValueError):
    """A selection names nothing valid (an unknown status or param) or cannot be carried out as asked."""


class CodeDiffError(VotakvotError, LookupError):
    """`code_diff()` found no recorded git tree, or no repository holding both trees."""


class PluginError(VotakvotError, RuntimeError):
    """A plug-in asked for by name is not installed or failed to load."""


class SettingsError(VotakvotError, ValueError):
    """An option given to `init` (or a value for it) cannot work; the message says what to give."""


class MissingDependencyError(VotakvotError, ImportError):
    """An optional package is needed; the message says which extra to install."""


class StorageError(VotakvotError, OSError):
    """Something a trial tracked could not be stored (full disk, read-only folder, unreachable store).

    Raised when the trial ends, from its `with` block or its `@track` call, after everything that
    could be stored was. `tid` names the trial, `failures` lists each `(file, cause)` that stayed
    unstored, `result` is what the trial computed (so the work is not lost with it).
    """

    def __init__(self, tid: str, failures: list[tuple[str, BaseException]], result: Any = None) -> None:
        self.tid = tid
        self.failures = failures
        self.result = result
        self.path = failures[0][0] if failures else None
        self.cause = failures[0][1] if failures else None
        lines = "\n".join(f"  {path}: {cause!r}" for path, cause in failures)
        super().__init__(
            f"trial {tid!r} could not store everything it tracked:\n{lines}\n"
            "The trial's result is kept on this exception (`.result`); free the disk or fix the store "
            "and run it again, or pass init(storage_errors='warn') to get a warning instead."
        )
        if isinstance(self.cause, OSError):
            self.errno, self.strerror, self.filename = self.cause.errno, self.cause.strerror, self.path

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class VotakvotWarning(UserWarning):
    """Base of every warning votakvot gives on purpose."""


class StorageWarning(VotakvotWarning):
    """Something a trial tracked could not be stored, with `init(storage_errors="warn")`."""


class MirrorWarning(VotakvotWarning):
    """A mirror sink (`mirror = True` in `votakvot.plugins.Sink`: a bridge into another tracker)
    could not copy a trial there. The trial itself is stored: nothing is lost in votakvot.

    Mirror plug-ins give it too for failures they meet later, off the trial's thread. Make it
    strict with `warnings.simplefilter("error", MirrorWarning)`, or silence it with "ignore".
    """

    @classmethod
    def of(cls, tid: str, path: str, failures: list[tuple[str, BaseException]]) -> MirrorWarning:
        """The warning for trial `tid` (stored at `path`) whose mirrors failed as `(sink, cause)`."""
        lines = "\n".join(f"  {sink}: {cause!r}" for sink, cause in failures)
        return cls(
            f"trial {tid!r} is stored at {path}, but could not be mirrored:\n{lines}\n"
            "Its votakvot record is complete; the mirror may be missing it or hold part of it."
        )


class MissingPathWarning(VotakvotWarning):
    """A path given to `load_report` / `load_trials` does not exist or is not a folder: nothing
    was loaded from it, which is most often a typo."""
