"""How the bridge tells the user that MLflow did not get a trial, without drowning them.

A failure is said once per outage: the first trial MLflow could not take, at a tracking URI,
gives a `votakvot.errors.MirrorWarning` naming the trial, the cause and the complete votakvot
record; the trials after it, while that URI keeps failing, are logged (logger `votakvot_mlflow`,
INFO) and counted. When the URI works again, or at exit if it never did, one more warning says
how many trials were not mirrored.
"""

from __future__ import annotations

import logging
import threading
import warnings

from votakvot.errors import MirrorWarning
from votakvot.plugins import register_state

log = logging.getLogger("votakvot_mlflow")

_lock = threading.Lock()
_failing: dict[str, int] = {}  # tracking URI (as shown) -> trials not mirrored since its first warning


def failed(uri: str, tid: str, path: str, what: str, error: BaseException) -> None:
    """Trial `tid` (stored at `path`) could not be mirrored into `uri` while doing `what`."""
    with _lock:
        count = _failing.get(uri, 0) + 1
        _failing[uri] = count
    if count > 1:
        log.info("trial %r was not mirrored into MLflow at %s either (%s): %r", tid, uri, what, error)
        return
    message = (
        f"trial {tid!r} could not be mirrored into MLflow at {uri} ({what}): {error!r}. "
        f"Its votakvot record is complete at {path}. Further trials that fail there are counted "
        "(and logged by the logger 'votakvot_mlflow') until it works again."
    )
    log.info("%s", message)  # the warning is what the user sees; INFO keeps it in captured logs
    warnings.warn(MirrorWarning(message), stacklevel=1)


def succeeded(uri: str) -> None:
    """A trial was mirrored into `uri`: an outage there, if any, is over."""
    if uri not in _failing:  # the common case, without the lock
        return
    with _lock:
        count = _failing.pop(uri, 0)
    if count > 1:
        _warn_missed(uri, count, "works again")


def at_exit() -> None:
    """Says how many trials were not mirrored into each URI that still fails."""
    with _lock:
        failing = dict(_failing)
        _failing.clear()
    for uri, count in failing.items():
        if count > 1:
            _warn_missed(uri, count, "still failed at exit")


def _warn_missed(uri: str, count: int, how: str) -> None:
    message = (
        f"MLflow at {uri} {how}: {count} trials were not mirrored there while it failed "
        "(listed by the logger 'votakvot_mlflow'); their votakvot records are complete."
    )
    log.info("%s", message)  # the warning is what the user sees; INFO keeps it in captured logs
    warnings.warn(MirrorWarning(message), stacklevel=1)


def _forget() -> None:
    global _lock
    _lock = threading.Lock()  # after a fork it may be held by a thread that is not there
    _failing.clear()


register_state(reset=_forget, after_fork=_forget)
