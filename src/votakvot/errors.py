"""Every exception votakvot raises on purpose.

::

    VotakvotError
     ├── TrialStateError (RuntimeError)      a trial used outside its life, or in a wrong way
     ├── AttachPathError (ValueError)        an attach() name that would leave the trial folder
     ├── TrialNameError (ValueError)         a trial name or explicit id that cannot be a folder
     ├── ParamsMismatchError (ValueError)    call() with an id whose stored params differ
     ├── TrialFailedError (RuntimeError)     reading the result of a trial that failed
     ├── TrialLoadError (ValueError)         a trial folder that cannot be read (safe=False)
     ├── PluginError (RuntimeError)          a plug-in that cannot be found or loaded when asked for
     ├── SettingsError (ValueError)          an init() option that cannot work, refused when given
     └── MissingDependencyError (ImportError) an optional package needed for this path or feature
"""

from __future__ import annotations

__all__ = [
    "AttachPathError",
    "MissingDependencyError",
    "ParamsMismatchError",
    "PluginError",
    "SettingsError",
    "TrialFailedError",
    "TrialLoadError",
    "TrialNameError",
    "TrialStateError",
    "VotakvotError",
]


class VotakvotError(Exception):
    """Base of every error votakvot raises on purpose."""


class TrialStateError(VotakvotError, RuntimeError):
    """A trial was used outside its life (after it finished, or before it started)."""


class AttachPathError(VotakvotError, ValueError):
    """An attach() name would leave the trial folder."""


class TrialNameError(VotakvotError, ValueError):
    """A trial name or explicit id cannot be used as a folder path."""


class ParamsMismatchError(VotakvotError, ValueError):
    """call() was given an id whose stored trial has other params."""


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
    """A trial folder could not be read (raised only with safe=False)."""


class PluginError(VotakvotError, RuntimeError):
    """A plug-in asked for by name is not installed or failed to load."""


class SettingsError(VotakvotError, ValueError):
    """An option given to `init` (or a value for it) cannot work; the message says what to give."""


class MissingDependencyError(VotakvotError, ImportError):
    """An optional package is needed; the message says which extra to install."""
