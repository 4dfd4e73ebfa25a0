"""Orderly ends for trials whose process is asked to stop.

SIGTERM (when its handler is still the default) raises SystemExit in the main thread, so the
`with` block of a running trial ends as `interrupted` with everything flushed. At interpreter
exit, trials still open (e.g. in daemon threads) are finished as `interrupted`.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from typing import Any

from .._process import state

log = logging.getLogger("votakvot.shutdown")

_live: dict[int, Any] = {}
_installed = False


def register(trial: Any) -> None:
    """Remembers a live trial until `unregister`; installs the SIGTERM handler once."""
    _live[id(trial)] = trial
    if not _installed and trial.settings.handle_sigterm:
        _install()


def unregister(trial: Any) -> None:
    """Forgets a trial that ended."""
    _live.pop(id(trial), None)


def _on_sigterm(signum: int, frame: Any) -> None:
    if not _live:  # nothing to finish: behave like the default handler
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    raise SystemExit(128 + signum)


def _install() -> None:
    global _installed
    _installed = True
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # not the main interpreter, or no signals here
        pass


@atexit.register
def _finish_all() -> None:
    for trial in list(_live.values()):
        try:
            trial.abandon("interrupted")
        except Exception:
            log.exception("could not finish trial %r at exit", getattr(trial, "tid", trial))


def _in_child() -> None:
    # The parent's live trials are not this process's: the child must not write into them.
    for trial in _live.values():
        trial.disown()
    _live.clear()


state.register(after_fork=_in_child)
